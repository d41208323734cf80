//! Signed changes: who may write which document, and how a node checks it for
//! every change it accepts, whichever peer relays it.
//!
//! - Every change a node commits is signed with its site's Ed25519 key: the
//!   signature covers the document id and the change's hash. Signatures travel
//!   with the changes in `SyncMessage` and are stored next to them, so that any
//!   node can relay them.
//! - The author of a change is the site named by its actor id (`<site>.<random>`).
//!   `site/X` may be written by site X only, `network` by academy sites only,
//!   `action/…` by its participants (any other site may only join or leave it:
//!   see `docs::verify`).
//! - A site's key is anchored by the network's CA: the node certificate binds the
//!   site, its role and its Ed25519 key (`urn:maillage:key:…`, `urn:maillage:role:…`),
//!   and each node publishes its certificate in its own site document. Any node
//!   holding the CA certificate can thus check any site's key, from data that
//!   arrives with the documents themselves.
//! - Hashes chain: a change's hash covers its dependencies. So, of the changes a
//!   message brings (queued ones included), only each author's newest ones carry
//!   and need a signature; they vouch for that author's changes beneath them. The
//!   cost is a handful of signature checks per message, whatever its size.
//! - A site revoked by the academy keeps the changes that were made before its
//!   revocation (the registry records the heads the academy held: the cutoff);
//!   anything else it wrote is refused. A key the academy replaced is valid
//!   likewise beneath the cutoff recorded with it.
//! - Outcomes: what no honest node sends is [`Refusal::Forged`] (the session
//!   ends); what an honest node may relay but this node cannot accept now is
//!   [`Refusal::Withheld`]; a bound exceeded is [`Refusal::Limit`]. Neither of
//!   the last two accuses the peer.

use std::collections::HashMap;
use std::sync::Mutex;

use automerge::{ActorId, AutoCommit, ChangeHash, ReadDoc, ROOT};
use ed25519_dalek::{Signer, SigningKey, Verifier, VerifyingKey};
use sha2::{Digest, Sha256};

use crate::base::{is_slug, Sig, MAX_CHANGES_PER_MESSAGE};

/// Root keys of a site document that anchor the site's key.
pub const CERTIFICATE_KEY: &str = "certificate";
pub const PUBLIC_KEY_KEY: &str = "public_key";

/// Why a sync message was not applied.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Refusal {
    /// A change that no honest node sends: a bad signature, an author without
    /// the right to write the document. The session ends.
    #[error("modification falsifiée : {0}")]
    Forged(String),
    /// A change this node cannot accept now, which an honest node may still
    /// relay: written by a revoked site after its revocation, or with a
    /// replaced key after its replacement; by a site whose certificate (or a
    /// valid one) or registry entry has not reached this node yet; arrived
    /// without the signature it needs. Nothing is applied; the peer is not
    /// accused.
    #[error("modification écartée : {0}")]
    Withheld(String),
    /// A bound of this node exceeded (changes per message, queued changes):
    /// honest peers may hit it too. Nothing is applied; the peer is not
    /// accused, and the document is tried again in a later session.
    #[error("message trop grand : {0}")]
    Limit(String),
}

/// The bytes a site signs for a change of a document.
pub fn payload(doc: &str, hash: &ChangeHash) -> Vec<u8> {
    let mut p = Vec::with_capacity(24 + doc.len() + 32);
    p.extend_from_slice(b"maillage/change/v1\0");
    p.extend_from_slice(doc.as_bytes());
    p.push(0);
    p.extend_from_slice(&hash.0);
    p
}

/// The site that authored a change, from its actor id (`<site>.<random>`).
pub fn author_of(actor: &ActorId) -> Option<String> {
    let bytes = actor.to_bytes();
    let dot = bytes.iter().position(|&b| b == b'.')?;
    let site = std::str::from_utf8(&bytes[..dot]).ok()?;
    is_slug(site).then(|| site.to_string())
}

/// A site's verified key and role.
#[derive(Debug, Clone)]
pub struct Anchor {
    pub key: VerifyingKey,
    pub academy: bool,
}

/// The node's signing key and what it trusts.
pub struct Trust {
    signer: SigningKey,
    /// DER of the network CA's certificate; `None` on an insecure node, which
    /// then takes the keys that sites publish at their word.
    ca_der: Option<Vec<u8>>,
    pub max_changes: usize,
    /// Certificates already checked, by hash of their PEM text.
    checked: Mutex<HashMap<[u8; 32], Result<crate::tls::Certified, String>>>,
}

impl Trust {
    pub fn new(signer: SigningKey, ca_der: Option<Vec<u8>>, max_changes: usize) -> Trust {
        Trust {
            signer,
            ca_der,
            max_changes,
            checked: Mutex::new(HashMap::new()),
        }
    }

    /// A throwaway key and no CA: for in-memory documents in tests.
    pub fn ephemeral() -> Trust {
        Trust::new(
            SigningKey::from_bytes(&rand::random::<[u8; 32]>()),
            None,
            MAX_CHANGES_PER_MESSAGE,
        )
    }

    pub fn public_key_hex(&self) -> String {
        hex::encode(self.signer.verifying_key().to_bytes())
    }

    pub fn sign(&self, doc: &str, hash: &ChangeHash) -> Sig {
        self.signer.sign(&payload(doc, hash)).to_bytes()
    }

    pub fn has_ca(&self) -> bool {
        self.ca_der.is_some()
    }

    /// The anchor of `site`, from its site document `doc`.
    pub fn anchor(&self, site: &str, doc: &AutoCommit) -> Result<Anchor, Refusal> {
        if self.ca_der.is_none() {
            let key = text(doc, PUBLIC_KEY_KEY)
                .and_then(|k| hex::decode(k.trim()).ok())
                .and_then(|b| <[u8; 32]>::try_from(b).ok())
                .and_then(|b| VerifyingKey::from_bytes(&b).ok())
                .ok_or_else(|| {
                    Refusal::Withheld(format!("le site {site} n'a pas encore publié sa clé"))
                })?;
            let academy = crate::domain::site::read_profile(doc)
                .map(|p| p.role == "academy")
                .unwrap_or(false);
            return Ok(Anchor { key, academy });
        }
        let pem = text(doc, CERTIFICATE_KEY).ok_or_else(|| {
            Refusal::Withheld(format!(
                "le site {site} n'a pas encore publié son certificat"
            ))
        })?;
        self.anchor_of_certificate(site, &pem)
    }

    /// The anchor that the certificate `pem` gives `site`, checked as a
    /// certificate published in the site's document is: issued by the
    /// network's CA, valid now, for that site. Without a CA (an insecure
    /// node) no certificate can be checked: it is refused.
    pub fn anchor_of_certificate(&self, site: &str, pem: &str) -> Result<Anchor, Refusal> {
        let Some(ca) = &self.ca_der else {
            return Err(Refusal::Withheld(
                "ce nœud ne détient pas le certificat de l'autorité du réseau : il ne peut vérifier aucun certificat".into(),
            ));
        };
        let id: [u8; 32] = Sha256::digest(pem.as_bytes()).into();
        let checked = {
            let cached = self.checked.lock().unwrap().get(&id).cloned();
            match cached {
                Some(c) => c,
                None => {
                    let c = crate::tls::certified(ca, pem).map_err(|e| e.to_string());
                    self.checked.lock().unwrap().insert(id, c.clone());
                    c
                }
            }
        };
        let cert = checked.map_err(|e| {
            Refusal::Forged(format!("certificat publié par le site {site} refusé : {e}"))
        })?;
        // Time-dependent, so neither cached nor held against the relay: an
        // honest node may have taken these changes while it was valid.
        cert.valid_now().map_err(|e| {
            Refusal::Withheld(format!(
                "certificat du site {site} : {e} ; ses modifications attendent un certificat renouvelé"
            ))
        })?;
        if cert.site != site {
            return Err(Refusal::Forged(format!(
                "le document du site {site} publie le certificat du site {}",
                cert.site
            )));
        }
        let key = VerifyingKey::from_bytes(&cert.key).map_err(|_| {
            Refusal::Forged(format!(
                "le certificat du site {site} porte une clé invalide"
            ))
        })?;
        Ok(Anchor {
            key,
            academy: cert.academy,
        })
    }

    /// Checks `sig` as `site`'s signature of change `hash` of `doc`.
    pub fn verify(
        anchor: &Anchor,
        site: &str,
        doc: &str,
        hash: &ChangeHash,
        sig: Option<&Sig>,
    ) -> Result<(), Refusal> {
        let sig = sig.ok_or_else(|| {
            Refusal::Forged(format!(
                "modification {hash} de {doc} attribuée à {site} sans signature"
            ))
        })?;
        anchor
            .key
            .verify(
                &payload(doc, hash),
                &ed25519_dalek::Signature::from_bytes(sig),
            )
            .map_err(|_| {
                Refusal::Forged(format!(
                    "modification {hash} de {doc} : la signature n'est pas celle de {site}"
                ))
            })
    }
}

fn text(doc: &AutoCommit, key: &str) -> Option<String> {
    match doc.get(ROOT, key).ok().flatten()? {
        (automerge::Value::Scalar(s), _) => match s.as_ref() {
            automerge::ScalarValue::Str(t) => Some(t.to_string()),
            _ => None,
        },
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn authors_come_from_actor_ids() {
        assert_eq!(
            author_of(&ActorId::from(b"metz-borny.12345678".to_vec())).as_deref(),
            Some("metz-borny")
        );
        assert_eq!(author_of(&ActorId::from(b"no-dot".to_vec())), None);
        assert_eq!(author_of(&ActorId::from(b"Bad!.1".to_vec())), None);
        assert_eq!(author_of(&ActorId::from(vec![0xff, b'.', 1])), None);
    }

    #[test]
    fn signatures_bind_document_and_change() {
        let t = Trust::ephemeral();
        let anchor = Anchor {
            key: t.signer.verifying_key(),
            academy: false,
        };
        let h = ChangeHash([3; 32]);
        let sig = t.sign("site/a", &h);
        assert!(Trust::verify(&anchor, "a", "site/a", &h, Some(&sig)).is_ok());
        assert!(Trust::verify(&anchor, "a", "site/b", &h, Some(&sig)).is_err());
        assert!(Trust::verify(&anchor, "a", "site/a", &ChangeHash([4; 32]), Some(&sig)).is_err());
        assert!(Trust::verify(&anchor, "a", "site/a", &h, None).is_err());
    }

    /// A site document publishing an expired certificate: its changes are
    /// set aside (an honest relay took them while it was valid), not forged.
    #[test]
    fn an_expired_certificate_withholds_changes() {
        use automerge::transaction::Transactable;
        use time::{Duration, OffsetDateTime};

        let ca = tempfile::tempdir().unwrap();
        let node = tempfile::tempdir().unwrap();
        crate::tls::ca_init(ca.path()).unwrap();
        let site_key = hex::encode(SigningKey::from_bytes(&[7; 32]).verifying_key().to_bytes());
        crate::tls::node_request(node.path(), "thionville", "academy", &site_key).unwrap();
        let csr = std::fs::read_to_string(node.path().join(crate::tls::NODE_CSR)).unwrap();
        let now = OffsetDateTime::now_utc();
        let expired = crate::tls::ca_sign_for(
            ca.path(),
            &csr,
            true,
            now - Duration::days(900),
            now - Duration::days(1),
        )
        .unwrap()
        .pem;
        let valid = crate::tls::ca_sign(ca.path(), &csr, true).unwrap().pem;
        let ca_pem = std::fs::read_to_string(ca.path().join(crate::tls::CA_CERT)).unwrap();
        let ca_der = crate::tls::pem_der(&ca_pem).unwrap();

        let trust = Trust::new(SigningKey::from_bytes(&[1; 32]), Some(ca_der), 10);
        let mut doc = AutoCommit::new();
        doc.put(ROOT, CERTIFICATE_KEY, expired.as_str()).unwrap();
        match trust.anchor("thionville", &doc) {
            Err(Refusal::Withheld(r)) => assert!(r.contains("validité"), "{r}"),
            other => panic!("expected the changes set aside, got {other:?}"),
        }
        doc.put(ROOT, CERTIFICATE_KEY, valid.as_str()).unwrap();
        assert!(trust.anchor("thionville", &doc).is_ok());
    }
}
