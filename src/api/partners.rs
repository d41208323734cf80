//! The tonic adapter of [`crate::app::partners`]: authentication, roles and
//! wire types; the use cases themselves live in `app`.

use super::NodeContext;
use crate::app::partners::*;
use crate::auth::{require, Need};
use crate::domain::partners::Patch;
use crate::pb;
use std::sync::Arc;
use tonic::{Request, Response, Status};

pub struct PartnersApi {
    ctx: Arc<NodeContext>,
}

impl PartnersApi {
    pub fn new(ctx: Arc<NodeContext>) -> Self {
        PartnersApi { ctx }
    }
}

#[tonic::async_trait]
impl pb::partners_server::Partners for PartnersApi {
    async fn add(
        &self,
        r: Request<pb::AddPartnerRequest>,
    ) -> std::result::Result<Response<pb::Partner>, Status> {
        require(&r, Need::Director)?;
        let r = r.into_inner();
        let patch = Patch {
            name: Some(r.name),
            kind: Some(r.kind),
            contact: Some(r.contact),
            agreement: Some(r.agreement),
            contribution_eur: Some(r.contribution_eur),
            contribution_in_kind: Some(r.contribution_in_kind),
            actions: Some(r.actions),
        };
        Ok(Response::new(self::add(&self.ctx, patch).await?))
    }

    async fn update(
        &self,
        r: Request<pb::UpdatePartnerRequest>,
    ) -> std::result::Result<Response<pb::Partner>, Status> {
        require(&r, Need::Director)?;
        let r = r.into_inner();
        let patch = Patch {
            name: r.name,
            kind: r.kind,
            contact: r.contact,
            agreement: r.agreement,
            contribution_eur: r.contribution_eur,
            contribution_in_kind: r.contribution_in_kind,
            actions: r.set_actions.then_some(r.actions),
        };
        Ok(Response::new(self::update(&self.ctx, &r.id, patch).await?))
    }

    async fn list(
        &self,
        r: Request<pb::ListPartnersRequest>,
    ) -> std::result::Result<Response<pb::PartnerList>, Status> {
        let caller = require(&r, Need::Read)?;
        let mut partners = list(&self.ctx, r.get_ref())?;
        // A partner's contact is personal data: only its own site's team reads it.
        for p in &mut partners {
            if !sees_contact(&self.ctx.site, &p.site, caller.role) {
                p.contact.clear();
            }
        }
        Ok(Response::new(pb::PartnerList { partners }))
    }
}
