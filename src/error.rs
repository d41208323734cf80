//! The crate's error type, and its one mapping to gRPC status codes.
//!
//! Messages are shown to end users by the CLI, so they are written in French
//! and say what to fix.

use crate::storage::StorageError;

#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The caller sent something malformed: fix the input and retry.
    #[error("{0}")]
    InvalidArgument(String),
    #[error("{0}")]
    NotFound(String),
    /// The caller may not do this (another site's data, wrong role).
    #[error("{0}")]
    PermissionDenied(String),
    /// The request is well formed but the current state forbids it.
    #[error("{0}")]
    FailedPrecondition(String),
    #[error("stockage : {0}")]
    Storage(Box<StorageError>),
    #[error("document {doc} : {source}")]
    Automerge {
        doc: String,
        #[source]
        source: Box<automerge::AutomergeError>,
    },
    #[error("erreur interne : {0}")]
    Internal(String),
}

pub type Result<T, E = Error> = std::result::Result<T, E>;

impl Error {
    pub fn invalid(msg: impl Into<String>) -> Self {
        Error::InvalidArgument(msg.into())
    }
    pub fn not_found(msg: impl Into<String>) -> Self {
        Error::NotFound(msg.into())
    }
    pub fn denied(msg: impl Into<String>) -> Self {
        Error::PermissionDenied(msg.into())
    }
    pub fn precondition(msg: impl Into<String>) -> Self {
        Error::FailedPrecondition(msg.into())
    }
}

impl From<crate::base::Invalid> for Error {
    fn from(e: crate::base::Invalid) -> Self {
        Error::InvalidArgument(e.0)
    }
}

impl From<StorageError> for Error {
    fn from(e: StorageError) -> Self {
        Error::Storage(Box::new(e))
    }
}

impl Error {
    pub fn automerge(doc: &str, source: automerge::AutomergeError) -> Self {
        Error::Automerge {
            doc: doc.to_string(),
            source: Box::new(source),
        }
    }
}

impl From<autosurgeon::ReconcileError> for Error {
    fn from(e: autosurgeon::ReconcileError) -> Self {
        Error::Internal(format!("écriture du document : {e}"))
    }
}

impl From<autosurgeon::HydrateError> for Error {
    fn from(e: autosurgeon::HydrateError) -> Self {
        Error::Internal(format!("lecture du document : {e}"))
    }
}

impl From<Error> for tonic::Status {
    fn from(e: Error) -> Self {
        let msg = e.to_string();
        match e {
            Error::InvalidArgument(_) => tonic::Status::invalid_argument(msg),
            Error::NotFound(_) => tonic::Status::not_found(msg),
            Error::PermissionDenied(_) => tonic::Status::permission_denied(msg),
            Error::FailedPrecondition(_) => tonic::Status::failed_precondition(msg),
            Error::Storage(_) | Error::Automerge { .. } | Error::Internal(_) => {
                tracing::error!(cause = %msg, "internal error");
                tonic::Status::internal(msg)
            }
        }
    }
}

/// An error and its sources, on one line: tonic's transport errors say only
/// "transport error" at the top.
pub fn chain(e: &dyn std::error::Error) -> String {
    let mut out = e.to_string();
    let mut source = e.source();
    while let Some(s) = source {
        let text = s.to_string();
        if !out.contains(&text) {
            out.push_str(" : ");
            out.push_str(&text);
        }
        source = s.source();
    }
    out
}
