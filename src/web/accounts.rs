//! The people of this node in the browser: a director adds accounts (the
//! one-time link is shown once), gives a new link, disables and enables
//! them (`/comptes`); everyone changes their own password (`/compte`).
//! Every write goes through `app::users` or `accounts`, CSRF-checked.

use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Form;
use maud::{html, Markup};
use serde::Deserialize;

use super::pages::{csrf_field, layout, notice, role_fr, Frame, Notice};
use super::session::Session;
use super::{html, signed_in, status_of, Web};
use crate::app::users::{self, state_fr};
use crate::auth::{Need, Role};
use crate::domain::time::fr_instant;
use crate::pb;
use chrono::Utc;

/// The roles a caller may give, as the form offers them.
fn offered(caller: Role, academy_node: bool) -> Vec<Role> {
    [Role::Viewer, Role::Staff, Role::Director, Role::Academy]
        .into_iter()
        .filter(|r| *r <= caller && (*r != Role::Academy || academy_node))
        .collect()
}

pub(crate) fn page(
    frame: &Frame,
    caller: Role,
    academy_node: bool,
    list: &[pb::UserAccount],
    n: &Notice,
    link: Option<&pb::UserSetup>,
) -> Markup {
    let form = |action: String, label: &str| {
        html! {
            form.inline method="post" action=(action) {
                (csrf_field(frame.csrf))
                button.btn.btn-secondary type="submit" { (label) }
            }
        }
    };
    layout(
        frame,
        "Comptes du site",
        html! {
            (notice(n))
            @if let Some(s) = link {
                div.alert.alert-success role="status" {
                    p { "Lien à usage unique pour choisir le mot de passe, valable jusqu'au "
                        (fr_instant(&s.expires_at)) " :" }
                    p { code.link { (s.link) } }
                    p.small { "Transmettez-le à la personne seulement : il ne sera plus affiché." }
                }
            }
            p.lead { "Les comptes restent sur ce nœud : les autres sites ne les voient jamais." }
            section.card {
                h2 { "Ajouter une personne" }
                form method="post" action="/comptes" {
                    (csrf_field(frame.csrf))
                    div.field {
                        label for="compte-nom" { "Prénom et nom" }
                        input id="compte-nom" name="nom" type="text" required autocomplete="off";
                    }
                    div.field {
                        label for="compte-email" { "Adresse électronique" span.hint { "elle sert à se connecter" } }
                        input id="compte-email" name="email" type="email" required autocomplete="off";
                    }
                    div.field {
                        label for="compte-role" { "Rôle" }
                        select id="compte-role" name="role" {
                            @for r in offered(caller, academy_node) {
                                option value=(r.as_str()) selected[r == Role::Staff] { (role_fr(r)) }
                            }
                        }
                    }
                    button.btn type="submit" { "Créer le compte" }
                }
            }
            section.card {
                h2 { "Personnes " span.count { "(" (list.len()) ")" } }
                @if list.is_empty() {
                    p.empty { "Aucun compte." }
                } @else {
                    table {
                        caption.sr-only { "Comptes du site" }
                        thead { tr {
                            th scope="col" { "Nom" }
                            th scope="col" { "Adresse" }
                            th scope="col" { "Rôle" }
                            th scope="col" { "État" }
                            th scope="col" { "Actions" }
                        } }
                        tbody {
                            @for a in list {
                                tr data-account=(a.email) {
                                    td { (a.name) }
                                    td { (a.email) }
                                    td { (crate::auth::role_fr(&a.role)) }
                                    td { (state_fr(a)) }
                                    td {
                                        @if Role::parse(&a.role).is_ok_and(|r| r <= caller) {
                                            (form(format!("/comptes/{}/lien", a.email), "Nouveau lien"))
                                            @if a.disabled {
                                                (form(format!("/comptes/{}/reactiver", a.email), "Réactiver"))
                                            } @else {
                                                (form(format!("/comptes/{}/desactiver", a.email), "Désactiver"))
                                            }
                                        }
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

async fn render(
    web: &Web,
    s: &super::session::Session,
    caller: Role,
    status: StatusCode,
    n: &Notice<'_>,
    link: Option<&pb::UserSetup>,
) -> Response {
    let academy_node = web.ctx.role == crate::base::Role::Academy;
    match users::list(&web.ctx) {
        Ok(list) => html(
            status,
            page(&web.frame(s), caller, academy_node, &list.users, n, link),
        ),
        Err(e) => html(
            status_of(&e),
            super::pages::message(&web.frame(s), "Erreur", &e.to_string()),
        ),
    }
}

pub async fn list(State(web): State<Web>, headers: HeaderMap) -> Response {
    let (s, person) = match signed_in(&web, &headers, Need::Director) {
        Ok(x) => x,
        Err(r) => return *r,
    };
    let caller = person.role;
    render(&web, &s, caller, StatusCode::OK, &Notice::None, None).await
}

#[derive(Deserialize, Default)]
pub struct AddInput {
    #[serde(default)]
    nom: String,
    #[serde(default)]
    email: String,
    #[serde(default)]
    role: String,
}

pub async fn add(
    State(web): State<Web>,
    headers: HeaderMap,
    Form(input): Form<AddInput>,
) -> Response {
    let (s, person) = match signed_in(&web, &headers, Need::Director) {
        Ok(x) => x,
        Err(r) => return *r,
    };
    let caller = person.role;
    match users::add(&web.ctx, caller, &input.email, &input.nom, &input.role).await {
        Ok(setup) => {
            let done = format!("Compte créé pour {}.", input.nom.trim());
            render(
                &web,
                &s,
                caller,
                StatusCode::OK,
                &Notice::Success(&done),
                Some(&setup),
            )
            .await
        }
        Err(e) => {
            let msg = e.to_string();
            render(&web, &s, caller, status_of(&e), &Notice::Error(&msg), None).await
        }
    }
}

pub async fn act(
    State(web): State<Web>,
    headers: HeaderMap,
    Path((email, action)): Path<(String, String)>,
) -> Response {
    if !matches!(action.as_str(), "lien" | "desactiver" | "reactiver") {
        return StatusCode::NOT_FOUND.into_response();
    }
    let (s, person) = match signed_in(&web, &headers, Need::Director) {
        Ok(x) => x,
        Err(r) => return *r,
    };
    let caller = person.role;
    let ctx = &web.ctx;
    let result = match action.as_str() {
        "lien" => users::reset(ctx, caller, &email)
            .await
            .map(|setup| (format!("Nouveau lien pour {email}."), Some(setup))),
        "desactiver" => users::disable(ctx, caller, &email).await.map(|a| {
            web.sessions.remove_person(&a.email);
            (format!("Compte de {} désactivé.", a.name), None)
        }),
        _ => users::enable(ctx, caller, &email)
            .await
            .map(|a| (format!("Compte de {} réactivé.", a.name), None)),
    };
    match result {
        Ok((done, link)) => {
            render(
                &web,
                &s,
                caller,
                StatusCode::OK,
                &Notice::Success(&done),
                link.as_ref(),
            )
            .await
        }
        Err(e) => {
            let msg = e.to_string();
            render(&web, &s, caller, status_of(&e), &Notice::Error(&msg), None).await
        }
    }
}

/// « Mon compte »: the password form and the person's open sessions
/// (`current`: the handle of the session showing the page).
pub(crate) fn mine(frame: &Frame, sessions: &[Session], current: &str, n: &Notice) -> Markup {
    layout(
        frame,
        "Mon compte",
        html! {
            (notice(n))
            section.card {
                h2 { "Sessions ouvertes " span.count { "(" (sessions.len()) ")" } }
                p.small { "Une session se ferme seule après 2 heures sans activité, et au plus tard 12 heures après la connexion. Fermez celles que vous ne reconnaissez pas, puis changez de mot de passe." }
                table.sessions {
                    caption.sr-only { "Vos sessions ouvertes" }
                    thead { tr {
                        th scope="col" { "Navigateur" }
                        th scope="col" { "Ouverte le" }
                        th scope="col" { "Dernière activité" }
                        th scope="col" { span.sr-only { "Action" } }
                    } }
                    tbody {
                        @for x in sessions {
                            tr data-session=(x.handle) {
                                td { (x.browser) }
                                td { (fr_instant(&x.created.to_rfc3339())) }
                                td { (fr_instant(&x.last_seen.to_rfc3339())) }
                                td {
                                    @if x.handle == current {
                                        span.badge { "cette session" }
                                    } @else {
                                        form.inline method="post" action={ "/compte/sessions/" (x.handle) "/fermer" } {
                                            (csrf_field(frame.csrf))
                                            button.btn.btn-secondary type="submit" { "Fermer cette session" }
                                        }
                                    }
                                }
                            }
                        }
                    }
                }
            }
            section.card {
                h2 { "Changer de mot de passe" }
                form method="post" action="/compte" {
                    (csrf_field(frame.csrf))
                    div.field {
                        label for="actuel" { "Mot de passe actuel" }
                        input id="actuel" name="actuel" type="password" required autocomplete="current-password";
                    }
                    div.field {
                        label for="nouveau" { "Nouveau mot de passe" span.hint { "10 caractères au moins" } }
                        input id="nouveau" name="nouveau" type="password" required autocomplete="new-password";
                    }
                    div.field {
                        label for="confirmation" { "Nouveau mot de passe, une seconde fois" }
                        input id="confirmation" name="confirmation" type="password" required autocomplete="new-password";
                    }
                    button.btn type="submit" { "Changer le mot de passe" }
                }
            }
        },
    )
}

fn mine_page(web: &Web, s: &Session, status: StatusCode, n: &Notice) -> Response {
    let email = s.person.as_ref().map(|p| p.email.as_str()).unwrap_or("");
    let open = web.sessions.of_person(email, Utc::now());
    html(status, mine(&web.frame(s), &open, &s.handle, n))
}

pub async fn show_mine(State(web): State<Web>, headers: HeaderMap) -> Response {
    let (s, _) = match signed_in(&web, &headers, Need::Read) {
        Ok(x) => x,
        Err(r) => return *r,
    };
    mine_page(&web, &s, StatusCode::OK, &Notice::None)
}

/// `POST /compte/sessions/HANDLE/fermer`: ends one of one's own sessions.
pub async fn close_session(
    State(web): State<Web>,
    headers: HeaderMap,
    Path(handle): Path<String>,
) -> Response {
    let (s, person) = match signed_in(&web, &headers, Need::Read) {
        Ok(x) => x,
        Err(r) => return *r,
    };
    let email = person.email.clone();
    if handle == s.handle {
        let n = Notice::Error("pour fermer cette session-ci, utilisez « Se déconnecter »");
        return mine_page(&web, &s, StatusCode::BAD_REQUEST, &n);
    }
    if web.sessions.remove_handle(&email, &handle) {
        mine_page(
            &web,
            &s,
            StatusCode::OK,
            &Notice::Success("Session fermée."),
        )
    } else {
        let n = Notice::Error("cette session n'existe plus : elle a déjà été fermée ou a expiré");
        mine_page(&web, &s, StatusCode::NOT_FOUND, &n)
    }
}

#[derive(Deserialize, Default)]
pub struct PasswordInput {
    #[serde(default)]
    actuel: String,
    #[serde(default)]
    nouveau: String,
    #[serde(default)]
    confirmation: String,
}

pub async fn change_mine(
    State(web): State<Web>,
    headers: HeaderMap,
    Form(input): Form<PasswordInput>,
) -> Response {
    let (s, person) = match signed_in(&web, &headers, Need::Read) {
        Ok(x) => x,
        Err(r) => return *r,
    };
    let email = person.email.clone();
    if input.nouveau != input.confirmation {
        let n = Notice::Error("les deux saisies du nouveau mot de passe diffèrent");
        return mine_page(&web, &s, StatusCode::BAD_REQUEST, &n);
    }
    match web
        .accounts
        .change_password(&email, &input.actuel, &input.nouveau)
        .await
    {
        Ok(()) => {
            // Other sessions of this person end; this one goes on.
            web.sessions.remove_person_except(&email, &s.id);
            let n = Notice::Success("Mot de passe changé. Vos autres sessions sont fermées.");
            mine_page(&web, &s, StatusCode::OK, &n)
        }
        Err(e) => {
            let msg = e.to_string();
            mine_page(&web, &s, status_of(&e), &Notice::Error(&msg))
        }
    }
}
