//! Names instead of ids in what people read: sites by their registered name.

use std::collections::BTreeMap;

use super::client::Conn;
use crate::pb;

/// Site ids to the names the registry gives them.
#[derive(Debug, Default, Clone)]
pub struct SiteNames(BTreeMap<String, String>);

impl SiteNames {
    /// The registry as this node holds it; empty (ids are shown) when it
    /// cannot be read, since names only help reading.
    pub async fn fetch(conn: &Conn) -> SiteNames {
        let mut c = pb::network_client::NetworkClient::new(conn.clone());
        let sites = match c.list_sites(pb::ListSitesRequest {}).await {
            Ok(r) => r.into_inner().sites,
            Err(_) => Vec::new(),
        };
        SiteNames(sites.into_iter().map(|s| (s.id, s.name)).collect())
    }

    /// The site's name, or its id when it has none here; "tout le réseau"
    /// for the network's own records.
    pub fn name(&self, id: &str) -> String {
        if id == "network" {
            return "tout le réseau".into();
        }
        match self.0.get(id) {
            Some(n) if !n.trim().is_empty() => n.clone(),
            _ => id.to_string(),
        }
    }

    /// Several sites, by name, comma separated.
    pub fn names(&self, ids: &[String]) -> String {
        ids.iter()
            .map(|i| self.name(i))
            .collect::<Vec<_>>()
            .join(", ")
    }
}

/// A role as people say it.
pub fn role_fr(role: &str) -> &str {
    match role {
        "site" => "tiers-lieu",
        "academy" => "équipe académique",
        other => other,
    }
}
