//! Public API: tonic services for the node's users and tools. Each checks
//! the caller's role, calls the use case in `app`, and turns its error into
//! the gRPC status that says what went wrong.

pub mod actions;
pub mod calendar;
pub mod equipment;
pub mod loans;
pub mod network;
pub mod node;
pub mod partners;
pub mod purchases;
pub mod reports;
pub mod tokens;
pub mod users;

pub use crate::app::NodeContext;
