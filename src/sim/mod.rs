//! Deterministic simulation of a maillage network.
//!
//! Many nodes (an academy, sites, and one malicious site holding a valid
//! certificate) run the real document layer ([`Docs`], with its trust checks)
//! and the real session protocol ([`Core`], the sans-IO federation core) over
//! a network the simulator schedules from one seed: sessions opened and cut,
//! frames delivered late, dropped, duplicated or swapped on damaged links,
//! partitions and heals, crashes that lose every write not yet fsynced
//! ([`store::SimStore`]), restarts from old backups, clocks skewed by up to a
//! day, a revocation, and forged changes. Users write on the way: items,
//! loan requests, lenders' decisions under the same rule as the node's.
//!
//! After the schedule the network heals (every node up, every pair linked,
//! frames delivered in order until quiet) and the invariants are checked:
//! - every honest node converges on the same documents;
//! - no acknowledged write is lost (except, by definition, the writes a
//!   node made after the backup it was restored from, that no other node had
//!   received: they are counted apart);
//! - no item is approved twice for overlapping windows;
//! - no forged change is held by any honest node;
//! - a revoked site's changes after its cutoff are held by no other node;
//! - an honest node never ends a session with another honest node for a
//!   protocol fault on a link that delivered every frame once and in order.
//!
//! Everything is a function of the seed: actor ids, clocks, keys and
//! certificates ([`crate::tls::fixed_network`]), so a failing seed replays
//! exactly with `maillage sim --seed N --nodes N`.

pub mod store;

use std::collections::{BTreeMap, BTreeSet, VecDeque};
use std::sync::atomic::{AtomicI64, Ordering};
use std::sync::Arc;

use automerge::sync::{self, SyncDoc};
use automerge::{AutoCommit, ChangeHash, ReadDoc, ROOT};
use chrono::{SecondsFormat, TimeZone, Utc};
use ed25519_dalek::SigningKey;
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use tokio::sync::broadcast;

use crate::base::{site_doc, NETWORK_DOC};
use crate::docs::{fresh_actor, Clock, Docs};
use crate::domain::{equipment, loans, registry, site};
use crate::federation::core::{check_registration, Core, Effect, Limits, Step};
use crate::federation::session::SessionError;
use crate::pb::{self, frame::Body};
use crate::storage::Store;
use crate::tls::PeerIdentity;
use crate::trust::{Trust, CERTIFICATE_KEY, PUBLIC_KEY_KEY};
use store::{Image, SimStore};

/// The simulated time at which every run starts: Monday 2 November 2026, 09:00 in Paris.
const EPOCH: i64 = 1_793_606_400 + 8 * 3600;
/// Most frames delivered while the healed network settles.
const SETTLE_BOUND: usize = 400_000;
/// Chunks before a document is compacted: small, so that compaction runs.
const COMPACT_AFTER: u64 = 4;

/// What one run is made of.
#[derive(Debug, Clone)]
pub struct Options {
    /// Honest nodes: the academy and `nodes - 1` sites (at least 3 in all).
    pub nodes: usize,
    /// Scheduled events before the network heals.
    pub steps: usize,
    /// Lenders approve only from a confirmed copy of their decisions
    /// ([`crate::app::loans::may_book`]), as the node does. Off only to show
    /// that the checks catch what the rule prevents.
    pub book_gate: bool,
    /// Lenders withdraw their approvals of revoked sites' loans as the node
    /// does ([`crate::app::revoked`]). Off only to show that the checks
    /// catch what the rule cures.
    pub withdraw_revoked: bool,
}

impl Default for Options {
    fn default() -> Options {
        Options {
            nodes: 4,
            steps: 300,
            book_gate: true,
            withdraw_revoked: true,
        }
    }
}

/// What happened in one run, and what went wrong.
#[derive(Debug, Clone, Default, serde::Serialize)]
pub struct Report {
    pub seed: u64,
    pub nodes: usize,
    pub steps: usize,
    pub writes: usize,
    pub approvals: usize,
    pub approvals_refused: usize,
    pub frames: u64,
    pub dropped: u64,
    pub duplicated: u64,
    pub swapped: u64,
    pub sessions: usize,
    pub partitions: usize,
    pub crashes: usize,
    pub restores: usize,
    pub lost_by_restore: usize,
    pub forgeries: usize,
    pub forgeries_refused: usize,
    pub revoked: Option<String>,
    pub settle_frames: usize,
    /// Approvals of revoked sites' loans that lenders withdrew
    /// (`app::revoked`).
    pub withdrawals: usize,
    pub violations: Vec<String>,
}

impl Report {
    pub fn ok(&self) -> bool {
        self.violations.is_empty()
    }

    /// The command that replays this run exactly.
    pub fn replay(&self) -> String {
        format!(
            "maillage sim --seed {} --nodes {} --steps {}",
            self.seed, self.nodes, self.steps
        )
    }
}

/// One node of the simulated network.
struct Node {
    site: String,
    academy: bool,
    /// The malicious one: it runs honest code, and also forges.
    attacker: bool,
    key: SigningKey,
    store: Arc<SimStore>,
    docs: Docs,
    notices: broadcast::Receiver<String>,
    clock: Arc<AtomicI64>,
    skew: i64,
    up: bool,
    incarnation: u64,
    /// Copies of the disk, with the writes acknowledged when each was taken.
    backups: Vec<(Image, usize)>,
    /// The revoked site's changes this node held (applied or queued) when it
    /// first read the revocation: what it took before it could know.
    before_revocation: Option<BTreeSet<ChangeHash>>,
    /// Writes acknowledged by this node: (document, change).
    acked: Vec<(String, ChangeHash)>,
    next_id: u64,
}

/// A session between nodes `a` and `b`: each side's core, and the frames in
/// flight each way (`q[0]`: a → b, `q[1]`: b → a).
struct Link {
    ends: [usize; 2],
    cores: [Core; 2],
    /// Whether each side has taken the other's Hello.
    identified: [bool; 2],
    q: [VecDeque<Body>; 2],
    /// Frames may be dropped, duplicated or swapped on it.
    damaged: bool,
    /// A frame was dropped, duplicated or swapped, or forged.
    tampered: bool,
}

struct World {
    rng: StdRng,
    book_gate: bool,
    withdraw_revoked: bool,
    now: i64,
    nodes: Vec<Node>,
    links: BTreeMap<(usize, usize), Link>,
    /// Partition group of each node (all 0 when healed).
    group: Vec<u8>,
    ca_der: Vec<u8>,
    certs: Vec<String>,
    report: Report,
    /// Changes the attacker forged.
    forged: BTreeSet<ChangeHash>,
    /// Acknowledged writes lost by a restore from backup, by right.
    lost: BTreeSet<ChangeHash>,
    /// Nodes whose registry or site documents changed since their lender's
    /// task last ran (`app::revoked::watch` on a real node).
    to_react: BTreeSet<usize>,
}

fn stamp(t: i64) -> String {
    Utc.timestamp_opt(t, 0)
        .single()
        .unwrap_or_default()
        .to_rfc3339_opts(SecondsFormat::Secs, true)
}

fn site_name(i: usize, n: usize) -> String {
    if i == 0 {
        "rectorat".into()
    } else if i == n {
        "intrus".into()
    } else {
        format!("site-{i:02}")
    }
}

/// Runs one seed.
pub fn run(seed: u64, opts: &Options) -> Report {
    let rt = tokio::runtime::Builder::new_current_thread()
        .build()
        .expect("runtime");
    let mut w = World::new(seed, opts);
    rt.block_on(async {
        w.init().await;
        for _ in 0..opts.steps {
            w.step().await;
        }
        w.heal().await;
    });
    w.check();
    w.report
}

impl World {
    fn new(seed: u64, opts: &Options) -> World {
        let n = opts.nodes.max(3);
        let mut rng = StdRng::seed_from_u64(seed);
        let mut ca_seed = [0u8; 32];
        ca_seed[..8].copy_from_slice(&seed.to_be_bytes());
        ca_seed[8] = 0xca;
        let keys: Vec<SigningKey> = (0..=n)
            .map(|i| {
                let mut b = ca_seed;
                b[8] = 0x5e;
                b[9..17].copy_from_slice(&(i as u64).to_be_bytes());
                SigningKey::from_bytes(&b)
            })
            .collect();
        let sites: Vec<(String, String, String)> = (0..=n)
            .map(|i| {
                (
                    site_name(i, n),
                    if i == 0 { "academy" } else { "site" }.to_string(),
                    hex::encode(keys[i].verifying_key().to_bytes()),
                )
            })
            .collect();
        let (ca_der, certs) =
            crate::tls::fixed_network(&ca_seed, &sites).expect("simulated network's certificates");
        let nodes = keys
            .into_iter()
            .enumerate()
            .map(|(i, key)| {
                let skew = rng.gen_range(-86_400..=86_400);
                let store = Arc::new(SimStore::default());
                let clock = Arc::new(AtomicI64::new(EPOCH + skew));
                let docs = open_docs(&store, &site_name(i, n), i, 0, &key, &ca_der, &clock);
                Node {
                    site: site_name(i, n),
                    academy: i == 0,
                    attacker: i == n,
                    key,
                    notices: docs.subscribe(),
                    store,
                    docs,
                    clock,
                    skew,
                    up: true,
                    incarnation: 0,
                    backups: Vec::new(),
                    before_revocation: None,
                    acked: Vec::new(),
                    next_id: 0,
                }
            })
            .collect();
        World {
            rng,
            book_gate: opts.book_gate,
            withdraw_revoked: opts.withdraw_revoked,
            now: EPOCH,
            nodes,
            links: BTreeMap::new(),
            group: vec![0; n + 1],
            ca_der,
            certs,
            report: Report {
                seed,
                nodes: n,
                steps: opts.steps,
                ..Default::default()
            },
            forged: BTreeSet::new(),
            lost: BTreeSet::new(),
            to_react: BTreeSet::new(),
        }
    }

    /// Each node writes its site document (profile, certificate, key); the
    /// academy writes the registry with every site enrolled.
    async fn init(&mut self) {
        let n = self.nodes.len();
        for i in 0..n {
            let node = &self.nodes[i];
            let profile = site::Profile {
                id: node.site.clone(),
                name: format!("Tiers-lieu {}", node.site),
                role: if node.academy { "academy" } else { "site" }.into(),
                created_at: stamp(self.now),
            };
            let cert = self.certs[i].clone();
            let key = hex::encode(node.key.verifying_key().to_bytes());
            let r = node
                .docs
                .change(&site_doc(&node.site), "site init", |doc| {
                    use automerge::transaction::Transactable;
                    site::write_profile(doc, &profile)?;
                    doc.put(ROOT, CERTIFICATE_KEY, cert.as_str())
                        .and_then(|_| doc.put(ROOT, PUBLIC_KEY_KEY, key.as_str()))
                        .map_err(|e| crate::error::Error::Internal(e.to_string()))
                })
                .await;
            self.acked(i, &site_doc(&self.nodes[i].site.clone()), r.is_ok());
        }
        let entries: Vec<(String, registry::SiteEntry)> = self
            .nodes
            .iter()
            .map(|node| {
                let e = registry::new_entry(
                    &node.site,
                    &format!("Tiers-lieu {}", node.site),
                    if node.academy { "academy" } else { "site" },
                    "",
                    &hex::encode(node.key.verifying_key().to_bytes()),
                    &stamp(EPOCH),
                )
                .expect("registry entry");
                (node.site.clone(), e)
            })
            .collect();
        let r = self.nodes[0]
            .docs
            .change(NETWORK_DOC, "network init", |doc| {
                for (id, e) in &entries {
                    registry::put(doc, id, e)?;
                }
                Ok(())
            })
            .await;
        self.acked(0, NETWORK_DOC, r.is_ok());
        for i in 0..n {
            self.notices(i);
        }
    }

    /// Records node `i`'s acknowledged write to `doc` (its new heads).
    fn acked(&mut self, i: usize, doc: &str, ok: bool) {
        if !ok {
            return;
        }
        trace(|| {
            format!(
                "{} écrit {doc} : {:?}",
                self.nodes[i].site,
                self.nodes[i].docs.raw_heads(doc)
            )
        });
        self.report.writes += 1;
        let node = &mut self.nodes[i];
        for h in node.docs.raw_heads(doc) {
            if !node.acked.iter().any(|(d, x)| d == doc && *x == h) {
                node.acked.push((doc.to_string(), h));
            }
        }
    }

    fn honest(&self) -> impl Iterator<Item = usize> + '_ {
        (0..self.nodes.len()).filter(|i| !self.nodes[*i].attacker)
    }

    fn pick<T: Copy>(&mut self, v: &[T]) -> Option<T> {
        if v.is_empty() {
            None
        } else {
            Some(v[self.rng.gen_range(0..v.len())])
        }
    }

    async fn step(&mut self) {
        self.now += self.rng.gen_range(0..600);
        for node in &self.nodes {
            node.clock.store(self.now + node.skew, Ordering::Relaxed);
        }
        // The store's own periodic flush (sled's, every half second): what
        // a node received reaches its disk even if it writes nothing.
        for i in 0..self.nodes.len() {
            if self.nodes[i].up && self.rng.gen_bool(0.3) {
                let _ = futures_util::FutureExt::now_or_never(self.nodes[i].store.flush());
            }
        }
        let roll: u32 = self.rng.gen_range(0..1000);
        match roll {
            0..=399 => self.deliver_one(),
            400..=649 => self.user_write().await,
            650..=779 => self.open_random_link(),
            780..=809 => self.cut_random_link(),
            810..=829 => self.crash_random(),
            830..=869 => self.restart_random(),
            870..=889 => self.backup_random(),
            890..=897 => self.restore_random(),
            898..=919 => self.partition(),
            920..=949 => self.unpartition(),
            950..=979 => self.forge(),
            980..=984 => self.revoke_one().await,
            _ => self.deliver_one(),
        }
        self.react().await;
    }

    /// What a real node's `app::revoked::watch` does after its registry or a
    /// site document changed: the lender withdraws its approvals of revoked
    /// sites' loans that the rule names (the node's own function).
    async fn react(&mut self) {
        if !self.withdraw_revoked {
            self.to_react.clear();
            return;
        }
        let mut rounds = 0;
        while let Some(i) = self.to_react.pop_first() {
            rounds += 1;
            let node = &self.nodes[i];
            if !node.up || node.attacker || node.academy || rounds > 4 * self.nodes.len() {
                continue;
            }
            let at = stamp(self.now_of(i));
            let res = crate::app::revoked::withdraw(&node.docs, &node.site, &at).await;
            if let Ok(ids) = res {
                if !ids.is_empty() {
                    trace(|| format!("{} retire son accord : {ids:?}", self.nodes[i].site));
                    self.report.withdrawals += ids.len();
                    let doc = site_doc(&self.nodes[i].site);
                    self.acked(i, &doc, true);
                    self.notices(i);
                }
            }
        }
    }

    // ---- the network ----

    fn open_link(&mut self, a: usize, b: usize, damaged: bool) {
        let (a, b) = (a.min(b), a.max(b));
        if a == b || self.links.contains_key(&(a, b)) {
            return;
        }
        if !self.nodes[a].up || !self.nodes[b].up || self.group[a] != self.group[b] {
            return;
        }
        let mut cores = [a, b].map(|i| {
            let node = &self.nodes[i];
            Core::new(
                node.docs.clone(),
                &node.site,
                if node.academy { "academy" } else { "site" },
                Limits {
                    max_documents: 100_000,
                    max_changes_per_message: crate::base::MAX_CHANGES_PER_MESSAGE,
                    max_frame_bytes: 32 << 20,
                    handshake_ms: 10_000,
                },
            )
        });
        // The scheduler always ends a handshake or cuts the link: the
        // core's clock does not matter here.
        let hello_a = cores[0].hello(0);
        let hello_b = cores[1].hello(0);
        self.report.sessions += 1;
        self.links.insert(
            (a, b),
            Link {
                ends: [a, b],
                cores,
                identified: [false, false],
                q: [VecDeque::from([hello_a]), VecDeque::from([hello_b])],
                damaged,
                tampered: false,
            },
        );
    }

    fn open_random_link(&mut self) {
        let n = self.nodes.len();
        let a = self.rng.gen_range(0..n);
        let b = self.rng.gen_range(0..n);
        let damaged = self.rng.gen_bool(0.2);
        self.open_link(a, b, damaged);
    }

    fn cut_random_link(&mut self) {
        let keys: Vec<(usize, usize)> = self.links.keys().copied().collect();
        if let Some(k) = self.pick(&keys) {
            self.links.remove(&k);
        }
    }

    fn cut_links_of(&mut self, i: usize) {
        self.links.retain(|(a, b), _| *a != i && *b != i);
    }

    /// Delivers one frame of a random link, in a random direction.
    fn deliver_one(&mut self) {
        let busy: Vec<((usize, usize), usize)> = self
            .links
            .iter()
            .flat_map(|(k, l)| (0..2).filter(|d| !l.q[*d].is_empty()).map(move |d| (*k, d)))
            .collect();
        let Some((key, dir)) = self.pick(&busy) else {
            return;
        };
        let fault: u32 = self.rng.gen_range(0..100);
        let link = self.links.get_mut(&key).expect("busy link");
        let body = if link.damaged && fault < 4 {
            link.q[dir].pop_front();
            link.tampered = true;
            self.report.dropped += 1;
            return;
        } else if link.damaged && fault < 8 {
            link.tampered = true;
            self.report.duplicated += 1;
            link.q[dir].front().cloned().expect("busy")
        } else if link.damaged && fault < 12 && link.q[dir].len() >= 2 {
            link.tampered = true;
            self.report.swapped += 1;
            link.q[dir].remove(1).expect("two frames")
        } else {
            link.q[dir].pop_front().expect("busy")
        };
        self.deliver(key, dir, body);
    }

    /// Hands `body`, sent on link `key` in direction `dir`, to its receiver.
    fn deliver(&mut self, key: (usize, usize), dir: usize, body: Body) {
        self.report.frames += 1;
        let side = 1 - dir;
        let result = {
            let link = self.links.get_mut(&key).expect("link");
            let me = link.ends[side];
            let them = link.ends[dir];
            if !link.identified[side] {
                let them_node = &self.nodes[them];
                let identity = PeerIdentity {
                    site: them_node.site.clone(),
                    academy: them_node.academy,
                    key: Some(them_node.key.verifying_key().to_bytes()),
                };
                let core = &mut link.cores[side];
                core.on_hello(body, Some(&identity), true)
                    .and_then(|()| {
                        check_registration(&self.nodes[me].docs, &identity.site, Some(&identity))
                            .map_err(SessionError::Protocol)
                    })
                    .map(|()| {
                        link.identified[side] = true;
                        link.cores[side].open()
                    })
            } else {
                link.cores[side].on_frame(body)
            }
        };
        match result {
            Ok(step) => {
                self.apply(key, side, step);
                let me = self.links[&key].ends[side];
                self.notices(me);
            }
            Err(e) => self.close(key, side, e),
        }
    }

    /// Carries out a step of the core on `side` of link `key`.
    fn apply(&mut self, key: (usize, usize), side: usize, step: Step) {
        let link = self.links.get_mut(&key).expect("link");
        let me = link.ends[side];
        link.q[side].extend(step.send);
        let peer = self.nodes[link.ends[1 - side]].site.clone();
        for effect in step.effects {
            match effect {
                Effect::Shared(doc) => {
                    let state = link.cores[side].sync_state(&doc).clone();
                    let _ = self.nodes[me].docs.save_sync_state(&peer, &doc, &state);
                }
                Effect::SetAside { doc, refusal } => {
                    trace(|| {
                        format!(
                            "{} met {doc} de côté avec {peer} : {refusal}",
                            self.nodes[me].site
                        )
                    });
                }
                _ => {}
            }
        }
    }

    /// The session on link `key` ends: `side` failed with `e`.
    fn close(&mut self, key: (usize, usize), side: usize, e: SessionError) {
        let Some(link) = self.links.remove(&key) else {
            return;
        };
        let me = link.ends[side];
        let them = link.ends[1 - side];
        trace(|| {
            format!(
                "session {} ← {} fermée : {e}",
                self.nodes[me].site, self.nodes[them].site
            )
        });
        let honest = !self.nodes[me].attacker && !self.nodes[them].attacker;
        let revoked = self.report.revoked.as_deref();
        let cut_off =
            revoked == Some(&self.nodes[them].site) || revoked == Some(&self.nodes[me].site);
        if let SessionError::Protocol(reason) = &e {
            if self.nodes[them].attacker {
                self.report.forgeries_refused += 1;
            }
            if honest && !link.tampered && !cut_off {
                self.report.violations.push(format!(
                    "{} a fermé la session avec {}, honnête, sur un lien sans perte : {reason}",
                    self.nodes[me].site, self.nodes[them].site
                ));
            }
        }
    }

    /// The changes written by `site` that node `i` holds, applied or queued.
    fn authored_by(&self, i: usize, site: &str) -> BTreeSet<ChangeHash> {
        let docs = &self.nodes[i].docs;
        let mut out = BTreeSet::new();
        for id in docs.ids() {
            if let Some(mut d) = docs.read(&id, |d| d.clone()) {
                for m in d.get_changes_meta(&[]) {
                    if crate::trust::author_of(&m.actor).as_deref() == Some(site) {
                        out.insert(m.hash);
                    }
                }
            }
            // Queued changes carry their author in their actor too, but are
            // not readable here: count them all as taken before.
            out.extend(docs.queued(&id));
        }
        out
    }

    /// Records, the first time node `i` reads the revocation, what it held.
    fn note_revocation(&mut self, i: usize) {
        let Some(r) = self.report.revoked.clone() else {
            return;
        };
        if self.nodes[i].before_revocation.is_some() {
            return;
        }
        let known = self.nodes[i]
            .docs
            .read(NETWORK_DOC, |d| registry::get(d, &r))
            .and_then(|e| e.ok().flatten())
            .is_some_and(|e| e.is_revoked());
        if known {
            let held = self.authored_by(i, &r);
            self.nodes[i].before_revocation = Some(held);
        }
    }

    /// Hands node `i`'s change notices to every session it holds.
    fn notices(&mut self, i: usize) {
        self.note_revocation(i);
        let mut ids = BTreeSet::new();
        let mut lagged = false;
        loop {
            match self.nodes[i].notices.try_recv() {
                Ok(id) => {
                    ids.insert(id);
                }
                Err(broadcast::error::TryRecvError::Lagged(_)) => lagged = true,
                Err(_) => break,
            }
        }
        if ids.is_empty() && !lagged {
            return;
        }
        if lagged
            || ids
                .iter()
                .any(|id| id == NETWORK_DOC || id.starts_with("site/"))
        {
            self.to_react.insert(i);
        }
        let keys: Vec<(usize, usize)> = self
            .links
            .keys()
            .filter(|(a, b)| *a == i || *b == i)
            .copied()
            .collect();
        for key in keys {
            let side = if key.0 == i { 0 } else { 1 };
            let link = self.links.get_mut(&key).expect("link");
            if !link.identified[side] {
                continue;
            }
            let mut step = Step::default();
            if lagged {
                let s = link.cores[side].on_lagged();
                step.send.extend(s.send);
                step.effects.extend(s.effects);
            }
            for id in &ids {
                let s = link.cores[side].on_changed(id);
                step.send.extend(s.send);
                step.effects.extend(s.effects);
            }
            self.apply(key, side, step);
        }
    }

    fn partition(&mut self) {
        let n = self.nodes.len();
        for g in self.group.iter_mut() {
            *g = 0;
        }
        for i in 0..n {
            self.group[i] = self.rng.gen_range(0..2);
        }
        self.report.partitions += 1;
        let group = self.group.clone();
        self.links.retain(|(a, b), _| group[*a] == group[*b]);
    }

    fn unpartition(&mut self) {
        for g in self.group.iter_mut() {
            *g = 0;
        }
    }

    // ---- nodes: crash, restart, backup, restore ----

    fn crash_random(&mut self) {
        let up: Vec<usize> = (0..self.nodes.len())
            .filter(|i| self.nodes[*i].up)
            .collect();
        let Some(i) = self.pick(&up) else { return };
        let pending = self.nodes[i].store.unflushed();
        let kept = self.rng.gen_range(0..=pending);
        let image = self.nodes[i].store.crash(kept);
        self.cut_links_of(i);
        let node = &mut self.nodes[i];
        node.store = Arc::new(SimStore::from_image(image));
        node.up = false;
        self.report.crashes += 1;
        trace(|| {
            format!(
                "panne de {} : {kept} écritures sur {pending} gardées",
                self.nodes[i].site
            )
        });
    }

    fn reopen(&mut self, i: usize) {
        let n = self.nodes.len() - 1;
        let node = &mut self.nodes[i];
        node.incarnation += 1;
        node.skew = self.rng.gen_range(-86_400..=86_400);
        node.clock.store(self.now + node.skew, Ordering::Relaxed);
        node.docs = open_docs(
            &node.store,
            &site_name(i, n),
            i,
            node.incarnation,
            &node.key,
            &self.ca_der,
            &node.clock,
        );
        node.notices = node.docs.subscribe();
        node.up = true;
        // A node restored from before it read the revocation must read it again.
        let snapshot = node.before_revocation.take();
        self.note_revocation(i);
        if self.nodes[i].before_revocation.is_some() {
            self.nodes[i].before_revocation = snapshot;
        }
        self.to_react.insert(i);
    }

    fn restart_random(&mut self) {
        let down: Vec<usize> = (0..self.nodes.len())
            .filter(|i| !self.nodes[*i].up)
            .collect();
        if let Some(i) = self.pick(&down) {
            self.reopen(i);
        }
    }

    fn backup_random(&mut self) {
        let up: Vec<usize> = (0..self.nodes.len())
            .filter(|i| self.nodes[*i].up)
            .collect();
        if let Some(i) = self.pick(&up) {
            let node = &mut self.nodes[i];
            let image = node.store.durable();
            let acked = node.acked.len();
            node.backups.push((image, acked));
            trace(|| format!("sauvegarde {} de {}", node.backups.len() - 1, node.site));
        }
    }

    /// A node's disk is replaced by one of its backups: the writes it
    /// acknowledged since are lost, unless another node received them.
    fn restore_random(&mut self) {
        let candidates: Vec<usize> = (0..self.nodes.len())
            .filter(|i| !self.nodes[*i].backups.is_empty() && !self.nodes[*i].attacker)
            .collect();
        let Some(i) = self.pick(&candidates) else {
            return;
        };
        let b = self.rng.gen_range(0..self.nodes[i].backups.len());
        let (image, _) = self.nodes[i].backups[b].clone();
        self.cut_links_of(i);
        // What survives: every other node's disk, and the backup.
        // (Not the attacker's nor a revoked site's: they relay to no one.)
        let mut durable = hashes_of(&image);
        let revoked = self.report.revoked.clone();
        for k in 0..self.nodes.len() {
            let relays = !self.nodes[k].attacker && Some(&self.nodes[k].site) != revoked.as_ref();
            if k != i && relays {
                let theirs = hashes_of(&self.nodes[k].store.durable());
                trace(|| {
                    let mine: Vec<String> = self.nodes[i]
                        .acked
                        .iter()
                        .filter(|(_, h)| theirs.contains(h))
                        .map(|(_, h)| h.to_string()[..8].to_string())
                        .collect();
                    format!("  {} détient sur disque {:?}", self.nodes[k].site, mine)
                });
                durable.extend(theirs);
            }
        }
        for node in &self.nodes {
            for (_, h) in &node.acked {
                if !durable.contains(h) && self.lost.insert(*h) {
                    self.report.lost_by_restore += 1;
                }
            }
        }
        self.nodes[i].store = Arc::new(SimStore::from_image(image));
        self.report.restores += 1;
        trace(|| {
            format!(
                "restauration de {} depuis la sauvegarde {b}",
                self.nodes[i].site
            )
        });
        self.reopen(i);
    }

    // ---- users ----

    async fn user_write(&mut self) {
        let up: Vec<usize> = self
            .honest()
            .filter(|i| self.nodes[*i].up && !self.nodes[*i].academy)
            .collect();
        let Some(i) = self.pick(&up) else { return };
        let what: u32 = self.rng.gen_range(0..100);
        match what {
            0..=24 => self.add_item(i).await,
            25..=59 => self.request_loan(i).await,
            60..=89 => self.decide(i).await,
            _ => self.cancel(i).await,
        }
        self.notices(i);
    }

    fn now_of(&self, i: usize) -> i64 {
        self.now + self.nodes[i].skew
    }

    async fn add_item(&mut self, i: usize) {
        let node = &mut self.nodes[i];
        node.next_id += 1;
        let id = format!("eq-{}-{}-{}", node.site, node.incarnation, node.next_id);
        let at = stamp(self.now + node.skew);
        let item = equipment::Equipment {
            name: format!("Objet {}", node.next_id),
            category: "numérique".into(),
            description: String::new(),
            inventory_number: String::new(),
            loanable: true,
            status: "available".into(),
            condition: "good".into(),
            created_at: at.clone(),
            updated_at: at,
            acquired: String::new(),
        };
        let doc = site_doc(&node.site);
        let r = node
            .docs
            .change(&doc, "equipment add", |d| equipment::put(d, &id, &item))
            .await;
        self.acked(i, &doc, r.is_ok());
    }

    async fn request_loan(&mut self, i: usize) {
        // An item of another site, as this node sees it.
        let me = self.nodes[i].site.clone();
        let mut items: Vec<(String, String)> = Vec::new();
        for id in self.nodes[i].docs.ids_with_prefix("site/") {
            let lender = id.trim_start_matches("site/").to_string();
            if lender == me {
                continue;
            }
            if let Some(Ok(all)) = self.nodes[i].docs.read(&id, equipment::all) {
                for item in all.into_keys() {
                    items.push((lender.clone(), item));
                }
            }
        }
        if items.is_empty() {
            return;
        }
        let (lender, item) = items[self.rng.gen_range(0..items.len())].clone();
        let start = self.now_of(i) + self.rng.gen_range(0..20) * 86_400;
        let end = start + self.rng.gen_range(1..6) * 86_400;
        let node = &mut self.nodes[i];
        node.next_id += 1;
        let id = format!("ln-{}-{}-{}", node.site, node.incarnation, node.next_id);
        let t = loans::Transition {
            at: stamp(self.now + node.skew),
            site: node.site.clone(),
            role: "director".into(),
            note: String::new(),
        };
        let r = loans::LoanRequest {
            lender,
            equipment: vec![item],
            from: stamp(start),
            to: stamp(end),
            purpose: String::new(),
            action: String::new(),
            event: String::new(),
            requested: t,
            cancelled: None,
        };
        let doc = site_doc(&node.site);
        let res = node
            .docs
            .change(&doc, "loan request", |d| loans::put_request(d, &id, &r))
            .await;
        self.acked(i, &doc, res.is_ok());
    }

    /// The requests addressed to node `i` (as lender) that it has not
    /// decided, and the ones their borrowers cancelled.
    fn requests_to(
        &self,
        i: usize,
    ) -> (Vec<(String, String, loans::LoanRequest)>, BTreeSet<String>) {
        let node = &self.nodes[i];
        let mut open = Vec::new();
        let mut cancelled = BTreeSet::new();
        let mine = node
            .docs
            .read(&site_doc(&node.site), loans::decisions)
            .and_then(|r| r.ok())
            .unwrap_or_default();
        for id in node.docs.ids_with_prefix("site/") {
            let borrower = id.trim_start_matches("site/").to_string();
            let Some(Ok(reqs)) = node.docs.read(&id, loans::requests) else {
                continue;
            };
            for (lid, r) in reqs {
                if r.lender != node.site {
                    continue;
                }
                if r.cancelled.is_some() {
                    cancelled.insert(lid);
                } else if !mine.contains_key(&lid) {
                    open.push((lid, borrower.clone(), r));
                }
            }
        }
        (open, cancelled)
    }

    /// The lender decides a request, approving or refusing it with the
    /// node's own function (`app::loans::decide_in`, as `decide_with`).
    async fn decide(&mut self, i: usize) {
        let (open, cancelled) = self.requests_to(i);
        if open.is_empty() {
            return;
        }
        let (id, borrower, r) = open[self.rng.gen_range(0..open.len())].clone();
        let approve = self.rng.gen_bool(0.8);
        let node = &self.nodes[i];
        let me = node.site.clone();
        let t = loans::Transition {
            at: stamp(self.now + node.skew),
            site: me.clone(),
            role: "director".into(),
            note: if approve {
                String::new()
            } else {
                "indisponible".into()
            },
        };
        let doc = site_doc(&me);
        if approve && self.book_gate && crate::app::loans::may_book_now(&node.docs, &doc).is_err() {
            self.report.approvals_refused += 1;
            return;
        }
        let loan = loans::Loan {
            id: id.clone(),
            borrower,
            lender: me.clone(),
            request: Some(r),
            decision: None,
        };
        let what = if approve {
            crate::app::loans::Decision::Approve
        } else {
            crate::app::loans::Decision::Refuse
        };
        let revoked = if self.withdraw_revoked {
            crate::app::revoked::Revoked::read(&node.docs, &me)
        } else {
            Default::default()
        };
        let res = node
            .docs
            .change(&doc, "loan decision", |d| {
                crate::app::loans::decide_in(
                    d,
                    &me,
                    &loan,
                    what,
                    &t,
                    &cancelled,
                    &crate::app::loans::Incident::none(),
                    &revoked,
                )
            })
            .await;
        match (&res, approve) {
            (Ok(()), true) => self.report.approvals += 1,
            (Err(_), true) => self.report.approvals_refused += 1,
            _ => {}
        }
        self.acked(i, &doc, res.is_ok());
    }

    async fn cancel(&mut self, i: usize) {
        let node = &self.nodes[i];
        let doc = site_doc(&node.site);
        let reqs = node
            .docs
            .read(&doc, loans::requests)
            .and_then(|r| r.ok())
            .unwrap_or_default();
        let open: Vec<String> = reqs
            .iter()
            .filter(|(_, r)| r.cancelled.is_none())
            .map(|(id, _)| id.clone())
            .collect();
        if open.is_empty() {
            return;
        }
        let id = open[self.rng.gen_range(0..open.len())].clone();
        let t = loans::Transition {
            at: stamp(self.now + node.skew),
            site: node.site.clone(),
            role: "director".into(),
            note: String::new(),
        };
        let res = node
            .docs
            .change(&doc, "loan cancel", |d| {
                let mut r = loans::get_request(d, &id)?.expect("listed");
                r.cancelled = Some(t.clone());
                loans::put_request(d, &id, &r)
            })
            .await;
        self.acked(i, &doc, res.is_ok());
    }

    /// The academy revokes one site (once per run): the attacker or an honest one.
    async fn revoke_one(&mut self) {
        if self.report.revoked.is_some() || !self.nodes[0].up {
            return;
        }
        let n = self.nodes.len();
        let target = self.rng.gen_range(1..n);
        let site = self.nodes[target].site.clone();
        let cutoff = crate::app::network::cutoff_in(&self.nodes[0].docs, &site);
        let at = stamp(self.now_of(0));
        let res = self.nodes[0]
            .docs
            .change(NETWORK_DOC, "site revoke", |d| {
                let mut e = registry::get(d, &site)?
                    .ok_or_else(|| crate::error::Error::not_found("inscription"))?;
                e.revoked_at = at.clone();
                e.cutoff = cutoff.clone();
                registry::put(d, &site, &e)
            })
            .await;
        if res.is_ok() {
            self.report.revoked = Some(site);
            self.acked(0, NETWORK_DOC, true);
            self.notices(0);
        }
    }

    // ---- the attacker ----

    /// The attacker sends, on one of its sessions, a change it had no right
    /// to make: in another site's document under that site's actor, or in
    /// the registry; signed with its own key, or not at all.
    fn forge(&mut self) {
        let n = self.nodes.len() - 1;
        let links: Vec<((usize, usize), usize)> = self
            .links
            .iter()
            .filter(|(_, l)| l.identified == [true, true])
            .filter_map(|(k, l)| l.ends.iter().position(|e| *e == n).map(|side| (*k, side)))
            .collect();
        let Some((key, side)) = self.pick(&links) else {
            return;
        };
        let victim = self.links[&key].ends[1 - side];
        let kind: u32 = self.rng.gen_range(0..4);
        let (doc_id, actor) = match kind {
            0 | 1 => {
                let v = self.nodes[victim].site.clone();
                (site_doc(&v), format!("{v}.faux"))
            }
            2 => (NETWORK_DOC.to_string(), "intrus.faux".to_string()),
            _ => (NETWORK_DOC.to_string(), "rectorat.faux".to_string()),
        };
        let attacker = &self.nodes[n];
        let mut doc = attacker
            .docs
            .read(&doc_id, |d| d.clone())
            .unwrap_or_default();
        doc.set_actor(automerge::ActorId::from(actor.into_bytes()));
        {
            use automerge::transaction::Transactable;
            let _ = doc.put(ROOT, "forged", self.rng.gen::<u64>() as i64);
        }
        let Some(hash) =
            doc.commit_with(automerge::transaction::CommitOptions::default().with_time(self.now))
        else {
            return;
        };
        self.forged.insert(hash);
        // The whole document, as to a peer that holds none of it.
        let mut st = sync::State::new();
        st.their_heads = Some(Vec::new());
        st.their_need = Some(Vec::new());
        st.their_have = Some(Vec::new());
        st.their_capabilities = Some(vec![sync::Capability::MessageV2]);
        let Some(message) = doc.sync().generate_sync_message(&mut st) else {
            return;
        };
        let mut signatures = Vec::new();
        if kind != 1 {
            let sig = attacker.docs.trust().sign(&doc_id, &hash);
            signatures.extend_from_slice(&hash.0);
            signatures.extend_from_slice(&sig);
        }
        let link = self.links.get_mut(&key).expect("link");
        link.tampered = true;
        link.q[side].push_back(Body::Sync(pb::SyncMessage {
            doc: doc_id,
            data: message.encode(),
            signatures,
            deflated: false,
        }));
        self.report.forgeries += 1;
    }

    // ---- the end: heal, settle, check ----

    /// Every node up, no partition, every pair linked (the academy with all,
    /// each site with its neighbours on a ring when there are many), frames
    /// delivered in order until none is left.
    async fn heal(&mut self) {
        self.unpartition();
        for i in 0..self.nodes.len() {
            if !self.nodes[i].up {
                self.reopen(i);
            }
        }
        self.links.clear();
        let n = self.nodes.len();
        for a in 0..n {
            for b in a + 1..n {
                let near = n <= 8 || a == 0 || b == a + 1 || (a == 1 && b == n - 1);
                if near {
                    self.open_link(a, b, false);
                }
            }
        }
        self.react().await;
        let mut delivered = 0;
        while delivered < SETTLE_BOUND {
            let Some((key, dir)) = self
                .links
                .iter()
                .find_map(|(k, l)| (0..2).find(|d| !l.q[*d].is_empty()).map(|d| (*k, d)))
            else {
                break;
            };
            let body = self
                .links
                .get_mut(&key)
                .and_then(|l| l.q[dir].pop_front())
                .expect("busy");
            self.deliver(key, dir, body);
            self.react().await;
            delivered += 1;
        }
        self.report.settle_frames = delivered;
        if delivered >= SETTLE_BOUND {
            self.report.violations.push(format!(
                "le réseau ne s'est pas apaisé après {SETTLE_BOUND} trames"
            ));
        }
    }

    fn check(&mut self) {
        // A revocation the academy lost with its disk never happened: what
        // counts is whether the healed registry holds it.
        if let Some(r) = self.report.revoked.clone() {
            let holds = self.nodes[0]
                .docs
                .read(NETWORK_DOC, |d| registry::get(d, &r))
                .and_then(|e| e.ok().flatten())
                .is_some_and(|e| e.is_revoked());
            if !holds {
                self.report.revoked = None;
            }
        }
        let revoked = self.report.revoked.clone();
        let judges: Vec<usize> = self
            .honest()
            .filter(|i| Some(&self.nodes[*i].site) != revoked.as_ref())
            .collect();
        // Convergence, on every document but the revoked site's and the attacker's.
        let reference = judges[0];
        let ids: BTreeSet<String> = judges
            .iter()
            .flat_map(|i| self.nodes[*i].docs.ids())
            .collect();
        let skip =
            |id: &str| id == "site/intrus" || revoked.as_ref().is_some_and(|r| id == site_doc(r));
        for id in &ids {
            let want = self.nodes[reference].docs.heads(id);
            for &k in &judges[1..] {
                let got = self.nodes[k].docs.heads(id);
                if got != want && !skip(id) {
                    self.report.violations.push(format!(
                        "{} et {} divergent sur {id} : {} contre {} têtes",
                        self.nodes[reference].site,
                        self.nodes[k].site,
                        want.len(),
                        got.len()
                    ));
                }
            }
        }
        // Changes every judge holds, by document.
        let held = |k: usize, doc: &str, h: &ChangeHash| {
            self.nodes[k]
                .docs
                .read(doc, |d| d.clone().get_change_by_hash(h).is_some())
                .unwrap_or(false)
        };
        // No acknowledged write lost.
        let mut missing = Vec::new();
        for i in self.honest() {
            if Some(&self.nodes[i].site) == revoked.as_ref() {
                continue;
            }
            for (doc, h) in &self.nodes[i].acked {
                if self.lost.contains(h) {
                    continue;
                }
                // Held only by the revoked site (the last to receive it
                // before the author lost it with its disk): cut off with it.
                let with_revoked = (0..self.nodes.len())
                    .any(|r| Some(&self.nodes[r].site) == revoked.as_ref() && held(r, doc, h));
                if with_revoked && !judges.iter().any(|&k| held(k, doc, h)) {
                    continue;
                }
                for &k in &judges {
                    if !held(k, doc, h) {
                        missing.push(format!(
                            "écriture acquittée {h} de {} sur {doc} absente de {}",
                            self.nodes[i].site, self.nodes[k].site
                        ));
                    }
                }
            }
        }
        missing.truncate(5);
        self.report.violations.extend(missing);
        // No forged change anywhere, and every change written by its author.
        for &k in &judges {
            for id in self.nodes[k].docs.ids() {
                let Some(mut doc) = self.nodes[k].docs.read(&id, |d| d.clone()) else {
                    continue;
                };
                for m in doc.get_changes_meta(&[]) {
                    if self.forged.contains(&m.hash) {
                        self.report.violations.push(format!(
                            "{} détient la modification falsifiée {} de {id}",
                            self.nodes[k].site, m.hash
                        ));
                    }
                    let author = crate::trust::author_of(&m.actor).unwrap_or_default();
                    let allowed = match id.strip_prefix("site/") {
                        Some(s) => author == s,
                        None => author == "rectorat",
                    };
                    if !allowed {
                        self.report.violations.push(format!(
                            "{} détient une modification de {id} écrite par {author}",
                            self.nodes[k].site
                        ));
                    }
                }
            }
        }
        // Once a node has read a revocation, it takes no change of the
        // revoked site past the cutoff (what it held before, it could not
        // know to refuse).
        if let Some(r) = &revoked {
            let cutoff = self.nodes[0]
                .docs
                .read(NETWORK_DOC, |d| registry::get(d, r))
                .and_then(|e| e.ok().flatten())
                .map(|e| e.cutoff)
                .unwrap_or_default();
            for &k in &judges {
                let Some(before) = self.nodes[k].before_revocation.clone() else {
                    self.report.violations.push(format!(
                        "{} ignore la révocation de {r} après le rétablissement",
                        self.nodes[k].site
                    ));
                    continue;
                };
                for id in self.nodes[k].docs.ids() {
                    let Some(mut doc) = self.nodes[k].docs.read(&id, |d| d.clone()) else {
                        continue;
                    };
                    let heads: Vec<ChangeHash> = cutoff
                        .get(&id)
                        .map(|hs| hs.iter().filter_map(|h| h.parse().ok()).collect())
                        .unwrap_or_default();
                    let beneath = ancestors(&mut doc, &heads);
                    for m in doc.get_changes_meta(&[]) {
                        let author = crate::trust::author_of(&m.actor).unwrap_or_default();
                        if &author == r && !beneath.contains(&m.hash) && !before.contains(&m.hash) {
                            self.report.violations.push(format!(
                                "{} a pris, après avoir lu sa révocation, une modification de {id} écrite par {r} au-delà de la limite",
                                self.nodes[k].site
                            ));
                        }
                    }
                }
            }
        }
        // No item approved twice for overlapping windows.
        let view = &self.nodes[reference].docs;
        let mut all = Vec::new();
        for id in view.ids_with_prefix("site/") {
            let site = id.trim_start_matches("site/").to_string();
            let reqs = view
                .read(&id, loans::requests)
                .and_then(|r| r.ok())
                .unwrap_or_default();
            let decs = view
                .read(&id, loans::decisions)
                .and_then(|r| r.ok())
                .unwrap_or_default();
            all.push((site, reqs, decs));
        }
        let active: Vec<loans::Booking> = loans::join(all)
            .into_iter()
            .filter(|l| l.is_active())
            .filter_map(|l| l.booking())
            .collect();
        for (item, involved) in loans::conflicts(&active) {
            self.report.violations.push(format!(
                "{item} accordé deux fois sur des périodes qui se chevauchent : {}",
                involved.join(", ")
            ));
        }
    }
}

/// Prints a line of the schedule when `MAILLAGE_SIM_TRACE` is set.
fn trace(line: impl FnOnce() -> String) {
    if std::env::var_os("MAILLAGE_SIM_TRACE").is_some() {
        eprintln!("{}", line());
    }
}

/// Every change a disk image holds.
fn hashes_of(image: &Image) -> BTreeSet<ChangeHash> {
    let Ok(docs) = Docs::open(
        Arc::new(SimStore::from_image(image.clone())),
        "lecteur",
        COMPACT_AFTER,
        Trust::ephemeral(),
    ) else {
        return BTreeSet::new();
    };
    let mut out = BTreeSet::new();
    for id in docs.ids() {
        if let Some(mut d) = docs.read(&id, |d| d.clone()) {
            out.extend(d.get_changes_meta(&[]).into_iter().map(|m| m.hash));
        }
    }
    out
}

/// The changes beneath `heads` (them included).
fn ancestors(doc: &mut AutoCommit, heads: &[ChangeHash]) -> BTreeSet<ChangeHash> {
    let deps: BTreeMap<ChangeHash, Vec<ChangeHash>> = doc
        .get_changes_meta(&[])
        .into_iter()
        .map(|m| (m.hash, m.deps))
        .collect();
    let mut out = BTreeSet::new();
    let mut todo: Vec<ChangeHash> = heads.to_vec();
    while let Some(h) = todo.pop() {
        if out.insert(h) {
            if let Some(d) = deps.get(&h) {
                todo.extend(d.iter().copied());
            }
        }
    }
    out
}

#[allow(clippy::too_many_arguments)]
fn open_docs(
    store: &Arc<SimStore>,
    site: &str,
    index: usize,
    incarnation: u64,
    key: &SigningKey,
    ca_der: &[u8],
    clock: &Arc<AtomicI64>,
) -> Docs {
    let mut nonce = [0u8; 8];
    nonce[..4].copy_from_slice(&(index as u32).to_be_bytes());
    nonce[4..].copy_from_slice(&(incarnation as u32).to_be_bytes());
    let clock = clock.clone();
    let clock: Clock = Arc::new(move || clock.load(Ordering::Relaxed));
    Docs::open_with(
        store.clone(),
        fresh_actor(site, nonce),
        COMPACT_AFTER,
        Trust::new(
            key.clone(),
            Some(ca_der.to_vec()),
            crate::base::MAX_CHANGES_PER_MESSAGE,
        ),
        clock,
    )
    .expect("a simulated node reopens its store")
}

/// Figures of many runs.
#[derive(Debug, Default, serde::Serialize)]
pub struct Summary {
    pub seeds: u64,
    pub failed: Vec<Report>,
    pub frames: u64,
    pub writes: usize,
    pub approvals: usize,
    pub with_crash: u64,
    pub with_partition: u64,
    pub with_restore: u64,
    pub with_revocation: u64,
    /// Seeds where a lender withdrew a revoked site's approval.
    pub with_withdrawal: u64,
    pub forgeries: usize,
    pub forgeries_refused: usize,
    pub lost_by_restore: usize,
}

impl Summary {
    pub fn add(&mut self, r: Report) {
        self.seeds += 1;
        self.frames += r.frames;
        self.writes += r.writes;
        self.approvals += r.approvals;
        self.with_crash += u64::from(r.crashes > 0);
        self.with_partition += u64::from(r.partitions > 0);
        self.with_restore += u64::from(r.restores > 0);
        self.with_revocation += u64::from(r.revoked.is_some());
        self.with_withdrawal += u64::from(r.withdrawals > 0);
        self.forgeries += r.forgeries;
        self.forgeries_refused += r.forgeries_refused;
        self.lost_by_restore += r.lost_by_restore;
        if !r.ok() {
            self.failed.push(r);
        }
    }
}

/// Runs seeds `first..first + count`.
pub fn run_many(first: u64, count: u64, opts: &Options) -> Summary {
    let mut s = Summary::default();
    for seed in first..first + count {
        s.add(run(seed, opts));
    }
    s
}

/// `maillage sim`: runs seeds and prints their figures.
#[derive(Debug, clap::Args)]
pub struct SimArgs {
    /// Nombre de graines (de calendriers de pannes) à jouer, à partir de --first.
    #[arg(long, default_value_t = 1000)]
    pub seeds: u64,
    /// Première graine jouée.
    #[arg(long, default_value_t = 0)]
    pub first: u64,
    /// Rejouer exactement une seule graine (celle qu'affiche un échec), avec le détail.
    #[arg(long)]
    pub seed: Option<u64>,
    /// Nœuds honnêtes du réseau simulé : l'académie et les sites (3 à 50) ; un nœud malveillant s'y ajoute.
    #[arg(long, default_value_t = 4)]
    pub nodes: usize,
    /// Événements tirés au sort par graine avant que le réseau ne se rétablisse.
    #[arg(long, default_value_t = 300)]
    pub steps: usize,
}

/// Runs `maillage sim`: fails (exit 1) if any invariant is violated.
pub fn main(args: SimArgs, json: bool) -> anyhow::Result<()> {
    if !(3..=50).contains(&args.nodes) {
        anyhow::bail!(
            "--nodes {} : le réseau simulé compte de 3 à 50 nœuds",
            args.nodes
        );
    }
    let opts = Options {
        nodes: args.nodes,
        steps: args.steps,
        book_gate: true,
        withdraw_revoked: true,
    };
    if let Some(seed) = args.seed {
        let o = opts.clone();
        let r = std::thread::spawn(move || run(seed, &o))
            .join()
            .map_err(|_| anyhow::anyhow!("la simulation a paniqué"))?;
        if json {
            println!("{}", serde_json::to_string_pretty(&r)?);
        } else {
            println!(
                "Graine {seed} : {} nœuds honnêtes et 1 malveillant, {} événements",
                r.nodes, r.steps
            );
            println!(
                "  trames délivrées        : {} (perdues {}, doublées {}, interverties {})",
                r.frames, r.dropped, r.duplicated, r.swapped
            );
            println!("  sessions ouvertes       : {}", r.sessions);
            println!("  écritures acquittées    : {}", r.writes);
            println!(
                "  prêts accordés          : {} (refusés par la règle : {})",
                r.approvals, r.approvals_refused
            );
            println!(
                "  pannes / restaurations  : {} / {} ; partitions : {}",
                r.crashes, r.restores, r.partitions
            );
            println!(
                "  falsifications envoyées : {} ; sessions fermées au falsificateur : {}",
                r.forgeries, r.forgeries_refused
            );
            println!(
                "  site révoqué            : {} ; accords retirés à ses prêts : {}",
                r.revoked.as_deref().unwrap_or("aucun"),
                r.withdrawals
            );
            println!(
                "  écritures perdues par restauration (par définition) : {}",
                r.lost_by_restore
            );
            println!("  trames pour se rétablir : {}", r.settle_frames);
            if r.ok() {
                println!("  invariants : tous tenus");
            } else {
                for v in &r.violations {
                    println!("  VIOLATION : {v}");
                }
            }
        }
        if !r.ok() {
            anyhow::bail!(
                "graine {seed} : {} invariant(s) violé(s)",
                r.violations.len()
            );
        }
        return Ok(());
    }
    let start = std::time::Instant::now();
    let threads = std::thread::available_parallelism()
        .map(|n| n.get())
        .unwrap_or(1)
        .min(args.seeds.max(1) as usize) as u64;
    let per = args.seeds.div_ceil(threads.max(1));
    let handles: Vec<_> = (0..threads)
        .map(|t| {
            let first = args.first + t * per;
            let count = per.min((args.first + args.seeds).saturating_sub(first));
            let opts = opts.clone();
            std::thread::spawn(move || run_many(first, count, &opts))
        })
        .collect();
    let mut total = Summary::default();
    for h in handles {
        let s = h
            .join()
            .map_err(|_| anyhow::anyhow!("un fil de simulation a paniqué"))?;
        total.seeds += s.seeds;
        total.frames += s.frames;
        total.writes += s.writes;
        total.approvals += s.approvals;
        total.with_crash += s.with_crash;
        total.with_partition += s.with_partition;
        total.with_restore += s.with_restore;
        total.with_revocation += s.with_revocation;
        total.with_withdrawal += s.with_withdrawal;
        total.forgeries += s.forgeries;
        total.forgeries_refused += s.forgeries_refused;
        total.lost_by_restore += s.lost_by_restore;
        total.failed.extend(s.failed);
    }
    let secs = start.elapsed().as_secs_f64();
    if json {
        println!(
            "{}",
            serde_json::to_string_pretty(&serde_json::json!({
                "summary": &total,
                "nodes": args.nodes,
                "steps": args.steps,
                "seconds": secs,
            }))?
        );
    } else {
        println!(
            "Simulation : {} graines ({} à {}), {} nœuds honnêtes et 1 malveillant, {} événements chacune",
            total.seeds,
            args.first,
            args.first + args.seeds.saturating_sub(1),
            args.nodes,
            args.steps
        );
        println!("  trames délivrées       : {}", total.frames);
        println!(
            "  écritures acquittées   : {} ; prêts accordés : {}",
            total.writes, total.approvals
        );
        println!(
            "  graines avec panne : {}, avec partition : {}, avec restauration : {}, avec révocation : {} (dont accord retiré à un site révoqué : {})",
            total.with_crash,
            total.with_partition,
            total.with_restore,
            total.with_revocation,
            total.with_withdrawal
        );
        println!(
            "  falsifications envoyées : {} ; sessions fermées au falsificateur : {}",
            total.forgeries, total.forgeries_refused
        );
        println!(
            "  écritures perdues par restauration d'une sauvegarde (par définition) : {}",
            total.lost_by_restore
        );
        println!(
            "  graines en échec : {} ; durée {:.1} s ({:.1} graines/s sur {threads} fils)",
            total.failed.len(),
            secs,
            total.seeds as f64 / secs.max(1e-9)
        );
        for r in &total.failed {
            println!("  graine {} :", r.seed);
            for v in r.violations.iter().take(5) {
                println!("    {v}");
            }
            println!("    rejouer : {}", r.replay());
        }
    }
    if !total.failed.is_empty() {
        anyhow::bail!("{} graine(s) en échec", total.failed.len());
    }
    Ok(())
}
