//! Importing a site's existing inventory in the browser, as `maillage
//! equipment import FILE [--dry-run]` does: the director sends the file
//! (CSV with `;` or `,`, UTF-8 or Windows-1252, or .xlsx), sees what would be
//! created and what is wrong line by line, and nothing is written until
//! « Confirmer l'import ». Both steps call `app::import::import`, first as a
//! dry run, then for real on the same bytes (checked again: the catalogue
//! may have moved meanwhile). As on the command line, a file with a wrong
//! line is refused whole: it is fixed and sent again.
//!
//! Between the two steps, the file waits in memory ([`Pending`]) under a
//! random id bound to the session that sent it, for [`PENDING_FOR`].

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;
use axum::{Extension, Form};
use maud::{html, Markup};
use serde::Deserialize;

use super::items::director;
use super::pages::{csrf_field, layout, notice, Frame, Notice};
use super::upload::Upload;
use super::{html, status_of, Web};
use crate::app::import::{self, Report};
use crate::domain::equipment::{condition_fr, parse_condition};
use crate::domain::time;

/// How long a checked file waits for its confirmation.
pub const PENDING_FOR: Duration = Duration::from_secs(30 * 60);
/// Most files waiting at once on a node (each at most
/// [`import::MAX_BYTES`]); past it, the oldest goes.
pub const MAX_PENDING: usize = 32;

struct Waiting {
    session: String,
    file_name: String,
    bytes: Vec<u8>,
    since: Instant,
}

/// Files checked and waiting for their confirmation, by random id.
#[derive(Clone, Default)]
pub struct Pending {
    inner: Arc<Mutex<HashMap<String, Waiting>>>,
}

impl Pending {
    /// Keeps `bytes` for `session` (one file per session: a new one
    /// replaces the last) and returns its id.
    fn put(&self, session: &str, file_name: &str, bytes: Vec<u8>) -> String {
        let id = hex::encode(rand::random::<[u8; 16]>());
        let mut map = self.inner.lock().expect("pending imports");
        map.retain(|_, w| w.session != session && w.since.elapsed() < PENDING_FOR);
        while map.len() >= MAX_PENDING {
            let oldest = map
                .iter()
                .min_by_key(|(_, w)| w.since)
                .map(|(k, _)| k.clone())
                .expect("not empty");
            map.remove(&oldest);
        }
        map.insert(
            id.clone(),
            Waiting {
                session: session.to_string(),
                file_name: file_name.to_string(),
                bytes,
                since: Instant::now(),
            },
        );
        id
    }

    /// Takes the file `id` if `session` sent it and it has not expired.
    fn take(&self, id: &str, session: &str) -> Option<(String, Vec<u8>)> {
        let mut map = self.inner.lock().expect("pending imports");
        let ok = map
            .get(id)
            .is_some_and(|w| w.session == session && w.since.elapsed() < PENDING_FOR);
        if !ok {
            return None;
        }
        map.remove(id).map(|w| (w.file_name, w.bytes))
    }
}

pub async fn form(State(web): State<Web>, headers: HeaderMap) -> Response {
    let s = match director(&web, &headers) {
        Ok(s) => s,
        Err(r) => return *r,
    };
    html(StatusCode::OK, upload_page(&web.frame(&s), &Notice::None))
}

/// The file sent: checked (a dry run), then shown.
pub async fn preview(
    State(web): State<Web>,
    headers: HeaderMap,
    upload: Option<Extension<Upload>>,
) -> Response {
    let s = match director(&web, &headers) {
        Ok(s) => s,
        Err(r) => return *r,
    };
    let file = upload
        .as_ref()
        .and_then(|Extension(u)| u.part("fichier"))
        .filter(|p| !p.data.is_empty());
    let Some(file) = file else {
        let text = "Choisissez le fichier de votre inventaire (.csv ou .xlsx), puis « Vérifier le fichier ».";
        return html(
            StatusCode::BAD_REQUEST,
            upload_page(&web.frame(&s), &Notice::Error(text)),
        );
    };
    let name = file
        .file_name
        .as_deref()
        .and_then(|n| n.rsplit(['/', '\\']).next())
        .unwrap_or("inventaire")
        .to_string();
    let bytes = file.data.to_vec();
    match import::import(&web.ctx, &name, &bytes, true).await {
        Ok(report) => {
            let waiting =
                (!report.has_errors()).then(|| web.imports.put(&s.id, &name, bytes.clone()));
            html(
                StatusCode::OK,
                preview_page(&web.frame(&s), &name, &report, waiting.as_deref()),
            )
        }
        Err(e) => {
            let text = format!("« {name} » : {}", super::capital(&e.to_string()));
            html(
                status_of(&e),
                upload_page(&web.frame(&s), &Notice::Error(&text)),
            )
        }
    }
}

#[derive(Deserialize, Default)]
pub struct ConfirmInput {
    #[serde(default)]
    apercu: String,
}

/// « Confirmer l'import »: the file checked again, then written in one go.
pub async fn confirm(
    State(web): State<Web>,
    headers: HeaderMap,
    Form(input): Form<ConfirmInput>,
) -> Response {
    let s = match director(&web, &headers) {
        Ok(s) => s,
        Err(r) => return *r,
    };
    let Some((name, bytes)) = web.imports.take(&input.apercu, &s.id) else {
        let text = "Cet aperçu a expiré (30 minutes), a déjà été importé, ou vient d'une autre session : envoyez le fichier à nouveau.";
        return html(
            StatusCode::CONFLICT,
            upload_page(&web.frame(&s), &Notice::Error(text)),
        );
    };
    match import::import(&web.ctx, &name, &bytes, false).await {
        // The catalogue moved since the preview: a line is now wrong.
        Ok(report) if report.has_errors() => html(
            StatusCode::CONFLICT,
            preview_page(&web.frame(&s), &name, &report, None),
        ),
        Ok(report) => html(StatusCode::OK, done_page(&web.frame(&s), &report)),
        Err(e) => {
            let text = format!("« {name} » : {}", super::capital(&e.to_string()));
            html(
                status_of(&e),
                upload_page(&web.frame(&s), &Notice::Error(&text)),
            )
        }
    }
}

fn plural(n: usize) -> &'static str {
    if n > 1 {
        "s"
    } else {
        ""
    }
}

pub(crate) fn upload_page(frame: &Frame, n: &Notice) -> Markup {
    layout(
        frame,
        "Importer un inventaire",
        html! {
            p { a href="/catalogue" { "← Retour au catalogue" } }
            (notice(n))
            p.lead { "Ajoutez au catalogue le matériel que votre site recense déjà dans un tableur." }
            section.card {
                h2 { "Le fichier attendu" }
                ul {
                    li { "un tableau " strong { ".xlsx" } " (la première feuille), ou un " strong { ".csv" } " séparé par des points-virgules ou des virgules, en UTF-8 ou tel qu'Excel l'enregistre (Windows-1252) ;" }
                    li { "une première ligne d'en-tête, puis une ligne par matériel ;" }
                    li { "au moins les colonnes " strong { "Nom" } " (ou Désignation) et " strong { "Catégorie" } " ;" }
                    li { "si vous les avez : Description, N° inventaire, Prêtable (oui ou non), État (neuf, bon, usé, hors service), Date d'acquisition (JJ/MM/AAAA). Les autres colonnes sont ignorées." }
                }
                p { "Rien n'est enregistré à cette étape : vous verrez d'abord ce qui serait ajouté, ligne par ligne, avant de confirmer." }
            }
            form.form method="post" action="/materiel/importer" enctype="multipart/form-data" {
                (csrf_field(frame.csrf))
                div.field {
                    label for="fichier" { "Fichier de l'inventaire" span.hint { "CSV ou .xlsx, 3 Mo au plus" } }
                    input #fichier type="file" name="fichier" accept=".csv,.xlsx" required;
                }
                button.btn type="submit" { "Vérifier le fichier" }
            }
        },
    )
}

/// What a line would create, as people read it.
fn loanable_fr(v: Option<bool>) -> &'static str {
    match v {
        Some(false) => "non",
        _ => "oui",
    }
}

fn condition_cell(v: Option<&str>) -> String {
    match v {
        None => "bon".into(),
        Some(c) => parse_condition(c)
            .map(|k| condition_fr(k).to_string())
            .unwrap_or_else(|_| c.to_string()),
    }
}

fn date_cell(v: Option<&str>) -> String {
    match v {
        None => String::new(),
        Some(d) => time::parse_date(d)
            .map(time::fr_date)
            .unwrap_or_else(|_| d.to_string()),
    }
}

/// The preview: every line, what is wrong with the wrong ones, and the
/// confirmation form when `waiting` holds the checked file's id.
pub(crate) fn preview_page(
    frame: &Frame,
    file_name: &str,
    r: &Report,
    waiting: Option<&str>,
) -> Markup {
    let n = r.lines.len();
    let wrong: Vec<&import::Line> = r.lines.iter().filter(|l| !l.errors.is_empty()).collect();
    layout(
        frame,
        "Importer un inventaire : aperçu",
        html! {
            p { a href="/materiel/importer" { "← Envoyer un autre fichier" } }
            p.lead { "Fichier « " (file_name) " » : " (n) " ligne" (plural(n)) " de matériel." }
            @if !wrong.is_empty() {
                div.alert.alert-error role="alert" {
                    p {
                        strong { (wrong.len()) " ligne" (plural(wrong.len())) " sur " (n) " à corriger : rien ne sera importé." }
                        " Corrigez le fichier, puis envoyez-le à nouveau."
                    }
                    ul.line-errors {
                        @for l in &wrong {
                            li { "Ligne " (l.number) " : " (l.errors.join(" ; ")) }
                        }
                    }
                }
            } @else {
                div.alert.alert-success role="status" {
                    p { "Toutes les lignes sont correctes. Rien n'est encore enregistré : vérifiez l'aperçu, puis confirmez." }
                }
            }
            @if !r.ignored_columns.is_empty() {
                p { "Colonnes non lues : " (r.ignored_columns.join(", ")) "." }
            }
            table.preview {
                caption.sr-only { "Aperçu de l'import, ligne par ligne" }
                thead { tr {
                    th scope="col" { "Ligne" }
                    th scope="col" { "Nom" }
                    th scope="col" { "Catégorie" }
                    th scope="col" { "N° d'inventaire" }
                    th scope="col" { "Prêtable" }
                    th scope="col" { "État" }
                    th scope="col" { "Acquis le" }
                    th scope="col" { "Vérification" }
                } }
                tbody {
                    @for l in &r.lines {
                        tr.row-error[!l.errors.is_empty()] data-line=(l.number) {
                            td { (l.number) }
                            td { (l.name) }
                            td { (l.category) }
                            td { (l.patch.inventory_number.as_deref().unwrap_or_default()) }
                            td { (loanable_fr(l.patch.loanable)) }
                            td { (condition_cell(l.patch.condition.as_deref())) }
                            td { (date_cell(l.patch.acquired.as_deref())) }
                            td {
                                @if l.errors.is_empty() { "correcte" }
                                @else { strong { "à corriger : " } (l.errors.join(" ; ")) }
                            }
                        }
                    }
                }
            }
            @if let Some(id) = waiting {
                form.form method="post" action="/materiel/importer/confirmer" {
                    (csrf_field(frame.csrf))
                    input type="hidden" name="apercu" value=(id);
                    p { (n) " matériel" (plural(n)) " seront ajoutés au catalogue de " (frame.site_name) "." }
                    div.actions {
                        button.btn type="submit" { "Confirmer l'import" }
                        a href="/catalogue" { "Annuler" }
                    }
                }
            }
        },
    )
}

fn done_page(frame: &Frame, r: &Report) -> Markup {
    let n = r.created.len();
    let text = format!(
        "{n} matériel{} ajouté{} au catalogue du site.",
        plural(n),
        plural(n)
    );
    layout(
        frame,
        "Import terminé",
        html! {
            (notice(&Notice::Success(&text)))
            ul {
                @for i in &r.created {
                    li { a href={ "/materiel/" (i.id) } { (i.name) } " (" (i.category) ")" }
                }
            }
            p {
                a href="/catalogue" { "Voir le catalogue" }
                " · "
                a href="/materiel/etiquettes" { "Imprimer les étiquettes" }
            }
        },
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_waiting_file_is_for_its_session_only_and_once() {
        let p = Pending::default();
        let id = p.put("session-a", "f.csv", b"x".to_vec());
        assert!(p.take(&id, "session-b").is_none(), "another session");
        assert!(p.take("autre", "session-a").is_none());
        assert_eq!(
            p.take(&id, "session-a"),
            Some(("f.csv".into(), b"x".to_vec()))
        );
        assert!(p.take(&id, "session-a").is_none(), "once");
        // A new file replaces the session's last one.
        let first = p.put("session-a", "1.csv", vec![]);
        let second = p.put("session-a", "2.csv", vec![]);
        assert!(p.take(&first, "session-a").is_none());
        assert!(p.take(&second, "session-a").is_some());
        for k in 0..MAX_PENDING + 5 {
            p.put(&format!("s{k}"), "f.csv", vec![]);
        }
        assert!(p.inner.lock().unwrap().len() <= MAX_PENDING);
    }

    #[test]
    fn the_preview_names_each_wrong_line() {
        let text = "Nom;Catégorie;Prêtable\nRobot;robotique;oui\n;sport;peut-être\n";
        let rows = import::read_rows("f.csv", text.as_bytes()).unwrap();
        let (lines, ignored_columns) = import::check(rows, &Default::default()).unwrap();
        let r = Report {
            lines,
            ignored_columns,
            created: vec![],
        };
        let frame = Frame {
            site_name: "Tiers-lieu A",
            person: None,
            csrf: "jeton",
        };
        let page = preview_page(&frame, "f.csv", &r, None).into_string();
        assert!(page.contains("Ligne 3 : "), "{page}");
        assert!(page.contains("la colonne Nom est obligatoire"), "{page}");
        assert!(page.contains("1 ligne sur 2 à corriger"), "{page}");
        assert!(!page.contains("Confirmer l'import"), "no confirmation");
        let ok = Report {
            lines: r.lines[..1].to_vec(),
            ..r.clone()
        };
        let page = preview_page(&frame, "f.csv", &ok, Some("abc")).into_string();
        assert!(page.contains("Confirmer l'import") && page.contains("value=\"abc\""));
    }
}
