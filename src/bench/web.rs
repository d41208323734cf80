//! `maillage bench web`: the pages of a director's week and of the academic
//! team on the network of `bench report` (50 sites × 5 school years), each
//! served by a node running as its own process (a site's, then the
//! academy's), fetched over HTTP by a logged-in person as a browser would
//! (one request at a time, a new connection each). For each page: median,
//! 90th percentile and largest time to the last byte, and its weight.
//!
//! The pages are listed in [`PAGES`], one line each.

use std::sync::Arc;
use std::time::{Duration, Instant};

use serde_json::json;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

use super::report::{self, memory_mib, store_network, Child, Shape};
use super::{ms, percentile, Bench};
use crate::base::Role;
use crate::config::Config;
use crate::storage::{SledStore, Store};

/// Target: each page at most this long at the median (issue 11).
const TARGET_MS: f64 = super::targets::WEB_WORST.value;
const PASSWORD: &str = "mot de passe du banc d'essai";

/// Who looks at a page, on which node.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Viewer {
    /// The director of site s000, on its node.
    Director,
    /// The academic team, on the academy's node (rectorat).
    Academy,
}
use Viewer::{Academy, Director};

/// The pages measured: who, label, path. In paths, `{y}` is the first year
/// of the last school year generated and `{z}` the next one (its end).
#[rustfmt::skip]
const PAGES: &[(Viewer, &str, &str)] = &[
    (Director, "tableau de bord", "/"),
    (Director, "catalogue", "/catalogue"),
    (Director, "catalogue libre une semaine", "/catalogue?du={y}-10-06&au={y}-10-10"),
    (Director, "calendrier du mois", "/calendrier?mois={y}-10"),
    (Director, "calendrier de la semaine", "/calendrier?vue=semaine&semaine={y}-10-07"),
    (Director, "fiche d'un matériel", "/materiel/eq-s001-000"),
    (Director, "achats du site", "/achats"),
    (Director, "partenaires", "/partenaires"),
    (Director, "actions communes", "/actions"),
    (Academy, "tableau de bord académique", "/"),
    (Academy, "indicateurs de l'année par site", "/indicateurs?du={y}-09-01&au={z}-08-31&par=site"),
    (Academy, "bilans", "/bilans"),
    (Academy, "bilan d'un site sur l'année", "/bilans/s001?du={y}-09-01&au={z}-08-31"),
    (Academy, "réseau", "/reseau"),
    (Academy, "demandes d'achat à décider", "/achats/a-decider"),
];

/// First year of the last school year `bench report` generates.
const LAST_YEAR: i32 = 2025;

impl Viewer {
    /// The node's site, name and role, and the person's e-mail and role.
    fn node(
        self,
    ) -> (
        &'static str,
        &'static str,
        Role,
        &'static str,
        crate::auth::Role,
    ) {
        match self {
            Director => (
                "s000",
                "Tiers-lieu s000",
                Role::Site,
                "direction@s000.bench",
                crate::auth::Role::Director,
            ),
            Academy => (
                "rectorat",
                "Rectorat",
                Role::Academy,
                "equipe@rectorat.bench",
                crate::auth::Role::Academy,
            ),
        }
    }
}

/// One HTTP/1.1 request on a new connection: (status, headers, body).
async fn request(
    addr: &str,
    method: &str,
    path: &str,
    cookie: Option<&str>,
    form: Option<&str>,
) -> anyhow::Result<(u16, Vec<(String, String)>, Vec<u8>)> {
    let mut s = tokio::net::TcpStream::connect(addr).await?;
    let mut req = format!("{method} {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n");
    if let Some(c) = cookie {
        req += &format!("Cookie: maillage_session={c}\r\n");
    }
    let body = form.unwrap_or("");
    if form.is_some() {
        req += "Content-Type: application/x-www-form-urlencoded\r\n";
    }
    req += &format!("Content-Length: {}\r\n\r\n{body}", body.len());
    s.write_all(req.as_bytes()).await?;
    let mut raw = Vec::new();
    s.read_to_end(&mut raw).await?;
    let split = raw
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .ok_or_else(|| anyhow::anyhow!("réponse HTTP incomplète pour {path}"))?;
    let head = String::from_utf8_lossy(&raw[..split]).to_string();
    let mut lines = head.lines();
    let status = lines
        .next()
        .and_then(|l| l.split(' ').nth(1))
        .and_then(|c| c.parse().ok())
        .ok_or_else(|| anyhow::anyhow!("statut HTTP illisible pour {path}"))?;
    let headers = lines
        .filter_map(|l| l.split_once(':'))
        .map(|(k, v)| (k.trim().to_lowercase(), v.trim().to_string()))
        .collect();
    Ok((status, headers, raw[split + 4..].to_vec()))
}

fn session_cookie(headers: &[(String, String)]) -> Option<String> {
    headers
        .iter()
        .filter(|(k, _)| k == "set-cookie")
        .filter_map(|(_, v)| v.split(';').next()?.strip_prefix("maillage_session="))
        .find(|v| !v.is_empty())
        .map(str::to_string)
}

fn csrf_of(page: &[u8]) -> Option<String> {
    let page = String::from_utf8_lossy(page);
    page.split("name=\"_csrf\" value=\"")
        .nth(1)
        .and_then(|r| r.split('"').next())
        .map(str::to_string)
}

pub async fn run(shape: Shape, rounds: usize) -> anyhow::Result<serde_json::Value> {
    let bench = Bench::new()?;
    let (docs, records) = tokio::task::block_in_place(|| report::generate(shape))?;
    let mut out = serde_json::Map::new();
    let mut worst: f64 = 0.0;
    let mut lines = Vec::new();
    let mut nodes = serde_json::Map::new();
    let mut docs = Some(docs);
    for viewer in [Director, Academy] {
        let pages: Vec<(&str, String)> = PAGES
            .iter()
            .filter(|p| p.0 == viewer)
            .map(|(_, label, path)| {
                let path = path
                    .replace("{y}", &LAST_YEAR.to_string())
                    .replace("{z}", &(LAST_YEAR + 1).to_string());
                (*label, path)
            })
            .collect();
        // The last node takes the documents, the others a copy.
        let held = if viewer == Academy {
            docs.take().unwrap_or_default()
        } else {
            docs.clone().unwrap_or_default()
        };
        let n = measure(&bench, viewer, held, &pages, rounds).await?;
        lines.push(format!(
            "  nœud {} dans son propre processus, démarré en {:.0} ms, mémoire {:.0} Mio (pic {:.0} Mio) :",
            n.site, n.boot_ms, n.rss, n.peak
        ));
        lines.extend(n.lines);
        for (label, v) in n.pages {
            if let Some(m) = v["median_ms"].as_f64() {
                worst = worst.max(m);
            }
            out.insert(label, v);
        }
        nodes.insert(
            n.site.into(),
            json!({"boot_ms": n.boot_ms, "rss_mib": n.rss, "peak_mib": n.peak}),
        );
    }
    let loans_events =
        records.get("loans").copied().unwrap_or(0) + records.get("events").copied().unwrap_or(0);
    println!(
        "web : {} sites × {} années scolaires ({loans_events} prêts et événements) ; {rounds} chargements par page, un à la fois, connexion neuve à chaque fois",
        shape.sites, shape.years
    );
    for l in &lines {
        println!("{l}");
    }
    println!("  pire médiane {worst:.1} ms (cible ≤ {TARGET_MS:.0} ms)");
    Ok(json!({
        "sites": shape.sites,
        "years": shape.years,
        "loans_and_events": loans_events,
        "rounds": rounds,
        "pages": out,
        "nodes": nodes,
        "worst_median_ms": worst,
        "target_median_ms": TARGET_MS,
    }))
}

/// What one node's pages measured.
struct Measured {
    site: &'static str,
    boot_ms: f64,
    rss: f64,
    peak: f64,
    /// One printed line per page.
    lines: Vec<String>,
    /// By label: path, median, p90, max, weight.
    pages: Vec<(String, serde_json::Value)>,
}

/// Seeds the node of `viewer` with the network `docs`, starts it as its own
/// process, logs in as `viewer` and loads each page `rounds` times.
async fn measure(
    bench: &Bench,
    viewer: Viewer,
    docs: std::collections::BTreeMap<String, automerge::AutoCommit>,
    pages: &[(&str, String)],
    rounds: usize,
) -> anyhow::Result<Measured> {
    let (site, name, role, email, person) = viewer.node();
    let dir = bench.dir(site);
    let mut cfg = Config::new(site, name, role);
    let free = || -> anyhow::Result<String> {
        let l = std::net::TcpListener::bind("127.0.0.1:0")?;
        Ok(l.local_addr()?.to_string())
    };
    cfg.listen = "127.0.0.1:0".into();
    cfg.api_listen = free()?;
    let web = free()?;
    cfg.web_listen = web.clone();
    crate::node::init_with_ca(&dir, &cfg, Some(&bench.ca()?)).await?;
    tokio::task::block_in_place(|| store_network(&dir, docs))?;
    {
        let store: Arc<dyn Store> = Arc::new(SledStore::open(&dir.join(crate::config::DATA_DIR))?);
        let accounts = crate::accounts::Accounts::new(store.clone());
        let (_, secret) = accounts
            .add(email, "Personne du banc d'essai", person)
            .await?;
        accounts.set_password(&secret, PASSWORD).await?;
        store.flush().await?;
    }

    let exe = std::env::current_exe()?;
    let boot = Instant::now();
    let child = Child(
        std::process::Command::new(exe)
            .args(["--dir", dir.to_str().unwrap_or_default(), "serve"])
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .spawn()?,
    );
    let pid = child.0.id();
    // Ready when the login page answers; then log in as a browser does.
    let (cookie, csrf) = loop {
        if let Ok((200, h, body)) = request(&web, "GET", "/connexion", None, None).await {
            if let (Some(c), Some(t)) = (session_cookie(&h), csrf_of(&body)) {
                break (c, t);
            }
        }
        if boot.elapsed() > super::BENCH_TIMEOUT {
            anyhow::bail!("l'interface web du nœud {site} du banc d'essai ne répond pas");
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    };
    let boot_ms = ms(boot.elapsed());
    let form = serde_urlencoded::to_string([
        ("_csrf", csrf.as_str()),
        ("email", email),
        ("password", PASSWORD),
    ])?;
    let (status, h, _) = request(&web, "POST", "/connexion", Some(&cookie), Some(&form)).await?;
    let session = match session_cookie(&h) {
        Some(s) if status == 303 => s,
        _ => anyhow::bail!("connexion refusée au banc d'essai sur {site} (HTTP {status})"),
    };

    let mut lines = Vec::new();
    let mut measured = Vec::new();
    for (label, path) in pages {
        // A first request, untimed: the page must answer 200.
        let (status, _, body) = request(&web, "GET", path, Some(&session), None).await?;
        if status != 200 {
            anyhow::bail!("{path} : HTTP {status} au banc d'essai sur {site}");
        }
        let mut times = Vec::with_capacity(rounds);
        for _ in 0..rounds {
            let t = Instant::now();
            let (_, _, b) = request(&web, "GET", path, Some(&session), None).await?;
            times.push(t.elapsed());
            std::hint::black_box(b);
        }
        times.sort();
        let (p50, p90, max) = (
            ms(percentile(&times, 0.5)),
            ms(percentile(&times, 0.9)),
            ms(*times.last().expect("rounds ≥ 1")),
        );
        lines.push(format!(
            "  {label:<32} {path:<50} médiane {p50:6.1} ms, p90 {p90:6.1} ms, max {max:6.1} ms ; {:.0} Kio (cible médiane ≤ {TARGET_MS:.0} ms)",
            body.len() as f64 / 1024.0
        ));
        measured.push((
            (*label).to_string(),
            json!({"node": site, "path": path, "median_ms": p50, "p90_ms": p90, "max_ms": max,
                   "bytes": body.len(), "target_median_ms": TARGET_MS}),
        ));
    }
    let (rss, peak) = memory_mib(pid);
    drop(child);
    Ok(Measured {
        site,
        boot_ms,
        rss,
        peak,
        lines,
        pages: measured,
    })
}
