//! The network calendar in the browser: month and week views (the whole
//! network, this site, or one action), an event's page with its sessions and
//! their attendance, the form that adds an event with a recurrence chosen
//! rather than typed ([`super::event_form`]), and the subscriptions calendar
//! applications poll. Every read and write goes through `app::calendar` and
//! `app::feeds`, as the gRPC service does.

use std::collections::BTreeMap;

use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Redirect, Response};
use axum::Form;
use chrono::{DateTime, Datelike, Duration, FixedOffset, NaiveDate, Utc};
use maud::{html, Markup};
use serde::Deserialize;

use super::event_form::{self, EventForm, REPEATS, WEEKDAYS};
use super::pages::{csrf_field, layout, notice, Frame, Notice};
use super::session::Session;
use super::{html, signed_in, status_of, Web};
use crate::app::{calendar as cal, feeds, NodeContext};
use crate::auth::{Need, Role};
use crate::domain::calendar::{self as dcal, AUDIENCES, CANCELLED, KINDS};
use crate::domain::time::{self, TZ};
use crate::error::Result;
use crate::pb;

/// Sessions an event's page lists, upcoming and past.
const UPCOMING: usize = 10;
const PAST: usize = 12;
/// How far back an event's page looks for past sessions.
const PAST_DAYS: i64 = 366;

const WEEKDAY_NAMES: [&str; 7] = [
    "lundi", "mardi", "mercredi", "jeudi", "vendredi", "samedi", "dimanche",
];

fn role_of(s: &Session) -> Role {
    s.person.as_ref().map(|p| p.role).unwrap_or(Role::Viewer)
}

fn error_page(web: &Web, s: &Session, status: StatusCode, text: &str) -> Response {
    html(
        status,
        super::pages::message(&web.frame(s), "Erreur", &super::capital(text)),
    )
}

/// Who holds an event, by name.
fn owner_name(names: &BTreeMap<String, String>, site: &str) -> String {
    if site == "network" {
        "tout le réseau".to_string()
    } else {
        crate::app::equipment::name_of(names, site)
    }
}

/// The actions of the network, (id, title), by title.
fn actions(ctx: &NodeContext) -> Result<Vec<(String, String)>> {
    let mut out: Vec<(String, String)> = crate::app::actions::all(ctx)?
        .into_iter()
        .map(|a| {
            let title = if a.title.trim().is_empty() {
                a.id.clone()
            } else {
                a.title
            };
            (a.id, title)
        })
        .collect();
    out.sort_by(|a, b| a.1.cmp(&b.1).then(a.0.cmp(&b.0)));
    Ok(out)
}

fn paris(s: &str) -> Option<DateTime<chrono_tz::Tz>> {
    DateTime::parse_from_rfc3339(s)
        .ok()
        .map(|t| t.with_timezone(&TZ))
}

/// When an occurrence takes place, as people say it: « mar. 16 mars 2027,
/// 14 h – 16 h », « mar. 16 mars 2027 (toute la journée) ».
fn fr_when(start: &DateTime<FixedOffset>, end: &DateTime<FixedOffset>, all_day: bool) -> String {
    let (s, e) = (start.with_timezone(&TZ), end.with_timezone(&TZ));
    if all_day {
        let last = (e - Duration::seconds(1)).date_naive();
        if last <= s.date_naive() {
            return format!("{} (toute la journée)", time::fr_date(s.date_naive()));
        }
        return format!(
            "du {} au {}",
            time::fr_date(s.date_naive()),
            time::fr_date(last)
        );
    }
    let clock = |t: &DateTime<chrono_tz::Tz>| event_form::fr_clock(t.time());
    if s.date_naive() == e.date_naive() {
        format!(
            "{}, {} – {}",
            time::fr_date(s.date_naive()),
            clock(&s),
            clock(&e)
        )
    } else {
        format!(
            "{}, {} → {}, {}",
            time::fr_date(s.date_naive()),
            clock(&s),
            time::fr_date(e.date_naive()),
            clock(&e)
        )
    }
}

// ---------------------------------------------------------------------------
// Month and week views.

#[derive(Deserialize, Default, Debug)]
pub struct ViewQuery {
    /// "mois" (default) or "semaine".
    #[serde(default)]
    vue: String,
    /// AAAA-MM.
    #[serde(default)]
    mois: String,
    /// Any day of the week, AAAA-MM-JJ or JJ/MM/AAAA.
    #[serde(default)]
    semaine: String,
    /// "" (the whole network), "site" (this site) or "action:ID".
    #[serde(default)]
    filtre: String,
}

/// One occurrence on one day of a view.
#[derive(Debug, Clone, PartialEq)]
pub struct Entry {
    pub event_id: String,
    /// « 14 h », « toute la journée », « suite ».
    pub when: String,
    pub title: String,
    pub site: String,
    pub place: String,
    pub cancelled: bool,
}

/// The period a view shows: its days, and the title of each page.
#[derive(Debug, Clone, PartialEq)]
struct Period {
    week: bool,
    first: NaiveDate,
    last: NaiveDate,
}

fn monday_of(d: NaiveDate) -> NaiveDate {
    d - Duration::days(d.weekday().num_days_from_monday() as i64)
}

fn month_start(d: NaiveDate) -> NaiveDate {
    d.with_day(1).expect("day 1 exists")
}

fn next_month(d: NaiveDate) -> NaiveDate {
    let (y, m) = if d.month() == 12 {
        (d.year() + 1, 1)
    } else {
        (d.year(), d.month() + 1)
    };
    NaiveDate::from_ymd_opt(y, m, 1).expect("valid month")
}

fn prev_month(d: NaiveDate) -> NaiveDate {
    let (y, m) = if d.month() == 1 {
        (d.year() - 1, 12)
    } else {
        (d.year(), d.month() - 1)
    };
    NaiveDate::from_ymd_opt(y, m, 1).expect("valid month")
}

/// The period a query asks for, and what was unreadable in it (then today's).
fn period(q: &ViewQuery, today: NaiveDate) -> (Period, Option<String>) {
    if q.vue == "semaine" {
        let (d, problem) = match q.semaine.trim() {
            "" => (today, None),
            v => match time::parse_date(v) {
                Ok(d) => (d, None),
                Err(_) => (
                    today,
                    Some(format!(
                        "La semaine « {v} » n'est pas une date (AAAA-MM-JJ) : voici la semaine en cours."
                    )),
                ),
            },
        };
        let first = monday_of(d);
        let p = Period {
            week: true,
            first,
            last: first + Duration::days(6),
        };
        return (p, problem);
    }
    let (d, problem) = match q.mois.trim() {
        "" => (today, None),
        v => match NaiveDate::parse_from_str(&format!("{v}-01"), "%Y-%m-%d") {
            Ok(d) if v.len() == 7 => (d, None),
            _ => (
                today,
                Some(format!(
                    "Le mois « {v} » n'est pas de la forme AAAA-MM : voici le mois en cours."
                )),
            ),
        },
    };
    let first = month_start(d);
    let p = Period {
        week: false,
        first,
        last: next_month(first) - Duration::days(1),
    };
    (p, problem)
}

/// The calendar query of a filter: (site, action).
fn filter_query(ctx: &NodeContext, filtre: &str) -> (String, String) {
    match filtre {
        "site" => (ctx.site.clone(), String::new()),
        f => match f.strip_prefix("action:") {
            Some(a) => (String::new(), a.to_string()),
            None => (String::new(), String::new()),
        },
    }
}

/// The occurrences of a period by Paris day; an occurrence over several days
/// is on each of them.
fn by_day(
    occurrences: &[pb::Occurrence],
    names: &BTreeMap<String, String>,
    first: NaiveDate,
    last: NaiveDate,
) -> BTreeMap<NaiveDate, Vec<Entry>> {
    let mut out: BTreeMap<NaiveDate, Vec<Entry>> = BTreeMap::new();
    for o in occurrences {
        let (Some(s), Some(e)) = (paris(&o.start), paris(&o.end)) else {
            continue;
        };
        let start_day = s.date_naive();
        let last_day = (e - Duration::seconds(1)).date_naive().max(start_day);
        let mut d = start_day.max(first);
        while d <= last_day.min(last) {
            let when = if o.all_day {
                "toute la journée".to_string()
            } else if d == start_day {
                event_form::fr_clock(s.time())
            } else {
                "suite".to_string()
            };
            out.entry(d).or_default().push(Entry {
                event_id: o.event_id.clone(),
                when,
                title: o.title.clone(),
                site: owner_name(names, &o.site),
                place: o.place.clone(),
                cancelled: o.status == CANCELLED,
            });
            d += Duration::days(1);
        }
    }
    out
}

fn view_link(week: bool, day: NaiveDate, filtre: &str) -> String {
    let mut q: Vec<(&str, String)> = Vec::new();
    if week {
        q.push(("vue", "semaine".into()));
        q.push(("semaine", day.format("%Y-%m-%d").to_string()));
    } else {
        q.push(("mois", day.format("%Y-%m").to_string()));
    }
    if !filtre.is_empty() {
        q.push(("filtre", filtre.to_string()));
    }
    format!(
        "/calendrier?{}",
        serde_urlencoded::to_string(&q).unwrap_or_default()
    )
}

pub async fn view(
    State(web): State<Web>,
    headers: HeaderMap,
    Query(q): Query<ViewQuery>,
) -> Response {
    let (s, _) = match signed_in(&web, &headers, Need::Read) {
        Ok(x) => x,
        Err(r) => return *r,
    };
    let ctx = web.ctx.clone();
    let today = time::paris(Utc::now()).date_naive();
    let (p, problem) = period(&q, today);
    let (site, action) = filter_query(&ctx, &q.filtre);
    let query = pb::CalendarQuery {
        from: p.first.to_string(),
        to: p.last.to_string(),
        site,
        action,
    };
    let loaded = tokio::task::spawn_blocking(move || {
        let names = crate::app::equipment::site_names(&ctx)?;
        let actions = actions(&ctx)?;
        let found = cal::occurrences(&ctx, &query)?.occurrences;
        Ok::<_, crate::error::Error>((names, actions, found))
    })
    .await;
    let (names, actions, found) = match loaded {
        Ok(Ok(x)) => x,
        Ok(Err(e)) => return error_page(&web, &s, status_of(&e), &e.to_string()),
        Err(e) => return error_page(&web, &s, StatusCode::INTERNAL_SERVER_ERROR, &e.to_string()),
    };
    let days = by_day(&found, &names, p.first, p.last);
    let role = role_of(&s);
    let can_add = role.allows(cal::write_need(&web.ctx));
    let my_site = owner_name(&names, &web.ctx.site);
    let page = view_page(
        &web.frame(&s),
        &ViewPage {
            period: &p,
            today,
            days: &days,
            filtre: &q.filtre,
            actions: &actions,
            my_site: &my_site,
            can_add,
            director: role.allows(Need::Director),
            problem: problem.as_deref(),
        },
    );
    html(StatusCode::OK, page)
}

struct ViewPage<'a> {
    period: &'a Period,
    today: NaiveDate,
    days: &'a BTreeMap<NaiveDate, Vec<Entry>>,
    filtre: &'a str,
    actions: &'a [(String, String)],
    my_site: &'a str,
    can_add: bool,
    director: bool,
    problem: Option<&'a str>,
}

fn entries(list: &[Entry]) -> Markup {
    html! {
        ul.day-events {
            @for e in list {
                li data-event=(e.event_id) {
                    a href={ "/evenements/" (e.event_id) } {
                        span.when { (e.when) } " " (e.title)
                    }
                    @if e.cancelled { " " span.badge.badge-error { "annulé" } }
                    br;
                    span.small { (e.site) @if !e.place.is_empty() { " · " (e.place) } }
                }
            }
        }
    }
}

fn view_page(frame: &Frame, v: &ViewPage) -> Markup {
    let p = v.period;
    let (title, heading, prev, next, now_link, prev_label, next_label, now_label) = if p.week {
        (
            format!("Calendrier : semaine du {}", time::fr_date(p.first)),
            format!(
                "Semaine du {} au {}",
                time::fr_date(p.first),
                time::fr_date(p.last)
            ),
            view_link(true, p.first - Duration::days(7), v.filtre),
            view_link(true, p.first + Duration::days(7), v.filtre),
            view_link(true, v.today, v.filtre),
            "← Semaine précédente".to_string(),
            "Semaine suivante →".to_string(),
            "Cette semaine",
        )
    } else {
        let month = time::fr_month(p.first.year(), p.first.month());
        let (pm, nm) = (prev_month(p.first), next_month(p.first));
        (
            format!("Calendrier : {month}"),
            month,
            view_link(false, pm, v.filtre),
            view_link(false, nm, v.filtre),
            view_link(false, v.today, v.filtre),
            format!("← {}", time::fr_month(pm.year(), pm.month())),
            format!("{} →", time::fr_month(nm.year(), nm.month())),
            "Ce mois-ci",
        )
    };
    let other_view = if p.week {
        ("Voir le mois", view_link(false, p.first, v.filtre))
    } else {
        ("Voir la semaine", view_link(true, p.first, v.filtre))
    };
    let scope = match v.filtre {
        "site" => format!("Événements de {}", v.my_site),
        f => match f
            .strip_prefix("action:")
            .and_then(|a| v.actions.iter().find(|(id, _)| id == a))
        {
            Some((_, t)) => format!("Événements de l'action « {t} »"),
            None => match f.strip_prefix("action:") {
                Some(a) => format!("Événements de l'action {a} (introuvable sur ce nœud)"),
                None => "Événements de tout le réseau".to_string(),
            },
        },
    };
    layout(
        frame,
        &title,
        html! {
            @if let Some(problem) = v.problem {
                div.alert.alert-error role="alert" { p { (problem) } }
            }
            div.toolbar {
                @if v.can_add { a.btn href="/evenements/nouveau" { "Nouvel événement" } }
                @if v.director { a href="/calendrier-abonnements" { "Abonnements pour les agendas" } }
            }
            form.filters method="get" action="/calendrier" {
                div.field {
                    label for="vue" { "Affichage" }
                    select id="vue" name="vue" {
                        option value="mois" selected[!p.week] { "Mois" }
                        option value="semaine" selected[p.week] { "Semaine" }
                    }
                }
                div.field {
                    label for="filtre" { "Événements de" }
                    select id="filtre" name="filtre" {
                        option value="" selected[v.filtre.is_empty()] { "Tout le réseau" }
                        option value="site" selected[v.filtre == "site"] { "Mon site (" (v.my_site) ")" }
                        @if !v.actions.is_empty() {
                            optgroup label="Une action" {
                                @for (id, t) in v.actions {
                                    @let value = format!("action:{id}");
                                    option value=(value) selected[v.filtre == value] { (t) }
                                }
                            }
                        }
                    }
                }
                input type="hidden" name="mois" value=(p.first.format("%Y-%m"));
                input type="hidden" name="semaine" value=(p.first.format("%Y-%m-%d"));
                button.btn type="submit" { "Afficher" }
            }
            p.lead { (scope) }
            nav.cal-nav aria-label="Changer de période" {
                a href=(prev) { (prev_label) }
                a href=(now_link) { (now_label) }
                a href=(next) { (next_label) }
                a href=(other_view.1) { (other_view.0) }
            }
            h2 { (heading) }
            div data-live="calendrier" { @if p.week { (week_view(v)) } @else { (month_view(v)) } }
        },
    )
}

fn month_view(v: &ViewPage) -> Markup {
    let p = v.period;
    let mut weeks = Vec::new();
    let mut d = monday_of(p.first);
    while d <= p.last {
        weeks.push(d);
        d += Duration::days(7);
    }
    html! {
        table.month {
            caption.sr-only { "Événements de " (time::fr_month(p.first.year(), p.first.month())) ", une ligne par semaine" }
            thead { tr {
                @for name in WEEKDAY_NAMES { th scope="col" { (name) } }
            } }
            tbody {
                @for monday in &weeks {
                    tr {
                        @for i in 0..7 {
                            @let day = *monday + Duration::days(i);
                            @if day < p.first || day > p.last {
                                td.out {}
                            } @else {
                                td data-day=(day.format("%Y-%m-%d")) class=[(day == v.today).then_some("today")] {
                                    span.daynum { (day.day()) span.sr-only { " " (time::fr_month(day.year(), day.month())) } }
                                    @if let Some(list) = v.days.get(&day) { (entries(list)) }
                                }
                            }
                        }
                    }
                }
            }
        }
    }
}

fn week_view(v: &ViewPage) -> Markup {
    let p = v.period;
    html! {
        div.week {
            @for i in 0..7 {
                @let day = p.first + Duration::days(i);
                section.day data-day=(day.format("%Y-%m-%d")) {
                    h3 { (WEEKDAY_NAMES[i as usize]) " " (day.day()) " " (time::fr_month(day.year(), day.month()))
                        @if day == v.today { " " span.badge { "aujourd'hui" } } }
                    @match v.days.get(&day) {
                        Some(list) => (entries(list)),
                        None => p.empty { "Rien de prévu." },
                    }
                }
            }
        }
    }
}

// ---------------------------------------------------------------------------
// An event's page.

#[derive(Deserialize, Default)]
pub struct Done {
    #[serde(default)]
    fait: String,
}

fn done_fr(done: &str) -> Option<&'static str> {
    Some(match done {
        "cree" => "Événement enregistré.",
        "frequentation" => "Fréquentation enregistrée.",
        "annule" => "Événement annulé : il reste au calendrier, marqué annulé.",
        "modifie" => "Événement modifié : les agendas abonnés verront la nouvelle version.",
        _ => return None,
    })
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
    event_response(&web, &s, &id, StatusCode::OK, &n)
}

/// One session of an event, on its page.
struct Sitting {
    start: DateTime<FixedOffset>,
    end: DateTime<FixedOffset>,
    /// Its Paris day, AAAA-MM-JJ.
    day: String,
    attendance: Option<pb::Attendance>,
}

fn sessions(
    e: &dcal::Event,
    p: &pb::Event,
    from: DateTime<Utc>,
    to: DateTime<Utc>,
    limit: usize,
) -> Result<Vec<Sitting>> {
    Ok(dcal::occurrences(e, from, to, limit)?
        .into_iter()
        .map(|(start, end)| {
            let day = start.with_timezone(&TZ).date_naive().to_string();
            let attendance = if p.rrule.is_empty() {
                p.attendance.clone()
            } else {
                p.occurrence_attendance
                    .iter()
                    .find(|o| o.day == day)
                    .and_then(|o| o.attendance.clone())
            };
            Sitting {
                start,
                end,
                day,
                attendance,
            }
        })
        .collect())
}

/// An event, its sessions to come and past, site names and its action's title.
type Loaded = (
    pb::Event,
    Vec<Sitting>,
    Vec<Sitting>,
    BTreeMap<String, String>,
    Option<String>,
);

fn load_event(ctx: &NodeContext, id: &str) -> Result<Loaded> {
    let id = cal::resolve(ctx, id)?;
    let (site, e) = cal::find(ctx, &id)?;
    let p = cal::to_pb(&id, &site, &e);
    let now = Utc::now();
    let upcoming: Vec<Sitting> = sessions(&e, &p, now, now + Duration::days(3660), UPCOMING)?
        .into_iter()
        .filter(|x| x.start.with_timezone(&Utc) >= now)
        .collect();
    let mut past: Vec<Sitting> = sessions(
        &e,
        &p,
        now - Duration::days(PAST_DAYS),
        now,
        cal::MAX_OCCURRENCES,
    )?
    .into_iter()
    .filter(|x| x.start.with_timezone(&Utc) <= now)
    .collect();
    let skip = past.len().saturating_sub(PAST);
    past.drain(..skip);
    past.reverse();
    let names = crate::app::equipment::site_names(ctx)?;
    let action = if p.action.is_empty() {
        None
    } else {
        Some(
            actions(ctx)?
                .into_iter()
                .find(|(a, _)| *a == p.action)
                .map(|(_, t)| t)
                .unwrap_or_else(|| p.action.clone()),
        )
    };
    Ok((p, upcoming, past, names, action))
}

fn event_response(web: &Web, s: &Session, id: &str, status: StatusCode, n: &Notice) -> Response {
    let ctx = &web.ctx;
    let found = load_event(ctx, id);
    let (p, upcoming, past, names, action) = match found {
        Ok(x) => x,
        Err(e) => return error_page(web, s, status_of(&e), &e.to_string()),
    };
    let can_write = role_of(s).allows(cal::write_need(ctx))
        && p.site == cal::owner(&cal::own_doc(ctx))
        && p.status != CANCELLED;
    let page = event_page(
        &web.frame(s),
        &EventPage {
            p: &p,
            upcoming: &upcoming,
            past: &past,
            names: &names,
            action: action.as_deref(),
            can_write,
        },
        n,
    );
    html(status, page)
}

struct EventPage<'a> {
    p: &'a pb::Event,
    upcoming: &'a [Sitting],
    past: &'a [Sitting],
    names: &'a BTreeMap<String, String>,
    action: Option<&'a str>,
    can_write: bool,
}

fn attendance_fr(a: &pb::Attendance) -> String {
    let counts = [a.pupils, a.teachers, a.families, a.partners];
    let parts: Vec<String> = counts
        .iter()
        .zip(AUDIENCES)
        .map(|(n, (_, label))| {
            let label = if *n > 1 {
                label.to_string()
            } else {
                label.trim_end_matches('s').to_string()
            };
            format!("{n} {label}")
        })
        .collect();
    let mut text = parts.join(", ");
    if !a.recorded_at.is_empty() {
        text = format!("{text} (saisie le {})", time::fr_instant(&a.recorded_at));
    }
    text
}

fn event_page(frame: &Frame, v: &EventPage, n: &Notice) -> Markup {
    let p = v.p;
    let first = match (
        DateTime::parse_from_rfc3339(&p.start),
        DateTime::parse_from_rfc3339(&p.end),
    ) {
        (Ok(s), Ok(e)) => fr_when(&s, &e, false),
        _ => match (time::parse_date(&p.start), time::parse_date(&p.end)) {
            (Ok(s), Ok(e)) if s == e => format!("{} (toute la journée)", time::fr_date(s)),
            (Ok(s), Ok(e)) => format!("du {} au {}", time::fr_date(s), time::fr_date(e)),
            _ => format!("{} → {}", p.start, p.end),
        },
    };
    let month = p.start.get(..7).unwrap_or("").to_string();
    let cancelled = p.status == CANCELLED;
    html! {
        (layout(frame, &p.title, html! {
            p { a href={ "/calendrier?mois=" (month) } { "← Retour au calendrier" } }
            (notice(n))
            section.card data-live="evenement" {
                h2 { "L'événement" }
                dl.facts {
                    dt { "État" } dd { @if cancelled { span.badge.badge-error { "annulé" } } @else { span.badge { "confirmé" } } }
                    dt { "Type" } dd { (dcal::kind_label(&p.kind)) }
                    dt { @if p.rrule.is_empty() { "Quand" } @else { "Première séance" } } dd { (first) }
                    @if !p.rrule.is_empty() {
                        dt { "Répétition" } dd { (event_form::describe_rrule(&p.rrule)) }
                        @if !p.exdates.is_empty() {
                            dt { "Sauf le" } dd {
                                @let days: Vec<String> = p.exdates.iter().map(|x| {
                                    paris(x).map(|t| time::fr_date(t.date_naive()))
                                        .or_else(|| time::parse_date(x).ok().map(time::fr_date))
                                        .unwrap_or_else(|| x.clone())
                                }).collect();
                                (days.join(", "))
                            }
                        }
                    }
                    @if !p.place.is_empty() { dt { "Lieu" } dd { (p.place) } }
                    dt { "Organisé par" } dd { (owner_name(v.names, &p.site)) }
                    @if let Some(a) = v.action { dt { "Action" } dd { (a) } }
                    @if !p.audience.is_empty() {
                        dt { "Publics" } dd {
                            @let list: Vec<&str> = p.audience.iter().map(|a| dcal::audience_label(a)).collect();
                            (list.join(", "))
                        }
                    }
                }
            }
            section.card data-live="seances" {
                h2 { "Prochaines séances" }
                @if v.upcoming.is_empty() {
                    p.empty { "Aucune séance à venir." }
                } @else {
                    ul.sessions {
                        @for x in v.upcoming {
                            li data-occurrence=(x.day) { (fr_when(&x.start, &x.end, p.all_day)) }
                        }
                    }
                    @if v.upcoming.len() >= UPCOMING { p.small { "Les " (UPCOMING) " prochaines séances seulement." } }
                }
            }
            section.card {
                h2 { "Séances passées et fréquentation" }
                @if v.past.is_empty() {
                    p.empty { "Aucune séance passée." }
                } @else {
                    @if v.past.len() >= PAST { p.small { "Les " (PAST) " dernières séances." } }
                    ul.sessions {
                        @for x in v.past {
                            li data-occurrence=(x.day) {
                                strong { (fr_when(&x.start, &x.end, p.all_day)) }
                                br;
                                @match &x.attendance {
                                    Some(a) => { "Fréquentation : " (attendance_fr(a)) }
                                    None => span.small { "Fréquentation non saisie." },
                                }
                                @if v.can_write { (attendance_form(frame, p, x)) }
                            }
                        }
                    }
                }
            }
            @if v.can_write {
                p { a.btn href={ "/evenements/" (p.id) "/modifier" } { "Modifier l'événement" } }
                section.card {
                    h2 { "Annuler l'événement" }
                    p { "L'événement reste au calendrier, marqué annulé, et les agendas abonnés le voient annulé." }
                    form method="post" action={ "/evenements/" (p.id) "/annuler" } {
                        (csrf_field(frame.csrf))
                        button.btn.btn-secondary type="submit" { "Annuler l'événement" }
                    }
                }
            }
        }))
    }
}

fn attendance_form(frame: &Frame, p: &pb::Event, x: &Sitting) -> Markup {
    let value = |i: usize| -> i64 {
        x.attendance
            .as_ref()
            .map(|a| [a.pupils, a.teachers, a.families, a.partners][i])
            .unwrap_or(0)
    };
    let date = time::parse_date(&x.day)
        .map(time::fr_date)
        .unwrap_or_else(|_| x.day.clone());
    html! {
        form.attendance method="post" action={ "/evenements/" (p.id) "/frequentation" } {
            (csrf_field(frame.csrf))
            input type="hidden" name="seance" value=(x.day);
            fieldset {
                legend { "Fréquentation du " (date) }
                div.counts {
                    @for (i, (id, label)) in AUDIENCES.iter().enumerate() {
                        @let field = format!("f-{}-{}", x.day, id);
                        div.field {
                            label for=(field) { (super::capital(label).trim_end_matches('.')) }
                            input id=(field) type="number" min="0" step="1" name=(id) value=(value(i));
                        }
                    }
                }
                button.btn.btn-secondary type="submit" { "Enregistrer la fréquentation" }
            }
        }
    }
}

#[derive(Deserialize, Default)]
pub struct ActInput {
    #[serde(default)]
    seance: String,
    #[serde(default)]
    pupils: String,
    #[serde(default)]
    teachers: String,
    #[serde(default)]
    families: String,
    #[serde(default)]
    partners: String,
}

/// Attendance of one session, or the event's cancellation.
pub async fn act(
    State(web): State<Web>,
    headers: HeaderMap,
    Path((id, action)): Path<(String, String)>,
    Form(input): Form<ActInput>,
) -> Response {
    if !matches!(action.as_str(), "frequentation" | "annuler") {
        return StatusCode::NOT_FOUND.into_response();
    }
    let (s, _) = match signed_in(&web, &headers, cal::write_need(&web.ctx)) {
        Ok(x) => x,
        Err(r) => return *r,
    };
    let ctx = &web.ctx;
    let done = if action == "annuler" {
        cal::cancel(ctx, &id).await.map(|e| (e.id, "annule"))
    } else {
        let mut counts = [0i64; 4];
        let fields = [
            &input.pupils,
            &input.teachers,
            &input.families,
            &input.partners,
        ];
        for (i, (v, (_, label))) in fields.iter().zip(AUDIENCES).enumerate() {
            match v.trim() {
                "" => {}
                v => match v.parse::<i64>() {
                    Ok(n) => counts[i] = n,
                    Err(_) => {
                        let text = format!(
                            "Le nombre {} « {v} » n'est pas un nombre entier : corrigez-le.",
                            dcal::de(label)
                        );
                        return event_response(
                            &web,
                            &s,
                            &id,
                            StatusCode::BAD_REQUEST,
                            &Notice::Error(&text),
                        );
                    }
                },
            }
        }
        let r = pb::AttendanceInput {
            id: id.clone(),
            pupils: counts[0],
            teachers: counts[1],
            families: counts[2],
            partners: counts[3],
            occurrence: input.seance.clone(),
        };
        cal::attendance(ctx, r)
            .await
            .map(|e| (e.id, "frequentation"))
    };
    match done {
        Ok((id, what)) => Redirect::to(&format!("/evenements/{id}?fait={what}")).into_response(),
        Err(e) => {
            let text = super::capital(&e.to_string());
            event_response(&web, &s, &id, status_of(&e), &Notice::Error(&text))
        }
    }
}

// ---------------------------------------------------------------------------
// The form that adds an event.

#[derive(Deserialize, Default)]
pub struct NewQuery {
    #[serde(default)]
    jour: String,
}

pub async fn new_form(
    State(web): State<Web>,
    headers: HeaderMap,
    Query(q): Query<NewQuery>,
) -> Response {
    let (s, _) = match signed_in(&web, &headers, cal::write_need(&web.ctx)) {
        Ok(x) => x,
        Err(r) => return *r,
    };
    let form = EventForm {
        jour: q.jour,
        ..Default::default()
    };
    form_response(&web, &s, &form, &[], StatusCode::OK)
}

/// Which event the form writes: a new one, or the one it edits (by id).
type Editing<'a> = Option<&'a str>;

/// The form, filled with `f`, with `errors` above it.
fn form_response(
    web: &Web,
    s: &Session,
    f: &EventForm,
    errors: &[String],
    status: StatusCode,
) -> Response {
    edit_response(web, s, None, f, errors, status)
}

fn edit_response(
    web: &Web,
    s: &Session,
    editing: Editing,
    f: &EventForm,
    errors: &[String],
    status: StatusCode,
) -> Response {
    match actions(&web.ctx) {
        Ok(actions) => html(
            status,
            form_page(&web.frame(s), editing, f, &actions, errors),
        ),
        Err(e) => error_page(web, s, status_of(&e), &e.to_string()),
    }
}

/// The form to edit an event of this site, filled with what it holds.
pub async fn edit_form(
    State(web): State<Web>,
    headers: HeaderMap,
    Path(id): Path<String>,
) -> Response {
    let (s, _) = match signed_in(&web, &headers, cal::write_need(&web.ctx)) {
        Ok(x) => x,
        Err(r) => return *r,
    };
    let e = match editable(&web.ctx, &id) {
        Ok(e) => e,
        Err(e) => return error_page(&web, &s, status_of(&e), &e.to_string()),
    };
    match EventForm::from_event(&e) {
        Ok(f) => edit_response(&web, &s, Some(&e.id), &f, &[], StatusCode::OK),
        Err(text) => error_page(&web, &s, StatusCode::CONFLICT, &text),
    }
}

/// The event `id`, if this site may edit it: its own, not cancelled.
fn editable(ctx: &NodeContext, id: &str) -> Result<pb::Event> {
    let id = cal::resolve(ctx, id)?;
    let (site, e) = cal::find(ctx, &id)?;
    let e = cal::to_pb(&id, &site, &e);
    if e.site != cal::owner(&cal::own_doc(ctx)) {
        return Err(crate::error::Error::denied(format!(
            "l'événement « {} » appartient à un autre site : seul ce site peut le modifier",
            e.title
        )));
    }
    if e.status == CANCELLED {
        return Err(crate::error::Error::precondition(format!(
            "l'événement « {} » est annulé : il ne se modifie plus",
            e.title
        )));
    }
    Ok(e)
}

pub async fn update(
    State(web): State<Web>,
    headers: HeaderMap,
    Path(id): Path<String>,
    Form(fields): Form<Vec<(String, String)>>,
) -> Response {
    let (s, _) = match signed_in(&web, &headers, cal::write_need(&web.ctx)) {
        Ok(x) => x,
        Err(r) => return *r,
    };
    let e = match editable(&web.ctx, &id) {
        Ok(e) => e,
        Err(e) => return error_page(&web, &s, status_of(&e), &e.to_string()),
    };
    let f = EventForm::from_fields(&fields);
    let input = match event_form::event_input(&f) {
        Ok(i) => i,
        Err(errors) => {
            return edit_response(&web, &s, Some(&e.id), &f, &errors, StatusCode::BAD_REQUEST)
        }
    };
    let r = pb::UpdateEventRequest {
        id: e.id.clone(),
        title: Some(input.title),
        kind: Some(input.kind),
        start: Some(input.start),
        end: Some(input.end),
        all_day: Some(input.all_day),
        rrule: Some(input.rrule),
        set_exdates: true,
        exdates: input.exdates,
        place: Some(input.place),
        set_audience: true,
        audience: input.audience,
        action: Some(input.action),
    };
    match cal::update(&web.ctx, r).await {
        Ok(e) => Redirect::to(&format!("/evenements/{}?fait=modifie", e.id)).into_response(),
        Err(err) => {
            let text = super::capital(&err.to_string());
            edit_response(&web, &s, Some(&e.id), &f, &[text], status_of(&err))
        }
    }
}

pub async fn create(
    State(web): State<Web>,
    headers: HeaderMap,
    Form(fields): Form<Vec<(String, String)>>,
) -> Response {
    let (s, _) = match signed_in(&web, &headers, cal::write_need(&web.ctx)) {
        Ok(x) => x,
        Err(r) => return *r,
    };
    let f = EventForm::from_fields(&fields);
    let input = match event_form::event_input(&f) {
        Ok(i) => i,
        Err(errors) => return form_response(&web, &s, &f, &errors, StatusCode::BAD_REQUEST),
    };
    match cal::add(&web.ctx, input).await {
        Ok(e) => Redirect::to(&format!("/evenements/{}?fait=cree", e.id)).into_response(),
        Err(e) => {
            let text = super::capital(&e.to_string());
            form_response(&web, &s, &f, &[text], status_of(&e))
        }
    }
}

/// A date as the date picker wants it (AAAA-MM-JJ), whatever was typed.
fn iso_or_raw(v: &str) -> String {
    time::parse_date(v)
        .map(|d| d.to_string())
        .unwrap_or_else(|_| v.to_string())
}

fn form_page(
    frame: &Frame,
    editing: Editing,
    f: &EventForm,
    actions: &[(String, String)],
    errors: &[String],
) -> Markup {
    let (title, target, back) = match editing {
        Some(id) => (
            format!("Modifier « {} »", f.titre),
            format!("/evenements/{id}/modifier"),
            (format!("/evenements/{id}"), "← Retour à l'événement"),
        ),
        None => (
            "Nouvel événement".to_string(),
            "/evenements/nouveau".to_string(),
            ("/calendrier".to_string(), "← Retour au calendrier"),
        ),
    };
    layout(
        frame,
        &title,
        html! {
            p { a href=(back.0) { (back.1) } }
            @if !errors.is_empty() {
                div.alert.alert-error role="alert" {
                    p { "L'événement n'a pas été enregistré : corrigez ce qui suit." }
                    ul { @for e in errors { li { (e) } } }
                }
            }
            form.form.event-form method="post" action=(target) {
                (csrf_field(frame.csrf))
                @if !f.regle.is_empty() {
                    input type="hidden" name="regle" value=(f.regle);
                }
                div.field {
                    label for="titre" { "Titre" }
                    input id="titre" name="titre" type="text" required value=(f.titre);
                }
                div.field {
                    label for="genre" { "Type" }
                    select id="genre" name="genre" {
                        @for (id, label) in KINDS {
                            option value=(id) selected[f.genre == *id] { (super::capital(label).trim_end_matches('.')) }
                        }
                    }
                }
                div.field {
                    label for="jour" { "Jour" span.hint { "le premier jour, si l'événement se répète" } }
                    input id="jour" name="jour" type="date" required value=(iso_or_raw(&f.jour));
                }
                div.field.check {
                    input id="journee" name="journee" type="checkbox" value="oui" checked[f.journee];
                    label for="journee" { "Toute la journée (les heures sont alors ignorées)" }
                }
                div.field {
                    label for="debut" { "Heure de début" span.hint { "heure de Paris, par exemple 14:00" } }
                    input id="debut" name="debut" type="time" value=(f.debut);
                }
                div.field {
                    label for="fin" { "Heure de fin" }
                    input id="fin" name="fin" type="time" value=(f.fin);
                }
                div.field {
                    label for="lieu" { "Lieu" }
                    input id="lieu" name="lieu" type="text" value=(f.lieu);
                }
                div.field {
                    label for="action" { "Action commune" span.hint { "facultatif" } }
                    select id="action" name="action" {
                        option value="" { "Aucune" }
                        @for (id, t) in actions {
                            option value=(id) selected[f.action == *id] { (t) }
                        }
                    }
                }
                fieldset {
                    legend { "Publics" }
                    @for (id, label) in AUDIENCES {
                        @let field = format!("public-{id}");
                        div.check {
                            input id=(field) name="publics" type="checkbox" value=(id) checked[f.publics.iter().any(|p| p == id)];
                            label for=(field) { (super::capital(label).trim_end_matches('.')) }
                        }
                    }
                }
                fieldset {
                    legend { "Répétition" }
                    @if !f.regle.is_empty() {
                        div.check {
                            input id="repetition-garder" name="repetition" type="radio" value=(event_form::KEEP) checked[f.repetition == event_form::KEEP];
                            label for="repetition-garder" { "Garder la règle actuelle : " (event_form::describe_rrule(&f.regle)) }
                        }
                    }
                    @for (value, label) in REPEATS {
                        @let field = format!("repetition-{value}");
                        div.check {
                            input id=(field) name="repetition" type="radio" value=(value) checked[f.repetition == *value];
                            label for=(field) { (label) }
                        }
                    }
                }
                fieldset {
                    legend { "Jours de la semaine" span.hint { "pour « chaque semaine » et « toutes les deux semaines »" } }
                    @for (code, name) in WEEKDAYS {
                        @let field = format!("jour-{code}");
                        div.check {
                            input id=(field) name="jours" type="checkbox" value=(code) checked[f.jours.iter().any(|j| j == code)];
                            label for=(field) { (name) }
                        }
                    }
                }
                div.field {
                    label for="jusqu_au" { "Jusqu'au (inclus)" span.hint { "laisser vide pour une répétition sans fin" } }
                    input id="jusqu_au" name="jusqu_au" type="date" value=(iso_or_raw(&f.jusqu_au));
                }
                div.field {
                    label for="exceptions" { "Exceptions (jours sans séance)" span.hint { "dates JJ/MM/AAAA, séparées par des virgules ou des retours à la ligne, par exemple 30/03/2027" } }
                    textarea id="exceptions" name="exceptions" rows="3" { (f.exceptions) }
                }
                button.btn type="submit" { "Enregistrer l'événement" }
            }
        },
    )
}

// ---------------------------------------------------------------------------
// Subscriptions for calendar applications.

#[derive(Deserialize, Default)]
pub struct FeedInput {
    #[serde(default)]
    nom: String,
    /// "" (the whole network), "site:ID" or "action:ID".
    #[serde(default)]
    portee: String,
}

pub async fn feeds(
    State(web): State<Web>,
    headers: HeaderMap,
    Query(done): Query<Done>,
) -> Response {
    let (s, _) = match signed_in(&web, &headers, Need::Director) {
        Ok(x) => x,
        Err(r) => return *r,
    };
    let n = if done.fait == "revoque" {
        Notice::Success("Abonnement révoqué : son adresse ne donne plus rien.")
    } else {
        Notice::None
    };
    feeds_response(&web, &s, StatusCode::OK, &n, None, &FeedInput::default())
}

fn feeds_response(
    web: &Web,
    s: &Session,
    status: StatusCode,
    n: &Notice,
    new_url: Option<&str>,
    input: &FeedInput,
) -> Response {
    let ctx = &web.ctx;
    let loaded = feeds::list(ctx).and_then(|l| {
        Ok((
            l.feeds,
            crate::app::equipment::site_names(ctx)?,
            actions(ctx)?,
        ))
    });
    match loaded {
        Ok((list, names, actions)) => html(
            status,
            feeds_page(
                &web.frame(s),
                &FeedsPage {
                    feeds: &list,
                    names: &names,
                    actions: &actions,
                    my_site: &ctx.site,
                    new_url,
                    input,
                },
                n,
            ),
        ),
        Err(e) => error_page(web, s, status_of(&e), &e.to_string()),
    }
}

pub async fn create_feed(
    State(web): State<Web>,
    headers: HeaderMap,
    Form(input): Form<FeedInput>,
) -> Response {
    let (s, _) = match signed_in(&web, &headers, Need::Director) {
        Ok(x) => x,
        Err(r) => return *r,
    };
    let (site, action) = match input.portee.split_once(':') {
        Some(("site", id)) => (id.to_string(), String::new()),
        Some(("action", id)) => (String::new(), id.to_string()),
        _ => (String::new(), String::new()),
    };
    let r = pb::CreateFeedRequest {
        site,
        action,
        name: input.nom.trim().to_string(),
    };
    match feeds::create(&web.ctx, r).await {
        Ok(f) => feeds_response(
            &web,
            &s,
            StatusCode::OK,
            &Notice::Success(
                "Abonnement créé. Copiez son adresse maintenant : elle n'est affichée qu'une fois.",
            ),
            Some(&f.url),
            &FeedInput::default(),
        ),
        Err(e) => {
            let text = super::capital(&e.to_string());
            feeds_response(&web, &s, status_of(&e), &Notice::Error(&text), None, &input)
        }
    }
}

pub async fn revoke_feed(
    State(web): State<Web>,
    headers: HeaderMap,
    Path(id): Path<String>,
) -> Response {
    let (s, _) = match signed_in(&web, &headers, Need::Director) {
        Ok(x) => x,
        Err(r) => return *r,
    };
    match feeds::revoke(&web.ctx, &id).await {
        Ok(_) => Redirect::to("/calendrier-abonnements?fait=revoque").into_response(),
        Err(e) => {
            let text = super::capital(&e.to_string());
            feeds_response(
                &web,
                &s,
                status_of(&e),
                &Notice::Error(&text),
                None,
                &FeedInput::default(),
            )
        }
    }
}

struct FeedsPage<'a> {
    feeds: &'a [pb::CalendarFeed],
    names: &'a BTreeMap<String, String>,
    actions: &'a [(String, String)],
    my_site: &'a str,
    new_url: Option<&'a str>,
    input: &'a FeedInput,
}

fn feeds_page(frame: &Frame, v: &FeedsPage, n: &Notice) -> Markup {
    let scope = |f: &pb::CalendarFeed| {
        if !f.site.is_empty() {
            format!("le site {}", owner_name(v.names, &f.site))
        } else if !f.action.is_empty() {
            let t = v
                .actions
                .iter()
                .find(|(id, _)| *id == f.action)
                .map(|(_, t)| t.clone())
                .unwrap_or_else(|| f.action.clone());
            format!("l'action « {t} »")
        } else {
            "tout le réseau".to_string()
        }
    };
    let mut sites: Vec<(&String, &String)> = v.names.iter().collect();
    sites.sort_by(|a, b| (a.0 != v.my_site, a.1).cmp(&(b.0 != v.my_site, b.1)));
    html! {
        (layout(frame, "Abonnements pour les agendas", html! {
            p { a href="/calendrier" { "← Retour au calendrier" } }
            (notice(n))
            @if let Some(url) = v.new_url {
                div.card.new-url {
                    p { label for="nouvelle-adresse" { "Adresse à donner à l'application d'agenda (Thunderbird, Outlook, téléphone) :" } }
                    input id="nouvelle-adresse" type="text" readonly value=(url);
                    p.small { "Quiconque a cette adresse voit les événements : ne la publiez pas. Révoquez l'abonnement si elle a circulé." }
                }
            }
            p.lead { "Une application d'agenda interroge régulièrement l'adresse d'un abonnement et affiche les événements du réseau. L'adresse contient un secret : elle suffit pour lire, et on peut la révoquer." }
            section.card {
                h2 { "Nouvel abonnement" }
                form.form method="post" action="/calendrier-abonnements" {
                    (csrf_field(frame.csrf))
                    div.field {
                        label for="nom" { "Nom" span.hint { "à quoi il sert, par exemple « agenda de l'accueil »" } }
                        input id="nom" name="nom" type="text" value=(v.input.nom);
                    }
                    div.field {
                        label for="portee" { "Événements de" }
                        select id="portee" name="portee" {
                            option value="" { "Tout le réseau" }
                            optgroup label="Un site" {
                                @for (id, name) in &sites {
                                    @let value = format!("site:{id}");
                                    option value=(value) selected[v.input.portee == value] { (name) }
                                }
                            }
                            @if !v.actions.is_empty() {
                                optgroup label="Une action" {
                                    @for (id, t) in v.actions {
                                        @let value = format!("action:{id}");
                                        option value=(value) selected[v.input.portee == value] { (t) }
                                    }
                                }
                            }
                        }
                    }
                    button.btn type="submit" { "Créer l'abonnement" }
                }
            }
            section.card {
                h2 { "Abonnements de ce nœud " span.count { "(" (v.feeds.len()) ")" } }
                @if v.feeds.is_empty() {
                    p.empty { "Aucun abonnement." }
                } @else {
                    table {
                        caption.sr-only { "Abonnements de ce nœud" }
                        thead { tr {
                            th scope="col" { "Nom" }
                            th scope="col" { "Événements de" }
                            th scope="col" { "Créé le" }
                            th scope="col" { "État" }
                            th scope="col" { "Action" }
                        } }
                        tbody {
                            @for f in v.feeds {
                                tr data-feed=(f.id) {
                                    td { @if f.name.is_empty() { "(sans nom)" } @else { (f.name) } }
                                    td { (scope(f)) }
                                    td { (time::fr_instant(&f.created_at)) }
                                    td {
                                        @if f.revoked_at.is_empty() { span.badge { "actif" } }
                                        @else { "révoqué le " (time::fr_instant(&f.revoked_at)) }
                                    }
                                    td {
                                        @if f.revoked_at.is_empty() {
                                            form method="post" action={ "/calendrier-abonnements/" (f.id) "/revoquer" } {
                                                (csrf_field(frame.csrf))
                                                button.btn.btn-secondary type="submit" {
                                                    "Révoquer" span.sr-only { " l'abonnement " (if f.name.is_empty() { f.id.as_str() } else { f.name.as_str() }) }
                                                }
                                            }
                                        }
                                    }
                                }
                            }
                        }
                    }
                }
            }
        }))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn d(s: &str) -> NaiveDate {
        NaiveDate::parse_from_str(s, "%Y-%m-%d").unwrap()
    }

    #[test]
    fn periods() {
        let today = d("2027-03-24");
        let q = |vue: &str, mois: &str, semaine: &str| ViewQuery {
            vue: vue.into(),
            mois: mois.into(),
            semaine: semaine.into(),
            filtre: String::new(),
        };
        let (p, problem) = period(&q("", "", ""), today);
        assert_eq!(
            (p.first, p.last, p.week),
            (d("2027-03-01"), d("2027-03-31"), false)
        );
        assert!(problem.is_none());
        let (p, _) = period(&q("", "2027-02", ""), today);
        assert_eq!((p.first, p.last), (d("2027-02-01"), d("2027-02-28")));
        let (p, problem) = period(&q("", "2027-2", ""), today);
        assert_eq!(p.first, d("2027-03-01"));
        assert!(problem.unwrap().contains("AAAA-MM"));
        let (p, _) = period(&q("semaine", "", "2027-04-08"), today);
        assert_eq!(
            (p.first, p.last, p.week),
            (d("2027-04-05"), d("2027-04-11"), true)
        );
        let (p, _) = period(&q("semaine", "", "29/03/2027"), today);
        assert_eq!(p.first, d("2027-03-29"));
        let (p, problem) = period(&q("semaine", "", "bientôt"), today);
        assert_eq!(p.first, d("2027-03-22"));
        assert!(problem.is_some());
        assert_eq!(prev_month(d("2027-01-01")), d("2026-12-01"));
        assert_eq!(next_month(d("2027-12-01")), d("2028-01-01"));
    }

    #[test]
    fn occurrences_go_on_their_paris_days() {
        let o = |id: &str, start: &str, end: &str, all_day: bool| pb::Occurrence {
            event_id: id.into(),
            site: "alpha".into(),
            title: id.into(),
            start: start.into(),
            end: end.into(),
            all_day,
            status: "confirmed".into(),
            ..Default::default()
        };
        let names = BTreeMap::from([("alpha".to_string(), "Tiers-lieu alpha".to_string())]);
        let days = by_day(
            &[
                // 23:30 UTC is already the next day in Paris.
                o(
                    "late",
                    "2027-03-22T23:30:00Z",
                    "2027-03-23T00:30:00Z",
                    false,
                ),
                o(
                    "expo",
                    "2027-03-27T00:00:00+01:00",
                    "2027-03-30T00:00:00+02:00",
                    true,
                ),
                o(
                    "half",
                    "2027-04-06T14:30:00+02:00",
                    "2027-04-06T16:00:00+02:00",
                    false,
                ),
            ],
            &names,
            d("2027-03-22"),
            d("2027-04-11"),
        );
        let on = |day: &str| -> Vec<(String, String)> {
            days.get(&d(day))
                .map(|l| {
                    l.iter()
                        .map(|e| (e.event_id.clone(), e.when.clone()))
                        .collect()
                })
                .unwrap_or_default()
        };
        assert_eq!(on("2027-03-23"), [("late".into(), "0 h 30".into())]);
        assert!(on("2027-03-22").is_empty());
        for day in ["2027-03-27", "2027-03-28", "2027-03-29"] {
            assert_eq!(
                on(day),
                [("expo".into(), "toute la journée".into())],
                "{day}"
            );
        }
        assert!(on("2027-03-30").is_empty());
        assert_eq!(on("2027-04-06"), [("half".into(), "14 h 30".into())]);
        assert_eq!(days[&d("2027-04-06")][0].site, "Tiers-lieu alpha");
    }

    #[test]
    fn when_in_french() {
        let t = |s: &str| DateTime::parse_from_rfc3339(s).unwrap();
        assert_eq!(
            fr_when(
                &t("2027-03-16T14:00:00+01:00"),
                &t("2027-03-16T16:00:00+01:00"),
                false
            ),
            "mar. 16 mars 2027, 14 h – 16 h"
        );
        assert_eq!(
            fr_when(
                &t("2027-04-06T12:00:00Z"),
                &t("2027-04-06T14:30:00Z"),
                false
            ),
            "mar. 6 avr. 2027, 14 h – 16 h 30"
        );
        assert_eq!(
            fr_when(
                &t("2027-03-16T00:00:00+01:00"),
                &t("2027-03-17T00:00:00+01:00"),
                true
            ),
            "mar. 16 mars 2027 (toute la journée)"
        );
        let a = pb::Attendance {
            pupils: 12,
            teachers: 1,
            families: 0,
            partners: 2,
            recorded_at: String::new(),
        };
        assert_eq!(
            attendance_fr(&a),
            "12 élèves, 1 enseignant, 0 famille, 2 partenaires"
        );
    }

    #[test]
    fn links_keep_the_filter() {
        assert_eq!(
            view_link(true, d("2027-03-22"), "action:act-1"),
            "/calendrier?vue=semaine&semaine=2027-03-22&filtre=action%3Aact-1"
        );
        assert_eq!(
            view_link(false, d("2027-03-22"), ""),
            "/calendrier?mois=2027-03"
        );
    }

    /// The ids of the fields people fill in on `page` (not hidden), each
    /// with its label; every POST form with its CSRF token.
    fn check(name: &str, page: &str) {
        assert!(page.contains("<html lang=\"fr\">"), "{name}: lang");
        for tag in ["<input", "<select", "<textarea"] {
            for (i, _) in page.match_indices(tag) {
                let end = page[i..].find('>').map(|e| i + e).unwrap();
                let el = &page[i..end];
                if el.contains("type=\"hidden\"") {
                    continue;
                }
                let id = el
                    .split(" id=\"")
                    .nth(1)
                    .and_then(|r| r.split('"').next())
                    .unwrap_or_else(|| panic!("{name}: a field without id: {el}"));
                assert!(
                    page.contains(&format!("<label for=\"{id}\"")),
                    "{name}: no label for {id}"
                );
            }
        }
        for (i, _) in page.match_indices("<form") {
            let form = &page[i..i + page[i..].find("</form>").unwrap()];
            if form.contains("method=\"post\"") {
                assert!(form.contains("name=\"_csrf\""), "{name}: no _csrf");
            }
        }
    }

    #[test]
    fn every_field_has_its_label() {
        let person = crate::web::session::Person {
            email: "d@a.fr".into(),
            name: "Claire".into(),
            role: Role::Director,
        };
        let frame = Frame {
            site_name: "Tiers-lieu A",
            person: Some(&person),
            csrf: "jeton",
        };
        let actions = vec![("act-1".to_string(), "Robotique".to_string())];
        let names = BTreeMap::from([("alpha".to_string(), "Tiers-lieu alpha".to_string())]);
        let entry = Entry {
            event_id: "ev-1".into(),
            when: "14 h".into(),
            title: "Club <robotique>".into(),
            site: "Tiers-lieu alpha".into(),
            place: "Salle 2".into(),
            cancelled: true,
        };
        let days = BTreeMap::from([(d("2027-03-16"), vec![entry])]);
        let mut pages = Vec::new();
        for week in [false, true] {
            let p = Period {
                week,
                first: d(if week { "2027-03-15" } else { "2027-03-01" }),
                last: d(if week { "2027-03-21" } else { "2027-03-31" }),
            };
            let v = ViewPage {
                period: &p,
                today: d("2027-03-16"),
                days: &days,
                filtre: "action:act-1",
                actions: &actions,
                my_site: "Tiers-lieu alpha",
                can_add: true,
                director: true,
                problem: Some("Le mois « x » n'est pas de la forme AAAA-MM."),
            };
            pages.push(("vue", view_page(&frame, &v).into_string()));
        }
        let f = EventForm {
            titre: "Club".into(),
            jours: vec!["TU".into()],
            repetition: "semaine".into(),
            ..Default::default()
        };
        pages.push((
            "formulaire",
            form_page(&frame, None, &f, &actions, &["Corrigez.".into()]).into_string(),
        ));
        let t = |s: &str| DateTime::parse_from_rfc3339(s).unwrap();
        let event = pb::Event {
            id: "ev-1".into(),
            site: "alpha".into(),
            title: "Club".into(),
            kind: "workshop".into(),
            start: "2026-11-17T14:00:00+01:00".into(),
            end: "2026-11-17T16:00:00+01:00".into(),
            rrule: "FREQ=WEEKLY;BYDAY=TU".into(),
            exdates: vec!["2026-11-24T14:00:00+01:00".into()],
            audience: vec!["pupils".into()],
            action: "act-1".into(),
            status: "confirmed".into(),
            ..Default::default()
        };
        let past = [Sitting {
            start: t("2026-11-17T14:00:00+01:00"),
            end: t("2026-11-17T16:00:00+01:00"),
            day: "2026-11-17".into(),
            attendance: None,
        }];
        let v = EventPage {
            p: &event,
            upcoming: &[],
            past: &past,
            names: &names,
            action: Some("Robotique"),
            can_write: true,
        };
        pages.push((
            "événement",
            event_page(&frame, &v, &Notice::None).into_string(),
        ));
        let feeds = [pb::CalendarFeed {
            id: "ab-1".into(),
            name: "Accueil".into(),
            site: "alpha".into(),
            created_at: "2026-11-30T10:00:00Z".into(),
            ..Default::default()
        }];
        let v = FeedsPage {
            feeds: &feeds,
            names: &names,
            actions: &actions,
            my_site: "alpha",
            new_url: Some("http://x/calendrier/s.ics"),
            input: &FeedInput::default(),
        };
        pages.push((
            "abonnements",
            feeds_page(&frame, &v, &Notice::None).into_string(),
        ));
        for (name, page) in &pages {
            check(name, page);
        }
        assert!(pages[0].1.contains("Club &lt;robotique&gt;"), "escaped");
        assert!(pages[0].1.contains("Événements de l'action « Robotique »"));
        assert!(pages[3].1.contains("Sauf le"));
        assert!(pages[3].1.contains("mar. 24 nov. 2026"));
        assert!(pages[3].1.contains("id=\"f-2026-11-17-pupils\""));
        assert!(pages[4].1.contains("le site Tiers-lieu alpha"));
    }
}
