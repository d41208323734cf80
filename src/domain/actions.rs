//! Common actions (actions communes): one `action/<id>` document each.
//!
//! The description and objectives are Automerge text, so concurrent edits of
//! the same text on two nodes merge character by character; participants,
//! tasks and indicators are maps keyed by id, so concurrent joins and task
//! additions all survive.

use std::collections::BTreeMap;

use automerge::transaction::Transactable;
use automerge::{AutoCommit, ChangeHash, ObjType, ReadDoc, Value, ROOT};
use autosurgeon::{Hydrate, Reconcile, Text};
use rust_decimal::Decimal;

use super::{optional_text, required_text};
use crate::error::{Error, Result};

/// Status values, as named in the network's vocabulary.
pub const STATUSES: &[&str] = &["idée", "en_préparation", "en_cours", "terminée", "annulée"];
pub const MAX_TITLE: usize = 200;
pub const MAX_TEXT: usize = 20_000;
pub const MAX_PUBLICS: usize = 20;
pub const MAX_INDICATORS: usize = 50;
pub const MAX_TASKS: usize = 500;

#[derive(Debug, Clone, PartialEq, Reconcile, Hydrate)]
pub struct Participant {
    pub joined_at: String,
}

#[derive(Debug, Clone, PartialEq, Reconcile, Hydrate)]
pub struct IndicatorValue {
    pub target: String,
    pub actual: String,
}

#[derive(Debug, Clone, PartialEq, Reconcile, Hydrate)]
pub struct TaskDoc {
    pub title: String,
    pub site: String,
    pub due: String,
    pub done: bool,
    pub done_at: String,
    pub done_by: String,
    pub created_at: String,
    pub created_by: String,
}

/// The whole `action/<id>` document.
#[derive(Debug, Clone, Reconcile, Hydrate)]
pub struct ActionDoc {
    pub id: String,
    pub title: String,
    pub description: Text,
    pub axis: i64,
    pub status: String,
    pub lead: String,
    pub participants: BTreeMap<String, Participant>,
    pub objectives: Text,
    pub target_publics: Vec<String>,
    pub start: String,
    pub end: String,
    pub budget_planned: String,
    pub budget_spent: String,
    pub indicators: BTreeMap<String, IndicatorValue>,
    pub tasks: BTreeMap<String, TaskDoc>,
    pub created_at: String,
    pub updated_at: String,
}

pub fn doc_id(action: &str) -> String {
    format!("action/{action}")
}

pub fn load(doc: &AutoCommit) -> Result<ActionDoc> {
    Ok(autosurgeon::hydrate(doc)?)
}

pub fn store(doc: &mut AutoCommit, a: &ActionDoc) -> Result<()> {
    autosurgeon::reconcile(doc, a)?;
    Ok(())
}

/// Accepts the network's status values, and English aliases.
pub fn parse_status(s: &str) -> Result<String> {
    let v = s.trim().to_lowercase().replace([' ', '-'], "_");
    let canonical = match v.as_str() {
        "idée" | "idee" | "idea" => "idée",
        "en_préparation" | "en_preparation" | "preparation" | "preparing" => "en_préparation",
        "en_cours" | "in_progress" | "running" => "en_cours",
        "terminée" | "terminee" | "done" | "finished" => "terminée",
        "annulée" | "annulee" | "cancelled" | "canceled" => "annulée",
        _ => {
            return Err(Error::invalid(format!(
                "statut « {s} » inconnu : valeurs possibles {}",
                STATUSES.join(", ")
            )))
        }
    };
    Ok(canonical.to_string())
}

/// The three axes of ASTERIE, as the project states them.
pub const AXES_FR: [&str; 3] = [
    "organisation scolaire au service des apprentissages",
    "compétences pour s'orienter tout au long de la vie",
    "nouvelles formes de collaboration dans la communauté éducative",
];

/// "axe 2 — compétences pour s'orienter tout au long de la vie".
pub fn axis_fr(axis: i64) -> String {
    match usize::try_from(axis)
        .ok()
        .and_then(|a| AXES_FR.get(a.wrapping_sub(1)))
    {
        Some(label) => format!("axe {axis} — {label}"),
        None => format!("axe {axis}"),
    }
}

/// A status as people read it: "en cours" for `en_cours`.
pub fn status_fr(status: &str) -> String {
    status.replace('_', " ")
}

pub fn parse_axis(axis: u32) -> Result<i64> {
    if (1..=3).contains(&axis) {
        Ok(axis as i64)
    } else {
        Err(Error::invalid(format!(
            "axe {axis} inconnu : les axes ASTERIE sont 1, 2 et 3"
        )))
    }
}

/// An amount in euros: a non-negative decimal with at most two decimals.
pub fn parse_amount(field: &str, s: &str) -> Result<String> {
    let t = s.trim().replace(',', ".");
    if t.is_empty() {
        return Ok(String::new());
    }
    let d: Decimal = t.parse().map_err(|_| {
        Error::invalid(format!(
            "{field} « {s} » n'est pas un montant (attendu par exemple 1250.50)"
        ))
    })?;
    if d.is_sign_negative() {
        return Err(Error::invalid(format!("{field} ne peut pas être négatif")));
    }
    if d.scale() > 2 {
        return Err(Error::invalid(format!(
            "{field} « {s} » : deux décimales au plus"
        )));
    }
    Ok(format!("{:.2}", d.round_dp(2)))
}

/// An indicator value: a decimal number (counts, percentages).
pub fn parse_measure(field: &str, s: &str) -> Result<String> {
    let t = s.trim().replace(',', ".");
    if t.is_empty() {
        return Ok(String::new());
    }
    let d: Decimal = t
        .parse()
        .map_err(|_| Error::invalid(format!("{field} « {s} » n'est pas un nombre")))?;
    if d.is_sign_negative() {
        return Err(Error::invalid(format!("{field} ne peut pas être négatif")));
    }
    Ok(d.normalize().to_string())
}

/// A date `YYYY-MM-DD`, or empty.
pub fn parse_day(field: &str, s: &str) -> Result<String> {
    let t = s.trim();
    if t.is_empty() {
        return Ok(String::new());
    }
    super::time::parse_date(t)
        .map(|d| d.to_string())
        .map_err(|_| {
            let field = match field {
                "start" => "début",
                "end" => "fin",
                "due" => "échéance",
                other => other,
            };
            Error::invalid(format!(
                "{field} « {} » invalide : attendu JJ/MM/AAAA, par exemple 15/03/2026",
                s.trim()
            ))
        })
}

pub fn check_dates(start: &str, end: &str) -> Result<()> {
    if !start.is_empty() && !end.is_empty() && end < start {
        return Err(Error::invalid(format!(
            "la fin ({end}) précède le début ({start})"
        )));
    }
    Ok(())
}

pub struct NewAction<'a> {
    pub title: &'a str,
    pub axis: u32,
    pub description: &'a str,
    pub start: &'a str,
    pub end: &'a str,
}

pub fn new_action(id: &str, input: &NewAction, lead: &str, now: &str) -> Result<ActionDoc> {
    let title = required_text("title", input.title, MAX_TITLE)?;
    let axis = parse_axis(input.axis)?;
    let description = optional_text("description", input.description, MAX_TEXT)?;
    let start = parse_day("start", input.start)?;
    let end = parse_day("end", input.end)?;
    check_dates(&start, &end)?;
    let mut participants = BTreeMap::new();
    participants.insert(
        lead.to_string(),
        Participant {
            joined_at: now.to_string(),
        },
    );
    Ok(ActionDoc {
        id: id.to_string(),
        title,
        description: Text::with_value(description),
        axis,
        status: "idée".into(),
        lead: lead.to_string(),
        participants,
        objectives: Text::with_value(""),
        target_publics: Vec::new(),
        start,
        end,
        budget_planned: String::new(),
        budget_spent: String::new(),
        indicators: BTreeMap::new(),
        tasks: BTreeMap::new(),
        created_at: now.to_string(),
        updated_at: now.to_string(),
    })
}

/// Writes into the text `prop` of an action document (`description` or
/// `objectives`) what a person changed between the text as it was at `base`
/// (the heads of the page they edited) and `new`: only those characters are
/// inserted or deleted, found again by their Automerge identity, so that
/// what others wrote meanwhile (here or at another site) stays. Unknown or
/// empty `base`: the current text. Returns whether anything was written.
pub fn edit_text(doc: &mut AutoCommit, prop: &str, base: &[ChangeHash], new: &str) -> Result<bool> {
    let am = |e: automerge::AutomergeError| Error::Internal(format!("texte {prop} : {e}"));
    let obj = match doc.get(ROOT, prop).map_err(am)? {
        Some((Value::Object(ObjType::Text), id)) => id,
        _ => {
            return Err(Error::Internal(format!(
                "le texte {prop} de l'action est illisible"
            )))
        }
    };
    let known = !base.is_empty() && base.iter().all(|h| doc.get_change_by_hash(h).is_some());
    let base: Vec<ChangeHash> = if known {
        base.to_vec()
    } else {
        doc.get_heads()
    };
    let old = doc.text_at(&obj, &base).map_err(am)?;
    if old == new {
        return Ok(false);
    }
    let old_chars: Vec<(usize, char)> = old.char_indices().collect();
    let oc: Vec<char> = old_chars.iter().map(|(_, c)| *c).collect();
    let nc: Vec<char> = new.chars().collect();
    // (first base char, how many deleted, what is inserted before it).
    let mut steps: Vec<(usize, usize, String)> = Vec::new();
    for op in similar::capture_diff_slices(similar::Algorithm::Myers, &oc, &nc) {
        use similar::DiffOp;
        match op {
            DiffOp::Equal { .. } => {}
            DiffOp::Delete {
                old_index, old_len, ..
            } => steps.push((old_index, old_len, String::new())),
            DiffOp::Insert {
                old_index,
                new_index,
                new_len,
            } => steps.push((
                old_index,
                0,
                nc[new_index..new_index + new_len].iter().collect(),
            )),
            DiffOp::Replace {
                old_index,
                old_len,
                new_index,
                new_len,
            } => steps.push((
                old_index,
                old_len,
                nc[new_index..new_index + new_len].iter().collect(),
            )),
        }
    }
    // A base character's identity, and where it is now if still there.
    let cursor = |doc: &AutoCommit, i: usize| {
        doc.get_cursor(&obj, old_chars[i].0, Some(&base))
            .map_err(am)
    };
    let now_at = |doc: &AutoCommit, c: &automerge::Cursor| -> Result<Option<usize>> {
        let p = doc.get_cursor_position(&obj, c, None).map_err(am)?;
        Ok((doc.get_cursor(&obj, p, None).ok().as_ref() == Some(c)).then_some(p))
    };
    // From the end: each step's anchor is still unchanged by this edit.
    for (at, deleted, inserted) in steps.into_iter().rev() {
        if !inserted.is_empty() {
            let pos = if at == 0 {
                0
            } else {
                let c = cursor(doc, at - 1)?;
                match now_at(doc, &c)? {
                    Some(p) => p + old_chars[at - 1].1.len_utf8(),
                    // Deleted meanwhile: where its follower now is.
                    None => doc.get_cursor_position(&obj, &c, None).map_err(am)?,
                }
            };
            doc.splice_text(&obj, pos, 0, &inserted).map_err(am)?;
        }
        if deleted == 0 {
            continue;
        }
        let (first, last) = (at, at + deleted - 1);
        let whole = &old[old_chars[first].0..old_chars[last].0 + old_chars[last].1.len_utf8()];
        let (cf, cl) = (cursor(doc, first)?, cursor(doc, last)?);
        if let (Some(pf), Some(pl)) = (now_at(doc, &cf)?, now_at(doc, &cl)?) {
            let current = doc.text(&obj).map_err(am)?;
            let end = pl + old_chars[last].1.len_utf8();
            if current.get(pf..end) == Some(whole) {
                doc.splice_text(&obj, pf, whole.len() as isize, "")
                    .map_err(am)?;
                continue;
            }
        }
        // Others wrote inside the run: delete its characters one by one.
        for i in (first..=last).rev() {
            let c = cursor(doc, i)?;
            if let Some(p) = now_at(doc, &c)? {
                doc.splice_text(&obj, p, old_chars[i].1.len_utf8() as isize, "")
                    .map_err(am)?;
            }
        }
    }
    Ok(true)
}

/// Fields a participant may change; `None` keeps the stored value.
#[derive(Debug, Default, Clone)]
pub struct ActionPatch {
    pub title: Option<String>,
    pub description: Option<String>,
    pub status: Option<String>,
    pub objectives: Option<String>,
    pub target_publics: Option<Vec<String>>,
    pub budget_planned: Option<String>,
    pub budget_spent: Option<String>,
    /// (name, target, actual); empty target or actual keeps the stored one.
    pub indicators: Vec<(String, String, String)>,
    pub start: Option<String>,
    pub end: Option<String>,
    pub axis: Option<u32>,
}

impl ActionPatch {
    pub fn apply(&self, a: &mut ActionDoc, now: &str) -> Result<()> {
        if let Some(v) = &self.title {
            a.title = required_text("title", v, MAX_TITLE)?;
        }
        if let Some(v) = &self.description {
            // A diff against the stored text: concurrent edits merge per character.
            a.description
                .update(optional_text("description", v, MAX_TEXT)?);
        }
        if let Some(v) = &self.objectives {
            a.objectives
                .update(optional_text("objectives", v, MAX_TEXT)?);
        }
        if let Some(v) = &self.status {
            a.status = parse_status(v)?;
        }
        if let Some(v) = &self.target_publics {
            if v.len() > MAX_PUBLICS {
                return Err(Error::invalid(format!(
                    "{MAX_PUBLICS} publics cibles au plus"
                )));
            }
            a.target_publics = v
                .iter()
                .map(|p| required_text("target_publics", p, 100))
                .collect::<Result<_>>()?;
        }
        if let Some(v) = &self.budget_planned {
            a.budget_planned = parse_amount("budget_planned", v)?;
        }
        if let Some(v) = &self.budget_spent {
            a.budget_spent = parse_amount("budget_spent", v)?;
        }
        for (name, target, actual) in &self.indicators {
            let name = required_text("indicator", name, 100)?;
            let target = parse_measure("target", target)?;
            let actual = parse_measure("actual", actual)?;
            let entry = a.indicators.entry(name).or_insert_with(|| IndicatorValue {
                target: String::new(),
                actual: String::new(),
            });
            if !target.is_empty() {
                entry.target = target;
            }
            if !actual.is_empty() {
                entry.actual = actual;
            }
        }
        if a.indicators.len() > MAX_INDICATORS {
            return Err(Error::invalid(format!(
                "{MAX_INDICATORS} indicateurs au plus"
            )));
        }
        if let Some(v) = &self.start {
            a.start = parse_day("start", v)?;
        }
        if let Some(v) = &self.end {
            a.end = parse_day("end", v)?;
        }
        check_dates(&a.start, &a.end)?;
        if let Some(v) = self.axis {
            a.axis = parse_axis(v)?;
        }
        a.updated_at = now.to_string();
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use automerge::sync::SyncDoc;

    fn sync_pair(a: &mut AutoCommit, b: &mut AutoCommit) {
        let (mut sa, mut sb) = (automerge::sync::State::new(), automerge::sync::State::new());
        for _ in 0..10 {
            if let Some(m) = a.sync().generate_sync_message(&mut sa) {
                b.sync().receive_sync_message(&mut sb, m).unwrap();
            }
            if let Some(m) = b.sync().generate_sync_message(&mut sb) {
                a.sync().receive_sync_message(&mut sa, m).unwrap();
            }
        }
    }

    #[test]
    fn validation() {
        assert!(parse_status("en cours").is_ok());
        assert_eq!(parse_status("done").unwrap(), "terminée");
        assert!(parse_status("fini").is_err());
        assert!(parse_axis(4).is_err());
        assert_eq!(parse_amount("b", "1250,5").unwrap(), "1250.50");
        assert!(parse_amount("b", "-3").is_err());
        assert!(parse_amount("b", "1.234").is_err());
        assert!(parse_amount("b", "abc").is_err());
        let bad = NewAction {
            title: "x",
            axis: 1,
            description: "",
            start: "2026-05-01",
            end: "2026-04-01",
        };
        assert!(new_action("a", &bad, "s", "t").is_err());
    }

    #[test]
    fn concurrent_description_edits_merge_per_character() {
        let input = NewAction {
            title: "Fablab itinérant",
            axis: 2,
            description: "Un atelier mobile (numérique).",
            start: "",
            end: "",
        };
        let a0 = new_action("ac-1", &input, "metz", "t").unwrap();
        let mut d1 = AutoCommit::new();
        store(&mut d1, &a0).unwrap();
        d1.commit();
        let mut d2 = d1.fork();
        let mut x = load(&d1).unwrap();
        ActionPatch {
            description: Some("Un grand atelier mobile (numérique).".into()),
            ..Default::default()
        }
        .apply(&mut x, "t1")
        .unwrap();
        store(&mut d1, &x).unwrap();
        d1.commit();
        let mut y = load(&d2).unwrap();
        ActionPatch {
            description: Some("Un atelier mobile (numérique) pour tous.".into()),
            ..Default::default()
        }
        .apply(&mut y, "t2")
        .unwrap();
        y.tasks.insert(
            "tk-2".into(),
            TaskDoc {
                title: "Réserver le camion".into(),
                site: String::new(),
                due: String::new(),
                done: false,
                done_at: String::new(),
                done_by: String::new(),
                created_at: "t2".into(),
                created_by: "thionville".into(),
            },
        );
        store(&mut d2, &y).unwrap();
        d2.commit();
        let mut x = load(&d1).unwrap();
        x.tasks.insert(
            "tk-1".into(),
            TaskDoc {
                title: "Acheter les kits".into(),
                site: String::new(),
                due: String::new(),
                done: false,
                done_at: String::new(),
                done_by: String::new(),
                created_at: "t1".into(),
                created_by: "metz".into(),
            },
        );
        store(&mut d1, &x).unwrap();
        d1.commit();
        sync_pair(&mut d1, &mut d2);
        let merged = load(&d1).unwrap();
        assert_eq!(
            merged.description.as_str(),
            "Un grand atelier mobile (numérique) pour tous."
        );
        assert_eq!(merged.tasks.len(), 2);
        assert_eq!(
            load(&d2).unwrap().description.as_str(),
            merged.description.as_str()
        );
    }

    #[test]
    fn a_text_edited_from_an_older_version_keeps_what_others_wrote_since() {
        let input = NewAction {
            title: "Fablab",
            axis: 1,
            description: "Premier paragraphe.\n\nDeuxième — é.\n\nTroisième paragraphe.",
            start: "",
            end: "",
        };
        let mut d1 = AutoCommit::new();
        store(&mut d1, &new_action("ac-1", &input, "metz", "t").unwrap()).unwrap();
        d1.commit();
        let base = d1.get_heads();
        let mut d2 = d1.fork();
        // Metz rewrites the first paragraph; Thionville, whose page still
        // shows the old text, rewrites the third after Metz's edit arrived.
        assert!(edit_text(
            &mut d1,
            "description",
            &base,
            "Premier paragraphe, réécrit.\n\nDeuxième — é.\n\nTroisième paragraphe."
        )
        .unwrap());
        d1.commit();
        sync_pair(&mut d1, &mut d2);
        assert!(edit_text(
            &mut d2,
            "description",
            &base,
            "Premier paragraphe.\n\nDeuxième — é.\n\nTroisième, complété."
        )
        .unwrap());
        d2.commit();
        // A third edit, concurrent, deletes the middle paragraph.
        let mut d3 = d1.fork_at(&base).unwrap();
        assert!(edit_text(
            &mut d3,
            "description",
            &base,
            "Premier paragraphe.\n\nTroisième paragraphe."
        )
        .unwrap());
        d3.commit();
        sync_pair(&mut d1, &mut d2);
        sync_pair(&mut d1, &mut d3);
        sync_pair(&mut d1, &mut d2);
        let merged = load(&d1).unwrap();
        assert_eq!(
            merged.description.as_str(),
            "Premier paragraphe, réécrit.\n\nTroisième, complété."
        );
        assert_eq!(
            load(&d2).unwrap().description.as_str(),
            merged.description.as_str()
        );
        // Nothing changed from the base: nothing written.
        let heads = d1.get_heads();
        let now = merged.description.as_str().to_string();
        assert!(!edit_text(&mut d1, "description", &heads, &now).unwrap());
    }
}
