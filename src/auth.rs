//! Users of a node's API: tokens bound to roles.
//!
//! A token is shown once, when created; the node stores only its SHA-256, with
//! its role and label, in the `meta` tree. Every API call carries it as
//! `authorization: Bearer <token>`; the interceptor turns it into a [`Caller`]
//! and each handler checks the caller's role against what the call needs.

use std::sync::Arc;

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use tonic::{Request, Status};

use crate::error::{Error, Result};
use crate::storage::Store;

/// File, in a node directory, holding the administrator's first token.
pub const ADMIN_TOKEN_FILE: &str = "admin.token";
const PREFIX: &str = "token/";

/// What a user may do on a node.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Role {
    /// Reads everything.
    Viewer,
    /// Also records loans' check-out and return, events and attendance.
    Staff,
    /// Also does all of the site's writes, and manages tokens.
    Director,
    /// The academic team, on an academy node: everything there.
    Academy,
}

impl Role {
    pub fn as_str(self) -> &'static str {
        match self {
            Role::Viewer => "viewer",
            Role::Staff => "staff",
            Role::Director => "director",
            Role::Academy => "academy",
        }
    }

    pub fn parse(s: &str) -> Result<Role> {
        match s.trim() {
            "viewer" => Ok(Role::Viewer),
            "staff" => Ok(Role::Staff),
            "director" => Ok(Role::Director),
            "academy" => Ok(Role::Academy),
            other => Err(Error::invalid(format!(
                "rôle « {other} » inconnu : viewer, staff, director ou academy"
            ))),
        }
    }

    /// The role as people read it.
    pub fn fr(self) -> &'static str {
        match self {
            Role::Viewer => "consultation",
            Role::Staff => "équipe",
            Role::Director => "direction",
            Role::Academy => "équipe académique",
        }
    }

    /// Whether this role may do what `needed` names.
    pub fn allows(self, needed: Need) -> bool {
        match needed {
            Need::Read => true,
            Need::Staff => self >= Role::Staff,
            Need::Director => self >= Role::Director,
            Need::Academy => self == Role::Academy,
        }
    }
}

/// A role key (`director`) as people read it; unknown keys as they are.
pub fn role_fr(key: &str) -> &str {
    Role::parse(key).map(Role::fr).unwrap_or(key)
}

/// What an API call requires of its caller.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Need {
    Read,
    Staff,
    Director,
    Academy,
}

/// The authenticated user of one request.
#[derive(Debug, Clone)]
pub struct Caller {
    pub token_id: String,
    pub role: Role,
}

impl Caller {
    /// PermissionDenied unless the caller's role allows `needed`.
    pub fn require(&self, needed: Need) -> Result<()> {
        if self.role.allows(needed) {
            return Ok(());
        }
        let what = match needed {
            Need::Read => "lire",
            Need::Staff => "enregistrer des sorties, retours et événements",
            Need::Director => "faire les écritures du site",
            Need::Academy => "faire les écritures de l'équipe académique",
        };
        Err(Error::denied(format!(
            "le rôle {} ne permet pas de {what}",
            self.role.as_str()
        )))
    }
}

/// The caller of a request that went through [`Tokens::interceptor`].
pub fn caller<T>(request: &Request<T>) -> std::result::Result<Caller, Status> {
    request
        .extensions()
        .get::<Caller>()
        .cloned()
        .ok_or_else(|| Status::unauthenticated("jeton manquant"))
}

/// Checks the caller of `request` against `needed`.
pub fn require<T>(request: &Request<T>, needed: Need) -> std::result::Result<Caller, Status> {
    let c = caller(request)?;
    c.require(needed)?;
    Ok(c)
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct TokenRecord {
    pub id: String,
    pub name: String,
    pub role: Role,
    pub created_at: String,
    pub revoked_at: Option<String>,
}

fn hash(token: &str) -> String {
    hex::encode(Sha256::digest(token.as_bytes()))
}

/// The node's tokens, over its store.
#[derive(Clone)]
pub struct Tokens {
    store: Arc<dyn Store>,
}

impl Tokens {
    pub fn new(store: Arc<dyn Store>) -> Tokens {
        Tokens { store }
    }

    /// Creates a token; returns it (shown once) and its record.
    pub async fn create(&self, role: Role, name: &str) -> Result<(String, TokenRecord)> {
        let name = crate::domain::optional_text("name", name, 100)?;
        let token = format!("mlg_{}", hex::encode(rand::random::<[u8; 32]>()));
        let record = TokenRecord {
            id: crate::base::new_id("tok"),
            name,
            role,
            created_at: crate::domain::now_rfc3339(),
            revoked_at: None,
        };
        self.put(&hash(&token), &record)?;
        self.store.flush().await?;
        Ok((token, record))
    }

    fn put(&self, hash: &str, r: &TokenRecord) -> Result<()> {
        let bytes = serde_json::to_vec(r).map_err(|e| Error::Internal(e.to_string()))?;
        self.store.put_meta(&format!("{PREFIX}{hash}"), &bytes)?;
        Ok(())
    }

    fn entries(&self) -> Result<Vec<(String, TokenRecord)>> {
        let mut out = Vec::new();
        for (k, v) in self.store.scan_meta(PREFIX)? {
            let r: TokenRecord =
                serde_json::from_slice(&v).map_err(|e| Error::Internal(e.to_string()))?;
            out.push((k[PREFIX.len()..].to_string(), r));
        }
        Ok(out)
    }

    pub fn list(&self) -> Result<Vec<TokenRecord>> {
        let mut list: Vec<TokenRecord> = self.entries()?.into_iter().map(|(_, r)| r).collect();
        list.sort_by(|a, b| a.created_at.cmp(&b.created_at).then(a.id.cmp(&b.id)));
        Ok(list)
    }

    pub async fn revoke(&self, id: &str) -> Result<TokenRecord> {
        let (h, mut r) = self
            .entries()?
            .into_iter()
            .find(|(_, r)| r.id == id)
            .ok_or_else(|| Error::not_found(format!("jeton {id} introuvable")))?;
        if r.revoked_at.is_some() {
            return Err(Error::precondition(format!(
                "le jeton {id} est déjà révoqué"
            )));
        }
        r.revoked_at = Some(crate::domain::now_rfc3339());
        self.put(&h, &r)?;
        self.store.flush().await?;
        Ok(r)
    }

    /// The caller a bearer token stands for.
    pub fn authenticate(&self, token: &str) -> std::result::Result<Caller, Status> {
        let key = format!("{PREFIX}{}", hash(token));
        let record = self
            .store
            .get_meta(&key)
            .map_err(|e| Status::internal(e.to_string()))?
            .and_then(|v| serde_json::from_slice::<TokenRecord>(&v).ok())
            .ok_or_else(|| Status::unauthenticated("jeton inconnu"))?;
        if record.revoked_at.is_some() {
            return Err(Status::unauthenticated("jeton révoqué"));
        }
        Ok(Caller {
            token_id: record.id,
            role: record.role,
        })
    }

    /// A tonic interceptor that authenticates every request.
    pub fn interceptor(
        &self,
    ) -> impl FnMut(Request<()>) -> std::result::Result<Request<()>, Status> + Clone {
        let tokens = self.clone();
        move |mut req: Request<()>| {
            let header = req
                .metadata()
                .get("authorization")
                .ok_or_else(|| {
                    Status::unauthenticated(
                        "jeton manquant : passez --token, MAILLAGE_TOKEN ou --dir DOSSIER",
                    )
                })?
                .to_str()
                .map_err(|_| Status::unauthenticated("en-tête authorization illisible"))?;
            let token = header.strip_prefix("Bearer ").ok_or_else(|| {
                Status::unauthenticated("attendu : authorization: Bearer <jeton>")
            })?;
            let caller = tokens.authenticate(token.trim())?;
            req.extensions_mut().insert(caller);
            Ok(req)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::storage::MemoryStore;

    #[tokio::test]
    async fn tokens_are_hashed_checked_and_revoked() {
        let store = Arc::new(MemoryStore::default());
        let tokens = Tokens::new(store.clone());
        let (t, r) = tokens.create(Role::Staff, "accueil").await.unwrap();
        assert!(t.starts_with("mlg_"));
        let stored = store.scan_meta(PREFIX).unwrap();
        assert!(
            !String::from_utf8_lossy(&stored[0].1).contains(&t),
            "only a hash is stored"
        );
        assert_eq!(tokens.authenticate(&t).unwrap().role, Role::Staff);
        assert!(tokens.authenticate("mlg_nope").is_err());
        tokens.revoke(&r.id).await.unwrap();
        assert_eq!(
            tokens.authenticate(&t).unwrap_err().code(),
            tonic::Code::Unauthenticated
        );
        assert!(tokens.revoke(&r.id).await.is_err());
    }

    #[test]
    fn role_order() {
        assert!(Role::Viewer.allows(Need::Read));
        assert!(!Role::Viewer.allows(Need::Staff));
        assert!(Role::Staff.allows(Need::Staff));
        assert!(!Role::Staff.allows(Need::Director));
        assert!(Role::Director.allows(Need::Director));
        assert!(!Role::Director.allows(Need::Academy));
        assert!(Role::Academy.allows(Need::Director));
    }
}
