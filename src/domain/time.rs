//! Times as users give them: instants with an offset, or local times of
//! Europe/Paris (where every site of the network is), and whole days.

use chrono::{DateTime, FixedOffset, LocalResult, NaiveDate, NaiveDateTime, TimeZone, Utc};

use crate::error::{Error, Result};

/// The time zone of the network: local times without an offset are read here.
pub const TZ: chrono_tz::Tz = chrono_tz::Europe::Paris;

/// Formats of a local time without offset, read as Europe/Paris.
const LOCAL_FORMATS: &[&str] = &[
    "%Y-%m-%dT%H:%M:%S",
    "%Y-%m-%dT%H:%M",
    "%Y-%m-%d %H:%M:%S",
    "%Y-%m-%d %H:%M",
    // As people write them in France: 16/12/2026 14:00, 16/12/2026 14h00, 16/12/2026 14h.
    "%d/%m/%Y %H:%M",
    "%d/%m/%Y %Hh%M",
    "%d/%m/%Y à %H:%M",
    "%d/%m/%Y à %Hh%M",
];

/// Formats with an offset that RFC 3339 does not cover (no seconds).
const OFFSET_FORMATS: &[&str] = &["%Y-%m-%dT%H:%M%#z", "%Y-%m-%d %H:%M%#z"];

/// An instant: RFC 3339 with an offset ("2026-12-01T10:00:00+01:00", "…Z"),
/// or a local time of Europe/Paris without offset ("2026-12-01T10:00",
/// "2026-12-01T10:00:00", "2026-12-01 10:00").
///
/// A local time keeps the Paris offset of that moment; an instant with an
/// offset keeps the offset given. A local time that does not exist (the hour
/// skipped when summer time starts) or exists twice (the hour repeated when it
/// ends) is refused with a message saying what to do.
pub fn parse_instant(s: &str) -> Result<DateTime<FixedOffset>> {
    let v = s.trim();
    if let Ok(t) = DateTime::parse_from_rfc3339(v) {
        return Ok(t);
    }
    for f in OFFSET_FORMATS {
        if let Ok(t) = DateTime::parse_from_str(v, f) {
            return Ok(t);
        }
    }
    // "14h" alone has no minutes for chrono: read it as 14h00.
    let padded = if v.ends_with('h') && v.contains('/') {
        format!("{v}00")
    } else {
        v.to_string()
    };
    let naive = LOCAL_FORMATS
        .iter()
        .find_map(|f| NaiveDateTime::parse_from_str(&padded, f).ok())
        .ok_or_else(|| {
            let hint = if parse_date(v).is_ok() {
                " (l'heure manque)"
            } else {
                ""
            };
            Error::invalid(format!(
                "date et heure « {v} » invalides{hint} : attendu JJ/MM/AAAA HH:MM \
                 ou AAAA-MM-JJTHH:MM (heure de Paris), ou un instant RFC 3339 avec \
                 décalage, par exemple 01/12/2026 10:00, 2026-12-01T10:00 ou \
                 2026-12-01T10:00:00+01:00"
            ))
        })?;
    local(&naive, v)
}

/// A local time of Europe/Paris, refused if it does not exist or is ambiguous.
fn local(naive: &NaiveDateTime, shown: &str) -> Result<DateTime<FixedOffset>> {
    match TZ.from_local_datetime(naive) {
        LocalResult::Single(t) => Ok(t.fixed_offset()),
        LocalResult::None => Err(Error::invalid(format!(
            "l'heure « {shown} » n'existe pas à Paris (passage à l'heure d'été, \
             les horloges sautent d'une heure) : choisissez une autre heure"
        ))),
        LocalResult::Ambiguous(a, b) => Err(Error::invalid(format!(
            "l'heure « {shown} » est ambiguë à Paris (passage à l'heure d'hiver, \
             elle existe deux fois) : précisez le décalage, {} ou {}",
            rfc3339(&a.fixed_offset()),
            rfc3339(&b.fixed_offset())
        ))),
    }
}

/// A calendar date: "AAAA-MM-JJ" or, as written in France, "JJ/MM/AAAA".
pub fn parse_date(s: &str) -> Result<NaiveDate> {
    let v = s.trim();
    NaiveDate::parse_from_str(v, "%Y-%m-%d")
        .ok()
        .filter(|_| v.len() == 10)
        .or_else(|| {
            NaiveDate::parse_from_str(v, "%d/%m/%Y")
                .ok()
                .filter(|_| v.len() >= 8 && v.split('/').nth(2).is_some_and(|y| y.len() == 4))
        })
        .ok_or_else(|| {
            Error::invalid(format!(
                "date « {v} » invalide : attendu JJ/MM/AAAA ou AAAA-MM-JJ, \
                 par exemple 01/12/2026 ou 2026-12-01"
            ))
        })
}

/// 00:00 in Paris on `d`.
pub fn start_of_day(d: NaiveDate) -> Result<DateTime<FixedOffset>> {
    TZ.from_local_datetime(&d.and_time(chrono::NaiveTime::MIN))
        .earliest()
        .map(|t| t.fixed_offset())
        .ok_or_else(|| Error::invalid(format!("la date {d} n'a pas de minuit à Paris")))
}

/// A bound of a period. A bare date is 00:00 Paris of that day for a start,
/// and 00:00 Paris of the next day for an end, so that an end date includes
/// its whole day. Anything else is read by [`parse_instant`].
pub fn parse_bound(s: &str, is_end: bool) -> Result<DateTime<FixedOffset>> {
    if let Ok(d) = parse_date(s) {
        let d = if is_end {
            d.succ_opt()
                .ok_or_else(|| Error::invalid(format!("date « {} » hors limites", s.trim())))?
        } else {
            d
        };
        return start_of_day(d);
    }
    parse_instant(s)
}

/// `dt` with the Paris offset of that moment.
pub fn paris(dt: DateTime<Utc>) -> DateTime<FixedOffset> {
    dt.with_timezone(&TZ).fixed_offset()
}

/// RFC 3339 to the second, keeping the offset: "2026-12-01T10:00:00+01:00".
pub fn rfc3339(dt: &DateTime<FixedOffset>) -> String {
    dt.to_rfc3339_opts(chrono::SecondsFormat::Secs, true)
}

const WEEKDAYS_FR: [&str; 7] = ["lun.", "mar.", "mer.", "jeu.", "ven.", "sam.", "dim."];
const MONTHS_FR: [&str; 12] = [
    "janv.", "févr.", "mars", "avr.", "mai", "juin", "juil.", "août", "sept.", "oct.", "nov.",
    "déc.",
];

/// A day as people write it: "mer. 16 déc. 2026".
pub fn fr_date(d: NaiveDate) -> String {
    use chrono::Datelike;
    format!(
        "{} {} {} {}",
        WEEKDAYS_FR[d.weekday().num_days_from_monday() as usize],
        d.day(),
        MONTHS_FR[d.month0() as usize],
        d.year()
    )
}

/// A month as people write it: "décembre 2026".
pub fn fr_month(year: i32, month: u32) -> String {
    const FULL: [&str; 12] = [
        "janvier",
        "février",
        "mars",
        "avril",
        "mai",
        "juin",
        "juillet",
        "août",
        "septembre",
        "octobre",
        "novembre",
        "décembre",
    ];
    format!("{} {year}", FULL[(month.clamp(1, 12) - 1) as usize])
}

fn fr_clock(t: &DateTime<chrono_tz::Tz>) -> String {
    t.format("%H:%M").to_string()
}

fn parse_any(s: &str) -> Option<DateTime<chrono_tz::Tz>> {
    DateTime::parse_from_rfc3339(s.trim())
        .ok()
        .map(|t| t.with_timezone(&TZ))
}

/// An instant in Paris time, as people write it: "mer. 16 déc. 2026, 14:00".
/// Text that is not an RFC 3339 instant is returned as it is.
pub fn fr_instant(s: &str) -> String {
    match parse_any(s) {
        Some(t) => format!("{}, {}", fr_date(t.date_naive()), fr_clock(&t)),
        None => s.to_string(),
    }
}

fn is_midnight(x: &DateTime<chrono_tz::Tz>) -> bool {
    x.time() == chrono::NaiveTime::MIN
}

/// The day a bound at midnight Paris stands for: its own day for a start,
/// the day before for an end (an end date typed `18/12/2026` is stored as
/// the 19th at 00:00, see [`parse_bound`]).
fn day_of_bound(x: &DateTime<chrono_tz::Tz>, is_end: bool) -> NaiveDate {
    let d = x.date_naive();
    if is_end {
        d.pred_opt().unwrap_or(d)
    } else {
        d
    }
}

/// One bound of a period, as people gave it: a day alone when it is at
/// midnight Paris (the inclusive day for an end: "ven. 18 déc. 2026" for the
/// 19th at 00:00), else the day and time. Text that is not an RFC 3339
/// instant is returned as it is.
pub fn fr_bound(s: &str, is_end: bool) -> String {
    match parse_any(s) {
        Some(t) if is_midnight(&t) => fr_date(day_of_bound(&t, is_end)),
        _ => fr_instant(s),
    }
}

/// A period [from, to) in Paris time, with an inclusive end as people say it:
/// - whole days (midnight to midnight): "mer. 16 déc. 2026" or
///   "mer. 16 déc. 2026 → ven. 18 déc. 2026";
/// - within one day: "mer. 16 déc. 2026, 14:00–16:00";
/// - from a time to the end of a day, an end date being inclusive:
///   "mer. 16 déc. 2026, 14:00 → ven. 18 déc. 2026", or
///   "mer. 16 déc. 2026, 14:00–24:00" within the day;
/// - otherwise: "mer. 16 déc. 2026, 14:00 → jeu. 17 déc. 2026, 10:00".
pub fn fr_period(from: &str, to: &str) -> String {
    let (Some(f), Some(t)) = (parse_any(from), parse_any(to)) else {
        return format!("{from} → {to}");
    };
    if is_midnight(&f) && is_midnight(&t) && t > f {
        let last = day_of_bound(&t, true);
        if last == f.date_naive() {
            return fr_date(last);
        }
        return format!("{} → {}", fr_date(f.date_naive()), fr_date(last));
    }
    if is_midnight(&t) && t > f {
        let last = day_of_bound(&t, true);
        if last == f.date_naive() {
            return format!("{}, {}–24:00", fr_date(last), fr_clock(&f));
        }
        return format!("{} → {}", fr_instant(from), fr_date(last));
    }
    if f.date_naive() == t.date_naive() {
        return format!(
            "{}, {}–{}",
            fr_date(f.date_naive()),
            fr_clock(&f),
            fr_clock(&t)
        );
    }
    format!("{} → {}", fr_instant(from), fr_instant(to))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn s(r: Result<DateTime<FixedOffset>>) -> String {
        rfc3339(&r.unwrap())
    }

    #[test]
    fn instants_with_offset_keep_it() {
        assert_eq!(
            s(parse_instant("2026-12-01T10:00:00+01:00")),
            "2026-12-01T10:00:00+01:00"
        );
        assert_eq!(
            s(parse_instant("2026-12-01T10:00:00Z")),
            "2026-12-01T10:00:00Z"
        );
        assert_eq!(
            s(parse_instant(" 2026-07-01T10:00:00-04:00 ")),
            "2026-07-01T10:00:00-04:00"
        );
        assert_eq!(
            s(parse_instant("2026-12-01T10:00+01:00")),
            "2026-12-01T10:00:00+01:00"
        );
    }

    #[test]
    fn local_times_are_paris() {
        assert_eq!(
            s(parse_instant("2026-12-01T10:00")),
            "2026-12-01T10:00:00+01:00"
        );
        assert_eq!(
            s(parse_instant("2026-12-01T10:00:30")),
            "2026-12-01T10:00:30+01:00"
        );
        assert_eq!(
            s(parse_instant("2026-07-01 10:00")),
            "2026-07-01T10:00:00+02:00"
        );
        assert_eq!(
            s(parse_instant("2026-07-01 10:00:00")),
            "2026-07-01T10:00:00+02:00"
        );
    }

    #[test]
    fn gap_and_ambiguous_local_times_are_refused() {
        // Summer time starts on 2026-03-29: 02:00 → 03:00.
        let e = parse_instant("2026-03-29T02:30").unwrap_err();
        assert!(matches!(e, Error::InvalidArgument(_)));
        assert!(e.to_string().contains("n'existe pas"), "{e}");
        // It ends on 2026-10-25: 03:00 → 02:00, 02:30 happens twice.
        let e = parse_instant("2026-10-25T02:30").unwrap_err();
        assert!(matches!(e, Error::InvalidArgument(_)));
        let msg = e.to_string();
        assert!(msg.contains("ambiguë") && msg.contains("décalage"), "{msg}");
        assert!(msg.contains("2026-10-25T02:30:00+02:00"), "{msg}");
        assert!(msg.contains("2026-10-25T02:30:00+01:00"), "{msg}");
        // With the offset it is fine.
        assert_eq!(
            s(parse_instant("2026-10-25T02:30:00+01:00")),
            "2026-10-25T02:30:00+01:00"
        );
    }

    #[test]
    fn garbage_is_refused() {
        for bad in [
            "",
            "demain",
            "2026-13-01T10:00",
            "2026-12-01",
            "10:00",
            "2026-12-01T25:00",
        ] {
            assert!(
                matches!(parse_instant(bad), Err(Error::InvalidArgument(_))),
                "{bad}"
            );
        }
        assert!(parse_instant("2026-12-01")
            .unwrap_err()
            .to_string()
            .contains("l'heure manque"));
    }

    #[test]
    fn dates() {
        assert_eq!(
            parse_date("2026-12-01").unwrap(),
            NaiveDate::from_ymd_opt(2026, 12, 1).unwrap()
        );
        assert_eq!(
            parse_date(" 2026-12-01 ").unwrap(),
            NaiveDate::from_ymd_opt(2026, 12, 1).unwrap()
        );
        assert_eq!(
            parse_date("16/12/2026").unwrap(),
            NaiveDate::from_ymd_opt(2026, 12, 16).unwrap()
        );
        for bad in [
            "2026-02-30",
            "01/12/26",
            "31/02/2026",
            "2026-12-01T10:00",
            "2026-1-1",
            "",
        ] {
            assert!(
                matches!(parse_date(bad), Err(Error::InvalidArgument(_))),
                "{bad}"
            );
        }
    }

    #[test]
    fn bounds() {
        assert_eq!(
            s(parse_bound("2026-12-01", false)),
            "2026-12-01T00:00:00+01:00"
        );
        assert_eq!(
            s(parse_bound("2026-12-01", true)),
            "2026-12-02T00:00:00+01:00"
        );
        // The end bound of the last day of summer time is in winter time.
        assert_eq!(
            s(parse_bound("2026-10-24", true)),
            "2026-10-25T00:00:00+02:00"
        );
        assert_eq!(
            s(parse_bound("2026-10-25", true)),
            "2026-10-26T00:00:00+01:00"
        );
        assert_eq!(
            s(parse_bound("2026-12-01T10:00", true)),
            "2026-12-01T10:00:00+01:00"
        );
        assert!(parse_bound("hier", false).is_err());
    }

    #[test]
    fn french_input() {
        for typed in [
            "16/12/2026 14:00",
            "16/12/2026 14h00",
            "16/12/2026 14h",
            "16/12/2026 à 14:00",
        ] {
            assert_eq!(
                s(parse_instant(typed)),
                "2026-12-16T14:00:00+01:00",
                "{typed}"
            );
        }
        assert_eq!(
            s(parse_bound("16/12/2026", false)),
            "2026-12-16T00:00:00+01:00"
        );
        assert_eq!(
            s(parse_bound("18/12/2026", true)),
            "2026-12-19T00:00:00+01:00"
        );
    }

    #[test]
    fn french_display() {
        assert_eq!(
            fr_instant("2026-11-30T05:23:01Z"),
            "lun. 30 nov. 2026, 06:23"
        );
        assert_eq!(
            fr_period("2026-12-16T14:00:00+01:00", "2026-12-16T16:00:00+01:00"),
            "mer. 16 déc. 2026, 14:00–16:00"
        );
        // An end date is inclusive: --to 2026-12-18 is stored as the 19th at 00:00.
        assert_eq!(
            fr_period("2026-12-16T00:00:00+01:00", "2026-12-19T00:00:00+01:00"),
            "mer. 16 déc. 2026 → ven. 18 déc. 2026"
        );
        assert_eq!(
            fr_period("2026-12-16T00:00:00+01:00", "2026-12-17T00:00:00+01:00"),
            "mer. 16 déc. 2026"
        );
        assert_eq!(
            fr_period("2026-12-16T14:00:00Z", "2026-12-17T09:00:00Z"),
            "mer. 16 déc. 2026, 15:00 → jeu. 17 déc. 2026, 10:00"
        );
        assert_eq!(fr_instant("bientôt"), "bientôt");
    }

    /// `--from "16/12/2026 14:00" --to 18/12/2026`: the end date is
    /// inclusive even when the start has a time.
    #[test]
    fn an_end_date_after_a_start_time_is_inclusive() {
        let from = s(parse_bound("16/12/2026 14:00", false));
        let to = s(parse_bound("18/12/2026", true));
        assert_eq!(
            fr_period(&from, &to),
            "mer. 16 déc. 2026, 14:00 → ven. 18 déc. 2026"
        );
        let to = s(parse_bound("16/12/2026", true));
        assert_eq!(fr_period(&from, &to), "mer. 16 déc. 2026, 14:00–24:00");
        // A start date before an end time keeps both as given.
        let from = s(parse_bound("16/12/2026", false));
        let to = s(parse_bound("18/12/2026 10:00", true));
        assert_eq!(
            fr_period(&from, &to),
            "mer. 16 déc. 2026, 00:00 → ven. 18 déc. 2026, 10:00"
        );
    }

    /// A bound typed as a date is shown as a date (inclusive for an end).
    #[test]
    fn a_date_bound_is_shown_as_a_date() {
        let from = s(parse_bound("02/12/2026", false));
        assert_eq!(fr_bound(&from, false), "mer. 2 déc. 2026");
        let to = s(parse_bound("18/12/2026", true));
        assert_eq!(fr_bound(&to, true), "ven. 18 déc. 2026");
        let at = s(parse_bound("02/12/2026 14:00", false));
        assert_eq!(fr_bound(&at, false), "mer. 2 déc. 2026, 14:00");
        assert_eq!(fr_bound(&at, true), "mer. 2 déc. 2026, 14:00");
        assert_eq!(fr_bound("bientôt", true), "bientôt");
        assert_eq!(fr_month(2026, 2), "février 2026");
        assert_eq!(
            fr_date(NaiveDate::from_ymd_opt(2027, 8, 1).unwrap()),
            "dim. 1 août 2027"
        );
    }

    #[test]
    fn paris_and_format() {
        let t = Utc.with_ymd_and_hms(2026, 7, 1, 8, 0, 0).unwrap();
        assert_eq!(rfc3339(&paris(t)), "2026-07-01T10:00:00+02:00");
        let t = Utc.with_ymd_and_hms(2026, 12, 1, 9, 0, 0).unwrap();
        assert_eq!(rfc3339(&paris(t)), "2026-12-01T10:00:00+01:00");
        let t = DateTime::parse_from_rfc3339("2026-12-01T10:00:00.123456+01:00").unwrap();
        assert_eq!(rfc3339(&t), "2026-12-01T10:00:00+01:00");
    }
}
