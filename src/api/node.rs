//! The `Node` service: status of this node, export of documents.

use std::sync::Arc;

use tonic::{Request, Response, Status};

use super::NodeContext;
use crate::auth::{require, Need};
use crate::docs::parse_doc_id;
use crate::pb;

pub struct NodeApi {
    ctx: Arc<NodeContext>,
}

impl NodeApi {
    pub fn new(ctx: Arc<NodeContext>) -> Self {
        NodeApi { ctx }
    }
}

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

#[tonic::async_trait]
impl pb::node_server::Node for NodeApi {
    async fn status(
        &self,
        request: Request<pb::StatusRequest>,
    ) -> Result<Response<pb::StatusReply>, Status> {
        require(&request, Need::Read)?;
        Ok(Response::new(status(&self.ctx)))
    }

    async fn export_document(
        &self,
        request: Request<pb::ExportDocumentRequest>,
    ) -> Result<Response<pb::ExportDocumentReply>, Status> {
        require(&request, Need::Read)?;
        let id = request.into_inner().id;
        if parse_doc_id(&id).is_none() {
            return Err(Status::invalid_argument(format!(
                "identifiant de document « {id} » invalide (network, site/<site> ou action/<id>)"
            )));
        }
        let data = self
            .ctx
            .docs
            .export(&id)
            .ok_or_else(|| Status::not_found(format!("document {id} inconnu sur ce nœud")))?;
        Ok(Response::new(pb::ExportDocumentReply { data }))
    }
}
