//! Use cases of purchases. A site writes its requests in its own document;
//! the academic team decides on them from an academy node, in `network`.
//! Reads cover the whole network.

use super::loans::transition;
use super::NodeContext;
use crate::base::Role;
use crate::base::{new_id, NETWORK_DOC};
use crate::domain::loans::{note, Transition};
use crate::domain::now_rfc3339;
use crate::domain::purchases::{self, eur, Decision, Line, Patch, Purchase};
use crate::domain::{equipment, ids};
use crate::error::{Error, Result};
use crate::pb;
use std::collections::BTreeMap;

/// A purchase request with where it lives and the academy's decision on its
/// latest submission.
#[derive(Debug, Clone)]
pub struct Record {
    pub id: String,
    pub site: String,
    pub purchase: Purchase,
    /// Every decision on it, oldest submission first.
    pub decisions: Vec<Decision>,
}

impl Record {
    pub fn latest_decision(&self) -> Option<&Decision> {
        self.decisions
            .iter()
            .rev()
            .find(|d| d.submission == self.purchase.submissions())
    }

    pub fn state(&self) -> &'static str {
        self.purchase.state(self.latest_decision())
    }
}

pub(crate) fn step(name: &str, t: &Transition) -> pb::PurchaseStep {
    pb::PurchaseStep {
        step: name.to_string(),
        at: t.at.clone(),
        site: t.site.clone(),
        role: t.role.clone(),
        note: t.note.clone(),
    }
}

pub fn to_pb(r: &Record) -> pb::Purchase {
    let p = &r.purchase;
    let totals = p.totals();
    // In the order things happened: each submission followed by the
    // decisions that answered it, then the site's last steps.
    let mut history = vec![step("created", &p.created)];
    for (n, t) in (1..).zip(&p.submitted) {
        history.push(step("submitted", t));
        for d in r.decisions.iter().filter(|d| d.submission == n) {
            history.push(step(&d.verdict, &d.decided));
        }
    }
    for (name, t) in [
        ("ordered", &p.ordered),
        ("delivered", &p.delivered),
        ("cancelled", &p.cancelled),
    ] {
        if let Some(t) = t {
            history.push(step(name, t));
        }
    }
    pb::Purchase {
        id: r.id.clone(),
        site: r.site.clone(),
        object: p.object.clone(),
        lines: p
            .lines
            .iter()
            .map(|l| {
                let t = l.totals();
                pb::PurchaseLine {
                    designation: l.designation.clone(),
                    quantity: l.quantity,
                    unit_price_ht: l.unit_price_ht.clone(),
                    vat_rate: l.vat_rate.clone(),
                    total_ht: eur(t.ht),
                    total_vat: eur(t.vat),
                    total_ttc: eur(t.ttc),
                }
            })
            .collect(),
        supplier: p.supplier.clone(),
        funding: p.funding.clone(),
        action: p.action.clone(),
        state: r.state().to_string(),
        total_ht: eur(totals.ht),
        total_vat: eur(totals.vat),
        total_ttc: eur(totals.ttc),
        submissions: p.submissions(),
        decision_reason: r
            .latest_decision()
            .map(|d| d.decided.note.clone())
            .unwrap_or_default(),
        history,
        items: p.items.clone(),
        created_at: p.created.at.clone(),
        updated_at: p.updated_at.clone(),
    }
}

/// Every decision of the academy, by purchase id, oldest submission first.
pub(crate) fn all_decisions(ctx: &NodeContext) -> Result<BTreeMap<String, Vec<Decision>>> {
    let mut out: BTreeMap<String, Vec<Decision>> = BTreeMap::new();
    let decisions = ctx
        .docs
        .read(NETWORK_DOC, purchases::decisions)
        .transpose()?
        .unwrap_or_default();
    for d in decisions.into_values() {
        out.entry(d.purchase.clone()).or_default().push(d);
    }
    for v in out.values_mut() {
        v.sort_by_key(|d| d.submission);
    }
    Ok(out)
}

/// Every purchase request of the network, in site then id order.
pub fn all(ctx: &NodeContext) -> Result<Vec<Record>> {
    Ok((*shared(ctx)?).clone())
}

/// [`all`], shared: read again only when a site document or the network
/// document (the decisions) moves, and then only the documents that moved.
pub fn shared(ctx: &NodeContext) -> Result<std::sync::Arc<Vec<Record>>> {
    let sites = ctx.docs.ids_with_prefix("site/");
    let mut ids = sites.clone();
    ids.push(NETWORK_DOC.to_string());
    ctx.docs.memo_of("purchases", &ids, || {
        let mut decisions = all_decisions(ctx)?;
        let mut out = Vec::new();
        for doc_id in &sites {
            let site = doc_id.trim_start_matches("site/").to_string();
            let Some(map) = ctx
                .docs
                .read_memo(doc_id, "purchases", purchases::all)
                .transpose()?
            else {
                continue;
            };
            for (id, purchase) in map.iter() {
                out.push(Record {
                    decisions: decisions.remove(id).unwrap_or_default(),
                    id: id.clone(),
                    site: site.clone(),
                    purchase: purchase.clone(),
                });
            }
        }
        Ok(out)
    })
}

/// The request an id, or a unique beginning of it, names.
pub fn find(ctx: &NodeContext, id: &str) -> Result<Record> {
    let all = all(ctx)?;
    let found = ids::resolve(
        "demande d'achat",
        id,
        all.iter()
            .map(|r| (r.id.clone(), format!("{}, {}", r.purchase.object, r.site))),
    )?;
    Ok(all
        .into_iter()
        .find(|r| r.id == found)
        .expect("resolved among these requests"))
}

/// The request `id` of this site, or PermissionDenied if it is another's.
pub(crate) fn own(ctx: &NodeContext, id: &str) -> Result<Record> {
    let r = find(ctx, id)?;
    if r.site != ctx.site {
        return Err(Error::denied(format!(
            "la demande d'achat {id} est celle du site {} : seul ce site peut la modifier",
            r.site
        )));
    }
    Ok(r)
}

/// A linked action must exist on this node.
/// The action typed (its id or a unique beginning of it) becomes its id.
pub(crate) fn check_action(ctx: &NodeContext, action: &mut Option<String>) -> Result<()> {
    if let Some(a) = action.as_mut().filter(|a| !a.trim().is_empty()) {
        *a = super::actions::resolve(ctx, a).map_err(|e| match e {
            Error::NotFound(m) => {
                Error::not_found(format!("{m} : donnez l'identifiant d'une action commune"))
            }
            e => e,
        })?;
    }
    Ok(())
}

pub(crate) fn lines(input: Vec<pb::PurchaseLineInput>) -> Vec<Line> {
    input
        .into_iter()
        .map(|l| Line {
            designation: l.designation,
            quantity: l.quantity,
            unit_price_ht: l.unit_price_ht,
            vat_rate: l.vat_rate,
        })
        .collect()
}

pub async fn create(ctx: &NodeContext, mut patch: Patch, role: &str) -> Result<Record> {
    check_action(ctx, &mut patch.action)?;
    let p = purchases::new_purchase(&patch, transition(ctx, role, String::new()))?;
    let id = new_id("da");
    ctx.docs
        .change(&ctx.site_doc(), "purchase create", |doc| {
            purchases::put(doc, &id, &p)
        })
        .await?;
    Ok(Record {
        id,
        site: ctx.site.clone(),
        purchase: p,
        decisions: Vec::new(),
    })
}

/// Changes this site's request `id` with `f`, checking its state first
/// against the academy's decisions as this node holds them.
pub(crate) async fn change_own<F>(ctx: &NodeContext, id: &str, what: &str, f: F) -> Result<Record>
where
    F: FnOnce(&mut Purchase, &'static str) -> Result<Vec<(String, equipment::Equipment)>>,
{
    let current = own(ctx, id)?;
    let id = current.id.as_str();
    let decision = current.latest_decision().cloned();
    let decisions = current.decisions.clone();
    let p = ctx
        .docs
        .change(&ctx.site_doc(), what, |doc| {
            let mut p = purchases::get(doc, id)?
                .ok_or_else(|| Error::not_found(format!("demande d'achat {id} introuvable")))?;
            let state = p.state(decision.as_ref());
            let items = f(&mut p, state)?;
            for (item_id, e) in &items {
                equipment::put(doc, item_id, e)?;
            }
            purchases::put(doc, id, &p)?;
            Ok(p)
        })
        .await?;
    Ok(Record {
        id: id.to_string(),
        site: ctx.site.clone(),
        purchase: p,
        decisions,
    })
}

pub async fn update(ctx: &NodeContext, id: &str, mut patch: Patch) -> Result<Record> {
    check_action(ctx, &mut patch.action)?;
    let now = now_rfc3339();
    change_own(ctx, id, "purchase update", |p, state| {
        purchases::require_state(id, state, &["draft", "needs_info"], "modifier")?;
        patch.apply(p, &now)?;
        Ok(Vec::new())
    })
    .await
}

pub async fn submit(ctx: &NodeContext, id: &str, role: &str) -> Result<Record> {
    let t = transition(ctx, role, String::new());
    change_own(ctx, id, "purchase submit", |p, state| {
        purchases::require_state(id, state, &["draft", "needs_info"], "soumettre")?;
        if p.lines.is_empty() {
            return Err(Error::precondition(format!(
                "la demande d'achat {id} n'a aucune ligne : ajoutez ce qu'il faut acheter avant de la soumettre"
            )));
        }
        p.updated_at = t.at.clone();
        p.submitted.push(t);
        Ok(Vec::new())
    })
    .await
}

pub async fn ordered(ctx: &NodeContext, id: &str, role: &str) -> Result<Record> {
    let t = transition(ctx, role, String::new());
    change_own(ctx, id, "purchase ordered", |p, state| {
        purchases::require_state(id, state, &["validated"], "passer commande de")?;
        p.updated_at = t.at.clone();
        p.ordered = Some(t);
        Ok(Vec::new())
    })
    .await
}

/// Notes the delivery; the lines chosen (1-based line, category) become
/// equipment items, one per unit (see [`purchases::lines_to_items`]).
pub async fn delivered(
    ctx: &NodeContext,
    id: &str,
    create_items: bool,
    chosen: &[(i64, String)],
    category: &str,
    role: &str,
) -> Result<Record> {
    let t = transition(ctx, role, String::new());
    let id = own(ctx, id)?.id;
    let id = id.as_str();
    change_own(ctx, id, "purchase delivered", |p, state| {
        purchases::require_state(id, state, &["ordered"], "réceptionner")?;
        let mut items = Vec::new();
        for (index, category) in
            purchases::lines_to_items(&p.lines, create_items, chosen, category)?
        {
            let l = &p.lines[index];
            for n in 1..=l.quantity {
                let name = if l.quantity > 1 {
                    format!("{} ({n}/{})", l.designation, l.quantity)
                } else {
                    l.designation.clone()
                };
                let e = equipment::new_equipment(
                    &equipment::Patch {
                        name: Some(name),
                        category: Some(category.clone()),
                        description: Some(format!("acheté : demande d'achat {id}")),
                        ..Default::default()
                    },
                    &t.at,
                )?;
                items.push((new_id("eq"), e));
            }
        }
        p.items = items.iter().map(|(i, _)| i.clone()).collect();
        p.updated_at = t.at.clone();
        p.delivered = Some(t);
        Ok(items)
    })
    .await
}

pub async fn cancel(ctx: &NodeContext, id: &str, role: &str) -> Result<Record> {
    let t = transition(ctx, role, String::new());
    change_own(ctx, id, "purchase cancel", |p, state| {
        purchases::require_state(
            id,
            state,
            &["draft", "submitted", "needs_info", "validated"],
            "annuler",
        )?;
        p.updated_at = t.at.clone();
        p.cancelled = Some(t);
        Ok(Vec::new())
    })
    .await
}

/// The academy's decision on the latest submission of `id`.
pub async fn decide(
    ctx: &NodeContext,
    id: &str,
    verdict: &str,
    reason: &str,
    role: &str,
) -> Result<Record> {
    if ctx.role != Role::Academy {
        return Err(Error::denied(
            "seule l'équipe académique, depuis un nœud académique, décide des demandes d'achat",
        ));
    }
    let verdict = purchases::parse_verdict(verdict)?;
    let reason = note("reason", reason)?;
    if verdict != "validated" && reason.is_empty() {
        return Err(Error::invalid(
            "donnez un motif (--reason) pour refuser ou demander des compléments",
        ));
    }
    let mut r = find(ctx, id)?;
    let id = r.id.clone();
    let id = id.as_str();
    purchases::require_state(id, r.state(), &["submitted"], "décider de")?;
    let d = Decision {
        site: r.site.clone(),
        purchase: id.to_string(),
        submission: r.purchase.submissions(),
        verdict: verdict.to_string(),
        decided: transition(ctx, role, reason),
    };
    ctx.docs
        .change(NETWORK_DOC, "purchase decision", |doc| {
            // Checked again under the document's lock: one decision per submission.
            let key = purchases::decision_key(id, d.submission);
            if let Some(earlier) = purchases::decisions(doc)?.get(&key) {
                return Err(Error::precondition(format!(
                    "la demande d'achat {id} a déjà reçu une décision ({}) le {}",
                    earlier.verdict, earlier.decided.at
                )));
            }
            purchases::put_decision(doc, &d)
        })
        .await?;
    r.decisions.push(d);
    Ok(r)
}

/// The network's requests as `q` filters them, by date of creation.
pub fn list(ctx: &NodeContext, q: &pb::ListPurchasesRequest) -> Result<Vec<pb::Purchase>> {
    let state = match q.state.trim() {
        "" => None,
        typed => Some(purchases::state_filter(typed)?),
    };
    if !q.site.is_empty() && ctx.docs.heads(&format!("site/{}", q.site)).is_empty() {
        return Err(Error::not_found(format!("site {} inconnu", q.site)));
    }
    let mut all = all(ctx)?;
    all.sort_by(|a, b| {
        let key = |r: &Record| {
            (
                crate::domain::loans::parse_stored(&r.purchase.created.at),
                r.id.clone(),
            )
        };
        key(a).cmp(&key(b))
    });
    Ok(all
        .iter()
        .filter(|r| q.site.is_empty() || r.site == q.site)
        .filter(|r| state.is_none_or(|s| r.state() == s))
        .filter(|r| q.funding.is_empty() || r.purchase.funding == q.funding)
        .filter(|r| q.action.is_empty() || r.purchase.action == q.action)
        .map(to_pb)
        .collect())
}
