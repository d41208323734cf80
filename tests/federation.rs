//! Several real nodes over real sockets converge, whatever their topology.

mod common;

use std::collections::BTreeSet;

use common::*;
use maillage::pb;

fn names(items: &[pb::EquipmentItem]) -> BTreeSet<String> {
    items.iter().map(|i| i.name.clone()).collect()
}

/// Each node adds `n` items, all nodes at once.
async fn concurrent_writes(nodes: &[&TestNode], n: usize) {
    let mut tasks = Vec::new();
    for node in nodes {
        let mut client = node.equipment().await;
        let site = node.site.clone();
        tasks.push(tokio::spawn(async move {
            for i in 0..n {
                client
                    .add(pb::AddEquipmentRequest {
                        name: format!("{site} objet {i}"),
                        category: "numérique".into(),
                        ..Default::default()
                    })
                    .await
                    .unwrap();
            }
        }));
    }
    for t in tasks {
        t.await.unwrap();
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn three_nodes_in_a_mesh_converge() {
    let a = TestNode::start("alpha", &[]).await;
    let b = TestNode::start("beta", &[&a]).await;
    let c = TestNode::start("gamma", &[&a, &b]).await;
    concurrent_writes(&[&a, &b, &c], 10).await;
    let digest = converge(&[&a, &b, &c]).await;
    for node in [&a, &b, &c] {
        let items = node.list().await;
        assert_eq!(items.len(), 30, "{} sees every item", node.site);
        assert_eq!(node.digest(), digest);
    }
    assert_eq!(names(&a.list().await), names(&c.list().await));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn three_nodes_in_a_line_converge_through_the_middle() {
    let a = TestNode::start("alpha", &[]).await;
    let b = TestNode::start("beta", &[&a]).await;
    let c = TestNode::start("gamma", &[&b]).await;
    concurrent_writes(&[&a, &b, &c], 10).await;

    // Concurrent updates of one item: A updates its own item while C adds more.
    let item = a.add_item("Imprimante 3D").await;
    let mut ea = a.equipment().await;
    let (r1, _) = tokio::join!(
        ea.update(pb::UpdateEquipmentRequest {
            id: item.id.clone(),
            description: Some("plateau chauffant".into()),
            ..Default::default()
        }),
        c.add_item("Caméra")
    );
    r1.unwrap();
    converge(&[&a, &b, &c]).await;

    for node in [&a, &b, &c] {
        assert_eq!(node.list().await.len(), 32, "{}", node.site);
    }
    let seen_by_c = c
        .equipment()
        .await
        .get(pb::EquipmentId {
            id: item.id.clone(),
        })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(seen_by_c.description, "plateau chauffant");
    assert_eq!(seen_by_c.site, "alpha");

    // A and C never connected: each only knows B.
    for (node, other) in [(&a, "gamma"), (&c, "alpha")] {
        let peers = node.running().status().peers;
        assert!(
            peers.iter().all(|p| p.site != other),
            "{} must not know {other}: {peers:?}",
            node.site
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_write_crosses_a_line_without_polling() {
    let a = TestNode::start("alpha", &[]).await;
    let b = TestNode::start("beta", &[&a]).await;
    let c = TestNode::start("gamma", &[&b]).await;
    converge(&[&a, &b, &c]).await;
    for i in 0..5 {
        let start = tokio::time::Instant::now();
        a.add_item(&format!("objet {i}")).await;
        let want = a.digest();
        eventually("write reaches the end of the line", || c.digest() == want).await;
        // Pushed along live sessions: far below any reconnect or poll interval.
        assert!(
            start.elapsed() < std::time::Duration::from_secs(2),
            "took {:?}",
            start.elapsed()
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_stopped_node_catches_up_when_restarted() {
    let a = TestNode::start("alpha", &[]).await;
    let b = TestNode::start("beta", &[&a]).await;
    let mut c = TestNode::start("gamma", &[&a, &b]).await;
    c.add_item("avant l'arrêt").await;
    converge(&[&a, &b, &c]).await;
    c.stop().await;

    concurrent_writes(&[&a, &b], 15).await;
    let ab = converge(&[&a, &b]).await;

    c.restart().await;
    let all = converge(&[&a, &b, &c]).await;
    assert_eq!(all, ab, "C caught up with exactly what A and B hold");
    let items = c.list().await;
    assert_eq!(items.len(), 31);
    assert!(items.iter().any(|i| i.name == "avant l'arrêt"));
    let status = c.running().status();
    assert!(status
        .peers
        .iter()
        .any(|p| p.connected && p.site == "alpha"));
    assert!(status
        .peers
        .iter()
        .all(|p| !p.connected || !p.last_sync.is_empty()));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn status_reports_documents_and_peers() {
    let a = TestNode::start("alpha", &[]).await;
    let b = TestNode::start("beta", &[&a]).await;
    converge(&[&a, &b]).await;
    let s = b.running().status();
    assert_eq!(s.site, "beta");
    assert_eq!(s.role, "site");
    let ids: Vec<&str> = s.documents.iter().map(|d| d.id.as_str()).collect();
    assert_eq!(ids, vec!["site/alpha", "site/beta"]);
    assert!(s.documents.iter().all(|d| d.heads.len() == 1));
    let peer = s
        .peers
        .iter()
        .find(|p| p.site == "alpha")
        .expect("peer alpha");
    assert!(peer.connected);
    assert!(!peer.last_sync.is_empty());
    assert_eq!(peer.address, a.fed_url);
    // Digests differ as soon as states differ.
    let before = b.digest();
    b.add_item("nouveau").await;
    assert_ne!(before, b.digest());
    converge(&[&a, &b]).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn reconnect_when_nothing_changed_costs_almost_nothing() {
    let a = TestNode::start("alpha", &[]).await;
    let mut b = TestNode::start("beta", &[&a]).await;
    for i in 0..20 {
        a.add_item(&format!("objet {i}")).await;
        b.add_item(&format!("chose {i}")).await;
    }
    converge(&[&a, &b]).await;
    b.restart().await;
    eventually("B reconnects to A", || {
        b.running()
            .status()
            .peers
            .iter()
            .any(|p| p.site == "alpha" && p.connected && !p.last_sync.is_empty())
    })
    .await;
    converge(&[&a, &b]).await;
    let row = b
        .running()
        .status()
        .peers
        .into_iter()
        .find(|p| p.site == "alpha")
        .unwrap();
    let docs = b.running().status().documents.len() as u64;
    let bytes = row.bytes_sent + row.bytes_received;
    assert!(
        bytes <= 64 * docs,
        "{bytes} bytes for {docs} unchanged documents"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_demo_network_starts_and_converges() {
    init_tracing();
    let tmp = tempfile::tempdir().unwrap();
    let nodes = maillage::cli::demo::start(tmp.path(), 0).await.unwrap();
    assert_eq!(nodes.len(), 4);
    assert_eq!(nodes[0].status().role, "academy");
    let start = tokio::time::Instant::now();
    loop {
        let d: Vec<String> = nodes.iter().map(|n| n.status().digest).collect();
        if d.iter().all(|x| x == &d[0]) {
            break;
        }
        assert!(start.elapsed() < TIMEOUT, "demo nodes did not converge");
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
    let items = maillage::app::equipment::list_all(&nodes[0].ctx).unwrap();
    assert_eq!(
        items.len(),
        10,
        "the academy sees every site's sample equipment"
    );
    let sites: std::collections::BTreeSet<&str> = items.iter().map(|i| i.site.as_str()).collect();
    assert_eq!(sites.len(), 3);
    let loans = maillage::app::loans::all_loans(&nodes[0].ctx).unwrap();
    let states: std::collections::BTreeSet<&str> = loans.iter().map(|l| l.state()).collect();
    for s in maillage::domain::loans::STATES {
        assert!(states.contains(s), "the demo has a loan {s}");
    }
    let now = chrono::Utc::now();
    assert_eq!(loans.iter().filter(|l| l.overdue(now)).count(), 1);
    let actions = maillage::app::actions::all(&nodes[0].ctx).unwrap();
    assert_eq!(actions.len(), 2);
    assert!(actions.iter().all(|a| a.participants.len() >= 2));
    let events = maillage::app::calendar::all_events(&nodes[0].ctx).unwrap();
    assert!(events.len() >= 5, "{events:?}");
    assert!(events.iter().any(|(_, _, e)| !e.rrule.is_empty()));
    assert!(events.iter().any(|(_, site, _)| site == "network"));
    let purchases = maillage::app::purchases::all(&nodes[0].ctx).unwrap();
    let states: Vec<&str> = purchases.iter().map(|p| p.state()).collect();
    assert!(
        states.contains(&"validated") && states.contains(&"submitted"),
        "{states:?}"
    );
    let report = maillage::app::reports::indicators(
        &nodes[0].ctx,
        &maillage::pb::IndicatorsRequest::default(),
    )
    .unwrap();
    let figure = |name: &str| {
        report
            .total
            .iter()
            .find(|f| f.name == name)
            .map(|f| f.value.clone())
    };
    // A believable past: the autumn's loans entered after the fact, over
    // weeks, and a weekly club whose every past session was counted.
    let recorded: Vec<_> = loans.iter().filter(|l| l.recorded()).collect();
    assert!(recorded.len() >= 8, "{} recorded loans", recorded.len());
    let earliest = recorded
        .iter()
        .filter_map(|l| l.window())
        .map(|(from, _)| from)
        .min()
        .unwrap();
    assert!(
        now - earliest > chrono::Duration::days(60),
        "history since {earliest}"
    );
    let days_out: i64 = figure("equipment.item_days_out").unwrap().parse().unwrap();
    assert!(
        days_out > 40,
        "the autumn's loans count in the use rate: {days_out}"
    );
    let pupils: i64 = figure("attendance.pupils").unwrap().parse().unwrap();
    assert!(pupils >= 26 + 8 * 7, "{pupils} pupils counted");
    assert_eq!(figure("partners.count").as_deref(), Some("1"));
    assert_eq!(figure("purchases.requested").as_deref(), Some("2"));

    // The academy has enrolled every site: its network status lists the
    // three sites, connected.
    let health = maillage::app::network::health(&nodes[0].ctx).unwrap();
    for (site, _, _) in &maillage::cli::demo::DEMO_SITES[1..] {
        let row = health.sites.iter().find(|s| s.id == *site);
        assert!(
            row.is_some_and(|r| r.connected && r.revoked_at.is_empty()),
            "{site} enrolled and connected: {:?}",
            health.sites
        );
    }

    // Every command the demo's banner suggests succeeds, run as printed.
    let cwd = tempfile::tempdir().unwrap();
    for (dir, command) in maillage::cli::demo::suggested_commands(tmp.path()) {
        let mut args = vec!["--dir".to_string(), dir.display().to_string()];
        args.extend(shell_words(command));
        let out = std::process::Command::new(env!("CARGO_BIN_EXE_maillage"))
            .args(&args)
            .current_dir(cwd.path())
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "`{command}` failed: {}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        let stdout = String::from_utf8_lossy(&out.stdout);
        if !command.contains("--json") {
            // What people read: dates as they write them, values in French.
            assert!(
                machine_time(&stdout).is_none(),
                "`{command}` prints a machine time {:?}:\n{stdout}",
                machine_time(&stdout)
            );
            for internal in [
                "en_cours",
                "checked_out",
                "workshop",
                "local_authority",
                "pupils",
                "submitted",
            ] {
                assert!(
                    !stdout.contains(internal),
                    "`{command}` prints « {internal} »:\n{stdout}"
                );
            }
        }
        if command == "action list" {
            assert!(stdout.contains("en cours"), "{stdout}");
            assert!(
                stdout.contains("Tiers-lieu éducatif de Metz-Borny"),
                "the lead by name:\n{stdout}"
            );
        }
        if command == "partner list" {
            assert!(stdout.contains("collectivité"), "{stdout}");
            assert!(stdout.contains("1\u{202f}500,00 €"), "{stdout}");
        }
        if command == "network status" {
            for (_, name, _) in &maillage::cli::demo::DEMO_SITES[1..] {
                assert!(stdout.contains(name), "{name} in:\n{stdout}");
            }
            assert_eq!(stdout.matches("— connecté").count(), 3, "{stdout}");
        }
    }
    for n in nodes {
        n.shutdown().await;
    }
}

/// A new node catching up receives each document once: the bytes on its
/// socket (TLS and HTTP/2 included) stay well under twice the document.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_new_node_receives_each_document_once() {
    let a = TestNode::start("metz", &[]).await;
    // One large document: 4,000 records written in a few changes, with bytes
    // that do not compress (so that a second copy cannot hide in deflate).
    for batch in 0..4 {
        a.running()
            .docs()
            .change("site/metz", "lot", |d| {
                use automerge::transaction::Transactable;
                let map = match automerge::ReadDoc::get(d, automerge::ROOT, "bulk").unwrap() {
                    Some((_, id)) => id,
                    None => d
                        .put_object(automerge::ROOT, "bulk", automerge::ObjType::Map)
                        .unwrap(),
                };
                for i in 0..1000 {
                    let noise: Vec<u8> = (0..24).map(|_| rand::random::<u8>()).collect();
                    d.put(&map, format!("k{batch}-{i}"), noise).unwrap();
                }
                Ok(())
            })
            .await
            .unwrap();
    }
    let size = a.running().docs().export("site/metz").unwrap().len() as u64;
    assert!(size > 60_000, "document of {size} bytes");
    let b = TestNode::start("thionville", &[&a]).await;
    converge(&[&a, &b]).await;
    tokio::time::sleep(std::time::Duration::from_millis(200)).await;
    let (sent, received) = b.running().socket_bytes();
    assert!(received > size, "the document crossed: {received} > {size}");
    assert!(
        received < size * 3 / 2 + 20_000,
        "received {received} bytes for a document of {size}: it crossed more than once"
    );
    assert!(sent < 20_000, "the new node sent {sent} bytes");
}

/// Splits a command line as a shell would, for double-quoted words only.
fn shell_words(line: &str) -> Vec<String> {
    let mut words = Vec::new();
    let mut word = String::new();
    let mut quoted = false;
    let mut any = false;
    for c in line.chars() {
        match c {
            '"' => {
                quoted = !quoted;
                any = true;
            }
            ' ' if !quoted => {
                if any || !word.is_empty() {
                    words.push(std::mem::take(&mut word));
                }
                any = false;
            }
            c => word.push(c),
        }
    }
    if any || !word.is_empty() {
        words.push(word);
    }
    words
}

/// The first RFC 3339 time (2026-11-30T05:23) in `text`, if any.
fn machine_time(text: &str) -> Option<String> {
    let chars: Vec<char> = text.chars().collect();
    let shape = "dddd-dd-ddTdd:dd";
    chars.windows(shape.len()).find_map(|w| {
        let fits = w.iter().zip(shape.chars()).all(|(c, s)| match s {
            'd' => c.is_ascii_digit(),
            s => *c == s,
        });
        fits.then(|| w.iter().collect())
    })
}

/// A node dialing `target` through a link that can be cut, with the given
/// reconnection delays (ms: first, longest, and while unreachable).
async fn dial_through(
    site: &str,
    link: &maillage::bench::link::Link,
    target: &TestNode,
    delays: (u64, u64, u64),
) -> TestNode {
    let scheme = target.fed_url.split("://").next().unwrap().to_string();
    let url = format!("{scheme}://{}", link.addr());
    TestNode::start_with(site, maillage::domain::site::Role::Site, &[], move |c| {
        c.peers = vec![url];
        c.federation.reconnect_min_ms = delays.0;
        c.federation.reconnect_max_ms = delays.1;
        c.federation.reconnect_probe_ms = delays.2;
    })
    .await
}

fn connected_to(node: &TestNode, site: &str) -> bool {
    node.running()
        .status()
        .peers
        .iter()
        .any(|p| p.site == site && p.connected)
}

fn fed_addr(node: &TestNode) -> std::net::SocketAddr {
    node.fed_url.rsplit("://").next().unwrap().parse().unwrap()
}

/// A peer that cannot be reached is tried again every `reconnect_probe_ms`
/// whatever the backoff for refusals: with a refusal backoff of a minute,
/// the link is found again within seconds of its return.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_cut_link_is_found_again_within_the_probe_delay() {
    use maillage::bench::link::{Cut, Link};
    let a = TestNode::start("metz", &[]).await;
    let link = Link::start(fed_addr(&a)).await.unwrap();
    let b = dial_through("thionville", &link, &a, (60_000, 60_000, 500)).await;
    eventually("b connected to a", || connected_to(&b, "metz")).await;
    converge(&[&a, &b]).await;

    link.cut(Cut::Refuse);
    eventually("the cut seen by b", || !connected_to(&b, "metz")).await;
    a.add_item("Caméra 360°").await;
    // Several attempts fail meanwhile, each followed by a wait.
    tokio::time::sleep(std::time::Duration::from_secs(3)).await;
    assert_ne!(
        a.digest(),
        b.digest(),
        "nothing passes while the link is cut"
    );

    let back = std::time::Instant::now();
    link.restore();
    converge(&[&a, &b]).await;
    let took = back.elapsed();
    // A one-minute backoff would need at least 30 s (its jitter is ×0.5..1).
    assert!(
        took < std::time::Duration::from_secs(15),
        "reconnected {took:?} after the link came back"
    );
}

/// A node that hears of a peer it cannot reach (another peer relays new
/// changes of that peer's document) dials it at once, without waiting out
/// its delay: here a delay of a minute, and the session is back in seconds.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_node_that_hears_of_a_lost_peer_dials_it_at_once() {
    use maillage::bench::link::{Cut, Link};
    let a = TestNode::start("metz", &[]).await;
    let link = Link::start(fed_addr(&a)).await.unwrap();
    let b = dial_through("thionville", &link, &a, (60_000, 60_000, 60_000)).await;
    let c = TestNode::start("sarreguemines", &[&a, &b]).await;
    eventually("b connected to a", || connected_to(&b, "metz")).await;
    converge(&[&a, &b, &c]).await;

    link.cut(Cut::Refuse);
    eventually("the cut seen by b", || !connected_to(&b, "metz")).await;
    // b's next attempt fails: it now waits at least 30 s before another.
    eventually("b's attempt refused", || {
        b.running()
            .status()
            .peers
            .iter()
            .any(|p| p.site == "metz" && !p.connected && !p.last_error.is_empty())
    })
    .await;
    link.restore();
    let back = std::time::Instant::now();
    // a writes; c relays it to b, which learns that metz is reachable.
    a.add_item("Imprimante 3D").await;
    converge(&[&a, &b, &c]).await;
    eventually("b connected to a again", || connected_to(&b, "metz")).await;
    let took = back.elapsed();
    assert!(
        took < std::time::Duration::from_secs(15),
        "b dialed metz again {took:?} after hearing of it"
    );
}
