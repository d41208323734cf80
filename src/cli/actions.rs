//! `maillage action ...`: common actions across sites.

use clap::Subcommand;

use super::client::{api_error, connect, Target};
use super::names::SiteNames;
use super::output::{print_json, print_table};
use crate::pb;
use crate::pb::actions_client::ActionsClient;

#[derive(Debug, Subcommand)]
pub enum ActionCmd {
    /// Créer une action pilotée par ce site.
    Create {
        #[arg(long)]
        title: String,
        /// Axe ASTERIE : 1, 2 ou 3.
        #[arg(long)]
        axis: u32,
        #[arg(long, default_value = "")]
        description: String,
        /// Premier jour (JJ/MM/AAAA).
        #[arg(long, default_value = "")]
        start: String,
        /// Dernier jour, inclus (JJ/MM/AAAA).
        #[arg(long, default_value = "")]
        end: String,
    },
    /// Rejoindre une action.
    Join { id: String },
    /// Quitter une action.
    Leave { id: String },
    /// Modifier une action à laquelle ce site participe.
    Update {
        id: String,
        #[arg(long)]
        title: Option<String>,
        #[arg(long)]
        description: Option<String>,
        /// Statut : idée, en_préparation, en_cours, terminée ou annulée.
        #[arg(long)]
        status: Option<String>,
        #[arg(long)]
        objectives: Option<String>,
        /// Publics cibles, séparés par des virgules (remplace la liste).
        #[arg(long, value_delimiter = ',')]
        publics: Option<Vec<String>>,
        #[arg(long)]
        budget_planned: Option<String>,
        #[arg(long)]
        budget_spent: Option<String>,
        /// NOM=CIBLE[:RÉALISÉ] ou NOM=:RÉALISÉ (répétable).
        #[arg(long = "indicator")]
        indicators: Vec<String>,
        #[arg(long)]
        start: Option<String>,
        #[arg(long)]
        end: Option<String>,
        #[arg(long)]
        axis: Option<u32>,
    },
    /// Les tâches d'une action.
    #[command(subcommand)]
    Task(TaskCmd),
    /// Lister les actions du réseau.
    List {
        #[arg(long)]
        site: Option<String>,
        #[arg(long)]
        axis: Option<u32>,
        #[arg(long)]
        status: Option<String>,
    },
    /// Afficher une action.
    Show { id: String },
}

#[derive(Debug, Subcommand)]
pub enum TaskCmd {
    /// Ajouter une tâche à une action.
    Add {
        id: String,
        #[arg(long)]
        title: String,
        /// Site chargé de la tâche (un participant).
        #[arg(long, default_value = "")]
        site: String,
        /// Échéance (JJ/MM/AAAA).
        #[arg(long, default_value = "")]
        due: String,
    },
    /// Marquer une tâche comme faite.
    Done { id: String, task: String },
}

fn parse_indicator(s: &str) -> anyhow::Result<pb::Indicator> {
    let (name, values) = s.split_once('=').ok_or_else(|| {
        anyhow::anyhow!("indicateur « {s} » invalide : attendu NOM=CIBLE[:RÉALISÉ]")
    })?;
    let (target, actual) = values.split_once(':').unwrap_or((values, ""));
    Ok(pb::Indicator {
        name: name.trim().to_string(),
        target: target.trim().to_string(),
        actual: actual.trim().to_string(),
    })
}

/// A date of an action or task (stored AAAA-MM-JJ) as people write it.
fn day_fr(d: &str) -> String {
    match crate::domain::time::parse_date(d) {
        Ok(d) => crate::domain::time::fr_date(d),
        Err(_) => d.to_string(),
    }
}

fn print_action(a: &pb::CommonAction, names: &SiteNames) {
    use crate::domain::actions::{axis_fr, status_fr};
    println!("{}  {}", a.title, a.id);
    println!("  axe            : {}", axis_fr(a.axis as i64));
    println!("  statut         : {}", status_fr(&a.status));
    println!("  pilote         : {}", names.name(&a.lead));
    println!("  participants   : {}", names.names(&a.participants));
    match (a.start.as_str(), a.end.as_str()) {
        ("", "") => {}
        (s, "") => println!("  dates          : à partir du {}", day_fr(s)),
        ("", e) => println!("  dates          : jusqu'au {}", day_fr(e)),
        (s, e) => println!("  dates          : du {} au {}", day_fr(s), day_fr(e)),
    }
    if !a.description.is_empty() {
        println!("  description    : {}", a.description);
    }
    if !a.objectives.is_empty() {
        println!("  objectifs      : {}", a.objectives);
    }
    if !a.target_publics.is_empty() {
        println!("  publics cibles : {}", a.target_publics.join(", "));
    }
    match (a.budget_planned.as_str(), a.budget_spent.as_str()) {
        ("", "") => {}
        (p, "") => println!("  budget         : {} prévus", euros(p)),
        ("", s) => println!("  budget         : {} dépensés", euros(s)),
        (p, s) => println!(
            "  budget         : {} prévus, {} dépensés",
            euros(p),
            euros(s)
        ),
    }
    for i in &a.indicators {
        println!(
            "  indicateur     : {} — cible {}, réalisé {}",
            i.name, i.target, i.actual
        );
    }
    for t in &a.tasks {
        let mark = if t.done { "x" } else { " " };
        let site = if t.site.is_empty() {
            String::new()
        } else {
            format!(" ({})", names.name(&t.site))
        };
        let due = if t.due.is_empty() {
            String::new()
        } else {
            format!(" pour le {}", day_fr(&t.due))
        };
        println!("  [{mark}] {} {}{site}{due}", t.id, t.title);
    }
}

/// An amount in euros as written in France: "4 350,80 €".
pub fn euros(amount: &str) -> String {
    let a = amount.trim();
    let (int, frac) = a.split_once('.').unwrap_or((a, ""));
    let (sign, digits) = match int.strip_prefix('-') {
        Some(d) => ("-", d),
        None => ("", int),
    };
    if digits.is_empty() || !digits.chars().all(|c| c.is_ascii_digit()) {
        return format!("{a} €");
    }
    let mut grouped = String::new();
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i) % 3 == 0 {
            grouped.push('\u{202f}');
        }
        grouped.push(c);
    }
    let frac = match frac.len() {
        0 => String::new(),
        1 => format!(",{frac}0"),
        _ => format!(",{frac}"),
    };
    format!("{sign}{grouped}{frac} €")
}

fn print_task(t: &pb::Task) {
    let state = if t.done { "faite" } else { "à faire" };
    println!("{}  {} ({state}) — action {}", t.id, t.title, t.action);
}

pub async fn run(t: &Target, json: bool, cmd: ActionCmd) -> anyhow::Result<()> {
    let conn = connect(t).await?;
    let names = SiteNames::fetch(&conn).await;
    let mut c = ActionsClient::new(conn);
    let action = match cmd {
        ActionCmd::Create {
            title,
            axis,
            description,
            start,
            end,
        } => c
            .create(pb::CreateActionRequest {
                title,
                axis,
                description,
                start,
                end,
            })
            .await
            .map_err(api_error)?,
        ActionCmd::Join { id } => c.join(pb::ActionId { id }).await.map_err(api_error)?,
        ActionCmd::Leave { id } => c.leave(pb::ActionId { id }).await.map_err(api_error)?,
        ActionCmd::Show { id } => c.get(pb::ActionId { id }).await.map_err(api_error)?,
        ActionCmd::Update {
            id,
            title,
            description,
            status,
            objectives,
            publics,
            budget_planned,
            budget_spent,
            indicators,
            start,
            end,
            axis,
        } => {
            let indicators = indicators
                .iter()
                .map(|s| parse_indicator(s))
                .collect::<anyhow::Result<Vec<_>>>()?;
            c.update(pb::UpdateActionRequest {
                id,
                title,
                description,
                status,
                objectives,
                set_target_publics: publics.is_some(),
                target_publics: publics.unwrap_or_default(),
                budget_planned,
                budget_spent,
                indicators,
                start,
                end,
                axis,
                base: Vec::new(),
            })
            .await
            .map_err(api_error)?
        }
        ActionCmd::Task(t) => {
            let task = match t {
                TaskCmd::Add {
                    id,
                    title,
                    site,
                    due,
                } => c
                    .add_task(pb::AddTaskRequest {
                        action: id,
                        title,
                        site,
                        due,
                    })
                    .await
                    .map_err(api_error)?,
                TaskCmd::Done { id, task } => c
                    .complete_task(pb::TaskRef { action: id, task })
                    .await
                    .map_err(api_error)?,
            }
            .into_inner();
            if json {
                print_json(&task);
            } else {
                print_task(&task);
            }
            return Ok(());
        }
        ActionCmd::List { site, axis, status } => {
            let list = c
                .list(pb::ListActionsRequest {
                    site: site.unwrap_or_default(),
                    axis: axis.unwrap_or(0),
                    status: status.unwrap_or_default(),
                })
                .await
                .map_err(api_error)?
                .into_inner();
            if json {
                print_json(&list.actions);
            } else if list.actions.is_empty() {
                println!("Aucune action ne correspond.");
            } else {
                // By title, as people look for them.
                let mut actions = list.actions.clone();
                actions.sort_by_cached_key(|a| crate::domain::fold_for_search(&a.title));
                let rows: Vec<Vec<String>> = actions
                    .iter()
                    .map(|a| {
                        vec![
                            a.title.clone(),
                            a.axis.to_string(),
                            crate::domain::actions::status_fr(&a.status),
                            names.name(&a.lead),
                            a.participants.len().to_string(),
                            a.id.clone(),
                        ]
                    })
                    .collect();
                print_table(&["TITRE", "AXE", "STATUT", "PILOTE", "SITES", "ID"], &rows);
            }
            return Ok(());
        }
    }
    .into_inner();
    if json {
        print_json(&action);
    } else {
        print_action(&action, &names);
    }
    Ok(())
}
