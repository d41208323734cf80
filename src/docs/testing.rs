//! What a hostile node does, for the tests that prove honest nodes refuse it:
//! commit under another actor, sign with the wrong key, or take in changes
//! without verifying them. Nothing in maillage itself calls these, and they
//! are compiled only for unit tests and under the `hostile` feature, which the
//! integration tests turn on through a dev-dependency of the crate on itself.

use automerge::{ActorId, AutoCommit};
use ed25519_dalek::{Signer, SigningKey};

use super::{Docs, Signatures};
use crate::error::{Error, Result};
use crate::trust::payload;

impl Docs {
    /// Commits `f` to document `id` as `actor`, signed by `signer` (or not
    /// signed at all), and announces it to the peer sessions like any change.
    #[doc(hidden)]
    pub async fn forge(
        &self,
        id: &str,
        actor: &[u8],
        signer: Option<&SigningKey>,
        f: impl FnOnce(&mut AutoCommit) -> Result<()>,
    ) -> Result<()> {
        let entry = self.entry_or_create(id);
        {
            let mut guard = entry.lock().unwrap();
            let own = guard.doc.get_actor().clone();
            guard.doc.set_actor(ActorId::from(actor.to_vec()));
            let result = f(&mut guard.doc);
            let hash = match result {
                Ok(()) => guard.doc.commit(),
                Err(e) => {
                    guard.doc.rollback();
                    guard.doc.set_actor(own);
                    return Err(e);
                }
            };
            guard.doc.set_actor(own);
            let hash = hash.ok_or_else(|| Error::Internal("rien à falsifier".into()))?;
            let raw = guard
                .doc
                .get_change_by_hash(&hash)
                .unwrap()
                .raw_bytes()
                .to_vec();
            let mut sigs = Vec::new();
            if let Some(k) = signer {
                let sig = k.sign(&payload(id, &hash)).to_bytes();
                guard.sigs.insert(hash, sig);
                sigs.push((hash, sig));
            }
            self.persist(id, &mut guard, &raw, &sigs)?;
        }
        self.inner.store.flush().await?;
        let _ = self.inner.changed.send(id.to_string());
        Ok(())
    }

    /// Every change of `id` (a saved document) and the signatures held for them.
    #[doc(hidden)]
    pub fn raw(&self, id: &str) -> Option<(Vec<u8>, Signatures)> {
        let entry = self.entry(id)?;
        let mut guard = entry.lock().unwrap();
        let sigs = guard.sigs.iter().map(|(h, s)| (*h, *s)).collect();
        Some((guard.doc.save(), sigs))
    }

    /// Takes in changes and signatures without verifying anything, as a
    /// compromised relay would, and announces them.
    #[doc(hidden)]
    pub async fn import_unverified(&self, id: &str, bytes: &[u8], sigs: &Signatures) -> Result<()> {
        let entry = self.entry_or_create(id);
        {
            let mut guard = entry.lock().unwrap();
            guard
                .doc
                .load_incremental(bytes)
                .map_err(|e| Error::automerge(id, e))?;
            for (h, s) in sigs {
                guard.sigs.insert(*h, *s);
            }
            let all: Signatures = guard.sigs.iter().map(|(h, s)| (*h, *s)).collect();
            self.persist(id, &mut guard, bytes, &all)?;
        }
        self.inner.store.flush().await?;
        let _ = self.inner.changed.send(id.to_string());
        Ok(())
    }
}
