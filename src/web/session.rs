//! Web sessions: a random id in the `maillage_session` cookie, the rest on
//! the server, in memory (a restart logs everyone out).
//!
//! A visitor gets an anonymous session (no person) the first time a page
//! with a form is shown, so that the login form has a CSRF token too. A
//! successful login replaces it with a new session (a new id, so that an id
//! known before login is worth nothing after it). Every session carries its
//! own CSRF token, checked on every POST.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use chrono::{DateTime, Utc};

use crate::auth::Role;

pub const COOKIE: &str = "maillage_session";
/// A logged-in session ends after this long without a request…
pub const IDLE: Duration = Duration::from_secs(2 * 3600);
/// …and in any case this long after login.
pub const ABSOLUTE: Duration = Duration::from_secs(12 * 3600);
/// An anonymous session (login form shown) lives this long.
pub const ANONYMOUS: Duration = Duration::from_secs(3600);
/// Most sessions kept at once; past it, the oldest anonymous ones go first.
pub const MAX_SESSIONS: usize = 20_000;

/// The person behind a logged-in session.
#[derive(Debug, Clone, PartialEq)]
pub struct Person {
    pub email: String,
    pub name: String,
    pub role: Role,
}

#[derive(Debug, Clone)]
pub struct Session {
    /// The credential, in the cookie only: never shown in a page.
    pub id: String,
    /// A name for the session that pages may show (« Mon compte » lists a
    /// person's sessions and closes one by it).
    pub handle: String,
    /// The browser and system, as « Firefox sous Windows ».
    pub browser: String,
    pub csrf: String,
    pub person: Option<Person>,
    pub created: DateTime<Utc>,
    pub last_seen: DateTime<Utc>,
}

impl Session {
    fn expired(&self, now: DateTime<Utc>) -> bool {
        let d = |x: Duration| chrono::Duration::from_std(x).expect("hours");
        match self.person {
            None => now > self.created + d(ANONYMOUS),
            Some(_) => now > self.last_seen + d(IDLE) || now > self.created + d(ABSOLUTE),
        }
    }
}

fn random_token() -> String {
    hex::encode(rand::random::<[u8; 32]>())
}

/// Compares two secrets in a time that does not depend on where they differ.
pub fn same_secret(a: &str, b: &str) -> bool {
    a.len() == b.len()
        && a.bytes()
            .zip(b.bytes())
            .fold(0u8, |acc, (x, y)| acc | (x ^ y))
            == 0
}

/// The node's sessions.
#[derive(Clone, Default)]
pub struct Sessions {
    inner: Arc<Mutex<HashMap<String, Session>>>,
}

impl Sessions {
    /// The live session of `id`, its last use set to `now`.
    pub fn get(&self, id: &str, now: DateTime<Utc>) -> Option<Session> {
        let mut map = self.inner.lock().expect("sessions");
        let live = map.get(id).is_some_and(|s| !s.expired(now));
        if !live {
            map.remove(id);
            return None;
        }
        let s = map.get_mut(id)?;
        s.last_seen = now;
        Some(s.clone())
    }

    /// A new session (anonymous when `person` is None) for `browser`.
    pub fn create(&self, person: Option<Person>, now: DateTime<Utc>, browser: &str) -> Session {
        let s = Session {
            id: random_token(),
            handle: hex::encode(rand::random::<[u8; 8]>()),
            browser: browser.to_string(),
            csrf: random_token(),
            person,
            created: now,
            last_seen: now,
        };
        let mut map = self.inner.lock().expect("sessions");
        if map.len() >= MAX_SESSIONS {
            map.retain(|_, s| !s.expired(now));
        }
        if map.len() >= MAX_SESSIONS {
            // Still full: drop the oldest anonymous sessions.
            let mut anon: Vec<(DateTime<Utc>, String)> = map
                .values()
                .filter(|s| s.person.is_none())
                .map(|s| (s.created, s.id.clone()))
                .collect();
            anon.sort();
            for (_, id) in anon.into_iter().take(map.len() + 1 - MAX_SESSIONS) {
                map.remove(&id);
            }
        }
        map.insert(s.id.clone(), s.clone());
        s
    }

    pub fn remove(&self, id: &str) {
        self.inner.lock().expect("sessions").remove(id);
    }

    /// Ends every session of `email` but `keep` (after a password change).
    pub fn remove_person_except(&self, email: &str, keep: &str) {
        let mut map = self.inner.lock().expect("sessions");
        map.retain(|id, s| id == keep || s.person.as_ref().is_none_or(|p| p.email != email));
    }

    /// Ends every session of `email` (account disabled, password reset).
    pub fn remove_person(&self, email: &str) {
        self.inner
            .lock()
            .expect("sessions")
            .retain(|_, s| s.person.as_ref().is_none_or(|p| p.email != email));
    }

    /// The live sessions of `email`, the most recent use first.
    pub fn of_person(&self, email: &str, now: DateTime<Utc>) -> Vec<Session> {
        let map = self.inner.lock().expect("sessions");
        let mut out: Vec<Session> = map
            .values()
            .filter(|s| !s.expired(now) && s.person.as_ref().is_some_and(|p| p.email == email))
            .cloned()
            .collect();
        out.sort_by_key(|s| std::cmp::Reverse(s.last_seen));
        out
    }

    /// Ends the session of `email` named `handle`; whether there was one.
    pub fn remove_handle(&self, email: &str, handle: &str) -> bool {
        let mut map = self.inner.lock().expect("sessions");
        let found = map
            .iter()
            .find(|(_, s)| {
                same_secret(&s.handle, handle)
                    && s.person.as_ref().is_some_and(|p| p.email == email)
            })
            .map(|(id, _)| id.clone());
        match found {
            Some(id) => map.remove(&id).is_some(),
            None => false,
        }
    }

    pub fn len(&self) -> usize {
        self.inner.lock().expect("sessions").len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

/// The `Set-Cookie` value for session `id` (`secure` under HTTPS).
pub fn set_cookie(id: &str, secure: bool) -> String {
    format!(
        "{COOKIE}={id}; HttpOnly; SameSite=Lax; Path=/{}",
        if secure { "; Secure" } else { "" }
    )
}

/// The `Set-Cookie` value that deletes the session cookie.
pub fn clear_cookie(secure: bool) -> String {
    format!(
        "{COOKIE}=; HttpOnly; SameSite=Lax; Path=/; Max-Age=0{}",
        if secure { "; Secure" } else { "" }
    )
}

/// The browser and system of a request, from its `User-Agent`, in French:
/// « Firefox sous Windows », « navigateur inconnu ».
pub fn browser_of(headers: &http::HeaderMap) -> String {
    let ua = headers
        .get(http::header::USER_AGENT)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("");
    let browser = if ua.contains("Firefox/") {
        "Firefox"
    } else if ua.contains("Edg/") {
        "Edge"
    } else if ua.contains("OPR/") {
        "Opera"
    } else if ua.contains("Chrome/") || ua.contains("Chromium/") {
        "Chrome"
    } else if ua.contains("Safari/") {
        "Safari"
    } else {
        return "navigateur inconnu".to_string();
    };
    let system = if ua.contains("Android") {
        "Android"
    } else if ua.contains("iPhone") || ua.contains("iPad") {
        "iOS"
    } else if ua.contains("Windows") {
        "Windows"
    } else if ua.contains("Mac OS X") || ua.contains("Macintosh") {
        "macOS"
    } else if ua.contains("CrOS") {
        "ChromeOS"
    } else if ua.contains("Linux") {
        "Linux"
    } else {
        return browser.to_string();
    };
    format!("{browser} sous {system}")
}

/// The session id a request's `Cookie` headers carry.
pub fn cookie_id(headers: &http::HeaderMap) -> Option<String> {
    headers
        .get_all(http::header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|kv| kv.trim().split_once('='))
        .find(|(k, v)| *k == COOKIE && !v.is_empty())
        .map(|(_, v)| v.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sessions_expire_and_end() {
        let sessions = Sessions::default();
        let now = Utc::now();
        let anon = sessions.create(None, now, "Firefox sous Linux");
        assert!(sessions.get(&anon.id, now).is_some());
        let later = now + chrono::Duration::from_std(ANONYMOUS).unwrap();
        assert!(sessions
            .get(&anon.id, later + chrono::Duration::seconds(1))
            .is_none());
        let p = Person {
            email: "a@b.fr".into(),
            name: "A".into(),
            role: Role::Staff,
        };
        let s = sessions.create(Some(p.clone()), now, "Firefox sous Linux");
        let idle = chrono::Duration::from_std(IDLE).unwrap();
        // Used regularly, it lives until the absolute limit.
        let mut t = now;
        while t + idle / 2 < now + chrono::Duration::from_std(ABSOLUTE).unwrap() {
            t += idle / 2;
            assert!(sessions.get(&s.id, t).is_some(), "{t}");
        }
        let past = t + idle / 2 + chrono::Duration::seconds(1);
        assert!(
            sessions.get(&s.id, past).is_none(),
            "past the absolute limit"
        );
        let s = sessions.create(Some(p), now, "Firefox sous Linux");
        sessions.remove_person("a@b.fr");
        assert!(sessions.get(&s.id, now).is_none());
        assert_ne!(s.id, s.csrf);
        assert!(same_secret(&s.csrf, &s.csrf.clone()));
        assert!(!same_secret(&s.csrf, &s.id));
    }

    #[test]
    fn cookies() {
        let mut h = http::HeaderMap::new();
        h.insert(
            http::header::COOKIE,
            "autre=1; maillage_session=abc; x=y".parse().unwrap(),
        );
        assert_eq!(cookie_id(&h).as_deref(), Some("abc"));
        assert!(set_cookie("abc", false).contains("HttpOnly; SameSite=Lax; Path=/"));
        assert!(!set_cookie("abc", false).contains("Secure"));
        assert!(set_cookie("abc", true).ends_with("; Secure"));
    }

    #[test]
    fn browsers_are_named() {
        let named = |ua: &str| {
            let mut h = http::HeaderMap::new();
            h.insert(http::header::USER_AGENT, ua.parse().unwrap());
            browser_of(&h)
        };
        assert_eq!(
            named(
                "Mozilla/5.0 (Windows NT 10.0; Win64; x64; rv:133.0) Gecko/20100101 Firefox/133.0"
            ),
            "Firefox sous Windows"
        );
        assert_eq!(
            named("Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) HeadlessChrome/156.0.0.0 Safari/537.36"),
            "Chrome sous Linux"
        );
        assert_eq!(
            named("Mozilla/5.0 (Macintosh; Intel Mac OS X 14_1) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.1 Safari/605.1.15"),
            "Safari sous macOS"
        );
        assert_eq!(
            named("Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Safari/537.36 Edg/131.0.0.0"),
            "Edge sous Windows"
        );
        assert_eq!(named("curl/8.0"), "navigateur inconnu");
    }

    #[test]
    fn a_person_closes_one_of_their_sessions_by_its_handle() {
        let sessions = Sessions::default();
        let now = Utc::now();
        let p = |e: &str| Person {
            email: e.into(),
            name: "A".into(),
            role: Role::Staff,
        };
        let one = sessions.create(Some(p("a@b.fr")), now, "Chrome sous Linux");
        let two = sessions.create(Some(p("a@b.fr")), now, "Firefox sous Windows");
        let other = sessions.create(Some(p("c@d.fr")), now, "Safari sous macOS");
        assert_eq!(sessions.of_person("a@b.fr", now).len(), 2);
        // Another person's handle closes nothing.
        assert!(!sessions.remove_handle("a@b.fr", &other.handle));
        assert!(sessions.get(&other.id, now).is_some());
        assert!(sessions.remove_handle("a@b.fr", &two.handle));
        assert!(sessions.get(&two.id, now).is_none());
        assert!(sessions.get(&one.id, now).is_some());
        assert_ne!(one.handle, one.id);
    }
}
