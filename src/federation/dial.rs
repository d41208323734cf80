//! Dialing configured peers: one task per address, redialing with exponential
//! backoff and jitter, and standing by while a session with that site is open
//! (whichever side dialed it).

use std::sync::Arc;
use std::time::Duration;

use rand::Rng;
use tokio::sync::mpsc;
use tokio_stream::wrappers::ReceiverStream;
use tonic::transport::Endpoint;
use tracing::{debug, info_span, Instrument};

use super::{session, Direction, Federation, OUT_CAP};
use crate::pb::federation_client::FederationClient;

/// A session that lasted this long resets the backoff.
pub const HEALTHY_SESSION: Duration = Duration::from_secs(10);

/// Starts the dial loop for `address` on the federation's tracker, unless one
/// already runs.
pub fn spawn(fed: Arc<Federation>, address: String) {
    if !fed.claim_dial(&address) {
        return;
    }
    let tracker = fed.tracker.clone();
    let span = info_span!("dial", addr = %address);
    tracker.spawn(dial_loop(fed, address).instrument(span));
}

async fn dial_loop(fed: Arc<Federation>, address: String) {
    let min = Duration::from_millis(fed.cfg.reconnect_min_ms.max(1));
    let probe = Duration::from_millis(fed.cfg.reconnect_probe_ms.max(1));
    let max = Duration::from_millis(fed.cfg.reconnect_max_ms.max(fed.cfg.reconnect_min_ms));
    let mut backoff = min;
    fed.update_peer(&address, |p| {
        p.address = address.clone();
        p.direction = Direction::Outbound.as_str().into();
    });
    loop {
        if fed.shutdown.is_cancelled() {
            return;
        }
        if fed.is_revoked_endpoint(&address) {
            fed.update_peer(&address, |p| p.last_error = "site révoqué".into());
            return;
        }
        // Stand by while a session with this site runs (it may be one they dialed).
        if let Some(site) = fed.site_at(&address) {
            while fed.is_connected(&site) {
                let ended = fed.session_ended.notified();
                tokio::select! {
                    _ = fed.shutdown.cancelled() => return,
                    _ = ended => {}
                    _ = tokio::time::sleep(Duration::from_secs(5)) => {}
                }
            }
        }
        let started = tokio::time::Instant::now();
        // Whether the peer answered and refused, or could not be reached.
        let mut refused = false;
        match dial_once(&fed, &address).await {
            Ok(()) => {}
            Err(e) => {
                debug!(cause = %e.reason, "échec de connexion");
                refused = !e.unreachable;
                fed.update_peer(&address, |p| p.last_error = e.reason);
            }
        }
        if started.elapsed() >= HEALTHY_SESSION {
            backoff = min;
        }
        // A peer that refuses is given time; one that cannot be reached is
        // tried again at least every `reconnect_probe_ms`, so that a link
        // coming back is found within that delay.
        let (cap, jitter) = if refused {
            (max, rand::thread_rng().gen_range(0.5..1.5))
        } else {
            (probe, rand::thread_rng().gen_range(0.5..1.0))
        };
        let wait_from = tokio::time::Instant::now();
        let deadline = wait_from + backoff.min(cap).mul_f64(jitter);
        loop {
            let heard = fed.heard_notify.notified();
            tokio::select! {
                _ = fed.shutdown.cancelled() => return,
                _ = tokio::time::sleep_until(deadline) => break,
                _ = heard => {
                    // The site dialed us or a peer relayed its new changes:
                    // it is reachable, try now.
                    if fed.site_at(&address).is_some_and(|site| fed.heard_since(&site, wait_from)) {
                        backoff = min;
                        break;
                    }
                }
            }
        }
        backoff = (backoff * 2).min(cap);
    }
}

/// Why a dial ended: `unreachable` when no session could be opened because
/// the peer could not be reached (connection, TLS or transport failure), as
/// against a peer that answered and refused.
struct DialError {
    unreachable: bool,
    reason: String,
}

impl DialError {
    fn unreachable(reason: String) -> Self {
        DialError {
            unreachable: true,
            reason,
        }
    }

    fn refused(reason: String) -> Self {
        DialError {
            unreachable: false,
            reason,
        }
    }
}

async fn dial_once(fed: &Arc<Federation>, address: &str) -> Result<(), DialError> {
    // With TLS, our own connector completes the handshake and keeps the
    // certificate the peer presented; tonic then speaks HTTP/2 over it.
    let seen: crate::tls::DialedCert = Default::default();
    let uri = match &fed.tls {
        Some(_) => address.replacen("https://", "http://", 1),
        None => address.to_string(),
    };
    let endpoint = Endpoint::from_shared(uri)
        .map_err(|e| DialError::refused(format!("adresse invalide : {e}")))?;
    let endpoint = endpoint
        .connect_timeout(Duration::from_millis(fed.cfg.connect_timeout_ms))
        .tcp_nodelay(true)
        .http2_keep_alive_interval(Duration::from_secs(30))
        .keep_alive_timeout(Duration::from_secs(20));
    let connect = async {
        match &fed.dialer {
            Some(dialer) => {
                let (dialer, seen, bytes) =
                    (dialer.clone(), seen.clone(), fed.socket_bytes.clone());
                endpoint
                    .connect_with_connector(tower::service_fn(move |uri| {
                        let (dialer, seen, bytes) = (dialer.clone(), seen.clone(), bytes.clone());
                        async move { dialer.connect(uri, seen, bytes).await }
                    }))
                    .await
            }
            None => endpoint.connect().await,
        }
    };
    let channel = tokio::select! {
        _ = fed.shutdown.cancelled() => return Ok(()),
        c = connect => c.map_err(|e| DialError::unreachable(format!("connexion impossible : {}", crate::error::chain(&e))))?,
    };
    // The site the answering node's certificate names, checked against its
    // Hello before anything else is exchanged.
    let certified = match &fed.dialer {
        Some(_) => {
            let der = seen.lock().unwrap().clone().ok_or_else(|| {
                DialError::refused("le pair n'a présenté aucun certificat".into())
            })?;
            Some(
                crate::tls::peer_identity(&der)
                    .ok_or_else(|| DialError::refused("certificat du pair illisible".into()))?,
            )
        }
        None => None,
    };
    let mut client = FederationClient::new(channel)
        .max_decoding_message_size(fed.cfg.max_frame_bytes)
        .max_encoding_message_size(fed.cfg.max_frame_bytes);
    let (tx, rx) = mpsc::channel(OUT_CAP);
    let response = client.sync(ReceiverStream::new(rx)).await.map_err(|e| {
        let reason = format!("ouverture de session refusée : {}", e.message());
        // The stream could not be opened: the link, not the peer.
        if matches!(
            e.code(),
            tonic::Code::Unavailable | tonic::Code::Unknown | tonic::Code::Cancelled
        ) {
            DialError::unreachable(reason)
        } else {
            DialError::refused(reason)
        }
    })?;
    let incoming = response.into_inner();
    match session::run(
        fed.clone(),
        Direction::Outbound,
        address.to_string(),
        certified,
        incoming,
        tx,
    )
    .await
    {
        // A duplicate is not a failure: the other session with that site lives.
        None | Some(session::SessionError::Shutdown) | Some(session::SessionError::Duplicate) => {
            Ok(())
        }
        // A session that broke on its transport (link cut, peer stopped)
        // is retried like an unreachable peer; one the peer ended for a
        // reason backs off.
        Some(e) if e.is_link_loss() => Err(DialError::unreachable(e.to_string())),
        Some(e) => Err(DialError::refused(e.to_string())),
    }
}
