//! `maillage loan ...`: loans between sites.

use clap::Subcommand;

use super::client::{api_error, connect, Target};
use super::output::{print_json, print_table};
use crate::pb;
use crate::pb::loans_client::LoansClient;

#[derive(Debug, Subcommand)]
pub enum LoanCmd {
    /// Demander à un autre site de prêter du matériel sur une période.
    Request {
        /// Identifiants du matériel, séparés par des virgules (d'un seul site prêteur).
        #[arg(long, value_delimiter = ',', required = true)]
        equipment: Vec<String>,
        /// Début : RFC 3339, heure locale (Europe/Paris) ou date.
        #[arg(long)]
        from: String,
        /// Fin : RFC 3339, heure locale ou date (incluse).
        #[arg(long)]
        to: String,
        #[arg(long, default_value = "")]
        purpose: String,
        /// Action commune liée.
        #[arg(long, default_value = "")]
        action: String,
        /// Événement lié.
        #[arg(long, default_value = "")]
        event: String,
    },
    /// Accorder une demande portant sur le matériel de ce site (prêteur).
    Approve {
        id: String,
        #[arg(long, default_value = "")]
        note: String,
    },
    /// Refuser une demande (prêteur).
    Refuse {
        id: String,
        #[arg(long)]
        reason: String,
    },
    /// Enregistrer la sortie, avec l'état du matériel (prêteur).
    Checkout {
        id: String,
        #[arg(long, default_value = "")]
        note: String,
    },
    /// Enregistrer le retour (prêteur).
    Return {
        id: String,
        #[arg(long, default_value = "")]
        note: String,
        #[arg(long, default_value = "")]
        incident: String,
    },
    /// Annuler une demande avant la sortie (emprunteur).
    Cancel {
        id: String,
        #[arg(long, default_value = "")]
        note: String,
    },
    /// Lister les prêts du réseau.
    List {
        #[arg(long)]
        site: Option<String>,
        /// État : demandé, accordé, refusé, sorti, rendu, annulé ou en retard (ou
        /// requested, approved, refused, checked_out, returned, cancelled, overdue).
        #[arg(long)]
        state: Option<String>,
        /// lender ou borrower, par rapport à --site (le site de ce nœud par défaut).
        #[arg(long = "as")]
        side: Option<String>,
    },
    /// Afficher un prêt : demande, décisions, état.
    Show { id: String },
}

fn state_fr(s: &str) -> &str {
    match s {
        "requested" => "demandé",
        "approved" => "accordé",
        "refused" => "refusé",
        "checked_out" => "sorti",
        "returned" => "rendu",
        "cancelled" => "annulé",
        other => other,
    }
}

fn print_loan(l: &pb::Loan) {
    let overdue = if l.overdue { " — EN RETARD" } else { "" };
    println!("{}  {}{}", l.id, state_fr(&l.state), overdue);
    println!("  prêteur     : {}", l.lender);
    println!("  emprunteur  : {}", l.borrower);
    println!("  matériel    : {}", l.equipment.join(", "));
    println!("  période     : {} → {}", l.from, l.to);
    if !l.purpose.is_empty() {
        println!("  objet       : {}", l.purpose);
    }
    let steps = [
        ("demandé", &l.requested),
        ("accordé", &l.approved),
        ("refusé", &l.refused),
        ("sorti", &l.checked_out),
        ("rendu", &l.returned),
        ("annulé", &l.cancelled),
    ];
    for (label, t) in steps {
        if let Some(t) = t {
            let note = if t.note.is_empty() {
                String::new()
            } else {
                format!(" — {}", t.note)
            };
            println!("  {label:<11} : {} par {} ({}){note}", t.at, t.site, t.role);
        }
    }
    if !l.incident.is_empty() {
        println!("  incident    : {}", l.incident);
    }
    if !l.conflicts.is_empty() {
        println!("  CONFLIT avec : {}", l.conflicts.join(", "));
    }
}

pub async fn run(t: &Target, json: bool, cmd: LoanCmd) -> anyhow::Result<()> {
    let mut c = LoansClient::new(connect(t).await?);
    let action = |id: String, note: String| pb::LoanAction { id, note };
    let loan = match cmd {
        LoanCmd::Request {
            equipment,
            from,
            to,
            purpose,
            action,
            event,
        } => c
            .request_loan(pb::LoanRequestInput {
                equipment,
                from,
                to,
                purpose,
                action,
                event,
            })
            .await
            .map_err(api_error)?,
        LoanCmd::Approve { id, note } => c.approve(action(id, note)).await.map_err(api_error)?,
        LoanCmd::Refuse { id, reason } => c.refuse(action(id, reason)).await.map_err(api_error)?,
        LoanCmd::Checkout { id, note } => c.checkout(action(id, note)).await.map_err(api_error)?,
        LoanCmd::Return { id, note, incident } => c
            .return_loan(pb::LoanReturn { id, note, incident })
            .await
            .map_err(api_error)?,
        LoanCmd::Cancel { id, note } => c.cancel(action(id, note)).await.map_err(api_error)?,
        LoanCmd::Show { id } => c.get(pb::LoanId { id }).await.map_err(api_error)?,
        LoanCmd::List { site, state, side } => {
            let list = c
                .list(pb::ListLoansRequest {
                    site: site.unwrap_or_default(),
                    state: state.unwrap_or_default(),
                    r#as: side.unwrap_or_default(),
                })
                .await
                .map_err(api_error)?
                .into_inner();
            if json {
                print_json(&list.loans);
                return Ok(());
            }
            if list.loans.is_empty() {
                println!("Aucun prêt ne correspond.");
            } else {
                let rows: Vec<Vec<String>> = list
                    .loans
                    .iter()
                    .map(|l| {
                        let mut state = state_fr(&l.state).to_string();
                        if l.overdue {
                            state.push_str(" (en retard)");
                        }
                        if !l.conflicts.is_empty() {
                            state.push_str(" (CONFLIT)");
                        }
                        vec![
                            l.id.clone(),
                            l.lender.clone(),
                            l.borrower.clone(),
                            l.equipment.join(","),
                            format!("{} → {}", l.from, l.to),
                            state,
                        ]
                    })
                    .collect();
                print_table(
                    &["ID", "PRÊTEUR", "EMPRUNTEUR", "MATÉRIEL", "PÉRIODE", "ÉTAT"],
                    &rows,
                );
            }
            for conflict in &list.conflicts {
                super::output::print_conflict(&conflict.equipment, &conflict.loans);
            }
            return Ok(());
        }
    }
    .into_inner();
    if json {
        print_json(&loan);
    } else {
        print_loan(&loan);
    }
    Ok(())
}
