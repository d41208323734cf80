//! What the dashboard « À traiter » shows, read through the use cases of
//! `app` (never the documents directly): names instead of ids, dates as
//! people write them.

use chrono::{DateTime, Utc};

use crate::app::NodeContext;
use crate::domain::loans::state_fr;
use crate::domain::time;
use crate::error::Result;
use crate::pb;

/// Days the dashboard looks ahead ("cette semaine").
pub const WEEK_DAYS: i64 = 7;

/// One loan as a dashboard row.
#[derive(Debug, Clone, PartialEq)]
pub struct LoanRow {
    pub id: String,
    /// The items, by name.
    pub items: String,
    /// The other site, by name.
    pub other: String,
    pub period: String,
    pub state: String,
    pub purpose: String,
    /// Who asked, and when ("Tiers-lieu X, mer. 16 déc. 2026, 14:00").
    pub requested: String,
    pub overdue: bool,
}

/// One event occurrence as a row.
#[derive(Debug, Clone, PartialEq)]
pub struct EventRow {
    /// The event's id, for its page.
    pub id: String,
    pub title: String,
    pub period: String,
    pub place: String,
    /// Who holds it, by name.
    pub owner: String,
}

#[derive(Debug, Clone, Default, PartialEq)]
pub struct Dashboard {
    /// Requests to this site, waiting for its decision (lender side).
    pub to_decide: Vec<LoanRow>,
    /// This site's own requests still under way, with their state.
    pub mine: Vec<LoanRow>,
    /// Loans of this site (either side) starting within the week.
    pub going_out: Vec<LoanRow>,
    /// Loans of this site out and due back within the week.
    pub due_back: Vec<LoanRow>,
    pub overdue: Vec<LoanRow>,
    pub events: Vec<EventRow>,
    /// The last day the week covers, as people write it.
    pub week_end: String,
}

fn instant(s: &str) -> Option<DateTime<Utc>> {
    DateTime::parse_from_rfc3339(s)
        .ok()
        .map(|t| t.with_timezone(&Utc))
}

fn row(l: &pb::Loan, me: &str) -> LoanRow {
    let other = if l.lender == me {
        &l.borrower_name
    } else {
        &l.lender_name
    };
    let requested = l
        .requested
        .as_ref()
        .map(|t| time::fr_instant(&t.at))
        .unwrap_or_default();
    LoanRow {
        id: l.id.clone(),
        items: l.equipment_names.join(", "),
        other: other.clone(),
        period: time::fr_period(&l.from, &l.to),
        state: state_fr(&l.state).to_string(),
        purpose: l.purpose.clone(),
        requested,
        overdue: l.overdue,
    }
}

/// The dashboard of this node's site at `now`.
pub fn build(ctx: &NodeContext, now: DateTime<Utc>) -> Result<Dashboard> {
    let me = ctx.site.as_str();
    // Only the loans of this site that can show: a site's history holds
    // thousands of returned and cancelled ones.
    let all = crate::app::loans::all_loans(ctx)?;
    let view = crate::app::loans::View::new(ctx)?;
    let mut loans: Vec<pb::Loan> = all
        .iter()
        .filter(|l| {
            (l.lender == me || l.borrower == me)
                && matches!(
                    l.state(),
                    "requested" | "approved" | "refused" | "checked_out"
                )
                && !(l.state() == "refused"
                    && l.window()
                        .is_some_and(|(_, to)| to + chrono::Duration::days(WEEK_DAYS) < now))
        })
        .map(|l| view.to_pb(l))
        .collect();
    loans.sort_by_cached_key(|l| (instant(&l.from), l.id.clone()));
    let today = crate::domain::loans::today_paris(now);
    let start = time::start_of_day(today)?.with_timezone(&Utc);
    let end_day = today + chrono::Duration::days(WEEK_DAYS);
    let end = time::start_of_day(end_day)?.with_timezone(&Utc);
    let within = |s: &str| instant(s).is_some_and(|t| t >= start && t < end);
    let mut d = Dashboard {
        week_end: time::fr_date(end_day - chrono::Duration::days(1)),
        ..Default::default()
    };
    for l in &loans {
        let state = l.state.as_str();
        if l.lender == me && state == "requested" {
            d.to_decide.push(row(l, me));
        }
        if l.borrower == me && matches!(state, "requested" | "approved" | "refused" | "checked_out")
        {
            // A refusal stays in view for the week after the loan would have ended.
            let stale = state == "refused"
                && instant(&l.to).is_some_and(|t| t + chrono::Duration::days(WEEK_DAYS) < now);
            if !stale {
                d.mine.push(row(l, me));
            }
        }
        if state == "approved" && within(&l.from) {
            d.going_out.push(row(l, me));
        }
        if state == "checked_out" && !l.overdue && within(&l.to) {
            d.due_back.push(row(l, me));
        }
        if l.overdue {
            d.overdue.push(row(l, me));
        }
    }
    let names = crate::app::equipment::site_names(ctx)?;
    let mut occurrences = Vec::new();
    for site in [me, "network"] {
        let q = pb::CalendarQuery {
            from: time::rfc3339(&time::paris(start)),
            to: time::rfc3339(&time::paris(end)),
            site: site.to_string(),
            action: String::new(),
        };
        occurrences.extend(crate::app::calendar::occurrences(ctx, &q)?.occurrences);
    }
    occurrences
        .sort_by(|a, b| (instant(&a.start), &a.event_id).cmp(&(instant(&b.start), &b.event_id)));
    occurrences.dedup_by(|a, b| a.event_id == b.event_id && a.start == b.start);
    d.events = occurrences
        .into_iter()
        .filter(|o| o.status != crate::domain::calendar::CANCELLED)
        .map(|o| EventRow {
            period: time::fr_period(&o.start, &o.end),
            owner: if o.site == "network" {
                "tout le réseau".to_string()
            } else {
                crate::app::equipment::name_of(&names, &o.site)
            },
            id: o.event_id,
            title: o.title,
            place: o.place,
        })
        .collect();
    Ok(d)
}
