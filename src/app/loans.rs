//! Use cases of loans. A borrower's node writes requests and cancellations;
//! only the lender's node writes decisions, checking every approval against
//! the approvals it holds under its document's lock.

use super::equipment::{find as find_item, holdings, name_of, site_names, Holding};
use super::NodeContext;
use crate::base::new_id;
use crate::domain::equipment::Item;
use crate::domain::loans::{self, Loan, LoanDecision, LoanRequest, Transition};
use crate::domain::{equipment, ids, now_rfc3339, time};
use crate::error::{Error, Result};
use crate::pb;
use chrono::{DateTime, FixedOffset, Utc};
use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;

/// Every loan of the network, joined from all site documents.
///
/// Read again only when a site document moves (and then only the documents
/// that moved are read again): pages and lists ask at every request.
pub fn all_loans(ctx: &NodeContext) -> Result<Arc<Vec<Loan>>> {
    let ids = ctx.docs.ids_with_prefix("site/");
    ctx.docs.memo_of("loans", &ids, || {
        let mut inputs = Vec::new();
        for doc_id in &ids {
            let site = doc_id.trim_start_matches("site/").to_string();
            if let Some(halves) = ctx
                .docs
                .read_memo(doc_id, "loans", |d| -> Result<_> {
                    Ok((loans::requests(d)?, loans::decisions(d)?))
                })
                .transpose()?
            {
                let (reqs, decs) = (*halves).clone();
                inputs.push((site, reqs, decs));
            }
        }
        Ok(loans::join(inputs))
    })
}

/// One loan: its request and decisions, read by key in each site document
/// (not every loan of the network); or, for a unique beginning of an id,
/// the loan it names.
pub fn find_loan(ctx: &NodeContext, id: &str) -> Result<Loan> {
    let id = id.trim();
    if id.is_empty() {
        return Err(Error::invalid("identifiant de prêt manquant"));
    }
    if let Some(l) = find_exact(ctx, id)? {
        return Ok(l);
    }
    let all = all_loans(ctx)?;
    let found = ids::resolve(
        "prêt",
        id,
        all.iter().map(|l| {
            let (f, t) = l.window_text();
            (
                l.id.clone(),
                format!("{} → {}, {}", l.lender, l.borrower, time::fr_period(f, t)),
            )
        }),
    )?;
    Ok(all
        .iter()
        .find(|l| l.id == found)
        .cloned()
        .expect("resolved among these loans"))
}

pub(crate) fn find_exact(ctx: &NodeContext, id: &str) -> Result<Option<Loan>> {
    let mut halves = Vec::new();
    for doc_id in ctx.docs.ids_with_prefix("site/") {
        let site = doc_id.trim_start_matches("site/").to_string();
        let found = ctx
            .docs
            .read(&doc_id, |d| -> Result<_> {
                Ok((loans::get_request(d, id)?, loans::get_decision(d, id)?))
            })
            .transpose()?;
        if let Some((r, d)) = found {
            if r.is_some() || d.is_some() {
                let requests = r.map(|r| (id.to_string(), r)).into_iter().collect();
                let decisions = d.map(|d| (id.to_string(), d)).into_iter().collect();
                halves.push((site, requests, decisions));
            }
        }
    }
    Ok(loans::join(halves).into_iter().next())
}

/// The network's loan conflicts, from the report index.
pub fn conflicts(ctx: &NodeContext) -> Result<Vec<(String, Vec<String>)>> {
    Ok(crate::app::reports::facts(ctx)?.loan_conflicts())
}

/// The network's loan conflicts, as the API reports them (empty if the loans
/// cannot be read).
pub fn conflicts_pb(ctx: &NodeContext) -> Vec<pb::LoanConflict> {
    conflicts(ctx)
        .unwrap_or_default()
        .into_iter()
        .map(|(equipment, loans)| pb::LoanConflict { equipment, loans })
        .collect()
}

/// A transition made now by this node's site, with the caller's role.
pub(crate) fn transition(ctx: &NodeContext, role: &str, note: String) -> Transition {
    Transition {
        at: now_rfc3339(),
        site: ctx.site.clone(),
        role: role.to_string(),
        note,
    }
}

pub(crate) fn pb_transition(t: &Transition) -> pb::Transition {
    pb::Transition {
        at: t.at.clone(),
        site: t.site.clone(),
        role: t.role.clone(),
        note: t.note.clone(),
    }
}

/// Why `item` cannot go out as it is: its status (maintenance, retired),
/// else its condition (out of order); `None` for an item in service.
fn out_of_service_state(item: &Item) -> Option<&'static str> {
    match (item.status.as_str(), item.condition.as_str()) {
        ("maintenance", _) => Some("maintenance"),
        ("retired", _) => Some("retired"),
        (_, "out_of_order") => Some("out_of_order"),
        _ => None,
    }
}

/// What a loan's reply shows besides the loan itself: names for ids, the
/// network's conflicts, and the loans holding items now.
pub struct View {
    /// Site id → name.
    pub sites: BTreeMap<String, String>,
    /// Equipment id → name.
    pub items: BTreeMap<String, String>,
    /// Equipment id → why it cannot go out as it is: "maintenance",
    /// "retired" or "out_of_order" (items in service are absent).
    out_of_service: BTreeMap<String, &'static str>,
    /// Equipment id → the day the use rate counts it from.
    counted_from: BTreeMap<String, chrono::NaiveDate>,
    conflicts: BTreeMap<String, BTreeSet<String>>,
    holdings: Vec<Holding>,
    now: chrono::DateTime<Utc>,
}

impl View {
    /// For any loan of the network.
    pub fn new(ctx: &NodeContext) -> Result<View> {
        let all = super::equipment::list_all(ctx)?;
        Self::with_items(ctx, all.iter())
    }

    /// For `loan` only: reads the names of its items alone.
    pub fn of(ctx: &NodeContext, loan: &Loan) -> Result<View> {
        let items: Vec<Item> = loan
            .equipment()
            .iter()
            .filter_map(|id| find_item(ctx, id).ok().filter(|i| i.id == *id))
            .collect();
        Self::with_items(ctx, items.iter())
    }

    fn with_items<'a>(ctx: &NodeContext, items: impl Iterator<Item = &'a Item>) -> Result<View> {
        let now = Utc::now();
        let mut names = BTreeMap::new();
        let mut out_of_service = BTreeMap::new();
        let mut counted_from = BTreeMap::new();
        for i in items {
            names.insert(i.id.clone(), i.name.clone());
            if let Some(day) = i.counted_from() {
                counted_from.insert(i.id.clone(), day);
            }
            if let Some(why) = out_of_service_state(i) {
                out_of_service.insert(i.id.clone(), why);
            }
        }
        Ok(View {
            sites: site_names(ctx)?,
            items: names,
            out_of_service,
            counted_from,
            conflicts: conflict_index(&conflicts(ctx)?),
            holdings: holdings(ctx, now)?,
            now,
        })
    }

    fn item_name(&self, id: &str) -> String {
        self.items
            .get(id)
            .cloned()
            .unwrap_or_else(|| id.to_string())
    }

    /// The approved or checked-out loans that hold an item of `loan` over
    /// its window (one still out past its end holds it until it comes back).
    fn overlaps(&self, loan: &Loan) -> Vec<pb::LoanOverlap> {
        let Some((from, to)) = loan.window() else {
            return Vec::new();
        };
        let mut out = Vec::new();
        for h in &self.holdings {
            if h.loan == loan.id || !h.overlaps(from, to) {
                continue;
            }
            if let Some(item) = loan.equipment().iter().find(|i| h.items.contains(i)) {
                out.push(pb::LoanOverlap {
                    loan: h.loan.clone(),
                    equipment: item.clone(),
                    equipment_name: self.item_name(item),
                    borrower: h.borrower.clone(),
                    borrower_name: name_of(&self.sites, &h.borrower),
                    from: h.from.clone(),
                    to: h.to.clone(),
                    state: h.state.to_string(),
                    overdue: h.overdue,
                });
            }
        }
        out
    }

    /// The items of `loan` that cannot go out as they are.
    fn out_of_service(&self, loan: &Loan) -> Vec<pb::ItemOutOfService> {
        loan.equipment()
            .iter()
            .filter_map(|id| {
                self.out_of_service
                    .get(id)
                    .map(|state| pb::ItemOutOfService {
                        equipment: id.clone(),
                        equipment_name: self.item_name(id),
                        state: state.to_string(),
                    })
            })
            .collect()
    }

    /// For a loan recorded after the fact, its items counted by the use
    /// rate only from a day after the loan's start.
    fn counted_later(&self, loan: &Loan) -> Vec<pb::ItemCountedFrom> {
        let Some((from, _)) = loan.window().filter(|_| loan.recorded()) else {
            return Vec::new();
        };
        let start = time::paris(from).date_naive();
        loan.equipment()
            .iter()
            .filter_map(|id| {
                let day = self.counted_from.get(id).filter(|d| **d > start)?;
                Some(pb::ItemCountedFrom {
                    equipment: id.clone(),
                    equipment_name: self.item_name(id),
                    counted_from: day.to_string(),
                })
            })
            .collect()
    }

    pub fn to_pb(&self, loan: &Loan) -> pb::Loan {
        let (from, to) = loan.window_text();
        let r = loan.request.as_ref();
        let d = loan.decision.as_ref();
        let t = |f: fn(&LoanDecision) -> &Option<Transition>| {
            d.and_then(|d| f(d).as_ref()).map(pb_transition)
        };
        let state = loan.state();
        pb::Loan {
            id: loan.id.clone(),
            borrower: loan.borrower.clone(),
            lender: loan.lender.clone(),
            equipment: loan.equipment().to_vec(),
            from: from.to_string(),
            to: to.to_string(),
            purpose: r.map(|r| r.purpose.clone()).unwrap_or_default(),
            action: r.map(|r| r.action.clone()).unwrap_or_default(),
            event: r.map(|r| r.event.clone()).unwrap_or_default(),
            state: state.to_string(),
            overdue: loan.overdue(self.now),
            requested: r.map(|r| pb_transition(&r.requested)),
            approved: t(|d| &d.approved),
            refused: t(|d| &d.refused),
            checked_out: t(|d| &d.checked_out),
            returned: t(|d| &d.returned),
            cancelled: r.and_then(|r| r.cancelled.as_ref()).map(pb_transition),
            incident: d.map(|d| d.incident.clone()).unwrap_or_default(),
            conflicts: self
                .conflicts
                .get(&loan.id)
                .map(|s| s.iter().cloned().collect())
                .unwrap_or_default(),
            recorded: loan.recorded(),
            recorded_by: t(|d| &d.recorded),
            equipment_names: loan.equipment().iter().map(|i| self.item_name(i)).collect(),
            borrower_name: name_of(&self.sites, &loan.borrower),
            lender_name: name_of(&self.sites, &loan.lender),
            overlaps: if state == "requested" {
                self.overlaps(loan)
            } else {
                Vec::new()
            },
            out_of_service: if state == "requested" {
                self.out_of_service(loan)
            } else {
                Vec::new()
            },
            counted_later: self.counted_later(loan),
            return_condition: d.map(|d| d.return_condition.clone()).unwrap_or_default(),
            incident_equipment: d
                .filter(|d| !d.incident.is_empty())
                .map(|d| {
                    if d.incident_items.is_empty() {
                        d.equipment.clone()
                    } else {
                        d.incident_items.clone()
                    }
                })
                .unwrap_or_default(),
        }
    }
}

/// Loan id to the other loans it conflicts with.
pub(crate) fn conflict_index(list: &[(String, Vec<String>)]) -> BTreeMap<String, BTreeSet<String>> {
    let mut idx: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    for (_, ids) in list {
        for a in ids {
            for b in ids {
                if a != b {
                    idx.entry(a.clone()).or_default().insert(b.clone());
                }
            }
        }
    }
    idx
}

pub fn loan_reply(ctx: &NodeContext, id: &str) -> Result<pb::Loan> {
    let loan = find_loan(ctx, id)?;
    Ok(View::of(ctx, &loan)?.to_pb(&loan))
}

/// Equipment ids as typed (comma lists, repeated, unique beginnings),
/// resolved and without repeats.
pub(crate) fn typed_items(ctx: &NodeContext, typed: &[String]) -> Result<Vec<Item>> {
    let mut items: Vec<Item> = Vec::new();
    for raw in typed {
        for id in raw.split(',').map(str::trim).filter(|s| !s.is_empty()) {
            let item = find_item(ctx, id)?;
            if !items.iter().any(|x| x.id == item.id) {
                items.push(item);
            }
        }
    }
    if items.len() > loans::MAX_ITEMS {
        return Err(Error::invalid(format!(
            "{} matériels au plus par prêt",
            loans::MAX_ITEMS
        )));
    }
    Ok(items)
}

/// The window of a loan as typed: a start, and an end that includes its day.
pub(crate) fn window(
    from: &str,
    to: &str,
) -> Result<(DateTime<FixedOffset>, DateTime<FixedOffset>)> {
    let from = time::parse_bound(from, false)
        .map_err(|e| Error::invalid(format!("début du prêt (--from) : {e}")))?;
    let to = time::parse_bound(to, true)
        .map_err(|e| Error::invalid(format!("fin du prêt (--to) : {e}")))?;
    if to <= from {
        return Err(Error::invalid("la fin du prêt doit suivre son début"));
    }
    Ok((from, to))
}

/// An incident at a return, checked: its text, the lender's verdict on the
/// items (`usable` or `to_repair`) and the items it concerns.
pub(crate) struct Incident {
    pub(crate) text: String,
    pub(crate) condition: String,
    pub(crate) items: Vec<String>,
}

impl Incident {
    /// No incident: every decision but a return with one.
    pub(crate) fn none() -> Incident {
        Incident {
            text: String::new(),
            condition: String::new(),
            items: Vec::new(),
        }
    }
}

pub(crate) fn incident(
    ctx: &NodeContext,
    loan_items: &[String],
    text: &str,
    condition: &str,
    typed_items: &[String],
) -> Result<Incident> {
    let text = loans::note("incident", text)?;
    let typed: Vec<&str> = typed_items
        .iter()
        .flat_map(|s| s.split(','))
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .collect();
    if text.is_empty() {
        if !condition.trim().is_empty() || !typed.is_empty() {
            return Err(Error::invalid(
                "décrivez l'incident avec --incident : l'état au retour et le matériel concerné l'accompagnent",
            ));
        }
        return Ok(Incident {
            text,
            condition: String::new(),
            items: Vec::new(),
        });
    }
    if condition.trim().is_empty() {
        return Err(Error::invalid(
            "indiquez l'état du matériel après l'incident : --condition utilisable \
             (il reste disponible, son état passe à « usé ») ou --condition à_réparer \
             (il passe en maintenance, hors service)",
        ));
    }
    let condition = loans::return_condition(condition)?.to_string();
    let named = |id: &String| {
        let name = find_item(ctx, id).map(|i| i.name).unwrap_or_default();
        (id.clone(), name)
    };
    let mut items = Vec::new();
    for t in typed {
        let id = ids::resolve("matériel du prêt", t, loan_items.iter().map(named))?;
        if !items.contains(&id) {
            items.push(id);
        }
    }
    if items.is_empty() {
        if loan_items.len() > 1 {
            return Err(Error::invalid(format!(
                "le prêt porte sur plusieurs matériels : indiquez ceux que l'incident concerne avec --incident-equipment ID[,ID…] parmi {}",
                loan_items
                    .iter()
                    .map(|i| {
                        let (id, name) = named(i);
                        format!("{id} ({name})")
                    })
                    .collect::<Vec<_>>()
                    .join(", ")
            )));
        }
        items = loan_items.to_vec();
    }
    Ok(Incident {
        text,
        condition,
        items,
    })
}

/// Marks the items an incident concerns, in the lender's document.
pub(crate) fn apply_incident(
    doc: &mut automerge::AutoCommit,
    i: &Incident,
    now: &str,
) -> Result<()> {
    if i.text.is_empty() {
        return Ok(());
    }
    for id in &i.items {
        if let Some(mut e) = equipment::get(doc, id)? {
            equipment::after_incident(&mut e, &i.condition, now);
            equipment::put(doc, id, &e)?;
        }
    }
    Ok(())
}

/// How long an approval waits for a peer to confirm the lender's copy of its
/// decisions (a node that just started dials its peers at once).
pub const BOOKING_WAIT: std::time::Duration = std::time::Duration::from_secs(3);

/// A lender books its items only from a complete copy of its own decisions:
/// after a start, until a peer has shown that it holds nothing of the site's
/// document this node lacks (a node restored from an old backup has lost its
/// latest approvals until then, and could approve the same days twice).
pub fn may_book_now(docs: &crate::docs::Docs, site_doc: &str) -> Result<()> {
    if docs.confirmed(site_doc) {
        Ok(())
    } else {
        Err(Error::precondition(
            "ce nœud vient de démarrer et n'a pas encore vérifié auprès d'un autre site qu'il détient toutes ses décisions de prêt (après la restauration d'une sauvegarde, les plus récentes lui reviennent des autres sites) : réessayez dès qu'un site voisin est joint",
        ))
    }
}

/// [`may_book_now`], after waiting up to [`BOOKING_WAIT`] for a peer.
pub async fn may_book(docs: &crate::docs::Docs, site_doc: &str) -> Result<()> {
    docs.wait_confirmed(site_doc, BOOKING_WAIT).await;
    may_book_now(docs, site_doc)
}

/// The bookings of this lender's own loans that a new approval or record
/// must not overlap: approved or checked out (not cancelled by the
/// borrower), and, when `with_returned`, returned ones up to their return.
pub(crate) fn lender_bookings(
    doc: &automerge::AutoCommit,
    lender: &str,
    cancelled: &BTreeSet<String>,
    with_returned: bool,
) -> Result<Vec<loans::Booking>> {
    let mut out = Vec::new();
    for (other, od) in loans::decisions(doc)? {
        if cancelled.contains(&other) && od.checked_out.is_none() {
            continue;
        }
        let returned_at = od
            .returned
            .as_ref()
            .and_then(|t| loans::parse_stored(&t.at));
        let l = Loan {
            id: other,
            borrower: od.borrower.clone(),
            lender: lender.to_string(),
            request: None,
            decision: Some(od),
        };
        let keep = l.is_active() || (with_returned && l.state() == "returned");
        if !keep {
            continue;
        }
        if let Some(mut b) = l.booking() {
            if let Some(r) = returned_at {
                b.to = b.to.min(r.max(b.from + chrono::Duration::seconds(1)));
            }
            out.push(b);
        }
    }
    Ok(out)
}

pub async fn request(
    ctx: &NodeContext,
    input: pb::LoanRequestInput,
    role: &str,
) -> Result<pb::Loan> {
    let items = typed_items(ctx, &input.equipment)?;
    if items.is_empty() {
        return Err(Error::invalid(
            "indiquez au moins un matériel (--equipment ID[,ID...])",
        ));
    }
    let (from, to) = window(&input.from, &input.to)?;
    let today = loans::today_paris(Utc::now());
    let first_day = from.with_timezone(&time::TZ).date_naive();
    if first_day < today {
        return Err(Error::invalid(format!(
            "le prêt commencerait le {}, avant aujourd'hui ({}) : une demande commence \
             aujourd'hui ou plus tard. Pour un prêt qui a déjà eu lieu, le site prêteur \
             l'enregistre avec `maillage loan record`",
            time::fr_date(first_day),
            time::fr_date(today)
        )));
    }
    let lender = items[0].site.clone();
    for item in &items {
        let id = &item.id;
        if item.site != lender {
            return Err(Error::invalid(format!(
                "un prêt porte sur le matériel d'un seul site : {id} appartient à {}, pas à {lender}",
                item.site
            )));
        }
        if !item.loanable {
            return Err(Error::precondition(format!(
                "le matériel {id} ({}) n'est pas prêtable",
                item.name
            )));
        }
        if item.status == "retired" {
            return Err(Error::precondition(format!(
                "le matériel {id} ({}) est retiré",
                item.name
            )));
        }
    }
    if lender == ctx.site {
        return Err(Error::invalid(
            "ce matériel appartient à votre site : un prêt se demande à un autre site",
        ));
    }
    let purpose = loans::note("purpose", &input.purpose)?;
    let action = match input.action.trim() {
        "" => String::new(),
        typed => crate::app::actions::resolve(ctx, typed)?,
    };
    let req = LoanRequest {
        lender,
        equipment: items.into_iter().map(|i| i.id).collect(),
        from: time::rfc3339(&from),
        to: time::rfc3339(&to),
        purpose,
        action,
        event: input.event.trim().to_string(),
        requested: transition(ctx, role, String::new()),
        cancelled: None,
    };
    let id = new_id("ln");
    ctx.docs
        .change(&ctx.site_doc(), "loan request", |doc| {
            loans::put_request(doc, &id, &req)
        })
        .await?;
    loan_reply(ctx, &id)
}

/// A loan that already happened, entered by its lender (this node's site):
/// the decision half only, approved and checked out at its start, returned
/// at its end unless still out, and marked as recorded after the fact.
pub async fn record(ctx: &NodeContext, input: pb::LoanRecordInput, role: &str) -> Result<pb::Loan> {
    let items = typed_items(ctx, &input.equipment)?;
    if items.is_empty() {
        return Err(Error::invalid(
            "indiquez au moins un matériel (--equipment ID[,ID...])",
        ));
    }
    if let Some(other) = items.iter().find(|i| i.site != ctx.site) {
        return Err(Error::denied(format!(
            "le matériel {} ({}) appartient au site {} : un prêt s'enregistre sur le nœud du site prêteur",
            other.id, other.name, other.site
        )));
    }
    let names = site_names(ctx)?;
    let mut sites: BTreeSet<String> = ctx
        .docs
        .ids_with_prefix("site/")
        .into_iter()
        .map(|d| d.trim_start_matches("site/").to_string())
        .collect();
    sites.extend(names.keys().cloned());
    let borrower = ids::resolve(
        "site",
        &input.borrower,
        sites
            .iter()
            .map(|s| (s.clone(), names.get(s).cloned().unwrap_or_default())),
    )?;
    if borrower == ctx.site {
        return Err(Error::invalid(
            "l'emprunteur est votre propre site : un prêt se fait à un autre site",
        ));
    }
    let (from, to) = window(&input.from, &input.to)?;
    let now = Utc::now();
    if from.with_timezone(&Utc) > now {
        return Err(Error::invalid(format!(
            "le prêt commence le {}, pas encore arrivé : seul un prêt qui a déjà commencé \
             s'enregistre après coup ; pour un prêt à venir, l'emprunteur le demande \
             (`maillage loan request`)",
            time::fr_bound(&time::rfc3339(&from), false)
        )));
    }
    let tomorrow = time::start_of_day(loans::today_paris(now) + chrono::Duration::days(1))?;
    if !input.not_returned && to > tomorrow {
        return Err(Error::invalid(format!(
            "le prêt se termine le {}, après aujourd'hui : s'il est encore sorti, ajoutez \
             --not-returned ; sinon donnez sa vraie fin",
            time::fr_bound(&time::rfc3339(&to), true)
        )));
    }
    let equipment: Vec<String> = items.iter().map(|i| i.id.clone()).collect();
    let incident = incident(
        ctx,
        &equipment,
        &input.incident,
        &input.condition,
        &input.incident_equipment,
    )?;
    if input.not_returned && !incident.text.is_empty() {
        return Err(Error::invalid(
            "un incident se note au retour : enregistrez-le avec `maillage loan return` quand le matériel revient",
        ));
    }
    let note = loans::note("note", &input.note)?;
    let (from_s, to_s) = (time::rfc3339(&from), time::rfc3339(&to));
    let at = |when: &str| Transition {
        at: when.to_string(),
        ..transition(ctx, role, String::new())
    };
    let decision = LoanDecision {
        borrower,
        equipment,
        from: from_s.clone(),
        to: to_s.clone(),
        approved: Some(at(&from_s)),
        refused: None,
        checked_out: Some(at(&from_s)),
        returned: (!input.not_returned).then(|| at(&to_s)),
        incident: incident.text.clone(),
        recorded: Some(transition(ctx, role, note)),
        return_condition: incident.condition.clone(),
        incident_items: if incident.text.is_empty() {
            Vec::new()
        } else {
            incident.items.clone()
        },
    };
    let cancelled: BTreeSet<String> = crate::app::reports::facts(ctx)?
        .cancelled_requests(&ctx.site)
        .collect();
    may_book(&ctx.docs, &ctx.site_doc()).await?;
    let id = new_id("ln");
    let stamp = now_rfc3339();
    ctx.docs
        .change(&ctx.site_doc(), "loan record", |doc| {
            // Under the lock, as for an approval: no item lent twice at once.
            for item in &decision.equipment {
                if equipment::get(doc, item)?.is_none() {
                    return Err(Error::precondition(format!(
                        "le matériel {item} n'existe plus"
                    )));
                }
            }
            let mine = lender_bookings(doc, &ctx.site, &cancelled, true)?;
            let candidate = loans::Booking {
                loan: id.clone(),
                items: decision.equipment.clone(),
                from: from.with_timezone(&Utc),
                to: to.with_timezone(&Utc),
            };
            if let Some((other, item)) = loans::find_conflict(&candidate, &mine) {
                return Err(Error::precondition(format!(
                    "le matériel {item} est déjà prêté (prêt {other}) sur une période qui chevauche celle-ci"
                )));
            }
            apply_incident(doc, &incident, &stamp)?;
            loans::put_decision(doc, &id, &decision)
        })
        .await?;
    loan_reply(ctx, &id)
}

#[derive(Clone, Copy, PartialEq)]
pub enum Decision {
    Approve,
    Refuse,
    Checkout,
    Return,
}

impl Decision {
    fn verb(self) -> &'static str {
        match self {
            Decision::Approve => "accorder",
            Decision::Refuse => "refuser",
            Decision::Checkout => "sortir",
            Decision::Return => "rendre",
        }
    }
}

/// A lender's decision on one of its loans (a return without incident).
pub async fn decide(
    ctx: &NodeContext,
    id: &str,
    what: Decision,
    note: &str,
    incident: &str,
    role: &str,
) -> Result<pb::Loan> {
    decide_with(ctx, id, what, note, incident, "", &[], role).await
}

/// A lender's decision on one of its loans; a return may note an incident,
/// with the lender's verdict on the items (`condition`) and the items it
/// concerns.
#[allow(clippy::too_many_arguments)]
pub async fn decide_with(
    ctx: &NodeContext,
    id: &str,
    what: Decision,
    note: &str,
    incident_text: &str,
    condition: &str,
    incident_items: &[String],
    role: &str,
) -> Result<pb::Loan> {
    let loan = find_loan(ctx, id)?;
    let id = loan.id.as_str();
    if loan.lender != ctx.site {
        return Err(Error::denied(format!(
            "seul le site prêteur {} peut {} le prêt {id}",
            loan.lender,
            what.verb()
        )));
    }
    let note = loans::note("note", note)?;
    let incident = if what == Decision::Return {
        incident(
            ctx,
            loan.equipment(),
            incident_text,
            condition,
            incident_items,
        )?
    } else {
        Incident::none()
    };
    if what == Decision::Refuse && note.is_empty() {
        return Err(Error::invalid("indiquez le motif du refus (--reason)"));
    }
    // Cancellations live in borrowers' documents: read them before taking the lock.
    let cancelled: BTreeSet<String> = crate::app::reports::facts(ctx)?
        .cancelled_requests(&ctx.site)
        .collect();
    if what == Decision::Approve {
        may_book(&ctx.docs, &ctx.site_doc()).await?;
    }
    let revoked = if what == Decision::Approve {
        super::revoked::Revoked::read(&ctx.docs, &ctx.site)
    } else {
        Default::default()
    };
    let t = transition(ctx, role, note);
    ctx.docs
        .change(&ctx.site_doc(), "loan decision", |doc| {
            decide_in(
                doc, &ctx.site, &loan, what, &t, &cancelled, &incident, &revoked,
            )
        })
        .await?;
    loan_reply(ctx, id)
}

/// A lender's decision on one of its loans, under its document's lock: the
/// one rule of the API, the web and the simulator. The state is re-read
/// here, and an approval is checked against every active booking the lender
/// holds (`cancelled`: the loans whose requests the node holds cancelled):
/// this is where double booking is prevented. An approval first withdraws
/// the approvals of revoked sites' loans that [`super::revoked`] names.
#[allow(clippy::too_many_arguments)]
pub(crate) fn decide_in(
    doc: &mut automerge::AutoCommit,
    lender: &str,
    loan: &Loan,
    what: Decision,
    t: &Transition,
    cancelled: &BTreeSet<String>,
    incident: &Incident,
    revoked: &super::revoked::Revoked,
) -> Result<()> {
    let id = loan.id.as_str();
    let decision = loans::get_decision(doc, id)?;
    let current = Loan {
        decision: decision.clone(),
        ..loan.clone()
    };
    match what {
        Decision::Approve | Decision::Refuse => {
            loans::require_state(&current, &["requested"], what.verb())?
        }
        Decision::Checkout => loans::require_state(&current, &["approved"], what.verb())?,
        Decision::Return => loans::require_state(&current, &["checked_out"], what.verb())?,
    }
    let mut d = match decision {
        Some(d) => d,
        None => {
            let r = current.request.as_ref().ok_or_else(|| {
                Error::Internal(format!("le prêt {id} n'a ni demande ni décision"))
            })?;
            LoanDecision {
                borrower: current.borrower.clone(),
                equipment: r.equipment.clone(),
                from: r.from.clone(),
                to: r.to.clone(),
                approved: None,
                refused: None,
                checked_out: None,
                returned: None,
                incident: String::new(),
                recorded: None,
                return_condition: String::new(),
                incident_items: Vec::new(),
            }
        }
    };
    match what {
        Decision::Approve => {
            for item in &d.equipment {
                let e = equipment::get(doc, item)?.ok_or_else(|| {
                    Error::precondition(format!("le matériel {item} n'existe plus"))
                })?;
                match e.status.as_str() {
                    "available" => {}
                    "maintenance" => {
                        return Err(Error::precondition(format!(
                            "le matériel {item} ({}) est en maintenance",
                            e.name
                        )))
                    }
                    _ => {
                        return Err(Error::precondition(format!(
                            "le matériel {item} ({}) est retiré",
                            e.name
                        )))
                    }
                }
            }
            super::revoked::withdraw_in(doc, lender, revoked, cancelled, &t.at)?;
            let mine = lender_bookings(doc, lender, cancelled, false)?;
            let candidate = current
                .booking()
                .ok_or_else(|| Error::Internal(format!("fenêtre illisible pour le prêt {id}")))?;
            if let Some((other, item)) = loans::find_conflict(&candidate, &mine) {
                return Err(Error::precondition(format!(
                    "le matériel {item} est déjà accordé au prêt {other} sur une période qui chevauche celle du prêt {id}"
                )));
            }
            d.approved = Some(t.clone());
        }
        Decision::Refuse => d.refused = Some(t.clone()),
        Decision::Checkout => d.checked_out = Some(t.clone()),
        Decision::Return => {
            d.returned = Some(t.clone());
            d.incident = incident.text.clone();
            d.return_condition = incident.condition.clone();
            d.incident_items = incident.items.clone();
            apply_incident(doc, incident, &t.at)?;
        }
    }
    loans::put_decision(doc, id, &d)
}

pub async fn cancel(ctx: &NodeContext, id: &str, note: &str, role: &str) -> Result<pb::Loan> {
    let loan = find_loan(ctx, id)?;
    let id = loan.id.as_str();
    if loan.borrower != ctx.site {
        return Err(Error::denied(format!(
            "seul le site emprunteur {} peut annuler le prêt {id}",
            loan.borrower
        )));
    }
    loans::require_state(&loan, &["requested", "approved"], "annuler")?;
    let t = transition(ctx, role, loans::note("note", note)?);
    ctx.docs
        .change(&ctx.site_doc(), "loan cancel", |doc| {
            let mut r = loans::get_request(doc, id)?
                .ok_or_else(|| Error::not_found(format!("prêt {id} introuvable")))?;
            if r.cancelled.is_some() {
                return Err(Error::precondition(format!("le prêt {id} est déjà annulé")));
            }
            r.cancelled = Some(t);
            loans::put_request(doc, id, &r)
        })
        .await?;
    loan_reply(ctx, id)
}

pub fn list(ctx: &NodeContext, r: &pb::ListLoansRequest) -> Result<pb::LoanList> {
    // The key or the French word lists show (`demandé`, `en retard`).
    let state = match r.state.trim() {
        "" => None,
        typed => Some(loans::state_filter(typed)?),
    };
    let side = match r.r#as.as_str() {
        "" | "lender" | "borrower" => r.r#as.as_str(),
        other => {
            return Err(Error::invalid(format!(
                "--as « {other} » inconnu : lender ou borrower"
            )))
        }
    };
    let site = if r.site.is_empty() && !side.is_empty() {
        ctx.site.clone()
    } else {
        r.site.clone()
    };
    let all = all_loans(ctx)?;
    let conflicts = conflicts(ctx)?;
    let view = View::new(ctx)?;
    let now = view.now;
    let mut selected: Vec<&Loan> = all
        .iter()
        .filter(|l| match (site.as_str(), side) {
            ("", _) => true,
            (s, "lender") => l.lender == s,
            (s, "borrower") => l.borrower == s,
            (s, _) => l.lender == s || l.borrower == s,
        })
        .filter(|l| match state {
            None => true,
            Some("overdue") => l.overdue(now),
            Some(s) => l.state() == s,
        })
        .collect();
    // By start date, as people look for them.
    selected.sort_by_cached_key(|l| (l.window().map(|w| w.0), l.id.clone()));
    let loans = selected.into_iter().map(|l| view.to_pb(l)).collect();
    Ok(pb::LoanList {
        loans,
        conflicts: conflicts
            .into_iter()
            .map(|(equipment, loans)| pb::LoanConflict { equipment, loans })
            .collect(),
    })
}
