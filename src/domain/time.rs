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
    let naive = LOCAL_FORMATS
        .iter()
        .find_map(|f| NaiveDateTime::parse_from_str(v, f).ok())
        .ok_or_else(|| {
            let hint = if parse_date(v).is_ok() {
                " (l'heure manque)"
            } else {
                ""
            };
            Error::invalid(format!(
                "date et heure « {v} » invalides{hint} : attendu AAAA-MM-JJTHH:MM \
                 (heure de Paris) ou un instant RFC 3339 avec décalage, \
                 par exemple 2026-12-01T10:00 ou 2026-12-01T10:00:00+01:00"
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

/// A calendar date "AAAA-MM-JJ".
pub fn parse_date(s: &str) -> Result<NaiveDate> {
    let v = s.trim();
    NaiveDate::parse_from_str(v, "%Y-%m-%d")
        .ok()
        .filter(|_| v.len() == 10)
        .ok_or_else(|| {
            Error::invalid(format!(
                "date « {v} » invalide : attendu AAAA-MM-JJ, par exemple 2026-12-01"
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
        for bad in [
            "2026-02-30",
            "01/12/2026",
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
    fn paris_and_format() {
        let t = Utc.with_ymd_and_hms(2026, 7, 1, 8, 0, 0).unwrap();
        assert_eq!(rfc3339(&paris(t)), "2026-07-01T10:00:00+02:00");
        let t = Utc.with_ymd_and_hms(2026, 12, 1, 9, 0, 0).unwrap();
        assert_eq!(rfc3339(&paris(t)), "2026-12-01T10:00:00+01:00");
        let t = DateTime::parse_from_rfc3339("2026-12-01T10:00:00.123456+01:00").unwrap();
        assert_eq!(rfc3339(&t), "2026-12-01T10:00:00+01:00");
    }
}
