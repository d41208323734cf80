//! Adding, editing and retiring this site's items in the browser, for a
//! director (the role the gRPC equipment service requires for writes).
//! Every write goes through `app::equipment` (`add`, `update`, `retire`),
//! which holds the rules and refuses another site's item.

use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Redirect, Response};
use axum::Form;
use maud::{html, Markup};
use serde::Deserialize;

use super::pages::{csrf_field, layout, notice, Frame, Notice};
use super::session::{Person, Session};
use super::{html, signed_in, status_of, Refusal, Web};
use crate::app::equipment;
use crate::auth::Need;
use crate::domain::equipment::{Item, Patch, CONDITIONS_FR, STATUSES_FR};
use crate::domain::time;
use crate::error::Error;

/// The item form as sent (French names, as in the page).
#[derive(Deserialize, Default, Debug, Clone)]
pub struct ItemInput {
    #[serde(default)]
    pub nom: String,
    #[serde(default)]
    pub categorie: String,
    #[serde(default)]
    pub description: String,
    #[serde(default)]
    pub inventaire: String,
    /// The checkbox: present when ticked.
    #[serde(default)]
    pub pretable: Option<String>,
    #[serde(default)]
    pub etat: String,
    /// Only on the edit form.
    #[serde(default)]
    pub statut: String,
    /// AAAA-MM-JJ from the date picker, or JJ/MM/AAAA typed.
    #[serde(default)]
    pub acquis: String,
    /// On the edit form: the item as the form showed it ([`version`]).
    #[serde(default)]
    pub version: String,
}

/// A digest of every field of the item: the edit form carries it, and a
/// save over an item that changed since the form was shown is refused
/// rather than silently undoing the other person's changes.
pub fn version(i: &Item) -> String {
    use sha2::{Digest, Sha256};
    let fields = serde_json::to_vec(i).unwrap_or_default();
    hex::encode(&Sha256::digest(&fields)[..12])
}

impl ItemInput {
    fn of(i: &Item) -> ItemInput {
        ItemInput {
            nom: i.name.clone(),
            categorie: i.category.clone(),
            description: i.description.clone(),
            inventaire: i.inventory_number.clone(),
            pretable: i.loanable.then(|| "oui".to_string()),
            etat: i.condition.clone(),
            statut: i.status.clone(),
            acquis: i.acquired.clone(),
            version: version(i),
        }
    }

    /// The patch the API would get: every field of the form; on a new
    /// item, an empty condition or date is left to the rules' defaults.
    fn patch(&self, editing: bool) -> Patch {
        let opt = |v: &str| {
            if editing || !v.trim().is_empty() {
                Some(v.to_string())
            } else {
                None
            }
        };
        Patch {
            name: Some(self.nom.clone()),
            category: Some(self.categorie.clone()),
            description: Some(self.description.clone()),
            inventory_number: Some(self.inventaire.clone()),
            loanable: Some(self.pretable.is_some()),
            status: (editing && !self.statut.trim().is_empty()).then(|| self.statut.clone()),
            condition: (!self.etat.trim().is_empty()).then(|| self.etat.clone()),
            acquired: opt(&self.acquis),
        }
    }
}

/// The fields of the form: (id and name, what the rules call it, label).
const FIELDS: &[(&str, &str, &str)] = &[
    ("nom", "le champ name", "Nom"),
    ("categorie", "le champ category", "Catégorie"),
    ("description", "le champ description", "Description"),
    ("inventaire", "le champ inventory_number", "N° d'inventaire"),
    (
        "acquis",
        "acquired (date d'acquisition)",
        "Date d'acquisition",
    ),
    ("etat", "état «", "État"),
    ("statut", "statut «", "Statut"),
];

/// A rule's refusal as people read it, and the field it is about.
fn problem_fr(e: &Error) -> (String, Option<&'static str>) {
    let text = e.to_string();
    for (id, rule, label) in FIELDS {
        if text.contains(rule) {
            let said = match *id {
                "acquis" => text.replace(rule, &format!("« {label} »")),
                "etat" | "statut" => text,
                _ => text.replace(rule, &format!("le champ « {label} »")),
            };
            return (super::capital(&said), Some(id));
        }
    }
    (super::capital(&text), None)
}

/// A signed-in director (with the person in the session), or what to
/// answer instead.
pub(crate) fn director(web: &Web, headers: &HeaderMap) -> Result<Session, Refusal> {
    let (s, _): (Session, Person) = signed_in(web, headers, Need::Director)?;
    Ok(s)
}

/// The network's categories, for the category field's suggestions.
fn categories(web: &Web) -> Vec<String> {
    let mut c: Vec<String> = equipment::list_all(&web.ctx)
        .unwrap_or_default()
        .iter()
        .map(|i| i.category.clone())
        .collect();
    c.sort_by_key(|c| crate::domain::fold_for_search(c));
    c.dedup();
    c
}

fn refused(web: &Web, s: &Session, status: StatusCode, title: &str, text: &str) -> Response {
    html(
        status,
        super::pages::message(&web.frame(s), title, &super::capital(text)),
    )
}

/// This site's item `id`, or the page that says why it cannot be edited here.
fn my_item(web: &Web, s: &Session, id: &str) -> Result<Item, Refusal> {
    let item = equipment::find(&web.ctx, id).map_err(|e| {
        Box::new(refused(
            web,
            s,
            status_of(&e),
            "Matériel introuvable",
            &e.to_string(),
        ))
    })?;
    if item.site != web.ctx.site {
        let names = equipment::site_names(&web.ctx).unwrap_or_default();
        return Err(Box::new(refused(
            web,
            s,
            StatusCode::FORBIDDEN,
            "Action refusée",
            &format!(
                "« {} » appartient à {} : seul ce site peut le modifier.",
                item.name,
                equipment::name_of(&names, &item.site)
            ),
        )));
    }
    Ok(item)
}

pub async fn new_form(State(web): State<Web>, headers: HeaderMap) -> Response {
    let s = match director(&web, &headers) {
        Ok(s) => s,
        Err(r) => return *r,
    };
    let input = ItemInput {
        pretable: Some("oui".into()),
        etat: "good".into(),
        ..Default::default()
    };
    html(
        StatusCode::OK,
        form_page(
            &web.frame(&s),
            None,
            &input,
            &categories(&web),
            &Notice::None,
            None,
        ),
    )
}

pub async fn create(
    State(web): State<Web>,
    headers: HeaderMap,
    Form(input): Form<ItemInput>,
) -> Response {
    let s = match director(&web, &headers) {
        Ok(s) => s,
        Err(r) => return *r,
    };
    match equipment::add(&web.ctx, input.patch(false)).await {
        Ok(item) => Redirect::to(&format!("/materiel/{}?fait=ajoute", item.id)).into_response(),
        Err(e) => {
            let (text, field) = problem_fr(&e);
            let page = form_page(
                &web.frame(&s),
                None,
                &input,
                &categories(&web),
                &Notice::Error(&text),
                field,
            );
            html(status_of(&e), page)
        }
    }
}

pub async fn edit_form(
    State(web): State<Web>,
    headers: HeaderMap,
    Path(id): Path<String>,
) -> Response {
    let s = match director(&web, &headers) {
        Ok(s) => s,
        Err(r) => return *r,
    };
    let item = match my_item(&web, &s, &id) {
        Ok(i) => i,
        Err(r) => return *r,
    };
    html(
        StatusCode::OK,
        form_page(
            &web.frame(&s),
            Some(&item),
            &ItemInput::of(&item),
            &categories(&web),
            &Notice::None,
            None,
        ),
    )
}

pub async fn save(
    State(web): State<Web>,
    headers: HeaderMap,
    Path(id): Path<String>,
    Form(input): Form<ItemInput>,
) -> Response {
    let s = match director(&web, &headers) {
        Ok(s) => s,
        Err(r) => return *r,
    };
    let item = match my_item(&web, &s, &id) {
        Ok(i) => i,
        Err(r) => return *r,
    };
    if !input.version.is_empty() && input.version != version(&item) {
        let text =
            "Ce matériel a été modifié par quelqu'un d'autre pendant que vous le modifiiez : \
                    voici sa fiche à jour. Refaites vos modifications, puis enregistrez.";
        let page = form_page(
            &web.frame(&s),
            Some(&item),
            &ItemInput::of(&item),
            &categories(&web),
            &Notice::Error(text),
            None,
        );
        return html(StatusCode::CONFLICT, page);
    }
    match equipment::update(&web.ctx, &item.id, input.patch(true), "equipment update").await {
        Ok(item) => Redirect::to(&format!("/materiel/{}?fait=modifie", item.id)).into_response(),
        Err(e) => {
            let (text, field) = problem_fr(&e);
            let page = form_page(
                &web.frame(&s),
                Some(&item),
                &input,
                &categories(&web),
                &Notice::Error(&text),
                field,
            );
            html(status_of(&e), page)
        }
    }
}

pub async fn retire_form(
    State(web): State<Web>,
    headers: HeaderMap,
    Path(id): Path<String>,
) -> Response {
    let s = match director(&web, &headers) {
        Ok(s) => s,
        Err(r) => return *r,
    };
    let item = match my_item(&web, &s, &id) {
        Ok(i) => i,
        Err(r) => return *r,
    };
    html(
        StatusCode::OK,
        retire_page(&web.frame(&s), &item, &Notice::None),
    )
}

pub async fn retire(
    State(web): State<Web>,
    headers: HeaderMap,
    Path(id): Path<String>,
) -> Response {
    let s = match director(&web, &headers) {
        Ok(s) => s,
        Err(r) => return *r,
    };
    let item = match my_item(&web, &s, &id) {
        Ok(i) => i,
        Err(r) => return *r,
    };
    match equipment::retire(&web.ctx, &item.id).await {
        Ok(item) => Redirect::to(&format!("/materiel/{}?fait=retire", item.id)).into_response(),
        Err(e) => {
            let text = super::capital(&e.to_string());
            html(
                status_of(&e),
                retire_page(&web.frame(&s), &item, &Notice::Error(&text)),
            )
        }
    }
}

/// What a done write says on the item's page.
pub fn done_fr(done: &str) -> Option<&'static str> {
    Some(match done {
        "ajoute" => "Matériel ajouté au catalogue.",
        "modifie" => "Modifications enregistrées.",
        "retire" => "Matériel retiré du catalogue : il reste dans l'historique des prêts.",
        _ => return None,
    })
}

/// The item form: a new item (`item` None) or an edit of `item`, filled
/// with `input`; `bad` is the field an error is about.
pub(crate) fn form_page(
    frame: &Frame,
    item: Option<&Item>,
    input: &ItemInput,
    categories: &[String],
    n: &Notice,
    bad: Option<&str>,
) -> Markup {
    let (title, action, back, back_text, submit) = match item {
        None => (
            "Ajouter un matériel".to_string(),
            "/materiel/nouveau".to_string(),
            "/catalogue".to_string(),
            "← Retour au catalogue",
            "Ajouter au catalogue",
        ),
        Some(i) => (
            format!("Modifier « {} »", i.name),
            format!("/materiel/{}/modifier", i.id),
            format!("/materiel/{}", i.id),
            "← Retour à sa fiche",
            "Enregistrer les modifications",
        ),
    };
    let error_text = match n {
        Notice::Error(t) => Some(*t),
        _ => None,
    };
    // The field an error is about says so, and points to the message.
    let invalid = |id: &str| (bad == Some(id)).then_some("true");
    let described = |id: &str| (bad == Some(id)).then(|| format!("{id}-erreur"));
    let field_error = |id: &str| {
        html! {
            @if let (true, Some(t)) = (bad == Some(id), error_text) {
                p.field-error id={ (id) "-erreur" } { (t) }
            }
        }
    };
    let acquired_value = time::parse_date(&input.acquis)
        .map(|d| d.format("%Y-%m-%d").to_string())
        .unwrap_or_else(|_| input.acquis.clone());
    layout(
        frame,
        &title,
        html! {
            p { a href=(back) { (back_text) } }
            (notice(n))
            p.small { "Les champs marqués d'un astérisque (*) sont obligatoires." }
            form.form method="post" action=(action) novalidate {
                (csrf_field(frame.csrf))
                @if item.is_some() {
                    input type="hidden" name="version" value=(input.version);
                }
                div.field {
                    label for="nom" { "Nom *" span.hint { "Par exemple : Caméra 4K Sony, Robots Thymio (lot de 8)" } }
                    input #nom type="text" name="nom" required maxlength="200" value=(input.nom)
                        aria-invalid=[invalid("nom")] aria-describedby=[described("nom")];
                    (field_error("nom"))
                }
                div.field {
                    label for="categorie" { "Catégorie *" span.hint { "Par exemple : audio-vidéo, robotique, numérique" } }
                    input #categorie type="text" name="categorie" required maxlength="64" list="categories-connues" value=(input.categorie)
                        aria-invalid=[invalid("categorie")] aria-describedby=[described("categorie")];
                    datalist #categories-connues {
                        @for c in categories { option value=(c) {} }
                    }
                    (field_error("categorie"))
                }
                div.field {
                    label for="description" { "Description" }
                    textarea #description name="description" rows="4" maxlength="4000"
                        aria-invalid=[invalid("description")] aria-describedby=[described("description")] { (input.description) }
                    (field_error("description"))
                }
                div.field {
                    label for="inventaire" { "N° d'inventaire" span.hint { "celui de l'inventaire du site, s'il y en a un" } }
                    input #inventaire type="text" name="inventaire" maxlength="64" value=(input.inventaire)
                        aria-invalid=[invalid("inventaire")] aria-describedby=[described("inventaire")];
                    (field_error("inventaire"))
                }
                div.field {
                    label for="etat" { "État" }
                    select #etat name="etat" aria-invalid=[invalid("etat")] aria-describedby=[described("etat")] {
                        @for (k, fr) in CONDITIONS_FR {
                            option value=(k) selected[input.etat == *k] { (fr) }
                        }
                    }
                    (field_error("etat"))
                }
                @if let Some(i) = item {
                    div.field {
                        label for="statut" { "Statut" span.hint { "« en maintenance » : il ne peut pas être demandé tant qu'il y est" } }
                        select #statut name="statut" aria-invalid=[invalid("statut")] aria-describedby=[described("statut")] {
                            @for (k, fr) in STATUSES_FR {
                                // Retiring has its own page, with a confirmation.
                                @if *k != "retired" || i.status == "retired" {
                                    option value=(k) selected[input.statut == *k] { (fr) }
                                }
                            }
                        }
                        (field_error("statut"))
                    }
                }
                div.field {
                    label for="acquis" { "Date d'acquisition" span.hint { "JJ/MM/AAAA ; laissée vide : le jour de l'ajout au catalogue" } }
                    input #acquis type="date" name="acquis" value=(acquired_value)
                        aria-invalid=[invalid("acquis")] aria-describedby=[described("acquis")];
                    (field_error("acquis"))
                }
                div.field.checkbox {
                    input #pretable type="checkbox" name="pretable" value="oui" checked[input.pretable.is_some()];
                    label for="pretable" { "Prêtable aux autres sites du réseau" }
                }
                button.btn type="submit" { (submit) }
            }
            @if let Some(i) = item {
                @if i.status != "retired" {
                    section.card {
                        h2 { "Retirer du catalogue" }
                        p { "Un matériel retiré reste dans l'historique des prêts mais ne peut plus être demandé." }
                        p { a.btn.btn-secondary href={ "/materiel/" (i.id) "/retirer" } { "Retirer du catalogue…" } }
                    }
                }
            }
        },
    )
}

fn retire_page(frame: &Frame, item: &Item, n: &Notice) -> Markup {
    layout(
        frame,
        &format!("Retirer « {} » du catalogue ?", item.name),
        html! {
            (notice(n))
            @if item.status == "retired" {
                p { "Ce matériel est déjà retiré du catalogue." }
                p { a href={ "/materiel/" (item.id) } { "← Retour à sa fiche" } }
            } @else {
                p { "« " (item.name) " » ne pourra plus être demandé par les sites du réseau. Il reste dans l'historique des prêts et des incidents, et vous pourrez le remettre en service depuis sa fiche." }
                form.form method="post" action={ "/materiel/" (item.id) "/retirer" } {
                    (csrf_field(frame.csrf))
                    div.actions {
                        button.btn type="submit" { "Retirer du catalogue" }
                        a href={ "/materiel/" (item.id) } { "Annuler" }
                    }
                }
            }
        },
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_rule_refusal_names_the_field_in_french() {
        let (t, f) = problem_fr(&Error::invalid("le champ name est obligatoire"));
        assert_eq!(t, "Le champ « Nom » est obligatoire.");
        assert_eq!(f, Some("nom"));
        let e = crate::domain::equipment::new_equipment(
            &Patch {
                name: Some("Robot".into()),
                category: Some("robotique".into()),
                acquired: Some("demain".into()),
                ..Default::default()
            },
            "2026-01-01T00:00:00Z",
        )
        .unwrap_err();
        let (t, f) = problem_fr(&e);
        assert!(
            t.starts_with("« Date d'acquisition » : date « demain » invalide"),
            "{t}"
        );
        assert_eq!(f, Some("acquis"));
    }

    #[test]
    fn the_form_keeps_what_was_typed_and_points_to_the_error() {
        let frame = Frame {
            site_name: "Tiers-lieu A",
            person: None,
            csrf: "jeton",
        };
        let input = ItemInput {
            nom: "Robot <1>".into(),
            categorie: String::new(),
            acquis: "15/09/2025".into(),
            ..Default::default()
        };
        let page = form_page(
            &frame,
            None,
            &input,
            &["robotique".into()],
            &Notice::Error("Le champ « Catégorie » est obligatoire."),
            Some("categorie"),
        )
        .into_string();
        assert!(page.contains("value=\"Robot &lt;1&gt;\""), "{page}");
        assert!(page.contains("value=\"2025-09-15\""), "{page}");
        assert!(page.contains("aria-invalid=\"true\""));
        assert!(page.contains("id=\"categorie-erreur\""));
        assert!(page.contains("name=\"_csrf\" value=\"jeton\""));
        for id in [
            "nom",
            "categorie",
            "description",
            "inventaire",
            "etat",
            "acquis",
            "pretable",
        ] {
            assert!(page.contains(&format!("<label for=\"{id}\"")), "{id}");
        }
        // No checkbox ticked: not loanable.
        assert_eq!(input.patch(false).loanable, Some(false));
        assert_eq!(input.patch(false).condition, None);
        assert_eq!(input.patch(true).acquired.as_deref(), Some("15/09/2025"));
    }
}
