//! The tonic adapter of [`crate::app::reports`]: authentication, roles and
//! wire types; the use cases themselves live in `app`.

use super::NodeContext;
use crate::app::reports::*;
use crate::auth::{require, Need};
use crate::pb;
use std::sync::Arc;
use tonic::{Request, Response, Status};

pub struct ReportsApi {
    ctx: Arc<NodeContext>,
}

impl ReportsApi {
    pub fn new(ctx: Arc<NodeContext>) -> Self {
        ReportsApi { ctx }
    }
}

#[tonic::async_trait]
impl pb::reports_server::Reports for ReportsApi {
    async fn indicators(
        &self,
        r: Request<pb::IndicatorsRequest>,
    ) -> std::result::Result<Response<pb::IndicatorReport>, Status> {
        require(&r, Need::Read)?;
        let ctx = self.ctx.clone();
        let req = r.into_inner();
        let out = tokio::task::spawn_blocking(move || indicators(&ctx, &req))
            .await
            .map_err(|e| Status::internal(e.to_string()))??;
        Ok(Response::new(out))
    }

    async fn bilan(
        &self,
        r: Request<pb::BilanRequest>,
    ) -> std::result::Result<Response<pb::BilanReport>, Status> {
        require(&r, Need::Read)?;
        let ctx = self.ctx.clone();
        let req = r.into_inner();
        let out = tokio::task::spawn_blocking(move || bilan(&ctx, &req))
            .await
            .map_err(|e| Status::internal(e.to_string()))??;
        Ok(Response::new(out))
    }
}
