//! `maillage purchase create|update|submit|validate|refuse|needs-info|ordered|delivered|cancel|show|list`.

use clap::{Args, Subcommand};

use super::client::{api_error, connect, Target};
use super::output::{print_json, print_table};
use crate::domain::purchases::{parse_line, state_fr};
use crate::domain::time;
use crate::pb::{self, purchases_client::PurchasesClient};

#[derive(Debug, Args)]
pub struct PurchaseFields {
    /// Objet de la demande.
    #[arg(long)]
    pub object: Option<String>,
    /// Une ligne « désignation;quantité;prix unitaire HT;taux de TVA »,
    /// par exemple "Robot Thymio;3;129.90;20" (répétable ; à la modification,
    /// remplace toutes les lignes).
    #[arg(long = "line")]
    pub lines: Vec<String>,
    /// Fournisseur.
    #[arg(long)]
    pub supplier: Option<String>,
    /// Ligne de financement (par exemple « France 2030 »).
    #[arg(long)]
    pub funding: Option<String>,
    /// Action commune liée.
    #[arg(long)]
    pub action: Option<String>,
}

#[derive(Debug, Subcommand)]
pub enum PurchaseCmd {
    /// Rédiger une demande d'achat du site (elle reste un brouillon jusqu'à son envoi).
    Create(PurchaseFields),
    /// Modifier une demande en brouillon ou renvoyée pour compléments.
    Update {
        id: String,
        #[command(flatten)]
        fields: PurchaseFields,
    },
    /// Soumettre la demande à l'équipe académique.
    Submit { id: String },
    /// Valider la demande (nœud académique).
    Validate {
        id: String,
        #[arg(long, default_value = "")]
        reason: String,
    },
    /// Refuser la demande, avec un motif (nœud académique).
    Refuse {
        id: String,
        #[arg(long, default_value = "")]
        reason: String,
    },
    /// Demander des compléments, avec un motif (nœud académique).
    NeedsInfo {
        id: String,
        #[arg(long, default_value = "")]
        reason: String,
    },
    /// Noter que la commande est passée (demande validée).
    Ordered { id: String },
    /// Noter la livraison ; --item LIGNE[:CATÉGORIE] ajoute au matériel du
    /// site un objet par unité achetée sur cette ligne (répétable).
    Delivered {
        id: String,
        /// Une ligne de la demande qui devient du matériel, avec sa catégorie :
        /// LIGNE[:CATÉGORIE], LIGNE étant son numéro (1 pour la première), par
        /// exemple --item 1:robotique (répétable ; sans catégorie, celle de --category).
        #[arg(long = "item", value_name = "LIGNE[:CATÉGORIE]")]
        items: Vec<String>,
        /// Pour une demande d'une seule ligne : en faire du matériel sans --item.
        #[arg(long)]
        create_items: bool,
        /// Catégorie des objets créés, pour les lignes données sans catégorie.
        #[arg(long, default_value = "")]
        category: String,
    },
    /// Annuler la demande (avant la commande).
    Cancel { id: String },
    /// Afficher une demande et son historique.
    Show { id: String },
    /// Lister les demandes d'achat du réseau.
    List {
        #[arg(long, default_value = "")]
        site: String,
        /// État : brouillon, soumise, compléments demandés, validée, refusée,
        /// commandée, livrée, annulée (ou draft, submitted, needs_info,
        /// validated, refused, ordered, delivered, cancelled).
        #[arg(long, default_value = "")]
        state: String,
        #[arg(long, default_value = "")]
        funding: String,
        #[arg(long, default_value = "")]
        action: String,
    },
}

fn lines(texts: &[String]) -> anyhow::Result<Vec<pb::PurchaseLineInput>> {
    texts
        .iter()
        .enumerate()
        .map(|(i, t)| {
            let l = parse_line(i + 1, t)?;
            Ok(pb::PurchaseLineInput {
                designation: l.designation,
                quantity: l.quantity,
                unit_price_ht: l.unit_price_ht,
                vat_rate: l.vat_rate,
            })
        })
        .collect()
}

/// `--item LINE[:CATEGORY]` values, as the API takes them.
fn item_lines(typed: &[String]) -> anyhow::Result<Vec<pb::DeliveredLine>> {
    typed
        .iter()
        .map(|t| {
            let (line, category) = t.split_once(':').unwrap_or((t, ""));
            let line: i64 = line.trim().parse().map_err(|_| {
                anyhow::anyhow!(
                    "--item « {t} » : attendu LIGNE[:CATÉGORIE], LIGNE étant le numéro de la ligne (1 pour la première), par exemple --item 2:robotique"
                )
            })?;
            Ok(pb::DeliveredLine {
                line,
                category: category.trim().to_string(),
            })
        })
        .collect()
}

/// An amount as French readers write it: 1 234,50.
fn eur_fr(v: &str) -> String {
    let (int, dec) = v.split_once('.').unwrap_or((v, ""));
    let (sign, digits) = int.strip_prefix('-').map_or(("", int), |d| ("-", d));
    let mut grouped = String::new();
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i) % 3 == 0 {
            grouped.push('\u{202f}');
        }
        grouped.push(c);
    }
    if dec.is_empty() {
        format!("{sign}{grouped}")
    } else {
        format!("{sign}{grouped},{dec}")
    }
}

fn show(p: &pb::Purchase, names: &super::names::SiteNames, named: &Named) {
    println!(
        "Demande d'achat {} : {} ({}), {}",
        p.id,
        p.object,
        names.name(&p.site),
        state_fr(&p.state)
    );
    for (n, l) in p.lines.iter().enumerate() {
        println!(
            "  ligne {} : {} × {} à {} € HT, TVA {} % : {} € TTC",
            n + 1,
            l.quantity,
            l.designation,
            eur_fr(&l.unit_price_ht),
            l.vat_rate.replace('.', ","),
            eur_fr(&l.total_ttc)
        );
    }
    println!(
        "  total : {} € HT, {} € de TVA, {} € TTC",
        eur_fr(&p.total_ht),
        eur_fr(&p.total_vat),
        eur_fr(&p.total_ttc)
    );
    let action = super::loans::named(&named.action, &p.action);
    for (label, v) in [
        ("fournisseur", &p.supplier),
        ("financement", &p.funding),
        ("action", &action),
        ("motif", &p.decision_reason),
    ] {
        if !v.is_empty() {
            println!("  {label} : {v}");
        }
    }
    if !p.items.is_empty() {
        println!("  matériel créé : {}", named.items.join(", "));
    }
    for s in &p.history {
        let note = if s.note.is_empty() {
            String::new()
        } else {
            format!(" — {}", s.note)
        };
        println!(
            "  {}  {} ({}, {}){note}",
            time::fr_instant(&s.at),
            state_fr(&s.step),
            names.name(&s.site),
            super::loans::role_fr(&s.role)
        );
    }
}

pub async fn run(t: &Target, json_out: bool, cmd: PurchaseCmd) -> anyhow::Result<()> {
    let conn = connect(t).await?;
    let names = super::names::SiteNames::fetch(&conn).await;
    let mut c = PurchasesClient::new(conn.clone());
    let decide = |id: String, verdict: &str, reason: String| pb::PurchaseDecision {
        id,
        verdict: verdict.into(),
        reason,
    };
    let id = |id: String| pb::PurchaseId { id };
    let p = match cmd {
        PurchaseCmd::Create(f) => {
            c.create(pb::CreatePurchaseRequest {
                object: f.object.unwrap_or_default(),
                lines: lines(&f.lines)?,
                supplier: f.supplier.unwrap_or_default(),
                funding: f.funding.unwrap_or_default(),
                action: f.action.unwrap_or_default(),
            })
            .await
        }
        PurchaseCmd::Update { id, fields: f } => {
            c.update(pb::UpdatePurchaseRequest {
                id,
                object: f.object,
                set_lines: !f.lines.is_empty(),
                lines: lines(&f.lines)?,
                supplier: f.supplier,
                funding: f.funding,
                action: f.action,
            })
            .await
        }
        PurchaseCmd::Submit { id: i } => c.submit(id(i)).await,
        PurchaseCmd::Validate { id, reason } => c.decide(decide(id, "validated", reason)).await,
        PurchaseCmd::Refuse { id, reason } => c.decide(decide(id, "refused", reason)).await,
        PurchaseCmd::NeedsInfo { id, reason } => c.decide(decide(id, "needs_info", reason)).await,
        PurchaseCmd::Ordered { id: i } => c.ordered(id(i)).await,
        PurchaseCmd::Delivered {
            id,
            items,
            create_items,
            category,
        } => {
            c.delivered(pb::DeliverPurchase {
                id,
                create_items: create_items || !items.is_empty(),
                category,
                item_lines: item_lines(&items)?,
            })
            .await
        }
        PurchaseCmd::Cancel { id: i } => c.cancel(id(i)).await,
        PurchaseCmd::Show { id: i } => c.get(id(i)).await,
        PurchaseCmd::List {
            site,
            state,
            funding,
            action,
        } => {
            let list = c
                .list(pb::ListPurchasesRequest {
                    site,
                    state,
                    funding,
                    action,
                })
                .await
                .map_err(api_error)?
                .into_inner()
                .purchases;
            if json_out {
                print_json(&list);
            } else if list.is_empty() {
                println!("Aucune demande d'achat.");
            } else {
                let rows: Vec<Vec<String>> = list
                    .iter()
                    .map(|p| {
                        let created = chrono::DateTime::parse_from_rfc3339(&p.created_at)
                            .map(|t| time::fr_date(t.with_timezone(&time::TZ).date_naive()))
                            .unwrap_or_else(|_| p.created_at.clone());
                        vec![
                            p.id.clone(),
                            created,
                            names.name(&p.site),
                            p.object.clone(),
                            state_fr(&p.state).to_string(),
                            eur_fr(&p.total_ttc),
                            p.funding.clone(),
                        ]
                    })
                    .collect();
                print_table(
                    &[
                        "ID",
                        "CRÉÉE LE",
                        "SITE",
                        "OBJET",
                        "ÉTAT",
                        "TOTAL TTC €",
                        "FINANCEMENT",
                    ],
                    &rows,
                );
            }
            return Ok(());
        }
    }
    .map_err(api_error)?
    .into_inner();
    if json_out {
        print_json(&p);
    } else {
        let shown = Named::fetch(&conn, &p).await;
        show(&p, &names, &shown);
    }
    Ok(())
}

/// The names of what a request points to, for people: its action's title
/// and the items created at its delivery (their ids when not found).
struct Named {
    action: String,
    items: Vec<String>,
}

impl Named {
    async fn fetch(conn: &super::client::Conn, p: &pb::Purchase) -> Named {
        use crate::pb::actions_client::ActionsClient;
        use crate::pb::equipment_client::EquipmentClient;
        let mut action = String::new();
        if !p.action.is_empty() {
            if let Ok(a) = ActionsClient::new(conn.clone())
                .get(pb::ActionId {
                    id: p.action.clone(),
                })
                .await
            {
                action = a.into_inner().title;
            }
        }
        let mut items = Vec::new();
        for id in &p.items {
            let name = EquipmentClient::new(conn.clone())
                .get(pb::EquipmentId { id: id.clone() })
                .await
                .map(|i| i.into_inner().name)
                .unwrap_or_default();
            items.push(super::loans::named(&name, id));
        }
        Named { action, items }
    }
}
