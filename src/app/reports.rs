//! Use cases of reports: indicators and a site's bilan, computed from this
//! node's replica (no round trip to other sites).

use super::NodeContext;
use crate::domain::now_rfc3339;
use crate::domain::purchases::eur;
use crate::error::{Error, Result};
use crate::pb;
use crate::report::{self, Facts, Figure, Query, Report};
use std::sync::Arc;

pub(crate) fn today() -> chrono::NaiveDate {
    crate::domain::time::paris(chrono::Utc::now()).date_naive()
}

pub(crate) fn figures(f: &[Figure]) -> Vec<pb::Figure> {
    f.iter()
        .map(|f| pb::Figure {
            name: f.name.clone(),
            value: f.value.clone(),
            integer: f.integer,
            label: f.label.clone(),
        })
        .collect()
}

pub fn report_pb(r: &Report) -> pb::IndicatorReport {
    pb::IndicatorReport {
        from: r.query.from.to_string(),
        to: r.query.to.to_string(),
        site: r.query.site.clone().unwrap_or_default(),
        axis: r.query.axis.unwrap_or(0) as u32,
        by: r.query.by.clone().unwrap_or_default(),
        generated_at: now_rfc3339(),
        groups: r
            .groups
            .iter()
            .map(|g| pb::IndicatorGroup {
                key: g.key.clone(),
                label: g.label.clone(),
                figures: figures(&g.figures),
            })
            .collect(),
        total: figures(&r.total),
    }
}

pub fn facts(ctx: &NodeContext) -> Result<Arc<Facts>> {
    Ok(ctx.reports.facts(&ctx.docs)?.0)
}

/// The site `typed` names among those this node holds: its id or a unique
/// beginning of it (`metz` for `metz-borny`), as other commands accept.
fn site_named(facts: &Facts, typed: &str) -> Result<String> {
    if typed.trim().is_empty() {
        return Ok(String::new());
    }
    crate::domain::ids::resolve(
        "site",
        typed,
        facts
            .sites
            .iter()
            .map(|(id, name)| (id.clone(), name.clone())),
    )
    .map_err(|e| match e {
        Error::NotFound(_) => Error::not_found(format!(
            "site {} inconnu : aucun document de ce site sur ce nœud",
            typed.trim()
        )),
        other => other,
    })
}

pub fn indicators(ctx: &NodeContext, r: &pb::IndicatorsRequest) -> Result<pb::IndicatorReport> {
    let facts = facts(ctx)?;
    let site = site_named(&facts, &r.site)?;
    let q = Query::new(
        &r.from,
        &r.to,
        &r.school_year,
        &site,
        r.axis,
        &r.by,
        today(),
    )?;
    Ok(report_pb(&report::compute(&facts, &q)?))
}

pub fn bilan(ctx: &NodeContext, r: &pb::BilanRequest) -> Result<pb::BilanReport> {
    if r.site.trim().is_empty() {
        return Err(Error::invalid("donnez le site du bilan (--site)"));
    }
    let facts = facts(ctx)?;
    let site = site_named(&facts, &r.site)?;
    let site = site.as_str();
    let q = Query::new(&r.from, &r.to, &r.school_year, site, 0, "", today())?;
    let indicators = report::compute(&facts, &q)?;
    let mut events: Vec<pb::BilanEvent> = facts
        .events()
        .filter(|e| e.site == site)
        .filter_map(|e| {
            let occurrences = e.days.iter().filter(|d| q.contains(**d)).count() as i64;
            if occurrences == 0 {
                return None;
            }
            // The occurrences in the period whose attendance was recorded.
            let recorded: Vec<&[i64; 4]> = e
                .attendance
                .iter()
                .filter(|(d, _)| q.contains(*d) && e.days.binary_search(d).is_ok())
                .map(|(_, a)| a)
                .collect();
            let mut sum = [0i64; 4];
            for a in &recorded {
                for (s, n) in sum.iter_mut().zip(a.iter()) {
                    *s += n;
                }
            }
            let [pupils, teachers, families, partners] = sum;
            Some(pb::BilanEvent {
                id: e.id.clone(),
                title: e.title.clone(),
                kind: e.kind.clone(),
                start: e.start.clone(),
                occurrences,
                cancelled: e.cancelled,
                has_attendance: !recorded.is_empty(),
                sessions_with_attendance: recorded.len() as i64,
                pupils,
                teachers,
                families,
                partners,
            })
        })
        .collect();
    events.sort_by(|a, b| a.start.cmp(&b.start).then(a.id.cmp(&b.id)));
    let names = crate::app::equipment::site_names(ctx).unwrap_or_default();
    let name = |site: &str| names.get(site).cloned().unwrap_or_else(|| site.to_string());
    let all_items = crate::app::equipment::list_all(ctx)?;
    let item_names: std::collections::HashMap<&str, &str> = all_items
        .iter()
        .map(|i| (i.id.as_str(), i.name.as_str()))
        .collect();
    let now = chrono::Utc::now();
    let loan = |l: &report::facts::LoanFact| pb::BilanLoan {
        item_names: l
            .items
            .iter()
            .map(|i| {
                item_names
                    .get(i.as_str())
                    .unwrap_or(&i.as_str())
                    .to_string()
            })
            .collect(),
        overdue: l.state == "checked_out" && now > l.end,
        recorded: l.recorded,
        lender_name: name(&l.lender),
        borrower_name: name(&l.borrower),
        id: l.id.to_string(),
        lender: l.lender.to_string(),
        borrower: l.borrower.to_string(),
        state: l.state.to_string(),
        from: l.window.0.to_string(),
        to: l.window.1.to_string(),
        items: l.items.to_vec(),
        item_days: if matches!(l.state, "checked_out" | "returned") {
            l.items.len() as i64 * q.overlap(l.from, l.to)
        } else {
            0
        },
        purpose: l.purpose.to_string(),
        action: l.action.to_string(),
    };
    let in_period: Vec<&report::facts::LoanFact> = facts
        .loans
        .iter()
        .filter(|l| q.overlap(l.from, l.to) > 0)
        .collect();
    let mut loans_given: Vec<pb::BilanLoan> = in_period
        .iter()
        .filter(|l| &*l.lender == site)
        .map(|l| loan(l))
        .collect();
    let mut loans_received: Vec<pb::BilanLoan> = in_period
        .iter()
        .filter(|l| &*l.borrower == site)
        .map(|l| loan(l))
        .collect();
    loans_given.sort_by(|a, b| a.from.cmp(&b.from).then(a.id.cmp(&b.id)));
    loans_received.sort_by(|a, b| a.from.cmp(&b.from).then(a.id.cmp(&b.id)));
    let actions = facts
        .actions
        .iter()
        .filter(|a| a.sites.iter().any(|s| s == site))
        .filter(|a| {
            let (s, e) = (a.start.unwrap_or(q.from), a.end.unwrap_or(q.to));
            q.overlap(s.min(e), e.max(s)) > 0
        })
        .map(|a| pb::BilanAction {
            id: a.id.clone(),
            title: a.title.clone(),
            axis: a.axis,
            status: a.status.clone(),
            lead: a.lead.clone(),
            lead_name: name(&a.lead),
            role: if a.lead == site {
                "lead"
            } else {
                "participant"
            }
            .into(),
            start: a.start.map(|d| d.to_string()).unwrap_or_default(),
            end: a.end.map(|d| d.to_string()).unwrap_or_default(),
            // The budget is the lead's: a participant's bilan leaves it
            // empty, so that adding bilans counts it once.
            budget_planned: if a.lead == site {
                eur(a.budget_planned)
            } else {
                String::new()
            },
            budget_spent: if a.lead == site {
                eur(a.budget_spent)
            } else {
                String::new()
            },
        })
        .collect();
    let purchases = facts
        .purchases
        .iter()
        .filter(|p| p.site == site)
        .filter(|p| p.submitted.is_some_and(|d| q.contains(d)))
        .map(|p| pb::BilanPurchase {
            id: p.id.clone(),
            object: p.object.clone(),
            funding: p.funding.clone(),
            state: p.state.to_string(),
            submitted_on: p.submitted.map(|d| d.to_string()).unwrap_or_default(),
            total_ttc: eur(p.ttc),
        })
        .collect();
    Ok(pb::BilanReport {
        site: site.to_string(),
        site_name: facts.sites.get(site).cloned().unwrap_or_default(),
        from: q.from.to_string(),
        to: q.to.to_string(),
        generated_at: now_rfc3339(),
        indicators: Some(report_pb(&indicators)),
        events,
        loans_given,
        loans_received,
        actions,
        purchases,
    })
}
