//! The `maillage` command line: node commands (`init`, `serve`, `demo`, `bench`)
//! and client commands that call a node's public API.

mod actions;
mod calendar;
mod client;
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
    /// Node to talk to (client commands).
    #[arg(long, global = true, env = "MAILLAGE_NODE", default_value = DEFAULT_NODE)]
    pub node: String,
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
    /// Run a node in the foreground until SIGINT or SIGTERM.
    Serve {
        #[arg(long)]
        dir: PathBuf,
    },
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
    /// Documents as stored.
    #[command(subcommand)]
    Doc(DocCmd),
    /// Run the benchmarks and print their figures.
    Bench(crate::bench::BenchArgs),
}

#[derive(Debug, Args)]
pub struct InitArgs {
    #[arg(long)]
    pub dir: PathBuf,
    /// Site id: lowercase letters, digits and dashes.
    #[arg(long)]
    pub site: String,
    #[arg(long)]
    pub name: String,
    #[arg(long, default_value = "site")]
    pub role: Role,
    #[arg(long, default_value = DEFAULT_LISTEN)]
    pub listen: String,
    /// URL of a peer to dial (repeatable).
    #[arg(long = "peer")]
    pub peers: Vec<String>,
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
pub enum DocCmd {
    /// Write a document as a standard Automerge file.
    Export {
        id: String,
        #[arg(long)]
        out: PathBuf,
    },
}

/// Runs a parsed command line.
pub async fn run(cli: Cli) -> anyhow::Result<()> {
    match cli.command {
        Command::Init(a) => {
            let mut config = Config::new(&a.site, &a.name, a.role);
            config.listen = a.listen;
            config.peers = a.peers;
            crate::node::init(&a.dir, &config).await?;
            if cli.json {
                output::print_json(&serde_json::json!({
                    "dir": a.dir,
                    "site": config.site,
                    "role": config.role.as_str(),
                    "listen": config.listen,
                    "config": Config::path(&a.dir),
                }));
            } else {
                println!(
                    "Nœud « {} » ({}) créé dans {}.\nDémarrez-le avec : maillage serve --dir {}",
                    config.name,
                    config.site,
                    a.dir.display(),
                    a.dir.display()
                );
            }
            Ok(())
        }
        Command::Serve { dir } => serve(&dir).await,
        Command::Demo(args) => demo::run(args).await,
        Command::Bench(args) => crate::bench::run(args, cli.json).await,
        Command::Status => client::status(&cli.node, cli.json).await,
        Command::Equipment(cmd) => client::equipment(&cli.node, cli.json, cmd).await,
        Command::Loan(cmd) => loans::run(&cli.node, cli.json, cmd).await,
        Command::Action(cmd) => actions::run(&cli.node, cli.json, cmd).await,
        Command::Event(cmd) => calendar::event(&cli.node, cli.json, cmd).await,
        Command::Calendar(args) => calendar::calendar(&cli.node, cli.json, args).await,
        Command::Doc(DocCmd::Export { id, out }) => {
            client::export(&cli.node, cli.json, &id, &out).await
        }
    }
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
