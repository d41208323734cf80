//! Domain: plain types and rules, mapped onto Automerge documents with
//! autosurgeon. Nothing here does I/O.

pub mod actions;
pub mod calendar;
pub mod equipment;
pub mod ids;
pub mod loans;
pub mod partners;
pub mod purchases;
pub mod registry;
pub mod site;
pub mod time;

use automerge::{transaction::Transactable, AutoCommit, ObjId, ObjType, ReadDoc, Value, ROOT};

use crate::error::{Error, Result};

/// `text` as searches compare it: lower case, without the accents of French
/// and its neighbours (« Caméra » and « camera » match), ligatures spelled out.
pub fn fold_for_search(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars().flat_map(char::to_lowercase) {
        match c {
            'à' | 'â' | 'ä' | 'á' | 'ã' | 'å' => out.push('a'),
            'ç' => out.push('c'),
            'é' | 'è' | 'ê' | 'ë' => out.push('e'),
            'î' | 'ï' | 'í' | 'ì' => out.push('i'),
            'ô' | 'ö' | 'ó' | 'ò' | 'õ' => out.push('o'),
            'ù' | 'û' | 'ü' | 'ú' => out.push('u'),
            'ÿ' | 'ý' => out.push('y'),
            'ñ' => out.push('n'),
            'œ' => out.push_str("oe"),
            'æ' => out.push_str("ae"),
            '’' => out.push('\''),
            c => out.push(c),
        }
    }
    out
}

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

/// Every map stored under `key` at the root, the winning one first.
///
/// Two replicas that each created the map (a node restored from a backup taken
/// before the map existed, say) leave concurrent values under one key; Automerge
/// shows only the winner, so readers take the union to hide no record.
pub(crate) fn root_maps(doc: &AutoCommit, key: &str) -> Vec<ObjId> {
    let mut maps: Vec<ObjId> = Vec::new();
    if let Some(winner) = root_map(doc, key) {
        maps.push(winner);
    }
    if let Ok(all) = doc.get_all(ROOT, key) {
        for (v, id) in all {
            if matches!(v, Value::Object(ObjType::Map)) && !maps.contains(&id) {
                maps.push(id);
            }
        }
    }
    maps
}

/// One record of the keyed collection `key` at the root.
pub(crate) fn map_entry<T: autosurgeon::Hydrate>(
    doc: &AutoCommit,
    key: &str,
    id: &str,
) -> Result<Option<T>> {
    for map in root_maps(doc, key) {
        if doc.get(&map, id).ok().flatten().is_some() {
            return Ok(Some(autosurgeon::hydrate_prop(doc, &map, id)?));
        }
    }
    Ok(None)
}

/// Every record of the keyed collection `key` at the root.
pub(crate) fn map_entries<T: autosurgeon::Hydrate>(
    doc: &AutoCommit,
    key: &str,
) -> Result<std::collections::BTreeMap<String, T>> {
    let mut out = std::collections::BTreeMap::new();
    for map in root_maps(doc, key) {
        for k in doc.keys(&map) {
            if let std::collections::btree_map::Entry::Vacant(slot) = out.entry(k.clone()) {
                slot.insert(autosurgeon::hydrate_prop(doc, &map, k.as_str())?);
            }
        }
    }
    Ok(out)
}

/// Writes one record of the keyed collection `key` at the root.
pub(crate) fn put_entry<T: autosurgeon::Reconcile>(
    doc: &mut AutoCommit,
    key: &str,
    id: &str,
    value: &T,
) -> Result<()> {
    let map = root_map_mut(doc, key)?;
    autosurgeon::reconcile_prop(doc, &map, id, value)?;
    Ok(())
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

#[cfg(test)]
mod tests {
    #[test]
    fn searches_ignore_case_and_accents() {
        use super::fold_for_search as f;
        assert_eq!(f("Caméra 4K"), "camera 4k");
        assert_eq!(f("ÉCRAN Numérique"), "ecran numerique");
        assert_eq!(f("Cœur de l’Œuvre"), "coeur de l'oeuvre");
        assert!(f("Vidéoprojecteur").contains(&f("VIDEO")));
    }
}
