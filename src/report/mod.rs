//! Indicators of the network's activity, computed from what is recorded.
//!
//! Every figure is a sum over raw records ([`facts`]), in a period of whole
//! days (Paris dates, both ends included) and optionally for one site or one
//! axis, grouped by site, month, axis or equipment category. What each key
//! counts, for which site and in which month, and the rules (loans that went
//! out, the use rate from each item's acquisition, attendance per
//! occurrence, budgets for an action's lead alone, the group `none` by axis)
//! are written in the README's "Indicator reference", which mirrors the
//! labels of [`labels::LABELS`]; the tests in `tests.rs` check each rule.
//!
//! Records with no value for the grouping count in the total only (by axis:
//! in the group `none`); the total counts each record once, so it is not
//! always the sum of the groups (a loan between two sites is in both sites'
//! groups).

pub mod facts;
pub mod labels;
pub mod render;

use std::collections::{BTreeMap, HashMap};

use chrono::{Datelike, NaiveDate, Utc};
use rust_decimal::Decimal;

use crate::docs::Docs;
use crate::domain::actions::STATUSES as ACTION_STATUSES;
use crate::domain::calendar::{AUDIENCES, KINDS as EVENT_KINDS};
use crate::domain::loans::STATES as LOAN_STATES;
use crate::domain::partners::KINDS as PARTNER_KINDS;
use crate::error::{Error, Result};
pub use facts::{Facts, Index};
pub use labels::{label, LABELS};

/// Quiet time after a document change before the index is brought up to
/// date (a sync burst changes many documents at once).
pub const INDEX_SETTLE: std::time::Duration = std::time::Duration::from_millis(300);

/// What [`keep_index`] needs of the node: its documents and the index it
/// keeps. The node's context implements it (`app::NodeContext`), so that this
/// module names nothing above it.
pub trait IndexHost: Send + Sync + 'static {
    fn docs(&self) -> &Docs;
    fn index(&self) -> &Index;
}

/// Builds the node's report index at start, then brings it up to date in the
/// background after documents change, so that reports find it ready.
pub fn keep_index<H: IndexHost>(
    host: std::sync::Arc<H>,
    shutdown: tokio_util::sync::CancellationToken,
    tracker: &tokio_util::task::TaskTracker,
) {
    let mut changes = host.docs().subscribe();
    tracker.spawn(async move {
        loop {
            let h = host.clone();
            let built = tokio::task::spawn_blocking(move || h.index().facts(h.docs())).await;
            if let Ok(Err(e)) = built {
                tracing::warn!(cause = %e, "index des indicateurs : lecture impossible");
            }
            tokio::select! {
                _ = shutdown.cancelled() => return,
                r = changes.recv() => {
                    if matches!(r, Err(tokio::sync::broadcast::error::RecvError::Closed)) {
                        return;
                    }
                }
            }
            tokio::select! {
                _ = shutdown.cancelled() => return,
                _ = tokio::time::sleep(INDEX_SETTLE) => {}
            }
            while changes.try_recv().is_ok() {}
        }
    });
}

/// The longest period a report covers.
pub const MAX_DAYS: i64 = 366 * 20;
/// English identifiers of the action statuses, in [`ACTION_STATUSES`] order.
pub const ACTION_STATUS_IDS: &[&str] = &["idea", "preparing", "in_progress", "done", "cancelled"];
pub const GROUPINGS: &[&str] = &["site", "month", "axis", "category"];

/// What a report covers.
#[derive(Debug, Clone, PartialEq)]
pub struct Query {
    pub from: NaiveDate,
    pub to: NaiveDate,
    /// Only this site's records.
    pub site: Option<String>,
    /// Only records linked to an action of this axis.
    pub axis: Option<i64>,
    /// site, month, axis or category; none for the total alone.
    pub by: Option<String>,
}

/// The school year containing `day`: 1 September to 31 August.
pub fn school_year_of(day: NaiveDate) -> (NaiveDate, NaiveDate) {
    let start_year = if day.month() >= 9 {
        day.year()
    } else {
        day.year() - 1
    };
    (
        NaiveDate::from_ymd_opt(start_year, 9, 1).expect("valid date"),
        NaiveDate::from_ymd_opt(start_year + 1, 8, 31).expect("valid date"),
    )
}

/// Parses "2025-2026" into 1 September 2025 – 31 August 2026.
pub fn parse_school_year(s: &str) -> Result<(NaiveDate, NaiveDate)> {
    let bad = || {
        Error::invalid(format!(
            "année scolaire « {s} » illisible : attendu deux années qui se suivent, par exemple 2025-2026"
        ))
    };
    let (a, b) = s.trim().split_once('-').ok_or_else(bad)?;
    let a: i32 = a.trim().parse().map_err(|_| bad())?;
    let b: i32 = b.trim().parse().map_err(|_| bad())?;
    if b != a + 1 || !(2000..=2200).contains(&a) {
        return Err(bad());
    }
    Ok(school_year_of(
        NaiveDate::from_ymd_opt(a, 9, 1).ok_or_else(bad)?,
    ))
}

fn parse_day(field: &str, s: &str) -> Result<NaiveDate> {
    crate::domain::time::parse_date(s).map_err(|_| {
        Error::invalid(format!(
            "{field} « {} » n'est pas une date : attendu JJ/MM/AAAA ou AAAA-MM-JJ, par exemple 15/03/2026",
            s.trim()
        ))
    })
}

impl Query {
    /// Builds and checks a query from what a caller gave. Without dates, the
    /// current school year.
    pub fn new(
        from: &str,
        to: &str,
        school_year: &str,
        site: &str,
        axis: u32,
        by: &str,
        today: NaiveDate,
    ) -> Result<Query> {
        let (from, to) = match (from.trim(), to.trim(), school_year.trim()) {
            ("", "", "") => school_year_of(today),
            ("", "", y) => parse_school_year(y)?,
            (f, t, "") if !f.is_empty() && !t.is_empty() => {
                (parse_day("from", f)?, parse_day("to", t)?)
            }
            (_, _, "") => {
                return Err(Error::invalid(
                    "donnez la période entière : --from et --to, ou --school-year",
                ))
            }
            _ => {
                return Err(Error::invalid(
                    "donnez --from et --to, ou --school-year, pas les deux",
                ))
            }
        };
        if to < from {
            return Err(Error::invalid(format!(
                "la fin de la période ({to}) précède son début ({from})"
            )));
        }
        if (to - from).num_days() > MAX_DAYS {
            return Err(Error::invalid(format!(
                "période de {} jours : au plus {MAX_DAYS}",
                (to - from).num_days() + 1
            )));
        }
        let axis = match axis {
            0 => None,
            n => Some(crate::domain::actions::parse_axis(n)?),
        };
        // The keys, or the French words a person would type.
        let by = match crate::domain::fold_for_search(by.trim()).as_str() {
            "" | "total" => None,
            "site" | "sites" => Some("site".to_string()),
            "month" | "mois" => Some("month".to_string()),
            "axis" | "axe" | "axes" => Some("axis".to_string()),
            "category" | "categorie" | "categories" => Some("category".to_string()),
            _ => {
                return Err(Error::invalid(format!(
                    "regroupement « {} » inconnu : site, mois (month), axe (axis) ou catégorie (category)",
                    by.trim()
                )))
            }
        };
        let site = (!site.trim().is_empty()).then(|| site.trim().to_string());
        Ok(Query {
            from,
            to,
            site,
            axis,
            by,
        })
    }

    pub fn contains(&self, d: NaiveDate) -> bool {
        self.from <= d && d <= self.to
    }

    /// Days of [a, b] within the period.
    pub fn overlap(&self, a: NaiveDate, b: NaiveDate) -> i64 {
        let (s, e) = (a.max(self.from), b.min(self.to));
        if e < s {
            0
        } else {
            (e - s).num_days() + 1
        }
    }

    fn site_ok(&self, site: &str) -> bool {
        self.site.as_deref().is_none_or(|s| s == site)
    }

    fn axis_ok(&self, axis: Option<i64>) -> bool {
        self.axis.is_none_or(|a| axis == Some(a))
    }

    fn by(&self, what: &str) -> bool {
        self.by.as_deref() == Some(what)
    }
}

/// One figure: its name and its value; counts are integers, amounts and
/// rates decimals.
#[derive(Debug, Clone, PartialEq)]
pub struct Figure {
    pub name: String,
    /// The French label people read.
    pub label: String,
    pub value: String,
    pub integer: bool,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Group {
    pub key: String,
    pub label: String,
    pub figures: Vec<Figure>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Report {
    pub query: Query,
    pub groups: Vec<Group>,
    pub total: Vec<Figure>,
}

impl Report {
    /// The total's figure `name` (tests, bilans).
    pub fn total(&self, name: &str) -> Option<&str> {
        self.total
            .iter()
            .find(|f| f.name == name)
            .map(|f| f.value.as_str())
    }

    pub fn group(&self, key: &str, name: &str) -> Option<&str> {
        self.groups
            .iter()
            .find(|g| g.key == key)?
            .figures
            .iter()
            .find(|f| f.name == name)
            .map(|f| f.value.as_str())
    }
}

/// Sums of one group.
#[derive(Debug, Default, Clone)]
struct Sums {
    loan_requests: i64,
    loan_requests_sent: i64,
    loans_lent: i64,
    loans_borrowed: i64,
    loan_states: [i64; 6],
    loans_overdue: i64,
    loans_recorded: i64,
    item_days_lent: i64,
    item_days_borrowed: i64,
    items: i64,
    loanable: i64,
    /// Item-days available of the loanable items, and of those, days out.
    capacity: i64,
    days_out: i64,
    events: i64,
    events_by_kind: [i64; 6],
    events_cancelled: i64,
    events_with_attendance: i64,
    attendance: [i64; 4],
    actions: i64,
    actions_by_status: [i64; 5],
    actions_by_axis: [i64; 3],
    budget_planned: Decimal,
    budget_spent: Decimal,
    action_indicators: BTreeMap<String, (Decimal, Decimal)>,
    partners: i64,
    partners_by_kind: [i64; 5],
    contributions: Decimal,
    partners_in_kind: i64,
    purchases: [i64; 3],
    purchase_amounts: [Decimal; 3],
    funding: BTreeMap<String, [Decimal; 3]>,
}

fn eur(d: Decimal) -> String {
    crate::domain::purchases::eur(d)
}

fn measure(d: Decimal) -> String {
    d.normalize().to_string()
}

impl Sums {
    fn figures(&self) -> Vec<Figure> {
        let mut out = Vec::with_capacity(64);
        let label_of = |name: &str| label(name).unwrap_or_else(|| name.to_string());
        let mut int = |name: &str, v: i64| {
            out.push(Figure {
                label: label_of(name),
                name: name.to_string(),
                value: v.to_string(),
                integer: true,
            })
        };
        int("loans.requests", self.loan_requests);
        int("loans.requests_sent", self.loan_requests_sent);
        int("loans.lent", self.loans_lent);
        int("loans.borrowed", self.loans_borrowed);
        for (s, n) in LOAN_STATES.iter().zip(self.loan_states) {
            int(&format!("loans.{s}"), n);
        }
        int("loans.overdue", self.loans_overdue);
        int("loans.recorded", self.loans_recorded);
        int("loans.item_days_lent", self.item_days_lent);
        int("loans.item_days_borrowed", self.item_days_borrowed);
        int("equipment.items", self.items);
        int("equipment.loanable", self.loanable);
        int("equipment.item_days_available", self.capacity);
        int("equipment.item_days_out", self.days_out);
        int("events.count", self.events);
        for ((k, _), n) in EVENT_KINDS.iter().zip(self.events_by_kind) {
            int(&format!("events.{k}"), n);
        }
        int("events.cancelled", self.events_cancelled);
        int("events.with_attendance", self.events_with_attendance);
        for ((a, _), n) in AUDIENCES.iter().zip(self.attendance) {
            int(&format!("attendance.{a}"), n);
        }
        int("attendance.total", self.attendance.iter().sum());
        int("actions.count", self.actions);
        for (s, n) in ACTION_STATUS_IDS.iter().zip(self.actions_by_status) {
            int(&format!("actions.{s}"), n);
        }
        for (i, n) in self.actions_by_axis.iter().enumerate() {
            int(&format!("actions.axis_{}", i + 1), *n);
        }
        int("partners.count", self.partners);
        for ((k, _), n) in PARTNER_KINDS.iter().zip(self.partners_by_kind) {
            int(&format!("partners.{k}"), n);
        }
        int("partners.in_kind", self.partners_in_kind);
        for (s, n) in ["requested", "validated", "delivered"]
            .iter()
            .zip(self.purchases)
        {
            int(&format!("purchases.{s}"), n);
        }
        let mut dec = |name: String, v: String| {
            out.push(Figure {
                label: label_of(&name),
                name,
                value: v,
                integer: false,
            })
        };
        dec(
            "equipment.use_rate_pct".into(),
            if self.capacity > 0 {
                let r = Decimal::from(self.days_out) * Decimal::from(100)
                    / Decimal::from(self.capacity);
                format!("{:.1}", r.round_dp(1))
            } else {
                String::new()
            },
        );
        dec(
            "actions.budget_planned_eur".into(),
            eur(self.budget_planned),
        );
        dec("actions.budget_spent_eur".into(), eur(self.budget_spent));
        for (name, (t, a)) in &self.action_indicators {
            dec(format!("actions.indicator.{name}.target"), measure(*t));
            dec(format!("actions.indicator.{name}.actual"), measure(*a));
        }
        dec("partners.contribution_eur".into(), eur(self.contributions));
        for (s, v) in ["requested", "validated", "delivered"]
            .iter()
            .zip(self.purchase_amounts)
        {
            dec(format!("purchases.{s}_eur"), eur(v));
        }
        for (line, v) in &self.funding {
            let line = if line.is_empty() { "none" } else { line };
            for (s, v) in ["requested", "validated", "delivered"].iter().zip(v) {
                dec(format!("purchases.funding.{line}.{s}_eur"), eur(*v));
            }
        }
        out
    }
}

/// The sums of every group and of the total.
struct Acc<'q> {
    q: &'q Query,
    groups: BTreeMap<String, Sums>,
    total: Sums,
}

impl<'q> Acc<'q> {
    /// Adds to the group `key` (if the report is grouped and the record has
    /// a value for the grouping), and to the total if `total`.
    fn add(&mut self, key: Option<&str>, total: bool, f: impl Fn(&mut Sums)) {
        if let (Some(_), Some(k)) = (&self.q.by, key) {
            f(self.groups.entry(k.to_string()).or_default());
        }
        if total {
            f(&mut self.total);
        }
    }
}

fn month(d: NaiveDate) -> String {
    format!("{:04}-{:02}", d.year(), d.month())
}

fn axis_key(a: Option<i64>) -> String {
    a.map(|a| a.to_string()).unwrap_or_else(|| "none".into())
}

fn index_of(list: &[&str], v: &str) -> Option<usize> {
    list.iter().position(|x| *x == v)
}

/// The position of `v` among the identifiers of `pairs` (id, label).
fn pair_index(pairs: &[(&str, impl Sized)], v: &str) -> Option<usize> {
    pairs.iter().position(|(id, _)| *id == v)
}

/// Months of the period, as (key, first day, last day) within it.
fn months(q: &Query) -> Vec<(String, NaiveDate, NaiveDate)> {
    let mut out = Vec::new();
    let mut d = q.from;
    while d <= q.to {
        let next = if d.month() == 12 {
            NaiveDate::from_ymd_opt(d.year() + 1, 1, 1)
        } else {
            NaiveDate::from_ymd_opt(d.year(), d.month() + 1, 1)
        }
        .expect("valid date");
        let last = (next - chrono::Duration::days(1)).min(q.to);
        out.push((month(d), d, last));
        d = next;
    }
    out
}

/// The days of `windows` within [from, to], each day once (two loans of one
/// item that overlap count their common days once), as disjoint spans.
fn merged(
    windows: &[(NaiveDate, NaiveDate)],
    from: NaiveDate,
    to: NaiveDate,
) -> Vec<(NaiveDate, NaiveDate)> {
    let mut w: Vec<(NaiveDate, NaiveDate)> = windows
        .iter()
        .map(|(a, b)| ((*a).max(from), (*b).min(to)))
        .filter(|(a, b)| a <= b)
        .collect();
    w.sort();
    let mut out: Vec<(NaiveDate, NaiveDate)> = Vec::with_capacity(w.len());
    for (a, b) in w {
        match out.last_mut() {
            Some((_, end)) if a <= *end + chrono::Duration::days(1) => *end = (*end).max(b),
            _ => out.push((a, b)),
        }
    }
    out
}

/// Computes the report `q` over `facts`. Unknown site: NotFound.
pub fn compute(facts: &Facts, q: &Query) -> Result<Report> {
    if let Some(s) = &q.site {
        if !facts.sites.contains_key(s) {
            return Err(Error::not_found(format!(
                "site {s} inconnu : aucun document de ce site sur ce nœud"
            )));
        }
    }
    let now = Utc::now();
    let mut acc = Acc {
        q,
        groups: BTreeMap::new(),
        total: Sums::default(),
    };
    let month_list = months(q);
    // Groups that exist even when empty: every site, every month.
    if q.by("site") {
        for s in facts.sites.keys().filter(|s| q.site_ok(s)) {
            acc.groups.entry(s.clone()).or_default();
        }
    }
    if q.by("month") {
        for (m, _, _) in &month_list {
            acc.groups.entry(m.clone()).or_default();
        }
    }

    // Loans.
    for l in &facts.loans {
        let axis = facts.axis(&l.action);
        if !q.axis_ok(axis) || q.overlap(l.from, l.to) == 0 {
            continue;
        }
        let state = index_of(LOAN_STATES, l.state).unwrap_or(0);
        let went_out = matches!(l.state, "checked_out" | "returned");
        let overdue = l.state == "checked_out" && now > l.end;
        let recorded = l.recorded;
        let n_items = l.items.len() as i64;
        let days = q.overlap(l.from, l.to);
        for (side, site) in [(true, &l.lender), (false, &l.borrower)] {
            if !q.site_ok(site) {
                continue;
            }
            let count = move |s: &mut Sums| {
                if side {
                    s.loan_requests += 1;
                    s.loans_lent += went_out as i64;
                    s.loan_states[state] += 1;
                    s.loans_overdue += overdue as i64;
                    s.loans_recorded += recorded as i64;
                } else {
                    s.loan_requests_sent += 1;
                    s.loans_borrowed += went_out as i64;
                }
            };
            let item_days = move |s: &mut Sums, n: i64| {
                if went_out {
                    if side {
                        s.item_days_lent += n;
                    } else {
                        s.item_days_borrowed += n;
                    }
                }
            };
            match q.by.as_deref() {
                Some("month") => {
                    acc.add(Some(&month(l.from.max(q.from))), false, count);
                    if went_out {
                        // Only the months the window meets.
                        let first = month_list.partition_point(|(_, _, b)| *b < l.from);
                        for (m, a, b) in month_list[first..]
                            .iter()
                            .take_while(|(_, a, _)| *a <= l.to)
                        {
                            let d = (l.to.min(*b) - l.from.max(*a)).num_days() + 1;
                            if d > 0 {
                                acc.add(Some(m), false, |s| item_days(s, n_items * d));
                            }
                        }
                    }
                }
                Some("category") => {
                    let mut per: BTreeMap<&str, i64> = BTreeMap::new();
                    for c in &l.categories {
                        *per.entry(c).or_default() += 1;
                    }
                    for (c, n) in per {
                        acc.add(Some(c), false, |s| {
                            count(s);
                            item_days(s, n * days);
                        });
                    }
                }
                Some("site") => acc.add(Some(site), false, |s| {
                    count(s);
                    item_days(s, n_items * days);
                }),
                Some("axis") => acc.add(Some(&axis_key(axis)), false, |s| {
                    count(s);
                    item_days(s, n_items * days);
                }),
                _ => {}
            }
            acc.add(None, true, |s| {
                count(s);
                item_days(s, n_items * days);
            });
        }
    }

    // The inventory, and the use of loanable items: for each, the days it
    // was out (loans that went out, merged, clipped to the period and to its
    // acquisition) against the days it was there.
    if q.axis.is_none() {
        let mut out: HashMap<(&str, &str), Vec<(NaiveDate, NaiveDate)>> = HashMap::new();
        for l in &facts.loans {
            if matches!(l.state, "checked_out" | "returned") && q.overlap(l.from, l.to) > 0 {
                for i in l.items.iter() {
                    out.entry((&l.lender, i.as_str()))
                        .or_default()
                        .push((l.from, l.to));
                }
            }
        }
        for it in facts.items() {
            if it.retired || it.since > q.to || !q.site_ok(&it.site) {
                continue;
            }
            let first = it.since.max(q.from);
            let days_out = merged(
                out.get(&(it.site.as_str(), it.id.as_str()))
                    .map(Vec::as_slice)
                    .unwrap_or_default(),
                first,
                q.to,
            );
            let lendable = it.lendable;
            // Counts over the days [a, b] of the period.
            let add = |a: NaiveDate, b: NaiveDate| {
                let (a, b) = (a.max(first), b);
                let cap = if b < a { 0 } else { (b - a).num_days() + 1 };
                let used: i64 = days_out
                    .iter()
                    .map(|(x, y)| {
                        let (x, y) = ((*x).max(a), (*y).min(b));
                        if y < x {
                            0
                        } else {
                            (y - x).num_days() + 1
                        }
                    })
                    .sum();
                move |s: &mut Sums| {
                    s.items += 1;
                    if lendable {
                        s.loanable += 1;
                        s.capacity += cap;
                        s.days_out += used;
                    }
                }
            };
            match q.by.as_deref() {
                Some("site") => acc.add(Some(&it.site), false, add(q.from, q.to)),
                Some("category") => acc.add(Some(&it.category), false, add(q.from, q.to)),
                Some("month") => {
                    for (m, a, b) in &month_list {
                        if it.since <= *b {
                            acc.add(Some(m), false, add(*a, *b));
                        }
                    }
                }
                _ => {}
            }
            acc.add(None, true, add(q.from, q.to));
        }
    }

    // Events.
    for e in facts.events() {
        let axis = facts.axis(&e.action);
        if !q.site_ok(&e.site) || !q.axis_ok(axis) {
            continue;
        }
        let kind = pair_index(EVENT_KINDS, &e.kind);
        for d in e.days.iter().filter(|d| q.contains(**d)) {
            let add = |s: &mut Sums| {
                if e.cancelled {
                    s.events_cancelled += 1;
                } else {
                    s.events += 1;
                    if let Some(k) = kind {
                        s.events_by_kind[k] += 1;
                    }
                }
            };
            let key = match q.by.as_deref() {
                Some("site") => Some(e.site.clone()),
                Some("month") => Some(month(*d)),
                Some("axis") => Some(axis_key(axis)),
                _ => None,
            };
            acc.add(key.as_deref(), true, add);
        }
        // Attendance, on the day of each occurrence recorded.
        for (d, a) in &e.attendance {
            if e.cancelled || !q.contains(*d) || e.days.binary_search(d).is_err() {
                continue;
            }
            let key = match q.by.as_deref() {
                Some("site") => Some(e.site.clone()),
                Some("month") => Some(month(*d)),
                Some("axis") => Some(axis_key(axis)),
                _ => None,
            };
            acc.add(key.as_deref(), true, |s| {
                s.events_with_attendance += 1;
                for (sum, n) in s.attendance.iter_mut().zip(a) {
                    *sum += n;
                }
            });
        }
    }

    // Common actions.
    for a in &facts.actions {
        if !q.axis_ok(Some(a.axis)) {
            continue;
        }
        let (s, e) = (a.start.unwrap_or(q.from), a.end.unwrap_or(q.to));
        if q.overlap(s.min(e), e.max(s)) == 0 {
            continue;
        }
        let status = index_of(ACTION_STATUSES, &a.status);
        let axis = (1..=3).contains(&a.axis).then(|| a.axis as usize - 1);
        let add = |with_money: bool| {
            move |x: &mut Sums| {
                x.actions += 1;
                if let Some(i) = status {
                    x.actions_by_status[i] += 1;
                }
                if let Some(i) = axis {
                    x.actions_by_axis[i] += 1;
                }
                // Money is held by the lead: budgets count for it alone.
                if with_money {
                    x.budget_planned += a.budget_planned;
                    x.budget_spent += a.budget_spent;
                }
                // The action's results are every participating site's.
                for (n, t, v) in &a.indicators {
                    let slot = x.action_indicators.entry(n.clone()).or_default();
                    slot.0 += t;
                    slot.1 += v;
                }
            }
        };
        let in_site = |site: &str| q.site_ok(site);
        // The total: once, if the action concerns the selected site.
        if a.sites.iter().any(|s| in_site(s)) {
            let money = q.site.is_none() || in_site(&a.lead);
            acc.add(None, true, add(money));
        }
        match q.by.as_deref() {
            Some("site") => {
                for site in a.sites.iter().filter(|s| in_site(s)) {
                    acc.add(Some(site), false, add(*site == a.lead));
                }
            }
            // The month it starts (the period's first if before); an action
            // without a start date has no month: in the total only.
            Some("month") if a.sites.iter().any(|s| in_site(s)) => {
                if let Some(start) = a.start {
                    let money = q.site.is_none() || in_site(&a.lead);
                    acc.add(Some(&month(start.max(q.from))), false, add(money));
                }
            }
            Some("axis") if a.sites.iter().any(|s| in_site(s)) => {
                let money = q.site.is_none() || in_site(&a.lead);
                acc.add(Some(&a.axis.to_string()), false, add(money));
            }
            _ => {}
        }
    }

    // Partners: those known by the end of the period.
    for p in facts.partners() {
        if p.created > q.to || !q.site_ok(&p.site) {
            continue;
        }
        let mut axes: Vec<Option<i64>> = p.actions.iter().map(|a| facts.axis(a)).collect();
        axes.retain(|a| a.is_some());
        axes.sort();
        axes.dedup();
        if axes.is_empty() {
            axes.push(None);
        }
        if q.axis.is_some() && !axes.iter().any(|a| q.axis_ok(*a)) {
            continue;
        }
        let kind = pair_index(PARTNER_KINDS, &p.kind);
        let add = |s: &mut Sums| {
            s.partners += 1;
            if let Some(k) = kind {
                s.partners_by_kind[k] += 1;
            }
            s.contributions += p.contribution;
            s.partners_in_kind += p.in_kind as i64;
        };
        match q.by.as_deref() {
            Some("site") => acc.add(Some(&p.site), false, add),
            Some("axis") => {
                for a in axes.iter().filter(|a| q.axis_ok(**a)) {
                    acc.add(Some(&axis_key(*a)), false, add);
                }
            }
            _ => {}
        }
        acc.add(None, true, add);
    }

    // Purchases, by the day of their latest submission.
    for p in &facts.purchases {
        let Some(day) = p.submitted else { continue };
        let axis = facts.axis(&p.action);
        if !q.contains(day) || !q.site_ok(&p.site) || !q.axis_ok(axis) {
            continue;
        }
        if matches!(p.state, "draft" | "cancelled") {
            continue;
        }
        let validated = matches!(p.state, "validated" | "ordered" | "delivered");
        let delivered = p.state == "delivered";
        let add = |s: &mut Sums| {
            let flags = [true, validated, delivered];
            let line = s.funding.entry(p.funding.clone()).or_default();
            for (i, on) in flags.iter().enumerate() {
                if *on {
                    line[i] += p.ttc;
                }
            }
            for (i, on) in flags.iter().enumerate() {
                if *on {
                    s.purchases[i] += 1;
                    s.purchase_amounts[i] += p.ttc;
                }
            }
        };
        let key = match q.by.as_deref() {
            Some("site") => Some(p.site.clone()),
            Some("month") => Some(month(day)),
            Some("axis") => Some(axis_key(axis)),
            _ => None,
        };
        acc.add(key.as_deref(), true, add);
    }

    let label = |key: &str| -> String {
        match q.by.as_deref() {
            Some("site") => facts
                .sites
                .get(key)
                .filter(|n| !n.is_empty())
                .cloned()
                .unwrap_or_else(|| key.to_string()),
            Some("axis") if key == "none" => "hors action (sans axe)".into(),
            Some("axis") => format!("axe {key}"),
            Some("month") => NaiveDate::parse_from_str(&format!("{key}-01"), "%Y-%m-%d")
                .map(|d| crate::domain::time::fr_month(d.year(), d.month()))
                .unwrap_or_else(|_| key.to_string()),
            _ => key.to_string(),
        }
    };
    Ok(Report {
        query: q.clone(),
        groups: acc
            .groups
            .iter()
            .map(|(k, s)| Group {
                key: k.clone(),
                label: label(k),
                figures: s.figures(),
            })
            .collect(),
        total: acc.total.figures(),
    })
}

#[cfg(test)]
mod tests;
