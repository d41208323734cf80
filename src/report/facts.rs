//! The records indicators are computed from, flattened out of the documents
//! and kept up to date as documents change.
//!
//! Two layers: each document's records, hydrated once per state of the
//! document (its heads); and the network's facts, joined from them (a loan's
//! request is in the borrower's document, its decisions in the lender's; a
//! purchase's decisions are in `network`) and rebuilt only when a document
//! changed. A report then reads plain vectors.

use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, Mutex};

use automerge::{AutoCommit, ChangeHash};
use chrono::{DateTime, NaiveDate, Utc};
use rust_decimal::Decimal;

use crate::docs::{Docs, NETWORK_DOC};
use crate::domain::actions::{self, ActionDoc};
use crate::domain::calendar::{self, Event};
use crate::domain::equipment::{self, Equipment};
use crate::domain::loans::{self, Loan, LoanDecision, LoanRequest};
use crate::domain::partners::{self, Partner};
use crate::domain::purchases::{self, Decision, Purchase};
use crate::domain::site::read_profile;
use crate::domain::time;
use crate::error::Result;

/// Occurrences of one recurring event that reports look at, at most.
pub const MAX_OCCURRENCES: usize = 5_000;

/// What one document holds that reports use.
#[derive(Debug, Default)]
pub struct DocRecords {
    pub site_name: String,
    pub requests: BTreeMap<String, LoanRequest>,
    pub decisions: BTreeMap<String, LoanDecision>,
    pub equipment: BTreeMap<String, Equipment>,
    pub events: BTreeMap<String, Event>,
    pub partners: BTreeMap<String, Partner>,
    pub purchases: BTreeMap<String, Purchase>,
    pub purchase_decisions: BTreeMap<String, Decision>,
    pub action: Option<ActionDoc>,
}

fn read_records(id: &str, doc: &AutoCommit) -> Result<DocRecords> {
    let mut r = DocRecords::default();
    if id == NETWORK_DOC {
        r.events = calendar::all(doc)?;
        r.purchase_decisions = purchases::decisions(doc)?;
    } else if id.starts_with("site/") {
        r.site_name = read_profile(doc).map(|p| p.name).unwrap_or_default();
        r.requests = loans::requests(doc)?;
        r.decisions = loans::decisions(doc)?;
        r.equipment = equipment::all(doc)?;
        r.events = calendar::all(doc)?;
        r.partners = partners::all(doc)?;
        r.purchases = purchases::all(doc)?;
    } else if id.starts_with("action/") {
        r.action = Some(actions::load(doc)?);
    }
    Ok(r)
}

/// Paris calendar date of a stored instant.
fn day(dt: DateTime<Utc>) -> NaiveDate {
    time::paris(dt).date_naive()
}

/// The last day a window ending at `end` covers (an end at midnight covers
/// the day before).
fn last_day(end: DateTime<Utc>) -> NaiveDate {
    day(end - chrono::Duration::seconds(1))
}

fn date_of(s: &str) -> Option<NaiveDate> {
    if let Ok(d) = NaiveDate::parse_from_str(s, "%Y-%m-%d") {
        return Some(d);
    }
    DateTime::parse_from_rfc3339(s)
        .ok()
        .map(|d| day(d.with_timezone(&Utc)))
}

fn dec(s: &str) -> Decimal {
    s.parse().unwrap_or_default()
}

#[derive(Debug, Clone)]
pub struct LoanFact {
    pub id: String,
    pub lender: String,
    pub borrower: String,
    pub state: &'static str,
    /// End of the window: a loan still out after it is overdue.
    pub end: DateTime<Utc>,
    /// First and last day of the window (Paris dates).
    pub from: NaiveDate,
    pub to: NaiveDate,
    pub window: (String, String),
    /// Category of each item lent (unknown items: "inconnue").
    pub categories: Vec<String>,
    pub items: Vec<String>,
    pub action: String,
    pub purpose: String,
}

#[derive(Debug, Clone)]
pub struct ItemFact {
    pub site: String,
    pub category: String,
    /// Loanable and not retired.
    pub lendable: bool,
    pub created: NaiveDate,
}

#[derive(Debug, Clone)]
pub struct EventFact {
    pub id: String,
    /// The organising site (or `network`).
    pub site: String,
    pub title: String,
    pub kind: String,
    pub cancelled: bool,
    /// Start day of every occurrence (one for a single event).
    pub days: Vec<NaiveDate>,
    pub start: String,
    pub attendance: Option<[i64; 4]>,
    pub action: String,
}

#[derive(Debug, Clone)]
pub struct ActionFact {
    pub id: String,
    pub title: String,
    pub axis: i64,
    pub status: String,
    pub lead: String,
    /// Lead and participants.
    pub sites: Vec<String>,
    pub start: Option<NaiveDate>,
    pub end: Option<NaiveDate>,
    pub budget_planned: Decimal,
    pub budget_spent: Decimal,
    /// (name, target, actual), absent values as zero.
    pub indicators: Vec<(String, Decimal, Decimal)>,
}

#[derive(Debug, Clone)]
pub struct PartnerFact {
    pub site: String,
    pub kind: String,
    pub created: NaiveDate,
    pub contribution: Decimal,
    pub in_kind: bool,
    pub actions: Vec<String>,
}

#[derive(Debug, Clone)]
pub struct PurchaseFact {
    pub id: String,
    pub site: String,
    pub object: String,
    pub funding: String,
    pub state: &'static str,
    /// Day of the latest submission; none for a draft.
    pub submitted: Option<NaiveDate>,
    pub ttc: Decimal,
    pub action: String,
}

/// Every fact of the network, as one state of its documents shows it.
#[derive(Debug, Default)]
pub struct Facts {
    /// Site id → name.
    pub sites: BTreeMap<String, String>,
    pub loans: Vec<LoanFact>,
    pub items: Vec<ItemFact>,
    pub events: Vec<EventFact>,
    pub actions: Vec<ActionFact>,
    pub partners: Vec<PartnerFact>,
    pub purchases: Vec<PurchaseFact>,
    /// Action id → axis.
    pub axis_of: HashMap<String, i64>,
}

impl Facts {
    /// The axis of the action a record is linked to.
    pub fn axis(&self, action: &str) -> Option<i64> {
        if action.is_empty() {
            None
        } else {
            self.axis_of.get(action).copied()
        }
    }
}

fn owner(doc_id: &str) -> String {
    doc_id.trim_start_matches("site/").to_string()
}

/// Joins the records of every document into facts.
fn join(records: &BTreeMap<String, (Vec<ChangeHash>, Arc<DocRecords>)>) -> Facts {
    let mut f = Facts::default();
    let mut categories: HashMap<(String, String), String> = HashMap::new();
    let mut site_loans = Vec::new();
    let mut decisions: BTreeMap<String, Vec<Decision>> = BTreeMap::new();
    for (id, (_, r)) in records {
        if let Some(a) = &r.action {
            f.axis_of.insert(a.id.clone(), a.axis);
            let mut sites = vec![a.lead.clone()];
            sites.extend(a.participants.keys().filter(|s| **s != a.lead).cloned());
            f.actions.push(ActionFact {
                id: a.id.clone(),
                title: a.title.clone(),
                axis: a.axis,
                status: a.status.clone(),
                lead: a.lead.clone(),
                sites,
                start: date_of(&a.start),
                end: date_of(&a.end),
                budget_planned: dec(&a.budget_planned),
                budget_spent: dec(&a.budget_spent),
                indicators: a
                    .indicators
                    .iter()
                    .map(|(k, v)| (k.clone(), dec(&v.target), dec(&v.actual)))
                    .collect(),
            });
        }
        for d in r.purchase_decisions.values() {
            decisions
                .entry(d.purchase.clone())
                .or_default()
                .push(d.clone());
        }
        if !id.starts_with("site/") && id != NETWORK_DOC {
            continue;
        }
        let site = owner(id);
        if id.starts_with("site/") {
            f.sites.insert(site.clone(), r.site_name.clone());
        }
        for (eid, e) in &r.equipment {
            categories.insert((site.clone(), eid.clone()), e.category.clone());
            f.items.push(ItemFact {
                site: site.clone(),
                category: e.category.clone(),
                lendable: e.loanable && e.status != "retired",
                created: date_of(&e.created_at).unwrap_or(NaiveDate::MIN),
            });
        }
        for (eid, e) in &r.events {
            let days = calendar::occurrences(
                e,
                DateTime::<Utc>::MIN_UTC,
                DateTime::<Utc>::MAX_UTC,
                MAX_OCCURRENCES,
            )
            .unwrap_or_default()
            .into_iter()
            .map(|(s, _)| s.date_naive())
            .collect();
            f.events.push(EventFact {
                id: eid.clone(),
                site: if e.organiser.is_empty() {
                    site.clone()
                } else {
                    e.organiser.clone()
                },
                title: e.title.clone(),
                kind: e.kind.clone(),
                cancelled: e.status == calendar::CANCELLED,
                days,
                start: e.start.clone(),
                attendance: e
                    .attendance
                    .as_ref()
                    .map(|a| [a.pupils, a.teachers, a.families, a.partners]),
                action: e.action.clone(),
            });
        }
        for (pid, p) in &r.partners {
            f.partners.push(PartnerFact {
                site: site.clone(),
                kind: p.kind.clone(),
                created: date_of(&p.created_at).unwrap_or(NaiveDate::MIN),
                contribution: dec(&p.contribution_eur),
                in_kind: !p.contribution_in_kind.trim().is_empty(),
                actions: p.actions.clone(),
            });
            let _ = pid;
        }
        if !r.requests.is_empty() || !r.decisions.is_empty() {
            site_loans.push((site.clone(), r.requests.clone(), r.decisions.clone()));
        }
    }
    for (id, (_, r)) in records {
        if !id.starts_with("site/") {
            continue;
        }
        let site = owner(id);
        for (pid, p) in &r.purchases {
            let mut ds = decisions.remove(pid).unwrap_or_default();
            ds.sort_by_key(|d| d.submission);
            let latest = ds.iter().rev().find(|d| d.submission == p.submissions);
            f.purchases.push(PurchaseFact {
                id: pid.clone(),
                site: site.clone(),
                object: p.object.clone(),
                funding: p.funding.clone(),
                state: p.state(latest),
                submitted: p.submitted.as_ref().and_then(|t| date_of(&t.at)),
                ttc: p.totals().ttc,
                action: p.action.clone(),
            });
        }
    }
    for loan in loans::join(site_loans) {
        f.loans.extend(loan_fact(&loan, &categories));
    }
    f
}

fn loan_fact(loan: &Loan, categories: &HashMap<(String, String), String>) -> Option<LoanFact> {
    let (from, to) = loan.window()?;
    let items = loan.equipment().to_vec();
    Some(LoanFact {
        id: loan.id.clone(),
        lender: loan.lender.clone(),
        borrower: loan.borrower.clone(),
        state: loan.state(),
        end: to,
        from: day(from),
        to: last_day(to).max(day(from)),
        window: {
            let (a, b) = loan.window_text();
            (a.to_string(), b.to_string())
        },
        categories: items
            .iter()
            .map(|i| {
                categories
                    .get(&(loan.lender.clone(), i.clone()))
                    .cloned()
                    .unwrap_or_else(|| "inconnue".into())
            })
            .collect(),
        items,
        action: loan
            .request
            .as_ref()
            .map(|r| r.action.clone())
            .unwrap_or_default(),
        purpose: loan
            .request
            .as_ref()
            .map(|r| r.purpose.clone())
            .unwrap_or_default(),
    })
}

/// Keeps the facts of a node's documents up to date, reading again only the
/// documents whose heads moved.
#[derive(Default)]
pub struct Index {
    inner: Mutex<IndexState>,
}

#[derive(Default)]
struct IndexState {
    records: BTreeMap<String, (Vec<ChangeHash>, Arc<DocRecords>)>,
    facts: Option<Arc<Facts>>,
}

/// What one refresh of the index did.
#[derive(Debug, Default, Clone, Copy)]
pub struct Refresh {
    pub documents: usize,
    pub reread: usize,
    pub rebuilt: bool,
}

impl Index {
    pub fn new() -> Index {
        Index::default()
    }

    /// The facts of the documents as they are now.
    pub fn facts(&self, docs: &Docs) -> Result<(Arc<Facts>, Refresh)> {
        let mut st = self.inner.lock().unwrap();
        let ids = docs.ids();
        let mut refresh = Refresh {
            documents: ids.len(),
            ..Default::default()
        };
        let mut changed = false;
        let mut next = BTreeMap::new();
        for id in ids {
            let relevant =
                id == NETWORK_DOC || id.starts_with("site/") || id.starts_with("action/");
            if !relevant {
                continue;
            }
            let heads = docs.raw_heads(&id);
            match st.records.get(&id) {
                Some((h, r)) if *h == heads => {
                    next.insert(id, (heads, r.clone()));
                }
                _ => {
                    let Some(read) = docs.read_at_heads(&id, |d| read_records(&id, d)) else {
                        continue;
                    };
                    let (heads, r) = read;
                    next.insert(id, (heads, Arc::new(r?)));
                    refresh.reread += 1;
                    changed = true;
                }
            }
        }
        changed |= next.len() != st.records.len();
        if changed || st.facts.is_none() {
            st.facts = Some(Arc::new(join(&next)));
            refresh.rebuilt = true;
        }
        st.records = next;
        Ok((st.facts.clone().expect("built above"), refresh))
    }
}
