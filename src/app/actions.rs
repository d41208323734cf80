//! Use cases of actions: common actions, each in its own document. Any site
//! may join; only participating sites edit. Every node enforces the same rule
//! on the changes it receives (`docs::verify`); here it gives the writer a
//! clear error first.

use super::NodeContext;
use crate::docs::{is_slug, new_id};
use crate::domain::actions::{self, ActionDoc, ActionPatch, NewAction, Participant, TaskDoc};
use crate::domain::{now_rfc3339, required_text};
use crate::error::{Error, Result};
use crate::pb;

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

pub(crate) async fn leave(ctx: &NodeContext, id: &str) -> Result<ActionDoc> {
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

pub async fn update(ctx: &NodeContext, r: pb::UpdateActionRequest) -> Result<ActionDoc> {
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
    Ok(edit(ctx, &r.id, "action update", |a| patch.apply(a, &now))
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
    let (a, ()) = edit(ctx, &r.action, "action task add", |a| {
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
    let (a, ()) = edit(ctx, action, "action task done", |a| {
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
