//! How documents are encoded for storage and compared between nodes: chunks
//! with their signatures, snapshots without waiting changes, and the digests
//! of heads that the session's first frames carry.

use automerge::{AutoCommit, ChangeHash};
use sha2::{Digest, Sha256};

use crate::base::Sig;
use crate::error::{Error, Result};
use std::collections::HashMap;

/// How documents are saved for snapshots and exports: changes still waiting
/// for their dependencies are left out (peers send them again).
pub(super) fn save_applied(doc: &mut AutoCommit) -> Vec<u8> {
    doc.save_with_options(automerge::SaveOptions {
        deflate: true,
        retain_orphans: false,
    })
}

/// Stored chunk and snapshot values: `u32` length of the Automerge bytes, the
/// bytes, then (hash, signature) pairs of the changes they hold.
pub(crate) fn encode_chunk(bytes: &[u8], sigs: &[(ChangeHash, Sig)]) -> Vec<u8> {
    let mut v = Vec::with_capacity(4 + bytes.len() + sigs.len() * 96);
    v.extend_from_slice(&(bytes.len() as u32).to_be_bytes());
    v.extend_from_slice(bytes);
    for (h, s) in sigs {
        v.extend_from_slice(&h.0);
        v.extend_from_slice(s);
    }
    v
}

pub(super) fn decode_chunk<'a>(
    id: &str,
    v: &'a [u8],
    sigs: &mut HashMap<ChangeHash, Sig>,
) -> Result<&'a [u8]> {
    let (bytes, rest) = crate::storage::split_chunk(v)
        .ok_or_else(|| Error::Internal(format!("valeur stockée illisible pour {id}")))?;
    for pair in rest.chunks_exact(96) {
        let h = ChangeHash(pair[..32].try_into().unwrap());
        sigs.insert(h, pair[32..].try_into().unwrap());
    }
    Ok(bytes)
}

pub(super) fn heads_hash(heads: &mut [ChangeHash]) -> [u8; 32] {
    heads.sort();
    let mut h = Sha256::new();
    for head in heads.iter() {
        h.update(head.0);
    }
    h.finalize().into()
}

/// The network digest of documents given with their heads' hash, in id order.
pub fn network_digest_of<'a>(docs: impl Iterator<Item = (&'a String, &'a [u8; 32])>) -> [u8; 32] {
    let mut h = Sha256::new();
    for (id, hash) in docs {
        h.update((id.len() as u32).to_be_bytes());
        h.update(id.as_bytes());
        h.update(hash);
    }
    h.finalize().into()
}
