//! Sync messages out and in (every change received verified before it is
//! applied, see [`super::verify`]), the sync states kept per peer, and the
//! confirmation that a peer holds nothing of this node's own document that
//! the node lacks.

use std::collections::HashMap;

use automerge::sync::{self, SyncDoc};
use automerge::ChangeHash;

use super::{verify, Docs, ReceiveError, Signatures};
use crate::base::Sig;
use crate::error::{Error, Result};

impl Docs {
    /// The next sync message for `peer_state`, encoded, if there is one to
    /// send, with the signatures of the changes the peer may lack.
    pub fn generate_sync(
        &self,
        id: &str,
        state: &mut sync::State,
    ) -> Option<(Vec<u8>, Signatures)> {
        let entry = self.entry_or_create(id);
        let mut guard = entry.lock().unwrap();
        let message = guard.doc.sync().generate_sync_message(state)?;
        // The signatures the receiver checks: each author's newest changes
        // in the message (see [`verify::signatures_to_send`]). A V1 message
        // lists its changes one by one; a V2 message is the whole document.
        let mut sigs = Vec::new();
        if !message.changes.is_empty() {
            let e = &mut *guard;
            let mut metas = Vec::with_capacity(message.changes.len());
            let one_by_one = message.version == sync::MessageVersion::V1
                && message
                    .changes
                    .iter()
                    .all(|bytes| match automerge::Change::try_from(bytes) {
                        Ok(c) => {
                            metas.push((
                                c.hash(),
                                crate::trust::author_of(c.actor_id()),
                                c.deps().to_vec(),
                            ));
                            true
                        }
                        Err(_) => false,
                    });
            if !one_by_one {
                metas = e
                    .doc
                    .get_changes_meta(&[])
                    .into_iter()
                    .map(|m| (m.hash, crate::trust::author_of(&m.actor), m.deps))
                    .collect();
            } else {
                metas = verify::topological(metas);
            }
            for h in verify::signatures_to_send(metas) {
                if let Some(s) = e.sigs.get(&h) {
                    sigs.push((h, *s));
                }
            }
        }
        Some((message.encode(), sigs))
    }

    /// Applies a peer's sync message, entirely or not at all, once every change
    /// it brings is verified (see [`crate::trust`]), queued ones included.
    /// `registry_required`: the peer holds the `network` document, so this
    /// node, if it has none yet, takes only what verifies it first. Returns
    /// whether the document changed.
    pub fn receive_sync(
        &self,
        id: &str,
        state: &mut sync::State,
        data: &[u8],
        sigs: &[(ChangeHash, Sig)],
        registry_required: bool,
    ) -> Result<bool, ReceiveError> {
        let entry = self.entry_or_create(id);
        let decode = || {
            sync::Message::decode(data).map_err(|e| {
                ReceiveError::Invalid(format!("message de synchronisation illisible : {e}"))
            })
        };
        let message = decode()?;
        if message.changes.is_empty() {
            let mut guard = entry.lock().unwrap();
            let mut next_state = state.clone();
            guard
                .doc
                .sync()
                .receive_sync_message(&mut next_state, message)
                .map_err(|e| ReceiveError::Invalid(e.to_string()))?;
            *state = next_state;
            return Ok(false);
        }
        let raw: Vec<u8> = message.changes.iter().flatten().copied().collect();
        let mut message = Some(message);
        let attached: HashMap<ChangeHash, Sig> = sigs.iter().copied().collect();
        let lookup = |h: &ChangeHash| attached.get(h).copied();
        // A message carrying changes is applied to a copy, outside the lock, then
        // verified; the copy replaces the document only if the document did not
        // change meanwhile (else the whole is done again). A message that fails
        // leaves the document and the sync state as they were.
        for _ in 0..8 {
            let (mut doc, before, queued_before) = {
                let mut g = entry.lock().unwrap();
                (g.doc.clone(), g.doc.get_heads(), g.queued.clone())
            };
            let ctx = self.verify_context(id, Some(&mut doc), registry_required);
            let mut next_state = state.clone();
            let m = match message.take() {
                Some(m) => m,
                None => decode()?,
            };
            doc.sync()
                .receive_sync_message(&mut next_state, m)
                .map_err(|e| ReceiveError::Invalid(e.to_string()))?;
            let verified = self
                .verify(id, &mut doc, &before, &queued_before, &ctx, &lookup)
                .map_err(ReceiveError::Refused)?;
            let mut guard = entry.lock().unwrap();
            if guard.doc.get_heads() != before {
                continue;
            }
            let changed = doc.get_heads() != before;
            guard.doc = doc;
            *state = next_state;
            for (h, s) in &verified.sigs {
                guard.sigs.insert(*h, *s);
            }
            let released: Vec<ChangeHash> = queued_before
                .iter()
                .filter(|h| !verified.queued.contains(h))
                .copied()
                .collect();
            guard.queued = verified.queued;
            if changed {
                // Changes that waited in the queue and are now applied were
                // not stored when they arrived (queued changes are dropped at
                // start): store them now, with their signatures, beside the
                // message that released them.
                let mut bytes = raw;
                let mut sigs = verified.sigs;
                for h in released {
                    if let Some(c) = guard.doc.get_change_by_hash(&h) {
                        bytes.extend_from_slice(c.raw_bytes());
                    }
                    if let Some(s) = guard.sigs.get(&h) {
                        sigs.push((h, *s));
                    }
                }
                self.persist(id, &mut guard, &bytes, &sigs)
                    .map_err(ReceiveError::Local)?;
            }
            drop(guard);
            if changed {
                let _ = self.inner.changed.send(id.to_string());
            }
            return Ok(changed);
        }
        Err(ReceiveError::Local(Error::Internal(format!(
            "{id} modifié sans cesse pendant la réception : message ignoré"
        ))))
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

    /// Changes of `id` this node holds that `peer` is not known to have, from
    /// the heads they last agreed on in a sync session; `None` if they never
    /// synced this document directly.
    pub fn lag(&self, peer: &str, id: &str) -> Option<usize> {
        let stored = self.inner.store.get_sync_state(peer, id).ok().flatten()?;
        let state = sync::State::decode(&stored).ok()?;
        let entry = self.entry(id)?;
        let mut guard = entry.lock().unwrap();
        if guard.doc.get_heads() == state.shared_heads {
            return Some(0);
        }
        let known = state
            .shared_heads
            .iter()
            .all(|h| guard.doc.get_change_by_hash(h).is_some());
        if !known {
            return None;
        }
        Some(guard.doc.get_changes_meta(&state.shared_heads).len())
    }

    /// Whether every change of `heads` is applied in `id`.
    pub fn has_all(&self, id: &str, heads: &[ChangeHash]) -> bool {
        heads.is_empty()
            || self.entry(id).is_some_and(|e| {
                let mut g = e.lock().unwrap();
                heads.iter().all(|h| g.doc.get_change_by_hash(h).is_some())
            })
    }

    /// Records that a peer showed this node holds all it holds of `id`.
    pub fn confirm(&self, id: &str) {
        let new = self.inner.confirmed.lock().unwrap().insert(id.to_string());
        if new {
            self.inner.confirmed_notify.notify_waiters();
        }
    }

    /// Waits at most `limit` for [`Docs::confirmed`]`(id)`; returns it.
    pub async fn wait_confirmed(&self, id: &str, limit: std::time::Duration) -> bool {
        let deadline = tokio::time::Instant::now() + limit;
        loop {
            let woken = self.inner.confirmed_notify.notified();
            if self.confirmed(id) {
                return true;
            }
            if tokio::time::timeout_at(deadline, woken).await.is_err() {
                return self.confirmed(id);
            }
        }
    }

    /// Whether this node's copy of its own document `id` is known to be
    /// complete: a peer showed, since the node opened, that it holds nothing
    /// of `id` this node lacks; or this node knows no other site at all. A
    /// node restored from an old backup has lost its latest decisions
    /// until a peer gives them back: until then it must not decide what
    /// they may contradict (a loan approval).
    pub fn confirmed(&self, id: &str) -> bool {
        if self.inner.confirmed.lock().unwrap().contains(id) {
            return true;
        }
        // Stops at the first other site document that holds a change.
        let others = self.entries().into_iter().any(|(other, e)| {
            other.starts_with("site/")
                && other != id
                && !e.lock().unwrap().doc.get_heads().is_empty()
        });
        !others
    }
}
