//! The iCalendar (RFC 5545) export of the network calendar.

use icalendar::{CalendarDateTime, Component, DatePerhapsTime, EventLike, EventStatus, Property};

use super::*;

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
