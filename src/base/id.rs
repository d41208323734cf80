//! Document ids and site ids.
//!
//! The network's state is a set of documents, each with one authority:
//! `network` (the academy), `site/<site-id>` (that site's node) and
//! `action/<id>` (a common action, written by its participants).

pub const NETWORK_DOC: &str = "network";
pub const MAX_SLUG_LEN: usize = 40;

/// What a document id designates.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DocKind {
    Network,
    Site(String),
    Action(String),
}

/// A site id is a short slug: lowercase ASCII letters, digits and `-`,
/// starting with a letter or digit.
pub fn is_slug(s: &str) -> bool {
    !s.is_empty()
        && s.len() <= MAX_SLUG_LEN
        && s.bytes().next().is_some_and(|b| b.is_ascii_alphanumeric())
        && s.bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
}

pub fn site_doc(site: &str) -> String {
    format!("site/{site}")
}

pub fn parse_doc_id(id: &str) -> Option<DocKind> {
    if id == NETWORK_DOC {
        return Some(DocKind::Network);
    }
    if let Some(site) = id.strip_prefix("site/") {
        return is_slug(site).then(|| DocKind::Site(site.to_string()));
    }
    if let Some(action) = id.strip_prefix("action/") {
        return is_slug(action).then(|| DocKind::Action(action.to_string()));
    }
    None
}

/// A new random id `prefix-xxxxxxxxxx` (50 bits of randomness, base32 lowercase).
pub fn new_id(prefix: &str) -> String {
    use rand::Rng;
    const ALPHABET: &[u8] = b"abcdefghijkmnpqrstuvwxyz23456789";
    let mut rng = rand::thread_rng();
    let tail: String = (0..10)
        .map(|_| ALPHABET[rng.gen_range(0..ALPHABET.len())] as char)
        .collect();
    format!("{prefix}-{tail}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn doc_ids() {
        assert_eq!(parse_doc_id("network"), Some(DocKind::Network));
        assert_eq!(
            parse_doc_id("site/metz-borny"),
            Some(DocKind::Site("metz-borny".into()))
        );
        assert_eq!(
            parse_doc_id("action/ac-3k9"),
            Some(DocKind::Action("ac-3k9".into()))
        );
        for bad in [
            "",
            "site/",
            "site/Metz",
            "site/a/b",
            "other/x",
            "site/-a",
            "networks",
        ] {
            assert_eq!(parse_doc_id(bad), None, "{bad}");
        }
    }

    #[test]
    fn new_ids_are_slugs_and_differ() {
        let a = new_id("eq");
        assert!(is_slug(&a));
        assert_ne!(a, new_id("eq"));
    }
}
