//! The academy's queue of purchase requests (`/achats/a-decider`): the
//! submitted requests across sites, the totals per funding line, and the
//! other requests by state. Academy accounts on the academy node only.

use std::collections::BTreeMap;

use axum::extract::{Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;
use maud::{html, Markup};
use rust_decimal::Decimal;
use serde::Deserialize;

use super::{
    blocking, decides, error_page, fr_day_of, load_all, name_of, purchases_table, state_select,
    Listed, ACADEMY_ONLY,
};
use crate::app::purchases::Record;
use crate::auth::Need;
use crate::web::pages::{layout, Frame};
use crate::web::purchase_form::euros;
use crate::web::{html, signed_in, status_of, Web};

#[derive(Deserialize, Default, Debug)]
pub struct QueueQuery {
    #[serde(default)]
    etat: String,
    #[serde(default)]
    site: String,
}

/// Per funding line: requests, requested TTC, waiting for a decision, validated TTC.
#[derive(Default, Debug, PartialEq)]
pub struct Funding {
    pub count: usize,
    pub requested: Decimal,
    pub waiting: Decimal,
    pub validated: Decimal,
}

/// The totals per funding line of the requests sent to the academy (as the
/// indicators count them: submitted at least once, not cancelled).
pub fn by_funding(records: &[Record]) -> BTreeMap<String, Funding> {
    let mut out: BTreeMap<String, Funding> = BTreeMap::new();
    for r in records {
        let state = r.state();
        if matches!(state, "draft" | "cancelled") {
            continue;
        }
        let ttc = r.purchase.totals().ttc;
        let f = out.entry(r.purchase.funding.clone()).or_default();
        f.count += 1;
        f.requested += ttc;
        if matches!(state, "submitted") {
            f.waiting += ttc;
        }
        if matches!(state, "validated" | "ordered" | "delivered") {
            f.validated += ttc;
        }
    }
    out
}

/// `GET /achats/a-decider`: the academy's queue.
pub async fn queue(
    State(web): State<Web>,
    headers: HeaderMap,
    Query(q): Query<QueueQuery>,
) -> Response {
    let (s, _) = match signed_in(&web, &headers, Need::Read) {
        Ok(x) => x,
        Err(r) => return *r,
    };
    if !decides(&web, &s) {
        return html(
            StatusCode::FORBIDDEN,
            crate::web::pages::message(&web.frame(&s), "Action refusée", ACADEMY_ONLY),
        );
    }
    let l = match blocking(&web, load_all).await {
        Ok(l) => l,
        Err(e) => return error_page(&web, &s, status_of(&e), &e.to_string()),
    };
    html(StatusCode::OK, queue_page(&web.frame(&s), &q, &l))
}

fn queue_page(frame: &Frame, q: &QueueQuery, l: &Listed) -> Markup {
    let submitted_at = |r: &Record| {
        r.purchase
            .submitted
            .last()
            .map(|t| t.at.clone())
            .unwrap_or_default()
    };
    let mut waiting: Vec<&Record> = l
        .records
        .iter()
        .filter(|r| r.state() == "submitted")
        .collect();
    waiting.sort_by_key(|r| crate::domain::loans::parse_stored(&submitted_at(r)));
    let funding = by_funding(&l.records);
    let others: Vec<&Record> = l
        .records
        .iter()
        .filter(|r| !matches!(r.state(), "draft" | "submitted"))
        .filter(|r| q.etat.is_empty() || r.state() == q.etat)
        .filter(|r| q.site.is_empty() || r.site == q.site)
        .collect();
    let mut sites: Vec<(&String, &String)> = l.names.iter().collect();
    sites.sort_by_key(|(_, n)| crate::domain::fold_for_search(n));
    let sum = |f: fn(&Funding) -> Decimal| funding.values().map(f).sum::<Decimal>();
    layout(
        frame,
        "Demandes d'achat à décider",
        html! {
            p.lead { "Les demandes soumises par les sites du réseau, de la plus ancienne à la plus récente. Ouvrez une demande pour la valider, la refuser ou demander un complément." }
            section.card data-live="a-decider" {
                h2 { "À décider " span.count { "(" (waiting.len()) ")" } }
                @if waiting.is_empty() {
                    p.empty { "Aucune demande n'attend de décision." }
                } @else {
                    table #file-a-decider {
                        caption.sr-only { "Demandes à décider" }
                        thead { tr {
                            th scope="col" { "Site" }
                            th scope="col" { "Objet" }
                            th scope="col" { "Soumise le" }
                            th scope="col" { "Financement" }
                            th scope="col" { "Total TTC" }
                        } }
                        tbody {
                            @for r in &waiting {
                                tr data-purchase=(r.id) {
                                    td { (name_of(&l.names, &r.site)) }
                                    td {
                                        a href={ "/achats/" (r.id) } { (r.purchase.object) }
                                        @if r.purchase.submissions() > 1 {
                                            br; span.small { "soumise à nouveau (" (r.purchase.submissions()) "e fois)" }
                                        }
                                    }
                                    td { (fr_day_of(&submitted_at(r))) }
                                    td { @if r.purchase.funding.is_empty() { "—" } @else { (r.purchase.funding) } }
                                    td.num { (euros(r.purchase.totals().ttc)) }
                                }
                            }
                        }
                    }
                }
            }
            section.card data-live="financements" {
                h2 { "Par ligne de financement" }
                p.small { "Demandes soumises au moins une fois et non annulées (comme dans les indicateurs) ; montants TTC." }
                @if funding.is_empty() {
                    p.empty { "Aucune demande soumise." }
                } @else {
                    table #financements {
                        caption.sr-only { "Totaux par ligne de financement" }
                        thead { tr {
                            th scope="col" { "Ligne de financement" }
                            th scope="col" { "Demandes" }
                            th scope="col" { "Demandé TTC" }
                            th scope="col" { "dont à décider" }
                            th scope="col" { "Validé TTC" }
                        } }
                        tbody {
                            @for (line, f) in &funding {
                                tr data-funding=(line) {
                                    th scope="row" { @if line.is_empty() { "sans financement indiqué" } @else { (line) } }
                                    td.num { (f.count) }
                                    td.num data-total="requested" { (euros(f.requested)) }
                                    td.num data-total="waiting" { (euros(f.waiting)) }
                                    td.num data-total="validated" { (euros(f.validated)) }
                                }
                            }
                        }
                        tfoot { tr {
                            th scope="row" { "Total" }
                            td.num { (funding.values().map(|f| f.count).sum::<usize>()) }
                            td.num { (euros(sum(|f| f.requested))) }
                            td.num { (euros(sum(|f| f.waiting))) }
                            td.num { (euros(sum(|f| f.validated))) }
                        } }
                    }
                }
            }
            section.card data-live="autres" {
                h2 { "Les autres demandes " span.count { "(" (others.len()) ")" } }
                form.form.filters method="get" action="/achats/a-decider" {
                    div.field { (state_select("filtre-etat", &q.etat)) }
                    div.field {
                        label for="filtre-site" { "Site" }
                        select #filtre-site name="site" {
                            option value="" selected[q.site.is_empty()] { "Tous les sites" }
                            @for (id, name) in &sites {
                                option value=(id) selected[q.site == **id] { (name) }
                            }
                        }
                    }
                    button.btn.btn-secondary type="submit" { "Filtrer" }
                }
                @if others.is_empty() {
                    p.empty { "Aucune autre demande ne correspond à ces critères." }
                } @else {
                    (purchases_table("Autres demandes d'achat", &others, &l.names, true))
                }
            }
        },
    )
}

#[cfg(test)]
mod tests {
    use super::super::testing::record;
    use super::*;

    #[test]
    fn funding_lines_add_requested_waiting_and_validated_ttc() {
        let records = vec![
            record("a", "France 2030", "100", 1, None),
            record("b", "France 2030", "50", 1, Some("validated")),
            record("c", "France 2030", "10", 0, None),
            record("d", "", "1", 2, Some("refused")),
        ];
        let f = by_funding(&records);
        assert_eq!(f.len(), 2, "a draft counts nowhere");
        let fr = &f["France 2030"];
        assert_eq!(fr.count, 2);
        // 2 × 100 HT + 20 % = 240; 2 × 50 + 20 % = 120.
        assert_eq!(crate::domain::purchases::eur(fr.requested), "360.00");
        assert_eq!(crate::domain::purchases::eur(fr.waiting), "240.00");
        assert_eq!(crate::domain::purchases::eur(fr.validated), "120.00");
        assert_eq!(crate::domain::purchases::eur(f[""].requested), "2.40");
        assert_eq!(f[""].validated, Decimal::ZERO);
    }
}
