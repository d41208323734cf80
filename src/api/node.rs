//! The tonic adapter of [`crate::app::node`]: authentication, roles and
//! wire types; the use cases themselves live in `app`.

use super::NodeContext;
use crate::app::node::*;
use crate::auth::{require, Need};
use crate::base::parse_doc_id;
use crate::pb;
use std::sync::Arc;
use tonic::{Request, Response, Status};

pub struct NodeApi {
    ctx: Arc<NodeContext>,
}

impl NodeApi {
    pub fn new(ctx: Arc<NodeContext>) -> Self {
        NodeApi { ctx }
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
