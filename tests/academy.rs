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
    // Equal digests come a message before the sync state that says so.
    eventually("the academy has agreed heads with Metz again", || {
        let d = r.running().docs();
        d.lag("metz", "site/metz") == Some(0) && d.lag("metz", "network") == Some(0)
    })
    .await;
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
    let out = r.cli(&["network", "status", "--json"]);
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
    let text = r.cli(&["network", "status"]);
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
    // Thionville reads the partner but not its contact, personal data of Metz.
    assert_eq!(
        seen,
        vec![pb::Partner {
            contact: String::new(),
            ..updated.clone()
        }]
    );
    // The contact is in no replicated document, on either node.
    for node in [&b, &c] {
        let stored = node
            .running()
            .docs()
            .read("site/metz", maillage::domain::partners::all)
            .unwrap()
            .unwrap();
        assert_eq!(stored[&added.id].contact, "", "{}", node.site);
        assert_eq!(stored[&added.id].name, "Ville de Metz");
    }
    // Metz's own team reads it.
    let own = pb_
        .list(pb::ListPartnersRequest::default())
        .await
        .unwrap()
        .into_inner()
        .partners;
    assert_eq!(own, vec![updated]);
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

fn line(designation: &str, quantity: i64, price: &str, vat: &str) -> pb::PurchaseLineInput {
    pb::PurchaseLineInput {
        designation: designation.into(),
        quantity,
        unit_price_ht: price.into(),
        vat_rate: vat.into(),
    }
}

/// Waits until `node` sees purchase `id` in `state`.
async fn purchase_state(node: &TestNode, id: &str, state: &str) -> pb::Purchase {
    use maillage::pb::purchases_client::PurchasesClient;
    let mut c = PurchasesClient::new(node.admin().await);
    let start = tokio::time::Instant::now();
    loop {
        if let Ok(p) = c.get(pb::PurchaseId { id: id.into() }).await {
            let p = p.into_inner();
            if p.state == state {
                return p;
            }
        }
        assert!(
            start.elapsed() < TIMEOUT,
            "{} never saw {id} in state {state}",
            node.site
        );
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
}

/// The purchase workflow across a site node and an academy node: the site
/// drafts, submits, orders and receives; only the academy decides; every
/// transition not allowed is a clear error and changes nothing.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn purchase_requests_are_decided_by_the_academy_only() {
    use maillage::pb::purchases_client::PurchasesClient;
    use tonic::Code;
    let r = TestNode::start_with("rectorat", Role::Academy, &[], |_| {}).await;
    let b = TestNode::start("metz", &[&r]).await;
    enrol(&r, &b).await.unwrap();
    let mut site = PurchasesClient::new(b.admin().await);
    let mut academy = PurchasesClient::new(r.admin().await);

    let p = site
        .create(pb::CreatePurchaseRequest {
            object: "Robots pour l'atelier de programmation".into(),
            lines: vec![
                line("Robot Thymio", 3, "129,90", "20"),
                line("Livre", 1, "10.01", "5.5"),
            ],
            supplier: "Fournisseur éducatif".into(),
            funding: "France 2030".into(),
            action: String::new(),
        })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(p.state, "draft");
    assert_eq!(p.site, "metz");
    // 3 × 129.90 = 389.70 + 77.94 of VAT; 10.01 + 0.55 (5.5 %, rounded on the line).
    assert_eq!(
        (
            p.total_ht.as_str(),
            p.total_vat.as_str(),
            p.total_ttc.as_str()
        ),
        ("399.71", "78.49", "478.20")
    );
    assert_eq!(p.lines[0].total_ttc, "467.64");

    let id = p.id.clone();
    let pid = || pb::PurchaseId { id: id.clone() };
    let verdict = |v: &str, reason: &str| pb::PurchaseDecision {
        id: id.clone(),
        verdict: v.into(),
        reason: reason.into(),
    };
    let heads = || b.running().docs().heads("site/metz");

    // Bad input changes nothing.
    let before = heads();
    for (bad, code) in [
        (
            pb::CreatePurchaseRequest {
                object: "x".into(),
                lines: vec![line("Robot", -2, "10", "20")],
                ..Default::default()
            },
            Code::InvalidArgument,
        ),
        (
            pb::CreatePurchaseRequest {
                object: "x".into(),
                lines: vec![line("Robot", 1, "dix", "20")],
                ..Default::default()
            },
            Code::InvalidArgument,
        ),
        (
            pb::CreatePurchaseRequest {
                object: String::new(),
                ..Default::default()
            },
            Code::InvalidArgument,
        ),
        (
            pb::CreatePurchaseRequest {
                object: "x".into(),
                action: "act-inconnue".into(),
                ..Default::default()
            },
            Code::NotFound,
        ),
    ] {
        let e = site.create(bad).await.unwrap_err();
        assert_eq!(e.code(), code, "{}", e.message());
    }
    let e = site.create(pb::CreatePurchaseRequest {
        object: "x".into(),
        lines: vec![line("Robot", -2, "10", "20")],
        ..Default::default()
    });
    assert!(e.await.unwrap_err().message().contains("négative"));
    // Not submitted yet: nothing to order, nothing for the academy to decide.
    assert_eq!(
        site.ordered(pid()).await.unwrap_err().code(),
        Code::FailedPrecondition
    );
    // A site cannot decide, not even on its own request.
    assert_eq!(
        site.decide(verdict("validated", ""))
            .await
            .unwrap_err()
            .code(),
        Code::PermissionDenied
    );
    assert_eq!(heads(), before, "refused input changes nothing");

    purchase_state(&r, &id, "draft").await;
    assert_eq!(
        academy
            .decide(verdict("validated", ""))
            .await
            .unwrap_err()
            .code(),
        Code::FailedPrecondition,
        "a draft is not decided on"
    );
    // The academy node holds the request, but it is Metz's to submit.
    assert_eq!(
        academy.submit(pid()).await.unwrap_err().code(),
        Code::PermissionDenied
    );

    site.submit(pid()).await.unwrap();
    purchase_state(&r, &id, "submitted").await;
    assert_eq!(
        academy
            .decide(verdict("needs_info", ""))
            .await
            .unwrap_err()
            .code(),
        Code::InvalidArgument,
        "asking for more needs a reason"
    );
    assert_eq!(
        academy
            .decide(verdict("approuvé", ""))
            .await
            .unwrap_err()
            .code(),
        Code::InvalidArgument
    );
    let back = academy
        .decide(verdict("needs_info", "Joindre le devis"))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(back.state, "needs_info");
    assert_eq!(back.decision_reason, "Joindre le devis");

    // Metz sees the decision, corrects and submits again.
    purchase_state(&b, &id, "needs_info").await;
    assert_eq!(
        site.ordered(pid()).await.unwrap_err().code(),
        Code::FailedPrecondition
    );
    let fixed = site
        .update(pb::UpdatePurchaseRequest {
            id: id.clone(),
            supplier: Some("Fournisseur éducatif (devis 2026-118)".into()),
            set_lines: true,
            lines: vec![line("Robot Thymio", 4, "129.90", "20")],
            ..Default::default()
        })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(fixed.total_ttc, "623.52");
    let again = site.submit(pid()).await.unwrap().into_inner();
    assert_eq!((again.state.as_str(), again.submissions), ("submitted", 2));

    purchase_state(&r, &id, "submitted").await;
    let ok = academy
        .decide(verdict("validated", ""))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(ok.state, "validated");
    assert_eq!(
        academy
            .decide(verdict("refused", "trop tard"))
            .await
            .unwrap_err()
            .code(),
        Code::FailedPrecondition,
        "a validated request is not decided on again"
    );

    let seen = purchase_state(&b, &id, "validated").await;
    let steps: Vec<&str> = seen.history.iter().map(|s| s.step.as_str()).collect();
    assert_eq!(
        steps,
        [
            "created",
            "submitted",
            "needs_info",
            "submitted",
            "validated"
        ],
        "every submission, each followed by its decision"
    );
    assert_eq!(seen.history[2].site, "rectorat");
    assert_eq!(seen.history[2].note, "Joindre le devis");
    assert_eq!(
        site.update(pb::UpdatePurchaseRequest {
            id: id.clone(),
            object: Some("autre chose".into()),
            ..Default::default()
        })
        .await
        .unwrap_err()
        .code(),
        Code::FailedPrecondition,
        "a validated request is no longer edited"
    );
    assert_eq!(
        site.delivered(pb::DeliverPurchase {
            id: id.clone(),
            ..Default::default()
        })
        .await
        .unwrap_err()
        .code(),
        Code::FailedPrecondition,
        "delivered before ordered"
    );
    site.ordered(pid()).await.unwrap();
    let done = site
        .delivered(pb::DeliverPurchase {
            id: id.clone(),
            create_items: true,
            category: "robotique".into(),
            ..Default::default()
        })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(done.state, "delivered");
    assert_eq!(done.items.len(), 4, "one item per unit bought");
    let items = b.list().await;
    let bought: Vec<&pb::EquipmentItem> = items
        .iter()
        .filter(|i| done.items.contains(&i.id))
        .collect();
    assert_eq!(bought.len(), 4);
    assert!(bought
        .iter()
        .all(|i| i.category == "robotique" && i.name.starts_with("Robot Thymio")));
    assert_eq!(
        site.cancel(pid()).await.unwrap_err().code(),
        Code::FailedPrecondition
    );
    purchase_state(&r, &id, "delivered").await;
    let listed = academy
        .list(pb::ListPurchasesRequest {
            funding: "France 2030".into(),
            ..Default::default()
        })
        .await
        .unwrap()
        .into_inner()
        .purchases;
    assert_eq!(listed.len(), 1);
    assert_eq!(
        academy
            .list(pb::ListPurchasesRequest {
                state: "perdu".into(),
                ..Default::default()
            })
            .await
            .unwrap_err()
            .code(),
        Code::InvalidArgument
    );

    // The command line: a malformed line is refused before anything is sent.
    let out = b.cli(&[
        "purchase",
        "create",
        "--object",
        "Tablettes",
        "--line",
        "Tablette;2;300",
    ]);
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("4 champs"), "{err}");
    let out = b.cli(&[
        "--json",
        "purchase",
        "create",
        "--object",
        "Tablettes",
        "--line",
        "Tablette;2;300;20",
        "--funding",
        "Collectivité",
    ]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v["state"], "draft");
    assert_eq!(v["total_ttc"], "720.00");
}

/// A contact that an earlier version wrote into the replicated document is
/// moved to the node's own store at start: cleared from the document, still
/// read by the site's team.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_contact_written_by_an_earlier_version_leaves_the_shared_document() {
    use maillage::domain::partners;
    use maillage::pb::partners_client::PartnersClient;
    let mut b = TestNode::start("metz", &[]).await;
    let ctx = b.running().ctx.clone();
    let old = partners::new_partner(
        &partners::Patch {
            name: Some("Association Les Petits Débrouillards".into()),
            kind: Some("association".into()),
            contact: Some("Mme Durand, 06 12 34 56 78".into()),
            ..Default::default()
        },
        "2026-09-01T08:00:00Z",
    )
    .unwrap();
    assert!(!old.contact.is_empty());
    ctx.docs
        .change("site/metz", "partner add", |d| {
            partners::put(d, "pa-ancien", &old)
        })
        .await
        .unwrap();
    drop(ctx);
    b.restart().await;
    let stored = b
        .running()
        .docs()
        .read("site/metz", partners::all)
        .unwrap()
        .unwrap();
    assert_eq!(stored["pa-ancien"].contact, "", "cleared from the document");
    let listed = PartnersClient::new(b.admin().await)
        .list(pb::ListPartnersRequest::default())
        .await
        .unwrap()
        .into_inner()
        .partners;
    assert_eq!(listed.len(), 1);
    assert_eq!(
        listed[0].contact, "Mme Durand, 06 12 34 56 78",
        "kept on the node"
    );
}
