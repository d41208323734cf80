//! What the node's documents hold, as status and digests read it: heads,
//! queues, change counts, exports.

use std::collections::{BTreeMap, HashMap};

use automerge::ChangeHash;

use super::codec::{heads_hash, network_digest_of, save_applied};
use super::Docs;

impl Docs {
    /// Changes of `id` waiting in its queue for a missing dependency (each
    /// verified when it arrived).
    pub fn queued(&self, id: &str) -> Vec<ChangeHash> {
        match self.entry(id) {
            Some(e) => e.lock().unwrap().queued.iter().copied().collect(),
            None => Vec::new(),
        }
    }

    /// Time (seconds since the epoch, the author's clock) of the newest change
    /// at the heads of `id`.
    pub fn newest_change_time(&self, id: &str) -> Option<i64> {
        let entry = self.entry(id)?;
        let mut guard = entry.lock().unwrap();
        let heads = guard.doc.get_heads();
        heads
            .iter()
            .filter_map(|h| guard.doc.get_change_meta_by_hash(h).map(|m| m.timestamp))
            .max()
    }

    /// Heads of a document, as hex strings (empty if unknown).
    pub fn heads(&self, id: &str) -> Vec<String> {
        match self.entry(id) {
            Some(e) => e
                .lock()
                .unwrap()
                .doc
                .get_heads()
                .iter()
                .map(|h| h.to_string())
                .collect(),
            None => Vec::new(),
        }
    }

    /// Document id to the hash of its heads, for every non-empty document.
    pub fn digests(&self) -> BTreeMap<String, [u8; 32]> {
        let docs = self.entries();
        let mut out = BTreeMap::new();
        for (id, e) in docs {
            let mut heads = e.lock().unwrap().doc.get_heads();
            if !heads.is_empty() {
                out.insert(id, heads_hash(&mut heads));
            }
        }
        out
    }

    /// Heads of every non-empty document, with their hash as in [`Docs::digests`].
    pub fn heads_and_digests(&self) -> BTreeMap<String, (Vec<ChangeHash>, [u8; 32])> {
        let docs = self.entries();
        let mut out = BTreeMap::new();
        for (id, e) in docs {
            let heads = e.lock().unwrap().doc.get_heads();
            if !heads.is_empty() {
                let mut sorted = heads.clone();
                let hash = heads_hash(&mut sorted);
                out.insert(id, (heads, hash));
            }
        }
        out
    }

    /// One hash over every non-empty document and its heads: equal on two nodes
    /// if and only if they hold the same state of every document.
    pub fn network_digest(&self) -> [u8; 32] {
        network_digest_of(self.digests().iter())
    }

    /// The whole document as a standard Automerge file.
    pub fn export(&self, id: &str) -> Option<Vec<u8>> {
        let entry = self.entry(id)?;
        let mut guard = entry.lock().unwrap();
        if guard.doc.is_empty() {
            return None;
        }
        Some(save_applied(&mut guard.doc))
    }

    /// Number of changes in each non-empty document.
    pub fn change_counts(&self) -> HashMap<String, usize> {
        let docs = self.entries();
        docs.into_iter()
            .filter_map(|(id, e)| {
                let mut g = e.lock().unwrap();
                let n = g.doc.get_changes_meta(&[]).len();
                (n > 0).then_some((id, n))
            })
            .collect()
    }
}
