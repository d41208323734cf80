//! Partners (partenaires) of a site: local authorities, associations,
//! companies, universities… Each lives in the `partners` map of its site's
//! document, keyed by its id.

use std::collections::BTreeMap;

use automerge::AutoCommit;
use autosurgeon::{Hydrate, Reconcile};

use super::actions::parse_amount;
use super::{map_entries, map_entry, optional_text, put_entry, required_text};
use crate::error::{Error, Result};

pub const MAP: &str = "partners";
/// Kinds, and the French words users may type for them.
pub const KINDS: &[(&str, &[&str])] = &[
    ("local_authority", &["collectivité", "collectivite"]),
    ("association", &["association"]),
    ("company", &["entreprise"]),
    ("university", &["université", "universite"]),
    ("other", &["autre"]),
];
pub const MAX_NAME: usize = 200;
pub const MAX_TEXT: usize = 2000;
pub const MAX_ACTIONS: usize = 100;

#[derive(Debug, Clone, PartialEq, Reconcile, Hydrate)]
pub struct Partner {
    pub name: String,
    pub kind: String,
    pub contact: String,
    pub agreement: String,
    pub contribution_eur: String,
    pub contribution_in_kind: String,
    pub actions: Vec<String>,
    pub created_at: String,
    pub updated_at: String,
}

/// The canonical kind for what a user typed (English id or French word).
pub fn parse_kind(s: &str) -> Result<String> {
    let t = s.trim().to_lowercase();
    if t.is_empty() {
        return Ok("other".into());
    }
    KINDS
        .iter()
        .find(|(id, fr)| *id == t || fr.contains(&t.as_str()))
        .map(|(id, _)| id.to_string())
        .ok_or_else(|| {
            Error::invalid(format!(
                "type de partenaire « {s} » inconnu : collectivité, association, entreprise, université ou autre"
            ))
        })
}

/// A kind as people say it (`local_authority` → « collectivité »); an
/// unknown kind as it is.
pub fn kind_fr(kind: &str) -> &str {
    KINDS
        .iter()
        .find(|(k, _)| *k == kind)
        .and_then(|(_, fr)| fr.first().copied())
        .unwrap_or(kind)
}

/// What a user gives to create or change a partner; `None` keeps the value.
#[derive(Debug, Clone, Default)]
pub struct Patch {
    pub name: Option<String>,
    pub kind: Option<String>,
    pub contact: Option<String>,
    pub agreement: Option<String>,
    pub contribution_eur: Option<String>,
    pub contribution_in_kind: Option<String>,
    pub actions: Option<Vec<String>>,
}

impl Patch {
    /// Validates every given field, then applies them; changes nothing on error.
    pub fn apply(&self, p: &mut Partner, now: &str) -> Result<()> {
        let mut next = p.clone();
        if let Some(v) = &self.name {
            next.name = required_text("name", v, MAX_NAME)?;
        }
        if let Some(v) = &self.kind {
            next.kind = parse_kind(v)?;
        }
        if let Some(v) = &self.contact {
            next.contact = optional_text("contact", v, MAX_TEXT)?;
        }
        if let Some(v) = &self.agreement {
            next.agreement = optional_text("agreement", v, MAX_TEXT)?;
        }
        if let Some(v) = &self.contribution_eur {
            next.contribution_eur = parse_amount("contribution_eur", v)?;
        }
        if let Some(v) = &self.contribution_in_kind {
            next.contribution_in_kind = optional_text("contribution_in_kind", v, MAX_TEXT)?;
        }
        if let Some(v) = &self.actions {
            if v.len() > MAX_ACTIONS {
                return Err(Error::invalid(format!(
                    "au plus {MAX_ACTIONS} actions liées"
                )));
            }
            let mut a: Vec<String> = v.iter().map(|s| s.trim().to_string()).collect();
            a.retain(|s| !s.is_empty());
            a.sort();
            a.dedup();
            next.actions = a;
        }
        next.updated_at = now.to_string();
        *p = next;
        Ok(())
    }
}

pub fn new_partner(patch: &Patch, now: &str) -> Result<Partner> {
    let mut p = Partner {
        name: String::new(),
        kind: "other".into(),
        contact: String::new(),
        agreement: String::new(),
        contribution_eur: String::new(),
        contribution_in_kind: String::new(),
        actions: Vec::new(),
        created_at: now.to_string(),
        updated_at: now.to_string(),
    };
    let mut patch = patch.clone();
    patch.name.get_or_insert_with(String::new);
    patch.apply(&mut p, now)?;
    Ok(p)
}

pub fn get(doc: &AutoCommit, id: &str) -> Result<Option<Partner>> {
    map_entry(doc, MAP, id)
}

pub fn all(doc: &AutoCommit) -> Result<BTreeMap<String, Partner>> {
    map_entries(doc, MAP)
}

pub fn put(doc: &mut AutoCommit, id: &str, p: &Partner) -> Result<()> {
    put_entry(doc, MAP, id, p)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn partners_are_validated_and_patched_whole_or_not_at_all() {
        let p = new_partner(
            &Patch {
                name: Some("Ville de Metz".into()),
                kind: Some("collectivité".into()),
                contribution_eur: Some("1500,5".into()),
                actions: Some(vec!["act-b".into(), "act-a".into(), "act-a".into()]),
                ..Default::default()
            },
            "t0",
        )
        .unwrap();
        assert_eq!(p.kind, "local_authority");
        assert_eq!(p.contribution_eur, "1500.50");
        assert_eq!(p.actions, vec!["act-a", "act-b"]);
        assert!(
            new_partner(&Patch::default(), "t").is_err(),
            "name required"
        );
        for bad in [
            Patch {
                kind: Some("club".into()),
                ..Default::default()
            },
            Patch {
                contribution_eur: Some("-3".into()),
                ..Default::default()
            },
            Patch {
                contribution_eur: Some("12.345".into()),
                ..Default::default()
            },
            Patch {
                contribution_eur: Some("beaucoup".into()),
                ..Default::default()
            },
        ] {
            let mut q = p.clone();
            assert!(bad.apply(&mut q, "t1").is_err());
            assert_eq!(q, p, "a refused patch changes nothing");
        }
        assert_eq!(kind_fr("local_authority"), "collectivité");
        assert_eq!(kind_fr("university"), "université");
        assert_eq!(kind_fr("club"), "club");
        for (k, _) in KINDS {
            assert_eq!(parse_kind(kind_fr(k)).unwrap(), *k, "a label reads back");
        }
        let mut doc = AutoCommit::new();
        put(&mut doc, "pa-1", &p).unwrap();
        assert_eq!(get(&doc, "pa-1").unwrap(), Some(p));
    }
}
