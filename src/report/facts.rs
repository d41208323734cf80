//! The records indicators are computed from, flattened out of the documents
//! and kept up to date as documents change.
//!
//! Two layers: each document's facts, read again only when the document's
//! heads moved (with a one-pass reader of the fields reports need: hydrating
//! every record field by field is 20 times slower, see `bench report`); and
//! the network's facts, where what spans documents is joined (a loan's
//! request is in the borrower's document, its decisions in the lender's; a
//! purchase's decisions are in `network`).

use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, Mutex};

use automerge::{AutoCommit, ChangeHash, ObjId, ObjType, ReadDoc, ScalarValueRef, ValueRef};
use chrono::{DateTime, NaiveDate, Utc};
use rust_decimal::Decimal;

use crate::base::NETWORK_DOC;
use crate::docs::Docs;
use crate::domain::actions::{self, ActionDoc};
use crate::domain::calendar::{self, Event};
use crate::domain::loans;
use crate::domain::purchases::{self, Decision, Purchase};
use crate::domain::site::read_profile;
use crate::domain::{equipment, partners, root_maps, time};
use crate::error::Result;

/// Occurrences of one recurring event that reports look at, at most.
pub const MAX_OCCURRENCES: usize = 5_000;

/// Shared text: facts are joined again after every change, by reference.
pub type Text = Arc<str>;

/// A window as stored, with what it means, if readable: its end, and its
/// first and last days (Paris dates).
#[derive(Debug, Clone, Default)]
pub struct Window {
    pub from: Text,
    pub to: Text,
    /// Start, end, first day, last day.
    pub at: Option<(DateTime<Utc>, DateTime<Utc>, NaiveDate, NaiveDate)>,
}

impl Window {
    fn new(from: String, to: String) -> Window {
        let at = loans::parse_stored(&from)
            .zip(loans::parse_stored(&to))
            .map(|(start, end)| (start, end, day(start), last_day(end).max(day(start))));
        Window {
            from: from.into(),
            to: to.into(),
            at,
        }
    }
}

/// A loan's request, as the borrower's document holds it.
#[derive(Debug, Clone, Default)]
pub struct RequestFact {
    pub lender: Text,
    pub equipment: Arc<Vec<String>>,
    pub window: Window,
    pub purpose: Text,
    pub action: Text,
    pub cancelled: bool,
}

/// A loan's decisions, as the lender's document holds them.
#[derive(Debug, Clone, Default)]
pub struct DecisionFact {
    pub borrower: Text,
    pub equipment: Arc<Vec<String>>,
    pub window: Window,
    pub approved: bool,
    pub refused: bool,
    pub checked_out: bool,
    pub returned: bool,
    /// Entered by the lender after the fact (`loan record`).
    pub recorded: bool,
}

/// The state of a loan from its two halves, as [`loans::Loan::state`].
pub fn loan_state(r: Option<&RequestFact>, d: Option<&DecisionFact>) -> &'static str {
    let has = |f: fn(&DecisionFact) -> bool| d.is_some_and(f);
    if has(|d| d.returned) {
        "returned"
    } else if has(|d| d.checked_out) {
        "checked_out"
    } else if r.is_some_and(|r| r.cancelled) {
        "cancelled"
    } else if has(|d| d.refused) {
        "refused"
    } else if has(|d| d.approved) {
        "approved"
    } else {
        "requested"
    }
}

#[derive(Debug, Clone)]
pub struct LoanFact {
    pub id: Text,
    pub lender: Text,
    pub borrower: Text,
    pub state: &'static str,
    pub start: DateTime<Utc>,
    /// End of the window: a loan still out after it is overdue.
    pub end: DateTime<Utc>,
    /// First and last day of the window (Paris dates).
    pub from: NaiveDate,
    pub to: NaiveDate,
    pub window: (Text, Text),
    /// Category of each item lent (unknown items: "inconnue").
    pub categories: Vec<Text>,
    pub items: Arc<Vec<String>>,
    pub action: Text,
    pub purpose: Text,
    /// Entered by the lender after the fact (`loan record`).
    pub recorded: bool,
}

#[derive(Debug, Clone)]
pub struct ItemFact {
    pub id: String,
    pub site: String,
    pub category: String,
    /// Loanable and not retired.
    pub lendable: bool,
    pub retired: bool,
    /// The day it counts from: its acquisition date, else its creation day.
    pub since: NaiveDate,
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
    /// Attendance by occurrence day, in order: each occurrence recorded, and
    /// a series' single figure (documents before attendance per occurrence)
    /// on its first day.
    pub attendance: Vec<(NaiveDate, [i64; 4])>,
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

/// What one document holds that reports use.
#[derive(Debug, Default)]
pub struct DocFacts {
    /// The site whose document it is (empty for others).
    pub site: Text,
    pub site_name: String,
    pub items: Vec<ItemFact>,
    /// Item id → category.
    pub categories: HashMap<String, Text>,
    pub events: Vec<EventFact>,
    pub partners: Vec<PartnerFact>,
    pub requests: Vec<(Text, RequestFact)>,
    pub decisions: Vec<(Text, DecisionFact)>,
    pub purchases: Vec<(String, Purchase)>,
    pub purchase_decisions: Vec<Decision>,
    pub action: Option<ActionFact>,
}

/// Every fact of the network, as one state of its documents shows it.
#[derive(Debug, Default)]
pub struct Facts {
    /// Site id → name.
    pub sites: BTreeMap<String, String>,
    pub loans: Vec<LoanFact>,
    pub actions: Vec<ActionFact>,
    pub purchases: Vec<PurchaseFact>,
    /// Action id → axis.
    pub axis_of: HashMap<String, i64>,
    /// Each document's own facts (items, events, partners), shared with the index.
    pub docs: Vec<Arc<DocFacts>>,
}

impl Facts {
    /// Items booked by overlapping active loans (approved or checked out),
    /// with those loans: what [`loans::conflicts`] finds in the joined loans.
    pub fn loan_conflicts(&self) -> Vec<(String, Vec<String>)> {
        loans::conflicts(&self.bookings())
    }

    /// Ids of the loans of `lender` whose borrower cancelled the request.
    pub fn cancelled_requests<'a>(&'a self, lender: &'a str) -> impl Iterator<Item = String> + 'a {
        self.docs
            .iter()
            .flat_map(|d| d.requests.iter())
            .filter(move |(_, r)| r.cancelled && &*r.lender == lender)
            .map(|(id, _)| id.to_string())
    }

    /// Active bookings (approved or checked out) of the whole network.
    pub fn bookings(&self) -> Vec<loans::Booking> {
        self.loans
            .iter()
            .filter(|l| matches!(l.state, "approved" | "checked_out"))
            .map(|l| loans::Booking {
                loan: l.id.to_string(),
                items: l.items.to_vec(),
                from: l.start,
                to: l.end,
            })
            .collect()
    }

    /// The axis of the action a record is linked to.
    pub fn axis(&self, action: &str) -> Option<i64> {
        if action.is_empty() {
            None
        } else {
            self.axis_of.get(action).copied()
        }
    }

    pub fn items(&self) -> impl Iterator<Item = &ItemFact> {
        self.docs.iter().flat_map(|d| d.items.iter())
    }

    pub fn events(&self) -> impl Iterator<Item = &EventFact> {
        self.docs.iter().flat_map(|d| d.events.iter())
    }

    pub fn partners(&self) -> impl Iterator<Item = &PartnerFact> {
        self.docs.iter().flat_map(|d| d.partners.iter())
    }
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

/// One field of a record, as read in one pass over its map.
enum Field {
    Str(String),
    Int(i64),
    Bool(bool),
    Obj(ObjId, ObjType),
    Other,
}

impl Field {
    fn str(self) -> String {
        match self {
            Field::Str(s) => s,
            _ => String::new(),
        }
    }
}

/// Every field of the map `obj`, in one pass.
fn fields(doc: &AutoCommit, obj: &ObjId) -> Vec<(String, Field)> {
    doc.map_range(obj, ..)
        .map(|item| {
            let f = match &item.value {
                ValueRef::Object(t) => Field::Obj(item.id(), *t),
                ValueRef::Scalar(ScalarValueRef::Str(s)) => Field::Str(s.to_string()),
                ValueRef::Scalar(ScalarValueRef::Int(i)) => Field::Int(*i),
                ValueRef::Scalar(ScalarValueRef::Uint(i)) => Field::Int(*i as i64),
                ValueRef::Scalar(ScalarValueRef::Boolean(b)) => Field::Bool(*b),
                _ => Field::Other,
            };
            (item.key.to_string(), f)
        })
        .collect()
}

/// The strings of a list object.
fn strings(doc: &AutoCommit, f: Field) -> Vec<String> {
    match f {
        Field::Obj(id, ObjType::List) => doc
            .list_range(&id, ..)
            .filter_map(|i| match i.value {
                ValueRef::Scalar(ScalarValueRef::Str(s)) => Some(s.to_string()),
                _ => None,
            })
            .collect(),
        _ => Vec::new(),
    }
}

/// Every record of the collection `key`: (id, record map), first map wins.
fn records(doc: &AutoCommit, key: &str) -> Vec<(String, ObjId)> {
    let mut seen = std::collections::HashSet::new();
    let mut out = Vec::new();
    for map in root_maps(doc, key) {
        for item in doc.map_range(&map, ..) {
            if let ValueRef::Object(ObjType::Map) = item.value {
                if seen.insert(item.key.to_string()) {
                    out.push((item.key.to_string(), item.id()));
                }
            }
        }
    }
    out
}

fn read_event(doc: &AutoCommit, site: &str, id: &str, obj: &ObjId) -> Option<EventFact> {
    let mut e = EventFact {
        id: id.to_string(),
        site: site.to_string(),
        title: String::new(),
        kind: String::new(),
        cancelled: false,
        days: Vec::new(),
        start: String::new(),
        attendance: Vec::new(),
        action: String::new(),
    };
    let mut single = None;
    let (mut all_day, mut rrule, mut exdates) = (false, String::new(), false);
    for (k, f) in fields(doc, obj) {
        match k.as_str() {
            "title" => e.title = f.str(),
            "kind" => e.kind = f.str(),
            "start" => e.start = f.str(),
            "all_day" => all_day = matches!(f, Field::Bool(true)),
            "rrule" => rrule = f.str(),
            "exdates" => exdates = !strings(doc, f).is_empty(),
            "status" => e.cancelled = f.str() == calendar::CANCELLED,
            "organiser" => {
                let o = f.str();
                if !o.is_empty() {
                    e.site = o;
                }
            }
            "action" => e.action = f.str(),
            "attendance" => single = counts(doc, f),
            "occurrence_attendance" => {
                if let Field::Obj(m, ObjType::Map) = f {
                    for (day, f) in fields(doc, &m) {
                        if let (Ok(d), Some(c)) =
                            (NaiveDate::parse_from_str(&day, "%Y-%m-%d"), counts(doc, f))
                        {
                            e.attendance.push((d, c));
                        }
                    }
                }
            }
            _ => {}
        }
    }
    if rrule.is_empty() && !exdates {
        // A single event: its day, without the recurrence machinery.
        let d = if all_day {
            NaiveDate::parse_from_str(&e.start, "%Y-%m-%d").ok()
        } else {
            time::parse_instant(&e.start)
                .ok()
                .map(|s| s.with_timezone(&time::TZ).date_naive())
        };
        e.days.extend(d);
    } else {
        let full: Event = autosurgeon::hydrate_prop(doc, obj_parent(doc, obj)?, id).ok()?;
        e.days = calendar::occurrences(
            &full,
            DateTime::<Utc>::MIN_UTC,
            DateTime::<Utc>::MAX_UTC,
            MAX_OCCURRENCES,
        )
        .unwrap_or_default()
        .into_iter()
        .map(|(s, _)| s.date_naive())
        .collect();
    }
    if let (Some(a), Some(first)) = (single, e.days.first()) {
        if !e.attendance.iter().any(|(d, _)| d == first) {
            e.attendance.push((*first, a));
        }
    }
    e.attendance.sort_by_key(|(d, _)| *d);
    Some(e)
}

/// Attendance counts (pupils, teachers, families, partners) of a map.
fn counts(doc: &AutoCommit, f: Field) -> Option<[i64; 4]> {
    let Field::Obj(a, ObjType::Map) = f else {
        return None;
    };
    let mut counts = [0i64; 4];
    for (k, f) in fields(doc, &a) {
        let slot = match k.as_str() {
            "pupils" => 0,
            "teachers" => 1,
            "families" => 2,
            "partners" => 3,
            _ => continue,
        };
        if let Field::Int(n) = f {
            counts[slot] = n;
        }
    }
    Some(counts)
}

/// The map holding the record `obj`.
fn obj_parent(doc: &AutoCommit, obj: &ObjId) -> Option<ObjId> {
    doc.parents(obj).ok()?.next().map(|p| p.obj)
}

fn read_request(doc: &AutoCommit, obj: &ObjId) -> RequestFact {
    let mut r = RequestFact::default();
    let (mut from, mut to) = (String::new(), String::new());
    for (k, f) in fields(doc, obj) {
        match k.as_str() {
            "lender" => r.lender = f.str().into(),
            "equipment" => r.equipment = Arc::new(strings(doc, f)),
            "from" => from = f.str(),
            "to" => to = f.str(),
            "purpose" => r.purpose = f.str().into(),
            "action" => r.action = f.str().into(),
            "cancelled" => r.cancelled = matches!(f, Field::Obj(_, ObjType::Map)),
            _ => {}
        }
    }
    r.window = Window::new(from, to);
    r
}

fn read_decision(doc: &AutoCommit, obj: &ObjId) -> DecisionFact {
    let mut d = DecisionFact::default();
    let (mut from, mut to) = (String::new(), String::new());
    for (k, f) in fields(doc, obj) {
        let set = matches!(f, Field::Obj(_, ObjType::Map));
        match k.as_str() {
            "borrower" => d.borrower = f.str().into(),
            "equipment" => d.equipment = Arc::new(strings(doc, f)),
            "from" => from = f.str(),
            "to" => to = f.str(),
            "approved" => d.approved = set,
            "refused" => d.refused = set,
            "checked_out" => d.checked_out = set,
            "returned" => d.returned = set,
            "recorded" => d.recorded = set,
            _ => {}
        }
    }
    d.window = Window::new(from, to);
    d
}

fn action_fact(a: &ActionDoc) -> ActionFact {
    let mut sites = vec![a.lead.clone()];
    sites.extend(a.participants.keys().filter(|s| **s != a.lead).cloned());
    ActionFact {
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
    }
}

/// Reads what reports use of the document `id`.
pub fn read_doc(id: &str, doc: &AutoCommit) -> Result<DocFacts> {
    let mut r = DocFacts::default();
    if id.starts_with("action/") {
        r.action = Some(action_fact(&actions::load(doc)?));
        return Ok(r);
    }
    let site = if id == NETWORK_DOC {
        NETWORK_DOC.to_string()
    } else if let Some(s) = id.strip_prefix("site/") {
        s.to_string()
    } else {
        return Ok(r);
    };
    for (eid, obj) in records(doc, calendar::MAP) {
        r.events.extend(read_event(doc, &site, &eid, &obj));
    }
    if id == NETWORK_DOC {
        r.purchase_decisions = purchases::decisions(doc)?.into_values().collect();
        return Ok(r);
    }
    r.site = site.as_str().into();
    r.site_name = read_profile(doc).map(|p| p.name).unwrap_or_default();
    for (eid, obj) in records(doc, equipment::MAP) {
        let (mut category, mut loanable, mut status, mut created, mut acquired) = (
            String::new(),
            true,
            String::new(),
            String::new(),
            String::new(),
        );
        for (k, f) in fields(doc, &obj) {
            match k.as_str() {
                "category" => category = f.str(),
                "loanable" => loanable = !matches!(f, Field::Bool(false)),
                "status" => status = f.str(),
                "created_at" => created = f.str(),
                "acquired" => acquired = f.str(),
                _ => {}
            }
        }
        r.categories.insert(eid.clone(), category.as_str().into());
        let retired = status == "retired";
        r.items.push(ItemFact {
            id: eid,
            site: site.clone(),
            category,
            lendable: loanable && !retired,
            retired,
            since: date_of(&acquired)
                .or_else(|| date_of(&created))
                .unwrap_or(NaiveDate::MIN),
        });
    }
    for (_, obj) in records(doc, partners::MAP) {
        let mut p = PartnerFact {
            site: site.clone(),
            kind: String::new(),
            created: NaiveDate::MIN,
            contribution: Decimal::ZERO,
            in_kind: false,
            actions: Vec::new(),
        };
        for (k, f) in fields(doc, &obj) {
            match k.as_str() {
                "kind" => p.kind = f.str(),
                "created_at" => p.created = date_of(&f.str()).unwrap_or(NaiveDate::MIN),
                "contribution_eur" => p.contribution = dec(&f.str()),
                "contribution_in_kind" => p.in_kind = !f.str().trim().is_empty(),
                "actions" => p.actions = strings(doc, f),
                _ => {}
            }
        }
        r.partners.push(p);
    }
    for (lid, obj) in records(doc, loans::REQUESTS) {
        r.requests.push((lid.into(), read_request(doc, &obj)));
    }
    for (lid, obj) in records(doc, loans::DECISIONS) {
        r.decisions.push((lid.into(), read_decision(doc, &obj)));
    }
    r.purchases = purchases::all(doc)?.into_iter().collect();
    Ok(r)
}

/// Joins the facts of every document.
pub fn join(docs: Vec<Arc<DocFacts>>) -> Facts {
    let mut f = Facts::default();
    let mut decisions: HashMap<&str, Vec<&Decision>> = HashMap::new();
    let mut requests: HashMap<&str, (&Text, &RequestFact)> = HashMap::new();
    let mut decided: HashMap<&str, (&Text, &DecisionFact)> = HashMap::new();
    let mut ids: Vec<&Text> = Vec::new();
    let mut categories: HashMap<&str, &HashMap<String, Text>> = HashMap::new();
    for d in &docs {
        if let Some(a) = &d.action {
            f.axis_of.insert(a.id.clone(), a.axis);
            f.actions.push(a.clone());
        }
        for p in &d.purchase_decisions {
            decisions.entry(&p.purchase).or_default().push(p);
        }
        if d.site.is_empty() {
            continue;
        }
        f.sites.insert(d.site.to_string(), d.site_name.clone());
        categories.insert(&d.site, &d.categories);
        for (id, r) in &d.requests {
            if requests.insert(id, (&d.site, r)).is_none() && !decided.contains_key(&**id) {
                ids.push(id);
            }
        }
        for (id, dec) in &d.decisions {
            if decided.insert(id, (&d.site, dec)).is_none() && !requests.contains_key(&**id) {
                ids.push(id);
            }
        }
    }
    for d in &docs {
        for (pid, p) in &d.purchases {
            let mut ds = decisions.get(pid.as_str()).cloned().unwrap_or_default();
            ds.sort_by_key(|d| d.submission);
            let latest = ds
                .iter()
                .rev()
                .find(|d| d.submission == p.submissions())
                .copied();
            f.purchases.push(PurchaseFact {
                id: pid.clone(),
                site: d.site.to_string(),
                object: p.object.clone(),
                funding: p.funding.clone(),
                state: p.state(latest),
                submitted: p.submitted.last().and_then(|t| date_of(&t.at)),
                ttc: p.totals().ttc,
                action: p.action.clone(),
            });
        }
    }
    // Loans: the request (borrower's document) with the lender's decisions;
    // either half alone when this node holds only one.
    let unknown: Text = "inconnue".into();
    let empty: Text = "".into();
    f.loans.reserve(ids.len());
    for id in ids {
        let req = requests.get(&**id);
        let dec = decided.get(&**id);
        let (borrower, lender) = match (req, dec) {
            (Some((b, r)), _) => ((*b).clone(), r.lender.clone()),
            (None, Some((l, d))) => (d.borrower.clone(), (*l).clone()),
            (None, None) => continue,
        };
        let window = match (dec, req) {
            (Some((_, d)), _) => &d.window,
            (None, Some((_, r))) => &r.window,
            _ => continue,
        };
        let Some((start, end, first, last)) = window.at else {
            continue;
        };
        let items = match (req, dec) {
            (Some((_, r)), _) => r.equipment.clone(),
            (None, Some((_, d))) => d.equipment.clone(),
            _ => Arc::default(),
        };
        let cats = categories.get(&*lender);
        f.loans.push(LoanFact {
            id: id.clone(),
            recorded: dec.is_some_and(|(_, d)| d.recorded),
            state: loan_state(req.map(|(_, r)| *r), dec.map(|(_, d)| *d)),
            start,
            end,
            from: first,
            to: last,
            window: (window.from.clone(), window.to.clone()),
            categories: items
                .iter()
                .map(|i| cats.and_then(|c| c.get(i)).unwrap_or(&unknown).clone())
                .collect(),
            items,
            action: req
                .map(|(_, r)| r.action.clone())
                .unwrap_or_else(|| empty.clone()),
            purpose: req
                .map(|(_, r)| r.purpose.clone())
                .unwrap_or_else(|| empty.clone()),
            lender,
            borrower,
        });
    }
    f.docs = docs;
    f
}

/// Keeps the facts of a node's documents up to date, reading again only the
/// documents whose heads moved.
#[derive(Default)]
pub struct Index {
    inner: Mutex<IndexState>,
}

#[derive(Default)]
struct IndexState {
    docs: BTreeMap<String, (Vec<ChangeHash>, Arc<DocFacts>)>,
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
            match st.docs.get(&id) {
                Some((h, r)) if *h == heads => {
                    next.insert(id, (heads, r.clone()));
                }
                _ => {
                    let Some((heads, read)) = docs.read_at_heads(&id, |d| read_doc(&id, d)) else {
                        continue;
                    };
                    next.insert(id, (heads, Arc::new(read?)));
                    refresh.reread += 1;
                    changed = true;
                }
            }
        }
        changed |= next.len() != st.docs.len();
        if changed || st.facts.is_none() {
            let all = next.values().map(|(_, r)| r.clone()).collect();
            st.facts = Some(Arc::new(join(all)));
            refresh.rebuilt = true;
        }
        st.docs = next;
        Ok((st.facts.clone().expect("built above"), refresh))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn loan_state_agrees_with_the_domain_for_every_combination() {
        use loans::{Loan, LoanDecision, LoanRequest, Transition};
        let t = || Transition {
            at: "t".into(),
            site: "s".into(),
            role: "director".into(),
            note: String::new(),
        };
        for bits in 0u32..64 {
            let b = |i: u32| bits & (1 << i) != 0;
            let request = b(5).then(|| LoanRequest {
                lender: "a".into(),
                equipment: vec![],
                from: String::new(),
                to: String::new(),
                purpose: String::new(),
                action: String::new(),
                event: String::new(),
                requested: t(),
                cancelled: b(0).then(t),
            });
            let decision = LoanDecision {
                borrower: "b".into(),
                equipment: vec![],
                from: String::new(),
                to: String::new(),
                approved: b(1).then(t),
                refused: b(2).then(t),
                checked_out: b(3).then(t),
                returned: b(4).then(t),
                incident: String::new(),
                recorded: None,
                return_condition: String::new(),
                incident_items: Vec::new(),
            };
            let loan = Loan {
                id: "l".into(),
                borrower: "b".into(),
                lender: "a".into(),
                request: request.clone(),
                decision: Some(decision.clone()),
            };
            let r = request.map(|r| RequestFact {
                cancelled: r.cancelled.is_some(),
                ..Default::default()
            });
            let d = DecisionFact {
                approved: decision.approved.is_some(),
                refused: decision.refused.is_some(),
                checked_out: decision.checked_out.is_some(),
                returned: decision.returned.is_some(),
                ..Default::default()
            };
            assert_eq!(loan_state(r.as_ref(), Some(&d)), loan.state(), "{bits:06b}");
        }
    }

    /// The one-pass reader finds what hydrating the records finds.
    #[test]
    fn the_fast_reader_matches_the_domain_records() {
        use crate::domain::calendar::{new_event, EventInput};
        let mut doc = AutoCommit::new();
        let mut ev = new_event(
            &EventInput {
                title: "Atelier".into(),
                kind: "atelier".into(),
                start: "2026-01-07T14:00".into(),
                end: "2026-01-07T16:00".into(),
                all_day: false,
                rrule: None,
                exdates: vec![],
                place: String::new(),
                audience: vec![],
                action: "act-1".into(),
                participants: vec![],
            },
            "ev-1",
            "metz",
            "2026-01-01T00:00:00Z",
        )
        .unwrap();
        ev.attendance = Some(calendar::Attendance {
            pupils: 24,
            teachers: 2,
            families: 3,
            partners: 1,
            recorded_at: "t".into(),
        });
        calendar::put(&mut doc, "ev-1", &ev).unwrap();
        let mut weekly = ev.clone();
        weekly.rrule = "FREQ=WEEKLY;COUNT=3".into();
        weekly.attendance = None;
        let at = |n| calendar::Attendance {
            pupils: n,
            teachers: 1,
            families: 0,
            partners: 0,
            recorded_at: "t".into(),
        };
        weekly
            .occurrence_attendance
            .insert("2026-01-14".into(), at(8));
        weekly
            .occurrence_attendance
            .insert("2026-01-21".into(), at(7));
        calendar::put(&mut doc, "ev-2", &weekly).unwrap();
        let req = loans::LoanRequest {
            lender: "thionville".into(),
            equipment: vec!["eq-1".into(), "eq-2".into()],
            from: "2027-02-01T00:00:00+01:00".into(),
            to: "2027-02-04T00:00:00+01:00".into(),
            purpose: "atelier".into(),
            action: String::new(),
            event: String::new(),
            requested: loans::Transition {
                at: "t".into(),
                site: "metz".into(),
                role: "director".into(),
                note: String::new(),
            },
            cancelled: None,
        };
        loans::put_request(&mut doc, "ln-1", &req).unwrap();
        let mut item = equipment::new_equipment(
            &equipment::Patch {
                name: Some("Caméra".into()),
                category: Some("vidéo".into()),
                ..Default::default()
            },
            "2026-11-30T10:00:00Z",
        )
        .unwrap();
        equipment::put(&mut doc, "eq-new", &item).unwrap();
        item.acquired = "2025-09-15".into();
        equipment::put(&mut doc, "eq-old", &item).unwrap();
        let facts = read_doc("site/metz", &doc).unwrap();
        let since = |id: &str| facts.items.iter().find(|i| i.id == id).unwrap().since;
        assert_eq!(since("eq-new").to_string(), "2026-11-30", "creation day");
        assert_eq!(since("eq-old").to_string(), "2025-09-15", "acquisition");
        let e = facts.events.iter().find(|e| e.id == "ev-1").unwrap();
        assert_eq!(e.days, vec![NaiveDate::from_ymd_opt(2026, 1, 7).unwrap()]);
        assert_eq!(
            e.attendance,
            vec![(NaiveDate::from_ymd_opt(2026, 1, 7).unwrap(), [24, 2, 3, 1])]
        );
        assert_eq!(
            (e.kind.as_str(), e.action.as_str(), e.site.as_str()),
            ("workshop", "act-1", "metz")
        );
        let w = facts.events.iter().find(|e| e.id == "ev-2").unwrap();
        assert_eq!(w.days.len(), 3, "recurring: every occurrence");
        assert_eq!(
            w.attendance,
            vec![
                (NaiveDate::from_ymd_opt(2026, 1, 14).unwrap(), [8, 1, 0, 0]),
                (NaiveDate::from_ymd_opt(2026, 1, 21).unwrap(), [7, 1, 0, 0]),
            ],
            "each occurrence's attendance"
        );
        let (id, r) = &facts.requests[0];
        assert_eq!(&**id, "ln-1");
        assert_eq!(*r.equipment, req.equipment);
        assert_eq!(
            (&*r.lender, &*r.window.from, r.cancelled),
            ("thionville", req.from.as_str(), false)
        );
        let joined = join(vec![Arc::new(facts)]);
        let l = &joined.loans[0];
        assert_eq!(l.state, "requested");
        assert_eq!(
            (l.from.to_string(), l.to.to_string()),
            ("2027-02-01".to_string(), "2027-02-03".to_string()),
            "an end at midnight covers the day before"
        );
    }
}
