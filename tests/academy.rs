//! The academic team's view of the network, over real nodes.

mod common;

use common::*;
use maillage::domain::site::Role;
use maillage::pb::{self, network_client::NetworkClient};

async fn health(node: &TestNode) -> pb::NetworkHealth {
    NetworkClient::new(node.admin().await)
        .health(pb::NetworkHealthRequest {})
        .await
        .unwrap()
        .into_inner()
}

fn site<'a>(h: &'a pb::NetworkHealth, id: &str) -> &'a pb::SiteHealth {
    h.sites.iter().find(|s| s.id == id).unwrap()
}

/// `network status` tells, for every enrolled site, whether it is connected,
/// when it was last heard from, and which documents it lags on (by how many
/// changes), from the academy node's replica alone.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn network_status_shows_who_lags_and_by_how_much() {
    let r = TestNode::start_with("rectorat", Role::Academy, &[], |_| {}).await;
    let b = TestNode::start("metz", &[&r]).await;
    let mut c = TestNode::start("thionville", &[&r]).await;
    enrol(&r, &b).await.unwrap();
    enrol(&r, &c).await.unwrap();
    b.add_item("Vidéoprojecteur").await;
    converge(&[&r, &b, &c]).await;
    eventually("the academy has agreed heads with both sites", || {
        let d = r.running().docs();
        ["metz", "thionville"]
            .iter()
            .all(|s| d.lag(s, "site/metz") == Some(0) && d.lag(s, "network") == Some(0))
    })
    .await;

    let h = health(&r).await;
    assert_eq!(h.site, "rectorat");
    let ids: Vec<&str> = h.sites.iter().map(|s| s.id.as_str()).collect();
    assert_eq!(
        ids,
        vec!["metz", "thionville"],
        "every enrolled site but itself"
    );
    for s in &h.sites {
        assert!(s.connected, "{} connected", s.id);
        assert!(!s.last_contact.is_empty());
        assert!(!s.last_change_at.is_empty(), "{} has written", s.id);
        assert!(s.revoked_at.is_empty());
    }
    assert!(
        site(&h, "metz")
            .differing
            .iter()
            .all(|d| d.changes_behind == 0),
        "{h:?}"
    );
    assert_eq!(site(&h, "metz").changes_behind, 0);

    // Thionville goes offline; Metz writes three items.
    c.stop().await;
    for name in ["Robot 1", "Robot 2", "Robot 3"] {
        b.add_item(name).await;
    }
    converge(&[&r, &b]).await;
    let h = health(&r).await;
    let t = site(&h, "thionville");
    assert!(!t.connected);
    assert!(!t.last_contact.is_empty(), "heard from it before");
    let lag: Vec<(&str, u64)> = t
        .differing
        .iter()
        .map(|d| (d.doc.as_str(), d.changes_behind))
        .collect();
    assert_eq!(
        lag,
        vec![("site/metz", 3)],
        "three changes of Metz it lacks"
    );
    assert_eq!(t.changes_behind, 3);
    assert_eq!(site(&h, "metz").changes_behind, 0);
    assert!(h.loan_conflicts.is_empty());

    // It comes back and catches up: nothing lags any more.
    c.restart().await;
    converge(&[&r, &b, &c]).await;
    eventually("thionville caught up in the academy's eyes", || {
        r.running().docs().lag("thionville", "site/metz") == Some(0)
    })
    .await;
    let h = health(&r).await;
    assert_eq!(site(&h, "thionville").changes_behind, 0);

    // The command and its JSON contract.
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_maillage"))
        .args([
            "--dir",
            r.dir.to_str().unwrap(),
            "network",
            "status",
            "--json",
        ])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v["site"], "rectorat");
    assert!(v["loan_conflicts"].is_array());
    let t = v["sites"]
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["id"] == "thionville")
        .unwrap();
    for field in [
        "name",
        "role",
        "revoked_at",
        "connected",
        "last_contact",
        "last_change_at",
        "differing",
        "changes_behind",
        "never_synced",
    ] {
        assert!(t.get(field).is_some(), "field {field} in {t}");
    }
    assert_eq!(t["changes_behind"], 0);
    let text = std::process::Command::new(env!("CARGO_BIN_EXE_maillage"))
        .args(["--dir", r.dir.to_str().unwrap(), "network", "status"])
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&text.stdout);
    assert!(
        text.contains("thionville") && text.contains("dernier contact"),
        "{text}"
    );
}

/// Partners: written by their site only, read everywhere, validated.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn partners_are_kept_by_their_site_and_read_everywhere() {
    use maillage::pb::partners_client::PartnersClient;
    use tonic::Code;
    let b = TestNode::start("metz", &[]).await;
    let c = TestNode::start("thionville", &[&b]).await;
    let mut pb_ = PartnersClient::new(b.admin().await);
    let added = pb_
        .add(pb::AddPartnerRequest {
            name: "Ville de Metz".into(),
            kind: "collectivité".into(),
            contact: "service éducation".into(),
            agreement: "Convention 2026-014".into(),
            contribution_eur: "1500,5".into(),
            contribution_in_kind: "prêt d'une salle".into(),
            actions: vec![],
        })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(added.kind, "local_authority");
    assert_eq!(added.contribution_eur, "1500.50");
    assert_eq!(added.site, "metz");
    // Thionville's own documents may still arrive: compare Metz's document.
    let before = b.running().docs().heads("site/metz");
    for (bad, code) in [
        (
            pb::AddPartnerRequest {
                name: "X".into(),
                kind: "club".into(),
                ..Default::default()
            },
            Code::InvalidArgument,
        ),
        (
            pb::AddPartnerRequest {
                name: "X".into(),
                contribution_eur: "-10".into(),
                ..Default::default()
            },
            Code::InvalidArgument,
        ),
        (
            pb::AddPartnerRequest {
                name: "X".into(),
                actions: vec!["act-inconnue".into()],
                ..Default::default()
            },
            Code::NotFound,
        ),
    ] {
        assert_eq!(pb_.add(bad).await.unwrap_err().code(), code);
    }
    assert_eq!(
        b.running().docs().heads("site/metz"),
        before,
        "refused input changes nothing"
    );
    let updated = pb_
        .update(pb::UpdatePartnerRequest {
            id: added.id.clone(),
            contribution_eur: Some("2000".into()),
            ..Default::default()
        })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(updated.contribution_eur, "2000.00");
    assert_eq!(updated.name, "Ville de Metz", "unset fields are kept");

    converge(&[&b, &c]).await;
    let mut pc = PartnersClient::new(c.admin().await);
    let seen = pc
        .list(pb::ListPartnersRequest {
            kind: "collectivite".into(),
            ..Default::default()
        })
        .await
        .unwrap()
        .into_inner()
        .partners;
    assert_eq!(seen, vec![updated]);
    // Thionville may not change Metz's partner.
    let denied = pc
        .update(pb::UpdatePartnerRequest {
            id: added.id.clone(),
            name: Some("Autre".into()),
            ..Default::default()
        })
        .await
        .unwrap_err();
    assert_eq!(denied.code(), Code::PermissionDenied);
    let unknown_site = pc
        .list(pb::ListPartnersRequest {
            site: "nancy".into(),
            ..Default::default()
        })
        .await
        .unwrap_err();
    assert_eq!(unknown_site.code(), Code::NotFound);
}
