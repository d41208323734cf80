//! The sled implementation of [`Store`].

use std::path::Path;
use std::sync::atomic::{AtomicU64, Ordering};

use super::*;

/// sled behind the [`Store`] trait.
///
/// Flushes are grouped: a caller waits for one flush that started after its
/// write, and every caller waiting meanwhile shares it. Flushes run one at a
/// time on tokio's blocking pool: sled 0.34's `flush_async` deadlocks when many
/// run at once (each parks one of sled's I/O threads waiting for writes that
/// need those threads).
///
/// sled's flush alone is not durable: it ends in `sync_file_range`, which
/// flushes neither the drive's cache nor the file's metadata, and it writes
/// large values to files under `blobs/` without any sync. So every flush then
/// calls `fdatasync` on sled's log file and on the blob files written since
/// the previous flush, and `fsync` on the blob directory: an acknowledgement
/// that waits for [`Store::flush`] follows a real sync of what it wrote.
pub struct SledStore {
    db: sled::Db,
    /// The directory sled writes to.
    path: std::path::PathBuf,
    /// sled's log file, kept open to sync it (any descriptor of a file will do).
    log: std::fs::File,
    /// Blob files already synced: sled writes each once and never changes it.
    synced_blobs: std::sync::Arc<std::sync::Mutex<std::collections::HashSet<std::ffi::OsString>>>,
    docs: sled::Tree,
    sync: sled::Tree,
    meta: sled::Tree,
    /// Bumped by every write.
    written: AtomicU64,
    /// The value of `written` that the last completed flush covers.
    flushed: AtomicU64,
    flush_lock: tokio::sync::Mutex<()>,
}

impl SledStore {
    /// Opens the store and brings it to this binary's layout
    /// ([`migrate::run`]); refuses a store of a newer layout without writing to it.
    ///
    /// Opening sled rewrites its snapshot file, so a store whose layout file
    /// ([`LAYOUT_FILE`]) says it is newer is refused before sled opens: the
    /// directory is then left byte for byte as it was.
    pub fn open(path: &Path) -> StorageResult<Self> {
        if let Some(found) = read_layout_file(path) {
            if found > migrate::LAYOUT {
                return Err(StorageError::Layout {
                    found,
                    reads: migrate::LAYOUT,
                });
            }
        }
        let store = Self::open_unmigrated(path)?;
        migrate::run(&store)?;
        if read_layout_file(path) != Some(migrate::LAYOUT) {
            write_layout_file(path, migrate::LAYOUT)?;
        }
        Ok(store)
    }

    /// Opens the store as it is, without checking or migrating its layout
    /// (the migrations' own tests).
    pub(crate) fn open_unmigrated(path: &Path) -> StorageResult<Self> {
        let db = sled::Config::new().path(path).open()?;
        let log = std::fs::File::open(path.join("db"))?;
        // The files sled just created are named in this directory.
        std::fs::File::open(path)?.sync_all()?;
        let docs = db.open_tree("docs")?;
        let sync = db.open_tree("sync")?;
        let meta = db.open_tree("meta")?;
        Ok(SledStore {
            db,
            path: path.to_path_buf(),
            log,
            synced_blobs: Default::default(),
            docs,
            sync,
            meta,
            written: AtomicU64::new(0),
            flushed: AtomicU64::new(0),
            flush_lock: tokio::sync::Mutex::new(()),
        })
    }

    /// Opens the store, waiting up to `wait` while another handle in this
    /// process still holds sled's lock (sled releases it from background
    /// threads shortly after the last handle is dropped).
    pub async fn open_waiting(path: &Path, wait: std::time::Duration) -> StorageResult<Self> {
        let start = tokio::time::Instant::now();
        loop {
            match Self::open(path) {
                Err(StorageError::Sled(sled::Error::Io(e))) if is_lock_error(&e) => {
                    if start.elapsed() >= wait {
                        return Err(StorageError::Locked(path.display().to_string()));
                    }
                    tokio::time::sleep(std::time::Duration::from_millis(20)).await;
                }
                other => return other,
            }
        }
    }

    fn wrote(&self) {
        self.written.fetch_add(1, Ordering::SeqCst);
    }

    fn tree(&self, tree: migrate::Tree) -> &sled::Tree {
        match tree {
            migrate::Tree::Docs => &self.docs,
            migrate::Tree::Sync => &self.sync,
            migrate::Tree::Meta => &self.meta,
        }
    }

    /// What [`Store::flush`] does, on the calling thread.
    fn sync_now(&self) -> StorageResult<()> {
        self.db.flush()?;
        self.log.sync_data()?;
        let mut synced = self.synced_blobs.lock().unwrap_or_else(|e| e.into_inner());
        sync_blobs(&self.path.join("blobs"), &mut synced)
    }
}

impl migrate::Raw for SledStore {
    fn get(&self, tree: migrate::Tree, key: &[u8]) -> StorageResult<Option<Vec<u8>>> {
        Ok(self.tree(tree).get(key)?.map(|v| v.to_vec()))
    }

    fn for_each(&self, tree: migrate::Tree, visit: &mut migrate::Visit<'_>) -> StorageResult<()> {
        for kv in self.tree(tree).iter() {
            let (k, v) = kv?;
            visit(&k, &v)?;
        }
        Ok(())
    }

    fn is_empty(&self) -> StorageResult<bool> {
        Ok(self.docs.is_empty() && self.sync.is_empty() && self.meta.is_empty())
    }

    /// One sled transaction over the three trees: sled recovers all of it or
    /// none of it after a crash.
    fn apply(&self, writes: &[migrate::Write]) -> StorageResult<()> {
        use sled::transaction::{ConflictableTransactionError, TransactionError};
        use sled::Transactional;
        (&self.docs, &self.sync, &self.meta)
            .transaction(|(docs, sync, meta)| {
                for w in writes {
                    let t = match w.tree {
                        migrate::Tree::Docs => docs,
                        migrate::Tree::Sync => sync,
                        migrate::Tree::Meta => meta,
                    };
                    match &w.value {
                        Some(v) => t.insert(w.key.as_slice(), v.as_slice())?,
                        None => t.remove(w.key.as_slice())?,
                    };
                }
                Ok::<(), ConflictableTransactionError<()>>(())
            })
            .map_err(|e| match e {
                TransactionError::Storage(e) => StorageError::Sled(e),
                TransactionError::Abort(()) => StorageError::Flush("transaction abandonnée".into()),
            })?;
        self.wrote();
        Ok(())
    }

    fn sync(&self) -> StorageResult<()> {
        self.sync_now()
    }
}

/// A copy of the store's layout beside sled's files, in decimal, written
/// once `meta` holds it. `meta` is the reference; this copy lets a binary
/// refuse a newer store without opening sled (see [`SledStore::open`]).
pub const LAYOUT_FILE: &str = "layout";

fn read_layout_file(dir: &Path) -> Option<u32> {
    std::fs::read_to_string(dir.join(LAYOUT_FILE))
        .ok()?
        .trim()
        .parse()
        .ok()
}

/// Writes [`LAYOUT_FILE`] whole or not at all: a temporary file, synced,
/// renamed over it, and the directory synced.
fn write_layout_file(dir: &Path, layout: u32) -> StorageResult<()> {
    use std::io::Write as _;
    let tmp = dir.join(format!("{LAYOUT_FILE}.tmp"));
    let mut f = std::fs::File::create(&tmp)?;
    writeln!(f, "{layout}")?;
    f.sync_all()?;
    std::fs::rename(&tmp, dir.join(LAYOUT_FILE))?;
    std::fs::File::open(dir)?.sync_all()?;
    Ok(())
}

/// Syncs the blob files sled wrote since the last flush (sled writes a value
/// too large for its log to a file of its own, once, and never syncs it),
/// then the directory that names them.
fn sync_blobs(
    dir: &Path,
    synced: &mut std::collections::HashSet<std::ffi::OsString>,
) -> StorageResult<()> {
    let entries = match std::fs::read_dir(dir) {
        Ok(e) => e,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(()),
        Err(e) => return Err(e.into()),
    };
    let mut present = std::collections::HashSet::new();
    let mut new = false;
    for entry in entries {
        let name = entry?.file_name();
        if !synced.contains(&name) {
            match std::fs::File::open(dir.join(&name)) {
                Ok(f) => f.sync_data()?,
                // Removed meanwhile by sled's collection of unused blobs.
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => continue,
                Err(e) => return Err(e.into()),
            }
            new = true;
        }
        present.insert(name);
    }
    // Forget the blobs sled removed, so the set does not grow forever.
    synced.retain(|n| present.contains(n));
    synced.extend(present);
    if new {
        std::fs::File::open(dir)?.sync_all()?;
    }
    Ok(())
}

/// Whether sled failed to open because another handle holds the database's
/// file lock. sled reports it as `Other` with the OS error (WouldBlock) in
/// its message, so the kind alone does not tell.
fn is_lock_error(e: &std::io::Error) -> bool {
    e.kind() == std::io::ErrorKind::WouldBlock || e.to_string().contains("could not acquire lock")
}

impl Store for SledStore {
    fn list_docs(&self) -> StorageResult<Vec<String>> {
        let mut out: Vec<String> = Vec::new();
        for kv in self.docs.iter().keys() {
            let k = kv?;
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
        let key = snapshot_key(doc);
        let snapshot = match self.docs.get(&key)? {
            Some(v) => Some(unversioned(&key, &v)?),
            None => None,
        };
        let prefix = chunk_prefix(doc);
        let mut chunks = Vec::new();
        for kv in self.docs.scan_prefix(&prefix) {
            let (k, v) = kv?;
            let seq_bytes: [u8; 8] = k[prefix.len()..]
                .try_into()
                .map_err(|_| StorageError::Key(String::from_utf8_lossy(&k).into_owned()))?;
            chunks.push((u64::from_be_bytes(seq_bytes), unversioned(&k, &v)?));
        }
        Ok(StoredDoc { snapshot, chunks })
    }

    fn append_chunk(&self, doc: &str, seq: u64, bytes: &[u8]) -> StorageResult<()> {
        check_id(doc)?;
        self.docs.insert(chunk_key(doc, seq), versioned(bytes))?;
        self.wrote();
        Ok(())
    }

    fn compact(&self, doc: &str, snapshot: &[u8], upto: u64) -> StorageResult<()> {
        check_id(doc)?;
        let mut batch = sled::Batch::default();
        batch.insert(snapshot_key(doc), versioned(snapshot));
        for kv in self.docs.range(chunk_key(doc, 0)..=chunk_key(doc, upto)) {
            let (k, _) = kv?;
            batch.remove(k);
        }
        self.docs.apply_batch(batch)?;
        self.wrote();
        Ok(())
    }

    fn get_sync_state(&self, peer: &str, doc: &str) -> StorageResult<Option<Vec<u8>>> {
        check_id(peer)?;
        check_id(doc)?;
        let key = sync_key(peer, doc);
        match self.sync.get(&key)? {
            Some(v) => Ok(Some(unversioned(&key, &v)?)),
            None => Ok(None),
        }
    }

    fn put_sync_state(&self, peer: &str, doc: &str, state: &[u8]) -> StorageResult<()> {
        check_id(peer)?;
        check_id(doc)?;
        self.sync.insert(sync_key(peer, doc), versioned(state))?;
        self.wrote();
        Ok(())
    }

    fn get_meta(&self, key: &str) -> StorageResult<Option<Vec<u8>>> {
        match self.meta.get(key)? {
            Some(v) => Ok(Some(unversioned(key.as_bytes(), &v)?)),
            None => Ok(None),
        }
    }

    fn put_meta(&self, key: &str, value: &[u8]) -> StorageResult<()> {
        self.meta.insert(key, versioned(value))?;
        self.wrote();
        Ok(())
    }

    fn scan_meta(&self, prefix: &str) -> StorageResult<Vec<(String, Vec<u8>)>> {
        let mut out = Vec::new();
        for kv in self.meta.scan_prefix(prefix) {
            let (k, v) = kv?;
            out.push((
                String::from_utf8_lossy(&k).into_owned(),
                unversioned(&k, &v)?,
            ));
        }
        Ok(out)
    }

    fn flush(&self) -> FlushFuture<'_> {
        Box::pin(async move {
            let mine = self.written.load(Ordering::SeqCst);
            let _one_at_a_time = self.flush_lock.lock().await;
            if self.flushed.load(Ordering::SeqCst) >= mine {
                return Ok(()); // a flush that started after our write covered it
            }
            let upto = self.written.load(Ordering::SeqCst);
            let db = self.db.clone();
            let log = self.log.try_clone()?;
            let path = self.path.clone();
            let synced = self.synced_blobs.clone();
            tokio::task::spawn_blocking(move || -> StorageResult<()> {
                db.flush()?;
                log.sync_data()?;
                let mut synced = synced.lock().unwrap_or_else(|e| e.into_inner());
                sync_blobs(&path.join("blobs"), &mut synced)?;
                Ok(())
            })
            .await
            .map_err(|e| StorageError::Flush(e.to_string()))??;
            self.flushed.fetch_max(upto, Ordering::SeqCst);
            Ok(())
        })
    }

    fn size_on_disk(&self) -> u64 {
        self.db.size_on_disk().unwrap_or(0)
    }
}
