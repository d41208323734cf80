//! The leaf of the crate: what config, domain, docs, trust and tls all need.
//!
//! Document ids and site ids ([`id`]); the role of a node ([`Role`]). This module names nothing else of the
//! crate (only std and external crates), so that any module may use it
//! without creating a cycle; `tests/layers.rs` checks that, and the order of
//! the layers above it.

pub mod id;
pub mod role;

pub use id::*;
pub use role::Role;
