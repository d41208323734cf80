//! `maillage bench web`: the pages of a director's week on the network of
//! `bench report` (50 sites × 5 school years), served by a node running as
//! its own process, fetched over HTTP by a logged-in person as a browser
//! would (one request at a time, a new connection each). For each page:
//! median, 90th percentile and largest time to the last byte, and its weight.

use std::sync::Arc;
use std::time::{Duration, Instant};

use serde_json::json;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

use super::report::{self, memory_mib, store_network, Child, Shape};
use super::{ms, percentile, Bench};
use crate::config::Config;
use crate::domain::site::Role;
use crate::storage::{SledStore, Store};

/// Target: each page at most this long at the median (issue 11).
const TARGET_MS: f64 = 100.0;
const EMAIL: &str = "direction@s000.bench";
const PASSWORD: &str = "mot de passe du banc d'essai";

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

    // The node of the first generated site, holding the whole network.
    let site = "s000";
    let dir = bench.dir(site);
    let mut cfg = Config::new(site, "Tiers-lieu s000", Role::Site);
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
            .add(
                EMAIL,
                "Direction du banc d'essai",
                crate::auth::Role::Director,
            )
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
            anyhow::bail!("l'interface web du nœud du banc d'essai ne répond pas");
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    };
    let boot_ms = ms(boot.elapsed());
    let form = serde_urlencoded::to_string([
        ("_csrf", csrf.as_str()),
        ("email", EMAIL),
        ("password", PASSWORD),
    ])?;
    let (status, h, _) = request(&web, "POST", "/connexion", Some(&cookie), Some(&form)).await?;
    let session = match session_cookie(&h) {
        Some(s) if status == 303 => s,
        _ => anyhow::bail!("connexion refusée au banc d'essai (HTTP {status})"),
    };

    // An item of another site, with loans, and one of its loans.
    let item = "eq-s001-000";
    let last = 2025;
    let pages: Vec<(&str, String)> = vec![
        ("tableau de bord", "/".into()),
        ("catalogue", "/catalogue".into()),
        (
            "catalogue libre une semaine",
            format!("/catalogue?du={last}-10-06&au={last}-10-10"),
        ),
        ("calendrier du mois", format!("/calendrier?mois={last}-10")),
        (
            "calendrier de la semaine",
            format!("/calendrier?vue=semaine&semaine={last}-10-07"),
        ),
        ("fiche d'un matériel", format!("/materiel/{item}")),
    ];
    let mut out = serde_json::Map::new();
    let mut worst: f64 = 0.0;
    let mut lines = Vec::new();
    for (label, path) in &pages {
        // A first request, untimed: the page must answer 200.
        let (status, _, body) = request(&web, "GET", path, Some(&session), None).await?;
        if status != 200 {
            anyhow::bail!("{path} : HTTP {status} au banc d'essai");
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
        worst = worst.max(p50);
        lines.push(format!(
            "  {label:<28} {path:<42} médiane {p50:6.1} ms, p90 {p90:6.1} ms, max {max:6.1} ms ; {:.0} Kio (cible médiane ≤ {TARGET_MS:.0} ms)",
            body.len() as f64 / 1024.0
        ));
        out.insert(
            (*label).into(),
            json!({"path": path, "median_ms": p50, "p90_ms": p90, "max_ms": max,
                   "bytes": body.len(), "target_median_ms": TARGET_MS}),
        );
    }
    let (rss, peak) = memory_mib(pid);
    drop(child);
    let loans_events =
        records.get("loans").copied().unwrap_or(0) + records.get("events").copied().unwrap_or(0);
    println!(
        "web : {} sites × {} années scolaires ({loans_events} prêts et événements), nœud du site s000 dans son propre processus, démarré en {boot_ms:.0} ms ; {rounds} chargements par page, un à la fois, connexion neuve à chaque fois",
        shape.sites, shape.years
    );
    for l in &lines {
        println!("{l}");
    }
    println!(
        "  pire médiane {worst:.1} ms (cible ≤ {TARGET_MS:.0} ms) ; mémoire du nœud {rss:.0} Mio (pic {peak:.0} Mio)"
    );
    Ok(json!({
        "sites": shape.sites,
        "years": shape.years,
        "loans_and_events": loans_events,
        "rounds": rounds,
        "pages": out,
        "worst_median_ms": worst,
        "target_median_ms": TARGET_MS,
        "rss_mib": rss,
        "peak_mib": peak,
    }))
}
