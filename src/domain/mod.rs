//! Domain: plain types and rules, mapped onto Automerge documents with
//! autosurgeon. Nothing here does I/O.

pub mod equipment;
pub mod site;

use automerge::{transaction::Transactable, AutoCommit, ObjId, ObjType, ReadDoc, Value, ROOT};

use crate::error::{Error, Result};

/// The map stored under `key` at the root, if there is one.
pub(crate) fn root_map(doc: &AutoCommit, key: &str) -> Option<ObjId> {
    match doc.get(ROOT, key) {
        Ok(Some((Value::Object(ObjType::Map), id))) => Some(id),
        _ => None,
    }
}

/// The map stored under `key` at the root, created if missing.
pub(crate) fn root_map_mut(doc: &mut AutoCommit, key: &str) -> Result<ObjId> {
    if let Some(id) = root_map(doc, key) {
        return Ok(id);
    }
    doc.put_object(ROOT, key, ObjType::Map)
        .map_err(|e| Error::Internal(format!("création de {key} : {e}")))
}

/// Trims `value` and checks it is non-empty and at most `max` characters.
pub fn required_text(field: &str, value: &str, max: usize) -> Result<String> {
    let v = value.trim();
    if v.is_empty() {
        return Err(Error::invalid(format!("le champ {field} est obligatoire")));
    }
    optional_text(field, v, max)
}

/// Trims `value` and checks it is at most `max` characters.
pub fn optional_text(field: &str, value: &str, max: usize) -> Result<String> {
    let v = value.trim();
    if v.chars().count() > max {
        return Err(Error::invalid(format!(
            "le champ {field} dépasse {max} caractères"
        )));
    }
    if v.chars().any(|c| c.is_control() && c != '\n' && c != '\t') {
        return Err(Error::invalid(format!(
            "le champ {field} contient des caractères de contrôle"
        )));
    }
    Ok(v.to_string())
}

pub fn now_rfc3339() -> String {
    chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Secs, true)
}
