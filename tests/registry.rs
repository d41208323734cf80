//! The site registry's keys: enrolment checked against the site's certificate,
//! `site update`, and a site's key rotation (`key rotate`, `ca sign`,
//! `cert install`), over real nodes with mutual TLS.

mod common;

use std::path::{Path, PathBuf};

use common::*;
use maillage::domain::registry;
use maillage::domain::site::Role;
use maillage::pb::{self, network_client::NetworkClient};
use tonic::Code;

/// A valid Ed25519 public key that no node holds.
fn stray_key() -> String {
    hex::encode(
        ed25519_dalek::SigningKey::from_bytes(&rand::random::<[u8; 32]>())
            .verifying_key()
            .to_bytes(),
    )
}

fn key_of(node: &TestNode) -> String {
    node.running().status().public_key
}

/// The certificate `site`'s document publishes, as held by `node`.
fn published_certificate(node: &TestNode, site: &str) -> Option<String> {
    node.running()
        .docs()
        .read(&format!("site/{site}"), |d| {
            automerge::ReadDoc::get(d, automerge::ROOT, maillage::trust::CERTIFICATE_KEY)
                .unwrap()
                .and_then(|(v, _)| v.as_str().map(str::to_string))
        })
        .flatten()
}

fn entry(node: &TestNode, site: &str) -> Option<registry::SiteEntry> {
    node.running()
        .docs()
        .read("network", |d| registry::get(d, site).unwrap())
        .flatten()
}

fn update(id: &str) -> pb::UpdateSiteRequest {
    pb::UpdateSiteRequest {
        id: id.into(),
        ..Default::default()
    }
}

/// Runs the `maillage` command line with `args` only.
fn maillage(args: &[&str]) -> std::process::Output {
    std::process::Command::new(env!("CARGO_BIN_EXE_maillage"))
        .args(args)
        .output()
        .unwrap()
}

fn path(p: &Path) -> &str {
    p.to_str().unwrap()
}

/// The node directory's files but its storage, with their contents.
fn key_files(dir: &Path) -> Vec<(PathBuf, Vec<u8>)> {
    fn walk(dir: &Path, root: &Path, out: &mut Vec<(PathBuf, Vec<u8>)>) {
        for e in std::fs::read_dir(dir).unwrap() {
            let p = e.unwrap().path();
            let rel = p.strip_prefix(root).unwrap().to_path_buf();
            if rel.starts_with(maillage::config::DATA_DIR) {
                continue;
            }
            if p.is_dir() {
                walk(&p, root, out);
            } else {
                out.push((rel, std::fs::read(&p).unwrap()));
            }
        }
    }
    let mut out = Vec::new();
    walk(dir, dir, &mut out);
    out.sort();
    out
}

/// Once the site's document has reached the academy, a key or a role that
/// contradicts its certificate is refused and nothing is written; the right
/// key is accepted.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn enrolment_is_checked_against_the_sites_certificate() {
    let r = TestNode::start_with("rectorat", Role::Academy, &[], |_| {}).await;
    let b = TestNode::start("metz", &[&r]).await;
    let c = TestNode::start("thionville", &[&r]).await;
    eventually("metz's certificate reaches the academy", || {
        published_certificate(&r, "metz").is_some()
    })
    .await;
    converge(&[&r, &b, &c]).await;
    let before = r.digest();
    let (metz, thionville) = (key_of(&b), key_of(&c));
    let mut n = NetworkClient::new(r.admin().await);
    let request = |key: &str, role: &str| pb::EnrolSiteRequest {
        id: "metz".into(),
        name: "Tiers-lieu metz".into(),
        endpoint: b.fed_url.clone(),
        key: key.into(),
        role: role.into(),
    };

    let err = n.enrol(request(&thionville, "site")).await.unwrap_err();
    assert_eq!(err.code(), Code::InvalidArgument, "{err:?}");
    let msg = err.message();
    assert!(msg.contains(&thionville[..16]), "{msg}");
    assert!(msg.contains(&metz[..16]), "{msg}");
    assert!(msg.contains("maillage status"), "{msg}");
    assert!(msg.contains("public_key"), "{msg}");

    let err = n.enrol(request(&metz, "academy")).await.unwrap_err();
    assert_eq!(err.code(), Code::InvalidArgument, "{err:?}");
    assert!(err.message().contains("--role site"), "{}", err.message());

    assert_eq!(r.digest(), before, "nothing written on refusal");
    assert!(entry(&r, "metz").is_none());

    let e = n.enrol(request(&metz, "site")).await.unwrap().into_inner();
    assert_eq!(e.public_key, metz);
    assert!(e.retired_keys.is_empty());
    // A site whose document has not reached the academy is enrolled on trust.
    n.enrol(pb::EnrolSiteRequest {
        id: "forbach".into(),
        name: "Forbach".into(),
        key: stray_key(),
        ..Default::default()
    })
    .await
    .unwrap();
}

/// A site enrolled with a wrong key before its certificate reached the
/// academy is locked out: every node refuses its changes. `site update` with
/// the right key lets it in, and from then on the certificate checks updates.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_site_enrolled_with_a_wrong_key_is_let_in_by_site_update() {
    let r = TestNode::start_with("rectorat", Role::Academy, &[], |_| {}).await;
    let wrong = stray_key();
    let mut n = NetworkClient::new(r.admin().await);
    n.enrol(pb::EnrolSiteRequest {
        id: "metz".into(),
        name: "Tiers-lieu metz".into(),
        key: wrong.clone(),
        ..Default::default()
    })
    .await
    .unwrap();
    let b = TestNode::start("metz", &[&r]).await;
    eventually("the academy refuses metz's changes", || {
        r.running().status().refused_sessions > 0
    })
    .await;
    assert!(published_certificate(&r, "metz").is_none());

    let fixed = n
        .update(pb::UpdateSiteRequest {
            key: key_of(&b),
            ..update("metz")
        })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(fixed.public_key, key_of(&b));
    assert_eq!(fixed.retired_keys, vec![wrong.clone()]);
    b.add_item("Malle robotique").await;
    converge(&[&r, &b]).await;
    assert!(published_certificate(&r, "metz").is_some());
    let names: Vec<String> = r.list().await.into_iter().map(|i| i.name).collect();
    assert!(names.contains(&"Malle robotique".to_string()));
}

/// `site update` changes name and endpoint everywhere, keeps what is not
/// given, refuses what it must, and a new key retires the old one with the
/// heads the academy held.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn site_update_changes_the_registry_and_retires_replaced_keys() {
    let r = TestNode::start_with("rectorat", Role::Academy, &[], |_| {}).await;
    let b = TestNode::start("metz", &[&r]).await;
    let c = TestNode::start("thionville", &[&r]).await;
    for node in [&b, &c] {
        enrol(&r, node).await.unwrap();
    }
    b.add_item("Vidéoprojecteur").await;
    converge(&[&r, &b, &c]).await;
    let metz = key_of(&b);
    let mut n = NetworkClient::new(r.admin().await);

    let endpoint = "https://metz.example.invalid:7400";
    let e = n
        .update(pb::UpdateSiteRequest {
            name: "Tiers-lieu éducatif de Metz-Borny".into(),
            endpoint: endpoint.into(),
            ..update("metz")
        })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(e.name, "Tiers-lieu éducatif de Metz-Borny");
    assert_eq!(e.endpoint, endpoint);
    assert_eq!(e.public_key, metz, "unset fields are kept");
    assert_eq!(e.role, "site");
    assert!(e.retired_keys.is_empty());
    eventually("thionville's registry shows the update", || {
        entry(&c, "metz").is_some_and(|e| e.endpoint == endpoint)
    })
    .await;
    let listed: serde_json::Value =
        serde_json::from_str(&ok(&c.cli(&["site", "list", "--json"]))).unwrap();
    let shown = listed
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["id"] == "metz")
        .unwrap();
    assert_eq!(shown["name"], "Tiers-lieu éducatif de Metz-Borny");
    assert_eq!(shown["endpoint"], endpoint);
    assert_eq!(shown["public_key"], metz.as_str());

    // Refusals change nothing.
    converge(&[&r, &b, &c]).await;
    let before = r.digest();
    let denied = NetworkClient::new(b.admin().await)
        .update(pb::UpdateSiteRequest {
            name: "Pirate".into(),
            ..update("metz")
        })
        .await
        .unwrap_err();
    assert_eq!(denied.code(), Code::PermissionDenied);
    let unknown = n
        .update(pb::UpdateSiteRequest {
            name: "Nancy".into(),
            ..update("nancy")
        })
        .await
        .unwrap_err();
    assert_eq!(unknown.code(), Code::NotFound);
    for bad in [
        pb::UpdateSiteRequest {
            key: "abcd".into(),
            ..update("metz")
        },
        pb::UpdateSiteRequest {
            endpoint: "ftp://metz".into(),
            ..update("metz")
        },
        update("metz"),
    ] {
        let err = n.update(bad).await.unwrap_err();
        assert_eq!(err.code(), Code::InvalidArgument, "{err:?}");
    }
    let own = n
        .update(pb::UpdateSiteRequest {
            key: stray_key(),
            ..update("rectorat")
        })
        .await
        .unwrap_err();
    assert_eq!(own.code(), Code::FailedPrecondition, "{own:?}");
    assert_eq!(r.digest(), before);

    n.revoke(pb::SiteId {
        id: "thionville".into(),
    })
    .await
    .unwrap();
    let before = r.digest();
    let revoked = n
        .update(pb::UpdateSiteRequest {
            name: "Thionville".into(),
            ..update("thionville")
        })
        .await
        .unwrap_err();
    assert_eq!(revoked.code(), Code::FailedPrecondition);
    assert_eq!(r.digest(), before);

    // A new key (a rotation: metz's certificate still binds the current one),
    // through the command line.
    let next = stray_key();
    let heads = r.running().docs().heads("site/metz");
    let out: serde_json::Value = serde_json::from_str(&ok(
        &r.cli(&["site", "update", "metz", "--key", &next, "--json"])
    ))
    .unwrap();
    assert_eq!(out["public_key"], next.as_str());
    assert_eq!(out["retired_keys"], serde_json::json!([metz]));
    let e = entry(&r, "metz").unwrap();
    assert_eq!(e.public_key, next);
    assert_eq!(e.endpoint, endpoint);
    assert_eq!(e.retired_keys.len(), 1);
    let retired = &e.retired_keys[0];
    assert_eq!(retired.key, metz);
    assert!(!retired.retired_at.is_empty());
    assert!(!retired.cutoff.is_empty());
    assert_eq!(retired.cutoff.get("site/metz"), Some(&heads));
    assert!(retired.cutoff.contains_key("network"));
    assert!(!retired.cutoff.contains_key("site/thionville"));
    let human = ok(&r.cli(&["site", "list"]));
    assert!(human.contains(&format!("clé retirée : {metz}")), "{human}");

    // Metz's certificate binds neither the current key nor this one: refused.
    let before = r.digest();
    let err = n
        .update(pb::UpdateSiteRequest {
            key: stray_key(),
            ..update("metz")
        })
        .await
        .unwrap_err();
    assert_eq!(err.code(), Code::InvalidArgument, "{err:?}");
    assert!(err.message().contains(&metz[..16]), "{}", err.message());
    assert_eq!(r.digest(), before);
    // The certified key is accepted back.
    let back = n
        .update(pb::UpdateSiteRequest {
            key: metz.clone(),
            ..update("metz")
        })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(back.public_key, metz);
    assert_eq!(back.retired_keys, vec![metz.clone(), next.clone()]);
}

/// The whole rotation of a site's key on a stopped node, through the command
/// line: the restarted node signs with the new key, publishes the new
/// certificate, and the network takes its changes.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_site_rotates_its_key() {
    let r = TestNode::start_with("rectorat", Role::Academy, &[], |_| {}).await;
    let mut b = TestNode::start("metz", &[&r]).await;
    let c = TestNode::start("thionville", &[&r]).await;
    for node in [&b, &c] {
        enrol(&r, node).await.unwrap();
    }
    b.add_item("Avant rotation").await;
    converge(&[&r, &b, &c]).await;
    let old_key = key_of(&b);
    b.stop().await;

    let started: serde_json::Value =
        serde_json::from_str(&ok(&b.cli(&["key", "rotate", "--json"]))).unwrap();
    let new_key = started["public_key"].as_str().unwrap().to_string();
    assert_eq!(new_key.len(), 64);
    assert_ne!(new_key, old_key);
    let rotation = b.dir.join("rotation");
    for f in ["site.key", "node.key", "node.csr"] {
        assert!(rotation.join(f).exists(), "{f}");
    }
    assert_eq!(maillage::tls::site_public_key(&b.dir).unwrap(), old_key);
    let again = b.cli(&["key", "rotate"]);
    assert!(!again.status.success());
    let err = String::from_utf8_lossy(&again.stderr);
    assert!(
        err.contains("déjà en cours") && err.contains("supprimant"),
        "{err}"
    );

    let ca = network_ca();
    let ca_pem = ca.join("ca.pem");
    let tmp = tempfile::tempdir().unwrap();
    let cert = tmp.path().join("node.pem");
    let csr = rotation.join("node.csr");
    let signed = ok(&maillage(&[
        "ca",
        "sign",
        "--dir",
        path(ca),
        "--csr",
        path(&csr),
        "--out",
        path(&cert),
    ]));
    assert!(signed.contains(&new_key), "{signed}");

    // A certificate of unrelated keys is refused and changes nothing.
    let other = tmp.path().join("other");
    std::fs::create_dir(&other).unwrap();
    let k = maillage::tls::site_key_init(&other).unwrap();
    maillage::tls::node_request(&other, "metz", "site", &k).unwrap();
    let unrelated = tmp.path().join("other.pem");
    ok(&maillage(&[
        "ca",
        "sign",
        "--dir",
        path(ca),
        "--csr",
        path(&other.join("node.csr")),
        "--out",
        path(&unrelated),
    ]));
    let files = key_files(&b.dir);
    let refused = b.cli(&[
        "cert",
        "install",
        "--cert",
        path(&unrelated),
        "--ca-cert",
        path(&ca_pem),
    ]);
    assert!(!refused.status.success());
    assert_eq!(key_files(&b.dir), files, "nothing changed");

    // The academy approves the key, the site installs its certificate.
    ok(&r.cli(&["site", "update", "metz", "--key", &new_key]));
    let installed: serde_json::Value = serde_json::from_str(&ok(&b.cli(&[
        "cert",
        "install",
        "--cert",
        path(&cert),
        "--ca-cert",
        path(&ca_pem),
        "--json",
    ])))
    .unwrap();
    assert_eq!(installed["rotated"], true);
    assert_eq!(installed["public_key"], new_key.as_str());
    assert!(!rotation.exists());
    let retired = PathBuf::from(installed["retired"].as_str().unwrap());
    assert!(retired.starts_with(b.dir.join("retired")));
    assert_eq!(maillage::tls::site_public_key(&retired).unwrap(), old_key);
    assert!(retired.join("node.pem").exists() && retired.join("node.key").exists());
    assert_eq!(maillage::tls::site_public_key(&b.dir).unwrap(), new_key);

    b.restart().await;
    let status: serde_json::Value =
        serde_json::from_str(&ok(&b.cli(&["status", "--json"]))).unwrap();
    assert_eq!(status["public_key"], new_key.as_str());

    // It publishes the new certificate, signed with the new key.
    let ca_der = maillage::tls::pem_der(&std::fs::read_to_string(&ca_pem).unwrap()).unwrap();
    let published = published_certificate(&b, "metz").unwrap();
    assert_eq!(published, std::fs::read_to_string(&cert).unwrap());
    let bound = maillage::tls::certified(&ca_der, &published).unwrap();
    assert_eq!(hex::encode(bound.key), new_key);
    let docs = b.running().docs();
    let head: automerge::ChangeHash = docs.heads("site/metz")[0].parse().unwrap();
    let (_, sigs) = docs.raw("site/metz").unwrap();
    let sig = sigs.iter().find(|(h, _)| *h == head).unwrap().1;
    let verifying = ed25519_dalek::VerifyingKey::from_bytes(
        &hex::decode(&new_key).unwrap().try_into().unwrap(),
    )
    .unwrap();
    use ed25519_dalek::Verifier;
    verifying
        .verify(
            &maillage::trust::payload("site/metz", &head),
            &ed25519_dalek::Signature::from_bytes(&sig),
        )
        .expect("the restarted node signs with the new key");

    // The network takes its new changes and keeps the old ones.
    b.add_item("Après rotation").await;
    converge(&[&r, &b, &c]).await;
    for node in [&r, &c] {
        assert_eq!(published_certificate(node, "metz"), Some(published.clone()));
        let names: Vec<String> = node.list().await.into_iter().map(|i| i.name).collect();
        assert!(names.contains(&"Avant rotation".to_string()), "{names:?}");
        assert!(names.contains(&"Après rotation".to_string()), "{names:?}");
    }
    assert_eq!(r.running().status().refused_sessions, 0);

    // A fresh node takes metz's whole history, old key and new.
    let n = TestNode::start("sarreguemines", &[&r]).await;
    converge(&[&r, &b, &n]).await;
    let names: Vec<String> = n.list().await.into_iter().map(|i| i.name).collect();
    assert!(names.contains(&"Avant rotation".to_string()), "{names:?}");
    assert!(names.contains(&"Après rotation".to_string()), "{names:?}");

    // A change signed with the old key after the rotation is refused.
    let old = maillage::tls::site_key(&retired).unwrap();
    b.running()
        .docs()
        .forge("site/metz", b"metz.01d01d01", Some(&old), |d| {
            use automerge::transaction::Transactable;
            d.put(automerge::ROOT, "forged", "ancienne clé").unwrap();
            Ok(())
        })
        .await
        .unwrap();
    // Set aside (an honest relay may have taken it before the new key
    // reached it), never applied.
    eventually("the academy sets the old key's new change aside", || {
        r.running().status().withheld_messages > 0
    })
    .await;
    let forged = r.running().docs().read("site/metz", |d| {
        automerge::ReadDoc::get(d, automerge::ROOT, "forged")
            .unwrap()
            .is_some()
    });
    assert_eq!(forged, Some(false));
}
