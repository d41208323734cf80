//! Public API: tonic services for the node's users and tools.
//!
//! Conversions between wire types and domain types happen here, and every
//! domain error becomes the gRPC status that says what went wrong.

pub mod actions;
pub mod calendar;
pub mod equipment;
pub mod loans;
pub mod node;

use std::sync::Arc;

use crate::docs::Docs;
use crate::domain::site::Role;
use crate::federation::Federation;

/// What every API service needs to know about the node it runs in.
pub struct NodeContext {
    pub site: String,
    pub name: String,
    pub role: Role,
    pub listen: String,
    pub docs: Docs,
    pub fed: Arc<Federation>,
}

impl NodeContext {
    pub fn site_doc(&self) -> String {
        crate::docs::site_doc(&self.site)
    }

    /// Role recorded in transitions. Until user tokens exist, whoever reaches a
    /// node's API acts as its site's director.
    pub fn caller_role(&self) -> &'static str {
        match self.role {
            Role::Academy => "academy",
            Role::Site => "director",
        }
    }
}
