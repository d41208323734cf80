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
    /// Attendance of a single event (and, in documents written before
    /// `occurrence_attendance`, of a whole series: reports count it on the
    /// series' first occurrence).
    pub attendance: Option<Attendance>,
    /// Attendance of each occurrence of a recurring event, by the Paris date
    /// of its start ("AAAA-MM-JJ"). Absent from older documents.
    #[autosurgeon(missing = "Default::default")]
    pub occurrence_attendance: BTreeMap<String, Attendance>,
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

/// How a start or end field is named in messages: its French name, with
/// the command line's option beside it (the web form checks its own fields
/// before they get here, so these messages are read by CLI users).
fn field_fr(field: &str) -> &'static str {
    match field {
        "start" => "début (--start)",
        _ => "fin (--end)",
    }
}

/// A start or end of a timed event.
fn instant(field: &str, v: &str) -> Result<DateTime<FixedOffset>> {
    let v = v.trim();
    let name = field_fr(field);
    if v.is_empty() {
        return Err(Error::invalid(format!(
            "{name} obligatoire : date et heure JJ/MM/AAAA HH:MM (heure de Paris)"
        )));
    }
    time::parse_instant(v).map_err(|e| {
        if time::parse_date(v).is_ok() {
            Error::invalid(format!(
                "{name} : « {v} » est une date sans heure : donnez aussi l'heure \
                 (par exemple « {v} 10:00 ») ou déclarez l'événement sur la journée \
                 entière (--all-day)"
            ))
        } else {
            in_field(name, e)
        }
    })
}

/// A start or end day of an all-day event.
fn day(field: &str, v: &str) -> Result<NaiveDate> {
    let v = v.trim();
    let name = field_fr(field);
    if v.is_empty() {
        return Err(Error::invalid(format!(
            "{name} obligatoire : date JJ/MM/AAAA"
        )));
    }
    time::parse_date(v).map_err(|e| {
        if time::parse_instant(v).is_ok() {
            Error::invalid(format!(
                "{name} : l'événement est sur la journée entière (--all-day) : donnez \
                 une date JJ/MM/AAAA sans heure, pas « {v} »"
            ))
        } else {
            in_field(name, e)
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
                "fin (--end) : le dernier jour ({}) précède le premier ({}) ; pour un \
                 événement sur la journée entière, la fin est le dernier jour inclus",
                time::fr_date(e),
                time::fr_date(s)
            )));
        }
        Ok((s.to_string(), e.to_string()))
    } else {
        let (s, e) = (instant("start", start)?, instant("end", end)?);
        if e <= s {
            return Err(Error::invalid(format!(
                "fin (--end) : la fin ({}) doit être après le début ({})",
                time::fr_instant(&time::rfc3339(&e)),
                time::fr_instant(&time::rfc3339(&s))
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
        occurrence_attendance: BTreeMap::new(),
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

/// Records (or corrects) the attendance of a single event that has started:
/// counts of pupils, teachers, families and partners, in that order.
pub fn record_attendance(e: &mut Event, counts: [i64; 4], now: DateTime<Utc>) -> Result<()> {
    record_attendance_on(e, counts, "", now)
}

/// Whether the event repeats.
pub fn is_recurring(e: &Event) -> bool {
    !e.rrule.is_empty()
}

/// The occurrence of `e` that starts on the Paris day `day`, if any.
pub fn occurrence_on(e: &Event, day: NaiveDate) -> Result<Option<DateTime<FixedOffset>>> {
    let from = midnight(day).with_timezone(&Utc);
    let to = midnight(day.succ_opt().unwrap_or(day)).with_timezone(&Utc);
    Ok(occurrences(e, from, to, 16)?
        .into_iter()
        .map(|(s, _)| s)
        .find(|s| s.with_timezone(&TZ).date_naive() == day))
}

/// Records (or corrects) the attendance of one occurrence that has started.
/// `occurrence` is the day it starts (JJ/MM/AAAA or AAAA-MM-JJ); required
/// for a recurring event, optional for a single one (then its day).
pub fn record_attendance_on(
    e: &mut Event,
    counts: [i64; 4],
    occurrence: &str,
    now: DateTime<Utc>,
) -> Result<()> {
    for (n, (id, label)) in counts.iter().zip(AUDIENCES) {
        if *n < 0 {
            return Err(Error::invalid(format!(
                "{id} : le nombre {} ne peut pas être négatif (reçu {n})",
                de(label)
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
    let (first, _) = span(e)?;
    let day = if occurrence.trim().is_empty() {
        if is_recurring(e) {
            return Err(Error::invalid(format!(
                "l'événement « {} » se répète : précisez la séance avec --occurrence \
                 JJ/MM/AAAA (la première : {})",
                e.title,
                time::fr_date(first.date_naive())
            )));
        }
        None
    } else {
        Some(
            time::parse_date(occurrence)
                .map_err(|err| in_field("occurrence (jour de la séance)", err))?,
        )
    };
    let start = match day {
        None => first.fixed_offset(),
        Some(d) => occurrence_on(e, d)?.ok_or_else(|| {
            let next: Vec<String> = occurrences(
                e,
                midnight(d).with_timezone(&Utc),
                DateTime::<Utc>::MAX_UTC,
                3,
            )
            .unwrap_or_default()
            .iter()
            .map(|(s, _)| time::fr_date(s.with_timezone(&TZ).date_naive()))
            .collect();
            let hint = if next.is_empty() {
                "aucune séance ce jour-là ni après".to_string()
            } else {
                format!("séances suivantes : {}", next.join(", "))
            };
            Error::invalid(format!(
                "l'événement « {} » n'a pas de séance le {} ({hint})",
                e.title,
                time::fr_date(d)
            ))
        })?,
    };
    if now < start {
        return Err(Error::precondition(format!(
            "la séance de « {} » du {} n'a pas encore commencé : saisissez la \
             fréquentation après",
            e.title,
            time::fr_instant(&time::rfc3339(&start))
        )));
    }
    let at = now.to_rfc3339_opts(chrono::SecondsFormat::Secs, true);
    let record = Attendance {
        pupils: counts[0],
        teachers: counts[1],
        families: counts[2],
        partners: counts[3],
        recorded_at: at.clone(),
    };
    if is_recurring(e) {
        let d = start.with_timezone(&TZ).date_naive();
        e.occurrence_attendance.insert(d.to_string(), record);
    } else {
        e.attendance = Some(record);
    }
    e.updated_at = at;
    Ok(())
}

/// "de" before a French noun: « d'élèves », « de familles ».
pub fn de(noun: &str) -> String {
    match noun.chars().next() {
        Some('a' | 'e' | 'é' | 'è' | 'ê' | 'i' | 'o' | 'u' | 'h') => format!("d'{noun}"),
        _ => format!("de {noun}"),
    }
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
    // A single event days away from the window is left at a glance (a
    // month of the network calendar looks at every event of five years).
    if e.rrule.is_empty() {
        let day = |v: &str| {
            v.get(..10)
                .and_then(|d| d.parse::<chrono::NaiveDate>().ok())
        };
        if let (Some(first), Some(last)) = (day(&e.start), day(&e.end)) {
            let margin = chrono::Duration::days(2);
            let after = (to.date_naive().checked_add_signed(margin)).is_some_and(|t| first > t);
            let before = (from.date_naive().checked_sub_signed(margin)).is_some_and(|f| last < f);
            if after || before {
                return Ok(out);
            }
        }
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

mod ics;
pub use ics::*;

#[cfg(test)]
mod tests;
