//! The web interface for people (issue 11): server-rendered French pages,
//! served by the node on `web_listen`, calling the same use cases (`app`) as
//! the gRPC services.
//!
//! - Sessions ([`session`]): a random id in an HttpOnly cookie, the rest in
//!   memory on the node; people log in with their account ([`Accounts`]).
//! - CSRF: every POST must carry its session's token in the `_csrf` field,
//!   checked by [`csrf_guard`] before any handler runs (the login form too:
//!   it is shown with an anonymous session).
//! - Roles: those of the API tokens, checked with the same
//!   [`crate::auth::Caller::require`].
//!
//! HTTPS: with `[web] tls_cert` and `tls_key`, the node serves the pages
//! over TLS itself ([`serve_tls`]) and every cookie is `Secure`. Otherwise
//! plain HTTP: beyond loopback, put it behind an HTTPS reverse proxy (which
//! sets `X-Forwarded-Proto: https`, so that the cookie gets `Secure`).

pub mod accounts;
pub mod actions;
pub mod calendar;
pub mod catalogue;
pub mod dashboard;
pub mod event_form;
pub mod import;
pub mod items;
pub mod labels;
pub mod live;
pub mod loans;
pub mod network;
pub mod pages;
pub mod partners;
pub mod purchase_form;
pub mod purchases;
pub mod reports;
pub mod session;
pub mod upload;

use std::path::Path;
use std::sync::Arc;

use axum::body::Body;
use axum::extract::{Query, Request, State};
use axum::http::{header, HeaderMap, HeaderValue, Method, StatusCode};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use axum::{Extension, Form, Router};
use chrono::Utc;
use maud::Markup;
use serde::Deserialize;
use tokio_util::sync::CancellationToken;

use crate::accounts::{Accounts, LoginRefused};
use crate::app::NodeContext;
use crate::auth::{Caller, Need};
use pages::{Frame, Notice};
use session::{Person, Session, Sessions};

/// Largest form body accepted.
const MAX_FORM: usize = 64 * 1024;

/// What the handlers share.
#[derive(Clone)]
pub struct Web {
    pub ctx: Arc<NodeContext>,
    pub accounts: Accounts,
    pub sessions: Sessions,
    /// Served over TLS by the node itself: every request is HTTPS.
    pub tls: bool,
    /// Cancelled when the node stops: ends the live streams.
    pub stop: CancellationToken,
    /// Inventory files checked and waiting for the director's confirmation.
    pub imports: import::Pending,
}

impl Web {
    pub fn new(ctx: Arc<NodeContext>, tls: bool, stop: CancellationToken) -> Web {
        let accounts = ctx.accounts.clone();
        Web {
            ctx,
            accounts,
            sessions: Sessions::default(),
            tls,
            stop,
            imports: import::Pending::default(),
        }
    }

    /// Whether a request came over HTTPS: served with TLS here, or through
    /// a proxy that says so.
    pub(crate) fn https(&self, headers: &HeaderMap) -> bool {
        self.tls || https(headers)
    }

    pub(crate) fn frame<'a>(&'a self, s: &'a Session) -> Frame<'a> {
        Frame {
            site_name: &self.ctx.name,
            person: s.person.as_ref(),
            csrf: &s.csrf,
        }
    }
}

/// Serves the web interface in plain HTTP on `listener` until `stop`.
pub async fn serve(
    listener: tokio::net::TcpListener,
    web: Web,
    stop: CancellationToken,
) -> std::io::Result<()> {
    axum::serve(listener, router(web))
        .with_graceful_shutdown(stop.cancelled_owned())
        .await
}

/// The TLS server configuration of the web interface, from the PEM files
/// of `[web] tls_cert` and `tls_key` (no client certificate asked).
pub fn tls_acceptor(cert: &Path, key: &Path) -> anyhow::Result<tokio_rustls::TlsAcceptor> {
    use anyhow::Context;
    use rustls::pki_types::pem::PemObject;
    use rustls::pki_types::{CertificateDer, PrivateKeyDer};
    let certs = CertificateDer::pem_file_iter(cert)
        .and_then(|i| i.collect::<Result<Vec<_>, _>>())
        .with_context(|| {
            format!(
                "certificat de l'interface web illisible : {} ([web] tls_cert)",
                cert.display()
            )
        })?;
    if certs.is_empty() {
        anyhow::bail!(
            "{} ne contient aucun certificat PEM ([web] tls_cert)",
            cert.display()
        );
    }
    let key = PrivateKeyDer::from_pem_file(key).with_context(|| {
        format!(
            "clé de l'interface web illisible : {} ([web] tls_key)",
            key.display()
        )
    })?;
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let mut cfg = rustls::ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()?
        .with_no_client_auth()
        .with_single_cert(certs, key)
        .context("le certificat et la clé de l'interface web ne vont pas ensemble")?;
    cfg.alpn_protocols = vec![b"http/1.1".to_vec()];
    Ok(tokio_rustls::TlsAcceptor::from(Arc::new(cfg)))
}

/// Serves the web interface over HTTPS on `listener` until `stop`: each
/// connection's handshake runs apart (bounded), so that a silent client
/// holds up no other.
pub async fn serve_tls(
    listener: tokio::net::TcpListener,
    acceptor: tokio_rustls::TlsAcceptor,
    web: Web,
    stop: CancellationToken,
) -> std::io::Result<()> {
    use hyper_util::rt::{TokioExecutor, TokioIo};
    let app = router(web);
    loop {
        let (tcp, addr) = tokio::select! {
            _ = stop.cancelled() => return Ok(()),
            a = listener.accept() => match a {
                Ok(a) => a,
                Err(e) => {
                    tracing::warn!(error = %e, "connexion web refusée");
                    tokio::time::sleep(std::time::Duration::from_millis(50)).await;
                    continue;
                }
            },
        };
        let (acceptor, app, stop) = (acceptor.clone(), app.clone(), stop.clone());
        tokio::spawn(async move {
            let handshake = tokio::time::timeout(TLS_HANDSHAKE, acceptor.accept(tcp)).await;
            let stream = match handshake {
                Ok(Ok(s)) => s,
                Ok(Err(e)) => {
                    tracing::debug!(%addr, error = %e, "poignée de main TLS (web) refusée");
                    return;
                }
                Err(_) => return,
            };
            let service = hyper_util::service::TowerToHyperService::new(app);
            let builder = hyper_util::server::conn::auto::Builder::new(TokioExecutor::new());
            let conn = builder.serve_connection_with_upgrades(TokioIo::new(stream), service);
            tokio::pin!(conn);
            tokio::select! {
                _ = conn.as_mut() => {}
                _ = stop.cancelled() => {
                    conn.as_mut().graceful_shutdown();
                    let _ = conn.await;
                }
            }
        });
    }
}

/// Time a browser has to finish the TLS handshake.
const TLS_HANDSHAKE: std::time::Duration = std::time::Duration::from_secs(10);

pub fn router(web: Web) -> Router {
    Router::new()
        .route("/", get(home))
        .route("/connexion", get(login_form).post(login))
        .route("/compte/activer", get(activate_form).post(activate))
        .route("/deconnexion", post(logout))
        .route("/static/maillage.css", get(css))
        .route("/static/direct.js", get(live::script))
        .route("/direct", get(live::events))
        .route("/calendrier/{file}", get(calendar_feed))
        .route("/calendrier", get(calendar::view))
        .route(
            "/calendrier-abonnements",
            get(calendar::feeds).post(calendar::create_feed),
        )
        .route(
            "/calendrier-abonnements/{id}/revoquer",
            post(calendar::revoke_feed),
        )
        .route(
            "/evenements/nouveau",
            get(calendar::new_form).post(calendar::create),
        )
        .route("/evenements/{id}", get(calendar::show))
        .route(
            "/evenements/{id}/modifier",
            get(calendar::edit_form).post(calendar::update),
        )
        .route("/evenements/{id}/{action}", post(calendar::act))
        .route("/catalogue", get(catalogue::list))
        .route(
            "/materiel/nouveau",
            get(items::new_form).post(items::create),
        )
        .route("/materiel/etiquettes", get(labels::sheet))
        .route(
            "/materiel/importer",
            get(import::form).post(import::preview),
        )
        .route("/materiel/importer/confirmer", post(import::confirm))
        .route("/materiel/{id}", get(catalogue::item))
        .route(
            "/materiel/{id}/modifier",
            get(items::edit_form).post(items::save),
        )
        .route(
            "/materiel/{id}/retirer",
            get(items::retire_form).post(items::retire),
        )
        .route("/materiel/{id}/demande", post(loans::request))
        .route("/prets/{id}", get(loans::show))
        .route("/comptes", get(accounts::list).post(accounts::add))
        .route("/comptes/{email}/{action}", post(accounts::act))
        .route(
            "/compte",
            get(accounts::show_mine).post(accounts::change_mine),
        )
        .route(
            "/compte/sessions/{handle}/fermer",
            post(accounts::close_session),
        )
        .route("/prets/{id}/{action}", post(loans::act))
        .route("/actions", get(actions::list))
        .route(
            "/actions/nouvelle",
            get(actions::new_form).post(actions::create),
        )
        .route("/actions/{id}", get(actions::show))
        .route("/actions/{id}/{what}", post(actions::act))
        .route("/actions/{id}/taches/{task}/fait", post(actions::task_done))
        .route("/indicateurs", get(reports::indicators))
        .route("/indicateurs.csv", get(reports::indicators_csv))
        .route("/indicateurs.json", get(reports::indicators_json))
        .route("/bilans", get(reports::bilans))
        .route("/bilans/{site}", get(reports::bilan))
        .route("/bilans/{site}/{format}", get(reports::bilan_file))
        .route("/partenaires", get(partners::list))
        .route(
            "/partenaires/nouveau",
            get(partners::new_form).post(partners::create),
        )
        .route(
            "/partenaires/{id}",
            get(partners::show).post(partners::save),
        )
        .route("/reseau", get(network::page))
        .route(
            "/reseau/inscrire",
            get(network::enrol_form).post(network::enrol),
        )
        .route(
            "/reseau/{id}/modifier",
            get(network::update_form).post(network::update),
        )
        .route(
            "/reseau/{id}/revoquer",
            get(network::revoke_form).post(network::revoke),
        )
        .route("/static/achats.js", get(purchases::script))
        .route("/achats", get(purchases::list))
        .route("/achats/a-decider", get(purchases::queue))
        .route(
            "/achats/nouveau",
            get(purchases::new_form).post(purchases::create),
        )
        .route("/achats/{id}", get(purchases::show))
        .route(
            "/achats/{id}/modifier",
            get(purchases::edit_form).post(purchases::save),
        )
        .route("/achats/{id}/{action}", post(purchases::act))
        .fallback(not_found)
        .layer(middleware::from_fn_with_state(web.clone(), csrf_guard))
        .layer(middleware::from_fn(security_headers))
        .with_state(web)
}

/// Whether the request came over HTTPS (through a proxy that says so).
fn https(headers: &HeaderMap) -> bool {
    headers
        .get("x-forwarded-proto")
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.eq_ignore_ascii_case("https"))
}

/// The HTTP status of a use case's error.
pub(crate) fn status_of(e: &crate::error::Error) -> StatusCode {
    use crate::error::Error;
    match e {
        Error::InvalidArgument(_) => StatusCode::BAD_REQUEST,
        Error::NotFound(_) => StatusCode::NOT_FOUND,
        Error::PermissionDenied(_) => StatusCode::FORBIDDEN,
        Error::FailedPrecondition(_) => StatusCode::CONFLICT,
        _ => StatusCode::INTERNAL_SERVER_ERROR,
    }
}

pub(crate) fn html(status: StatusCode, page: Markup) -> Response {
    (
        status,
        [(header::CONTENT_TYPE, "text/html; charset=utf-8")],
        page.into_string(),
    )
        .into_response()
}

fn with_cookie(mut r: Response, cookie: String) -> Response {
    if let Ok(v) = HeaderValue::from_str(&cookie) {
        r.headers_mut().append(header::SET_COOKIE, v);
    }
    r
}

fn bare_frame(web: &Web) -> Frame<'_> {
    Frame {
        site_name: &web.ctx.name,
        person: None,
        csrf: "",
    }
}

/// Headers every answer carries: no framing, no sniffing, no referrer (the
/// one-time link holds a secret), nothing loaded from elsewhere.
async fn security_headers(req: Request, next: Next) -> Response {
    let mut r = next.run(req).await;
    let h = r.headers_mut();
    h.insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static(
            "default-src 'none'; style-src 'self'; img-src 'self'; script-src 'self'; \
             connect-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'",
        ),
    );
    h.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    h.insert(
        header::REFERRER_POLICY,
        HeaderValue::from_static("no-referrer"),
    );
    h.insert(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
    if !h.contains_key(header::CACHE_CONTROL) {
        h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    }
    r
}

/// Refuses every POST whose `_csrf` field is not its session's token; the
/// handler finds the session in the request's extensions. A multipart form
/// (a file upload) may be larger; its parts go to the handler too
/// ([`upload::Upload`]).
async fn csrf_guard(State(web): State<Web>, req: Request, next: Next) -> Response {
    if req.method() != Method::POST {
        return next.run(req).await;
    }
    let refuse = |web: &Web, text: &str| {
        html(
            StatusCode::FORBIDDEN,
            pages::message(&bare_frame(web), "Action refusée", text),
        )
    };
    let session =
        session::cookie_id(req.headers()).and_then(|id| web.sessions.get(&id, Utc::now()));
    let boundary = upload::boundary(req.headers());
    let limit = if boundary.is_some() {
        upload::MAX_UPLOAD
    } else {
        MAX_FORM
    };
    let (parts, body) = req.into_parts();
    let Ok(bytes) = axum::body::to_bytes(body, limit).await else {
        return refuse(&web, "formulaire trop volumineux.");
    };
    let (token, upload) = match boundary {
        None => (
            serde_urlencoded::from_bytes::<Vec<(String, String)>>(&bytes)
                .ok()
                .and_then(|fields| fields.into_iter().find(|(k, _)| k == "_csrf"))
                .map(|(_, v)| v),
            None,
        ),
        Some(b) => match upload::parse(bytes.clone(), b).await {
            Ok(u) => (u.text("_csrf"), Some(u)),
            Err(_) => (None, None),
        },
    };
    let Some(session) = session else {
        return refuse(
            &web,
            "votre session a expiré ou les témoins (cookies) sont bloqués : rechargez la page et recommencez.",
        );
    };
    match token {
        Some(t) if session::same_secret(&t, &session.csrf) => {}
        _ => {
            return refuse(
                &web,
                "jeton de sécurité (CSRF) absent ou invalide : ce formulaire ne vient pas de cette page. Rechargez la page et recommencez.",
            )
        }
    }
    let mut req = Request::from_parts(parts, Body::from(bytes));
    req.extensions_mut().insert(session);
    if let Some(u) = upload {
        req.extensions_mut().insert(u);
    }
    next.run(req).await
}

/// The visitor's live session, or a new anonymous one (with its cookie).
fn visitor(web: &Web, headers: &HeaderMap) -> (Session, Option<String>) {
    let now = Utc::now();
    match session::cookie_id(headers).and_then(|id| web.sessions.get(&id, now)) {
        Some(s) => (s, None),
        None => {
            let s = web
                .sessions
                .create(None, now, &session::browser_of(headers));
            let cookie = session::set_cookie(&s.id, web.https(headers));
            (s, Some(cookie))
        }
    }
}

fn respond(r: Response, cookie: Option<String>) -> Response {
    match cookie {
        Some(c) => with_cookie(r, c),
        None => r,
    }
}

/// Why a request has no signed-in person: what to answer instead.
pub(crate) type Refusal = Box<Response>;

/// The logged-in person of a request, their account checked again (a
/// disabled or reset account ends its sessions), and allowed `need`; else
/// the login page (or a refusal). The session returned carries the person.
pub(crate) fn signed_in(
    web: &Web,
    headers: &HeaderMap,
    need: Need,
) -> Result<(Session, Person), Refusal> {
    let to_login = || Box::new(Redirect::to("/connexion").into_response());
    let s = session::cookie_id(headers)
        .and_then(|id| web.sessions.get(&id, Utc::now()))
        .ok_or_else(to_login)?;
    let Some(p) = s.person.clone() else {
        return Err(to_login());
    };
    let account = match web.accounts.find(&p.email) {
        Ok(a) if !a.disabled && a.password_hash.is_some() => a,
        _ => {
            web.sessions.remove_person(&p.email);
            return Err(to_login());
        }
    };
    let person = Person {
        email: account.email,
        name: account.name,
        role: account.role,
    };
    let caller = Caller {
        token_id: format!("web:{}", person.email),
        role: person.role,
    };
    let mut s = s;
    // The session as the page shows it: with the person as the account now says.
    s.person = Some(person.clone());
    if let Err(e) = caller.require(need) {
        let page = pages::message(&web.frame(&s), "Action refusée", &e.to_string());
        return Err(Box::new(html(StatusCode::FORBIDDEN, page)));
    }
    Ok((s, person))
}

async fn home(State(web): State<Web>, headers: HeaderMap) -> Response {
    let (s, person) = match signed_in(&web, &headers, Need::Read) {
        Ok(x) => x,
        Err(r) => return *r,
    };
    let ctx = web.ctx.clone();
    let built =
        tokio::task::spawn_blocking(move || dashboard::build(&ctx, person.role, Utc::now())).await;
    match built {
        Ok(Ok(d)) => html(StatusCode::OK, pages::dashboard(&web.frame(&s), &d)),
        Ok(Err(e)) => html(
            StatusCode::INTERNAL_SERVER_ERROR,
            pages::message(&web.frame(&s), "Erreur", &e.to_string()),
        ),
        Err(e) => html(
            StatusCode::INTERNAL_SERVER_ERROR,
            pages::message(&web.frame(&s), "Erreur", &e.to_string()),
        ),
    }
}

#[derive(Deserialize, Default)]
struct LoginInput {
    #[serde(default)]
    email: String,
    #[serde(default)]
    password: String,
}

async fn login_form(State(web): State<Web>, headers: HeaderMap) -> Response {
    let (s, cookie) = visitor(&web, &headers);
    if s.person.is_some() {
        return Redirect::to("/").into_response();
    }
    respond(
        html(
            StatusCode::OK,
            pages::login(&web.frame(&s), "", &Notice::None),
        ),
        cookie,
    )
}

async fn login(
    State(web): State<Web>,
    headers: HeaderMap,
    Extension(s): Extension<Session>,
    Form(input): Form<LoginInput>,
) -> Response {
    match web
        .accounts
        .login(&input.email, &input.password, Utc::now())
        .await
    {
        Ok(a) => {
            // A new id at login: an id known before it is worth nothing after.
            web.sessions.remove(&s.id);
            let person = Person {
                email: a.email,
                name: a.name,
                role: a.role,
            };
            let new = web
                .sessions
                .create(Some(person), Utc::now(), &session::browser_of(&headers));
            with_cookie(
                Redirect::to("/").into_response(),
                session::set_cookie(&new.id, web.https(&headers)),
            )
        }
        Err(refused) => {
            let text = match &refused {
                LoginRefused::Wrong => {
                    "Adresse électronique ou mot de passe incorrect.".to_string()
                }
                other => capital(&other.to_string()),
            };
            html(
                StatusCode::OK,
                pages::login(&web.frame(&s), input.email.trim(), &Notice::Error(&text)),
            )
        }
    }
}

#[derive(Deserialize)]
struct ActivateQuery {
    #[serde(default)]
    jeton: String,
}

async fn activate_form(
    State(web): State<Web>,
    headers: HeaderMap,
    Query(q): Query<ActivateQuery>,
) -> Response {
    let (s, cookie) = visitor(&web, &headers);
    let page = match web.accounts.setup_account(&q.jeton) {
        Ok(a) => pages::activate(
            &web.frame(&s),
            &q.jeton,
            Some(&format!("{} ({})", a.name, a.email)),
            &Notice::None,
        ),
        Err(e) => pages::activate(
            &web.frame(&s),
            "",
            None,
            &Notice::Error(&capital(&e.to_string())),
        ),
    };
    respond(html(StatusCode::OK, page), cookie)
}

#[derive(Deserialize, Default)]
struct ActivateInput {
    #[serde(default)]
    jeton: String,
    #[serde(default)]
    password: String,
    #[serde(default)]
    confirm: String,
}

async fn activate(
    State(web): State<Web>,
    Extension(s): Extension<Session>,
    Form(input): Form<ActivateInput>,
) -> Response {
    let who = match web.accounts.setup_account(&input.jeton) {
        Ok(a) => format!("{} ({})", a.name, a.email),
        Err(e) => {
            let page = pages::activate(
                &web.frame(&s),
                "",
                None,
                &Notice::Error(&capital(&e.to_string())),
            );
            return html(StatusCode::OK, page);
        }
    };
    let error = if input.password != input.confirm {
        Some("Les deux mots de passe diffèrent : saisissez le même deux fois.".to_string())
    } else {
        match web
            .accounts
            .set_password(&input.jeton, &input.password)
            .await
        {
            Ok(a) => {
                web.sessions.remove_person(&a.email);
                let page = pages::login(
                    &web.frame(&s),
                    &a.email,
                    &Notice::Success("Mot de passe enregistré : vous pouvez vous connecter."),
                );
                return html(StatusCode::OK, page);
            }
            Err(e) => Some(capital(&e.to_string())),
        }
    };
    let text = error.unwrap_or_default();
    let page = pages::activate(
        &web.frame(&s),
        &input.jeton,
        Some(&who),
        &Notice::Error(&text),
    );
    html(StatusCode::OK, page)
}

async fn logout(
    State(web): State<Web>,
    headers: HeaderMap,
    Extension(s): Extension<Session>,
) -> Response {
    web.sessions.remove(&s.id);
    with_cookie(
        Redirect::to("/connexion").into_response(),
        session::clear_cookie(web.https(&headers)),
    )
}

async fn css() -> Response {
    (
        [
            (header::CONTENT_TYPE, "text/css; charset=utf-8"),
            (header::CACHE_CONTROL, "public, max-age=3600"),
        ],
        pages::CSS,
    )
        .into_response()
}

/// A calendar subscription (`maillage calendar feed add`): the secret in the
/// URL is the credential, for calendar applications that cannot log in.
async fn calendar_feed(
    State(web): State<Web>,
    axum::extract::Path(file): axum::extract::Path<String>,
) -> Response {
    let secret = file.strip_suffix(".ics").unwrap_or(&file);
    match crate::app::feeds::ics(&web.ctx, secret) {
        Ok(ics) => (
            [
                (header::CONTENT_TYPE, "text/calendar; charset=utf-8"),
                (header::CACHE_CONTROL, "private, max-age=300"),
            ],
            ics,
        )
            .into_response(),
        Err(_) => (
            StatusCode::NOT_FOUND,
            [(header::CONTENT_TYPE, "text/plain; charset=utf-8")],
            "Abonnement inconnu ou révoqué : demandez une nouvelle adresse à la direction du site.",
        )
            .into_response(),
    }
}

pub(crate) async fn not_found(State(web): State<Web>) -> Response {
    html(
        StatusCode::NOT_FOUND,
        pages::message(
            &bare_frame(&web),
            "Page introuvable",
            "Cette adresse ne correspond à aucune page.",
        ),
    )
}

/// An error message as a sentence: capital first letter, final period.
pub(crate) fn capital(text: &str) -> String {
    let mut c = text.chars();
    match c.next() {
        Some(f) => {
            let s = f.to_uppercase().collect::<String>() + c.as_str();
            if s.ends_with('.') {
                s
            } else {
                s + "."
            }
        }
        None => String::new(),
    }
}
