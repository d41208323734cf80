//! The tonic adapter of [`crate::app::actions`]: authentication, roles and
//! wire types; the use cases themselves live in `app`.

use super::NodeContext;
use crate::app::actions::*;
use crate::auth::{require, Need};
use crate::domain::actions::{self};
use crate::error::Result;
use crate::pb;
use std::sync::Arc;
use tonic::{Request, Response, Status};

pub struct ActionsApi {
    ctx: Arc<NodeContext>,
}

impl ActionsApi {
    pub fn new(ctx: Arc<NodeContext>) -> Self {
        ActionsApi { ctx }
    }
}

#[tonic::async_trait]
impl pb::actions_server::Actions for ActionsApi {
    async fn create(
        &self,
        r: Request<pb::CreateActionRequest>,
    ) -> Result<Response<pb::CommonAction>, Status> {
        require(&r, Need::Director)?;
        Ok(Response::new(to_pb(
            &self::create(&self.ctx, r.into_inner()).await?,
        )))
    }

    async fn join(&self, r: Request<pb::ActionId>) -> Result<Response<pb::CommonAction>, Status> {
        require(&r, Need::Director)?;
        Ok(Response::new(to_pb(
            &self::join_action(&self.ctx, &r.into_inner().id).await?,
        )))
    }

    async fn leave(&self, r: Request<pb::ActionId>) -> Result<Response<pb::CommonAction>, Status> {
        require(&r, Need::Director)?;
        Ok(Response::new(to_pb(
            &self::leave(&self.ctx, &r.into_inner().id).await?,
        )))
    }

    async fn update(
        &self,
        r: Request<pb::UpdateActionRequest>,
    ) -> Result<Response<pb::CommonAction>, Status> {
        require(&r, Need::Director)?;
        Ok(Response::new(to_pb(
            &self::update(&self.ctx, r.into_inner()).await?,
        )))
    }

    async fn add_task(&self, r: Request<pb::AddTaskRequest>) -> Result<Response<pb::Task>, Status> {
        require(&r, Need::Director)?;
        Ok(Response::new(
            self::add_task(&self.ctx, r.into_inner()).await?,
        ))
    }

    async fn complete_task(&self, r: Request<pb::TaskRef>) -> Result<Response<pb::Task>, Status> {
        require(&r, Need::Director)?;
        let r = r.into_inner();
        Ok(Response::new(
            self::complete_task(&self.ctx, &r.action, &r.task).await?,
        ))
    }

    async fn get(&self, r: Request<pb::ActionId>) -> Result<Response<pb::CommonAction>, Status> {
        require(&r, Need::Read)?;
        let (a, heads) = self::get_at(&self.ctx, &r.into_inner().id)?;
        Ok(Response::new(to_pb_at(&a, &heads)))
    }

    async fn list(
        &self,
        r: Request<pb::ListActionsRequest>,
    ) -> Result<Response<pb::ActionList>, Status> {
        require(&r, Need::Read)?;
        let r = r.into_inner();
        let status = if r.status.is_empty() {
            String::new()
        } else {
            actions::parse_status(&r.status)?
        };
        if r.axis != 0 {
            actions::parse_axis(r.axis)?;
        }
        let list = all(&self.ctx)?
            .iter()
            .filter(|a| r.site.is_empty() || a.participants.contains_key(&r.site))
            .filter(|a| r.axis == 0 || a.axis == r.axis as i64)
            .filter(|a| status.is_empty() || a.status == status)
            .map(to_pb)
            .collect();
        Ok(Response::new(pb::ActionList { actions: list }))
    }
}
