//! Loans in the browser: a request from an item's page, and a loan's page
//! with its history and the actions its state allows to whoever may take
//! them (the lender approves, refuses, checks out and takes back; the
//! borrower cancels). Every write goes through `app::loans`.

use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Redirect, Response};
use axum::Form;
use maud::{html, Markup};
use serde::Deserialize;

use super::pages::{csrf_field, layout, notice, Frame, Notice};
use super::session::Session;
use super::{html, signed_in, Web};
use crate::app::loans::{self, Decision};
use crate::auth::{Need, Role};
use crate::domain::loans::{return_condition_fr, STATES_FR};
use crate::domain::time;
use crate::pb;

fn state_fr(state: &str) -> &str {
    STATES_FR
        .iter()
        .find(|(k, _)| *k == state)
        .map(|(_, fr)| *fr)
        .unwrap_or(state)
}

fn named(name: &str, id: &str) -> String {
    if name.is_empty() {
        id.to_string()
    } else {
        name.to_string()
    }
}

/// What a done action says on the loan's page.
fn done_fr(done: &str) -> Option<&'static str> {
    Some(match done {
        "demande" => "Demande envoyée au site prêteur.",
        "accorde" => "Prêt accordé.",
        "refuse" => "Demande refusée ; le site demandeur verra le motif.",
        "sorti" => "Sortie enregistrée.",
        "rendu" => "Retour enregistré.",
        "annule" => "Demande annulée.",
        _ => return None,
    })
}

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
    let (s, _) = match signed_in(&web, &headers, Need::Read) {
        Ok(x) => x,
        Err(r) => return *r,
    };
    let ctx = web.ctx.clone();
    let found = tokio::task::spawn_blocking(move || loans::loan_reply(&ctx, &id)).await;
    let n = match done_fr(&done.fait) {
        Some(m) => Notice::Success(m),
        None => Notice::None,
    };
    match found {
        Ok(Ok(l)) => html(StatusCode::OK, page(&web, &s, &l, &n)),
        Ok(Err(e)) => html(
            StatusCode::NOT_FOUND,
            super::pages::message(&web.frame(&s), "Prêt introuvable", &e.to_string()),
        ),
        Err(e) => html(
            StatusCode::INTERNAL_SERVER_ERROR,
            super::pages::message(&web.frame(&s), "Erreur", &e.to_string()),
        ),
    }
}

fn page(web: &Web, s: &Session, l: &pb::Loan, n: &Notice) -> Markup {
    let frame = web.frame(s);
    let role = s.person.as_ref().map(|p| p.role).unwrap_or(Role::Viewer);
    let lender = l.lender == web.ctx.site;
    let borrower = l.borrower == web.ctx.site;
    let items = if l.equipment_names.is_empty() {
        l.equipment.join(", ")
    } else {
        l.equipment_names.join(", ")
    };
    let steps: Vec<(&str, &Option<pb::Transition>)> = vec![
        ("demandé", &l.requested),
        ("enregistré après coup", &l.recorded_by),
        ("accordé", &l.approved),
        ("refusé", &l.refused),
        ("sorti", &l.checked_out),
        ("rendu", &l.returned),
        ("annulé", &l.cancelled),
    ];
    let who = |site: &str| {
        if site == l.lender {
            named(&l.lender_name, &l.lender)
        } else if site == l.borrower {
            named(&l.borrower_name, &l.borrower)
        } else {
            site.to_string()
        }
    };
    let form = |action: &str, label: &str, fields: Markup| {
        html! {
            form.action method="post" action={ "/prets/" (l.id) "/" (action) } {
                (csrf_field(frame.csrf))
                (fields)
                button.btn type="submit" { (label) }
            }
        }
    };
    layout(
        &frame,
        &format!("Prêt : {items}"),
        html! {
            (notice(n))
            section.card data-live="pret" {
                h2 { "Le prêt" }
                dl.facts {
                    dt { "État" } dd { span.badge { (state_fr(&l.state)) } @if l.overdue { " " span.badge.badge-error { "en retard" } } }
                    dt { "Matériel" } dd { (items) }
                    dt { "Site prêteur" } dd { (named(&l.lender_name, &l.lender)) }
                    dt { "Site emprunteur" } dd { (named(&l.borrower_name, &l.borrower)) }
                    dt { "Période" } dd { (time::fr_period(&l.from, &l.to)) }
                    @if !l.purpose.is_empty() { dt { "Objet" } dd { (l.purpose) } }
                    @if !l.incident.is_empty() {
                        dt { "Incident au retour" }
                        dd { (l.incident) @if !l.return_condition.is_empty() { " (" (return_condition_fr(&l.return_condition)) ")" } }
                    }
                }
                @for o in &l.overlaps {
                    p.alert.alert-error { "Attention : chevauche le prêt à " (named(&o.borrower_name, &o.borrower)) ", " (time::fr_period(&o.from, &o.to)) "." }
                }
                @for o in &l.out_of_service {
                    p.alert.alert-error { "Attention : " (o.equipment_name) " est " (crate::domain::equipment::availability_fr(&o.state)) "." }
                }
                @for c in &l.counted_later {
                    p.alert { "Le taux d'utilisation ne compte " (c.equipment_name) " qu'à partir du " (crate::domain::time::parse_date(&c.counted_from).map(time::fr_date).unwrap_or_else(|_| c.counted_from.clone())) " : si le matériel était déjà là, donnez sa date d'acquisition sur sa fiche." }
                }
            }
            section.card data-live="historique" {
                h2 { "Historique" }
                ul.history {
                    @for (label, t) in &steps {
                        @if let Some(t) = t {
                            li {
                                strong { (label) } " le " (time::fr_instant(&t.at)) " par " (who(&t.site))
                                @if !t.role.is_empty() { " (" (crate::auth::role_fr(&t.role)) ")" }
                                @if !t.note.is_empty() { " — " (t.note) }
                            }
                        }
                    }
                }
            }
            section.card data-live="actions" {
                h2 { "Actions" }
                @if lender && l.state == "requested" && role >= Role::Director {
                    (form("accorder", "Accorder", html! {}))
                    (form("refuser", "Refuser", html! {
                        div.field {
                            label for="motif" { "Motif du refus" span.hint { "transmis au site demandeur" } }
                            input id="motif" name="note" type="text" required;
                        }
                    }))
                }
                @if lender && l.state == "approved" && role >= Role::Staff {
                    (form("sortir", "Enregistrer la sortie", html! {
                        div.field {
                            label for="note-sortie" { "Note (état au départ, pièces fournies)" }
                            input id="note-sortie" name="note" type="text";
                        }
                    }))
                }
                @if lender && l.state == "checked_out" && role >= Role::Staff {
                    (form("rendre", "Enregistrer le retour", html! {
                        div.field {
                            label for="incident" { "Incident constaté (laisser vide s'il n'y en a pas)" }
                            input id="incident" name="incident" type="text";
                        }
                        div.field {
                            label for="etat" { "État du matériel après l'incident" }
                            select id="etat" name="etat" {
                                option value="usable" { "utilisable" }
                                option value="to_repair" { "à réparer (mis en maintenance)" }
                            }
                        }
                    }))
                }
                @if borrower && matches!(l.state.as_str(), "requested" | "approved") && role >= Role::Director {
                    (form("annuler", "Annuler la demande", html! {}))
                }
                p.small { "Les actions possibles dépendent de l'état du prêt, de votre site et de votre rôle." }
            }
        },
    )
}

#[derive(Deserialize, Default)]
pub struct ActionInput {
    #[serde(default)]
    note: String,
    #[serde(default)]
    incident: String,
    #[serde(default)]
    etat: String,
}

pub async fn act(
    State(web): State<Web>,
    headers: HeaderMap,
    Path((id, action)): Path<(String, String)>,
    Form(input): Form<ActionInput>,
) -> Response {
    let need = match action.as_str() {
        "accorder" | "refuser" | "annuler" => Need::Director,
        "sortir" | "rendre" => Need::Staff,
        _ => return StatusCode::NOT_FOUND.into_response(),
    };
    let (s, person) = match signed_in(&web, &headers, need) {
        Ok(x) => x,
        Err(r) => return *r,
    };
    let role = person.role.as_str();
    let ctx = &web.ctx;
    let done = match action.as_str() {
        "accorder" => loans::decide(ctx, &id, Decision::Approve, &input.note, "", role)
            .await
            .map(|l| (l.id, "accorde")),
        "refuser" => loans::decide(ctx, &id, Decision::Refuse, &input.note, "", role)
            .await
            .map(|l| (l.id, "refuse")),
        "sortir" => loans::decide(ctx, &id, Decision::Checkout, &input.note, "", role)
            .await
            .map(|l| (l.id, "sorti")),
        "rendre" => {
            let condition = if input.incident.trim().is_empty() {
                ""
            } else {
                input.etat.as_str()
            };
            loans::decide_with(
                ctx,
                &id,
                Decision::Return,
                &input.note,
                &input.incident,
                condition,
                &[],
                role,
            )
            .await
            .map(|l| (l.id, "rendu"))
        }
        _ => loans::cancel(ctx, &id, &input.note, role)
            .await
            .map(|l| (l.id, "annule")),
    };
    match done {
        Ok((id, what)) => Redirect::to(&format!("/prets/{id}?fait={what}")).into_response(),
        Err(e) => {
            let status = super::status_of(&e);
            match loans::loan_reply(ctx, &id) {
                Ok(l) => html(status, page(&web, &s, &l, &Notice::Error(&e.to_string()))),
                Err(_) => html(
                    status,
                    super::pages::message(&web.frame(&s), "Action impossible", &e.to_string()),
                ),
            }
        }
    }
}

#[derive(Deserialize, Default)]
pub struct RequestInput {
    #[serde(default)]
    du: String,
    #[serde(default)]
    au: String,
    #[serde(default)]
    objet: String,
}

/// A request from an item's page.
pub async fn request(
    State(web): State<Web>,
    headers: HeaderMap,
    Path(item): Path<String>,
    Form(input): Form<RequestInput>,
) -> Response {
    let (s, person) = match signed_in(&web, &headers, Need::Director) {
        Ok(x) => x,
        Err(r) => return *r,
    };
    let role = person.role.as_str().to_string();
    let r = pb::LoanRequestInput {
        equipment: vec![item.clone()],
        from: input.du.clone(),
        to: input.au.clone(),
        purpose: input.objet.clone(),
        ..Default::default()
    };
    match loans::request(&web.ctx, r, &role).await {
        Ok(l) => Redirect::to(&format!("/prets/{}?fait=demande", l.id)).into_response(),
        Err(e) => {
            super::catalogue::item_response(
                &web,
                &s,
                &item,
                Some(&e.to_string()),
                &input_values(&input),
            )
            .await
        }
    }
}

fn input_values(i: &RequestInput) -> (String, String, String) {
    (i.du.clone(), i.au.clone(), i.objet.clone())
}

/// The request form of an item's page, for a director of another site.
pub fn request_form(
    frame: &Frame,
    item: &pb::EquipmentItem,
    values: &(String, String, String),
) -> Markup {
    html! {
        section.card {
            h2 { "Demander ce matériel" }
            @let booked: Vec<&pb::Loan> = item.loans.iter().filter(|l| matches!(l.state.as_str(), "approved" | "checked_out")).collect();
            @if !booked.is_empty() {
                p { "Déjà réservé : " }
                ul { @for l in &booked { li { (time::fr_period(&l.from, &l.to)) } } }
            }
            form method="post" action={ "/materiel/" (item.id) "/demande" } {
                (csrf_field(frame.csrf))
                div.field {
                    label for="demande-du" { "Du" }
                    input id="demande-du" name="du" type="date" required value=(values.0);
                }
                div.field {
                    label for="demande-au" { "Au (inclus)" }
                    input id="demande-au" name="au" type="date" required value=(values.1);
                }
                div.field {
                    label for="demande-objet" { "Objet du prêt" span.hint { "ce que le site prêteur lira" } }
                    input id="demande-objet" name="objet" type="text" value=(values.2);
                }
                button.btn type="submit" { "Envoyer la demande" }
            }
        }
    }
}
