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

mod codec;
pub(crate) use codec::encode_chunk;
pub use codec::network_digest_of;
mod judge;
mod replicate;
mod status;
mod write;
// A hostile node's tools, for the tests only: never in a release build.
#[cfg(any(test, feature = "hostile"))]
mod testing;
mod verify;

use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, Mutex, RwLock};

use automerge::{ActorId, AutoCommit, ChangeHash};
use codec::{decode_chunk, save_applied};
use tokio::sync::broadcast;

use crate::base::Sig;
use crate::error::{Error, Result};
use crate::storage::Store;
use crate::trust::{Refusal, Trust};

/// Capacity of the "document changed" channel; a lagging session resyncs all.
pub const CHANGED_CAP: usize = 1024;

/// One loaded document and its storage bookkeeping.
struct Entry {
    doc: AutoCommit,
    /// Sequence number of the next chunk to append.
    next_seq: u64,
    /// Chunks written since the last snapshot.
    chunks: u64,
    /// The author's signature of every change of the document.
    sigs: HashMap<ChangeHash, Sig>,
    /// Changes waiting in the document's queue for a missing dependency,
    /// verified when they arrived (bounded by [`verify::QUEUE_CAP`]).
    queued: std::collections::HashSet<ChangeHash>,
    /// Values computed from the document ([`DocStore::read_memo`]), each
    /// with the heads it was computed at.
    memo: HashMap<&'static str, (Vec<ChangeHash>, Memo)>,
}

type Memo = Arc<dyn std::any::Any + Send + Sync>;

struct Inner {
    store: Arc<dyn Store>,
    actor: ActorId,
    trust: Trust,
    docs: RwLock<BTreeMap<String, Arc<Mutex<Entry>>>>,
    changed: broadcast::Sender<String>,
    compact_after: u64,
    /// Seconds since the epoch, stamped on local changes.
    clock: Clock,
    /// This node's own documents that a peer has shown it holds in full
    /// since it opened (see [`Docs::confirmed`]).
    confirmed: Mutex<std::collections::HashSet<String>>,
    /// Woken by every [`Docs::confirm`].
    confirmed_notify: tokio::sync::Notify,
    /// The registry as trust checks read it, with the `network` heads it was
    /// read at: read again only when they move.
    #[allow(clippy::type_complexity)]
    registry_cache: Mutex<
        Option<(
            Vec<ChangeHash>,
            Arc<std::result::Result<crate::domain::registry::TrustRegistry, String>>,
        )>,
    >,
    /// Values computed from several documents ([`Docs::memo_of`]), with
    /// the heads of each document they were computed at.
    #[allow(clippy::type_complexity)]
    memo: Mutex<HashMap<&'static str, (Vec<(String, Vec<ChangeHash>)>, Memo)>>,
}

/// A cheap, clonable handle on the node's documents.
#[derive(Clone)]
pub struct Docs {
    inner: Arc<Inner>,
}

/// What a node reads the time from, in seconds since the epoch.
pub type Clock = Arc<dyn Fn() -> i64 + Send + Sync>;

/// A new actor id for a process of `site`: `<site>.<8 bytes>`.
pub fn fresh_actor(site: &str, nonce: [u8; 8]) -> ActorId {
    let mut actor = site.as_bytes().to_vec();
    actor.push(b'.');
    actor.extend_from_slice(&nonce);
    ActorId::from(actor)
}

/// Change hashes and their authors' signatures.
pub type Signatures = Vec<(ChangeHash, Sig)>;

/// Why a peer's sync message was not applied.
#[derive(Debug, thiserror::Error)]
pub enum ReceiveError {
    /// Not a valid sync message, or changes Automerge refuses.
    #[error("{0}")]
    Invalid(String),
    #[error("{0}")]
    Refused(Refusal),
    /// This node failed (storage): not the peer's fault.
    #[error("{0}")]
    Local(Error),
}

impl Docs {
    /// Loads every stored document.
    pub fn open(
        store: Arc<dyn Store>,
        site: &str,
        compact_after: u64,
        trust: Trust,
    ) -> Result<Docs> {
        let actor = fresh_actor(site, rand::random());
        let clock: Clock = Arc::new(|| chrono::Utc::now().timestamp());
        Docs::open_with(store, actor, compact_after, trust, clock)
    }

    /// [`Docs::open`] with the actor id and the clock given: the simulator's
    /// nodes draw both from their seed and their skewed time.
    pub fn open_with(
        store: Arc<dyn Store>,
        actor: ActorId,
        compact_after: u64,
        trust: Trust,
        clock: Clock,
    ) -> Result<Docs> {
        let mut docs = BTreeMap::new();
        for id in store.list_docs()? {
            let stored = store.load_doc(&id)?;
            let mut sigs = HashMap::new();
            let mut doc = match &stored.snapshot {
                Some(snap) => {
                    let snap = decode_chunk(&id, snap, &mut sigs)?;
                    AutoCommit::load(snap).map_err(|source| Error::automerge(&id, source))?
                }
                None => AutoCommit::new(),
            };
            for (_, chunk) in &stored.chunks {
                let chunk = decode_chunk(&id, chunk, &mut sigs)?;
                doc.load_incremental(chunk)
                    .map_err(|source| Error::automerge(&id, source))?;
            }
            // Changes stored while they waited for a dependency are dropped
            // at start: peers send them again, and they are verified then.
            if !doc.get_missing_deps(&[]).is_empty() {
                doc = AutoCommit::load(&save_applied(&mut doc))
                    .map_err(|source| Error::automerge(&id, source))?;
            }
            doc.set_actor(actor.clone());
            let next_seq = stored.chunks.last().map(|(s, _)| s + 1).unwrap_or(0);
            let entry = Entry {
                doc,
                next_seq,
                chunks: stored.chunks.len() as u64,
                sigs,
                queued: Default::default(),
                memo: HashMap::new(),
            };
            docs.insert(id, Arc::new(Mutex::new(entry)));
        }
        let (changed, _) = broadcast::channel(CHANGED_CAP);
        Ok(Docs {
            inner: Arc::new(Inner {
                store,
                actor,
                trust,
                docs: RwLock::new(docs),
                changed,
                compact_after: compact_after.max(1),
                clock,
                registry_cache: Mutex::new(None),
                confirmed: Mutex::new(Default::default()),
                confirmed_notify: tokio::sync::Notify::new(),
                memo: Mutex::new(HashMap::new()),
            }),
        })
    }

    pub fn store(&self) -> &Arc<dyn Store> {
        &self.inner.store
    }

    pub fn actor(&self) -> &ActorId {
        &self.inner.actor
    }

    pub fn trust(&self) -> &Trust {
        &self.inner.trust
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
                    sigs: HashMap::new(),
                    queued: Default::default(),
                    memo: HashMap::new(),
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

    /// Heads of a document (empty if unknown).
    pub fn raw_heads(&self, id: &str) -> Vec<ChangeHash> {
        match self.entry(id) {
            Some(e) => e.lock().unwrap().doc.get_heads(),
            None => Vec::new(),
        }
    }

    /// Reads a document with the heads of the state read; `None` if this
    /// node has none of it.
    pub fn read_at_heads<T>(
        &self,
        id: &str,
        f: impl FnOnce(&AutoCommit) -> T,
    ) -> Option<(Vec<ChangeHash>, T)> {
        let entry = self.entry(id)?;
        let mut guard = entry.lock().unwrap();
        if guard.doc.is_empty() {
            return None;
        }
        let heads = guard.doc.get_heads();
        Some((heads, f(&guard.doc)))
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

    /// `f` of the document, computed once per state of the document: the
    /// value is kept under `key` with the document's heads and given again
    /// (shared) while the heads stay the same. For what pages and lists
    /// read of every document at each request (loans, events, items).
    pub fn read_memo<T: Send + Sync + 'static>(
        &self,
        id: &str,
        key: &'static str,
        f: impl FnOnce(&AutoCommit) -> Result<T>,
    ) -> Option<Result<Arc<T>>> {
        let entry = self.entry(id)?;
        let mut guard = entry.lock().unwrap();
        if guard.doc.is_empty() {
            return None;
        }
        let heads = guard.doc.get_heads();
        if let Some((at, value)) = guard.memo.get(key) {
            if *at == heads {
                if let Ok(v) = value.clone().downcast::<T>() {
                    return Some(Ok(v));
                }
            }
        }
        let value = match f(&guard.doc) {
            Ok(v) => Arc::new(v),
            Err(e) => return Some(Err(e)),
        };
        guard.memo.insert(key, (heads, value.clone()));
        Some(Ok(value))
    }

    /// `compute` (which reads the documents `ids`), computed once per state
    /// of those documents: kept under `key` with their heads, read before
    /// `compute` runs (a change during it makes the next call compute
    /// again), and given again (shared) while no heads move. For the
    /// network-wide joins that pages read at each request.
    pub fn memo_of<T: Send + Sync + 'static>(
        &self,
        key: &'static str,
        ids: &[String],
        compute: impl FnOnce() -> Result<T>,
    ) -> Result<Arc<T>> {
        let heads: Vec<(String, Vec<ChangeHash>)> = ids
            .iter()
            .map(|id| {
                let h = self
                    .entry(id)
                    .map(|e| e.lock().unwrap().doc.get_heads())
                    .unwrap_or_default();
                (id.clone(), h)
            })
            .collect();
        if let Some((at, value)) = self.inner.memo.lock().unwrap().get(key) {
            if *at == heads {
                if let Ok(v) = value.clone().downcast::<T>() {
                    return Ok(v);
                }
            }
        }
        // Not held while computing: `compute` may read other memos.
        let value = Arc::new(compute()?);
        self.inner
            .memo
            .lock()
            .unwrap()
            .insert(key, (heads, value.clone()));
        Ok(value)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::base::site_doc;
    use crate::storage::{MemoryStore, SledStore};
    use automerge::sync::{self, SyncDoc};
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
            let docs = Docs::open(Arc::new(MemoryStore::default()), "a", 10, Trust::ephemeral()).unwrap();
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
            if docs.receive_sync("site/x", &mut state, &bytes, &[], false).is_err() {
                prop_assert_eq!(docs.network_digest(), before);
                prop_assert_eq!(state, state_before);
            }
        }
    }
    use automerge::{transaction::Transactable, ReadDoc, ROOT};

    /// Memoised reads give the value of the document as it is now: computed
    /// again after a change (local or received), given again otherwise.
    #[tokio::test]
    async fn memos_follow_the_documents() {
        let docs = Docs::open(
            Arc::new(MemoryStore::default()),
            "a",
            10,
            Trust::ephemeral(),
        )
        .unwrap();
        let put = |k: &'static str| {
            docs.change("site/x", "t", move |d| {
                d.put(ROOT, k, 1).unwrap();
                Ok(())
            })
        };
        put("un").await.unwrap();
        let keys = |d: &AutoCommit| Ok(d.keys(ROOT).collect::<Vec<_>>());
        let runs = std::sync::atomic::AtomicUsize::new(0);
        let ids = vec!["site/x".to_string(), "site/y".to_string()];
        let all = || {
            docs.memo_of("test", &ids, || {
                runs.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
                let mut out = Vec::new();
                for id in &ids {
                    if let Some(k) = docs.read_memo(id, "keys", keys).transpose()? {
                        out.extend(k.iter().cloned());
                    }
                }
                Ok(out)
            })
        };
        assert_eq!(*all().unwrap(), vec!["un"]);
        let first = all().unwrap();
        assert_eq!(
            runs.load(std::sync::atomic::Ordering::SeqCst),
            1,
            "given again"
        );
        put("deux").await.unwrap();
        assert_eq!(*all().unwrap(), vec!["deux", "un"]);
        assert_eq!(*first, vec!["un"], "an earlier value is not changed");
        docs.change("site/y", "t", |d| {
            d.put(ROOT, "trois", 1).unwrap();
            Ok(())
        })
        .await
        .unwrap();
        assert_eq!(*all().unwrap(), vec!["deux", "un", "trois"]);
        assert_eq!(runs.load(std::sync::atomic::Ordering::SeqCst), 3);
    }

    /// A change received from a peer moves the memo too.
    #[tokio::test]
    async fn memos_follow_received_changes() {
        let a = node("a").await;
        let b = node("b").await;
        let keys = |d: &AutoCommit| Ok(d.keys(ROOT).collect::<Vec<String>>());
        sync_pair(&a, &b, "site/a").unwrap();
        let before = b.read_memo("site/a", "keys", keys).unwrap().unwrap();
        assert!(!before.contains(&"nouveau".to_string()));
        a.change("site/a", "t", |d| {
            d.put(ROOT, "nouveau", 1).unwrap();
            Ok(())
        })
        .await
        .unwrap();
        sync_pair(&a, &b, "site/a").unwrap();
        let after = b.read_memo("site/a", "keys", keys).unwrap().unwrap();
        assert!(after.contains(&"nouveau".to_string()), "{after:?}");
    }

    #[tokio::test]
    async fn change_persists_and_reloads() {
        let dir = tempfile::tempdir().unwrap();
        let store: Arc<dyn Store> = Arc::new(SledStore::open(dir.path()).unwrap());
        let docs = Docs::open(store.clone(), "a", 3, Trust::ephemeral()).unwrap();
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
        let docs = Docs::open(store, "a", 3, Trust::ephemeral()).unwrap();
        assert_eq!(docs.network_digest(), digest);
        let n = docs.read("site/a", |d| d.get(ROOT, "n").unwrap().unwrap().0.as_i64());
        assert_eq!(n, Some(Some(9)));
    }

    #[tokio::test]
    async fn failed_change_rolls_back() {
        let docs = Docs::open(
            Arc::new(MemoryStore::default()),
            "a",
            10,
            Trust::ephemeral(),
        )
        .unwrap();
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

    /// Runs Automerge sync of `id` between two nodes' documents until quiet.
    fn sync_pair(a: &Docs, b: &Docs, id: &str) -> Result<(), ReceiveError> {
        let (mut sa, mut sb) = (sync::State::new(), sync::State::new());
        for _ in 0..10 {
            if let Some((m, sigs)) = a.generate_sync(id, &mut sa) {
                b.receive_sync(id, &mut sb, &m, &sigs, false)?;
            }
            if let Some((m, sigs)) = b.generate_sync(id, &mut sb) {
                a.receive_sync(id, &mut sa, &m, &sigs, false)?;
            }
        }
        Ok(())
    }

    /// A node's documents, with its key published in its site document.
    async fn node(site: &str) -> Docs {
        let docs = Docs::open(
            Arc::new(MemoryStore::default()),
            site,
            10,
            Trust::ephemeral(),
        )
        .unwrap();
        let key = docs.trust().public_key_hex();
        docs.change(&site_doc(site), "init", |d| {
            d.put(ROOT, crate::trust::PUBLIC_KEY_KEY, key.as_str())
                .unwrap();
            Ok(())
        })
        .await
        .unwrap();
        docs
    }

    #[tokio::test]
    async fn two_stores_sync_in_memory() {
        let a = node("a").await;
        let b = node("b").await;
        a.change("site/a", "t", |d| {
            d.put(ROOT, "k", "v").unwrap();
            Ok(())
        })
        .await
        .unwrap();
        sync_pair(&a, &b, "site/a").unwrap();
        assert_eq!(a.heads("site/a"), b.heads("site/a"));
        // b stored the signatures, and relays them: a third node accepts.
        let c = node("c").await;
        sync_pair(&b, &c, "site/a").unwrap();
        assert_eq!(a.heads("site/a"), c.heads("site/a"));
    }

    /// A copy of `docs`'s document `id` in which a forger commits with `actor`.
    fn forge(docs: &Docs, id: &str, actor: &[u8]) -> AutoCommit {
        let mut doc = AutoCommit::load(&docs.export(id).unwrap()).unwrap();
        doc.set_actor(ActorId::from(actor.to_vec()));
        doc.put(ROOT, "forged", true).unwrap();
        doc.commit();
        doc
    }

    /// Sends every change of `forged` to `to` as one message, with `sigs`.
    fn deliver(
        forged: &mut AutoCommit,
        to: &Docs,
        id: &str,
        sigs: &[(ChangeHash, Sig)],
    ) -> Result<bool, ReceiveError> {
        let mut sf = sync::State::new();
        let mut st = sync::State::new();
        for _ in 0..5 {
            if let Some(m) = forged.sync().generate_sync_message(&mut sf) {
                let has_changes = !m.changes.is_empty();
                let r = to.receive_sync(id, &mut st, &m.encode(), sigs, false)?;
                if has_changes {
                    return Ok(r);
                }
            }
            if let Some((m, _)) = to.generate_sync(id, &mut st) {
                forged
                    .sync()
                    .receive_sync_message(&mut sf, sync::Message::decode(&m).unwrap())
                    .unwrap();
            }
        }
        Ok(false)
    }

    #[tokio::test]
    async fn forged_changes_are_refused_and_change_nothing() {
        let a = node("a").await;
        let b = node("b").await;
        sync_pair(&a, &b, "site/a").unwrap();
        let before = b.network_digest();
        let forged_refusal = |r: Result<bool, ReceiveError>| match r {
            Err(ReceiveError::Refused(Refusal::Forged(reason))) => reason,
            other => panic!("expected a forgery refusal, got {other:?}"),
        };
        // With a's actor and no signature: set aside (an honest relay may
        // lack a signature), not applied.
        let mut f = forge(&b, "site/a", b"a.forger01");
        assert!(matches!(
            deliver(&mut f, &b, "site/a", &[]),
            Err(ReceiveError::Refused(Refusal::Withheld(_)))
        ));
        // With a's actor, signed by another key.
        let mut f = forge(&b, "site/a", b"a.forger02");
        let h = f.get_heads()[0];
        let wrong = Trust::ephemeral().sign("site/a", &h);
        let reason = forged_refusal(deliver(&mut f, &b, "site/a", &[(h, wrong)]));
        assert!(reason.contains("signature"), "{reason}");
        // a's real signature, but of this change in another document.
        let good_elsewhere = a.trust().sign("site/z", &h);
        forged_refusal(deliver(&mut f, &b, "site/a", &[(h, good_elsewhere)]));
        // With the forger's own actor, correctly signed by the forger.
        let mut f = forge(&b, "site/a", b"b.forger03");
        let h = f.get_heads()[0];
        let sig = b.trust().sign("site/a", &h);
        let reason = forged_refusal(deliver(&mut f, &b, "site/a", &[(h, sig)]));
        assert!(reason.contains("seul le site a"), "{reason}");
        // An actor that names no site.
        let mut f = forge(&b, "site/a", b"nodot");
        forged_refusal(deliver(&mut f, &b, "site/a", &[]));
        assert!(b.inner.docs.read().unwrap()["site/a"]
            .lock()
            .unwrap()
            .queued
            .is_empty());
        assert_eq!(b.network_digest(), before, "nothing applied");
        // The honest author's own signature is accepted.
        let mut f = forge(&b, "site/a", b"a.genuine1");
        let h = f.get_heads()[0];
        let sig = a.trust().sign("site/a", &h);
        assert!(deliver(&mut f, &b, "site/a", &[(h, sig)]).unwrap());
    }

    #[tokio::test]
    async fn a_message_with_too_many_changes_is_refused() {
        let a = node("a").await;
        for i in 0..5i64 {
            a.change("site/a", "t", |d| {
                d.put(ROOT, "n", i).unwrap();
                Ok(())
            })
            .await
            .unwrap();
        }
        let small = Docs::open(
            Arc::new(MemoryStore::default()),
            "b",
            10,
            Trust::new(ed25519_dalek::SigningKey::from_bytes(&[9; 32]), None, 3),
        )
        .unwrap();
        match sync_pair(&a, &small, "site/a") {
            Err(ReceiveError::Refused(Refusal::Limit(r))) => {
                assert!(r.contains("au plus 3"), "{r}")
            }
            other => panic!("expected a refusal, got {other:?}"),
        }
        assert!(small.ids().is_empty(), "nothing applied");
    }

    #[tokio::test]
    async fn newest_signature_vouches_for_the_changes_beneath() {
        let a = node("a").await;
        for i in 0..50i64 {
            a.change("site/a", "t", |d| {
                d.put(ROOT, "n", i).unwrap();
                Ok(())
            })
            .await
            .unwrap();
        }
        let b = node("b").await;
        let (mut sa, mut sb) = (sync::State::new(), sync::State::new());
        let mut delivered = false;
        for _ in 0..10 {
            if let Some((m, sigs)) = a.generate_sync("site/a", &mut sa) {
                let heads = a.heads("site/a");
                let only_newest: Vec<_> = sigs
                    .iter()
                    .filter(|(h, _)| heads.contains(&h.to_string()))
                    .copied()
                    .collect();
                if b.receive_sync("site/a", &mut sb, &m, &only_newest, false)
                    .unwrap()
                {
                    delivered = true;
                }
            }
            if let Some((m, sigs)) = b.generate_sync("site/a", &mut sb) {
                a.receive_sync("site/a", &mut sa, &m, &sigs, false).unwrap();
            }
        }
        assert!(delivered);
        assert_eq!(a.heads("site/a"), b.heads("site/a"));
    }

    /// A sync message carrying exactly `changes`, as any peer may craft.
    fn message_of(changes: Vec<Vec<u8>>, heads: Vec<ChangeHash>) -> Vec<u8> {
        sync::Message {
            heads,
            need: vec![],
            have: vec![],
            changes: changes.into(),
            flags: None,
            version: sync::MessageVersion::V1,
        }
        .encode()
    }

    fn queue_len(docs: &Docs, id: &str) -> usize {
        docs.entry(id)
            .map(|e| e.lock().unwrap().doc.get_missing_deps(&[]).len())
            .unwrap_or(0)
    }

    /// A forger who holds a genuine change G that this node lacks sends a
    /// forged change F built on G: F waits for G in no queue, is neither
    /// exported nor snapshotted, and G is accepted when it arrives.
    #[tokio::test]
    async fn a_forged_change_waiting_for_its_dependency_never_enters() {
        let a = node("a").await;
        let b = node("b").await;
        sync_pair(&a, &b, "site/a").unwrap();
        let before = b.heads("site/a");
        a.change("site/a", "g", |d| {
            d.put(ROOT, "g", 1).unwrap();
            Ok(())
        })
        .await
        .unwrap();
        let mut f = AutoCommit::load(&a.export("site/a").unwrap()).unwrap();
        f.set_actor(ActorId::from(b"a.forger99".to_vec()));
        f.put(ROOT, "forged", true).unwrap();
        let fh = f.commit().unwrap();
        let fbytes = f.get_change_by_hash(&fh).unwrap().raw_bytes().to_vec();
        let msg = message_of(vec![fbytes], vec![fh]);
        let mut st = sync::State::new();
        match b.receive_sync("site/a", &mut st, &msg, &[], false) {
            Err(ReceiveError::Refused(Refusal::Withheld(r))) => {
                assert!(r.contains("signature"), "{r}")
            }
            other => panic!("expected the unsigned change set aside, got {other:?}"),
        }
        let wrong = Trust::ephemeral().sign("site/a", &fh);
        match b.receive_sync("site/a", &mut st, &msg, &[(fh, wrong)], false) {
            Err(ReceiveError::Refused(Refusal::Forged(_))) => {}
            other => panic!("expected a forgery, got {other:?}"),
        }
        assert_eq!(b.heads("site/a"), before);
        assert_eq!(queue_len(&b, "site/a"), 0, "nothing waits in the queue");
        let mut exported = AutoCommit::load(&b.export("site/a").unwrap()).unwrap();
        assert!(exported.get_change_meta_by_hash(&fh).is_none());
        // The honest change arrives: accepted; the forgery is nowhere.
        sync_pair(&a, &b, "site/a").unwrap();
        assert_eq!(a.heads("site/a"), b.heads("site/a"));
        let forged = b.read("site/a", |d| d.get(ROOT, "forged").unwrap().is_some());
        assert_eq!(forged, Some(false));
    }

    /// A genuine change whose dependency is missing is verified on arrival
    /// and waits; its dependency then arrives without a signature (a relay
    /// answering a request for it alone), vouched for by the waiting change:
    /// the relay is not blamed and both are applied.
    #[tokio::test]
    async fn a_waiting_change_vouches_for_its_dependency() {
        let a = node("a").await;
        let b = node("b").await;
        sync_pair(&a, &b, "site/a").unwrap();
        let mut hashes = Vec::new();
        for i in 0..2i64 {
            a.change("site/a", "t", |d| {
                d.put(ROOT, "n", i).unwrap();
                Ok(())
            })
            .await
            .unwrap();
            hashes.push(a.raw_heads("site/a")[0]);
        }
        let bytes = |h: &ChangeHash| {
            let e = a.entry("site/a").unwrap();
            let g = e.lock().unwrap();
            g.doc.get_change_by_hash(h).unwrap().raw_bytes().to_vec()
        };
        let sig = |h: &ChangeHash| {
            let e = a.entry("site/a").unwrap();
            let g = e.lock().unwrap();
            (*h, g.sigs[h])
        };
        let before = b.heads("site/a");
        let mut st = sync::State::new();
        let second = message_of(vec![bytes(&hashes[1])], vec![hashes[1]]);
        assert!(!b
            .receive_sync("site/a", &mut st, &second, &[sig(&hashes[1])], false)
            .unwrap());
        assert_eq!(b.heads("site/a"), before, "waits for its dependency");
        assert_eq!(queue_len(&b, "site/a"), 1);
        let first = message_of(vec![bytes(&hashes[0])], vec![hashes[1]]);
        assert!(b
            .receive_sync("site/a", &mut st, &first, &[], false)
            .unwrap());
        assert_eq!(b.heads("site/a"), a.heads("site/a"));
        assert_eq!(queue_len(&b, "site/a"), 0);
        // The waiting change was stored with its dependency, and with its
        // signature: after a restart b holds both and relays them (simulator
        // seed 7882: it held the dependency alone, with no proof left).
        let reopened = Docs::open(b.store().clone(), "b", 10, Trust::ephemeral()).unwrap();
        assert_eq!(reopened.heads("site/a"), a.heads("site/a"));
        let c = node("c").await;
        sync_pair(&reopened, &c, "site/a").unwrap();
        assert_eq!(c.heads("site/a"), a.heads("site/a"));
    }

    /// Only each author's newest changes of a message carry a signature.
    #[tokio::test]
    async fn messages_carry_the_signatures_the_receiver_checks() {
        let a = node("a").await;
        for i in 0..30i64 {
            a.change("site/a", "t", |d| {
                d.put(ROOT, "n", i).unwrap();
                Ok(())
            })
            .await
            .unwrap();
        }
        let b = node("b").await;
        let (mut sa, mut sb) = (sync::State::new(), sync::State::new());
        let mut most = 0;
        for _ in 0..10 {
            if let Some((m, sigs)) = a.generate_sync("site/a", &mut sa) {
                most = most.max(sigs.len());
                b.receive_sync("site/a", &mut sb, &m, &sigs, false).unwrap();
            }
            if let Some((m, sigs)) = b.generate_sync("site/a", &mut sb) {
                a.receive_sync("site/a", &mut sa, &m, &sigs, false).unwrap();
            }
        }
        assert_eq!(a.heads("site/a"), b.heads("site/a"));
        assert_eq!(most, 1, "one signature for a straight chain of 31 changes");
    }
}
