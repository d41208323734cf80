//! Docs: the loaded Automerge documents, their persistence and their change
//! notifications.
//!
//! Every document sits behind its own mutex; Automerge operations are short and
//! CPU-bound, so a blocking mutex is right. A local write is committed, appended to
//! storage as an incremental chunk, flushed, and only then acknowledged and
//! announced to the peer sessions: a node killed right after an acknowledgement
//! still has the write, and no peer ever sees a change this node could lose.
//!
//! Each process uses a fresh actor id (`<site>.<random>`): a node restarted from an
//! older backup can never reuse an (actor, seq) pair that peers already hold.

mod id;

pub use id::*;

use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, Mutex, RwLock};

use automerge::sync::{self, SyncDoc};
use automerge::{ActorId, AutoCommit, ChangeHash};
use sha2::{Digest, Sha256};
use tokio::sync::broadcast;

use crate::error::{Error, Result};
use crate::storage::Store;

/// Capacity of the "document changed" channel; a lagging session resyncs all.
pub const CHANGED_CAP: usize = 1024;

/// One loaded document and its storage bookkeeping.
struct Entry {
    doc: AutoCommit,
    /// Sequence number of the next chunk to append.
    next_seq: u64,
    /// Chunks written since the last snapshot.
    chunks: u64,
}

struct Inner {
    store: Arc<dyn Store>,
    actor: ActorId,
    docs: RwLock<BTreeMap<String, Arc<Mutex<Entry>>>>,
    changed: broadcast::Sender<String>,
    compact_after: u64,
}

/// A cheap, clonable handle on the node's documents.
#[derive(Clone)]
pub struct Docs {
    inner: Arc<Inner>,
}

fn heads_hash(heads: &mut [ChangeHash]) -> [u8; 32] {
    heads.sort();
    let mut h = Sha256::new();
    for head in heads.iter() {
        h.update(head.0);
    }
    h.finalize().into()
}

impl Docs {
    /// Loads every stored document.
    pub fn open(store: Arc<dyn Store>, site: &str, compact_after: u64) -> Result<Docs> {
        let mut actor = site.as_bytes().to_vec();
        actor.push(b'.');
        actor.extend_from_slice(&rand::random::<[u8; 8]>());
        let actor = ActorId::from(actor);
        let mut docs = BTreeMap::new();
        for id in store.list_docs()? {
            let stored = store.load_doc(&id)?;
            let mut doc = match &stored.snapshot {
                Some(snap) => {
                    AutoCommit::load(snap).map_err(|source| Error::automerge(&id, source))?
                }
                None => AutoCommit::new(),
            };
            for (_, chunk) in &stored.chunks {
                doc.load_incremental(chunk)
                    .map_err(|source| Error::automerge(&id, source))?;
            }
            doc.set_actor(actor.clone());
            let next_seq = stored.chunks.last().map(|(s, _)| s + 1).unwrap_or(0);
            let entry = Entry {
                doc,
                next_seq,
                chunks: stored.chunks.len() as u64,
            };
            docs.insert(id, Arc::new(Mutex::new(entry)));
        }
        let (changed, _) = broadcast::channel(CHANGED_CAP);
        Ok(Docs {
            inner: Arc::new(Inner {
                store,
                actor,
                docs: RwLock::new(docs),
                changed,
                compact_after: compact_after.max(1),
            }),
        })
    }

    pub fn store(&self) -> &Arc<dyn Store> {
        &self.inner.store
    }

    pub fn actor(&self) -> &ActorId {
        &self.inner.actor
    }

    /// A snapshot of the loaded documents, so that no document lock is taken
    /// while the map's lock is held.
    fn entries(&self) -> Vec<(String, Arc<Mutex<Entry>>)> {
        self.inner
            .docs
            .read()
            .unwrap()
            .iter()
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect()
    }

    fn entry(&self, id: &str) -> Option<Arc<Mutex<Entry>>> {
        self.inner.docs.read().unwrap().get(id).cloned()
    }

    fn entry_or_create(&self, id: &str) -> Arc<Mutex<Entry>> {
        if let Some(e) = self.entry(id) {
            return e;
        }
        let mut docs = self.inner.docs.write().unwrap();
        docs.entry(id.to_string())
            .or_insert_with(|| {
                let mut doc = AutoCommit::new();
                doc.set_actor(self.inner.actor.clone());
                Arc::new(Mutex::new(Entry {
                    doc,
                    next_seq: 0,
                    chunks: 0,
                }))
            })
            .clone()
    }

    /// Ids of the documents that hold at least one change.
    pub fn ids(&self) -> Vec<String> {
        let docs = self.entries();
        docs.into_iter()
            .filter(|(_, e)| !e.lock().unwrap().doc.get_heads().is_empty())
            .map(|(k, _)| k)
            .collect()
    }

    pub fn ids_with_prefix(&self, prefix: &str) -> Vec<String> {
        self.ids()
            .into_iter()
            .filter(|id| id.starts_with(prefix))
            .collect()
    }

    pub fn subscribe(&self) -> broadcast::Receiver<String> {
        self.inner.changed.subscribe()
    }

    /// Reads a document; `None` if this node has none of it.
    pub fn read<T>(&self, id: &str, f: impl FnOnce(&AutoCommit) -> T) -> Option<T> {
        let entry = self.entry(id)?;
        let guard = entry.lock().unwrap();
        if guard.doc.is_empty() {
            return None;
        }
        Some(f(&guard.doc))
    }

    /// Applies a local change and returns once it is durable.
    ///
    /// If `f` fails, everything it did is rolled back and nothing is stored.
    pub async fn change<T>(
        &self,
        id: &str,
        message: &str,
        f: impl FnOnce(&mut AutoCommit) -> Result<T>,
    ) -> Result<T> {
        let entry = self.entry_or_create(id);
        let value = {
            let mut guard = entry.lock().unwrap();
            match f(&mut guard.doc) {
                Ok(v) => {
                    let opts = automerge::transaction::CommitOptions::default()
                        .with_message(message.to_string())
                        .with_time(chrono::Utc::now().timestamp());
                    if let Some(hash) = guard.doc.commit_with(opts) {
                        let change = guard.doc.get_change_by_hash(&hash).ok_or_else(|| {
                            Error::Internal(format!(
                                "modification {hash} introuvable après validation"
                            ))
                        })?;
                        let raw = change.raw_bytes().to_vec();
                        self.persist(id, &mut guard, &raw)?;
                    }
                    v
                }
                Err(e) => {
                    guard.doc.rollback();
                    return Err(e);
                }
            }
        };
        self.inner.store.flush().await?;
        let _ = self.inner.changed.send(id.to_string());
        Ok(value)
    }

    /// Appends `bytes` (changes as Automerge encodes them, in any chunk format
    /// `load_incremental` reads) to the document's storage; compacts past the
    /// threshold. Raw bytes are stored as received or committed: re-encoding
    /// changes with `save_incremental` would cost as much as applying them.
    fn persist(&self, id: &str, e: &mut Entry, bytes: &[u8]) -> Result<()> {
        if bytes.is_empty() {
            return Ok(());
        }
        self.inner.store.append_chunk(id, e.next_seq, bytes)?;
        e.next_seq += 1;
        e.chunks += 1;
        if e.chunks >= self.inner.compact_after {
            let snapshot = e.doc.save();
            self.inner.store.compact(id, &snapshot, e.next_seq - 1)?;
            e.chunks = 0;
        }
        Ok(())
    }

    /// The next sync message for `peer_state`, encoded, if there is one to send.
    pub fn generate_sync(&self, id: &str, state: &mut sync::State) -> Option<Vec<u8>> {
        let entry = self.entry_or_create(id);
        let mut guard = entry.lock().unwrap();
        let message = guard.doc.sync().generate_sync_message(state);
        message.map(|m| m.encode())
    }

    /// Applies a peer's sync message, entirely or not at all. Returns whether
    /// the document changed.
    pub fn receive_sync(
        &self,
        id: &str,
        state: &mut sync::State,
        message: sync::Message,
    ) -> Result<bool> {
        let entry = self.entry_or_create(id);
        let changed = {
            let mut guard = entry.lock().unwrap();
            let before = guard.doc.get_heads();
            let raw: Vec<u8> = message.changes.iter().flatten().copied().collect();
            // A message carrying changes is applied to a copy first: one that
            // fails half-way leaves the document and the sync state as they were.
            // (Copying costs O(document); messages without changes skip it.)
            let mut next_state = state.clone();
            if message.changes.is_empty() {
                guard
                    .doc
                    .sync()
                    .receive_sync_message(&mut next_state, message)
                    .map_err(|source| Error::automerge(id, source))?;
            } else {
                let mut doc = guard.doc.clone();
                doc.sync()
                    .receive_sync_message(&mut next_state, message)
                    .map_err(|source| Error::automerge(id, source))?;
                guard.doc = doc;
            }
            let changed = guard.doc.get_heads() != before;
            *state = next_state;
            if changed {
                self.persist(id, &mut guard, &raw)?;
            }
            changed
        };
        if changed {
            let _ = self.inner.changed.send(id.to_string());
        }
        Ok(changed)
    }

    /// A sync state for (peer, document) as persisted, if it is still valid
    /// against this document; else a fresh one.
    pub fn load_sync_state(&self, peer: &str, id: &str) -> sync::State {
        let stored = self.inner.store.get_sync_state(peer, id).ok().flatten();
        let Some(state) = stored.and_then(|b| sync::State::decode(&b).ok()) else {
            return sync::State::new();
        };
        let entry = self.entry_or_create(id);
        let mut guard = entry.lock().unwrap();
        let known = state
            .shared_heads
            .iter()
            .all(|h| guard.doc.get_change_by_hash(h).is_some());
        if known {
            state
        } else {
            sync::State::new()
        }
    }

    pub fn save_sync_state(&self, peer: &str, id: &str, state: &sync::State) -> Result<()> {
        self.inner.store.put_sync_state(peer, id, &state.encode())?;
        Ok(())
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

    /// One hash over every non-empty document and its heads: equal on two nodes
    /// if and only if they hold the same state of every document.
    pub fn network_digest(&self) -> [u8; 32] {
        let mut h = Sha256::new();
        for (id, hash) in self.digests() {
            h.update((id.len() as u32).to_be_bytes());
            h.update(id.as_bytes());
            h.update(hash);
        }
        h.finalize().into()
    }

    /// The whole document as a standard Automerge file.
    pub fn export(&self, id: &str) -> Option<Vec<u8>> {
        let entry = self.entry(id)?;
        let mut guard = entry.lock().unwrap();
        if guard.doc.is_empty() {
            return None;
        }
        Some(guard.doc.save())
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::storage::{MemoryStore, SledStore};
    use proptest::prelude::*;

    /// A real sync message carrying changes of a document, as bytes.
    fn real_message() -> Vec<u8> {
        let mut doc = AutoCommit::new();
        for i in 0..5i64 {
            doc.put(ROOT, format!("k{i}"), i).unwrap();
            doc.commit();
        }
        let mut st = sync::State::new();
        // First message carries heads; answer as an empty peer to get the changes.
        let first = doc.sync().generate_sync_message(&mut st).unwrap();
        let mut empty = AutoCommit::new();
        let mut st2 = sync::State::new();
        empty.sync().receive_sync_message(&mut st2, first).unwrap();
        let ask = empty.sync().generate_sync_message(&mut st2).unwrap();
        doc.sync().receive_sync_message(&mut st, ask).unwrap();
        let message = doc.sync().generate_sync_message(&mut st).unwrap();
        message.encode()
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(300))]

        /// Arbitrary bytes, and real messages with bytes flipped, cut or
        /// appended: never a panic, and a message that fails changes nothing.
        #[test]
        fn hostile_sync_messages_change_nothing_when_refused(
            noise in prop::collection::vec(any::<u8>(), 0..512),
            flips in prop::collection::vec((any::<prop::sample::Index>(), any::<u8>()), 0..8),
            cut in any::<prop::sample::Index>(),
            mode in 0u8..3,
        ) {
            let rt = tokio::runtime::Builder::new_current_thread().build().unwrap();
            let docs = Docs::open(Arc::new(MemoryStore::default()), "a", 10).unwrap();
            rt.block_on(docs.change("site/x", "t", |d| {
                d.put(ROOT, "seed", "v").unwrap();
                Ok(())
            }))
            .unwrap();
            let before = docs.network_digest();
            let mut bytes = match mode {
                0 => noise.clone(),
                _ => real_message(),
            };
            if mode == 1 {
                for (i, b) in &flips {
                    let n = bytes.len();
                    bytes[i.index(n)] ^= *b | 1;
                }
            }
            if mode == 2 {
                let n = bytes.len();
                bytes.truncate(cut.index(n + 1));
                bytes.extend_from_slice(&noise);
            }
            let mut state = sync::State::new();
            let state_before = state.clone();
            if let Ok(m) = sync::Message::decode(&bytes) {
                if docs.receive_sync("site/x", &mut state, m).is_err() {
                    prop_assert_eq!(docs.network_digest(), before);
                    prop_assert_eq!(state, state_before);
                }
            } else {
                prop_assert_eq!(docs.network_digest(), before);
            }
        }
    }
    use automerge::{transaction::Transactable, ReadDoc, ROOT};

    #[tokio::test]
    async fn change_persists_and_reloads() {
        let dir = tempfile::tempdir().unwrap();
        let store: Arc<dyn Store> = Arc::new(SledStore::open(dir.path()).unwrap());
        let docs = Docs::open(store.clone(), "a", 3).unwrap();
        for i in 0..10i64 {
            docs.change("site/a", "test", |d| {
                d.put(ROOT, "n", i).unwrap();
                Ok(())
            })
            .await
            .unwrap();
        }
        let digest = docs.network_digest();
        drop(docs);
        let docs = Docs::open(store, "a", 3).unwrap();
        assert_eq!(docs.network_digest(), digest);
        let n = docs.read("site/a", |d| d.get(ROOT, "n").unwrap().unwrap().0.as_i64());
        assert_eq!(n, Some(Some(9)));
    }

    #[tokio::test]
    async fn failed_change_rolls_back() {
        let docs = Docs::open(Arc::new(MemoryStore::default()), "a", 10).unwrap();
        let before = docs.network_digest();
        let r: Result<()> = docs
            .change("site/a", "test", |d| {
                d.put(ROOT, "x", 1).unwrap();
                Err(Error::invalid("non"))
            })
            .await;
        assert!(r.is_err());
        assert_eq!(docs.network_digest(), before);
        assert!(docs.ids().is_empty());
    }

    #[tokio::test]
    async fn two_stores_sync_in_memory() {
        let a = Docs::open(Arc::new(MemoryStore::default()), "a", 10).unwrap();
        let b = Docs::open(Arc::new(MemoryStore::default()), "b", 10).unwrap();
        a.change("site/a", "t", |d| {
            d.put(ROOT, "k", "v").unwrap();
            Ok(())
        })
        .await
        .unwrap();
        let (mut sa, mut sb) = (sync::State::new(), sync::State::new());
        for _ in 0..10 {
            if let Some(m) = a.generate_sync("site/a", &mut sa) {
                b.receive_sync("site/a", &mut sb, sync::Message::decode(&m).unwrap())
                    .unwrap();
            }
            if let Some(m) = b.generate_sync("site/a", &mut sb) {
                a.receive_sync("site/a", &mut sa, sync::Message::decode(&m).unwrap())
                    .unwrap();
            }
        }
        assert_eq!(a.network_digest(), b.network_digest());
    }
}
