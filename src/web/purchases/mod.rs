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
//!
//! Here: the list and the form's handlers; `page.rs`: a request's page and
//! its steps; `queue.rs`: the academy's queue.

mod page;
mod queue;

pub use page::{act, show};
pub use queue::queue;

use std::collections::BTreeMap;

use axum::extract::{Path, Query, State};
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::{IntoResponse, Redirect, Response};
use axum::Form;
use maud::{html, Markup};
use serde::Deserialize;

use super::pages::{layout, Frame, Notice};
use super::purchase_form::{self as form, euros, problem_fr, FormInput, FormPage};
use super::session::Session;
use super::{html, signed_in, status_of, Refusal, Web};
use crate::app::purchases::{self as app, Record};
use crate::app::{equipment, NodeContext};
use crate::auth::{Need, Role};
use crate::base;
use crate::domain::purchases::{state_fr, STATES_FR};
use crate::domain::time;
use crate::error::{Error, Result};

/// The script of the request form.
pub const SCRIPT: &str = include_str!("../achats.js");

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
    role_of(s) == Role::Academy && web.ctx.role == base::Role::Academy
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
// The list, and what the queue shares with it.

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
    let writer = role_of(&s) >= Role::Director && web.ctx.role == base::Role::Site;
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
    if web.ctx.role != base::Role::Site {
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
pub(crate) mod testing {
    //! Requests in each state, for the pages' unit tests.
    use super::Record;
    use crate::domain::loans::Transition;
    use crate::domain::purchases::{line, new_purchase, Decision, Patch};

    pub(crate) fn t(at: &str) -> Transition {
        Transition {
            at: at.into(),
            site: "metz".into(),
            role: "director".into(),
            note: String::new(),
        }
    }

    pub(crate) fn record(
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
}
