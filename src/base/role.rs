//! The role of a node in the network: a site's, or the academic team's.

use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "lowercase")]
pub enum Role {
    #[default]
    Site,
    Academy,
}

impl Role {
    pub fn as_str(self) -> &'static str {
        match self {
            Role::Site => "site",
            Role::Academy => "academy",
        }
    }
}

impl std::str::FromStr for Role {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        match s {
            "site" => Ok(Role::Site),
            "academy" => Ok(Role::Academy),
            _ => Err(format!("rôle inconnu « {s} » (site ou academy)")),
        }
    }
}
