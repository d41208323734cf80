//! The simulator's store: the sled store's layout in memory, with what an
//! fsync makes durable modelled. Writes go to a log; [`Store::flush`] makes
//! everything logged durable; a crash keeps the durable state plus a prefix
//! of the log (the disk may have written some of it, in order, before the
//! power went), and loses the rest.

use std::collections::BTreeMap;
use std::sync::Mutex;

use crate::storage::{
    check_id, chunk_key, chunk_prefix, snapshot_key, sync_key, FlushFuture, StorageResult, Store,
    StoredDoc,
};

/// Everything stored, as trees of keys and values.
#[derive(Debug, Clone, Default)]
pub struct Image {
    docs: BTreeMap<Vec<u8>, Vec<u8>>,
    sync: BTreeMap<Vec<u8>, Vec<u8>>,
    meta: BTreeMap<String, Vec<u8>>,
}

/// One logged write.
#[derive(Debug, Clone)]
enum Op {
    Doc(Vec<u8>, Vec<u8>),
    Sync(Vec<u8>, Vec<u8>),
    Meta(String, Vec<u8>),
    /// A snapshot replacing chunks `..=upto`, atomically (one sled batch).
    Compact {
        doc: String,
        snapshot: Vec<u8>,
        upto: u64,
    },
}

impl Image {
    fn apply(&mut self, op: &Op) {
        match op {
            Op::Doc(k, v) => {
                self.docs.insert(k.clone(), v.clone());
            }
            Op::Sync(k, v) => {
                self.sync.insert(k.clone(), v.clone());
            }
            Op::Meta(k, v) => {
                self.meta.insert(k.clone(), v.clone());
            }
            Op::Compact {
                doc,
                snapshot,
                upto,
            } => {
                self.docs.insert(snapshot_key(doc), snapshot.clone());
                let doomed: Vec<Vec<u8>> = self
                    .docs
                    .range(chunk_key(doc, 0)..=chunk_key(doc, *upto))
                    .map(|(k, _)| k.clone())
                    .collect();
                for k in doomed {
                    self.docs.remove(&k);
                }
            }
        }
    }
}

#[derive(Default)]
struct State {
    /// What reads see.
    current: Image,
    /// What survives any crash.
    durable: Image,
    /// Writes since the last flush, in order.
    log: Vec<Op>,
}

#[derive(Default)]
pub struct SimStore {
    state: Mutex<State>,
}

impl SimStore {
    /// A store holding `image`, all of it durable (a restored backup).
    pub fn from_image(image: Image) -> SimStore {
        SimStore {
            state: Mutex::new(State {
                current: image.clone(),
                durable: image,
                log: Vec::new(),
            }),
        }
    }

    /// What is durable now: a backup taken by copying the disk.
    pub fn durable(&self) -> Image {
        self.state.lock().unwrap().durable.clone()
    }

    /// Writes logged since the last flush.
    pub fn unflushed(&self) -> usize {
        self.state.lock().unwrap().log.len()
    }

    /// The power goes: what survives is the durable state and the first
    /// `kept` writes of the log (at most all of them).
    pub fn crash(&self, kept: usize) -> Image {
        let s = self.state.lock().unwrap();
        let mut image = s.durable.clone();
        let kept = kept.min(s.log.len());
        for op in &s.log[..kept] {
            image.apply(op);
        }
        image
    }

    fn write(&self, op: Op) {
        let mut s = self.state.lock().unwrap();
        s.current.apply(&op);
        s.log.push(op);
    }
}

impl Store for SimStore {
    fn list_docs(&self) -> StorageResult<Vec<String>> {
        let s = self.state.lock().unwrap();
        let mut out: Vec<String> = Vec::new();
        for k in s.current.docs.keys() {
            let end = k.iter().position(|b| *b == 0).unwrap_or(k.len());
            let id = String::from_utf8_lossy(&k[..end]).into_owned();
            if out.last() != Some(&id) {
                out.push(id);
            }
        }
        Ok(out)
    }

    fn load_doc(&self, doc: &str) -> StorageResult<StoredDoc> {
        check_id(doc)?;
        let s = self.state.lock().unwrap();
        let snapshot = s.current.docs.get(&snapshot_key(doc)).cloned();
        let prefix = chunk_prefix(doc);
        let chunks = s
            .current
            .docs
            .range(prefix.clone()..)
            .take_while(|(k, _)| k.starts_with(&prefix))
            .map(|(k, v)| {
                let seq: [u8; 8] = k[prefix.len()..].try_into().expect("chunk key");
                (u64::from_be_bytes(seq), v.clone())
            })
            .collect();
        Ok(StoredDoc { snapshot, chunks })
    }

    fn append_chunk(&self, doc: &str, seq: u64, bytes: &[u8]) -> StorageResult<()> {
        check_id(doc)?;
        self.write(Op::Doc(chunk_key(doc, seq), bytes.to_vec()));
        Ok(())
    }

    fn compact(&self, doc: &str, snapshot: &[u8], upto: u64) -> StorageResult<()> {
        check_id(doc)?;
        self.write(Op::Compact {
            doc: doc.to_string(),
            snapshot: snapshot.to_vec(),
            upto,
        });
        Ok(())
    }

    fn get_sync_state(&self, peer: &str, doc: &str) -> StorageResult<Option<Vec<u8>>> {
        let s = self.state.lock().unwrap();
        Ok(s.current.sync.get(&sync_key(peer, doc)).cloned())
    }

    fn put_sync_state(&self, peer: &str, doc: &str, state: &[u8]) -> StorageResult<()> {
        check_id(peer)?;
        check_id(doc)?;
        self.write(Op::Sync(sync_key(peer, doc), state.to_vec()));
        Ok(())
    }

    fn get_meta(&self, key: &str) -> StorageResult<Option<Vec<u8>>> {
        Ok(self.state.lock().unwrap().current.meta.get(key).cloned())
    }

    fn put_meta(&self, key: &str, value: &[u8]) -> StorageResult<()> {
        self.write(Op::Meta(key.to_string(), value.to_vec()));
        Ok(())
    }

    fn scan_meta(&self, prefix: &str) -> StorageResult<Vec<(String, Vec<u8>)>> {
        Ok(self
            .state
            .lock()
            .unwrap()
            .current
            .meta
            .iter()
            .filter(|(k, _)| k.starts_with(prefix))
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect())
    }

    fn flush(&self) -> FlushFuture<'_> {
        let mut s = self.state.lock().unwrap();
        s.durable = s.current.clone();
        s.log.clear();
        Box::pin(async { Ok(()) })
    }

    fn size_on_disk(&self) -> u64 {
        0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_crash_keeps_what_was_flushed_and_a_prefix_of_the_rest() {
        let s = SimStore::default();
        s.append_chunk("site/a", 0, b"zero").unwrap();
        futures_util::FutureExt::now_or_never(s.flush())
            .unwrap()
            .unwrap();
        s.append_chunk("site/a", 1, b"one").unwrap();
        s.put_sync_state("b", "site/a", b"state").unwrap();
        assert_eq!(s.unflushed(), 2);
        let none = SimStore::from_image(s.crash(0));
        assert_eq!(none.load_doc("site/a").unwrap().chunks.len(), 1);
        assert_eq!(none.get_sync_state("b", "site/a").unwrap(), None);
        let one = SimStore::from_image(s.crash(1));
        assert_eq!(one.load_doc("site/a").unwrap().chunks.len(), 2);
        assert_eq!(one.get_sync_state("b", "site/a").unwrap(), None);
        s.compact("site/a", b"snap", 1).unwrap();
        let all = SimStore::from_image(s.crash(usize::MAX));
        let d = all.load_doc("site/a").unwrap();
        assert_eq!(
            (d.snapshot.as_deref(), d.chunks.len()),
            (Some(&b"snap"[..]), 0)
        );
    }
}
