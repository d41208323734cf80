//! Placeholder replaced by the full time module.
use chrono::{DateTime, FixedOffset, NaiveDate, TimeZone, Utc};

use crate::error::{Error, Result};

pub const TZ: chrono_tz::Tz = chrono_tz::Europe::Paris;

pub fn parse_instant(s: &str) -> Result<DateTime<FixedOffset>> {
    if let Ok(t) = DateTime::parse_from_rfc3339(s.trim()) {
        return Ok(t);
    }
    let naive = chrono::NaiveDateTime::parse_from_str(s.trim(), "%Y-%m-%dT%H:%M")
        .or_else(|_| chrono::NaiveDateTime::parse_from_str(s.trim(), "%Y-%m-%dT%H:%M:%S"))
        .map_err(|_| Error::invalid(format!("date et heure « {s} » invalides")))?;
    TZ.from_local_datetime(&naive)
        .single()
        .map(|t| t.fixed_offset())
        .ok_or_else(|| Error::invalid(format!("heure locale « {s} » ambiguë ou inexistante")))
}

pub fn parse_date(s: &str) -> Result<NaiveDate> {
    NaiveDate::parse_from_str(s.trim(), "%Y-%m-%d")
        .map_err(|_| Error::invalid(format!("date « {s} » invalide (attendu AAAA-MM-JJ)")))
}

pub fn parse_bound(s: &str, is_end: bool) -> Result<DateTime<FixedOffset>> {
    if let Ok(d) = parse_date(s) {
        let d = if is_end { d.succ_opt().unwrap_or(d) } else { d };
        return TZ
            .from_local_datetime(&d.and_hms_opt(0, 0, 0).unwrap())
            .earliest()
            .map(|t| t.fixed_offset())
            .ok_or_else(|| Error::invalid(format!("date « {s} » invalide")));
    }
    parse_instant(s)
}

pub fn paris(dt: DateTime<Utc>) -> DateTime<FixedOffset> {
    dt.with_timezone(&TZ).fixed_offset()
}

pub fn rfc3339(dt: &DateTime<FixedOffset>) -> String {
    dt.to_rfc3339_opts(chrono::SecondsFormat::Secs, true)
}
