//! Node configuration, read from `DIR/maillage.toml`.
//!
//! Every field has a default given by a function, so a config file only needs
//! the site's identity; `maillage init` writes the full documented file.

use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::base::{validate_peer_url, Role};

pub const CONFIG_FILE: &str = "maillage.toml";
pub const DATA_DIR: &str = "data";
pub const DEFAULT_LISTEN: &str = "127.0.0.1:7400";
pub const DEFAULT_API_LISTEN: &str = "127.0.0.1:7401";
pub const DEFAULT_WEB_LISTEN: &str = "127.0.0.1:7402";

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct Config {
    /// Site id (short slug), e.g. `metz-borny`.
    pub site: String,
    /// Human name of the site.
    pub name: String,
    #[serde(default)]
    pub role: Role,
    /// Address for the federation (and, with `insecure`, the public API).
    #[serde(default = "default_listen")]
    pub listen: String,
    /// Address of the public API when TLS is on (loopback by default).
    #[serde(default = "default_api_listen")]
    pub api_listen: String,
    /// Address of the web interface for people (loopback by default).
    #[serde(default = "default_web_listen")]
    pub web_listen: String,
    /// Plain connections between nodes, no certificates: for trials only.
    #[serde(default)]
    pub insecure: bool,
    /// URLs of peers to dial, e.g. `http://10.0.0.2:7400`.
    #[serde(default)]
    pub peers: Vec<String>,
    #[serde(default)]
    pub storage: StorageConfig,
    #[serde(default)]
    pub federation: FederationConfig,
    #[serde(default)]
    pub api: ApiConfig,
    #[serde(default)]
    pub web: WebConfig,
    /// Daily e-mail digests of the reminders through an SMTP relay; absent:
    /// no mail at all.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub mail: Option<MailConfig>,
}

/// The SMTP relay of the daily digests ([`crate::mail`]).
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct MailConfig {
    /// The relay's host name (or address), e.g. `smtp.ac-nancy-metz.fr`.
    pub relay: String,
    #[serde(default = "default_smtp_port")]
    pub port: u16,
    /// The sender's address, e.g. `maillage@metz-borny.fr`.
    pub from: String,
    /// STARTTLS before sending, the relay's certificate checked against
    /// the system's authorities (Debian's ca-certificates).
    #[serde(default)]
    pub starttls: bool,
    /// With STARTTLS, the authorities (PEM) the relay's certificate is
    /// checked against, relative to the node's directory; empty: the
    /// system's.
    #[serde(default)]
    pub ca_file: String,
    /// Hour of the daily digest, Paris time (0 to 23).
    #[serde(default = "default_digest_hour")]
    pub digest_hour: u32,
}

fn default_smtp_port() -> u16 {
    25
}

fn default_digest_hour() -> u32 {
    7
}

/// The web interface's HTTPS and public address.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields, default)]
pub struct WebConfig {
    /// Certificate chain (PEM) for HTTPS on `web_listen`; relative to the
    /// node's directory. Empty: plain HTTP (behind an HTTPS proxy beyond
    /// loopback).
    pub tls_cert: String,
    /// The certificate's private key (PEM), relative to the node's directory.
    pub tls_key: String,
    /// The address people type to reach the pages (e.g.
    /// `https://maillage.metz-borny.fr` behind a proxy), used in the links
    /// the node gives out: one-time links, calendar subscriptions, QR codes.
    /// Empty: the address the node listens on.
    pub public_url: String,
}

impl WebConfig {
    pub fn tls(&self) -> bool {
        !self.tls_cert.is_empty()
    }
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields, default)]
pub struct StorageConfig {
    /// Incremental chunks kept per document before it is compacted into a snapshot.
    pub compact_after_chunks: u64,
}

impl Default for StorageConfig {
    fn default() -> Self {
        StorageConfig {
            compact_after_chunks: 256,
        }
    }
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields, default)]
pub struct FederationConfig {
    /// Largest frame accepted from or sent to a peer, in bytes.
    pub max_frame_bytes: usize,
    /// Most documents a peer may list in one digest.
    pub max_documents: usize,
    /// Most changes (and change signatures) one sync message may bring.
    pub max_changes_per_message: usize,
    /// Time a peer has, in all, to say hello and send its digests after
    /// connecting (the core's handshake deadline).
    pub handshake_timeout_ms: u64,
    /// Time allowed to open a connection to a peer.
    pub connect_timeout_ms: u64,
    /// First delay before redialing a peer; doubles up to `reconnect_max_ms`, with jitter,
    /// while the peer answers and refuses the session.
    pub reconnect_min_ms: u64,
    pub reconnect_max_ms: u64,
    /// Longest delay between two attempts while a peer cannot be reached at
    /// all (link down, node stopped): a connection attempt costs the peer
    /// nothing then, and the link is found again within this delay.
    pub reconnect_probe_ms: u64,
}

impl Default for FederationConfig {
    fn default() -> Self {
        FederationConfig {
            max_frame_bytes: 32 * 1024 * 1024,
            max_documents: 100_000,
            max_changes_per_message: crate::base::MAX_CHANGES_PER_MESSAGE,
            handshake_timeout_ms: 10_000,
            connect_timeout_ms: 5_000,
            reconnect_min_ms: 200,
            reconnect_max_ms: 30_000,
            reconnect_probe_ms: 1_000,
        }
    }
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields, default)]
pub struct ApiConfig {
    /// Largest request a client may send to the public API, in bytes.
    pub max_request_bytes: usize,
}

impl Default for ApiConfig {
    fn default() -> Self {
        ApiConfig {
            max_request_bytes: 4 * 1024 * 1024,
        }
    }
}

fn default_listen() -> String {
    DEFAULT_LISTEN.to_string()
}

fn default_api_listen() -> String {
    DEFAULT_API_LISTEN.to_string()
}

fn default_web_listen() -> String {
    DEFAULT_WEB_LISTEN.to_string()
}

impl Config {
    pub fn new(site: &str, name: &str, role: Role) -> Config {
        Config {
            site: site.to_string(),
            name: name.to_string(),
            role,
            listen: default_listen(),
            api_listen: default_api_listen(),
            web_listen: default_web_listen(),
            insecure: false,
            peers: Vec::new(),
            storage: StorageConfig::default(),
            federation: FederationConfig::default(),
            api: ApiConfig::default(),
            web: WebConfig::default(),
            mail: None,
        }
    }

    pub fn path(dir: &Path) -> PathBuf {
        dir.join(CONFIG_FILE)
    }

    pub fn load(dir: &Path) -> anyhow::Result<Config> {
        let path = Self::path(dir);
        let text = std::fs::read_to_string(&path).map_err(|e| {
            anyhow::anyhow!(
                "lecture de {} impossible : {e} (le nœud a-t-il été créé avec `maillage init` ?)",
                path.display()
            )
        })?;
        let cfg: Config = toml::from_str(&text)
            .map_err(|e| anyhow::anyhow!("configuration {} invalide : {e}", path.display()))?;
        cfg.validate()?;
        Ok(cfg)
    }

    pub fn validate(&self) -> anyhow::Result<()> {
        if !crate::base::is_slug(&self.site) {
            anyhow::bail!(
                "identifiant de site « {} » invalide : lettres minuscules, chiffres et tirets, 40 caractères au plus",
                self.site
            );
        }
        if self.name.trim().is_empty() {
            anyhow::bail!("le nom du site est obligatoire");
        }
        self.listen.parse::<std::net::SocketAddr>().map_err(|_| {
            anyhow::anyhow!(
                "adresse d'écoute « {} » invalide (attendu HÔTE:PORT, par exemple 127.0.0.1:7400)",
                self.listen
            )
        })?;
        self.web_listen.parse::<std::net::SocketAddr>().map_err(|_| {
            anyhow::anyhow!(
                "adresse de l'interface web « {} » invalide (attendu HÔTE:PORT, par exemple 127.0.0.1:7402)",
                self.web_listen
            )
        })?;
        self.api_listen
            .parse::<std::net::SocketAddr>()
            .map_err(|_| {
                anyhow::anyhow!(
                "adresse de l'API « {} » invalide (attendu HÔTE:PORT, par exemple 127.0.0.1:7401)",
                self.api_listen
            )
            })?;
        let w = &self.web;
        if w.tls_cert.is_empty() != w.tls_key.is_empty() {
            anyhow::bail!(
                "[web] : tls_cert et tls_key vont ensemble (le certificat et sa clé), ou aucun des deux pour du HTTP simple"
            );
        }
        let url_ok = w.public_url.is_empty()
            || w.public_url.starts_with("https://")
            || w.public_url.starts_with("http://");
        if !url_ok {
            anyhow::bail!(
                "[web] public_url « {} » invalide : attendu une adresse complète, par exemple https://maillage.mon-site.fr",
                w.public_url
            );
        }
        if let Some(m) = &self.mail {
            if m.relay.trim().is_empty() || m.relay.contains([' ', '/', ':']) {
                anyhow::bail!(
                    "[mail] relay « {} » invalide : le nom du relais SMTP seul, par exemple smtp.ac-nancy-metz.fr (le port va dans port)",
                    m.relay
                );
            }
            let from = m.from.trim();
            if !from.contains('@') || from.contains(['<', '>', '\r', '\n', ' ']) {
                anyhow::bail!(
                    "[mail] from « {} » invalide : une adresse électronique, par exemple maillage@mon-site.fr",
                    m.from
                );
            }
            if m.digest_hour > 23 {
                anyhow::bail!(
                    "[mail] digest_hour = {} : une heure de 0 à 23",
                    m.digest_hour
                );
            }
        }
        for p in &self.peers {
            validate_peer_url(p)?;
            if !self.insecure && p.starts_with("http://") {
                anyhow::bail!(
                    "voisin « {p} » : avec TLS, les voisins se joignent en https:// (ou mettez insecure = true)"
                );
            }
        }
        Ok(())
    }

    /// The documented TOML file written by `maillage init`.
    pub fn to_documented_toml(&self) -> String {
        let peers = self
            .peers
            .iter()
            .map(|p| format!("\"{p}\""))
            .collect::<Vec<_>>()
            .join(", ");
        let s = &self.storage;
        let f = &self.federation;
        let a = &self.api;
        let w = &self.web;
        format!(
            r#"# Configuration du nœud maillage.
# Chaque champ est indiqué avec sa valeur ; un champ absent prend sa valeur par défaut.
# Les noms des champs restent en anglais : ce sont ceux que lit le programme.

# Identifiant du site : un nom court (minuscules, chiffres, tirets). Il nomme le
# document `site/<site>` de ce nœud. Ne le changez jamais une fois le nœud entré
# dans le réseau.
site = "{site}"
# Nom du site, tel que les personnes le lisent.
name = "{name}"
# "site" pour un tiers-lieu, "academy" pour le nœud de l'équipe académique.
# Par défaut "site".
role = "{role}"
# Adresse de la fédération : les autres nœuds s'y connectent, en TLS mutuel.
# Par défaut "127.0.0.1:7400" ; "0.0.0.0:7400" pour accepter les autres sites.
listen = "{listen}"
# Adresse de l'API publique (jetons), utilisée par la ligne de commande et les
# outils de cette machine. Par défaut "127.0.0.1:7401". Avec insecure = true,
# l'API est servie sur `listen` et cette adresse n'est pas utilisée.
api_listen = "{api_listen}"
# Adresse de l'interface web des personnes (directions, équipes, équipe
# académique). Par défaut "127.0.0.1:7402" ; "0.0.0.0:7402" pour la servir au
# réseau du site (de préférence derrière un proxy HTTPS, voir deploy/README.md).
web_listen = "{web_listen}"
# true : les nœuds échangent sans TLS ni certificats, et l'API partage `listen`.
# Uniquement pour des essais sur un réseau fermé ; le nœud avertit au démarrage.
# Par défaut false.
insecure = {insecure}
# Nœuds voisins que ce nœud appelle : "https://hôte:port" ("http://" avec
# insecure). Par défaut aucun. Les voisins peuvent aussi appeler ce nœud ; une
# seule session est gardée par paire de sites.
peers = [{peers}]

[storage]
# Morceaux incrémentaux gardés par document avant de les compacter en un
# instantané. Par défaut 256.
compact_after_chunks = {compact}

[federation]
# Plus grande trame acceptée d'un voisin ou envoyée à un voisin, en octets.
# Par défaut 33554432 (32 Mio).
max_frame_bytes = {frame}
# Nombre maximal de documents qu'un voisin peut annoncer d'un coup. Par défaut 100000.
max_documents = {maxdocs}
# Nombre maximal de modifications (et de signatures) qu'un message de
# synchronisation peut apporter ; au-delà, la session du voisin est fermée.
# Par défaut 200000.
max_changes_per_message = {maxchanges}
# Millisecondes laissées à un voisin pour se présenter et échanger les
# empreintes des documents, en tout. Par défaut 10000.
handshake_timeout_ms = {hs}
# Millisecondes laissées pour ouvrir une connexion vers un voisin. Par défaut 5000.
connect_timeout_ms = {ct}
# Délai avant de rappeler un voisin qui a refusé la session : part de
# reconnect_min_ms, double jusqu'à reconnect_max_ms, avec un peu de hasard.
# Par défaut 200 et 30000.
reconnect_min_ms = {rmin}
reconnect_max_ms = {rmax}
# Tant qu'un voisin est injoignable (lien coupé, nœud arrêté), il est rappelé
# au moins toutes les reconnect_probe_ms millisecondes, pour retrouver le lien
# dès son retour. Par défaut 1000.
reconnect_probe_ms = {rprobe}

[api]
# Plus grande requête qu'un client peut envoyer à l'API publique, en octets.
# Par défaut 4194304 (4 Mio).
max_request_bytes = {api}

[web]
# HTTPS servi par le nœud lui-même : chemin du certificat (chaîne PEM) et de sa
# clé, relatifs au dossier du nœud. Vides : HTTP simple, à placer derrière un
# proxy HTTPS (Caddy, nginx) dès que l'interface écoute au-delà de la machine.
tls_cert = "{tls_cert}"
tls_key = "{tls_key}"
# Adresse que les personnes tapent pour joindre les pages, par exemple
# "https://maillage.mon-site.fr" derrière un proxy. Elle sert dans les liens
# que donne le nœud (liens de première connexion, abonnements aux calendriers,
# étiquettes QR). Vide : l'adresse d'écoute du nœud.
public_url = "{public_url}"
{mail}"#,
            site = self.site,
            name = self.name.replace('\\', "\\\\").replace('"', "\\\""),
            role = self.role.as_str(),
            listen = self.listen,
            api_listen = self.api_listen,
            web_listen = self.web_listen,
            insecure = self.insecure,
            compact = s.compact_after_chunks,
            frame = f.max_frame_bytes,
            maxdocs = f.max_documents,
            maxchanges = f.max_changes_per_message,
            hs = f.handshake_timeout_ms,
            ct = f.connect_timeout_ms,
            rmin = f.reconnect_min_ms,
            rmax = f.reconnect_max_ms,
            rprobe = f.reconnect_probe_ms,
            api = a.max_request_bytes,
            tls_cert = toml_str(&w.tls_cert),
            tls_key = toml_str(&w.tls_key),
            public_url = toml_str(&w.public_url),
            mail = mail_section(self.mail.as_ref()),
        )
    }
}

/// The `[mail]` section: commented out when there is none.
fn mail_section(m: Option<&MailConfig>) -> String {
    let doc = "
# Résumés quotidiens par courriel : chaque matin, chaque compte (équipe,
# direction, équipe académique) reçoit la liste de ce qui l'attend, s'il y a
# quelque chose. Sans cette section, aucun courriel ne part.
";
    match m {
        None => format!(
            "{doc}# [mail]
# Relais SMTP (nom seul) et son port.
# relay = \"smtp.ac-nancy-metz.fr\"
# port = 25
# Adresse de l'expéditeur.
# from = \"maillage@mon-site.fr\"
# true : STARTTLS avant l'envoi, certificat du relais vérifié. Par défaut false.
# starttls = false
# Avec STARTTLS : autorités (PEM) qui certifient le relais, chemin relatif au
# dossier du nœud. Vide : celles du système.
# ca_file = \"\"
# Heure de l'envoi, heure de Paris (0 à 23). Par défaut 7.
# digest_hour = 7
"
        ),
        Some(m) => format!(
            "{doc}[mail]
# Relais SMTP (nom seul) et son port. Port par défaut 25.
relay = \"{relay}\"
port = {port}
# Adresse de l'expéditeur.
from = \"{from}\"
# true : STARTTLS avant l'envoi, certificat du relais vérifié. Par défaut false.
starttls = {starttls}
# Avec STARTTLS : autorités (PEM) qui certifient le relais, chemin relatif au
# dossier du nœud. Vide : celles du système.
ca_file = \"{ca_file}\"
# Heure de l'envoi, heure de Paris (0 à 23). Par défaut 7.
digest_hour = {hour}
",
            relay = toml_str(&m.relay),
            port = m.port,
            from = toml_str(&m.from),
            starttls = m.starttls,
            ca_file = toml_str(&m.ca_file),
            hour = m.digest_hour,
        ),
    }
}

fn toml_str(s: &str) -> String {
    s.replace('\\', "\\\\").replace('"', "\\\"")
}

#[cfg(test)]
mod tests {
    use super::*;

    /// deploy/maillage.toml.sample is what `maillage init` writes for
    /// metz-borny (its site-specific values: name, listen, peers): a new
    /// field or section of the configuration shows in the sample too.
    #[test]
    fn the_deploy_sample_is_what_init_writes() {
        let mut c = Config::new(
            "metz-borny",
            "Tiers-lieu éducatif de Metz-Borny",
            Role::Site,
        );
        c.listen = "0.0.0.0:7400".into();
        c.peers = vec![
            "https://rectorat.example.invalid:7400".into(),
            "https://thionville.example.invalid:7400".into(),
        ];
        let sample = include_str!("../deploy/maillage.toml.sample");
        assert!(
            sample == c.to_documented_toml(),
            "deploy/maillage.toml.sample differs from what init writes; write it again \
             (maillage init --dir D --site metz-borny --name … --listen 0.0.0.0:7400 \
             --peer … --peer …, then copy D/maillage.toml):\n{}",
            c.to_documented_toml()
        );
        let back: Config = toml::from_str(sample).unwrap();
        assert_eq!(back, c);
    }

    #[test]
    fn documented_toml_roundtrips() {
        let mut c = Config::new("metz", "Tiers-lieu \"Metz\"", Role::Academy);
        c.peers = vec!["http://127.0.0.1:7401".into()];
        let back: Config = toml::from_str(&c.to_documented_toml()).unwrap();
        assert_eq!(back, c);
    }

    #[test]
    fn the_config_file_speaks_french() {
        let text = Config::new("metz", "Metz", Role::Site).to_documented_toml();
        let english = [
            "the", "Default", "default", "of", "and", "this", "with", "Address", "peers",
        ];
        for line in text.lines().filter(|l| l.starts_with('#')) {
            for word in line.split(|c: char| !c.is_alphanumeric()) {
                assert!(!english.contains(&word), "« {word} » in: {line}");
            }
        }
        assert!(text.contains("Par défaut"), "{text}");
    }

    #[test]
    fn the_mail_section_roundtrips_and_is_checked() {
        let mut c = Config::new("metz", "Metz", Role::Site);
        assert!(c.to_documented_toml().contains("# [mail]"));
        c.mail = Some(MailConfig {
            relay: "smtp.ac-nancy-metz.fr".into(),
            port: 587,
            from: "maillage@metz.fr".into(),
            starttls: true,
            ca_file: "relais.pem".into(),
            digest_hour: 6,
        });
        let back: Config = toml::from_str(&c.to_documented_toml()).unwrap();
        assert_eq!(back, c);
        c.validate().unwrap();
        let m: Config = toml::from_str(
            "site = \"a\"\nname = \"A\"\n[mail]\nrelay = \"smtp.x.fr\"\nfrom = \"m@x.fr\"\n",
        )
        .unwrap();
        let mail = m.mail.unwrap();
        assert_eq!((mail.port, mail.starttls, mail.digest_hour), (25, false, 7));
        for bad in [
            ("smtp.x.fr:25", "m@x.fr", 7),
            ("smtp.x.fr", "personne", 7),
            ("smtp.x.fr", "m@x.fr", 24),
        ] {
            c.mail = Some(MailConfig {
                relay: bad.0.into(),
                port: 25,
                from: bad.1.into(),
                starttls: false,
                ca_file: String::new(),
                digest_hour: bad.2,
            });
            assert!(c.validate().is_err(), "{bad:?}");
        }
    }

    #[test]
    fn minimal_file_takes_defaults() {
        let c: Config = toml::from_str("site = \"a\"\nname = \"A\"\n").unwrap();
        assert_eq!(c.listen, DEFAULT_LISTEN);
        assert_eq!(c.role, Role::Site);
        assert_eq!(c.storage, StorageConfig::default());
    }

    #[test]
    fn rejects_bad_values() {
        let mut c = Config::new("Bad Site", "x", Role::Site);
        assert!(c.validate().is_err());
        c.site = "ok".into();
        c.peers = vec!["ftp://x".into()];
        assert!(c.validate().is_err());
    }
}
