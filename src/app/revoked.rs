//! A lender's answer to the revocation of one of its borrowers.
//!
//! A revoked site keeps only what it wrote beneath the academy's cutoff: a
//! cancellation it wrote later is set aside by every node that reads the
//! revocation first. A lender that took such a cancellation before reading
//! the revocation saw the days free and may have approved them again, while
//! the rest of the network still sees the revoked site's loan approved: two
//! approvals of one item (simulator seeds 4968 and 8123).
//!
//! The lender settles it on its own authority, in its own document: it
//! withdraws its approval of the revoked site's loan (the decision gets
//! `refused`, with a reason in French) when
//! - it holds the site's cancellation of the loan and that cancellation is
//!   not beneath the cutoff: the withdrawal writes, where the network takes
//!   it, what the borrower asked and what the lender already acts on (its
//!   booking check counts the cancellation it holds), whether or not the
//!   freed days were approved again yet;
//! - or the loan overlaps another of the lender's active loans: a lender
//!   that lost the cancellation with its disk after approving the freed
//!   days can no longer take it again.
//!
//! A withdrawal only frees items, so it needs no confirmed copy of the
//! lender's decisions (`loans::may_book`). The node runs it at start and
//! when its registry or a site document changes ([`watch`]), and every
//! approval runs it first, under the same lock ([`super::loans::decide_in`]);
//! the simulator calls [`withdraw`] the same way.

use std::collections::{BTreeMap, BTreeSet};

use automerge::{AutoCommit, ChangeHash};

use super::loans::lender_bookings;
use crate::base::NETWORK_DOC;
use crate::docs::Docs;
use crate::domain::loans::{self, LoanDecision, Transition};
use crate::domain::registry;
use crate::error::Result;

/// What a lender reads outside its document's lock: the revoked sites and,
/// for each request of theirs addressed to it, how it stands.
#[derive(Debug, Default, Clone)]
pub struct Revoked {
    sites: BTreeSet<String>,
    /// Loan id → its cancellation as the node holds it.
    cancels: BTreeMap<String, Cancel>,
}

#[derive(Debug, Default, Clone, Copy)]
struct Cancel {
    /// The node holds a cancellation of the request.
    held: bool,
    /// The request is cancelled beneath the cutoff: every node takes it.
    admitted: bool,
}

impl Revoked {
    /// Reads the registry and the revoked sites' requests to `lender`.
    pub fn read(docs: &Docs, lender: &str) -> Revoked {
        let mut out = Revoked::default();
        let entries = revoked_entries(docs, lender);
        if entries.is_empty() {
            return out;
        }
        // The revoked sites' loans the lender's approvals still book: the
        // only ones whose cancellation needs placing against the cutoff.
        let booking: BTreeSet<String> = docs
            .read(&format!("site/{lender}"), loans::decisions)
            .and_then(|r| r.ok())
            .unwrap_or_default()
            .into_iter()
            .filter(|(_, d)| entries.contains_key(&d.borrower) && books(d))
            .map(|(id, _)| id)
            .collect();
        for (site, entry) in entries {
            out.sites.insert(site.clone());
            if booking.is_empty() {
                continue;
            }
            let id = format!("site/{site}");
            let cut: Vec<ChangeHash> = entry
                .cutoff
                .get(&id)
                .map(|hs| hs.iter().filter_map(|h| h.parse().ok()).collect())
                .unwrap_or_default();
            let cancels = docs
                .read(&id, |d| requests_to(d, lender, &cut, &booking))
                .unwrap_or_default();
            out.cancels.extend(cancels);
        }
        out
    }

    pub fn is_empty(&self) -> bool {
        self.sites.is_empty()
    }

    /// Whether `d`, one of the lender's decisions, is an approval of a
    /// revoked site's loan that still books its items and that no admitted
    /// cancellation ends.
    fn candidate(&self, id: &str, d: &LoanDecision) -> bool {
        self.sites.contains(&d.borrower)
            && books(d)
            && !self.cancels.get(id).is_some_and(|c| c.admitted)
    }

    /// A candidate whose cancellation the node holds, past the cutoff.
    fn cancelled_past_cutoff(&self, id: &str, d: &LoanDecision) -> bool {
        self.candidate(id, d) && self.cancels.get(id).is_some_and(|c| c.held)
    }

    /// Whether [`withdraw_in`] would find anything in `doc`, read without
    /// the lock and without the borrowers' cancellations (counting every
    /// approval as booking only finds more overlaps).
    fn anything_to_withdraw(&self, doc: &AutoCommit, lender: &str) -> Result<bool> {
        let decisions = loans::decisions(doc)?;
        if decisions
            .iter()
            .any(|(id, d)| self.cancelled_past_cutoff(id, d))
        {
            return Ok(true);
        }
        let booked = lender_bookings(doc, lender, &BTreeSet::new(), false)?;
        Ok(decisions.iter().any(|(id, d)| {
            self.candidate(id, d)
                && booked
                    .iter()
                    .find(|b| &b.loan == id)
                    .is_some_and(|b| loans::find_conflict(b, &booked).is_some())
        }))
    }
}

/// An approval that still books its items: not refused, taken out or returned.
fn books(d: &LoanDecision) -> bool {
    d.approved.is_some() && d.refused.is_none() && d.checked_out.is_none() && d.returned.is_none()
}

/// The registry's revoked sites but `lender`, with their entries.
fn revoked_entries(docs: &Docs, lender: &str) -> BTreeMap<String, registry::SiteEntry> {
    let Some(Ok(all)) = docs.read(NETWORK_DOC, registry::all) else {
        return BTreeMap::new();
    };
    all.into_iter()
        .filter(|(site, e)| e.is_revoked() && site != lender)
        .collect()
}

/// The requests of one revoked site's document addressed to `lender`: held
/// cancelled, and cancelled in the document as it stood at the cutoff (for
/// the loans in `booking`; reading the document at the cutoff replays its
/// history). When the node lacks part of the cutoff, nothing counts as
/// admitted: a withdrawal of a loan the network sees cancelled changes
/// nothing of its state (a cancellation outranks a refusal).
fn requests_to(
    d: &AutoCommit,
    lender: &str,
    cut: &[ChangeHash],
    booking: &BTreeSet<String>,
) -> BTreeMap<String, Cancel> {
    let Ok(mut held) = loans::requests(d) else {
        return BTreeMap::new();
    };
    held.retain(|_, r| r.lender == lender);
    let mut at_cutoff = BTreeMap::new();
    let to_place = held
        .iter()
        .any(|(id, r)| r.cancelled.is_some() && booking.contains(id));
    if !cut.is_empty() && to_place {
        let mut d = d.clone();
        if cut.iter().all(|h| d.get_change_meta_by_hash(h).is_some()) {
            if let Ok(f) = d.fork_at(cut) {
                at_cutoff = loans::requests(&f).unwrap_or_default();
            }
        }
    }
    held.into_iter()
        .map(|(id, r)| {
            let admitted = at_cutoff.get(&id).is_some_and(|r| r.cancelled.is_some());
            let c = Cancel {
                held: r.cancelled.is_some(),
                admitted,
            };
            (id, c)
        })
        .collect()
}

/// Under the lender's lock: withdraws the approvals the module's rule
/// names, and returns their loan ids. `cancelled` are the loans of this
/// lender whose requests the node holds cancelled (as for an approval).
pub(crate) fn withdraw_in(
    doc: &mut AutoCommit,
    lender: &str,
    revoked: &Revoked,
    cancelled: &BTreeSet<String>,
    at: &str,
) -> Result<Vec<String>> {
    if revoked.is_empty() {
        return Ok(Vec::new());
    }
    let withdrawal = |note: String| Transition {
        at: at.to_string(),
        site: lender.to_string(),
        role: String::new(),
        note,
    };
    let mut out = Vec::new();
    let decisions = loans::decisions(doc)?;
    for (id, d) in &decisions {
        if revoked.cancelled_past_cutoff(id, d) {
            let mut d = d.clone();
            d.refused = Some(withdrawal(format!(
                "site révoqué : {} a annulé ce prêt après la limite de sa révocation, annulation que le réseau refuse ; le prêteur retire son accord pour que tous les sites voient le matériel libre",
                d.borrower
            )));
            loans::put_decision(doc, id, &d)?;
            out.push(id.clone());
        }
    }
    let mut booked = lender_bookings(doc, lender, cancelled, false)?;
    for (id, d) in &decisions {
        if !revoked.candidate(id, d) || out.contains(id) {
            continue;
        }
        let Some(mine) = booked.iter().find(|b| &b.loan == id).cloned() else {
            continue;
        };
        if let Some((other, item)) = loans::find_conflict(&mine, &booked) {
            let mut d = d.clone();
            d.refused = Some(withdrawal(format!(
                "site révoqué : ce prêt à {} chevauche le prêt {other} pour le matériel {item}, et {} ne peut plus l'annuler ; le prêteur retire son accord",
                d.borrower, d.borrower
            )));
            loans::put_decision(doc, id, &d)?;
            booked.retain(|b| &b.loan != id);
            out.push(id.clone());
        }
    }
    Ok(out)
}

/// The loans of `lender` whose borrower cancelled the request, as the node
/// holds them (the sites' documents).
pub fn cancelled_requests(docs: &Docs, lender: &str) -> BTreeSet<String> {
    let mut out = BTreeSet::new();
    for id in docs.ids_with_prefix("site/") {
        if let Some(Ok(reqs)) = docs.read(&id, loans::requests) {
            out.extend(
                reqs.into_iter()
                    .filter(|(_, r)| r.lender == lender && r.cancelled.is_some())
                    .map(|(id, _)| id),
            );
        }
    }
    out
}

/// Runs the rule on the lender's document at `at` (RFC 3339): returns the
/// loans whose approval it withdrew. Cheap when no site is revoked or none
/// of the lender's approvals is a revoked site's.
pub async fn withdraw(docs: &Docs, lender: &str, at: &str) -> Result<Vec<String>> {
    let revoked = Revoked::read(docs, lender);
    if revoked.is_empty() {
        return Ok(Vec::new());
    }
    let doc_id = format!("site/{lender}");
    let needed = docs
        .read(&doc_id, |doc| revoked.anything_to_withdraw(doc, lender))
        .transpose()?
        .unwrap_or(false);
    if !needed {
        return Ok(Vec::new());
    }
    let cancelled = cancelled_requests(docs, lender);
    docs.change(&doc_id, "loan withdraw (revoked borrower)", |doc| {
        withdraw_in(doc, lender, &revoked, &cancelled, at)
    })
    .await
}

/// Runs [`withdraw`] at start, then whenever the registry or a site's
/// document changes (a revocation, or a revoked site's cancellation taken
/// before it).
pub fn watch(
    ctx: std::sync::Arc<super::NodeContext>,
    shutdown: tokio_util::sync::CancellationToken,
    tracker: &tokio_util::task::TaskTracker,
) {
    let mut changes = ctx.docs.subscribe();
    tracker.spawn(async move {
        loop {
            match withdraw(&ctx.docs, &ctx.site, &crate::domain::now_rfc3339()).await {
                Ok(ids) if !ids.is_empty() => {
                    tracing::warn!(loans = ?ids, "accord retiré : prêts de sites révoqués");
                }
                Ok(_) => {}
                Err(e) => {
                    tracing::warn!(cause = %e, "retrait des prêts de sites révoqués impossible")
                }
            }
            loop {
                tokio::select! {
                    _ = shutdown.cancelled() => return,
                    r = changes.recv() => match r {
                        Ok(id) if id == NETWORK_DOC || id.starts_with("site/") => break,
                        Ok(_) => continue,
                        Err(tokio::sync::broadcast::error::RecvError::Closed) => return,
                        Err(tokio::sync::broadcast::error::RecvError::Lagged(_)) => break,
                    },
                }
            }
        }
    });
}
