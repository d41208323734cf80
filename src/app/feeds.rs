//! Calendar subscriptions: a URL with a secret that a calendar application
//! (Thunderbird, Outlook, a phone) polls to show the network's events of a
//! site, an action or the whole network. The secret is the only credential,
//! so only its SHA-256 is stored, and a subscription can be revoked.
//! Subscriptions belong to this node: they are never replicated.

use chrono::Utc;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use super::NodeContext;
use crate::error::{Error, Result};
use crate::pb;

const PREFIX: &str = "feed/";
/// Path of the subscription URLs on the web interface.
pub const PATH: &str = "/calendrier";

/// What a subscription shows.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct Feed {
    pub id: String,
    pub name: String,
    /// A site's events, or an action's ("" for neither).
    pub site: String,
    pub action: String,
    pub secret_sha256: String,
    pub created_at: String,
    pub revoked_at: Option<String>,
}

fn hash(secret: &str) -> String {
    hex::encode(Sha256::digest(secret.trim().as_bytes()))
}

fn to_pb(f: &Feed, url: String) -> pb::CalendarFeed {
    pb::CalendarFeed {
        id: f.id.clone(),
        name: f.name.clone(),
        site: f.site.clone(),
        action: f.action.clone(),
        created_at: f.created_at.clone(),
        revoked_at: f.revoked_at.clone().unwrap_or_default(),
        url,
    }
}

fn all(ctx: &NodeContext) -> Result<Vec<Feed>> {
    let mut out = Vec::new();
    for (k, v) in ctx.docs.store().scan_meta(PREFIX)? {
        out.push(
            serde_json::from_slice(&v)
                .map_err(|e| Error::Internal(format!("abonnement {k} illisible : {e}")))?,
        );
    }
    Ok(out)
}

async fn put(ctx: &NodeContext, f: &Feed) -> Result<()> {
    let bytes = serde_json::to_vec(f).map_err(|e| Error::Internal(e.to_string()))?;
    ctx.docs
        .store()
        .put_meta(&format!("{PREFIX}{}", f.id), &bytes)?;
    ctx.docs.store().flush().await?;
    Ok(())
}

/// Creates a subscription to a site's events, an action's, or the whole
/// network's (both empty); returns it with its URL, shown once.
pub async fn create(ctx: &NodeContext, r: pb::CreateFeedRequest) -> Result<pb::CalendarFeed> {
    let site = r.site.trim().to_string();
    if !site.is_empty() && !r.action.trim().is_empty() {
        return Err(Error::invalid(
            "un abonnement porte sur un site ou sur une action, pas les deux",
        ));
    }
    if !site.is_empty()
        && ctx
            .docs
            .read(&crate::base::site_doc(&site), |_| ())
            .is_none()
    {
        return Err(Error::not_found(format!("site {site} inconnu de ce nœud")));
    }
    // An action by its id or a unique beginning of it.
    let action = match r.action.trim() {
        "" => String::new(),
        a => super::actions::resolve(ctx, a)?,
    };
    let name = crate::domain::optional_text("name", &r.name, 100)?;
    let secret = hex::encode(rand::random::<[u8; 24]>());
    let feed = Feed {
        id: crate::base::new_id("ab"),
        name,
        site,
        action,
        secret_sha256: hash(&secret),
        created_at: crate::domain::now_rfc3339(),
        revoked_at: None,
    };
    put(ctx, &feed).await?;
    Ok(to_pb(&feed, url(ctx, &secret)))
}

fn url(ctx: &NodeContext, secret: &str) -> String {
    format!("{}{PATH}/{secret}.ics", ctx.web_url.trim_end_matches('/'))
}

pub fn list(ctx: &NodeContext) -> Result<pb::FeedList> {
    let mut feeds = all(ctx)?;
    feeds.sort_by(|a, b| a.created_at.cmp(&b.created_at).then(a.id.cmp(&b.id)));
    Ok(pb::FeedList {
        feeds: feeds.iter().map(|f| to_pb(f, String::new())).collect(),
    })
}

pub async fn revoke(ctx: &NodeContext, id: &str) -> Result<pb::CalendarFeed> {
    let mut feed = all(ctx)?
        .into_iter()
        .find(|f| f.id == id.trim())
        .ok_or_else(|| Error::not_found(format!("abonnement {} introuvable", id.trim())))?;
    if feed.revoked_at.is_some() {
        return Err(Error::precondition(format!(
            "l'abonnement {} est déjà révoqué",
            feed.id
        )));
    }
    feed.revoked_at = Some(Utc::now().to_rfc3339());
    put(ctx, &feed).await?;
    Ok(to_pb(&feed, String::new()))
}

/// The calendar a subscription's secret opens, as an RFC 5545 file; NotFound
/// for an unknown or revoked secret (without telling which).
pub fn ics(ctx: &NodeContext, secret: &str) -> Result<String> {
    let h = hash(secret);
    let feed = all(ctx)?
        .into_iter()
        .find(|f| f.secret_sha256 == h && f.revoked_at.is_none())
        .ok_or_else(|| Error::not_found("abonnement inconnu ou révoqué"))?;
    let q = pb::CalendarQuery {
        site: feed.site,
        action: feed.action,
        ..Default::default()
    };
    Ok(super::calendar::export(ctx, &q)?.content)
}
