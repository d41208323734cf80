//! A site's profile, stored under `profile` in its `site/<id>` document.

use automerge::{AutoCommit, ROOT};
use autosurgeon::{Hydrate, Reconcile};

use crate::error::Result;

/// The role a site's node plays, kept here too because a profile records it.
pub use crate::base::Role;

#[derive(Debug, Clone, PartialEq, Reconcile, Hydrate)]
pub struct Profile {
    pub id: String,
    pub name: String,
    pub role: String,
    pub created_at: String,
}

/// The keyed collections of a site document.
pub const SITE_COLLECTIONS: &[&str] = &[
    super::equipment::MAP,
    super::loans::REQUESTS,
    super::loans::DECISIONS,
    "events",
    super::partners::MAP,
    super::purchases::MAP,
];

pub fn write_profile(doc: &mut AutoCommit, profile: &Profile) -> Result<()> {
    autosurgeon::reconcile_prop(doc, ROOT, "profile", profile)?;
    // Every collection exists from the start, so that no two replicas of the
    // document ever create one concurrently.
    for map in SITE_COLLECTIONS {
        super::root_map_mut(doc, map)?;
    }
    Ok(())
}

pub fn read_profile(doc: &AutoCommit) -> Option<Profile> {
    automerge::ReadDoc::get(doc, ROOT, "profile")
        .ok()
        .flatten()?;
    autosurgeon::hydrate_prop(doc, ROOT, "profile").ok()
}
