//! Local writes: a change committed, stored, flushed, then acknowledged and
//! announced; compaction past the threshold.

use automerge::{AutoCommit, ChangeHash};

use super::codec::{encode_chunk, save_applied};
use super::{Docs, Entry};
use crate::base::Sig;
use crate::error::{Error, Result};

impl Docs {
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
                        .with_time((self.inner.clock)());
                    if let Some(hash) = guard.doc.commit_with(opts) {
                        let change = guard.doc.get_change_by_hash(&hash).ok_or_else(|| {
                            Error::Internal(format!(
                                "modification {hash} introuvable après validation"
                            ))
                        })?;
                        let raw = change.raw_bytes().to_vec();
                        let sig = self.inner.trust.sign(id, &hash);
                        guard.sigs.insert(hash, sig);
                        self.persist(id, &mut guard, &raw, &[(hash, sig)])?;
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
    pub(super) fn persist(
        &self,
        id: &str,
        e: &mut Entry,
        bytes: &[u8],
        sigs: &[(ChangeHash, Sig)],
    ) -> Result<()> {
        if bytes.is_empty() {
            return Ok(());
        }
        self.inner
            .store
            .append_chunk(id, e.next_seq, &encode_chunk(bytes, sigs))?;
        e.next_seq += 1;
        e.chunks += 1;
        if e.chunks >= self.inner.compact_after {
            let snapshot = save_applied(&mut e.doc);
            let all: Vec<(ChangeHash, Sig)> = e.sigs.iter().map(|(h, s)| (*h, *s)).collect();
            self.inner
                .store
                .compact(id, &encode_chunk(&snapshot, &all), e.next_seq - 1)?;
            e.chunks = 0;
        }
        Ok(())
    }
}
