//! A purchase request's page (`/achats/{id}`): its lines and totals, the
//! academy's reason when it was sent back or refused, the items its delivery
//! created, its history, and the steps its state allows to whoever may take
//! them: the site's director submits, cancels, notes the order and the
//! delivery (choosing the lines that become items); the academy decides.

use std::collections::BTreeMap;

use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Redirect, Response};
use axum::Form;
use maud::{html, Markup};
use serde::Deserialize;

use super::{blocking, decides, error_page, name_of, role_of, state_badge, ACADEMY_ONLY};
use crate::app::purchases::{self as app, Record};
use crate::app::{equipment, NodeContext};
use crate::auth::{Need, Role};
use crate::base;
use crate::domain::purchases::state_fr;
use crate::domain::time;
use crate::error::Result;
use crate::pb;
use crate::web::actions::fr_amount;
use crate::web::pages::{csrf_field, layout, notice, Frame, Notice};
use crate::web::purchase_form::problem_fr;
use crate::web::session::Session;
use crate::web::{html, signed_in, status_of, Web};

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
            && web.ctx.role == base::Role::Site
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
                crate::web::pages::message(&web.frame(&s), "Action refusée", ACADEMY_ONLY),
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

#[cfg(test)]
mod tests {
    use super::super::testing::{record, t};
    use super::*;

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
}
