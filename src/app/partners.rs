//! Use cases of partners: a site's partners, in its own site document. Reads
//! cover the whole network; a node writes only its own site's partners.

use super::NodeContext;
use crate::docs::{is_slug, new_id};
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

/// Every partner of the network, in site then id order.
pub fn all(ctx: &NodeContext) -> Result<Vec<pb::Partner>> {
    let mut out = Vec::new();
    for doc_id in ctx.docs.ids_with_prefix("site/") {
        let site = doc_id.trim_start_matches("site/").to_string();
        let map = ctx
            .docs
            .read(&doc_id, partners::all)
            .transpose()?
            .unwrap_or_default();
        out.extend(map.into_iter().map(|(id, p)| to_pb(&id, &site, p)));
    }
    Ok(out)
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
    let p = partners::new_partner(&patch, &now)?;
    let id = new_id("pa");
    ctx.docs
        .change(&ctx.site_doc(), "partner add", |doc| {
            partners::put(doc, &id, &p)
        })
        .await?;
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
    let p = ctx
        .docs
        .change(&ctx.site_doc(), "partner update", |doc| {
            let mut p = partners::get(doc, id)?
                .ok_or_else(|| Error::not_found(format!("partenaire {id} introuvable")))?;
            patch.apply(&mut p, &now)?;
            partners::put(doc, id, &p)?;
            Ok(p)
        })
        .await?;
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
