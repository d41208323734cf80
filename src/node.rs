//! A node: creating its directory (`init`), starting it, stopping it in order.

use std::net::SocketAddr;
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;
use tracing::{info, warn};

use tonic::service::interceptor::InterceptedService;

use crate::api::{equipment::EquipmentApi, node::NodeApi, NodeContext};
use crate::auth::{Role as UserRole, Tokens, ADMIN_TOKEN_FILE};
use crate::base::{self, site_doc, NETWORK_DOC};
use crate::config::{Config, DATA_DIR};
use crate::docs::Docs;
use crate::domain::{now_rfc3339, root_map_mut, site};
use crate::federation::{dial, Federation, FederationService};
use crate::pb;
use crate::storage::{SledStore, Store};
use crate::trust::Trust;

/// How long start-up waits for sled's lock still held by a closing handle.
pub const STORE_LOCK_WAIT: Duration = Duration::from_secs(10);

/// Time allowed for each step of an orderly shutdown.
pub const EXIT_DEADLINE: Duration = Duration::from_secs(5);

/// Categories of equipment offered by default on a new network.
pub const DEFAULT_CATEGORIES: &[&str] = &[
    "numérique",
    "audio-vidéo",
    "robotique",
    "impression 3D",
    "sciences",
    "arts",
    "sport",
    "mobilier",
];

/// Creates a node directory: its configuration, its storage and its first
/// documents. Refuses a directory that already holds a node.
pub async fn init(dir: &Path, config: &Config) -> anyhow::Result<()> {
    init_with_ca(dir, config, None).await
}

/// [`init`], then, with the network's CA at hand, signs and installs the node's
/// certificate at once.
pub async fn init_with_ca(dir: &Path, config: &Config, ca: Option<&Path>) -> anyhow::Result<()> {
    config.validate()?;
    let path = Config::path(dir);
    if path.exists() {
        anyhow::bail!(
            "un nœud existe déjà dans {} : rien n'a été modifié",
            dir.display()
        );
    }
    if dir.join(DATA_DIR).exists() {
        anyhow::bail!(
            "{} contient déjà des données ({}/) : rien n'a été modifié",
            dir.display(),
            DATA_DIR
        );
    }
    std::fs::create_dir_all(dir)
        .with_context(|| format!("création du dossier {}", dir.display()))?;
    let store: Arc<dyn Store> = Arc::new(SledStore::open(&dir.join(DATA_DIR))?);
    // The site's Ed25519 key: it signs every change this node writes.
    let public_key = crate::tls::site_key_init(dir)?;
    let trust = Trust::new(
        crate::tls::site_key(dir)?,
        None,
        config.federation.max_changes_per_message,
    );
    let docs = Docs::open(
        store,
        &config.site,
        config.storage.compact_after_chunks,
        trust,
    )?;
    let profile = site::Profile {
        id: config.site.clone(),
        name: config.name.clone(),
        role: config.role.as_str().to_string(),
        created_at: now_rfc3339(),
    };
    docs.change(&site_doc(&config.site), "site init", |doc| {
        site::write_profile(doc, &profile)?;
        put_text(doc, crate::trust::PUBLIC_KEY_KEY, &public_key)
    })
    .await?;
    if config.role == base::Role::Academy {
        let me = crate::domain::registry::new_entry(
            &config.site,
            &config.name,
            "academy",
            "",
            &public_key,
            &now_rfc3339(),
        )?;
        docs.change(NETWORK_DOC, "network init", |doc| {
            use automerge::transaction::Transactable;
            root_map_mut(doc, "sites")?;
            root_map_mut(doc, crate::domain::purchases::DECISIONS)?;
            let list = doc
                .put_object(automerge::ROOT, "categories", automerge::ObjType::List)
                .map_err(|e| crate::error::Error::Internal(e.to_string()))?;
            for (i, c) in DEFAULT_CATEGORIES.iter().enumerate() {
                doc.insert(&list, i, *c)
                    .map_err(|e| crate::error::Error::Internal(e.to_string()))?;
            }
            crate::domain::registry::put(doc, &config.site, &me)
        })
        .await?;
    }
    // The node's TLS key and certificate request (signed now if the CA is here).
    // The request binds the site's key and role, for the CA to certify.
    crate::tls::node_request(dir, &config.site, config.role.as_str(), &public_key)?;
    if let Some(ca) = ca {
        let csr = std::fs::read_to_string(dir.join(crate::tls::NODE_CSR))?;
        let issued = crate::tls::ca_sign(ca, &csr, config.role == base::Role::Academy)?;
        let ca_pem = std::fs::read_to_string(ca.join(crate::tls::CA_CERT))
            .with_context(|| format!("lecture de l'autorité dans {}", ca.display()))?;
        crate::tls::install(dir, &issued.pem, &ca_pem)?;
        publish_certificate(&docs, &config.site, &issued.pem).await?;
    }
    // The administrator's first token, readable by its owner only.
    let role = match config.role {
        base::Role::Academy => UserRole::Academy,
        base::Role::Site => UserRole::Director,
    };
    let (token, _) = Tokens::new(docs.store().clone())
        .create(role, "administrateur du nœud")
        .await?;
    write_private(&dir.join(ADMIN_TOKEN_FILE), &format!("{token}\n"))?;
    // Written last: a directory with a config file is a complete node.
    let tmp = dir.join(".maillage.toml.tmp");
    std::fs::write(&tmp, config.to_documented_toml())?;
    std::fs::rename(&tmp, &path)?;
    Ok(())
}

fn put_text(doc: &mut automerge::AutoCommit, key: &str, value: &str) -> crate::error::Result<()> {
    use automerge::transaction::Transactable;
    doc.put(automerge::ROOT, key, value)
        .map_err(|e| crate::error::Error::Internal(e.to_string()))
}

/// Publishes the node's certificate in its site document (if it is not there
/// yet): it is how every other node learns, from the CA alone, this site's key.
/// After a key rotation, the new certificate replaces the old one, and the
/// public key shown next to it follows (signed with the new key, like every
/// change from now on).
async fn publish_certificate(docs: &Docs, site: &str, pem: &str) -> anyhow::Result<()> {
    let id = site_doc(site);
    let text = |key: &str| {
        docs.read(&id, |d| {
            automerge::ReadDoc::get(d, automerge::ROOT, key)
                .ok()
                .flatten()
                .and_then(|(v, _)| v.as_str().map(str::to_string))
        })
        .flatten()
    };
    let public_key = docs.trust().public_key_hex();
    let stale_key = text(crate::trust::PUBLIC_KEY_KEY).is_some_and(|k| k != public_key);
    if text(crate::trust::CERTIFICATE_KEY).as_deref() != Some(pem) || stale_key {
        docs.change(&id, "certificate", |doc| {
            put_text(doc, crate::trust::CERTIFICATE_KEY, pem)?;
            if stale_key {
                put_text(doc, crate::trust::PUBLIC_KEY_KEY, &public_key)?;
            }
            Ok(())
        })
        .await?;
    }
    Ok(())
}

/// Writes a file readable by its owner only.
fn write_private(path: &Path, text: &str) -> anyhow::Result<()> {
    use std::io::Write;
    let mut opts = std::fs::OpenOptions::new();
    opts.write(true).create(true).truncate(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        opts.mode(0o600);
    }
    let mut f = opts
        .open(path)
        .with_context(|| format!("écriture de {}", path.display()))?;
    f.write_all(text.as_bytes())?;
    f.sync_all()?;
    Ok(())
}

/// A node serving on its listen address until [`RunningNode::shutdown`].
pub struct RunningNode {
    /// Federation address (and the API's too without TLS).
    pub addr: SocketAddr,
    /// Public API address.
    pub api_addr: SocketAddr,
    /// Whether peers must use mutual TLS.
    pub tls: bool,
    /// Address of the web interface for people.
    pub web_addr: SocketAddr,
    pub ctx: Arc<NodeContext>,
    shutdown: CancellationToken,
    tracker: TaskTracker,
    servers: Vec<JoinHandle<Result<(), tonic::transport::Error>>>,
    web: JoinHandle<std::io::Result<()>>,
    store: Arc<dyn Store>,
}

impl RunningNode {
    /// Starts the node whose directory is `dir`, as configured there.
    pub async fn start(dir: &Path) -> anyhow::Result<RunningNode> {
        let config = Config::load(dir)?;
        Self::start_with(dir, config).await
    }

    /// Starts the node of `dir` with `config` in place of its file (tests, demo).
    pub async fn start_with(dir: &Path, config: Config) -> anyhow::Result<RunningNode> {
        config.validate()?;
        let store: Arc<dyn Store> = Arc::new(
            SledStore::open_waiting(&dir.join(DATA_DIR), STORE_LOCK_WAIT)
                .await
                .with_context(|| format!("ouverture du stockage dans {}", dir.display()))?,
        );
        let tls = if config.insecure {
            warn!("insecure = true : les sites voisins se connectent sans TLS ni certificat, à réserver aux essais");
            None
        } else {
            Some(crate::tls::NodeTls::load(dir)?)
        };
        let ca_der = match &tls {
            Some(t) => Some(crate::tls::pem_der(&t.ca_pem)?),
            None => None,
        };
        let trust = Trust::new(
            crate::tls::site_key(dir)?,
            ca_der,
            config.federation.max_changes_per_message,
        );
        let docs = Docs::open(
            store.clone(),
            &config.site,
            config.storage.compact_after_chunks,
            trust,
        )?;
        if let Some(t) = &tls {
            publish_certificate(&docs, &config.site, &t.cert_pem).await?;
        }
        let listener = tokio::net::TcpListener::bind(&config.listen)
            .await
            .with_context(|| format!("écoute sur {} impossible", config.listen))?;
        let addr = listener.local_addr()?;
        // With TLS, the API has its own (loopback) address; without, it shares `listen`.
        let api_listener = match &tls {
            Some(_) => Some(
                tokio::net::TcpListener::bind(&config.api_listen)
                    .await
                    .with_context(|| format!("écoute sur {} impossible", config.api_listen))?,
            ),
            None => None,
        };
        let api_addr = match &api_listener {
            Some(l) => l.local_addr()?,
            None => addr,
        };
        let web_listener = tokio::net::TcpListener::bind(&config.web_listen)
            .await
            .with_context(|| {
                format!(
                    "écoute de l'interface web sur {} impossible",
                    config.web_listen
                )
            })?;
        let web_addr = web_listener.local_addr()?;
        let web_tls = if config.web.tls() {
            Some(crate::web::tls_acceptor(
                &dir.join(&config.web.tls_cert),
                &dir.join(&config.web.tls_key),
            )?)
        } else {
            None
        };
        let web_url = if !config.web.public_url.is_empty() {
            config.web.public_url.trim_end_matches('/').to_string()
        } else if web_tls.is_some() {
            format!("https://{web_addr}")
        } else {
            format!("http://{web_addr}")
        };
        if web_tls.is_none() && !web_addr.ip().is_loopback() {
            warn!(
                web = %web_addr,
                "l'interface web écoute au-delà de la machine en HTTP simple, sans TLS : \
                 placez-la derrière un mandataire HTTPS (Caddy, nginx) qui transmet \
                 X-Forwarded-Proto, sinon mots de passe et sessions circulent en clair"
            );
        }

        let shutdown = CancellationToken::new();
        let tracker = TaskTracker::new();
        let fed = Federation::new(
            config.site.clone(),
            config.role.as_str().to_string(),
            docs.clone(),
            config.federation.clone(),
            tls.clone(),
            shutdown.clone(),
            tracker.clone(),
        )?;
        let ctx = Arc::new(NodeContext {
            site: config.site.clone(),
            name: config.name.clone(),
            role: config.role,
            listen: addr.to_string(),
            docs,
            fed: fed.clone(),
            public_key: crate::tls::site_public_key(dir)?,
            api_listen: api_addr.to_string(),
            web_url,
            accounts: crate::accounts::Accounts::new(store.clone()),
            reports: crate::report::Index::new(),
        });
        // Partner contacts an earlier version replicated stay on this node.
        match crate::app::partners::move_contacts_out_of_history(&ctx).await {
            Ok(0) => {}
            Ok(n) => info!(
                contacts = n,
                "contacts de partenaires retirés du document partagé, gardés sur ce nœud"
            ),
            Err(e) => warn!(cause = %e, "contacts de partenaires : déplacement impossible"),
        }

        let (_health, health_service) = tonic_health::server::health_reporter();
        let reflection = tonic_reflection::server::Builder::configure()
            .register_encoded_file_descriptor_set(pb::FILE_DESCRIPTOR_SET)
            .build_v1()?;
        let tokens = Tokens::new(store.clone());
        let auth = tokens.interceptor();
        let max_frame = config.federation.max_frame_bytes;
        let max_api = config.api.max_request_bytes;
        let federation =
            pb::federation_server::FederationServer::new(FederationService::new(fed.clone()))
                .max_decoding_message_size(max_frame)
                .max_encoding_message_size(max_frame);
        let api = tonic::service::Routes::new(InterceptedService::new(
            pb::node_server::NodeServer::new(NodeApi::new(ctx.clone()))
                .max_decoding_message_size(max_api),
            auth.clone(),
        ))
        .add_service(InterceptedService::new(
            pb::equipment_server::EquipmentServer::new(EquipmentApi::new(ctx.clone()))
                .max_decoding_message_size(max_api),
            auth.clone(),
        ))
        .add_service(InterceptedService::new(
            pb::loans_server::LoansServer::new(crate::api::loans::LoansApi::new(ctx.clone()))
                .max_decoding_message_size(max_api),
            auth.clone(),
        ))
        .add_service(InterceptedService::new(
            pb::actions_server::ActionsServer::new(crate::api::actions::ActionsApi::new(
                ctx.clone(),
            ))
            .max_decoding_message_size(max_api),
            auth.clone(),
        ))
        .add_service(InterceptedService::new(
            pb::calendar_server::CalendarServer::new(crate::api::calendar::CalendarApi::new(
                ctx.clone(),
            ))
            .max_decoding_message_size(max_api),
            auth.clone(),
        ))
        .add_service(InterceptedService::new(
            pb::tokens_server::TokensServer::new(crate::api::tokens::TokensApi::new(
                tokens.clone(),
                config.role,
            ))
            .max_decoding_message_size(max_api),
            auth.clone(),
        ))
        .add_service(InterceptedService::new(
            pb::users_server::UsersServer::new(crate::api::users::UsersApi::new(ctx.clone()))
                .max_decoding_message_size(max_api),
            auth.clone(),
        ))
        .add_service(InterceptedService::new(
            pb::network_server::NetworkServer::new(crate::api::network::NetworkApi::new(
                ctx.clone(),
            ))
            .max_decoding_message_size(max_api),
            auth.clone(),
        ))
        .add_service(InterceptedService::new(
            pb::partners_server::PartnersServer::new(crate::api::partners::PartnersApi::new(
                ctx.clone(),
            ))
            .max_decoding_message_size(max_api),
            auth.clone(),
        ))
        .add_service(InterceptedService::new(
            pb::purchases_server::PurchasesServer::new(crate::api::purchases::PurchasesApi::new(
                ctx.clone(),
            ))
            .max_decoding_message_size(max_api),
            auth.clone(),
        ))
        .add_service(InterceptedService::new(
            pb::reports_server::ReportsServer::new(crate::api::reports::ReportsApi::new(
                ctx.clone(),
            ))
            .max_decoding_message_size(max_api)
            .max_encoding_message_size(64 * 1024 * 1024),
            auth,
        ))
        .add_service(health_service)
        .add_service(reflection);

        let incoming = |l: tokio::net::TcpListener| {
            tonic::transport::server::TcpIncoming::from(l).with_nodelay(Some(true))
        };
        let mut servers = Vec::new();
        match (&tls, api_listener) {
            (Some(tls), Some(api_listener)) => {
                let fed_router = tonic::transport::Server::builder()
                    .http2_keepalive_interval(Some(Duration::from_secs(30)))
                    .add_service(federation);
                let stop = shutdown.clone();
                let l = crate::tls::Acceptor::new(tls)?.incoming(
                    listener,
                    Duration::from_millis(config.federation.handshake_timeout_ms),
                    shutdown.clone(),
                );
                servers.push(tokio::spawn(async move {
                    fed_router
                        .serve_with_incoming_shutdown(l, stop.cancelled_owned())
                        .await
                }));
                let api_router = tonic::transport::Server::builder().add_routes(api);
                let stop = shutdown.clone();
                let l = incoming(api_listener);
                servers.push(tokio::spawn(async move {
                    api_router
                        .serve_with_incoming_shutdown(l, stop.cancelled_owned())
                        .await
                }));
            }
            _ => {
                let router = tonic::transport::Server::builder()
                    .http2_keepalive_interval(Some(Duration::from_secs(30)))
                    .add_routes(api)
                    .add_service(federation);
                let stop = shutdown.clone();
                let l = incoming(listener);
                servers.push(tokio::spawn(async move {
                    router
                        .serve_with_incoming_shutdown(l, stop.cancelled_owned())
                        .await
                }));
            }
        }
        let web = {
            let web = crate::web::Web::new(ctx.clone(), web_tls.is_some(), shutdown.clone());
            match web_tls {
                Some(acceptor) => tokio::spawn(crate::web::serve_tls(
                    web_listener,
                    acceptor,
                    web,
                    shutdown.clone(),
                )),
                None => tokio::spawn(crate::web::serve(web_listener, web, shutdown.clone())),
            }
        };
        for peer in &config.peers {
            dial::spawn(fed.clone(), peer.clone());
        }
        Federation::watch_registry(fed.clone());
        crate::report::keep_index(ctx.clone(), shutdown.clone(), &tracker);
        crate::app::revoked::watch(ctx.clone(), shutdown.clone(), &tracker);
        if let Some(mail) = &config.mail {
            let mut mail = mail.clone();
            if !mail.ca_file.is_empty() {
                mail.ca_file = dir.join(&mail.ca_file).to_string_lossy().into_owned();
            }
            crate::mail::spawn_daily(ctx.clone(), mail, shutdown.clone(), &tracker);
        }
        info!(site = %config.site, %addr, api = %api_addr, web = %web_addr, tls = tls.is_some(), "nœud démarré");
        Ok(RunningNode {
            addr,
            api_addr,
            web_addr,
            web,
            tls: tls.is_some(),
            ctx,
            shutdown,
            tracker,
            servers,
            store,
        })
    }

    /// The URL of the node's public API.
    pub fn url(&self) -> String {
        format!("http://{}", self.api_addr)
    }

    /// The URL of the web interface, e.g. "http://127.0.0.1:7402".
    pub fn web_url(&self) -> String {
        self.ctx.web_url.clone()
    }

    /// The URL peers dial.
    pub fn fed_url(&self) -> String {
        let scheme = if self.tls { "https" } else { "http" };
        format!("{scheme}://{}", self.addr)
    }

    /// Dials one more peer (in addition to the configured ones).
    pub fn add_peer(&self, url: &str) {
        dial::spawn(self.ctx.fed.clone(), url.to_string());
    }

    pub fn status(&self) -> pb::StatusReply {
        crate::app::node::status(&self.ctx)
    }

    /// Ends every open session as a dropped link would (the dialers redial).
    pub fn drop_sessions(&self) {
        self.ctx.fed.drop_sessions()
    }

    /// Bytes sent and received on the sockets of the sessions this node
    /// dialed, TLS and HTTP/2 included.
    pub fn socket_bytes(&self) -> (u64, u64) {
        self.ctx.fed.socket_bytes.total()
    }

    pub fn docs(&self) -> &Docs {
        &self.ctx.docs
    }

    /// Stops in order: stop accepting, close peer sessions, flush storage.
    pub async fn shutdown(self) {
        self.shutdown.cancel();
        for server in self.servers {
            match tokio::time::timeout(EXIT_DEADLINE, server).await {
                Ok(Ok(Ok(()))) => {}
                Ok(Ok(Err(e))) => warn!(cause = %e, "serveur arrêté avec une erreur"),
                Ok(Err(e)) => warn!(cause = %e, "tâche du serveur interrompue"),
                Err(_) => warn!("le serveur ne s'est pas arrêté à temps"),
            }
        }
        match tokio::time::timeout(EXIT_DEADLINE, self.web).await {
            Ok(Ok(Ok(()))) => {}
            Ok(Ok(Err(e))) => warn!(cause = %e, "interface web arrêtée avec une erreur"),
            Ok(Err(e)) => warn!(cause = %e, "tâche de l'interface web interrompue"),
            Err(_) => warn!("l'interface web ne s'est pas arrêtée à temps"),
        }
        self.tracker.close();
        if tokio::time::timeout(EXIT_DEADLINE, self.tracker.wait())
            .await
            .is_err()
        {
            warn!("des sessions avec des sites voisins ne se sont pas fermées à temps");
        }
        if let Err(e) = self.store.flush().await {
            warn!(cause = %e, "écriture finale du stockage impossible");
        }
        info!(site = %self.ctx.site, "nœud arrêté");
    }
}
