//! Loans (prêts) between sites.
//!
//! A loan is the join of two records in two documents, each written by the site
//! that has the authority over it:
//! - the request, in the borrower's document (`loan_requests`), with its
//!   cancellation;
//! - the decisions, in the lender's document (`loan_decisions`): approval or
//!   refusal, check-out, return.
//!
//! Only the lender's node writes decisions on its equipment, and it checks a new
//! approval against every approval it holds under the document's lock: no
//! double booking can be approved, without any consensus round and while every
//! other site is offline. Should two overlapping approvals still meet (a lender
//! restored from an old backup that approves again), [`conflicts`] reports them.

use std::collections::{BTreeMap, BTreeSet};

use automerge::AutoCommit;
use autosurgeon::{Hydrate, Reconcile};
use chrono::{DateTime, Utc};

use super::{map_entries, map_entry, optional_text, put_entry};
use crate::error::{Error, Result};

pub const STATES: &[&str] = &[
    "requested",
    "approved",
    "refused",
    "checked_out",
    "returned",
    "cancelled",
];
/// The states as lists show them, in French, beside their keys.
pub const STATES_FR: &[(&str, &str)] = &[
    ("requested", "demandé"),
    ("approved", "accordé"),
    ("refused", "refusé"),
    ("checked_out", "sorti"),
    ("returned", "rendu"),
    ("cancelled", "annulé"),
    ("overdue", "en retard"),
];

/// A state filter as a person may type it: the key (`requested`) or the
/// French word lists show (`demandé`, `Demande`, `en retard`), whatever the
/// case and accents; `overdue` is a filter, not a stored state.
pub fn state_filter(typed: &str) -> Result<&'static str> {
    let t = super::fold_for_search(typed.trim()).replace('_', " ");
    STATES_FR
        .iter()
        .find(|(key, fr)| t == key.replace('_', " ") || t == super::fold_for_search(fr))
        .map(|(key, _)| *key)
        .ok_or_else(|| {
            Error::invalid(format!(
                "état « {typed} » inconnu : {}",
                STATES_FR
                    .iter()
                    .map(|(k, fr)| format!("{fr} ({k})"))
                    .collect::<Vec<_>>()
                    .join(", ")
            ))
        })
}

/// What the lender says of an item that came back with an incident, with
/// the French words it may type: still usable (its condition becomes
/// `worn`), or to repair (status `maintenance`, condition `out_of_order`).
pub const RETURN_CONDITIONS: &[(&str, &str)] =
    &[("usable", "utilisable"), ("to_repair", "à réparer")];

/// A return condition as typed: the key or the French words, whatever the
/// case, accents, spaces or underscores.
pub fn return_condition(typed: &str) -> Result<&'static str> {
    let t = super::fold_for_search(typed.trim()).replace(['_', '-'], " ");
    RETURN_CONDITIONS
        .iter()
        .find(|(k, fr)| t == k.replace('_', " ") || t == super::fold_for_search(fr))
        .map(|(k, _)| *k)
        .ok_or_else(|| {
            Error::invalid(format!(
                "état au retour « {typed} » inconnu : utilisable (usable) ou à_réparer (to_repair)"
            ))
        })
}

/// The French words for a return condition.
pub fn return_condition_fr(key: &str) -> &str {
    RETURN_CONDITIONS
        .iter()
        .find(|(k, _)| *k == key)
        .map(|(_, fr)| *fr)
        .unwrap_or(key)
}

/// A loan state in French, as lists show it.
pub fn state_fr(key: &str) -> &str {
    STATES_FR
        .iter()
        .find(|(k, _)| *k == key)
        .map(|(_, fr)| *fr)
        .unwrap_or(key)
}

/// Today in Paris: a request may not start before it.
pub fn today_paris(now: DateTime<Utc>) -> chrono::NaiveDate {
    now.with_timezone(&super::time::TZ).date_naive()
}

pub const MAX_ITEMS: usize = 50;
pub const MAX_NOTE: usize = 2000;
pub const REQUESTS: &str = "loan_requests";
pub const DECISIONS: &str = "loan_decisions";

/// Who did what, when.
#[derive(Debug, Clone, PartialEq, Reconcile, Hydrate)]
pub struct Transition {
    pub at: String,
    pub site: String,
    pub role: String,
    pub note: String,
}

/// The borrower's side, in the borrower's document.
#[derive(Debug, Clone, PartialEq, Reconcile, Hydrate)]
pub struct LoanRequest {
    pub lender: String,
    pub equipment: Vec<String>,
    pub from: String,
    pub to: String,
    pub purpose: String,
    pub action: String,
    pub event: String,
    pub requested: Transition,
    pub cancelled: Option<Transition>,
}

/// The lender's side, in the lender's document. The request's items and window
/// are copied here so the lender's document alone proves what it approved.
#[derive(Debug, Clone, PartialEq, Reconcile, Hydrate)]
pub struct LoanDecision {
    pub borrower: String,
    pub equipment: Vec<String>,
    pub from: String,
    pub to: String,
    pub approved: Option<Transition>,
    pub refused: Option<Transition>,
    pub checked_out: Option<Transition>,
    pub returned: Option<Transition>,
    pub incident: String,
    /// Entered after the fact by the lender (`loan record`): who and when.
    /// The other transitions then carry the window's bounds as their times.
    #[autosurgeon(missing = "Default::default")]
    pub recorded: Option<Transition>,
    /// With an incident: `usable` or `to_repair` (see [`RETURN_CONDITIONS`]).
    #[autosurgeon(missing = "Default::default")]
    pub return_condition: String,
    /// The items the incident concerns (every item of the loan when empty).
    #[autosurgeon(missing = "Default::default")]
    pub incident_items: Vec<String>,
}

/// The joined view of one loan.
#[derive(Debug, Clone, PartialEq)]
pub struct Loan {
    pub id: String,
    pub borrower: String,
    pub lender: String,
    pub request: Option<LoanRequest>,
    pub decision: Option<LoanDecision>,
}

impl Loan {
    pub fn state(&self) -> &'static str {
        let d = self.decision.as_ref();
        let has = |f: fn(&LoanDecision) -> &Option<Transition>| d.is_some_and(|d| f(d).is_some());
        if has(|d| &d.returned) {
            "returned"
        } else if has(|d| &d.checked_out) {
            "checked_out"
        } else if self.request.as_ref().is_some_and(|r| r.cancelled.is_some()) {
            "cancelled"
        } else if has(|d| &d.refused) {
            "refused"
        } else if has(|d| &d.approved) {
            "approved"
        } else {
            "requested"
        }
    }

    /// Approved or checked out: the items are booked for the window.
    pub fn is_active(&self) -> bool {
        matches!(self.state(), "approved" | "checked_out")
    }

    pub fn equipment(&self) -> &[String] {
        match (&self.request, &self.decision) {
            (Some(r), _) => &r.equipment,
            (None, Some(d)) => &d.equipment,
            (None, None) => &[],
        }
    }

    /// The window: the lender's copy when it decided, else the request's.
    pub fn window_text(&self) -> (&str, &str) {
        match (&self.decision, &self.request) {
            (Some(d), _) => (&d.from, &d.to),
            (None, Some(r)) => (&r.from, &r.to),
            (None, None) => ("", ""),
        }
    }

    pub fn window(&self) -> Option<(DateTime<Utc>, DateTime<Utc>)> {
        let (f, t) = self.window_text();
        Some((parse_stored(f)?, parse_stored(t)?))
    }

    /// Checked out and past the end of its window.
    pub fn overdue(&self, now: DateTime<Utc>) -> bool {
        self.state() == "checked_out" && self.window().is_some_and(|(_, to)| now > to)
    }

    /// Entered after the fact by the lender.
    pub fn recorded(&self) -> bool {
        self.decision.as_ref().is_some_and(|d| d.recorded.is_some())
    }

    pub fn booking(&self) -> Option<Booking> {
        let (from, to) = self.window()?;
        Some(Booking {
            loan: self.id.clone(),
            items: self.equipment().to_vec(),
            from,
            to,
        })
    }
}

pub fn parse_stored(s: &str) -> Option<DateTime<Utc>> {
    DateTime::parse_from_rfc3339(s)
        .ok()
        .map(|t| t.with_timezone(&Utc))
}

/// Items held by one loan over [from, to).
#[derive(Debug, Clone, PartialEq)]
pub struct Booking {
    pub loan: String,
    pub items: Vec<String>,
    pub from: DateTime<Utc>,
    pub to: DateTime<Utc>,
}

impl Booking {
    pub fn overlaps(&self, other: &Booking) -> bool {
        self.from < other.to && other.from < self.to
    }
}

/// The first active booking that shares an item with `candidate` over an
/// overlapping window: (conflicting loan, item).
pub fn find_conflict(candidate: &Booking, active: &[Booking]) -> Option<(String, String)> {
    for b in active {
        if b.loan == candidate.loan || !b.overlaps(candidate) {
            continue;
        }
        if let Some(item) = candidate.items.iter().find(|i| b.items.contains(i)) {
            return Some((b.loan.clone(), item.clone()));
        }
    }
    None
}

/// Every item booked by overlapping active loans, with those loans.
pub fn conflicts(active: &[Booking]) -> Vec<(String, Vec<String>)> {
    let mut by_item: BTreeMap<&str, Vec<&Booking>> = BTreeMap::new();
    for b in active {
        for i in &b.items {
            by_item.entry(i.as_str()).or_default().push(b);
        }
    }
    let mut out = Vec::new();
    for (item, mut bs) in by_item {
        bs.sort_by_key(|b| b.from);
        let mut involved: BTreeSet<String> = BTreeSet::new();
        // Sweep in start order, remembering the booking that ends last.
        let mut reach: Option<&Booking> = None;
        for b in bs {
            if let Some(r) = reach {
                if b.from < r.to {
                    involved.insert(r.loan.clone());
                    involved.insert(b.loan.clone());
                }
                if b.to > r.to {
                    reach = Some(b);
                }
            } else {
                reach = Some(b);
            }
        }
        if !involved.is_empty() {
            out.push((item.to_string(), involved.into_iter().collect()));
        }
    }
    out
}

pub fn get_request(doc: &AutoCommit, id: &str) -> Result<Option<LoanRequest>> {
    map_entry(doc, REQUESTS, id)
}

pub fn get_decision(doc: &AutoCommit, id: &str) -> Result<Option<LoanDecision>> {
    map_entry(doc, DECISIONS, id)
}

pub fn requests(doc: &AutoCommit) -> Result<BTreeMap<String, LoanRequest>> {
    map_entries(doc, REQUESTS)
}

pub fn decisions(doc: &AutoCommit) -> Result<BTreeMap<String, LoanDecision>> {
    map_entries(doc, DECISIONS)
}

pub fn put_request(doc: &mut AutoCommit, id: &str, r: &LoanRequest) -> Result<()> {
    put_entry(doc, REQUESTS, id, r)
}

pub fn put_decision(doc: &mut AutoCommit, id: &str, d: &LoanDecision) -> Result<()> {
    put_entry(doc, DECISIONS, id, d)
}

/// One site document's loan records: (site, requests, decisions).
pub type SiteLoans = (
    String,
    BTreeMap<String, LoanRequest>,
    BTreeMap<String, LoanDecision>,
);

/// Joins requests and decisions of every site document: `(site, requests, decisions)`.
pub fn join(docs: Vec<SiteLoans>) -> Vec<Loan> {
    let mut loans: BTreeMap<String, Loan> = BTreeMap::new();
    for (site, reqs, decs) in docs {
        for (id, r) in reqs {
            let e = loans.entry(id.clone()).or_insert_with(|| Loan {
                id: id.clone(),
                borrower: site.clone(),
                lender: r.lender.clone(),
                request: None,
                decision: None,
            });
            e.borrower = site.clone();
            e.lender = r.lender.clone();
            e.request = Some(r);
        }
        for (id, d) in decs {
            let e = loans.entry(id.clone()).or_insert_with(|| Loan {
                id: id.clone(),
                borrower: d.borrower.clone(),
                lender: site.clone(),
                request: None,
                decision: None,
            });
            e.lender = site.clone();
            e.decision = Some(d);
        }
    }
    loans.into_values().collect()
}

/// Validates a note or reason.
pub fn note(field: &str, v: &str) -> Result<String> {
    optional_text(field, v, MAX_NOTE)
}

/// Checks that a transition from the loan's current state is allowed.
pub fn require_state(loan: &Loan, allowed: &[&str], doing: &str) -> Result<()> {
    let state = loan.state();
    if allowed.contains(&state) {
        Ok(())
    } else {
        Err(Error::precondition(format!(
            "impossible de {doing} le prêt {} : il est à l'état {state} (attendu : {})",
            loan.id,
            allowed.join(" ou ")
        )))
    }
}

#[cfg(test)]
mod tests {

    #[test]
    fn state_filters_take_keys_and_french_words() {
        for (typed, key) in [
            ("requested", "requested"),
            ("demandé", "requested"),
            ("Demande", "requested"),
            ("SORTI", "checked_out"),
            ("checked_out", "checked_out"),
            ("en retard", "overdue"),
            ("en_retard", "overdue"),
            ("annulé", "cancelled"),
        ] {
            assert_eq!(state_filter(typed).unwrap(), key, "{typed}");
        }
        let e = state_filter("perdu").unwrap_err().to_string();
        assert!(e.contains("demandé (requested)"), "{e}");
    }
    use super::*;
    use chrono::TimeZone;
    use proptest::prelude::*;

    fn t(h: i64) -> DateTime<Utc> {
        Utc.timestamp_opt(1_800_000_000 + h * 3600, 0).unwrap()
    }

    fn b(loan: &str, items: &[&str], from: i64, to: i64) -> Booking {
        Booking {
            loan: loan.into(),
            items: items.iter().map(|s| s.to_string()).collect(),
            from: t(from),
            to: t(to),
        }
    }

    #[test]
    fn overlap_is_half_open() {
        let a = b("a", &["x"], 0, 10);
        assert!(find_conflict(&b("c", &["x"], 10, 20), std::slice::from_ref(&a)).is_none());
        assert!(find_conflict(&b("c", &["y"], 5, 20), std::slice::from_ref(&a)).is_none());
        assert_eq!(
            find_conflict(&b("c", &["y", "x"], 9, 20), &[a]),
            Some(("a".into(), "x".into()))
        );
    }

    #[test]
    fn conflicts_lists_every_overlapping_loan() {
        let all = vec![
            b("a", &["x"], 0, 10),
            b("b", &["x"], 20, 30),
            b("c", &["x", "y"], 25, 40),
            b("d", &["y"], 0, 5),
        ];
        assert_eq!(
            conflicts(&all),
            vec![("x".to_string(), vec!["b".to_string(), "c".to_string()])]
        );
    }

    fn transition() -> Transition {
        Transition {
            at: "t".into(),
            site: "s".into(),
            role: "director".into(),
            note: String::new(),
        }
    }

    #[test]
    fn states_follow_the_records() {
        let mut loan = Loan {
            id: "l".into(),
            borrower: "b".into(),
            lender: "l".into(),
            request: Some(LoanRequest {
                lender: "l".into(),
                equipment: vec!["x".into()],
                from: "2026-01-01T00:00:00Z".into(),
                to: "2026-01-02T00:00:00Z".into(),
                purpose: String::new(),
                action: String::new(),
                event: String::new(),
                requested: transition(),
                cancelled: None,
            }),
            decision: None,
        };
        assert_eq!(loan.state(), "requested");
        let mut d = LoanDecision {
            borrower: "b".into(),
            equipment: vec!["x".into()],
            from: "2026-01-01T00:00:00Z".into(),
            to: "2026-01-02T00:00:00Z".into(),
            approved: Some(transition()),
            refused: None,
            checked_out: None,
            returned: None,
            incident: String::new(),
            recorded: None,
            return_condition: String::new(),
            incident_items: Vec::new(),
        };
        loan.decision = Some(d.clone());
        assert_eq!(loan.state(), "approved");
        assert!(loan.is_active());
        loan.request.as_mut().unwrap().cancelled = Some(transition());
        assert_eq!(loan.state(), "cancelled");
        assert!(!loan.is_active());
        d.checked_out = Some(transition());
        loan.decision = Some(d.clone());
        assert_eq!(
            loan.state(),
            "checked_out",
            "a check-out is a physical fact"
        );
        let after = parse_stored("2026-01-03T00:00:00Z").unwrap();
        assert!(loan.overdue(after));
        d.returned = Some(transition());
        loan.decision = Some(d);
        assert_eq!(loan.state(), "returned");
        assert!(!loan.overdue(after));
    }

    /// Decisions written before `recorded`, `return_condition` and
    /// `incident_items` existed still read, with empty values.
    #[test]
    fn decisions_written_before_the_new_fields_still_read() {
        #[derive(Reconcile)]
        struct OldDecision {
            borrower: String,
            equipment: Vec<String>,
            from: String,
            to: String,
            approved: Option<Transition>,
            refused: Option<Transition>,
            checked_out: Option<Transition>,
            returned: Option<Transition>,
            incident: String,
        }
        let old = OldDecision {
            borrower: "b".into(),
            equipment: vec!["eq-1".into()],
            from: "2026-01-01T00:00:00Z".into(),
            to: "2026-01-02T00:00:00Z".into(),
            approved: Some(transition()),
            refused: None,
            checked_out: Some(transition()),
            returned: Some(transition()),
            incident: "rayure".into(),
        };
        let mut doc = AutoCommit::new();
        super::super::put_entry(&mut doc, DECISIONS, "ln-1", &old).unwrap();
        let d = get_decision(&doc, "ln-1").unwrap().unwrap();
        assert_eq!(d.incident, "rayure");
        assert_eq!(d.recorded, None);
        assert_eq!(d.return_condition, "");
        assert!(d.incident_items.is_empty());
    }

    #[test]
    fn return_conditions_take_french_words() {
        for (typed, key) in [
            ("usable", "usable"),
            ("utilisable", "usable"),
            ("à réparer", "to_repair"),
            ("a_reparer", "to_repair"),
            ("À-RÉPARER", "to_repair"),
            ("to_repair", "to_repair"),
        ] {
            assert_eq!(return_condition(typed).unwrap(), key, "{typed}");
        }
        assert!(return_condition("cassé").is_err());
    }

    proptest! {
        /// Approving in any order with the rule never leaves two overlapping
        /// approvals of one item, and refuses exactly what a brute-force check refuses.
        #[test]
        fn approval_rule_matches_brute_force(
            reqs in prop::collection::vec((prop::collection::btree_set(0u8..4, 1..3), 0i64..50, 1i64..20), 1..25)
        ) {
            let candidates: Vec<Booking> = reqs.iter().enumerate().map(|(i, (items, from, len))| Booking {
                loan: format!("l{i}"),
                items: items.iter().map(|x| format!("eq{x}")).collect(),
                from: t(*from),
                to: t(from + len),
            }).collect();
            let mut approved: Vec<Booking> = Vec::new();
            for c in &candidates {
                let brute = approved.iter().any(|a| {
                    a.items.iter().any(|i| c.items.contains(i))
                        && !(c.to <= a.from || a.to <= c.from)
                });
                let rule = find_conflict(c, &approved).is_some();
                prop_assert_eq!(rule, brute);
                if !rule {
                    approved.push(c.clone());
                }
            }
            prop_assert!(conflicts(&approved).is_empty());
        }
    }
}
