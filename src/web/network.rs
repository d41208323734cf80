//! The academic team's « Réseau » page (issue 12, item 4), on the academy
//! node only: every enrolled site with its sessions with this node (connected
//! or not, last contact), the documents it lags on and by how much, the
//! sessions this node refused from it and why; and the registry's forms:
//! enrol a site (its key checked against its certificate, handed over in the
//! form or already published), update one, revoke one after a confirmation
//! that says what revocation does. Reads come from `app::network::health`
//! and the registry; writes go through `app::network`, as `maillage site`.
//!
//! On a site node the pages answer 404 with an explanation; on the academy
//! node, only the academic team's accounts (role `academy`) open them.

use std::collections::BTreeMap;

use axum::body::Bytes;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Redirect, Response};
use axum::Extension;
use chrono::{DateTime, Utc};
use maud::{html, Markup};
use serde::Deserialize;

use super::pages::{csrf_field, layout, notice, Frame, Notice};
use super::session::Session;
use super::upload::Upload;
use super::{html, signed_in, status_of, Refusal, Web};
use crate::app::network as net;
use crate::app::NodeContext;
use crate::auth::Need;
use crate::domain::registry::SiteEntry;
use crate::domain::time;
use crate::error::{Error, Result};
use crate::pb;

/// Largest certificate accepted in the enrolment form, in bytes.
pub const MAX_CERTIFICATE: usize = 16 * 1024;

fn error_page(web: &Web, s: &Session, status: StatusCode, text: &str) -> Response {
    html(
        status,
        super::pages::message(&web.frame(s), "Erreur", &super::capital(text)),
    )
}

/// The academic team signed in on the academy node, or the answer instead:
/// on a site node, 404 and why; for any other account, 403.
fn academy(web: &Web, headers: &HeaderMap) -> std::result::Result<Session, Refusal> {
    if web.ctx.role != crate::base::Role::Academy {
        let (s, _) = signed_in(web, headers, Need::Read)?;
        return Err(Box::new(html(
            StatusCode::NOT_FOUND,
            super::pages::message(
                &web.frame(&s),
                "Page réservée au nœud académique",
                "La page « Réseau » (inscrire, modifier et révoquer des sites, suivre leur synchronisation) n'existe que sur le nœud de l'équipe académique : ce nœud est celui d'un site.",
            ),
        )));
    }
    let (s, _) = signed_in(web, headers, Need::Academy)?;
    Ok(s)
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

// ---------------------------------------------------------------------------
// Pure helpers: how the page says times, documents and lags.

/// How long ago `then` was, as people say it: « à l'instant », « il y a
/// 5 minutes », « il y a 2 heures », « il y a 3 jours ».
pub fn fr_ago(then: DateTime<Utc>, now: DateTime<Utc>) -> String {
    let secs = (now - then).num_seconds();
    if secs < 60 {
        return "à l'instant".to_string();
    }
    let plural = |n: i64, one: &str| {
        if n > 1 {
            format!("il y a {n} {one}s")
        } else {
            format!("il y a {n} {one}")
        }
    };
    match secs {
        s if s < 3600 => plural(s / 60, "minute"),
        s if s < 86_400 => plural(s / 3600, "heure"),
        s => plural(s / 86_400, "jour"),
    }
}

/// An RFC 3339 instant in Paris time, then how long ago; `None` if empty.
pub fn fr_when(rfc3339: &str, now: DateTime<Utc>) -> Option<String> {
    let t = DateTime::parse_from_rfc3339(rfc3339.trim()).ok()?;
    Some(format!(
        "{} ({})",
        time::fr_instant(rfc3339),
        fr_ago(t.with_timezone(&Utc), now)
    ))
}

/// A document as people name it: the registry, a site's data, an action.
pub fn doc_fr(
    doc: &str,
    sites: &BTreeMap<String, String>,
    actions: &BTreeMap<String, String>,
) -> String {
    if doc == crate::base::NETWORK_DOC {
        return "registre du réseau".to_string();
    }
    if let Some(site) = doc.strip_prefix("site/") {
        return format!("données de {}", crate::app::equipment::name_of(sites, site));
    }
    if let Some(id) = doc.strip_prefix("action/") {
        return match actions.get(id) {
            Some(t) => format!("action « {t} »"),
            None => format!("action {id}"),
        };
    }
    doc.to_string()
}

/// « 1 modification », « 12 modifications ».
pub fn changes_fr(n: u64) -> String {
    if n > 1 {
        format!("{n} modifications")
    } else {
        format!("{n} modification")
    }
}

/// « 1 document », « 3 documents ».
fn documents_fr(n: u64) -> String {
    if n > 1 {
        format!("{n} documents")
    } else {
        format!("{n} document")
    }
}

fn role_fr(role: &str) -> &str {
    match role {
        "academy" => "nœud académique",
        "site" => "tiers-lieu",
        other => other,
    }
}

// ---------------------------------------------------------------------------
// The page.

#[derive(Deserialize, Default)]
pub struct Done {
    #[serde(default)]
    fait: String,
    #[serde(default)]
    site: String,
}

struct Loaded {
    health: pb::NetworkHealth,
    sites: BTreeMap<String, String>,
    actions: BTreeMap<String, String>,
}

fn load(ctx: &NodeContext) -> Result<Loaded> {
    let health = net::health(ctx)?;
    let sites = crate::app::equipment::site_names(ctx)?;
    // Action titles only when a site lags on one.
    let lags_on_actions = health
        .sites
        .iter()
        .any(|s| s.differing.iter().any(|d| d.doc.starts_with("action/")));
    let actions = if lags_on_actions {
        crate::app::actions::all(ctx)?
            .into_iter()
            .map(|a| (a.id, a.title))
            .collect()
    } else {
        BTreeMap::new()
    };
    Ok(Loaded {
        health,
        sites,
        actions,
    })
}

pub async fn page(
    State(web): State<Web>,
    headers: HeaderMap,
    Query(done): Query<Done>,
) -> Response {
    let s = match academy(&web, &headers) {
        Ok(s) => s,
        Err(r) => return *r,
    };
    let l = match blocking(&web, load).await {
        Ok(l) => l,
        Err(e) => return error_page(&web, &s, status_of(&e), &e.to_string()),
    };
    let name = crate::app::equipment::name_of(&l.sites, &done.site);
    let text = match done.fait.as_str() {
        "inscrit" => Some(format!("{name} est inscrit au registre du réseau.")),
        "modifie" => Some(format!("L'inscription de {name} est modifiée.")),
        "revoque" => Some(format!(
            "{name} est révoqué : ses modifications à venir seront refusées par tout le réseau."
        )),
        _ => None,
    };
    let n = match &text {
        Some(t) => Notice::Success(t),
        None => Notice::None,
    };
    html(
        StatusCode::OK,
        network_page(&web.frame(&s), &l, Utc::now(), &n),
    )
}

fn network_page(frame: &Frame, l: &Loaded, now: DateTime<Utc>, n: &Notice) -> Markup {
    let h = &l.health;
    let mut rows: Vec<&pb::SiteHealth> = h.sites.iter().collect();
    // Revoked sites last, then by name.
    rows.sort_by_key(|s| {
        (
            !s.revoked_at.is_empty(),
            s.name.to_lowercase(),
            s.id.clone(),
        )
    });
    let connected = rows.iter().filter(|s| s.connected).count();
    layout(
        frame,
        "Réseau",
        html! {
            (notice(n))
            p.lead {
                "Les sites inscrits au registre, vus du nœud académique le " (time::fr_instant(&h.generated_at)) " : "
                (connected) " connecté" @if connected > 1 { "s" } " sur " (rows.len()) "."
            }
            p { a.btn href="/reseau/inscrire" { "Inscrire un site" } }
            section.card data-live="reseau" {
                h2 { "Sites inscrits " span.count { "(" (rows.len()) ")" } }
                @if rows.is_empty() {
                    p.empty { "Aucun autre site n'est inscrit au registre." }
                } @else {
                    div.table-scroll {
                        table.network {
                            caption.sr-only { "Sites inscrits au registre du réseau" }
                            thead { tr {
                                th scope="col" { "Site" }
                                th scope="col" { "État" }
                                th scope="col" { "Dernier contact" }
                                th scope="col" { "Retard" }
                                th scope="col" { "Sessions refusées" }
                                th scope="col" { "Registre" }
                            } }
                            tbody {
                                @for s in &rows {
                                    (site_row(s, l, now))
                                }
                            }
                        }
                    }
                }
            }
            @if !h.other_refusals.is_empty() {
                section.card data-live="refus" {
                    h2 { "Sessions refusées de pairs non inscrits " span.count { "(" (h.other_refusals.len()) ")" } }
                    table {
                        caption.sr-only { "Sessions refusées de pairs non inscrits" }
                        thead { tr {
                            th scope="col" { "Pair" }
                            th scope="col" { "Sessions refusées" }
                            th scope="col" { "Dernier refus" }
                        } }
                        tbody {
                            @for r in &h.other_refusals {
                                tr {
                                    td { (r.peer) }
                                    td.num { (r.count) }
                                    td { (fr_when(&r.last_at, now).unwrap_or_default()) br; span.small { (r.last_reason) } }
                                }
                            }
                        }
                    }
                }
            }
            p.small {
                "« Retard » : les modifications que ce nœud détient et que le site n'a pas encore reçues de lui, document par document. "
                "Un document « jamais échangé directement » a pu lui parvenir par un autre site."
            }
        },
    )
}

fn site_row(s: &pb::SiteHealth, l: &Loaded, now: DateTime<Utc>) -> Markup {
    let revoked = !s.revoked_at.is_empty();
    html! {
        tr data-site=(s.id) data-connected=(s.connected) data-revoked=(revoked) {
            td {
                strong { (s.name) } br;
                span.small { (role_fr(&s.role)) " · " code { (s.id) } }
            }
            td {
                @if revoked {
                    span.badge.badge-error { "révoqué" } br;
                    span.small { "le " (time::fr_instant(&s.revoked_at)) }
                } @else if s.connected {
                    span.badge.badge-ok { "connecté" }
                } @else {
                    span.badge.badge-off { "non connecté" }
                }
            }
            td {
                @match fr_when(&s.last_contact, now) {
                    Some(w) => { (w) },
                    None => { span.small { "aucun depuis le démarrage de ce nœud" } },
                }
                @if let Some(w) = fr_when(&s.last_change_at, now) {
                    br; span.small { "dernière écriture reçue : " (w) }
                }
            }
            td {
                @if s.differing.is_empty() && s.never_synced == 0 {
                    "à jour"
                } @else {
                    @if !s.differing.is_empty() {
                        strong { (changes_fr(s.changes_behind)) } " en retard"
                        ul.lags {
                            @for d in &s.differing {
                                li data-doc=(d.doc) { (doc_fr(&d.doc, &l.sites, &l.actions)) " : " (changes_fr(d.changes_behind)) }
                            }
                        }
                    }
                    @if s.never_synced > 0 {
                        span.small { (documents_fr(s.never_synced)) " jamais échangé" @if s.never_synced > 1 { "s" } " directement" }
                    }
                }
            }
            td data-refused=(s.refused_sessions) {
                @if s.refused_sessions == 0 {
                    "aucune"
                } @else {
                    strong { (s.refused_sessions) } " — la dernière "
                    (fr_when(&s.last_refusal_at, now).unwrap_or_default())
                    br; span.small.refusal { (s.last_refusal) }
                }
            }
            td {
                @if !revoked {
                    a href={ "/reseau/" (s.id) "/modifier" } { "Modifier" span.sr-only { " " (s.name) } }
                    " · "
                    a href={ "/reseau/" (s.id) "/revoquer" } { "Révoquer" span.sr-only { " " (s.name) } }
                }
            }
        }
    }
}

// ---------------------------------------------------------------------------
// Enrolment.

/// The enrolment form, as typed.
#[derive(Deserialize, Default, Clone, Debug)]
pub struct EnrolInput {
    #[serde(default)]
    id: String,
    #[serde(default)]
    nom: String,
    #[serde(default)]
    role: String,
    #[serde(default)]
    adresse: String,
    #[serde(default)]
    cle: String,
    #[serde(default)]
    certificat: String,
}

impl EnrolInput {
    /// From a multipart form (with a certificate file, which wins over the
    /// pasted text when given) or an urlencoded one.
    fn read(upload: Option<&Upload>, body: &[u8]) -> std::result::Result<EnrolInput, Error> {
        let mut input = match upload {
            Some(u) => {
                let text = |k: &str| u.text(k).unwrap_or_default();
                EnrolInput {
                    id: text("id"),
                    nom: text("nom"),
                    role: text("role"),
                    adresse: text("adresse"),
                    cle: text("cle"),
                    certificat: text("certificat"),
                }
            }
            None => serde_urlencoded::from_bytes(body)
                .map_err(|e| Error::invalid(format!("formulaire illisible : {e}")))?,
        };
        if let Some(file) = upload
            .and_then(|u| u.part("fichier"))
            .filter(|p| !p.data.is_empty())
        {
            if file.data.len() > MAX_CERTIFICATE {
                return Err(Error::invalid(format!(
                    "fichier de certificat trop volumineux : {MAX_CERTIFICATE} octets au plus"
                )));
            }
            input.certificat = String::from_utf8_lossy(&file.data).into_owned();
        }
        input.certificat = input.certificat.replace("\r\n", "\n");
        if input.certificat.len() > MAX_CERTIFICATE {
            return Err(Error::invalid(format!(
                "certificat trop long : {MAX_CERTIFICATE} octets au plus"
            )));
        }
        Ok(input)
    }
}

/// A refusal of the registry's rules, said for the web form rather than for
/// the command line.
fn problem_fr(e: &Error) -> String {
    let mut text = e.to_string();
    for (cli, web) in [
        ("le champ name", "le champ « Nom »"),
        (
            " : inscrivez-le avec --role academy",
            " : choisissez le rôle « nœud académique »",
        ),
        (
            " : inscrivez-le avec --role site",
            " : choisissez le rôle « tiers-lieu »",
        ),
        (
            "rien à modifier : donnez --name, --endpoint ou --key",
            "rien à modifier : changez le nom, l'adresse ou la clé",
        ),
        (
            "(affichés par maillage init)",
            "(affichés par `maillage status` sur le nœud du site)",
        ),
    ] {
        text = text.replace(cli, web);
    }
    super::capital(&text)
}

pub async fn enrol_form(State(web): State<Web>, headers: HeaderMap) -> Response {
    let s = match academy(&web, &headers) {
        Ok(s) => s,
        Err(r) => return *r,
    };
    html(
        StatusCode::OK,
        enrol_page(&web.frame(&s), &EnrolInput::default(), &Notice::None),
    )
}

pub async fn enrol(
    State(web): State<Web>,
    headers: HeaderMap,
    upload: Option<Extension<Upload>>,
    body: Bytes,
) -> Response {
    let s = match academy(&web, &headers) {
        Ok(s) => s,
        Err(r) => return *r,
    };
    let input = match EnrolInput::read(upload.as_ref().map(|u| &u.0), &body) {
        Ok(i) => i,
        Err(e) => {
            return html(
                status_of(&e),
                enrol_page(
                    &web.frame(&s),
                    &EnrolInput::default(),
                    &Notice::Error(&problem_fr(&e)),
                ),
            )
        }
    };
    let r = pb::EnrolSiteRequest {
        id: input.id.trim().to_string(),
        name: input.nom.clone(),
        endpoint: input.adresse.trim().to_string(),
        key: input.cle.trim().to_string(),
        role: input.role.clone(),
    };
    match net::enrol_with_certificate(&web.ctx, r, Some(&input.certificat)).await {
        Ok(site) => Redirect::to(&format!("/reseau?fait=inscrit&site={}", site.id)).into_response(),
        Err(e) => html(
            status_of(&e),
            enrol_page(&web.frame(&s), &input, &Notice::Error(&problem_fr(&e))),
        ),
    }
}

fn enrol_page(frame: &Frame, input: &EnrolInput, n: &Notice) -> Markup {
    let role = if input.role.is_empty() {
        "site"
    } else {
        input.role.as_str()
    };
    layout(
        frame,
        "Inscrire un site",
        html! {
            p { a href="/reseau" { "← Retour au réseau" } }
            (notice(n))
            p {
                "Le site a installé son nœud (" code { "maillage init" } ") et reçu son certificat de l'autorité du réseau. "
                "Sa clé publique est inscrite au registre : tous les nœuds n'accepteront que les modifications signées de cette clé."
            }
            p {
                "La clé est vérifiée avec le certificat du site : celui que vous collez ou envoyez ci-dessous, et celui que le site a publié s'il est déjà arrivé sur ce nœud. "
                "Une clé qui ne correspond pas est refusée et rien n'est inscrit."
            }
            p.small { "Les champs marqués d'un astérisque (*) sont obligatoires." }
            form.form method="post" action="/reseau/inscrire" enctype="multipart/form-data" {
                (csrf_field(frame.csrf))
                div.field {
                    label for="id" { "Identifiant du site *" span.hint { "Lettres minuscules, chiffres et tirets, celui de son certificat : par exemple metz-borny" } }
                    input #id type="text" name="id" required maxlength="64" pattern="[a-z0-9-]+" autocomplete="off" value=(input.id);
                }
                div.field {
                    label for="nom" { "Nom *" span.hint { "Par exemple : Tiers-lieu de Metz-Borny" } }
                    input #nom type="text" name="nom" required maxlength="200" value=(input.nom);
                }
                div.field {
                    label for="role" { "Rôle *" }
                    select #role name="role" {
                        option value="site" selected[role == "site"] { "Tiers-lieu" }
                        option value="academy" selected[role == "academy"] { "Nœud académique" }
                    }
                }
                div.field {
                    label for="adresse" { "Adresse de fédération" span.hint { "Facultative : l'URL que les autres nœuds appellent, par exemple https://metz.example:7400" } }
                    input #adresse type="url" name="adresse" maxlength="300" value=(input.adresse);
                }
                div.field {
                    label for="cle" { "Clé publique *" span.hint { "64 caractères hexadécimaux, affichés par « maillage status » sur le nœud du site" } }
                    input #cle type="text" name="cle" required maxlength="64" autocomplete="off" spellcheck="false" value=(input.cle);
                }
                div.field {
                    label for="certificat" { "Certificat du site (PEM)" span.hint { "Collez le texte de node.crt, de « -----BEGIN CERTIFICATE----- » à « -----END CERTIFICATE----- »" } }
                    textarea #certificat name="certificat" rows="6" spellcheck="false" { (input.certificat) }
                }
                div.field {
                    label for="fichier" { "… ou le fichier du certificat" span.hint { "node.crt ; s'il est donné, il remplace le texte collé" } }
                    input #fichier type="file" name="fichier" accept=".crt,.pem,application/x-pem-file";
                }
                button.btn type="submit" { "Inscrire le site" }
            }
        },
    )
}

// ---------------------------------------------------------------------------
// Update and revocation.

fn entry(ctx: &NodeContext, id: &str) -> Result<SiteEntry> {
    net::sites(ctx)?
        .into_iter()
        .find(|(k, _)| k == id)
        .map(|(_, e)| e)
        .ok_or_else(|| Error::not_found(format!("site {id} non inscrit")))
}

#[derive(Deserialize, Default, Clone)]
pub struct UpdateInput {
    #[serde(default)]
    nom: String,
    #[serde(default)]
    adresse: String,
    #[serde(default)]
    cle: String,
}

pub async fn update_form(
    State(web): State<Web>,
    headers: HeaderMap,
    Path(id): Path<String>,
) -> Response {
    let s = match academy(&web, &headers) {
        Ok(s) => s,
        Err(r) => return *r,
    };
    match entry(&web.ctx, &id) {
        Ok(e) => {
            let input = UpdateInput {
                nom: e.name.clone(),
                adresse: e.endpoint.clone(),
                cle: e.public_key.clone(),
            };
            html(
                StatusCode::OK,
                update_page(&web.frame(&s), &id, &e, &input, &Notice::None),
            )
        }
        Err(e) => error_page(&web, &s, status_of(&e), &e.to_string()),
    }
}

pub async fn update(
    State(web): State<Web>,
    headers: HeaderMap,
    Path(id): Path<String>,
    axum::Form(input): axum::Form<UpdateInput>,
) -> Response {
    let s = match academy(&web, &headers) {
        Ok(s) => s,
        Err(r) => return *r,
    };
    let current = match entry(&web.ctx, &id) {
        Ok(e) => e,
        Err(e) => return error_page(&web, &s, status_of(&e), &e.to_string()),
    };
    // Only what changed: an unchanged field is left as it is, as the CLI's
    // `site update` without its option.
    let changed = |typed: &str, now: &str| {
        let t = typed.trim();
        if t == now {
            String::new()
        } else {
            t.to_string()
        }
    };
    let r = pb::UpdateSiteRequest {
        id: id.clone(),
        name: changed(&input.nom, &current.name),
        endpoint: changed(&input.adresse, &current.endpoint),
        key: changed(&input.cle.to_lowercase(), &current.public_key),
    };
    let refused = if input.nom.trim().is_empty() {
        Some(Error::invalid("le champ « Nom » est obligatoire"))
    } else if input.adresse.trim().is_empty() && !current.endpoint.is_empty() {
        Some(Error::invalid(
            "l'adresse de fédération ne peut pas être effacée ici : donnez la nouvelle adresse",
        ))
    } else {
        None
    };
    let done = match refused {
        Some(e) => Err(e),
        None => net::update(&web.ctx, r).await,
    };
    match done {
        Ok(site) => Redirect::to(&format!("/reseau?fait=modifie&site={}", site.id)).into_response(),
        Err(e) => html(
            status_of(&e),
            update_page(
                &web.frame(&s),
                &id,
                &current,
                &input,
                &Notice::Error(&problem_fr(&e)),
            ),
        ),
    }
}

fn update_page(frame: &Frame, id: &str, e: &SiteEntry, input: &UpdateInput, n: &Notice) -> Markup {
    layout(
        frame,
        &format!("Modifier l'inscription de {}", e.name),
        html! {
            p { a href="/reseau" { "← Retour au réseau" } }
            (notice(n))
            dl.facts {
                dt { "Identifiant" } dd { code { (id) } }
                dt { "Rôle" } dd { (role_fr(&e.role)) }
                dt { "Inscrit le" } dd { (time::fr_instant(&e.enrolled_at)) }
                @if !e.retired_keys.is_empty() {
                    dt { "Clés retirées" }
                    dd { @for k in &e.retired_keys { code { (net::short(&k.key)) } " (le " (time::fr_instant(&k.retired_at)) ")" br; } }
                }
            }
            p {
                "Une nouvelle clé doit être celle que certifie le certificat du site (après " code { "maillage key rotate" } " sur son nœud) : "
                "sinon elle est refusée. Les modifications signées de l'ancienne clé jusqu'à maintenant restent valables."
            }
            form.form method="post" action={ "/reseau/" (id) "/modifier" } {
                (csrf_field(frame.csrf))
                div.field {
                    label for="nom" { "Nom *" }
                    input #nom type="text" name="nom" required maxlength="200" value=(input.nom);
                }
                div.field {
                    label for="adresse" { "Adresse de fédération" span.hint { "Par exemple https://metz.example:7400" } }
                    input #adresse type="url" name="adresse" maxlength="300" value=(input.adresse);
                }
                div.field {
                    label for="cle" { "Clé publique *" span.hint { "64 caractères hexadécimaux" } }
                    input #cle type="text" name="cle" required maxlength="64" autocomplete="off" spellcheck="false" value=(input.cle);
                }
                button.btn type="submit" { "Enregistrer" }
            }
        },
    )
}

pub async fn revoke_form(
    State(web): State<Web>,
    headers: HeaderMap,
    Path(id): Path<String>,
) -> Response {
    let s = match academy(&web, &headers) {
        Ok(s) => s,
        Err(r) => return *r,
    };
    match entry(&web.ctx, &id) {
        Ok(e) if e.is_revoked() => error_page(
            &web,
            &s,
            StatusCode::CONFLICT,
            &format!(
                "{} a déjà été révoqué le {}",
                e.name,
                time::fr_instant(&e.revoked_at)
            ),
        ),
        Ok(e) => html(
            StatusCode::OK,
            revoke_page(&web.frame(&s), &id, &e, &Notice::None),
        ),
        Err(e) => error_page(&web, &s, status_of(&e), &e.to_string()),
    }
}

pub async fn revoke(
    State(web): State<Web>,
    headers: HeaderMap,
    Path(id): Path<String>,
) -> Response {
    let s = match academy(&web, &headers) {
        Ok(s) => s,
        Err(r) => return *r,
    };
    match net::revoke(&web.ctx, &id).await {
        Ok(site) => Redirect::to(&format!("/reseau?fait=revoque&site={}", site.id)).into_response(),
        Err(e) => match entry(&web.ctx, &id) {
            Ok(entry) if !entry.is_revoked() => html(
                status_of(&e),
                revoke_page(&web.frame(&s), &id, &entry, &Notice::Error(&problem_fr(&e))),
            ),
            _ => error_page(&web, &s, status_of(&e), &e.to_string()),
        },
    }
}

fn revoke_page(frame: &Frame, id: &str, e: &SiteEntry, n: &Notice) -> Markup {
    layout(
        frame,
        &format!("Révoquer {}", e.name),
        html! {
            p { a href="/reseau" { "← Retour au réseau" } }
            (notice(n))
            section.card.warning {
                h2 { "Ce que fait la révocation" }
                ul {
                    li { strong { "Ses modifications à venir sont refusées partout." } " Tous les nœuds du réseau refuseront ce que " (e.name) " écrira désormais : son matériel, ses prêts, ses événements, ses partenaires ne changeront plus pour les autres sites." }
                    li { strong { "Ses sessions sont fermées." } " Les nœuds ferment leurs sessions avec le sien dès qu'ils reçoivent la révocation, et refusent celles qu'il ouvrira." }
                    li { strong { "Ce qu'il a écrit jusqu'ici reste." } " Ses données déjà reçues restent lisibles dans le réseau, dans les bilans et les indicateurs." }
                    li { strong { "Elle est définitive." } " Pour le réintégrer, il faudra l'inscrire sous un autre identifiant (" code { (id) } " ne pourra plus servir)." }
                }
            }
            form.form method="post" action={ "/reseau/" (id) "/revoquer" } {
                (csrf_field(frame.csrf))
                p { "Révoquer " strong { (e.name) } " (" code { (id) } ") ?" }
                div.toolbar {
                    button.btn.btn-danger type="submit" { "Révoquer " (e.name) }
                    a href="/reseau" { "Annuler" }
                }
            }
        },
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn times_lags_and_documents_read_in_french() {
        let now = DateTime::parse_from_rfc3339("2026-12-16T13:00:00Z")
            .unwrap()
            .with_timezone(&Utc);
        let ago = |secs: i64| fr_ago(now - chrono::Duration::seconds(secs), now);
        assert_eq!(ago(5), "à l'instant");
        assert_eq!(ago(60), "il y a 1 minute");
        assert_eq!(ago(5 * 60 + 20), "il y a 5 minutes");
        assert_eq!(ago(3600), "il y a 1 heure");
        assert_eq!(ago(3 * 86_400 + 7200), "il y a 3 jours");
        // Paris time (UTC+1 in December), then how long ago.
        assert_eq!(
            fr_when("2026-12-13T10:00:00Z", now).unwrap(),
            "dim. 13 déc. 2026, 11:00 (il y a 3 jours)"
        );
        assert_eq!(fr_when("", now), None);
        assert_eq!(changes_fr(1), "1 modification");
        assert_eq!(changes_fr(12), "12 modifications");
        let sites = BTreeMap::from([("metz".to_string(), "Tiers-lieu de Metz".to_string())]);
        let actions = BTreeMap::from([("ac-1".to_string(), "Fablab".to_string())]);
        assert_eq!(doc_fr("network", &sites, &actions), "registre du réseau");
        assert_eq!(
            doc_fr("site/metz", &sites, &actions),
            "données de Tiers-lieu de Metz"
        );
        assert_eq!(doc_fr("site/nancy", &sites, &actions), "données de nancy");
        assert_eq!(doc_fr("action/ac-1", &sites, &actions), "action « Fablab »");
        assert_eq!(
            problem_fr(&Error::invalid(
                "le site x est certifié avec le rôle academy, pas site : inscrivez-le avec --role academy"
            )),
            "Le site x est certifié avec le rôle academy, pas site : choisissez le rôle « nœud académique »."
        );
    }
}
