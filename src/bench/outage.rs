//! `bench outage`: two nodes with the default reconnection settings, the
//! link between them cut for a while (refused, then silent: see [`Cut`])
//! while one of them keeps writing; the figure is the time from the link's
//! return to both nodes holding the same state (target ≤ 2 s).

use std::time::{Duration, Instant};

use serde_json::json;

use super::link::{Cut, Link};
use super::{add_request, equipment_client, wait_until, Bench};

/// The target of the issue: converged within 2 s of the link's return.
const TARGET: super::targets::Bound = super::targets::OUTAGE_CONVERGED;

pub async fn run(cuts: &[u64]) -> anyhow::Result<serde_json::Value> {
    let bench = Bench::new()?;
    let source = bench.node_with("source", Vec::new(), |_| {}).await?;
    let target: std::net::SocketAddr = source
        .fed_url()
        .rsplit("://")
        .next()
        .unwrap_or_default()
        .parse()?;
    let link = Link::start(target).await?;
    let scheme = source
        .fed_url()
        .split("://")
        .next()
        .unwrap_or("https")
        .to_string();
    let peer = bench
        .node_with("pair", vec![format!("{scheme}://{}", link.addr())], |_| {})
        .await?;
    let mut client = equipment_client(&bench, &source).await?;
    let agreed = || peer.docs().network_digest() == source.docs().network_digest();
    let connected = || {
        peer.status()
            .peers
            .iter()
            .any(|p| p.site == "source" && p.connected)
    };
    wait_until("premier rattrapage", || agreed() && connected()).await?;

    let mut rows = Vec::new();
    let mut writes = 0;
    for how in [Cut::Refuse, Cut::Silent] {
        for &secs in cuts {
            wait_until("session rétablie", || agreed() && connected()).await?;
            link.cut(how);
            if how == Cut::Refuse {
                wait_until("coupure constatée", || !connected()).await?;
            }
            // The source keeps writing while the link is down.
            let cut_at = Instant::now();
            while cut_at.elapsed() < Duration::from_secs(secs) {
                client.add(add_request(writes)).await?;
                writes += 1;
                tokio::time::sleep(Duration::from_millis(500)).await;
            }
            anyhow::ensure!(!agreed(), "le pair a reçu les écritures malgré la coupure");
            let back = Instant::now();
            link.restore();
            wait_until("accord après la coupure", agreed).await?;
            let took = back.elapsed();
            let kind = match how {
                Cut::Refuse => "refus de connexion",
                Cut::Silent => "lien muet",
            };
            println!(
                "reprise après une coupure de {secs} s ({kind}) : accord {:.2} s après le retour du lien ({})",
                took.as_secs_f64(),
                super::targets::cible(&[TARGET])
            );
            rows.push(json!({
                "cut": match how { Cut::Refuse => "refuse", Cut::Silent => "silent" },
                "outage_s": secs,
                "converged_after_s": took.as_secs_f64(),
                "target_s": TARGET.value,
            }));
        }
    }
    peer.shutdown().await;
    source.shutdown().await;
    Ok(json!({ "outages": rows }))
}
