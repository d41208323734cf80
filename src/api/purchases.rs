//! The tonic adapter of [`crate::app::purchases`]: authentication, roles and
//! wire types; the use cases themselves live in `app`.

use super::NodeContext;
use crate::app::purchases::*;
use crate::auth::{require, Need};
use crate::domain::purchases::Patch;
use crate::pb;
use std::sync::Arc;
use tonic::{Request, Response, Status};

pub struct PurchasesApi {
    ctx: Arc<NodeContext>,
}

impl PurchasesApi {
    pub fn new(ctx: Arc<NodeContext>) -> Self {
        PurchasesApi { ctx }
    }
}

#[tonic::async_trait]
impl pb::purchases_server::Purchases for PurchasesApi {
    async fn create(
        &self,
        r: Request<pb::CreatePurchaseRequest>,
    ) -> std::result::Result<Response<pb::Purchase>, Status> {
        let who = require(&r, Need::Director)?;
        let r = r.into_inner();
        let patch = Patch {
            object: Some(r.object),
            lines: Some(lines(r.lines)),
            supplier: Some(r.supplier),
            funding: Some(r.funding),
            action: Some(r.action),
        };
        let rec = self::create(&self.ctx, patch, who.role.as_str()).await?;
        Ok(Response::new(to_pb(&rec)))
    }

    async fn update(
        &self,
        r: Request<pb::UpdatePurchaseRequest>,
    ) -> std::result::Result<Response<pb::Purchase>, Status> {
        require(&r, Need::Director)?;
        let r = r.into_inner();
        let patch = Patch {
            object: r.object,
            lines: r.set_lines.then(|| lines(r.lines)),
            supplier: r.supplier,
            funding: r.funding,
            action: r.action,
        };
        Ok(Response::new(to_pb(
            &self::update(&self.ctx, &r.id, patch).await?,
        )))
    }

    async fn submit(
        &self,
        r: Request<pb::PurchaseId>,
    ) -> std::result::Result<Response<pb::Purchase>, Status> {
        let who = require(&r, Need::Director)?;
        let rec = self::submit(&self.ctx, &r.get_ref().id, who.role.as_str()).await?;
        Ok(Response::new(to_pb(&rec)))
    }

    async fn decide(
        &self,
        r: Request<pb::PurchaseDecision>,
    ) -> std::result::Result<Response<pb::Purchase>, Status> {
        let who = require(&r, Need::Academy)?;
        let r = r.into_inner();
        let rec = self::decide(&self.ctx, &r.id, &r.verdict, &r.reason, who.role.as_str()).await?;
        Ok(Response::new(to_pb(&rec)))
    }

    async fn ordered(
        &self,
        r: Request<pb::PurchaseId>,
    ) -> std::result::Result<Response<pb::Purchase>, Status> {
        let who = require(&r, Need::Director)?;
        let rec = self::ordered(&self.ctx, &r.get_ref().id, who.role.as_str()).await?;
        Ok(Response::new(to_pb(&rec)))
    }

    async fn delivered(
        &self,
        r: Request<pb::DeliverPurchase>,
    ) -> std::result::Result<Response<pb::Purchase>, Status> {
        let who = require(&r, Need::Director)?;
        let r = r.into_inner();
        let chosen: Vec<(i64, String)> = r
            .item_lines
            .iter()
            .map(|l| (l.line, l.category.clone()))
            .collect();
        let rec = self::delivered(
            &self.ctx,
            &r.id,
            r.create_items,
            &chosen,
            &r.category,
            who.role.as_str(),
        )
        .await?;
        Ok(Response::new(to_pb(&rec)))
    }

    async fn cancel(
        &self,
        r: Request<pb::PurchaseId>,
    ) -> std::result::Result<Response<pb::Purchase>, Status> {
        let who = require(&r, Need::Director)?;
        let rec = self::cancel(&self.ctx, &r.get_ref().id, who.role.as_str()).await?;
        Ok(Response::new(to_pb(&rec)))
    }

    async fn get(
        &self,
        r: Request<pb::PurchaseId>,
    ) -> std::result::Result<Response<pb::Purchase>, Status> {
        require(&r, Need::Read)?;
        Ok(Response::new(to_pb(&find(&self.ctx, &r.get_ref().id)?)))
    }

    async fn list(
        &self,
        r: Request<pb::ListPurchasesRequest>,
    ) -> std::result::Result<Response<pb::PurchaseList>, Status> {
        require(&r, Need::Read)?;
        Ok(Response::new(pb::PurchaseList {
            purchases: list(&self.ctx, r.get_ref())?,
        }))
    }
}
