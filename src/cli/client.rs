//! Client commands: each calls one node's public API.

use std::path::Path;

use serde_json::json;
use tonic::metadata::{Ascii, MetadataValue};
use tonic::service::interceptor::{InterceptedService, Interceptor};
use tonic::transport::{Channel, Endpoint};

use super::output::{print_json, print_table};
use super::{EquipmentCmd, SiteCmd, TokenCmd};
use crate::pb;
use crate::pb::equipment_client::EquipmentClient;
use crate::pb::node_client::NodeClient;

/// Which node a client command talks to, and with which token.
#[derive(Debug, Clone)]
pub struct Target {
    pub url: String,
    pub token: Option<String>,
}

impl Target {
    /// `--node` wins for the address, `--token` for the token; `--dir` gives
    /// both from the node's directory (its listen address and admin token).
    pub fn resolve(
        node: Option<&str>,
        dir: Option<&Path>,
        token: Option<&str>,
    ) -> anyhow::Result<Target> {
        let mut url = node.map(str::to_string);
        let mut tok = token.map(|t| t.trim().to_string());
        if let Some(dir) = dir {
            let cfg = crate::config::Config::load(dir)?;
            if url.is_none() {
                let api = if cfg.insecure {
                    &cfg.listen
                } else {
                    &cfg.api_listen
                };
                let mut addr: std::net::SocketAddr = api.parse()?;
                if addr.ip().is_unspecified() {
                    addr.set_ip(std::net::Ipv4Addr::LOCALHOST.into());
                }
                url = Some(format!("http://{addr}"));
            }
            if tok.is_none() {
                let file = dir.join(crate::auth::ADMIN_TOKEN_FILE);
                let text = std::fs::read_to_string(&file).map_err(|e| {
                    let hint = if e.kind() == std::io::ErrorKind::PermissionDenied {
                        " (lancez la commande en tant qu'utilisateur du nœud, par exemple sudo -u maillage maillage …, ou passez --token)"
                    } else {
                        ""
                    };
                    anyhow::anyhow!("lecture du jeton {} impossible : {e}{hint}", file.display())
                })?;
                tok = Some(text.trim().to_string());
            }
        }
        Ok(Target {
            url: url.unwrap_or_else(|| super::DEFAULT_NODE.to_string()),
            token: tok,
        })
    }
}

/// Adds the bearer token to every request.
#[derive(Clone)]
pub struct Auth(Option<MetadataValue<Ascii>>);

impl Interceptor for Auth {
    fn call(&mut self, mut req: tonic::Request<()>) -> Result<tonic::Request<()>, tonic::Status> {
        if let Some(v) = &self.0 {
            req.metadata_mut().insert("authorization", v.clone());
        }
        Ok(req)
    }
}

pub type Conn = InterceptedService<Channel, Auth>;

/// Opens a channel to the node, with an error that says what to check.
pub async fn connect(t: &Target) -> anyhow::Result<Conn> {
    let node = &t.url;
    let endpoint = Endpoint::from_shared(node.to_string()).map_err(|_| {
        anyhow::anyhow!("adresse de nœud « {node} » invalide (attendu http://HÔTE:PORT)")
    })?;
    let auth = match &t.token {
        Some(tok) => Some(
            format!("Bearer {tok}")
                .parse()
                .map_err(|_| anyhow::anyhow!("jeton invalide (caractères non ASCII)"))?,
        ),
        None => None,
    };
    let channel = endpoint
        .connect_timeout(std::time::Duration::from_secs(5))
        .connect()
        .await
        .map_err(|e| {
            tracing::debug!(cause = ?e, "connection to the node failed");
            anyhow::anyhow!(
                "impossible de joindre le nœud {node} ({}) : est-il démarré (`maillage serve --dir DOSSIER`) ? {API_ADVICE}",
                connect_failure(&e)
            )
        })?;
    Ok(InterceptedService::new(channel, Auth(auth)))
}

/// What to check when a node does not answer as the API: the address most
/// often given by mistake is the federation's.
pub const API_ADVICE: &str = "Vérifiez que --node donne l'adresse api_listen du nœud (127.0.0.1:7401 par défaut avec TLS), et non celle de la fédération";

/// The opening of the message when the API call failed below gRPC.
pub const NOT_AN_API: &str = "le nœud n'a pas répondu comme une API maillage";

/// Why a connection failed, in French, from the io error at its root.
fn connect_failure(e: &(dyn std::error::Error + 'static)) -> &'static str {
    let mut cause = Some(e);
    while let Some(err) = cause {
        if let Some(io) = err.downcast_ref::<std::io::Error>() {
            return match io.kind() {
                std::io::ErrorKind::ConnectionRefused => "connexion refusée",
                std::io::ErrorKind::TimedOut => "pas de réponse dans le délai",
                std::io::ErrorKind::ConnectionReset | std::io::ErrorKind::BrokenPipe => {
                    "connexion coupée par le nœud"
                }
                _ => "la connexion a échoué",
            };
        }
        cause = err.source();
    }
    "la connexion a échoué"
}

/// Turns a gRPC status into the message shown to the user.
pub fn api_error(status: tonic::Status) -> anyhow::Error {
    // A status the client made itself (it carries the transport, HTTP/2 or
    // hyper error as its source), or an HTTP answer without a gRPC status:
    // whatever is at that address is not a maillage API, typically the TLS
    // federation port. Its English detail goes to the journal only.
    let below_grpc = std::error::Error::source(&status).is_some()
        || status.message().contains("mapped from HTTP status code");
    if below_grpc {
        tracing::debug!(code = ?status.code(), message = status.message(), "API call failed below gRPC");
        let detail = match std::error::Error::source(&status) {
            Some(e) => connect_failure(e),
            None => "réponse HTTP sans statut gRPC",
        };
        return anyhow::anyhow!("{NOT_AN_API} ({detail}). {API_ADVICE}");
    }
    // The message says what to fix; the gRPC code is for programs (the API).
    anyhow::anyhow!("{}", status.message())
}

pub fn item_json(i: &pb::EquipmentItem) -> serde_json::Value {
    json!({
        "id": i.id,
        "site": i.site,
        "site_name": i.site_name,
        "name": i.name,
        "category": i.category,
        "description": i.description,
        "inventory_number": i.inventory_number,
        "loanable": i.loanable,
        "status": i.status,
        "condition": i.condition,
        "availability": i.availability,
        "current_loan": i.current_loan,
        "current_borrower": i.current_borrower,
        "due": i.due,
        "acquired": i.acquired,
        "created_at": i.created_at,
        "updated_at": i.updated_at,
        "loans": i.loans,
        "incidents": i.incidents,
    })
}

fn print_item(i: &pb::EquipmentItem) {
    use crate::domain::{equipment, loans, time};
    println!("{}  {}", i.id, i.name);
    println!(
        "  site          : {}",
        super::loans::named(&i.site_name, &i.site)
    );
    println!("  catégorie     : {}", i.category);
    if !i.inventory_number.is_empty() {
        println!("  n° inventaire : {}", i.inventory_number);
    }
    if !i.description.is_empty() {
        println!("  description   : {}", i.description);
    }
    println!(
        "  disponibilité : {}",
        crate::app::equipment::availability_text(i)
    );
    println!("  statut        : {}", equipment::status_fr(&i.status));
    println!(
        "  état          : {}",
        equipment::condition_fr(&i.condition)
    );
    println!(
        "  prêtable      : {}",
        if i.loanable { "oui" } else { "non" }
    );
    if let Ok(d) = crate::domain::time::parse_date(&i.acquired) {
        println!("  acquis le     : {}", crate::domain::time::fr_date(d));
    }
    if !i.loans.is_empty() {
        println!("  prêts :");
        for l in &i.loans {
            let mut state = loans::state_fr(&l.state).to_string();
            if l.overdue {
                state.push_str(", en retard");
            }
            if l.recorded {
                state.push_str(", enregistré après coup");
            }
            println!(
                "    {}  {} — {} — {state}",
                l.id,
                time::fr_period(&l.from, &l.to),
                super::loans::named(&l.borrower_name, &l.borrower),
            );
        }
    }
    if !i.incidents.is_empty() {
        println!("  incidents :");
        for n in &i.incidents {
            let condition = if n.condition.is_empty() {
                String::new()
            } else {
                format!(" (matériel {})", loans::return_condition_fr(&n.condition))
            };
            println!(
                "    {} — {}{condition} — prêt {} à {}",
                time::fr_instant(&n.at),
                n.text,
                n.loan,
                super::loans::named(&n.borrower_name, &n.borrower),
            );
        }
    }
}

/// What an import found: every line, its errors, and what was written.
fn print_import(r: &pb::ImportReport, dry_run: bool, json_out: bool) -> anyhow::Result<()> {
    let wrong = r.lines.iter().filter(|l| !l.errors.is_empty()).count();
    if json_out {
        print_json(r);
    } else {
        let rows: Vec<Vec<String>> = r
            .lines
            .iter()
            .map(|l| {
                vec![
                    l.line.to_string(),
                    l.name.clone(),
                    l.category.clone(),
                    if l.errors.is_empty() {
                        "correcte".to_string()
                    } else {
                        l.errors.join(" ; ")
                    },
                ]
            })
            .collect();
        print_table(&["LIGNE", "NOM", "CATÉGORIE", "VÉRIFICATION"], &rows);
        if !r.ignored_columns.is_empty() {
            println!("Colonnes non lues : {}.", r.ignored_columns.join(", "));
        }
        let n = r.lines.len();
        let s = |n: usize| if n > 1 { "s" } else { "" };
        if wrong > 0 {
            println!(
                "{wrong} ligne{} sur {n} à corriger : rien n'a été importé. Corrigez le fichier et relancez.",
                s(wrong)
            );
        } else if dry_run {
            println!(
                "{n} ligne{} correcte{} : rien n'a été écrit (--dry-run). Relancez sans --dry-run pour importer.",
                s(n),
                s(n)
            );
        } else {
            println!(
                "{} matériel{} ajouté{} au catalogue du site.",
                r.created.len(),
                s(r.created.len()),
                s(r.created.len())
            );
        }
    }
    if wrong > 0 {
        anyhow::bail!("import refusé : {wrong} ligne(s) à corriger");
    }
    Ok(())
}

pub async fn equipment(t: &Target, json_out: bool, cmd: EquipmentCmd) -> anyhow::Result<()> {
    let mut client = EquipmentClient::new(connect(t).await?);
    let item = match cmd {
        EquipmentCmd::Add {
            name,
            category,
            description,
            inventory_number,
            loanable,
            condition,
            acquired,
        } => client
            .add(pb::AddEquipmentRequest {
                name,
                category,
                description,
                inventory_number,
                loanable,
                condition,
                acquired,
            })
            .await
            .map_err(api_error)?
            .into_inner(),
        EquipmentCmd::Update {
            id,
            name,
            category,
            description,
            inventory_number,
            loanable,
            status,
            condition,
            acquired,
        } => client
            .update(pb::UpdateEquipmentRequest {
                id,
                name,
                category,
                description,
                inventory_number,
                loanable,
                status,
                condition,
                acquired,
            })
            .await
            .map_err(api_error)?
            .into_inner(),
        EquipmentCmd::Import { file, dry_run } => {
            let content = std::fs::read(&file)
                .map_err(|e| anyhow::anyhow!("lecture de {} impossible : {e}", file.display()))?;
            let report = client
                .import(pb::ImportEquipmentRequest {
                    file_name: file
                        .file_name()
                        .map(|n| n.to_string_lossy().into_owned())
                        .unwrap_or_default(),
                    content,
                    dry_run,
                })
                .await
                .map_err(api_error)?
                .into_inner();
            return print_import(&report, dry_run, json_out);
        }
        EquipmentCmd::Retire { id } => client
            .retire(pb::EquipmentId { id })
            .await
            .map_err(api_error)?
            .into_inner(),
        EquipmentCmd::Show { id } => client
            .get(pb::EquipmentId { id })
            .await
            .map_err(api_error)?
            .into_inner(),
        EquipmentCmd::List {
            site,
            category,
            search,
            status,
            available_from,
            available_to,
        } => {
            let list = client
                .list(pb::ListEquipmentRequest {
                    site: site.unwrap_or_default(),
                    category: category.unwrap_or_default(),
                    search: search.unwrap_or_default(),
                    status: status.unwrap_or_default(),
                    available_from: available_from.unwrap_or_default(),
                    available_to: available_to.unwrap_or_default(),
                })
                .await
                .map_err(api_error)?
                .into_inner();
            if json_out {
                print_json(&list.items.iter().map(item_json).collect::<Vec<_>>());
            } else if list.items.is_empty() {
                println!("Aucun matériel ne correspond.");
            } else {
                let rows: Vec<Vec<String>> = list
                    .items
                    .iter()
                    .map(|i| {
                        vec![
                            i.id.clone(),
                            i.name.clone(),
                            if i.site_name.is_empty() {
                                i.site.clone()
                            } else {
                                i.site_name.clone()
                            },
                            i.category.clone(),
                            crate::domain::equipment::condition_fr(&i.condition).to_string(),
                            crate::app::equipment::availability_text(i),
                        ]
                    })
                    .collect();
                print_table(
                    &["ID", "NOM", "SITE", "CATÉGORIE", "ÉTAT", "DISPONIBILITÉ"],
                    &rows,
                );
            }
            return Ok(());
        }
    };
    if json_out {
        print_json(&item_json(&item));
    } else {
        print_item(&item);
    }
    Ok(())
}

pub fn status_json(s: &pb::StatusReply) -> serde_json::Value {
    let documents: serde_json::Map<String, serde_json::Value> = s
        .documents
        .iter()
        .map(|d| (d.id.clone(), json!(d.heads)))
        .collect();
    let peers: Vec<serde_json::Value> = s
        .peers
        .iter()
        .map(|p| {
            json!({
                "address": p.address,
                "site": p.site,
                "direction": p.direction,
                "connected": p.connected,
                "last_sync": if p.last_sync.is_empty() { serde_json::Value::Null } else { json!(p.last_sync) },
                "last_error": p.last_error,
                "bytes_sent": p.bytes_sent,
                "bytes_received": p.bytes_received,
            })
        })
        .collect();
    json!({
        "site": s.site,
        "name": s.name,
        "role": s.role,
        "listen": s.listen,
        "version": s.version,
        "digest": s.digest,
        "documents": documents,
        "peers": peers,
        "refused_sessions": s.refused_sessions,
        "withheld_messages": s.withheld_messages,
        "limited_messages": s.limited_messages,
        "public_key": s.public_key,
        "api_listen": s.api_listen,
        "loan_conflicts": s.loan_conflicts,
    })
}

pub async fn status(t: &Target, json_out: bool) -> anyhow::Result<()> {
    use super::names::{role_fr, SiteNames};
    use crate::domain::time::fr_instant;
    let conn = connect(t).await?;
    let mut client = NodeClient::new(conn.clone());
    let s = client
        .status(pb::StatusRequest {})
        .await
        .map_err(api_error)?
        .into_inner();
    if json_out {
        print_json(&status_json(&s));
        return Ok(());
    }
    let names = SiteNames::fetch(&conn).await;
    println!("Site        : {} ({})", s.name, s.site);
    println!("Rôle        : {}", role_fr(&s.role));
    println!("Fédération  : {}", s.listen);
    println!("API         : {}", s.api_listen);
    println!("Clé publique: {}", s.public_key);
    println!(
        "Version des données : {}… (la même sur deux nœuds à jour l'un de l'autre)",
        s.digest.get(..16).unwrap_or(&s.digest)
    );
    println!("Documents   : {}", s.documents.len());
    for d in &s.documents {
        println!("  {}", d.id);
    }
    println!(
        "Sites voisins : {} connecté(s) sur {}",
        s.peers.iter().filter(|p| p.connected).count(),
        s.peers.len()
    );
    for p in &s.peers {
        let who = if p.site.is_empty() {
            p.address.clone()
        } else {
            names.name(&p.site)
        };
        let state = if p.connected {
            "connecté"
        } else {
            "déconnecté"
        };
        let last = if p.last_sync.is_empty() {
            "jamais synchronisé".to_string()
        } else {
            format!("dernière synchro {}", fr_instant(&p.last_sync))
        };
        print!("  {who}  {state}, {last}");
        if !p.last_error.is_empty() {
            print!(" — {}", p.last_error);
        }
        println!();
    }
    if s.refused_sessions > 0 {
        println!(
            "Sessions refusées (voisins fautifs) : {}",
            s.refused_sessions
        );
    }
    if s.withheld_messages > 0 {
        println!(
            "Messages écartés (sites révoqués, certificats pas encore reçus) : {}",
            s.withheld_messages
        );
    }
    if s.limited_messages > 0 {
        println!(
            "Messages mis de côté car trop grands (voir max_changes_per_message) : {}",
            s.limited_messages
        );
    }
    for c in &s.loan_conflicts {
        super::output::print_conflict(&c.equipment, &c.loans);
    }
    Ok(())
}

pub async fn export(t: &Target, json_out: bool, id: &str, out: &Path) -> anyhow::Result<()> {
    let mut client = NodeClient::new(connect(t).await?);
    let data = client
        .export_document(pb::ExportDocumentRequest { id: id.to_string() })
        .await
        .map_err(api_error)?
        .into_inner()
        .data;
    std::fs::write(out, &data)
        .map_err(|e| anyhow::anyhow!("écriture de {} impossible : {e}", out.display()))?;
    if json_out {
        print_json(&json!({ "id": id, "out": out, "bytes": data.len() }));
    } else {
        println!(
            "Document {id} écrit dans {} ({} octets).",
            out.display(),
            data.len()
        );
    }
    Ok(())
}

pub async fn token(t: &Target, json_out: bool, cmd: TokenCmd) -> anyhow::Result<()> {
    let mut c = crate::pb::tokens_client::TokensClient::new(connect(t).await?);
    match cmd {
        TokenCmd::Create { role, name } => {
            let created = c
                .create(pb::CreateTokenRequest { role, name })
                .await
                .map_err(api_error)?
                .into_inner();
            if json_out {
                print_json(&created);
            } else {
                let info = created.info.unwrap_or_default();
                println!(
                    "Jeton {} ({}) créé. Notez-le, il ne sera plus affiché :",
                    info.id, info.role
                );
                println!("{}", created.token);
            }
        }
        TokenCmd::List => {
            let list = c
                .list(pb::ListTokensRequest {})
                .await
                .map_err(api_error)?
                .into_inner()
                .tokens;
            if json_out {
                print_json(&list);
            } else {
                let rows: Vec<Vec<String>> = list
                    .iter()
                    .map(|i| {
                        let state = if i.revoked_at.is_empty() {
                            "actif".to_string()
                        } else {
                            format!("révoqué le {}", i.revoked_at)
                        };
                        vec![
                            i.id.clone(),
                            i.role.clone(),
                            i.name.clone(),
                            i.created_at.clone(),
                            state,
                        ]
                    })
                    .collect();
                print_table(&["ID", "RÔLE", "LIBELLÉ", "CRÉÉ LE", "ÉTAT"], &rows);
            }
        }
        TokenCmd::Revoke { id } => {
            let info = c
                .revoke(pb::TokenId { id })
                .await
                .map_err(api_error)?
                .into_inner();
            if json_out {
                print_json(&info);
            } else {
                println!("Jeton {} révoqué.", info.id);
            }
        }
    }
    Ok(())
}

pub async fn network_status(t: &Target, json_out: bool) -> anyhow::Result<()> {
    use super::names::{role_fr, SiteNames};
    use crate::domain::time::fr_instant;
    let conn = connect(t).await?;
    let mut c = crate::pb::network_client::NetworkClient::new(conn.clone());
    let h = c
        .health(pb::NetworkHealthRequest {})
        .await
        .map_err(api_error)?
        .into_inner();
    if json_out {
        print_json(&h);
        return Ok(());
    }
    let names = SiteNames::fetch(&conn).await;
    // Actions by title, for the documents a site lags on.
    let mut titles = std::collections::BTreeMap::new();
    if h.sites.iter().any(|s| !s.differing.is_empty()) {
        let mut a = crate::pb::actions_client::ActionsClient::new(conn.clone());
        if let Ok(list) = a.list(pb::ListActionsRequest::default()).await {
            for action in list.into_inner().actions {
                titles.insert(format!("action/{}", action.id), action.title);
            }
        }
    }
    let doc_fr = |doc: &str| -> String {
        if doc == "network" {
            "registre du réseau".into()
        } else if let Some(site) = doc.strip_prefix("site/") {
            format!("données de {}", names.name(site))
        } else if let Some(title) = titles.get(doc) {
            format!("action « {title} »")
        } else {
            doc.to_string()
        }
    };
    println!(
        "État du réseau vu de {} ({}) :",
        names.name(&h.site),
        fr_instant(&h.generated_at)
    );
    if h.sites.is_empty() {
        println!("Aucun autre site inscrit au registre.");
    }
    for s in &h.sites {
        let state = if !s.revoked_at.is_empty() {
            format!("révoqué le {}", fr_instant(&s.revoked_at))
        } else if s.connected {
            "connecté".to_string()
        } else {
            "non connecté".to_string()
        };
        println!("{} ({}, {}) — {state}", s.name, s.id, role_fr(&s.role));
        let or_never = |v: &str| {
            if v.is_empty() {
                "jamais".to_string()
            } else {
                fr_instant(v)
            }
        };
        println!("  dernier contact direct  : {}", or_never(&s.last_contact));
        println!(
            "  dernière écriture reçue : {}",
            or_never(&s.last_change_at)
        );
        if s.differing.is_empty() {
            println!("  documents en retard     : aucun");
        } else {
            println!(
                "  documents en retard     : {} ({} modification{})",
                s.differing.len(),
                s.changes_behind,
                if s.changes_behind > 1 { "s" } else { "" }
            );
            for d in &s.differing {
                println!(
                    "    {} : {} modification{}",
                    doc_fr(&d.doc),
                    d.changes_behind,
                    if d.changes_behind > 1 { "s" } else { "" }
                );
            }
        }
        if s.never_synced > 0 {
            println!(
                "  documents jamais échangés directement : {}",
                s.never_synced
            );
        }
        if s.refused_sessions > 0 {
            println!(
                "  sessions refusées       : {} (la dernière {} : {})",
                s.refused_sessions,
                or_never(&s.last_refusal_at),
                s.last_refusal
            );
        }
    }
    for r in &h.other_refusals {
        println!(
            "Sessions refusées de {} (non inscrit) : {} (la dernière {} : {})",
            r.peer,
            r.count,
            fr_instant(&r.last_at),
            r.last_reason
        );
    }
    for c in &h.loan_conflicts {
        super::output::print_conflict(&c.equipment, &c.loans);
    }
    Ok(())
}

pub async fn site(t: &Target, json_out: bool, cmd: SiteCmd) -> anyhow::Result<()> {
    let mut c = crate::pb::network_client::NetworkClient::new(connect(t).await?);
    let print_site = |s: &pb::RegisteredSite| {
        let state = if s.revoked_at.is_empty() {
            "inscrit".to_string()
        } else {
            format!("révoqué le {}", s.revoked_at)
        };
        println!("{}  {} ({}) — {state}", s.id, s.name, s.role);
        if !s.endpoint.is_empty() {
            println!("  adresse : {}", s.endpoint);
        }
        println!("  clé     : {}", s.public_key);
        for k in &s.retired_keys {
            println!("  clé retirée : {k}");
        }
    };
    let one = match cmd {
        SiteCmd::Enrol {
            id,
            name,
            endpoint,
            key,
            role,
        } => c
            .enrol(pb::EnrolSiteRequest {
                id,
                name,
                endpoint,
                key,
                role,
            })
            .await
            .map_err(api_error)?
            .into_inner(),
        SiteCmd::Update {
            id,
            name,
            endpoint,
            key,
        } => c
            .update(pb::UpdateSiteRequest {
                id,
                name: name.unwrap_or_default(),
                endpoint: endpoint.unwrap_or_default(),
                key: key.unwrap_or_default(),
            })
            .await
            .map_err(api_error)?
            .into_inner(),
        SiteCmd::Revoke { id } => c
            .revoke(pb::SiteId { id })
            .await
            .map_err(api_error)?
            .into_inner(),
        SiteCmd::List => {
            let list = c
                .list_sites(pb::ListSitesRequest {})
                .await
                .map_err(api_error)?
                .into_inner()
                .sites;
            if json_out {
                print_json(&list);
            } else {
                for s in &list {
                    print_site(s);
                }
            }
            return Ok(());
        }
    };
    if json_out {
        print_json(&one);
    } else {
        print_site(&one);
    }
    Ok(())
}
