//! `maillage loan ...`: loans between sites.

use clap::Subcommand;

use super::client::{api_error, connect, Target};
use super::output::{print_json, print_table};
use crate::domain::{loans, time};
use crate::pb;
use crate::pb::loans_client::LoansClient;

#[derive(Debug, Subcommand)]
pub enum LoanCmd {
    /// Demander à un autre site de prêter du matériel sur une période
    /// (elle commence aujourd'hui ou plus tard).
    Request {
        /// Identifiants du matériel (ou leur début), séparés par des virgules
        /// (d'un seul site prêteur).
        #[arg(long, value_delimiter = ',', required = true)]
        equipment: Vec<String>,
        /// Début : date (16/12/2026), date et heure (16/12/2026 14:00, heure de Paris) ou RFC 3339.
        #[arg(long)]
        from: String,
        /// Fin : date (incluse), date et heure, ou RFC 3339.
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
    /// Enregistrer après coup un prêt de matériel de ce site qui a déjà eu
    /// lieu (prêteur, direction) : par exemple les prêts de l'automne d'un
    /// site qui rejoint le réseau en cours d'année.
    Record {
        /// Identifiants du matériel de ce site (ou leur début), séparés par des virgules.
        #[arg(long, value_delimiter = ',', required = true)]
        equipment: Vec<String>,
        /// Site emprunteur (identifiant ou son début).
        #[arg(long)]
        borrower: String,
        /// Début du prêt, passé : date (16/10/2026) ou date et heure.
        #[arg(long)]
        from: String,
        /// Fin du prêt : date (incluse) ou date et heure.
        #[arg(long)]
        to: String,
        /// Le matériel n'est pas encore rendu : le prêt est enregistré comme sorti.
        #[arg(long)]
        not_returned: bool,
        /// Incident constaté au retour (casse, pièce manquante…).
        #[arg(long, default_value = "")]
        incident: String,
        /// Avec --incident : état du matériel, utilisable ou à_réparer.
        #[arg(long, default_value = "")]
        condition: String,
        /// Avec --incident, pour un prêt de plusieurs matériels : ceux qu'il concerne.
        #[arg(long, value_delimiter = ',')]
        incident_equipment: Vec<String>,
        #[arg(long, default_value = "")]
        note: String,
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
    /// Enregistrer le retour (prêteur) ; un incident met à jour le matériel.
    Return {
        id: String,
        #[arg(long, default_value = "")]
        note: String,
        #[arg(long, default_value = "")]
        incident: String,
        /// Avec --incident : utilisable (le matériel reste disponible, état
        /// « usé ») ou à_réparer (il passe en maintenance, hors service).
        #[arg(long, default_value = "")]
        condition: String,
        /// Avec --incident, pour un prêt de plusieurs matériels : ceux qu'il concerne.
        #[arg(long, value_delimiter = ',')]
        incident_equipment: Vec<String>,
    },
    /// Annuler une demande avant la sortie (emprunteur).
    Cancel {
        id: String,
        #[arg(long, default_value = "")]
        note: String,
    },
    /// Lister les prêts du réseau, par date de début.
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

/// A role as people say it.
pub fn role_fr(role: &str) -> &str {
    crate::auth::role_fr(role)
}

/// "Name (id)", or the id alone when it has no other name.
pub fn named(name: &str, id: &str) -> String {
    if name.is_empty() || name == id {
        id.to_string()
    } else {
        format!("{name} ({id})")
    }
}

fn state_line(l: &pb::Loan) -> String {
    let mut s = loans::state_fr(&l.state).to_string();
    if l.overdue {
        s.push_str(", en retard");
    }
    if l.recorded {
        s.push_str(", enregistré après coup");
    }
    s
}

fn print_loan(l: &pb::Loan) {
    println!("Prêt {} : {}", l.id, state_line(l));
    println!("  prêteur     : {}", named(&l.lender_name, &l.lender));
    println!("  emprunteur  : {}", named(&l.borrower_name, &l.borrower));
    let items: Vec<String> = l
        .equipment
        .iter()
        .enumerate()
        .map(|(n, id)| named(l.equipment_names.get(n).map_or("", |s| s.as_str()), id))
        .collect();
    println!("  matériel    : {}", items.join(", "));
    println!("  période     : {}", time::fr_period(&l.from, &l.to));
    if !l.purpose.is_empty() {
        println!("  objet       : {}", l.purpose);
    }
    let note = |t: &pb::Transition| {
        if t.note.is_empty() {
            String::new()
        } else {
            format!(" — {}", t.note)
        }
    };
    // Who acted: the lender or the borrower, by name.
    let who = |site: &str| {
        if site == l.lender {
            named(&l.lender_name, &l.lender)
        } else if site == l.borrower {
            named(&l.borrower_name, &l.borrower)
        } else {
            site.to_string()
        }
    };
    if let Some(t) = &l.recorded_by {
        println!(
            "  enregistré après coup le {} par {} ({}){}",
            time::fr_instant(&t.at),
            who(&t.site),
            role_fr(&t.role),
            note(t)
        );
    }
    let steps = [
        ("demandé", &l.requested),
        ("accordé", &l.approved),
        ("refusé", &l.refused),
        ("sorti", &l.checked_out),
        ("rendu", &l.returned),
        ("annulé", &l.cancelled),
    ];
    if !l.recorded {
        for (label, t) in steps {
            if let Some(t) = t {
                println!(
                    "  {label:<11} : {} par {} ({}){}",
                    time::fr_instant(&t.at),
                    who(&t.site),
                    role_fr(&t.role),
                    note(t)
                );
            }
        }
    }
    if !l.incident.is_empty() {
        let condition = if l.return_condition.is_empty() {
            String::new()
        } else {
            format!(
                " (matériel {})",
                loans::return_condition_fr(&l.return_condition)
            )
        };
        println!("  incident    : {}{condition}", l.incident);
    }
    for o in &l.overlaps {
        println!(
            "  ATTENTION : chevauche le prêt {} ({}, {} à {}, {}{}) ; le site prêteur décidera",
            o.loan,
            named(&o.equipment_name, &o.equipment),
            if o.state == "checked_out" {
                "sorti"
            } else {
                "accordé"
            },
            named(&o.borrower_name, &o.borrower),
            time::fr_period(&o.from, &o.to),
            if o.overdue { ", en retard" } else { "" },
        );
    }
    for c in &l.counted_later {
        println!(
            "  ATTENTION : le taux d'utilisation ne compte {} qu'à partir du {} : les jours de ce prêt avant cette date n'y entrent pas ; si le matériel était déjà là, donnez sa date d'acquisition : maillage equipment update {} --acquired JJ/MM/AAAA",
            named(&c.equipment_name, &c.equipment),
            crate::domain::time::parse_date(&c.counted_from)
                .map(time::fr_date)
                .unwrap_or_else(|_| c.counted_from.clone()),
            c.equipment,
        );
    }
    for o in &l.out_of_service {
        println!(
            "  ATTENTION : {} est {} ; le site prêteur décidera",
            named(&o.equipment_name, &o.equipment),
            crate::domain::equipment::availability_fr(&o.state),
        );
    }
    if !l.conflicts.is_empty() {
        println!("  CONFLIT avec : {}", l.conflicts.join(", "));
    }
}

/// What a request waiting for its decision runs into, for the list: the
/// state of the loan it overlaps (its real one: out, overdue), and its items
/// out of service.
fn pending_warnings(l: &pb::Loan) -> String {
    let mut out = String::new();
    if let Some(o) = l.overlaps.first() {
        let state = if o.overdue {
            "en retard"
        } else if o.state == "checked_out" {
            "sorti"
        } else {
            "accordé"
        };
        out.push_str(&format!(", chevauche un prêt {state}"));
    }
    for o in &l.out_of_service {
        let name = if o.equipment_name.is_empty() {
            &o.equipment
        } else {
            &o.equipment_name
        };
        out.push_str(&format!(
            ", {name} {}",
            crate::domain::equipment::availability_fr(&o.state)
        ));
    }
    out
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
        LoanCmd::Record {
            equipment,
            borrower,
            from,
            to,
            not_returned,
            incident,
            condition,
            incident_equipment,
            note,
        } => c
            .record(pb::LoanRecordInput {
                equipment,
                borrower,
                from,
                to,
                incident,
                note,
                condition,
                not_returned,
                incident_equipment,
            })
            .await
            .map_err(api_error)?,
        LoanCmd::Approve { id, note } => c.approve(action(id, note)).await.map_err(api_error)?,
        LoanCmd::Refuse { id, reason } => c.refuse(action(id, reason)).await.map_err(api_error)?,
        LoanCmd::Checkout { id, note } => c.checkout(action(id, note)).await.map_err(api_error)?,
        LoanCmd::Return {
            id,
            note,
            incident,
            condition,
            incident_equipment,
        } => c
            .return_loan(pb::LoanReturn {
                id,
                note,
                incident,
                condition,
                incident_equipment,
            })
            .await
            .map_err(api_error)?,
        LoanCmd::Cancel { id, note } => c.cancel(action(id, note)).await.map_err(api_error)?,
        LoanCmd::Show { id } => c.get(pb::LoanId { id }).await.map_err(api_error)?,
        LoanCmd::List { site, state, side } => {
            if state.as_deref().is_some_and(|s| s.trim().is_empty()) {
                let values: Vec<&str> = loans::STATES_FR.iter().map(|(_, fr)| *fr).collect();
                anyhow::bail!(
                    "--state vide : donnez un état parmi {} (ou omettez --state pour tous les prêts)",
                    values.join(", ")
                );
            }
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
                        let mut state = state_line(l);
                        state.push_str(&pending_warnings(l));
                        if !l.conflicts.is_empty() {
                            state.push_str(" (CONFLIT)");
                        }
                        let items = if l.equipment_names.len() == l.equipment.len() {
                            l.equipment_names.join(", ")
                        } else {
                            l.equipment.join(", ")
                        };
                        vec![
                            l.id.clone(),
                            time::fr_period(&l.from, &l.to),
                            items,
                            if l.lender_name.is_empty() {
                                l.lender.clone()
                            } else {
                                l.lender_name.clone()
                            },
                            if l.borrower_name.is_empty() {
                                l.borrower.clone()
                            } else {
                                l.borrower_name.clone()
                            },
                            state,
                        ]
                    })
                    .collect();
                print_table(
                    &["ID", "PÉRIODE", "MATÉRIEL", "PRÊTEUR", "EMPRUNTEUR", "ÉTAT"],
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
