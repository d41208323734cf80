//! Ids as people type them: the whole id, or any unique beginning of it,
//! with or without its kind (`ln-xpsd` or `xpsd` for `ln-xpsd3ciw2x`).

use crate::error::{Error, Result};

/// Whether `typed` (trimmed, lower case) begins `id`, or the part of `id`
/// after its kind (`eq-`, `ln-`…).
fn begins(id: &str, typed: &str) -> bool {
    let id = id.to_lowercase();
    id.starts_with(typed)
        || id
            .split_once('-')
            .is_some_and(|(_, rest)| !rest.is_empty() && rest.starts_with(typed))
}

/// "de matériel", "d'événement", "d'action": the preposition elided
/// before a vowel, as French writes it.
pub fn de(what: &str) -> String {
    let elided = what
        .chars()
        .next()
        .is_some_and(|c| "aeiouyàâäéèêëîïôöùûüAEIOUYÀÂÉÈÊÎÔÙÛ".contains(c));
    if elided {
        format!("d'{what}")
    } else {
        format!("de {what}")
    }
}

/// The one id among `candidates` (id, label shown to people) that `typed`
/// names: the id itself, or a unique beginning of it.
///
/// `what` names the kind of record in messages ("matériel", "prêt"). An
/// empty id is InvalidArgument, no match NotFound, and several matches
/// InvalidArgument listing them with their labels.
pub fn resolve<I>(what: &str, typed: &str, candidates: I) -> Result<String>
where
    I: IntoIterator<Item = (String, String)>,
{
    let t = typed.trim().to_lowercase();
    if t.is_empty() {
        return Err(Error::invalid(format!("identifiant {} manquant", de(what))));
    }
    let mut found: Vec<(String, String)> = Vec::new();
    for (id, label) in candidates {
        if id.to_lowercase() == t {
            return Ok(id);
        }
        if begins(&id, &t) && !found.iter().any(|(f, _)| *f == id) {
            found.push((id, label));
        }
    }
    match found.len() {
        0 => Err(Error::not_found(format!(
            "{what} {} introuvable",
            typed.trim()
        ))),
        1 => Ok(found.remove(0).0),
        n => {
            found.sort();
            const SHOWN: usize = 10;
            let mut list: Vec<String> = found
                .iter()
                .take(SHOWN)
                .map(|(id, label)| {
                    if label.is_empty() {
                        id.clone()
                    } else {
                        format!("{id} ({label})")
                    }
                })
                .collect();
            if n > SHOWN {
                list.push(format!("et {} autres", n - SHOWN));
            }
            Err(Error::invalid(format!(
                "« {} » désigne plusieurs identifiants {} : {} ; tapez-en davantage de caractères",
                typed.trim(),
                de(what),
                list.join(", ")
            )))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn c(list: &[(&str, &str)]) -> Vec<(String, String)> {
        list.iter()
            .map(|(a, b)| (a.to_string(), b.to_string()))
            .collect()
    }

    #[test]
    fn a_unique_prefix_names_one_id() {
        let all = c(&[
            ("eq-abc123", "Caméra"),
            ("eq-abd456", "Trépied"),
            ("eq-x", "Robot"),
        ]);
        assert_eq!(
            resolve("matériel", "eq-abc", all.clone()).unwrap(),
            "eq-abc123"
        );
        assert_eq!(
            resolve("matériel", "abd", all.clone()).unwrap(),
            "eq-abd456"
        );
        assert_eq!(resolve("matériel", " EQ-X ", all.clone()).unwrap(), "eq-x");
        let e = resolve("matériel", "ab", all.clone()).unwrap_err();
        assert!(matches!(e, Error::InvalidArgument(_)));
        let m = e.to_string();
        assert!(
            m.contains("eq-abc123 (Caméra)") && m.contains("eq-abd456 (Trépied)"),
            "{m}"
        );
        assert!(matches!(
            resolve("matériel", "zz", all.clone()),
            Err(Error::NotFound(_))
        ));
        assert!(matches!(
            resolve("matériel", "  ", all),
            Err(Error::InvalidArgument(_))
        ));
    }

    #[test]
    fn de_is_elided_before_a_vowel() {
        let all = c(&[("ev-ab1", "Atelier"), ("ev-ab2", "Forum")]);
        let m = resolve("événement", "ab", all.clone())
            .unwrap_err()
            .to_string();
        assert!(m.contains("plusieurs identifiants d'événement :"), "{m}");
        let m = resolve("action", "ab", all.clone())
            .unwrap_err()
            .to_string();
        assert!(m.contains("plusieurs identifiants d'action :"), "{m}");
        let m = resolve("matériel", "ab", all).unwrap_err().to_string();
        assert!(m.contains("plusieurs identifiants de matériel :"), "{m}");
        let m = resolve("événement", " ", Vec::new())
            .unwrap_err()
            .to_string();
        assert_eq!(m, "identifiant d'événement manquant");
        assert_eq!(de("achat"), "d'achat");
        assert_eq!(de("prêt"), "de prêt");
    }

    #[test]
    fn an_exact_id_wins_over_longer_ones() {
        let all = c(&[("eq-ab", ""), ("eq-abc", "")]);
        assert_eq!(resolve("matériel", "eq-ab", all).unwrap(), "eq-ab");
    }
}
