//! People's accounts on one node: for the web interface.
//!
//! Accounts are personal data of the site and never leave the node: they live
//! in the store's `meta` tree (`account/<email>`), not in any replicated
//! document. An account has the roles of the API tokens ([`Role`]); its
//! password is kept as an Argon2id hash. It is created without a password:
//! `maillage user add` gives a one-time link whose secret, valid for
//! [`SETUP_VALIDITY`], lets the person choose one; a director's reset gives a
//! new link. Repeated wrong passwords lock the account for [`LOCKOUT`].

use std::sync::Arc;
use std::time::Duration;

use argon2::password_hash::{PasswordHasher, PasswordVerifier};
use argon2::Argon2;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::auth::Role;
use crate::error::{Error, Result};
use crate::storage::Store;

const PREFIX: &str = "account/";
/// How long a one-time link to choose a password stays valid.
pub const SETUP_VALIDITY: Duration = Duration::from_secs(7 * 24 * 3600);
/// Wrong passwords in a row that lock an account.
pub const MAX_FAILURES: u32 = 5;
/// How long a locked account stays locked.
pub const LOCKOUT: Duration = Duration::from_secs(15 * 60);
pub const MIN_PASSWORD: usize = 10;
const MAX_PASSWORD: usize = 256;

/// One person's account, as stored.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct Account {
    pub email: String,
    pub name: String,
    pub role: Role,
    /// Argon2id, PHC string; `None` until the person chooses a password.
    pub password_hash: Option<String>,
    pub disabled: bool,
    pub failures: u32,
    pub locked_until: Option<DateTime<Utc>>,
    pub created_at: DateTime<Utc>,
    pub password_set_at: Option<DateTime<Utc>>,
    /// SHA-256 of the pending one-time secret, and until when it is valid;
    /// a new link replaces the previous one.
    #[serde(default)]
    pub setup_hash: Option<String>,
    #[serde(default)]
    pub setup_expires: Option<DateTime<Utc>>,
}

impl Account {
    pub fn is_locked(&self, now: DateTime<Utc>) -> bool {
        self.locked_until.is_some_and(|t| now < t)
    }
}

/// Why a login failed. The message never says whether the address exists.
#[derive(Debug, Clone, PartialEq)]
pub enum LoginRefused {
    /// Wrong address or password (or no password chosen yet).
    Wrong,
    /// Locked after too many failures, until then.
    Locked(DateTime<Utc>),
    Disabled,
}

impl std::fmt::Display for LoginRefused {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            LoginRefused::Wrong => write!(f, "adresse ou mot de passe incorrect"),
            LoginRefused::Locked(until) => write!(
                f,
                "trop d'essais manqués : compte bloqué jusqu'à {}",
                crate::domain::time::fr_instant(&until.to_rfc3339())
            ),
            LoginRefused::Disabled => write!(
                f,
                "ce compte est désactivé : adressez-vous à la direction du site"
            ),
        }
    }
}

fn hash_secret(secret: &str) -> String {
    hex::encode(Sha256::digest(secret.as_bytes()))
}

/// An e-mail address as a key: trimmed, lowercase, and plausible.
pub fn normalize_email(email: &str) -> Result<String> {
    let e = email.trim().to_lowercase();
    let plausible = e.len() <= 254
        && e.split_once('@').is_some_and(|(user, domain)| {
            !user.is_empty() && domain.contains('.') && !domain.starts_with('.')
        })
        && !e.chars().any(|c| c.is_whitespace() || c == '/');
    if plausible {
        Ok(e)
    } else {
        Err(Error::invalid(format!(
            "adresse électronique « {} » invalide : attendu prenom.nom@ac-nancy-metz.fr par exemple",
            email.trim()
        )))
    }
}

fn check_password(password: &str) -> Result<()> {
    let n = password.chars().count();
    if n < MIN_PASSWORD {
        return Err(Error::invalid(format!(
            "mot de passe trop court : {MIN_PASSWORD} caractères au moins"
        )));
    }
    if n > MAX_PASSWORD {
        return Err(Error::invalid(format!(
            "mot de passe trop long : {MAX_PASSWORD} caractères au plus"
        )));
    }
    Ok(())
}

/// The node's accounts, over its store.
#[derive(Clone)]
pub struct Accounts {
    store: Arc<dyn Store>,
}

impl Accounts {
    pub fn new(store: Arc<dyn Store>) -> Accounts {
        Accounts { store }
    }

    fn get(&self, email: &str) -> Result<Option<Account>> {
        match self.store.get_meta(&format!("{PREFIX}{email}"))? {
            None => Ok(None),
            Some(v) => serde_json::from_slice(&v)
                .map(Some)
                .map_err(|e| Error::Internal(format!("compte {email} illisible : {e}"))),
        }
    }

    fn put(&self, a: &Account) -> Result<()> {
        let bytes = serde_json::to_vec(a).map_err(|e| Error::Internal(e.to_string()))?;
        self.store
            .put_meta(&format!("{PREFIX}{}", a.email), &bytes)?;
        Ok(())
    }

    /// The account of `email`, or NotFound.
    pub fn find(&self, email: &str) -> Result<Account> {
        let email = normalize_email(email)?;
        self.get(&email)?
            .ok_or_else(|| Error::not_found(format!("aucun compte pour {email}")))
    }

    /// Every account, by name.
    pub fn list(&self) -> Result<Vec<Account>> {
        let mut out = Vec::new();
        for (k, v) in self.store.scan_meta(PREFIX)? {
            let a: Account = serde_json::from_slice(&v)
                .map_err(|e| Error::Internal(format!("compte {k} illisible : {e}")))?;
            out.push(a);
        }
        out.sort_by_cached_key(|a| (crate::domain::fold_for_search(&a.name), a.email.clone()));
        Ok(out)
    }

    /// Gives `a` a new one-time secret (stored as a hash), replacing any other.
    fn new_setup(a: &mut Account, now: DateTime<Utc>) -> String {
        let secret = hex::encode(rand::random::<[u8; 32]>());
        a.setup_hash = Some(hash_secret(&secret));
        a.setup_expires = Some(now + chrono::Duration::from_std(SETUP_VALIDITY).expect("a week"));
        secret
    }

    /// Creates an account without a password; returns it and the one-time
    /// secret that lets its owner choose one (shown once).
    pub async fn add(&self, email: &str, name: &str, role: Role) -> Result<(Account, String)> {
        let email = normalize_email(email)?;
        let name = crate::domain::required_text("name", name, 100)?;
        if self.get(&email)?.is_some() {
            return Err(Error::precondition(format!(
                "un compte existe déjà pour {email}"
            )));
        }
        let now = Utc::now();
        let mut account = Account {
            email: email.clone(),
            name,
            role,
            password_hash: None,
            disabled: false,
            failures: 0,
            locked_until: None,
            created_at: now,
            password_set_at: None,
            setup_hash: None,
            setup_expires: None,
        };
        let secret = Self::new_setup(&mut account, now);
        self.put(&account)?;
        self.store.flush().await?;
        Ok((account, secret))
    }

    /// A new one-time link for `email` (forgotten password, or a link that
    /// expired); the current password stops working, and a lock is lifted.
    pub async fn reset(&self, email: &str) -> Result<(Account, String)> {
        let mut a = self.find(email)?;
        a.password_hash = None;
        a.failures = 0;
        a.locked_until = None;
        let secret = Self::new_setup(&mut a, Utc::now());
        self.put(&a)?;
        self.store.flush().await?;
        Ok((a, secret))
    }

    /// The account a one-time secret opens, if it is still valid.
    pub fn setup_account(&self, secret: &str) -> Result<Account> {
        let hash = hash_secret(secret.trim());
        let now = Utc::now();
        self.list()?
            .into_iter()
            .find(|a| {
                a.setup_hash.as_deref() == Some(hash.as_str())
                    && a.setup_expires.is_some_and(|t| now <= t)
            })
            .ok_or_else(|| {
                Error::not_found(
                    "lien invalide ou expiré : demandez un nouveau lien à la direction du site",
                )
            })
    }

    /// Sets the password chosen through a one-time link, and spends the link.
    pub async fn set_password(&self, secret: &str, password: &str) -> Result<Account> {
        check_password(password)?;
        let mut a = self.setup_account(secret)?;
        if a.disabled {
            return Err(Error::precondition(LoginRefused::Disabled.to_string()));
        }
        a.password_hash = Some(hash_password(password)?);
        a.password_set_at = Some(Utc::now());
        a.failures = 0;
        a.locked_until = None;
        a.setup_hash = None;
        a.setup_expires = None;
        self.put(&a)?;
        self.store.flush().await?;
        Ok(a)
    }

    /// Changes the password of a logged-in person, who gives the current one.
    pub async fn change_password(&self, email: &str, current: &str, new: &str) -> Result<()> {
        self.login(email, current, Utc::now())
            .await
            .map_err(|e| Error::denied(e.to_string()))?;
        check_password(new)?;
        let mut a = self.find(email)?;
        a.password_hash = Some(hash_password(new)?);
        a.password_set_at = Some(Utc::now());
        self.put(&a)?;
        self.store.flush().await?;
        Ok(())
    }

    /// Checks a login at `now`; counts failures and locks after
    /// [`MAX_FAILURES`]. A locked account refuses even the right password.
    pub async fn login(
        &self,
        email: &str,
        password: &str,
        now: DateTime<Utc>,
    ) -> std::result::Result<Account, LoginRefused> {
        let internal = |_| LoginRefused::Wrong;
        let email = normalize_email(email).map_err(|_| LoginRefused::Wrong)?;
        let Some(mut a) = self.get(&email).map_err(internal)? else {
            // As long as a real check, so that timing does not tell which
            // addresses have an account.
            let _ = verify_password(password, &DUMMY_HASH);
            return Err(LoginRefused::Wrong);
        };
        if a.disabled {
            return Err(LoginRefused::Disabled);
        }
        if let Some(until) = a.locked_until.filter(|t| now < *t) {
            return Err(LoginRefused::Locked(until));
        }
        let ok = a
            .password_hash
            .as_deref()
            .is_some_and(|h| verify_password(password, h));
        if ok {
            if a.failures > 0 || a.locked_until.is_some() {
                a.failures = 0;
                a.locked_until = None;
                self.put(&a).map_err(internal)?;
                self.store.flush().await.map_err(|_| LoginRefused::Wrong)?;
            }
            return Ok(a);
        }
        a.failures += 1;
        let locked = a.failures >= MAX_FAILURES;
        if locked {
            a.failures = 0;
            a.locked_until = Some(now + chrono::Duration::from_std(LOCKOUT).expect("minutes"));
        }
        self.put(&a).map_err(internal)?;
        self.store.flush().await.map_err(|_| LoginRefused::Wrong)?;
        match a.locked_until {
            Some(until) if locked => Err(LoginRefused::Locked(until)),
            _ => Err(LoginRefused::Wrong),
        }
    }

    /// Disables an account: it can no longer log in (sessions end with it).
    pub async fn disable(&self, email: &str) -> Result<Account> {
        let mut a = self.find(email)?;
        if a.disabled {
            return Err(Error::precondition(format!(
                "le compte {} est déjà désactivé",
                a.email
            )));
        }
        a.disabled = true;
        self.put(&a)?;
        self.store.flush().await?;
        Ok(a)
    }

    /// Enables a disabled account again.
    pub async fn enable(&self, email: &str) -> Result<Account> {
        let mut a = self.find(email)?;
        a.disabled = false;
        self.put(&a)?;
        self.store.flush().await?;
        Ok(a)
    }
}

/// An Argon2id hash of a password, as a PHC string.
fn hash_password(password: &str) -> Result<String> {
    Argon2::default()
        .hash_password(password.as_bytes())
        .map(|h| h.to_string())
        .map_err(|e| Error::Internal(format!("hachage du mot de passe : {e}")))
}

fn verify_password(password: &str, hash: &str) -> bool {
    Argon2::default()
        .verify_password(password.as_bytes(), hash)
        .is_ok()
}

/// The hash of a password nobody has, checked when an address is unknown.
static DUMMY_HASH: std::sync::LazyLock<String> = std::sync::LazyLock::new(|| {
    hash_password(&hex::encode(rand::random::<[u8; 16]>())).unwrap_or_default()
});

#[cfg(test)]
mod tests {
    use super::*;
    use crate::storage::MemoryStore;

    fn accounts() -> (Arc<MemoryStore>, Accounts) {
        let store = Arc::new(MemoryStore::default());
        (store.clone(), Accounts::new(store))
    }

    #[tokio::test]
    async fn a_one_time_link_sets_the_password_once() {
        let (store, accounts) = accounts();
        let (a, secret) = accounts
            .add(
                " Claire.Martin@ac-nancy-metz.fr ",
                "Claire Martin",
                Role::Director,
            )
            .await
            .unwrap();
        assert_eq!(a.email, "claire.martin@ac-nancy-metz.fr");
        assert!(a.password_hash.is_none());
        let stored = store.scan_meta("").unwrap();
        assert!(
            stored
                .iter()
                .all(|(k, v)| !k.contains(&secret) && !String::from_utf8_lossy(v).contains(&secret)),
            "only a hash of the link is stored"
        );
        let now = Utc::now();
        assert_eq!(
            accounts.login(&a.email, "nimportequoi", now).await,
            Err(LoginRefused::Wrong),
            "no password yet"
        );
        assert!(matches!(
            accounts.set_password(&secret, "court").await,
            Err(Error::InvalidArgument(_))
        ));
        accounts
            .set_password(&secret, "correct horse battery")
            .await
            .unwrap();
        let stored = store
            .get_meta(&format!("{PREFIX}{}", a.email))
            .unwrap()
            .unwrap();
        let text = String::from_utf8_lossy(&stored);
        assert!(
            text.contains("$argon2id$") && !text.contains("correct horse"),
            "{text}"
        );
        let me = accounts
            .login(
                "CLAIRE.martin@ac-nancy-metz.fr",
                "correct horse battery",
                now,
            )
            .await
            .unwrap();
        assert_eq!(me.role, Role::Director);
        assert!(
            accounts
                .set_password(&secret, "un autre mot de passe")
                .await
                .is_err(),
            "a link is spent once used"
        );
        assert!(matches!(
            accounts
                .add("claire.martin@ac-nancy-metz.fr", "C", Role::Staff)
                .await,
            Err(Error::FailedPrecondition(_))
        ));
        assert!(matches!(
            accounts.add("pas une adresse", "X", Role::Staff).await,
            Err(Error::InvalidArgument(_))
        ));
    }

    #[tokio::test]
    async fn five_wrong_passwords_lock_the_account() {
        let (_, accounts) = accounts();
        let (a, secret) = accounts
            .add("agent@ac-nancy-metz.fr", "Agent", Role::Staff)
            .await
            .unwrap();
        accounts
            .set_password(&secret, "le bon mot de passe")
            .await
            .unwrap();
        let now = Utc::now();
        for _ in 1..MAX_FAILURES {
            assert_eq!(
                accounts.login(&a.email, "mauvais mot de passe", now).await,
                Err(LoginRefused::Wrong)
            );
        }
        let locked = accounts.login(&a.email, "mauvais mot de passe", now).await;
        assert!(matches!(locked, Err(LoginRefused::Locked(_))), "{locked:?}");
        assert!(
            matches!(
                accounts.login(&a.email, "le bon mot de passe", now).await,
                Err(LoginRefused::Locked(_))
            ),
            "locked, even with the right password"
        );
        let later =
            now + chrono::Duration::from_std(LOCKOUT).unwrap() + chrono::Duration::seconds(1);
        assert!(accounts
            .login(&a.email, "le bon mot de passe", later)
            .await
            .is_ok());
        // A director's reset lifts a lock and voids the password.
        let (_, again) = accounts.reset(&a.email).await.unwrap();
        assert_eq!(
            accounts.login(&a.email, "le bon mot de passe", later).await,
            Err(LoginRefused::Wrong)
        );
        accounts
            .set_password(&again, "un nouveau mot de passe")
            .await
            .unwrap();
        assert!(accounts
            .login(&a.email, "un nouveau mot de passe", later)
            .await
            .is_ok());
    }

    #[tokio::test]
    async fn a_disabled_account_cannot_log_in() {
        let (_, accounts) = accounts();
        let (a, secret) = accounts
            .add("ancien@ac-nancy-metz.fr", "Ancien", Role::Viewer)
            .await
            .unwrap();
        accounts
            .set_password(&secret, "mot de passe solide")
            .await
            .unwrap();
        accounts.disable(&a.email).await.unwrap();
        assert_eq!(
            accounts
                .login(&a.email, "mot de passe solide", Utc::now())
                .await,
            Err(LoginRefused::Disabled)
        );
        assert!(accounts.disable(&a.email).await.is_err());
        accounts.enable(&a.email).await.unwrap();
        assert!(accounts
            .login(&a.email, "mot de passe solide", Utc::now())
            .await
            .is_ok());
        assert_eq!(accounts.list().unwrap().len(), 1);
    }
}
