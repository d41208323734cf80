//! The `Loans` service. A borrower's node writes requests and cancellations;
//! only the lender's node writes decisions, checking every approval against
//! the approvals it holds under its document's lock.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;

use chrono::Utc;
use tonic::{Request, Response, Status};

use super::equipment::find as find_item;
use super::NodeContext;
use crate::auth::{require, Need};
use crate::docs::new_id;
use crate::domain::loans::{self, Loan, LoanDecision, LoanRequest, Transition};
use crate::domain::{equipment, now_rfc3339, time};
use crate::error::{Error, Result};
use crate::pb;

pub struct LoansApi {
    ctx: Arc<NodeContext>,
}

impl LoansApi {
    pub fn new(ctx: Arc<NodeContext>) -> Self {
        LoansApi { ctx }
    }
}

/// Every loan of the network, joined from all site documents.
pub fn all_loans(ctx: &NodeContext) -> Result<Vec<Loan>> {
    let mut inputs = Vec::new();
    for doc_id in ctx.docs.ids_with_prefix("site/") {
        let site = doc_id.trim_start_matches("site/").to_string();
        if let Some((reqs, decs)) = ctx
            .docs
            .read(&doc_id, |d| -> Result<_> {
                Ok((loans::requests(d)?, loans::decisions(d)?))
            })
            .transpose()?
        {
            inputs.push((site, reqs, decs));
        }
    }
    Ok(loans::join(inputs))
}

/// One loan: its request and decisions, read by key in each site document
/// (not every loan of the network).
pub fn find_loan(ctx: &NodeContext, id: &str) -> Result<Loan> {
    if id.trim().is_empty() {
        return Err(Error::invalid("identifiant de prêt manquant"));
    }
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
    loans::join(halves)
        .into_iter()
        .next()
        .ok_or_else(|| Error::not_found(format!("prêt {id} introuvable")))
}

/// The network's loan conflicts, from the report index.
pub fn conflicts(ctx: &NodeContext) -> Result<Vec<(String, Vec<String>)>> {
    Ok(crate::api::reports::facts(ctx)?.loan_conflicts())
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

fn pb_transition(t: &Transition) -> pb::Transition {
    pb::Transition {
        at: t.at.clone(),
        site: t.site.clone(),
        role: t.role.clone(),
        note: t.note.clone(),
    }
}

pub fn to_pb(loan: &Loan, conflicts: &BTreeMap<String, BTreeSet<String>>) -> pb::Loan {
    let (from, to) = loan.window_text();
    let r = loan.request.as_ref();
    let d = loan.decision.as_ref();
    let t = |f: fn(&LoanDecision) -> &Option<Transition>| {
        d.and_then(|d| f(d).as_ref()).map(pb_transition)
    };
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
        state: loan.state().to_string(),
        overdue: loan.overdue(Utc::now()),
        requested: r.map(|r| pb_transition(&r.requested)),
        approved: t(|d| &d.approved),
        refused: t(|d| &d.refused),
        checked_out: t(|d| &d.checked_out),
        returned: t(|d| &d.returned),
        cancelled: r.and_then(|r| r.cancelled.as_ref()).map(pb_transition),
        incident: d.map(|d| d.incident.clone()).unwrap_or_default(),
        conflicts: conflicts
            .get(&loan.id)
            .map(|s| s.iter().cloned().collect())
            .unwrap_or_default(),
    }
}

/// Loan id to the other loans it conflicts with.
fn conflict_index(list: &[(String, Vec<String>)]) -> BTreeMap<String, BTreeSet<String>> {
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

fn loan_reply(ctx: &NodeContext, id: &str) -> Result<pb::Loan> {
    let loan = find_loan(ctx, id)?;
    Ok(to_pb(&loan, &conflict_index(&conflicts(ctx)?)))
}

pub async fn request(
    ctx: &NodeContext,
    input: pb::LoanRequestInput,
    role: &str,
) -> Result<pb::Loan> {
    let mut ids: Vec<String> = Vec::new();
    for raw in &input.equipment {
        for id in raw.split(',').map(str::trim).filter(|s| !s.is_empty()) {
            if !ids.iter().any(|x| x == id) {
                ids.push(id.to_string());
            }
        }
    }
    if ids.is_empty() {
        return Err(Error::invalid(
            "indiquez au moins un matériel (--equipment ID[,ID...])",
        ));
    }
    if ids.len() > loans::MAX_ITEMS {
        return Err(Error::invalid(format!(
            "{} matériels au plus par demande de prêt",
            loans::MAX_ITEMS
        )));
    }
    let from = time::parse_bound(&input.from, false)
        .map_err(|e| Error::invalid(format!("début du prêt (--from) : {e}")))?;
    let to = time::parse_bound(&input.to, true)
        .map_err(|e| Error::invalid(format!("fin du prêt (--to) : {e}")))?;
    if to <= from {
        return Err(Error::invalid("la fin du prêt doit suivre son début"));
    }
    let mut lender: Option<String> = None;
    for id in &ids {
        let item = find_item(ctx, id)?;
        match &lender {
            None => lender = Some(item.site.clone()),
            Some(l) if *l != item.site => {
                return Err(Error::invalid(format!(
                "un prêt porte sur le matériel d'un seul site : {id} appartient à {}, pas à {l}",
                item.site
            )))
            }
            _ => {}
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
    let lender = lender.expect("at least one item");
    if lender == ctx.site {
        return Err(Error::invalid(
            "ce matériel appartient à votre site : un prêt se demande à un autre site",
        ));
    }
    let purpose = loans::note("purpose", &input.purpose)?;
    let action = input.action.trim().to_string();
    if !action.is_empty()
        && ctx
            .docs
            .read(&crate::domain::actions::doc_id(&action), |_| ())
            .is_none()
    {
        return Err(Error::not_found(format!("action {action} introuvable")));
    }
    let req = LoanRequest {
        lender,
        equipment: ids,
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

/// A lender's decision on one of its loans.
pub async fn decide(
    ctx: &NodeContext,
    id: &str,
    what: Decision,
    note: &str,
    incident: &str,
    role: &str,
) -> Result<pb::Loan> {
    let loan = find_loan(ctx, id)?;
    if loan.lender != ctx.site {
        return Err(Error::denied(format!(
            "seul le site prêteur {} peut {} le prêt {id}",
            loan.lender,
            what.verb()
        )));
    }
    let note = loans::note("note", note)?;
    let incident = loans::note("incident", incident)?;
    if what == Decision::Refuse && note.is_empty() {
        return Err(Error::invalid("indiquez le motif du refus (--reason)"));
    }
    // Cancellations live in borrowers' documents: read them before taking the lock.
    let cancelled: BTreeSet<String> = crate::api::reports::facts(ctx)?
        .cancelled_requests(&ctx.site)
        .collect();
    let t = transition(ctx, role, note);
    let request = loan.request.clone();
    ctx.docs
        .change(&ctx.site_doc(), "loan decision", |doc| {
            // Re-read under the lock: this is where double booking is prevented.
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
            let mut d = decision.unwrap_or_else(|| {
                let r = request.as_ref().expect("a requested loan has a request");
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
                }
            });
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
                    let mut mine = Vec::new();
                    for (other, od) in loans::decisions(doc)? {
                        let other_loan = Loan {
                            id: other.clone(),
                            borrower: od.borrower.clone(),
                            lender: ctx.site.clone(),
                            request: None,
                            decision: Some(od),
                        };
                        if other_loan.is_active() && !cancelled.contains(&other) {
                            if let Some(b) = other_loan.booking() {
                                mine.push(b);
                            }
                        }
                    }
                    let candidate = current.booking().ok_or_else(|| {
                        Error::Internal(format!("fenêtre illisible pour le prêt {id}"))
                    })?;
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
                    d.incident = incident.clone();
                }
            }
            loans::put_decision(doc, id, &d)
        })
        .await?;
    loan_reply(ctx, id)
}

pub async fn cancel(ctx: &NodeContext, id: &str, note: &str, role: &str) -> Result<pb::Loan> {
    let loan = find_loan(ctx, id)?;
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
    let idx = conflict_index(&conflicts);
    let now = Utc::now();
    let loans = all
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
        .map(|l| to_pb(l, &idx))
        .collect();
    Ok(pb::LoanList {
        loans,
        conflicts: conflicts
            .into_iter()
            .map(|(equipment, loans)| pb::LoanConflict { equipment, loans })
            .collect(),
    })
}

#[tonic::async_trait]
impl pb::loans_server::Loans for LoansApi {
    async fn request_loan(
        &self,
        r: Request<pb::LoanRequestInput>,
    ) -> Result<Response<pb::Loan>, Status> {
        let who = require(&r, Need::Director)?;
        Ok(Response::new(
            self::request(&self.ctx, r.into_inner(), who.role.as_str()).await?,
        ))
    }

    async fn approve(&self, r: Request<pb::LoanAction>) -> Result<Response<pb::Loan>, Status> {
        self.decision(r, Decision::Approve, Need::Director).await
    }

    async fn refuse(&self, r: Request<pb::LoanAction>) -> Result<Response<pb::Loan>, Status> {
        self.decision(r, Decision::Refuse, Need::Director).await
    }

    async fn checkout(&self, r: Request<pb::LoanAction>) -> Result<Response<pb::Loan>, Status> {
        self.decision(r, Decision::Checkout, Need::Staff).await
    }

    async fn return_loan(&self, r: Request<pb::LoanReturn>) -> Result<Response<pb::Loan>, Status> {
        let who = require(&r, Need::Staff)?;
        let r = r.into_inner();
        Ok(Response::new(
            decide(
                &self.ctx,
                &r.id,
                Decision::Return,
                &r.note,
                &r.incident,
                who.role.as_str(),
            )
            .await?,
        ))
    }

    async fn cancel(&self, r: Request<pb::LoanAction>) -> Result<Response<pb::Loan>, Status> {
        let who = require(&r, Need::Director)?;
        let r = r.into_inner();
        Ok(Response::new(
            self::cancel(&self.ctx, &r.id, &r.note, who.role.as_str()).await?,
        ))
    }

    async fn get(&self, r: Request<pb::LoanId>) -> Result<Response<pb::Loan>, Status> {
        require(&r, Need::Read)?;
        let id = r.into_inner().id;
        if id.trim().is_empty() {
            return Err(Error::invalid("identifiant de prêt manquant").into());
        }
        Ok(Response::new(loan_reply(&self.ctx, &id)?))
    }

    async fn list(
        &self,
        r: Request<pb::ListLoansRequest>,
    ) -> Result<Response<pb::LoanList>, Status> {
        require(&r, Need::Read)?;
        Ok(Response::new(self::list(&self.ctx, &r.into_inner())?))
    }
}

impl LoansApi {
    async fn decision(
        &self,
        r: Request<pb::LoanAction>,
        what: Decision,
        need: Need,
    ) -> Result<Response<pb::Loan>, Status> {
        let who = require(&r, need)?;
        let r = r.into_inner();
        Ok(Response::new(
            decide(&self.ctx, &r.id, what, &r.note, "", who.role.as_str()).await?,
        ))
    }
}
