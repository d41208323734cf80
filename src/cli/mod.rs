//! The `maillage` command line: node commands (`init`, `serve`, `demo`, `bench`)
//! and client commands that call a node's public API.

mod actions;
mod calendar;
pub mod client;
pub mod demo;
mod loans;
mod output;

use std::path::PathBuf;

use clap::{ArgAction, Args, Parser, Subcommand};

use crate::config::{Config, DEFAULT_LISTEN};
use crate::domain::site::Role;

pub const DEFAULT_NODE: &str = "http://127.0.0.1:7400";

#[derive(Debug, Parser)]
#[command(
    name = "maillage",
    version,
    about = "maillage : synchronisation fédérée du réseau des tiers-lieux éducatifs"
)]
pub struct Cli {
    /// Node to talk to (client commands); default http://127.0.0.1:7400.
    #[arg(long, global = true, env = "MAILLAGE_NODE")]
    pub node: Option<String>,
    /// Node directory: `init` and `serve` use it; client commands take the
    /// node's address and administrator token from it.
    #[arg(long, global = true)]
    pub dir: Option<PathBuf>,
    /// API token (client commands).
    #[arg(long, global = true, env = "MAILLAGE_TOKEN", hide_env_values = true)]
    pub token: Option<String>,
    /// Print only JSON on stdout.
    #[arg(long, global = true)]
    pub json: bool,
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Create a node directory (configuration and storage).
    Init(InitArgs),
    /// Run a node in the foreground until SIGINT or SIGTERM (needs --dir).
    Serve,
    /// The network's certificate authority (academic team).
    #[command(subcommand)]
    Ca(CaCmd),
    /// This node's certificate.
    #[command(subcommand)]
    Cert(CertCmd),
    /// Start a local network (an academy and three sites) with sample data.
    Demo(demo::DemoArgs),
    /// Show this node's state: documents, digest, peers.
    Status,
    /// The shared equipment catalogue.
    #[command(subcommand)]
    Equipment(EquipmentCmd),
    /// Loans between sites.
    #[command(subcommand)]
    Loan(loans::LoanCmd),
    /// Common actions across sites.
    #[command(subcommand)]
    Action(actions::ActionCmd),
    /// Events of the network calendar.
    #[command(subcommand)]
    Event(calendar::EventCmd),
    /// The network calendar: occurrences in a window, or an .ics export.
    Calendar(calendar::CalendarArgs),
    /// API tokens of this node.
    #[command(subcommand)]
    Token(TokenCmd),
    /// The network's site registry (enrol and revoke: academy nodes only).
    #[command(subcommand)]
    Site(SiteCmd),
    /// Documents as stored.
    #[command(subcommand)]
    Doc(DocCmd),
    /// Run the benchmarks and print their figures.
    Bench(crate::bench::BenchArgs),
}

#[derive(Debug, Args)]
pub struct InitArgs {
    /// Site id: lowercase letters, digits and dashes.
    #[arg(long)]
    pub site: String,
    #[arg(long)]
    pub name: String,
    #[arg(long, default_value = "site")]
    pub role: Role,
    /// Federation address (mutual TLS).
    #[arg(long, default_value = DEFAULT_LISTEN)]
    pub listen: String,
    /// Public API address (tokens), loopback by default.
    #[arg(long, default_value = crate::config::DEFAULT_API_LISTEN)]
    pub api_listen: String,
    /// URL of a peer to dial (repeatable): https://HOST:PORT.
    #[arg(long = "peer")]
    pub peers: Vec<String>,
    /// The network's CA directory: sign and install this node's certificate now.
    #[arg(long)]
    pub ca: Option<PathBuf>,
    /// No TLS between nodes (trials on a closed network only).
    #[arg(long)]
    pub insecure: bool,
}

#[derive(Debug, Subcommand)]
pub enum CaCmd {
    /// Create the network's certificate authority in --dir.
    Init,
    /// Sign a node's certificate request with the CA in --dir.
    Sign {
        #[arg(long)]
        csr: PathBuf,
        #[arg(long)]
        out: PathBuf,
    },
}

#[derive(Debug, Subcommand)]
pub enum CertCmd {
    /// Install the node's signed certificate and the CA certificate in --dir.
    Install {
        #[arg(long)]
        cert: PathBuf,
        #[arg(long = "ca-cert")]
        ca_cert: PathBuf,
    },
}

#[derive(Debug, Subcommand)]
pub enum EquipmentCmd {
    /// Add an item to this site's catalogue.
    Add {
        #[arg(long)]
        name: String,
        #[arg(long)]
        category: String,
        #[arg(long, default_value = "")]
        description: String,
        #[arg(long, default_value = "")]
        inventory_number: String,
        #[arg(long, action = ArgAction::Set)]
        loanable: Option<bool>,
        /// new, good, worn or out_of_order.
        #[arg(long, default_value = "")]
        condition: String,
    },
    /// Change fields of an item of this site.
    Update {
        id: String,
        #[arg(long)]
        name: Option<String>,
        #[arg(long)]
        category: Option<String>,
        #[arg(long)]
        description: Option<String>,
        #[arg(long)]
        inventory_number: Option<String>,
        #[arg(long, action = ArgAction::Set)]
        loanable: Option<bool>,
        /// available, maintenance or retired.
        #[arg(long)]
        status: Option<String>,
        #[arg(long)]
        condition: Option<String>,
    },
    /// Retire an item of this site (it stays in the history).
    Retire { id: String },
    /// Show one item of the network.
    Show { id: String },
    /// List the whole network's catalogue.
    List {
        #[arg(long)]
        site: Option<String>,
        #[arg(long)]
        category: Option<String>,
        #[arg(long)]
        search: Option<String>,
        /// available, maintenance or retired.
        #[arg(long)]
        status: Option<String>,
        /// With --available-to: only items free for the whole window.
        #[arg(long)]
        available_from: Option<String>,
        #[arg(long)]
        available_to: Option<String>,
    },
}

#[derive(Debug, Subcommand)]
pub enum SiteCmd {
    /// Enrol a site: its id, name, node endpoint and public key.
    Enrol {
        #[arg(long)]
        id: String,
        #[arg(long)]
        name: String,
        /// Federation URL of the site's node (https://HOST:PORT).
        #[arg(long, default_value = "")]
        endpoint: String,
        /// The public key printed by `maillage init` on that node.
        #[arg(long)]
        key: String,
        #[arg(long, default_value = "site")]
        role: String,
    },
    /// Revoke a site: its connections and new changes are refused.
    Revoke { id: String },
    /// List the registered sites.
    List,
}

#[derive(Debug, Subcommand)]
pub enum TokenCmd {
    /// Create a token (printed once).
    Create {
        /// viewer, staff, director or academy.
        #[arg(long)]
        role: String,
        #[arg(long, default_value = "")]
        name: String,
    },
    /// List the tokens (never their value).
    List,
    /// Revoke a token.
    Revoke { id: String },
}

#[derive(Debug, Subcommand)]
pub enum DocCmd {
    /// Write a document as a standard Automerge file.
    Export {
        id: String,
        #[arg(long)]
        out: PathBuf,
    },
}

/// Runs a parsed command line.
fn need_dir(dir: &Option<PathBuf>, cmd: &str) -> anyhow::Result<PathBuf> {
    dir.clone().ok_or_else(|| {
        anyhow::anyhow!("indiquez le dossier du nœud : maillage {cmd} --dir DOSSIER")
    })
}

/// Runs a parsed command line.
pub async fn run(cli: Cli) -> anyhow::Result<()> {
    if let Command::Init(a) = &cli.command {
        let dir = need_dir(&cli.dir, "init")?;
        return init(&dir, a, cli.json).await;
    }
    if let Command::Ca(cmd) = &cli.command {
        return ca(&need_dir(&cli.dir, "ca")?, cmd, cli.json);
    }
    if let Command::Cert(CertCmd::Install { cert, ca_cert }) = &cli.command {
        let dir = need_dir(&cli.dir, "cert install")?;
        let read = |p: &PathBuf| {
            std::fs::read_to_string(p)
                .map_err(|e| anyhow::anyhow!("lecture de {} impossible : {e}", p.display()))
        };
        crate::tls::install(&dir, &read(cert)?, &read(ca_cert)?)?;
        if cli.json {
            output::print_json(&serde_json::json!({ "dir": dir, "installed": true }));
        } else {
            println!("Certificat installé dans {}.", dir.display());
        }
        return Ok(());
    }
    if let Command::Serve = &cli.command {
        return serve(&need_dir(&cli.dir, "serve")?).await;
    }
    if let Command::Demo(_) | Command::Bench(_) = &cli.command {
        return match cli.command {
            Command::Demo(args) => demo::run(args, cli.dir).await,
            Command::Bench(args) => crate::bench::run(args, cli.json).await,
            _ => unreachable!(),
        };
    }
    let target = client::Target::resolve(
        cli.node.as_deref(),
        cli.dir.as_deref(),
        cli.token.as_deref(),
    )?;
    let (t, json) = (&target, cli.json);
    match cli.command {
        Command::Status => client::status(t, json).await,
        Command::Equipment(cmd) => client::equipment(t, json, cmd).await,
        Command::Loan(cmd) => loans::run(t, json, cmd).await,
        Command::Action(cmd) => actions::run(t, json, cmd).await,
        Command::Event(cmd) => calendar::event(t, json, cmd).await,
        Command::Calendar(args) => calendar::calendar(t, json, args).await,
        Command::Token(cmd) => client::token(t, json, cmd).await,
        Command::Site(cmd) => client::site(t, json, cmd).await,
        Command::Doc(DocCmd::Export { id, out }) => client::export(t, json, &id, &out).await,
        Command::Init(_)
        | Command::Serve
        | Command::Ca(_)
        | Command::Cert(_)
        | Command::Demo(_)
        | Command::Bench(_) => unreachable!(),
    }
}

async fn init(dir: &std::path::Path, a: &InitArgs, json: bool) -> anyhow::Result<()> {
    let mut config = Config::new(&a.site, &a.name, a.role);
    config.listen = a.listen.clone();
    config.api_listen = a.api_listen.clone();
    config.insecure = a.insecure;
    config.peers = a.peers.clone();
    crate::node::init_with_ca(dir, &config, a.ca.as_deref()).await?;
    let token_file = dir.join(crate::auth::ADMIN_TOKEN_FILE);
    let public_key = crate::tls::site_public_key(dir)?;
    if json {
        output::print_json(&serde_json::json!({
            "dir": dir,
            "site": config.site,
            "role": config.role.as_str(),
            "listen": config.listen,
            "config": Config::path(dir),
            "admin_token_file": token_file,
            "public_key": public_key,
            "csr": dir.join(crate::tls::NODE_CSR),
            "certificate_installed": dir.join(crate::tls::NODE_CERT).exists(),
        }));
    } else {
        println!(
            "Nœud « {} » ({}) créé dans {}.\nClé publique du site (à transmettre à l'équipe académique) : {public_key}\nJeton d'administration : {} (lisible par vous seul).",
            config.name,
            config.site,
            dir.display(),
            token_file.display(),
        );
        if dir.join(crate::tls::NODE_CERT).exists() || config.insecure {
            println!("Démarrez-le avec : maillage serve --dir {}", dir.display());
        } else {
            println!(
                "Faites signer {} par l'autorité du réseau, installez le certificat (maillage cert install), puis : maillage serve --dir {}",
                dir.join(crate::tls::NODE_CSR).display(),
                dir.display()
            );
        }
    }
    Ok(())
}

fn ca(dir: &std::path::Path, cmd: &CaCmd, json: bool) -> anyhow::Result<()> {
    match cmd {
        CaCmd::Init => {
            crate::tls::ca_init(dir)?;
            let cert = dir.join(crate::tls::CA_CERT);
            if json {
                output::print_json(&serde_json::json!({ "dir": dir, "ca_cert": cert }));
            } else {
                println!(
                    "Autorité du réseau créée dans {} ; sa clé ({}) ne doit jamais quitter ce dossier.\nCertificat à distribuer aux nœuds : {}",
                    dir.display(),
                    crate::tls::CA_KEY,
                    cert.display()
                );
            }
        }
        CaCmd::Sign { csr, out } => {
            let text = std::fs::read_to_string(csr)
                .map_err(|e| anyhow::anyhow!("lecture de {} impossible : {e}", csr.display()))?;
            let cert = crate::tls::ca_sign(dir, &text)?;
            std::fs::write(out, &cert)
                .map_err(|e| anyhow::anyhow!("écriture de {} impossible : {e}", out.display()))?;
            if json {
                output::print_json(&serde_json::json!({ "out": out }));
            } else {
                println!("Certificat signé écrit dans {}.", out.display());
            }
        }
    }
    Ok(())
}

async fn serve(dir: &std::path::Path) -> anyhow::Result<()> {
    let node = crate::node::RunningNode::start(dir).await?;
    eprintln!(
        "maillage : nœud {} à l'écoute sur {}",
        node.ctx.site,
        node.url()
    );
    wait_for_signal().await;
    eprintln!("maillage : arrêt en cours…");
    node.shutdown().await;
    Ok(())
}

/// Resolves on SIGINT or SIGTERM.
pub async fn wait_for_signal() {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{signal, SignalKind};
        let mut term = signal(SignalKind::terminate()).expect("SIGTERM handler");
        tokio::select! {
            _ = tokio::signal::ctrl_c() => {}
            _ = term.recv() => {}
        }
    }
    #[cfg(not(unix))]
    {
        let _ = tokio::signal::ctrl_c().await;
    }
}
