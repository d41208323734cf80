//! The tonic adapter of [`crate::app::loans`]: authentication, roles and
//! wire types; the use cases themselves live in `app`.

use super::NodeContext;
use crate::app::loans::*;
use crate::auth::{require, Need};
use crate::error::Result;
use crate::pb;
use std::sync::Arc;
use tonic::{Request, Response, Status};

pub struct LoansApi {
    ctx: Arc<NodeContext>,
}

impl LoansApi {
    pub fn new(ctx: Arc<NodeContext>) -> Self {
        LoansApi { ctx }
    }
}

#[tonic::async_trait]
impl pb::loans_server::Loans for LoansApi {
    async fn request_loan(
        &self,
        r: Request<pb::LoanRequestInput>,
    ) -> Result<Response<pb::Loan>, Status> {
        let who = require(&r, Need::Director)?;
        Ok(Response::new(
            self::request(&self.ctx, r.into_inner(), who.role.as_str()).await?,
        ))
    }

    async fn approve(&self, r: Request<pb::LoanAction>) -> Result<Response<pb::Loan>, Status> {
        self.decision(r, Decision::Approve, Need::Director).await
    }

    async fn refuse(&self, r: Request<pb::LoanAction>) -> Result<Response<pb::Loan>, Status> {
        self.decision(r, Decision::Refuse, Need::Director).await
    }

    async fn checkout(&self, r: Request<pb::LoanAction>) -> Result<Response<pb::Loan>, Status> {
        self.decision(r, Decision::Checkout, Need::Staff).await
    }

    async fn return_loan(&self, r: Request<pb::LoanReturn>) -> Result<Response<pb::Loan>, Status> {
        let who = require(&r, Need::Staff)?;
        let r = r.into_inner();
        Ok(Response::new(
            decide_with(
                &self.ctx,
                &r.id,
                Decision::Return,
                &r.note,
                &r.incident,
                &r.condition,
                &r.incident_equipment,
                who.role.as_str(),
            )
            .await?,
        ))
    }

    async fn record(&self, r: Request<pb::LoanRecordInput>) -> Result<Response<pb::Loan>, Status> {
        let who = require(&r, Need::Director)?;
        Ok(Response::new(
            self::record(&self.ctx, r.into_inner(), who.role.as_str()).await?,
        ))
    }

    async fn cancel(&self, r: Request<pb::LoanAction>) -> Result<Response<pb::Loan>, Status> {
        let who = require(&r, Need::Director)?;
        let r = r.into_inner();
        Ok(Response::new(
            self::cancel(&self.ctx, &r.id, &r.note, who.role.as_str()).await?,
        ))
    }

    async fn get(&self, r: Request<pb::LoanId>) -> Result<Response<pb::Loan>, Status> {
        require(&r, Need::Read)?;
        Ok(Response::new(loan_reply(&self.ctx, &r.into_inner().id)?))
    }

    async fn list(
        &self,
        r: Request<pb::ListLoansRequest>,
    ) -> Result<Response<pb::LoanList>, Status> {
        require(&r, Need::Read)?;
        Ok(Response::new(self::list(&self.ctx, &r.into_inner())?))
    }
}

impl LoansApi {
    async fn decision(
        &self,
        r: Request<pb::LoanAction>,
        what: Decision,
        need: Need,
    ) -> Result<Response<pb::Loan>, Status> {
        let who = require(&r, need)?;
        let r = r.into_inner();
        Ok(Response::new(
            decide(&self.ctx, &r.id, what, &r.note, "", who.role.as_str()).await?,
        ))
    }
}
