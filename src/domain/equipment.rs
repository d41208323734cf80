//! Equipment (matériel): the shared catalogue. Each item lives in the
//! `equipment` map of its owner site's document, keyed by its id.

use std::collections::BTreeMap;

use automerge::AutoCommit;
use autosurgeon::{Hydrate, Reconcile};
use serde::Serialize;

use super::{map_entries, map_entry, optional_text, put_entry, required_text};
use crate::error::{Error, Result};

pub const STATUSES: &[&str] = &["available", "maintenance", "retired"];
pub const CONDITIONS: &[&str] = &["new", "good", "worn", "out_of_order"];
/// Statuses and conditions as people read them, beside their keys.
pub const STATUSES_FR: &[(&str, &str)] = &[
    ("available", "disponible"),
    ("maintenance", "en maintenance"),
    ("retired", "retiré"),
];
pub const CONDITIONS_FR: &[(&str, &str)] = &[
    ("new", "neuf"),
    ("good", "bon"),
    ("worn", "usé"),
    ("out_of_order", "hors service"),
];
/// What an item is doing now, loans included (computed, never stored).
pub const AVAILABILITY_FR: &[(&str, &str)] = &[
    ("available", "disponible"),
    ("booked", "réservé"),
    ("out", "sorti"),
    ("overdue", "en retard"),
    ("maintenance", "en maintenance"),
    ("out_of_order", "hors service"),
    ("retired", "retiré"),
];

fn fr<'a>(table: &[(&'static str, &'static str)], key: &'a str) -> &'a str {
    table
        .iter()
        .find(|(k, _)| *k == key)
        .map(|(_, v)| *v)
        .unwrap_or(key)
}

/// A status in French (« disponible »); unknown keys as they are.
pub fn status_fr(key: &str) -> &str {
    fr(STATUSES_FR, key)
}

/// A condition in French (« bon »).
pub fn condition_fr(key: &str) -> &str {
    fr(CONDITIONS_FR, key)
}

/// An availability in French (« sorti », « en retard »).
pub fn availability_fr(key: &str) -> &str {
    fr(AVAILABILITY_FR, key)
}

/// A status as typed: its key or its French words, whatever the case and accents.
pub fn parse_status(typed: &str) -> Result<&'static str> {
    parse_choice("statut", typed, STATUSES_FR)
}

/// A condition as typed: its key or its French words.
pub fn parse_condition(typed: &str) -> Result<&'static str> {
    parse_choice("état", typed, CONDITIONS_FR)
}

fn parse_choice(
    field: &str,
    typed: &str,
    table: &[(&'static str, &'static str)],
) -> Result<&'static str> {
    let fold = |s: &str| super::fold_for_search(s.trim()).replace(['_', '-'], " ");
    let t = fold(typed);
    let t = t.strip_prefix("en ").unwrap_or(&t).to_string();
    table
        .iter()
        .find(|(k, f)| {
            let f = fold(f);
            t == fold(k) || t == f || Some(t.as_str()) == f.strip_prefix("en ")
        })
        .map(|(k, _)| *k)
        .ok_or_else(|| {
            Error::invalid(format!(
                "{field} « {} » inconnu : valeurs possibles {}",
                typed.trim(),
                table
                    .iter()
                    .map(|(k, f)| format!("{f} ({k})"))
                    .collect::<Vec<_>>()
                    .join(", ")
            ))
        })
}

/// The item after it came back with an incident: still usable (condition
/// `worn`), or to repair (status `maintenance` unless retired, condition
/// `out_of_order`). `condition` is a key of [`super::loans::RETURN_CONDITIONS`].
pub fn after_incident(e: &mut Equipment, condition: &str, now: &str) {
    match condition {
        "to_repair" => {
            if e.status != "retired" {
                e.status = "maintenance".into();
            }
            e.condition = "out_of_order".into();
        }
        _ => e.condition = "worn".into(),
    }
    e.updated_at = now.to_string();
}

pub const MAX_NAME: usize = 200;
pub const MAX_CATEGORY: usize = 64;
pub const MAX_DESCRIPTION: usize = 4000;
pub const MAX_INVENTORY: usize = 64;

#[derive(Debug, Clone, PartialEq, Reconcile, Hydrate)]
pub struct Equipment {
    pub name: String,
    pub category: String,
    pub description: String,
    pub inventory_number: String,
    pub loanable: bool,
    pub status: String,
    pub condition: String,
    pub created_at: String,
    pub updated_at: String,
    /// Acquisition date "AAAA-MM-JJ"; empty: the day of `created_at`.
    /// Documents written before the field existed read as empty.
    #[autosurgeon(missing = "Default::default")]
    pub acquired: String,
}

/// An item with its id and owner site, as shown to users.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Item {
    pub id: String,
    pub site: String,
    pub name: String,
    pub category: String,
    pub description: String,
    pub inventory_number: String,
    pub loanable: bool,
    pub status: String,
    pub condition: String,
    pub created_at: String,
    pub updated_at: String,
    /// Acquisition date "AAAA-MM-JJ"; empty: the day of `created_at`.
    pub acquired: String,
}

impl Item {
    pub fn new(id: &str, site: &str, e: Equipment) -> Item {
        Item {
            id: id.to_string(),
            site: site.to_string(),
            name: e.name,
            category: e.category,
            description: e.description,
            inventory_number: e.inventory_number,
            loanable: e.loanable,
            status: e.status,
            condition: e.condition,
            created_at: e.created_at,
            updated_at: e.updated_at,
            acquired: e.acquired,
        }
    }

    /// The day the use rate counts this item from: its acquisition date,
    /// else the Paris day it was entered in the catalogue.
    pub fn counted_from(&self) -> Option<chrono::NaiveDate> {
        chrono::NaiveDate::parse_from_str(&self.acquired, "%Y-%m-%d")
            .ok()
            .or_else(|| {
                chrono::DateTime::parse_from_rfc3339(&self.created_at)
                    .ok()
                    .map(|t| super::time::paris(t.with_timezone(&chrono::Utc)).date_naive())
            })
    }
}

/// Fields a user may set; `None` leaves a field as it is.
#[derive(Debug, Clone, Default)]
pub struct Patch {
    pub name: Option<String>,
    pub category: Option<String>,
    pub description: Option<String>,
    pub inventory_number: Option<String>,
    pub loanable: Option<bool>,
    pub status: Option<String>,
    pub condition: Option<String>,
    /// A date (AAAA-MM-JJ or JJ/MM/AAAA); empty: the creation day.
    pub acquired: Option<String>,
}

impl Patch {
    /// Applies the patch to `e`, validating every field it sets.
    pub fn apply(&self, e: &mut Equipment, now: &str) -> Result<()> {
        if let Some(v) = &self.name {
            e.name = required_text("name", v, MAX_NAME)?;
        }
        if let Some(v) = &self.category {
            e.category = required_text("category", v, MAX_CATEGORY)?;
        }
        if let Some(v) = &self.description {
            e.description = optional_text("description", v, MAX_DESCRIPTION)?;
        }
        if let Some(v) = &self.inventory_number {
            e.inventory_number = optional_text("inventory_number", v, MAX_INVENTORY)?;
        }
        if let Some(v) = self.loanable {
            e.loanable = v;
        }
        if let Some(v) = &self.status {
            e.status = parse_status(v)?.to_string();
        }
        if let Some(v) = &self.condition {
            e.condition = parse_condition(v)?.to_string();
        }
        if let Some(v) = &self.acquired {
            e.acquired = if v.trim().is_empty() {
                String::new()
            } else {
                super::time::parse_date(v)
                    .map_err(|e| Error::invalid(format!("acquired (date d'acquisition) : {e}")))?
                    .to_string()
            };
        }
        e.updated_at = now.to_string();
        Ok(())
    }
}

/// A new item from user input: name and category are required.
pub fn new_equipment(patch: &Patch, now: &str) -> Result<Equipment> {
    let mut e = Equipment {
        name: String::new(),
        category: String::new(),
        description: String::new(),
        inventory_number: String::new(),
        loanable: true,
        status: "available".into(),
        condition: "good".into(),
        created_at: now.to_string(),
        updated_at: now.to_string(),
        acquired: String::new(),
    };
    let mut p = patch.clone();
    p.name.get_or_insert_with(String::new);
    p.category.get_or_insert_with(String::new);
    p.apply(&mut e, now)?;
    Ok(e)
}

pub const MAP: &str = "equipment";

pub fn get(doc: &AutoCommit, id: &str) -> Result<Option<Equipment>> {
    map_entry(doc, MAP, id)
}

pub fn all(doc: &AutoCommit) -> Result<BTreeMap<String, Equipment>> {
    map_entries(doc, MAP)
}

pub fn put(doc: &mut AutoCommit, id: &str, e: &Equipment) -> Result<()> {
    put_entry(doc, MAP, id, e)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn new_requires_name_and_category() {
        let now = "2026-01-01T00:00:00Z";
        let p = Patch {
            name: Some("  ".into()),
            category: Some("robotique".into()),
            ..Default::default()
        };
        assert!(matches!(
            new_equipment(&p, now),
            Err(Error::InvalidArgument(_))
        ));
        let p = Patch {
            name: Some("Robot Thymio".into()),
            category: Some("robotique".into()),
            ..Default::default()
        };
        let e = new_equipment(&p, now).unwrap();
        assert_eq!(e.status, "available");
        assert!(e.loanable);
    }

    #[test]
    fn put_get_all_roundtrip() {
        let mut doc = AutoCommit::new();
        let p = Patch {
            name: Some("Imprimante 3D".into()),
            category: Some("impression 3D".into()),
            ..Default::default()
        };
        let e = new_equipment(&p, "t").unwrap();
        put(&mut doc, "eq-1", &e).unwrap();
        assert_eq!(get(&doc, "eq-1").unwrap(), Some(e.clone()));
        assert_eq!(get(&doc, "eq-2").unwrap(), None);
        assert_eq!(all(&doc).unwrap().len(), 1);
        let bad = Patch {
            status: Some("perdu".into()),
            ..Default::default()
        };
        let mut e2 = e.clone();
        assert!(bad.apply(&mut e2, "t").is_err());
    }

    #[test]
    fn statuses_and_conditions_take_french_words() {
        for (typed, key) in [
            ("available", "available"),
            ("disponible", "available"),
            ("En maintenance", "maintenance"),
            ("maintenance", "maintenance"),
            ("retire", "retired"),
        ] {
            assert_eq!(parse_status(typed).unwrap(), key, "{typed}");
        }
        for (typed, key) in [
            ("bon", "good"),
            ("USÉ", "worn"),
            ("hors_service", "out_of_order"),
            ("new", "new"),
        ] {
            assert_eq!(parse_condition(typed).unwrap(), key, "{typed}");
        }
        let e = parse_condition("cassé").unwrap_err().to_string();
        assert!(e.contains("bon (good)"), "{e}");
        assert_eq!(condition_fr("good"), "bon");
        assert_eq!(status_fr("retired"), "retiré");
    }

    #[test]
    fn an_incident_marks_the_item() {
        let p = Patch {
            name: Some("Trépied".into()),
            category: Some("vidéo".into()),
            ..Default::default()
        };
        let mut e = new_equipment(&p, "t0").unwrap();
        after_incident(&mut e, "usable", "t1");
        assert_eq!(
            (e.status.as_str(), e.condition.as_str()),
            ("available", "worn")
        );
        after_incident(&mut e, "to_repair", "t2");
        assert_eq!(
            (
                e.status.as_str(),
                e.condition.as_str(),
                e.updated_at.as_str()
            ),
            ("maintenance", "out_of_order", "t2")
        );
    }

    #[test]
    fn acquired_is_a_date_and_old_items_hydrate_without_it() {
        let mut e = new_equipment(
            &Patch {
                name: Some("Caméra".into()),
                category: Some("vidéo".into()),
                acquired: Some("15/09/2025".into()),
                ..Default::default()
            },
            "2026-11-30T10:00:00Z",
        )
        .unwrap();
        assert_eq!(e.acquired, "2025-09-15");
        let bad = Patch {
            acquired: Some("septembre".into()),
            ..Default::default()
        };
        let err = bad.apply(&mut e, "t").unwrap_err().to_string();
        assert!(
            err.contains("acquired") && err.contains("JJ/MM/AAAA"),
            "{err}"
        );
        // An item written before the field existed.
        let mut doc = AutoCommit::new();
        let map = super::super::root_map_mut(&mut doc, MAP).unwrap();
        let item = automerge::transaction::Transactable::put_object(
            &mut doc,
            &map,
            "eq-old",
            automerge::ObjType::Map,
        )
        .unwrap();
        for (k, v) in [
            ("name", "Trépied"),
            ("category", "vidéo"),
            ("description", ""),
            ("inventory_number", ""),
            ("status", "available"),
            ("condition", "good"),
            ("created_at", "2025-01-01T00:00:00Z"),
            ("updated_at", "2025-01-01T00:00:00Z"),
        ] {
            automerge::transaction::Transactable::put(&mut doc, &item, k, v).unwrap();
        }
        automerge::transaction::Transactable::put(&mut doc, &item, "loanable", true).unwrap();
        let old = get(&doc, "eq-old").unwrap().expect("hydrates");
        assert_eq!((old.name.as_str(), old.acquired.as_str()), ("Trépied", ""));
    }
}
