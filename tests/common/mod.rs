//! Test harness: real nodes on 127.0.0.1:0 with temporary directories, talked to
//! over real sockets with the generated gRPC clients.
#![allow(dead_code)]

pub mod browser;

use std::path::PathBuf;
use std::time::Duration;

use maillage::cli::client::{connect, Conn, Target};
use maillage::config::Config;
use maillage::domain::site::Role;
use maillage::node::RunningNode;
use maillage::pb;
use maillage::pb::equipment_client::EquipmentClient;
use maillage::pb::node_client::NodeClient;
use tonic::transport::Channel;

/// The certificate authority of every node of this test process.
pub fn network_ca() -> &'static std::path::Path {
    static CA: std::sync::OnceLock<tempfile::TempDir> = std::sync::OnceLock::new();
    CA.get_or_init(|| {
        let dir = tempfile::tempdir().unwrap();
        maillage::tls::ca_init(dir.path()).unwrap();
        dir
    })
    .path()
}

/// TLS settings for a federation client holding a certificate for `site`
/// issued by `ca` (the network's CA by default).
pub fn client_tls(site: &str, ca: Option<&std::path::Path>) -> tonic::transport::ClientTlsConfig {
    let (cert, key, _) = node_identity(site, "site", ca);
    let network = std::fs::read_to_string(network_ca().join(maillage::tls::CA_CERT)).unwrap();
    tonic::transport::ClientTlsConfig::new()
        .ca_certificate(tonic::transport::Certificate::from_pem(network))
        .identity(tonic::transport::Identity::from_pem(cert, key))
        .domain_name(maillage::tls::NODE_NAME)
}

/// A node certificate and TLS key for `site` with `role`, issued by `ca` (the
/// network's CA by default), and the site's Ed25519 signing key.
pub fn node_identity(
    site: &str,
    role: &str,
    ca: Option<&std::path::Path>,
) -> (String, String, ed25519_dalek::SigningKey) {
    let ca = ca.unwrap_or_else(|| network_ca());
    let dir = tempfile::tempdir().unwrap().keep();
    maillage::tls::site_key_init(&dir).unwrap();
    let public_key = maillage::tls::site_public_key(&dir).unwrap();
    maillage::tls::node_request(&dir, site, role, &public_key).unwrap();
    let csr = std::fs::read_to_string(dir.join(maillage::tls::NODE_CSR)).unwrap();
    let cert = maillage::tls::ca_sign(ca, &csr, role == "academy")
        .unwrap()
        .pem;
    let key = std::fs::read_to_string(dir.join(maillage::tls::NODE_KEY)).unwrap();
    (cert, key, maillage::tls::site_key(&dir).unwrap())
}

/// Admin tokens of the nodes started by this test process, by URL, so that
/// spawned CLI commands can pass MAILLAGE_TOKEN for the node they target.
static TOKENS: std::sync::Mutex<Vec<(String, String)>> = std::sync::Mutex::new(Vec::new());

pub fn token_for(url: &str) -> Option<String> {
    TOKENS
        .lock()
        .unwrap()
        .iter()
        .rev()
        .find(|(u, _)| u == url)
        .map(|(_, t)| t.clone())
}

pub fn admin_token(dir: &std::path::Path) -> String {
    std::fs::read_to_string(dir.join(maillage::auth::ADMIN_TOKEN_FILE))
        .unwrap()
        .trim()
        .to_string()
}

/// A connection to `url` authenticated with `token`.
pub async fn conn(url: &str, token: Option<&str>) -> Conn {
    connect(&Target {
        url: url.to_string(),
        token: token.map(str::to_string),
    })
    .await
    .unwrap()
}

/// Longest a test waits for nodes to converge.
pub const TIMEOUT: Duration = Duration::from_secs(30);

pub struct TestNode {
    pub site: String,
    pub dir: PathBuf,
    _tmp: Option<tempfile::TempDir>,
    pub node: Option<RunningNode>,
    /// The public API.
    pub url: String,
    /// The federation address peers dial.
    pub fed_url: String,
}

pub fn init_tracing() {
    let _ = tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("warn")),
        )
        .with_test_writer()
        .try_init();
}

impl TestNode {
    pub async fn start(site: &str, peers: &[&TestNode]) -> TestNode {
        Self::start_with(site, Role::Site, peers, |_| {}).await
    }

    pub async fn start_with(
        site: &str,
        role: Role,
        peers: &[&TestNode],
        tweak: impl FnOnce(&mut Config),
    ) -> TestNode {
        init_tracing();
        let tmp = tempfile::tempdir().unwrap();
        let dir = tmp.path().join(site);
        let mut cfg = Config::new(site, &format!("Tiers-lieu {site}"), role);
        cfg.listen = "127.0.0.1:0".into();
        cfg.api_listen = "127.0.0.1:0".into();
        cfg.web_listen = "127.0.0.1:0".into();
        cfg.peers = peers.iter().map(|p| p.fed_url.clone()).collect();
        cfg.federation.reconnect_min_ms = 50;
        cfg.federation.reconnect_max_ms = 500;
        tweak(&mut cfg);
        maillage::node::init_with_ca(&dir, &cfg, Some(network_ca()))
            .await
            .unwrap();
        let node = RunningNode::start(&dir).await.unwrap();
        // Record the bound ports, so that `--dir` and restarts find the node.
        let mut bound = Config::load(&dir).unwrap();
        bound.listen = node.addr.to_string();
        bound.api_listen = node.api_addr.to_string();
        bound.web_listen = node.web_addr.to_string();
        std::fs::write(Config::path(&dir), bound.to_documented_toml()).unwrap();
        TOKENS.lock().unwrap().push((node.url(), admin_token(&dir)));
        TestNode {
            site: site.to_string(),
            dir,
            _tmp: Some(tmp),
            url: node.url(),
            fed_url: node.fed_url(),
            node: Some(node),
        }
    }

    pub fn running(&self) -> &RunningNode {
        self.node.as_ref().expect("node is running")
    }

    pub async fn stop(&mut self) {
        if let Some(n) = self.node.take() {
            n.shutdown().await;
        }
    }

    /// Restarts on the same directory, on the same port when it is still free.
    pub async fn restart(&mut self) {
        self.restart_with(|_| {}).await
    }

    /// Restarts with no peers to dial: the node runs alone until [`Self::dial`].
    pub async fn restart_isolated(&mut self) {
        self.restart_with(|c| c.peers.clear()).await
    }

    pub fn dial(&self, other: &TestNode) {
        self.running().add_peer(&other.fed_url);
    }

    pub async fn restart_with(&mut self, tweak: impl FnOnce(&mut Config)) {
        self.stop().await;
        let mut cfg = Config::load(&self.dir).unwrap();
        tweak(&mut cfg);
        let node = match RunningNode::start_with(&self.dir, cfg.clone()).await {
            Ok(n) => n,
            Err(_) => {
                cfg.listen = "127.0.0.1:0".into();
                cfg.api_listen = "127.0.0.1:0".into();
                cfg.web_listen = "127.0.0.1:0".into();
                RunningNode::start_with(&self.dir, cfg).await.unwrap()
            }
        };
        self.url = node.url();
        self.fed_url = node.fed_url();
        TOKENS
            .lock()
            .unwrap()
            .push((node.url(), admin_token(&self.dir)));
        self.node = Some(node);
    }

    /// The network digest, as `status` reports it (without building the rest
    /// of the status on every poll).
    pub fn digest(&self) -> String {
        hex::encode(self.running().docs().network_digest())
    }

    pub async fn channel(&self) -> Channel {
        Channel::from_shared(self.url.clone())
            .unwrap()
            .connect()
            .await
            .unwrap()
    }

    pub fn token(&self) -> String {
        admin_token(&self.dir)
    }

    /// A connection with the node's administrator token.
    pub async fn admin(&self) -> Conn {
        conn(&self.url, Some(&self.token())).await
    }

    pub async fn equipment(&self) -> EquipmentClient<Conn> {
        EquipmentClient::new(self.admin().await)
    }

    pub async fn loans(&self) -> maillage::pb::loans_client::LoansClient<Conn> {
        maillage::pb::loans_client::LoansClient::new(self.admin().await)
    }

    pub async fn actions(&self) -> maillage::pb::actions_client::ActionsClient<Conn> {
        maillage::pb::actions_client::ActionsClient::new(self.admin().await)
    }

    pub async fn calendar(&self) -> maillage::pb::calendar_client::CalendarClient<Conn> {
        maillage::pb::calendar_client::CalendarClient::new(self.admin().await)
    }

    pub async fn node_client(&self) -> NodeClient<Conn> {
        NodeClient::new(self.admin().await)
    }

    /// Runs the `maillage` command line against this node (`--dir`).
    pub fn cli(&self, args: &[&str]) -> std::process::Output {
        std::process::Command::new(env!("CARGO_BIN_EXE_maillage"))
            .args(["--dir", self.dir.to_str().unwrap()])
            .args(args)
            .output()
            .unwrap()
    }

    pub async fn add_item(&self, name: &str) -> pb::EquipmentItem {
        self.equipment()
            .await
            .add(pb::AddEquipmentRequest {
                name: name.into(),
                category: "robotique".into(),
                ..Default::default()
            })
            .await
            .unwrap()
            .into_inner()
    }

    pub async fn list(&self) -> Vec<pb::EquipmentItem> {
        self.equipment()
            .await
            .list(pb::ListEquipmentRequest::default())
            .await
            .unwrap()
            .into_inner()
            .items
    }
}

/// Waits until every node reports the same digest; panics after [`TIMEOUT`].
pub async fn converge(nodes: &[&TestNode]) -> String {
    let start = tokio::time::Instant::now();
    loop {
        let digests: Vec<String> = nodes.iter().map(|n| n.digest()).collect();
        if digests.iter().all(|d| d == &digests[0]) {
            return digests[0].clone();
        }
        if start.elapsed() > TIMEOUT {
            let detail: Vec<String> = nodes
                .iter()
                .map(|n| format!("{}: {:?}", n.site, n.running().status().documents))
                .collect();
            panic!(
                "nodes did not converge in {TIMEOUT:?}:\n{}",
                detail.join("\n")
            );
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// Waits until `f` holds; panics after [`TIMEOUT`].
pub async fn eventually(what: &str, mut f: impl FnMut() -> bool) {
    let start = tokio::time::Instant::now();
    while !f() {
        if start.elapsed() > TIMEOUT {
            panic!("timed out waiting for: {what}");
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// Enrols `node` in the registry of the academy node `academy`.
pub async fn enrol(
    academy: &TestNode,
    node: &TestNode,
) -> Result<maillage::pb::RegisteredSite, tonic::Status> {
    maillage::pb::network_client::NetworkClient::new(academy.admin().await)
        .enrol(maillage::pb::EnrolSiteRequest {
            id: node.site.clone(),
            name: format!("Tiers-lieu {}", node.site),
            endpoint: node.fed_url.clone(),
            key: node.running().status().public_key,
            role: "site".into(),
        })
        .await
        .map(|r| r.into_inner())
}

/// The standard output of a command that must have succeeded.
pub fn ok(out: &std::process::Output) -> String {
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout.clone()).unwrap()
}
