//! The tonic adapter of [`crate::app::network`]: authentication, roles and
//! wire types; the use cases themselves live in `app`.

use super::NodeContext;
use crate::app::network::*;
use crate::auth::{require, Need};
use crate::pb;
use std::sync::Arc;
use tonic::{Request, Response, Status};

pub struct NetworkApi {
    ctx: Arc<NodeContext>,
}

impl NetworkApi {
    pub fn new(ctx: Arc<NodeContext>) -> Self {
        NetworkApi { ctx }
    }
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

    async fn update(
        &self,
        r: Request<pb::UpdateSiteRequest>,
    ) -> std::result::Result<Response<pb::RegisteredSite>, Status> {
        require(&r, Need::Academy)?;
        Ok(Response::new(
            self::update(&self.ctx, r.into_inner()).await?,
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
