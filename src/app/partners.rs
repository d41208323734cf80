//! Use cases of partners: a site's partners, in its own site document. Reads
//! cover the whole network; a node writes only its own site's partners.
//!
//! A partner's contact names a person (RGPD): it stays on its site's node, in
//! the store's `meta` tree (`partner-contact/<id>`), and is never written
//! into the replicated document, whose history could not erase it. Contacts
//! that an earlier version wrote there are moved out at start
//! ([`move_contacts_out_of_history`]).

use super::NodeContext;
use crate::base::{is_slug, new_id};
use crate::domain::now_rfc3339;
use crate::domain::partners::{self, Partner, Patch};
use crate::error::{Error, Result};
use crate::pb;

pub(crate) fn to_pb(id: &str, site: &str, p: Partner) -> pb::Partner {
    pb::Partner {
        id: id.to_string(),
        site: site.to_string(),
        name: p.name,
        kind: p.kind,
        contact: p.contact,
        agreement: p.agreement,
        contribution_eur: p.contribution_eur,
        contribution_in_kind: p.contribution_in_kind,
        actions: p.actions,
        created_at: p.created_at,
        updated_at: p.updated_at,
    }
}

/// Whether a person of `role`, on the node of `ctx_site`, may read the
/// contact of a partner of `owner`: a member of the team (staff or more) of
/// that site. The web pages and the API both apply it.
pub fn sees_contact(ctx_site: &str, owner: &str, role: crate::auth::Role) -> bool {
    owner == ctx_site && role >= crate::auth::Role::Staff
}

const CONTACT: &str = "partner-contact/";

/// The contact this node keeps for its partner `id` ("" if none).
fn local_contact(ctx: &NodeContext, id: &str) -> Result<String> {
    Ok(ctx
        .docs
        .store()
        .get_meta(&format!("{CONTACT}{id}"))?
        .map(|v| String::from_utf8_lossy(&v).into_owned())
        .unwrap_or_default())
}

/// Keeps the contact of partner `id` on this node, durably.
async fn keep_contact(ctx: &NodeContext, id: &str, contact: &str) -> Result<()> {
    let store = ctx.docs.store();
    store.put_meta(&format!("{CONTACT}{id}"), contact.as_bytes())?;
    store.flush().await?;
    Ok(())
}

/// Every partner of the network, in site then id order. The contact is
/// filled for this site's partners only (the others' stay on their nodes).
pub fn all(ctx: &NodeContext) -> Result<Vec<pb::Partner>> {
    let mut out = Vec::new();
    for doc_id in ctx.docs.ids_with_prefix("site/") {
        let site = doc_id.trim_start_matches("site/").to_string();
        let map = ctx
            .docs
            .read(&doc_id, partners::all)
            .transpose()?
            .unwrap_or_default();
        for (id, mut p) in map {
            if site == ctx.site {
                let kept = local_contact(ctx, &id)?;
                if !kept.is_empty() {
                    p.contact = kept;
                }
            } else {
                p.contact.clear();
            }
            out.push(to_pb(&id, &site, p));
        }
    }
    Ok(out)
}

/// Moves the contacts of this site's partners that an earlier version wrote
/// into the replicated document to this node's store, and clears them from
/// the document's current state (its history still holds them: a document
/// rebuilt without that history is the only way to erase them).
pub async fn move_contacts_out_of_history(ctx: &NodeContext) -> Result<usize> {
    let doc = ctx.site_doc();
    let written: Vec<(String, String)> = ctx
        .docs
        .read(&doc, partners::all)
        .transpose()?
        .unwrap_or_default()
        .into_iter()
        .filter(|(_, p)| !p.contact.is_empty())
        .map(|(id, p)| (id, p.contact))
        .collect();
    if written.is_empty() {
        return Ok(0);
    }
    for (id, contact) in &written {
        if local_contact(ctx, id)?.is_empty() {
            keep_contact(ctx, id, contact).await?;
        }
    }
    let ids: Vec<String> = written.iter().map(|(id, _)| id.clone()).collect();
    ctx.docs
        .change(&doc, "partner contacts kept on the node", |d| {
            for id in &ids {
                if let Some(mut p) = partners::get(d, id)? {
                    p.contact.clear();
                    partners::put(d, id, &p)?;
                }
            }
            Ok(())
        })
        .await?;
    Ok(written.len())
}

/// Linked actions must exist on this node.
pub(crate) fn check_actions(ctx: &NodeContext, actions: &[String]) -> Result<()> {
    for a in actions {
        let a = a.trim();
        if a.is_empty() {
            continue;
        }
        if !is_slug(a) || ctx.docs.heads(&format!("action/{a}")).is_empty() {
            return Err(Error::not_found(format!(
                "action {a} introuvable : donnez l'identifiant d'une action commune"
            )));
        }
    }
    Ok(())
}

pub async fn add(ctx: &NodeContext, patch: Patch) -> Result<pb::Partner> {
    check_actions(ctx, patch.actions.as_deref().unwrap_or_default())?;
    let now = now_rfc3339();
    let mut p = partners::new_partner(&patch, &now)?;
    let id = new_id("pa");
    // The contact first, on this node only: the document never holds it.
    let contact = std::mem::take(&mut p.contact);
    if !contact.is_empty() {
        keep_contact(ctx, &id, &contact).await?;
    }
    ctx.docs
        .change(&ctx.site_doc(), "partner add", |doc| {
            partners::put(doc, &id, &p)
        })
        .await?;
    p.contact = contact;
    Ok(to_pb(&id, &ctx.site, p))
}

pub async fn update(ctx: &NodeContext, id: &str, patch: Patch) -> Result<pb::Partner> {
    if id.trim().is_empty() {
        return Err(Error::invalid("identifiant de partenaire manquant"));
    }
    // The whole id or a unique beginning of it (issue 10, item 14).
    let id = crate::domain::ids::resolve(
        "partenaire",
        id,
        all(ctx)?.into_iter().map(|p| (p.id, p.name)),
    )?;
    let id = id.as_str();
    if let Some(owner) = all(ctx)?.into_iter().find(|p| p.id == id).map(|p| p.site) {
        if owner != ctx.site {
            return Err(Error::denied(format!(
                "le partenaire {id} est celui du site {owner} : seul ce site peut le modifier"
            )));
        }
    }
    check_actions(ctx, patch.actions.as_deref().unwrap_or_default())?;
    let now = now_rfc3339();
    // Checked with the rest (a contact too long is refused) but kept on
    // this node once the document took the other fields.
    let mut contact = None;
    let mut p = ctx
        .docs
        .change(&ctx.site_doc(), "partner update", |doc| {
            let mut p = partners::get(doc, id)?
                .ok_or_else(|| Error::not_found(format!("partenaire {id} introuvable")))?;
            patch.apply(&mut p, &now)?;
            if patch.contact.is_some() {
                contact = Some(std::mem::take(&mut p.contact));
            }
            partners::put(doc, id, &p)?;
            Ok(p)
        })
        .await?;
    match contact {
        Some(c) => {
            keep_contact(ctx, id, &c).await?;
            p.contact = c;
        }
        None => p.contact = local_contact(ctx, id)?,
    }
    Ok(to_pb(id, &ctx.site, p))
}

pub fn list(ctx: &NodeContext, r: &pb::ListPartnersRequest) -> Result<Vec<pb::Partner>> {
    let kind = if r.kind.trim().is_empty() {
        None
    } else {
        Some(partners::parse_kind(&r.kind)?)
    };
    if !r.site.is_empty() && ctx.docs.heads(&format!("site/{}", r.site)).is_empty() {
        return Err(Error::not_found(format!("site {} inconnu", r.site)));
    }
    Ok(all(ctx)?
        .into_iter()
        .filter(|p| r.site.is_empty() || p.site == r.site)
        .filter(|p| kind.as_ref().is_none_or(|k| &p.kind == k))
        .filter(|p| r.action.is_empty() || p.actions.contains(&r.action))
        .collect())
}
