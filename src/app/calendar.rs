//! Use cases of calendar: a site's events live in its document; network-wide
//! events of the academic team live in `network`, written by academy nodes.

use super::NodeContext;
use crate::base::Role;
use crate::base::{new_id, NETWORK_DOC};
use crate::domain::calendar::{self, Event, EventInput, EventPatch};
use crate::domain::{now_rfc3339, time};
use crate::error::{Error, Result};
use crate::pb;
use chrono::Utc;

/// Most occurrences one calendar query expands.
pub const MAX_OCCURRENCES: usize = 10_000;

/// Default window of `calendar` when no bound is given: today and the next days.
pub const DEFAULT_WINDOW_DAYS: i64 = 90;

/// The document this node writes its events to.
pub(crate) fn own_doc(ctx: &NodeContext) -> String {
    match ctx.role {
        Role::Academy => NETWORK_DOC.to_string(),
        Role::Site => ctx.site_doc(),
    }
}

/// The role that writes events on this node: staff record a site's events;
/// on an academy node events are the network's, written by the academic team.
/// The gRPC service and the web interface both check it.
pub fn write_need(ctx: &NodeContext) -> crate::auth::Need {
    match ctx.role {
        Role::Academy => crate::auth::Need::Academy,
        Role::Site => crate::auth::Need::Staff,
    }
}

/// Owner of a document's events as shown to users: a site id or `network`.
pub(crate) fn owner(doc_id: &str) -> String {
    doc_id.trim_start_matches("site/").to_string()
}

/// Every event of the network: (event id, owner, event).
pub fn all_events(ctx: &NodeContext) -> Result<std::sync::Arc<Vec<(String, String, Event)>>> {
    let mut docs = ctx.docs.ids_with_prefix("site/");
    docs.push(NETWORK_DOC.to_string());
    ctx.docs.memo_of("events", &docs, || {
        let mut out = Vec::new();
        for doc_id in &docs {
            if let Some(events) = ctx.docs.read(doc_id, calendar::all).transpose()? {
                out.extend(events.into_iter().map(|(id, e)| (id, owner(doc_id), e)));
            }
        }
        Ok(out)
    })
}

pub(crate) fn find(ctx: &NodeContext, id: &str) -> Result<(String, Event)> {
    let id = resolve(ctx, id)?;
    all_events(ctx)?
        .iter()
        .find(|(eid, _, _)| *eid == id)
        .map(|(_, owner, e)| (owner.clone(), e.clone()))
        .ok_or_else(|| Error::not_found(format!("événement {id} introuvable")))
}

/// The event an id or a unique beginning of it names (issue 10, item 14).
pub(crate) fn resolve(ctx: &NodeContext, id: &str) -> Result<String> {
    let all = all_events(ctx)?;
    crate::domain::ids::resolve(
        "événement",
        id,
        all.iter().map(|(eid, _, e)| (eid.clone(), e.title.clone())),
    )
}

pub(crate) fn attendance_pb(a: &calendar::Attendance) -> pb::Attendance {
    pb::Attendance {
        pupils: a.pupils,
        teachers: a.teachers,
        families: a.families,
        partners: a.partners,
        recorded_at: a.recorded_at.clone(),
    }
}

pub fn to_pb(id: &str, site: &str, e: &Event) -> pb::Event {
    pb::Event {
        id: id.to_string(),
        uid: e.uid.clone(),
        site: site.to_string(),
        title: e.title.clone(),
        kind: e.kind.clone(),
        start: e.start.clone(),
        end: e.end.clone(),
        all_day: e.all_day,
        rrule: e.rrule.clone(),
        exdates: e.exdates.clone(),
        place: e.place.clone(),
        organiser: e.organiser.clone(),
        participants: e.participants.clone(),
        audience: e.audience.clone(),
        status: e.status.clone(),
        action: e.action.clone(),
        attendance: e.attendance.as_ref().map(attendance_pb),
        occurrence_attendance: e
            .occurrence_attendance
            .iter()
            .map(|(day, a)| pb::OccurrenceAttendance {
                day: day.clone(),
                attendance: Some(attendance_pb(a)),
            })
            .collect(),
        sequence: e.sequence,
        created_at: e.created_at.clone(),
        updated_at: e.updated_at.clone(),
    }
}

pub(crate) fn check_action(ctx: &NodeContext, action: &str) -> Result<()> {
    let action = action.trim();
    if !action.is_empty()
        && ctx
            .docs
            .read(&crate::domain::actions::doc_id(action), |_| ())
            .is_none()
    {
        return Err(Error::not_found(format!("action {action} introuvable")));
    }
    Ok(())
}

pub async fn add(ctx: &NodeContext, r: pb::EventInput) -> Result<pb::Event> {
    check_action(ctx, &r.action)?;
    let input = EventInput {
        title: r.title,
        kind: r.kind,
        start: r.start,
        end: r.end,
        all_day: r.all_day,
        rrule: (!r.rrule.trim().is_empty()).then_some(r.rrule),
        exdates: r.exdates,
        place: r.place,
        audience: r.audience,
        action: r.action,
        participants: r.participants,
    };
    let id = new_id("ev");
    let uid = format!("{id}@maillage");
    let event = calendar::new_event(&input, &uid, &ctx.site, &now_rfc3339())?;
    let doc = own_doc(ctx);
    ctx.docs
        .change(&doc, "event add", |d| calendar::put(d, &id, &event))
        .await?;
    Ok(to_pb(&id, &owner(&doc), &event))
}

/// Changes an event this node owns.
pub(crate) async fn edit(
    ctx: &NodeContext,
    id: &str,
    what: &str,
    f: impl FnOnce(&mut Event) -> Result<()>,
) -> Result<pb::Event> {
    let id = &resolve(ctx, id)?;
    let (site, _) = find(ctx, id)?;
    let doc = own_doc(ctx);
    if site != owner(&doc) {
        return Err(Error::denied(format!(
            "l'événement {id} appartient à {site} : seul ce site peut le modifier"
        )));
    }
    let event = ctx
        .docs
        .change(&doc, what, |d| {
            let mut e = calendar::get(d, id)?
                .ok_or_else(|| Error::not_found(format!("événement {id} introuvable")))?;
            f(&mut e)?;
            calendar::put(d, id, &e)?;
            Ok(e)
        })
        .await?;
    Ok(to_pb(id, &site, &event))
}

pub async fn update(ctx: &NodeContext, r: pb::UpdateEventRequest) -> Result<pb::Event> {
    if let Some(a) = &r.action {
        check_action(ctx, a)?;
    }
    let patch = EventPatch {
        title: r.title,
        kind: r.kind,
        start: r.start,
        end: r.end,
        all_day: r.all_day,
        rrule: r.rrule,
        exdates: r.set_exdates.then_some(r.exdates),
        place: r.place,
        audience: r.set_audience.then_some(r.audience),
        action: r.action,
    };
    let now = now_rfc3339();
    edit(ctx, &r.id, "event update", |e| patch.apply(e, &now)).await
}

pub async fn cancel(ctx: &NodeContext, id: &str) -> Result<pb::Event> {
    let now = now_rfc3339();
    edit(ctx, id, "event cancel", |e| calendar::cancel(e, &now)).await
}

pub async fn attendance(ctx: &NodeContext, r: pb::AttendanceInput) -> Result<pb::Event> {
    let counts = [r.pupils, r.teachers, r.families, r.partners];
    edit(ctx, &r.id, "event attendance", |e| {
        calendar::record_attendance_on(e, counts, &r.occurrence, Utc::now())
    })
    .await
}

/// The events a query selects, whatever the window.
pub(crate) fn selected(
    ctx: &NodeContext,
    q: &pb::CalendarQuery,
) -> Result<Vec<(String, String, Event)>> {
    Ok(all_events(ctx)?
        .iter()
        .filter(|(_, site, e)| selects(q, site, e))
        .cloned()
        .collect())
}

/// Whether query `q` selects the event `e` of `site`.
fn selects(q: &pb::CalendarQuery, site: &str, e: &Event) -> bool {
    (q.site.is_empty()
        || site == q.site
        || e.organiser == q.site
        || e.participants.contains(&q.site))
        && (q.action.is_empty() || e.action == q.action)
}

pub fn occurrences(ctx: &NodeContext, q: &pb::CalendarQuery) -> Result<pb::OccurrenceList> {
    let from = if q.from.trim().is_empty() {
        time::parse_bound(&time::paris(Utc::now()).date_naive().to_string(), false)?
    } else {
        time::parse_bound(&q.from, false).map_err(|e| Error::invalid(format!("--from : {e}")))?
    };
    let to = if q.to.trim().is_empty() {
        from + chrono::Duration::days(DEFAULT_WINDOW_DAYS)
    } else {
        time::parse_bound(&q.to, true).map_err(|e| Error::invalid(format!("--to : {e}")))?
    };
    if to <= from {
        return Err(Error::invalid("la fin de la période doit suivre son début"));
    }
    let (from, to) = (from.with_timezone(&Utc), to.with_timezone(&Utc));
    let mut out = Vec::new();
    let all = all_events(ctx)?;
    for (id, site, e) in all.iter().filter(|(_, site, e)| selects(q, site, e)) {
        for (start, end) in calendar::occurrences(e, from, to, MAX_OCCURRENCES + 1)? {
            out.push(pb::Occurrence {
                event_id: id.clone(),
                uid: e.uid.clone(),
                site: site.clone(),
                title: e.title.clone(),
                kind: e.kind.clone(),
                start: time::rfc3339(&start),
                end: time::rfc3339(&end),
                all_day: e.all_day,
                status: e.status.clone(),
                place: e.place.clone(),
                audience: e.audience.clone(),
                action: e.action.clone(),
                recurring: !e.rrule.is_empty(),
            });
            if out.len() > MAX_OCCURRENCES {
                return Err(Error::invalid(format!(
                    "plus de {MAX_OCCURRENCES} occurrences : réduisez la période"
                )));
            }
        }
    }
    out.sort_by(|a, b| {
        let key = |o: &pb::Occurrence| {
            chrono::DateTime::parse_from_rfc3339(&o.start)
                .map(|t| t.with_timezone(&Utc))
                .ok()
        };
        key(a).cmp(&key(b)).then(a.event_id.cmp(&b.event_id))
    });
    Ok(pb::OccurrenceList { occurrences: out })
}

pub fn export(ctx: &NodeContext, q: &pb::CalendarQuery) -> Result<pb::IcsFile> {
    let events = selected(ctx, q)?;
    let mut name = "Calendrier du réseau".to_string();
    if !q.site.is_empty() {
        name = format!("{name} — {}", q.site);
    }
    if !q.action.is_empty() {
        name = format!("{name} — action {}", q.action);
    }
    Ok(pb::IcsFile {
        content: calendar::to_ics(&events, &name),
    })
}
