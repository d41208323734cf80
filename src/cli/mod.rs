//! The `maillage` command line: node commands (`init`, `serve`, `demo`, `bench`)
//! and client commands that call a node's public API.

mod actions;
mod calendar;
pub mod client;
pub mod demo;
mod loans;
mod names;
pub mod output;
mod partners;
mod purchases;
pub mod report;
mod users;

use std::path::PathBuf;

use clap::{ArgAction, Args, Parser, Subcommand};

use crate::base::Role;
use crate::config::{Config, DEFAULT_LISTEN};

pub const DEFAULT_NODE: &str = "http://127.0.0.1:7400";

#[derive(Debug, Parser)]
#[command(
    name = "maillage",
    version,
    about = "maillage : synchronisation fédérée du réseau des tiers-lieux éducatifs"
)]
pub struct Cli {
    /// Nœud à interroger (commandes clientes) ; par défaut http://127.0.0.1:7400.
    #[arg(long, global = true, env = "MAILLAGE_NODE")]
    pub node: Option<String>,
    /// Dossier du nœud : `init` et `serve` l'utilisent ; les commandes clientes y prennent
    /// l'adresse du nœud et le jeton d'administration. Sans --dir ni --node, les
    /// commandes clientes prennent MAILLAGE_DIR, puis /var/lib/maillage s'il existe.
    #[arg(long, global = true, env = "MAILLAGE_DIR")]
    pub dir: Option<PathBuf>,
    /// Jeton d'accès à l'API (commandes clientes).
    #[arg(long, global = true, env = "MAILLAGE_TOKEN", hide_env_values = true)]
    pub token: Option<String>,
    /// N'écrire que du JSON sur la sortie standard.
    #[arg(long, global = true)]
    pub json: bool,
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Créer le dossier d'un nœud (configuration, stockage, clés).
    Init(InitArgs),
    /// Faire tourner un nœud au premier plan jusqu'à SIGINT ou SIGTERM (avec --dir).
    Serve,
    /// L'autorité de certification du réseau (équipe académique).
    #[command(subcommand)]
    Ca(CaCmd),
    /// Le certificat de ce nœud.
    #[command(subcommand)]
    Cert(CertCmd),
    /// La clé de signature du site (rotation).
    #[command(subcommand)]
    Key(KeyCmd),
    /// Lancer un réseau local (une académie, trois sites) avec des données d'exemple.
    Demo(demo::DemoArgs),
    /// État de ce nœud : documents, empreinte, sites voisins.
    Status,
    /// Le catalogue partagé du matériel.
    #[command(subcommand)]
    Equipment(EquipmentCmd),
    /// Les prêts entre sites.
    #[command(subcommand)]
    Loan(loans::LoanCmd),
    /// Les actions communes entre sites.
    #[command(subcommand)]
    Action(actions::ActionCmd),
    /// Les événements du calendrier du réseau.
    #[command(subcommand)]
    Event(calendar::EventCmd),
    /// Le calendrier du réseau : occurrences sur une période, ou export .ics.
    Calendar(calendar::CalendarArgs),
    /// Les jetons d'accès à l'API de ce nœud.
    #[command(subcommand)]
    Token(TokenCmd),
    /// Les comptes des personnes qui utilisent l'interface web de ce nœud.
    #[command(subcommand)]
    User(users::UserCmd),
    /// Le registre des sites (inscrire, modifier, révoquer : nœud académique seulement).
    #[command(subcommand)]
    Site(SiteCmd),
    /// Les partenaires des sites (collectivités, associations, entreprises…).
    #[command(subcommand)]
    Partner(partners::PartnerCmd),
    /// Les demandes d'achat : rédaction et suivi par le site, décision par l'équipe académique.
    #[command(subcommand)]
    Purchase(purchases::PurchaseCmd),
    /// Indicateurs et bilans, calculés sur la copie locale du réseau.
    #[command(subcommand)]
    Report(report::ReportCmd),
    /// L'état du réseau vu de ce nœud : sites joints, documents en retard, conflits.
    #[command(subcommand)]
    Network(NetworkCmd),
    /// Les documents tels que stockés.
    #[command(subcommand)]
    Doc(DocCmd),
    /// Lancer les bancs d'essai et afficher leurs mesures.
    Bench(crate::bench::BenchArgs),
    /// Simuler un réseau entier sous pannes (graines reproductibles) et vérifier ses invariants.
    Sim(crate::sim::SimArgs),
}

#[derive(Debug, Args)]
pub struct InitArgs {
    /// Identifiant du site : minuscules, chiffres et tirets.
    #[arg(long)]
    pub site: String,
    #[arg(long)]
    pub name: String,
    /// Rôle du nœud : site (un tiers-lieu, par défaut) ou academy (le nœud
    /// de l'équipe académique) ; ces deux mots sont ceux de la configuration.
    #[arg(long, default_value = "site")]
    pub role: Role,
    /// Adresse de la fédération (TLS mutuel).
    #[arg(long, default_value = DEFAULT_LISTEN)]
    pub listen: String,
    /// Adresse de l'API (jetons), locale par défaut.
    #[arg(long, default_value = crate::config::DEFAULT_API_LISTEN)]
    pub api_listen: String,
    /// Adresse de l'interface web des personnes, locale par défaut.
    #[arg(long, default_value = crate::config::DEFAULT_WEB_LISTEN)]
    pub web_listen: String,
    /// Adresse de fédération d'un site voisin à joindre (répétable) : https://HÔTE:PORT.
    #[arg(long = "peer")]
    pub peers: Vec<String>,
    /// Dossier de l'autorité du réseau : signer et installer tout de suite le certificat du nœud.
    #[arg(long)]
    pub ca: Option<PathBuf>,
    /// Sans TLS entre nœuds (essais sur un réseau fermé seulement).
    #[arg(long)]
    pub insecure: bool,
}

#[derive(Debug, Subcommand)]
pub enum CaCmd {
    /// Créer l'autorité de certification du réseau dans --dir.
    Init,
    /// Signer la demande de certificat d'un nœud avec l'autorité de --dir.
    Sign {
        #[arg(long)]
        csr: PathBuf,
        #[arg(long)]
        out: PathBuf,
        /// Rôle accordé : site (défaut) ou academy, à donner explicitement
        /// pour un nœud de l'équipe académique.
        #[arg(long, default_value = "site")]
        role: String,
    },
}

#[derive(Debug, Subcommand)]
pub enum CertCmd {
    /// Installer dans --dir le certificat signé du nœud et celui de l'autorité ;
    /// termine une rotation de clé en attente si le certificat est celui de la nouvelle clé.
    Install {
        #[arg(long)]
        cert: PathBuf,
        #[arg(long = "ca-cert")]
        ca_cert: PathBuf,
    },
}

#[derive(Debug, Subcommand)]
pub enum KeyCmd {
    /// Préparer une nouvelle clé de site et sa demande de certificat dans --dir/rotation,
    /// sans toucher aux clés en service.
    Rotate,
}

#[derive(Debug, Subcommand)]
pub enum EquipmentCmd {
    /// Ajouter un matériel au catalogue de ce site.
    Add {
        #[arg(long)]
        name: String,
        #[arg(long)]
        category: String,
        #[arg(long, default_value = "")]
        description: String,
        #[arg(long, default_value = "")]
        inventory_number: String,
        #[arg(long, value_parser = yes_no)]
        loanable: Option<bool>,
        /// État : neuf, bon, usé ou hors service.
        #[arg(long, default_value = "")]
        condition: String,
        /// Date d'acquisition (JJ/MM/AAAA) : le taux d'utilisation compte le
        /// matériel à partir de ce jour ; par défaut, le jour de l'ajout.
        #[arg(long, default_value = "")]
        acquired: String,
    },
    /// Modifier un matériel de ce site.
    Update {
        /// Identifiant du matériel (ou son début, s'il est unique).
        id: String,
        /// Nouveau nom du matériel.
        #[arg(long)]
        name: Option<String>,
        #[arg(long)]
        category: Option<String>,
        #[arg(long)]
        description: Option<String>,
        #[arg(long)]
        inventory_number: Option<String>,
        #[arg(long, value_parser = yes_no)]
        loanable: Option<bool>,
        /// Statut : disponible, maintenance ou retiré.
        #[arg(long)]
        status: Option<String>,
        /// État : neuf, bon, usé ou hors service.
        #[arg(long)]
        condition: Option<String>,
        /// Date d'acquisition (JJ/MM/AAAA) ; vide : le jour de l'ajout.
        #[arg(long)]
        acquired: Option<String>,
    },
    /// Retirer un matériel de ce site (il reste dans l'historique).
    Retire { id: String },
    /// Importer l'inventaire du site depuis un tableur (CSV avec ; ou ,, en
    /// UTF-8 ou Windows-1252, ou .xlsx) : chaque ligne est vérifiée, et rien
    /// n'est écrit tant qu'une ligne est fausse.
    Import {
        /// Le fichier : une ligne d'en-tête (Nom, Catégorie, N° inventaire,
        /// Prêtable, État, Date d'acquisition, Description), puis une ligne
        /// par matériel.
        file: PathBuf,
        /// Vérifier et montrer ce qui serait importé, sans rien écrire.
        #[arg(long)]
        dry_run: bool,
    },
    /// Afficher un matériel du réseau.
    Show { id: String },
    /// Lister le catalogue de tout le réseau.
    List {
        #[arg(long)]
        site: Option<String>,
        #[arg(long)]
        category: Option<String>,
        #[arg(long)]
        search: Option<String>,
        /// Statut : disponible, maintenance ou retiré.
        #[arg(long)]
        status: Option<String>,
        /// Avec --available-to : seulement le matériel libre sur toute la période.
        #[arg(long)]
        available_from: Option<String>,
        #[arg(long)]
        available_to: Option<String>,
    },
}

#[derive(Debug, Subcommand)]
pub enum SiteCmd {
    /// Inscrire un site : identifiant, nom, adresse du nœud, clé publique.
    Enrol {
        #[arg(long)]
        id: String,
        #[arg(long)]
        name: String,
        /// Adresse de fédération du nœud du site (https://HÔTE:PORT).
        #[arg(long, default_value = "")]
        endpoint: String,
        /// La clé publique affichée par `maillage init` sur ce nœud.
        #[arg(long)]
        key: String,
        #[arg(long, default_value = "site")]
        role: String,
    },
    /// Modifier un site inscrit : nom, adresse, clé (les champs absents sont gardés).
    Update {
        id: String,
        #[arg(long)]
        name: Option<String>,
        /// Nouvelle adresse de fédération (https://HÔTE:PORT).
        #[arg(long)]
        endpoint: Option<String>,
        /// Nouvelle clé publique (affichée par `maillage key rotate` sur ce nœud) ;
        /// l'ancienne reste valable pour les modifications déjà reçues ici.
        #[arg(long)]
        key: Option<String>,
    },
    /// Révoquer un site : ses connexions et ses nouvelles modifications sont refusées.
    Revoke { id: String },
    /// Lister les sites inscrits.
    List,
}

#[derive(Debug, Subcommand)]
pub enum NetworkCmd {
    /// Pour chaque site inscrit : dernier contact, documents qui diffèrent,
    /// modifications de retard ; et les conflits de prêts.
    Status,
}

#[derive(Debug, Subcommand)]
pub enum TokenCmd {
    /// Créer un jeton (affiché une seule fois).
    Create {
        /// Rôle du jeton : viewer (consultation), staff (équipe), director
        /// (direction) ou academy (équipe académique) ; ces mots sont ceux de l'API.
        #[arg(long)]
        role: String,
        #[arg(long, default_value = "")]
        name: String,
    },
    /// Lister les jetons (jamais leur valeur).
    List,
    /// Révoquer un jeton.
    Revoke { id: String },
}

#[derive(Debug, Subcommand)]
pub enum DocCmd {
    /// Écrire un document en fichier Automerge standard.
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
        let installed = crate::tls::install(&dir, &read(cert)?, &read(ca_cert)?)?;
        print_installed(&dir, &installed, cli.json);
        return Ok(());
    }
    if let Command::Key(KeyCmd::Rotate) = &cli.command {
        return key_rotate(&need_dir(&cli.dir, "key rotate")?, cli.json);
    }
    if let Command::Serve = &cli.command {
        return serve(&need_dir(&cli.dir, "serve")?).await;
    }
    if let Command::Sim(_) = &cli.command {
        let Command::Sim(args) = cli.command else {
            unreachable!()
        };
        return crate::sim::main(args, cli.json);
    }
    if let Command::Demo(_) | Command::Bench(_) = &cli.command {
        return match cli.command {
            Command::Demo(args) => demo::run(args, cli.dir).await,
            Command::Bench(args) => crate::bench::run(args, cli.json).await,
            _ => unreachable!(),
        };
    }
    // Without --node nor --dir, the node's directory where the deploy guide
    // puts it, if this machine has one.
    let dir = match (&cli.node, &cli.dir) {
        (None, None) => USUAL_DIRS
            .iter()
            .map(PathBuf::from)
            .find(|d| d.join(crate::config::CONFIG_FILE).exists()),
        _ => cli.dir.clone(),
    };
    let guessed = cli.node.is_none() && dir.is_none();
    let target =
        client::Target::resolve(cli.node.as_deref(), dir.as_deref(), cli.token.as_deref())?;
    let result = client_command(&target, cli.json, cli.command).await;
    match result {
        // Nothing said which node: say what to pass, in place of the
        // transport error (whose advice this one holds).
        Err(e) if guessed && is_unreachable(&e) => Err(anyhow::anyhow!(
            "aucun nœud indiqué : la commande a essayé {DEFAULT_NODE}, l'API d'un nœud sans TLS ; sur la machine du nœud, passez --dir DOSSIER_DU_NŒUD (ou MAILLAGE_DIR) ; sinon --node http://HÔTE:PORT, l'adresse api_listen du nœud (127.0.0.1:7401 par défaut avec TLS)"
        )),
        other => other,
    }
}

/// Where the deploy guide puts a node's directory.
pub const USUAL_DIRS: &[&str] = &["/var/lib/maillage"];

/// Whether `e` says the node could not be reached or did not speak the API.
fn is_unreachable(e: &anyhow::Error) -> bool {
    let text = format!("{e:#}");
    text.contains("impossible de joindre") || text.contains(client::NOT_AN_API)
}

async fn client_command(t: &client::Target, json: bool, command: Command) -> anyhow::Result<()> {
    match command {
        Command::Status => client::status(t, json).await,
        Command::Equipment(cmd) => client::equipment(t, json, cmd).await,
        Command::Loan(cmd) => loans::run(t, json, cmd).await,
        Command::Action(cmd) => actions::run(t, json, cmd).await,
        Command::Event(cmd) => calendar::event(t, json, cmd).await,
        Command::Calendar(args) => calendar::calendar(t, json, args).await,
        Command::Token(cmd) => client::token(t, json, cmd).await,
        Command::User(cmd) => users::run(t, json, cmd).await,
        Command::Site(cmd) => client::site(t, json, cmd).await,
        Command::Network(NetworkCmd::Status) => client::network_status(t, json).await,
        Command::Partner(cmd) => partners::run(t, json, cmd).await,
        Command::Purchase(cmd) => purchases::run(t, json, cmd).await,
        Command::Report(cmd) => report::run(t, json, cmd).await,
        Command::Doc(DocCmd::Export { id, out }) => client::export(t, json, &id, &out).await,
        Command::Init(_)
        | Command::Serve
        | Command::Ca(_)
        | Command::Cert(_)
        | Command::Key(_)
        | Command::Demo(_)
        | Command::Bench(_)
        | Command::Sim(_) => unreachable!(),
    }
}

async fn init(dir: &std::path::Path, a: &InitArgs, json: bool) -> anyhow::Result<()> {
    let mut config = Config::new(&a.site, &a.name, a.role);
    config.listen = a.listen.clone();
    config.api_listen = a.api_listen.clone();
    config.web_listen = a.web_listen.clone();
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
        CaCmd::Sign { csr, out, role } => {
            let academy = match role.as_str() {
                "site" => false,
                "academy" => true,
                other => anyhow::bail!("rôle « {other} » inconnu : site ou academy"),
            };
            let text = std::fs::read_to_string(csr)
                .map_err(|e| anyhow::anyhow!("lecture de {} impossible : {e}", csr.display()))?;
            let issued = crate::tls::ca_sign(dir, &text, academy)?;
            std::fs::write(out, &issued.pem)
                .map_err(|e| anyhow::anyhow!("écriture de {} impossible : {e}", out.display()))?;
            if json {
                output::print_json(&serde_json::json!({
                    "out": out,
                    "site": issued.site,
                    "role": issued.role,
                    "public_key": issued.public_key,
                }));
            } else {
                println!(
                    "Certificat signé écrit dans {} : site {}, rôle {}, clé {}.",
                    out.display(),
                    issued.site,
                    issued.role,
                    issued.public_key
                );
            }
        }
    }
    Ok(())
}

fn print_installed(dir: &std::path::Path, installed: &crate::tls::Installed, json: bool) {
    use crate::tls::Installed;
    let rotation = dir.join(crate::tls::ROTATION_DIR);
    match installed {
        Installed::Current { rotation_pending } => {
            if json {
                output::print_json(&serde_json::json!({
                    "dir": dir,
                    "installed": true,
                    "rotated": false,
                    "rotation_pending": rotation_pending,
                }));
                return;
            }
            println!("Certificat installé dans {}.", dir.display());
            if *rotation_pending {
                println!(
                    "Une rotation de clé reste en attente dans {} (ce certificat est celui de la clé actuelle).",
                    rotation.display()
                );
            }
        }
        Installed::Rotated {
            public_key,
            retired,
        } => {
            if json {
                output::print_json(&serde_json::json!({
                    "dir": dir,
                    "installed": true,
                    "rotated": true,
                    "public_key": public_key,
                    "retired": retired,
                }));
                return;
            }
            println!(
                "Rotation de clé terminée dans {} : nouvelle clé publique du site {public_key}.\nLes anciennes clés, l'ancien certificat et l'ancienne demande sont dans {}.\nRedémarrez le nœud : il signera avec la nouvelle clé et publiera son nouveau certificat.",
                dir.display(),
                retired.display()
            );
        }
    }
}

fn key_rotate(dir: &std::path::Path, json: bool) -> anyhow::Result<()> {
    let config = Config::load(dir)?;
    if config.insecure {
        anyhow::bail!(
            "ce nœud fonctionne sans TLS (insecure = true) : la rotation de clé passe par un certificat de l'autorité du réseau"
        );
    }
    let public_key = crate::tls::rotation_start(dir, &config.site, config.role.as_str())?;
    let rotation = dir.join(crate::tls::ROTATION_DIR);
    let csr = rotation.join(crate::tls::NODE_CSR);
    if json {
        output::print_json(&serde_json::json!({
            "dir": dir,
            "site": config.site,
            "role": config.role.as_str(),
            "public_key": public_key,
            "rotation": rotation,
            "csr": csr,
        }));
        return Ok(());
    }
    let academy = config.role == Role::Academy;
    println!(
        "Nouvelle clé du site {} préparée dans {} ; les clés actuelles restent en service jusqu'à l'installation du nouveau certificat.",
        config.site,
        rotation.display()
    );
    println!("Nouvelle clé publique : {public_key}");
    println!("Étapes suivantes :");
    println!(
        "  1. L'équipe académique signe la demande : maillage ca sign --dir AUTORITÉ --csr {} --out node.pem{}",
        csr.display(),
        if academy { " --role academy" } else { "" }
    );
    println!(
        "  2. {} approuve la nouvelle clé : maillage site update {} --key {public_key}",
        if academy {
            "Un autre nœud académique"
        } else {
            "L'équipe académique"
        },
        config.site
    );
    println!(
        "  3. Le site installe le certificat et redémarre son nœud : maillage cert install --dir {} --cert node.pem --ca-cert ca.pem",
        dir.display()
    );
    println!(
        "Arrêtez le nœud du site avant l'étape 2, une fois ses dernières modifications reçues par l'équipe académique, et redémarrez-le après l'étape 3 : entre les deux, ses modifications signées de l'ancienne clé seraient refusées par le réseau.\nPour abandonner la rotation : supprimez {}.",
        rotation.display()
    );
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

/// The command line as clap builds it, with every word clap itself writes
/// in French: the help's headings and `--help`/`--version`, and (below) the
/// errors. clap has no translations of its own.
pub fn command_fr() -> clap::Command {
    fn fr(cmd: clap::Command) -> clap::Command {
        cmd.disable_help_flag(true)
            .disable_help_subcommand(true)
            .help_template("{about-section}Utilisation : {usage}\n\n{all-args}{after-help}")
            .subcommand_help_heading("Commandes")
            .subcommand_value_name("COMMANDE")
            .mut_args(|a| {
                let a = match (a.get_help(), described(a.get_id().as_str())) {
                    (None, Some(help)) => a.help(help),
                    _ => a,
                };
                // clap would list the accepted values in English: say it in French.
                let values: Vec<String> = a
                    .get_possible_values()
                    .iter()
                    .map(|v| v.get_name().to_string())
                    .collect();
                let a = match a.get_help() {
                    Some(h) if !values.is_empty() && a.get_action().takes_values() => {
                        let h = h.to_string();
                        a.help(format!("{h} (valeurs : {})", values.join(", ")))
                    }
                    _ => a,
                };
                if a.get_action().takes_values() {
                    a.hide_possible_values(true)
                        .hide_default_value(true)
                        .hide_env(true)
                } else {
                    a.hide_env(true)
                }
            })
            .arg(
                clap::Arg::new("help")
                    .short('h')
                    .long("help")
                    .action(ArgAction::Help)
                    .help("Afficher l'aide"),
            )
            .mut_subcommands(fr)
    }
    fr(<Cli as clap::CommandFactory>::command()
        .disable_version_flag(true)
        .arg(
            clap::Arg::new("version")
                .short('V')
                .long("version")
                .action(ArgAction::Version)
                .help("Afficher la version"),
        ))
}

/// The description of an option or argument that its definition leaves
/// without one, by its name: the same words wherever it appears.
fn described(id: &str) -> Option<&'static str> {
    Some(match id {
        "id" => "Identifiant, tel que l'affichent les listes",
        "name" => "Nom",
        "role" => "Rôle : site (un tiers-lieu) ou academy (l'équipe académique) ; ces deux mots sont ceux de l'API",
        "csr" => "Demande de certificat du nœud (node.csr, écrite par maillage init)",
        "out" => "Fichier à écrire",
        "cert" => "Certificat du nœud signé par l'autorité (node.pem)",
        "ca_cert" => "Certificat de l'autorité du réseau (ca.pem)",
        "category" => "Catégorie (par exemple : numérique, robotique, sport)",
        "description" => "Description libre",
        "inventory_number" => "Numéro d'inventaire du site",
        "loanable" => "Prêtable à d'autres sites : oui ou non",
        "condition" => "État : neuf, bon, usé ou hors service",
        "site" => "Site (identifiant, par exemple metz-borny)",
        "search" => "Texte à chercher dans le nom, la description ou le numéro d'inventaire",
        "available_to" => "Avec --available-from : fin de la période (date ou date et heure)",
        "purpose" => "Objet du prêt, tel que le site prêteur le lira",
        "note" => "Note ajoutée à l'historique du prêt",
        "reason" => "Motif, transmis au demandeur",
        "incident" => "Incident constaté au retour (casse, pièce manquante…)",
        "title" => "Titre",
        "start" => "Début (date, ou date et heure)",
        "end" => "Fin (date incluse, ou date et heure)",
        "objectives" => "Objectifs de l'action",
        "budget_planned" => "Budget prévu, en euros (par exemple 1500.00)",
        "budget_spent" => "Budget dépensé, en euros (par exemple 820.50)",
        "axis" => "Axe du projet : 1, 2 ou 3",
        "status" => "Statut",
        "task" => "Identifiant de la tâche",
        "all_day" => "Événement sur la journée entière",
        "place" => "Lieu",
        "kind" => "Type d'événement (atelier, réunion, formation…)",
        "exdate" => "Dates exclues de la récurrence, séparées par des virgules",
        "audience" => "Publics visés, séparés par des virgules",
        "action" => "Action commune liée (identifiant)",
        "pupils" => "Nombre d'élèves présents",
        "teachers" => "Nombre d'enseignants présents",
        "families" => "Nombre de membres des familles présents",
        "partners" => "Nombre de partenaires présents",
        "funding" => "Ligne de financement",
        "create_items" => "Créer dans le catalogue le matériel reçu",
        "format" => "Format de sortie",
        _ => return None,
    })
}

/// A yes or no as people type it: oui/non (o/n), or true/false for scripts.
fn yes_no(typed: &str) -> Result<bool, String> {
    match typed.trim().to_lowercase().as_str() {
        "oui" | "o" | "true" | "vrai" | "1" => Ok(true),
        "non" | "n" | "false" | "faux" | "0" => Ok(false),
        _ => Err("attendu oui ou non".to_string()),
    }
}

/// Parses the command line; on a mistake, says what is wrong in French and
/// exits with status 2 (help and version exit 0, as clap does).
pub fn parse_fr() -> Cli {
    use clap::error::{ContextKind, ErrorKind};
    use clap::FromArgMatches;
    let err = match command_fr().try_get_matches() {
        Ok(m) => match Cli::from_arg_matches(&m) {
            Ok(cli) => return cli,
            Err(e) => e,
        },
        Err(e) => e,
    };
    if matches!(
        err.kind(),
        ErrorKind::DisplayHelp
            | ErrorKind::DisplayVersion
            | ErrorKind::DisplayHelpOnMissingArgumentOrSubcommand
    ) {
        err.exit();
    }
    let ctx = |k: ContextKind| err.get(k).map(|v| v.to_string()).unwrap_or_default();
    let suggestion = {
        let s = [
            ContextKind::SuggestedArg,
            ContextKind::SuggestedSubcommand,
            ContextKind::SuggestedValue,
        ]
        .into_iter()
        .map(ctx)
        .find(|s| !s.is_empty());
        s.map(|s| format!(" ; vouliez-vous dire « {s} » ?"))
            .unwrap_or_default()
    };
    let message = match err.kind() {
        ErrorKind::MissingRequiredArgument => format!(
            "arguments obligatoires manquants : {}",
            ctx(ContextKind::InvalidArg)
        ),
        ErrorKind::MissingSubcommand => "il manque une commande".to_string(),
        ErrorKind::InvalidSubcommand => format!(
            "commande inconnue : « {} »{suggestion}",
            ctx(ContextKind::InvalidSubcommand)
        ),
        ErrorKind::UnknownArgument => format!(
            "option inconnue : « {} »{suggestion}",
            ctx(ContextKind::InvalidArg)
        ),
        ErrorKind::InvalidValue if ctx(ContextKind::InvalidValue).is_empty() => format!(
            "il manque la valeur de {} ; les valeurs possibles sont dans l'aide de la commande (--help)",
            ctx(ContextKind::InvalidArg)
        ),
        ErrorKind::InvalidValue => {
            let valid = ctx(ContextKind::ValidValue);
            format!(
                "valeur « {} » invalide pour {}{}{suggestion}",
                ctx(ContextKind::InvalidValue),
                ctx(ContextKind::InvalidArg),
                if valid.is_empty() {
                    String::new()
                } else {
                    format!(" (valeurs possibles : {valid})")
                }
            )
        }
        ErrorKind::ValueValidation => format!(
            "valeur « {} » invalide pour {}{}",
            ctx(ContextKind::InvalidValue),
            ctx(ContextKind::InvalidArg),
            std::error::Error::source(&err)
                .map(|why| format!(" : {why}"))
                .unwrap_or_default()
        ),
        ErrorKind::ArgumentConflict => format!(
            "{} ne va pas avec {}",
            ctx(ContextKind::InvalidArg),
            ctx(ContextKind::PriorArg)
        ),
        ErrorKind::TooManyValues | ErrorKind::WrongNumberOfValues | ErrorKind::TooFewValues => {
            format!(
                "nombre de valeurs incorrect pour {}",
                ctx(ContextKind::InvalidArg)
            )
        }
        ErrorKind::NoEquals => format!(
            "{} attend une valeur avec « = »",
            ctx(ContextKind::InvalidArg)
        ),
        _ => "ligne de commande invalide".to_string(),
    };
    eprintln!("erreur : {message}\n\nPour l'aide : maillage --help, ou maillage COMMANDE --help");
    std::process::exit(2);
}

#[cfg(test)]
mod tests {
    use clap::FromArgMatches;

    fn parse(args: &[&str]) -> Result<super::Cli, clap::Error> {
        let m = super::command_fr().try_get_matches_from(args)?;
        super::Cli::from_arg_matches(&m)
    }

    /// `--loanable` takes oui/non, as its help says, and true/false.
    #[test]
    fn loanable_is_oui_or_non() {
        for (typed, expected) in [
            ("oui", true),
            ("non", false),
            ("true", true),
            ("false", false),
        ] {
            let cli = parse(&[
                "maillage",
                "equipment",
                "add",
                "--name",
                "x",
                "--category",
                "y",
                "--loanable",
                typed,
            ])
            .unwrap_or_else(|e| panic!("{typed}: {e}"));
            match cli.command {
                super::Command::Equipment(super::EquipmentCmd::Add { loanable, .. }) => {
                    assert_eq!(loanable, Some(expected), "{typed}")
                }
                other => panic!("{other:?}"),
            }
        }
        let cli = parse(&[
            "maillage",
            "equipment",
            "update",
            "eq-1",
            "--loanable",
            "non",
        ])
        .unwrap();
        assert!(matches!(
            cli.command,
            super::Command::Equipment(super::EquipmentCmd::Update {
                loanable: Some(false),
                ..
            })
        ));
        assert!(parse(&[
            "maillage",
            "equipment",
            "add",
            "--name",
            "x",
            "--category",
            "y",
            "--loanable",
            "peut-être",
        ])
        .is_err());
    }
    /// Every option and argument a person can type has a description.
    #[test]
    fn every_argument_is_described() {
        fn walk(cmd: &clap::Command, path: &str, missing: &mut Vec<String>) {
            for a in cmd.get_arguments() {
                let described = a
                    .get_help()
                    .is_some_and(|h| !h.to_string().trim().is_empty());
                if !described && !a.is_hide_set() {
                    missing.push(format!("{path} {}", a.get_id()));
                }
            }
            for sub in cmd.get_subcommands() {
                walk(sub, &format!("{path} {}", sub.get_name()), missing);
            }
        }
        let mut missing = Vec::new();
        walk(&super::command_fr(), "maillage", &mut missing);
        assert!(
            missing.is_empty(),
            "{} sans description :\n{}",
            missing.len(),
            missing.join("\n")
        );
    }
}
