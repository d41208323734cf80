//! The use cases: written once, called by the gRPC services (`api`), the
//! web pages, the demo and the benchmarks. Business rules live here and in
//! `domain`, never in the adapters.
//!
//! They take and return the API's wire types (`pb`) where those are the
//! shapes a caller needs; errors are the crate's [`crate::error::Error`].

pub mod actions;
pub mod calendar;
pub mod equipment;
pub mod feeds;
pub mod import;
pub mod loans;
pub mod network;
pub mod node;
pub mod partners;
pub mod purchases;
pub mod reports;
pub mod revoked;
pub mod users;

use std::sync::Arc;

use crate::base::Role;
use crate::docs::Docs;
use crate::federation::Federation;

/// What every API service needs to know about the node it runs in.
pub struct NodeContext {
    pub site: String,
    pub name: String,
    pub role: Role,
    pub listen: String,
    pub docs: Docs,
    pub fed: Arc<Federation>,
    /// This site's Ed25519 public key (hex).
    pub public_key: String,
    /// Address of the public API.
    pub api_listen: String,
    /// The address people open for the web interface, e.g. "http://127.0.0.1:7402".
    pub web_url: String,
    /// People's accounts on this node (never replicated).
    pub accounts: crate::accounts::Accounts,
    /// Facts for indicators, kept up to date as documents change.
    pub reports: crate::report::Index,
}

impl crate::report::IndexHost for NodeContext {
    fn docs(&self) -> &Docs {
        &self.docs
    }
    fn index(&self) -> &crate::report::Index {
        &self.reports
    }
}

impl NodeContext {
    pub fn site_doc(&self) -> String {
        crate::base::site_doc(&self.site)
    }
}
