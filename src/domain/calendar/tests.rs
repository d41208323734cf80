use super::*;

const NOW: &str = "2026-01-05T09:00:00Z";

fn input(start: &str, end: &str) -> EventInput {
    EventInput {
        title: "Atelier robotique".into(),
        kind: "atelier".into(),
        start: start.into(),
        end: end.into(),
        audience: vec!["élèves".into(), "Enseignants".into()],
        place: "Tiers-lieu de Longwy, salle 2".into(),
        participants: vec!["site-b".into(), " site-b ".into(), "site-c".into()],
        ..Default::default()
    }
}

fn weekly(rrule: &str) -> EventInput {
    EventInput {
        rrule: Some(rrule.into()),
        ..input("2026-10-07T10:00", "2026-10-07T12:00")
    }
}

fn ev(i: &EventInput) -> Event {
    new_event(i, "ev-1@maillage", "site-a", NOW).unwrap()
}

fn invalid(i: &EventInput) -> String {
    match new_event(i, "ev-1@maillage", "site-a", NOW) {
        Err(Error::InvalidArgument(m)) => m,
        other => panic!("expected InvalidArgument, got {other:?}"),
    }
}

fn utc(s: &str) -> DateTime<Utc> {
    time::parse_bound(s, false).unwrap().with_timezone(&Utc)
}

fn utc_end(s: &str) -> DateTime<Utc> {
    time::parse_bound(s, true).unwrap().with_timezone(&Utc)
}

fn occ(e: &Event, from: &str, to: &str, limit: usize) -> Vec<(String, String)> {
    occurrences(e, utc(from), utc_end(to), limit)
        .unwrap()
        .iter()
        .map(|(s, e)| (time::rfc3339(s), time::rfc3339(e)))
        .collect()
}

#[test]
fn new_event_normalises_input() {
    let e = ev(&input("2026-12-01T10:00", "2026-12-01 12:30"));
    assert_eq!(e.kind, "workshop");
    assert_eq!(e.start, "2026-12-01T10:00:00+01:00");
    assert_eq!(e.end, "2026-12-01T12:30:00+01:00");
    assert_eq!(e.audience, vec!["pupils", "teachers"]);
    assert_eq!(e.participants, vec!["site-b", "site-c"]);
    assert_eq!(e.status, CONFIRMED);
    assert_eq!(e.organiser, "site-a");
    assert_eq!(e.sequence, 0);
    assert_eq!(e.created_at, NOW);
    assert!(e.rrule.is_empty() && e.exdates.is_empty() && e.attendance.is_none());
    // An instant with another offset is stored with the Paris one.
    let e = ev(&input("2026-07-01T08:00:00Z", "2026-07-01T10:00:00Z"));
    assert_eq!(e.start, "2026-07-01T10:00:00+02:00");
}

#[test]
fn kind_and_audience_aliases() {
    for (given, want) in [
        ("Séminaire", "seminar"),
        ("seminaire", "seminar"),
        ("ATELIER", "workshop"),
        ("manifestation", "exhibition"),
        ("Réunion", "meeting"),
        ("reunion", "meeting"),
        ("formation", "training"),
        ("action itinérante", "roving_action"),
        ("Action Itinerante", "roving_action"),
        ("action_itinerante", "roving_action"),
        ("roving_action", "roving_action"),
        ("meeting", "meeting"),
    ] {
        let i = EventInput {
            kind: given.into(),
            ..input("2026-12-01T10:00", "2026-12-01T11:00")
        };
        assert_eq!(ev(&i).kind, want, "{given}");
    }
    let i = EventInput {
        audience: vec![
            "Élèves".into(),
            "eleves".into(),
            "familles".into(),
            "PARTENAIRES".into(),
            "teachers".into(),
        ],
        ..input("2026-12-01T10:00", "2026-12-01T11:00")
    };
    assert_eq!(
        ev(&i).audience,
        vec!["pupils", "families", "partners", "teachers"]
    );
}

#[test]
fn new_event_validation_errors() {
    let ok = input("2026-12-01T10:00", "2026-12-01T12:00");
    let m = invalid(&input("2026-12-01T12:00", "2026-12-01T10:00"));
    assert!(
        m.starts_with("fin (--end) :") && m.contains("après le début"),
        "{m}"
    );
    let m = invalid(&input("2026-12-01T10:00", "2026-12-01T10:00"));
    assert!(m.starts_with("fin (--end) :"), "{m}");
    assert!(m.contains("mar. 1 déc. 2026, 10:00"), "{m}");
    let m = invalid(&EventInput {
        rrule: Some("FREQ=SOMETIMES".into()),
        ..ok.clone()
    });
    assert!(m.starts_with("rrule :") && m.contains("FREQ=WEEKLY"), "{m}");
    let m = invalid(&EventInput {
        rrule: Some("FREQ=WEEKLY;BYDAY=XX".into()),
        ..ok.clone()
    });
    assert!(m.starts_with("rrule :"), "{m}");
    let m = invalid(&EventInput {
        rrule: Some("FREQ=HOURLY".into()),
        ..ok.clone()
    });
    assert!(m.contains("HOURLY"), "{m}");
    let m = invalid(&EventInput {
        rrule: Some("FREQ=DAILY;UNTIL=20261101".into()),
        ..ok.clone()
    });
    assert!(m.starts_with("rrule :"), "UNTIL before start: {m}");
    let m = invalid(&EventInput {
        kind: "concert".into(),
        ..ok.clone()
    });
    assert!(
        m.starts_with("kind « concert » inconnu") && m.contains("atelier"),
        "{m}"
    );
    let m = invalid(&EventInput {
        kind: " ".into(),
        ..ok.clone()
    });
    assert!(m.contains("kind est obligatoire"), "{m}");
    let m = invalid(&EventInput {
        audience: vec!["parents".into()],
        ..ok.clone()
    });
    assert!(
        m.starts_with("audience « parents » inconnu") && m.contains("familles"),
        "{m}"
    );
    let m = invalid(&input("demain 10h", "2026-12-01T12:00"));
    assert!(
        m.starts_with("début (--start) :") && m.contains("JJ/MM/AAAA"),
        "{m}"
    );
    let m = invalid(&input("2026-12-01", "2026-12-01T12:00"));
    assert!(
        m.starts_with("début (--start) :") && m.contains("--all-day"),
        "{m}"
    );
    // The date as typed, with a time the command accepts.
    let m = invalid(&input("16/12/2026 14:00", "18/12/2026"));
    assert!(
        m.starts_with("fin (--end) :") && m.contains("« 18/12/2026 10:00 »"),
        "{m}"
    );
    assert!(!m.contains("T10:00") && !m.contains("all_day"), "{m}");
    let m = invalid(&input("2026-03-29T02:30", "2026-03-29T04:00"));
    assert!(
        m.starts_with("début (--start) :") && m.contains("n'existe pas"),
        "{m}"
    );
    let m = invalid(&input("2026-12-01T10:00", ""));
    assert!(m.contains("fin (--end) obligatoire"), "{m}");
    let m = invalid(&EventInput {
        title: "  ".into(),
        ..ok.clone()
    });
    assert!(m.contains("title"), "{m}");
    let m = invalid(&EventInput {
        title: "x".repeat(201),
        ..ok.clone()
    });
    assert!(m.contains("title"), "{m}");
    let m = invalid(&EventInput {
        exdates: vec!["2026-12-08T10:00".into()],
        ..ok.clone()
    });
    assert!(m.starts_with("exdates :") && m.contains("rrule"), "{m}");
    let m = invalid(&EventInput {
        rrule: Some("FREQ=WEEKLY".into()),
        exdates: vec!["le 8".into()],
        ..ok.clone()
    });
    assert!(m.starts_with("exdates :"), "{m}");
    // All-day: dates, last day not before the first.
    let day = EventInput {
        all_day: true,
        ..input("2026-12-02", "2026-12-01")
    };
    let m = invalid(&day);
    assert!(
        m.starts_with("fin (--end) :") && m.contains("dernier jour"),
        "{m}"
    );
    let m = invalid(&EventInput {
        all_day: true,
        ..input("2026-12-01T10:00", "2026-12-01")
    });
    assert!(
        m.starts_with("début (--start) :") && m.contains("sans heure"),
        "{m}"
    );
    let m = invalid(&EventInput {
        all_day: true,
        rrule: Some("FREQ=DAILY;BYHOUR=10".into()),
        ..input("2026-12-01", "2026-12-01")
    });
    assert!(m.contains("BYHOUR"), "{m}");
    assert!(matches!(
        new_event(&ok, " ", "site-a", NOW),
        Err(Error::InvalidArgument(_))
    ));
}

#[test]
fn rrule_is_normalised() {
    let e = ev(&weekly("rrule:freq=weekly;byday=we;count=10"));
    assert_eq!(e.rrule, "FREQ=WEEKLY;BYDAY=WE;COUNT=10");
    // Infinite rules are fine.
    assert_eq!(ev(&weekly("FREQ=WEEKLY")).rrule, "FREQ=WEEKLY");
    // A local UNTIL becomes UTC for a timed event; a date includes its day.
    let e = ev(&weekly("FREQ=WEEKLY;UNTIL=20261104T100000"));
    assert_eq!(e.rrule, "FREQ=WEEKLY;UNTIL=20261104T090000Z");
    let e = ev(&weekly("FREQ=WEEKLY;UNTIL=2026-11-04"));
    assert_eq!(e.rrule, "FREQ=WEEKLY;UNTIL=20261104T225959Z");
    let e = ev(&weekly("FREQ=WEEKLY;UNTIL=20261104T090000Z"));
    assert_eq!(e.rrule, "FREQ=WEEKLY;UNTIL=20261104T090000Z");
    assert_eq!(occ(&e, "2026-10-01", "2026-12-31", 100).len(), 5);
    // All-day events keep a date.
    let day = EventInput {
        all_day: true,
        rrule: Some("FREQ=WEEKLY;UNTIL=20261104T220000Z".into()),
        ..input("2026-10-07", "2026-10-07")
    };
    let e = ev(&day);
    assert_eq!(e.rrule, "FREQ=WEEKLY;UNTIL=20261104");
    assert_eq!(occ(&e, "2026-10-01", "2026-12-31", 100).len(), 5);
}

#[test]
fn weekly_at_ten_stays_at_ten_across_the_end_of_summer_time() {
    // Wednesdays 10:00–12:00; summer time ends on Sunday 25 October 2026.
    let e = ev(&weekly("FREQ=WEEKLY;BYDAY=WE;COUNT=6"));
    let got = occ(&e, "2026-10-01", "2026-12-31", 100);
    let want = [
        ("2026-10-07T10:00:00+02:00", "2026-10-07T12:00:00+02:00"),
        ("2026-10-14T10:00:00+02:00", "2026-10-14T12:00:00+02:00"),
        ("2026-10-21T10:00:00+02:00", "2026-10-21T12:00:00+02:00"),
        ("2026-10-28T10:00:00+01:00", "2026-10-28T12:00:00+01:00"),
        ("2026-11-04T10:00:00+01:00", "2026-11-04T12:00:00+01:00"),
        ("2026-11-11T10:00:00+01:00", "2026-11-11T12:00:00+01:00"),
    ];
    let want: Vec<(String, String)> = want
        .iter()
        .map(|(a, b)| (a.to_string(), b.to_string()))
        .collect();
    assert_eq!(got, want);
    // Same absolute duration each week here: two hours.
    for (s, e) in occurrences(&e, utc("2026-10-01"), utc("2027-01-01"), 100).unwrap() {
        assert_eq!(e - s, Duration::hours(2));
    }
}

#[test]
fn one_exdate_skips_exactly_that_occurrence() {
    let mut i = weekly("FREQ=WEEKLY;COUNT=5");
    i.exdates = vec!["2026-10-28T10:00".into()];
    let e = ev(&i);
    assert_eq!(e.exdates, vec!["2026-10-28T10:00:00+01:00"]);
    let starts: Vec<String> = occ(&e, "2026-10-01", "2026-12-31", 100)
        .into_iter()
        .map(|(s, _)| s)
        .collect();
    assert_eq!(
        starts,
        [
            "2026-10-07T10:00:00+02:00",
            "2026-10-14T10:00:00+02:00",
            "2026-10-21T10:00:00+02:00",
            "2026-11-04T10:00:00+01:00",
        ]
    );
    // A bare date names the occurrence of that day; an instant in UTC works too.
    i.exdates = vec!["2026-10-14".into(), "2026-10-21T08:00:00Z".into()];
    let e = ev(&i);
    assert_eq!(
        e.exdates,
        vec!["2026-10-14T10:00:00+02:00", "2026-10-21T10:00:00+02:00"]
    );
    assert_eq!(occ(&e, "2026-10-01", "2026-12-31", 100).len(), 3);
}

#[test]
fn event_across_the_spring_forward_night_has_its_absolute_duration() {
    // 01:30 (+01:00) to 04:00 (+02:00): 1 h 30 of real time.
    let e = ev(&input("2026-03-29T01:30", "2026-03-29T04:00"));
    assert_eq!(e.start, "2026-03-29T01:30:00+01:00");
    assert_eq!(e.end, "2026-03-29T04:00:00+02:00");
    let o = occurrences(&e, utc("2026-03-28"), utc_end("2026-03-29"), 10).unwrap();
    assert_eq!(o.len(), 1);
    assert_eq!(o[0].1 - o[0].0, Duration::minutes(90));
    // Repeated daily from the day before: same local hours every day.
    let e = ev(&EventInput {
        rrule: Some("FREQ=DAILY;COUNT=3".into()),
        ..input("2026-03-28T01:30", "2026-03-28T04:00")
    });
    let o = occurrences(&e, utc("2026-03-01"), utc("2026-04-30"), 10).unwrap();
    let lens: Vec<i64> = o.iter().map(|(s, e)| (*e - *s).num_minutes()).collect();
    assert_eq!(lens, [150, 90, 150]);
    assert_eq!(time::rfc3339(&o[1].0), "2026-03-29T01:30:00+01:00");
    assert_eq!(time::rfc3339(&o[1].1), "2026-03-29T04:00:00+02:00");
}

#[test]
fn all_day_events() {
    let i = EventInput {
        all_day: true,
        ..input("2026-10-24", "2026-10-25")
    };
    let e = ev(&i);
    assert_eq!(
        (e.start.as_str(), e.end.as_str()),
        ("2026-10-24", "2026-10-25")
    );
    assert_eq!(
        occ(&e, "2026-10-01", "2026-10-31", 10),
        [(
            "2026-10-24T00:00:00+02:00".to_string(),
            "2026-10-26T00:00:00+01:00".to_string()
        )]
    );
    // One-day event, weekly on Saturdays, one day excluded.
    let i = EventInput {
        all_day: true,
        rrule: Some("FREQ=WEEKLY;COUNT=4".into()),
        exdates: vec!["2026-10-31".into()],
        ..input("2026-10-17", "2026-10-17")
    };
    let e = ev(&i);
    assert_eq!(e.exdates, vec!["2026-10-31"]);
    assert_eq!(
        occ(&e, "2026-10-01", "2026-12-31", 10),
        [
            ("2026-10-17T00:00:00+02:00", "2026-10-18T00:00:00+02:00"),
            ("2026-10-24T00:00:00+02:00", "2026-10-25T00:00:00+02:00"),
            ("2026-11-07T00:00:00+01:00", "2026-11-08T00:00:00+01:00"),
        ]
        .map(|(a, b)| (a.to_string(), b.to_string()))
    );
    // The window [from, to) overlaps the day only when it should.
    let d = ev(&EventInput {
        all_day: true,
        ..input("2026-12-01", "2026-12-01")
    });
    assert_eq!(occ(&d, "2026-12-01", "2026-12-01", 10).len(), 1);
    assert_eq!(occ(&d, "2026-11-30", "2026-11-30", 10).len(), 0);
    assert_eq!(occ(&d, "2026-12-02", "2026-12-02", 10).len(), 0);
}

#[test]
fn occurrences_window_and_limit() {
    let e = ev(&weekly("FREQ=WEEKLY"));
    // Half-open overlap: an occurrence ending at `from` or starting at `to` is out.
    let o = occurrences(&e, utc("2026-10-14T12:00"), utc("2026-10-28T10:00"), 100).unwrap();
    assert_eq!(o.len(), 1);
    assert_eq!(time::rfc3339(&o[0].0), "2026-10-21T10:00:00+02:00");
    // One still running at `from` is in.
    let o = occurrences(&e, utc("2026-10-14T11:00"), utc("2026-10-14T11:30"), 100).unwrap();
    assert_eq!(o.len(), 1);
    // Infinite rule, bounded by the window and by the limit.
    assert_eq!(occ(&e, "2027-01-01", "2027-01-31", 100).len(), 4);
    assert_eq!(occ(&e, "2026-01-01", "2030-12-31", 7).len(), 7);
    assert_eq!(occ(&e, "2026-01-01", "2030-12-31", 0).len(), 0);
    assert!(occurrences(&e, utc("2027-01-01"), utc("2026-01-01"), 10)
        .unwrap()
        .is_empty());
    // Before its start: nothing.
    assert!(occ(&e, "2026-01-01", "2026-10-06", 10).is_empty());
    // A non-recurring event gives at most one.
    let one = ev(&input("2026-12-01T10:00", "2026-12-01T12:00"));
    assert_eq!(occ(&one, "2026-01-01", "2027-12-31", 10).len(), 1);
    assert_eq!(occ(&one, "2026-12-02", "2027-12-31", 10).len(), 0);
    // A far window on a daily rule still answers.
    let daily = ev(&EventInput {
        rrule: Some("FREQ=DAILY".into()),
        ..input("2026-01-01T10:00", "2026-01-01T11:00")
    });
    let o = occ(&daily, "2046-01-01", "2046-01-03", 10);
    assert_eq!(o.len(), 3);
    assert_eq!(o[0].0, "2046-01-01T10:00:00+01:00");
}

#[test]
fn patch_validates_bumps_sequence_and_keeps_event_on_error() {
    let mut e = ev(&weekly("FREQ=WEEKLY;COUNT=3"));
    let p = EventPatch {
        title: Some("Atelier robotique (salle 3)".into()),
        start: Some("2026-10-07T14:00".into()),
        end: Some("2026-10-07T16:00".into()),
        ..Default::default()
    };
    p.apply(&mut e, "2026-02-01T00:00:00Z").unwrap();
    assert_eq!(e.sequence, 1);
    assert_eq!(e.updated_at, "2026-02-01T00:00:00Z");
    assert_eq!(e.start, "2026-10-07T14:00:00+02:00");
    assert_eq!(e.rrule, "FREQ=WEEKLY;COUNT=3");
    let before = e.clone();
    for bad in [
        EventPatch {
            end: Some("2026-10-07T13:00".into()),
            ..Default::default()
        },
        EventPatch {
            kind: Some("fête".into()),
            ..Default::default()
        },
        EventPatch {
            rrule: Some("FREQ=WEEKLY;COUNT=0;BYDAY=ZZ".into()),
            ..Default::default()
        },
        EventPatch {
            audience: Some(vec!["public".into()]),
            ..Default::default()
        },
        // Turning all-day needs dates.
        EventPatch {
            all_day: Some(true),
            ..Default::default()
        },
    ] {
        assert!(
            matches!(bad.apply(&mut e, "t"), Err(Error::InvalidArgument(_))),
            "{bad:?}"
        );
        assert_eq!(e, before);
    }
    // Exdates, then removing the recurrence drops them.
    EventPatch {
        exdates: Some(vec!["2026-10-14".into()]),
        ..Default::default()
    }
    .apply(&mut e, "t")
    .unwrap();
    assert_eq!(e.exdates, vec!["2026-10-14T14:00:00+02:00"]);
    assert_eq!(e.sequence, 2);
    EventPatch {
        rrule: Some(String::new()),
        ..Default::default()
    }
    .apply(&mut e, "t")
    .unwrap();
    assert!(e.rrule.is_empty() && e.exdates.is_empty());
    assert_eq!(e.sequence, 3);
    // To all day, with dates.
    EventPatch {
        all_day: Some(true),
        start: Some("2026-10-07".into()),
        end: Some("2026-10-08".into()),
        place: Some("".into()),
        ..Default::default()
    }
    .apply(&mut e, "t")
    .unwrap();
    assert!(e.all_day && e.place.is_empty());
    assert_eq!(e.sequence, 4);
}

#[test]
fn cancel_once() {
    let mut e = ev(&input("2026-12-01T10:00", "2026-12-01T12:00"));
    cancel(&mut e, "2026-02-01T00:00:00Z").unwrap();
    assert_eq!(e.status, CANCELLED);
    assert_eq!(e.sequence, 1);
    assert_eq!(e.updated_at, "2026-02-01T00:00:00Z");
    assert!(matches!(
        cancel(&mut e, "t"),
        Err(Error::FailedPrecondition(_))
    ));
    assert_eq!(e.sequence, 1);
}

#[test]
fn attendance_rules() {
    let mut e = ev(&input("2026-12-01T10:00", "2026-12-01T12:00"));
    let before = Utc.with_ymd_and_hms(2026, 12, 1, 8, 59, 59).unwrap();
    let at = Utc.with_ymd_and_hms(2026, 12, 1, 9, 0, 0).unwrap();
    assert!(matches!(
        record_attendance(&mut e, [10, 2, 0, 1], before),
        Err(Error::FailedPrecondition(_))
    ));
    let m = record_attendance(&mut e, [10, -1, 0, 1], at).unwrap_err();
    assert!(matches!(m, Error::InvalidArgument(_)));
    assert!(m.to_string().starts_with("teachers :"), "{m}");
    assert!(record_attendance(&mut e, [10_000_000, 0, 0, 0], at).is_err());
    assert!(e.attendance.is_none());
    record_attendance(&mut e, [24, 2, 0, 1], at).unwrap();
    let a = e.attendance.clone().unwrap();
    assert_eq!(
        (a.pupils, a.teachers, a.families, a.partners),
        (24, 2, 0, 1)
    );
    assert_eq!(a.recorded_at, "2026-12-01T09:00:00Z");
    // A correction replaces the counts.
    record_attendance(&mut e, [25, 2, 0, 1], at).unwrap();
    assert_eq!(e.attendance.as_ref().unwrap().pupils, 25);
    // Cancelled: no attendance.
    cancel(&mut e, "t").unwrap();
    assert!(matches!(
        record_attendance(&mut e, [1, 1, 1, 1], at),
        Err(Error::FailedPrecondition(_))
    ));
    // All-day: from 00:00 Paris of the first day.
    let mut d = ev(&EventInput {
        all_day: true,
        ..input("2026-12-01", "2026-12-02")
    });
    let late = Utc.with_ymd_and_hms(2026, 11, 30, 22, 59, 0).unwrap();
    assert!(record_attendance(&mut d, [1, 0, 0, 0], late).is_err());
    let midnight = Utc.with_ymd_and_hms(2026, 11, 30, 23, 0, 0).unwrap();
    record_attendance(&mut d, [1, 0, 0, 0], midnight).unwrap();
}

/// A series has one attendance per occurrence, by the day it starts.
#[test]
fn attendance_per_occurrence_of_a_series() {
    // Wednesdays 7, 14 and 21 October 2026, 10:00–12:00.
    let mut e = ev(&weekly("FREQ=WEEKLY;COUNT=3"));
    let later = Utc.with_ymd_and_hms(2026, 12, 1, 9, 0, 0).unwrap();
    // Which session is required.
    let m = record_attendance(&mut e, [8, 0, 0, 0], later).unwrap_err();
    assert!(
        matches!(m, Error::InvalidArgument(_)) && m.to_string().contains("--occurrence"),
        "{m}"
    );
    assert!(m.to_string().contains("mer. 7 oct. 2026"), "{m}");
    // A day without a session names the next ones.
    let m = record_attendance_on(&mut e, [8, 0, 0, 0], "08/10/2026", later).unwrap_err();
    assert!(m.to_string().contains("mer. 14 oct. 2026"), "{m}");
    for day in ["07/10/2026", "2026-10-14", "21/10/2026"] {
        record_attendance_on(&mut e, [8, 1, 0, 0], day, later).unwrap();
    }
    record_attendance_on(&mut e, [9, 1, 0, 0], "14/10/2026", later).unwrap();
    let got: Vec<(&str, i64)> = e
        .occurrence_attendance
        .iter()
        .map(|(d, a)| (d.as_str(), a.pupils))
        .collect();
    assert_eq!(
        got,
        [("2026-10-07", 8), ("2026-10-14", 9), ("2026-10-21", 8)]
    );
    assert!(e.attendance.is_none());
    // Not before the session starts.
    let before = Utc.with_ymd_and_hms(2026, 10, 21, 7, 59, 0).unwrap();
    assert!(matches!(
        record_attendance_on(&mut e, [1, 0, 0, 0], "21/10/2026", before),
        Err(Error::FailedPrecondition(_))
    ));
    // French: « le nombre d'élèves ».
    let m = record_attendance_on(&mut e, [-1, 0, 0, 0], "21/10/2026", later).unwrap_err();
    assert!(m.to_string().contains("le nombre d'élèves"), "{m}");
    // A single event takes its own day, or none.
    let mut one = ev(&input("2026-12-01T10:00", "2026-12-01T12:00"));
    assert!(record_attendance_on(&mut one, [1, 0, 0, 0], "02/12/2026", later).is_err());
    record_attendance_on(&mut one, [1, 0, 0, 0], "01/12/2026", later).unwrap();
    assert_eq!(one.attendance.unwrap().pupils, 1);
}

/// Events written before attendance per occurrence existed still read.
#[test]
fn events_without_occurrence_attendance_hydrate() {
    let mut doc = AutoCommit::new();
    let mut e = ev(&weekly("FREQ=WEEKLY;COUNT=3"));
    e.attendance = Some(Attendance {
        pupils: 8,
        teachers: 1,
        families: 0,
        partners: 0,
        recorded_at: "t".into(),
    });
    put(&mut doc, "ev-1", &e).unwrap();
    // Remove the new field, as an older node wrote the event.
    let map = crate::domain::root_map(&doc, MAP).unwrap();
    let obj = match automerge::ReadDoc::get(&doc, &map, "ev-1").unwrap() {
        Some((_, id)) => id,
        None => panic!("stored"),
    };
    automerge::transaction::Transactable::delete(&mut doc, &obj, "occurrence_attendance").unwrap();
    let old = get(&doc, "ev-1").unwrap().expect("hydrates");
    assert!(old.occurrence_attendance.is_empty());
    assert_eq!(old.attendance.unwrap().pupils, 8);
}

#[test]
fn put_get_all_roundtrip() {
    let mut doc = AutoCommit::new();
    let mut e = ev(&weekly("FREQ=WEEKLY;COUNT=3"));
    put(&mut doc, "ev-1", &e).unwrap();
    assert_eq!(get(&doc, "ev-1").unwrap(), Some(e.clone()));
    assert_eq!(get(&doc, "ev-2").unwrap(), None);
    record_attendance_on(
        &mut e,
        [3, 1, 0, 0],
        "07/10/2026",
        Utc.with_ymd_and_hms(2026, 10, 8, 0, 0, 0).unwrap(),
    )
    .unwrap();
    put(&mut doc, "ev-1", &e).unwrap();
    put(
        &mut doc,
        "ev-2",
        &ev(&input("2026-12-01T10:00", "2026-12-01T12:00")),
    )
    .unwrap();
    let all = all(&doc).unwrap();
    assert_eq!(all.len(), 2);
    assert_eq!(all["ev-1"], e);
}

fn prop<'a>(
    props: &'a [ical::property::Property],
    name: &str,
) -> Vec<&'a ical::property::Property> {
    props.iter().filter(|p| p.name == name).collect()
}

fn param<'a>(p: &'a ical::property::Property, name: &str) -> Option<&'a str> {
    p.params
        .as_ref()?
        .iter()
        .find(|(k, _)| k == name)
        .and_then(|(_, v)| v.first())
        .map(String::as_str)
}

#[test]
fn ics_parses_back_with_an_independent_parser() {
    let mut weekly_ev = ev(&EventInput {
        exdates: vec!["2026-10-28".into()],
        title: "Atelier robotique, programmation; et « débranché » : une séance longue pour tester le pliage des lignes".into(),
        ..weekly("FREQ=WEEKLY;BYDAY=WE;COUNT=6")
    });
    EventPatch {
        place: Some("Salle 3".into()),
        ..Default::default()
    }
    .apply(&mut weekly_ev, "2026-02-01T10:00:00Z")
    .unwrap();
    let mut day = new_event(
        &EventInput {
            all_day: true,
            kind: "séminaire".into(),
            rrule: Some("FREQ=YEARLY".into()),
            exdates: vec!["2027-12-01".into()],
            ..input("2026-12-01", "2026-12-02")
        },
        "ev-2@maillage",
        "network",
        NOW,
    )
    .unwrap();
    cancel(&mut day, "2026-03-01T00:00:00Z").unwrap();
    let ics = to_ics(
        &[
            ("ev-1".into(), "site-a".into(), weekly_ev.clone()),
            ("ev-2".into(), "network".into(), day.clone()),
        ],
        "Calendrier du réseau — site-a",
    );
    // Lines: CRLF, folded at 75 octets.
    assert!(ics.ends_with("END:VCALENDAR\r\n"));
    assert!(!ics.replace("\r\n", "").contains('\n'));
    for line in ics.split("\r\n") {
        assert!(line.len() <= 75, "line of {} octets: {line}", line.len());
    }

    let mut parser = ical::IcalParser::new(std::io::BufReader::new(ics.as_bytes()));
    let cal = parser.next().expect("one calendar").expect("parses");
    assert!(parser.next().is_none());
    let value = |p: &[ical::property::Property], n: &str| {
        prop(p, n)
            .first()
            .and_then(|p| p.value.clone())
            .unwrap_or_default()
    };
    assert_eq!(value(&cal.properties, "VERSION"), "2.0");
    assert_eq!(value(&cal.properties, "PRODID"), PRODID);
    assert_eq!(
        value(&cal.properties, "X-WR-CALNAME"),
        "Calendrier du réseau — site-a"
    );

    assert_eq!(cal.timezones.len(), 1);
    let tz = &cal.timezones[0];
    assert_eq!(value(&tz.properties, "TZID"), "Europe/Paris");
    assert_eq!(tz.transitions.len(), 2);
    assert!(tz
        .properties
        .iter()
        .all(|p| p.name != "UID" && p.name != "DTSTAMP"));

    assert_eq!(cal.events.len(), 2);
    let w = &cal.events[0].properties;
    assert_eq!(value(w, "UID"), "ev-1@maillage");
    assert_eq!(value(w, "SEQUENCE"), "1");
    assert_eq!(value(w, "DTSTAMP"), "20260201T100000Z");
    assert_eq!(value(w, "STATUS"), "CONFIRMED");
    assert_eq!(value(w, "CATEGORIES"), "workshop");
    assert_eq!(value(w, "LOCATION"), "Salle 3");
    assert!(
        value(w, "SUMMARY").starts_with("Atelier robotique\\, programmation\\; et « débranché »")
    );
    let desc = value(w, "DESCRIPTION");
    assert!(
        desc.contains("Type : atelier\\nOrganisation : site-a\\nPublic : élèves\\, enseignants"),
        "{desc}"
    );
    let start = prop(w, "DTSTART")[0];
    assert_eq!(param(start, "TZID"), Some("Europe/Paris"));
    assert_eq!(start.value.as_deref(), Some("20261007T100000"));
    let end = prop(w, "DTEND")[0];
    assert_eq!(param(end, "TZID"), Some("Europe/Paris"));
    assert_eq!(end.value.as_deref(), Some("20261007T120000"));
    assert_eq!(value(w, "RRULE"), "FREQ=WEEKLY;BYDAY=WE;COUNT=6");
    let ex = prop(w, "EXDATE");
    assert_eq!(ex.len(), 1);
    assert_eq!(param(ex[0], "TZID"), Some("Europe/Paris"));
    assert_eq!(ex[0].value.as_deref(), Some("20261028T100000"));

    let d = &cal.events[1].properties;
    assert_eq!(value(d, "UID"), "ev-2@maillage");
    assert_eq!(value(d, "SEQUENCE"), "1");
    assert_eq!(value(d, "STATUS"), "CANCELLED");
    assert_eq!(value(d, "CATEGORIES"), "seminar");
    let start = prop(d, "DTSTART")[0];
    assert_eq!(param(start, "VALUE"), Some("DATE"));
    assert_eq!(start.value.as_deref(), Some("20261201"));
    let end = prop(d, "DTEND")[0];
    assert_eq!(param(end, "VALUE"), Some("DATE"));
    assert_eq!(end.value.as_deref(), Some("20261203"), "exclusive DTEND");
    assert_eq!(value(d, "RRULE"), "FREQ=YEARLY");
    let ex = prop(d, "EXDATE");
    assert_eq!(param(ex[0], "VALUE"), Some("DATE"));
    assert_eq!(ex[0].value.as_deref(), Some("20271201"));
    assert!(prop(d, "LOCATION")[0]
        .value
        .as_deref()
        .unwrap()
        .starts_with("Tiers-lieu"));

    // The UID is stable across exports.
    let again = to_ics(&[("ev-1".into(), "site-a".into(), weekly_ev)], "x");
    assert!(again.contains("UID:ev-1@maillage\r\n"));
}
