//! The network calendar over real nodes: events, recurrence across summer
//! time, exceptions, attendance, permissions and the .ics export.

mod common;

use common::*;
use maillage::domain::site::Role;
use maillage::pb;
use tonic::Code;

fn input(title: &str, start: &str, end: &str) -> pb::EventInput {
    pb::EventInput {
        title: title.into(),
        kind: "atelier".into(),
        start: start.into(),
        end: end.into(),
        place: "Salle polyvalente".into(),
        audience: vec!["élèves".into(), "families".into()],
        ..Default::default()
    }
}

async fn window(node: &TestNode, from: &str, to: &str) -> Vec<pb::Occurrence> {
    node.calendar()
        .await
        .occurrences(pb::CalendarQuery {
            from: from.into(),
            to: to.into(),
            ..Default::default()
        })
        .await
        .unwrap()
        .into_inner()
        .occurrences
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn weekly_event_keeps_local_time_across_summer_time_and_skips_exceptions() {
    let a = TestNode::start("metz", &[]).await;
    let b = TestNode::start("thionville", &[&a]).await;
    // Summer time starts on Sunday 28 March 2027.
    let mut weekly = input("Club robotique", "2027-03-17T10:00", "2027-03-17T12:00");
    weekly.rrule = "FREQ=WEEKLY;COUNT=4".into();
    weekly.exdates = vec!["2027-03-24T10:00".into()];
    let e = a
        .calendar()
        .await
        .add_event(weekly)
        .await
        .unwrap()
        .into_inner();
    assert_eq!(e.kind, "workshop");
    assert_eq!(e.audience, vec!["pupils", "families"]);
    assert_eq!(e.site, "metz");
    converge(&[&a, &b]).await;

    let occ = window(&b, "2027-03-01", "2027-04-30").await;
    let starts: Vec<(&str, &str)> = occ
        .iter()
        .map(|o| (o.start.as_str(), o.end.as_str()))
        .collect();
    assert_eq!(
        starts,
        vec![
            ("2027-03-17T10:00:00+01:00", "2027-03-17T12:00:00+01:00"),
            ("2027-03-31T10:00:00+02:00", "2027-03-31T12:00:00+02:00"),
            ("2027-04-07T10:00:00+02:00", "2027-04-07T12:00:00+02:00"),
        ]
    );
    assert!(occ.iter().all(|o| o.recurring && o.event_id == e.id));

    // An event across the night of the change lasts 1 h 30 in real time.
    let night = a
        .calendar()
        .await
        .add_event(input(
            "Nuit des étoiles",
            "2027-03-28T01:30",
            "2027-03-28T04:00",
        ))
        .await
        .unwrap()
        .into_inner();
    let occ = window(&a, "2027-03-28", "2027-03-28").await;
    let o = occ.iter().find(|o| o.event_id == night.id).unwrap();
    assert_eq!(o.start, "2027-03-28T01:30:00+01:00");
    assert_eq!(o.end, "2027-03-28T04:00:00+02:00");
    let start = chrono::DateTime::parse_from_rfc3339(&o.start).unwrap();
    let end = chrono::DateTime::parse_from_rfc3339(&o.end).unwrap();
    assert_eq!((end - start).num_minutes(), 90);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn events_belong_to_their_site_and_network_events_to_the_academy() {
    let academy = TestNode::start_with("rectorat", Role::Academy, &[], |_| {}).await;
    let a = TestNode::start("metz", &[&academy]).await;
    let b = TestNode::start("thionville", &[&academy]).await;
    let mut seminar = input("Séminaire des directeurs", "2027-01-14", "2027-01-15");
    seminar.kind = "séminaire".into();
    seminar.all_day = true;
    let s = academy
        .calendar()
        .await
        .add_event(seminar)
        .await
        .unwrap()
        .into_inner();
    assert_eq!(s.site, "network");
    let e = a
        .calendar()
        .await
        .add_event(input(
            "Forum des familles",
            "2027-01-20T14:00:00+01:00",
            "2027-01-20T17:00:00+01:00",
        ))
        .await
        .unwrap()
        .into_inner();
    converge(&[&academy, &a, &b]).await;

    let occ = window(&b, "2027-01-01", "2027-01-31").await;
    assert_eq!(occ.len(), 2);
    assert_eq!(occ[0].start, "2027-01-14T00:00:00+01:00");
    assert_eq!(
        occ[0].end, "2027-01-16T00:00:00+01:00",
        "all-day end includes its last day"
    );
    assert!(occ[0].all_day);

    let mut cb = b.calendar().await;
    let before = (a.digest(), b.digest());
    let err = cb
        .update_event(pb::UpdateEventRequest {
            id: e.id.clone(),
            title: Some("pris".into()),
            ..Default::default()
        })
        .await
        .unwrap_err();
    assert_eq!(err.code(), Code::PermissionDenied);
    let err = cb
        .cancel_event(pb::EventId { id: s.id.clone() })
        .await
        .unwrap_err();
    assert_eq!(err.code(), Code::PermissionDenied);
    assert_eq!((a.digest(), b.digest()), before);

    let mut ca = a.calendar().await;
    let up = ca
        .update_event(pb::UpdateEventRequest {
            id: e.id.clone(),
            place: Some("Médiathèque".into()),
            ..Default::default()
        })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(up.sequence, e.sequence + 1);
    assert_eq!(up.uid, e.uid, "the UID is stable");
    let c = ca
        .cancel_event(pb::EventId { id: e.id.clone() })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(c.status, "cancelled");
    assert_eq!(c.sequence, e.sequence + 2);
    let err = ca
        .cancel_event(pb::EventId { id: e.id.clone() })
        .await
        .unwrap_err();
    assert_eq!(err.code(), Code::FailedPrecondition);

    let filtered = b
        .calendar()
        .await
        .occurrences(pb::CalendarQuery {
            from: "2027-01-01".into(),
            to: "2027-01-31".into(),
            site: "network".into(),
            ..Default::default()
        })
        .await
        .unwrap()
        .into_inner()
        .occurrences;
    assert_eq!(filtered.len(), 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn attendance_is_recorded_after_the_event() {
    let a = TestNode::start("metz", &[]).await;
    let mut ca = a.calendar().await;
    let past = ca
        .add_event(input(
            "Atelier passé",
            "2026-01-07T14:00",
            "2026-01-07T16:00",
        ))
        .await
        .unwrap()
        .into_inner();
    let future = ca
        .add_event(input(
            "Atelier à venir",
            "2030-01-07T14:00",
            "2030-01-07T16:00",
        ))
        .await
        .unwrap()
        .into_inner();
    let att = |id: &str, n: i64| pb::AttendanceInput {
        id: id.into(),
        pupils: 24,
        teachers: 2,
        families: n,
        partners: 1,
        ..Default::default()
    };
    let before = a.digest();
    assert_eq!(
        ca.record_attendance(att(&future.id, 3))
            .await
            .unwrap_err()
            .code(),
        Code::FailedPrecondition
    );
    assert_eq!(
        ca.record_attendance(att(&past.id, -3))
            .await
            .unwrap_err()
            .code(),
        Code::InvalidArgument
    );
    assert_eq!(a.digest(), before);
    let e = ca
        .record_attendance(att(&past.id, 3))
        .await
        .unwrap()
        .into_inner();
    let got = e.attendance.unwrap();
    assert_eq!(
        (got.pupils, got.teachers, got.families, got.partners),
        (24, 2, 3, 1)
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_event_input_gets_a_clear_error_and_changes_nothing() {
    let a = TestNode::start("metz", &[]).await;
    let mut ca = a.calendar().await;
    let before = a.digest();
    let mut cases = vec![
        input("Fin avant début", "2027-02-01T10:00", "2027-02-01T09:00"),
        input("", "2027-02-01T10:00", "2027-02-01T11:00"),
        input("Date illisible", "demain 10h", "2027-02-01T11:00"),
    ];
    let mut bad_rrule = input("Règle invalide", "2027-02-01T10:00", "2027-02-01T11:00");
    bad_rrule.rrule = "FREQ=SOMETIMES".into();
    cases.push(bad_rrule);
    let mut bad_kind = input("Type inconnu", "2027-02-01T10:00", "2027-02-01T11:00");
    bad_kind.kind = "pique-nique".into();
    cases.push(bad_kind);
    let mut bad_audience = input("Public inconnu", "2027-02-01T10:00", "2027-02-01T11:00");
    bad_audience.audience = vec!["touristes".into()];
    cases.push(bad_audience);
    for case in cases {
        let title = case.title.clone();
        let err = ca.add_event(case).await.unwrap_err();
        assert_eq!(
            err.code(),
            Code::InvalidArgument,
            "{title}: {}",
            err.message()
        );
        assert!(!err.message().is_empty());
    }
    let mut unknown_action = input("Action inconnue", "2027-02-01T10:00", "2027-02-01T11:00");
    unknown_action.action = "ac-inconnue".into();
    assert_eq!(
        ca.add_event(unknown_action).await.unwrap_err().code(),
        Code::NotFound
    );
    assert_eq!(
        ca.get_event(pb::EventId {
            id: "ev-inconnu".into()
        })
        .await
        .unwrap_err()
        .code(),
        Code::NotFound
    );
    let err = ca
        .occurrences(pb::CalendarQuery {
            from: "2027-03-01".into(),
            to: "2027-02-01".into(),
            ..Default::default()
        })
        .await
        .unwrap_err();
    assert_eq!(err.code(), Code::InvalidArgument);
    assert_eq!(a.digest(), before);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn exported_calendar_parses_back_with_an_independent_parser() {
    let a = TestNode::start("metz", &[]).await;
    let mut weekly = input("Club robotique", "2027-03-17T10:00", "2027-03-17T12:00");
    weekly.rrule = "FREQ=WEEKLY;COUNT=4".into();
    weekly.exdates = vec!["2027-03-24T10:00".into()];
    let mut ca = a.calendar().await;
    let e = ca.add_event(weekly).await.unwrap().into_inner();
    let e = ca
        .update_event(pb::UpdateEventRequest {
            id: e.id.clone(),
            place: Some("Fablab".into()),
            ..Default::default()
        })
        .await
        .unwrap()
        .into_inner();
    let ics = ca
        .export_ics(pb::CalendarQuery {
            site: "metz".into(),
            ..Default::default()
        })
        .await
        .unwrap()
        .into_inner()
        .content;
    let mut parser = ical::IcalParser::new(std::io::BufReader::new(ics.as_bytes()));
    let cal = parser
        .next()
        .expect("one calendar")
        .expect("valid iCalendar");
    assert_eq!(cal.events.len(), 1);
    let props = &cal.events[0].properties;
    let get = |name: &str| {
        props
            .iter()
            .find(|p| p.name == name)
            .unwrap_or_else(|| panic!("{name} missing"))
    };
    assert_eq!(get("UID").value.as_deref(), Some(e.uid.as_str()));
    assert_eq!(get("SEQUENCE").value.as_deref(), Some("1"));
    assert_eq!(get("RRULE").value.as_deref(), Some("FREQ=WEEKLY;COUNT=4"));
    let dtstart = get("DTSTART");
    assert_eq!(dtstart.value.as_deref(), Some("20270317T100000"));
    let tzid = dtstart
        .params
        .as_ref()
        .and_then(|ps| ps.iter().find(|(k, _)| k == "TZID"))
        .map(|(_, v)| v[0].clone());
    assert_eq!(tzid.as_deref(), Some("Europe/Paris"));
    assert!(get("EXDATE")
        .value
        .as_deref()
        .unwrap()
        .contains("20270324T100000"));
    assert!(ics.contains("BEGIN:VTIMEZONE"));
}

/// A subscription URL serves a site's calendar to calendar applications,
/// with a secret that only its hash keeps, until it is revoked.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_subscription_serves_the_calendar_until_revoked() {
    let metz = TestNode::start("metz", &[]).await;
    let thio = TestNode::start("thionville", &[&metz]).await;
    for (node, title) in [(&metz, "Club robotique"), (&thio, "Aide aux devoirs")] {
        node.calendar()
            .await
            .add_event(input(title, "2027-01-13T14:00", "2027-01-13T16:00"))
            .await
            .unwrap();
    }
    converge(&[&metz, &thio]).await;
    let out = ok(&metz.cli(&[
        "calendar",
        "feed",
        "add",
        "--site",
        "metz",
        "--name",
        "agenda de l'accueil",
    ]));
    let url = out
        .lines()
        .find(|l| l.contains("/calendrier/"))
        .unwrap_or_else(|| panic!("{out}"))
        .trim()
        .to_string();
    assert!(url.ends_with(".ics"), "{url}");
    let secret = url
        .rsplit('/')
        .next()
        .unwrap()
        .trim_end_matches(".ics")
        .to_string();
    let ctx = &metz.running().ctx;
    let ics = maillage::app::feeds::ics(ctx, &secret).unwrap();
    assert!(ics.contains("BEGIN:VCALENDAR") && ics.contains("Club robotique"));
    assert!(!ics.contains("Aide aux devoirs"), "only the site's events");
    // Only a hash of the secret is stored.
    let stored = ctx.docs.store().scan_meta("feed/").unwrap();
    assert!(stored
        .iter()
        .all(|(_, v)| !String::from_utf8_lossy(v).contains(&secret)));

    let list = ok(&metz.cli(&["calendar", "feed", "list"]));
    assert!(
        list.contains("agenda de l'accueil") && list.contains("actif") && !list.contains(&secret),
        "{list}"
    );
    let id = list
        .lines()
        .find_map(|l| l.split_whitespace().find(|w| w.starts_with("ab-")))
        .unwrap()
        .to_string();
    ok(&metz.cli(&["calendar", "feed", "revoke", &id]));
    assert!(maillage::app::feeds::ics(ctx, &secret).is_err());
    assert!(ok(&metz.cli(&["calendar", "feed", "list"])).contains("révoqué le"));

    // A whole-network subscription has both sites' events; bad scopes are
    // refused and create nothing.
    let all = ok(&metz.cli(&["calendar", "feed", "add"]));
    let secret = all
        .lines()
        .find(|l| l.contains("/calendrier/"))
        .unwrap()
        .trim()
        .rsplit('/')
        .next()
        .unwrap()
        .trim_end_matches(".ics")
        .to_string();
    let ics = maillage::app::feeds::ics(ctx, &secret).unwrap();
    assert!(ics.contains("Club robotique") && ics.contains("Aide aux devoirs"));
    for args in [
        vec!["calendar", "feed", "add", "--site", "nulle-part"],
        vec![
            "calendar", "feed", "add", "--site", "metz", "--action", "ac-x",
        ],
    ] {
        let out = metz.cli(&args);
        assert!(!out.status.success(), "{args:?}");
    }
    let feeds = ctx.docs.store().scan_meta("feed/").unwrap();
    assert_eq!(feeds.len(), 2);
}
