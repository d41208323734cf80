//! An attacker holding one valid site certificate, over real nodes and real
//! mutual TLS: it answers a dial as another site, and sends a forged change
//! that depends on a genuine change the victim has not received yet.

mod common;

use std::sync::{Arc, Mutex};

use common::*;
use maillage::domain::site::Role;
use maillage::pb::{self, federation_client::FederationClient, frame::Body};
use tokio::sync::mpsc;
use tokio_stream::{wrappers::ReceiverStream, StreamExt};

fn frame(body: Body) -> pb::Frame {
    pb::Frame { body: Some(body) }
}

/// A federation server holding a valid certificate for `intrus` that
/// answers every dial as `claims` (with the academy role), and records every
/// frame the dialer sends it.
struct Impostor {
    claims: String,
    received: Arc<Mutex<Vec<pb::Frame>>>,
}

type Frames =
    std::pin::Pin<Box<dyn tokio_stream::Stream<Item = Result<pb::Frame, tonic::Status>> + Send>>;

#[tonic::async_trait]
impl pb::federation_server::Federation for Impostor {
    type SyncStream = Frames;

    async fn sync(
        &self,
        request: tonic::Request<tonic::Streaming<pb::Frame>>,
    ) -> Result<tonic::Response<Frames>, tonic::Status> {
        let mut incoming = request.into_inner();
        let (tx, rx) = mpsc::channel(16);
        let claims = self.claims.clone();
        let received = self.received.clone();
        tokio::spawn(async move {
            let _ = tx
                .send(frame(Body::Hello(pb::Hello {
                    protocol: maillage::federation::PROTOCOL_VERSION,
                    site: claims,
                    role: "academy".into(),
                    digest: vec![7; 32],
                })))
                .await;
            let _ = tx
                .send(frame(Body::Digests(pb::DocDigests { docs: vec![] })))
                .await;
            while let Some(Ok(f)) = incoming.next().await {
                received.lock().unwrap().push(f);
            }
        });
        Ok(tonic::Response::new(Box::pin(
            ReceiverStream::new(rx).map(Ok),
        )))
    }
}

async fn start_impostor(claims: &str) -> (String, Arc<Mutex<Vec<pb::Frame>>>) {
    let (cert, key, _) = node_identity("intrus", "site", None);
    let ca = std::fs::read_to_string(network_ca().join(maillage::tls::CA_CERT)).unwrap();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let received = Arc::new(Mutex::new(Vec::new()));
    let service = Impostor {
        claims: claims.to_string(),
        received: received.clone(),
    };
    let server = tonic::transport::Server::builder()
        .tls_config(
            tonic::transport::ServerTlsConfig::new()
                .identity(tonic::transport::Identity::from_pem(cert, key))
                .client_ca_root(tonic::transport::Certificate::from_pem(ca)),
        )
        .unwrap()
        .add_service(pb::federation_server::FederationServer::new(service));
    tokio::spawn(
        server.serve_with_incoming(tokio_stream::wrappers::TcpListenerStream::new(listener)),
    );
    (format!("https://{addr}"), received)
}

/// A certified site that some node dials answers as the academy: refused
/// before any document is exchanged, never shown as the academy, and the
/// real academy session lives on.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_impostor_answering_a_dial_is_refused_before_any_document() {
    let r = TestNode::start_with("rectorat", Role::Academy, &[], |_| {}).await;
    let b = TestNode::start("metz", &[&r]).await;
    enrol(&r, &b).await.unwrap();
    r.add_item("Malle pédagogique").await;
    converge(&[&r, &b]).await;
    eventually("metz holds a session with the academy", || {
        b.running()
            .status()
            .peers
            .iter()
            .any(|p| p.site == "rectorat" && p.connected)
    })
    .await;

    let (url, received) = start_impostor("rectorat").await;
    b.running().add_peer(&url);
    eventually("metz refuses the impostor, saying why", || {
        b.running().status().peers.iter().any(|p| {
            p.address == url && p.last_error.contains("certificat est celui de « intrus »")
        })
    })
    .await;
    assert!(b.running().status().refused_sessions > 0);
    eventually("the impostor received metz's Hello", || {
        !received.lock().unwrap().is_empty()
    })
    .await;
    let frames = received.lock().unwrap().clone();
    for f in &frames {
        assert!(
            matches!(f.body, Some(Body::Hello(_)) | Some(Body::Goodbye(_))),
            "a document was exchanged with the impostor: {f:?}"
        );
    }
    let status = b.running().status();
    for p in &status.peers {
        if p.address == url {
            assert_ne!(
                p.site, "rectorat",
                "status shows the impostor as the academy"
            );
        }
    }
    // The academy's writes still reach metz over the real session.
    r.add_item("Écrit après l'imposteur").await;
    converge(&[&r, &b]).await;
    assert!(b
        .running()
        .status()
        .peers
        .iter()
        .any(|p| p.site == "rectorat" && p.connected));
}

/// A certified peer sends a forged change F that depends on a genuine change
/// G of metz that thionville has not received: F never enters thionville's
/// document (nor its export), and G arrives from metz, whom nobody blames.
/// (The unit tests of `docs` cover the same with a known certificate, where
/// F is refused as forged.)
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_forged_change_waiting_for_a_genuine_one_never_enters() {
    let b = TestNode::start("metz", &[]).await;
    let c = TestNode::start("thionville", &[]).await;
    b.add_item("Tablette").await;
    // F: metz's actor, on top of metz's newest change.
    let mut f =
        automerge::AutoCommit::load(&b.running().docs().export("site/metz").unwrap()).unwrap();
    f.set_actor(automerge::ActorId::from(b"metz.f0f0f0f0".to_vec()));
    automerge::transaction::Transactable::put(&mut f, automerge::ROOT, "forged", true).unwrap();
    let fh = f.commit().unwrap();
    let bytes = f.get_change_by_hash(&fh).unwrap().raw_bytes().to_vec();
    let message = automerge::sync::Message {
        heads: vec![fh],
        need: vec![],
        have: vec![],
        changes: vec![bytes].into(),
        flags: None,
        version: automerge::sync::MessageVersion::V1,
    }
    .encode();
    // Signed by the intruder's own key, as metz's change.
    let (_, _, intruder_key) = node_identity("intrus", "site", None);
    let sig =
        ed25519_dalek::Signer::sign(&intruder_key, &maillage::trust::payload("site/metz", &fh))
            .to_bytes();
    let mut signatures = fh.0.to_vec();
    signatures.extend_from_slice(&sig);

    let channel = tonic::transport::Endpoint::from_shared(c.fed_url.clone())
        .unwrap()
        .tls_config(client_tls("intrus", None))
        .unwrap()
        .connect()
        .await
        .unwrap();
    let (tx, rx) = mpsc::channel(16);
    for body in [
        Body::Hello(pb::Hello {
            protocol: maillage::federation::PROTOCOL_VERSION,
            site: "intrus".into(),
            role: "site".into(),
            digest: vec![0; 32],
        }),
        Body::Digests(pb::DocDigests { docs: vec![] }),
        Body::Sync(pb::SyncMessage {
            doc: "site/metz".into(),
            data: message,
            signatures,
            deflated: false,
        }),
    ] {
        tx.send(frame(body)).await.unwrap();
    }
    let _incoming = FederationClient::new(channel)
        .sync(ReceiverStream::new(rx))
        .await
        .unwrap()
        .into_inner();
    // Thionville has no certificate of metz yet to check F against: F is
    // set aside (it could have been kept waiting for G before).
    eventually("thionville sets the forged change aside", || {
        c.running().status().withheld_messages > 0
    })
    .await;
    assert!(
        c.running().docs().export("site/metz").is_none(),
        "the forged change was kept"
    );
    drop(tx);

    // Metz connects: its genuine changes arrive, the forgery never does, and
    // metz is not blamed.
    let refused = c.running().status().refused_sessions;
    c.dial(&b);
    converge(&[&b, &c]).await;
    let forged = c.running().docs().read("site/metz", |d| {
        automerge::ReadDoc::get(d, automerge::ROOT, "forged")
            .unwrap()
            .is_some()
    });
    assert_eq!(forged, Some(false));
    let mut exported =
        automerge::AutoCommit::load(&c.running().docs().export("site/metz").unwrap()).unwrap();
    assert!(exported.get_change_meta_by_hash(&fh).is_none());
    assert_eq!(c.running().status().refused_sessions, refused);
    assert!(c.list().await.iter().any(|i| i.name == "Tablette"));
}
