//! The `Equipment` service: the network's shared catalogue.
//!
//! Reads cover every site's document; writes go to this node's own site
//! document, and an item of another site is PermissionDenied.

use std::sync::Arc;

use tonic::{Request, Response, Status};

use super::NodeContext;
use crate::auth::{require, Need};
use crate::docs::new_id;
use crate::domain::equipment::{self, Item, Patch};
use crate::domain::now_rfc3339;
use crate::error::{Error, Result};
use crate::pb;

pub struct EquipmentApi {
    ctx: Arc<NodeContext>,
}

impl EquipmentApi {
    pub fn new(ctx: Arc<NodeContext>) -> Self {
        EquipmentApi { ctx }
    }
}

impl From<Item> for pb::EquipmentItem {
    fn from(i: Item) -> Self {
        pb::EquipmentItem {
            id: i.id,
            site: i.site,
            name: i.name,
            category: i.category,
            description: i.description,
            inventory_number: i.inventory_number,
            loanable: i.loanable,
            status: i.status,
            condition: i.condition,
            created_at: i.created_at,
            updated_at: i.updated_at,
            acquired: i.acquired,
        }
    }
}

/// Every item of the network, in site then id order.
pub fn list_all(ctx: &NodeContext) -> Result<Vec<Item>> {
    let mut items = Vec::new();
    for doc_id in ctx.docs.ids_with_prefix("site/") {
        let site = doc_id.trim_start_matches("site/").to_string();
        let all = ctx
            .docs
            .read(&doc_id, equipment::all)
            .transpose()?
            .unwrap_or_default();
        items.extend(all.into_iter().map(|(id, e)| Item::new(&id, &site, e)));
    }
    Ok(items)
}

/// Finds an item anywhere in the network.
pub fn find(ctx: &NodeContext, id: &str) -> Result<Item> {
    if id.trim().is_empty() {
        return Err(Error::invalid("identifiant de matériel manquant"));
    }
    for doc_id in ctx.docs.ids_with_prefix("site/") {
        if let Some(e) = ctx
            .docs
            .read(&doc_id, |d| equipment::get(d, id))
            .transpose()?
            .flatten()
        {
            return Ok(Item::new(id, doc_id.trim_start_matches("site/"), e));
        }
    }
    Err(Error::not_found(format!("matériel {id} introuvable")))
}

/// Applies `patch` to an item of this node's site.
pub async fn update(ctx: &NodeContext, id: &str, patch: Patch, what: &str) -> Result<Item> {
    let item = find(ctx, id)?;
    if item.site != ctx.site {
        return Err(Error::denied(format!(
            "le matériel {id} appartient au site {} : seul ce site peut le modifier",
            item.site
        )));
    }
    let now = now_rfc3339();
    let updated = ctx
        .docs
        .change(&ctx.site_doc(), what, |doc| {
            let mut e = equipment::get(doc, id)?
                .ok_or_else(|| Error::not_found(format!("matériel {id} introuvable")))?;
            patch.apply(&mut e, &now)?;
            equipment::put(doc, id, &e)?;
            Ok(e)
        })
        .await?;
    Ok(Item::new(id, &ctx.site, updated))
}

pub async fn add(ctx: &NodeContext, patch: Patch) -> Result<Item> {
    let now = now_rfc3339();
    let e = equipment::new_equipment(&patch, &now)?;
    let id = new_id("eq");
    ctx.docs
        .change(&ctx.site_doc(), "equipment add", |doc| {
            equipment::put(doc, &id, &e)
        })
        .await?;
    Ok(Item::new(&id, &ctx.site, e))
}

fn none_if_empty(s: String) -> Option<String> {
    (!s.is_empty()).then_some(s)
}

#[tonic::async_trait]
impl pb::equipment_server::Equipment for EquipmentApi {
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
        Ok(Response::new(add(&self.ctx, patch).await?.into()))
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
        Ok(Response::new(
            update(&self.ctx, &r.id, patch, "equipment update")
                .await?
                .into(),
        ))
    }

    async fn retire(
        &self,
        request: Request<pb::EquipmentId>,
    ) -> Result<Response<pb::EquipmentItem>, Status> {
        require(&request, Need::Director)?;
        let id = request.into_inner().id;
        let item = find(&self.ctx, &id)?;
        if item.site == self.ctx.site && item.status == "retired" {
            return Err(Error::precondition(format!("le matériel {id} est déjà retiré")).into());
        }
        let patch = Patch {
            status: Some("retired".into()),
            ..Default::default()
        };
        Ok(Response::new(
            update(&self.ctx, &id, patch, "equipment retire")
                .await?
                .into(),
        ))
    }

    async fn get(
        &self,
        request: Request<pb::EquipmentId>,
    ) -> Result<Response<pb::EquipmentItem>, Status> {
        require(&request, Need::Read)?;
        Ok(Response::new(
            find(&self.ctx, &request.into_inner().id)?.into(),
        ))
    }

    async fn list(
        &self,
        request: Request<pb::ListEquipmentRequest>,
    ) -> Result<Response<pb::EquipmentList>, Status> {
        require(&request, Need::Read)?;
        let r = request.into_inner();
        // Searches and categories ignore case and accents.
        let fold = crate::domain::fold_for_search;
        let search = fold(r.search.trim());
        let category = fold(r.category.trim());
        let status = r.status.trim().to_string();
        if !status.is_empty() && !equipment::STATUSES.contains(&status.as_str()) {
            return Err(Status::invalid_argument(format!(
                "statut « {status} » inconnu : valeurs possibles {}",
                equipment::STATUSES.join(", ")
            )));
        }
        let window = match (r.available_from.trim(), r.available_to.trim()) {
            ("", "") => None,
            ("", _) | (_, "") => {
                return Err(Status::invalid_argument(
                    "indiquez les deux bornes : --available-from et --available-to",
                ))
            }
            (f, t) => {
                let from = crate::domain::time::parse_bound(f, false)?;
                let to = crate::domain::time::parse_bound(t, true)?;
                if to <= from {
                    return Err(Status::invalid_argument(
                        "la fin de la période doit suivre son début",
                    ));
                }
                Some((
                    from.with_timezone(&chrono::Utc),
                    to.with_timezone(&chrono::Utc),
                ))
            }
        };
        let booked: Vec<crate::domain::loans::Booking> = match window {
            None => Vec::new(),
            Some(_) => super::reports::facts(&self.ctx)?.bookings(),
        };
        let items = list_all(&self.ctx)?
            .into_iter()
            .filter(|i| r.site.is_empty() || i.site == r.site)
            .filter(|i| category.is_empty() || fold(&i.category) == category)
            .filter(|i| status.is_empty() || i.status == status)
            .filter(|i| {
                search.is_empty()
                    || [&i.name, &i.description, &i.inventory_number, &i.category]
                        .iter()
                        .any(|f| fold(f).contains(&search))
            })
            .filter(|i| match window {
                None => true,
                Some((from, to)) => {
                    i.status == "available"
                        && !booked
                            .iter()
                            .any(|b| b.from < to && from < b.to && b.items.contains(&i.id))
                }
            })
            .map(Into::into)
            .collect::<Vec<pb::EquipmentItem>>();
        // In the order people look for them: by name, then site.
        let mut items = items;
        items.sort_by_cached_key(|i| (fold(&i.name), i.site.clone(), i.id.clone()));
        Ok(Response::new(pb::EquipmentList { items }))
    }
}
