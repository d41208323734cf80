//! Storage: the only module that touches sled.
//!
//! A document is stored as a snapshot (the output of `AutoCommit::save`) plus the
//! incremental chunks written since (outputs of `save_incremental`), in the order
//! they were written; loading concatenates them. After a threshold of chunks the
//! document is compacted: a new snapshot replaces the old one and its chunks in one
//! atomic batch.
//!
//! Every stored value starts with a format byte ([`FORMAT_VERSION`]), so a later
//! release can migrate or refuse data it does not understand. The store as a
//! whole records its layout version in `meta`, and [`SledStore::open`] runs the
//! numbered migrations of [`migrate`] before anything reads it: a store of an
//! older layout is brought up to date, one of a newer layout is refused.
//!
//! # Trees
//!
//! - `docs`: key `doc_id 0x00 'S'` → snapshot; key `doc_id 0x00 'C' seq(u64 BE)` → chunk.
//!   Document ids never contain 0x00, so a document's keys are contiguous. Both
//!   values are framed as [`split_chunk`] reads them.
//! - `sync`: key `peer_site 0x00 doc_id` → encoded `automerge::sync::State`.
//! - `meta`: key `name` → value (the node's own bookkeeping):
//!   `layout` → the store's layout (`u32` BE, see [`migrate`]);
//!   `migration/NNNN` → when migration NNNN ran and what it did;
//!   `format` → the fence that binaries from before layouts refuse (a single
//!   byte, not a versioned value: never read through [`Store::get_meta`]);
//!   `token/<sha256 hex>` → an API token's record (never the token itself);
//!   `account/<email>`, `feed/…`, `partner-contact/<id>`: see their modules.

mod memory;
pub mod migrate;
mod sled_store;

pub use memory::MemoryStore;
pub use sled_store::{SledStore, LAYOUT_FILE};

use std::future::Future;
use std::pin::Pin;

/// Version byte at the start of every stored value.
pub const FORMAT_VERSION: u8 = 1;

#[derive(Debug, thiserror::Error)]
pub enum StorageError {
    #[error("sled : {0}")]
    Sled(#[from] sled::Error),
    #[error("synchronisation du disque : {0}")]
    Io(#[from] std::io::Error),
    #[error(
        "valeur stockée au format {found}, ce binaire lit le format {FORMAT_VERSION} (clé {key})"
    )]
    Format { key: String, found: u8 },
    #[error("clé invalide : {0}")]
    Key(String),
    #[error("le stockage {0} est déjà ouvert : ce nœud tourne-t-il déjà ?")]
    Locked(String),
    #[error("écriture sur disque interrompue : {0}")]
    Flush(String),
    #[error(
        "ce stockage est au format {found}, ce binaire de maillage ne lit que \
         jusqu'au format {reads} : mettez maillage à jour (rien n'a été modifié)"
    )]
    Layout { found: u32, reads: u32 },
    #[error(
        "valeur stockée illisible ({key}) : {why} ; la mise à jour du stockage n'a rien modifié"
    )]
    Corrupt { key: String, why: String },
}

pub type StorageResult<T> = Result<T, StorageError>;

/// A document as stored: a snapshot (possibly empty) and the chunks appended since.
#[derive(Debug, Default, Clone)]
pub struct StoredDoc {
    pub snapshot: Option<Vec<u8>>,
    /// (sequence number, bytes), in order.
    pub chunks: Vec<(u64, Vec<u8>)>,
}

pub type FlushFuture<'a> = Pin<Box<dyn Future<Output = StorageResult<()>> + Send + 'a>>;

/// The narrow interface the rest of maillage uses to persist state.
pub trait Store: Send + Sync + 'static {
    fn list_docs(&self) -> StorageResult<Vec<String>>;
    fn load_doc(&self, doc: &str) -> StorageResult<StoredDoc>;
    fn append_chunk(&self, doc: &str, seq: u64, bytes: &[u8]) -> StorageResult<()>;
    /// Atomically store `snapshot` and drop every chunk with a sequence `<= upto`.
    fn compact(&self, doc: &str, snapshot: &[u8], upto: u64) -> StorageResult<()>;
    fn get_sync_state(&self, peer: &str, doc: &str) -> StorageResult<Option<Vec<u8>>>;
    fn put_sync_state(&self, peer: &str, doc: &str, state: &[u8]) -> StorageResult<()>;
    fn get_meta(&self, key: &str) -> StorageResult<Option<Vec<u8>>>;
    fn put_meta(&self, key: &str, value: &[u8]) -> StorageResult<()>;
    /// Every `meta` entry whose key starts with `prefix`, in key order.
    fn scan_meta(&self, prefix: &str) -> StorageResult<Vec<(String, Vec<u8>)>>;
    /// Resolves once everything written before the call is on disk.
    fn flush(&self) -> FlushFuture<'_>;
    /// Bytes used on disk (0 for memory).
    fn size_on_disk(&self) -> u64;
}

pub(crate) fn versioned(bytes: &[u8]) -> Vec<u8> {
    let mut v = Vec::with_capacity(bytes.len() + 1);
    v.push(FORMAT_VERSION);
    v.extend_from_slice(bytes);
    v
}

pub(crate) fn unversioned(key: &[u8], value: &[u8]) -> StorageResult<Vec<u8>> {
    match value.first() {
        Some(&FORMAT_VERSION) => Ok(value[1..].to_vec()),
        other => Err(StorageError::Format {
            key: String::from_utf8_lossy(key).into_owned(),
            found: other.copied().unwrap_or(0),
        }),
    }
}

/// Splits a stored chunk or snapshot (after its format byte): a `u32` BE
/// length, that many Automerge bytes, then 96-byte (hash, signature) pairs.
/// Returns the Automerge bytes and the pairs, or `None` if the framing is broken.
pub(crate) fn split_chunk(v: &[u8]) -> Option<(&[u8], &[u8])> {
    let len = u32::from_be_bytes(v.get(..4)?.try_into().ok()?) as usize;
    let bytes = v.get(4..4usize.checked_add(len)?)?;
    let sigs = &v[4 + len..];
    sigs.len().is_multiple_of(96).then_some((bytes, sigs))
}

pub(crate) fn check_id(id: &str) -> StorageResult<()> {
    if id.is_empty() || id.as_bytes().contains(&0) {
        return Err(StorageError::Key(id.escape_debug().to_string()));
    }
    Ok(())
}

pub(crate) fn snapshot_key(doc: &str) -> Vec<u8> {
    let mut k = doc.as_bytes().to_vec();
    k.extend_from_slice(&[0, b'S']);
    k
}

pub(crate) fn chunk_prefix(doc: &str) -> Vec<u8> {
    let mut k = doc.as_bytes().to_vec();
    k.extend_from_slice(&[0, b'C']);
    k
}

pub(crate) fn chunk_key(doc: &str, seq: u64) -> Vec<u8> {
    let mut k = chunk_prefix(doc);
    k.extend_from_slice(&seq.to_be_bytes());
    k
}

pub(crate) fn sync_key(peer: &str, doc: &str) -> Vec<u8> {
    let mut k = peer.as_bytes().to_vec();
    k.push(0);
    k.extend_from_slice(doc.as_bytes());
    k
}

#[cfg(test)]
mod tests {
    use super::*;

    fn exercise(store: &dyn Store) {
        store.append_chunk("site/a", 0, b"one").unwrap();
        store.append_chunk("site/a", 1, b"two").unwrap();
        store.append_chunk("site/b", 0, b"x").unwrap();
        assert_eq!(store.list_docs().unwrap(), vec!["site/a", "site/b"]);
        let d = store.load_doc("site/a").unwrap();
        assert!(d.snapshot.is_none());
        assert_eq!(d.chunks, vec![(0, b"one".to_vec()), (1, b"two".to_vec())]);
        store.compact("site/a", b"snap", 0).unwrap();
        let d = store.load_doc("site/a").unwrap();
        assert_eq!(d.snapshot.as_deref(), Some(&b"snap"[..]));
        assert_eq!(d.chunks, vec![(1, b"two".to_vec())]);
        assert!(store.get_sync_state("p", "site/a").unwrap().is_none());
        store.put_sync_state("p", "site/a", b"st").unwrap();
        assert_eq!(store.get_sync_state("p", "site/a").unwrap().unwrap(), b"st");
        assert!(store.append_chunk("bad\0id", 0, b"").is_err());
    }

    #[test]
    fn memory_store_laws() {
        exercise(&MemoryStore::default());
    }

    #[test]
    fn sled_store_laws_and_reopen() {
        let dir = tempfile::tempdir().unwrap();
        {
            let s = SledStore::open(dir.path()).unwrap();
            exercise(&s);
        }
        // sled's background thread may hold the file lock a moment after
        // the drop, as a node restarting in place waits for it.
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_time()
            .build()
            .unwrap();
        let s = rt
            .block_on(SledStore::open_waiting(
                dir.path(),
                std::time::Duration::from_secs(10),
            ))
            .unwrap();
        let d = s.load_doc("site/a").unwrap();
        assert_eq!(d.snapshot.as_deref(), Some(&b"snap"[..]));
        assert_eq!(d.chunks.len(), 1);
    }

    /// A node restarting in place waits for the previous handle's lock
    /// instead of failing, and says so when it is held too long.
    #[test]
    fn opening_waits_for_the_lock_of_a_closing_handle() {
        let dir = tempfile::tempdir().unwrap();
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_time()
            .build()
            .unwrap();
        let held = SledStore::open(dir.path()).unwrap();
        let short = rt.block_on(SledStore::open_waiting(
            dir.path(),
            std::time::Duration::from_millis(100),
        ));
        assert!(
            matches!(short, Err(StorageError::Locked(_))),
            "held: {:?}",
            short.err()
        );
        let release = std::thread::spawn(move || {
            std::thread::sleep(std::time::Duration::from_millis(200));
            drop(held);
        });
        let waited = rt.block_on(SledStore::open_waiting(
            dir.path(),
            std::time::Duration::from_secs(10),
        ));
        release.join().unwrap();
        assert!(waited.is_ok(), "{:?}", waited.err());
    }

    #[test]
    fn refuses_unknown_format() {
        assert!(unversioned(b"k", &[9, 1, 2]).is_err());
        assert_eq!(unversioned(b"k", &versioned(b"ab")).unwrap(), b"ab");
    }
}
