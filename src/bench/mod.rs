//! `maillage bench`: the node's benchmarks, on real nodes (real sockets, real
//! sled storage in temporary directories), printing their figures.
//!
//! - `propagation`: one write on A reaching C across the line A–B–C (p50, p99),
//!   on a small document and on one as large as a site's of the report's
//!   network ([`propagation`]).
//! - `catchup`: a new node catching up a history of 20,000 changes over 50
//!   documents, against Automerge's sync protocol alone in memory (ratio).
//! - `reconnect`: bytes exchanged when a peer reconnects and nothing changed.
//! - `outage`: time from a cut link's return to two nodes agreeing again
//!   ([`outage`]).
//! - `start`: a node's first start and restart against the size of what it
//!   holds.
//! - `writes`: acknowledged durable writes per second through the API.
//! - `report`: indicator reports over 50 sites × 5 school years ([`report`]).
//! - `web`: the web pages of a director's week on the same network ([`web`]).
//!
//! Each prints its figures with its target beside them, and its JSON object
//! carries the target under `"target"` ([`targets`]).

pub mod link;
pub mod outage;
pub mod propagation;
pub mod report;
pub mod targets;
pub mod web;

use std::path::Path;
use std::time::{Duration, Instant};

use automerge::sync::{self, SyncDoc};
use automerge::transaction::Transactable;
use automerge::{AutoCommit, ROOT};
use clap::Args;
use serde_json::json;

use crate::base::Role;
use crate::config::Config;
use crate::docs::Signatures;
use crate::node::RunningNode;
use crate::pb;
use crate::storage::{SledStore, Store};

/// Longest any benchmark waits for nodes to agree.
pub const BENCH_TIMEOUT: Duration = Duration::from_secs(120);

#[derive(Debug, Args)]
pub struct BenchArgs {
    /// all, propagation, catchup, reconnect, outage, start, writes, report ou web.
    #[arg(default_value = "all")]
    pub which: String,
    /// Écritures chronométrées par `propagation`.
    #[arg(long, default_value_t = 300)]
    pub samples: usize,
    /// Modifications de l'historique rattrapé par `catchup`.
    #[arg(long, default_value_t = 20_000)]
    pub changes: usize,
    /// Documents sur lesquels l'historique est réparti (catchup, reconnect).
    #[arg(long, default_value_t = 50)]
    pub documents: usize,
    /// Rattrapages chronométrés par `catchup` (le rapport médian est affiché).
    #[arg(long, default_value_t = 5)]
    pub rounds: usize,
    /// Écritures chronométrées par `writes`.
    #[arg(long, default_value_t = 2_000)]
    pub writes: usize,
    /// Sites du réseau généré par `report`.
    #[arg(long, default_value_t = 50)]
    pub sites: usize,
    /// Années scolaires générées par `report`.
    #[arg(long, default_value_t = 5)]
    pub years: usize,
    /// Prêts et événements par site et par année, pour `report`.
    #[arg(long, default_value_t = 400)]
    pub activity: usize,
    /// Durées des coupures du lien mesurées par `outage`, en secondes.
    #[arg(long, value_delimiter = ',', default_values_t = [5u64, 60])]
    pub outages: Vec<u64>,
}

pub async fn run(args: BenchArgs, json_out: bool) -> anyhow::Result<()> {
    let which = args.which.as_str();
    if which != "all" && !targets::BENCHMARKS.contains(&which) {
        anyhow::bail!(
            "banc d'essai inconnu « {which} » : all, {}",
            targets::BENCHMARKS.join(", ")
        );
    }
    let mut results = serde_json::Map::new();
    if matches!(which, "all" | "propagation") {
        results.insert("propagation".into(), propagation::run(args.samples).await?);
    }
    if matches!(which, "all" | "catchup") {
        results.insert(
            "catchup".into(),
            catchup(args.changes, args.documents, args.rounds.max(1)).await?,
        );
    }
    if matches!(which, "all" | "reconnect") {
        results.insert("reconnect".into(), reconnect(args.documents).await?);
    }
    if matches!(which, "all" | "outage") {
        results.insert("outage".into(), outage::run(&args.outages).await?);
    }
    if matches!(which, "all" | "start") {
        results.insert("start".into(), start(&[0, 2_000, 8_000, 32_000]).await?);
    }
    if matches!(which, "all" | "writes") {
        results.insert("writes".into(), writes(args.writes).await?);
    }
    if matches!(which, "all" | "report") {
        let shape = report::Shape {
            sites: args.sites.max(1),
            years: args.years.clamp(1, 20),
            activity: args.activity,
        };
        results.insert(
            "report".into(),
            report::run(shape, args.rounds.max(1) * 4).await?,
        );
    }
    if matches!(which, "all" | "web") {
        let shape = report::Shape {
            sites: args.sites.max(1),
            years: args.years.clamp(1, 20),
            activity: args.activity,
        };
        results.insert("web".into(), web::run(shape, args.rounds.max(1) * 6).await?);
    }
    if json_out {
        let results: serde_json::Map<_, _> = results
            .into_iter()
            .map(|(name, result)| {
                let result = targets::with_target(&name, result);
                (name, result)
            })
            .collect();
        println!("{}", serde_json::to_string_pretty(&results)?);
    }
    Ok(())
}

pub(crate) struct Bench {
    _tmp: tempfile::TempDir,
}

impl Bench {
    pub(crate) fn new() -> anyhow::Result<Bench> {
        Ok(Bench {
            _tmp: tempfile::Builder::new()
                .prefix("maillage-bench-")
                .tempdir()?,
        })
    }

    pub(crate) fn dir(&self, site: &str) -> std::path::PathBuf {
        self._tmp.path().join(site)
    }

    /// The bench network's CA, created on first use.
    pub(crate) fn ca(&self) -> anyhow::Result<std::path::PathBuf> {
        let ca = self._tmp.path().join("ca");
        if !ca.join(crate::tls::CA_CERT).exists() {
            crate::tls::ca_init(&ca)?;
        }
        Ok(ca)
    }

    /// Creates a node directory for `site`, with its certificate.
    async fn init(&self, site: &str) -> anyhow::Result<()> {
        let mut cfg = Config::new(site, site, Role::Site);
        cfg.listen = "127.0.0.1:0".into();
        cfg.api_listen = "127.0.0.1:0".into();
        cfg.web_listen = "127.0.0.1:0".into();
        crate::node::init_with_ca(&self.dir(site), &cfg, Some(&self.ca()?)).await
    }

    async fn node(&self, site: &str, peers: &[&RunningNode]) -> anyhow::Result<RunningNode> {
        self.node_with(site, peers.iter().map(|p| p.fed_url()).collect(), |f| {
            f.reconnect_min_ms = 20
        })
        .await
    }

    /// A node of `site` dialing `peers`, with the federation settings
    /// `tweak` leaves (the defaults otherwise).
    async fn node_with(
        &self,
        site: &str,
        peers: Vec<String>,
        tweak: impl FnOnce(&mut crate::config::FederationConfig),
    ) -> anyhow::Result<RunningNode> {
        let dir = self.dir(site);
        if !Config::path(&dir).exists() {
            self.init(site).await?;
        }
        let mut cfg = Config::load(&dir)?;
        cfg.listen = "127.0.0.1:0".into();
        cfg.api_listen = "127.0.0.1:0".into();
        cfg.web_listen = "127.0.0.1:0".into();
        cfg.peers = peers;
        tweak(&mut cfg.federation);
        RunningNode::start_with(&dir, cfg).await
    }
}

async fn wait_until(what: &str, mut f: impl FnMut() -> bool) -> anyhow::Result<()> {
    let start = Instant::now();
    while !f() {
        if start.elapsed() > BENCH_TIMEOUT {
            anyhow::bail!("délai dépassé : {what}");
        }
        tokio::time::sleep(Duration::from_millis(1)).await;
    }
    Ok(())
}

fn percentile(sorted: &[Duration], p: f64) -> Duration {
    let idx = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[idx]
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1000.0
}

/// An API client of `node` with its administrator's token.
async fn equipment_client(
    bench: &Bench,
    node: &RunningNode,
) -> anyhow::Result<pb::equipment_client::EquipmentClient<crate::cli::client::Conn>> {
    let token = std::fs::read_to_string(
        bench
            .dir(&node.ctx.site)
            .join(crate::auth::ADMIN_TOKEN_FILE),
    )?;
    let target = crate::cli::client::Target {
        url: node.url(),
        token: Some(token.trim().to_string()),
    };
    Ok(pb::equipment_client::EquipmentClient::new(
        crate::cli::client::connect(&target).await?,
    ))
}

fn add_request(i: usize) -> pb::AddEquipmentRequest {
    pb::AddEquipmentRequest {
        name: format!("Objet de test {i}"),
        category: "numérique".into(),
        ..Default::default()
    }
}

/// `documents` documents holding `changes` changes in all, as a site would write them.
/// A history of `changes` changes over `documents` site documents, each
/// written by its own site: actor `<site>.bench`, the site's certificate from
/// `bench`'s CA published in the document, every change signed with the site's
/// key (so that a node verifies it as it would a real site's).
fn build_history(
    bench: &Bench,
    changes: usize,
    documents: usize,
) -> anyhow::Result<Vec<(String, AutoCommit, Signatures)>> {
    let per_doc = changes.div_ceil(documents);
    let ca = bench.ca()?;
    (0..documents)
        .map(|d| {
            let site = format!("s{d:03}");
            let id = format!("site/{site}");
            let key = ed25519_dalek::SigningKey::from_bytes(&rand::random::<[u8; 32]>());
            let dir = bench.dir(&format!("cle-{site}"));
            std::fs::create_dir_all(&dir)?;
            let public_key = hex::encode(key.verifying_key().to_bytes());
            crate::tls::node_request(&dir, &site, "site", &public_key)?;
            let csr = std::fs::read_to_string(dir.join(crate::tls::NODE_CSR))?;
            let cert = crate::tls::ca_sign(&ca, &csr, false)?.pem;
            let mut doc = AutoCommit::new();
            doc.set_actor(automerge::ActorId::from(
                format!("{site}.bench").into_bytes(),
            ));
            doc.put(ROOT, crate::trust::CERTIFICATE_KEY, cert)?;
            let items = doc.put_object(ROOT, "equipment", automerge::ObjType::Map)?;
            doc.commit();
            let write = |doc: &mut AutoCommit, i: usize| -> anyhow::Result<()> {
                let item = doc.put_object(&items, format!("eq-{i:06}"), automerge::ObjType::Map)?;
                doc.put(&item, "name", format!("Objet {i} du site {d}"))?;
                doc.put(&item, "category", "numérique")?;
                doc.put(&item, "status", "available")?;
                doc.commit();
                Ok(())
            };
            // Not one straight chain: every BRANCH_EVERY changes, another
            // process of the site (a second window, a node restored from a
            // backup) writes at the same time under its own actor, and the
            // two branches merge. More authors, more heads: what a signature
            // check meets on a real network, not its best case.
            let mut i = 1;
            let mut branch = 0;
            while i < per_doc {
                if i % BRANCH_EVERY == 0 && i + BRANCH_LEN <= per_doc {
                    let mut other = doc.fork();
                    other.set_actor(automerge::ActorId::from(
                        format!("{site}.b{branch}").into_bytes(),
                    ));
                    branch += 1;
                    for _ in 0..BRANCH_LEN / 2 {
                        write(&mut doc, i)?;
                        write(&mut other, i + 1)?;
                        i += 2;
                    }
                    doc.merge(&mut other)?;
                } else {
                    write(&mut doc, i)?;
                    i += 1;
                }
            }
            let sigs = doc
                .get_changes_meta(&[])
                .iter()
                .map(|m| {
                    let sig =
                        ed25519_dalek::Signer::sign(&key, &crate::trust::payload(&id, &m.hash));
                    (m.hash, sig.to_bytes())
                })
                .collect();
            Ok((id, doc, sigs))
        })
        .collect()
}

/// How often (in changes) a site's history forks into two concurrent
/// branches, and how many changes the two branches hold together.
const BRANCH_EVERY: usize = 200;
const BRANCH_LEN: usize = 100;

/// Threads of the in-memory baseline: as many as the node's runtime has
/// workers (tokio's default, one per core), so that the ratio compares like
/// with like.
fn baseline_threads() -> usize {
    std::thread::available_parallelism().map_or(1, |n| n.get())
}

/// Syncs every document of `from` into empty documents in memory with
/// Automerge's sync protocol alone, on [`baseline_threads`] threads sharing
/// the documents; returns the time taken.
fn in_memory_sync(from: &mut [(String, AutoCommit)]) -> Duration {
    let start = Instant::now();
    let per_thread = from.len().div_ceil(baseline_threads()).max(1);
    std::thread::scope(|scope| {
        for part in from.chunks_mut(per_thread) {
            scope.spawn(move || sync_in_memory(part));
        }
    });
    start.elapsed()
}

fn sync_in_memory(from: &mut [(String, AutoCommit)]) {
    for (_, src) in from.iter_mut() {
        let mut dst = AutoCommit::new();
        let (mut s1, mut s2) = (sync::State::new(), sync::State::new());
        loop {
            let mut quiet = true;
            if let Some(m) = src.sync().generate_sync_message(&mut s1) {
                let m = sync::Message::decode(&m.encode()).unwrap();
                dst.sync().receive_sync_message(&mut s2, m).unwrap();
                quiet = false;
            }
            if let Some(m) = dst.sync().generate_sync_message(&mut s2) {
                let m = sync::Message::decode(&m.encode()).unwrap();
                src.sync().receive_sync_message(&mut s1, m).unwrap();
                quiet = false;
            }
            if quiet {
                break;
            }
        }
        assert_eq!(dst.get_heads(), src.get_heads());
    }
}

/// Writes `docs` into the storage of the node directory `dir` as snapshots.
fn seed_store(dir: &Path, docs: &mut [(String, AutoCommit, Signatures)]) -> anyhow::Result<()> {
    let store = SledStore::open(&dir.join(crate::config::DATA_DIR))?;
    for (id, doc, sigs) in docs.iter_mut() {
        store.compact(id, &crate::docs::encode_chunk(&doc.save(), sigs), 0)?;
    }
    futures_lite_flush(&store)?;
    Ok(())
}

fn futures_lite_flush(store: &SledStore) -> anyhow::Result<()> {
    tokio::task::block_in_place(|| tokio::runtime::Handle::current().block_on(store.flush()))?;
    Ok(())
}

async fn catchup(
    changes: usize,
    documents: usize,
    rounds: usize,
) -> anyhow::Result<serde_json::Value> {
    let bench = Bench::new()?;
    let mut history = build_history(&bench, changes, documents)?;
    let total: usize = history
        .iter_mut()
        .map(|(_, d, _)| d.get_changes(&[]).len())
        .sum();
    let src_dir = bench.dir("source");
    bench.init("source").await?;
    seed_store(&src_dir, &mut history)?;
    let source = bench.node("source", &[]).await?;

    let mut rows = Vec::new();
    let mut wire: Vec<u64> = Vec::new();
    let mut disk = 0;
    for round in 0..rounds {
        // Automerge alone, in memory, same documents.
        let mut copy: Vec<(String, AutoCommit)> = history
            .iter_mut()
            .map(|(id, d, _)| (id.clone(), AutoCommit::load(&d.save()).unwrap()))
            .collect();
        let in_memory = in_memory_sync(&mut copy);

        // A new node, created before the clock starts, catching up over gRPC.
        let site = format!("nouveau-{round}");
        bench.init(&site).await?;
        let start = Instant::now();
        let fresh = bench.node(&site, &[&source]).await?;
        let mut changed = fresh.docs().subscribe();
        let want = source.docs().digests();
        let caught_up = |fresh: &RunningNode| {
            let have = fresh.docs().digests();
            want.iter().all(|(id, h)| have.get(id) == Some(h))
        };
        while !caught_up(&fresh) {
            // Checked on every change rather than polled, to keep the CPU for the sync.
            let _ = tokio::time::timeout(Duration::from_millis(50), changed.recv()).await;
            if start.elapsed() > BENCH_TIMEOUT {
                anyhow::bail!("délai dépassé : rattrapage du nouveau nœud");
            }
        }
        let node_time = start.elapsed();
        let (sent, received) = fresh.socket_bytes();
        disk = fresh.docs().store().size_on_disk();
        fresh.shutdown().await;
        rows.push((node_time, in_memory));
        wire.push(sent + received);
    }
    source.shutdown().await;
    let mut ratios: Vec<f64> = rows
        .iter()
        .map(|(n, m)| n.as_secs_f64() / m.as_secs_f64())
        .collect();
    ratios.sort_by(|a, b| a.total_cmp(b));
    let ratio = ratios[ratios.len() / 2];
    let median = |mut v: Vec<Duration>| {
        v.sort();
        v[v.len() / 2]
    };
    let node_ms = ms(median(rows.iter().map(|r| r.0).collect()));
    let mem_ms = ms(median(rows.iter().map(|r| r.1).collect()));
    println!(
        "rattrapage d'un nouveau nœud ({total} modifications, {documents} documents, chacun avec des branches concurrentes de plusieurs auteurs, médiane de {rounds}) : {node_ms:.0} ms ; synchronisation Automerge seule en mémoire sur {} fils comme le nœud : {mem_ms:.0} ms ; rapport {ratio:.2} ({} ; rapports {}) ; disque du nouveau nœud {:.1} Mo",
        baseline_threads(),
        targets::cible(&[targets::CATCHUP_RATIO]),
        ratios.iter().map(|r| format!("{r:.2}")).collect::<Vec<_>>().join(", "),
        disk as f64 / 1e6
    );
    wire.sort();
    let socket = wire[wire.len() / 2];
    println!(
        "  octets sur la socket du nouveau nœud, TLS et HTTP/2 compris, dans les deux sens : {socket} ({:.0} Ko ; {}, automerge-repo sur la même charge)",
        socket as f64 / 1e3,
        targets::cible(&[targets::CATCHUP_SOCKET])
    );
    let (chain_ms, every_ms) = verification_cost(&bench, &mut history)?;
    println!(
        "  dont vérification des signatures : {chain_ms:.1} ms (seules les dernières modifications de chaque auteur, l'enchaînement des empreintes couvrant les autres) ; vérifier chaque signature une à une prendrait {every_ms:.0} ms"
    );
    Ok(json!({
        "changes": total, "documents": documents, "rounds": rounds,
        "node_ms": node_ms, "in_memory_ms": mem_ms, "ratio": ratio, "ratios": ratios,
        "disk_bytes": disk, "socket_bytes": socket,
        "verify_ms": chain_ms, "verify_every_signature_ms": every_ms,
    }))
}

/// A node's start, then restart, holding one document of `n` changes (a
/// site's catalogue of `n` items), for each `n` of `sizes`: the time from
/// the call to a node serving, storage opened and documents loaded.
async fn start(sizes: &[usize]) -> anyhow::Result<serde_json::Value> {
    let mut rows = Vec::new();
    for &n in sizes {
        let bench = Bench::new()?;
        bench.init("source").await?;
        if n > 0 {
            let mut history = build_history(&bench, n, 1)?;
            seed_store(&bench.dir("source"), &mut history)?;
        }
        let t = Instant::now();
        let node = bench.node("source", &[]).await?;
        let first = t.elapsed();
        let disk = node.docs().store().size_on_disk();
        node.shutdown().await;
        let mut again = Vec::new();
        for _ in 0..3 {
            let t = Instant::now();
            let node = bench.node("source", &[]).await?;
            again.push(t.elapsed());
            node.shutdown().await;
        }
        again.sort();
        let restart = again[again.len() / 2];
        println!(
            "démarrage d'un nœud avec un document de {n} modifications ({:.1} Mo sur disque) : premier {:.0} ms, redémarrage {:.0} ms (médiane de 3 ; {})",
            disk as f64 / 1e6,
            ms(first),
            ms(restart),
            targets::cible(targets::bounds("start"))
        );
        rows.push(
            json!({"changes": n, "disk_bytes": disk, "first_ms": ms(first),
            "restart_ms": ms(restart), "target_ms": targets::START_RESTART.value as u64}),
        );
    }
    Ok(json!({ "sizes": rows }))
}

/// Time to verify the whole history as a node does (newest change of each
/// author, the hash chain vouching for the rest), and, for comparison, to
/// verify every change's signature one by one.
fn verification_cost(
    bench: &Bench,
    history: &mut [(String, AutoCommit, Signatures)],
) -> anyhow::Result<(f64, f64)> {
    let ca_pem = std::fs::read_to_string(bench.ca()?.join(crate::tls::CA_CERT))?;
    let ca_der = crate::tls::pem_der(&ca_pem)?;
    let trust = crate::trust::Trust::new(
        ed25519_dalek::SigningKey::from_bytes(&rand::random::<[u8; 32]>()),
        Some(ca_der.clone()),
        crate::base::MAX_CHANGES_PER_MESSAGE,
    );
    let docs = crate::docs::Docs::open(
        std::sync::Arc::new(crate::storage::MemoryStore::default()),
        "banc",
        1024,
        trust,
    )?;
    let mut chain = Duration::ZERO;
    let mut every = Duration::ZERO;
    for (id, doc, sigs) in history.iter_mut() {
        let lookup: std::collections::HashMap<_, _> = sigs.iter().copied().collect();
        let start = Instant::now();
        let ctx = docs.verify_context(id, None, false);
        docs.verify(id, doc, &[], &Default::default(), &ctx, &|h| {
            lookup.get(h).copied()
        })
        .map_err(|e| anyhow::anyhow!("{e}"))?;
        chain += start.elapsed();
        let start = Instant::now();
        let pem = automerge::ReadDoc::get(&*doc, ROOT, crate::trust::CERTIFICATE_KEY)?
            .and_then(|(v, _)| v.into_string().ok())
            .unwrap_or_default();
        let key =
            ed25519_dalek::VerifyingKey::from_bytes(&crate::tls::certified(&ca_der, &pem)?.key)?;
        for (h, s) in sigs.iter() {
            ed25519_dalek::Verifier::verify(
                &key,
                &crate::trust::payload(id, h),
                &ed25519_dalek::Signature::from_bytes(s),
            )?;
        }
        every += start.elapsed();
    }
    Ok((ms(chain), ms(every)))
}

async fn reconnect(documents: usize) -> anyhow::Result<serde_json::Value> {
    let bench = Bench::new()?;
    let mut history = build_history(&bench, documents * 20, documents)?;
    let src_dir = bench.dir("source");
    bench.init("source").await?;
    seed_store(&src_dir, &mut history)?;
    let source = bench.node("source", &[]).await?;
    let peer = bench.node("pair", &[&source]).await?;
    wait_until("premier rattrapage", || {
        peer.docs().network_digest() == source.docs().network_digest()
    })
    .await?;
    let docs = peer.docs().ids().len();
    let connected_since = |peer: &RunningNode, after: &str| {
        peer.status()
            .peers
            .iter()
            .any(|p| p.site == "source" && p.connected && p.last_sync.as_str() > after)
    };
    wait_until("session établie", || connected_since(&peer, "")).await?;
    tokio::time::sleep(Duration::from_millis(300)).await;

    // The link drops and the peer redials: TLS resumes the session.
    let before = peer.socket_bytes();
    let mark = chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Millis, true);
    peer.drop_sessions();
    wait_until("reconnexion après coupure", || {
        connected_since(&peer, &mark)
    })
    .await?;
    tokio::time::sleep(Duration::from_millis(300)).await;
    let after = peer.socket_bytes();
    let resumed = (after.0 - before.0) + (after.1 - before.1);
    let resumed_per_doc = resumed as f64 / docs as f64;
    peer.shutdown().await;

    // The peer restarts: a full TLS handshake, certificates included.
    let peer = bench.node("pair", &[&source]).await?;
    wait_until("reconnexion", || connected_since(&peer, "")).await?;
    tokio::time::sleep(Duration::from_millis(300)).await;
    let row = peer
        .status()
        .peers
        .into_iter()
        .find(|p| p.site == "source")
        .ok_or_else(|| anyhow::anyhow!("pair source absent"))?;
    let total = row.bytes_sent + row.bytes_received;
    let per_doc = total as f64 / docs as f64;
    let (sent, received) = peer.socket_bytes();
    let restart = sent + received;
    let restart_per_doc = restart as f64 / docs as f64;
    println!(
        "reconnexion sans changement ({docs} documents), octets sur la socket, TLS et HTTP/2 compris, dans les deux sens : après une coupure du lien {resumed} octets, {resumed_per_doc:.1} par document ({}) ; après redémarrage du pair (poignée de main TLS complète, certificats compris) {restart} octets, {restart_per_doc:.1} par document ; messages de synchronisation seuls : {total} octets, {per_doc:.1} par document",
        targets::cible(&[targets::RECONNECT_PER_DOC])
    );
    peer.shutdown().await;
    source.shutdown().await;
    Ok(json!({"documents": docs,
        "socket_bytes": resumed, "socket_bytes_per_document": resumed_per_doc,
        "restart_socket_bytes": restart, "restart_socket_bytes_per_document": restart_per_doc,
        "message_bytes": total, "message_bytes_per_document": per_doc}))
}

/// The file system holding `path`, from /proc/mounts: "ext4 sur /dev/vda (/)".
/// A benchmark of durable writes means little without it (tmpfs never syncs).
fn filesystem_of(path: &std::path::Path) -> String {
    let path = std::fs::canonicalize(path).unwrap_or_else(|_| path.to_path_buf());
    let mounts = std::fs::read_to_string("/proc/mounts").unwrap_or_default();
    mounts
        .lines()
        .filter_map(|l| {
            let f: Vec<&str> = l.split_whitespace().collect();
            (f.len() >= 3 && path.starts_with(f[1])).then(|| (f[1].len(), f[0], f[1], f[2]))
        })
        .max_by_key(|m| m.0)
        .map(|(_, dev, mount, kind)| format!("{kind} sur {dev} ({mount})"))
        .unwrap_or_else(|| "inconnu".into())
}

async fn writes(n: usize) -> anyhow::Result<serde_json::Value> {
    let bench = Bench::new()?;
    let a = bench.node("alpha", &[]).await?;
    let mut client = equipment_client(&bench, &a).await?;
    for i in 0..20 {
        client.add(add_request(i)).await?;
    }
    let start = Instant::now();
    for i in 0..n {
        client.add(add_request(i)).await?;
    }
    let sequential = n as f64 / start.elapsed().as_secs_f64();

    // One client, 16 requests in flight on one connection.
    let start = Instant::now();
    let mut tasks = Vec::new();
    for t in 0..16 {
        let mut c = client.clone();
        let count = n / 16;
        tasks.push(tokio::spawn(async move {
            for i in 0..count {
                c.add(add_request(t * count + i)).await?;
            }
            Ok::<_, tonic::Status>(())
        }));
    }
    for t in tasks {
        t.await??;
    }
    let pipelined = (n / 16 * 16) as f64 / start.elapsed().as_secs_f64();
    let disk = a.docs().store().size_on_disk();
    let fs = filesystem_of(bench._tmp.path());
    println!(
        "écritures durables acquittées via l'API (fdatasync avant chaque acquittement) : {sequential:.0}/s une à une, {pipelined:.0}/s avec 16 en vol ({}) ; disque {:.1} Mo pour {} objets ; système de fichiers {fs}",
        targets::cible(targets::bounds("writes")),
        disk as f64 / 1e6,
        n + n / 16 * 16 + 20
    );
    a.shutdown().await;
    Ok(
        json!({"writes": n, "sequential_per_s": sequential, "pipelined_16_per_s": pipelined, "disk_bytes": disk, "filesystem": fs}),
    )
}
