//! The leaf of the crate: what config, domain, docs, trust and tls all need.
//!
//! Document ids and site ids ([`id`]); the role of a node ([`Role`]); the
//! signature of a change ([`Sig`]) and the default bound on a sync message;
//! the checks of a public key and of a peer's URL ([`check`]). This module names nothing else of the
//! crate (only std and external crates), so that any module may use it
//! without creating a cycle; `tests/layers.rs` checks that, and the order of
//! the layers above it.

pub mod check;
pub mod id;
pub mod role;

pub use check::{check_key, validate_peer_url, Invalid};
pub use id::*;
pub use role::Role;

/// An Ed25519 signature of a change (see `trust::payload` for what it covers).
pub type Sig = [u8; 64];

/// Default bound on the changes one sync message may bring
/// (`max_changes_per_message` in the configuration).
pub const MAX_CHANGES_PER_MESSAGE: usize = 200_000;
