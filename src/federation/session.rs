//! One federation session over a gRPC stream, run identically by the dialing
//! and the accepting side: the protocol itself is [`super::core::Core`], a
//! state machine with no I/O; this adapter feeds it the peer's frames and the
//! node's change notices, sends what it returns, bounds the handshake in time,
//! registers the session with the [`Federation`] and records how it ended.

use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::Duration;

use prost::Message as _;
use tokio::sync::{broadcast, mpsc};
use tokio_stream::{Stream, StreamExt};
use tracing::{debug, info, warn, Instrument};

use super::core::{Core, Effect, Limits, Step};
use super::{Direction, Federation};
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

/// The transport around a [`Core`]: a gRPC stream in, a channel out, the
/// handshake's time bound, the federation's session registry and peer status.
struct Session<S> {
    fed: Arc<Federation>,
    core: Core,
    status_key: String,
    incoming: S,
    out: mpsc::Sender<pb::Frame>,
    /// Id of this session once registered as the live one with its peer.
    session_id: Option<u64>,
    /// The peer's address, to name it before its Hello.
    addr: String,
    /// The site the peer's certificate names, or else the one its Hello
    /// claims: whom a refusal of this session is recorded against.
    claimed: String,
    bytes_sent: u64,
    bytes_received: u64,
    /// The origin of the clock the core is given (milliseconds since it).
    epoch: tokio::time::Instant,
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
        // Subscribed before the Hello: no change made meanwhile is missed.
        let changes = fed.docs.subscribe();
        let core = Core::new(fed.docs.clone(), &fed.site, &fed.role, Limits::of(&fed.cfg));
        let mut s = Session {
            fed: fed.clone(),
            core,
            status_key: match direction {
                Direction::Outbound => key.clone(),
                Direction::Inbound => String::new(),
            },
            incoming,
            out,
            session_id: None,
            addr: key.clone(),
            claimed: certified
                .as_ref()
                .map(|c| c.site.clone())
                .unwrap_or_default(),
            bytes_sent: 0,
            bytes_received: 0,
            epoch: tokio::time::Instant::now(),
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

    /// Milliseconds since the session began: the core's clock.
    fn now(&self) -> u64 {
        self.epoch.elapsed().as_millis() as u64
    }

    /// The next frame, or the core's verdict once its deadline has passed.
    async fn recv_in_handshake(&mut self) -> SResult<Body> {
        loop {
            let Some(deadline) = self.core.deadline() else {
                return self.recv().await;
            };
            // Bounded so that a far deadline cannot overflow the instant.
            let at = self.epoch + Duration::from_millis(deadline.min(1 << 40));
            match tokio::time::timeout_at(at, self.recv()).await {
                Ok(r) => return r,
                Err(_) => self.core.on_time(self.now())?,
            }
        }
    }

    /// Sends a step's frames, then carries out its effects.
    async fn apply(&mut self, step: Step) -> SResult<()> {
        for body in step.send {
            self.send(body).await?;
        }
        let peer = self.core.peer().to_string();
        for effect in step.effects {
            match effect {
                Effect::Shared(doc) => {
                    // A session replaced by a newer one with the same peer
                    // must not overwrite what the newer one learnt (`network
                    // status` reads it).
                    if let Some(sid) = self.session_id {
                        let fed = self.fed.clone();
                        fed.save_sync_state_if_live(&peer, sid, &doc, self.core.sync_state(&doc));
                    }
                }
                Effect::HeardFrom(site) => self.fed.heard_from(&site),
                Effect::SetAside { doc, refusal } => {
                    let (counter, reason) = match refusal {
                        Refusal::Limit(r) => (&self.fed.limited_messages, r),
                        Refusal::Withheld(r) | Refusal::Forged(r) => {
                            (&self.fed.withheld_messages, r)
                        }
                    };
                    warn!(peer = %peer, doc = %doc, %reason, "modifications mises de côté");
                    counter.fetch_add(1, Ordering::Relaxed);
                    self.fed
                        .update_peer(&self.status_key, |p| p.last_error = reason.clone());
                }
                Effect::Retrying => {
                    self.fed
                        .update_peer(&self.status_key, |p| p.last_error.clear());
                }
                Effect::Synced => self.mark_synced(),
            }
        }
        Ok(())
    }

    async fn run(
        &mut self,
        direction: Direction,
        certified: Option<crate::tls::PeerIdentity>,
        mut changes: broadcast::Receiver<String>,
    ) -> SResult<()> {
        let fed = self.fed.clone();
        let hello = self.core.hello(self.now());
        self.send(hello).await?;
        let first = self.recv_in_handshake().await?;
        if self.claimed.is_empty() {
            if let Body::Hello(h) = &first {
                if h.protocol == super::PROTOCOL_VERSION && crate::base::is_slug(&h.site) {
                    self.claimed = h.site.clone();
                }
            }
        }
        self.core
            .on_hello(first, certified.as_ref(), fed.tls.is_some())?;
        let peer = self.core.peer().to_string();
        fed.check_peer_registration(&peer, certified.as_ref())
            .map_err(SessionError::Protocol)?;
        if self.status_key.is_empty() {
            self.status_key = format!("site:{peer}");
        }
        let Some((session_id, cancel)) = fed.register(&peer, direction) else {
            return Err(SessionError::Duplicate);
        };
        self.session_id = Some(session_id);
        let result = self.run_registered(direction, &mut changes, cancel).await;
        fed.unregister(&peer, session_id);
        result
    }

    async fn run_registered(
        &mut self,
        direction: Direction,
        changes: &mut broadcast::Receiver<String>,
        cancel: tokio_util::sync::CancellationToken,
    ) -> SResult<()> {
        let fed = self.fed.clone();
        let peer = self.core.peer().to_string();
        fed.update_peer(&self.status_key, |p| {
            p.site = peer.clone();
            p.direction = direction.as_str().into();
            p.last_error.clear();
        });
        info!(peer = %peer, "session ouverte");
        fed.heard_from(&peer);
        let step = self.core.open();
        self.apply(step).await?;
        while self.core.in_handshake() {
            let body = self.recv_in_handshake().await?;
            let step = self.core.on_frame(body)?;
            self.apply(step).await?;
        }
        debug!(peer = %peer, "poignée de main terminée");

        loop {
            tokio::select! {
                _ = cancel.cancelled() => {
                    let reason = if self.fed.shutdown.is_cancelled() { NODE_STOPPING } else { "session fermée par ce nœud" };
                    if let Some(bye) = Core::goodbye(&SessionError::Shutdown, reason) {
                        let _ = self.send(bye).await;
                    }
                    return Err(SessionError::Shutdown);
                }
                body = self.recv() => {
                    let step = self.core.on_frame(body?)?;
                    self.apply(step).await?;
                }
                changed = changes.recv() => {
                    let step = match changed {
                        Ok(id) => self.core.on_changed(&id),
                        Err(broadcast::error::RecvError::Lagged(_)) => self.core.on_lagged(),
                        Err(broadcast::error::RecvError::Closed) => return Err(SessionError::Shutdown),
                    };
                    self.apply(step).await?;
                }
            }
        }
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
        let peer = if self.core.peer().is_empty() {
            // The peer never said who it is: name it by its address.
            format!("({})", self.addr)
        } else {
            self.core.peer().to_string()
        };
        // Sync states were saved on every message received: only receiving
        // changes what they persist (the heads both sides share).
        let reason = match result {
            Ok(()) | Err(SessionError::Shutdown) => String::new(),
            Err(e) => e.to_string(),
        };
        match result {
            Err(SessionError::Protocol(r)) => {
                warn!(peer = %peer, reason = %r, "session fermée : le pair a enfreint le protocole");
                self.fed.refused_sessions.fetch_add(1, Ordering::Relaxed);
                let who = if self.claimed.is_empty() {
                    format!("({})", self.addr)
                } else {
                    self.claimed.clone()
                };
                self.fed.record_refusal(&who, r);
            }
            Err(SessionError::Duplicate) => {
                debug!(peer = %peer, "session en double refusée");
            }
            Err(SessionError::Shutdown) | Ok(()) => info!(peer = %peer, "session fermée"),
            Err(e) => info!(peer = %peer, reason = %e, "session fermée"),
        }
        // The peer is told of its fault or of the duplicate (the Goodbye of
        // a session this node closes went out already).
        if let Err(e @ (SessionError::Protocol(_) | SessionError::Duplicate)) = result {
            if let Some(body) = Core::goodbye(e, "") {
                let _ = self.out.try_send(pb::Frame { body: Some(body) });
            }
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
