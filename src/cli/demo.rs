//! `maillage demo`: an academy node and three site nodes of the Moselle network
//! on loopback, with sample equipment, until Ctrl-C.

use std::path::{Path, PathBuf};

use clap::Args;

use crate::api::equipment;
use crate::config::Config;
use crate::domain::equipment::Patch;
use crate::domain::site::Role;
use crate::node::RunningNode;

#[derive(Debug, Args)]
pub struct DemoArgs {
    /// Keep the nodes' data in this directory (reused by the next run).
    #[arg(long)]
    pub dir: Option<PathBuf>,
    /// Port of the academy node; the sites take the next ones.
    #[arg(long, default_value_t = 7400)]
    pub base_port: u16,
}

/// (site id, name, role)
pub const DEMO_SITES: &[(&str, &str, Role)] = &[
    (
        "rectorat",
        "Équipe ASTERIE — rectorat de Nancy-Metz",
        Role::Academy,
    ),
    (
        "metz-borny",
        "Tiers-lieu éducatif de Metz-Borny",
        Role::Site,
    ),
    (
        "thionville",
        "Tiers-lieu éducatif de Thionville",
        Role::Site,
    ),
    ("forbach", "Tiers-lieu éducatif de Forbach", Role::Site),
];

/// (name, category, inventory number, description)
fn sample_equipment(site: &str) -> Vec<(&'static str, &'static str, &'static str, &'static str)> {
    match site {
        "metz-borny" => vec![
            (
                "Robots Thymio (lot de 8)",
                "robotique",
                "MB-ROB-001",
                "Valise de 8 robots avec câbles et tablettes de programmation",
            ),
            (
                "Imprimante 3D Prusa MK4",
                "impression 3D",
                "MB-3D-001",
                "Bobines PLA fournies, plateau 25 × 21 cm",
            ),
            (
                "Casques de réalité virtuelle (6)",
                "numérique",
                "MB-NUM-004",
                "Casques autonomes avec malle de recharge",
            ),
            (
                "Kit micro-trottoir",
                "audio-vidéo",
                "MB-AV-002",
                "Enregistreur, deux micros main, perche",
            ),
        ],
        "thionville" => vec![
            (
                "Valise de microscopes numériques",
                "sciences",
                "TH-SCI-001",
                "10 microscopes USB et lames préparées",
            ),
            (
                "Caméra 4K et trépied",
                "audio-vidéo",
                "TH-AV-001",
                "Caméra, trépied, deux batteries, carte 128 Go",
            ),
            (
                "Découpeuse vinyle",
                "arts",
                "TH-ART-003",
                "Pour autocollants et flocage textile",
            ),
        ],
        "forbach" => vec![
            (
                "Mallette Micro:bit (15 cartes)",
                "robotique",
                "FO-ROB-002",
                "Cartes, capteurs et piles",
            ),
            (
                "Tables modulables (lot de 10)",
                "mobilier",
                "FO-MOB-001",
                "Tables pliantes sur roulettes",
            ),
            (
                "Kit sport de raquette",
                "sport",
                "FO-SPO-001",
                "Raquettes, volants et filet portable",
            ),
        ],
        _ => Vec::new(),
    }
}

/// Starts the demo network in `root`, creating and filling nodes that do not exist yet.
pub async fn start(root: &Path, base_port: u16) -> anyhow::Result<Vec<RunningNode>> {
    let mut nodes: Vec<RunningNode> = Vec::new();
    let mut urls: Vec<String> = Vec::new();
    for (i, (site, name, role)) in DEMO_SITES.iter().enumerate() {
        let dir = root.join(site);
        let listen = format!("127.0.0.1:{}", base_port + i as u16);
        let fresh = !Config::path(&dir).exists();
        if fresh {
            let mut cfg = Config::new(site, name, *role);
            cfg.listen = listen.clone();
            cfg.peers = urls.clone();
            crate::node::init(&dir, &cfg).await?;
        }
        let node = RunningNode::start(&dir).await?;
        if fresh {
            for (name, category, inv, description) in sample_equipment(site) {
                let patch = Patch {
                    name: Some(name.into()),
                    category: Some(category.into()),
                    description: Some(description.into()),
                    inventory_number: Some(inv.into()),
                    ..Default::default()
                };
                equipment::add(&node.ctx, patch).await?;
            }
        }
        urls.push(node.url());
        nodes.push(node);
    }
    Ok(nodes)
}

pub async fn run(args: DemoArgs) -> anyhow::Result<()> {
    let (_tmp, root) = match &args.dir {
        Some(d) => (None, d.clone()),
        None => {
            let t = tempfile::Builder::new()
                .prefix("maillage-demo-")
                .tempdir()?;
            let p = t.path().to_path_buf();
            (Some(t), p)
        }
    };
    let nodes = start(&root, args.base_port).await?;
    println!(
        "Réseau de démonstration maillage (données dans {})",
        root.display()
    );
    println!();
    for n in &nodes {
        println!("  {:<12} {:<28} {}", n.ctx.site, n.url(), n.ctx.name);
    }
    let site = &nodes[1];
    let other = &nodes[2];
    println!();
    println!("Essayez, dans un autre terminal :");
    println!("  cargo run --release -- --node {} status", site.url());
    println!(
        "  cargo run --release -- --node {} equipment list",
        other.url()
    );
    println!(
        "  cargo run --release -- --node {} equipment add --name \"Kit Lego Spike\" --category robotique",
        site.url()
    );
    println!(
        "  cargo run --release -- --node {} equipment list --category robotique --json",
        nodes[0].url()
    );
    println!();
    println!("Ctrl-C pour arrêter.");
    super::wait_for_signal().await;
    println!("Arrêt du réseau de démonstration…");
    for n in nodes {
        n.shutdown().await;
    }
    Ok(())
}
