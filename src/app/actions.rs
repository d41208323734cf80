//! Use cases of actions: common actions, each in its own document. Any site
//! may join; only participating sites edit. Every node enforces the same rule
//! on the changes it receives (`docs::verify`); here it gives the writer a
//! clear error first.

use super::NodeContext;
use crate::base::{is_slug, new_id};
use crate::domain::actions::{self, ActionDoc, ActionPatch, NewAction, Participant, TaskDoc};
use crate::domain::{now_rfc3339, optional_text, required_text};
use crate::error::{Error, Result};
use crate::pb;
use automerge::transaction::Transactable;
use automerge::{ChangeHash, ReadDoc, ROOT};

/// The action with the heads of the version it was read from, for clients
/// that edit its texts (see [`edit_texts`]).
pub fn to_pb_at(a: &ActionDoc, heads: &[ChangeHash]) -> pb::CommonAction {
    pb::CommonAction {
        heads: heads.iter().map(|h| h.to_string()).collect(),
        ..to_pb(a)
    }
}

pub fn to_pb(a: &ActionDoc) -> pb::CommonAction {
    pb::CommonAction {
        id: a.id.clone(),
        title: a.title.clone(),
        description: a.description.as_str().to_string(),
        axis: a.axis as u32,
        status: a.status.clone(),
        lead: a.lead.clone(),
        participants: a.participants.keys().cloned().collect(),
        objectives: a.objectives.as_str().to_string(),
        target_publics: a.target_publics.clone(),
        start: a.start.clone(),
        end: a.end.clone(),
        budget_planned: a.budget_planned.clone(),
        budget_spent: a.budget_spent.clone(),
        indicators: a
            .indicators
            .iter()
            .map(|(name, v)| pb::Indicator {
                name: name.clone(),
                target: v.target.clone(),
                actual: v.actual.clone(),
            })
            .collect(),
        tasks: a
            .tasks
            .iter()
            .map(|(id, t)| task_pb(&a.id, id, t))
            .collect(),
        created_at: a.created_at.clone(),
        updated_at: a.updated_at.clone(),
        heads: Vec::new(),
    }
}

pub(crate) fn task_pb(action: &str, id: &str, t: &TaskDoc) -> pb::Task {
    pb::Task {
        id: id.to_string(),
        action: action.to_string(),
        title: t.title.clone(),
        site: t.site.clone(),
        due: t.due.clone(),
        done: t.done,
        done_at: t.done_at.clone(),
        done_by: t.done_by.clone(),
    }
}

pub fn get(ctx: &NodeContext, id: &str) -> Result<ActionDoc> {
    let id = resolve(ctx, id)?;
    ctx.docs
        .read(&actions::doc_id(&id), actions::load)
        .transpose()?
        .ok_or_else(|| Error::not_found(format!("action {id} introuvable")))
}

/// An action and the heads of the version read, in one read: what a page or
/// a client that edits its texts carries back to [`edit_texts`].
pub fn get_at(ctx: &NodeContext, id: &str) -> Result<(ActionDoc, Vec<ChangeHash>)> {
    let id = resolve(ctx, id)?;
    let (heads, a) = ctx
        .docs
        .read_at_heads(&actions::doc_id(&id), actions::load)
        .ok_or_else(|| Error::not_found(format!("action {id} introuvable")))?;
    Ok((a?, heads))
}

/// The action an id or a unique beginning of it names (issue 10, item 14).
pub fn resolve(ctx: &NodeContext, id: &str) -> Result<String> {
    let id = id.trim();
    if is_slug(id) && !ctx.docs.heads(&actions::doc_id(id)).is_empty() {
        return Ok(id.to_string());
    }
    let candidates = ctx
        .docs
        .ids_with_prefix("action/")
        .into_iter()
        .map(|d| d.trim_start_matches("action/").to_string())
        .map(|a| {
            let title = ctx
                .docs
                .read(&actions::doc_id(&a), actions::load)
                .and_then(|r| r.ok())
                .map(|d| d.title)
                .unwrap_or_default();
            (a, title)
        });
    crate::domain::ids::resolve("action", id, candidates)
}

pub fn all(ctx: &NodeContext) -> Result<Vec<ActionDoc>> {
    let mut out = Vec::new();
    for doc_id in ctx.docs.ids_with_prefix("action/") {
        if let Some(a) = ctx.docs.read(&doc_id, actions::load).transpose()? {
            out.push(a);
        }
    }
    Ok(out)
}

/// Changes an action this node's site participates in.
pub(crate) async fn edit<T>(
    ctx: &NodeContext,
    id: &str,
    what: &str,
    f: impl FnOnce(&mut ActionDoc) -> Result<T>,
) -> Result<(ActionDoc, T)> {
    let current = get(ctx, id)?;
    let id = current.id.as_str();
    if !current.participants.contains_key(&ctx.site) {
        return Err(Error::denied(format!(
            "seuls les sites participants modifient l'action {id} : rejoignez-la d'abord (maillage action join {id})"
        )));
    }
    let site = ctx.site.clone();
    ctx.docs
        .change(&actions::doc_id(id), what, |doc| {
            let mut a = actions::load(doc)?;
            if !a.participants.contains_key(&site) {
                return Err(Error::denied(format!(
                    "seuls les sites participants modifient l'action {id}"
                )));
            }
            let out = f(&mut a)?;
            actions::store(doc, &a)?;
            Ok((a, out))
        })
        .await
}

pub async fn create(ctx: &NodeContext, r: pb::CreateActionRequest) -> Result<ActionDoc> {
    let id = new_id("ac");
    let a = actions::new_action(
        &id,
        &NewAction {
            title: &r.title,
            axis: r.axis,
            description: &r.description,
            start: &r.start,
            end: &r.end,
        },
        &ctx.site,
        &now_rfc3339(),
    )?;
    ctx.docs
        .change(&actions::doc_id(&id), "action create", |doc| {
            actions::store(doc, &a)
        })
        .await?;
    Ok(a)
}

pub async fn join_action(ctx: &NodeContext, id: &str) -> Result<ActionDoc> {
    let current = get(ctx, id)?;
    let id = current.id.as_str();
    if current.participants.contains_key(&ctx.site) {
        return Err(Error::precondition(format!(
            "votre site participe déjà à l'action {id}"
        )));
    }
    let site = ctx.site.clone();
    let now = now_rfc3339();
    ctx.docs
        .change(&actions::doc_id(id), "action join", |doc| {
            let mut a = actions::load(doc)?;
            a.participants.insert(site, Participant { joined_at: now });
            actions::store(doc, &a)?;
            Ok(a)
        })
        .await
}

pub async fn leave(ctx: &NodeContext, id: &str) -> Result<ActionDoc> {
    let current = get(ctx, id)?;
    let id = current.id.as_str();
    if !current.participants.contains_key(&ctx.site) {
        return Err(Error::precondition(format!(
            "votre site ne participe pas à l'action {id}"
        )));
    }
    if current.lead == ctx.site {
        return Err(Error::precondition(format!(
            "le site pilote ne peut pas quitter l'action {id}"
        )));
    }
    let site = ctx.site.clone();
    Ok(edit(ctx, id, "action leave", |a| {
        a.participants.remove(&site);
        Ok(())
    })
    .await?
    .0)
}

pub async fn update(ctx: &NodeContext, mut r: pb::UpdateActionRequest) -> Result<ActionDoc> {
    // The texts merge with what other sites wrote since `base`; the other
    // fields are set as given.
    if !r.base.is_empty() && (r.description.is_some() || r.objectives.is_some()) {
        let base = parse_heads(&r.base)?;
        let description = r.description.take();
        let objectives = r.objectives.take();
        let a = edit_texts(
            ctx,
            &r.id,
            &base,
            description.as_deref(),
            objectives.as_deref(),
        )
        .await?;
        r.id = a.id.clone();
        let rest = pb::UpdateActionRequest {
            id: r.id.clone(),
            base: Vec::new(),
            ..Default::default()
        };
        if r == rest {
            return Ok(a);
        }
    }
    let mut fields: Vec<&str> = Vec::new();
    for (name, set) in [
        ("title", r.title.is_some()),
        ("description", r.description.is_some()),
        ("status", r.status.is_some()),
        ("objectives", r.objectives.is_some()),
        ("target_publics", r.set_target_publics),
        ("budget_planned", r.budget_planned.is_some()),
        ("budget_spent", r.budget_spent.is_some()),
        ("indicators", !r.indicators.is_empty()),
        ("start", r.start.is_some()),
        ("end", r.end.is_some()),
        ("axis", r.axis.is_some()),
    ] {
        if set {
            fields.push(name);
        }
    }
    let message = format!("{UPDATE}{}", fields.join(","));
    let patch = ActionPatch {
        title: r.title,
        description: r.description,
        status: r.status,
        objectives: r.objectives,
        target_publics: r.set_target_publics.then_some(r.target_publics),
        budget_planned: r.budget_planned,
        budget_spent: r.budget_spent,
        indicators: r
            .indicators
            .into_iter()
            .map(|i| (i.name, i.target, i.actual))
            .collect(),
        start: r.start,
        end: r.end,
        axis: r.axis,
    };
    let now = now_rfc3339();
    Ok(edit(ctx, &r.id, &message, |a| patch.apply(a, &now))
        .await?
        .0)
}

pub async fn add_task(ctx: &NodeContext, r: pb::AddTaskRequest) -> Result<pb::Task> {
    let title = required_text("title", &r.title, actions::MAX_TITLE)?;
    let due = actions::parse_day("due", &r.due)?;
    let site = r.site.trim().to_string();
    let task_id = new_id("tk");
    let me = ctx.site.clone();
    let now = now_rfc3339();
    let message = format!("{TASK_ADD}{task_id}");
    let (a, ()) = edit(ctx, &r.action, &message, |a| {
        if !site.is_empty() && !a.participants.contains_key(&site) {
            return Err(Error::invalid(format!(
                "le site {site} ne participe pas à l'action {}",
                a.id
            )));
        }
        if a.tasks.len() >= actions::MAX_TASKS {
            return Err(Error::precondition(format!(
                "{} tâches au plus par action",
                actions::MAX_TASKS
            )));
        }
        a.tasks.insert(
            task_id.clone(),
            TaskDoc {
                title,
                site,
                due,
                done: false,
                done_at: String::new(),
                done_by: String::new(),
                created_at: now.clone(),
                created_by: me,
            },
        );
        a.updated_at = now;
        Ok(())
    })
    .await?;
    Ok(task_pb(&a.id, &task_id, &a.tasks[&task_id]))
}

pub async fn complete_task(ctx: &NodeContext, action: &str, task: &str) -> Result<pb::Task> {
    let me = ctx.site.clone();
    let now = now_rfc3339();
    let message = format!("{TASK_DONE}{task}");
    let (a, ()) = edit(ctx, action, &message, |a| {
        let t = a.tasks.get_mut(task).ok_or_else(|| {
            Error::not_found(format!("tâche {task} introuvable dans l'action {action}"))
        })?;
        if t.done {
            return Err(Error::precondition(format!(
                "la tâche {task} est déjà faite"
            )));
        }
        t.done = true;
        t.done_at = now.clone();
        t.done_by = me;
        a.updated_at = now;
        Ok(())
    })
    .await?;
    Ok(task_pb(&a.id, task, &a.tasks[task]))
}

/// The messages of an action's changes that say more than their kind: the
/// fields an update changed, the task added or done (read back by
/// [`history`]'s readers).
pub const UPDATE: &str = "action update: ";
pub const TASK_ADD: &str = "action task add ";
pub const TASK_DONE: &str = "action task done ";

/// Edits an action's description and objectives as a person changed them
/// from the version their page showed (`base`, its heads): the texts are
/// diffed against that version, not the current one, so that what another
/// site wrote meanwhile stays (`domain::actions::edit_text`). `None` keeps
/// a text. Only participating sites write.
pub async fn edit_texts(
    ctx: &NodeContext,
    id: &str,
    base: &[ChangeHash],
    description: Option<&str>,
    objectives: Option<&str>,
) -> Result<ActionDoc> {
    let current = get(ctx, id)?;
    let id = current.id.clone();
    if !current.participants.contains_key(&ctx.site) {
        return Err(Error::denied(format!(
            "seuls les sites participants modifient l'action {id} : rejoignez-la d'abord"
        )));
    }
    // Text from a browser ends its lines with CRLF.
    let clean = |field: &str, v: Option<&str>| {
        v.map(|v| optional_text(field, &v.replace("\r\n", "\n"), actions::MAX_TEXT))
            .transpose()
    };
    let texts = [
        ("description", clean("description", description)?),
        ("objectives", clean("objectives", objectives)?),
    ];
    let doc_id = actions::doc_id(&id);
    // The fields that differ from the version the person edited.
    let changed: Vec<(&str, String)> = ctx
        .docs
        .read(&doc_id, |doc| {
            let known = !base.is_empty()
                && base
                    .iter()
                    .all(|h| ReadDoc::get_change_by_hash(doc, h).is_some());
            texts
                .iter()
                .filter_map(|(field, new)| {
                    let new = new.as_ref()?;
                    let (_, obj) = doc.get(ROOT, *field).ok()??;
                    let old = if known {
                        doc.text_at(&obj, base).ok()?
                    } else {
                        doc.text(&obj).ok()?
                    };
                    (old != *new).then(|| (*field, new.clone()))
                })
                .collect()
        })
        .unwrap_or_default();
    if changed.is_empty() {
        return Ok(current);
    }
    let fields: Vec<&str> = changed.iter().map(|(f, _)| *f).collect();
    let message = format!("{UPDATE}{}", fields.join(","));
    let site = ctx.site.clone();
    let now = now_rfc3339();
    ctx.docs
        .change(&doc_id, &message, |doc| {
            let a = actions::load(doc)?;
            if !a.participants.contains_key(&site) {
                return Err(Error::denied(format!(
                    "seuls les sites participants modifient l'action {id}"
                )));
            }
            let mut wrote = false;
            for (field, new) in &changed {
                wrote |= actions::edit_text(doc, field, base, new)?;
            }
            if wrote {
                doc.put(ROOT, "updated_at", now.as_str())
                    .map_err(|e| Error::Internal(e.to_string()))?;
            }
            actions::load(doc)
        })
        .await
}

/// Heads given by a client, in hex.
fn parse_heads(hex: &[String]) -> Result<Vec<ChangeHash>> {
    hex.iter()
        .map(|h| {
            h.trim().parse::<ChangeHash>().map_err(|_| {
                Error::invalid(format!(
                    "base : « {h} » n'est pas une empreinte de version (64 caractères hexadécimaux, tels que CommonAction.heads les donne)"
                ))
            })
        })
        .collect()
}

/// One change of an action's history: when (seconds since the epoch, the
/// author's clock), which site (from the change's actor), and its message.
#[derive(Debug, Clone, PartialEq)]
pub struct HistoryEntry {
    pub time: i64,
    pub site: Option<String>,
    pub message: String,
}

/// The action's changes, newest first, `limit` at most: who changed what,
/// from the document's own history.
pub fn history(ctx: &NodeContext, id: &str, limit: usize) -> Result<Vec<HistoryEntry>> {
    let id = resolve(ctx, id)?;
    let all = ctx
        .docs
        .read_memo(&actions::doc_id(&id), "action history", |doc| {
            // Reading change metadata closes a transaction: on a copy.
            let mut doc = doc.clone();
            let mut out: Vec<(usize, HistoryEntry)> = doc
                .get_changes_meta(&[])
                .into_iter()
                .enumerate()
                .map(|(i, m)| {
                    (
                        i,
                        HistoryEntry {
                            time: m.timestamp,
                            site: crate::trust::author_of(&m.actor),
                            message: m.message.map(|s| s.to_string()).unwrap_or_default(),
                        },
                    )
                })
                .collect();
            out.sort_by(|a, b| b.1.time.cmp(&a.1.time).then(b.0.cmp(&a.0)));
            Ok(out.into_iter().map(|(_, e)| e).collect::<Vec<_>>())
        })
        .transpose()?
        .ok_or_else(|| Error::not_found(format!("action {id} introuvable")))?;
    Ok(all.iter().take(limit).cloned().collect())
}
