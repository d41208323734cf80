//! The tonic adapter of [`crate::app::equipment`]: authentication, roles and
//! wire types; the use cases themselves live in `app`.

use super::NodeContext;
use crate::app::equipment::*;
use crate::auth::{require, Need};
use crate::domain::equipment::Patch;
use crate::error::Result;
use crate::pb;
use std::sync::Arc;
use tonic::{Request, Response, Status};

pub struct EquipmentApi {
    ctx: Arc<NodeContext>,
}

impl EquipmentApi {
    pub fn new(ctx: Arc<NodeContext>) -> Self {
        EquipmentApi { ctx }
    }
}

#[tonic::async_trait]
impl pb::equipment_server::Equipment for EquipmentApi {
    async fn import(
        &self,
        request: Request<pb::ImportEquipmentRequest>,
    ) -> std::result::Result<Response<pb::ImportReport>, Status> {
        require(&request, Need::Director)?;
        let r = request.into_inner();
        let report =
            crate::app::import::import(&self.ctx, &r.file_name, &r.content, r.dry_run).await?;
        let mut created = Vec::new();
        for item in report.created.iter().cloned() {
            created.push(reply(&self.ctx, item, false)?);
        }
        Ok(Response::new(pb::ImportReport {
            lines: report
                .lines
                .iter()
                .map(|l| pb::ImportLine {
                    line: l.number as i64,
                    name: l.name.clone(),
                    category: l.category.clone(),
                    errors: l.errors.clone(),
                })
                .collect(),
            ignored_columns: report.ignored_columns.clone(),
            written: !created.is_empty(),
            created,
        }))
    }

    async fn add(
        &self,
        request: Request<pb::AddEquipmentRequest>,
    ) -> Result<Response<pb::EquipmentItem>, Status> {
        require(&request, Need::Director)?;
        let r = request.into_inner();
        let patch = Patch {
            name: Some(r.name),
            category: Some(r.category),
            description: Some(r.description),
            inventory_number: Some(r.inventory_number),
            loanable: r.loanable,
            status: None,
            condition: none_if_empty(r.condition),
            acquired: none_if_empty(r.acquired),
        };
        let item = add(&self.ctx, patch).await?;
        Ok(Response::new(reply(&self.ctx, item, false)?))
    }

    async fn update(
        &self,
        request: Request<pb::UpdateEquipmentRequest>,
    ) -> Result<Response<pb::EquipmentItem>, Status> {
        require(&request, Need::Director)?;
        let r = request.into_inner();
        let patch = Patch {
            name: r.name,
            category: r.category,
            description: r.description,
            inventory_number: r.inventory_number,
            loanable: r.loanable,
            status: r.status,
            condition: r.condition,
            acquired: r.acquired,
        };
        let item = update(&self.ctx, &r.id, patch, "equipment update").await?;
        Ok(Response::new(reply(&self.ctx, item, false)?))
    }

    async fn retire(
        &self,
        request: Request<pb::EquipmentId>,
    ) -> Result<Response<pb::EquipmentItem>, Status> {
        require(&request, Need::Director)?;
        let item = retire(&self.ctx, &request.into_inner().id).await?;
        Ok(Response::new(reply(&self.ctx, item, false)?))
    }

    async fn get(
        &self,
        request: Request<pb::EquipmentId>,
    ) -> Result<Response<pb::EquipmentItem>, Status> {
        require(&request, Need::Read)?;
        let item = find(&self.ctx, &request.into_inner().id)?;
        Ok(Response::new(reply(&self.ctx, item, true)?))
    }

    async fn list(
        &self,
        request: Request<pb::ListEquipmentRequest>,
    ) -> Result<Response<pb::EquipmentList>, Status> {
        require(&request, Need::Read)?;
        let items = self::list(&self.ctx, request.get_ref())?;
        Ok(Response::new(pb::EquipmentList { items }))
    }
}
