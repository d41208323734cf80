//! Events of the network calendar. A site's events live in the `events` map
//! of its document (network-wide ones in the network document), keyed by id.
//!
//! Timed events store `start`/`end` as RFC 3339 instants with the Paris
//! offset; all-day events store dates "AAAA-MM-JJ", `end` being the last day
//! (inclusive). A recurrence is an RFC 5545 RRULE value, expanded in
//! Europe/Paris so that a weekly 10:00 event stays at 10:00 local time across
//! the summer-time changes.

use std::collections::{BTreeMap, HashSet};

use automerge::AutoCommit;
use autosurgeon::{Hydrate, Reconcile};
use chrono::{
    DateTime, Duration, FixedOffset, LocalResult, NaiveDate, NaiveDateTime, TimeZone, Utc,
};
use chrono_tz::Tz;
use icalendar::{CalendarDateTime, Component, DatePerhapsTime, EventLike, EventStatus, Property};

use super::time::{self, TZ};
use super::{map_entries, map_entry, optional_text, put_entry, required_text};
use crate::error::{Error, Result};

/// Kinds of event: stored identifier and French label (accepted on input).
pub const KINDS: &[(&str, &str)] = &[
    ("seminar", "séminaire"),
    ("workshop", "atelier"),
    ("exhibition", "manifestation"),
    ("meeting", "réunion"),
    ("training", "formation"),
    ("roving_action", "action itinérante"),
];
/// Audiences, in the order of attendance counts: identifier and French label.
pub const AUDIENCES: &[(&str, &str)] = &[
    ("pupils", "élèves"),
    ("teachers", "enseignants"),
    ("families", "familles"),
    ("partners", "partenaires"),
];
pub const CONFIRMED: &str = "confirmed";
pub const CANCELLED: &str = "cancelled";
pub const STATUSES: &[&str] = &[CONFIRMED, CANCELLED];

pub const MAX_TITLE: usize = 200;
pub const MAX_PLACE: usize = 200;
pub const MAX_ACTION: usize = 64;
pub const MAX_SITE: usize = 64;
pub const MAX_UID: usize = 255;
pub const MAX_RRULE: usize = 300;
pub const MAX_EXDATES: usize = 400;
pub const MAX_PARTICIPANTS: usize = 300;
/// Largest attendance count accepted for one audience (catches typos).
pub const MAX_COUNT: i64 = 1_000_000;
/// Most recurrences scanned by one expansion before giving up.
pub const MAX_SCAN: usize = 500_000;

/// The TZID written in .ics files, defined by [`VTIMEZONE`].
pub const TZID: &str = "Europe/Paris";
pub const PRODID: &str = "-//maillage//calendrier du réseau//FR";

#[derive(Debug, Clone, PartialEq, Reconcile, Hydrate)]
pub struct Attendance {
    pub pupils: i64,
    pub teachers: i64,
    pub families: i64,
    pub partners: i64,
    pub recorded_at: String,
}

#[derive(Debug, Clone, PartialEq, Reconcile, Hydrate)]
pub struct Event {
    /// RFC 5545 UID, stable across edits.
    pub uid: String,
    pub title: String,
    /// One of [`KINDS`] (identifier).
    pub kind: String,
    /// RFC 3339 with offset, or "AAAA-MM-JJ" for an all-day event.
    pub start: String,
    /// RFC 3339 with offset, or the last day "AAAA-MM-JJ" (inclusive).
    pub end: String,
    pub all_day: bool,
    /// RRULE value without "RRULE:", empty if the event does not repeat.
    pub rrule: String,
    /// Starts of excluded occurrences: instants, or dates for all-day events.
    pub exdates: Vec<String>,
    pub place: String,
    /// Organising site (or `network`).
    pub organiser: String,
    /// Participating sites.
    pub participants: Vec<String>,
    /// Identifiers of [`AUDIENCES`].
    pub audience: Vec<String>,
    /// One of [`STATUSES`].
    pub status: String,
    /// Linked common action, empty if none.
    pub action: String,
    pub attendance: Option<Attendance>,
    /// RFC 5545 SEQUENCE, bumped by every change.
    pub sequence: i64,
    pub created_at: String,
    pub updated_at: String,
}

/// A new event as a user gives it.
#[derive(Debug, Clone, Default)]
pub struct EventInput {
    pub title: String,
    pub kind: String,
    pub start: String,
    pub end: String,
    pub all_day: bool,
    pub rrule: Option<String>,
    pub exdates: Vec<String>,
    pub place: String,
    pub audience: Vec<String>,
    pub action: String,
    pub participants: Vec<String>,
}

/// Fields a user may change; `None` leaves a field as it is. `rrule:
/// Some("")` removes the recurrence.
#[derive(Debug, Clone, Default)]
pub struct EventPatch {
    pub title: Option<String>,
    pub kind: Option<String>,
    pub start: Option<String>,
    pub end: Option<String>,
    pub all_day: Option<bool>,
    pub rrule: Option<String>,
    pub exdates: Option<Vec<String>>,
    pub place: Option<String>,
    pub audience: Option<Vec<String>>,
    pub action: Option<String>,
}

/// The French label of a kind identifier (the identifier if unknown).
pub fn kind_label(kind: &str) -> &str {
    label(kind, KINDS)
}

/// The French label of an audience identifier (the identifier if unknown).
pub fn audience_label(audience: &str) -> &str {
    label(audience, AUDIENCES)
}

fn label<'a>(id: &'a str, table: &'static [(&'static str, &'static str)]) -> &'a str {
    table
        .iter()
        .find(|(i, _)| *i == id)
        .map(|(_, l)| *l)
        .unwrap_or(id)
}

/// Lower case, without accents, spaces and dashes as `_`: "Action itinérante"
/// → "action_itinerante".
fn fold(s: &str) -> String {
    s.trim()
        .chars()
        .flat_map(char::to_lowercase)
        .map(|c| match c {
            'à' | 'â' | 'ä' => 'a',
            'é' | 'è' | 'ê' | 'ë' => 'e',
            'î' | 'ï' => 'i',
            'ô' | 'ö' => 'o',
            'ù' | 'û' | 'ü' => 'u',
            'ç' => 'c',
            ' ' | '-' => '_',
            c => c,
        })
        .collect()
}

/// The identifier of `value` in `table`, matched on identifier or label.
fn choice(field: &str, value: &str, table: &[(&str, &str)]) -> Result<String> {
    let v = fold(value);
    table
        .iter()
        .find(|(id, label)| fold(id) == v || fold(label) == v)
        .map(|(id, _)| id.to_string())
        .ok_or_else(|| {
            let allowed: Vec<String> = table.iter().map(|(id, l)| format!("{l} ({id})")).collect();
            Error::invalid(format!(
                "{field} « {} » inconnu : valeurs possibles {}",
                value.trim(),
                allowed.join(", ")
            ))
        })
}

fn check_kind(value: &str) -> Result<String> {
    if value.trim().is_empty() {
        return Err(Error::invalid(format!(
            "le champ kind est obligatoire : {}",
            KINDS.iter().map(|(_, l)| *l).collect::<Vec<_>>().join(", ")
        )));
    }
    choice("kind", value, KINDS)
}

fn check_audience(values: &[String]) -> Result<Vec<String>> {
    let mut out: Vec<String> = Vec::new();
    for v in values.iter().filter(|v| !v.trim().is_empty()) {
        let a = choice("audience", v, AUDIENCES)?;
        if !out.contains(&a) {
            out.push(a);
        }
    }
    Ok(out)
}

fn check_participants(values: &[String]) -> Result<Vec<String>> {
    let mut out: Vec<String> = Vec::new();
    for v in values {
        let v = optional_text("participants", v, MAX_SITE)?;
        if !v.is_empty() && !out.contains(&v) {
            out.push(v);
        }
    }
    if out.len() > MAX_PARTICIPANTS {
        return Err(Error::invalid(format!(
            "participants : au plus {MAX_PARTICIPANTS} sites participants"
        )));
    }
    Ok(out)
}

/// `e` with its message prefixed by `field`, if it is an input error.
fn in_field(field: &str, e: Error) -> Error {
    match e {
        Error::InvalidArgument(m) => Error::invalid(format!("{field} : {m}")),
        other => other,
    }
}

/// A start or end of a timed event.
fn instant(field: &str, v: &str) -> Result<DateTime<FixedOffset>> {
    let v = v.trim();
    if v.is_empty() {
        return Err(Error::invalid(format!(
            "le champ {field} est obligatoire : date et heure AAAA-MM-JJTHH:MM (heure de Paris)"
        )));
    }
    time::parse_instant(v).map_err(|e| {
        if time::parse_date(v).is_ok() {
            Error::invalid(format!(
                "{field} : « {v} » est une date sans heure : donnez aussi l'heure \
                 (par exemple {v}T10:00) ou déclarez l'événement sur la journée (all_day)"
            ))
        } else {
            in_field(field, e)
        }
    })
}

/// A start or end day of an all-day event.
fn day(field: &str, v: &str) -> Result<NaiveDate> {
    let v = v.trim();
    if v.is_empty() {
        return Err(Error::invalid(format!(
            "le champ {field} est obligatoire : date AAAA-MM-JJ"
        )));
    }
    time::parse_date(v).map_err(|e| {
        if time::parse_instant(v).is_ok() {
            Error::invalid(format!(
                "{field} : l'événement est sur la journée (all_day) : donnez une date \
                 AAAA-MM-JJ sans heure, pas « {v} »"
            ))
        } else {
            in_field(field, e)
        }
    })
}

/// The stored start and end, checked: end after start (all-day: last day not
/// before the first).
fn check_times(all_day: bool, start: &str, end: &str) -> Result<(String, String)> {
    if all_day {
        let (s, e) = (day("start", start)?, day("end", end)?);
        if e < s {
            return Err(Error::invalid(format!(
                "end : le dernier jour ({e}) précède le premier ({s}) ; pour un événement \
                 sur la journée, end est le dernier jour inclus"
            )));
        }
        Ok((s.to_string(), e.to_string()))
    } else {
        let (s, e) = (instant("start", start)?, instant("end", end)?);
        if e <= s {
            return Err(Error::invalid(format!(
                "end : la fin ({}) doit être après le début ({})",
                time::rfc3339(&e),
                time::rfc3339(&s)
            )));
        }
        let store = |t: DateTime<FixedOffset>| time::rfc3339(&time::paris(t.with_timezone(&Utc)));
        Ok((store(s), store(e)))
    }
}

/// A Paris local time as an instant: the earlier of an ambiguous time, and a
/// skipped time read with the offset before the gap (RFC 5545 §3.3.5).
fn resolve(naive: NaiveDateTime) -> DateTime<Tz> {
    match TZ.from_local_datetime(&naive) {
        LocalResult::Single(t) => t,
        LocalResult::Ambiguous(a, _) => a,
        LocalResult::None => {
            let hour = Duration::hours(1);
            match TZ.from_local_datetime(&(naive - hour)) {
                LocalResult::Single(t) | LocalResult::Ambiguous(t, _) => t + hour,
                LocalResult::None => TZ.from_utc_datetime(&naive),
            }
        }
    }
}

/// 00:00 Paris on `d`.
fn midnight(d: NaiveDate) -> DateTime<Tz> {
    resolve(d.and_time(chrono::NaiveTime::MIN))
}

/// The first occurrence of a stored event: its start and end in Paris.
fn span(e: &Event) -> Result<(DateTime<Tz>, DateTime<Tz>)> {
    let unreadable = |what: &str, v: &str| {
        Error::Internal(format!("événement {} : {what} « {v} » illisible", e.uid))
    };
    if e.all_day {
        let s = time::parse_date(&e.start).map_err(|_| unreadable("début", &e.start))?;
        let last = time::parse_date(&e.end).map_err(|_| unreadable("fin", &e.end))?;
        let after = last.succ_opt().ok_or_else(|| unreadable("fin", &e.end))?;
        Ok((midnight(s), midnight(after)))
    } else {
        let s = time::parse_instant(&e.start).map_err(|_| unreadable("début", &e.start))?;
        let end = time::parse_instant(&e.end).map_err(|_| unreadable("fin", &e.end))?;
        Ok((s.with_timezone(&TZ), end.with_timezone(&TZ)))
    }
}

fn bad_rrule(raw: &str, why: &str) -> Error {
    Error::invalid(format!(
        "rrule : règle de récurrence « {} » invalide ({why}) : attendu une règle RFC 5545, \
         par exemple FREQ=WEEKLY;BYDAY=WE;COUNT=10 ou FREQ=WEEKLY;UNTIL=20270630",
        raw.trim()
    ))
}

/// An UNTIL value as written by a user, with or without dashes and colons.
enum Until {
    Date(NaiveDate),
    Local(NaiveDateTime),
    Utc(DateTime<Utc>),
}

fn parse_until(value: &str) -> Option<Until> {
    let v: String = value.chars().filter(|c| *c != '-' && *c != ':').collect();
    let (v, zulu) = match v.strip_suffix('Z') {
        Some(rest) => (rest.to_string(), true),
        None => (v, false),
    };
    if v.len() == 8 && !zulu {
        return NaiveDate::parse_from_str(&v, "%Y%m%d")
            .ok()
            .map(Until::Date);
    }
    let naive = match v.len() {
        15 => NaiveDateTime::parse_from_str(&v, "%Y%m%dT%H%M%S").ok()?,
        13 => NaiveDateTime::parse_from_str(&v, "%Y%m%dT%H%M").ok()?,
        _ => return None,
    };
    Some(if zulu {
        Until::Utc(naive.and_utc())
    } else {
        Until::Local(naive)
    })
}

fn utc_until(t: DateTime<Utc>) -> String {
    t.format("%Y%m%dT%H%M%SZ").to_string()
}

/// The rule as stored: upper case, without "RRULE:", UNTIL in the form RFC
/// 5545 requires with the event's DTSTART (a date for an all-day event, a UTC
/// instant for a timed one; a local UNTIL is read in Paris, a date for a
/// timed event includes that whole day). Checked with the rrule crate.
fn normalize_rrule(raw: &str, all_day: bool, dtstart: &DateTime<Tz>) -> Result<String> {
    let mut v = raw.trim().to_ascii_uppercase();
    if let Some(rest) = v.strip_prefix("RRULE:") {
        v = rest.trim().to_string();
    }
    if v.is_empty() {
        return Ok(String::new());
    }
    if v.chars().count() > MAX_RRULE {
        return Err(bad_rrule(raw, &format!("plus de {MAX_RRULE} caractères")));
    }
    if v.chars().any(|c| c.is_whitespace() || c.is_control()) {
        return Err(bad_rrule(raw, "pas d'espace ni de retour à la ligne"));
    }
    let mut parts = Vec::new();
    for part in v.split(';').filter(|p| !p.is_empty()) {
        let (key, value) = part.split_once('=').ok_or_else(|| {
            bad_rrule(raw, &format!("« {part} » n'est pas de la forme CLÉ=VALEUR"))
        })?;
        match key {
            "FREQ" if matches!(value, "SECONDLY" | "MINUTELY" | "HOURLY") => {
                return Err(bad_rrule(
                    raw,
                    &format!(
                        "fréquence {value} non prise en charge : DAILY, WEEKLY, MONTHLY ou YEARLY"
                    ),
                ));
            }
            "BYHOUR" | "BYMINUTE" | "BYSECOND" if all_day => {
                return Err(bad_rrule(
                    raw,
                    &format!("{key} n'a pas de sens pour un événement sur la journée"),
                ));
            }
            "UNTIL" => {
                let until = parse_until(value).ok_or_else(|| {
                    bad_rrule(
                        raw,
                        &format!("UNTIL={value} : attendu AAAAMMJJ ou AAAAMMJJTHHMMSSZ"),
                    )
                })?;
                let value = match (all_day, until) {
                    (true, Until::Date(d)) => d.format("%Y%m%d").to_string(),
                    (true, Until::Local(t)) => t.date().format("%Y%m%d").to_string(),
                    (true, Until::Utc(t)) => t.with_timezone(&TZ).format("%Y%m%d").to_string(),
                    (false, Until::Date(d)) => {
                        let last = d.and_hms_opt(23, 59, 59).expect("valid time");
                        utc_until(resolve(last).with_timezone(&Utc))
                    }
                    (false, Until::Local(t)) => utc_until(resolve(t).with_timezone(&Utc)),
                    (false, Until::Utc(t)) => utc_until(t),
                };
                parts.push(format!("UNTIL={value}"));
            }
            _ => parts.push(part.to_string()),
        }
    }
    let rule = parts.join(";");
    recurrence(&rule, dtstart).map_err(|why| bad_rrule(raw, &why))?;
    Ok(rule)
}

/// The rrule crate's recurrence set of a stored rule from `dtstart` (in
/// Paris). A local or date UNTIL is read as Paris time (a date at 00:00,
/// inclusive), as the crate wants UTC with a zoned DTSTART.
fn recurrence(rule: &str, dtstart: &DateTime<Tz>) -> std::result::Result<rrule::RRuleSet, String> {
    let parts: Vec<String> = rule
        .split(';')
        .map(|part| match part.split_once('=') {
            Some(("UNTIL", v)) => match parse_until(v) {
                Some(Until::Date(d)) => {
                    format!("UNTIL={}", utc_until(midnight(d).with_timezone(&Utc)))
                }
                Some(Until::Local(t)) => {
                    format!("UNTIL={}", utc_until(resolve(t).with_timezone(&Utc)))
                }
                _ => part.to_string(),
            },
            _ => part.to_string(),
        })
        .collect();
    let parsed: rrule::RRule<rrule::Unvalidated> = parts
        .join(";")
        .parse()
        .map_err(|e: rrule::RRuleError| e.to_string())?;
    let start = dtstart.with_timezone(&rrule::Tz::Europe__Paris);
    parsed
        .build(start)
        .map(rrule::RRuleSet::limit)
        .map_err(|e| e.to_string())
}

/// The stored exclusions, sorted: dates for an all-day event (an instant
/// gives its Paris day); instants for a timed one (a bare date gives the
/// occurrence of that day, at the event's local start time).
fn normalize_exdates(
    values: &[String],
    all_day: bool,
    dtstart: &DateTime<Tz>,
) -> Result<Vec<String>> {
    let values: Vec<&str> = values
        .iter()
        .map(|v| v.trim())
        .filter(|v| !v.is_empty())
        .collect();
    if values.len() > MAX_EXDATES {
        return Err(Error::invalid(format!(
            "exdates : au plus {MAX_EXDATES} dates exclues"
        )));
    }
    let mut out: Vec<(i64, String)> = Vec::new();
    for v in values {
        let item = if all_day {
            let d = match time::parse_date(v) {
                Ok(d) => d,
                Err(e) => match time::parse_instant(v) {
                    Ok(t) => t.with_timezone(&TZ).date_naive(),
                    Err(_) => return Err(in_field("exdates", e)),
                },
            };
            (midnight(d).timestamp(), d.to_string())
        } else {
            let t = match time::parse_date(v) {
                Ok(d) => resolve(d.and_time(dtstart.time())).fixed_offset(),
                Err(_) => time::parse_instant(v).map_err(|e| in_field("exdates", e))?,
            };
            let t = time::paris(t.with_timezone(&Utc));
            (t.timestamp(), time::rfc3339(&t))
        };
        out.push(item);
    }
    out.sort();
    out.dedup_by_key(|(t, _)| *t);
    Ok(out.into_iter().map(|(_, s)| s).collect())
}

/// The excluded starts of a stored event, as Unix timestamps.
fn excluded(e: &Event) -> Result<HashSet<i64>> {
    e.exdates
        .iter()
        .map(|v| {
            let t = if e.all_day {
                time::parse_date(v).map(|d| midnight(d).timestamp())
            } else {
                time::parse_instant(v).map(|t| t.timestamp())
            };
            t.map_err(|_| {
                Error::Internal(format!(
                    "événement {} : date exclue « {v} » illisible",
                    e.uid
                ))
            })
        })
        .collect()
}

impl EventPatch {
    /// Applies the patch to `e`, validating the result as a whole; on error
    /// `e` is left unchanged. Bumps `sequence` and sets `updated_at`.
    pub fn apply(&self, e: &mut Event, now: &str) -> Result<()> {
        let mut next = self.patched(e)?;
        next.sequence = e.sequence.saturating_add(1);
        next.updated_at = now.to_string();
        *e = next;
        Ok(())
    }

    fn patched(&self, e: &Event) -> Result<Event> {
        let mut n = e.clone();
        if let Some(v) = &self.title {
            n.title = required_text("title", v, MAX_TITLE)?;
        }
        if let Some(v) = &self.kind {
            n.kind = check_kind(v)?;
        }
        if let Some(v) = self.all_day {
            n.all_day = v;
        }
        let start = self.start.as_deref().unwrap_or(&e.start);
        let end = self.end.as_deref().unwrap_or(&e.end);
        (n.start, n.end) = check_times(n.all_day, start, end)?;
        let (dtstart, _) = span(&n)?;
        n.rrule = normalize_rrule(
            self.rrule.as_deref().unwrap_or(&e.rrule),
            n.all_day,
            &dtstart,
        )?;
        n.exdates = match &self.exdates {
            Some(v) if n.rrule.is_empty() && v.iter().any(|x| !x.trim().is_empty()) => {
                return Err(Error::invalid(
                    "exdates : des dates exclues n'ont de sens que pour un événement \
                     récurrent (donnez aussi rrule)",
                ));
            }
            _ if n.rrule.is_empty() => Vec::new(),
            Some(v) => normalize_exdates(v, n.all_day, &dtstart)?,
            None => normalize_exdates(&e.exdates, n.all_day, &dtstart)?,
        };
        if let Some(v) = &self.place {
            n.place = optional_text("place", v, MAX_PLACE)?;
        }
        if let Some(v) = &self.audience {
            n.audience = check_audience(v)?;
        }
        if let Some(v) = &self.action {
            n.action = optional_text("action", v, MAX_ACTION)?;
        }
        Ok(n)
    }
}

/// A new, confirmed event from user input, validating every field.
pub fn new_event(input: &EventInput, uid: &str, organiser: &str, now: &str) -> Result<Event> {
    let blank = Event {
        uid: required_text("uid", uid, MAX_UID)?,
        title: String::new(),
        kind: String::new(),
        start: String::new(),
        end: String::new(),
        all_day: input.all_day,
        rrule: String::new(),
        exdates: Vec::new(),
        place: String::new(),
        organiser: required_text("organiser", organiser, MAX_SITE)?,
        participants: check_participants(&input.participants)?,
        audience: Vec::new(),
        status: CONFIRMED.to_string(),
        action: String::new(),
        attendance: None,
        sequence: 0,
        created_at: now.to_string(),
        updated_at: now.to_string(),
    };
    let patch = EventPatch {
        title: Some(input.title.clone()),
        kind: Some(input.kind.clone()),
        start: Some(input.start.clone()),
        end: Some(input.end.clone()),
        all_day: Some(input.all_day),
        rrule: Some(input.rrule.clone().unwrap_or_default()),
        exdates: Some(input.exdates.clone()),
        place: Some(input.place.clone()),
        audience: Some(input.audience.clone()),
        action: Some(input.action.clone()),
    };
    patch.patched(&blank)
}

/// Cancels the event (it stays in the calendar, marked cancelled).
pub fn cancel(e: &mut Event, now: &str) -> Result<()> {
    if e.status == CANCELLED {
        return Err(Error::precondition(format!(
            "l'événement « {} » est déjà annulé",
            e.title
        )));
    }
    e.status = CANCELLED.to_string();
    e.sequence = e.sequence.saturating_add(1);
    e.updated_at = now.to_string();
    Ok(())
}

/// Records (or corrects) the attendance of an event that has started:
/// counts of pupils, teachers, families and partners, in that order.
pub fn record_attendance(e: &mut Event, counts: [i64; 4], now: DateTime<Utc>) -> Result<()> {
    for (n, (id, label)) in counts.iter().zip(AUDIENCES) {
        if *n < 0 {
            return Err(Error::invalid(format!(
                "{id} : le nombre de {label} ne peut pas être négatif (reçu {n})"
            )));
        }
        if *n > MAX_COUNT {
            return Err(Error::invalid(format!(
                "{id} : {n} {label}, c'est plus que le maximum accepté ({MAX_COUNT}) : vérifiez le nombre"
            )));
        }
    }
    if e.status == CANCELLED {
        return Err(Error::precondition(format!(
            "l'événement « {} » est annulé : pas de fréquentation à saisir",
            e.title
        )));
    }
    let (start, _) = span(e)?;
    if now < start {
        return Err(Error::precondition(format!(
            "l'événement « {} » n'a pas encore commencé (début le {}) : saisissez la \
             fréquentation après",
            e.title,
            time::rfc3339(&start.fixed_offset())
        )));
    }
    let at = now.to_rfc3339_opts(chrono::SecondsFormat::Secs, true);
    e.attendance = Some(Attendance {
        pupils: counts[0],
        teachers: counts[1],
        families: counts[2],
        partners: counts[3],
        recorded_at: at.clone(),
    });
    e.updated_at = at;
    Ok(())
}

/// The end of the occurrence starting at `start`: its local start plus the
/// event's local duration, never before the start.
fn occurrence_end(start: &DateTime<Tz>, local_len: Duration) -> DateTime<Tz> {
    let naive = start.naive_local() + local_len;
    let end = match TZ.from_local_datetime(&naive) {
        LocalResult::Ambiguous(a, b) => {
            if a > *start {
                a
            } else {
                b
            }
        }
        _ => resolve(naive),
    };
    if end > *start {
        end
    } else {
        *start + local_len
    }
}

/// Occurrences of `e` overlapping [from, to): (start, end) with the Paris
/// offset of each, in order, at most `limit`. Cancelled events have their
/// occurrences too (the caller shows the status).
pub fn occurrences(
    e: &Event,
    from: DateTime<Utc>,
    to: DateTime<Utc>,
    limit: usize,
) -> Result<Vec<(DateTime<FixedOffset>, DateTime<FixedOffset>)>> {
    let mut out = Vec::new();
    if from >= to || limit == 0 {
        return Ok(out);
    }
    let (start, end) = span(e)?;
    let skip = excluded(e)?;
    if e.rrule.is_empty() {
        if start < to && end > from && !skip.contains(&start.timestamp()) {
            out.push((start.fixed_offset(), end.fixed_offset()));
        }
        return Ok(out);
    }
    let local_len = end.naive_local() - start.naive_local();
    let set = recurrence(&e.rrule, &start).map_err(|why| {
        Error::Internal(format!(
            "événement {} : règle de récurrence « {} » illisible ({why})",
            e.uid, e.rrule
        ))
    })?;
    for (scanned, s) in (&set).into_iter().enumerate() {
        let s = s.with_timezone(&TZ);
        if s >= to {
            break;
        }
        if scanned >= MAX_SCAN {
            return Err(Error::invalid(format!(
                "l'événement « {} » se répète plus de {MAX_SCAN} fois avant la fin de la \
                 période : choisissez une période plus proche de son début",
                e.title
            )));
        }
        if skip.contains(&s.timestamp()) {
            continue;
        }
        let end = occurrence_end(&s, local_len);
        if end <= from {
            continue;
        }
        out.push((s.fixed_offset(), end.fixed_offset()));
        if out.len() >= limit {
            break;
        }
    }
    Ok(out)
}

pub const MAP: &str = "events";

pub fn get(doc: &AutoCommit, id: &str) -> Result<Option<Event>> {
    map_entry(doc, MAP, id)
}

pub fn all(doc: &AutoCommit) -> Result<BTreeMap<String, Event>> {
    map_entries(doc, MAP)
}

pub fn put(doc: &mut AutoCommit, id: &str, e: &Event) -> Result<()> {
    put_entry(doc, MAP, id, e)
}

/// Europe/Paris as RFC 5545 defines it for the EU rules since 1996. Written
/// as text: the icalendar crate would add DTSTAMP and UID to it.
pub const VTIMEZONE: &str = "BEGIN:VTIMEZONE\r\n\
TZID:Europe/Paris\r\n\
X-LIC-LOCATION:Europe/Paris\r\n\
BEGIN:DAYLIGHT\r\n\
TZOFFSETFROM:+0100\r\n\
TZOFFSETTO:+0200\r\n\
TZNAME:CEST\r\n\
DTSTART:19700329T020000\r\n\
RRULE:FREQ=YEARLY;BYMONTH=3;BYDAY=-1SU\r\n\
END:DAYLIGHT\r\n\
BEGIN:STANDARD\r\n\
TZOFFSETFROM:+0200\r\n\
TZOFFSETTO:+0100\r\n\
TZNAME:CET\r\n\
DTSTART:19701025T030000\r\n\
RRULE:FREQ=YEARLY;BYMONTH=10;BYDAY=-1SU\r\n\
END:STANDARD\r\n\
END:VTIMEZONE\r\n";

fn zoned(t: &DateTime<Tz>) -> CalendarDateTime {
    CalendarDateTime::WithTimezone {
        date_time: t.naive_local(),
        tzid: TZID.to_string(),
    }
}

fn utc(s: &str) -> Option<DateTime<Utc>> {
    DateTime::parse_from_rfc3339(s.trim())
        .ok()
        .map(|t| t.with_timezone(&Utc))
}

/// One VEVENT, or None if the stored event is unreadable.
fn vevent(id: &str, site: &str, e: &Event) -> Option<icalendar::Event> {
    let mut v = icalendar::Event::new();
    v.uid(&e.uid)
        .sequence(u32::try_from(e.sequence.max(0)).unwrap_or(u32::MAX))
        .timestamp(
            utc(&e.updated_at)
                .or_else(|| utc(&e.created_at))
                .unwrap_or(DateTime::UNIX_EPOCH),
        )
        .summary(&e.title)
        .categories([e.kind.as_str()])
        .status(if e.status == CANCELLED {
            EventStatus::Cancelled
        } else {
            EventStatus::Confirmed
        });
    if let Some(t) = utc(&e.created_at) {
        v.created(t);
    }
    if let Some(t) = utc(&e.updated_at) {
        v.last_modified(t);
    }
    if !e.place.is_empty() {
        v.location(&e.place);
    }
    let mut desc = vec![
        format!("Type : {}", kind_label(&e.kind)),
        format!("Organisation : {}", e.organiser),
    ];
    if !e.audience.is_empty() {
        let labels: Vec<&str> = e.audience.iter().map(|a| audience_label(a)).collect();
        desc.push(format!("Public : {}", labels.join(", ")));
    }
    if !e.participants.is_empty() {
        desc.push(format!(
            "Sites participants : {}",
            e.participants.join(", ")
        ));
    }
    if !e.action.is_empty() {
        desc.push(format!("Action commune : {}", e.action));
    }
    desc.push(format!("Référence maillage : {id} ({site})"));
    v.description(&desc.join("\n"));
    if e.all_day {
        let first = time::parse_date(&e.start).ok()?;
        let after = time::parse_date(&e.end).ok()?.succ_opt()?;
        v.starts(DatePerhapsTime::Date(first))
            .ends(DatePerhapsTime::Date(after));
    } else {
        let (start, end) = span(e).ok()?;
        v.starts(zoned(&start)).ends(zoned(&end));
    }
    if !e.rrule.is_empty() {
        v.append_property(Property::new("RRULE", e.rrule.as_str()));
        for x in &e.exdates {
            if e.all_day {
                v.exdate(DatePerhapsTime::Date(time::parse_date(x).ok()?));
            } else {
                let t = time::parse_instant(x).ok()?.with_timezone(&TZ);
                v.exdate(zoned(&t));
            }
        }
    }
    Some(v.done())
}

/// An RFC 5545 calendar of `events` (event id, owner site, event), named
/// `calname`. Timed events are written in local time with TZID=Europe/Paris,
/// defined by one VTIMEZONE; all-day events as dates with an exclusive DTEND.
/// Cancelled events stay, with STATUS:CANCELLED, so that subscribers drop them.
pub fn to_ics(events: &[(String, String, Event)], calname: &str) -> String {
    let mut cal = icalendar::Calendar::empty();
    cal.append_property(Property::new("VERSION", "2.0"))
        .append_property(Property::new("PRODID", PRODID))
        .append_property(Property::new("CALSCALE", "GREGORIAN"))
        .append_property(Property::new("METHOD", "PUBLISH"))
        .append_property(Property::new("X-WR-CALNAME", calname))
        .append_property(Property::new("X-WR-TIMEZONE", TZID));
    for (id, site, e) in events {
        if let Some(v) = vevent(id, site, e) {
            cal.push(v);
        }
    }
    let text = cal.to_string();
    let at = text
        .find("BEGIN:VEVENT\r\n")
        .or_else(|| text.rfind("END:VCALENDAR"))
        .unwrap_or(text.len());
    format!("{}{VTIMEZONE}{}", &text[..at], &text[at..])
}

#[cfg(test)]
mod tests {
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
            m.starts_with("end :") && m.contains("après le début"),
            "{m}"
        );
        let m = invalid(&input("2026-12-01T10:00", "2026-12-01T10:00"));
        assert!(m.starts_with("end :"), "{m}");
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
        assert!(m.starts_with("start :") && m.contains("AAAA-MM-JJ"), "{m}");
        let m = invalid(&input("2026-12-01", "2026-12-01T12:00"));
        assert!(m.starts_with("start :") && m.contains("all_day"), "{m}");
        let m = invalid(&input("2026-03-29T02:30", "2026-03-29T04:00"));
        assert!(
            m.starts_with("start :") && m.contains("n'existe pas"),
            "{m}"
        );
        let m = invalid(&input("2026-12-01T10:00", ""));
        assert!(m.contains("end est obligatoire"), "{m}");
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
        assert!(m.starts_with("end :") && m.contains("dernier jour"), "{m}");
        let m = invalid(&EventInput {
            all_day: true,
            ..input("2026-12-01T10:00", "2026-12-01")
        });
        assert!(m.starts_with("start :") && m.contains("sans heure"), "{m}");
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

    #[test]
    fn put_get_all_roundtrip() {
        let mut doc = AutoCommit::new();
        let mut e = ev(&weekly("FREQ=WEEKLY;COUNT=3"));
        put(&mut doc, "ev-1", &e).unwrap();
        assert_eq!(get(&doc, "ev-1").unwrap(), Some(e.clone()));
        assert_eq!(get(&doc, "ev-2").unwrap(), None);
        record_attendance(
            &mut e,
            [3, 1, 0, 0],
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
        assert!(value(w, "SUMMARY")
            .starts_with("Atelier robotique\\, programmation\\; et « débranché »"));
        let desc = value(w, "DESCRIPTION");
        assert!(
            desc.contains(
                "Type : atelier\\nOrganisation : site-a\\nPublic : élèves\\, enseignants"
            ),
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
}
