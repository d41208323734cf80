//! The academic team's pages (issue 12): the school year's indicators
//! (`/indicateurs`: a period, a grouping, tables, a bar chart drawn in SVG by
//! the server, downloads) and a site's bilan (`/bilans`: a printable A4
//! page and the command line's downloads). Both call the use cases of the
//! gRPC service (`app::reports::indicators` and `bilan`), and the downloads
//! come from the command line's renderers (`report::render`): the same
//! figures, the same bytes.

use axum::extract::{Path, Query, State};
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::{IntoResponse, Redirect, Response};
use maud::{html, Markup};
use serde::{Deserialize, Serialize};

use super::pages::{layout, notice, Frame, Notice};
use super::session::Session;
use super::{html, signed_in, status_of, Web};
use crate::app::{reports as rep, NodeContext};
use crate::auth::Need;
use crate::domain::time;
use crate::error::{Error, Result};
use crate::pb;
use crate::report::render;

/// The heading of every printed bilan.
pub const HEADING: &str = "Académie de Nancy-Metz — Projet ASTERIE";

/// The groupings of the indicators page: (value of `par`, French words).
const GROUPINGS: &[(&str, &str)] = &[
    ("total", "aucun (total du réseau)"),
    ("site", "site"),
    ("mois", "mois"),
    ("axe", "axe ASTERIE"),
    ("categorie", "catégorie de matériel"),
];

/// The indicator the chart shows unless another is chosen.
const DEFAULT_CHART: &str = "loans.lent";

fn error_page(web: &Web, s: &Session, status: StatusCode, text: &str) -> Response {
    html(
        status,
        super::pages::message(&web.frame(s), "Erreur", &super::capital(text)),
    )
}

/// Runs a use case on the blocking pool.
async fn blocking<T: Send + 'static>(
    web: &Web,
    f: impl FnOnce(&NodeContext) -> Result<T> + Send + 'static,
) -> Result<T> {
    let ctx = web.ctx.clone();
    tokio::task::spawn_blocking(move || f(&ctx))
        .await
        .map_err(|e| Error::FailedPrecondition(format!("calcul interrompu : {e}")))?
}

/// A day of the API (AAAA-MM-JJ) as people read it.
fn fr_day(d: &str) -> String {
    time::parse_date(d)
        .map(time::fr_date)
        .unwrap_or_else(|_| d.to_string())
}

/// A figure's value as shown: counts as they are, decimals with a comma.
fn shown(f: &pb::Figure, v: &str) -> String {
    if f.integer {
        v.to_string()
    } else {
        render::fr_number(v)
    }
}

/// A period given with only one of its ends: the message, and no dates (the
/// school year is shown instead).
fn period_of(du: &str, au: &str) -> (String, String, Option<&'static str>) {
    match (du.trim(), au.trim()) {
        (f, t) if f.is_empty() != t.is_empty() => (
            String::new(),
            String::new(),
            Some(
                "Donnez les deux dates de la période (du et au) : voici l'année scolaire en cours.",
            ),
        ),
        (f, t) => (f.to_string(), t.to_string(), None),
    }
}

fn download(bytes: Vec<u8>, content_type: &'static str, file: &str) -> Response {
    let disposition = format!("attachment; filename=\"{file}\"");
    (
        [
            (header::CONTENT_TYPE, content_type.to_string()),
            (header::CONTENT_DISPOSITION, disposition),
        ],
        bytes,
    )
        .into_response()
}

const CSV: &str = "text/csv; charset=utf-8";
const JSON: &str = "application/json";
const MARKDOWN: &str = "text/markdown; charset=utf-8";

/// A row of [`render::rows`]: section, figure of the total, group values.
type Row<'a> = (&'static str, &'a pb::Figure, Vec<&'a str>);

/// The figures of a report, one table per section (loans, equipment…):
/// a row per indicator (its French label), a column per group, then the
/// total. Each value cell says its key and group (`data-key`,
/// `data-group`, "total" for the total).
fn figure_tables(r: &pb::IndicatorReport, total: &str) -> Markup {
    let rows = render::rows(r);
    let mut sections: Vec<(&str, Vec<&Row>)> = Vec::new();
    for row in &rows {
        match sections.last_mut() {
            Some((s, v)) if *s == row.0 => v.push(row),
            _ => sections.push((row.0, vec![row])),
        }
    }
    html! {
        @for (section, rows) in &sections {
            section.card.figures {
                h2 { (section) }
                // Focusable, so that a keyboard can scroll a wide table.
                div.table-scroll tabindex="0" role="region" aria-label=(section) {
                    table data-section=(section) {
                        caption.sr-only { (section) }
                        thead { tr {
                            th scope="col" { "Indicateur" }
                            @for g in &r.groups { th scope="col" { (g.label) } }
                            th scope="col" { (total) }
                        } }
                        tbody {
                            @for (_, f, values) in rows {
                                tr {
                                    th scope="row" { (f.label) }
                                    @for (g, v) in r.groups.iter().zip(values.iter()) {
                                        td.num data-key=(f.name) data-group=(g.key) { (shown(f, v)) }
                                    }
                                    td.num data-key=(f.name) data-group="total" { (shown(f, &f.value)) }
                                }
                            }
                        }
                    }
                }
            }
        }
    }
}

/// A horizontal bar chart of one indicator, one bar per group, drawn by the
/// server: each bar (`rect`, with `data-group`, and `data-site` when grouped
/// by site) has a `<title>` with its group and value, written beside it.
fn chart(r: &pb::IndicatorReport, key: &str) -> Markup {
    let label = r
        .total
        .iter()
        .find(|f| f.name == key)
        .map(|f| f.label.clone())
        .unwrap_or_else(|| key.to_string());
    let bars: Vec<(&pb::IndicatorGroup, String, f64)> = r
        .groups
        .iter()
        .map(|g| {
            let f = g.figures.iter().find(|f| f.name == key);
            let text = f.map(|f| shown(f, &f.value)).unwrap_or_default();
            let v = f.and_then(|f| f.value.parse::<f64>().ok()).unwrap_or(0.0);
            (g, text, v)
        })
        .collect();
    let max = bars.iter().map(|b| b.2).fold(0.0_f64, f64::max);
    let (left, room, bar, step, top) = (250.0, 380.0, 22.0, 32.0, 8.0);
    let height = top * 2.0 + step * bars.len() as f64;
    let by_site = r.by == "site";
    let summary = format!(
        "Graphique en barres : {label}, {} barre{} ; les mêmes chiffres sont dans les tableaux.",
        bars.len(),
        if bars.len() > 1 { "s" } else { "" }
    );
    html! {
        figure.chart {
            svg xmlns="http://www.w3.org/2000/svg" role="img" aria-label=(summary)
                viewBox={ "0 0 720 " (height) } width="720" height=(height) {
                title { (label) }
                @for (i, (g, text, v)) in bars.iter().enumerate() {
                    @let y = top + step * i as f64;
                    @let w = if max > 0.0 { (v / max * room).max(0.0) } else { 0.0 };
                    text x=(left - 10.0) y=(y + bar * 0.72) text-anchor="end" { (g.label) }
                    rect x=(left) y=(y) width=(w) height=(bar) fill="#000091"
                        data-group=(g.key) data-site=[by_site.then_some(g.key.as_str())] {
                        title { (g.label) " : " (text) }
                    }
                    text x=(left + w + 8.0) y=(y + bar * 0.72) { (text) }
                }
            }
            figcaption { (label) " — " (r.groups.len()) " groupe" @if r.groups.len() > 1 { "s" } }
        }
    }
}

// ---------------------------------------------------------------------------
// Indicators.

#[derive(Deserialize, Serialize, Default, Debug, Clone)]
pub struct IndicatorsQuery {
    #[serde(default)]
    du: String,
    #[serde(default)]
    au: String,
    #[serde(default)]
    par: String,
    /// Only this site's figures (its id); empty for the whole network.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    site: String,
    /// Only this ASTERIE axis (1 to 3); empty for every axis.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    axe: String,
    #[serde(default)]
    indicateur: String,
}

impl IndicatorsQuery {
    fn request(&self) -> (pb::IndicatorsRequest, Option<&'static str>) {
        let (from, to, mut problem) = period_of(&self.du, &self.au);
        let by = match self.par.trim() {
            "total" => String::new(),
            p => p.to_string(),
        };
        // A number out of 1–3 is the use case's to refuse, as the CLI's.
        let axis = match self.axe.trim() {
            "" => 0,
            a => a.parse().unwrap_or_else(|_| {
                problem =
                    Some("Axe inconnu : les axes ASTERIE sont 1, 2 et 3 ; voici tous les axes.");
                0
            }),
        };
        (
            pb::IndicatorsRequest {
                from,
                to,
                by,
                site: self.site.trim().to_string(),
                axis,
                ..Default::default()
            },
            problem,
        )
    }
}

async fn report(
    web: &Web,
    q: &IndicatorsQuery,
) -> Result<(pb::IndicatorReport, Option<&'static str>)> {
    let (req, problem) = q.request();
    let r = blocking(web, move |ctx| rep::indicators(ctx, &req)).await?;
    Ok((r, problem))
}

/// The sites a report may be filtered by, (id, name) in name order.
async fn sites_by_name(web: &Web) -> Result<Vec<(String, String)>> {
    let names = blocking(web, crate::app::equipment::site_names).await?;
    let mut sites: Vec<(String, String)> = names
        .into_iter()
        .filter(|(id, _)| id != "network")
        .collect();
    sites.sort_by(|a, b| (&a.1, &a.0).cmp(&(&b.1, &b.0)));
    Ok(sites)
}

/// `GET /indicateurs`: the figures of a period, grouped as asked.
pub async fn indicators(
    State(web): State<Web>,
    headers: HeaderMap,
    Query(q): Query<IndicatorsQuery>,
) -> Response {
    let (s, _) = match signed_in(&web, &headers, Need::Read) {
        Ok(x) => x,
        Err(r) => return *r,
    };
    let sites = match sites_by_name(&web).await {
        Ok(x) => x,
        Err(e) => return error_page(&web, &s, status_of(&e), &e.to_string()),
    };
    match report(&web, &q).await {
        Ok((r, problem)) => {
            let n = problem.map(Notice::Error).unwrap_or(Notice::None);
            html(
                StatusCode::OK,
                indicators_page(&web.frame(&s), &q, &sites, Some(&r), &n),
            )
        }
        // A bad period, axis or site: the form again, with what was typed.
        Err(e @ (Error::InvalidArgument(_) | Error::NotFound(_))) => {
            let text = super::capital(&e.to_string());
            let page = indicators_page(&web.frame(&s), &q, &sites, None, &Notice::Error(&text));
            html(status_of(&e), page)
        }
        Err(e) => error_page(&web, &s, status_of(&e), &e.to_string()),
    }
}

/// `GET /indicateurs.csv`: the command line's `--format csv-excel` of the
/// same report.
pub async fn indicators_csv(
    State(web): State<Web>,
    headers: HeaderMap,
    Query(q): Query<IndicatorsQuery>,
) -> Response {
    indicators_file(web, headers, q, false).await
}

/// `GET /indicateurs.json`: the command line's `--format json` of the same
/// report.
pub async fn indicators_json(
    State(web): State<Web>,
    headers: HeaderMap,
    Query(q): Query<IndicatorsQuery>,
) -> Response {
    indicators_file(web, headers, q, true).await
}

async fn indicators_file(web: Web, headers: HeaderMap, q: IndicatorsQuery, json: bool) -> Response {
    let (s, _) = match signed_in(&web, &headers, Need::Read) {
        Ok(x) => x,
        Err(r) => return *r,
    };
    let r = match report(&web, &q).await {
        Ok((r, _)) => r,
        Err(e) => return error_page(&web, &s, status_of(&e), &e.to_string()),
    };
    let name = format!("indicateurs-{}-{}", r.from, r.to);
    let out = if json {
        render::indicators_json_bytes(&r).map(|b| (b, JSON, "json"))
    } else {
        render::indicators_csv_excel(&r).map(|b| (b, CSV, "csv"))
    };
    match out {
        Ok((bytes, ty, ext)) => download(bytes, ty, &format!("{name}.{ext}")),
        Err(e) => error_page(&web, &s, StatusCode::INTERNAL_SERVER_ERROR, &e.to_string()),
    }
}

fn indicators_page(
    frame: &Frame,
    q: &IndicatorsQuery,
    sites: &[(String, String)],
    r: Option<&pb::IndicatorReport>,
    n: &Notice,
) -> Markup {
    let (from, to) = match r {
        Some(r) => (r.from.clone(), r.to.clone()),
        None => (q.du.clone(), q.au.clone()),
    };
    let par = match q.par.trim() {
        "" => "total",
        p => p,
    };
    let chosen = r
        .and_then(|r| {
            r.total
                .iter()
                .find(|f| f.name == q.indicateur)
                .or_else(|| r.total.iter().find(|f| f.name == DEFAULT_CHART))
                .or(r.total.first())
        })
        .map(|f| f.name.clone())
        .unwrap_or_default();
    // The filters the report was made with (those of the query otherwise).
    let (site, axe) = match r {
        Some(r) => (
            r.site.clone(),
            if r.axis == 0 {
                String::new()
            } else {
                r.axis.to_string()
            },
        ),
        None => (q.site.trim().to_string(), q.axe.trim().to_string()),
    };
    let same = serde_urlencoded::to_string(IndicatorsQuery {
        du: from.clone(),
        au: to.clone(),
        par: par.to_string(),
        site: site.clone(),
        axe: axe.clone(),
        indicateur: chosen.clone(),
    })
    .unwrap_or_default();
    let site_name = sites
        .iter()
        .find(|(id, _)| *id == site)
        .map(|(_, name)| name.clone())
        .unwrap_or_else(|| site.clone());
    let scope = match (site.is_empty(), axe.parse::<i64>()) {
        (true, Err(_)) => None,
        (false, Err(_)) => Some(site_name),
        (true, Ok(a)) => Some(crate::domain::actions::axis_fr(a)),
        (false, Ok(a)) => Some(format!(
            "{site_name}, {}",
            crate::domain::actions::axis_fr(a)
        )),
    };
    let title = match r {
        Some(r) => format!("Indicateurs du {} au {}", fr_day(&r.from), fr_day(&r.to)),
        None => "Indicateurs".to_string(),
    };
    layout(
        frame,
        &title,
        html! {
            (notice(n))
            form.filters method="get" action="/indicateurs" {
                div.field {
                    label for="du" { "Du" span.hint { "premier jour" } }
                    input #du type="date" name="du" value=(from);
                }
                div.field {
                    label for="au" { "Au" span.hint { "dernier jour, inclus" } }
                    input #au type="date" name="au" value=(to);
                }
                div.field {
                    label for="filtre-site" { "Site" }
                    select #filtre-site name="site" {
                        option value="" selected[site.is_empty()] { "Tout le réseau" }
                        @for (id, name) in sites {
                            option value=(id) selected[*id == site] { (name) }
                        }
                    }
                }
                div.field {
                    // Not the id "axe": it would hide axe-core's `window.axe`.
                    label for="filtre-axe" { "Axe ASTERIE" }
                    select #filtre-axe name="axe" {
                        option value="" selected[axe.is_empty()] { "Tous les axes" }
                        @for (i, label) in crate::domain::actions::AXES_FR.iter().enumerate() {
                            @let v = (i + 1).to_string();
                            option value=(v) selected[axe == v] { "Axe " (v) " — " (label) }
                        }
                    }
                }
                div.field {
                    label for="par" { "Regrouper par" }
                    select #par name="par" {
                        @for (v, words) in GROUPINGS {
                            option value=(v) selected[*v == par] { (words) }
                        }
                    }
                }
                @if let Some(r) = r {
                    div.field {
                        label for="indicateur" { "Indicateur du graphique" }
                        select #indicateur name="indicateur" {
                            @for f in &r.total {
                                option value=(f.name) selected[f.name == chosen] { (f.label) }
                            }
                        }
                    }
                }
                button.btn type="submit" { "Afficher" }
            }
            @if let Some(scope) = &scope {
                p.lead.scope { "Chiffres de : " strong { (scope) } "." }
            }
            @if let Some(r) = r {
                p.actions.no-print {
                    a.btn.btn-secondary href={ "/indicateurs.csv?" (same) } download {
                        "Télécharger pour un tableur (CSV)"
                    }
                    a.btn.btn-secondary href={ "/indicateurs.json?" (same) } download {
                        "Télécharger en JSON"
                    }
                }
                @if !r.groups.is_empty() {
                    section.card {
                        h2 { "Graphique" }
                        (chart(r, &chosen))
                    }
                }
                (figure_tables(r, "Total"))
            }
        },
    )
}

// ---------------------------------------------------------------------------
// Bilans.

#[derive(Deserialize, Default, Debug)]
pub struct BilanQuery {
    #[serde(default)]
    site: String,
    #[serde(default)]
    du: String,
    #[serde(default)]
    au: String,
}

/// A site id safe to put in a path as it is.
fn plain_id(site: &str) -> bool {
    !site.is_empty()
        && site
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_' || c == '.')
}

/// `GET /bilans`: choose a site and a period; with a site, its bilan.
pub async fn bilans(
    State(web): State<Web>,
    headers: HeaderMap,
    Query(q): Query<BilanQuery>,
) -> Response {
    let (s, _) = match signed_in(&web, &headers, Need::Read) {
        Ok(x) => x,
        Err(r) => return *r,
    };
    let site = q.site.trim();
    if plain_id(site) {
        let same = serde_urlencoded::to_string([("du", q.du.trim()), ("au", q.au.trim())])
            .unwrap_or_default();
        return Redirect::to(&format!("/bilans/{site}?{same}")).into_response();
    }
    let names = match blocking(&web, crate::app::equipment::site_names).await {
        Ok(n) => n,
        Err(e) => return error_page(&web, &s, status_of(&e), &e.to_string()),
    };
    let (from, to, _) = period_of(&q.du, &q.au);
    let year = crate::report::Query::new(&from, &to, "", "", 0, "", rep::today())
        .or_else(|_| crate::report::Query::new("", "", "", "", 0, "", rep::today()));
    let (from, to) = match year {
        Ok(y) => (y.from.to_string(), y.to.to_string()),
        Err(_) => (String::new(), String::new()),
    };
    let page = layout(
        &web.frame(&s),
        "Bilans",
        html! {
            p.lead { "Le bilan d'un site sur une période : ses indicateurs, ses événements et leur fréquentation, ses prêts, ses actions communes et ses demandes d'achat, à imprimer ou à télécharger." }
            form.filters method="get" action="/bilans" {
                div.field {
                    label for="site" { "Site" }
                    select #site name="site" required {
                        @for (id, name) in &names {
                            @if id != "network" { option value=(id) { (name) } }
                        }
                    }
                }
                div.field {
                    label for="du" { "Du" span.hint { "premier jour" } }
                    input #du type="date" name="du" value=(from);
                }
                div.field {
                    label for="au" { "Au" span.hint { "dernier jour, inclus" } }
                    input #au type="date" name="au" value=(to);
                }
                button.btn type="submit" { "Voir le bilan" }
            }
        },
    );
    html(StatusCode::OK, page)
}

async fn load_bilan(web: &Web, site: &str, q: &BilanQuery) -> Result<pb::BilanReport> {
    let (from, to, _) = period_of(&q.du, &q.au);
    let req = pb::BilanRequest {
        site: site.to_string(),
        from,
        to,
        school_year: String::new(),
    };
    blocking(web, move |ctx| rep::bilan(ctx, &req)).await
}

fn site_name(b: &pb::BilanReport) -> &str {
    if b.site_name.is_empty() {
        &b.site
    } else {
        &b.site_name
    }
}

/// `GET /bilans/{site}`: the bilan as a printable A4 page.
pub async fn bilan(
    State(web): State<Web>,
    headers: HeaderMap,
    Path(site): Path<String>,
    Query(q): Query<BilanQuery>,
) -> Response {
    let (s, _) = match signed_in(&web, &headers, Need::Read) {
        Ok(x) => x,
        Err(r) => return *r,
    };
    match load_bilan(&web, &site, &q).await {
        Ok(b) => html(StatusCode::OK, bilan_page(&web.frame(&s), &b)),
        Err(e) => error_page(&web, &s, status_of(&e), &e.to_string()),
    }
}

/// `GET /bilans/{site}/{format}` (`csv`, `md`, `json`): the command line's
/// `report bilan --format csv-excel|md|json`.
pub async fn bilan_file(
    State(web): State<Web>,
    headers: HeaderMap,
    Path((site, format)): Path<(String, String)>,
    Query(q): Query<BilanQuery>,
) -> Response {
    let (s, _) = match signed_in(&web, &headers, Need::Read) {
        Ok(x) => x,
        Err(r) => return *r,
    };
    if !matches!(format.as_str(), "csv" | "md" | "json") {
        return super::not_found(State(web)).await;
    }
    let b = match load_bilan(&web, &site, &q).await {
        Ok(b) => b,
        Err(e) => return error_page(&web, &s, status_of(&e), &e.to_string()),
    };
    let out = match format.as_str() {
        "csv" => render::bilan_csv_excel(&b).map(|x| (x, CSV)),
        "md" => Ok((render::bilan_md(&b).into_bytes(), MARKDOWN)),
        _ => render::bilan_json_bytes(&b).map(|x| (x, JSON)),
    };
    let file = format!("bilan-{}-{}-{}.{format}", b.site, b.from, b.to);
    match out {
        Ok((bytes, ty)) => download(bytes, ty, &file),
        Err(e) => error_page(&web, &s, StatusCode::INTERNAL_SERVER_ERROR, &e.to_string()),
    }
}

fn empty_or(rows: usize, what: &str, table: Markup) -> Markup {
    html! {
        @if rows == 0 { p.empty { (what) } } @else { div.table-scroll { (table) } }
    }
}

fn bilan_page(frame: &Frame, b: &pb::BilanReport) -> Markup {
    let name = site_name(b);
    let title = format!(
        "Bilan de {name} du {} au {}",
        fr_day(&b.from),
        fr_day(&b.to)
    );
    let same = serde_urlencoded::to_string([("du", &b.from), ("au", &b.to)]).unwrap_or_default();
    let ind = b.indicators.clone().unwrap_or_default();
    let base = format!("/bilans/{}", b.site);
    layout(
        frame,
        &title,
        html! {
            p.bilan-heading { strong { (HEADING) } }
            div.bilan {
                p { "Site : " strong { (name) } " (" (b.site) "). Établi le " (time::fr_instant(&b.generated_at)) "." }
                div.no-print {
                    p.actions {
                        a.btn.btn-secondary href={ (base) "/csv?" (same) } download { "Télécharger pour un tableur (CSV)" }
                        a.btn.btn-secondary href={ (base) "/md?" (same) } download { "Télécharger en Markdown" }
                        a.btn.btn-secondary href={ (base) "/json?" (same) } download { "Télécharger en JSON" }
                    }
                    p.small { "Pour l'imprimer ou l'enregistrer en PDF (A4) : menu Imprimer du navigateur. " a href="/bilans" { "Choisir un autre site ou une autre période" } }
                }
                (figure_tables(&ind, "Valeur"))
                section.card {
                    h2 { "Événements et fréquentation" }
                    (empty_or(b.events.len(), "Aucun événement sur la période.", html! {
                        table {
                            caption.sr-only { "Événements et fréquentation" }
                            thead { tr {
                                th scope="col" { "Événement" } th scope="col" { "Type" } th scope="col" { "Début" }
                                th scope="col" { "Séances" } th scope="col" { "Séances saisies" } th scope="col" { "Élèves" }
                                th scope="col" { "Enseignants" } th scope="col" { "Familles" } th scope="col" { "Partenaires" }
                            } }
                            tbody { @for e in &b.events {
                                @let n = |v: i64| if e.has_attendance { v.to_string() } else { "–".to_string() };
                                tr {
                                    th scope="row" { (e.title) @if e.cancelled { " (annulé)" } }
                                    td { (crate::domain::calendar::kind_label(&e.kind)) }
                                    td { @if e.start.len() == 10 { (fr_day(&e.start)) } @else { (time::fr_instant(&e.start)) } }
                                    td.num { (e.occurrences) } td.num { (e.sessions_with_attendance) }
                                    td.num { (n(e.pupils)) } td.num { (n(e.teachers)) } td.num { (n(e.families)) } td.num { (n(e.partners)) }
                                }
                            } }
                        }
                    }))
                }
                @for (heading, loans, other) in [("Prêts donnés", &b.loans_given, "Emprunteur"), ("Prêts reçus", &b.loans_received, "Prêteur")] {
                    section.card {
                        h2 { (heading) }
                        (empty_or(loans.len(), "Aucun prêt sur la période.", html! {
                            table {
                                caption.sr-only { (heading) }
                                thead { tr {
                                    th scope="col" { "Prêt, matériel" } th scope="col" { (other) } th scope="col" { "État" }
                                    th scope="col" { "Quand" } th scope="col" { "Objets-jours" }
                                } }
                                tbody { @for l in loans.iter() {
                                    tr {
                                        // The items under the loan, so that the printed A4 keeps its columns.
                                        th scope="row" { (l.id) br; span.small { (render::loan_items(l)) } @if !l.purpose.is_empty() { br; span.small { (l.purpose) } } }
                                        td { @if other == "Emprunteur" { (l.borrower_name) } @else { (l.lender_name) } }
                                        td { (render::loan_state_shown(l)) }
                                        td { (time::fr_period(&l.from, &l.to)) }
                                        td.num { (l.item_days) }
                                    }
                                } }
                            }
                        }))
                    }
                }
                section.card {
                    h2 { "Actions communes" }
                    (empty_or(b.actions.len(), "Aucune action commune sur la période.", html! {
                        table {
                            caption.sr-only { "Actions communes" }
                            thead { tr {
                                th scope="col" { "Action" } th scope="col" { "Axe" } th scope="col" { "Statut" }
                                th scope="col" { "Rôle" } th scope="col" { "Budget prévu (€)" } th scope="col" { "Budget dépensé (€)" }
                            } }
                            tbody { @for a in &b.actions {
                                tr {
                                    th scope="row" { (a.title) }
                                    td.num { (a.axis) }
                                    td { (render::action_status_fr(&a.status)) }
                                    td { (render::role_fr(&a.role)) }
                                    td.num { (render::budget_cell(a, &render::fr_number(&a.budget_planned))) }
                                    td.num { (render::budget_cell(a, &render::fr_number(&a.budget_spent))) }
                                }
                            } }
                        }
                    }))
                }
                section.card {
                    h2 { "Demandes d'achat" }
                    (empty_or(b.purchases.len(), "Aucune demande d'achat soumise sur la période.", html! {
                        table {
                            caption.sr-only { "Demandes d'achat" }
                            thead { tr {
                                th scope="col" { "Objet" } th scope="col" { "Financement" } th scope="col" { "État" }
                                th scope="col" { "Soumise le" } th scope="col" { "Total TTC (€)" }
                            } }
                            tbody { @for p in &b.purchases {
                                tr {
                                    th scope="row" { (p.object) }
                                    td { (p.funding) }
                                    td { (render::purchase_state_fr(&p.state)) }
                                    td { (fr_day(&p.submitted_on)) }
                                    td.num { (render::fr_number(&p.total_ttc)) }
                                }
                            } }
                        }
                    }))
                }
            }
        },
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fig(name: &str, value: &str, integer: bool) -> pb::Figure {
        pb::Figure {
            name: name.into(),
            value: value.into(),
            integer,
            label: crate::report::labels::label(name).unwrap_or_default(),
        }
    }

    fn report() -> pb::IndicatorReport {
        let group = |key: &str, label: &str, lent: &str| pb::IndicatorGroup {
            key: key.into(),
            label: label.into(),
            figures: vec![
                fig("loans.lent", lent, true),
                fig("equipment.use_rate_pct", "12.5", false),
            ],
        };
        pb::IndicatorReport {
            from: "2025-09-01".into(),
            to: "2026-08-31".into(),
            by: "site".into(),
            groups: vec![
                group("metz", "Tiers-lieu <Metz>", "3"),
                group("forbach", "Forbach", "0"),
            ],
            total: vec![
                fig("loans.lent", "3", true),
                fig("equipment.use_rate_pct", "12.5", false),
            ],
            ..Default::default()
        }
    }

    #[test]
    fn the_chart_has_one_titled_bar_per_site() {
        let svg = chart(&report(), "loans.lent").into_string();
        assert_eq!(svg.matches("<rect").count(), 2);
        assert!(svg.contains("data-site=\"metz\""));
        assert!(svg.contains("data-site=\"forbach\""));
        assert!(svg.contains("role=\"img\""));
        assert!(
            svg.contains("aria-label=\"Graphique en barres : prêts consentis (sortis), 2 barres")
        );
        assert!(
            svg.contains("<title>Tiers-lieu &lt;Metz&gt; : 3</title>"),
            "{svg}"
        );
        assert!(svg.contains("<title>Forbach : 0</title>"));
    }

    #[test]
    fn the_tables_give_every_figure_with_a_decimal_comma() {
        let t = figure_tables(&report(), "Total").into_string();
        assert!(
            t.contains("data-key=\"loans.lent\" data-group=\"metz\">3<"),
            "{t}"
        );
        assert!(t.contains("data-key=\"equipment.use_rate_pct\" data-group=\"total\">12,5<"));
        assert_eq!(t.matches("data-key=").count(), 6);
        assert!(t.contains("<th scope=\"col\">Tiers-lieu &lt;Metz&gt;</th>"));
    }
}
