//! The network's common actions in the browser (issue 12, item 1): the list
//! with its filters, an action's page (its texts edited in the page and
//! merged with other sites' edits, participants, tasks, budget, indicators,
//! and a timeline read from the document's history), and the form that
//! creates one. Every read and write goes through `app::actions`, as the
//! gRPC service does; writes need a director, as there.

use std::collections::BTreeMap;

use automerge::ChangeHash;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Redirect, Response};
use axum::Form;
use chrono::TimeZone;
use maud::{html, Markup};
use serde::Deserialize;

use super::pages::{csrf_field, layout, notice, Frame, Notice};
use super::session::Session;
use super::{html, signed_in, status_of, Web};
use crate::app::actions::{self as act, HistoryEntry};
use crate::app::NodeContext;
use crate::auth::{Need, Role};
use crate::domain::actions::{self as dact, ActionDoc, AXES_FR, STATUSES};
use crate::domain::time;
use crate::error::{Error, Result};
use crate::pb;

/// Changes the timeline shows, newest first.
pub const HISTORY: usize = 50;

fn role_of(s: &Session) -> Role {
    s.person.as_ref().map(|p| p.role).unwrap_or(Role::Viewer)
}

fn error_page(web: &Web, s: &Session, status: StatusCode, text: &str) -> Response {
    html(
        status,
        super::pages::message(&web.frame(s), "Erreur", &super::capital(text)),
    )
}

fn name_of(names: &BTreeMap<String, String>, site: &str) -> String {
    crate::app::equipment::name_of(names, site)
}

/// A day `AAAA-MM-JJ` as people read it, or the text as it is.
fn fr_day(d: &str) -> String {
    time::parse_date(d)
        .map(time::fr_date)
        .unwrap_or_else(|_| d.to_string())
}

/// « du … au … », « à partir du … », « jusqu'au … », or « dates à fixer ».
pub fn fr_dates(start: &str, end: &str) -> String {
    match (start.is_empty(), end.is_empty()) {
        (false, false) => format!("du {} au {}", fr_day(start), fr_day(end)),
        (false, true) => format!("à partir du {}", fr_day(start)),
        (true, false) => format!("jusqu'au {}", fr_day(end)),
        (true, true) => "dates à fixer".to_string(),
    }
}

/// An amount as people read it: « 1 250,50 € », or « non renseigné ».
pub fn fr_amount(v: &str) -> String {
    let Some((units, cents)) = v.split_once('.').or(Some((v, ""))) else {
        return v.to_string();
    };
    if units.is_empty() || !units.chars().all(|c| c.is_ascii_digit()) {
        return if v.is_empty() {
            "non renseigné".to_string()
        } else {
            v.to_string()
        };
    }
    let mut grouped = String::new();
    for (i, c) in units.chars().enumerate() {
        if i > 0 && (units.len() - i) % 3 == 0 {
            grouped.push('\u{202f}');
        }
        grouped.push(c);
    }
    if cents.is_empty() {
        format!("{grouped} €")
    } else {
        format!("{grouped},{cents} €")
    }
}

fn status_label(s: &str) -> String {
    dact::status_fr(s)
}

// ---------------------------------------------------------------------------
// The list.

#[derive(Deserialize, Default, Debug)]
pub struct ListQuery {
    /// 1, 2 or 3; empty: every axis.
    #[serde(default)]
    axe: String,
    #[serde(default)]
    statut: String,
    /// "oui": only the actions this site takes part in.
    #[serde(default)]
    mon_site: String,
}

pub async fn list(
    State(web): State<Web>,
    headers: HeaderMap,
    Query(q): Query<ListQuery>,
) -> Response {
    let (s, _) = match signed_in(&web, &headers, Need::Read) {
        Ok(x) => x,
        Err(r) => return *r,
    };
    let ctx = &web.ctx;
    let loaded = act::all(ctx).and_then(|a| Ok((a, crate::app::equipment::site_names(ctx)?)));
    let (mut all, names) = match loaded {
        Ok(x) => x,
        Err(e) => return error_page(&web, &s, status_of(&e), &e.to_string()),
    };
    let axis: i64 = q.axe.trim().parse().unwrap_or(0);
    all.retain(|a| axis == 0 || a.axis == axis);
    all.retain(|a| q.statut.is_empty() || a.status == q.statut);
    let mine = q.mon_site == "oui";
    all.retain(|a| !mine || a.participants.contains_key(&ctx.site));
    all.sort_by(|a, b| {
        a.title
            .to_lowercase()
            .cmp(&b.title.to_lowercase())
            .then(a.id.cmp(&b.id))
    });
    let page = list_page(&web.frame(&s), &q, &all, &names, role_of(&s));
    html(StatusCode::OK, page)
}

fn list_page(
    frame: &Frame,
    q: &ListQuery,
    rows: &[ActionDoc],
    names: &BTreeMap<String, String>,
    role: Role,
) -> Markup {
    layout(
        frame,
        "Actions communes",
        html! {
            p.lead { "Les actions que les sites du réseau mènent ensemble, selon les axes du projet ASTERIE." }
            @if role >= Role::Director {
                p { a.btn href="/actions/nouvelle" { "Nouvelle action" } }
            }
            form.form.filters method="get" action="/actions" {
                div.field {
                    label for="filtre-axe" { "Axe" }
                    select #filtre-axe name="axe" {
                        option value="" selected[q.axe.is_empty()] { "Tous les axes" }
                        @for (i, label) in AXES_FR.iter().enumerate() {
                            @let v = (i + 1).to_string();
                            option value=(v) selected[q.axe == v] { "Axe " (v) " — " (label) }
                        }
                    }
                }
                div.field {
                    label for="filtre-statut" { "Statut" }
                    select #filtre-statut name="statut" {
                        option value="" selected[q.statut.is_empty()] { "Tous les statuts" }
                        @for st in STATUSES {
                            option value=(st) selected[q.statut == *st] { (status_label(st)) }
                        }
                    }
                }
                div.field.checkbox {
                    input #mon_site type="checkbox" name="mon_site" value="oui" checked[q.mon_site == "oui"];
                    label for="mon_site" { "Seulement celles de mon site" }
                }
                button.btn.btn-secondary type="submit" { "Filtrer" }
            }
            section.card data-live="actions" {
                h2 { "Actions " span.count { "(" (rows.len()) ")" } }
                @if rows.is_empty() {
                    p.empty { "Aucune action ne correspond à ces critères." }
                } @else {
                    table {
                        caption.sr-only { "Actions communes" }
                        thead { tr {
                            th scope="col" { "Action" }
                            th scope="col" { "Axe" }
                            th scope="col" { "Statut" }
                            th scope="col" { "Site pilote" }
                            th scope="col" { "Participants" }
                            th scope="col" { "Dates" }
                        } }
                        tbody {
                            @for a in rows {
                                tr data-action=(a.id) {
                                    td { a href={ "/actions/" (a.id) } { (a.title) } }
                                    td { (dact::axis_fr(a.axis)) }
                                    td { span.badge { (status_label(&a.status)) } }
                                    td { (name_of(names, &a.lead)) }
                                    td { (a.participants.len()) }
                                    td { (fr_dates(&a.start, &a.end)) }
                                }
                            }
                        }
                    }
                }
            }
        },
    )
}

// ---------------------------------------------------------------------------
// An action's page.

#[derive(Deserialize, Default)]
pub struct Done {
    #[serde(default)]
    fait: String,
}

fn done_fr(done: &str) -> Option<&'static str> {
    Some(match done {
        "creee" => "Action créée : votre site en est le pilote.",
        "texte" => "Texte enregistré.",
        "rejoindre" => "Votre site participe à l'action.",
        "quitter" => "Votre site ne participe plus à l'action.",
        "tache" => "Tâche ajoutée.",
        "faite" => "Tâche marquée comme faite.",
        "suivi" => "Statut et budget enregistrés.",
        "indicateur" => "Indicateur enregistré.",
        _ => return None,
    })
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
    action_response(&web, &s, &id, StatusCode::OK, &n, None)
}

/// What the person typed in the text form, shown again after a refusal.
struct Typed<'a> {
    description: &'a str,
    objectives: &'a str,
    base: &'a str,
}

struct Loaded {
    a: ActionDoc,
    heads: Vec<ChangeHash>,
    names: BTreeMap<String, String>,
    history: Vec<HistoryEntry>,
}

fn load(ctx: &NodeContext, id: &str) -> Result<Loaded> {
    let (a, heads) = act::get_at(ctx, id)?;
    let history = act::history(ctx, &a.id, HISTORY)?;
    let names = crate::app::equipment::site_names(ctx)?;
    Ok(Loaded {
        a,
        heads,
        names,
        history,
    })
}

fn action_response(
    web: &Web,
    s: &Session,
    id: &str,
    status: StatusCode,
    n: &Notice,
    typed: Option<&Typed>,
) -> Response {
    let l = match load(&web.ctx, id) {
        Ok(l) => l,
        Err(e) => return error_page(web, s, status_of(&e), &e.to_string()),
    };
    let director = role_of(s) >= Role::Director;
    let here = &web.ctx.site;
    let view = View {
        l: &l,
        director,
        member: l.a.participants.contains_key(here),
        lead: l.a.lead == *here,
        typed,
    };
    html(status, action_page(&web.frame(s), &view, n))
}

struct View<'a> {
    l: &'a Loaded,
    /// The person may write (as the API's `Need::Director`).
    director: bool,
    /// This site participates.
    member: bool,
    lead: bool,
    typed: Option<&'a Typed<'a>>,
}

/// The heads a text form carries, as `hash,hash`.
fn base_of(heads: &[ChangeHash]) -> String {
    heads
        .iter()
        .map(|h| h.to_string())
        .collect::<Vec<_>>()
        .join(",")
}

fn parse_base(v: &str) -> Vec<ChangeHash> {
    v.split(',')
        .filter_map(|h| h.trim().parse::<ChangeHash>().ok())
        .collect()
}

/// What a change of the timeline did, as people say it.
fn change_fr(message: &str, a: &ActionDoc) -> String {
    let task = |id: &str| {
        a.tasks
            .get(id.trim())
            .map(|t| format!("la tâche « {} »", t.title))
            .unwrap_or_else(|| "une tâche".to_string())
    };
    if let Some(fields) = message.strip_prefix(act::UPDATE) {
        let said: Vec<&str> = fields
            .split(',')
            .filter_map(|f| {
                Some(match f.trim() {
                    "title" => "le titre",
                    "description" => "la description",
                    "status" => "le statut",
                    "objectives" => "les objectifs",
                    "target_publics" => "les publics cibles",
                    "budget_planned" => "le budget prévu",
                    "budget_spent" => "le budget dépensé",
                    "indicators" => "les indicateurs",
                    "start" => "la date de début",
                    "end" => "la date de fin",
                    "axis" => "l'axe",
                    _ => return None,
                })
            })
            .collect();
        if said.is_empty() {
            return "a modifié l'action".to_string();
        }
        return format!("a modifié {}", said.join(", "));
    }
    if let Some(id) = message.strip_prefix(act::TASK_ADD) {
        return format!("a ajouté {}", task(id));
    }
    if let Some(id) = message.strip_prefix(act::TASK_DONE) {
        return format!("a marqué {} comme faite", task(id));
    }
    match message {
        "action create" => "a créé l'action",
        "action join" => "a rejoint l'action",
        "action leave" => "a quitté l'action",
        "action task add" => "a ajouté une tâche",
        "action task done" => "a marqué une tâche comme faite",
        _ => "a modifié l'action",
    }
    .to_string()
}

fn fr_time(seconds: i64) -> String {
    match chrono::Utc.timestamp_opt(seconds, 0).single() {
        Some(t) => time::fr_instant(&t.to_rfc3339()),
        None => String::new(),
    }
}

fn text_block(text: &str, empty: &str) -> Markup {
    html! {
        @if text.trim().is_empty() {
            p.empty { (empty) }
        } @else {
            @for para in text.split("\n\n") {
                p.prose { (para) }
            }
        }
    }
}

fn action_page(frame: &Frame, v: &View, n: &Notice) -> Markup {
    let a = &v.l.a;
    let names = &v.l.names;
    let can_edit = v.director && v.member;
    let path = format!("/actions/{}", a.id);
    let (desc, obj, base) = match v.typed {
        Some(t) => (
            t.description.to_string(),
            t.objectives.to_string(),
            t.base.to_string(),
        ),
        None => (
            a.description.as_str().to_string(),
            a.objectives.as_str().to_string(),
            base_of(&v.l.heads),
        ),
    };
    let mut participants: Vec<(&String, String)> = a
        .participants
        .keys()
        .map(|k| (k, name_of(names, k)))
        .collect();
    participants.sort_by(|x, y| (x.0 != &a.lead).cmp(&(y.0 != &a.lead)).then(x.1.cmp(&y.1)));
    let mut tasks: Vec<(&String, &dact::TaskDoc)> = a.tasks.iter().collect();
    tasks.sort_by(|x, y| {
        x.1.done
            .cmp(&y.1.done)
            .then((x.1.due.is_empty()).cmp(&y.1.due.is_empty()))
            .then(x.1.due.cmp(&y.1.due))
            .then(x.1.created_at.cmp(&y.1.created_at))
    });
    layout(
        frame,
        &a.title,
        html! {
            p { a href="/actions" { "← Retour aux actions" } }
            (notice(n))
            section.card data-live="action" {
                h2 { "L'action" }
                dl.facts {
                    dt { "Axe" } dd { (dact::axis_fr(a.axis)) }
                    dt { "Statut" } dd { span.badge { (status_label(&a.status)) } }
                    dt { "Site pilote" } dd { (name_of(names, &a.lead)) }
                    dt { "Dates" } dd { (fr_dates(&a.start, &a.end)) }
                    @if !a.target_publics.is_empty() {
                        dt { "Publics cibles" } dd { (a.target_publics.join(", ")) }
                    }
                    dt { "Dernière modification" } dd { (time::fr_instant(&a.updated_at)) }
                }
            }
            section.card data-live="participants" {
                h2 { "Sites participants " span.count { "(" (participants.len()) ")" } }
                ul.participants {
                    @for (site, name) in &participants {
                        li data-site=(site) {
                            (name)
                            @if **site == a.lead { " " span.badge { "pilote" } }
                        }
                    }
                }
                @if v.director && !v.member {
                    form method="post" action={ (path) "/rejoindre" } {
                        (csrf_field(frame.csrf))
                        button.btn type="submit" { "Rejoindre l'action" }
                    }
                }
                @if v.director && v.member && !v.lead {
                    form method="post" action={ (path) "/quitter" } {
                        (csrf_field(frame.csrf))
                        button.btn.btn-secondary type="submit" { "Quitter l'action" }
                    }
                }
                @if v.director && v.lead {
                    p.small { "Votre site pilote cette action : il ne peut pas la quitter." }
                }
            }
            section.card data-live="texte" {
                h2 { "Description et objectifs" }
                @if can_edit {
                    p.small { "Plusieurs sites peuvent modifier ce texte en même temps : chaque enregistrement garde ce que les autres ont écrit entre-temps." }
                    form.form method="post" action={ (path) "/texte" } {
                        (csrf_field(frame.csrf))
                        input type="hidden" name="base" value=(base);
                        div.field {
                            label for="description" { "Description" span.hint { "Séparez les paragraphes par une ligne vide." } }
                            textarea #description name="description" rows="8" maxlength=(dact::MAX_TEXT) { "\n" (desc) }
                        }
                        div.field {
                            label for="objectifs" { "Objectifs" }
                            textarea #objectifs name="objectifs" rows="5" maxlength=(dact::MAX_TEXT) { "\n" (obj) }
                        }
                        button.btn type="submit" { "Enregistrer le texte" }
                    }
                } @else {
                    h3 { "Description" }
                    (text_block(a.description.as_str(), "Pas encore de description."))
                    h3 { "Objectifs" }
                    (text_block(a.objectives.as_str(), "Pas encore d'objectifs."))
                }
            }
            section.card data-live="taches" {
                h2 { "Tâches " span.count { "(" (tasks.len()) ")" } }
                @if tasks.is_empty() {
                    p.empty { "Aucune tâche." }
                } @else {
                    table {
                        caption.sr-only { "Tâches de l'action" }
                        thead { tr {
                            th scope="col" { "Tâche" }
                            th scope="col" { "Site responsable" }
                            th scope="col" { "Échéance" }
                            th scope="col" { "État" }
                        } }
                        tbody {
                            @for (tid, t) in &tasks {
                                tr data-task=(tid) {
                                    td { (t.title) }
                                    td { @if t.site.is_empty() { "—" } @else { (name_of(names, &t.site)) } }
                                    td { @if t.due.is_empty() { "—" } @else { (fr_day(&t.due)) } }
                                    td {
                                        @if t.done {
                                            span.badge { "faite" }
                                            " le " (time::fr_instant(&t.done_at))
                                            @if !t.done_by.is_empty() { " par " (name_of(names, &t.done_by)) }
                                        } @else {
                                            span.badge { "à faire" }
                                            @if can_edit {
                                                form.inline method="post" action={ (path) "/taches/" (tid) "/fait" } {
                                                    (csrf_field(frame.csrf))
                                                    button.btn.btn-secondary type="submit" aria-label={ "Marquer comme fait : " (t.title) } { "Marquer comme fait" }
                                                }
                                            }
                                        }
                                    }
                                }
                            }
                        }
                    }
                }
                @if can_edit {
                    form.form method="post" action={ (path) "/taches" } {
                        (csrf_field(frame.csrf))
                        fieldset {
                            legend { "Ajouter une tâche" }
                            div.field {
                                label for="tache-titre" { "Tâche *" }
                                input #tache-titre type="text" name="titre" required maxlength=(dact::MAX_TITLE);
                            }
                            div.field {
                                label for="tache-site" { "Site responsable" }
                                select #tache-site name="site" {
                                    option value="" { "Aucun pour l'instant" }
                                    @for (site, name) in &participants {
                                        option value=(site) { (name) }
                                    }
                                }
                            }
                            div.field {
                                label for="tache-echeance" { "Échéance" span.hint { "JJ/MM/AAAA" } }
                                input #tache-echeance type="date" name="echeance";
                            }
                            button.btn type="submit" { "Ajouter la tâche" }
                        }
                    }
                }
            }
            section.card data-live="suivi" {
                h2 { "Statut et budget" }
                dl.facts {
                    dt { "Budget prévu" } dd { (fr_amount(&a.budget_planned)) }
                    dt { "Budget dépensé" } dd { (fr_amount(&a.budget_spent)) }
                }
                @if can_edit {
                    form.form method="post" action={ (path) "/suivi" } {
                        (csrf_field(frame.csrf))
                        div.field {
                            label for="suivi-statut" { "Statut" }
                            select #suivi-statut name="statut" {
                                @for st in STATUSES {
                                    option value=(st) selected[a.status == *st] { (status_label(st)) }
                                }
                            }
                        }
                        div.field {
                            label for="budget-prevu" { "Budget prévu (€)" span.hint { "Par exemple : 1250,50" } }
                            input #budget-prevu type="text" inputmode="decimal" name="prevu" value=(a.budget_planned.replace('.', ","));
                        }
                        div.field {
                            label for="budget-depense" { "Budget dépensé (€)" }
                            input #budget-depense type="text" inputmode="decimal" name="depense" value=(a.budget_spent.replace('.', ","));
                        }
                        button.btn type="submit" { "Enregistrer le statut et le budget" }
                    }
                }
            }
            section.card data-live="indicateurs" {
                h2 { "Indicateurs " span.count { "(" (a.indicators.len()) ")" } }
                @if a.indicators.is_empty() {
                    p.empty { "Aucun indicateur." }
                } @else {
                    table {
                        caption.sr-only { "Indicateurs de l'action" }
                        thead { tr {
                            th scope="col" { "Indicateur" }
                            th scope="col" { "Cible" }
                            th scope="col" { "Réalisé" }
                        } }
                        tbody {
                            @for (name, i) in &a.indicators {
                                tr {
                                    td { (name) }
                                    td { @if i.target.is_empty() { "—" } @else { (i.target.replace('.', ",")) } }
                                    td { @if i.actual.is_empty() { "—" } @else { (i.actual.replace('.', ",")) } }
                                }
                            }
                        }
                    }
                }
                @if can_edit {
                    form.form method="post" action={ (path) "/indicateurs" } {
                        (csrf_field(frame.csrf))
                        fieldset {
                            legend { "Ajouter ou mettre à jour un indicateur" }
                            div.field {
                                label for="indicateur-nom" { "Indicateur *" span.hint { "Par exemple : élèves touchés ; le nom d'un indicateur existant le met à jour" } }
                                input #indicateur-nom type="text" name="nom" required maxlength="100" list="indicateurs-connus";
                                datalist #indicateurs-connus {
                                    @for name in a.indicators.keys() { option value=(name) {} }
                                }
                            }
                            div.field {
                                label for="indicateur-cible" { "Cible" }
                                input #indicateur-cible type="text" inputmode="decimal" name="cible";
                            }
                            div.field {
                                label for="indicateur-reel" { "Réalisé" }
                                input #indicateur-reel type="text" inputmode="decimal" name="reel";
                            }
                            button.btn type="submit" { "Enregistrer l'indicateur" }
                        }
                    }
                }
            }
            section.card data-live="historique" {
                h2 { "Historique" }
                p.small { "Qui a modifié quoi, du plus récent au plus ancien (les " (HISTORY) " dernières modifications)." }
                ol.timeline {
                    @for e in &v.l.history {
                        li {
                            span.small { (fr_time(e.time)) } " — "
                            strong { (e.site.as_deref().map(|s| name_of(names, s)).unwrap_or_else(|| "un site inconnu".to_string())) }
                            " " (change_fr(&e.message, a))
                        }
                    }
                }
            }
        },
    )
}

// ---------------------------------------------------------------------------
// Writes on an action.

#[derive(Deserialize, Default)]
pub struct ActInput {
    #[serde(default)]
    base: String,
    #[serde(default)]
    description: Option<String>,
    #[serde(default)]
    objectifs: Option<String>,
    #[serde(default)]
    titre: String,
    #[serde(default)]
    site: String,
    #[serde(default)]
    echeance: String,
    #[serde(default)]
    statut: String,
    #[serde(default)]
    prevu: String,
    #[serde(default)]
    depense: String,
    #[serde(default)]
    nom: String,
    #[serde(default)]
    cible: String,
    #[serde(default)]
    reel: String,
}

/// A rule's refusal, with the API's field names said in French.
fn problem_fr(e: &Error) -> String {
    let mut text = e.to_string();
    for (api, fr) in [
        ("budget_planned", "le budget prévu"),
        ("budget_spent", "le budget dépensé"),
        ("le champ title", "le champ « Tâche »"),
        ("le champ indicator", "le champ « Indicateur »"),
        ("le champ description", "la description"),
        ("le champ objectives", "les objectifs"),
        ("target «", "la cible «"),
        ("actual «", "le réalisé «"),
        ("due «", "l'échéance «"),
    ] {
        text = text.replace(api, fr);
    }
    super::capital(&text)
}

/// Texts, joining and leaving, tasks, status and budget, indicators.
pub async fn act(
    State(web): State<Web>,
    headers: HeaderMap,
    Path((id, what)): Path<(String, String)>,
    Form(input): Form<ActInput>,
) -> Response {
    if !matches!(
        what.as_str(),
        "texte" | "rejoindre" | "quitter" | "taches" | "suivi" | "indicateurs"
    ) {
        return StatusCode::NOT_FOUND.into_response();
    }
    let (s, _) = match signed_in(&web, &headers, Need::Director) {
        Ok(x) => x,
        Err(r) => return *r,
    };
    let ctx = &web.ctx;
    let done: Result<(String, &str)> = match what.as_str() {
        "texte" => act::edit_texts(
            ctx,
            &id,
            &parse_base(&input.base),
            input.description.as_deref(),
            input.objectifs.as_deref(),
        )
        .await
        .map(|a| (a.id, "texte")),
        "rejoindre" => act::join_action(ctx, &id)
            .await
            .map(|a| (a.id, "rejoindre")),
        "quitter" => act::leave(ctx, &id).await.map(|a| (a.id, "quitter")),
        "taches" => act::add_task(
            ctx,
            pb::AddTaskRequest {
                action: id.clone(),
                title: input.titre.clone(),
                site: input.site.clone(),
                due: time::parse_date(&input.echeance)
                    .map(|d| d.to_string())
                    .unwrap_or_else(|_| input.echeance.clone()),
            },
        )
        .await
        .map(|t| (t.action, "tache")),
        "suivi" => act::update(
            ctx,
            pb::UpdateActionRequest {
                id: id.clone(),
                status: Some(input.statut.clone()).filter(|v| !v.trim().is_empty()),
                budget_planned: Some(input.prevu.clone()),
                budget_spent: Some(input.depense.clone()),
                ..Default::default()
            },
        )
        .await
        .map(|a| (a.id, "suivi")),
        _ => act::update(
            ctx,
            pb::UpdateActionRequest {
                id: id.clone(),
                indicators: vec![pb::Indicator {
                    name: input.nom.clone(),
                    target: input.cible.clone(),
                    actual: input.reel.clone(),
                }],
                ..Default::default()
            },
        )
        .await
        .map(|a| (a.id, "indicateur")),
    };
    match done {
        Ok((id, what)) => Redirect::to(&format!("/actions/{id}?fait={what}")).into_response(),
        Err(e) => {
            let text = problem_fr(&e);
            let typed = Typed {
                description: input.description.as_deref().unwrap_or(""),
                objectives: input.objectifs.as_deref().unwrap_or(""),
                base: &input.base,
            };
            let typed = (what == "texte").then_some(&typed);
            action_response(&web, &s, &id, status_of(&e), &Notice::Error(&text), typed)
        }
    }
}

/// « Marquer comme fait ».
pub async fn task_done(
    State(web): State<Web>,
    headers: HeaderMap,
    Path((id, task)): Path<(String, String)>,
) -> Response {
    let (s, _) = match signed_in(&web, &headers, Need::Director) {
        Ok(x) => x,
        Err(r) => return *r,
    };
    match act::complete_task(&web.ctx, &id, &task).await {
        Ok(t) => Redirect::to(&format!("/actions/{}?fait=faite", t.action)).into_response(),
        Err(e) => action_response(
            &web,
            &s,
            &id,
            status_of(&e),
            &Notice::Error(&problem_fr(&e)),
            None,
        ),
    }
}

// ---------------------------------------------------------------------------
// A new action.

#[derive(Deserialize, Default)]
pub struct NewInput {
    #[serde(default)]
    titre: String,
    #[serde(default)]
    axe: String,
    #[serde(default)]
    description: String,
    #[serde(default)]
    debut: String,
    #[serde(default)]
    fin: String,
    #[serde(default)]
    budget: String,
}

pub async fn new_form(State(web): State<Web>, headers: HeaderMap) -> Response {
    let (s, _) = match signed_in(&web, &headers, Need::Director) {
        Ok(x) => x,
        Err(r) => return *r,
    };
    html(
        StatusCode::OK,
        new_page(&web.frame(&s), &NewInput::default(), &Notice::None),
    )
}

pub async fn create(
    State(web): State<Web>,
    headers: HeaderMap,
    Form(input): Form<NewInput>,
) -> Response {
    let (s, _) = match signed_in(&web, &headers, Need::Director) {
        Ok(x) => x,
        Err(r) => return *r,
    };
    let refuse = |e: &Error| {
        html(
            status_of(e),
            new_page(&web.frame(&s), &input, &Notice::Error(&problem_fr(e))),
        )
    };
    // The budget is checked before anything is written.
    let budget = match dact::parse_amount("budget_planned", &input.budget) {
        Ok(b) => b,
        Err(e) => return refuse(&e),
    };
    let iso = |v: &str| {
        time::parse_date(v)
            .map(|d| d.to_string())
            .unwrap_or_else(|_| v.trim().to_string())
    };
    let r = pb::CreateActionRequest {
        title: input.titre.clone(),
        axis: input.axe.trim().parse().unwrap_or(0),
        description: input.description.replace("\r\n", "\n"),
        start: iso(&input.debut),
        end: iso(&input.fin),
    };
    let a = match act::create(&web.ctx, r).await {
        Ok(a) => a,
        Err(e) => return refuse(&e),
    };
    if !budget.is_empty() {
        let set = act::update(
            &web.ctx,
            pb::UpdateActionRequest {
                id: a.id.clone(),
                budget_planned: Some(budget),
                ..Default::default()
            },
        )
        .await;
        if let Err(e) = set {
            return action_response(
                &web,
                &s,
                &a.id,
                status_of(&e),
                &Notice::Error(&problem_fr(&e)),
                None,
            );
        }
    }
    Redirect::to(&format!("/actions/{}?fait=creee", a.id)).into_response()
}

fn new_page(frame: &Frame, input: &NewInput, n: &Notice) -> Markup {
    let iso = |v: &str| {
        time::parse_date(v)
            .map(|d| d.to_string())
            .unwrap_or_else(|_| v.to_string())
    };
    layout(
        frame,
        "Nouvelle action commune",
        html! {
            p { a href="/actions" { "← Retour aux actions" } }
            (notice(n))
            p { "Votre site sera le pilote de l'action ; les autres sites pourront la rejoindre." }
            p.small { "Les champs marqués d'un astérisque (*) sont obligatoires." }
            form.form method="post" action="/actions/nouvelle" {
                (csrf_field(frame.csrf))
                div.field {
                    label for="titre" { "Titre *" span.hint { "Par exemple : Fablab itinérant" } }
                    input #titre type="text" name="titre" required maxlength=(dact::MAX_TITLE) value=(input.titre);
                }
                div.field {
                    label for="axe-projet" { "Axe du projet *" }
                    select #axe-projet name="axe" required {
                        @for (i, label) in AXES_FR.iter().enumerate() {
                            @let v = (i + 1).to_string();
                            option value=(v) selected[input.axe == v] { "Axe " (v) " — " (label) }
                        }
                    }
                }
                div.field {
                    label for="description" { "Description" }
                    textarea #description name="description" rows="6" maxlength=(dact::MAX_TEXT) { "\n" (input.description) }
                }
                div.field {
                    label for="debut" { "Début" span.hint { "JJ/MM/AAAA" } }
                    input #debut type="date" name="debut" value=(iso(&input.debut));
                }
                div.field {
                    label for="fin" { "Fin" span.hint { "JJ/MM/AAAA" } }
                    input #fin type="date" name="fin" value=(iso(&input.fin));
                }
                div.field {
                    label for="budget" { "Budget prévu (€)" span.hint { "Par exemple : 1250,50" } }
                    input #budget type="text" inputmode="decimal" name="budget" value=(input.budget);
                }
                button.btn type="submit" { "Créer l'action" }
            }
        },
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn amounts_dates_and_changes_read_in_french() {
        assert_eq!(fr_amount("1250.50"), "1\u{202f}250,50 €");
        assert_eq!(fr_amount("300.00"), "300,00 €");
        assert_eq!(fr_amount(""), "non renseigné");
        assert_eq!(
            fr_dates("2026-12-16", "2027-01-08"),
            "du mer. 16 déc. 2026 au ven. 8 janv. 2027"
        );
        assert_eq!(fr_dates("", ""), "dates à fixer");
        let input = dact::NewAction {
            title: "Fablab",
            axis: 1,
            description: "",
            start: "",
            end: "",
        };
        let mut a = dact::new_action("ac-1", &input, "metz", "t").unwrap();
        a.tasks.insert(
            "tk-1".into(),
            dact::TaskDoc {
                title: "Acheter les kits".into(),
                site: String::new(),
                due: String::new(),
                done: false,
                done_at: String::new(),
                done_by: String::new(),
                created_at: String::new(),
                created_by: String::new(),
            },
        );
        assert_eq!(
            change_fr("action update: description,budget_spent", &a),
            "a modifié la description, le budget dépensé"
        );
        assert_eq!(
            change_fr("action task done tk-1", &a),
            "a marqué la tâche « Acheter les kits » comme faite"
        );
        assert_eq!(change_fr("action join", &a), "a rejoint l'action");
        assert_eq!(change_fr("action update", &a), "a modifié l'action");
        let heads = vec![ChangeHash([7; 32])];
        assert_eq!(parse_base(&base_of(&heads)), heads);
        assert!(parse_base("pas un hash").is_empty());
    }
}
