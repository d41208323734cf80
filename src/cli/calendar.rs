//! `maillage event ...` and `maillage calendar ...`: the network calendar.

use std::path::PathBuf;

use clap::{Args, Subcommand};

use super::client::{api_error, connect, Target};
use super::output::{print_json, print_table};
use crate::pb;
use crate::pb::calendar_client::CalendarClient;

#[derive(Debug, Subcommand)]
pub enum EventCmd {
    /// Publier un événement (du site, ou du réseau sur un nœud académique).
    Add {
        #[arg(long)]
        title: String,
        /// seminar, workshop, exhibition, meeting, training, roving_action (ou séminaire, atelier, manifestation, réunion, formation, action itinérante).
        #[arg(long)]
        kind: String,
        /// RFC 3339 avec décalage, ou heure locale Europe/Paris ; une date avec --all-day.
        #[arg(long)]
        start: String,
        #[arg(long)]
        end: String,
        #[arg(long)]
        all_day: bool,
        /// Récurrence, par exemple FREQ=WEEKLY;BYDAY=WE;COUNT=10.
        #[arg(long, default_value = "")]
        rrule: String,
        /// Occurrences exclues (leur début), séparées par des virgules.
        #[arg(long, value_delimiter = ',')]
        exdate: Vec<String>,
        #[arg(long, default_value = "")]
        place: String,
        /// Publics : pupils, teachers, families, partners (ou élèves, enseignants, familles, partenaires).
        #[arg(long, value_delimiter = ',')]
        audience: Vec<String>,
        /// Action commune liée.
        #[arg(long, default_value = "")]
        action: String,
        /// Sites participants (séparés par des virgules).
        #[arg(long, value_delimiter = ',')]
        participants: Vec<String>,
    },
    /// Modifier un événement de ce site.
    Update {
        id: String,
        #[arg(long)]
        title: Option<String>,
        #[arg(long)]
        kind: Option<String>,
        #[arg(long)]
        start: Option<String>,
        #[arg(long)]
        end: Option<String>,
        #[arg(long)]
        all_day: Option<bool>,
        /// Une valeur vide supprime la récurrence.
        #[arg(long)]
        rrule: Option<String>,
        #[arg(long, value_delimiter = ',')]
        exdate: Option<Vec<String>>,
        #[arg(long)]
        place: Option<String>,
        #[arg(long, value_delimiter = ',')]
        audience: Option<Vec<String>>,
        #[arg(long)]
        action: Option<String>,
    },
    /// Annuler un événement (il reste au calendrier, annulé).
    Cancel { id: String },
    /// Enregistrer la fréquentation par public après l'événement.
    Attendance {
        id: String,
        #[arg(long, allow_negative_numbers = true)]
        pupils: i64,
        #[arg(long, allow_negative_numbers = true)]
        teachers: i64,
        #[arg(long, allow_negative_numbers = true)]
        families: i64,
        #[arg(long, allow_negative_numbers = true)]
        partners: i64,
    },
    /// Afficher un événement.
    Show { id: String },
}

#[derive(Debug, Args)]
#[command(args_conflicts_with_subcommands = true)]
pub struct CalendarArgs {
    #[command(subcommand)]
    pub cmd: Option<CalendarCmd>,
    #[command(flatten)]
    pub query: Query,
}

#[derive(Debug, Args, Default)]
pub struct Query {
    /// Premier jour (ou instant) ; aujourd'hui par défaut.
    #[arg(long, default_value = "")]
    pub from: String,
    /// Dernier jour (inclus) ou instant ; 90 jours après --from par défaut.
    #[arg(long, default_value = "")]
    pub to: String,
    #[arg(long, default_value = "")]
    pub site: String,
    #[arg(long, default_value = "")]
    pub action: String,
}

#[derive(Debug, Subcommand)]
pub enum CalendarCmd {
    /// Écrire le calendrier en fichier iCalendar (.ics).
    Export {
        #[arg(long, default_value = "")]
        site: String,
        #[arg(long, default_value = "")]
        action: String,
        #[arg(long)]
        out: PathBuf,
    },
}

fn print_event(e: &pb::Event) {
    println!("{}  {}", e.id, e.title);
    println!("  organisé par : {}", e.site);
    println!("  type         : {}", e.kind);
    let when = if e.all_day { "journée(s)" } else { "horaire" };
    println!("  quand        : {} → {} ({when})", e.start, e.end);
    if !e.rrule.is_empty() {
        println!("  récurrence   : {}", e.rrule);
    }
    if !e.exdates.is_empty() {
        println!("  sauf         : {}", e.exdates.join(", "));
    }
    if !e.place.is_empty() {
        println!("  lieu         : {}", e.place);
    }
    if !e.audience.is_empty() {
        println!("  public       : {}", e.audience.join(", "));
    }
    println!("  statut       : {}", e.status);
    if let Some(a) = &e.attendance {
        println!(
            "  présence     : {} élèves, {} enseignants, {} familles, {} partenaires",
            a.pupils, a.teachers, a.families, a.partners
        );
    }
}

pub async fn event(t: &Target, json: bool, cmd: EventCmd) -> anyhow::Result<()> {
    let mut c = CalendarClient::new(connect(t).await?);
    let e = match cmd {
        EventCmd::Add {
            title,
            kind,
            start,
            end,
            all_day,
            rrule,
            exdate,
            place,
            audience,
            action,
            participants,
        } => c
            .add_event(pb::EventInput {
                title,
                kind,
                start,
                end,
                all_day,
                rrule,
                exdates: exdate,
                place,
                audience,
                action,
                participants,
            })
            .await
            .map_err(api_error)?,
        EventCmd::Update {
            id,
            title,
            kind,
            start,
            end,
            all_day,
            rrule,
            exdate,
            place,
            audience,
            action,
        } => c
            .update_event(pb::UpdateEventRequest {
                id,
                title,
                kind,
                start,
                end,
                all_day,
                rrule,
                set_exdates: exdate.is_some(),
                exdates: exdate.unwrap_or_default(),
                place,
                set_audience: audience.is_some(),
                audience: audience.unwrap_or_default(),
                action,
            })
            .await
            .map_err(api_error)?,
        EventCmd::Cancel { id } => c
            .cancel_event(pb::EventId { id })
            .await
            .map_err(api_error)?,
        EventCmd::Attendance {
            id,
            pupils,
            teachers,
            families,
            partners,
        } => c
            .record_attendance(pb::AttendanceInput {
                id,
                pupils,
                teachers,
                families,
                partners,
            })
            .await
            .map_err(api_error)?,
        EventCmd::Show { id } => c.get_event(pb::EventId { id }).await.map_err(api_error)?,
    }
    .into_inner();
    if json {
        print_json(&e);
    } else {
        print_event(&e);
    }
    Ok(())
}

pub async fn calendar(t: &Target, json: bool, args: CalendarArgs) -> anyhow::Result<()> {
    let mut c = CalendarClient::new(connect(t).await?);
    match args.cmd {
        Some(CalendarCmd::Export { site, action, out }) => {
            let ics = c
                .export_ics(pb::CalendarQuery {
                    site,
                    action,
                    ..Default::default()
                })
                .await
                .map_err(api_error)?
                .into_inner()
                .content;
            std::fs::write(&out, &ics)
                .map_err(|e| anyhow::anyhow!("écriture de {} impossible : {e}", out.display()))?;
            let events = ics.matches("BEGIN:VEVENT").count();
            if json {
                print_json(
                    &serde_json::json!({ "out": out, "events": events, "bytes": ics.len() }),
                );
            } else {
                println!("{events} événement(s) écrits dans {}.", out.display());
            }
        }
        None => {
            let q = args.query;
            let list = c
                .occurrences(pb::CalendarQuery {
                    from: q.from,
                    to: q.to,
                    site: q.site,
                    action: q.action,
                })
                .await
                .map_err(api_error)?
                .into_inner()
                .occurrences;
            if json {
                print_json(&list);
            } else if list.is_empty() {
                println!("Aucun événement sur la période.");
            } else {
                let rows: Vec<Vec<String>> = list
                    .iter()
                    .map(|o| {
                        let mut title = o.title.clone();
                        if o.status == "cancelled" {
                            title.push_str(" (annulé)");
                        }
                        vec![
                            o.start.clone(),
                            o.end.clone(),
                            o.site.clone(),
                            title,
                            o.kind.clone(),
                            o.event_id.clone(),
                        ]
                    })
                    .collect();
                print_table(&["DÉBUT", "FIN", "SITE", "TITRE", "TYPE", "ID"], &rows);
            }
        }
    }
    Ok(())
}
