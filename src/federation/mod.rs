//! Federation: one long-lived gRPC bidirectional stream per pair of nodes.
//!
//! - [`session`]: the protocol run on each stream, the same on both sides.
//! - [`dial`]: dialing configured peers, with backoff and jitter.
//! - this file: the shared context, the registry of live sessions (one per peer
//!   site) and the peer status shown by `maillage status`.

pub mod core;
pub mod dial;
pub mod session;

use std::collections::{BTreeMap, HashMap};
use std::pin::Pin;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use tokio::sync::{mpsc, Notify};
use tokio_stream::wrappers::ReceiverStream;
use tokio_stream::{Stream, StreamExt};
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;
use tonic::{Request, Response, Status, Streaming};

use crate::config::FederationConfig;
use crate::docs::Docs;
use crate::pb;
use crate::tls::NodeTls;

/// Version of the federation protocol; sessions refuse any other.
/// Version 2: sync messages may be deflated (`SyncMessage.deflated`), and
/// carry only the signatures the receiver checks.
pub const PROTOCOL_VERSION: u32 = 2;
/// Frames buffered towards one peer before the session waits.
pub const OUT_CAP: usize = 64;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Direction {
    Outbound,
    Inbound,
}

impl Direction {
    pub fn as_str(self) -> &'static str {
        match self {
            Direction::Outbound => "outbound",
            Direction::Inbound => "inbound",
        }
    }
}

/// What `status` shows of a peer.
#[derive(Debug, Clone, Default)]
pub struct PeerStatus {
    pub address: String,
    pub site: String,
    pub direction: String,
    pub connected: bool,
    pub last_sync: Option<chrono::DateTime<chrono::Utc>>,
    pub last_error: String,
    pub bytes_sent: u64,
    pub bytes_received: u64,
}

/// The sessions this node refused from one peer (the peer broke the
/// protocol or the registry refuses it): what the network page shows.
#[derive(Debug, Clone, Default)]
pub struct Refusals {
    pub count: u64,
    pub last_reason: String,
    pub last_at: Option<chrono::DateTime<chrono::Utc>>,
}

/// Peers whose refusals are kept; past it, refusals of new peers are only
/// counted in `refused_sessions` (a peer could invent addresses).
pub const MAX_REFUSED_PEERS: usize = 1024;
/// Longest reason kept for a refusal, in characters.
pub const MAX_REFUSAL_REASON: usize = 500;

struct Live {
    id: u64,
    /// Site of the node that dialed this session.
    dialer: String,
    cancel: CancellationToken,
}

/// State shared by every session, dialer and the federation service.
pub struct Federation {
    pub(crate) site: String,
    pub(crate) role: String,
    pub(crate) docs: Docs,
    pub(crate) cfg: FederationConfig,
    /// Certificates for mutual TLS with peers; `None` with `insecure`.
    pub(crate) tls: Option<NodeTls>,
    /// Our TLS connector for dialing peers (with `tls`).
    pub(crate) dialer: Option<crate::tls::Dialer>,
    /// Bytes on the sockets this node dialed (TLS and HTTP/2 included).
    pub socket_bytes: Arc<crate::tls::SocketBytes>,
    pub(crate) shutdown: CancellationToken,
    pub(crate) tracker: TaskTracker,
    live: Mutex<HashMap<String, Live>>,
    /// Keyed by dial address for outbound peers, by `site:<id>` for inbound ones.
    peers: Mutex<BTreeMap<String, PeerStatus>>,
    next_id: AtomicU64,
    /// Sessions closed because the peer broke the protocol.
    pub(crate) refused_sessions: AtomicU64,
    /// The same, by peer: its certified or claimed site, else `(address)`.
    refusals: Mutex<BTreeMap<String, Refusals>>,
    /// Sync messages set aside because a change could not be accepted yet.
    pub(crate) withheld_messages: AtomicU64,
    /// Sync messages set aside because they exceeded a bound of this node.
    pub(crate) limited_messages: AtomicU64,
    /// Woken whenever a session ends, so dialers waiting on it can proceed.
    pub(crate) session_ended: Notify,
    /// Addresses with a dial loop, so that config and registry never dial one twice.
    dialing: Mutex<std::collections::HashSet<String>>,
    /// When each site last showed it is reachable (it dialed us, or a peer
    /// relayed new changes of its document), for dial loops waiting to redial.
    heard: Mutex<HashMap<String, tokio::time::Instant>>,
    /// Woken on every [`Federation::heard_from`].
    pub(crate) heard_notify: Notify,
}

impl Federation {
    pub fn new(
        site: String,
        role: String,
        docs: Docs,
        cfg: FederationConfig,
        tls: Option<NodeTls>,
        shutdown: CancellationToken,
        tracker: TaskTracker,
    ) -> anyhow::Result<Arc<Federation>> {
        let dialer = tls.as_ref().map(crate::tls::Dialer::new).transpose()?;
        Ok(Arc::new(Federation {
            site,
            role,
            docs,
            cfg,
            tls,
            dialer,
            socket_bytes: Default::default(),
            shutdown,
            tracker,
            live: Mutex::new(HashMap::new()),
            peers: Mutex::new(BTreeMap::new()),
            next_id: AtomicU64::new(1),
            refused_sessions: AtomicU64::new(0),
            refusals: Mutex::new(BTreeMap::new()),
            withheld_messages: AtomicU64::new(0),
            limited_messages: AtomicU64::new(0),
            session_ended: Notify::new(),
            dialing: Mutex::new(Default::default()),
            heard: Mutex::new(HashMap::new()),
            heard_notify: Notify::new(),
        }))
    }

    /// Registers a session with `peer`. With two sessions between the same pair
    /// (both dialed at once), both sides keep the one dialed by the smaller site id.
    /// Returns the session id and its cancellation token, or `None` if refused.
    fn register(&self, peer: &str, direction: Direction) -> Option<(u64, CancellationToken)> {
        let dialer = match direction {
            Direction::Outbound => self.site.clone(),
            Direction::Inbound => peer.to_string(),
        };
        let preferred = std::cmp::min(self.site.as_str(), peer).to_string();
        let mut live = self.live.lock().unwrap();
        if let Some(existing) = live.get(peer) {
            if existing.dialer == dialer || dialer == preferred {
                existing.cancel.cancel();
            } else {
                return None;
            }
        }
        let id = self.next_id.fetch_add(1, Ordering::Relaxed);
        let cancel = self.shutdown.child_token();
        live.insert(
            peer.to_string(),
            Live {
                id,
                dialer,
                cancel: cancel.clone(),
            },
        );
        Some((id, cancel))
    }

    /// Persists the sync state of `doc` with `peer`, unless session `id` was
    /// replaced by another one with that peer meanwhile.
    pub(crate) fn save_sync_state_if_live(
        &self,
        peer: &str,
        id: u64,
        doc: &str,
        state: &automerge::sync::State,
    ) {
        let live = self.live.lock().unwrap();
        if live.get(peer).is_some_and(|l| l.id == id) {
            let _ = self.docs.save_sync_state(peer, doc, state);
        }
    }

    fn unregister(&self, peer: &str, id: u64) {
        let mut live = self.live.lock().unwrap();
        if live.get(peer).is_some_and(|l| l.id == id) {
            live.remove(peer);
        }
        drop(live);
        self.session_ended.notify_waiters();
    }

    /// Claims `address` for a dial loop; false if one already runs.
    /// `site` showed it is reachable again: a dial loop waiting to redial it
    /// tries at once instead of sleeping out its backoff.
    pub(crate) fn heard_from(&self, site: &str) {
        self.heard
            .lock()
            .unwrap()
            .insert(site.to_string(), tokio::time::Instant::now());
        self.heard_notify.notify_waiters();
    }

    /// Whether `site` was heard from after `t`.
    pub(crate) fn heard_since(&self, site: &str, t: tokio::time::Instant) -> bool {
        self.heard
            .lock()
            .unwrap()
            .get(site)
            .is_some_and(|h| *h >= t)
    }

    pub(crate) fn claim_dial(&self, address: &str) -> bool {
        self.dialing.lock().unwrap().insert(address.to_string())
    }

    /// The registry entry of `site`, if the network document has one.
    pub fn registered(&self, site: &str) -> Option<crate::domain::registry::SiteEntry> {
        self.docs
            .read(crate::base::NETWORK_DOC, |d| {
                crate::domain::registry::get(d, site)
            })
            .and_then(|r| r.ok())
            .flatten()
    }

    /// Whether `site`, whose node presented `cert`, may hold a session, by the
    /// registry: not revoked, its entry readable, and its certificate bearing
    /// the key the academy registered (a certificate of a replaced key is
    /// thereby refused). Fails closed: an unreadable registry admits only
    /// academy certificates, so that the academy can still repair it.
    pub(crate) fn check_peer_registration(
        &self,
        site: &str,
        cert: Option<&crate::tls::PeerIdentity>,
    ) -> Result<(), String> {
        core::check_registration(&self.docs, site, cert)
    }

    /// Ends every open session, as a dropped link would; the dialers redial.
    pub fn drop_sessions(&self) {
        for live in self.live.lock().unwrap().values() {
            live.cancel.cancel();
        }
    }

    /// Whether the registry revoked `site`.
    pub fn is_revoked(&self, site: &str) -> bool {
        self.registered(site).is_some_and(|e| e.is_revoked())
    }

    /// Whether the registry revoked the site whose node listens at `address`.
    pub(crate) fn is_revoked_endpoint(&self, address: &str) -> bool {
        if let Some(site) = self.site_at(address) {
            if self.is_revoked(&site) {
                return true;
            }
        }
        self.docs
            .read(crate::base::NETWORK_DOC, crate::domain::registry::all)
            .and_then(|r| r.ok())
            .is_some_and(|all| {
                all.values()
                    .any(|e| e.endpoint == address && e.is_revoked())
            })
    }

    /// Follows the registry: dials every enrolled site with an endpoint, and
    /// closes sessions with revoked sites.
    pub fn watch_registry(fed: Arc<Federation>) {
        let tracker = fed.tracker.clone();
        tracker.spawn(async move {
            let mut changes = fed.docs.subscribe();
            loop {
                fed.apply_registry();
                tokio::select! {
                    _ = fed.shutdown.cancelled() => return,
                    changed = changes.recv() => match changed {
                        Ok(id) if id != crate::base::NETWORK_DOC => continue,
                        Err(tokio::sync::broadcast::error::RecvError::Closed) => return,
                        _ => {}
                    },
                }
            }
        });
    }

    fn apply_registry(self: &Arc<Self>) {
        let Some(Ok(all)) = self
            .docs
            .read(crate::base::NETWORK_DOC, crate::domain::registry::all)
        else {
            return;
        };
        for (site, entry) in all {
            if site == self.site {
                continue;
            }
            if entry.is_revoked() {
                if let Some(live) = self.live.lock().unwrap().get(&site) {
                    tracing::warn!(peer = %site, "site révoqué : session fermée");
                    live.cancel.cancel();
                }
            } else if !entry.endpoint.is_empty() {
                dial::spawn(self.clone(), entry.endpoint.clone());
            }
        }
    }

    pub fn is_connected(&self, peer: &str) -> bool {
        self.live.lock().unwrap().contains_key(peer)
    }

    pub fn connected_peers(&self) -> Vec<String> {
        self.live.lock().unwrap().keys().cloned().collect()
    }

    pub(crate) fn update_peer(&self, key: &str, f: impl FnOnce(&mut PeerStatus)) {
        let mut peers = self.peers.lock().unwrap();
        let p = peers.entry(key.to_string()).or_default();
        f(p);
    }

    /// Records a session refused from `peer` (see [`Refusals`]).
    pub(crate) fn record_refusal(&self, peer: &str, reason: &str) {
        let mut all = self.refusals.lock().unwrap();
        if !all.contains_key(peer) && all.len() >= MAX_REFUSED_PEERS {
            return;
        }
        let r = all.entry(peer.to_string()).or_default();
        r.count += 1;
        r.last_reason = reason.chars().take(MAX_REFUSAL_REASON).collect();
        r.last_at = Some(chrono::Utc::now());
    }

    /// The sessions refused so far, by peer.
    pub fn refusals(&self) -> BTreeMap<String, Refusals> {
        self.refusals.lock().unwrap().clone()
    }

    /// The site last seen at a dial address, if any.
    pub(crate) fn site_at(&self, address: &str) -> Option<String> {
        self.peers
            .lock()
            .unwrap()
            .get(address)
            .map(|p| p.site.clone())
            .filter(|s| !s.is_empty())
    }

    /// Status of every peer, configured or not: one row per site once known,
    /// whichever addresses and directions its sessions had (a site dialed
    /// at its configured address and at its registered endpoint is one peer).
    pub fn peer_statuses(&self) -> Vec<PeerStatus> {
        let peers = self.peers.lock().unwrap();
        let live = self.live.lock().unwrap();
        let mut by_site: BTreeMap<String, PeerStatus> = BTreeMap::new();
        let mut unknown: Vec<PeerStatus> = Vec::new();
        for (key, p) in peers.iter() {
            let mut row = p.clone();
            if key.starts_with("site:") {
                row.address.clear();
            }
            if p.site.is_empty() {
                unknown.push(row);
                continue;
            }
            row.connected = live.contains_key(&p.site);
            match by_site.get_mut(&p.site) {
                None => {
                    by_site.insert(p.site.clone(), row);
                }
                Some(merged) => {
                    if merged.address.is_empty() {
                        merged.address = row.address.clone();
                    }
                    if row.last_sync > merged.last_sync {
                        merged.last_sync = row.last_sync;
                        merged.direction = row.direction.clone();
                    }
                    if merged.last_error.is_empty() {
                        merged.last_error = row.last_error.clone();
                    }
                    merged.bytes_sent += row.bytes_sent;
                    merged.bytes_received += row.bytes_received;
                }
            }
        }
        // A dial address not answered yet that the registry names as a
        // site's endpoint is that site's row.
        let endpoints: HashMap<String, String> = self
            .docs
            .read(crate::base::NETWORK_DOC, crate::domain::registry::all)
            .and_then(|r| r.ok())
            .unwrap_or_default()
            .into_iter()
            .filter(|(_, e)| !e.endpoint.is_empty())
            .map(|(site, e)| (e.endpoint, site))
            .collect();
        for mut row in unknown {
            match endpoints.get(&row.address) {
                Some(site) if by_site.contains_key(site) => {
                    let merged = by_site.get_mut(site).expect("checked");
                    if merged.address.is_empty() {
                        merged.address = row.address.clone();
                    }
                    if merged.last_error.is_empty() && !merged.connected {
                        merged.last_error = row.last_error.clone();
                    }
                }
                Some(site) => {
                    row.site = site.clone();
                    by_site.insert(site.clone(), row);
                }
                None => {
                    by_site.insert(format!("\u{0}{}", row.address), row);
                }
            }
        }
        let rows: Vec<PeerStatus> = by_site.into_values().collect();
        rows
    }
}

/// The gRPC service other nodes dial.
pub struct FederationService {
    fed: Arc<Federation>,
}

impl FederationService {
    pub fn new(fed: Arc<Federation>) -> Self {
        FederationService { fed }
    }
}

type FrameStream = Pin<Box<dyn Stream<Item = Result<pb::Frame, Status>> + Send>>;

#[tonic::async_trait]
impl pb::federation_server::Federation for FederationService {
    type SyncStream = FrameStream;

    async fn sync(
        &self,
        request: Request<Streaming<pb::Frame>>,
    ) -> Result<Response<Self::SyncStream>, Status> {
        if self.fed.shutdown.is_cancelled() {
            return Err(Status::unavailable("le nœud s'arrête"));
        }
        let remote = request
            .remote_addr()
            .map(|a| a.to_string())
            .unwrap_or_default();
        // With TLS, the peer's certificate names the only site it may claim.
        let certified = match &self.fed.tls {
            None => None,
            Some(_) => {
                let id = request
                    .peer_certs()
                    .and_then(|certs| certs.first().and_then(|c| crate::tls::peer_identity(c)))
                    .ok_or_else(|| Status::unauthenticated("certificat du pair absent"))?;
                Some(id)
            }
        };
        let incoming = request.into_inner();
        let (tx, rx) = mpsc::channel(OUT_CAP);
        let fed = self.fed.clone();
        self.fed.tracker.spawn(async move {
            session::run(fed, Direction::Inbound, remote, certified, incoming, tx).await;
        });
        Ok(Response::new(Box::pin(ReceiverStream::new(rx).map(Ok))))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn refused_sessions_are_kept_by_peer_with_the_last_reason_and_bounded() {
        let docs = Docs::open(
            Arc::new(crate::storage::MemoryStore::default()),
            "rectorat",
            10,
            crate::trust::Trust::ephemeral(),
        )
        .unwrap();
        let fed = Federation::new(
            "rectorat".into(),
            "academy".into(),
            docs,
            FederationConfig::default(),
            None,
            CancellationToken::new(),
            TaskTracker::new(),
        )
        .unwrap();
        fed.record_refusal("metz", "le site metz a été révoqué");
        fed.record_refusal("metz", &"x".repeat(MAX_REFUSAL_REASON + 10));
        let r = &fed.refusals()["metz"];
        assert_eq!(r.count, 2);
        assert_eq!(r.last_reason.chars().count(), MAX_REFUSAL_REASON);
        assert!(r.last_at.is_some());
        for i in 0..MAX_REFUSED_PEERS + 5 {
            fed.record_refusal(&format!("(127.0.0.1:{i})"), "trame vide");
        }
        let all = fed.refusals();
        assert_eq!(all.len(), MAX_REFUSED_PEERS, "bounded");
        fed.record_refusal("metz", "encore");
        assert_eq!(fed.refusals()["metz"].count, 3, "known peers still counted");
    }
}
