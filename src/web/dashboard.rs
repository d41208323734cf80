//! What the dashboard « À traiter » shows, read through the use cases of
//! `app` (never the documents directly): names instead of ids, dates as
//! people write them.
//!
//! Each role gets the reminders of what waits for it (issue 12, item 5): a
//! site's team, the loans to decide and the overdue returns, and the
//! purchase requests the academy sent back or validated; the academic team,
//! on an academy node, the purchase requests to decide across sites and the
//! sites not heard from for [`SILENT_DAYS`]. The rows are made by pure
//! functions of the records and `now`, tested below.

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use maud::{html, Markup};

use crate::app::purchases::Record;
use crate::app::NodeContext;
use crate::auth::Role as Person;
use crate::base::Role as Node;
use crate::domain::loans::{parse_stored, state_fr};
use crate::domain::purchases::eur;
use crate::domain::time;
use crate::error::Result;
use crate::pb;

/// Days the dashboard looks ahead ("cette semaine").
pub const WEEK_DAYS: i64 = 7;

/// Days without news after which the academy's dashboard names a site.
pub const SILENT_DAYS: i64 = 7;

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

/// One purchase request as a reminder row.
#[derive(Debug, Clone, PartialEq)]
pub struct PurchaseRow {
    /// The request's id, for its page (`/achats/{id}`).
    pub id: String,
    /// The requesting site, by name.
    pub site: String,
    pub object: String,
    /// Total with VAT, as people read it (« 1 250,50 € »).
    pub total_ttc: String,
    /// When it reached the state it waits in (submitted, sent back,
    /// validated), as people write it.
    pub since: String,
    /// How long it has waited: « 3 jours ».
    pub waiting: String,
    /// The academy's reason, when it sent the request back.
    pub reason: String,
}

/// A site the academy has not heard from for [`SILENT_DAYS`].
#[derive(Debug, Clone, PartialEq)]
pub struct SiteRow {
    pub id: String,
    pub name: String,
    /// Last sync with this node, or why there is none.
    pub last_contact: String,
    /// The site's newest change this node holds, or « aucune ».
    pub last_change: String,
    /// « 12 jours », or « jamais » for a site never heard from.
    pub silent_for: String,
}

/// Loans of the network booking one item over the same days.
#[derive(Debug, Clone, PartialEq)]
pub struct ConflictRow {
    /// The item, by name.
    pub item: String,
    /// The loans' ids, for their pages.
    pub loans: Vec<String>,
}

/// The reminders of a site's team about its purchase requests.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct SitePurchases {
    /// Sent back by the academy for more information (needs_info).
    pub sent_back: Vec<PurchaseRow>,
    /// Validated, waiting to be ordered.
    pub to_order: Vec<PurchaseRow>,
}

/// The reminders of the academic team, on an academy node.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Academy {
    /// Submitted requests of every site, oldest first.
    pub to_decide: Vec<PurchaseRow>,
    pub silent_sites: Vec<SiteRow>,
    /// Shown only when there are some.
    pub conflicts: Vec<ConflictRow>,
}

#[derive(Debug, Clone, Default, PartialEq)]
pub struct Dashboard {
    /// For a site's team (staff, director): its purchase requests.
    pub purchases: Option<SitePurchases>,
    /// For the academic team on an academy node.
    pub academy: Option<Academy>,
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

/// How long from `then` to `now`, in whole days: « 3 jours ».
pub fn days_between(then: DateTime<Utc>, now: DateTime<Utc>) -> String {
    match (now - then).num_days() {
        d if d < 1 => "moins d'un jour".to_string(),
        1 => "1 jour".to_string(),
        d => format!("{d} jours"),
    }
}

/// [`days_between`] an instant stored as RFC 3339 and `now`.
fn waited(then: &str, now: DateTime<Utc>) -> String {
    parse_stored(then)
        .map(|t| days_between(t, now))
        .unwrap_or_default()
}

fn purchase_row(r: &Record, site: String, since: &str, now: DateTime<Utc>) -> PurchaseRow {
    PurchaseRow {
        id: r.id.clone(),
        site,
        object: r.purchase.object.clone(),
        total_ttc: super::actions::fr_amount(&eur(r.purchase.totals().ttc)),
        since: time::fr_instant(since),
        waiting: waited(since, now),
        reason: String::new(),
    }
}

/// Oldest first: what waited longest comes first.
fn oldest_first(rows: &mut [(Option<DateTime<Utc>>, PurchaseRow)]) {
    rows.sort_by(|a, b| (a.0, &a.1.id).cmp(&(b.0, &b.1.id)));
}

/// `me`'s requests in `state`, dated by the academy's latest decision.
fn decided(records: &[Record], me: &str, state: &str, now: DateTime<Utc>) -> Vec<PurchaseRow> {
    let mut rows: Vec<_> = records
        .iter()
        .filter(|r| r.site == me && r.state() == state)
        .filter_map(|r| {
            let d = r.latest_decision()?;
            let mut row = purchase_row(r, r.site.clone(), &d.decided.at, now);
            if state == "needs_info" {
                row.reason = d.decided.note.clone();
            }
            Some((parse_stored(&d.decided.at), row))
        })
        .collect();
    oldest_first(&mut rows);
    rows.into_iter().map(|(_, r)| r).collect()
}

/// The reminders of site `me` about its purchase requests at `now`.
pub fn site_purchases(records: &[Record], me: &str, now: DateTime<Utc>) -> SitePurchases {
    SitePurchases {
        sent_back: decided(records, me, "needs_info", now),
        to_order: decided(records, me, "validated", now),
    }
}

/// The requests of every site waiting for the academy's decision, oldest
/// submission first; `names` gives the sites' names.
pub fn purchases_to_decide(
    records: &[Record],
    names: &BTreeMap<String, String>,
    now: DateTime<Utc>,
) -> Vec<PurchaseRow> {
    let mut rows: Vec<_> = records
        .iter()
        .filter(|r| r.state() == "submitted")
        .filter_map(|r| {
            let at = &r.purchase.submitted.last()?.at;
            let site = crate::app::equipment::name_of(names, &r.site);
            Some((parse_stored(at), purchase_row(r, site, at, now)))
        })
        .collect();
    oldest_first(&mut rows);
    rows.into_iter().map(|(_, r)| r).collect()
}

/// The enrolled sites (not revoked) this node has not heard from for
/// [`SILENT_DAYS`] at `now`: no session open, and neither a sync with this
/// node nor a change of theirs newer than that. (The last sync is known
/// only since this node started; a change of the site's, relayed by others,
/// also says it is alive.) Never heard from first, then the longest silent.
pub fn silent_sites(h: &pb::NetworkHealth, now: DateTime<Utc>) -> Vec<SiteRow> {
    let limit = now - chrono::Duration::days(SILENT_DAYS);
    let mut rows: Vec<_> = h
        .sites
        .iter()
        .filter(|s| s.revoked_at.is_empty() && !s.connected)
        .filter_map(|s| {
            let contact = parse_stored(&s.last_contact);
            let change = parse_stored(&s.last_change_at);
            let last = contact.max(change);
            if last.is_some_and(|t| t > limit) {
                return None;
            }
            let row = SiteRow {
                id: s.id.clone(),
                name: if s.name.is_empty() {
                    s.id.clone()
                } else {
                    s.name.clone()
                },
                last_contact: match contact {
                    Some(_) => time::fr_instant(&s.last_contact),
                    None => "aucun depuis le démarrage de ce nœud".to_string(),
                },
                last_change: match change {
                    Some(_) => time::fr_instant(&s.last_change_at),
                    None => "aucune".to_string(),
                },
                silent_for: match last {
                    Some(t) => days_between(t, now),
                    None => "jamais vu".to_string(),
                },
            };
            Some((last, row))
        })
        .collect();
    rows.sort_by(|a, b| (a.0, &a.1.name).cmp(&(b.0, &b.1.name)));
    rows.into_iter().map(|(_, r)| r).collect()
}

/// The loan conflicts `health` reports, with items by name.
pub fn conflicts(h: &pb::NetworkHealth, items: &BTreeMap<String, String>) -> Vec<ConflictRow> {
    h.loan_conflicts
        .iter()
        .map(|c| ConflictRow {
            item: items
                .get(&c.equipment)
                .cloned()
                .unwrap_or_else(|| c.equipment.clone()),
            loans: c.loans.clone(),
        })
        .collect()
}

/// The dashboard of this node's site at `now`, with the reminders of
/// `role`.
pub fn build(ctx: &NodeContext, role: Person, now: DateTime<Utc>) -> Result<Dashboard> {
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
    // The network's requests, shared between pages and read again only
    // when a document they come from moves.
    let waiting = |keep: &dyn Fn(&Record) -> bool| -> Result<Vec<Record>> {
        Ok(crate::app::purchases::shared(ctx)?
            .iter()
            .filter(|r| keep(r))
            .cloned()
            .collect())
    };
    if ctx.role == Node::Site && role >= Person::Staff {
        let records =
            waiting(&|r| r.site == me && matches!(r.state(), "needs_info" | "validated"))?;
        d.purchases = Some(site_purchases(&records, me, now));
    }
    if ctx.role == Node::Academy && role == Person::Academy {
        let records = waiting(&|r| r.state() == "submitted")?;
        let health = crate::app::network::health(ctx)?;
        d.academy = Some(Academy {
            to_decide: purchases_to_decide(&records, &names, now),
            silent_sites: silent_sites(&health, now),
            conflicts: conflicts(&health, &view.items),
        });
    }
    Ok(d)
}

// ---------------------------------------------------------------------------
// The reminders' sections of the page (the loans' and events' are in
// `pages`). Each is a live region, with its count in its heading.

/// What the rows of a purchase table show beside the request.
struct PurchaseColumns {
    site: bool,
    reason: bool,
    /// The heading of the date column.
    since: &'static str,
}

fn purchases_table(
    live: &str,
    caption: &str,
    rows: &[PurchaseRow],
    empty: &str,
    cols: PurchaseColumns,
) -> Markup {
    html! {
        section.card data-live=(live) {
            h2 { (caption) " " span.count { "(" (rows.len()) ")" } }
            @if rows.is_empty() {
                p.empty { (empty) }
            } @else {
                div.table-scroll tabindex="0" role="region" aria-label=(caption) {
                    table {
                        caption.sr-only { (caption) }
                        thead { tr {
                            @if cols.site { th scope="col" { "Site" } }
                            th scope="col" { "Demande d'achat" }
                            th scope="col" { "Total TTC" }
                            th scope="col" { (cols.since) }
                            th scope="col" { "En attente depuis" }
                            @if cols.reason { th scope="col" { "Motif de l'équipe académique" } }
                        } }
                        tbody {
                            @for r in rows {
                                tr data-purchase=(r.id) {
                                    @if cols.site { td { (r.site) } }
                                    td { a href={ "/achats/" (r.id) } { (r.object) } }
                                    td.num { (r.total_ttc) }
                                    td { (r.since) }
                                    td { (r.waiting) }
                                    @if cols.reason { td.reason { (r.reason) } }
                                }
                            }
                        }
                    }
                }
            }
        }
    }
}

/// The sections of a site's team about its purchase requests.
pub fn site_sections(d: &Dashboard) -> Markup {
    let Some(p) = &d.purchases else {
        return html! {};
    };
    html! {
        (purchases_table(
            "achats-a-completer",
            "Demandes d'achat renvoyées pour complément",
            &p.sent_back,
            "Aucune demande d'achat renvoyée par l'équipe académique.",
            PurchaseColumns { site: false, reason: true, since: "Renvoyée le" },
        ))
        (purchases_table(
            "achats-a-commander",
            "Achats validés à commander",
            &p.to_order,
            "Aucun achat validé en attente de commande.",
            PurchaseColumns { site: false, reason: false, since: "Validé le" },
        ))
    }
}

/// The sections of the academic team: purchase requests to decide, sites
/// without news, loan conflicts (when there are some).
pub fn academy_sections(d: &Dashboard) -> Markup {
    let Some(a) = &d.academy else {
        return html! {};
    };
    let silent = format!("Sites sans nouvelles depuis {SILENT_DAYS} jours");
    html! {
        (purchases_table(
            "achats-a-decider",
            "Demandes d'achat à décider",
            &a.to_decide,
            "Aucune demande d'achat en attente de décision.",
            PurchaseColumns { site: true, reason: false, since: "Soumise le" },
        ))
        section.card data-live="sites-sans-nouvelles" {
            h2 { (silent) " " span.count { "(" (a.silent_sites.len()) ")" } }
            @if a.silent_sites.is_empty() {
                p.empty { "Tous les sites inscrits ont donné des nouvelles cette semaine." }
            } @else {
                div.table-scroll tabindex="0" role="region" aria-label=(silent) {
                    table {
                        caption.sr-only { (silent) }
                        thead { tr {
                            th scope="col" { "Site" }
                            th scope="col" { "Dernier contact avec ce nœud" }
                            th scope="col" { "Dernière modification reçue" }
                            th scope="col" { "Sans nouvelles depuis" }
                        } }
                        tbody {
                            @for s in &a.silent_sites {
                                tr data-site=(s.id) {
                                    td { a href="/reseau" { (s.name) } }
                                    td { (s.last_contact) }
                                    td { (s.last_change) }
                                    td { (s.silent_for) }
                                }
                            }
                        }
                    }
                }
            }
        }
        @if !a.conflicts.is_empty() {
            section.card.urgent data-live="conflits-de-prets" {
                h2 { "Prêts en conflit" " " span.count { "(" (a.conflicts.len()) ")" } }
                p { "Ces prêts réservent le même matériel sur les mêmes jours : les sites concernés doivent en annuler un." }
                ul {
                    @for c in &a.conflicts {
                        li {
                            strong { (c.item) } " : "
                            @for (i, l) in c.loans.iter().enumerate() {
                                @if i > 0 { ", " }
                                a href={ "/prets/" (l) } { "prêt " (l) }
                            }
                        }
                    }
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::loans::Transition;
    use crate::domain::purchases::{Decision, Line, Purchase};

    fn at(s: &str) -> DateTime<Utc> {
        parse_stored(s).expect("an instant")
    }

    fn step(when: &str, note: &str) -> Transition {
        Transition {
            at: when.into(),
            site: "metz".into(),
            role: "director".into(),
            note: note.into(),
        }
    }

    /// A request of `site` submitted at `submitted` (if any), with the
    /// academy's `verdict` on it (if any).
    fn record(
        id: &str,
        site: &str,
        submitted: Option<&str>,
        verdict: Option<(&str, &str, &str)>,
    ) -> Record {
        let purchase = Purchase {
            object: format!("Objet {id}"),
            lines: vec![Line {
                designation: "Imprimante 3D".into(),
                quantity: 2,
                unit_price_ht: "625.25".into(),
                vat_rate: "20".into(),
            }],
            supplier: String::new(),
            funding: "France 2030".into(),
            action: String::new(),
            created: step("2026-11-01T09:00:00+01:00", ""),
            submitted: submitted.map(|s| vec![step(s, "")]).unwrap_or_default(),
            ordered: None,
            delivered: None,
            cancelled: None,
            items: Vec::new(),
            updated_at: "2026-11-01T09:00:00+01:00".into(),
        };
        let decisions = verdict
            .map(|(v, when, why)| {
                vec![Decision {
                    site: site.into(),
                    purchase: id.into(),
                    submission: 1,
                    verdict: v.into(),
                    decided: step(when, why),
                }]
            })
            .unwrap_or_default();
        Record {
            id: id.into(),
            site: site.into(),
            purchase,
            decisions,
        }
    }

    fn names() -> BTreeMap<String, String> {
        [("metz", "Tiers-lieu de Metz"), ("forbach", "Forbach")]
            .into_iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    #[test]
    fn a_site_sees_its_requests_sent_back_with_the_reason_and_those_to_order() {
        let now = at("2026-12-16T10:00:00+01:00");
        let records = [
            record("da-draft", "metz", None, None),
            record("da-waits", "metz", Some("2026-12-01T10:00:00+01:00"), None),
            record(
                "da-back",
                "metz",
                Some("2026-12-01T10:00:00+01:00"),
                Some((
                    "needs_info",
                    "2026-12-13T09:30:00+01:00",
                    "Joignez le devis.",
                )),
            ),
            record(
                "da-ok",
                "metz",
                Some("2026-12-01T10:00:00+01:00"),
                Some(("validated", "2026-12-15T18:00:00+01:00", "")),
            ),
            record(
                "da-other",
                "forbach",
                Some("2026-12-01T10:00:00+01:00"),
                Some(("needs_info", "2026-12-02T10:00:00+01:00", "Autre site.")),
            ),
            record(
                "da-no",
                "metz",
                Some("2026-12-01T10:00:00+01:00"),
                Some(("refused", "2026-12-02T10:00:00+01:00", "Hors budget.")),
            ),
        ];
        let p = site_purchases(&records, "metz", now);
        assert_eq!(
            p.sent_back,
            [PurchaseRow {
                id: "da-back".into(),
                site: "metz".into(),
                object: "Objet da-back".into(),
                total_ttc: "1\u{202f}500,60 €".into(),
                since: "dim. 13 déc. 2026, 09:30".into(),
                waiting: "3 jours".into(),
                reason: "Joignez le devis.".into(),
            }]
        );
        assert_eq!(p.to_order.len(), 1);
        assert_eq!(p.to_order[0].id, "da-ok");
        assert_eq!(p.to_order[0].waiting, "moins d'un jour");
        assert_eq!(p.to_order[0].reason, "", "no reason shown for a validation");
    }

    #[test]
    fn a_request_sent_back_and_submitted_again_waits_for_the_academy_not_the_site() {
        let now = at("2026-12-16T10:00:00+01:00");
        let mut r = record(
            "da-1",
            "metz",
            Some("2026-12-01T10:00:00+01:00"),
            Some(("needs_info", "2026-12-02T10:00:00+01:00", "Le devis ?")),
        );
        r.purchase
            .submitted
            .push(step("2026-12-15T10:00:00+01:00", ""));
        let records = [r];
        assert!(site_purchases(&records, "metz", now).sent_back.is_empty());
        let queue = purchases_to_decide(&records, &names(), now);
        assert_eq!(queue.len(), 1);
        assert_eq!(
            queue[0].since, "mar. 15 déc. 2026, 10:00",
            "the latest submission"
        );
        assert_eq!(queue[0].waiting, "1 jour");
    }

    #[test]
    fn the_academy_sees_submitted_requests_of_every_site_oldest_first_by_site_name() {
        let now = at("2026-12-16T10:00:00+01:00");
        let records = [
            record("da-new", "metz", Some("2026-12-15T09:00:00+01:00"), None),
            record("da-old", "forbach", Some("2026-12-13T08:00:00+01:00"), None),
            record(
                "da-unknown",
                "sarre",
                Some("2026-12-14T08:00:00+01:00"),
                None,
            ),
            record("da-draft", "metz", None, None),
            record(
                "da-done",
                "metz",
                Some("2026-12-01T10:00:00+01:00"),
                Some(("validated", "2026-12-02T10:00:00+01:00", "")),
            ),
        ];
        let queue = purchases_to_decide(&records, &names(), now);
        let shown: Vec<(&str, &str, &str)> = queue
            .iter()
            .map(|r| (r.id.as_str(), r.site.as_str(), r.waiting.as_str()))
            .collect();
        assert_eq!(
            shown,
            [
                ("da-old", "Forbach", "3 jours"),
                ("da-unknown", "sarre", "2 jours"),
                ("da-new", "Tiers-lieu de Metz", "1 jour"),
            ]
        );
        assert_eq!(queue[0].total_ttc, "1\u{202f}500,60 €");
    }

    fn site(id: &str, connected: bool, contact: &str, change: &str) -> pb::SiteHealth {
        pb::SiteHealth {
            id: id.into(),
            name: format!("Tiers-lieu {id}"),
            role: "site".into(),
            connected,
            last_contact: contact.into(),
            last_change_at: change.into(),
            ..Default::default()
        }
    }

    #[test]
    fn sites_silent_for_seven_days_or_never_heard_from_are_named() {
        let now = at("2026-12-16T10:00:00Z");
        let mut revoked = site("revoked", false, "", "");
        revoked.revoked_at = "2026-10-01T10:00:00Z".into();
        let h = pb::NetworkHealth {
            sites: vec![
                site("online", true, "", ""),
                site("recent", false, "2026-12-15T10:00:00Z", ""),
                // Its last sync is old, but a change of its own came through others.
                site(
                    "relayed",
                    false,
                    "2026-12-01T10:00:00Z",
                    "2026-12-14T10:00:00Z",
                ),
                site("old", false, "2026-12-04T09:00:00Z", "2026-12-03T10:00:00Z"),
                site("edge", false, "2026-12-09T10:00:00Z", ""),
                site("never", false, "", ""),
                revoked,
            ],
            ..Default::default()
        };
        let rows = silent_sites(&h, now);
        let ids: Vec<&str> = rows.iter().map(|r| r.id.as_str()).collect();
        assert_eq!(
            ids,
            ["never", "old", "edge"],
            "never first, then the longest silent"
        );
        assert_eq!(rows[0].silent_for, "jamais vu");
        assert_eq!(rows[0].last_contact, "aucun depuis le démarrage de ce nœud");
        assert_eq!(rows[0].last_change, "aucune");
        assert_eq!(rows[1].name, "Tiers-lieu old");
        assert_eq!(rows[1].silent_for, "12 jours");
        assert_eq!(
            rows[1].last_contact, "ven. 4 déc. 2026, 10:00",
            "Paris time"
        );
        assert_eq!(rows[1].last_change, "jeu. 3 déc. 2026, 11:00");
        assert_eq!(rows[2].silent_for, "7 jours");
    }

    #[test]
    fn conflicts_name_their_item() {
        let h = pb::NetworkHealth {
            loan_conflicts: vec![pb::LoanConflict {
                equipment: "eq-1".into(),
                loans: vec!["pr-1".into(), "pr-2".into()],
            }],
            ..Default::default()
        };
        let items = [("eq-1".to_string(), "Robot Thymio".to_string())].into();
        assert_eq!(
            conflicts(&h, &items),
            [ConflictRow {
                item: "Robot Thymio".into(),
                loans: vec!["pr-1".into(), "pr-2".into()],
            }]
        );
    }

    #[test]
    fn the_page_shows_each_role_its_sections_with_counts_and_links() {
        let row = |id: &str| PurchaseRow {
            id: id.into(),
            site: "Forbach".into(),
            object: "Caméras <HD>".into(),
            total_ttc: "300,00 €".into(),
            since: "lun. 14 déc. 2026, 10:00".into(),
            waiting: "2 jours".into(),
            reason: "Le devis manque.".into(),
        };
        let d = Dashboard {
            purchases: Some(SitePurchases {
                sent_back: vec![row("da-1")],
                to_order: vec![],
            }),
            ..Default::default()
        };
        let site = site_sections(&d).into_string();
        assert!(site.contains(
            "Demandes d'achat renvoyées pour complément <span class=\"count\">(1)</span>"
        ));
        assert!(site.contains("href=\"/achats/da-1\">Caméras &lt;HD&gt;</a>"));
        assert!(site.contains("Le devis manque."));
        assert!(site.contains("Aucun achat validé en attente de commande."));
        assert!(site.contains("data-live=\"achats-a-completer\""));
        assert_eq!(academy_sections(&d).into_string(), "", "not the academy's");

        let d = Dashboard {
            academy: Some(Academy {
                to_decide: vec![row("da-2")],
                silent_sites: vec![SiteRow {
                    id: "sarre".into(),
                    name: "Tiers-lieu de Sarrebourg".into(),
                    last_contact: "aucun depuis le démarrage de ce nœud".into(),
                    last_change: "aucune".into(),
                    silent_for: "jamais vu".into(),
                }],
                conflicts: vec![],
            }),
            ..Default::default()
        };
        let academy = academy_sections(&d).into_string();
        assert!(academy.contains("Demandes d'achat à décider <span class=\"count\">(1)</span>"));
        assert!(academy.contains("<td>Forbach</td>"));
        assert!(academy
            .contains("Sites sans nouvelles depuis 7 jours <span class=\"count\">(1)</span>"));
        assert!(academy.contains("<a href=\"/reseau\">Tiers-lieu de Sarrebourg</a>"));
        assert!(
            !academy.contains("Prêts en conflit"),
            "hidden when there is none"
        );
        assert!(!academy.contains("Motif"), "no reason column in the queue");
        assert_eq!(site_sections(&d).into_string(), "");
    }
}
