//! The in-memory twin of the sled store, for tests and benchmarks of the
//! layers above storage.

use std::collections::BTreeMap;
use std::sync::Mutex;

use super::*;

#[derive(Default)]
pub struct MemoryStore {
    docs: Mutex<BTreeMap<Vec<u8>, Vec<u8>>>,
    sync: Mutex<BTreeMap<Vec<u8>, Vec<u8>>>,
    meta: Mutex<BTreeMap<String, Vec<u8>>>,
}

impl Store for MemoryStore {
    fn list_docs(&self) -> StorageResult<Vec<String>> {
        let docs = self.docs.lock().unwrap();
        let mut out: Vec<String> = Vec::new();
        for k in docs.keys() {
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
        let docs = self.docs.lock().unwrap();
        let snapshot = docs.get(&snapshot_key(doc)).cloned();
        let prefix = chunk_prefix(doc);
        let chunks = docs
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
        self.docs
            .lock()
            .unwrap()
            .insert(chunk_key(doc, seq), bytes.to_vec());
        Ok(())
    }

    fn compact(&self, doc: &str, snapshot: &[u8], upto: u64) -> StorageResult<()> {
        check_id(doc)?;
        let mut docs = self.docs.lock().unwrap();
        docs.insert(snapshot_key(doc), snapshot.to_vec());
        let doomed: Vec<Vec<u8>> = docs
            .range(chunk_key(doc, 0)..=chunk_key(doc, upto))
            .map(|(k, _)| k.clone())
            .collect();
        for k in doomed {
            docs.remove(&k);
        }
        Ok(())
    }

    fn get_sync_state(&self, peer: &str, doc: &str) -> StorageResult<Option<Vec<u8>>> {
        Ok(self.sync.lock().unwrap().get(&sync_key(peer, doc)).cloned())
    }

    fn put_sync_state(&self, peer: &str, doc: &str, state: &[u8]) -> StorageResult<()> {
        check_id(peer)?;
        check_id(doc)?;
        self.sync
            .lock()
            .unwrap()
            .insert(sync_key(peer, doc), state.to_vec());
        Ok(())
    }

    fn get_meta(&self, key: &str) -> StorageResult<Option<Vec<u8>>> {
        Ok(self.meta.lock().unwrap().get(key).cloned())
    }

    fn put_meta(&self, key: &str, value: &[u8]) -> StorageResult<()> {
        self.meta
            .lock()
            .unwrap()
            .insert(key.to_string(), value.to_vec());
        Ok(())
    }

    fn scan_meta(&self, prefix: &str) -> StorageResult<Vec<(String, Vec<u8>)>> {
        Ok(self
            .meta
            .lock()
            .unwrap()
            .iter()
            .filter(|(k, _)| k.starts_with(prefix))
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect())
    }

    fn flush(&self) -> FlushFuture<'_> {
        Box::pin(async { Ok(()) })
    }

    fn size_on_disk(&self) -> u64 {
        0
    }
}
