//! The pages, as maud templates (checked at compile time). They follow the
//! conventions of the État's design system (DSFR): a skip link, a header
//! with the site's name, a footer, labels on every field, visible focus; the
//! style sheet is `maillage.css`, served by the node.

use maud::{html, Markup, DOCTYPE};

use super::dashboard::{Dashboard, EventRow, LoanRow};
use super::session::Person;

/// What every page needs around its content.
pub struct Frame<'a> {
    /// The site's name, shown in the header.
    pub site_name: &'a str,
    pub person: Option<&'a Person>,
    /// The session's CSRF token, for the forms of the page.
    pub csrf: &'a str,
}

pub fn role_fr(role: crate::auth::Role) -> &'static str {
    role.fr()
}

pub(crate) fn csrf_field(csrf: &str) -> Markup {
    html! { input type="hidden" name="_csrf" value=(csrf); }
}

/// A whole page: `title` in the tab and as the page's heading.
pub fn layout(frame: &Frame, title: &str, content: Markup) -> Markup {
    html! {
        (DOCTYPE)
        html lang="fr" {
            head {
                meta charset="utf-8";
                meta name="viewport" content="width=device-width, initial-scale=1";
                title { (title) " — maillage · " (frame.site_name) }
                link rel="stylesheet" href="/static/maillage.css";
                @if frame.person.is_some() { script src="/static/direct.js" defer {} }
            }
            body {
                a.skip href="#contenu" { "Aller au contenu" }
                header.header role="banner" {
                    div.header-inner {
                        div.brand {
                            p.service { a href="/" title="Accueil — maillage" { "maillage" } }
                            p.tagline { (frame.site_name) " · réseau des tiers-lieux éducatifs" }
                        }
                        @if let Some(p) = frame.person {
                            nav.nav aria-label="Menu principal" {
                                a href="/" { "À traiter" }
                                a href="/catalogue" { "Catalogue" }
                                a href="/calendrier" { "Calendrier" }
                                a href="/actions" { "Actions" }
                                a href="/achats" { "Achats" }
                                a href="/indicateurs" { "Indicateurs" } a href="/bilans" { "Bilans" }
                                a href="/partenaires" { "Partenaires" }
                                @if p.role == crate::auth::Role::Academy { a href="/reseau" { "Réseau" } }
                                @if p.role >= crate::auth::Role::Director { a href="/comptes" { "Comptes" } }
                                a href="/compte" { "Mon compte" }
                            }
                            div.who {
                                span { (p.name) " · " (role_fr(p.role)) }
                                form method="post" action="/deconnexion" {
                                    (csrf_field(frame.csrf))
                                    button.btn.btn-secondary type="submit" { "Se déconnecter" }
                                }
                            }
                        }
                    }
                }
                main id="contenu" tabindex="-1" {
                    div.container {
                        h1 { (title) }
                        @if frame.person.is_some() { p.live-status id="direct-statut" role="status" aria-live="polite" {} }
                        (content)
                    }
                }
                footer.footer role="contentinfo" {
                    div.container {
                        p { "maillage — le réseau des tiers-lieux éducatifs · nœud de " (frame.site_name) }
                        p.small { "Les comptes et mots de passe restent sur ce nœud : ils ne sont jamais partagés avec le réseau." }
                    }
                }
            }
        }
    }
}

/// A message above a form: an error, or a confirmation.
pub enum Notice<'a> {
    None,
    Error(&'a str),
    Success(&'a str),
}

pub(crate) fn notice(n: &Notice) -> Markup {
    html! {
        @match n {
            Notice::None => {},
            Notice::Error(m) => div.alert.alert-error role="alert" { p { (m) } },
            Notice::Success(m) => div.alert.alert-success role="status" { p { (m) } },
        }
    }
}

pub fn login(frame: &Frame, email: &str, n: &Notice) -> Markup {
    layout(
        frame,
        "Connexion",
        html! {
            (notice(n))
            form.form method="post" action="/connexion" {
                (csrf_field(frame.csrf))
                div.field {
                    label for="email" { "Adresse électronique" span.hint { "Par exemple : prenom.nom@ac-nancy-metz.fr" } }
                    input #email type="email" name="email" autocomplete="username" required value=(email);
                }
                div.field {
                    label for="password" { "Mot de passe" }
                    input #password type="password" name="password" autocomplete="current-password" required;
                }
                button.btn type="submit" { "Se connecter" }
            }
            p.small { "Pas encore de mot de passe, ou oublié ? Demandez un lien à la direction de votre site." }
        },
    )
}

pub fn activate(frame: &Frame, token: &str, who: Option<&str>, n: &Notice) -> Markup {
    layout(
        frame,
        "Choisir mon mot de passe",
        html! {
            (notice(n))
            @if let Some(who) = who {
                p { "Compte de " strong { (who) } "." }
                form.form method="post" action="/compte/activer" {
                    (csrf_field(frame.csrf))
                    input type="hidden" name="jeton" value=(token);
                    div.field {
                        label for="password" {
                            "Nouveau mot de passe"
                            span.hint { (crate::accounts::MIN_PASSWORD) " caractères au moins ; une phrase facile à retenir convient." }
                        }
                        input #password type="password" name="password" autocomplete="new-password" required minlength=(crate::accounts::MIN_PASSWORD);
                    }
                    div.field {
                        label for="confirm" { "Confirmer le mot de passe" }
                        input #confirm type="password" name="confirm" autocomplete="new-password" required;
                    }
                    button.btn type="submit" { "Enregistrer mon mot de passe" }
                }
            }
        },
    )
}

/// A page that only says something (refusals, errors).
pub fn message(frame: &Frame, title: &str, text: &str) -> Markup {
    layout(
        frame,
        title,
        html! {
            div.alert.alert-error role="alert" { p { (text) } }
            p { a href="/" { "Retour à l'accueil" } }
        },
    )
}

/// A section of loans; `urgent` ones stand out when they hold any.
fn loans_table(caption: &str, rows: &[LoanRow], other: &str, empty: &str, urgent: bool) -> Markup {
    html! {
        section.card.urgent[urgent && !rows.is_empty()] data-live=(caption) {
            h2 { (caption) " " span.count { "(" (rows.len()) ")" } }
            @if rows.is_empty() {
                p.empty { (empty) }
            } @else {
                table {
                    caption.sr-only { (caption) }
                    thead { tr {
                        th scope="col" { "Matériel" }
                        th scope="col" { (other) }
                        th scope="col" { "Période" }
                        th scope="col" { "État" }
                        th scope="col" { "Demandé le" }
                    } }
                    tbody {
                        @for r in rows {
                            tr data-loan=(r.id) {
                                td { a href={ "/prets/" (r.id) } { (r.items) } @if !r.purpose.is_empty() { br; span.small { (r.purpose) } } }
                                td { (r.other) }
                                td { (r.period) }
                                td {
                                    @if r.overdue { span.badge.badge-error { "en retard" } }
                                    @else { span.badge { (r.state) } }
                                }
                                td { (r.requested) }
                            }
                        }
                    }
                }
            }
        }
    }
}

fn events_table(rows: &[EventRow], week_end: &str) -> Markup {
    html! {
        section.card data-live="evenements" {
            h2 { "Événements jusqu'au " (week_end) " " span.count { "(" (rows.len()) ")" } }
            @if rows.is_empty() {
                p.empty { "Aucun événement prévu." }
            } @else {
                ul.events {
                    @for e in rows {
                        li {
                            strong { a href={ "/evenements/" (e.id) } { (e.title) } } br;
                            (e.period)
                            @if !e.place.is_empty() { " · " (e.place) }
                            " · " span.small { (e.owner) }
                        }
                    }
                }
            }
        }
    }
}

pub fn dashboard(frame: &Frame, d: &Dashboard) -> Markup {
    layout(
        frame,
        "À traiter",
        html! {
            @if d.academy.is_some() {
                p.lead { "Ce qui attend l'équipe académique, puis les prêts et événements de ce nœud jusqu'au " (d.week_end) "." }
            } @else {
                p.lead { "Ce qui attend votre site cette semaine, jusqu'au " (d.week_end) "." }
            }
            (super::dashboard::academy_sections(d))
            (loans_table("Retours en retard", &d.overdue, "Autre site", "Aucun retour en retard.", true))
            (loans_table("Demandes en attente de notre décision", &d.to_decide, "Site demandeur", "Aucune demande en attente.", false))
            (super::dashboard::site_sections(d))
            (loans_table("Départs de la semaine", &d.going_out, "Autre site", "Aucun départ prévu.", false))
            (loans_table("Retours attendus cette semaine", &d.due_back, "Autre site", "Aucun retour attendu.", false))
            (loans_table("Nos demandes", &d.mine, "Site prêteur", "Aucune demande en cours.", false))
            (events_table(&d.events, &d.week_end))
        },
    )
}

/// The style sheet: DSFR's conventions, hand-written (no npm, no CDN).
pub const CSS: &str = include_str!("maillage.css");

#[cfg(test)]
mod tests {
    use super::*;
    use crate::auth::Role;

    /// The ids of the fields of `page` that people fill in (not hidden).
    fn fields(page: &str) -> Vec<String> {
        let mut out = Vec::new();
        for tag in ["<input", "<select", "<textarea"] {
            for (i, _) in page.match_indices(tag) {
                let end = page[i..].find('>').map(|e| i + e).unwrap_or(page.len());
                let el = &page[i..end];
                if el.contains("type=\"hidden\"") {
                    continue;
                }
                let id = el
                    .split("id=\"")
                    .nth(1)
                    .and_then(|r| r.split('"').next())
                    .unwrap_or_else(|| panic!("a field without id: {el}"));
                out.push(id.to_string());
            }
        }
        out
    }

    fn check(name: &str, page: &str) {
        assert!(page.starts_with("<!DOCTYPE html>"), "{name}");
        assert!(page.contains("<html lang=\"fr\">"), "{name}: lang");
        assert!(page.contains("href=\"#contenu\""), "{name}: skip link");
        assert!(page.contains("<main id=\"contenu\""), "{name}: main");
        assert!(page.contains("<footer"), "{name}: footer");
        for id in fields(page) {
            assert!(
                page.contains(&format!("<label for=\"{id}\"")),
                "{name}: no label for the field {id}"
            );
        }
        for (i, _) in page.match_indices("<form") {
            let form = &page[i..i + page[i..].find("</form>").expect("closed form")];
            if form.contains("method=\"post\"") {
                assert!(
                    form.contains("name=\"_csrf\""),
                    "{name}: form without _csrf"
                );
            }
        }
    }

    fn row(id: &str) -> LoanRow {
        LoanRow {
            id: id.into(),
            items: "Caméra <4K>".into(),
            other: "Tiers-lieu B".into(),
            period: "mer. 16 déc. 2026".into(),
            state: "demandé".into(),
            purpose: "Reportage".into(),
            requested: "lun. 14 déc. 2026, 10:00".into(),
            overdue: id == "late",
        }
    }

    #[test]
    fn every_page_is_french_with_a_label_for_each_field() {
        let p = Person {
            email: "d@a.fr".into(),
            name: "Claire".into(),
            role: Role::Director,
        };
        let anon = Frame {
            site_name: "Tiers-lieu A",
            person: None,
            csrf: "jeton",
        };
        let in_ = Frame {
            person: Some(&p),
            ..anon
        };
        let d = Dashboard {
            to_decide: vec![row("a")],
            mine: vec![row("b")],
            going_out: vec![row("c")],
            due_back: vec![],
            overdue: vec![row("late")],
            events: vec![EventRow {
                id: "ev-1".into(),
                title: "Atelier".into(),
                period: "mar. 15 déc. 2026, 14:00–16:00".into(),
                place: "Salle 2".into(),
                owner: "Tiers-lieu A".into(),
            }],
            week_end: "dim. 20 déc. 2026".into(),
            ..Default::default()
        };
        let pages = [
            (
                "connexion",
                login(&anon, "x@y.fr", &Notice::Error("non")).into_string(),
            ),
            (
                "activer",
                activate(&anon, "s", Some("Claire"), &Notice::None).into_string(),
            ),
            (
                "activer (lien expiré)",
                activate(&anon, "", None, &Notice::Error("expiré")).into_string(),
            ),
            ("message", message(&in_, "Refus", "non").into_string()),
            ("tableau de bord", dashboard(&in_, &d).into_string()),
            (
                "tableau de bord vide",
                dashboard(&in_, &Dashboard::default()).into_string(),
            ),
            (
                "comptes",
                super::super::accounts::page(
                    &in_,
                    Role::Director,
                    false,
                    &[crate::pb::UserAccount {
                        email: "e@a.fr".into(),
                        name: "Noé".into(),
                        role: "staff".into(),
                        ..Default::default()
                    }],
                    &Notice::None,
                    None,
                )
                .into_string(),
            ),
            (
                "mon compte",
                super::super::accounts::mine(&in_, &[], "", &Notice::None).into_string(),
            ),
            (
                "catalogue",
                super::super::catalogue::page(
                    &in_,
                    &Default::default(),
                    &[("b".into(), "Tiers-lieu B".into())],
                    &["robotique".into()],
                    &[crate::pb::EquipmentItem {
                        id: "eq-1".into(),
                        name: "Robot".into(),
                        ..Default::default()
                    }],
                    None,
                )
                .into_string(),
            ),
        ];
        for (name, page) in &pages {
            check(name, page);
        }
        let board = &pages[4].1;
        assert!(board.contains("Caméra &lt;4K&gt;"), "text is escaped");
        assert!(board.contains("Se déconnecter"));
        assert_eq!(fields(&pages[0].1), ["email", "password"]);
        assert_eq!(fields(&pages[1].1), ["password", "confirm"]);
    }
}
