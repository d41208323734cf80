//! The tonic adapter of [`crate::app::users`]: a director (or the academic
//! team on its node) manages the accounts of the people of this node.

use std::sync::Arc;

use tonic::{Request, Response, Status};

use super::NodeContext;
use crate::app::users;
use crate::auth::{require, Need};
use crate::pb;

pub struct UsersApi {
    ctx: Arc<NodeContext>,
}

impl UsersApi {
    pub fn new(ctx: Arc<NodeContext>) -> Self {
        UsersApi { ctx }
    }
}

#[tonic::async_trait]
impl pb::users_server::Users for UsersApi {
    async fn add(&self, r: Request<pb::AddUserRequest>) -> Result<Response<pb::UserSetup>, Status> {
        let who = require(&r, Need::Director)?;
        let r = r.into_inner();
        Ok(Response::new(
            users::add(&self.ctx, who.role, &r.email, &r.name, &r.role).await?,
        ))
    }

    async fn list(
        &self,
        r: Request<pb::ListUsersRequest>,
    ) -> Result<Response<pb::UserList>, Status> {
        require(&r, Need::Director)?;
        Ok(Response::new(users::list(&self.ctx)?))
    }

    async fn disable(
        &self,
        r: Request<pb::UserEmail>,
    ) -> Result<Response<pb::UserAccount>, Status> {
        let who = require(&r, Need::Director)?;
        Ok(Response::new(
            users::disable(&self.ctx, who.role, &r.get_ref().email).await?,
        ))
    }

    async fn enable(&self, r: Request<pb::UserEmail>) -> Result<Response<pb::UserAccount>, Status> {
        let who = require(&r, Need::Director)?;
        Ok(Response::new(
            users::enable(&self.ctx, who.role, &r.get_ref().email).await?,
        ))
    }

    async fn reset(&self, r: Request<pb::UserEmail>) -> Result<Response<pb::UserSetup>, Status> {
        let who = require(&r, Need::Director)?;
        Ok(Response::new(
            users::reset(&self.ctx, who.role, &r.get_ref().email).await?,
        ))
    }
}
