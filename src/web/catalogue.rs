//! The catalogue: the network's equipment, searched without regard to case
//! or accents, filtered by site, category and free dates; and an item's page
//! with its condition, loans and incidents. Reads only, through `app`; the
//! writes are in `items` (add, edit, retire), `import` and `labels`.

use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;
use maud::{html, Markup};
use serde::Deserialize;

use super::pages::{layout, notice, Frame, Notice};
use super::{html, signed_in, Web};
use crate::app::equipment;
use crate::auth::Need;
use crate::domain::equipment::{condition_fr, status_fr};
use crate::domain::time;
use crate::pb;

/// The catalogue's filters, as the form sends them (French names in the URL).
#[derive(Deserialize, Default, Debug)]
pub struct Filters {
    #[serde(default)]
    recherche: String,
    #[serde(default)]
    site: String,
    #[serde(default)]
    categorie: String,
    /// Free from this day (AAAA-MM-JJ from the date picker, or JJ/MM/AAAA).
    #[serde(default)]
    du: String,
    /// Free until this day, included.
    #[serde(default)]
    au: String,
    /// The page of the results (from 1), [`PER_PAGE`] items each.
    #[serde(default)]
    page: Option<usize>,
}

/// Items shown per page of the catalogue.
pub const PER_PAGE: usize = 100;

impl Filters {
    /// The catalogue's address with these filters, at page `page`.
    fn at_page(&self, page: usize) -> String {
        let q = serde_urlencoded::to_string([
            ("recherche", self.recherche.as_str()),
            ("site", self.site.as_str()),
            ("categorie", self.categorie.as_str()),
            ("du", self.du.as_str()),
            ("au", self.au.as_str()),
            ("page", page.to_string().as_str()),
        ])
        .unwrap_or_default();
        format!("/catalogue?{q}")
    }
}

pub async fn list(
    State(web): State<Web>,
    headers: HeaderMap,
    Query(f): Query<Filters>,
) -> Response {
    let (s, _) = match signed_in(&web, &headers, Need::Read) {
        Ok(x) => x,
        Err(r) => return *r,
    };
    let ctx = web.ctx.clone();
    let q = pb::ListEquipmentRequest {
        site: f.site.trim().to_string(),
        category: f.categorie.trim().to_string(),
        search: f.recherche.trim().to_string(),
        status: String::new(),
        // One bound alone means that day.
        available_from: match (f.du.trim(), f.au.trim()) {
            ("", "") => String::new(),
            ("", au) => au.to_string(),
            (du, _) => du.to_string(),
        },
        available_to: match (f.du.trim(), f.au.trim()) {
            ("", "") => String::new(),
            (du, "") => du.to_string(),
            (_, au) => au.to_string(),
        },
    };
    let result = tokio::task::spawn_blocking(move || {
        // The choices of the filters, from the whole catalogue.
        let all = equipment::list_all(&ctx)?;
        let names = equipment::site_names(&ctx)?;
        let mut sites: Vec<(String, String)> = all
            .iter()
            .map(|i| (i.site.clone(), equipment::name_of(&names, &i.site)))
            .collect();
        sites.sort_by(|a, b| a.1.cmp(&b.1));
        sites.dedup();
        let mut categories: Vec<String> = all.iter().map(|i| i.category.clone()).collect();
        categories.sort();
        categories.dedup();
        let found = equipment::list(&ctx, &q);
        Ok::<_, crate::error::Error>(((sites, categories), found))
    })
    .await;
    let ((sites, categories), found) = match result {
        Ok(Ok(x)) => x,
        Ok(Err(e)) => {
            return html(
                StatusCode::INTERNAL_SERVER_ERROR,
                error(&web, &s, &e.to_string()),
            )
        }
        Err(e) => {
            return html(
                StatusCode::INTERNAL_SERVER_ERROR,
                error(&web, &s, &e.to_string()),
            )
        }
    };
    let (status, items, problem) = match found {
        Ok(items) => (StatusCode::OK, items, None),
        // A filter the person got wrong (dates): say what to fix.
        Err(e) => (StatusCode::BAD_REQUEST, Vec::new(), Some(e.to_string())),
    };
    html(
        status,
        page(
            &web.frame(&s),
            &f,
            &sites,
            &categories,
            &items,
            problem.as_deref(),
        ),
    )
}

fn error(web: &Web, s: &super::session::Session, text: &str) -> Markup {
    super::pages::message(&web.frame(s), "Erreur", text)
}

pub(crate) fn page(
    frame: &Frame,
    f: &Filters,
    sites: &[(String, String)],
    categories: &[String],
    items: &[pb::EquipmentItem],
    problem: Option<&str>,
) -> Markup {
    let director = frame.person.is_some_and(|p| p.role.allows(Need::Director));
    let pages = items.len().div_ceil(PER_PAGE).max(1);
    let page = f.page.unwrap_or(1).clamp(1, pages);
    let shown = &items[(page - 1) * PER_PAGE..(page * PER_PAGE).min(items.len())];
    layout(
        frame,
        "Catalogue du réseau",
        html! {
            p.actions {
                @if director {
                    a.btn href="/materiel/nouveau" { "Ajouter un matériel" }
                    a.btn.btn-secondary href="/materiel/importer" { "Importer un inventaire" }
                }
                a.btn.btn-secondary href="/materiel/etiquettes" { "Imprimer les étiquettes de notre matériel" }
            }
            form.filters method="get" action="/catalogue" role="search" {
                div.field {
                    label for="recherche" { "Rechercher" span.hint { "nom, description ou n° d'inventaire, sans souci des accents" } }
                    input id="recherche" name="recherche" type="search" value=(f.recherche);
                }
                div.field {
                    label for="site" { "Site" }
                    select id="site" name="site" {
                        option value="" { "Tous les sites" }
                        @for (id, name) in sites {
                            option value=(id) selected[f.site == *id] { (name) }
                        }
                    }
                }
                div.field {
                    label for="categorie" { "Catégorie" }
                    select id="categorie" name="categorie" {
                        option value="" { "Toutes les catégories" }
                        @for c in categories {
                            option value=(c) selected[f.categorie == *c] { (c) }
                        }
                    }
                }
                div.field {
                    label for="du" { "Libre du" }
                    input id="du" name="du" type="date" value=(f.du);
                }
                div.field {
                    label for="au" { "au (inclus)" }
                    input id="au" name="au" type="date" value=(f.au);
                }
                button.btn type="submit" { "Filtrer" }
            }
            @if let Some(p) = problem {
                div.alert.alert-error role="alert" { p { (p) } }
            }
            div data-live="resultats" {
            p.lead {
                (items.len()) " matériel" @if items.len() > 1 { "s" }
                @if pages > 1 { " · page " (page) " sur " (pages) }
            }
            @if items.is_empty() && problem.is_none() {
                p.empty { "Aucun matériel ne correspond à ces filtres." }
            } @else if !items.is_empty() {
                table.catalogue {
                    caption.sr-only { "Matériel du réseau" }
                    thead { tr {
                        th scope="col" { "Matériel" }
                        th scope="col" { "Site" }
                        th scope="col" { "Catégorie" }
                        th scope="col" { "État" }
                        th scope="col" { "Disponibilité" }
                    } }
                    tbody {
                        @for i in shown {
                            tr data-item=(i.id) {
                                td { a href={ "/materiel/" (i.id) } { (i.name) } }
                                td { (i.site_name) }
                                td { (i.category) }
                                td { (condition_fr(&i.condition)) }
                                td { (equipment::availability_text(i)) }
                            }
                        }
                    }
                }
                @if pages > 1 {
                    nav.pagination aria-label="Pages du catalogue" {
                        @if page > 1 { a href=(f.at_page(page - 1)) rel="prev" { "← Page précédente" } }
                        span { "Page " (page) " sur " (pages) }
                        @if page < pages { a href=(f.at_page(page + 1)) rel="next" { "Page suivante →" } }
                    }
                }
            }
            }
        },
    )
}

/// What the item's page says after a write (`?fait=`).
#[derive(Deserialize, Default)]
pub struct Done {
    #[serde(default)]
    fait: String,
}

pub async fn item(
    State(web): State<Web>,
    headers: HeaderMap,
    Path(id): Path<String>,
    Query(done): Query<Done>,
) -> Response {
    let (s, _) = match signed_in(&web, &headers, Need::Read) {
        Ok(x) => x,
        Err(r) => return *r,
    };
    let n = match super::items::done_fr(&done.fait) {
        Some(m) => Notice::Success(m),
        None => Notice::None,
    };
    item_page_response(&web, &s, &id, None, &Default::default(), &n).await
}

/// An item's page, with an error above its request form when a request
/// failed (`values`: what the person typed, kept).
pub async fn item_response(
    web: &Web,
    s: &super::session::Session,
    id: &str,
    problem: Option<&str>,
    values: &(String, String, String),
) -> Response {
    item_page_response(web, s, id, problem, values, &Notice::None).await
}

async fn item_page_response(
    web: &Web,
    s: &super::session::Session,
    id: &str,
    problem: Option<&str>,
    values: &(String, String, String),
    done: &Notice<'_>,
) -> Response {
    let ctx = web.ctx.clone();
    let id = id.to_string();
    let found = tokio::task::spawn_blocking(move || {
        let item = equipment::find(&ctx, &id)?;
        equipment::reply(&ctx, item, true)
    })
    .await;
    match found {
        Ok(Ok(i)) => {
            let role = s
                .person
                .as_ref()
                .map(|p| p.role)
                .unwrap_or(crate::auth::Role::Viewer);
            // A director of another site may ask for it.
            let can_request = i.site != web.ctx.site
                && i.loanable
                && i.status != "retired"
                && role.allows(Need::Director);
            let status = if problem.is_some() {
                StatusCode::BAD_REQUEST
            } else {
                StatusCode::OK
            };
            // A director of its own site may edit it.
            let mine = i.site == web.ctx.site;
            let can_edit = mine && role.allows(Need::Director);
            let frame = web.frame(s);
            let form = can_request.then(|| super::loans::request_form(&frame, &i, values));
            html(
                status,
                item_page(&frame, &i, problem, form, mine, can_edit, done),
            )
        }
        Ok(Err(e)) => html(super::status_of(&e), error(web, s, &e.to_string())),
        Err(e) => html(
            StatusCode::INTERNAL_SERVER_ERROR,
            error(web, s, &e.to_string()),
        ),
    }
}

fn loan_state(l: &pb::Loan) -> String {
    let mut state = crate::domain::loans::STATES_FR
        .iter()
        .find(|(k, _)| *k == l.state)
        .map(|(_, fr)| fr.to_string())
        .unwrap_or_else(|| l.state.clone());
    if l.overdue {
        state.push_str(", en retard");
    }
    if l.recorded {
        state.push_str(", enregistré après coup");
    }
    state
}

fn item_page(
    frame: &Frame,
    i: &pb::EquipmentItem,
    problem: Option<&str>,
    request_form: Option<Markup>,
    mine: bool,
    can_edit: bool,
    done: &Notice,
) -> Markup {
    let other = |name: &str, id: &str| {
        if name.is_empty() {
            id.to_string()
        } else {
            name.to_string()
        }
    };
    layout(
        frame,
        &i.name,
        html! {
            p { a href="/catalogue" { "← Retour au catalogue" } }
            (notice(done))
            @if can_edit {
                p.actions {
                    a.btn href={ "/materiel/" (i.id) "/modifier" } { "Modifier" }
                    @if i.status != "retired" {
                        a.btn.btn-secondary href={ "/materiel/" (i.id) "/retirer" } { "Retirer du catalogue" }
                    }
                }
            }
            @if mine && i.status != "retired" {
                p { a href={ "/materiel/etiquettes?materiel=" (i.id) } { "Imprimer son étiquette (code QR)" } }
            }
            @if let Some(p) = problem {
                div.alert.alert-error role="alert" { p { (p) } }
            }
            section.card data-live="fiche" {
                h2 { "Fiche" }
                dl.facts {
                    dt { "Site" } dd { (i.site_name) }
                    dt { "Catégorie" } dd { (i.category) }
                    @if !i.inventory_number.is_empty() { dt { "N° d'inventaire" } dd { (i.inventory_number) } }
                    dt { "Disponibilité" } dd { (equipment::availability_text(i)) }
                    dt { "Statut" } dd { (status_fr(&i.status)) }
                    dt { "État" } dd { (condition_fr(&i.condition)) }
                    dt { "Prêtable" } dd { @if i.loanable { "oui" } @else { "non" } }
                    @if let Ok(d) = time::parse_date(&i.acquired) { dt { "Acquis le" } dd { (time::fr_date(d)) } }
                    @if !i.description.is_empty() { dt { "Description" } dd { (i.description) } }
                }
            }
            @if let Some(f) = request_form { (f) }
            section.card data-live="prets" {
                h2 { "Prêts " span.count { "(" (i.loans.len()) ")" } }
                @if i.loans.is_empty() {
                    p.empty { "Jamais prêté." }
                } @else {
                    table {
                        caption.sr-only { "Prêts de ce matériel" }
                        thead { tr {
                            th scope="col" { "Période" }
                            th scope="col" { "Emprunteur" }
                            th scope="col" { "État" }
                        } }
                        tbody {
                            @for l in &i.loans {
                                tr data-loan=(l.id) {
                                    td { a href={ "/prets/" (l.id) } { (time::fr_period(&l.from, &l.to)) } }
                                    td { (other(&l.borrower_name, &l.borrower)) }
                                    td { (loan_state(l)) }
                                }
                            }
                        }
                    }
                }
            }
            section.card data-live="incidents" {
                h2 { "Incidents " span.count { "(" (i.incidents.len()) ")" } }
                @if i.incidents.is_empty() {
                    p.empty { "Aucun incident signalé." }
                } @else {
                    ul.incidents {
                        @for n in &i.incidents {
                            li {
                                strong { (time::fr_instant(&n.at)) } " — " (n.text)
                                @if !n.condition.is_empty() {
                                    " (" (crate::domain::loans::return_condition_fr(&n.condition)) ")"
                                }
                                br;
                                span.small { "au retour du prêt à " (other(&n.borrower_name, &n.borrower)) }
                            }
                        }
                    }
                }
            }
        },
    )
}
