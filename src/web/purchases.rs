//! Purchase requests in the browser (issue 12, items 3 and 4). On a site
//! node: the site's requests (and, read only, the network's), the request
//! form ([`super::purchase_form`]), a request's page with its lines, totals,
//! history and the steps its state allows (submit, cancel, ordered,
//! delivered with the lines that become equipment). On the academy node,
//! for academy accounts: the queue of submitted requests across sites,
//! totals per funding line, and the decision (valider, refuser, demander un
//! complément) from a request's page.
//!
//! Every read and write goes through `app::purchases`, as the gRPC service
//! does: writes need a director (as there) and the request must be this
//! site's; decisions need an academy account on an academy node.

use std::collections::BTreeMap;

use axum::extract::{Path, Query, State};
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::{IntoResponse, Redirect, Response};
use axum::Form;
use maud::{html, Markup};
use rust_decimal::Decimal;
use serde::Deserialize;

use super::actions::fr_amount;
use super::pages::{csrf_field, layout, notice, Frame, Notice};
use super::purchase_form::{self as form, euros, problem_fr, FormInput, FormPage};
use super::session::Session;
use super::{html, signed_in, status_of, Refusal, Web};
use crate::app::purchases::{self as app, Record};
use crate::app::{equipment, NodeContext};
use crate::auth::{Need, Role};
use crate::domain::purchases::{state_fr, STATES_FR};
use crate::domain::{site, time};
use crate::error::{Error, Result};
use crate::pb;

/// The script of the request form.
pub const SCRIPT: &str = include_str!("achats.js");

/// `GET /static/achats.js`.
pub async fn script() -> Response {
    (
        [
            (header::CONTENT_TYPE, "text/javascript; charset=utf-8"),
            (header::CACHE_CONTROL, "public, max-age=3600"),
        ],
        SCRIPT,
    )
        .into_response()
}

fn role_of(s: &Session) -> Role {
    s.person.as_ref().map(|p| p.role).unwrap_or(Role::Viewer)
}

fn error_page(web: &Web, s: &Session, status: StatusCode, text: &str) -> Response {
    html(
        status,
        super::pages::message(&web.frame(s), "Demande d'achat", &problem_fr_text(text)),
    )
}

/// An error's text as the page says it (states and API words in French).
fn problem_fr_text(text: &str) -> String {
    problem_fr(&Error::InvalidArgument(text.to_string()))
}

/// Whether this person decides on purchases here: an academy account on an
/// academy node.
fn decides(web: &Web, s: &Session) -> bool {
    role_of(s) == Role::Academy && web.ctx.role == site::Role::Academy
}

const ACADEMY_ONLY: &str = "Seule l'équipe académique, sur le nœud académique, décide des demandes d'achat et voit la file des demandes à décider.";

fn name_of(names: &BTreeMap<String, String>, site: &str) -> String {
    equipment::name_of(names, site)
}

/// A stored instant's day, as people write it.
fn fr_day_of(at: &str) -> String {
    time::parse_instant(at)
        .map(|t| time::fr_date(t.with_timezone(&time::TZ).date_naive()))
        .unwrap_or_else(|_| at.to_string())
}

/// A state as a badge; « compléments demandés » and « refusée » stand out.
fn state_badge(state: &str) -> Markup {
    html! {
        @if matches!(state, "needs_info" | "refused") {
            span.badge.badge-error data-state=(state) { (state_fr(state)) }
        } @else {
            span.badge data-state=(state) { (state_fr(state)) }
        }
    }
}

/// Runs reads on the blocking pool.
async fn blocking<T: Send + 'static>(
    web: &Web,
    f: impl FnOnce(&NodeContext) -> Result<T> + Send + 'static,
) -> Result<T> {
    let ctx = web.ctx.clone();
    tokio::task::spawn_blocking(move || f(&ctx))
        .await
        .map_err(|e| Error::FailedPrecondition(format!("lecture interrompue : {e}")))?
}

/// (id, title) of the network's common actions, by title.
fn action_titles(ctx: &NodeContext) -> Result<Vec<(String, String)>> {
    let mut v: Vec<(String, String)> = crate::app::actions::all(ctx)?
        .into_iter()
        .map(|a| (a.id, a.title))
        .collect();
    v.sort_by_key(|(_, t)| crate::domain::fold_for_search(t));
    Ok(v)
}

// ---------------------------------------------------------------------------
// The list (a site) and the queue (the academy).

#[derive(Deserialize, Default, Debug)]
pub struct ListQuery {
    /// A state key; empty: every state.
    #[serde(default)]
    etat: String,
    /// Empty: this site's; `tous`: the network's; else a site id.
    #[serde(default)]
    site: String,
}

struct Listed {
    records: Vec<Record>,
    names: BTreeMap<String, String>,
}

fn load_all(ctx: &NodeContext) -> Result<Listed> {
    let mut records = app::all(ctx)?;
    records.sort_by(|a, b| b.purchase.updated_at.cmp(&a.purchase.updated_at));
    Ok(Listed {
        records,
        names: equipment::site_names(ctx)?,
    })
}

/// `GET /achats`: the site's requests; academy accounts go to the queue.
pub async fn list(
    State(web): State<Web>,
    headers: HeaderMap,
    Query(q): Query<ListQuery>,
) -> Response {
    let (s, _) = match signed_in(&web, &headers, Need::Read) {
        Ok(x) => x,
        Err(r) => return *r,
    };
    if decides(&web, &s) {
        return Redirect::to("/achats/a-decider").into_response();
    }
    let l = match blocking(&web, load_all).await {
        Ok(l) => l,
        Err(e) => return error_page(&web, &s, status_of(&e), &e.to_string()),
    };
    let here = web.ctx.site.clone();
    let rows: Vec<&Record> = l
        .records
        .iter()
        .filter(|r| match q.site.as_str() {
            "" => r.site == here,
            "tous" => true,
            other => r.site == other,
        })
        // Other sites' drafts are their working copies.
        .filter(|r| r.site == here || r.state() != "draft")
        .filter(|r| q.etat.is_empty() || r.state() == q.etat)
        .collect();
    let writer = role_of(&s) >= Role::Director && web.ctx.role == site::Role::Site;
    html(
        StatusCode::OK,
        list_page(&web.frame(&s), &q, &rows, &l.names, &here, writer),
    )
}

fn purchases_table(
    caption: &str,
    rows: &[&Record],
    names: &BTreeMap<String, String>,
    with_site: bool,
) -> Markup {
    html! {
        table {
            caption.sr-only { (caption) }
            thead { tr {
                th scope="col" { "Objet" }
                @if with_site { th scope="col" { "Site" } }
                th scope="col" { "État" }
                th scope="col" { "Dernière étape" }
                th scope="col" { "Financement" }
                th scope="col" { "Total TTC" }
            } }
            tbody {
                @for r in rows {
                    tr data-purchase=(r.id) {
                        td { a href={ "/achats/" (r.id) } { (r.purchase.object) } }
                        @if with_site { td { (name_of(names, &r.site)) } }
                        td { (state_badge(r.state())) }
                        td { (fr_day_of(&r.purchase.updated_at)) }
                        td { @if r.purchase.funding.is_empty() { "—" } @else { (r.purchase.funding) } }
                        td.num { (euros(r.purchase.totals().ttc)) }
                    }
                }
            }
        }
    }
}

fn state_select(id: &str, chosen: &str) -> Markup {
    html! {
        label for=(id) { "État" }
        select id=(id) name="etat" {
            option value="" selected[chosen.is_empty()] { "Tous les états" }
            @for (k, f) in STATES_FR {
                option value=(k) selected[chosen == *k] { (f) }
            }
        }
    }
}

fn list_page(
    frame: &Frame,
    q: &ListQuery,
    rows: &[&Record],
    names: &BTreeMap<String, String>,
    here: &str,
    writer: bool,
) -> Markup {
    let mut sites: Vec<(&String, &String)> = names.iter().filter(|(k, _)| *k != here).collect();
    sites.sort_by_key(|(_, n)| crate::domain::fold_for_search(n));
    let with_site = !q.site.is_empty();
    let waiting = rows
        .iter()
        .filter(|r| r.site == here && r.state() == "needs_info")
        .count();
    layout(
        frame,
        "Demandes d'achat",
        html! {
            p.lead { "Les demandes d'achat du site, de la rédaction à la livraison ; l'équipe académique les valide." }
            @if writer {
                p { a.btn #nouvelle-demande href="/achats/nouveau" { "Nouvelle demande d'achat" } }
            }
            @if waiting > 0 {
                div.alert.alert-error role="note" {
                    p { (waiting) " demande" @if waiting > 1 { "s" } " renvoyée" @if waiting > 1 { "s" } " par l'équipe académique attend" @if waiting > 1 { "ent" } " un complément." }
                }
            }
            form.form.filters method="get" action="/achats" {
                div.field { (state_select("filtre-etat", &q.etat)) }
                div.field {
                    label for="filtre-site" { "Demandes de" }
                    select #filtre-site name="site" {
                        option value="" selected[q.site.is_empty()] { "Notre site" }
                        option value="tous" selected[q.site == "tous"] { "Tout le réseau" }
                        @for (id, name) in &sites {
                            option value=(id) selected[q.site == **id] { (name) }
                        }
                    }
                }
                button.btn.btn-secondary type="submit" { "Filtrer" }
            }
            section.card data-live="achats" {
                h2 { "Demandes " span.count { "(" (rows.len()) ")" } }
                @if rows.is_empty() {
                    p.empty { "Aucune demande d'achat ne correspond à ces critères." }
                } @else {
                    (purchases_table("Demandes d'achat", rows, names, with_site))
                }
                @if with_site {
                    p.small { "Les demandes des autres sites se lisent ici ; seul leur site les modifie. Leurs brouillons ne sont pas montrés." }
                }
            }
        },
    )
}

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
            super::pages::message(&web.frame(&s), "Action refusée", ACADEMY_ONLY),
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

// ---------------------------------------------------------------------------
// A request's page.

#[derive(Deserialize, Default)]
pub struct Done {
    #[serde(default)]
    fait: String,
}

fn done_fr(done: &str) -> Option<&'static str> {
    Some(match done {
        "creee" => "Demande enregistrée en brouillon : soumettez-la quand elle est prête.",
        "modifiee" => "Demande enregistrée.",
        "soumise" => "Demande soumise à l'équipe académique.",
        "annulee" => "Demande annulée.",
        "commandee" => "Commande notée.",
        "livree" => "Livraison notée.",
        "decidee" => "Décision enregistrée : le site la verra dès que les nœuds se seront parlé.",
        _ => return None,
    })
}

struct Loaded {
    r: Record,
    wire: pb::Purchase,
    names: BTreeMap<String, String>,
    action_title: Option<String>,
    /// The items its delivery created: (id, name), as the catalogue has them.
    items: Vec<(String, String)>,
    categories: Vec<String>,
}

fn categories(ctx: &NodeContext) -> Vec<String> {
    let mut c: Vec<String> = crate::node::DEFAULT_CATEGORIES
        .iter()
        .map(|c| c.to_string())
        .collect();
    if let Ok(all) = equipment::list_all(ctx) {
        c.extend(all.iter().map(|i| i.category.clone()));
    }
    c.sort_by_key(|c| crate::domain::fold_for_search(c));
    c.dedup();
    c
}

fn load(ctx: &NodeContext, id: &str) -> Result<Loaded> {
    let r = app::find(ctx, id)?;
    let wire = app::to_pb(&r);
    let names = equipment::site_names(ctx)?;
    let action_title = match r.purchase.action.as_str() {
        "" => None,
        a => Some(
            crate::app::actions::get(ctx, a)
                .map(|a| a.title)
                .unwrap_or_else(|_| a.to_string()),
        ),
    };
    let items = if r.purchase.items.is_empty() {
        Vec::new()
    } else {
        let all = equipment::list_all(ctx)?;
        r.purchase
            .items
            .iter()
            .map(|i| {
                let name = all
                    .iter()
                    .find(|x| x.id == *i)
                    .map(|x| x.name.clone())
                    .unwrap_or_else(|| i.clone());
                (i.clone(), name)
            })
            .collect()
    };
    Ok(Loaded {
        r,
        wire,
        names,
        action_title,
        items,
        categories: categories(ctx),
    })
}

/// What was typed in a refused form of the page, shown again.
#[derive(Default)]
pub struct Typed {
    reason: String,
    /// Line (from 0) → category, for the lines ticked.
    delivered: BTreeMap<usize, String>,
}

struct View<'a> {
    l: &'a Loaded,
    /// This site's request and a director: the site's steps.
    writer: bool,
    /// An academy account on the academy node.
    decider: bool,
    typed: &'a Typed,
}

pub async fn show(
    State(web): State<Web>,
    headers: HeaderMap,
    Path(id): Path<String>,
    Query(done): Query<Done>,
) -> Response {
    let (s, _) = match signed_in(&web, &headers, Need::Read) {
        Ok(x) => x,
        Err(r) => return *r,
    };
    let n = match done_fr(&done.fait) {
        Some(m) => Notice::Success(m),
        None => Notice::None,
    };
    page_response(&web, &s, &id, StatusCode::OK, &n, &Typed::default()).await
}

async fn page_response(
    web: &Web,
    s: &Session,
    id: &str,
    status: StatusCode,
    n: &Notice<'_>,
    typed: &Typed,
) -> Response {
    let id = id.to_string();
    let l = match blocking(web, move |ctx| load(ctx, &id)).await {
        Ok(l) => l,
        Err(e) => return error_page(web, s, status_of(&e), &e.to_string()),
    };
    let view = View {
        writer: l.r.site == web.ctx.site
            && web.ctx.role == site::Role::Site
            && role_of(s) >= Role::Director,
        decider: decides(web, s),
        l: &l,
        typed,
    };
    html(status, purchase_page(&web.frame(s), &view, n))
}

fn step_fr(step: &str, n_submission: usize) -> String {
    match step {
        "submitted" if n_submission > 1 => "soumise à nouveau".to_string(),
        "needs_info" => "complément demandé".to_string(),
        s => state_fr(s).to_string(),
    }
}

fn purchase_page(frame: &Frame, v: &View, n: &Notice) -> Markup {
    let r = &v.l.r;
    let p = &r.purchase;
    let w = &v.l.wire;
    let names = &v.l.names;
    let state = r.state();
    let path = format!("/achats/{}", r.id);
    let reason = r
        .latest_decision()
        .map(|d| d.decided.note.clone())
        .unwrap_or_default();
    // Each step in French; a second submission is « soumise à nouveau ».
    let mut submissions = 0;
    let steps: Vec<(&pb::PurchaseStep, String)> = w
        .history
        .iter()
        .map(|h| {
            if h.step == "submitted" {
                submissions += 1;
            }
            (h, step_fr(&h.step, submissions))
        })
        .collect();
    layout(
        frame,
        &p.object,
        html! {
            p { a href=(if v.decider { "/achats/a-decider" } else { "/achats" }) { "← Retour aux demandes d'achat" } }
            (notice(n))
            // A live region: the academy's reason appears on an open page.
            div data-live="motif" {
                @if state == "needs_info" {
                    div.alert.alert-error.reason #motif role="note" {
                        p {
                            strong { "L'équipe académique demande un complément : " }
                            (reason)
                        }
                        @if v.writer {
                            p { "Modifiez la demande, puis soumettez-la à nouveau." }
                        }
                    }
                }
                @if state == "refused" {
                    div.alert.alert-error.reason #motif role="note" {
                        p { strong { "Demande refusée par l'équipe académique : " } (reason) }
                    }
                }
            }
            section.card data-live="demande" {
                h2 { "La demande" }
                dl.facts {
                    dt { "Site" } dd { (name_of(names, &r.site)) }
                    dt { "État" } dd #etat { (state_badge(state)) }
                    dt { "Fournisseur" } dd { @if p.supplier.is_empty() { "—" } @else { (p.supplier) } }
                    dt { "Ligne de financement" } dd { @if p.funding.is_empty() { "—" } @else { (p.funding) } }
                    dt { "Action commune" } dd {
                        @match &v.l.action_title {
                            Some(t) => a href={ "/actions/" (p.action) } { (t) },
                            None => "—",
                        }
                    }
                    dt { "Créée le" } dd { (time::fr_instant(&p.created.at)) }
                    @if p.submissions() > 0 {
                        dt { "Soumissions" } dd { (p.submissions()) }
                    }
                }
            }
            section.card data-live="lignes" {
                h2 { "Lignes " span.count { "(" (w.lines.len()) ")" } }
                @if w.lines.is_empty() {
                    p.empty { "Aucune ligne : modifiez la demande pour dire ce qu'il faut acheter." }
                } @else {
                    div.table-scroll {
                        table #lignes {
                            caption.sr-only { "Lignes de la demande et leurs totaux" }
                            thead { tr {
                                th scope="col" { "N°" }
                                th scope="col" { "Désignation" }
                                th scope="col" { "Quantité" }
                                th scope="col" { "Prix unitaire HT" }
                                th scope="col" { "TVA" }
                                th scope="col" { "Total HT" }
                                th scope="col" { "Montant TVA" }
                                th scope="col" { "Total TTC" }
                            } }
                            tbody {
                                @for (i, l) in w.lines.iter().enumerate() {
                                    tr data-line=(i) {
                                        td { (i + 1) }
                                        td { (l.designation) }
                                        td.num { (l.quantity) }
                                        td.num { (fr_amount(&l.unit_price_ht)) }
                                        td.num { (l.vat_rate.replace('.', ",")) " %" }
                                        td.num data-total="ht" { (fr_amount(&l.total_ht)) }
                                        td.num data-total="vat" { (fr_amount(&l.total_vat)) }
                                        td.num data-total="ttc" { (fr_amount(&l.total_ttc)) }
                                    }
                                }
                            }
                            tfoot { tr {
                                th scope="row" colspan="5" { "Total de la demande" }
                                td.num #total-ht { (fr_amount(&w.total_ht)) }
                                td.num #total-tva { (fr_amount(&w.total_vat)) }
                                td.num #total-ttc { (fr_amount(&w.total_ttc)) }
                            } }
                        }
                    }
                }
            }
            @if !v.l.items.is_empty() {
                section.card data-live="materiel" {
                    h2 { "Matériel créé à la livraison " span.count { "(" (v.l.items.len()) ")" } }
                    ul #materiel-cree {
                        @for (id, name) in &v.l.items {
                            li { a href={ "/materiel/" (id) } { (name) } }
                        }
                    }
                }
            }
            @if v.writer { (site_steps(frame, v, state, &path)) }
            @if v.decider && state == "submitted" { (decide_form(frame, v, &path)) }
            section.card data-live="historique" {
                h2 { "Historique" }
                ol.timeline #historique {
                    @for (h, label) in &steps {
                        li data-step=(h.step) {
                            span.small { (time::fr_instant(&h.at)) } " — "
                            strong { (label) }
                            " par " (name_of(names, &h.site)) " (" (crate::auth::role_fr(&h.role)) ")"
                            @if !h.note.is_empty() { " — motif : « " (h.note) " »" }
                        }
                    }
                }
            }
        },
    )
}

/// The steps this site may take in the request's state.
fn site_steps(frame: &Frame, v: &View, state: &str, path: &str) -> Markup {
    let p = &v.l.r.purchase;
    let editable = matches!(state, "draft" | "needs_info");
    let cancellable = matches!(state, "draft" | "submitted" | "needs_info" | "validated");
    html! {
        section.card data-live="etapes" {
            h2 { "Suite de la demande" }
            @if editable || cancellable || state == "validated" {
                div.actions {
                    @if editable {
                        a.btn.btn-secondary #modifier href={ (path) "/modifier" } { "Modifier la demande" }
                        form.inline method="post" action={ (path) "/soumettre" } {
                            (csrf_field(frame.csrf))
                            button.btn #soumettre type="submit" {
                                @if state == "needs_info" { "Soumettre à nouveau" } @else { "Soumettre à l'équipe académique" }
                            }
                        }
                    }
                    @if state == "validated" {
                        form.inline method="post" action={ (path) "/commandee" } {
                            (csrf_field(frame.csrf))
                            button.btn #commandee type="submit" { "Marquer comme commandée" }
                        }
                    }
                    @if cancellable {
                        form.inline method="post" action={ (path) "/annuler" } {
                            (csrf_field(frame.csrf))
                            button.btn.btn-secondary #annuler type="submit" { "Annuler la demande" }
                        }
                    }
                }
            }
            @if state == "submitted" {
                p.small { "La demande attend la décision de l'équipe académique." }
            }
            @if state == "ordered" {
                form.form.delivery method="post" action={ (path) "/livree" } {
                    (csrf_field(frame.csrf))
                    fieldset {
                        legend { "Livraison : quelles lignes deviennent du matériel du site ?" }
                        p.small { "Cochez les lignes à inscrire au catalogue (un objet par unité reçue), chacune avec sa catégorie. Les consommables restent décochés." }
                        @for (i, l) in p.lines.iter().enumerate() {
                            @let chosen = v.typed.delivered.get(&i);
                            div.delivered-line {
                                div.check {
                                    input type="checkbox" id={ "materiel-" (i) } name={ "materiel-" (i) } value="oui" checked[chosen.is_some()];
                                    label for={ "materiel-" (i) } { "Ligne " (i + 1) " : " (l.designation) " (× " (l.quantity) ")" }
                                }
                                div.field {
                                    label for={ "categorie-" (i) } { "Catégorie de la ligne " (i + 1) }
                                    select id={ "categorie-" (i) } name={ "categorie-" (i) } {
                                        @for c in &v.l.categories {
                                            option value=(c) selected[chosen.map(|x| x == c).unwrap_or(false)] { (c) }
                                        }
                                    }
                                }
                            }
                        }
                    }
                    button.btn #livree type="submit" { "Noter la livraison" }
                }
            }
        }
    }
}

fn decide_form(frame: &Frame, v: &View, path: &str) -> Markup {
    html! {
        section.card data-live="decision" {
            h2 { "Décision de l'équipe académique" }
            form.form method="post" action={ (path) "/decider" } {
                (csrf_field(frame.csrf))
                div.field {
                    label for="motif-decision" { "Motif" span.hint { "Obligatoire pour refuser ou demander un complément ; le site le lira." } }
                    textarea #motif-decision name="motif" rows="4" maxlength="2000" { (v.typed.reason) }
                }
                div.actions {
                    button.btn #valider type="submit" name="decision" value="validated" { "Valider" }
                    button.btn.btn-secondary #complement type="submit" name="decision" value="needs_info" { "Demander un complément" }
                    button.btn.btn-secondary #refuser type="submit" name="decision" value="refused" { "Refuser" }
                }
            }
        }
    }
}

// ---------------------------------------------------------------------------
// The steps.

/// Submit, cancel, ordered, delivered (a site's director) and decide (the
/// academy).
pub async fn act(
    State(web): State<Web>,
    headers: HeaderMap,
    Path((id, what)): Path<(String, String)>,
    Form(fields): Form<Vec<(String, String)>>,
) -> Response {
    if !matches!(
        what.as_str(),
        "soumettre" | "annuler" | "commandee" | "livree" | "decider"
    ) {
        return StatusCode::NOT_FOUND.into_response();
    }
    let field = |k: &str| {
        fields
            .iter()
            .find(|(n, _)| n == k)
            .map(|(_, v)| v.clone())
            .unwrap_or_default()
    };
    if what == "decider" {
        let (s, p) = match signed_in(&web, &headers, Need::Read) {
            Ok(x) => x,
            Err(r) => return *r,
        };
        if !decides(&web, &s) {
            return html(
                StatusCode::FORBIDDEN,
                super::pages::message(&web.frame(&s), "Action refusée", ACADEMY_ONLY),
            );
        }
        let verdict = field("decision");
        let reason = field("motif");
        let typed = Typed {
            reason: reason.clone(),
            ..Default::default()
        };
        if verdict != "validated" && reason.trim().is_empty() {
            let text = "Donnez un motif pour refuser la demande ou demander un complément : le site le lira.";
            return page_response(
                &web,
                &s,
                &id,
                StatusCode::BAD_REQUEST,
                &Notice::Error(text),
                &typed,
            )
            .await;
        }
        return match app::decide(&web.ctx, &id, &verdict, &reason, p.role.as_str()).await {
            Ok(r) => Redirect::to(&format!("/achats/{}?fait=decidee", r.id)).into_response(),
            Err(e) => {
                let text = problem_fr(&e);
                page_response(&web, &s, &id, status_of(&e), &Notice::Error(&text), &typed).await
            }
        };
    }
    let (s, p) = match signed_in(&web, &headers, Need::Director) {
        Ok(x) => x,
        Err(r) => return *r,
    };
    let role = p.role.as_str();
    let ctx = &web.ctx;
    let mut typed = Typed::default();
    let done = match what.as_str() {
        "soumettre" => app::submit(ctx, &id, role).await.map(|r| (r, "soumise")),
        "annuler" => app::cancel(ctx, &id, role).await.map(|r| (r, "annulee")),
        "commandee" => app::ordered(ctx, &id, role).await.map(|r| (r, "commandee")),
        _ => {
            for (k, _) in &fields {
                if let Some(n) = k
                    .strip_prefix("materiel-")
                    .and_then(|n| n.parse::<usize>().ok())
                {
                    typed.delivered.insert(n, field(&format!("categorie-{n}")));
                }
            }
            let chosen: Vec<(i64, String)> = typed
                .delivered
                .iter()
                .map(|(n, c)| (*n as i64 + 1, c.clone()))
                .collect();
            app::delivered(ctx, &id, !chosen.is_empty(), &chosen, "", role)
                .await
                .map(|r| (r, "livree"))
        }
    };
    match done {
        Ok((r, what)) => Redirect::to(&format!("/achats/{}?fait={what}", r.id)).into_response(),
        Err(e) => {
            let text = problem_fr(&e);
            page_response(&web, &s, &id, status_of(&e), &Notice::Error(&text), &typed).await
        }
    }
}

// ---------------------------------------------------------------------------
// The form: a new request, or one edited.

struct FormContext {
    actions: Vec<(String, String)>,
    fundings: Vec<String>,
}

fn form_context(ctx: &NodeContext) -> Result<FormContext> {
    let mut fundings: Vec<String> = app::all(ctx)?
        .into_iter()
        .map(|r| r.purchase.funding)
        .filter(|f| !f.is_empty())
        .collect();
    fundings.push("France 2030".to_string());
    fundings.sort();
    fundings.dedup();
    Ok(FormContext {
        actions: action_titles(ctx)?,
        fundings,
    })
}

/// Who may write a request here: a director of a site node.
fn writer(web: &Web, headers: &HeaderMap) -> std::result::Result<Session, Refusal> {
    let (s, _) = signed_in(web, headers, Need::Director)?;
    if web.ctx.role != site::Role::Site {
        return Err(Box::new(html(
            StatusCode::FORBIDDEN,
            super::pages::message(
                &web.frame(&s),
                "Action refusée",
                "Les demandes d'achat sont rédigées par les sites ; le nœud académique les décide.",
            ),
        )));
    }
    Ok(s)
}

#[allow(clippy::too_many_arguments)]
async fn form_response(
    web: &Web,
    s: &Session,
    status: StatusCode,
    editing: Option<(&str, &str)>,
    reason: Option<&str>,
    f: &FormInput,
    n: &Notice<'_>,
) -> Response {
    let fc = match blocking(web, form_context).await {
        Ok(c) => c,
        Err(e) => return error_page(web, s, status_of(&e), &e.to_string()),
    };
    let (title, url, back) = match editing {
        None => (
            "Nouvelle demande d'achat".to_string(),
            "/achats/nouveau".to_string(),
            (
                "/achats".to_string(),
                "Retour aux demandes d'achat".to_string(),
            ),
        ),
        Some((id, object)) => (
            format!("Modifier « {object} »"),
            format!("/achats/{id}/modifier"),
            (format!("/achats/{id}"), "Retour à la demande".to_string()),
        ),
    };
    let page = FormPage {
        title: &title,
        action_url: &url,
        back: (&back.0, &back.1),
        actions: &fc.actions,
        fundings: &fc.fundings,
        reason,
    };
    html(status, form::page(&web.frame(s), &page, f, n))
}

pub async fn new_form(State(web): State<Web>, headers: HeaderMap) -> Response {
    let s = match writer(&web, &headers) {
        Ok(s) => s,
        Err(r) => return *r,
    };
    form_response(
        &web,
        &s,
        StatusCode::OK,
        None,
        None,
        &FormInput::blank(),
        &Notice::None,
    )
    .await
}

/// What a form's button asks besides saving: the form shown again.
async fn redisplay(
    web: &Web,
    s: &Session,
    editing: Option<(&str, &str)>,
    reason: Option<&str>,
    f: &mut FormInput,
) -> Option<Response> {
    if f.edit_lines() {
        return Some(
            form_response(web, s, StatusCode::OK, editing, reason, f, &Notice::None).await,
        );
    }
    if f.button == "recalculer" {
        let c = form::check(f);
        let n = match c.first_error() {
            Some(e) => Notice::Error(e),
            None => Notice::Success("Totaux recalculés par le serveur."),
        };
        let status = if c.first_error().is_some() {
            StatusCode::BAD_REQUEST
        } else {
            StatusCode::OK
        };
        return Some(form_response(web, s, status, editing, reason, f, &n).await);
    }
    None
}

pub async fn create(
    State(web): State<Web>,
    headers: HeaderMap,
    Form(fields): Form<Vec<(String, String)>>,
) -> Response {
    let s = match writer(&web, &headers) {
        Ok(s) => s,
        Err(r) => return *r,
    };
    let role = role_of(&s);
    let mut f = FormInput::from_fields(&fields);
    if let Some(r) = redisplay(&web, &s, None, None, &mut f).await {
        return r;
    }
    let saved = match form::patch(&f) {
        Ok(patch) => app::create(&web.ctx, patch, role.as_str()).await,
        Err(e) => Err(e),
    };
    match saved {
        Ok(r) => Redirect::to(&format!("/achats/{}?fait=creee", r.id)).into_response(),
        Err(e) => {
            let text = problem_fr(&e);
            form_response(
                &web,
                &s,
                status_of(&e),
                None,
                None,
                &f,
                &Notice::Error(&text),
            )
            .await
        }
    }
}

/// This site's request `id`, editable; else the page that says why not.
async fn editable(web: &Web, s: &Session, id: &str) -> std::result::Result<Record, Refusal> {
    let id = id.to_string();
    let r = blocking(web, move |ctx| app::find(ctx, &id))
        .await
        .map_err(|e| Box::new(error_page(web, s, status_of(&e), &e.to_string())))?;
    if r.site != web.ctx.site {
        return Err(Box::new(html(
            StatusCode::FORBIDDEN,
            super::pages::message(
                &web.frame(s),
                "Action refusée",
                "Cette demande d'achat est celle d'un autre site : seul ce site peut la modifier.",
            ),
        )));
    }
    if !matches!(r.state(), "draft" | "needs_info") {
        let text = format!(
            "Cette demande est à l'état « {} » : elle se modifie en brouillon ou quand l'équipe académique demande un complément.",
            state_fr(r.state())
        );
        return Err(Box::new(error_page(web, s, StatusCode::CONFLICT, &text)));
    }
    Ok(r)
}

fn reason_of(r: &Record) -> Option<String> {
    (r.state() == "needs_info")
        .then(|| r.latest_decision().map(|d| d.decided.note.clone()))
        .flatten()
}

pub async fn edit_form(
    State(web): State<Web>,
    headers: HeaderMap,
    Path(id): Path<String>,
) -> Response {
    let s = match writer(&web, &headers) {
        Ok(s) => s,
        Err(r) => return *r,
    };
    let r = match editable(&web, &s, &id).await {
        Ok(r) => r,
        Err(resp) => return *resp,
    };
    let mut f = FormInput::of(&r.purchase);
    if f.lines.is_empty() {
        f = FormInput {
            lines: FormInput::blank().lines,
            ..f
        };
    }
    let reason = reason_of(&r);
    form_response(
        &web,
        &s,
        StatusCode::OK,
        Some((&r.id, &r.purchase.object)),
        reason.as_deref(),
        &f,
        &Notice::None,
    )
    .await
}

pub async fn save(
    State(web): State<Web>,
    headers: HeaderMap,
    Path(id): Path<String>,
    Form(fields): Form<Vec<(String, String)>>,
) -> Response {
    let s = match writer(&web, &headers) {
        Ok(s) => s,
        Err(r) => return *r,
    };
    let r = match editable(&web, &s, &id).await {
        Ok(r) => r,
        Err(resp) => return *resp,
    };
    let reason = reason_of(&r);
    let editing = Some((r.id.as_str(), r.purchase.object.as_str()));
    let mut f = FormInput::from_fields(&fields);
    if let Some(resp) = redisplay(&web, &s, editing, reason.as_deref(), &mut f).await {
        return resp;
    }
    let saved = match form::patch(&f) {
        Ok(patch) => app::update(&web.ctx, &r.id, patch).await,
        Err(e) => Err(e),
    };
    match saved {
        Ok(r) => Redirect::to(&format!("/achats/{}?fait=modifiee", r.id)).into_response(),
        Err(e) => {
            let text = problem_fr(&e);
            form_response(
                &web,
                &s,
                status_of(&e),
                editing,
                reason.as_deref(),
                &f,
                &Notice::Error(&text),
            )
            .await
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::loans::Transition;
    use crate::domain::purchases::{line, new_purchase, Decision, Patch};

    fn t(at: &str) -> Transition {
        Transition {
            at: at.into(),
            site: "metz".into(),
            role: "director".into(),
            note: String::new(),
        }
    }

    fn record(
        id: &str,
        funding: &str,
        price: &str,
        submitted: usize,
        verdict: Option<&str>,
    ) -> Record {
        let mut p = new_purchase(
            &Patch {
                object: Some(format!("Demande {id}")),
                lines: Some(vec![line(1, "Robot", 2, price, "20").unwrap()]),
                funding: Some(funding.into()),
                ..Default::default()
            },
            t("2026-11-30T10:00:00Z"),
        )
        .unwrap();
        for _ in 0..submitted {
            p.submitted.push(t("2026-11-30T11:00:00Z"));
        }
        Record {
            id: id.into(),
            site: "metz".into(),
            decisions: verdict
                .map(|v| Decision {
                    site: "metz".into(),
                    purchase: id.into(),
                    submission: submitted as i64,
                    verdict: v.into(),
                    decided: t("2026-11-30T12:00:00Z"),
                })
                .into_iter()
                .collect(),
            purchase: p,
        }
    }

    /// The ids of the fields people fill in (not hidden) of `page`.
    fn fields(page: &str) -> Vec<String> {
        let mut out = Vec::new();
        for tag in ["<input", "<select", "<textarea"] {
            for (i, _) in page.match_indices(tag) {
                let el = &page[i..i + page[i..].find('>').unwrap()];
                if el.contains("type=\"hidden\"") {
                    continue;
                }
                let id = el.split("id=\"").nth(1).and_then(|r| r.split('"').next());
                out.push(
                    id.unwrap_or_else(|| panic!("a field without id: {el}"))
                        .to_string(),
                );
            }
        }
        out
    }

    /// Every field has its label; every POST form its CSRF token.
    fn check(name: &str, page: &str) {
        for id in fields(page) {
            assert!(
                page.contains(&format!("<label for=\"{id}\"")),
                "{name}: no label for {id}"
            );
        }
        for (i, _) in page.match_indices("<form") {
            let form = &page[i..i + page[i..].find("</form>").unwrap()];
            if form.contains("method=\"post\"") {
                assert!(
                    form.contains("name=\"_csrf\""),
                    "{name}: form without _csrf"
                );
            }
        }
    }

    fn render(r: Record, writer: bool, decider: bool) -> String {
        let person = crate::web::session::Person {
            email: "d@a.fr".into(),
            name: "Claire".into(),
            role: Role::Director,
        };
        let frame = Frame {
            site_name: "Tiers-lieu metz",
            person: Some(&person),
            csrf: "jeton",
        };
        let l = Loaded {
            wire: app::to_pb(&r),
            r,
            names: [("metz".to_string(), "Tiers-lieu de Metz".to_string())].into(),
            action_title: None,
            items: vec![("eq-1".into(), "Robot (1/2)".into())],
            categories: vec!["robotique".into(), "numérique".into()],
        };
        let v = View {
            l: &l,
            writer,
            decider,
            typed: &Typed::default(),
        };
        purchase_page(&frame, &v, &Notice::None).into_string()
    }

    #[test]
    fn a_request_page_offers_what_its_state_allows_to_whom_may_do_it() {
        let draft = render(record("a", "", "10", 0, None), true, false);
        check("brouillon", &draft);
        assert!(draft.contains("/achats/a/soumettre") && draft.contains("/achats/a/modifier"));
        assert!(!draft.contains("/decider") && !draft.contains("/livree"));
        assert!(draft.contains("Tiers-lieu de Metz"), "the site by its name");

        let sent_back = render(record("b", "", "10", 1, Some("needs_info")), true, false);
        check("complément", &sent_back);
        assert!(sent_back.contains("L'équipe académique demande un complément"));
        assert!(sent_back.contains("Soumettre à nouveau"));

        let waiting = render(record("c", "", "10", 1, None), false, true);
        check("à décider", &waiting);
        assert!(waiting.contains("/achats/c/decider"));
        assert!(!waiting.contains("/soumettre") && !waiting.contains("/annuler"));
        let site_view = render(record("c", "", "10", 1, None), false, false);
        let main = site_view.split("<main").nth(1).unwrap();
        assert!(!main.contains("<form"), "a reader gets no form");

        let mut ordered = record("d", "", "10", 1, Some("validated"));
        ordered.purchase.ordered = Some(t("2026-12-01T10:00:00Z"));
        let page = render(ordered, true, false);
        check("commandée", &page);
        assert!(page.contains("id=\"materiel-0\"") && page.contains("id=\"categorie-0\""));
        assert!(
            !page.contains("materiel-0\" value=\"oui\" checked"),
            "unchecked by default"
        );
        assert!(
            page.contains("/materiel/eq-1"),
            "created items link to the catalogue"
        );
    }

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
