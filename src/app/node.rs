//! Use cases of node: status of this node, export of documents.

use super::NodeContext;
use crate::pb;

/// Builds the status reply; shared by the API and the library's callers.
pub fn status(ctx: &NodeContext) -> pb::StatusReply {
    let docs = &ctx.docs;
    let documents = docs
        .ids()
        .into_iter()
        .map(|id| pb::DocumentState {
            heads: docs.heads(&id),
            id,
        })
        .collect();
    let peers = ctx
        .fed
        .peer_statuses()
        .into_iter()
        .map(|p| pb::PeerState {
            address: p.address,
            site: p.site,
            connected: p.connected,
            last_sync: p
                .last_sync
                .map(|t| t.to_rfc3339_opts(chrono::SecondsFormat::Millis, true))
                .unwrap_or_default(),
            last_error: p.last_error,
            direction: p.direction,
            bytes_sent: p.bytes_sent,
            bytes_received: p.bytes_received,
        })
        .collect();
    pb::StatusReply {
        site: ctx.site.clone(),
        name: ctx.name.clone(),
        role: ctx.role.as_str().to_string(),
        digest: hex::encode(docs.network_digest()),
        documents,
        peers,
        listen: ctx.listen.clone(),
        api_listen: ctx.api_listen.clone(),
        public_key: ctx.public_key.clone(),
        version: env!("CARGO_PKG_VERSION").to_string(),
        loan_conflicts: super::loans::conflicts_pb(ctx),
        refused_sessions: ctx
            .fed
            .refused_sessions
            .load(std::sync::atomic::Ordering::Relaxed),
        withheld_messages: ctx
            .fed
            .withheld_messages
            .load(std::sync::atomic::Ordering::Relaxed),
        limited_messages: ctx
            .fed
            .limited_messages
            .load(std::sync::atomic::Ordering::Relaxed),
    }
}
