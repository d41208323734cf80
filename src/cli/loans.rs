//! `maillage loan ...`: loans between sites.

use clap::Subcommand;

use super::client::{api_error, connect, Target};
use super::output::{print_json, print_table};
use crate::pb;
use crate::pb::loans_client::LoansClient;

#[derive(Debug, Subcommand)]
pub enum LoanCmd {
    /// Ask another site to lend items for a time window.
    Request {
        /// Item ids, comma-separated (all of one lender site).
        #[arg(long, value_delimiter = ',', required = true)]
        equipment: Vec<String>,
        /// Start: RFC 3339, local time (Europe/Paris) or a date.
        #[arg(long)]
        from: String,
        /// End: RFC 3339, local time or a date (included).
        #[arg(long)]
        to: String,
        #[arg(long, default_value = "")]
        purpose: String,
        /// Linked common action id.
        #[arg(long, default_value = "")]
        action: String,
        /// Linked event id.
        #[arg(long, default_value = "")]
        event: String,
    },
    /// Approve a request for this site's items (lender).
    Approve {
        id: String,
        #[arg(long, default_value = "")]
        note: String,
    },
    /// Refuse a request (lender).
    Refuse {
        id: String,
        #[arg(long)]
        reason: String,
    },
    /// Record the pick-up, with the condition of the items (lender).
    Checkout {
        id: String,
        #[arg(long, default_value = "")]
        note: String,
    },
    /// Record the return (lender).
    Return {
        id: String,
        #[arg(long, default_value = "")]
        note: String,
        #[arg(long, default_value = "")]
        incident: String,
    },
    /// Cancel a request before check-out (borrower).
    Cancel {
        id: String,
        #[arg(long, default_value = "")]
        note: String,
    },
    /// List the network's loans.
    List {
        #[arg(long)]
        site: Option<String>,
        /// requested, approved, refused, checked_out, returned, cancelled or overdue.
        #[arg(long)]
        state: Option<String>,
        /// lender or borrower, relative to --site (this node's site by default).
        #[arg(long = "as")]
        side: Option<String>,
    },
    /// Show one loan: request, decisions, state.
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
                println!(
                    "CONFLIT : le matériel {} est accordé à des prêts qui se chevauchent : {}",
                    conflict.equipment,
                    conflict.loans.join(", ")
                );
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
