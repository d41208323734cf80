//! Use cases of network: the academy enrols, updates and revokes sites in
//! the registry of the `network` document; every node reads it.
//!
//! A key that does not match the site's certificate would lock the site out:
//! every node refuses a change whose signing key differs from the registry's.
//! So whenever this node already holds the site's document, enrolment and key
//! updates are checked against the key its certificate binds.

use super::NodeContext;
use crate::base::Role;
use crate::base::{site_doc, NETWORK_DOC};
use crate::domain::now_rfc3339;
use crate::domain::registry::{self, SiteEntry};
use crate::error::{Error, Result};
use crate::pb;
use crate::trust::{Anchor, Refusal};
use std::collections::BTreeMap;

pub(crate) fn to_pb(id: &str, e: &SiteEntry) -> pb::RegisteredSite {
    pb::RegisteredSite {
        id: id.to_string(),
        name: e.name.clone(),
        role: e.role.clone(),
        endpoint: e.endpoint.clone(),
        public_key: e.public_key.clone(),
        enrolled_at: e.enrolled_at.clone(),
        revoked_at: e.revoked_at.clone(),
        retired_keys: e.retired_keys.iter().map(|r| r.key.clone()).collect(),
    }
}

pub(crate) fn academy_only(ctx: &NodeContext) -> Result<()> {
    if ctx.role != Role::Academy {
        return Err(Error::denied(
            "seul un nœud académique inscrit, modifie et révoque des sites",
        ));
    }
    Ok(())
}

/// Every document `site` may write, at the heads this node holds: what a
/// revocation or a key change leaves valid of what the site signed so far.
pub(crate) fn cutoff(ctx: &NodeContext, site: &str) -> BTreeMap<String, Vec<String>> {
    cutoff_in(&ctx.docs, site)
}

/// The cutoff of a revocation of `site` by a node holding `docs`: the heads
/// of every document the site could write.
pub fn cutoff_in(docs: &crate::docs::Docs, site: &str) -> BTreeMap<String, Vec<String>> {
    let mut cutoff = BTreeMap::new();
    for doc in docs.ids() {
        let writable = match crate::base::parse_doc_id(&doc) {
            Some(crate::base::DocKind::Site(s)) => s == site,
            Some(crate::base::DocKind::Action(_)) => true,
            Some(crate::base::DocKind::Network) => true,
            None => false,
        };
        if writable {
            cutoff.insert(doc.clone(), docs.heads(&doc));
        }
    }
    cutoff
}

/// The key and role that `id`'s own document vouches for, as every node will
/// check them: the key its certificate binds (on an insecure node, the key it
/// publishes). `None` while the document or its certificate has not reached
/// this node.
pub(crate) fn published_anchor(ctx: &NodeContext, id: &str) -> Result<Option<Anchor>> {
    let trust = ctx.docs.trust();
    match ctx.docs.read(&site_doc(id), |d| trust.anchor(id, d)) {
        None | Some(Err(Refusal::Withheld(_) | Refusal::Limit(_))) => Ok(None),
        Some(Ok(a)) => Ok(Some(a)),
        Some(Err(Refusal::Forged(reason))) => Err(Error::precondition(format!(
            "{reason} : la clé du site {id} ne peut pas être vérifiée"
        ))),
    }
}

/// The first 16 hex characters of a key, to name it in a message.
pub(crate) fn short(key: &str) -> String {
    format!("{}…", key.chars().take(16).collect::<String>())
}

/// Refuses `key` for `id` when the site's certificate binds another key.
pub(crate) fn wrong_key(ctx: &NodeContext, id: &str, key: &str, certified: &str) -> Error {
    wrong_key_from(published(ctx), id, key, certified)
}

/// Where the key of a site's published anchor comes from, as a message says it.
fn published(ctx: &NodeContext) -> &'static str {
    if ctx.docs.trust().has_ca() {
        "son certificat, arrivé sur ce nœud, certifie"
    } else {
        "son document, arrivé sur ce nœud, publie"
    }
}

/// What a certificate handed over with the enrolment is, in a message.
const GIVEN: &str = "le certificat fourni certifie";

fn wrong_key_from(source: &str, id: &str, key: &str, certified: &str) -> Error {
    Error::invalid(format!(
        "la clé {} n'est pas celle du site {id} : {source} la clé {} ; inscrite au registre, elle ferait refuser toutes ses modifications. La bonne clé est affichée par `maillage status` sur le nœud de ce site (champ public_key de `maillage status --json`)",
        short(key),
        short(certified),
    ))
}

/// Checks an enrolment against what the site's certificate binds, when this
/// node holds it: the same key, the same role.
pub(crate) fn check_enrolment(ctx: &NodeContext, id: &str, e: &SiteEntry) -> Result<()> {
    let Some(anchor) = published_anchor(ctx, id)? else {
        return Ok(());
    };
    check_against(published(ctx), id, e, &anchor)
}

/// The anchor of a certificate the academic team hands over for `id` (the
/// PEM the site's node wrote at `cert install`), checked as a published one
/// is: issued by the network's CA, valid now, naming that site.
pub(crate) fn given_anchor(ctx: &NodeContext, id: &str, pem: &str) -> Result<Anchor> {
    if !pem.contains("-----BEGIN CERTIFICATE-----") {
        return Err(Error::invalid(
            "certificat illisible : collez le texte PEM entier, de « -----BEGIN CERTIFICATE----- » à « -----END CERTIFICATE----- »",
        ));
    }
    ctx.docs
        .trust()
        .anchor_of_certificate(id, pem)
        .map_err(|r| {
            let reason = match r {
                Refusal::Withheld(r) | Refusal::Limit(r) | Refusal::Forged(r) => r,
            };
            Error::invalid(format!("certificat refusé pour le site {id} : {reason}"))
        })
}

/// An enrolment's key and role against a certificate's anchor.
fn check_against(source: &str, id: &str, e: &SiteEntry, anchor: &Anchor) -> Result<()> {
    let certified = hex::encode(anchor.key.to_bytes());
    if certified != e.public_key {
        return Err(wrong_key_from(source, id, &e.public_key, &certified));
    }
    let role = if anchor.academy { "academy" } else { "site" };
    if role != e.role {
        return Err(Error::invalid(format!(
            "le site {id} est certifié avec le rôle {role}, pas {} : inscrivez-le avec --role {role}",
            e.role
        )));
    }
    Ok(())
}

/// Registered sites of the network, as this node knows them.
pub fn sites(ctx: &NodeContext) -> Result<Vec<(String, SiteEntry)>> {
    Ok(ctx
        .docs
        .read(NETWORK_DOC, registry::all)
        .transpose()?
        .unwrap_or_default()
        .into_iter()
        .collect())
}

pub async fn enrol(ctx: &NodeContext, r: pb::EnrolSiteRequest) -> Result<pb::RegisteredSite> {
    enrol_with_certificate(ctx, r, None).await
}

/// [`enrol`], with the site's certificate handed over by the academic team
/// (the web form): the key and role are checked against it exactly as
/// against a certificate the site published, and against the published
/// one too when it has reached this node.
pub async fn enrol_with_certificate(
    ctx: &NodeContext,
    r: pb::EnrolSiteRequest,
    certificate: Option<&str>,
) -> Result<pb::RegisteredSite> {
    academy_only(ctx)?;
    let entry = registry::new_entry(&r.id, &r.name, &r.role, &r.endpoint, &r.key, &now_rfc3339())?;
    let id = r.id.clone();
    if let Some(pem) = certificate.filter(|p| !p.trim().is_empty()) {
        let anchor = given_anchor(ctx, &id, pem)?;
        check_against(GIVEN, &id, &entry, &anchor)?;
    }
    check_enrolment(ctx, &id, &entry)?;
    ctx.docs
        .change(NETWORK_DOC, "site enrol", |doc| {
            if let Some(existing) = registry::get(doc, &id)? {
                return Err(Error::precondition(if existing.is_revoked() {
                    format!("le site {id} a été révoqué : inscrivez-le sous un autre identifiant")
                } else {
                    format!("le site {id} est déjà inscrit")
                }));
            }
            registry::put(doc, &id, &entry)
        })
        .await?;
    Ok(to_pb(&r.id, &entry))
}

pub async fn revoke(ctx: &NodeContext, id: &str) -> Result<pb::RegisteredSite> {
    academy_only(ctx)?;
    if id == ctx.site {
        return Err(Error::precondition("un nœud ne se révoque pas lui-même"));
    }
    let now = now_rfc3339();
    let cutoff = cutoff(ctx, id);
    let entry = ctx
        .docs
        .change(NETWORK_DOC, "site revoke", |doc| {
            let mut e = registry::get(doc, id)?
                .ok_or_else(|| Error::not_found(format!("site {id} non inscrit")))?;
            if e.is_revoked() {
                return Err(Error::precondition(format!(
                    "le site {id} est déjà révoqué"
                )));
            }
            e.revoked_at = now;
            e.cutoff = cutoff;
            registry::put(doc, id, &e)?;
            Ok(e)
        })
        .await?;
    Ok(to_pb(id, &entry))
}

pub async fn update(ctx: &NodeContext, r: pb::UpdateSiteRequest) -> Result<pb::RegisteredSite> {
    academy_only(ctx)?;
    let id = r.id.trim().to_string();
    let u = registry::Update::new(&r.name, &r.endpoint, &r.key)?;
    if u == registry::Update::default() {
        return Err(Error::invalid(
            "rien à modifier : donnez --name, --endpoint ou --key",
        ));
    }
    let current = ctx
        .docs
        .read(NETWORK_DOC, |d| registry::get(d, &id))
        .transpose()?
        .flatten()
        .ok_or_else(|| Error::not_found(format!("site {id} non inscrit")))?;
    if current.is_revoked() {
        return Err(Error::precondition(format!(
            "le site {id} a été révoqué le {} : il ne peut plus être modifié",
            current.revoked_at
        )));
    }
    let new_key = u.key.as_ref().filter(|k| **k != current.public_key);
    if let Some(key) = new_key {
        if id == ctx.site {
            return Err(Error::precondition(
                "un nœud académique ne remplace pas sa propre clé : ses modifications, celle-ci comprise, restent signées de la clé inscrite jusqu'à son redémarrage ; faites approuver la nouvelle clé par un autre nœud académique",
            ));
        }
        // The certificate published now binds either this key (an enrolment
        // with a wrong key, repaired) or the current one (a rotation: the site
        // publishes its new certificate when it restarts). Any other key
        // would lock the site out.
        if let Some(anchor) = published_anchor(ctx, &id)? {
            let certified = hex::encode(anchor.key.to_bytes());
            if certified != *key && certified != current.public_key {
                return Err(wrong_key(ctx, &id, key, &certified));
            }
        }
    }
    let now = now_rfc3339();
    let cutoff = if new_key.is_some() {
        cutoff(ctx, &id)
    } else {
        BTreeMap::new()
    };
    let entry = ctx
        .docs
        .change(NETWORK_DOC, "site update", |doc| {
            let mut e = registry::get(doc, &id)?
                .ok_or_else(|| Error::not_found(format!("site {id} non inscrit")))?;
            if e.is_revoked() || e.public_key != current.public_key {
                return Err(Error::precondition(format!(
                    "le site {id} a changé pendant la modification : recommencez"
                )));
            }
            e.apply(&u, &now, cutoff);
            registry::put(doc, &id, &e)?;
            Ok(e)
        })
        .await?;
    Ok(to_pb(&id, &entry))
}

fn rfc3339(t: chrono::DateTime<chrono::Utc>) -> String {
    t.to_rfc3339_opts(chrono::SecondsFormat::Secs, true)
}

/// The network's health as this node sees it: for every registered site, its
/// sessions with this node and, document by document, what it is known to lack.
pub fn health(ctx: &NodeContext) -> Result<pb::NetworkHealth> {
    let peers = ctx.fed.peer_statuses();
    let mut refusals = ctx.fed.refusals();
    let docs = ctx.docs.ids();
    let mut out = Vec::new();
    let registered = sites(ctx)?;
    for (id, e) in registered {
        if id == ctx.site {
            continue;
        }
        let refused = refusals.remove(&id).unwrap_or_default();
        let seen: Vec<_> = peers.iter().filter(|p| p.site == id).collect();
        let connected = seen.iter().any(|p| p.connected);
        let last_contact = seen
            .iter()
            .filter_map(|p| p.last_sync)
            .max()
            .map(|t| t.to_rfc3339_opts(chrono::SecondsFormat::Secs, true))
            .unwrap_or_default();
        let last_change_at = ctx
            .docs
            .newest_change_time(&crate::base::site_doc(&id))
            .and_then(|t| chrono::DateTime::from_timestamp(t, 0))
            .map(|t| t.to_rfc3339_opts(chrono::SecondsFormat::Secs, true))
            .unwrap_or_default();
        let mut differing = Vec::new();
        let mut never_synced = 0;
        for doc in &docs {
            match ctx.docs.lag(&id, doc) {
                Some(0) => {}
                Some(n) => differing.push(pb::DocumentLag {
                    doc: doc.clone(),
                    changes_behind: n as u64,
                }),
                None => never_synced += 1,
            }
        }
        out.push(pb::SiteHealth {
            name: e.name.clone(),
            role: e.role.clone(),
            revoked_at: e.revoked_at.clone(),
            connected,
            last_contact,
            last_change_at,
            changes_behind: differing.iter().map(|d| d.changes_behind).sum(),
            differing,
            never_synced,
            refused_sessions: refused.count,
            last_refusal: refused.last_reason,
            last_refusal_at: refused.last_at.map(rfc3339).unwrap_or_default(),
            id,
        });
    }
    let other_refusals = refusals
        .into_iter()
        .map(|(peer, r)| pb::SessionRefusals {
            peer,
            count: r.count,
            last_reason: r.last_reason,
            last_at: r.last_at.map(rfc3339).unwrap_or_default(),
        })
        .collect();
    Ok(pb::NetworkHealth {
        other_refusals,
        site: ctx.site.clone(),
        generated_at: now_rfc3339(),
        sites: out,
        loan_conflicts: super::loans::conflicts_pb(ctx),
        digest: hex::encode(ctx.docs.network_digest()),
    })
}
