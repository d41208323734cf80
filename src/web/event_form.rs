//! The event form as people fill it in, turned into the use case's input:
//! the recurrence is chosen (« chaque semaine le mardi, jusqu'au 13/04/2027,
//! sauf le 30/03/2027 ») rather than typed, and this module writes the RRULE
//! and the EXDATEs. Pure: no I/O, every rule of the form tested below; the
//! event's own rules stay in `domain::calendar`, which `app::calendar::add`
//! applies afterwards.

use chrono::{Datelike, NaiveDate, NaiveTime, Weekday};

use crate::domain::calendar::{AUDIENCES, KINDS};
use crate::domain::time;
use crate::pb;

/// How an event repeats: form value, French label.
pub const REPEATS: &[(&str, &str)] = &[
    ("non", "Ne se répète pas"),
    ("semaine", "Chaque semaine"),
    ("deux-semaines", "Toutes les deux semaines"),
    ("mois", "Chaque mois"),
];

/// Days of the week: RFC 5545 code, French name (Monday first).
pub const WEEKDAYS: &[(&str, &str)] = &[
    ("MO", "lundi"),
    ("TU", "mardi"),
    ("WE", "mercredi"),
    ("TH", "jeudi"),
    ("FR", "vendredi"),
    ("SA", "samedi"),
    ("SU", "dimanche"),
];

/// The form's fields, as sent (kept as typed, to fill the form again).
#[derive(Debug, Clone, PartialEq)]
pub struct EventForm {
    pub titre: String,
    /// One of [`KINDS`] (identifier).
    pub genre: String,
    /// The first day (AAAA-MM-JJ from the date picker, or JJ/MM/AAAA).
    pub jour: String,
    pub journee: bool,
    /// Start and end times, HH:MM (Paris).
    pub debut: String,
    pub fin: String,
    pub lieu: String,
    /// An action's id, or empty.
    pub action: String,
    /// Identifiers of [`AUDIENCES`].
    pub publics: Vec<String>,
    /// One of [`REPEATS`] (value).
    pub repetition: String,
    /// Codes of [`WEEKDAYS`].
    pub jours: Vec<String>,
    /// The last day (included), or empty for no end.
    pub jusqu_au: String,
    /// Excluded days, JJ/MM/AAAA, separated by commas, semicolons or lines.
    pub exceptions: String,
    /// When editing an event whose rule the form cannot express (written
    /// with `maillage event add --rrule`): that rule, kept as it is while
    /// `repetition` is [`KEEP`].
    pub regle: String,
}

/// The `repetition` that keeps an event's rule as it is (see `regle`).
pub const KEEP: &str = "garder";

impl Default for EventForm {
    fn default() -> Self {
        EventForm {
            titre: String::new(),
            genre: "workshop".into(),
            jour: String::new(),
            journee: false,
            debut: String::new(),
            fin: String::new(),
            lieu: String::new(),
            action: String::new(),
            publics: Vec::new(),
            repetition: "non".into(),
            jours: Vec::new(),
            jusqu_au: String::new(),
            exceptions: String::new(),
            regle: String::new(),
        }
    }
}

impl EventForm {
    /// The form from its urlencoded fields (checkboxes repeat their name).
    pub fn from_fields(fields: &[(String, String)]) -> EventForm {
        let mut f = EventForm {
            genre: String::new(),
            repetition: String::new(),
            ..Default::default()
        };
        for (k, v) in fields {
            match k.as_str() {
                "titre" => f.titre = v.clone(),
                "genre" => f.genre = v.clone(),
                "jour" => f.jour = v.clone(),
                "journee" => f.journee = !v.is_empty(),
                "debut" => f.debut = v.clone(),
                "fin" => f.fin = v.clone(),
                "lieu" => f.lieu = v.clone(),
                "action" => f.action = v.clone(),
                "publics" => f.publics.push(v.clone()),
                "repetition" => f.repetition = v.clone(),
                "jours" => f.jours.push(v.clone()),
                "jusqu_au" => f.jusqu_au = v.clone(),
                "exceptions" => f.exceptions = v.clone(),
                "regle" => f.regle = v.clone(),
                _ => {}
            }
        }
        if f.repetition.is_empty() {
            f.repetition = "non".into();
        }
        f
    }

    /// The form filled with a stored event, to edit it. A rule the form
    /// cannot express is kept (`repetition` [`KEEP`]). An event over several
    /// days, which the form cannot show, is an error saying so.
    pub fn from_event(e: &pb::Event) -> Result<EventForm, String> {
        let several = || {
            "Cet événement s'étend sur plusieurs jours : le formulaire ne sait pas le montrer. Modifiez-le avec « maillage event update ».".to_string()
        };
        let mut f = EventForm {
            titre: e.title.clone(),
            genre: e.kind.clone(),
            journee: e.all_day,
            lieu: e.place.clone(),
            action: e.action.clone(),
            publics: e.audience.clone(),
            ..Default::default()
        };
        let first = if e.all_day {
            let (s, end) = (time::parse_date(&e.start), time::parse_date(&e.end));
            match (s, end) {
                (Ok(s), Ok(end)) if end <= s => s,
                (Ok(_), Ok(_)) => return Err(several()),
                _ => return Err(format!("dates illisibles : {} → {}", e.start, e.end)),
            }
        } else {
            let (s, end) = match (
                chrono::DateTime::parse_from_rfc3339(&e.start),
                chrono::DateTime::parse_from_rfc3339(&e.end),
            ) {
                (Ok(s), Ok(end)) => (s.with_timezone(&time::TZ), end.with_timezone(&time::TZ)),
                _ => return Err(format!("dates illisibles : {} → {}", e.start, e.end)),
            };
            if s.date_naive() != end.date_naive() {
                return Err(several());
            }
            f.debut = s.format("%H:%M").to_string();
            f.fin = end.format("%H:%M").to_string();
            s.date_naive()
        };
        f.jour = first.format("%Y-%m-%d").to_string();
        f.exceptions = e
            .exdates
            .iter()
            .filter_map(|x| {
                time::parse_date(x.get(..10).unwrap_or(x))
                    .ok()
                    .map(|d| d.format("%d/%m/%Y").to_string())
            })
            .collect::<Vec<_>>()
            .join(", ");
        match rule_fields(&e.rrule) {
            Some((repetition, jours, until)) => {
                f.repetition = repetition.to_string();
                f.jours = jours;
                f.jusqu_au = until
                    .map(|d| d.format("%Y-%m-%d").to_string())
                    .unwrap_or_default();
            }
            None => {
                f.repetition = KEEP.to_string();
                f.regle = e.rrule.clone();
            }
        }
        Ok(f)
    }
}

/// A stored rule as the form's fields (repetition, weekdays, last day), or
/// `None` when the form cannot express it.
fn rule_fields(rrule: &str) -> Option<(&'static str, Vec<String>, Option<NaiveDate>)> {
    if rrule.trim().is_empty() {
        return Some(("non", Vec::new(), None));
    }
    let mut parts = std::collections::BTreeMap::new();
    for part in rrule.trim().trim_start_matches("RRULE:").split(';') {
        let (k, v) = part.split_once('=')?;
        parts.insert(k.trim().to_ascii_uppercase(), v.trim().to_ascii_uppercase());
    }
    let until = match parts.remove("UNTIL") {
        None => None,
        Some(v) => Some(NaiveDate::parse_from_str(v.get(..8)?, "%Y%m%d").ok()?),
    };
    let interval = parts.remove("INTERVAL").unwrap_or_else(|| "1".into());
    let freq = parts.remove("FREQ")?;
    let days = parts.remove("BYDAY");
    if !parts.is_empty() {
        return None;
    }
    match (freq.as_str(), interval.as_str(), days) {
        ("WEEKLY", "1" | "2", Some(days)) => {
            let jours: Vec<String> = days.split(',').map(|d| d.trim().to_string()).collect();
            if !jours.iter().all(|d| weekday_of(d).is_some()) {
                return None;
            }
            let repetition = if interval == "2" {
                "deux-semaines"
            } else {
                "semaine"
            };
            Some((repetition, jours, until))
        }
        ("MONTHLY", "1", None) => Some(("mois", Vec::new(), until)),
        _ => None,
    }
}

/// A time of day as typed: "14:00", "14h", "14 h 30", "14h30".
pub fn parse_clock(s: &str) -> Option<NaiveTime> {
    let v: String = s.chars().filter(|c| !c.is_whitespace()).collect();
    let v = v.to_lowercase().replace('h', ":");
    let v = if v.ends_with(':') { v + "00" } else { v };
    NaiveTime::parse_from_str(&v, "%H:%M")
        .ok()
        .or_else(|| NaiveTime::parse_from_str(&v, "%H:%M:%S").ok())
}

/// A time of day as people say it: « 14 h », « 14 h 30 ».
pub fn fr_clock(t: NaiveTime) -> String {
    use chrono::Timelike;
    if t.minute() == 0 {
        format!("{} h", t.hour())
    } else {
        format!("{} h {:02}", t.hour(), t.minute())
    }
}

fn weekday_of(code: &str) -> Option<Weekday> {
    Some(match code {
        "MO" => Weekday::Mon,
        "TU" => Weekday::Tue,
        "WE" => Weekday::Wed,
        "TH" => Weekday::Thu,
        "FR" => Weekday::Fri,
        "SA" => Weekday::Sat,
        "SU" => Weekday::Sun,
        _ => return None,
    })
}

fn weekday_fr(d: Weekday) -> &'static str {
    WEEKDAYS[d.num_days_from_monday() as usize].1
}

/// The days a list of exceptions names, or the pieces that are not dates.
fn exception_days(text: &str) -> (Vec<NaiveDate>, Vec<String>) {
    let mut days = Vec::new();
    let mut bad = Vec::new();
    for piece in text
        .split(|c: char| c == ',' || c == ';' || c.is_whitespace())
        .map(str::trim)
        .filter(|p| !p.is_empty())
    {
        match time::parse_date(piece) {
            Ok(d) => days.push(d),
            Err(_) => bad.push(piece.to_string()),
        }
    }
    days.sort();
    days.dedup();
    (days, bad)
}

/// Whether the series that starts on `first` has a session on `d`.
fn repeats_on(
    repetition: &str,
    first: NaiveDate,
    weekdays: &[Weekday],
    until: Option<NaiveDate>,
    d: NaiveDate,
) -> bool {
    if d < first || until.is_some_and(|u| d > u) {
        return false;
    }
    match repetition {
        "semaine" => weekdays.contains(&d.weekday()),
        "deux-semaines" => {
            let monday = |x: NaiveDate| {
                x - chrono::Duration::days(x.weekday().num_days_from_monday() as i64)
            };
            weekdays.contains(&d.weekday()) && ((monday(d) - monday(first)).num_days() / 7) % 2 == 0
        }
        "mois" => d.day() == first.day(),
        _ => d == first,
    }
}

/// The use case's input for a filled form, or what to fix, in French (every
/// problem found, in the order of the form).
pub fn event_input(f: &EventForm) -> Result<pb::EventInput, Vec<String>> {
    let mut errors = Vec::new();
    let title = f.titre.trim();
    if title.is_empty() {
        errors.push("Donnez un titre à l'événement.".to_string());
    }
    if !KINDS.iter().any(|(id, _)| *id == f.genre) {
        errors.push("Choisissez le type d'événement dans la liste.".to_string());
    }
    let first = match f.jour.trim() {
        "" => {
            errors.push("Indiquez le jour de l'événement (le premier, s'il se répète).".into());
            None
        }
        v => match time::parse_date(v) {
            Ok(d) => Some(d),
            Err(_) => {
                errors.push(format!(
                    "Le jour « {v} » n'est pas une date : écrivez-le JJ/MM/AAAA, par exemple 16/03/2027."
                ));
                None
            }
        },
    };
    let mut times = None;
    if !f.journee {
        let clock = |name: &str, v: &str, errors: &mut Vec<String>| {
            match v.trim() {
            "" => {
                errors.push(format!(
                    "Indiquez l'heure de {name} (ou cochez « toute la journée »)."
                ));
                None
            }
            v => parse_clock(v).or_else(|| {
                errors.push(format!(
                    "L'heure de {name} « {v} » n'est pas une heure : écrivez-la HH:MM, par exemple 14:00."
                ));
                None
            }),
        }
        };
        let start = clock("début", &f.debut, &mut errors);
        let end = clock("fin", &f.fin, &mut errors);
        if let (Some(s), Some(e)) = (start, end) {
            if e <= s {
                errors.push(format!(
                    "L'heure de fin ({}) doit être après l'heure de début ({}) : corrigez l'une ou l'autre.",
                    fr_clock(e),
                    fr_clock(s)
                ));
            } else {
                times = Some((s, e));
            }
        }
    }
    let repetition = f.repetition.as_str();
    let keep = repetition == KEEP && !f.regle.trim().is_empty();
    if !keep && !REPEATS.iter().any(|(v, _)| *v == repetition) {
        errors.push("Choisissez si l'événement se répète, dans la liste.".to_string());
    }
    let repeats = keep || matches!(repetition, "semaine" | "deux-semaines" | "mois");
    let mut weekdays: Vec<Weekday> = Vec::new();
    for code in &f.jours {
        match weekday_of(code) {
            Some(d) if !weekdays.contains(&d) => weekdays.push(d),
            Some(_) => {}
            None => errors.push(format!("Jour de la semaine « {code} » inconnu.")),
        }
    }
    weekdays.sort_by_key(|d| d.num_days_from_monday());
    let weekly = matches!(repetition, "semaine" | "deux-semaines");
    if weekly {
        if weekdays.is_empty() {
            errors.push("Cochez au moins un jour de la semaine où l'événement a lieu.".to_string());
        } else if let Some(d) = first {
            if !weekdays.contains(&d.weekday()) {
                errors.push(format!(
                    "Le premier jour, {}, est un {} : cochez aussi le {}, ou choisissez un premier jour parmi les jours cochés.",
                    time::fr_date(d),
                    weekday_fr(d.weekday()),
                    weekday_fr(d.weekday())
                ));
            }
        }
    }
    let until = match f.jusqu_au.trim() {
        "" => None,
        v if !repeats => {
            errors.push(format!(
                "« Jusqu'au » ({v}) ne sert que pour un événement qui se répète : choisissez une répétition ou videz ce champ."
            ));
            None
        }
        v => match time::parse_date(v) {
            Ok(u) => {
                if let Some(d) = first.filter(|d| u < *d) {
                    errors.push(format!(
                        "La date « jusqu'au » ({}) précède le premier jour ({}) : choisissez une date après le début.",
                        time::fr_date(u),
                        time::fr_date(d)
                    ));
                }
                Some(u)
            }
            Err(_) => {
                errors.push(format!(
                    "La date « jusqu'au » « {v} » n'est pas une date : écrivez-la JJ/MM/AAAA, par exemple 30/06/2027."
                ));
                None
            }
        },
    };
    if keep && (!f.jusqu_au.trim().is_empty() || !f.jours.is_empty()) {
        errors.push(
            "« Jours de la semaine » et « jusqu'au » ne s'appliquent pas à la règle gardée telle quelle : choisissez une répétition du formulaire, ou décochez les jours et videz « jusqu'au ».".to_string(),
        );
    }
    let (excluded, bad) = exception_days(&f.exceptions);
    for piece in &bad {
        errors.push(format!(
            "L'exception « {piece} » n'est pas une date : écrivez les dates JJ/MM/AAAA, séparées par des virgules ou des retours à la ligne (par exemple 30/03/2027, 06/04/2027)."
        ));
    }
    if !repeats && !excluded.is_empty() {
        errors.push(
            "Des exceptions n'ont de sens que pour un événement qui se répète : choisissez une répétition ou videz ce champ.".to_string(),
        );
    } else if let (false, Some(d)) = (keep, first) {
        for x in &excluded {
            if !repeats_on(repetition, d, &weekdays, until, *x) {
                errors.push(format!(
                    "L'exception du {} ne tombe pas un jour de l'événement : retirez-la ou corrigez-la.",
                    time::fr_date(*x)
                ));
            }
        }
    }
    if !errors.is_empty() {
        return Err(errors);
    }
    let first = first.expect("checked above");
    let iso = |d: NaiveDate| d.format("%Y-%m-%d").to_string();
    let (start, end) = match times {
        None => (iso(first), iso(first)),
        Some((s, e)) => (
            format!("{}T{}", iso(first), s.format("%H:%M")),
            format!("{}T{}", iso(first), e.format("%H:%M")),
        ),
    };
    let mut rule = Vec::new();
    match repetition {
        "semaine" | "deux-semaines" => {
            rule.push("FREQ=WEEKLY".to_string());
            if repetition == "deux-semaines" {
                rule.push("INTERVAL=2".to_string());
            }
            let codes: Vec<&str> = weekdays
                .iter()
                .map(|d| WEEKDAYS[d.num_days_from_monday() as usize].0)
                .collect();
            rule.push(format!("BYDAY={}", codes.join(",")));
        }
        "mois" => rule.push("FREQ=MONTHLY".to_string()),
        _ => {}
    }
    if let (false, Some(u)) = (rule.is_empty(), until) {
        rule.push(format!("UNTIL={}", u.format("%Y%m%d")));
    }
    if keep {
        rule = vec![f.regle.trim().to_string()];
    }
    Ok(pb::EventInput {
        title: title.to_string(),
        kind: f.genre.clone(),
        start,
        end,
        all_day: f.journee,
        rrule: rule.join(";"),
        exdates: excluded.into_iter().map(iso).collect(),
        place: f.lieu.trim().to_string(),
        audience: f
            .publics
            .iter()
            .filter(|p| AUDIENCES.iter().any(|(id, _)| id == p))
            .cloned()
            .collect(),
        action: f.action.trim().to_string(),
        participants: Vec::new(),
    })
}

/// A stored rule as people say it: « chaque semaine le mardi et le jeudi,
/// jusqu'au mar. 13 avr. 2027 ». Parts it does not know are shown as they are.
pub fn describe_rrule(rrule: &str) -> String {
    if rrule.trim().is_empty() {
        return "ne se répète pas".to_string();
    }
    let mut freq = "";
    let mut interval = 1u32;
    let mut days: Vec<&str> = Vec::new();
    let mut until = None;
    let mut count = None;
    let mut other = Vec::new();
    for part in rrule.split(';') {
        match part.split_once('=') {
            Some(("FREQ", v)) => freq = v,
            Some(("INTERVAL", v)) => interval = v.parse().unwrap_or(1),
            Some(("BYDAY", v)) => {
                for code in v.split(',') {
                    match WEEKDAYS.iter().find(|(c, _)| *c == code) {
                        Some((_, name)) => days.push(name),
                        None => other.push(format!("BYDAY={code}")),
                    }
                }
            }
            Some(("UNTIL", v)) => until = until_day(v),
            Some(("COUNT", v)) => count = v.parse::<u32>().ok(),
            Some(("WKST", _)) => {}
            _ => other.push(part.to_string()),
        }
    }
    let unit = match (freq, interval) {
        ("DAILY", 1) => "chaque jour".to_string(),
        ("DAILY", n) => format!("tous les {n} jours"),
        ("WEEKLY", 1) => "chaque semaine".to_string(),
        ("WEEKLY", 2) => "toutes les deux semaines".to_string(),
        ("WEEKLY", n) => format!("toutes les {n} semaines"),
        ("MONTHLY", 1) => "chaque mois".to_string(),
        ("MONTHLY", n) => format!("tous les {n} mois"),
        ("YEARLY", 1) => "chaque année".to_string(),
        ("YEARLY", n) => format!("tous les {n} ans"),
        _ => return format!("règle {rrule}"),
    };
    let mut text = unit;
    if !days.is_empty() {
        let named: Vec<String> = days.iter().map(|d| format!("le {d}")).collect();
        let list = match named.split_last() {
            Some((last, [])) => last.clone(),
            Some((last, rest)) => format!("{} et {last}", rest.join(", ")),
            None => String::new(),
        };
        text = format!("{text} {list}");
    }
    if let Some(u) = until {
        text = format!("{text}, jusqu'au {}", time::fr_date(u));
    }
    if let Some(n) = count {
        text = format!("{text}, {n} séance{}", if n > 1 { "s" } else { "" });
    }
    if !other.is_empty() {
        text = format!("{text} ({})", other.join(";"));
    }
    text
}

/// The Paris day of a stored UNTIL (a date, or a UTC instant).
fn until_day(v: &str) -> Option<NaiveDate> {
    if v.len() == 8 {
        return NaiveDate::parse_from_str(v, "%Y%m%d").ok();
    }
    let naive =
        chrono::NaiveDateTime::parse_from_str(v.trim_end_matches('Z'), "%Y%m%dT%H%M%S").ok()?;
    Some(naive.and_utc().with_timezone(&time::TZ).date_naive())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn weekly_tuesdays() -> EventForm {
        EventForm {
            titre: "Club robotique".into(),
            genre: "workshop".into(),
            jour: "2027-03-16".into(),
            debut: "14:00".into(),
            fin: "16:00".into(),
            lieu: "Salle 2".into(),
            repetition: "semaine".into(),
            jours: vec!["TU".into()],
            jusqu_au: "13/04/2027".into(),
            exceptions: "30/03/2027".into(),
            publics: vec!["pupils".into(), "nobody".into()],
            ..Default::default()
        }
    }

    fn errors(f: &EventForm) -> String {
        event_input(f).unwrap_err().join("\n")
    }

    #[test]
    fn a_weekly_event_with_an_exception() {
        let i = event_input(&weekly_tuesdays()).unwrap();
        assert_eq!(i.title, "Club robotique");
        assert_eq!(i.start, "2027-03-16T14:00");
        assert_eq!(i.end, "2027-03-16T16:00");
        assert!(!i.all_day);
        assert_eq!(i.rrule, "FREQ=WEEKLY;BYDAY=TU;UNTIL=20270413");
        assert_eq!(i.exdates, ["2027-03-30"]);
        assert_eq!(i.place, "Salle 2");
        assert_eq!(i.audience, ["pupils"], "unknown audiences dropped");
        assert_eq!(i.kind, "workshop");
    }

    #[test]
    fn the_other_repetitions() {
        let once = EventForm {
            repetition: "non".into(),
            jusqu_au: String::new(),
            exceptions: String::new(),
            jours: vec!["WE".into()],
            ..weekly_tuesdays()
        };
        let i = event_input(&once).unwrap();
        assert_eq!(i.rrule, "", "weekdays are ignored for a single event");
        assert!(i.exdates.is_empty());

        let fortnight = EventForm {
            repetition: "deux-semaines".into(),
            jours: vec!["TH".into(), "TU".into()],
            exceptions: "23/03/2027\n 01/04/2027 ; 30/03/2027".into(),
            ..weekly_tuesdays()
        };
        // The week of 22/03 is the series' second one: no session.
        let e = errors(&fortnight);
        assert!(e.contains("mar. 23 mars 2027 ne tombe pas"), "{e}");
        assert!(!e.contains("avr."), "{e}");
        let fortnight = EventForm {
            exceptions: "01/04/2027, 30/03/2027".into(),
            ..fortnight
        };
        let i = event_input(&fortnight).unwrap();
        assert_eq!(i.rrule, "FREQ=WEEKLY;INTERVAL=2;BYDAY=TU,TH;UNTIL=20270413");
        assert_eq!(i.exdates, ["2027-03-30", "2027-04-01"]);

        let monthly = EventForm {
            repetition: "mois".into(),
            jours: vec![],
            jusqu_au: String::new(),
            exceptions: "16/04/2027".into(),
            ..weekly_tuesdays()
        };
        let i = event_input(&monthly).unwrap();
        assert_eq!(i.rrule, "FREQ=MONTHLY");
        assert_eq!(i.exdates, ["2027-04-16"]);

        let all_day = EventForm {
            journee: true,
            debut: String::new(),
            fin: String::new(),
            ..weekly_tuesdays()
        };
        let i = event_input(&all_day).unwrap();
        assert!(i.all_day);
        assert_eq!(
            (i.start.as_str(), i.end.as_str()),
            ("2027-03-16", "2027-03-16")
        );
    }

    #[test]
    fn what_to_fix_is_said_in_french() {
        let cases: Vec<(EventForm, &str)> = vec![
            (
                EventForm { fin: "13:00".into(), ..weekly_tuesdays() },
                "L'heure de fin (13 h) doit être après l'heure de début (14 h)",
            ),
            (
                EventForm { fin: "14:00".into(), ..weekly_tuesdays() },
                "L'heure de fin (14 h) doit être après",
            ),
            (
                EventForm { jusqu_au: "15/03/2027".into(), ..weekly_tuesdays() },
                "La date « jusqu'au » (lun. 15 mars 2027) précède le premier jour (mar. 16 mars 2027)",
            ),
            (
                EventForm { exceptions: "30/03/2027, 31/02/2027".into(), ..weekly_tuesdays() },
                "L'exception « 31/02/2027 » n'est pas une date",
            ),
            (
                EventForm { exceptions: "mardi".into(), ..weekly_tuesdays() },
                "L'exception « mardi » n'est pas une date",
            ),
            (
                EventForm { jours: vec![], ..weekly_tuesdays() },
                "Cochez au moins un jour de la semaine",
            ),
            (
                EventForm { jours: vec!["WE".into()], exceptions: String::new(), ..weekly_tuesdays() },
                "Le premier jour, mar. 16 mars 2027, est un mardi : cochez aussi le mardi",
            ),
            (
                EventForm { exceptions: "31/03/2027".into(), ..weekly_tuesdays() },
                "L'exception du mer. 31 mars 2027 ne tombe pas un jour de l'événement",
            ),
            (
                EventForm { exceptions: "20/04/2027".into(), ..weekly_tuesdays() },
                "L'exception du mar. 20 avr. 2027 ne tombe pas",
            ),
            (
                EventForm { repetition: "non".into(), jusqu_au: String::new(), ..weekly_tuesdays() },
                "Des exceptions n'ont de sens que pour un événement qui se répète",
            ),
            (
                EventForm { repetition: "non".into(), exceptions: String::new(), ..weekly_tuesdays() },
                "« Jusqu'au » (13/04/2027) ne sert que pour un événement qui se répète",
            ),
            (
                EventForm { jour: "16/3/27".into(), ..weekly_tuesdays() },
                "Le jour « 16/3/27 » n'est pas une date",
            ),
            (
                EventForm { debut: "midi".into(), ..weekly_tuesdays() },
                "L'heure de début « midi » n'est pas une heure",
            ),
            (
                EventForm { titre: "  ".into(), ..weekly_tuesdays() },
                "Donnez un titre",
            ),
            (
                EventForm { genre: "fête".into(), ..weekly_tuesdays() },
                "Choisissez le type",
            ),
            (
                EventForm { repetition: "chaque jour".into(), ..weekly_tuesdays() },
                "Choisissez si l'événement se répète",
            ),
        ];
        for (form, expected) in cases {
            let e = errors(&form);
            assert!(e.contains(expected), "expected « {expected} » in:\n{e}");
        }
        // Every problem at once.
        let e = event_input(&EventForm {
            fin: "13:00".into(),
            exceptions: "x".into(),
            ..weekly_tuesdays()
        })
        .unwrap_err();
        assert_eq!(e.len(), 2, "{e:?}");
    }

    #[test]
    fn fields_as_the_browser_sends_them() {
        let fields: Vec<(String, String)> = [
            ("_csrf", "x"),
            ("titre", "Club"),
            ("genre", "meeting"),
            ("jour", "2027-03-16"),
            ("debut", "14:00"),
            ("fin", "16:30"),
            ("repetition", "semaine"),
            ("jours", "TU"),
            ("jours", "TH"),
            ("publics", "pupils"),
            ("publics", "families"),
            ("journee", "oui"),
        ]
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
        let f = EventForm::from_fields(&fields);
        assert_eq!(f.jours, ["TU", "TH"]);
        assert_eq!(f.publics, ["pupils", "families"]);
        assert!(f.journee);
        assert_eq!(f.genre, "meeting");
        assert_eq!(EventForm::from_fields(&[]).repetition, "non");
    }

    #[test]
    fn clocks() {
        let t = |h, m| NaiveTime::from_hms_opt(h, m, 0).unwrap();
        assert_eq!(parse_clock("14:00"), Some(t(14, 0)));
        assert_eq!(parse_clock("14h"), Some(t(14, 0)));
        assert_eq!(parse_clock("14 h 30"), Some(t(14, 30)));
        assert_eq!(parse_clock("9h05"), Some(t(9, 5)));
        assert_eq!(parse_clock("25:00"), None);
        assert_eq!(parse_clock("midi"), None);
        assert_eq!(fr_clock(t(14, 0)), "14 h");
        assert_eq!(fr_clock(t(14, 30)), "14 h 30");
        assert_eq!(fr_clock(t(9, 5)), "9 h 05");
    }

    #[test]
    fn rules_in_french() {
        assert_eq!(describe_rrule(""), "ne se répète pas");
        // As stored: a timed event's UNTIL is the end of that day, in UTC.
        assert_eq!(
            describe_rrule("FREQ=WEEKLY;BYDAY=TU;UNTIL=20270413T215959Z"),
            "chaque semaine le mardi, jusqu'au mar. 13 avr. 2027"
        );
        assert_eq!(
            describe_rrule("FREQ=WEEKLY;INTERVAL=2;BYDAY=MO,WE,FR"),
            "toutes les deux semaines le lundi, le mercredi et le vendredi"
        );
        assert_eq!(
            describe_rrule("FREQ=MONTHLY;UNTIL=20270630"),
            "chaque mois, jusqu'au mer. 30 juin 2027"
        );
        assert_eq!(
            describe_rrule("FREQ=DAILY;COUNT=5"),
            "chaque jour, 5 séances"
        );
        assert_eq!(
            describe_rrule("FREQ=MONTHLY;BYDAY=1TU"),
            "chaque mois (BYDAY=1TU)"
        );
    }

    /// The rule written here is one the domain takes, and it gives the
    /// sessions the form described, at 14 h Paris on both sides of the
    /// change to summer time (28/03/2027).
    #[test]
    fn the_domain_expands_it_on_the_right_days() {
        use crate::domain::calendar::{new_event, occurrences, EventInput};
        let i = event_input(&weekly_tuesdays()).unwrap();
        let e = new_event(
            &EventInput {
                title: i.title,
                kind: i.kind,
                start: i.start,
                end: i.end,
                all_day: i.all_day,
                rrule: Some(i.rrule),
                exdates: i.exdates,
                ..Default::default()
            },
            "u@maillage",
            "alpha",
            "2026-11-30T10:00:00Z",
        )
        .unwrap();
        let from = chrono::DateTime::parse_from_rfc3339("2027-03-01T00:00:00Z").unwrap();
        let to = chrono::DateTime::parse_from_rfc3339("2027-06-01T00:00:00Z").unwrap();
        let got: Vec<String> = occurrences(&e, from.to_utc(), to.to_utc(), 100)
            .unwrap()
            .iter()
            .map(|(s, _)| time::rfc3339(s))
            .collect();
        assert_eq!(
            got,
            [
                "2027-03-16T14:00:00+01:00",
                "2027-03-23T14:00:00+01:00",
                "2027-04-06T14:00:00+02:00",
                "2027-04-13T14:00:00+02:00",
            ]
        );
    }

    /// The stored event of an input, as the node keeps it (timed events in
    /// RFC 3339 with Paris's offset).
    fn stored(input: &pb::EventInput) -> pb::Event {
        let instant = |v: &str| {
            if input.all_day {
                v.to_string()
            } else {
                time::rfc3339(&time::parse_instant(v).unwrap())
            }
        };
        pb::Event {
            title: input.title.clone(),
            kind: input.kind.clone(),
            start: instant(&input.start),
            end: instant(&input.end),
            all_day: input.all_day,
            rrule: input.rrule.clone(),
            exdates: input.exdates.clone(),
            place: input.place.clone(),
            audience: input.audience.clone(),
            action: input.action.clone(),
            ..Default::default()
        }
    }

    #[test]
    fn an_event_edited_gives_back_what_it_was_made_of() {
        for f in [
            weekly_tuesdays(),
            EventForm {
                repetition: "deux-semaines".into(),
                jours: vec!["TU".into(), "TH".into()],
                jusqu_au: String::new(),
                exceptions: String::new(),
                ..weekly_tuesdays()
            },
            EventForm {
                repetition: "mois".into(),
                jours: Vec::new(),
                exceptions: String::new(),
                ..weekly_tuesdays()
            },
            EventForm {
                journee: true,
                debut: String::new(),
                fin: String::new(),
                repetition: "non".into(),
                jours: Vec::new(),
                jusqu_au: String::new(),
                exceptions: String::new(),
                ..weekly_tuesdays()
            },
        ] {
            let input = event_input(&f).unwrap();
            let again = EventForm::from_event(&stored(&input)).unwrap();
            assert_eq!(event_input(&again).unwrap(), input, "{f:?} → {again:?}");
            assert_eq!(again.jour, "2027-03-16");
        }
    }

    #[test]
    fn a_rule_the_form_cannot_say_is_kept_as_it_is() {
        let e = pb::Event {
            title: "Conseil".into(),
            kind: "meeting".into(),
            start: "2027-03-16T18:00:00+01:00".into(),
            end: "2027-03-16T19:30:00+01:00".into(),
            rrule: "FREQ=MONTHLY;BYDAY=3TU".into(),
            exdates: vec!["2027-04-20".into()],
            ..Default::default()
        };
        let f = EventForm::from_event(&e).unwrap();
        assert_eq!(f.repetition, KEEP);
        assert_eq!((f.debut.as_str(), f.fin.as_str()), ("18:00", "19:30"));
        assert_eq!(f.exceptions, "20/04/2027");
        let input = event_input(&f).unwrap();
        assert_eq!(input.rrule, "FREQ=MONTHLY;BYDAY=3TU");
        assert_eq!(input.exdates, vec!["2027-04-20"]);
        // Days or a last day would be silently ignored: refused instead.
        let f = EventForm {
            jusqu_au: "30/06/2027".into(),
            ..f
        };
        assert!(errors(&f).contains("règle gardée"), "{}", errors(&f));
        // An event over several days is not shown in the form.
        let long = pb::Event {
            end: "2027-03-18T12:00:00+01:00".into(),
            ..e
        };
        assert!(EventForm::from_event(&long)
            .unwrap_err()
            .contains("plusieurs jours"));
    }
}
