//! Enrolment and revocation by the academy, over real nodes with mutual TLS.

mod common;

use common::*;
use maillage::domain::site::Role;
use maillage::pb::{self, network_client::NetworkClient};
use tonic::Code;

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
    // One row per peer site, however many addresses and directions its
    // sessions had; no duplicate-session noise.
    let peers = b.running().status().peers;
    let mut sites: Vec<&str> = peers.iter().map(|p| p.site.as_str()).collect();
    sites.sort();
    assert_eq!(sites, vec!["rectorat", "thionville"], "{peers:?}");
    assert!(
        !peers.iter().any(|p| p.last_error.contains("double")),
        "{peers:?}"
    );
    eventually("thionville holds the whole registry", || {
        c.running().docs().read("network", |d| {
            maillage::domain::registry::all(d).unwrap().len()
        }) == Some(3)
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

/// Whether document `id` on `node` has the root key `forged`.
fn has_forgery(node: &TestNode, id: &str) -> bool {
    node.running()
        .docs()
        .read(id, |d| {
            automerge::ReadDoc::get(d, automerge::ROOT, "forged")
                .unwrap()
                .is_some()
        })
        .unwrap_or(false)
}

fn put_forged(d: &mut automerge::AutoCommit, text: &str) -> maillage::error::Result<()> {
    use automerge::transaction::Transactable;
    d.put(automerge::ROOT, "forged", text).unwrap();
    Ok(())
}

/// A node with a valid certificate forges changes to another site's document
/// (with that site's actor id, or its own) and to the academy's, and relays
/// them: every honest node refuses them, none is applied anywhere, and the
/// honest sites' own changes still converge.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn forged_changes_are_refused_by_every_honest_node() {
    let r = TestNode::start_with("rectorat", Role::Academy, &[], |_| {}).await;
    let b = TestNode::start("metz", &[&r]).await;
    let c = TestNode::start("thionville", &[&r]).await;
    let m = TestNode::start("intrus", &[&b, &c]).await;
    for n in [&b, &c, &m] {
        enrol(&r, n).await.unwrap();
    }
    b.add_item("Vidéoprojecteur").await;
    converge(&[&r, &b, &c, &m]).await;
    let honest = b.running().docs().heads("site/metz");

    let key = maillage::tls::site_key(&m.dir).unwrap();
    let docs = m.running().docs();
    // Metz's actor id, no signature.
    docs.forge("site/metz", b"metz.0badc0de", None, |d| {
        put_forged(d, "sans signature")
    })
    .await
    .unwrap();
    // Metz's actor id, signed with the intruder's key.
    docs.forge("site/metz", b"metz.0badc0df", Some(&key), |d| {
        put_forged(d, "mauvaise clé")
    })
    .await
    .unwrap();
    // Its own actor id, correctly signed, in a document it may not write.
    docs.forge("site/metz", b"intrus.0badc0e0", Some(&key), |d| {
        put_forged(d, "document d'un autre site")
    })
    .await
    .unwrap();
    // The registry, which only the academy writes.
    docs.forge("network", b"intrus.0badc0e1", Some(&key), |d| {
        put_forged(d, "intrus académique")
    })
    .await
    .unwrap();
    assert!(has_forgery(&m, "site/metz"));

    eventually("both honest peers of the intruder refuse it", || {
        b.running().status().refused_sessions > 0 && c.running().status().refused_sessions > 0
    })
    .await;
    // The intruder redials and is refused again: between two of its
    // sessions, the reason of the last refusal is in status.
    eventually("the reason is shown in status", || {
        b.running()
            .status()
            .peers
            .iter()
            .any(|p| p.last_error.contains("falsifiée"))
    })
    .await;

    // Honest changes still arrive, through the other peers.
    c.add_item("Malle robotique").await;
    b.add_item("Imprimante 3D").await;
    converge(&[&r, &b, &c]).await;
    let now = b.running().docs().heads("site/metz");
    assert_ne!(now, honest);
    for n in [&r, &b, &c] {
        assert!(!has_forgery(n, "site/metz"), "{} applied a forgery", n.site);
        assert!(!has_forgery(n, "network"), "{} applied a forgery", n.site);
        assert_eq!(n.running().docs().heads("site/metz"), now);
        let names: Vec<String> = n.list().await.into_iter().map(|i| i.name).collect();
        assert!(names.contains(&"Malle robotique".to_string()));
    }
}

/// A revoked site keeps writing, and a compromised node relays what it writes:
/// honest nodes set it aside, keep the history from before the revocation,
/// and keep converging with each other.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_revoked_sites_later_writes_are_refused_even_when_relayed() {
    let r = TestNode::start_with("rectorat", Role::Academy, &[], |_| {}).await;
    let b = TestNode::start("metz", &[&r]).await;
    let f = TestNode::start("forbach", &[&r]).await;
    let m = TestNode::start("intrus", &[&b]).await;
    for n in [&b, &f, &m] {
        enrol(&r, n).await.unwrap();
    }
    f.add_item("Kit sport (avant révocation)").await;
    converge(&[&r, &b, &f, &m]).await;

    NetworkClient::new(r.admin().await)
        .revoke(pb::SiteId {
            id: "forbach".into(),
        })
        .await
        .unwrap();
    eventually("the revocation reaches every node", || {
        [&b, &m].iter().all(|n| {
            n.running()
                .docs()
                .read("network", |d| {
                    maillage::domain::registry::get(d, "forbach")
                        .unwrap()
                        .is_some_and(|e| e.is_revoked())
                })
                .unwrap_or(false)
        })
    })
    .await;

    f.add_item("Écrit après révocation").await;
    let (bytes, sigs) = f.running().docs().raw("site/forbach").unwrap();
    m.running()
        .docs()
        .import_unverified("site/forbach", &bytes, &sigs)
        .await
        .unwrap();
    eventually("metz sets the relayed writes aside", || {
        b.running().status().withheld_messages > 0
    })
    .await;
    for n in [&r, &b] {
        let names: Vec<String> = n.list().await.into_iter().map(|i| i.name).collect();
        assert!(names.contains(&"Kit sport (avant révocation)".to_string()));
        assert!(
            !names.iter().any(|x| x == "Écrit après révocation"),
            "{} took a revoked site's later write",
            n.site
        );
    }
    b.add_item("Après").await;
    converge(&[&r, &b]).await;
}

/// A site node's certificate does not let it write the registry, and a site
/// cannot be certified as academy unless the CA's operator says so.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn only_the_academy_certificate_writes_the_network_document() {
    let r = TestNode::start_with("rectorat", Role::Academy, &[], |_| {}).await;
    let b = TestNode::start("metz", &[&r]).await;
    converge(&[&r, &b]).await;
    let key = maillage::tls::site_key(&b.dir).unwrap();
    // Metz writes the registry with its own, valid, signature.
    b.running()
        .docs()
        .forge("network", b"metz.0badc0de", Some(&key), |d| {
            put_forged(d, "site qui se croit académie")
        })
        .await
        .unwrap();
    eventually("the academy refuses the session", || {
        r.running().status().refused_sessions > 0
    })
    .await;
    assert!(!has_forgery(&r, "network"));
}

/// Whether `node`'s registry shows `site` revoked.
fn sees_revoked(node: &TestNode, site: &str) -> bool {
    node.running()
        .docs()
        .read("network", |d| {
            maillage::domain::registry::get(d, site)
                .ok()
                .flatten()
                .is_some_and(|e| e.is_revoked())
        })
        .unwrap_or(false)
}

/// The academy `r` revokes `site`; returns once every node of `watchers`
/// holds the revocation.
async fn revoke_and_wait(r: &TestNode, site: &str, watchers: &[&TestNode]) {
    NetworkClient::new(r.admin().await)
        .revoke(pb::SiteId { id: site.into() })
        .await
        .unwrap();
    eventually("the revocation reaches every watcher", || {
        watchers.iter().all(|n| sees_revoked(n, site))
    })
    .await;
}

/// Names of the items `node` lists.
async fn names(node: &TestNode) -> Vec<String> {
    node.list().await.into_iter().map(|i| i.name).collect()
}

/// A network where forbach is revoked after one write, then writes again;
/// the compromised node `intrus` holds and relays that later write. With
/// `malformed_registry`, the academy's registry also gets an entry no reader
/// can hydrate before that write.
async fn revoked_forbach(malformed_registry: bool) -> (TestNode, TestNode, TestNode, TestNode) {
    let r = TestNode::start_with("rectorat", Role::Academy, &[], |_| {}).await;
    let b = TestNode::start("metz", &[&r]).await;
    let f = TestNode::start("forbach", &[&r]).await;
    let m = TestNode::start("intrus", &[&r, &b]).await;
    for n in [&b, &f, &m] {
        enrol(&r, n).await.unwrap();
    }
    f.add_item("Kit sport (avant révocation)").await;
    b.add_item("Vidéoprojecteur").await;
    converge(&[&r, &b, &f, &m]).await;
    revoke_and_wait(&r, "forbach", &[&b, &m]).await;
    if malformed_registry {
        r.running()
            .docs()
            .change("network", "entrée abîmée", |d| {
                use automerge::transaction::Transactable;
                let sites = match automerge::ReadDoc::get(d, automerge::ROOT, "sites").unwrap() {
                    Some((_, id)) => id,
                    None => panic!("no registry"),
                };
                d.put(&sites, "zz-abime", "pas une inscription").unwrap();
                Ok(())
            })
            .await
            .unwrap();
        eventually("metz holds the malformed registry", || {
            b.running()
                .docs()
                .read("network", |d| maillage::domain::registry::all(d).is_err())
                .unwrap_or(false)
        })
        .await;
    }
    f.add_item("Écrit après révocation").await;
    let (bytes, sigs) = f.running().docs().raw("site/forbach").unwrap();
    m.running()
        .docs()
        .import_unverified("site/forbach", &bytes, &sigs)
        .await
        .unwrap();
    assert!(names(&m)
        .await
        .contains(&"Écrit après révocation".to_string()));
    (r, b, f, m)
}

/// A node that joins after a revocation, through a compromised peer holding
/// the revoked site's later writes, takes the registry first and refuses
/// them; it refuses the revoked site's sessions too.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_node_joining_after_a_revocation_refuses_the_revoked_sites_writes() {
    let (_r, b, mut f, m) = revoked_forbach(false).await;
    let n = TestNode::start("sarreguemines", &[&m]).await;
    eventually("the new node holds the registry and metz's items", || {
        sees_revoked(&n, "forbach") && n.running().docs().read("site/metz", |_| ()).is_some()
    })
    .await;
    eventually("it set the revoked site's writes aside", || {
        n.running().status().withheld_messages > 0
    })
    .await;
    assert!(!names(&n)
        .await
        .contains(&"Écrit après révocation".to_string()));
    // The revoked site dials it: refused, with the reason on the dialer's side.
    f.restart_with(|c| c.peers = vec![n.fed_url.clone()]).await;
    eventually("forbach is told it was revoked", || {
        f.running()
            .status()
            .peers
            .iter()
            .any(|p| p.last_error.contains("révoqué"))
    })
    .await;
    assert!(!n
        .running()
        .status()
        .peers
        .iter()
        .any(|p| p.site == "forbach" && p.connected));
    let _ = b;
}

/// One malformed entry in the registry does not switch revocation off.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_malformed_registry_entry_does_not_lift_revocations() {
    let (_r, b, _f, _m) = revoked_forbach(true).await;
    eventually("metz sets the relayed writes aside", || {
        b.running().status().withheld_messages > 0
    })
    .await;
    assert!(!names(&b)
        .await
        .contains(&"Écrit après révocation".to_string()));
    assert!(names(&b)
        .await
        .contains(&"Kit sport (avant révocation)".to_string()));
}

/// A revoked academy node rewrites the registry to lift its own revocation:
/// the registry that decides is the one before its message, so every honest
/// node refuses it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_revoked_academy_node_cannot_lift_its_own_revocation() {
    let r = TestNode::start_with("rectorat", Role::Academy, &[], |_| {}).await;
    let r2 = TestNode::start_with("academie-bis", Role::Academy, &[&r], |_| {}).await;
    let b = TestNode::start("metz", &[&r]).await;
    let m = TestNode::start("intrus", &[&b]).await;
    // An academy node enrols itself in the registry it writes.
    for n in [&b, &m] {
        enrol(&r, n).await.unwrap();
    }
    converge(&[&r, &r2, &b, &m]).await;
    revoke_and_wait(&r, "academie-bis", &[&b, &m]).await;
    // Its own node lifts the revocation, with its own valid signature.
    r2.running()
        .docs()
        .change("network", "révocation levée", |d| {
            let mut e = maillage::domain::registry::get(d, "academie-bis")?.unwrap();
            e.revoked_at.clear();
            e.cutoff.clear();
            maillage::domain::registry::put(d, "academie-bis", &e)
        })
        .await
        .unwrap();
    assert!(!sees_revoked(&r2, "academie-bis"));
    let (bytes, sigs) = r2.running().docs().raw("network").unwrap();
    m.running()
        .docs()
        .import_unverified("network", &bytes, &sigs)
        .await
        .unwrap();
    eventually("metz sets the relayed registry change aside", || {
        b.running().status().withheld_messages > 0
    })
    .await;
    assert!(sees_revoked(&b, "academie-bis"));
    assert!(sees_revoked(&r, "academie-bis"));
}

/// Any certified site could rewrite an action document it relays; every node
/// enforces that only participants edit it, and that other sites only join
/// or leave.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn only_participants_edit_an_action_whoever_relays_it() {
    let b = TestNode::start("metz", &[]).await;
    let c = TestNode::start("thionville", &[&b]).await;
    let m = TestNode::start("intrus", &[&b]).await;
    let created = b
        .actions()
        .await
        .create(pb::CreateActionRequest {
            title: "Fête de la science".into(),
            axis: 1,
            ..Default::default()
        })
        .await
        .unwrap()
        .into_inner();
    converge(&[&b, &c, &m]).await;
    let doc = format!("action/{}", created.id);
    // Thionville, not a participant, joins: accepted everywhere.
    c.actions()
        .await
        .join(pb::ActionId {
            id: created.id.clone(),
        })
        .await
        .unwrap();
    converge(&[&b, &c, &m]).await;
    let title = |n: &TestNode| {
        n.running().docs().read(&doc, |d| {
            automerge::ReadDoc::get(d, automerge::ROOT, "title")
                .unwrap()
                .and_then(|(v, _)| v.into_string().ok())
        })
    };
    // The intruder, not a participant, rewrites the title with its own,
    // valid, signature.
    let key = maillage::tls::site_key(&m.dir).unwrap();
    m.running()
        .docs()
        .forge(&doc, b"intrus.0badc0de", Some(&key), |d| {
            use automerge::transaction::Transactable;
            d.put(automerge::ROOT, "title", "Action détournée").unwrap();
            Ok(())
        })
        .await
        .unwrap();
    assert_eq!(title(&m), Some(Some("Action détournée".into())));
    eventually("metz refuses the intruder's edit, saying why", || {
        b.running()
            .status()
            .peers
            .iter()
            .any(|p| p.last_error.contains("ne participe pas"))
    })
    .await;
    for n in [&b, &c] {
        assert_eq!(title(n), Some(Some("Fête de la science".into())));
    }
}
