//! Use cases of equipment: the network's shared catalogue.
//!
//! Reads cover every site's document; writes go to this node's own site
//! document, and an item of another site is refused (`Error::PermissionDenied`).

use super::NodeContext;
use crate::base::{new_id, NETWORK_DOC};
use crate::domain::equipment::{self, Item, Patch};
use crate::domain::now_rfc3339;
use crate::domain::{ids, registry};
use crate::error::{Error, Result};
use crate::pb;
use chrono::{DateTime, Utc};
use std::collections::BTreeMap;
use std::sync::Arc;

impl From<Item> for pb::EquipmentItem {
    fn from(i: Item) -> Self {
        pb::EquipmentItem {
            id: i.id,
            site_name: i.site.clone(),
            site: i.site,
            name: i.name,
            category: i.category,
            description: i.description,
            inventory_number: i.inventory_number,
            loanable: i.loanable,
            availability: i.status.clone(),
            status: i.status,
            condition: i.condition,
            created_at: i.created_at,
            updated_at: i.updated_at,
            acquired: i.acquired,
            ..Default::default()
        }
    }
}

/// Site id → name, for people: the registry's name, else the one the site
/// gives in its own profile. Sites with neither are absent (show the id).
pub fn site_names(ctx: &NodeContext) -> Result<BTreeMap<String, String>> {
    let mut names: BTreeMap<String, String> = super::reports::facts(ctx)?
        .sites
        .iter()
        .filter(|(_, n)| !n.is_empty())
        .map(|(k, v)| (k.clone(), v.clone()))
        .collect();
    if let Some(registry) = ctx
        .docs
        .read(NETWORK_DOC, registry::all)
        .transpose()
        .ok()
        .flatten()
    {
        for (id, e) in registry {
            if !e.name.trim().is_empty() {
                names.insert(id, e.name);
            }
        }
    }
    Ok(names)
}

/// A site's name, or its id when it has none.
pub fn name_of(names: &BTreeMap<String, String>, site: &str) -> String {
    names.get(site).cloned().unwrap_or_else(|| site.to_string())
}

/// What an active loan holds of its items, as availability reads it.
#[derive(Debug, Clone)]
pub struct Holding {
    pub loan: String,
    pub items: Vec<String>,
    pub borrower: String,
    pub from: String,
    pub to: String,
    /// approved or checked_out.
    pub state: &'static str,
    pub overdue: bool,
    pub start: DateTime<Utc>,
    /// The window's end, or open (the end of time) while overdue.
    pub end: DateTime<Utc>,
}

impl Holding {
    pub fn overlaps(&self, from: DateTime<Utc>, to: DateTime<Utc>) -> bool {
        self.start < to && from < self.end
    }
}

/// Every approved or checked-out loan of the network, from the report index:
/// a checked-out loan past its end holds its items until it comes back.
pub fn holdings(ctx: &NodeContext, now: DateTime<Utc>) -> Result<Vec<Holding>> {
    let facts = super::reports::facts(ctx)?;
    Ok(facts
        .loans
        .iter()
        .filter(|l| matches!(l.state, "approved" | "checked_out"))
        .map(|l| {
            let overdue = l.state == "checked_out" && now > l.end;
            Holding {
                loan: l.id.to_string(),
                items: l.items.to_vec(),
                borrower: l.borrower.to_string(),
                from: l.window.0.to_string(),
                to: l.window.1.to_string(),
                state: l.state,
                overdue,
                start: l.start,
                end: if overdue {
                    DateTime::<Utc>::MAX_UTC
                } else {
                    l.end
                },
            }
        })
        .collect())
}

/// The wire item, with its site's name and what it is doing now: out on a
/// loan (within its window or overdue), booked for a loan under way but not
/// yet checked out, in maintenance, out of order, retired or available.
pub fn to_pb(
    i: Item,
    names: &BTreeMap<String, String>,
    holdings: &[Holding],
    now: DateTime<Utc>,
) -> pb::EquipmentItem {
    let site_name = name_of(names, &i.site);
    let condition = i.condition.clone();
    let mut item: pb::EquipmentItem = i.into();
    item.site_name = site_name;
    let mine = || holdings.iter().filter(|h| h.items.contains(&item.id));
    let out = mine().find(|h| h.state == "checked_out").cloned();
    let booked = mine()
        .find(|h| h.state == "approved" && h.start <= now && now < h.end)
        .cloned();
    let (availability, current) = match (&out, &booked) {
        (Some(h), _) if h.overdue => ("overdue", Some(h)),
        (Some(h), _) => ("out", Some(h)),
        _ if item.status != "available" => (item.status.as_str(), None),
        _ if condition == "out_of_order" => ("out_of_order", None),
        (None, Some(h)) => ("booked", Some(h)),
        _ => ("available", None),
    };
    item.availability = availability.to_string();
    if let Some(h) = current {
        item.current_loan = h.loan.clone();
        item.current_borrower = h.borrower.clone();
        item.current_borrower_name = name_of(names, &h.borrower);
        item.due = h.to.clone();
    }
    item
}

/// Every item of the network, in site then id order.
pub fn list_all(ctx: &NodeContext) -> Result<Arc<Vec<Item>>> {
    let ids = ctx.docs.ids_with_prefix("site/");
    ctx.docs.memo_of("equipment", &ids, || {
        let mut items = Vec::new();
        for doc_id in &ids {
            let site = doc_id.trim_start_matches("site/").to_string();
            let all = ctx
                .docs
                .read(doc_id, equipment::all)
                .transpose()?
                .unwrap_or_default();
            items.extend(all.into_iter().map(|(id, e)| Item::new(&id, &site, e)));
        }
        Ok(items)
    })
}

/// Finds an item anywhere in the network by its id or a unique beginning
/// of it.
pub fn find(ctx: &NodeContext, id: &str) -> Result<Item> {
    let id = id.trim();
    if id.is_empty() {
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
    let all = list_all(ctx)?;
    let found = ids::resolve(
        "matériel",
        id,
        all.iter()
            .map(|i| (i.id.clone(), format!("{}, {}", i.name, i.site))),
    )?;
    Ok(all
        .iter()
        .find(|i| i.id == found)
        .cloned()
        .expect("resolved among these items"))
}

/// The item's loans, in start order, and the incidents noted at their
/// returns, as the item's page shows them.
pub fn history(ctx: &NodeContext, id: &str) -> Result<(Vec<pb::Loan>, Vec<pb::EquipmentIncident>)> {
    let view = super::loans::View::new(ctx)?;
    let mut mine: Vec<crate::domain::loans::Loan> = super::loans::all_loans(ctx)?
        .iter()
        .filter(|l| l.equipment().iter().any(|e| e == id))
        .cloned()
        .collect();
    mine.sort_by(|a, b| a.window_text().0.cmp(b.window_text().0));
    let mut incidents = Vec::new();
    for l in &mine {
        let Some(d) = &l.decision else { continue };
        if d.incident.is_empty()
            || !(d.incident_items.is_empty() || d.incident_items.iter().any(|i| i == id))
        {
            continue;
        }
        incidents.push(pb::EquipmentIncident {
            loan: l.id.clone(),
            at: d
                .returned
                .as_ref()
                .map(|t| t.at.clone())
                .unwrap_or_default(),
            text: d.incident.clone(),
            condition: d.return_condition.clone(),
            borrower: l.borrower.clone(),
            borrower_name: name_of(&view.sites, &l.borrower),
        });
    }
    Ok((mine.iter().map(|l| view.to_pb(l)).collect(), incidents))
}

/// Applies `patch` to an item of this node's site.
pub async fn update(ctx: &NodeContext, id: &str, patch: Patch, what: &str) -> Result<Item> {
    let item = find(ctx, id)?;
    let id = item.id.as_str();
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

/// Retires an item of this node's site: it stays in the catalogue's history
/// but can no longer be requested.
pub async fn retire(ctx: &NodeContext, id: &str) -> Result<Item> {
    let item = find(ctx, id)?;
    if item.site == ctx.site && item.status == "retired" {
        return Err(Error::precondition(format!(
            "le matériel {} est déjà retiré",
            item.id
        )));
    }
    let patch = Patch {
        status: Some("retired".into()),
        ..Default::default()
    };
    update(ctx, &item.id, patch, "equipment retire").await
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

pub(crate) fn none_if_empty(s: String) -> Option<String> {
    (!s.is_empty()).then_some(s)
}

/// One item as the API returns it: names and availability; with its loans
/// and incidents when `history`.
pub fn reply(ctx: &NodeContext, item: Item, history: bool) -> Result<pb::EquipmentItem> {
    let now = Utc::now();
    let id = item.id.clone();
    let mut out = to_pb(item, &site_names(ctx)?, &holdings(ctx, now)?, now);
    if history {
        (out.loans, out.incidents) = self::history(ctx, &id)?;
    }
    Ok(out)
}

/// The catalogue, filtered as `r` asks, by name then site.
pub fn list(ctx: &NodeContext, r: &pb::ListEquipmentRequest) -> Result<Vec<pb::EquipmentItem>> {
    // Searches and categories ignore case and accents.
    let fold = crate::domain::fold_for_search;
    let search = fold(r.search.trim());
    let category = fold(r.category.trim());
    let status = match r.status.trim() {
        "" => None,
        typed => Some(equipment::parse_status(typed)?),
    };
    let window = match (r.available_from.trim(), r.available_to.trim()) {
        ("", "") => None,
        ("", _) | (_, "") => {
            return Err(Error::invalid(
                "indiquez les deux bornes : --available-from et --available-to",
            ))
        }
        (f, t) => {
            let from = crate::domain::time::parse_bound(f, false)?;
            let to = crate::domain::time::parse_bound(t, true)?;
            if to <= from {
                return Err(Error::invalid("la fin de la période doit suivre son début"));
            }
            Some((from.with_timezone(&Utc), to.with_timezone(&Utc)))
        }
    };
    let now = Utc::now();
    let held = holdings(ctx, now)?;
    // Each item's holdings, found once (not by scanning them all per item).
    let mut by_item: std::collections::HashMap<&str, Vec<Holding>> = Default::default();
    for h in &held {
        for i in &h.items {
            by_item.entry(i.as_str()).or_default().push(h.clone());
        }
    }
    let held_of = |id: &str| by_item.get(id).map(Vec::as_slice).unwrap_or(&[]);
    let names = site_names(ctx)?;
    let all = list_all(ctx)?;
    let mut items = all
        .iter()
        .filter(|i| r.site.is_empty() || i.site == r.site)
        .filter(|i| category.is_empty() || fold(&i.category) == category)
        .filter(|i| status.is_none_or(|s| i.status == s))
        .filter(|i| {
            search.is_empty()
                || [&i.name, &i.description, &i.inventory_number, &i.category]
                    .iter()
                    .any(|f| fold(f).contains(&search))
        })
        // Free over the window: in service, in working order, and held by
        // no approved or checked-out loan (one still out past its end holds
        // it until it comes back).
        .filter(|i| match window {
            None => true,
            Some((from, to)) => {
                i.status == "available"
                    && i.condition != "out_of_order"
                    && !held_of(&i.id).iter().any(|h| h.overlaps(from, to))
            }
        })
        .map(|i| {
            let h = held_of(&i.id);
            to_pb(i.clone(), &names, h, now)
        })
        .collect::<Vec<pb::EquipmentItem>>();
    // In the order people look for them: by name, then site.
    items.sort_by_cached_key(|i| (fold(&i.name), i.site.clone(), i.id.clone()));
    Ok(items)
}

/// What the item is doing now, in French: « disponible », « sorti (prêt à
/// Thionville jusqu'au ven. 18 déc. 2026) », « en retard (… depuis le …) ».
pub fn availability_text(i: &pb::EquipmentItem) -> String {
    use crate::domain::{equipment, time};
    let word = equipment::availability_fr(&i.availability).to_string();
    if i.current_loan.is_empty() {
        return word;
    }
    let who = if i.current_borrower_name.is_empty() {
        i.current_borrower.clone()
    } else {
        i.current_borrower_name.clone()
    };
    // The window's end is exclusive: the last day is the one before a midnight end.
    let last = chrono::DateTime::parse_from_rfc3339(&i.due).ok().map(|t| {
        let t = t.with_timezone(&time::TZ);
        if t.time() == chrono::NaiveTime::MIN {
            time::fr_date(t.date_naive().pred_opt().unwrap_or(t.date_naive()))
        } else {
            time::fr_instant(&i.due)
        }
    });
    let last = last.unwrap_or_else(|| i.due.clone());
    match i.availability.as_str() {
        "overdue" => format!(
            "{word} (prêt {} à {who}, attendu le {last})",
            i.current_loan
        ),
        "booked" => format!("{word} (prêt {} à {who} jusqu'au {last})", i.current_loan),
        _ => format!("{word} (prêt {} à {who} jusqu'au {last})", i.current_loan),
    }
}
