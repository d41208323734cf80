//! The site registry, in the `network` document, written by academy nodes:
//! which sites belong to the network, where their nodes listen, their public
//! keys, and which were revoked.

use std::collections::BTreeMap;

use automerge::AutoCommit;
use autosurgeon::{Hydrate, Reconcile};

use super::{map_entries, map_entry, put_entry, required_text};
use crate::base::{check_key, is_slug, validate_peer_url};
use crate::error::{Error, Result};

pub const MAP: &str = "sites";

#[derive(Debug, Clone, PartialEq, Reconcile, Hydrate)]
pub struct SiteEntry {
    pub name: String,
    /// "site" or "academy".
    pub role: String,
    /// Federation URL of the site's node, e.g. `https://metz.example:7400`.
    pub endpoint: String,
    /// Ed25519 public key, hex.
    pub public_key: String,
    pub enrolled_at: String,
    /// Empty while the site is enrolled.
    pub revoked_at: String,
    /// For a revoked site: document id → the heads the academy held when it
    /// revoked the site. The site's changes beneath them stay; any other
    /// change it wrote is refused everywhere.
    #[autosurgeon(missing = "Default::default")]
    pub cutoff: BTreeMap<String, Vec<String>>,
    /// Keys the site signed with before its current one, oldest first. Each
    /// stays valid for the site's changes beneath its cutoff only.
    #[autosurgeon(missing = "Default::default")]
    pub retired_keys: Vec<RetiredKey>,
}

/// A key the site no longer signs with (replaced by `maillage site update --key`).
#[derive(Debug, Clone, PartialEq, Reconcile, Hydrate)]
pub struct RetiredKey {
    /// Ed25519 public key, hex.
    pub key: String,
    /// When the academy replaced it.
    pub retired_at: String,
    /// Document id → the heads the academy held when it replaced the key,
    /// computed as for a revocation: the site's changes beneath them signed
    /// with this key stay valid; any later change must bear the new key.
    pub cutoff: BTreeMap<String, Vec<String>>,
}

impl SiteEntry {
    pub fn is_revoked(&self) -> bool {
        !self.revoked_at.is_empty()
    }
}

pub fn get(doc: &AutoCommit, id: &str) -> Result<Option<SiteEntry>> {
    map_entry(doc, MAP, id)
}

pub fn all(doc: &AutoCommit) -> Result<BTreeMap<String, SiteEntry>> {
    map_entries(doc, MAP)
}

/// The registry as trust checks read it: entries that cannot be read are
/// listed apart, so that the sites they name are refused (fail closed) while
/// the others are still checked. A `sites` value that is not a map at all
/// makes the whole registry unreadable: every check that needs it refuses.
#[derive(Debug, Clone, Default)]
pub struct TrustRegistry {
    pub entries: BTreeMap<String, SiteEntry>,
    pub unreadable: std::collections::BTreeSet<String>,
}

impl TrustRegistry {
    /// Why `site` cannot write now, if the registry says so: revoked sites
    /// are handled by the caller with their cutoff.
    pub fn unreadable_reason(&self, site: &str) -> Option<String> {
        self.unreadable.contains(site).then(|| {
            format!("l'inscription du site {site} dans le registre du réseau est illisible : ses modifications sont refusées")
        })
    }
}

/// Reads the registry of `doc` for trust checks (see [`TrustRegistry`]).
pub fn for_trust(doc: &AutoCommit) -> std::result::Result<TrustRegistry, String> {
    use automerge::ReadDoc;
    let maps = super::root_maps(doc, MAP);
    if maps.is_empty() {
        if doc.get(automerge::ROOT, MAP).ok().flatten().is_some() {
            return Err("le registre du réseau est illisible (sites n'est pas une table)".into());
        }
        return Ok(TrustRegistry::default());
    }
    let mut out = TrustRegistry::default();
    for map in maps {
        for k in doc.keys(&map) {
            if out.entries.contains_key(&k) || out.unreadable.contains(&k) {
                continue;
            }
            match autosurgeon::hydrate_prop::<_, SiteEntry, _, _>(doc, &map, k.as_str()) {
                Ok(e) => {
                    out.entries.insert(k, e);
                }
                Err(_) => {
                    out.unreadable.insert(k);
                }
            }
        }
    }
    Ok(out)
}

pub fn put(doc: &mut AutoCommit, id: &str, e: &SiteEntry) -> Result<()> {
    put_entry(doc, MAP, id, e)
}

/// Checks a federation URL; empty means the site has none (it dials, others don't).
pub fn check_endpoint(endpoint: &str) -> Result<String> {
    let endpoint = endpoint.trim();
    if !endpoint.is_empty() {
        validate_peer_url(endpoint)?;
    }
    Ok(endpoint.to_string())
}

/// The academy's changes to an entry, validated; `None` keeps the field.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Update {
    pub name: Option<String>,
    pub endpoint: Option<String>,
    pub key: Option<String>,
}

impl Update {
    /// From the request's fields, where empty means unchanged.
    pub fn new(name: &str, endpoint: &str, key: &str) -> Result<Update> {
        let given = |v: &str| (!v.trim().is_empty()).then(|| v.to_string());
        Ok(Update {
            name: given(name)
                .map(|n| required_text("name", &n, 200))
                .transpose()?,
            endpoint: given(endpoint).map(|e| check_endpoint(&e)).transpose()?,
            key: given(key).map(|k| check_key(&k)).transpose()?,
        })
    }
}

impl SiteEntry {
    /// Applies `u`. A new key retires the current one, valid beneath
    /// `cutoff` (the heads held now) only. Returns whether the key changed.
    pub fn apply(&mut self, u: &Update, now: &str, cutoff: BTreeMap<String, Vec<String>>) -> bool {
        if let Some(n) = &u.name {
            self.name = n.clone();
        }
        if let Some(e) = &u.endpoint {
            self.endpoint = e.clone();
        }
        match &u.key {
            Some(k) if *k != self.public_key => {
                let old = std::mem::replace(&mut self.public_key, k.clone());
                self.retired_keys.push(RetiredKey {
                    key: old,
                    retired_at: now.to_string(),
                    cutoff,
                });
                true
            }
            _ => false,
        }
    }
}

/// A new registry entry from the academy's input.
pub fn new_entry(
    id: &str,
    name: &str,
    role: &str,
    endpoint: &str,
    key: &str,
    now: &str,
) -> Result<SiteEntry> {
    if !is_slug(id) {
        return Err(Error::invalid(format!(
            "identifiant de site « {id} » invalide : lettres minuscules, chiffres et tirets"
        )));
    }
    let role = match role.trim() {
        "" | "site" => "site",
        "academy" => "academy",
        other => {
            return Err(Error::invalid(format!(
                "rôle « {other} » inconnu : site ou academy"
            )))
        }
    };
    Ok(SiteEntry {
        name: required_text("name", name, 200)?,
        role: role.to_string(),
        endpoint: check_endpoint(endpoint)?,
        public_key: check_key(key)?,
        enrolled_at: now.to_string(),
        revoked_at: String::new(),
        cutoff: BTreeMap::new(),
        retired_keys: Vec::new(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn entries_are_validated() {
        let key = hex::encode(
            ed25519_dalek::SigningKey::from_bytes(&[7; 32])
                .verifying_key()
                .to_bytes(),
        );
        assert!(new_entry("metz", "Metz", "site", "https://h:7400", &key, "t").is_ok());
        assert!(new_entry("Metz!", "Metz", "site", "", &key, "t").is_err());
        assert!(new_entry("metz", "", "site", "", &key, "t").is_err());
        assert!(new_entry("metz", "Metz", "boss", "", &key, "t").is_err());
        assert!(new_entry("metz", "Metz", "site", "ftp://x", &key, "t").is_err());
        assert!(new_entry("metz", "Metz", "site", "", "abcd", "t").is_err());
        let mut doc = AutoCommit::new();
        let e = new_entry("metz", "Metz", "site", "", &key, "t").unwrap();
        put(&mut doc, "metz", &e).unwrap();
        assert_eq!(get(&doc, "metz").unwrap(), Some(e));
        assert!(get(&doc, "nancy").unwrap().is_none());
    }

    fn key(seed: u8) -> String {
        hex::encode(
            ed25519_dalek::SigningKey::from_bytes(&[seed; 32])
                .verifying_key()
                .to_bytes(),
        )
    }

    #[test]
    fn updates_keep_unset_fields_and_retire_replaced_keys() {
        assert!(Update::new("", "ftp://x", "").is_err());
        assert!(Update::new("", "", "abcd").is_err());
        assert!(Update::new(&"x".repeat(201), "", "").is_err());
        assert_eq!(Update::new(" ", "", "").unwrap(), Update::default());

        let mut e = new_entry("metz", "Metz", "site", "https://h:7400", &key(1), "t0").unwrap();
        let u = Update::new("Metz-Borny", "", "").unwrap();
        assert!(!e.apply(&u, "t1", BTreeMap::new()));
        assert_eq!(
            (e.name.as_str(), e.endpoint.as_str()),
            ("Metz-Borny", "https://h:7400")
        );
        // The same key again retires nothing.
        assert!(!e.apply(
            &Update::new("", "", &key(1)).unwrap(),
            "t2",
            BTreeMap::new()
        ));
        assert!(e.retired_keys.is_empty());
        let cut = BTreeMap::from([("site/metz".to_string(), vec!["ab".to_string()])]);
        let u = Update::new("", "https://i:7400", &key(2).to_uppercase()).unwrap();
        assert!(e.apply(&u, "t3", cut.clone()));
        assert_eq!(e.public_key, key(2));
        assert_eq!(e.endpoint, "https://i:7400");
        assert_eq!(
            e.retired_keys,
            vec![RetiredKey {
                key: key(1),
                retired_at: "t3".into(),
                cutoff: cut
            }]
        );
        // Stored and read back; an entry written without the field (by an
        // older node) reads as having none.
        let mut doc = AutoCommit::new();
        put(&mut doc, "metz", &e).unwrap();
        assert_eq!(get(&doc, "metz").unwrap(), Some(e.clone()));
        use automerge::{transaction::Transactable, ReadDoc, ROOT};
        let (_, sites) = doc.get(ROOT, MAP).unwrap().unwrap();
        let (_, metz) = doc.get(&sites, "metz").unwrap().unwrap();
        doc.delete(&metz, "retired_keys").unwrap();
        let old = get(&doc, "metz").unwrap().unwrap();
        assert!(old.retired_keys.is_empty());
        assert_eq!(old.public_key, e.public_key);
    }
}
