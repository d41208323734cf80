//! The `Network` service: the academy enrols and revokes sites in the
//! registry of the `network` document; every node reads it.

use std::sync::Arc;

use tonic::{Request, Response, Status};

use super::NodeContext;
use crate::auth::{require, Need};
use crate::docs::NETWORK_DOC;
use crate::domain::registry::{self, SiteEntry};
use crate::domain::{now_rfc3339, site::Role};
use crate::error::{Error, Result};
use crate::pb;

pub struct NetworkApi {
    ctx: Arc<NodeContext>,
}

impl NetworkApi {
    pub fn new(ctx: Arc<NodeContext>) -> Self {
        NetworkApi { ctx }
    }
}

fn to_pb(id: &str, e: &SiteEntry) -> pb::RegisteredSite {
    pb::RegisteredSite {
        id: id.to_string(),
        name: e.name.clone(),
        role: e.role.clone(),
        endpoint: e.endpoint.clone(),
        public_key: e.public_key.clone(),
        enrolled_at: e.enrolled_at.clone(),
        revoked_at: e.revoked_at.clone(),
    }
}

fn academy_only(ctx: &NodeContext) -> Result<()> {
    if ctx.role != Role::Academy {
        return Err(Error::denied(
            "seul un nœud académique inscrit et révoque des sites",
        ));
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
    academy_only(ctx)?;
    let entry = registry::new_entry(&r.id, &r.name, &r.role, &r.endpoint, &r.key, &now_rfc3339())?;
    let id = r.id.clone();
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
    // The cutoff: every document the site may write, at the heads held here.
    let mut cutoff = std::collections::BTreeMap::new();
    for doc in ctx.docs.ids() {
        let writable = match crate::docs::parse_doc_id(&doc) {
            Some(crate::docs::DocKind::Site(s)) => s == id,
            Some(crate::docs::DocKind::Action(_)) => true,
            Some(crate::docs::DocKind::Network) => true,
            None => false,
        };
        if writable {
            cutoff.insert(doc.clone(), ctx.docs.heads(&doc));
        }
    }
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

/// The network's health as this node sees it: for every registered site, its
/// sessions with this node and, document by document, what it is known to lack.
pub fn health(ctx: &NodeContext) -> Result<pb::NetworkHealth> {
    let peers = ctx.fed.peer_statuses();
    let docs = ctx.docs.ids();
    let mut out = Vec::new();
    for (id, e) in sites(ctx)? {
        if id == ctx.site {
            continue;
        }
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
            .newest_change_time(&crate::docs::site_doc(&id))
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
            id,
        });
    }
    Ok(pb::NetworkHealth {
        site: ctx.site.clone(),
        generated_at: now_rfc3339(),
        sites: out,
        loan_conflicts: super::loans::conflicts_pb(ctx),
        digest: hex::encode(ctx.docs.network_digest()),
    })
}

#[tonic::async_trait]
impl pb::network_server::Network for NetworkApi {
    async fn health(
        &self,
        r: Request<pb::NetworkHealthRequest>,
    ) -> std::result::Result<Response<pb::NetworkHealth>, Status> {
        require(&r, Need::Read)?;
        Ok(Response::new(health(&self.ctx)?))
    }

    async fn enrol(
        &self,
        r: Request<pb::EnrolSiteRequest>,
    ) -> std::result::Result<Response<pb::RegisteredSite>, Status> {
        require(&r, Need::Academy)?;
        Ok(Response::new(self::enrol(&self.ctx, r.into_inner()).await?))
    }

    async fn revoke(
        &self,
        r: Request<pb::SiteId>,
    ) -> std::result::Result<Response<pb::RegisteredSite>, Status> {
        require(&r, Need::Academy)?;
        Ok(Response::new(
            self::revoke(&self.ctx, &r.into_inner().id).await?,
        ))
    }

    async fn list_sites(
        &self,
        r: Request<pb::ListSitesRequest>,
    ) -> std::result::Result<Response<pb::SiteList>, Status> {
        require(&r, Need::Read)?;
        Ok(Response::new(pb::SiteList {
            sites: sites(&self.ctx)?
                .iter()
                .map(|(id, e)| to_pb(id, e))
                .collect(),
        }))
    }
}
