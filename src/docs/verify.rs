//! Verification of the changes a sync message brings, before they are applied.
//! The rules and their reasons are in [`crate::trust`].

use std::collections::{BTreeMap, HashMap, HashSet};

use automerge::{AutoCommit, ChangeHash};

use super::{parse_doc_id, site_doc, DocKind, Docs, NETWORK_DOC};
use crate::domain::registry::{self, SiteEntry};
use crate::trust::{author_of, Anchor, Refusal, Sig, Trust};

/// A new change, reduced to what verification needs.
struct NewChange {
    hash: ChangeHash,
    author: usize,
    deps: Vec<ChangeHash>,
}

impl Docs {
    /// Verifies the changes of `doc` (a copy with a peer's message applied)
    /// that are not below `before`. Returns the signatures to store with them.
    pub(crate) fn verify(
        &self,
        id: &str,
        doc: &mut AutoCommit,
        before: &[ChangeHash],
        sig_of: &dyn Fn(&ChangeHash) -> Option<Sig>,
    ) -> Result<Vec<(ChangeHash, Sig)>, Refusal> {
        let trust = &self.inner.trust;
        let kind = parse_doc_id(id)
            .ok_or_else(|| Refusal::Forged(format!("document inconnu : « {id} »")))?;
        let mut authors: Vec<String> = Vec::new();
        let mut news: Vec<NewChange> = Vec::new();
        {
            let metas = doc.get_changes_meta(before);
            if metas.len() > trust.max_changes {
                return Err(Refusal::Forged(format!(
                    "{} modifications dans un seul message pour {id}, au plus {} acceptées",
                    metas.len(),
                    trust.max_changes
                )));
            }
            for m in metas {
                let author = author_of(&m.actor).ok_or_else(|| {
                    Refusal::Forged(format!(
                        "modification {} de {id} sans site auteur (acteur {})",
                        m.hash, m.actor
                    ))
                })?;
                let a = match authors.iter().position(|x| *x == author) {
                    Some(a) => a,
                    None => {
                        authors.push(author);
                        authors.len() - 1
                    }
                };
                news.push(NewChange {
                    hash: m.hash,
                    author: a,
                    deps: m.deps,
                });
            }
        }
        if news.is_empty() {
            return Ok(Vec::new());
        }
        let registry: BTreeMap<String, SiteEntry> = if kind == DocKind::Network {
            registry::all(doc).unwrap_or_default()
        } else {
            self.read(NETWORK_DOC, registry::all)
                .and_then(|r| r.ok())
                .unwrap_or_default()
        };

        // Each author's right to write this document, and its key.
        let mut anchors: Vec<Anchor> = Vec::with_capacity(authors.len());
        let mut revoked: Vec<usize> = Vec::new();
        for (a, author) in authors.iter().enumerate() {
            let anchor = match &kind {
                DocKind::Site(s) if s == author => trust.anchor(author, doc)?,
                DocKind::Site(s) => {
                    return Err(Refusal::Forged(format!(
                    "seul le site {s} écrit {id}, or une modification est signée du site {author}"
                )))
                }
                _ => self
                    .read(&site_doc(author), |d| trust.anchor(author, d))
                    .unwrap_or_else(|| {
                        Err(Refusal::Withheld(format!(
                            "le document du site {author} n'est pas encore arrivé ici"
                        )))
                    })?,
            };
            if kind == DocKind::Network && !anchor.academy {
                return Err(Refusal::Forged(format!(
                    "seule l'équipe académique écrit {id}, or {author} n'est pas un site académique"
                )));
            }
            if let Some(entry) = registry.get(author) {
                if entry.public_key != hex::encode(anchor.key.to_bytes()) {
                    return Err(Refusal::Forged(format!(
                        "la clé du site {author} n'est pas celle que le registre du réseau a inscrite"
                    )));
                }
                if entry.is_revoked() {
                    revoked.push(a);
                }
            }
            anchors.push(anchor);
        }

        // Hashes chain: a change vouches for everything beneath it. Walking from
        // the newest, a change is checked only if no newer change of its own
        // author, already checked, has it beneath.
        let index: HashMap<ChangeHash, usize> =
            news.iter().enumerate().map(|(i, c)| (c.hash, i)).collect();
        let mut vouched: Vec<Vec<usize>> = vec![Vec::new(); news.len()];
        let mut out = Vec::with_capacity(news.len());
        for i in (0..news.len()).rev() {
            let c = &news[i];
            let sig = sig_of(&c.hash);
            let mut v = std::mem::take(&mut vouched[i]);
            if !v.contains(&c.author) {
                Trust::verify(
                    &anchors[c.author],
                    &authors[c.author],
                    id,
                    &c.hash,
                    sig.as_ref(),
                )?;
                v.push(c.author);
            }
            if let Some(s) = sig {
                out.push((c.hash, s));
            }
            for d in &c.deps {
                if let Some(&j) = index.get(d) {
                    if j >= i {
                        return Err(Refusal::Forged(format!(
                            "modifications de {id} dans un ordre impossible"
                        )));
                    }
                    for a in &v {
                        if !vouched[j].contains(a) {
                            vouched[j].push(*a);
                        }
                    }
                }
            }
        }

        // A revoked site keeps only what it wrote before the academy's cutoff.
        for a in revoked {
            let author = &authors[a];
            let entry = &registry[author];
            let cut: Vec<ChangeHash> = entry
                .cutoff
                .get(id)
                .map(|hs| hs.iter().filter_map(|h| h.parse().ok()).collect())
                .unwrap_or_default();
            let withheld = || {
                Refusal::Withheld(format!(
                    "le site {author} a été révoqué le {} : ses modifications ultérieures de {id} sont refusées",
                    entry.revoked_at
                ))
            };
            if cut.iter().any(|h| doc.get_change_meta_by_hash(h).is_none()) {
                return Err(withheld());
            }
            let after: HashSet<ChangeHash> =
                doc.get_changes_meta(&cut).iter().map(|m| m.hash).collect();
            if news
                .iter()
                .any(|c| c.author == a && after.contains(&c.hash))
            {
                return Err(withheld());
            }
        }
        Ok(out)
    }
}
