//! The calendar in a real browser (headless Chromium over WebDriver): a
//! weekly event with an exception added through the form lands on the right
//! days, at the same local time across the change to summer time; bad input
//! is refused in French and writes nothing; attendance per session; the
//! subscriptions a calendar application polls. Every page is checked with
//! axe-core (`shoot`).

mod common;

use common::browser::*;
use common::*;
use fantoccini::{Client, Locator};
use maillage::app::calendar as cal;
use maillage::auth::Role;
use maillage::pb;

const DIRECTOR: &str = "claire@ac-nancy-metz.fr";
const VIEWER: &str = "lecture@ac-nancy-metz.fr";

/// The text of the element `css`, waiting for it to appear.
async fn text_of(c: &Client, css: &str) -> String {
    let start = std::time::Instant::now();
    loop {
        if let Ok(e) = c.find(Locator::Css(css)).await {
            return e.text().await.unwrap();
        }
        if start.elapsed() > TIMEOUT {
            let body = c.source().await.unwrap_or_default();
            panic!("{css} never appeared; the page:\n{body}");
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
}

async fn count(c: &Client, css: &str) -> usize {
    c.find_all(Locator::Css(css)).await.unwrap().len()
}

fn events(node: &TestNode) -> usize {
    cal::all_events(&node.running().ctx).unwrap().len()
}

/// A director adds, through the form, a weekly event on Tuesdays 14 h–16 h
/// from 16/03/2027 to 13/04/2027 except 30/03/2027. Paris moves to summer
/// time on 28/03/2027: the sessions stay at 14 h local (13:00 UTC before,
/// 12:00 UTC after). Bad input is refused in French and writes nothing; a
/// viewer has no creation link and their forged POST is refused.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_weekly_event_with_an_exception_stays_at_14_h_across_summer_time() {
    let a = TestNode::start("alpha", &[]).await;
    account(&a, DIRECTOR, "Claire Martin", Role::Director).await;
    account(&a, VIEWER, "Léa Lecture", Role::Viewer).await;
    let ctx = a.running().ctx.clone();
    let base = a.running().web_url();
    // Another event in the week of the exception: what can appear does.
    let other = cal::add(
        &ctx,
        pb::EventInput {
            title: "Réunion du réseau".into(),
            kind: "réunion".into(),
            start: "2027-04-01T10:00".into(),
            end: "2027-04-01T12:00".into(),
            ..Default::default()
        },
    )
    .await
    .unwrap();

    let action = maillage::app::actions::create(
        &ctx,
        pb::CreateActionRequest {
            title: "Robotique itinérante".into(),
            axis: 2,
            description: "Des robots qui circulent entre les sites.".into(),
            start: "2027-01-05".into(),
            end: "2027-06-30".into(),
        },
    )
    .await
    .unwrap();

    let (_d, c) = browser().await;
    log_in(&c, &base, DIRECTOR, PASSWORD).await;
    page_with(&c, "À traiter").await;
    click(&c, "nav a[href='/calendrier']").await;
    page_with(&c, "Événements de tout le réseau").await;
    click(&c, "a[href='/evenements/nouveau']").await;
    page_with(&c, "Jours de la semaine").await;
    shoot(&c, "evenement-formulaire").await;

    // First with an end before the start and a malformed exception.
    type_into(&c, "titre", "Club robotique").await;
    type_into(&c, "lieu", "Salle 2").await;
    set_value(&c, "jour", "2027-03-16").await;
    set_value(&c, "debut", "14:00").await;
    set_value(&c, "fin", "13:00").await;
    click(&c, "#repetition-semaine").await;
    click(&c, "#jour-TU").await;
    click(&c, "#public-pupils").await;
    click(&c, &format!("#action option[value='{}']", action.id)).await;
    set_value(&c, "jusqu_au", "2027-04-13").await;
    type_into(&c, "exceptions", "30/03/2027, 31/02/2027").await;
    let before = events(&a);
    click(&c, "form.event-form button[type=submit]").await;
    let text = page_with(&c, "L'événement n'a pas été enregistré").await;
    for expected in [
        "L'heure de fin (13 h) doit être après l'heure de début (14 h)",
        "L'exception « 31/02/2027 » n'est pas une date",
    ] {
        assert!(text.contains(expected), "{expected} missing:\n{text}");
    }
    assert_eq!(events(&a), before, "nothing written");
    // The form comes back as it was filled.
    let value = |id: &'static str| {
        let c = c.clone();
        async move {
            c.find(Locator::Id(id))
                .await
                .unwrap()
                .prop("value")
                .await
                .unwrap()
                .unwrap_or_default()
        }
    };
    assert_eq!(value("titre").await, "Club robotique");
    assert_eq!(value("jour").await, "2027-03-16");
    assert_eq!(value("jusqu_au").await, "2027-04-13");
    assert!(c
        .find(Locator::Id("jour-TU"))
        .await
        .unwrap()
        .is_selected()
        .await
        .unwrap());
    assert!(c
        .find(Locator::Id("repetition-semaine"))
        .await
        .unwrap()
        .is_selected()
        .await
        .unwrap());
    shoot(&c, "evenement-formulaire-erreur").await;

    // Then corrected.
    set_value(&c, "fin", "16:00").await;
    type_into(&c, "exceptions", "30/03/2027").await;
    click(&c, "form.event-form button[type=submit]").await;
    let text = page_with(&c, "Événement enregistré.").await;
    assert_eq!(events(&a), before + 1);
    for expected in [
        "mar. 16 mars 2027, 14 h – 16 h",
        "chaque semaine le mardi, jusqu'au mar. 13 avr. 2027",
        "mar. 30 mars 2027",
        "Salle 2",
        "Tiers-lieu alpha",
        "élèves",
        "Robotique itinérante",
    ] {
        assert!(text.contains(expected), "{expected} missing:\n{text}");
    }
    let id = c
        .current_url()
        .await
        .unwrap()
        .path()
        .trim_start_matches("/evenements/")
        .to_string();
    assert!(id.starts_with("ev"), "{id}");
    shoot(&c, "evenement").await;

    // The use case: 14 h in Paris is 13:00 UTC in winter, 12:00 UTC in summer.
    let starts: Vec<String> = cal::occurrences(
        &ctx,
        &pb::CalendarQuery {
            from: "2027-03-01".into(),
            to: "2027-04-30".into(),
            ..Default::default()
        },
    )
    .unwrap()
    .occurrences
    .into_iter()
    .filter(|o| o.event_id == id)
    .map(|o| {
        chrono::DateTime::parse_from_rfc3339(&o.start)
            .unwrap()
            .with_timezone(&chrono::Utc)
            .to_rfc3339()
    })
    .collect();
    assert_eq!(
        starts,
        [
            "2027-03-16T13:00:00+00:00",
            "2027-03-23T13:00:00+00:00",
            "2027-04-06T12:00:00+00:00",
            "2027-04-13T12:00:00+00:00",
        ]
    );

    // The week of 22/03: on Tuesday 23 at 14 h.
    c.goto(&format!("{base}/calendrier?vue=semaine&semaine=2027-03-22"))
        .await
        .unwrap();
    page_with(&c, "Semaine du lun. 22 mars 2027 au dim. 28 mars 2027").await;
    let row = text_of(
        &c,
        &format!("section[data-day='2027-03-23'] li[data-event='{id}']"),
    )
    .await;
    assert!(
        row.contains("14 h Club robotique") && row.contains("Tiers-lieu alpha"),
        "{row}"
    );
    assert!(!row.contains("13 h") && !row.contains("15 h"), "{row}");
    assert_eq!(count(&c, &format!("li[data-event='{id}']")).await, 1);
    shoot(&c, "calendrier-semaine").await;

    // The week of 05/04 (asked by its Thursday), after the change: still 14 h.
    c.goto(&format!("{base}/calendrier?vue=semaine&semaine=2027-04-08"))
        .await
        .unwrap();
    page_with(&c, "Semaine du lun. 5 avr. 2027").await;
    let row = text_of(
        &c,
        &format!("section[data-day='2027-04-06'] li[data-event='{id}']"),
    )
    .await;
    assert!(row.contains("14 h Club robotique"), "{row}");
    assert!(!row.contains("13 h") && !row.contains("15 h"), "{row}");

    // The week of 29/03: the exception is absent, the other event present.
    c.goto(&format!("{base}/calendrier?vue=semaine&semaine=2027-03-29"))
        .await
        .unwrap();
    let text = page_with(&c, "Réunion du réseau").await;
    let row = text_of(
        &c,
        &format!(
            "section[data-day='2027-04-01'] li[data-event='{}']",
            other.id
        ),
    )
    .await;
    assert!(row.contains("10 h Réunion du réseau"), "{row}");
    assert_eq!(
        count(&c, &format!("li[data-event='{id}']")).await,
        0,
        "{text}"
    );
    assert!(!text.contains("Club robotique"), "{text}");

    // March: the 16th and the 23rd, not the 30th.
    c.goto(&format!("{base}/calendrier?mois=2027-03"))
        .await
        .unwrap();
    page_with(&c, "mars 2027").await;
    for day in ["2027-03-16", "2027-03-23"] {
        let cell = text_of(&c, &format!("td[data-day='{day}'] li[data-event='{id}']")).await;
        assert!(cell.contains("14 h Club robotique"), "{day}: {cell}");
    }
    assert_eq!(count(&c, "td[data-day='2027-03-30']").await, 1);
    assert_eq!(
        count(
            &c,
            &format!("td[data-day='2027-03-30'] li[data-event='{id}']")
        )
        .await,
        0
    );
    assert_eq!(count(&c, &format!("li[data-event='{id}']")).await, 2);
    shoot(&c, "calendrier-mois").await;
    // The month after, from the link, and the « my site » filter.
    click(&c, "nav.cal-nav a[href='/calendrier?mois=2027-04']").await;
    page_with(&c, "avril 2027").await;
    assert_eq!(count(&c, &format!("li[data-event='{id}']")).await, 2);
    c.goto(&format!("{base}/calendrier?mois=2027-04&filtre=site"))
        .await
        .unwrap();
    page_with(&c, "Événements de Tiers-lieu alpha").await;
    assert_eq!(count(&c, &format!("li[data-event='{id}']")).await, 2);
    // One action's events, chosen in the filter form: the other event is not
    // the action's.
    c.goto(&format!("{base}/calendrier?mois=2027-04"))
        .await
        .unwrap();
    page_with(&c, "Réunion du réseau").await;
    click(&c, &format!("#filtre option[value='action:{}']", action.id)).await;
    click(&c, "form.filters button[type=submit]").await;
    let text = page_with(&c, "Événements de l'action « Robotique itinérante »").await;
    assert_eq!(count(&c, &format!("li[data-event='{id}']")).await, 2);
    assert!(!text.contains("Réunion du réseau"), "{text}");
    assert!(text.contains("avril 2027"), "the month stays: {text}");

    // The event edited: the form comes filled with what it holds, the rule
    // included; a later end and a new title change nothing else.
    c.goto(&format!("{base}/evenements/{id}")).await.unwrap();
    page_with(&c, "Séances passées").await;
    click(&c, &format!("a[href='/evenements/{id}/modifier']")).await;
    page_with(&c, "Modifier « Club robotique »").await;
    assert_eq!(value("titre").await, "Club robotique");
    assert_eq!(value("jour").await, "2027-03-16");
    assert_eq!(value("debut").await, "14:00");
    assert_eq!(value("fin").await, "16:00");
    assert_eq!(value("jusqu_au").await, "2027-04-13");
    assert_eq!(value("exceptions").await, "30/03/2027");
    for checked in ["jour-TU", "repetition-semaine", "public-pupils"] {
        assert!(
            c.find(Locator::Id(checked))
                .await
                .unwrap()
                .is_selected()
                .await
                .unwrap(),
            "{checked}"
        );
    }
    shoot(&c, "evenement-modifier").await;
    type_into(&c, "titre", "Club robotique et codage").await;
    set_value(&c, "fin", "17:00").await;
    let before = events(&a);
    click(&c, "form.event-form button[type=submit]").await;
    let text = page_with(&c, "Événement modifié").await;
    assert_eq!(events(&a), before, "the same event, not another");
    for expected in [
        "Club robotique et codage",
        "mar. 16 mars 2027, 14 h – 17 h",
        "chaque semaine le mardi, jusqu'au mar. 13 avr. 2027",
        "mar. 30 mars 2027",
        "Robotique itinérante",
    ] {
        assert!(text.contains(expected), "{expected} missing:\n{text}");
    }

    // A viewer sees the event but no way to add one.
    let (_dv, cv) = browser().await;
    log_in(&cv, &base, VIEWER, PASSWORD).await;
    page_with(&cv, "À traiter").await;
    cv.goto(&format!("{base}/calendrier?mois=2027-03"))
        .await
        .unwrap();
    page_with(&cv, "Club robotique").await;
    assert_eq!(count(&cv, "a[href='/evenements/nouveau']").await, 0);
    assert_eq!(count(&cv, "a[href='/calendrier-abonnements']").await, 0);
    cv.goto(&format!("{base}/evenements/{id}")).await.unwrap();
    page_with(&cv, "Séances passées").await;
    assert_eq!(count(&cv, "form[action$='/annuler']").await, 0);
    // Their forged POST, with a valid session and token, is refused.
    let session = cv
        .get_named_cookie("maillage_session")
        .await
        .unwrap()
        .value()
        .to_string();
    let csrf = csrf_of(&cv.source().await.unwrap());
    let addr = a.running().web_addr.to_string();
    let before = events(&a);
    let (status, _, body) = http(
        &addr,
        "POST",
        "/evenements/nouveau",
        Some(&session),
        Some(&format!(
            "_csrf={csrf}&titre=x&genre=workshop&jour=2027-03-16&debut=14%3A00&fin=16%3A00&repetition=non"
        )),
    )
    .await;
    assert_eq!(status, 403, "{body}");
    assert!(body.contains("Action refusée"), "{body}");
    assert_eq!(events(&a), before, "nothing written");
    let (status, _, _) = http(&addr, "GET", "/evenements/nouveau", Some(&session), None).await;
    assert_eq!(status, 403);
    assert_eq!(
        count(&cv, &format!("a[href='/evenements/{id}/modifier']")).await,
        0
    );
    let (status, _, body) = http(
        &addr,
        "POST",
        &format!("/evenements/{id}/modifier"),
        Some(&session),
        Some(&format!(
            "_csrf={csrf}&titre=x&genre=workshop&jour=2027-03-16&debut=14%3A00&fin=16%3A00&repetition=non"
        )),
    )
    .await;
    assert_eq!(status, 403, "{body}");
    assert_eq!(
        cal::occurrences(
            &ctx,
            &pb::CalendarQuery {
                from: "2027-03-01".into(),
                to: "2027-04-30".into(),
                ..Default::default()
            },
        )
        .unwrap()
        .occurrences
        .iter()
        .filter(|o| o.event_id == id && o.title == "Club robotique et codage")
        .count(),
        4,
        "the viewer's edit changed nothing"
    );
    c.close().await.unwrap();
    cv.close().await.unwrap();
}

/// Attendance is entered for one past session on the event's page, shows
/// there and in the use case's data; a director creates a subscription for
/// a calendar application, whose URL serves the site's events until revoked.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn attendance_per_session_and_subscriptions() {
    let a = TestNode::start("alpha", &[]).await;
    account(&a, DIRECTOR, "Claire Martin", Role::Director).await;
    let ctx = a.running().ctx.clone();
    let base = a.running().web_url();
    let first = (chrono::Utc::now() - chrono::Duration::days(15))
        .with_timezone(&chrono_tz::Europe::Paris)
        .date_naive();
    let ev = cal::add(
        &ctx,
        pb::EventInput {
            title: "Atelier couture".into(),
            kind: "atelier".into(),
            start: format!("{first}T10:00"),
            end: format!("{first}T12:00"),
            rrule: "FREQ=WEEKLY;COUNT=3".into(),
            ..Default::default()
        },
    )
    .await
    .unwrap();
    let second = first + chrono::Duration::days(7);

    let tomorrow = first + chrono::Duration::days(16);
    let soon = cal::add(
        &ctx,
        pb::EventInput {
            title: "Portes ouvertes".into(),
            kind: "manifestation".into(),
            start: format!("{tomorrow}T17:30"),
            end: format!("{tomorrow}T19:00"),
            ..Default::default()
        },
    )
    .await
    .unwrap();

    let (_d, c) = browser().await;
    log_in(&c, &base, DIRECTOR, PASSWORD).await;
    page_with(&c, "Portes ouvertes").await;
    // The dashboard's events link to their pages.
    click(&c, &format!("a[href='/evenements/{}']", soon.id)).await;
    let text = page_with(&c, "Prochaines séances").await;
    assert!(text.contains("17 h 30 – 19 h"), "{text}");
    c.goto(&format!("{base}/evenements/{}", ev.id))
        .await
        .unwrap();
    page_with(&c, "Séances passées et fréquentation").await;
    assert_eq!(count(&c, "li[data-occurrence] form.attendance").await, 3);
    type_into(&c, &format!("f-{second}-pupils"), "14").await;
    type_into(&c, &format!("f-{second}-teachers"), "2").await;
    click(
        &c,
        &format!("li[data-occurrence='{second}'] form.attendance button"),
    )
    .await;
    page_with(&c, "Fréquentation enregistrée.").await;
    let row = text_of(&c, &format!("li[data-occurrence='{second}']")).await;
    assert!(
        row.contains("Fréquentation : 14 élèves, 2 enseignants, 0 famille, 0 partenaire"),
        "{row}"
    );
    let other = text_of(&c, &format!("li[data-occurrence='{first}']")).await;
    assert!(other.contains("Fréquentation non saisie"), "{other}");
    shoot(&c, "evenement-frequentation").await;
    // In the use case's data, on that session only.
    let stored = a
        .calendar()
        .await
        .get_event(pb::EventId { id: ev.id.clone() })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(stored.occurrence_attendance.len(), 1);
    let o = &stored.occurrence_attendance[0];
    assert_eq!(o.day, second.to_string());
    let counts = o.attendance.as_ref().unwrap();
    assert_eq!((counts.pupils, counts.teachers), (14, 2));
    // A count that is not a number (the browser's number field lets none
    // through, a plain client does): said in French, nothing written.
    let session = c
        .get_named_cookie("maillage_session")
        .await
        .unwrap()
        .value()
        .to_string();
    let csrf = csrf_of(&c.source().await.unwrap());
    let addr = a.running().web_addr.to_string();
    let (status, _, body) = http(
        &addr,
        "POST",
        &format!("/evenements/{}/frequentation", ev.id),
        Some(&session),
        Some(&format!("_csrf={csrf}&seance={first}&families=beaucoup")),
    )
    .await;
    assert_eq!(status, 400, "{body}");
    assert!(
        body.contains("« beaucoup » n'est pas un nombre entier"),
        "{body}"
    );
    let again = a
        .calendar()
        .await
        .get_event(pb::EventId { id: ev.id.clone() })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(again.occurrence_attendance, stored.occurrence_attendance);

    // A subscription to the site's events.
    c.goto(&format!("{base}/calendrier")).await.unwrap();
    click(&c, "a[href='/calendrier-abonnements']").await;
    page_with(&c, "Nouvel abonnement").await;
    type_into(&c, "nom", "Agenda de l'accueil").await;
    click(&c, "#portee option[value='site:alpha']").await;
    click(&c, "form[action='/calendrier-abonnements'] button").await;
    page_with(&c, "Abonnement créé").await;
    let url = c
        .find(Locator::Id("nouvelle-adresse"))
        .await
        .unwrap()
        .prop("value")
        .await
        .unwrap()
        .unwrap();
    assert!(
        url.starts_with(&format!("{base}/calendrier/")) && url.ends_with(".ics"),
        "{url}"
    );
    let row = text_of(&c, "tr[data-feed]").await;
    assert!(
        row.contains("Agenda de l'accueil") && row.contains("le site Tiers-lieu alpha"),
        "{row}"
    );
    shoot(&c, "calendrier-abonnements").await;
    let path = url[base.len()..].to_string();
    let (status, _, body) = http(&addr, "GET", &path, None, None).await;
    assert_eq!(status, 200, "{body}");
    assert!(body.contains("BEGIN:VCALENDAR") && body.contains("Atelier couture"));
    click(&c, "tr[data-feed] form button").await;
    page_with(&c, "Abonnement révoqué").await;
    assert!(text_of(&c, "tr[data-feed]").await.contains("révoqué le"));
    let (status, _, _) = http(&addr, "GET", &path, None, None).await;
    assert_eq!(status, 404);

    // Cancelling the event, from its page.
    c.goto(&format!("{base}/evenements/{}", ev.id))
        .await
        .unwrap();
    click(&c, "form[action$='/annuler'] button").await;
    let text = page_with(&c, "Événement annulé").await;
    assert!(text.contains("annulé"), "{text}");
    assert_eq!(count(&c, "form.attendance").await, 0);
    c.close().await.unwrap();
}
