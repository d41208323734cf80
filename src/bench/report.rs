//! `maillage bench report`: a network of 50 sites × 5 school years of
//! activity (about 100,000 loans and events), stored in a node's sled
//! directory; the node runs as its own process, and the indicator reports are
//! timed through its API. The node's memory (resident set) and disk are
//! printed.
//!
//! Every record is written as the API would write it: one change per record
//! (a loan: its request in the borrower's document, each decision in the
//! lender's), with the domain's own constructors.

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use automerge::AutoCommit;
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use serde_json::json;

use crate::base::Role;
use crate::base::NETWORK_DOC;
use crate::config::Config;
use crate::docs::Signatures;
use crate::domain::actions::{self, NewAction};
use crate::domain::calendar::{self, EventInput};
use crate::domain::equipment;
use crate::domain::loans::{self, LoanDecision, LoanRequest, Transition};
use crate::domain::partners;
use crate::domain::purchases::{self, Decision, Line};
use crate::domain::site::{write_profile, Profile};
use crate::pb;

use super::{ms, Bench};
use crate::storage::{SledStore, Store};

/// The shape of the generated network.
#[derive(Debug, Clone, Copy)]
pub struct Shape {
    pub sites: usize,
    pub years: usize,
    /// Loans lent plus events organised, per site and school year.
    pub activity: usize,
}

const CATEGORIES: &[&str] = &[
    "robotique",
    "audio",
    "vidéo",
    "numérique",
    "impression 3D",
    "sciences",
    "mobilier",
];
const KINDS: &[&str] = &[
    "atelier",
    "séminaire",
    "manifestation",
    "réunion",
    "formation",
    "action itinérante",
];
const FUNDING: &[&str] = &["France 2030", "Collectivité", "Fonds propres"];
const ITEMS_PER_SITE: usize = 40;
const PURCHASES_PER_SITE_YEAR: usize = 8;
const PARTNERS_PER_SITE: usize = 6;
const ACTIONS_PER_YEAR: usize = 12;

fn t(at: &str, site: &str) -> Transition {
    Transition {
        at: at.to_string(),
        site: site.to_string(),
        role: "director".into(),
        note: String::new(),
    }
}

/// RFC 3339 at midnight, Paris, of `day`.
fn midnight(day: chrono::NaiveDate) -> String {
    crate::domain::time::rfc3339(&crate::domain::time::start_of_day(day).expect("valid day"))
}

struct Gen {
    rng: StdRng,
    docs: BTreeMap<String, AutoCommit>,
    records: BTreeMap<&'static str, usize>,
}

impl Gen {
    fn doc(&mut self, id: &str) -> &mut AutoCommit {
        self.docs.entry(id.to_string()).or_insert_with(|| {
            let mut d = AutoCommit::new();
            let author = id.strip_prefix("site/").unwrap_or(if id == NETWORK_DOC {
                "rectorat"
            } else {
                "s000"
            });
            d.set_actor(automerge::ActorId::from(
                format!("{author}.bench").into_bytes(),
            ));
            d
        })
    }

    /// One change on `id`, as one API call makes.
    fn write(
        &mut self,
        id: &str,
        f: impl FnOnce(&mut AutoCommit) -> crate::error::Result<()>,
    ) -> anyhow::Result<()> {
        let d = self.doc(id);
        f(d)?;
        d.commit();
        Ok(())
    }

    fn count(&mut self, what: &'static str) {
        *self.records.entry(what).or_default() += 1;
    }

    fn day_in(&mut self, year: i32) -> chrono::NaiveDate {
        let start = chrono::NaiveDate::from_ymd_opt(year, 9, 1).expect("valid date");
        start + chrono::Duration::days(self.rng.gen_range(0..365))
    }
}

/// The generated documents, and how many records of each kind they hold.
pub type Generated = (BTreeMap<String, AutoCommit>, BTreeMap<&'static str, usize>);

/// Builds the documents of the network.
pub fn generate(shape: Shape) -> anyhow::Result<Generated> {
    generate_into(shape, BTreeMap::new())
}

/// Builds the documents of the network on top of `docs`: a document given
/// there (under its generated id, `site/s000` for the first site) takes the
/// generated writes after its own history, with its own actor, and keeps
/// its own profile. The propagation benchmark grows a real node's site
/// document this way.
pub fn generate_into(
    shape: Shape,
    docs: BTreeMap<String, AutoCommit>,
) -> anyhow::Result<Generated> {
    let mut g = Gen {
        rng: StdRng::seed_from_u64(2030),
        docs,
        records: BTreeMap::new(),
    };
    let sites: Vec<String> = (0..shape.sites).map(|i| format!("s{i:03}")).collect();
    let first_year = 2025 - shape.years as i32 + 1;
    let created = "2021-06-15T08:00:00Z";
    g.write(NETWORK_DOC, |d| {
        crate::domain::root_map_mut(d, purchases::DECISIONS).map(|_| ())
    })?;
    // Every site but the first (whose node runs the director's pages under
    // its own key) enrolled in the registry, as on a real network: the
    // academy's network page and dashboard go through them all.
    for (n, s) in sites.iter().enumerate().skip(1) {
        let key = hex::encode(
            ed25519_dalek::SigningKey::from_bytes(&g.rng.gen::<[u8; 32]>())
                .verifying_key()
                .to_bytes(),
        );
        let entry = crate::domain::registry::new_entry(
            s,
            &format!("Tiers-lieu n° {}", n + 1),
            "site",
            "",
            &key,
            created,
        )?;
        g.write(NETWORK_DOC, |d| crate::domain::registry::put(d, s, &entry))?;
    }
    // Sites, their equipment and partners.
    let mut items: BTreeMap<String, Vec<String>> = BTreeMap::new();
    for (n, s) in sites.iter().enumerate() {
        let id = format!("site/{s}");
        let profile = Profile {
            id: s.clone(),
            name: format!("Tiers-lieu n° {}", n + 1),
            role: "site".into(),
            created_at: created.into(),
        };
        if !g.docs.contains_key(&id) {
            g.write(&id, |d| write_profile(d, &profile))?;
        }
        for i in 0..ITEMS_PER_SITE {
            let category = CATEGORIES[g.rng.gen_range(0..CATEGORIES.len())];
            let e = equipment::new_equipment(
                &equipment::Patch {
                    name: Some(format!("{category} {i}")),
                    category: Some(category.into()),
                    ..Default::default()
                },
                created,
            )?;
            let eid = format!("eq-{s}-{i:03}");
            g.write(&id, |d| equipment::put(d, &eid, &e))?;
            items.entry(s.clone()).or_default().push(eid);
            g.count("equipment");
        }
        for i in 0..PARTNERS_PER_SITE {
            let kind = partners::KINDS[g.rng.gen_range(0..partners::KINDS.len())].0;
            let eur = g.rng.gen_range(0..500) * 10;
            let p = partners::new_partner(
                &partners::Patch {
                    name: Some(format!("Partenaire {i} de {s}")),
                    kind: Some(kind.into()),
                    contribution_eur: Some(eur.to_string()),
                    contribution_in_kind: Some(if i % 3 == 0 {
                        "salle".into()
                    } else {
                        String::new()
                    }),
                    ..Default::default()
                },
                created,
            )?;
            let pid = format!("pa-{s}-{i}");
            g.write(&id, |d| partners::put(d, &pid, &p))?;
            g.count("partners");
        }
    }
    // Common actions.
    let mut action_ids = Vec::new();
    for year in first_year..first_year + shape.years as i32 {
        for i in 0..ACTIONS_PER_YEAR {
            let aid = format!("act-{year}-{i:02}");
            let lead = sites[g.rng.gen_range(0..sites.len())].clone();
            let start = g.day_in(year);
            let end = start + chrono::Duration::days(g.rng.gen_range(30..240));
            let mut a = actions::new_action(
                &aid,
                &NewAction {
                    title: &format!("Action commune {aid}"),
                    axis: g.rng.gen_range(1..=3),
                    description: "Projet partagé entre tiers-lieux",
                    start: &start.to_string(),
                    end: &end.to_string(),
                },
                &lead,
                created,
            )?;
            a.status = actions::STATUSES[g.rng.gen_range(0..actions::STATUSES.len())].into();
            a.budget_planned = format!("{}.00", g.rng.gen_range(1..50) * 100);
            a.budget_spent = format!("{}.50", g.rng.gen_range(0..40) * 100);
            for _ in 0..g.rng.gen_range(1..5) {
                let p = sites[g.rng.gen_range(0..sites.len())].clone();
                a.participants.insert(
                    p,
                    actions::Participant {
                        joined_at: created.into(),
                    },
                );
            }
            a.indicators.insert(
                "élèves touchés".into(),
                actions::IndicatorValue {
                    target: g.rng.gen_range(50..500).to_string(),
                    actual: g.rng.gen_range(0..500).to_string(),
                },
            );
            g.write(&actions::doc_id(&aid), |d| actions::store(d, &a))?;
            action_ids.push(aid);
            g.count("actions");
        }
    }
    // Loans, events and purchases, year by year.
    let per = shape.activity / 2;
    let mut loan_n = 0;
    for year in first_year..first_year + shape.years as i32 {
        for s in &sites {
            let site_doc = format!("site/{s}");
            for _ in 0..per {
                loan_n += 1;
                let lid = format!("ln-{loan_n:06}");
                let borrower = loop {
                    let b = &sites[g.rng.gen_range(0..sites.len())];
                    if b != s || sites.len() == 1 {
                        break b.clone();
                    }
                };
                let own = &items[s];
                let n = g.rng.gen_range(1..=3).min(own.len());
                let first = g.rng.gen_range(0..own.len());
                let equipment: Vec<String> = (0..n)
                    .map(|k| own[(first + k) % own.len()].clone())
                    .collect();
                let from_day = g.day_in(year);
                let to_day = from_day + chrono::Duration::days(g.rng.gen_range(1..8));
                let (from, to) = (midnight(from_day), midnight(to_day));
                let asked = midnight(from_day - chrono::Duration::days(14));
                let action = if g.rng.gen_bool(0.3) {
                    action_ids[g.rng.gen_range(0..action_ids.len())].clone()
                } else {
                    String::new()
                };
                let roll: u32 = g.rng.gen_range(0..100);
                let request = LoanRequest {
                    lender: s.clone(),
                    equipment: equipment.clone(),
                    from: from.clone(),
                    to: to.clone(),
                    purpose: "atelier".into(),
                    action,
                    event: String::new(),
                    requested: t(&asked, &borrower),
                    cancelled: (roll < 5).then(|| t(&asked, &borrower)),
                };
                g.write(&format!("site/{borrower}"), |d| {
                    loans::put_request(d, &lid, &request)
                })?;
                if roll >= 10 {
                    let mut dec = LoanDecision {
                        borrower: borrower.clone(),
                        equipment,
                        from: from.clone(),
                        to: to.clone(),
                        approved: None,
                        refused: None,
                        checked_out: None,
                        returned: None,
                        incident: String::new(),
                        recorded: None,
                        return_condition: String::new(),
                        incident_items: Vec::new(),
                    };
                    if roll < 15 {
                        dec.refused = Some(t(&asked, s));
                        g.write(&site_doc, |d| loans::put_decision(d, &lid, &dec))?;
                    } else {
                        dec.approved = Some(t(&asked, s));
                        g.write(&site_doc, |d| loans::put_decision(d, &lid, &dec))?;
                        if roll >= 20 {
                            dec.checked_out = Some(t(&from, s));
                            g.write(&site_doc, |d| loans::put_decision(d, &lid, &dec))?;
                        }
                        if roll >= 25 {
                            dec.returned = Some(t(&to, s));
                            g.write(&site_doc, |d| loans::put_decision(d, &lid, &dec))?;
                        }
                    }
                }
                g.count("loans");
            }
            for i in 0..per {
                let day = g.day_in(year);
                let hour = g.rng.gen_range(9..16);
                let recurring = g.rng.gen_bool(0.1);
                let action = if g.rng.gen_bool(0.2) {
                    action_ids[g.rng.gen_range(0..action_ids.len())].clone()
                } else {
                    String::new()
                };
                let input = EventInput {
                    title: format!("Événement {i} de {s}"),
                    kind: KINDS[g.rng.gen_range(0..KINDS.len())].into(),
                    start: format!("{day}T{hour:02}:00"),
                    end: format!("{day}T{:02}:00", hour + 2),
                    all_day: false,
                    rrule: recurring
                        .then(|| format!("FREQ=WEEKLY;COUNT={}", g.rng.gen_range(2..7))),
                    exdates: Vec::new(),
                    place: "Salle polyvalente".into(),
                    audience: vec!["élèves".into()],
                    action,
                    participants: Vec::new(),
                };
                let uid = format!("ev-{s}-{year}-{i:04}");
                let mut e = calendar::new_event(&input, &uid, s, created)?;
                if g.rng.gen_bool(0.05) {
                    e.status = calendar::CANCELLED.into();
                } else if g.rng.gen_bool(0.7) {
                    e.attendance = Some(calendar::Attendance {
                        pupils: g.rng.gen_range(0..60),
                        teachers: g.rng.gen_range(0..8),
                        families: g.rng.gen_range(0..20),
                        partners: g.rng.gen_range(0..5),
                        recorded_at: created.into(),
                    });
                }
                g.write(&site_doc, |d| calendar::put(d, &uid, &e))?;
                g.count("events");
            }
            for i in 0..PURCHASES_PER_SITE_YEAR {
                let pid = format!("da-{s}-{year}-{i}");
                let day = g.day_in(year);
                let at = midnight(day);
                let lines: Vec<Line> = (0..g.rng.gen_range(1..4))
                    .map(|k| {
                        purchases::line(
                            k + 1,
                            &format!("Article {k}"),
                            g.rng.gen_range(1..10),
                            &format!("{}.{:02}", g.rng.gen_range(5..900), g.rng.gen_range(0..100)),
                            ["20", "5.5", "10"][k % 3],
                        )
                    })
                    .collect::<crate::error::Result<_>>()?;
                let mut p = purchases::new_purchase(
                    &purchases::Patch {
                        object: Some(format!("Achat {i}")),
                        lines: Some(lines),
                        funding: Some(FUNDING[g.rng.gen_range(0..FUNDING.len())].into()),
                        ..Default::default()
                    },
                    t(&at, s),
                )?;
                let roll: u32 = g.rng.gen_range(0..100);
                if roll >= 10 {
                    p.submitted.push(t(&at, s));
                }
                g.write(&site_doc, |d| purchases::put(d, &pid, &p))?;
                if roll >= 20 {
                    let verdict = match roll {
                        20..=29 => "refused",
                        30..=39 => "needs_info",
                        _ => "validated",
                    };
                    let dec = Decision {
                        site: s.clone(),
                        purchase: pid.clone(),
                        submission: 1,
                        verdict: verdict.into(),
                        decided: t(&at, "rectorat"),
                    };
                    g.write(NETWORK_DOC, |d| purchases::put_decision(d, &dec))?;
                    if verdict == "validated" && roll >= 50 {
                        p.ordered = Some(t(&at, s));
                        if roll >= 60 {
                            p.delivered = Some(t(&at, s));
                        }
                        g.write(&site_doc, |d| purchases::put(d, &pid, &p))?;
                    }
                }
                g.count("purchases");
            }
        }
    }
    Ok((g.docs, g.records))
}

/// Writes the generated documents into the node directory `dir`: a snapshot
/// for each new document, and a chunk after what the node already holds of
/// `network` (its own registry entry, written at init).
pub(crate) fn store_network(
    dir: &std::path::Path,
    docs: BTreeMap<String, AutoCommit>,
) -> anyhow::Result<()> {
    let store = SledStore::open(&dir.join(crate::config::DATA_DIR))?;
    for (id, mut doc) in docs {
        let bytes = crate::docs::encode_chunk(&doc.save(), &Signatures::default());
        let held = store.load_doc(&id)?;
        if held.snapshot.is_none() && held.chunks.is_empty() {
            store.compact(&id, &bytes, 0)?;
        } else {
            let next = held.chunks.last().map(|(seq, _)| seq + 1).unwrap_or(1);
            store.append_chunk(&id, next, &bytes)?;
        }
    }
    tokio::runtime::Handle::current().block_on(store.flush())?;
    Ok(())
}

/// Resident and peak memory of process `pid`, in MiB (Linux).
pub(crate) fn memory_mib(pid: u32) -> (f64, f64) {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap_or_default();
    let field = |name: &str| {
        status
            .lines()
            .find(|l| l.starts_with(name))
            .and_then(|l| l.split_whitespace().nth(1))
            .and_then(|v| v.parse::<f64>().ok())
            .map(|kib| kib / 1024.0)
            .unwrap_or(0.0)
    };
    (field("VmRSS:"), field("VmHWM:"))
}

fn dir_size(path: &std::path::Path) -> u64 {
    let mut total = 0;
    if let Ok(entries) = std::fs::read_dir(path) {
        for e in entries.flatten() {
            let p = e.path();
            total += if p.is_dir() {
                dir_size(&p)
            } else {
                e.metadata().map(|m| m.len()).unwrap_or(0)
            };
        }
    }
    total
}

/// Kills the node process when the benchmark ends, however it ends.
pub(crate) struct Child(pub(crate) std::process::Child);

impl Drop for Child {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

pub async fn run(shape: Shape, rounds: usize) -> anyhow::Result<serde_json::Value> {
    let bench = Bench::new()?;
    let started = Instant::now();
    let (docs, records) = tokio::task::block_in_place(|| generate(shape))?;
    let generate_ms = ms(started.elapsed());
    let mut docs = docs;
    let changes: usize = docs
        .values_mut()
        .map(|d| d.get_changes_meta(&[]).len())
        .sum();

    // In this process: what the index costs, document by document.
    let (scan_ms, reread_ms, hydrate_ms, join_ms, compute_ms) =
        tokio::task::block_in_place(|| {
            let t = Instant::now();
            let mut per_doc = Vec::new();
            for (id, d) in &docs {
                per_doc.push(std::sync::Arc::new(crate::report::facts::read_doc(id, d)?));
            }
            let scan_ms = ms(t.elapsed());
            let one = docs.get("site/s000").expect("generated site");
            let t = Instant::now();
            std::hint::black_box(crate::report::facts::read_doc("site/s000", one)?);
            let reread_ms = ms(t.elapsed());
            // The same records hydrated field by field, for comparison.
            let t = Instant::now();
            std::hint::black_box((
                loans::requests(one)?,
                loans::decisions(one)?,
                calendar::all(one)?,
                equipment::all(one)?,
                partners::all(one)?,
            ));
            let hydrate_ms = ms(t.elapsed());
            let t = Instant::now();
            let facts = crate::report::facts::join(per_doc);
            let join_ms = ms(t.elapsed());
            let q = crate::report::Query::new(
                "",
                "",
                "",
                "",
                0,
                "",
                chrono::NaiveDate::from_ymd_opt(2025, 12, 1).expect("valid date"),
            )?;
            let t = Instant::now();
            std::hint::black_box(crate::report::compute(&facts, &q)?);
            let compute_ms = ms(t.elapsed());
            anyhow::Ok((scan_ms, reread_ms, hydrate_ms, join_ms, compute_ms))
        })?;

    // A node directory holding the network, then the node as its own process.
    let site = "rectorat";
    let dir = bench.dir(site);
    let mut cfg = Config::new(site, "Rectorat", Role::Academy);
    let free = std::net::TcpListener::bind("127.0.0.1:0")?;
    let api = free.local_addr()?.to_string();
    drop(free);
    cfg.listen = "127.0.0.1:0".into();
    cfg.api_listen = api;
    cfg.web_listen = "127.0.0.1:0".into();
    crate::node::init_with_ca(&dir, &cfg, Some(&bench.ca()?)).await?;
    tokio::task::block_in_place(|| store_network(&dir, docs))?;
    let disk = dir_size(&dir.join(crate::config::DATA_DIR));

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
    let target = crate::cli::client::Target::resolve(None, Some(&dir), None)?;
    // Ready when its API answers.
    let conn = loop {
        if let Ok(c) = crate::cli::client::connect(&target).await {
            let mut n = pb::node_client::NodeClient::new(c.clone());
            if n.status(pb::StatusRequest {}).await.is_ok() {
                break c;
            }
        }
        if boot.elapsed() > super::BENCH_TIMEOUT {
            anyhow::bail!("le nœud du banc d'essai ne répond pas");
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    };
    let boot_ms = ms(boot.elapsed());
    let (rss_loaded, _) = memory_mib(pid);
    let mut reports = pb::reports_client::ReportsClient::new(conn);
    let last = 2025;
    let first = last - shape.years as i32 + 1;
    let period = |by: &str| pb::IndicatorsRequest {
        from: format!("{first}-09-01"),
        to: format!("{}-08-31", last + 1),
        by: by.into(),
        ..Default::default()
    };

    // The first report reads every document (the scan); later ones use the index.
    let t0 = Instant::now();
    let full = reports.indicators(period("")).await?.into_inner();
    let cold_ms = ms(t0.elapsed());
    let (rss_indexed, _) = memory_mib(pid);
    let figure = |name: &str| {
        full.total
            .iter()
            .find(|f| f.name == name)
            .map(|f| f.value.clone())
            .unwrap_or_default()
    };
    let mut timings = serde_json::Map::new();
    let mut worst: f64 = 0.0;
    for by in ["", "site", "month", "axis", "category"] {
        let mut samples = Vec::with_capacity(rounds);
        for _ in 0..rounds {
            let t = Instant::now();
            let r = reports.indicators(period(by)).await?.into_inner();
            samples.push(t.elapsed());
            std::hint::black_box(r);
        }
        samples.sort();
        let median = ms(samples[samples.len() / 2]);
        let max = ms(*samples.last().expect("rounds ≥ 1"));
        worst = worst.max(median);
        let key = if by.is_empty() { "total" } else { by };
        timings.insert(key.into(), json!({"median_ms": median, "max_ms": max}));
    }
    // The academy's other network-wide views: status and network health
    // (loan conflicts come from the same index).
    let conn = crate::cli::client::connect(&target).await?;
    let mut node = pb::node_client::NodeClient::new(conn.clone());
    let mut network = pb::network_client::NetworkClient::new(conn.clone());
    let mut loans_api = pb::loans_client::LoansClient::new(conn.clone());
    let mut catalogue = pb::equipment_client::EquipmentClient::new(conn);
    let (mut status_t, mut health_t, mut loan_t, mut free_t) =
        (Vec::new(), Vec::new(), Vec::new(), Vec::new());
    for i in 0..rounds {
        let t = Instant::now();
        let total = records.get("loans").copied().unwrap_or(1).max(1);
        let id = format!("ln-{:06}", 1 + (i * 997) % total);
        std::hint::black_box(loans_api.get(pb::LoanId { id }).await?);
        loan_t.push(t.elapsed());
        let t = Instant::now();
        std::hint::black_box(
            catalogue
                .list(pb::ListEquipmentRequest {
                    site: "s001".into(),
                    available_from: format!("{last}-10-06"),
                    available_to: format!("{last}-10-10"),
                    ..Default::default()
                })
                .await?,
        );
        free_t.push(t.elapsed());
        let t = Instant::now();
        std::hint::black_box(node.status(pb::StatusRequest {}).await?);
        status_t.push(t.elapsed());
        let t = Instant::now();
        std::hint::black_box(network.health(pb::NetworkHealthRequest {}).await?);
        health_t.push(t.elapsed());
    }
    let median = |mut v: Vec<Duration>| {
        v.sort();
        ms(v[v.len() / 2])
    };
    let status_ms = median(status_t);
    let health_ms = median(health_t);
    let loan_ms = median(loan_t);
    let free_ms = median(free_t);

    // A write, then at once a report: the index reads the changed document
    // again and joins (in the request, or in the background just before).
    let mut after_write = Vec::new();
    let mut equipment =
        pb::equipment_client::EquipmentClient::new(crate::cli::client::connect(&target).await?);
    for i in 0..rounds {
        equipment
            .add(pb::AddEquipmentRequest {
                name: format!("Objet ajouté {i}"),
                category: "robotique".into(),
                ..Default::default()
            })
            .await?;
        let t = Instant::now();
        std::hint::black_box(reports.indicators(period("site")).await?);
        after_write.push(t.elapsed());
    }
    after_write.sort();
    let after_write_ms = ms(after_write[after_write.len() / 2]);
    let after_write_max_ms = ms(*after_write.last().expect("rounds ≥ 1"));
    let (rss, peak) = memory_mib(pid);
    drop(child);

    let loans_events =
        records.get("loans").copied().unwrap_or(0) + records.get("events").copied().unwrap_or(0);
    println!(
        "report : {} sites × {} années scolaires, {} prêts et événements ({} modifications), générés en {:.0} ms",
        shape.sites, shape.years, loans_events, changes, generate_ms
    );
    println!(
        "  nœud démarré en {boot_ms:.0} ms ; disque {:.1} Mio ; mémoire {rss_loaded:.0} Mio chargé, {rss_indexed:.0} Mio avec l'index, {rss:.0} Mio à la fin (pic {peak:.0} Mio) ; relevés, sans cible",
        disk as f64 / (1024.0 * 1024.0)
    );
    println!(
        "  index : lecture de tous les documents {scan_ms:.0} ms ; relecture d'un document de site {reread_ms:.1} ms \
         (le même hydraté champ par champ : {hydrate_ms:.0} ms) ; jointure {join_ms:.1} ms ; une année calculée {compute_ms:.1} ms (sans cible)"
    );
    println!("  premier rapport après le démarrage (attend l'index construit en arrière-plan) : {cold_ms:.0} ms (sans cible)");
    let cible = super::targets::cible(&[super::targets::REPORT_WORST]);
    for (k, v) in &timings {
        println!(
            "  rapport complet par {k:<8} : médiane {:.1} ms, max {:.1} ms ({rounds} appels ; {cible} à la médiane)",
            v["median_ms"].as_f64().unwrap_or(0.0),
            v["max_ms"].as_f64().unwrap_or(0.0)
        );
    }
    println!(
        "  pire médiane {worst:.1} ms ({})",
        super::targets::cible_verdict(&[super::targets::REPORT_WORST], &[worst])
    );
    println!("  status : médiane {status_ms:.1} ms ; network status : médiane {health_ms:.1} ms (sans cible)");
    println!(
        "  loan show : médiane {loan_ms:.1} ms ; matériel libre d'un site sur une semaine : médiane {free_ms:.1} ms (sans cible)"
    );
    println!(
        "  rapport par site juste après une écriture : médiane {after_write_ms:.1} ms, max {after_write_max_ms:.1} ms ({cible} à la médiane)"
    );
    println!(
        "  demandes de prêt {}, prêts sortis {} (rendus {}), séances {}, fréquentation {}",
        figure("loans.requests"),
        figure("loans.lent"),
        figure("loans.returned"),
        figure("events.count"),
        figure("attendance.total")
    );
    Ok(json!({
        "sites": shape.sites,
        "school_years": shape.years,
        "records": records,
        "loans_and_events": loans_events,
        "changes": changes,
        "generate_ms": generate_ms,
        "node_start_ms": boot_ms,
        "disk_mib": disk as f64 / (1024.0 * 1024.0),
        "rss_loaded_mib": rss_loaded,
        "rss_indexed_mib": rss_indexed,
        "rss_mib": rss,
        "rss_peak_mib": peak,
        "first_report_ms": cold_ms,
        "index_scan_ms": scan_ms,
        "index_reread_site_ms": reread_ms,
        "hydrate_site_ms": hydrate_ms,
        "index_join_ms": join_ms,
        "compute_year_ms": compute_ms,
        "report_ms": timings,
        "worst_median_ms": worst,
        "status_ms": status_ms,
        "network_status_ms": health_ms,
        "loan_show_ms": loan_ms,
        "equipment_available_ms": free_ms,
        "report_after_write_ms": {"median_ms": after_write_ms, "max_ms": after_write_max_ms},
        "loan_requests": figure("loans.requests"),
        "loans_lent": figure("loans.lent"),
        "events": figure("events.count"),
    }))
}
