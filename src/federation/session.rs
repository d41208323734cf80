//! One federation session, run identically by the dialing and the accepting side.
//!
//! 1. Both send `Hello` (protocol, site, role, network digest).
//! 2. If the digests differ, both send `DocDigests` (document → hash of heads),
//!    then start Automerge sync for every document whose hash differs.
//!    Equal digests cost one small frame each way, whatever the number of documents.
//! 3. Live: every sync message received is applied and answered; every change
//!    announced by the node's documents (local or relayed from another peer) is
//!    pushed at once. Sync states are persisted per (peer, document).
//!
//! A peer that breaks the protocol (garbage, oversized frame, invalid document id,
//! a change that does not apply, a forged change) gets a `Goodbye` with the
//! reason; nothing of the offending message is applied and the session ends. A
//! message this node cannot accept now, or that exceeds one of its bounds, is
//! set aside instead ([`crate::trust::Refusal`]): nothing of it is applied, the
//! document waits, and the session goes on.

use std::collections::{BTreeMap, HashMap};
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::Duration;

use automerge::sync;
use prost::Message as _;
use tokio::sync::{broadcast, mpsc};
use tokio_stream::{Stream, StreamExt};
use tracing::{debug, info, warn, Instrument};

use super::{Direction, Federation, PROTOCOL_VERSION};
use crate::docs::{is_slug, parse_doc_id, ReceiveError, NETWORK_DOC};
use crate::pb::{self, frame::Body};
use crate::trust::Refusal;

#[derive(Debug, thiserror::Error)]
pub enum SessionError {
    /// The peer broke the protocol; the reason is sent to it.
    #[error("{0}")]
    Protocol(String),
    #[error("le pair a fermé la session : {0}")]
    Closed(String),
    #[error("transport : {0}")]
    Transport(String),
    #[error("session en double avec ce pair")]
    Duplicate,
    #[error("arrêt")]
    Shutdown,
}

/// Why a session ended when the stream ended without a `Goodbye`.
pub const END_OF_STREAM: &str = "fin du flux";
/// The `Goodbye` of a node that stops.
pub const NODE_STOPPING: &str = "arrêt du nœud";

impl SessionError {
    /// The session ended because the link or the peer's process went away
    /// (as against the peer refusing it): worth redialing soon.
    pub fn is_link_loss(&self) -> bool {
        match self {
            SessionError::Transport(_) => true,
            SessionError::Closed(reason) => reason == END_OF_STREAM || reason == NODE_STOPPING,
            _ => false,
        }
    }
}

type SResult<T> = Result<T, SessionError>;

struct Session<S> {
    fed: Arc<Federation>,
    peer: String,
    status_key: String,
    incoming: S,
    out: mpsc::Sender<pb::Frame>,
    states: HashMap<String, sync::State>,
    /// Id of this session once registered as the live one with `peer`.
    session_id: Option<u64>,
    /// Documents whose last message from this peer could not be accepted yet
    /// (see [`Refusal::Withheld`]); retried when a site or the network changes.
    withheld: std::collections::BTreeSet<String>,
    /// Whether the peer holds the `network` document (the registry): until
    /// it has arrived here, only what verifies it is taken from this peer.
    peer_has_registry: bool,
    /// The peer's address, to name it before its Hello.
    addr: String,
    /// The site the peer's certificate names, or else the one its Hello
    /// claims: whom a refusal of this session is recorded against.
    claimed: String,
    bytes_sent: u64,
    bytes_received: u64,
}

/// Runs a session to its end, then records how it ended.
pub async fn run<S>(
    fed: Arc<Federation>,
    direction: Direction,
    key: String,
    certified: Option<crate::tls::PeerIdentity>,
    incoming: S,
    out: mpsc::Sender<pb::Frame>,
) -> Option<SessionError>
where
    S: Stream<Item = Result<pb::Frame, tonic::Status>> + Unpin + Send,
{
    let span = tracing::info_span!("peer", addr = %key, dir = direction.as_str());
    async move {
        let changes = fed.docs.subscribe();
        let mut s = Session {
            fed: fed.clone(),
            peer: String::new(),
            status_key: match direction {
                Direction::Outbound => key.clone(),
                Direction::Inbound => String::new(),
            },
            incoming,
            out,
            states: HashMap::new(),
            session_id: None,
            withheld: Default::default(),
            peer_has_registry: false,
            addr: key.clone(),
            claimed: certified
                .as_ref()
                .map(|c| c.site.clone())
                .unwrap_or_default(),
            bytes_sent: 0,
            bytes_received: 0,
        };
        let result = s.run(direction, certified, changes).await;
        s.finish(&result);
        result.err()
    }
    .instrument(span)
    .await
}

impl<S> Session<S>
where
    S: Stream<Item = Result<pb::Frame, tonic::Status>> + Unpin + Send,
{
    async fn send(&mut self, body: Body) -> SResult<()> {
        let frame = pb::Frame { body: Some(body) };
        self.bytes_sent += frame.encoded_len() as u64;
        self.out
            .send(frame)
            .await
            .map_err(|_| SessionError::Transport("flux sortant fermé".into()))
    }

    async fn recv(&mut self) -> SResult<Body> {
        match self.incoming.next().await {
            None => Err(SessionError::Closed(END_OF_STREAM.into())),
            Some(Err(status)) => Err(match status.code() {
                tonic::Code::ResourceExhausted
                | tonic::Code::OutOfRange
                | tonic::Code::Internal => {
                    SessionError::Protocol(format!("trame refusée : {}", status.message()))
                }
                _ => SessionError::Transport(status.to_string()),
            }),
            Some(Ok(frame)) => {
                self.bytes_received += frame.encoded_len() as u64;
                frame
                    .body
                    .ok_or_else(|| SessionError::Protocol("trame vide".into()))
            }
        }
    }

    async fn recv_timeout(&mut self) -> SResult<Body> {
        let t = Duration::from_millis(self.fed.cfg.handshake_timeout_ms);
        match tokio::time::timeout(t, self.recv()).await {
            Ok(r) => r,
            Err(_) => Err(SessionError::Protocol(
                "poignée de main non terminée à temps".into(),
            )),
        }
    }

    async fn run(
        &mut self,
        direction: Direction,
        certified: Option<crate::tls::PeerIdentity>,
        mut changes: broadcast::Receiver<String>,
    ) -> SResult<()> {
        let fed = self.fed.clone();
        let our_digest = fed.docs.network_digest();
        self.send(Body::Hello(pb::Hello {
            protocol: PROTOCOL_VERSION,
            site: fed.site.clone(),
            role: fed.role.clone(),
            digest: our_digest.to_vec(),
        }))
        .await?;

        let hello = match self.recv_timeout().await? {
            Body::Hello(h) => h,
            Body::Goodbye(g) => return Err(SessionError::Closed(g.reason)),
            _ => return Err(SessionError::Protocol("Hello attendu en premier".into())),
        };
        if hello.protocol != PROTOCOL_VERSION {
            return Err(SessionError::Protocol(format!(
                "version de protocole {} non prise en charge (attendu {PROTOCOL_VERSION})",
                hello.protocol
            )));
        }
        if !is_slug(&hello.site) || hello.site == fed.site {
            return Err(SessionError::Protocol(format!(
                "identifiant de site invalide : « {} »",
                hello.site.escape_debug()
            )));
        }
        if self.claimed.is_empty() {
            self.claimed = hello.site.clone();
        }
        // Both directions: the peer's certificate (checked by the TLS
        // handshake against the network's CA) names the only site it may be.
        if let Some(cert) = &certified {
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
        } else if fed.tls.is_some() {
            return Err(SessionError::Protocol("certificat du pair absent".into()));
        }
        fed.check_peer_registration(&hello.site, certified.as_ref())
            .map_err(SessionError::Protocol)?;
        self.peer = hello.site.clone();
        if self.status_key.is_empty() {
            self.status_key = format!("site:{}", self.peer);
        }
        let Some((session_id, cancel)) = fed.register(&self.peer, direction) else {
            return Err(SessionError::Duplicate);
        };
        self.session_id = Some(session_id);
        let result = self
            .run_registered(direction, hello, our_digest, &mut changes, cancel)
            .await;
        fed.unregister(&self.peer, session_id);
        result
    }

    async fn run_registered(
        &mut self,
        direction: Direction,
        hello: pb::Hello,
        our_digest: [u8; 32],
        changes: &mut broadcast::Receiver<String>,
        cancel: tokio_util::sync::CancellationToken,
    ) -> SResult<()> {
        let fed = self.fed.clone();
        let peer = self.peer.clone();
        fed.update_peer(&self.status_key, |p| {
            p.site = peer.clone();
            p.direction = direction.as_str().into();
            p.last_error.clear();
        });
        info!(peer = %peer, "session ouverte");
        fed.heard_from(&peer);

        if hello.digest.as_slice() == our_digest {
            // Same state everywhere: record it as shared, so that `network
            // status` knows this peer holds every document as we do.
            let now = fed.docs.heads_and_digests();
            let digest = crate::docs::network_digest_of(now.iter().map(|(id, (_, h))| (id, h)));
            if digest == our_digest {
                for (id, (heads, _)) in now {
                    self.agree(&id, heads);
                }
            }
        } else {
            let ours = fed.docs.digests();
            let docs = ours
                .iter()
                .map(|(id, h)| pb::DocDigest {
                    doc: id.clone(),
                    heads_hash: h.to_vec(),
                })
                .collect();
            self.send(Body::Digests(pb::DocDigests { docs })).await?;
            let theirs = match self.recv_timeout().await? {
                Body::Digests(d) => d,
                Body::Goodbye(g) => return Err(SessionError::Closed(g.reason)),
                _ => return Err(SessionError::Protocol("DocDigests attendu".into())),
            };
            if theirs.docs.len() > fed.cfg.max_documents {
                return Err(SessionError::Protocol(format!(
                    "{} documents annoncés, au plus {} acceptés",
                    theirs.docs.len(),
                    fed.cfg.max_documents
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
            let mut differing: Vec<String> = Vec::new();
            for (id, h) in &ours {
                if theirs_map.get(id).map(|t| t.as_slice()) != Some(h.as_slice()) {
                    differing.push(id.clone());
                }
            }
            for id in theirs_map.keys() {
                if !ours.contains_key(id) {
                    differing.push(id.clone());
                }
            }
            // Documents on which both sides agree: shared as they are now.
            for (id, (heads, hash)) in fed.docs.heads_and_digests() {
                if theirs_map.get(&id).map(|t| t.as_slice()) == Some(hash.as_slice()) {
                    self.agree(&id, heads);
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
            debug!(count = differing.len(), "documents différents");
            // A document this node does not hold at all is not pushed: the
            // peer's first message brings its heads, and the answer to it is
            // what makes the peer send the whole document, once. (Pushing it
            // too would ask for it twice: Automerge answers each message
            // showing no heads with the whole document.)
            // A document the peer does not hold at all goes whole in the
            // first message, without the round trip of heads and bloom filters
            // Automerge would otherwise start with.
            for id in differing {
                if !ours.contains_key(&id) {
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
                self.push(&id).await?;
            }
        }
        self.mark_synced();

        loop {
            tokio::select! {
                _ = cancel.cancelled() => {
                    let reason = if self.fed.shutdown.is_cancelled() { NODE_STOPPING } else { "session fermée par ce nœud" };
                    let _ = self.send(Body::Goodbye(pb::Goodbye { reason: reason.into() })).await;
                    return Err(SessionError::Shutdown);
                }
                body = self.recv() => {
                    match body? {
                        Body::Sync(m) => self.on_sync(m).await?,
                        Body::Goodbye(g) => return Err(SessionError::Closed(g.reason)),
                        Body::Hello(_) => return Err(SessionError::Protocol("Hello en double".into())),
                        Body::Digests(_) => return Err(SessionError::Protocol("DocDigests inattendu".into())),
                    }
                }
                changed = changes.recv() => {
                    match changed {
                        Ok(id) => {
                            if id.starts_with("site/") || id == NETWORK_DOC {
                                self.retry_withheld().await?;
                            }
                            self.push(&id).await?
                        }
                        Err(broadcast::error::RecvError::Lagged(_)) => {
                            for id in fed.docs.ids() {
                                self.push(&id).await?;
                            }
                        }
                        Err(broadcast::error::RecvError::Closed) => return Err(SessionError::Shutdown),
                    }
                }
            }
        }
    }

    fn state(&mut self, id: &str) -> &mut sync::State {
        if !self.states.contains_key(id) {
            let st = self.fed.docs.load_sync_state(&self.peer, id);
            self.states.insert(id.to_string(), st);
        }
        self.states.get_mut(id).expect("inserted above")
    }

    /// Records that the peer holds `id` at `heads`, as we do.
    fn agree(&mut self, id: &str, heads: Vec<automerge::ChangeHash>) {
        let (fed, peer, session_id) = (self.fed.clone(), self.peer.clone(), self.session_id);
        let state = self.state(id);
        state.shared_heads = heads;
        if let Some(sid) = session_id {
            fed.save_sync_state_if_live(&peer, sid, id, state);
        }
    }

    /// Sends the next sync message for `id`, if Automerge has one.
    async fn push(&mut self, id: &str) -> SResult<()> {
        if self.withheld.contains(id) {
            return Ok(());
        }
        let docs = self.fed.docs.clone();
        let state = self.state(id);
        if let Some((data, sigs)) = docs.generate_sync(id, state) {
            let mut signatures = Vec::with_capacity(sigs.len() * 96);
            for (h, s) in sigs {
                signatures.extend_from_slice(&h.0);
                signatures.extend_from_slice(&s);
            }
            let (data, deflated) = deflate_if_it_pays(data);
            self.send(Body::Sync(pb::SyncMessage {
                doc: id.to_string(),
                data,
                signatures,
                deflated,
            }))
            .await?;
        }
        Ok(())
    }

    /// Syncs again, from scratch, the documents withheld so far: what they
    /// waited for (a site's certificate, the registry) may have arrived.
    async fn retry_withheld(&mut self) -> SResult<()> {
        if !self.withheld.is_empty() {
            // Set again below if the peer's next message is set aside too.
            self.fed
                .update_peer(&self.status_key, |p| p.last_error.clear());
        }
        for id in std::mem::take(&mut self.withheld) {
            // The peer remembers what it sent, and would not send it again:
            // ask it to forget (Automerge's reset), since none of it was kept.
            let mut fresh = sync::State::new();
            fresh.needs_reset = true;
            self.states.insert(id.clone(), fresh);
            self.push(&id).await?;
        }
        Ok(())
    }

    /// Sets `doc` aside for the rest of the session, without accusing the
    /// peer: a change that cannot be accepted yet (retried when what it
    /// waits for arrives), or a message over a bound of this node (an honest
    /// peer may exceed it; the document waits for a later session).
    fn set_aside(&mut self, doc: &str, refusal: Refusal) {
        let (counter, reason) = match refusal {
            Refusal::Limit(r) => (&self.fed.limited_messages, r),
            Refusal::Withheld(r) | Refusal::Forged(r) => (&self.fed.withheld_messages, r),
            // (Forged never comes here: it ends the session.)
        };
        warn!(peer = %self.peer, doc = %doc, %reason, "modifications mises de côté");
        counter.fetch_add(1, Ordering::Relaxed);
        self.fed
            .update_peer(&self.status_key, |p| p.last_error = reason.clone());
        self.withheld.insert(doc.to_string());
    }

    async fn on_sync(&mut self, m: pb::SyncMessage) -> SResult<()> {
        if parse_doc_id(&m.doc).is_none() {
            return Err(SessionError::Protocol(format!(
                "identifiant de document inconnu : « {} »",
                m.doc.escape_debug()
            )));
        }
        if self.withheld.contains(&m.doc) {
            return Ok(());
        }
        let limit = self.fed.cfg.max_changes_per_message;
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
            self.set_aside(&m.doc, Refusal::Limit(reason));
            return Ok(());
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
                self.fed.cfg.max_frame_bytes.saturating_mul(INFLATE_RATIO),
            )
            .map_err(|e| {
                SessionError::Protocol(format!("message compressé illisible pour {} : {e}", m.doc))
            })?
        } else {
            m.data
        };
        let docs = self.fed.docs.clone();
        let peer = self.peer.clone();
        let registry_required = self.peer_has_registry;
        let state = self.state(&m.doc);
        match docs.receive_sync(&m.doc, state, &data, &sigs, registry_required) {
            Ok(changed) => {
                // New changes of another site's document, relayed by this
                // peer: that site is reachable again, dial it now.
                if changed {
                    if let Some(site) = m.doc.strip_prefix("site/") {
                        if site != peer && site != self.fed.site {
                            self.fed.heard_from(site);
                        }
                    }
                }
            }
            Err(ReceiveError::Refused(r @ (Refusal::Withheld(_) | Refusal::Limit(_)))) => {
                self.set_aside(&m.doc, r);
                return Ok(());
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
        let session_id = self.session_id;
        let fed = self.fed.clone();
        let state = self.state(&m.doc);
        // A session replaced by a newer one with the same peer must not
        // overwrite what the newer one learnt (`network status` reads it).
        if let Some(id) = session_id {
            fed.save_sync_state_if_live(&peer, id, &m.doc, state);
        }
        self.mark_synced();
        self.push(&m.doc).await
    }

    fn mark_synced(&self) {
        let (sent, received) = (self.bytes_sent, self.bytes_received);
        self.fed.update_peer(&self.status_key, |p| {
            p.last_sync = Some(chrono::Utc::now());
            p.bytes_sent = sent;
            p.bytes_received = received;
        });
    }

    fn finish(&mut self, result: &SResult<()>) {
        if self.peer.is_empty() {
            // The peer never said who it is: name it by its address.
            self.peer = format!("({})", self.addr);
        }
        // Sync states were saved on every message received: only receiving
        // changes what they persist (the heads both sides share).
        let reason = match result {
            Ok(()) | Err(SessionError::Shutdown) => String::new(),
            Err(e) => e.to_string(),
        };
        match result {
            Err(SessionError::Protocol(r)) => {
                warn!(peer = %self.peer, reason = %r, "session fermée : le pair a enfreint le protocole");
                self.fed.refused_sessions.fetch_add(1, Ordering::Relaxed);
                let who = if self.claimed.is_empty() {
                    format!("({})", self.addr)
                } else {
                    self.claimed.clone()
                };
                self.fed.record_refusal(&who, r);
                let frame = pb::Frame {
                    body: Some(Body::Goodbye(pb::Goodbye { reason: r.clone() })),
                };
                let _ = self.out.try_send(frame);
            }
            Err(SessionError::Duplicate) => {
                debug!(peer = %self.peer, "session en double refusée");
                let frame = pb::Frame {
                    body: Some(Body::Goodbye(pb::Goodbye {
                        reason: "session déjà ouverte avec ce site".into(),
                    })),
                };
                let _ = self.out.try_send(frame);
            }
            Err(SessionError::Shutdown) | Ok(()) => info!(peer = %self.peer, "session fermée"),
            Err(e) => info!(peer = %self.peer, reason = %e, "session fermée"),
        }
        if !self.status_key.is_empty() && !matches!(result, Err(SessionError::Duplicate)) {
            let (sent, received) = (self.bytes_sent, self.bytes_received);
            self.fed.update_peer(&self.status_key, |p| {
                p.last_error = reason;
                p.bytes_sent = sent;
                p.bytes_received = received;
            });
        }
    }
}

/// Messages shorter than this are sent as they are: deflating them would not
/// pay for its header.
const DEFLATE_FROM: usize = 1024;
/// A deflated message may expand to at most this many times the frame limit.
const INFLATE_RATIO: usize = 8;

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
