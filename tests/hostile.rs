//! A peer that breaks the protocol has its session closed with a reason; nothing
//! it sent is applied and the node keeps serving everyone else.

mod common;

use common::*;
use maillage::domain::site::Role;
use maillage::pb::{self, federation_client::FederationClient, frame::Body};
use tokio::sync::mpsc;
use tokio_stream::{wrappers::ReceiverStream, StreamExt};

const FRAME_LIMIT: usize = 1024 * 1024;

fn frame(body: Body) -> pb::Frame {
    pb::Frame { body: Some(body) }
}

fn hello(site: &str) -> pb::Frame {
    frame(Body::Hello(pb::Hello {
        protocol: maillage::federation::PROTOCOL_VERSION,
        site: site.into(),
        role: "site".into(),
        digest: vec![0; 32],
    }))
}

fn no_digests() -> pb::Frame {
    frame(Body::Digests(pb::DocDigests { docs: vec![] }))
}

fn sync(doc: &str, data: Vec<u8>) -> pb::Frame {
    frame(Body::Sync(pb::SyncMessage {
        doc: doc.into(),
        data,
        signatures: Vec::new(),
        deflated: false,
    }))
}

/// Sends `frames`, then reads until the node ends the session; returns the
/// reason it gave (a Goodbye, or the stream's error).
async fn hostile_session(node: &TestNode, frames: Vec<pb::Frame>) -> String {
    // A peer with a valid certificate of the network, for the site "intrus".
    let channel = tonic::transport::Endpoint::from_shared(node.fed_url.clone())
        .unwrap()
        .tls_config(client_tls("intrus", None))
        .unwrap()
        .connect()
        .await
        .unwrap();
    let mut client = FederationClient::new(channel)
        .max_encoding_message_size(64 * FRAME_LIMIT)
        .max_decoding_message_size(64 * FRAME_LIMIT);
    let (tx, rx) = mpsc::channel(16);
    for f in frames {
        tx.send(f).await.unwrap();
    }
    let mut incoming = match client.sync(ReceiverStream::new(rx)).await {
        Ok(r) => r.into_inner(),
        Err(status) => return status.message().to_string(),
    };
    loop {
        match tokio::time::timeout(TIMEOUT, incoming.next()).await {
            Ok(Some(Ok(pb::Frame {
                body: Some(Body::Goodbye(g)),
            }))) => return g.reason,
            Ok(Some(Ok(_))) => continue,
            Ok(Some(Err(status))) => return status.message().to_string(),
            Ok(None) => return "end of stream".into(),
            Err(_) => panic!("the node kept a hostile session open"),
        }
    }
}

async fn node_with_item() -> TestNode {
    let a = TestNode::start_with("alpha", Role::Site, &[], |c| {
        c.federation.max_frame_bytes = FRAME_LIMIT;
        c.federation.handshake_timeout_ms = 1000;
    })
    .await;
    a.add_item("Robot").await;
    a
}

async fn assert_refused(a: &TestNode, frames: Vec<pb::Frame>, reason_contains: &str) {
    let before = a.digest();
    let refused = a.running().status().refused_sessions;
    let reason = hostile_session(a, frames).await;
    assert!(
        reason.contains(reason_contains),
        "reason {reason:?} should mention {reason_contains:?}"
    );
    assert_eq!(a.digest(), before, "nothing was applied");
    eventually("the session is counted as refused", || {
        a.running().status().refused_sessions == refused + 1
    })
    .await;
    assert_eq!(a.list().await.len(), 1, "the node still serves its API");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn garbage_sync_message_closes_the_session() {
    let a = node_with_item().await;
    assert_refused(
        &a,
        vec![
            hello("intrus"),
            no_digests(),
            sync("site/alpha", b"\x42garbage".to_vec()),
        ],
        "illisible",
    )
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unknown_document_id_closes_the_session() {
    let a = node_with_item().await;
    let mut other = automerge::AutoCommit::new();
    let mut st = automerge::sync::State::new();
    use automerge::sync::SyncDoc;
    let msg = other
        .sync()
        .generate_sync_message(&mut st)
        .unwrap()
        .encode();
    assert_refused(
        &a,
        vec![hello("intrus"), no_digests(), sync("../etc/passwd", msg)],
        "document inconnu",
    )
    .await;
    let bad_digest = frame(Body::Digests(pb::DocDigests {
        docs: vec![pb::DocDigest {
            doc: "SITE/x".into(),
            heads_hash: vec![1; 32],
        }],
    }));
    assert_refused(&a, vec![hello("intrus"), bad_digest], "document inconnu").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn oversized_frame_closes_the_session() {
    let a = node_with_item().await;
    assert_refused(
        &a,
        vec![
            hello("intrus"),
            no_digests(),
            sync("site/alpha", vec![0x42; 2 * FRAME_LIMIT]),
        ],
        "",
    )
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn protocol_violations_close_the_session() {
    let a = node_with_item().await;
    // No hello first.
    assert_refused(&a, vec![sync("site/alpha", vec![1, 2, 3])], "Hello").await;
    // A peer claiming to be the node itself, or an invalid site id, or
    // another site than its certificate names.
    assert_refused(&a, vec![hello("alpha")], "site invalide").await;
    assert_refused(&a, vec![hello("Not A Slug!")], "site invalide").await;
    assert_refused(&a, vec![hello("beta")], "certificat").await;
    // A wrong protocol version.
    let mut h = hello("intrus");
    if let Some(Body::Hello(x)) = h.body.as_mut() {
        x.protocol = 99;
    }
    assert_refused(&a, vec![h], "version").await;
    // Signatures that are not whole (hash, signature) pairs.
    let mut bad = sync("site/alpha", vec![0x42, 0, 0]);
    if let Some(Body::Sync(m)) = bad.body.as_mut() {
        m.signatures = vec![0; 95];
    }
    assert_refused(
        &a,
        vec![hello("intrus"), no_digests(), bad],
        "signatures mal formées",
    )
    .await;
    // Silence after hello: the handshake times out.
    assert_refused(&a, vec![hello("intrus")], "temps").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn honest_peers_still_sync_after_hostile_ones() {
    let a = node_with_item().await;
    assert_refused(
        &a,
        vec![
            hello("intrus"),
            no_digests(),
            sync("site/alpha", vec![0x42, 0, 0]),
        ],
        "",
    )
    .await;
    let b = TestNode::start("beta", &[&a]).await;
    b.add_item("Caméra").await;
    converge(&[&a, &b]).await;
    assert_eq!(b.list().await.len(), 2);
}

/// Opens a federation session with `tls` (or none) and says hello; returns
/// whether the node answered with its own Hello.
async fn try_session(
    node: &TestNode,
    url: &str,
    tls: Option<tonic::transport::ClientTlsConfig>,
) -> bool {
    let mut endpoint = tonic::transport::Endpoint::from_shared(url.to_string()).unwrap();
    if let Some(tls) = tls {
        endpoint = endpoint.tls_config(tls).unwrap();
    }
    let Ok(channel) = endpoint.connect().await else {
        return false;
    };
    let (tx, rx) = mpsc::channel(4);
    tx.send(hello("intrus")).await.unwrap();
    let Ok(resp) = FederationClient::new(channel)
        .sync(ReceiverStream::new(rx))
        .await
    else {
        return false;
    };
    let mut incoming = resp.into_inner();
    let first = tokio::time::timeout(TIMEOUT, incoming.next()).await;
    let _ = node;
    matches!(
        first,
        Ok(Some(Ok(pb::Frame {
            body: Some(Body::Hello(_))
        })))
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn only_certified_peers_open_a_session() {
    let a = node_with_item().await;
    let before = a.digest();
    // A certificate of the network: accepted.
    assert!(try_session(&a, &a.fed_url, Some(client_tls("intrus", None))).await);
    // No client certificate, a certificate from another CA, plain text: refused.
    let network_ca_pem =
        std::fs::read_to_string(network_ca().join(maillage::tls::CA_CERT)).unwrap();
    let no_cert = tonic::transport::ClientTlsConfig::new()
        .ca_certificate(tonic::transport::Certificate::from_pem(network_ca_pem))
        .domain_name(maillage::tls::NODE_NAME);
    assert!(!try_session(&a, &a.fed_url, Some(no_cert)).await);
    let other_ca = tempfile::tempdir().unwrap();
    maillage::tls::ca_init(other_ca.path()).unwrap();
    assert!(
        !try_session(
            &a,
            &a.fed_url,
            Some(client_tls("intrus", Some(other_ca.path())))
        )
        .await
    );
    let plain = a.fed_url.replace("https://", "http://");
    assert!(!try_session(&a, &plain, None).await);
    assert_eq!(a.digest(), before);
    // And the federation address serves no API: the API is on its own address.
    assert_ne!(a.url, plain);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn random_frames_never_change_the_node() {
    let a = node_with_item().await;
    let before = a.digest();
    let mut seed: u64 = 0xfeed_5eed;
    let mut next = move |n: u64| {
        seed = seed
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        (seed >> 33) % n.max(1)
    };
    for round in 0..20 {
        let mut frames = vec![hello("intrus"), no_digests()];
        for _ in 0..(1 + next(4)) {
            let len = next(300) as usize;
            let mut data: Vec<u8> = (0..len).map(|_| next(256) as u8).collect();
            if !data.is_empty() && next(2) == 0 {
                data[0] = 0x42; // looks like a sync message
            }
            let doc = match next(4) {
                0 => "site/alpha".to_string(),
                1 => "network".to_string(),
                2 => format!("action/ac-{round}"),
                _ => (0..next(20))
                    .map(|_| (b'!' + next(90) as u8) as char)
                    .collect(),
            };
            frames.push(match next(3) {
                0 => frame(Body::Digests(pb::DocDigests {
                    docs: vec![pb::DocDigest {
                        doc,
                        heads_hash: data,
                    }],
                })),
                _ => sync(&doc, data),
            });
        }
        let _ = hostile_session(&a, frames).await;
        assert_eq!(a.digest(), before, "round {round} changed the node");
    }
    assert_eq!(a.list().await.len(), 1, "the node still serves its API");
    let b = TestNode::start("beta", &[&a]).await;
    converge(&[&a, &b]).await;
}
