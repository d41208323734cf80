//! Enrolment and revocation by the academy, over real nodes with mutual TLS.

mod common;

use common::*;
use maillage::domain::site::Role;
use maillage::pb::{self, network_client::NetworkClient};
use tonic::Code;

async fn enrol(academy: &TestNode, node: &TestNode) -> Result<pb::RegisteredSite, tonic::Status> {
    NetworkClient::new(academy.admin().await)
        .enrol(pb::EnrolSiteRequest {
            id: node.site.clone(),
            name: format!("Tiers-lieu {}", node.site),
            endpoint: node.fed_url.clone(),
            key: node.running().status().public_key,
            role: "site".into(),
        })
        .await
        .map(|r| r.into_inner())
}

fn connected(node: &TestNode, site: &str) -> bool {
    node.running()
        .status()
        .peers
        .iter()
        .any(|p| p.site == site && p.connected)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn enrolled_sites_learn_each_other_from_the_registry() {
    let r = TestNode::start_with("rectorat", Role::Academy, &[], |_| {}).await;
    let b = TestNode::start("metz", &[&r]).await;
    let c = TestNode::start("thionville", &[&r]).await;
    let key = b.running().status().public_key;
    assert_eq!(key.len(), 64, "status shows the site's public key");
    assert!(!connected(&b, "thionville"));

    let e = enrol(&r, &b).await.unwrap();
    assert_eq!(e.public_key, key);
    enrol(&r, &c).await.unwrap();
    // B and C were never configured to dial each other: the registry tells them.
    eventually("metz and thionville connect directly", || {
        connected(&b, "thionville") && connected(&c, "metz")
    })
    .await;
    let list = NetworkClient::new(c.admin().await)
        .list_sites(pb::ListSitesRequest {})
        .await
        .unwrap()
        .into_inner()
        .sites;
    let ids: Vec<&str> = list.iter().map(|s| s.id.as_str()).collect();
    assert_eq!(ids, vec!["metz", "rectorat", "thionville"]);

    // Only the academy enrols; bad input is refused and changes nothing.
    let err = NetworkClient::new(b.admin().await)
        .enrol(pb::EnrolSiteRequest {
            id: "intrus".into(),
            name: "Intrus".into(),
            key: key.clone(),
            ..Default::default()
        })
        .await
        .unwrap_err();
    assert_eq!(err.code(), Code::PermissionDenied);
    converge(&[&r, &b, &c]).await;
    let before = r.digest();
    let mut n = NetworkClient::new(r.admin().await);
    let bad_key = n
        .enrol(pb::EnrolSiteRequest {
            id: "forbach".into(),
            name: "Forbach".into(),
            key: "abcd".into(),
            ..Default::default()
        })
        .await
        .unwrap_err();
    assert_eq!(bad_key.code(), Code::InvalidArgument);
    assert_eq!(
        enrol(&r, &b).await.unwrap_err().code(),
        Code::FailedPrecondition
    );
    let unknown = n
        .revoke(pb::SiteId { id: "nancy".into() })
        .await
        .unwrap_err();
    assert_eq!(unknown.code(), Code::NotFound);
    assert_eq!(r.digest(), before);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_revoked_site_is_cut_off_and_keeps_its_history() {
    let r = TestNode::start_with("rectorat", Role::Academy, &[], |_| {}).await;
    let b = TestNode::start("metz", &[&r]).await;
    let c = TestNode::start("forbach", &[&r, &b]).await;
    for n in [&b, &c] {
        enrol(&r, n).await.unwrap();
    }
    let before = c.add_item("Kit sport (avant révocation)").await;
    converge(&[&r, &b, &c]).await;

    let revoked = NetworkClient::new(r.admin().await)
        .revoke(pb::SiteId {
            id: "forbach".into(),
        })
        .await
        .unwrap()
        .into_inner();
    assert!(!revoked.revoked_at.is_empty());
    eventually("nobody keeps a session with the revoked site", || {
        !connected(&r, "forbach") && !connected(&b, "forbach")
    })
    .await;
    let again = NetworkClient::new(r.admin().await)
        .revoke(pb::SiteId {
            id: "forbach".into(),
        })
        .await
        .unwrap_err();
    assert_eq!(again.code(), Code::FailedPrecondition);

    // It keeps writing; nothing new reaches the network.
    c.add_item("Écrit après révocation").await;
    tokio::time::sleep(std::time::Duration::from_millis(1500)).await;
    for node in [&r, &b] {
        let names: Vec<String> = node.list().await.into_iter().map(|i| i.name).collect();
        assert!(
            names.contains(&before.name),
            "history before revocation stays"
        );
        assert!(!names.iter().any(|n| n == "Écrit après révocation"));
        assert!(!connected(node, "forbach"));
    }
    // Honest sites still converge.
    b.add_item("Après").await;
    converge(&[&r, &b]).await;
}
