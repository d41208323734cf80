//! maillage: a federated sync service for a network of educational third-places.
//!
//! Each site runs a node holding a full replica of the network's shared state as
//! Automerge documents stored in sled; nodes reconcile over gRPC.
//!
//! # Layout
//!
//! - [`base`]: the leaf: document and site ids, the node's role, the signature
//!   type, the default bound on a sync message, key and URL checks.
//! - [`config`]: the node's TOML configuration, with documented defaults.
//! - [`storage`]: the only code that touches sled (snapshot + incremental chunks), and
//!   the store's layout with its numbered migrations (`storage::migrate`).
//! - [`docs`]: the loaded documents, durable local writes, sync, change
//!   notifications, and the verification of every change received.
//! - [`domain`]: plain types and rules (equipment, loans, actions, calendar,
//!   partners, purchases, registry, site profile), mapped onto Automerge.
//! - [`trust`]: who may write what, change signatures, certified site keys.
//! - [`tls`]: the network's CA, node certificates, the federation's TLS client
//!   and server.
//! - [`federation`]: peer sessions over one bidirectional gRPC stream, dialing, backoff.
//! - [`api`]: the public tonic services and their status codes.
//! - [`auth`]: API tokens bound to roles, and the check of each call.
//! - [`report`]: indicators and bilans, from an index of facts read out of the documents.
//! - [`mail`]: daily e-mail digests of the reminders through an SMTP relay (optional).
//! - [`node`]: `init` a node directory, start and stop a running node.
//! - [`cli`]: the `maillage` command line (client commands, demo).
//! - [`bench`]: the benchmarks `maillage bench` runs.
//! - [`sim`]: the deterministic simulation of a whole network (`maillage sim`).
//! - [`error`]: the error type and its gRPC status codes.
//! - [`pb`]: generated wire types.
//!
//! The lower modules are layered, each naming only those before it (test code
//! included; `tests/layers.rs` checks it): `base` < `storage` < `error` <
//! `domain` < `tls` < `trust` < `docs` < `config` < `report`. The others sit
//! above them all.
//!
//! `ARCHITECTURE.md` describes how they fit together.

pub mod accounts;
pub mod api;
pub mod app;
pub mod auth;
pub mod base;
pub mod bench;
pub mod cli;
pub mod config;
pub mod docs;
pub mod domain;
pub mod error;
pub mod federation;
pub mod mail;
pub mod node;
pub mod report;
pub mod sim;
pub mod storage;
pub mod tls;
pub mod trust;
pub mod web;

/// Wire types generated from `proto/maillage/v1/*.proto`.
pub mod pb {
    #![allow(clippy::all)]
    tonic::include_proto!("maillage.v1");

    /// Encoded descriptors, served by gRPC reflection.
    pub const FILE_DESCRIPTOR_SET: &[u8] =
        include_bytes!(concat!(env!("OUT_DIR"), "/maillage_descriptor.bin"));
}
