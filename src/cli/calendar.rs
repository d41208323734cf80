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
        /// Type : séminaire, atelier, manifestation, réunion, formation ou action
        /// itinérante (les mots de l'API seminar, workshop… sont acceptés aussi).
        #[arg(long)]
        kind: String,
        /// Début : JJ/MM/AAAA HH:MM (heure de Paris), par exemple 16/12/2026 14:00 ;
        /// une date seule (16/12/2026) avec --all-day.
        #[arg(long)]
        start: String,
        /// Fin : JJ/MM/AAAA HH:MM (heure de Paris) ; avec --all-day, le dernier
        /// jour, inclus.
        #[arg(long)]
        end: String,
        #[arg(long)]
        all_day: bool,
        /// Répétition, écrite comme une règle iCalendar (RRULE) : par exemple
        /// FREQ=WEEKLY;BYDAY=WE;COUNT=10 pour chaque mercredi, 10 séances, ou
        /// FREQ=WEEKLY;INTERVAL=2;UNTIL=20270630 pour toutes les deux semaines
        /// jusqu'au 30/06/2027 (FREQ=DAILY : chaque jour, MONTHLY : chaque mois).
        #[arg(long, default_value = "")]
        rrule: String,
        /// Occurrences exclues (leur début), séparées par des virgules.
        #[arg(long, value_delimiter = ',')]
        exdate: Vec<String>,
        #[arg(long, default_value = "")]
        place: String,
        /// Publics, séparés par des virgules : élèves, enseignants, familles,
        /// partenaires (les mots de l'API pupils, teachers… sont acceptés aussi).
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
    /// Enregistrer (ou corriger) la fréquentation d'une séance, par public,
    /// après son début ; un public non donné compte 0.
    Attendance {
        id: String,
        /// Jour de la séance (JJ/MM/AAAA) : obligatoire pour un événement
        /// qui se répète, chaque séance a sa fréquentation.
        #[arg(long, default_value = "")]
        occurrence: String,
        #[arg(long, allow_negative_numbers = true, default_value_t = 0)]
        pupils: i64,
        #[arg(long, allow_negative_numbers = true, default_value_t = 0)]
        teachers: i64,
        #[arg(long, allow_negative_numbers = true, default_value_t = 0)]
        families: i64,
        #[arg(long, allow_negative_numbers = true, default_value_t = 0)]
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
    /// Les abonnements pour les agendas (Thunderbird, Outlook, téléphone) :
    /// une adresse secrète, que l'agenda consulte de lui-même.
    #[command(subcommand)]
    Feed(FeedCmd),
}

#[derive(Debug, Subcommand)]
pub enum FeedCmd {
    /// Créer un abonnement aux événements d'un site, d'une action, ou de tout
    /// le réseau (ni --site ni --action) ; l'adresse n'est affichée qu'une fois.
    Add {
        #[arg(long, default_value = "")]
        site: String,
        #[arg(long, default_value = "")]
        action: String,
        /// À quoi il sert, par exemple « agenda de l'accueil ».
        #[arg(long, default_value = "")]
        name: String,
    },
    /// Lister les abonnements de ce nœud (jamais leur adresse).
    List,
    /// Révoquer un abonnement : son adresse cesse de fonctionner.
    Revoke {
        /// Identifiant de l'abonnement, tel que l'affiche la liste.
        id: String,
    },
}

/// "1 élève", "2 élèves", "0 élève".
pub fn count_fr(n: i64, singular: &str, plural: &str) -> String {
    if n.abs() <= 1 {
        format!("{n} {singular}")
    } else {
        format!("{n} {plural}")
    }
}

/// Attendance as a sentence: "24 élèves, 2 enseignants, 1 partenaire".
pub fn attendance_fr(a: &pb::Attendance) -> String {
    [
        count_fr(a.pupils, "élève", "élèves"),
        count_fr(a.teachers, "enseignant", "enseignants"),
        count_fr(a.families, "membre des familles", "membres des familles"),
        count_fr(a.partners, "partenaire", "partenaires"),
    ]
    .join(", ")
}

/// The status of an event in French.
pub fn status_fr(status: &str) -> &str {
    match status {
        "confirmed" => "confirmé",
        "cancelled" => "annulé",
        other => other,
    }
}

/// When an event (or an occurrence) takes place, in Paris time: all-day
/// events stored as dates (the end is the last day), timed ones as instants.
pub fn when_fr(start: &str, end: &str, all_day: bool) -> String {
    use crate::domain::time::{fr_date, fr_period, parse_date};
    if all_day {
        if let (Ok(s), Ok(e)) = (parse_date(start), parse_date(end)) {
            return if e <= s {
                fr_date(s)
            } else {
                format!("{} → {}", fr_date(s), fr_date(e))
            };
        }
    }
    fr_period(start, end)
}

fn day_fr(day: &str) -> String {
    crate::domain::time::parse_date(day)
        .map(crate::domain::time::fr_date)
        .unwrap_or_else(|_| day.to_string())
}

fn print_event(e: &pb::Event, names: &super::names::SiteNames) {
    use crate::domain::calendar::{audience_label, kind_label};
    println!("{}  {}", e.id, e.title);
    println!("  organisé par    : {}", names.name(&e.site));
    println!("  type            : {}", kind_label(&e.kind));
    let when = when_fr(&e.start, &e.end, e.all_day);
    if e.rrule.is_empty() {
        println!("  quand           : {when}");
    } else {
        println!("  première fois   : {when}");
        println!(
            "  répétition      : {}",
            crate::web::event_form::describe_rrule(&e.rrule)
        );
    }
    if !e.exdates.is_empty() {
        let days: Vec<String> = e
            .exdates
            .iter()
            .map(|x| {
                if e.all_day {
                    day_fr(x)
                } else {
                    crate::domain::time::fr_instant(x)
                }
            })
            .collect();
        println!("  sauf            : {}", days.join(" ; "));
    }
    if !e.place.is_empty() {
        println!("  lieu            : {}", e.place);
    }
    if !e.audience.is_empty() {
        let a: Vec<&str> = e.audience.iter().map(|a| audience_label(a)).collect();
        println!("  public          : {}", a.join(", "));
    }
    println!("  statut          : {}", status_fr(&e.status));
    if let Some(a) = &e.attendance {
        println!("  présence        : {}", attendance_fr(a));
    }
    for o in &e.occurrence_attendance {
        if let Some(a) = &o.attendance {
            println!("  séance du {} : {}", day_fr(&o.day), attendance_fr(a));
        }
    }
}

pub async fn event(t: &Target, json: bool, cmd: EventCmd) -> anyhow::Result<()> {
    let conn = connect(t).await?;
    let names = super::names::SiteNames::fetch(&conn).await;
    let mut c = CalendarClient::new(conn);
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
            occurrence,
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
                occurrence,
            })
            .await
            .map_err(api_error)?,
        EventCmd::Show { id } => c.get_event(pb::EventId { id }).await.map_err(api_error)?,
    }
    .into_inner();
    if json {
        print_json(&e);
    } else {
        print_event(&e, &names);
    }
    Ok(())
}

pub async fn calendar(t: &Target, json: bool, args: CalendarArgs) -> anyhow::Result<()> {
    let conn = connect(t).await?;
    let names = super::names::SiteNames::fetch(&conn).await;
    let mut c = CalendarClient::new(conn);
    match args.cmd {
        Some(CalendarCmd::Feed(cmd)) => {
            let what = |f: &pb::CalendarFeed| {
                if !f.site.is_empty() {
                    format!("les événements de {}", names.name(&f.site))
                } else if !f.action.is_empty() {
                    format!("les événements de l'action {}", f.action)
                } else {
                    "tout le calendrier du réseau".to_string()
                }
            };
            match cmd {
                FeedCmd::Add { site, action, name } => {
                    let f = c
                        .create_feed(pb::CreateFeedRequest { site, action, name })
                        .await
                        .map_err(api_error)?
                        .into_inner();
                    if json {
                        print_json(&f);
                    } else {
                        println!("Abonnement {} créé : {}.", f.id, what(&f));
                        println!("Adresse à donner à l'agenda (elle ne sera plus affichée) :");
                        println!("  {}", f.url);
                    }
                }
                FeedCmd::List => {
                    let list = c
                        .list_feeds(pb::ListFeedsRequest {})
                        .await
                        .map_err(api_error)?
                        .into_inner()
                        .feeds;
                    if json {
                        print_json(&list);
                    } else if list.is_empty() {
                        println!("Aucun abonnement.");
                    } else {
                        let rows: Vec<Vec<String>> = list
                            .iter()
                            .map(|f| {
                                vec![
                                    f.id.clone(),
                                    f.name.clone(),
                                    what(f),
                                    crate::domain::time::fr_instant(&f.created_at),
                                    if f.revoked_at.is_empty() {
                                        "actif".into()
                                    } else {
                                        format!(
                                            "révoqué le {}",
                                            crate::domain::time::fr_instant(&f.revoked_at)
                                        )
                                    },
                                ]
                            })
                            .collect();
                        print_table(&["ID", "NOM", "CONTENU", "CRÉÉ LE", "ÉTAT"], &rows);
                    }
                }
                FeedCmd::Revoke { id } => {
                    let f = c
                        .revoke_feed(pb::FeedId { id })
                        .await
                        .map_err(api_error)?
                        .into_inner();
                    if json {
                        print_json(&f);
                    } else {
                        println!(
                            "Abonnement {} révoqué : son adresse ne fonctionne plus.",
                            f.id
                        );
                    }
                }
            }
        }
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
                println!(
                    "{} dans {}.",
                    count_fr(events as i64, "événement écrit", "événements écrits"),
                    out.display()
                );
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
                            crate::domain::time::fr_period(&o.start, &o.end),
                            names.name(&o.site),
                            title,
                            crate::domain::calendar::kind_label(&o.kind).to_string(),
                            o.event_id.clone(),
                        ]
                    })
                    .collect();
                print_table(&["QUAND", "SITE", "TITRE", "TYPE", "ID"], &rows);
            }
        }
    }
    Ok(())
}
