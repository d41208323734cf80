//! The network's partners in the browser (issue 12, item 2): the list with
//! its filters (site, kind, linked action), a partner's page, and the forms
//! that add and change one. Every site reads every partner; only the
//! partner's own site writes it (its directors, as the API's
//! `Need::Director`), through `app::partners`.
//!
//! The contact (a person's name, e-mail, telephone: personal data) is shown
//! only to the team of the partner's own site, signed in on its node; every
//! other reader gets « réservé à l'équipe du site » instead, and the pages
//! served to them never hold it.

use std::collections::BTreeMap;

use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Redirect, Response};
use axum::Form;
use maud::{html, Markup};
use serde::Deserialize;

use super::actions::fr_amount;
use super::pages::{csrf_field, layout, notice, Frame, Notice};
use super::session::{Person, Session};
use super::{html, signed_in, status_of, Web};
use crate::app::partners as app;
use crate::app::NodeContext;
use crate::auth::{Need, Role};
use crate::domain::partners::{self as dp, Patch, KINDS};
use crate::domain::time;
use crate::error::{Error, Result};
use crate::pb;

/// What a reader who may not see a partner's contact reads in its place.
pub const RESERVED: &str = "réservé à l'équipe du site";

fn error_page(web: &Web, s: &Session, status: StatusCode, text: &str) -> Response {
    html(
        status,
        super::pages::message(&web.frame(s), "Erreur", &super::capital(text)),
    )
}

pub use crate::app::partners::sees_contact;

/// Whether `person` may change a partner of `owner`: a director of that site.
fn may_edit(ctx_site: &str, owner: &str, role: Role) -> bool {
    owner == ctx_site && role >= Role::Director
}

/// Names of sites and titles of actions, to show names instead of ids.
struct Names {
    sites: BTreeMap<String, String>,
    actions: BTreeMap<String, String>,
}

impl Names {
    fn load(ctx: &NodeContext) -> Result<Names> {
        let sites = crate::app::equipment::site_names(ctx)?;
        let actions = crate::app::actions::all(ctx)?
            .into_iter()
            .map(|a| (a.id, a.title))
            .collect();
        Ok(Names { sites, actions })
    }

    fn site(&self, id: &str) -> String {
        crate::app::equipment::name_of(&self.sites, id)
    }

    fn action(&self, id: &str) -> String {
        self.actions
            .get(id)
            .cloned()
            .unwrap_or_else(|| format!("action {id} (pas encore reçue)"))
    }

    /// The actions, by title.
    fn actions_by_title(&self) -> Vec<(&String, &String)> {
        let mut v: Vec<_> = self.actions.iter().collect();
        v.sort_by_key(|(id, t)| (t.to_lowercase(), id.to_string()));
        v
    }
}

// ---------------------------------------------------------------------------
// The list.

#[derive(Deserialize, Default, Debug)]
pub struct ListQuery {
    #[serde(default)]
    site: String,
    #[serde(default, rename = "type")]
    kind: String,
    #[serde(default)]
    action: String,
}

pub async fn list(
    State(web): State<Web>,
    headers: HeaderMap,
    Query(q): Query<ListQuery>,
) -> Response {
    let (s, p) = match signed_in(&web, &headers, Need::Read) {
        Ok(x) => x,
        Err(r) => return *r,
    };
    let ctx = &web.ctx;
    let loaded = app::all(ctx).and_then(|a| Ok((a, Names::load(ctx)?)));
    let (mut rows, names) = match loaded {
        Ok(x) => x,
        Err(e) => return error_page(&web, &s, status_of(&e), &e.to_string()),
    };
    rows.retain(|r| q.site.is_empty() || r.site == q.site);
    rows.retain(|r| q.kind.is_empty() || r.kind == q.kind);
    rows.retain(|r| q.action.is_empty() || r.actions.contains(&q.action));
    rows.sort_by_cached_key(|r| (crate::domain::fold_for_search(&r.name), r.id.clone()));
    let view = ListView {
        q: &q,
        rows: &rows,
        names: &names,
        here: &ctx.site,
        person: &p,
    };
    html(StatusCode::OK, list_page(&web.frame(&s), &view))
}

struct ListView<'a> {
    q: &'a ListQuery,
    rows: &'a [pb::Partner],
    names: &'a Names,
    here: &'a str,
    person: &'a Person,
}

fn list_page(frame: &Frame, v: &ListView) -> Markup {
    let q = v.q;
    let mut sites: Vec<(&String, &String)> = v.names.sites.iter().collect();
    sites.sort_by_key(|(id, n)| (n.to_lowercase(), id.to_string()));
    layout(
        frame,
        "Partenaires",
        html! {
            p.lead { "Les partenaires des sites du réseau : collectivités, associations, entreprises, universités… et ce qu'ils apportent aux actions communes." }
            @if v.person.role >= Role::Director {
                p { a.btn href="/partenaires/nouveau" { "Nouveau partenaire" } }
            }
            form.form.filters method="get" action="/partenaires" {
                div.field {
                    label for="filtre-site" { "Site" }
                    select #filtre-site name="site" {
                        option value="" selected[q.site.is_empty()] { "Tous les sites" }
                        @for (id, name) in &sites {
                            option value=(id) selected[q.site == **id] { (name) }
                        }
                    }
                }
                div.field {
                    label for="filtre-type" { "Type" }
                    select #filtre-type name="type" {
                        option value="" selected[q.kind.is_empty()] { "Tous les types" }
                        @for (k, _) in KINDS {
                            option value=(k) selected[q.kind == *k] { (capitalised(dp::kind_fr(k))) }
                        }
                    }
                }
                div.field {
                    label for="filtre-action" { "Action commune liée" }
                    select #filtre-action name="action" {
                        option value="" selected[q.action.is_empty()] { "Toutes les actions" }
                        @for (id, title) in v.names.actions_by_title() {
                            option value=(id) selected[q.action == *id] { (title) }
                        }
                    }
                }
                button.btn.btn-secondary type="submit" { "Filtrer" }
            }
            section.card data-live="partenaires" {
                h2 { "Partenaires " span.count { "(" (v.rows.len()) ")" } }
                @if v.rows.is_empty() {
                    p.empty { "Aucun partenaire ne correspond à ces critères." }
                } @else {
                    div.table-scroll {
                        table {
                            caption.sr-only { "Partenaires du réseau" }
                            thead { tr {
                                th scope="col" { "Partenaire" }
                                th scope="col" { "Type" }
                                th scope="col" { "Site" }
                                th scope="col" { "Contribution" }
                                th scope="col" { "Actions liées" }
                                th scope="col" { "Contact" }
                            } }
                            tbody {
                                @for r in v.rows {
                                    tr data-partner=(r.id) {
                                        td { a href={ "/partenaires/" (r.id) } { (r.name) } }
                                        td { (capitalised(dp::kind_fr(&r.kind))) }
                                        td { (v.names.site(&r.site)) }
                                        td.num { @if !r.contribution_eur.is_empty() { (fr_amount(&r.contribution_eur)) } @else { "—" } }
                                        td {
                                            @for (i, a) in r.actions.iter().enumerate() {
                                                @if i > 0 { ", " }
                                                a href={ "/actions/" (a) } { (v.names.action(a)) }
                                            }
                                        }
                                        td { (contact_cell(r, v.here, v.person.role)) }
                                    }
                                }
                            }
                        }
                    }
                }
            }
        },
    )
}

/// The contact, or why it is not shown.
fn contact_cell(p: &pb::Partner, here: &str, role: Role) -> Markup {
    html! {
        @if !sees_contact(here, &p.site, role) {
            span.small.reserved { (RESERVED) }
        } @else if p.contact.is_empty() {
            span.small { "non renseigné" }
        } @else {
            span.prose data-contact { (p.contact) }
        }
    }
}

fn capitalised(s: &str) -> String {
    let mut c = s.chars();
    match c.next() {
        Some(f) => f.to_uppercase().collect::<String>() + c.as_str(),
        None => String::new(),
    }
}

// ---------------------------------------------------------------------------
// A partner's page, with its edit form for the owner's directors.

#[derive(Deserialize, Default)]
pub struct Done {
    #[serde(default)]
    fait: String,
}

pub async fn show(
    State(web): State<Web>,
    headers: HeaderMap,
    Path(id): Path<String>,
    Query(done): Query<Done>,
) -> Response {
    let (s, p) = match signed_in(&web, &headers, Need::Read) {
        Ok(x) => x,
        Err(r) => return *r,
    };
    let n = match done.fait.as_str() {
        "cree" => Notice::Success("Partenaire enregistré."),
        "modifie" => Notice::Success("Modifications enregistrées."),
        _ => Notice::None,
    };
    partner_response(&web, &s, &p, &id, StatusCode::OK, &n, None)
}

/// The partner `id` of the network.
fn find(ctx: &NodeContext, id: &str) -> Result<pb::Partner> {
    app::all(ctx)?
        .into_iter()
        .find(|p| p.id == id)
        .ok_or_else(|| Error::not_found(format!("partenaire {id} introuvable")))
}

fn partner_response(
    web: &Web,
    s: &Session,
    person: &Person,
    id: &str,
    status: StatusCode,
    n: &Notice,
    typed: Option<&Fields>,
) -> Response {
    let loaded = find(&web.ctx, id).and_then(|p| Ok((p, Names::load(&web.ctx)?)));
    let (partner, names) = match loaded {
        Ok(x) => x,
        Err(e) => return error_page(web, s, status_of(&e), &e.to_string()),
    };
    let here = &web.ctx.site;
    let edit = may_edit(here, &partner.site, person.role).then(|| match typed {
        Some(t) => t.clone(),
        None => Fields::of(&partner),
    });
    let view = PartnerView {
        p: &partner,
        names: &names,
        contact: sees_contact(here, &partner.site, person.role),
        edit: edit.as_ref(),
    };
    html(status, partner_page(&web.frame(s), &view, n))
}

struct PartnerView<'a> {
    p: &'a pb::Partner,
    names: &'a Names,
    /// The reader may see the contact.
    contact: bool,
    /// The edit form's values, for a director of the partner's site.
    edit: Option<&'a Fields>,
}

fn partner_page(frame: &Frame, v: &PartnerView, n: &Notice) -> Markup {
    let p = v.p;
    let owner = v.names.site(&p.site);
    layout(
        frame,
        &p.name,
        html! {
            p { a href="/partenaires" { "← Retour aux partenaires" } }
            (notice(n))
            section.card data-live="partenaire" {
                h2 { "Le partenaire" }
                dl.facts {
                    dt { "Type" } dd { (capitalised(dp::kind_fr(&p.kind))) }
                    dt { "Site" } dd { (owner) }
                    dt { "Contact" }
                    dd {
                        @if !v.contact {
                            span.reserved { (RESERVED) " " (owner) }
                            br; span.small { "Les coordonnées d'une personne ne sont montrées qu'à l'équipe du site partenaire, sur son propre nœud." }
                        } @else if p.contact.is_empty() {
                            "non renseigné"
                        } @else {
                            span.prose data-contact { (p.contact) }
                        }
                    }
                    dt { "Convention" }
                    dd { @if p.agreement.is_empty() { "aucune" } @else { span.prose { (p.agreement) } } }
                    dt { "Contribution financière" } dd { (fr_amount(&p.contribution_eur)) }
                    dt { "Contribution en nature" }
                    dd { @if p.contribution_in_kind.is_empty() { "aucune" } @else { span.prose { (p.contribution_in_kind) } } }
                    dt { "Actions communes liées" }
                    dd {
                        @if p.actions.is_empty() { "aucune" }
                        @else {
                            ul.plain {
                                @for a in &p.actions {
                                    li { a href={ "/actions/" (a) } { (v.names.action(a)) } }
                                }
                            }
                        }
                    }
                    dt { "Enregistré le" } dd { (time::fr_instant(&p.created_at)) }
                    dt { "Dernière modification" } dd { (time::fr_instant(&p.updated_at)) }
                }
                @if v.edit.is_none() {
                    p.small { "Seule la direction de " (owner) " modifie ce partenaire." }
                }
            }
            @if let Some(f) = v.edit {
                section.card {
                    h2 { "Modifier le partenaire" }
                    (fields_form(frame, &format!("/partenaires/{}", p.id), f, v.names, "Enregistrer les modifications"))
                }
            }
        },
    )
}

// ---------------------------------------------------------------------------
// The forms.

/// What the form holds: as typed, to be shown again after a refusal.
#[derive(Clone, Default, Debug, PartialEq)]
pub struct Fields {
    nom: String,
    kind: String,
    contact: String,
    convention: String,
    contribution: String,
    nature: String,
    actions: Vec<String>,
}

impl Fields {
    fn of(p: &pb::Partner) -> Fields {
        Fields {
            nom: p.name.clone(),
            kind: p.kind.clone(),
            contact: p.contact.clone(),
            convention: p.agreement.clone(),
            contribution: p.contribution_eur.replace('.', ","),
            nature: p.contribution_in_kind.clone(),
            actions: p.actions.clone(),
        }
    }

    /// From the form's fields (`actions` repeated, one per box ticked).
    fn parse(form: &[(String, String)]) -> Fields {
        let mut f = Fields::default();
        for (k, v) in form {
            let v = v.replace("\r\n", "\n");
            match k.as_str() {
                "nom" => f.nom = v,
                "type" => f.kind = v,
                "contact" => f.contact = v,
                "convention" => f.convention = v,
                "contribution" => f.contribution = v,
                "nature" => f.nature = v,
                "actions" => f.actions.push(v),
                _ => {}
            }
        }
        f
    }

    /// The change the form asks for: every field, as the API's add.
    fn patch(&self) -> Patch {
        Patch {
            name: Some(self.nom.clone()),
            kind: Some(self.kind.clone()),
            contact: Some(self.contact.clone()),
            agreement: Some(self.convention.clone()),
            contribution_eur: Some(amount_typed(&self.contribution)),
            contribution_in_kind: Some(self.nature.clone()),
            actions: Some(self.actions.clone()),
        }
    }
}

/// An amount as people type it (« 1 500,50 € ») as the domain reads it.
pub fn amount_typed(v: &str) -> String {
    v.trim()
        .trim_end_matches('€')
        .chars()
        .filter(|c| !matches!(c, ' ' | '\u{a0}' | '\u{202f}'))
        .collect()
}

/// A rule's refusal, with the API's field names said in French.
fn problem_fr(e: &Error) -> String {
    let mut text = e.to_string();
    for (api, fr) in [
        ("le champ name", "le champ « Nom »"),
        ("le champ contact", "le champ « Contact »"),
        ("le champ agreement", "le champ « Convention »"),
        (
            "le champ contribution_in_kind",
            "le champ « Contribution en nature »",
        ),
        ("contribution_eur", "la contribution financière"),
        (
            "donnez l'identifiant d'une action commune",
            "choisissez-la dans la liste",
        ),
    ] {
        text = text.replace(api, fr);
    }
    super::capital(&text)
}

fn fields_form(frame: &Frame, action: &str, f: &Fields, names: &Names, submit: &str) -> Markup {
    let kind = if f.kind.is_empty() { "other" } else { &f.kind };
    html! {
        p.small { "Les champs marqués d'un astérisque (*) sont obligatoires." }
        form.form method="post" action=(action) {
            (csrf_field(frame.csrf))
            div.field {
                label for="nom" { "Nom *" span.hint { "Par exemple : Ville de Metz" } }
                input #nom type="text" name="nom" required maxlength=(dp::MAX_NAME) value=(f.nom);
            }
            div.field {
                label for="type" { "Type *" }
                select #type name="type" {
                    @for (k, _) in KINDS {
                        option value=(k) selected[kind == *k] { (capitalised(dp::kind_fr(k))) }
                    }
                }
            }
            div.field {
                label for="contact" {
                    "Contact"
                    span.hint { "Personne, courriel, téléphone : données personnelles, montrées seulement à l'équipe de votre site" }
                }
                textarea #contact name="contact" rows="3" maxlength=(dp::MAX_TEXT) { (f.contact) }
            }
            div.field {
                label for="convention" { "Convention" span.hint { "Référence et dates de la convention signée, s'il y en a une" } }
                textarea #convention name="convention" rows="2" maxlength=(dp::MAX_TEXT) { (f.convention) }
            }
            div.field {
                label for="contribution" { "Contribution financière (€)" span.hint { "Par exemple : 1 500,50" } }
                input #contribution type="text" inputmode="decimal" name="contribution" value=(f.contribution);
            }
            div.field {
                label for="nature" { "Contribution en nature" span.hint { "Par exemple : prêt d'une salle, deux intervenants" } }
                textarea #nature name="nature" rows="2" maxlength=(dp::MAX_TEXT) { (f.nature) }
            }
            fieldset.field {
                legend { "Actions communes liées" }
                @if names.actions.is_empty() {
                    p.empty { "Aucune action commune dans le réseau pour l'instant." }
                }
                @for (i, (id, title)) in names.actions_by_title().into_iter().enumerate() {
                    @let fid = format!("action-{i}");
                    div.check {
                        input id=(fid) type="checkbox" name="actions" value=(id) checked[f.actions.contains(id)];
                        label for=(fid) { (title) }
                    }
                }
            }
            button.btn type="submit" { (submit) }
        }
    }
}

fn new_page(frame: &Frame, f: &Fields, names: &Names, n: &Notice) -> Markup {
    layout(
        frame,
        "Nouveau partenaire",
        html! {
            p { a href="/partenaires" { "← Retour aux partenaires" } }
            (notice(n))
            p { "Le partenaire sera celui de votre site : tous les sites du réseau le verront, sauf son contact." }
            (fields_form(frame, "/partenaires/nouveau", f, names, "Enregistrer le partenaire"))
        },
    )
}

pub async fn new_form(State(web): State<Web>, headers: HeaderMap) -> Response {
    let (s, _) = match signed_in(&web, &headers, Need::Director) {
        Ok(x) => x,
        Err(r) => return *r,
    };
    match Names::load(&web.ctx) {
        Ok(names) => html(
            StatusCode::OK,
            new_page(&web.frame(&s), &Fields::default(), &names, &Notice::None),
        ),
        Err(e) => error_page(&web, &s, status_of(&e), &e.to_string()),
    }
}

pub async fn create(
    State(web): State<Web>,
    headers: HeaderMap,
    Form(form): Form<Vec<(String, String)>>,
) -> Response {
    let (s, _) = match signed_in(&web, &headers, Need::Director) {
        Ok(x) => x,
        Err(r) => return *r,
    };
    let f = Fields::parse(&form);
    match app::add(&web.ctx, f.patch()).await {
        Ok(p) => Redirect::to(&format!("/partenaires/{}?fait=cree", p.id)).into_response(),
        Err(e) => match Names::load(&web.ctx) {
            Ok(names) => html(
                status_of(&e),
                new_page(&web.frame(&s), &f, &names, &Notice::Error(&problem_fr(&e))),
            ),
            Err(e) => error_page(&web, &s, status_of(&e), &e.to_string()),
        },
    }
}

/// `POST /partenaires/{id}`: the owner's directors change the partner; any
/// other site is refused (403) before its input is read, and nothing changes.
pub async fn save(
    State(web): State<Web>,
    headers: HeaderMap,
    Path(id): Path<String>,
    Form(form): Form<Vec<(String, String)>>,
) -> Response {
    let (s, p) = match signed_in(&web, &headers, Need::Director) {
        Ok(x) => x,
        Err(r) => return *r,
    };
    let ctx = &web.ctx;
    let partner = match find(ctx, &id) {
        Ok(x) => x,
        Err(e) => return error_page(&web, &s, status_of(&e), &e.to_string()),
    };
    if !may_edit(&ctx.site, &partner.site, p.role) {
        let owner = crate::app::equipment::site_names(ctx)
            .map(|n| crate::app::equipment::name_of(&n, &partner.site))
            .unwrap_or_else(|_| partner.site.clone());
        let text = format!(
            "Ce partenaire est celui de {owner} : seule la direction de ce site peut le modifier, depuis son propre nœud. Rien n'a été modifié."
        );
        return html(
            StatusCode::FORBIDDEN,
            super::pages::message(&web.frame(&s), "Action refusée", &text),
        );
    }
    let f = Fields::parse(&form);
    match app::update(ctx, &partner.id, f.patch()).await {
        Ok(p) => Redirect::to(&format!("/partenaires/{}?fait=modifie", p.id)).into_response(),
        Err(e) => partner_response(
            &web,
            &s,
            &p,
            &id,
            status_of(&e),
            &Notice::Error(&problem_fr(&e)),
            Some(&f),
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_the_owner_sites_team_reads_the_contact_and_its_directors_write() {
        assert!(sees_contact("metz", "metz", Role::Staff));
        assert!(sees_contact("metz", "metz", Role::Director));
        assert!(!sees_contact("metz", "metz", Role::Viewer));
        assert!(!sees_contact("rectorat", "metz", Role::Academy));
        assert!(!sees_contact("thionville", "metz", Role::Director));
        assert!(may_edit("metz", "metz", Role::Director));
        assert!(!may_edit("metz", "metz", Role::Staff));
        assert!(!may_edit("thionville", "metz", Role::Director));
    }

    #[test]
    fn amounts_are_typed_the_french_way() {
        assert_eq!(amount_typed(" 1 500,50 € "), "1500,50");
        assert_eq!(amount_typed("2\u{202f}000"), "2000");
        assert_eq!(
            dp::new_partner(
                &Patch {
                    name: Some("Ville".into()),
                    contribution_eur: Some(amount_typed("1 500,5")),
                    ..Default::default()
                },
                "t"
            )
            .unwrap()
            .contribution_eur,
            "1500.50"
        );
        let form = vec![
            ("nom".to_string(), "Ville de Metz".to_string()),
            ("contact".into(), "Anne\r\n03 87".into()),
            ("actions".into(), "ac-1".into()),
            ("actions".into(), "ac-2".into()),
        ];
        let f = Fields::parse(&form);
        assert_eq!(f.contact, "Anne\n03 87");
        assert_eq!(f.actions, ["ac-1", "ac-2"]);
        assert_eq!(
            problem_fr(&Error::invalid(
                "contribution_eur « x » n'est pas un montant"
            )),
            "La contribution financière « x » n'est pas un montant."
        );
    }
}
