//! The layout of a whole store, and the numbered migrations that bring an
//! older one up to date.
//!
//! `meta` key [`LAYOUT_KEY`] holds the store's layout version (`u32` BE, behind
//! the value's format byte). A store written before layouts existed has no
//! such key: it is layout 1. [`run`] is called when the store is opened,
//! before anything else reads it:
//!
//! - a store with nothing in it is stamped with [`LAYOUT`] directly;
//! - a store whose layout is newer than [`LAYOUT`] is refused, and nothing is
//!   written to it ([`StorageError::Layout`]);
//! - otherwise every migration above the store's layout runs, in order.
//!
//! Each migration only *plans* its writes (reading the store as it is), and the
//! runner applies the plan, the new `layout` and a line of history
//! (`migration/NNNN` → time and description) in one atomic write, then syncs
//! the disk before the next migration or the node goes on. A crash leaves the
//! store either before the migration or after it, never in between; the
//! migration then runs again from the start, on the same data, with the same
//! plan.
//!
//! # Layouts
//!
//! - **1**: the trees as described in [`super`], values behind format byte 1,
//!   and `meta` key `format` holding an empty value (format byte 1) that the
//!   binaries of that time check at open.
//! - **2**: the same trees and values, with `layout` and the history in
//!   `meta`, and `format` turned into a fence: its value is the single byte
//!   [`FENCE`], which a binary of layout 1 refuses at open (« valeur stockée au
//!   format 2, ce binaire lit le format 1 (clé format) ») instead of writing to
//!   a store it no longer understands. Migration 2 also reads every stored
//!   value once: a value without format byte 1, or a chunk or snapshot whose
//!   framing ([`split_chunk`]) is broken, stops the migration with its key
//!   named, before anything is written; a broken sync state is dropped instead
//!   (a sync state only saves bytes on the next exchange with that peer).
//!
//! The runner works on [`Raw`], the stored bytes of the three trees. Only
//! [`super::SledStore`] implements it: the in-memory and simulated stores are
//! created empty by the binary that uses them and never meet an older layout.

use super::*;

/// The layout this binary writes and reads: the `to` of the last migration.
pub const LAYOUT: u32 = 2;

/// `meta` key of the store's layout version.
pub const LAYOUT_KEY: &str = "layout";

/// `meta` key of the marker that binaries of layout 1 check at open.
pub const FENCE_KEY: &str = "format";

/// The marker's value from layout 2 on: format byte 2, which layout-1
/// binaries refuse.
pub const FENCE: [u8; 1] = [2];

/// `meta` prefix of the history: `migration/0002` → `<RFC 3339 time> <description>`.
pub const HISTORY_PREFIX: &str = "migration/";

/// The migrations, in order. Each brings a store from layout `to - 1` to `to`.
pub const MIGRATIONS: &[Migration] = &[Migration {
    to: 2,
    description: "format de stockage enregistré dans `layout`, ancien marqueur `format` \
                  changé en barrière pour les binaires antérieurs, chaque valeur vérifiée",
    plan: fence_and_verify,
}];

/// One of the three trees of a store.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Tree {
    Docs,
    Sync,
    Meta,
}

/// One write of a migration's plan: `value` as stored (format byte
/// included), or `None` to remove the key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Write {
    pub tree: Tree,
    pub key: Vec<u8>,
    pub value: Option<Vec<u8>>,
}

/// What [`Raw::for_each`] calls with each key and value.
pub type Visit<'a> = dyn FnMut(&[u8], &[u8]) -> StorageResult<()> + 'a;

/// The stored bytes of a store's trees, as migrations need them.
pub trait Raw {
    fn get(&self, tree: Tree, key: &[u8]) -> StorageResult<Option<Vec<u8>>>;
    /// Calls `visit` with every key and value of `tree`, in key order.
    fn for_each(&self, tree: Tree, visit: &mut Visit<'_>) -> StorageResult<()>;
    /// Whether the three trees are all empty.
    fn is_empty(&self) -> StorageResult<bool>;
    /// Applies every write, or none of them, even across a crash.
    fn apply(&self, writes: &[Write]) -> StorageResult<()>;
    /// Returns once everything applied is on disk.
    fn sync(&self) -> StorageResult<()>;
}

/// A numbered migration: `plan` reads the store at layout `to - 1` and
/// returns the writes that bring it to `to`. It must not write itself.
#[derive(Clone, Copy)]
pub struct Migration {
    pub to: u32,
    /// What it does, in French: the node's journal names it.
    pub description: &'static str,
    pub plan: fn(&dyn Raw) -> StorageResult<Vec<Write>>,
}

/// Brings the store to [`LAYOUT`]; returns the versions of the migrations
/// that ran (none when it was already there).
pub fn run(raw: &dyn Raw) -> StorageResult<Vec<u32>> {
    run_with(raw, MIGRATIONS)
}

/// [`run`] with a list of migrations of its own (tests).
pub fn run_with(raw: &dyn Raw, migrations: &[Migration]) -> StorageResult<Vec<u32>> {
    let newest = migrations.last().map(|m| m.to).unwrap_or(1);
    let found = match layout(raw)? {
        Some(v) => v,
        None if raw.is_empty()? => {
            raw.apply(&stamp(newest))?;
            raw.sync()?;
            tracing::debug!(format = newest, "nouveau stockage");
            return Ok(Vec::new());
        }
        None => 1,
    };
    if found > newest {
        return Err(StorageError::Layout {
            found,
            reads: newest,
        });
    }
    let pending: Vec<&Migration> = migrations.iter().filter(|m| m.to > found).collect();
    if !pending.is_empty() {
        tracing::info!(
            depuis = found,
            vers = newest,
            "stockage au format {found}, ce binaire lit le format {newest} : {} migration(s) à appliquer",
            pending.len()
        );
    }
    let mut ran = Vec::new();
    for m in pending {
        let mut writes = (m.plan)(raw)?;
        writes.push(meta_write(LAYOUT_KEY, &m.to.to_be_bytes()));
        let line = format!("{} {}", chrono::Utc::now().to_rfc3339(), m.description);
        writes.push(meta_write(
            &format!("{HISTORY_PREFIX}{:04}", m.to),
            line.as_bytes(),
        ));
        raw.apply(&writes)?;
        raw.sync()?;
        tracing::info!(
            format = m.to,
            "stockage migré au format {} : {}",
            m.to,
            m.description
        );
        ran.push(m.to);
    }
    Ok(ran)
}

/// The store's layout as recorded, `None` when it records none.
pub fn layout(raw: &dyn Raw) -> StorageResult<Option<u32>> {
    match raw.get(Tree::Meta, LAYOUT_KEY.as_bytes())? {
        None => Ok(None),
        Some(v) => Ok(Some(decode_layout(&v)?)),
    }
}

fn decode_layout(stored: &[u8]) -> StorageResult<u32> {
    let v = unversioned(LAYOUT_KEY.as_bytes(), stored)?;
    let bytes: [u8; 4] = v.as_slice().try_into().map_err(|_| StorageError::Corrupt {
        key: format!("meta:{LAYOUT_KEY}"),
        why: format!("{} octets au lieu de 4", v.len()),
    })?;
    Ok(u32::from_be_bytes(bytes))
}

/// The layout a store records, read through [`Store`] (tests, status).
pub fn layout_of(store: &dyn Store) -> StorageResult<Option<u32>> {
    match store.get_meta(LAYOUT_KEY)? {
        None => Ok(None),
        Some(v) => {
            let bytes: [u8; 4] = v.as_slice().try_into().map_err(|_| StorageError::Corrupt {
                key: format!("meta:{LAYOUT_KEY}"),
                why: format!("{} octets au lieu de 4", v.len()),
            })?;
            Ok(Some(u32::from_be_bytes(bytes)))
        }
    }
}

/// The migrations a store has recorded: (version, time and description).
pub fn history(store: &dyn Store) -> StorageResult<Vec<(u32, String)>> {
    let mut out = Vec::new();
    for (k, v) in store.scan_meta(HISTORY_PREFIX)? {
        let n = k[HISTORY_PREFIX.len()..]
            .parse()
            .map_err(|_| StorageError::Key(k.clone()))?;
        out.push((n, String::from_utf8_lossy(&v).into_owned()));
    }
    Ok(out)
}

/// What a new store holds before anything else: its layout and the fence.
fn stamp(newest: u32) -> Vec<Write> {
    vec![
        meta_write(LAYOUT_KEY, &newest.to_be_bytes()),
        Write {
            tree: Tree::Meta,
            key: FENCE_KEY.as_bytes().to_vec(),
            value: Some(FENCE.to_vec()),
        },
    ]
}

fn meta_write(key: &str, value: &[u8]) -> Write {
    Write {
        tree: Tree::Meta,
        key: key.as_bytes().to_vec(),
        value: Some(versioned(value)),
    }
}

/// A key as an operator can find it: the tree, then the document and the
/// chunk, the peer, or the `meta` name.
fn key_name(tree: Tree, key: &[u8]) -> String {
    let text = |b: &[u8]| String::from_utf8_lossy(b).into_owned();
    match tree {
        Tree::Docs => {
            let end = key.iter().position(|b| *b == 0).unwrap_or(key.len());
            let doc = text(&key[..end]);
            match &key[end..] {
                [0, b'S'] => format!("docs:{doc} (instantané)"),
                [0, b'C', seq @ ..] if seq.len() == 8 => format!(
                    "docs:{doc} (morceau {})",
                    u64::from_be_bytes(seq.try_into().unwrap())
                ),
                rest => format!("docs:{doc} (suffixe {})", hex_of(rest)),
            }
        }
        Tree::Sync => {
            let end = key.iter().position(|b| *b == 0).unwrap_or(key.len());
            let doc = key.get(end + 1..).unwrap_or_default();
            format!("sync:{} {}", text(&key[..end]), text(doc))
        }
        Tree::Meta => format!("meta:{}", text(key)),
    }
}

fn hex_of(b: &[u8]) -> String {
    b.iter().map(|x| format!("{x:02x}")).collect()
}

/// Migration 2: see the module's doc.
fn fence_and_verify(raw: &dyn Raw) -> StorageResult<Vec<Write>> {
    let mut writes = Vec::new();
    raw.for_each(Tree::Docs, &mut |k, v| {
        let key = || key_name(Tree::Docs, k);
        let body = match v.split_first() {
            Some((&FORMAT_VERSION, body)) => body,
            other => {
                return Err(StorageError::Corrupt {
                    key: key(),
                    why: format!("octet de format {:?}", other.map(|(b, _)| *b)),
                })
            }
        };
        let end = k.iter().position(|b| *b == 0).unwrap_or(k.len());
        let suffix = &k[end..];
        if !(suffix == [0, b'S'] || (suffix.len() == 10 && suffix[..2] == [0, b'C'])) {
            return Err(StorageError::Corrupt {
                key: key(),
                why: "clé ni d'instantané ni de morceau".into(),
            });
        }
        if split_chunk(body).is_none() {
            return Err(StorageError::Corrupt {
                key: key(),
                why: "longueur ou signatures incohérentes".into(),
            });
        }
        Ok(())
    })?;
    raw.for_each(Tree::Sync, &mut |k, v| {
        if v.first() != Some(&FORMAT_VERSION) || !k.contains(&0) {
            tracing::warn!(
                cle = %key_name(Tree::Sync, k),
                "état de synchronisation illisible : supprimé (le prochain échange avec ce site sera plus long)"
            );
            writes.push(Write {
                tree: Tree::Sync,
                key: k.to_vec(),
                value: None,
            });
        }
        Ok(())
    })?;
    raw.for_each(Tree::Meta, &mut |k, v| {
        let ok = if k == FENCE_KEY.as_bytes() {
            v == [FORMAT_VERSION]
        } else {
            v.first() == Some(&FORMAT_VERSION)
        };
        if !ok {
            return Err(StorageError::Corrupt {
                key: key_name(Tree::Meta, k),
                why: format!("octet de format {:?}", v.first()),
            });
        }
        Ok(())
    })?;
    writes.push(Write {
        tree: Tree::Meta,
        key: FENCE_KEY.as_bytes().to_vec(),
        value: Some(FENCE.to_vec()),
    });
    Ok(writes)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::{AtomicUsize, Ordering};

    #[test]
    fn layout_is_the_last_migration() {
        assert_eq!(MIGRATIONS.last().map(|m| m.to), Some(LAYOUT));
        for (i, m) in MIGRATIONS.iter().enumerate() {
            assert_eq!(
                m.to,
                i as u32 + 2,
                "migrations are numbered from 2, in order"
            );
        }
    }

    /// A store as a binary of layout 1 left it: the `format` marker, a
    /// document, a sync state, a token.
    fn layout_one(dir: &std::path::Path) {
        let db = raw_db(dir);
        let docs = db.open_tree("docs").unwrap();
        let sync = db.open_tree("sync").unwrap();
        let meta = db.open_tree("meta").unwrap();
        meta.insert("format", versioned(&[])).unwrap();
        docs.insert(chunk_key("site/a", 0), versioned(&chunk(b"change")))
            .unwrap();
        docs.insert(snapshot_key("site/b"), versioned(&chunk(b"snap")))
            .unwrap();
        sync.insert(sync_key("b", "site/a"), versioned(b"state"))
            .unwrap();
        meta.insert("token/ab", versioned(b"{}")).unwrap();
        db.flush().unwrap();
    }

    /// A chunk's framing around `bytes`, with one (hash, signature) pair.
    fn chunk(bytes: &[u8]) -> Vec<u8> {
        let mut v = (bytes.len() as u32).to_be_bytes().to_vec();
        v.extend_from_slice(bytes);
        v.extend_from_slice(&[7; 96]);
        v
    }

    /// Retries `f` while sled's lock is still held by a handle just
    /// dropped (sled releases it from a background thread).
    fn waiting<T, E: std::fmt::Display>(mut f: impl FnMut() -> Result<T, E>) -> Result<T, E> {
        let start = std::time::Instant::now();
        loop {
            match f() {
                Err(e)
                    if e.to_string().contains("lock")
                        && start.elapsed() < std::time::Duration::from_secs(10) =>
                {
                    std::thread::sleep(std::time::Duration::from_millis(20))
                }
                other => return other,
            }
        }
    }

    fn raw_db(dir: &std::path::Path) -> sled::Db {
        waiting(|| sled::open(dir)).unwrap()
    }

    fn reopen(dir: &std::path::Path) -> SledStore {
        waiting(|| SledStore::open(dir)).unwrap()
    }

    /// The store of `dir` opened without running the migrations (as
    /// [`SledStore::open`] does before [`run`]).
    fn open_unmigrated(dir: &std::path::Path) -> SledStore {
        waiting(|| SledStore::open_unmigrated(dir)).unwrap()
    }

    #[test]
    fn a_new_store_is_stamped_with_the_newest_layout() {
        let dir = tempfile::tempdir().unwrap();
        let s = SledStore::open(dir.path()).unwrap();
        assert_eq!(layout_of(&s).unwrap(), Some(LAYOUT));
        assert!(history(&s).unwrap().is_empty(), "no migration ran");
        assert_eq!(s.get(Tree::Meta, b"format").unwrap().unwrap(), FENCE);
    }

    #[test]
    fn a_layout_one_store_is_migrated_once_and_keeps_its_data() {
        let dir = tempfile::tempdir().unwrap();
        layout_one(dir.path());
        let s = reopen(dir.path());
        assert_eq!(layout_of(&s).unwrap(), Some(LAYOUT));
        let h = history(&s).unwrap();
        assert_eq!(h.iter().map(|(n, _)| *n).collect::<Vec<_>>(), vec![2]);
        assert_eq!(s.load_doc("site/a").unwrap().chunks[0].1, chunk(b"change"));
        assert_eq!(
            s.load_doc("site/b").unwrap().snapshot.unwrap(),
            chunk(b"snap")
        );
        assert_eq!(s.get_sync_state("b", "site/a").unwrap().unwrap(), b"state");
        assert_eq!(s.get_meta("token/ab").unwrap().unwrap(), b"{}");
        // What a binary of layout 1 does at open: it now refuses the store.
        let fence = s.get(Tree::Meta, b"format").unwrap().unwrap();
        assert!(matches!(
            unversioned(b"format", &fence),
            Err(StorageError::Format { found: 2, .. })
        ));
        drop(s);
        let s = reopen(dir.path());
        assert_eq!(run(&s).unwrap(), Vec::<u32>::new(), "nothing left to run");
        assert_eq!(history(&s).unwrap(), h, "the history is unchanged");
    }

    #[test]
    fn a_corrupt_value_stops_the_migration_with_its_key_and_changes_nothing() {
        let dir = tempfile::tempdir().unwrap();
        layout_one(dir.path());
        {
            let db = raw_db(dir.path());
            let docs = db.open_tree("docs").unwrap();
            // A length beyond the value.
            let mut bad = versioned(&chunk(b"x"));
            bad[1..5].copy_from_slice(&1000u32.to_be_bytes());
            docs.insert(chunk_key("site/a", 3), bad).unwrap();
            db.flush().unwrap();
        }
        let err = waiting(|| SledStore::open(dir.path()))
            .err()
            .expect("refused");
        let msg = err.to_string();
        assert!(msg.contains("docs:site/a (morceau 3)"), "{msg}");
        let db = raw_db(dir.path());
        let meta = db.open_tree("meta").unwrap();
        assert!(meta.get(LAYOUT_KEY).unwrap().is_none());
        assert_eq!(meta.get("format").unwrap().unwrap(), versioned(&[]));
    }

    #[test]
    fn a_broken_sync_state_is_dropped() {
        let dir = tempfile::tempdir().unwrap();
        layout_one(dir.path());
        {
            let db = raw_db(dir.path());
            let sync = db.open_tree("sync").unwrap();
            sync.insert(sync_key("c", "site/a"), vec![9, 9]).unwrap();
            db.flush().unwrap();
        }
        let s = reopen(dir.path());
        assert_eq!(s.get(Tree::Sync, &sync_key("c", "site/a")).unwrap(), None);
        assert_eq!(s.get_sync_state("b", "site/a").unwrap().unwrap(), b"state");
    }

    #[test]
    fn a_newer_layout_is_refused_and_left_alone() {
        let dir = tempfile::tempdir().unwrap();
        layout_one(dir.path());
        {
            let db = raw_db(dir.path());
            let meta = db.open_tree("meta").unwrap();
            meta.insert(LAYOUT_KEY, versioned(&(LAYOUT + 1).to_be_bytes()))
                .unwrap();
            db.flush().unwrap();
        }
        let err = waiting(|| SledStore::open(dir.path()))
            .err()
            .expect("refused");
        assert!(
            matches!(err, StorageError::Layout { found, reads } if found == LAYOUT + 1 && reads == LAYOUT)
        );
        let msg = err.to_string();
        assert!(msg.contains("mettez maillage à jour"), "{msg}");
        let db = raw_db(dir.path());
        let meta = db.open_tree("meta").unwrap();
        assert_eq!(meta.get("format").unwrap().unwrap(), versioned(&[]));
        assert_eq!(meta.scan_prefix(HISTORY_PREFIX).count(), 0);
    }

    /// A store that fails like a crash at its `n`-th `apply`: before the
    /// write, or just after it (before the sync).
    struct Crashing<'a> {
        inner: &'a SledStore,
        at: usize,
        after_write: bool,
        applies: AtomicUsize,
    }

    impl Raw for Crashing<'_> {
        fn get(&self, tree: Tree, key: &[u8]) -> StorageResult<Option<Vec<u8>>> {
            self.inner.get(tree, key)
        }
        fn for_each(&self, tree: Tree, visit: &mut Visit<'_>) -> StorageResult<()> {
            self.inner.for_each(tree, visit)
        }
        fn is_empty(&self) -> StorageResult<bool> {
            self.inner.is_empty()
        }
        fn apply(&self, writes: &[Write]) -> StorageResult<()> {
            let n = self.applies.fetch_add(1, Ordering::SeqCst) + 1;
            if n == self.at && !self.after_write {
                return Err(StorageError::Flush("panne simulée".into()));
            }
            self.inner.apply(writes)?;
            if n == self.at {
                return Err(StorageError::Flush("panne simulée".into()));
            }
            Ok(())
        }
        fn sync(&self) -> StorageResult<()> {
            self.inner.sync()
        }
    }

    /// A test migration 3 that rewrites every chunk (appends a byte to its
    /// Automerge bytes), so that a partial run would show.
    fn rewrite_chunks(raw: &dyn Raw) -> StorageResult<Vec<Write>> {
        let mut writes = Vec::new();
        raw.for_each(Tree::Docs, &mut |k, v| {
            let (bytes, sigs) = split_chunk(&v[1..]).expect("framed");
            let mut b = bytes.to_vec();
            b.push(b'!');
            let mut out = vec![FORMAT_VERSION];
            out.extend_from_slice(&(b.len() as u32).to_be_bytes());
            out.extend_from_slice(&b);
            out.extend_from_slice(sigs);
            writes.push(Write {
                tree: Tree::Docs,
                key: k.to_vec(),
                value: Some(out),
            });
            Ok(())
        })?;
        Ok(writes)
    }

    const TWO_AND_THREE: &[Migration] = &[
        MIGRATIONS[0],
        Migration {
            to: 3,
            description: "test : chaque morceau réécrit",
            plan: rewrite_chunks,
        },
    ];

    fn migrate_once(dir: &std::path::Path) {
        let s = open_unmigrated(dir);
        run_with(&s, TWO_AND_THREE).unwrap();
    }

    /// A crash before or after any migration's write, then a restart: the
    /// store ends the same as after a run without crash, every migration
    /// applied exactly once.
    #[test]
    fn a_crash_during_migrations_reruns_cleanly() {
        let clean = tempfile::tempdir().unwrap();
        layout_one(clean.path());
        migrate_once(clean.path());
        let expected = open_unmigrated(clean.path()).load_doc("site/a").unwrap();
        assert_eq!(expected.chunks[0].1, chunk(b"change!"));
        for at in 1..=2 {
            for after_write in [false, true] {
                let dir = tempfile::tempdir().unwrap();
                layout_one(dir.path());
                {
                    let db_store = open_unmigrated(dir.path());
                    let crashing = Crashing {
                        inner: &db_store,
                        at,
                        after_write,
                        applies: AtomicUsize::new(0),
                    };
                    assert!(run_with(&crashing, TWO_AND_THREE).is_err());
                    let reached = layout(&db_store).unwrap().unwrap_or(1);
                    let want = if after_write { at + 1 } else { at } as u32;
                    assert_eq!(reached, want, "crash at {at}, after write {after_write}");
                }
                migrate_once(dir.path());
                let s = open_unmigrated(dir.path());
                assert_eq!(layout(&s).unwrap(), Some(3));
                assert_eq!(
                    s.load_doc("site/a").unwrap().chunks,
                    expected.chunks,
                    "crash at {at}, after write {after_write}"
                );
                let runs: Vec<u32> = history(&s).unwrap().iter().map(|(n, _)| *n).collect();
                assert_eq!(runs, vec![2, 3]);
            }
        }
    }
}
