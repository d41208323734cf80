//! The sans-IO core of a federation session: the protocol as a state machine
//! that takes the peer's frames, the node's change notices and the time, and
//! returns the frames to send and the effects to carry out. It holds no
//! socket, no tonic type, no clock and no task: time comes in as an argument
//! (milliseconds on the driver's clock, [`Core::hello`], [`Core::on_time`],
//! [`Core::deadline`]), and [`Core::goodbye`] says what the peer is told when
//! the session ends. [`super::session`] drives it over a gRPC stream, and
//! [`crate::sim`] drives many of them over a simulated network.
//!
//! 1. Both send `Hello` (protocol, site, role, network digest); each checks
//!    the other's ([`Core::on_hello`]).
//! 2. If the digests differ, both send `DocDigests` (document → hash of heads),
//!    then start Automerge sync for every document whose hash differs.
//!    Equal digests cost one small frame each way, whatever the number of documents.
//! 3. Live: every sync message received is verified, applied and answered;
//!    every change announced by the node's documents (local or relayed from
//!    another peer) is pushed at once.
//!
//! A peer that breaks the protocol (invalid document id, a change that does
//! not apply, a forged change) makes a step fail with
//! [`SessionError::Protocol`]: nothing of the offending message is applied and
//! the session ends. A message this node cannot accept now, or that exceeds
//! one of its bounds, is set aside instead ([`Refusal`]): nothing of it is
//! applied, the document waits, and the session goes on.

use std::collections::{BTreeMap, BTreeSet, HashMap};

use automerge::sync;

use super::session::SessionError;
use super::PROTOCOL_VERSION;
use crate::base::{is_slug, parse_doc_id, NETWORK_DOC};
use crate::docs::{Docs, ReceiveError};
use crate::pb::{self, frame::Body};
use crate::trust::Refusal;

/// Messages shorter than this are sent as they are: deflating them would not
/// pay for its header.
const DEFLATE_FROM: usize = 1024;
/// A deflated message may expand to at most this many times the frame limit.
const INFLATE_RATIO: usize = 8;

/// The bounds a session holds its peer to.
#[derive(Debug, Clone)]
pub struct Limits {
    /// Documents a peer may announce.
    pub max_documents: usize,
    /// Signatures (so changes vouched for) one message may carry.
    pub max_changes_per_message: usize,
    /// Bytes of one frame; a deflated message inflates to at most
    /// [`INFLATE_RATIO`] times this.
    pub max_frame_bytes: usize,
    /// Milliseconds the whole handshake (Hello, then digests) may take from
    /// this node's Hello: a peer that dribbles frames cannot hold a session
    /// open without syncing.
    pub handshake_ms: u64,
}

impl Limits {
    pub fn of(cfg: &crate::config::FederationConfig) -> Limits {
        Limits {
            max_documents: cfg.max_documents,
            max_changes_per_message: cfg.max_changes_per_message,
            max_frame_bytes: cfg.max_frame_bytes,
            handshake_ms: cfg.handshake_timeout_ms,
        }
    }
}

/// What the driver of a session carries out after a step.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Effect {
    /// The peer and this node now share `doc` as far as [`Core::sync_state`]
    /// says: persist it, so that the next session starts from there.
    Shared(String),
    /// New changes of `site`'s document arrived through this peer: that site
    /// is reachable again (its dial loop may redial at once).
    HeardFrom(String),
    /// `doc` is set aside for the rest of the session (not accusing the peer).
    SetAside { doc: String, refusal: Refusal },
    /// Documents set aside are tried again: their reasons no longer hold.
    Retrying,
    /// A sync message was received and handled.
    Synced,
}

/// The output of one step: frames to send, in order, then effects.
#[derive(Debug, Default)]
pub struct Step {
    pub send: Vec<Body>,
    pub effects: Vec<Effect>,
}

impl Step {
    fn merge(&mut self, other: Step) {
        self.send.extend(other.send);
        self.effects.extend(other.effects);
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Phase {
    /// Waiting for the peer's Hello.
    Hello,
    /// Hello checked; the driver registers the session, then calls `open`.
    Identified,
    /// Digests sent, waiting for the peer's.
    Digests,
    Live,
}

/// One side of a session with one peer.
pub struct Core {
    docs: Docs,
    site: String,
    role: String,
    limits: Limits,
    phase: Phase,
    peer: String,
    our_digest: [u8; 32],
    their_digest: Vec<u8>,
    states: HashMap<String, sync::State>,
    /// Documents whose last message from this peer could not be accepted yet
    /// (see [`Refusal::Withheld`]); retried when a site or the network changes.
    withheld: BTreeSet<String>,
    /// Whether the peer holds the `network` document (the registry): until
    /// it has arrived here, only what verifies it is taken from this peer.
    peer_has_registry: bool,
    /// When the handshake must be over, on the driver's clock (ms).
    handshake_deadline: u64,
}

impl Core {
    pub fn new(docs: Docs, site: &str, role: &str, limits: Limits) -> Core {
        Core {
            docs,
            site: site.to_string(),
            role: role.to_string(),
            limits,
            phase: Phase::Hello,
            peer: String::new(),
            our_digest: [0; 32],
            their_digest: Vec::new(),
            states: HashMap::new(),
            withheld: BTreeSet::new(),
            peer_has_registry: false,
            handshake_deadline: u64::MAX,
        }
    }

    /// The peer's site, once its Hello was accepted.
    pub fn peer(&self) -> &str {
        &self.peer
    }

    /// Whether the handshake (Hello, digests) is still under way.
    pub fn in_handshake(&self) -> bool {
        self.phase != Phase::Live
    }

    /// The time (ms, on the clock given to [`Core::hello`]) at which the
    /// driver must call [`Core::on_time`], if any: the end of the handshake's
    /// allowance while it is under way.
    pub fn deadline(&self) -> Option<u64> {
        self.in_handshake().then_some(self.handshake_deadline)
    }

    /// The time is now `now` (ms): a handshake still under way past its
    /// allowance ends the session.
    pub fn on_time(&mut self, now: u64) -> Result<(), SessionError> {
        if self.in_handshake() && now >= self.handshake_deadline {
            return Err(SessionError::Protocol(
                "poignée de main non terminée à temps".into(),
            ));
        }
        Ok(())
    }

    /// The frame that tells the peer why the session ends, if it should be
    /// told: its protocol fault, a duplicate session, or this node closing it
    /// (`reason`).
    pub fn goodbye(end: &SessionError, closing: &str) -> Option<Body> {
        let reason = match end {
            SessionError::Protocol(r) => r.clone(),
            SessionError::Duplicate => "session déjà ouverte avec ce site".into(),
            SessionError::Shutdown => closing.to_string(),
            _ => return None,
        };
        Some(Body::Goodbye(pb::Goodbye { reason }))
    }

    /// The documents set aside in this session.
    pub fn withheld(&self) -> &BTreeSet<String> {
        &self.withheld
    }

    /// This node's Hello, sent first by both sides, at `now` (ms on the
    /// driver's clock): the handshake must be over by `now` plus
    /// [`Limits::handshake_ms`].
    pub fn hello(&mut self, now: u64) -> Body {
        self.handshake_deadline = now.saturating_add(self.limits.handshake_ms);
        self.our_digest = self.docs.network_digest();
        Body::Hello(pb::Hello {
            protocol: PROTOCOL_VERSION,
            site: self.site.clone(),
            role: self.role.clone(),
            digest: self.our_digest.to_vec(),
        })
    }

    /// Checks the peer's first frame, its Hello, against what the transport
    /// proved: `certified` is the identity its TLS certificate carries, and
    /// `tls` whether this node requires one. On success the peer is known
    /// ([`Core::peer`]); the driver checks its registration, registers the
    /// session, then calls [`Core::open`].
    pub fn on_hello(
        &mut self,
        body: Body,
        certified: Option<&crate::tls::PeerIdentity>,
        tls: bool,
    ) -> Result<(), SessionError> {
        let hello = match body {
            Body::Hello(h) => h,
            Body::Goodbye(g) => return Err(SessionError::Closed(g.reason)),
            _ => return Err(SessionError::Protocol("Hello attendu en premier".into())),
        };
        if self.phase != Phase::Hello {
            return Err(SessionError::Protocol("Hello en double".into()));
        }
        if hello.protocol != PROTOCOL_VERSION {
            return Err(SessionError::Protocol(format!(
                "version de protocole {} non prise en charge (attendu {PROTOCOL_VERSION})",
                hello.protocol
            )));
        }
        if !is_slug(&hello.site) || hello.site == self.site {
            return Err(SessionError::Protocol(format!(
                "identifiant de site invalide : « {} »",
                hello.site.escape_debug()
            )));
        }
        // Both directions: the peer's certificate (checked by the TLS
        // handshake against the network's CA) names the only site it may be.
        if let Some(cert) = certified {
            if cert.site != hello.site {
                return Err(SessionError::Protocol(format!(
                    "le pair se présente comme « {} » mais son certificat est celui de « {} »",
                    hello.site.escape_debug(),
                    cert.site
                )));
            }
            if hello.role == "academy" && !cert.academy {
                return Err(SessionError::Protocol(format!(
                    "le pair « {} » se présente comme académique mais son certificat est celui d'un site",
                    hello.site
                )));
            }
        } else if tls {
            return Err(SessionError::Protocol("certificat du pair absent".into()));
        }
        self.peer = hello.site;
        self.their_digest = hello.digest;
        self.phase = Phase::Identified;
        Ok(())
    }

    /// Starts syncing once the session is registered: with equal digests,
    /// every document is recorded as shared; otherwise this side's digests
    /// go out and the peer's are awaited.
    pub fn open(&mut self) -> Step {
        assert_eq!(self.phase, Phase::Identified, "open after on_hello");
        let mut step = Step::default();
        if self.their_digest.as_slice() == self.our_digest {
            // Same state everywhere: record it as shared, so that `network
            // status` knows this peer holds every document as we do.
            let now = self.docs.heads_and_digests();
            let digest = crate::docs::network_digest_of(now.iter().map(|(id, (_, h))| (id, h)));
            if digest == self.our_digest {
                for (id, (heads, _)) in now {
                    self.agree(&id, heads, &mut step);
                }
                self.docs.confirm(&crate::base::site_doc(&self.site));
            }
            self.phase = Phase::Live;
            step.effects.push(Effect::Synced);
        } else {
            let docs = self
                .docs
                .digests()
                .into_iter()
                .map(|(id, h)| pb::DocDigest {
                    doc: id,
                    heads_hash: h.to_vec(),
                })
                .collect();
            step.send.push(Body::Digests(pb::DocDigests { docs }));
            self.phase = Phase::Digests;
        }
        step
    }

    /// Handles one frame of the peer after its Hello.
    pub fn on_frame(&mut self, body: Body) -> Result<Step, SessionError> {
        match (self.phase, body) {
            (_, Body::Goodbye(g)) => Err(SessionError::Closed(g.reason)),
            (Phase::Hello | Phase::Identified, _) => {
                Err(SessionError::Protocol("Hello attendu en premier".into()))
            }
            (Phase::Digests, Body::Digests(d)) => self.on_digests(d),
            (Phase::Digests, _) => Err(SessionError::Protocol("DocDigests attendu".into())),
            (Phase::Live, Body::Sync(m)) => self.on_sync(m),
            (Phase::Live, Body::Hello(_)) => Err(SessionError::Protocol("Hello en double".into())),
            (Phase::Live, Body::Digests(_)) => {
                Err(SessionError::Protocol("DocDigests inattendu".into()))
            }
        }
    }

    /// Document `id` changed on this node (a local write, or changes
    /// received from any peer): push what the peer lacks.
    pub fn on_changed(&mut self, id: &str) -> Step {
        let mut step = Step::default();
        if self.phase != Phase::Live {
            // The digests exchange will cover it.
            return step;
        }
        if id.starts_with("site/") || id == NETWORK_DOC {
            step.merge(self.retry_withheld());
        }
        self.push(id, &mut step);
        step
    }

    /// Change notices were lost (the driver's queue overflowed): push every
    /// document.
    pub fn on_lagged(&mut self) -> Step {
        let mut step = Step::default();
        if self.phase != Phase::Live {
            return step;
        }
        for id in self.docs.ids() {
            self.push(&id, &mut step);
        }
        step
    }

    /// The sync state of `doc` with this peer, as it stands.
    pub fn sync_state(&mut self, doc: &str) -> &sync::State {
        self.state(doc)
    }

    fn on_digests(&mut self, theirs: pb::DocDigests) -> Result<Step, SessionError> {
        if theirs.docs.len() > self.limits.max_documents {
            return Err(SessionError::Protocol(format!(
                "{} documents annoncés, au plus {} acceptés",
                theirs.docs.len(),
                self.limits.max_documents
            )));
        }
        let mut theirs_map = BTreeMap::new();
        for d in theirs.docs {
            if parse_doc_id(&d.doc).is_none() {
                return Err(SessionError::Protocol(format!(
                    "identifiant de document inconnu : « {} »",
                    d.doc.escape_debug()
                )));
            }
            theirs_map.insert(d.doc, d.heads_hash);
        }
        let mut step = Step::default();
        let now = self.docs.heads_and_digests();
        let mut differing: Vec<String> = Vec::new();
        for (id, (_, h)) in &now {
            if theirs_map.get(id).map(|t| t.as_slice()) != Some(h.as_slice()) {
                differing.push(id.clone());
            }
        }
        for id in theirs_map.keys() {
            if !now.contains_key(id) {
                differing.push(id.clone());
            }
        }
        // Documents on which both sides agree: shared as they are now.
        let own = crate::base::site_doc(&self.site);
        for (id, (heads, hash)) in &now {
            if theirs_map.get(id).map(|t| t.as_slice()) == Some(hash.as_slice()) {
                self.agree(id, heads.clone(), &mut step);
                if *id == own {
                    self.docs.confirm(&own);
                }
            }
        }
        self.peer_has_registry = theirs_map.contains_key(NETWORK_DOC);
        // The registry first (a node that has never seen it takes nothing
        // else from a peer that holds it, but the academy site documents
        // that verify it), then site documents (they carry the sites'
        // certificates), then actions.
        differing.sort_by_key(|id| {
            let rank = if id == NETWORK_DOC {
                0
            } else if id.starts_with("site/") {
                1
            } else {
                2
            };
            (rank, id.clone())
        });
        differing.dedup();
        // A document this node does not hold at all is not pushed: the
        // peer's first message brings its heads, and the answer to it is
        // what makes the peer send the whole document, once. (Pushing it
        // too would ask for it twice: Automerge answers each message
        // showing no heads with the whole document.)
        // A document the peer does not hold at all goes whole in the
        // first message, without the round trip of heads and bloom filters
        // Automerge would otherwise start with.
        for id in differing {
            if !now.contains_key(&id) {
                continue;
            }
            if !theirs_map.contains_key(&id) {
                let st = self.state(&id);
                *st = sync::State::new();
                st.their_heads = Some(Vec::new());
                st.their_need = Some(Vec::new());
                st.their_have = Some(Vec::new());
                st.their_capabilities = Some(vec![sync::Capability::MessageV2]);
            }
            self.push(&id, &mut step);
        }
        self.phase = Phase::Live;
        step.effects.push(Effect::Synced);
        Ok(step)
    }

    fn state(&mut self, id: &str) -> &mut sync::State {
        if !self.states.contains_key(id) {
            let st = self.docs.load_sync_state(&self.peer, id);
            self.states.insert(id.to_string(), st);
        }
        self.states.get_mut(id).expect("inserted above")
    }

    /// Records that the peer holds `id` at `heads`, as we do.
    fn agree(&mut self, id: &str, heads: Vec<automerge::ChangeHash>, step: &mut Step) {
        self.state(id).shared_heads = heads;
        step.effects.push(Effect::Shared(id.to_string()));
    }

    /// Queues the next sync message for `id`, if Automerge has one.
    fn push(&mut self, id: &str, step: &mut Step) {
        if self.withheld.contains(id) {
            return;
        }
        let docs = self.docs.clone();
        let state = self.state(id);
        if let Some((data, sigs)) = docs.generate_sync(id, state) {
            let mut signatures = Vec::with_capacity(sigs.len() * 96);
            for (h, s) in sigs {
                signatures.extend_from_slice(&h.0);
                signatures.extend_from_slice(&s);
            }
            let (data, deflated) = deflate_if_it_pays(data);
            step.send.push(Body::Sync(pb::SyncMessage {
                doc: id.to_string(),
                data,
                signatures,
                deflated,
            }));
        }
    }

    /// Syncs again, from scratch, the documents withheld so far: what they
    /// waited for (a site's certificate, the registry) may have arrived.
    fn retry_withheld(&mut self) -> Step {
        let mut step = Step::default();
        if self.withheld.is_empty() {
            return step;
        }
        // Set again if the peer's next message is set aside too.
        step.effects.push(Effect::Retrying);
        for id in std::mem::take(&mut self.withheld) {
            // The peer remembers what it sent, and would not send it again:
            // ask it to forget (Automerge's reset), since none of it was kept.
            let mut fresh = sync::State::new();
            fresh.needs_reset = true;
            self.states.insert(id.clone(), fresh);
            self.push(&id, &mut step);
        }
        step
    }

    /// Sets `doc` aside for the rest of the session, without accusing the
    /// peer: a change that cannot be accepted yet (retried when what it
    /// waits for arrives), or a message over a bound of this node (an honest
    /// peer may exceed it; the document waits for a later session).
    fn set_aside(&mut self, doc: &str, refusal: Refusal) -> Step {
        self.withheld.insert(doc.to_string());
        Step {
            send: Vec::new(),
            effects: vec![Effect::SetAside {
                doc: doc.to_string(),
                refusal,
            }],
        }
    }

    fn on_sync(&mut self, m: pb::SyncMessage) -> Result<Step, SessionError> {
        if parse_doc_id(&m.doc).is_none() {
            return Err(SessionError::Protocol(format!(
                "identifiant de document inconnu : « {} »",
                m.doc.escape_debug()
            )));
        }
        if self.withheld.contains(&m.doc) {
            return Ok(Step::default());
        }
        let limit = self.limits.max_changes_per_message;
        if !m.signatures.len().is_multiple_of(96) {
            return Err(SessionError::Protocol(format!(
                "signatures mal formées dans un message pour {} (96 octets chacune)",
                m.doc
            )));
        }
        if m.signatures.len() / 96 > limit {
            let reason = format!(
                "{} signatures dans un message pour {}, au plus {limit} acceptées (max_changes_per_message)",
                m.signatures.len() / 96,
                m.doc
            );
            return Ok(self.set_aside(&m.doc, Refusal::Limit(reason)));
        }
        let sigs: Vec<_> = m
            .signatures
            .chunks_exact(96)
            .map(|c| {
                (
                    automerge::ChangeHash(c[..32].try_into().unwrap()),
                    <[u8; 64]>::try_from(&c[32..]).unwrap(),
                )
            })
            .collect();
        if m.doc == NETWORK_DOC {
            self.peer_has_registry = true;
        }
        let data = if m.deflated {
            inflate_bounded(
                &m.data,
                self.limits.max_frame_bytes.saturating_mul(INFLATE_RATIO),
            )
            .map_err(|e| {
                SessionError::Protocol(format!("message compressé illisible pour {} : {e}", m.doc))
            })?
        } else {
            m.data
        };
        let docs = self.docs.clone();
        let registry_required = self.peer_has_registry;
        let mut step = Step::default();
        let state = self.state(&m.doc);
        match docs.receive_sync(&m.doc, state, &data, &sigs, registry_required) {
            Ok(changed) => {
                // New changes of another site's document, relayed by this
                // peer: that site is reachable again.
                if changed {
                    if let Some(site) = m.doc.strip_prefix("site/") {
                        if site != self.peer && site != self.site {
                            step.effects.push(Effect::HeardFrom(site.to_string()));
                        }
                    }
                }
            }
            Err(ReceiveError::Refused(r @ (Refusal::Withheld(_) | Refusal::Limit(_)))) => {
                return Ok(self.set_aside(&m.doc, r));
            }
            Err(ReceiveError::Refused(forged @ Refusal::Forged(_))) => {
                return Err(SessionError::Protocol(format!(
                    "{} refusé : {forged}",
                    m.doc
                )));
            }
            Err(ReceiveError::Invalid(reason)) => {
                return Err(SessionError::Protocol(format!(
                    "modifications refusées pour {} : {reason}",
                    m.doc
                )));
            }
            Err(ReceiveError::Local(e)) => {
                return Err(SessionError::Transport(format!(
                    "enregistrement de {} impossible : {e}",
                    m.doc
                )));
            }
        }
        // The peer's heads of this node's own document, all held here: the
        // peer has nothing of it this node lacks.
        if m.doc == crate::base::site_doc(&self.site) {
            let theirs = self.state(&m.doc).their_heads.clone();
            if let Some(heads) = theirs {
                if !heads.is_empty() && docs.has_all(&m.doc, &heads) {
                    docs.confirm(&m.doc);
                }
            }
        }
        step.effects.push(Effect::Shared(m.doc.clone()));
        step.effects.push(Effect::Synced);
        self.push(&m.doc, &mut step);
        Ok(step)
    }
}

/// Whether `site`, whose node presented `cert`, may hold a session, by the
/// registry `docs` hold: not revoked, its entry readable, and its certificate
/// bearing the key the academy registered (a certificate of a replaced key
/// is thereby refused). Fails closed: an unreadable registry admits only
/// academy certificates, so that the academy can still repair it.
pub fn check_registration(
    docs: &Docs,
    site: &str,
    cert: Option<&crate::tls::PeerIdentity>,
) -> Result<(), String> {
    let Some(registry) = docs.read(crate::base::NETWORK_DOC, crate::domain::registry::for_trust)
    else {
        return Ok(());
    };
    let registry = match registry {
        Ok(r) => r,
        Err(e) if cert.is_some_and(|c| c.academy) => {
            tracing::warn!(reason = %e, "registre illisible : session académique admise");
            return Ok(());
        }
        Err(e) => return Err(e),
    };
    if let Some(reason) = registry.unreadable_reason(site) {
        return Err(reason);
    }
    let Some(entry) = registry.entries.get(site) else {
        return Ok(());
    };
    if entry.is_revoked() {
        return Err(format!(
            "le site {site} a été révoqué par l'équipe académique le {}",
            crate::domain::time::fr_instant(&entry.revoked_at)
        ));
    }
    if let Some(key) = cert.and_then(|c| c.key) {
        let key = hex::encode(key);
        if key != entry.public_key {
            return Err(format!(
                "le certificat du site {site} porte la clé {}…, or le registre du réseau inscrit la clé {}… : l'équipe académique corrige l'inscription (maillage site update {site} --key …) ou le site installe le certificat de sa clé actuelle",
                &key[..16],
                entry.public_key.get(..16).unwrap_or(&entry.public_key)
            ));
        }
    }
    Ok(())
}

/// Deflates `data` when that saves at least a tenth of it.
fn deflate_if_it_pays(data: Vec<u8>) -> (Vec<u8>, bool) {
    use std::io::Write;
    if data.len() < DEFLATE_FROM {
        return (data, false);
    }
    let mut e = flate2::write::DeflateEncoder::new(
        Vec::with_capacity(data.len() / 2),
        flate2::Compression::fast(),
    );
    match e.write_all(&data).and_then(|_| e.finish()) {
        Ok(small) if small.len() < data.len() - data.len() / 10 => (small, true),
        _ => (data, false),
    }
}

/// Inflates `data`, refusing anything that would exceed `limit` bytes.
fn inflate_bounded(data: &[u8], limit: usize) -> Result<Vec<u8>, String> {
    use std::io::Read;
    let mut out = Vec::new();
    flate2::read::DeflateDecoder::new(data)
        .take(limit as u64 + 1)
        .read_to_end(&mut out)
        .map_err(|e| e.to_string())?;
    if out.len() > limit {
        return Err(format!("plus de {limit} octets une fois décompressé"));
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::storage::MemoryStore;
    use crate::trust::Trust;
    use std::sync::Arc;

    fn limits(handshake_ms: u64) -> Limits {
        Limits {
            max_documents: 100,
            max_changes_per_message: 100,
            max_frame_bytes: 1 << 20,
            handshake_ms,
        }
    }

    fn docs(site: &str) -> Docs {
        Docs::open(
            Arc::new(MemoryStore::default()),
            site,
            10,
            Trust::ephemeral(),
        )
        .unwrap()
    }

    /// Time is an input: the handshake ends the session once the clock the
    /// driver gives passes its allowance, and not before; a live session has
    /// no deadline.
    #[tokio::test]
    async fn the_handshake_is_bounded_by_the_clock_given() {
        let (da, db) = (docs("a"), docs("b"));
        da.change("site/a", "t", |d| {
            use automerge::transaction::Transactable;
            d.put(automerge::ROOT, "k", "v").unwrap();
            Ok(())
        })
        .await
        .unwrap();
        let mut silent = Core::new(da.clone(), "a", "site", limits(5_000));
        silent.hello(1_000);
        assert_eq!(silent.deadline(), Some(6_000));
        assert!(silent.on_time(5_999).is_ok());
        match silent.on_time(6_000) {
            Err(SessionError::Protocol(r)) => assert!(r.contains("à temps"), "{r}"),
            other => panic!("expected the handshake to end, got {other:?}"),
        }

        let (mut a, mut b) = (
            Core::new(da, "a", "site", limits(5_000)),
            Core::new(db, "b", "site", limits(5_000)),
        );
        let (ha, hb) = (a.hello(0), b.hello(0));
        a.on_hello(hb, None, false).unwrap();
        b.on_hello(ha, None, false).unwrap();
        let (sa, sb) = (a.open(), b.open());
        // Different digests: each side waits for the other's.
        assert_eq!(a.deadline(), Some(5_000));
        for body in sb.send {
            a.on_frame(body).unwrap();
        }
        for body in sa.send {
            b.on_frame(body).unwrap();
        }
        assert_eq!((a.deadline(), b.deadline()), (None, None));
        assert!(a.on_time(u64::MAX).is_ok());
    }

    /// What the peer is told when a session ends, and when it is not told.
    #[test]
    fn goodbye_says_why_the_session_ends() {
        let says = |e: &SessionError| match Core::goodbye(e, "arrêt du nœud") {
            Some(Body::Goodbye(g)) => Some(g.reason),
            _ => None,
        };
        assert_eq!(
            says(&SessionError::Protocol("trame vide".into())).as_deref(),
            Some("trame vide")
        );
        assert_eq!(
            says(&SessionError::Duplicate).as_deref(),
            Some("session déjà ouverte avec ce site")
        );
        assert_eq!(
            says(&SessionError::Shutdown).as_deref(),
            Some("arrêt du nœud")
        );
        assert_eq!(says(&SessionError::Closed("fin du flux".into())), None);
        assert_eq!(says(&SessionError::Transport("x".into())), None);
    }

    #[test]
    fn deflate_only_when_it_pays_and_inflate_is_bounded() {
        let small = b"abc".to_vec();
        assert_eq!(deflate_if_it_pays(small.clone()), (small, false));
        let text = "Vidéoprojecteur du site de Metz ".repeat(200).into_bytes();
        let (packed, deflated) = deflate_if_it_pays(text.clone());
        assert!(deflated && packed.len() < text.len() / 4);
        assert_eq!(inflate_bounded(&packed, text.len()).unwrap(), text);
        assert!(
            inflate_bounded(&packed, text.len() - 1).is_err(),
            "bomb bound"
        );
        assert!(inflate_bounded(b"\xff\xff garbage", 1 << 20).is_err());
        let noise: Vec<u8> = (0..4096).map(|_| rand::random::<u8>()).collect();
        assert!(!deflate_if_it_pays(noise).1, "random bytes do not pay");
    }
}
