//! `maillage report indicators|bilan`: indicators as a table, JSON or CSV,
//! and a site's bilan as CSV, JSON or Markdown.

use std::io::Write;

use anyhow::Context;
use clap::{Args, Subcommand, ValueEnum};
use serde_json::{json, Map, Value};

use super::client::{api_error, connect, Target};
use super::output::print_table;
use crate::pb::{self, reports_client::ReportsClient};

#[derive(Debug, Clone, Copy, PartialEq, ValueEnum)]
pub enum IndicatorFormat {
    Table,
    Json,
    Csv,
}

#[derive(Debug, Clone, Copy, PartialEq, ValueEnum)]
pub enum BilanFormat {
    Csv,
    Json,
    Md,
}

#[derive(Debug, Args)]
pub struct Period {
    /// Premier jour de la période (AAAA-MM-JJ).
    #[arg(long)]
    pub from: Option<String>,
    /// Dernier jour de la période, inclus (AAAA-MM-JJ).
    #[arg(long)]
    pub to: Option<String>,
    /// Année scolaire, du 1er septembre au 31 août : par exemple 2025-2026.
    #[arg(long)]
    pub school_year: Option<String>,
}

#[derive(Debug, Subcommand)]
pub enum ReportCmd {
    /// Les indicateurs du réseau (ou d'un site, d'un axe) sur une période ;
    /// sans période, l'année scolaire en cours.
    Indicators {
        #[arg(long, default_value = "")]
        site: String,
        /// Axe ASTERIE : 1, 2 ou 3.
        #[arg(long, default_value_t = 0)]
        axis: u32,
        #[command(flatten)]
        period: Period,
        /// Regrouper par site, mois, axe ou catégorie de matériel.
        #[arg(long, value_parser = ["site", "month", "axis", "category"])]
        by: Option<String>,
        #[arg(long, value_enum, default_value = "table")]
        format: IndicatorFormat,
        /// Écrire dans ce fichier plutôt qu'à l'écran.
        #[arg(long)]
        out: Option<std::path::PathBuf>,
    },
    /// Le bilan d'un site sur une période : indicateurs, événements et
    /// fréquentation, prêts donnés et reçus, actions, achats.
    Bilan {
        #[arg(long)]
        site: String,
        #[command(flatten)]
        period: Period,
        /// Fichier à écrire (sinon, à l'écran).
        #[arg(long)]
        out: Option<std::path::PathBuf>,
        #[arg(long, value_enum, default_value = "csv")]
        format: BilanFormat,
    },
}

/// A figure as JSON: a number for counts, a string for amounts and rates.
fn value(f: &pb::Figure) -> Value {
    if f.integer {
        f.value
            .parse::<i64>()
            .map(Value::from)
            .unwrap_or_else(|_| Value::from(f.value.clone()))
    } else {
        Value::from(f.value.clone())
    }
}

fn figures_json(f: &[pb::Figure]) -> Value {
    Value::Object(
        f.iter()
            .map(|f| (f.name.clone(), value(f)))
            .collect::<Map<String, Value>>(),
    )
}

/// The JSON of an indicator report (the contract of `--format json`).
pub fn indicators_json(r: &pb::IndicatorReport) -> Value {
    json!({
        "from": r.from,
        "to": r.to,
        "site": r.site,
        "axis": r.axis,
        "by": r.by,
        "generated_at": r.generated_at,
        "groups": r.groups.iter().map(|g| json!({
            "key": g.key,
            "label": g.label,
            "indicators": figures_json(&g.figures),
        })).collect::<Vec<_>>(),
        "total": figures_json(&r.total),
    })
}

fn csv_writer(out: Vec<u8>) -> csv::Writer<Vec<u8>> {
    csv::WriterBuilder::new().flexible(true).from_writer(out)
}

/// CSV of an indicator report: one row per group and indicator.
pub fn indicators_csv(r: &pb::IndicatorReport) -> anyhow::Result<Vec<u8>> {
    let mut w = csv_writer(Vec::new());
    w.write_record(["group", "label", "indicator", "value"])?;
    for g in &r.groups {
        for f in &g.figures {
            w.write_record([&g.key, &g.label, &f.name, &f.value])?;
        }
    }
    for f in &r.total {
        w.write_record(["total", "total", &f.name, &f.value])?;
    }
    Ok(w.into_inner()?)
}

fn indicators_table(r: &pb::IndicatorReport) -> String {
    let mut out = format!("Indicateurs du {} au {}", r.from, r.to);
    if !r.site.is_empty() {
        out.push_str(&format!(", site {}", r.site));
    }
    if r.axis != 0 {
        out.push_str(&format!(", axe {}", r.axis));
    }
    out.push('\n');
    out
}

fn write_out(path: &Option<std::path::PathBuf>, bytes: &[u8]) -> anyhow::Result<()> {
    match path {
        Some(p) => {
            let tmp = p.with_extension("part");
            std::fs::write(&tmp, bytes)
                .with_context(|| format!("écriture de {}", tmp.display()))?;
            std::fs::rename(&tmp, p).with_context(|| format!("écriture de {}", p.display()))?;
            eprintln!("Écrit : {}", p.display());
            Ok(())
        }
        None => {
            std::io::stdout().write_all(bytes)?;
            Ok(())
        }
    }
}

/// Spreadsheets open UTF-8 CSV correctly with this mark first.
const BOM: &[u8] = b"\xEF\xBB\xBF";

fn bilan_json(b: &pb::BilanReport) -> Value {
    let ind = b.indicators.clone().unwrap_or_default();
    json!({
        "site": b.site,
        "site_name": b.site_name,
        "from": b.from,
        "to": b.to,
        "generated_at": b.generated_at,
        "indicators": figures_json(&ind.total),
        "events": b.events,
        "loans_given": b.loans_given,
        "loans_received": b.loans_received,
        "actions": b.actions,
        "purchases": b.purchases,
    })
}

/// One clearly sectioned CSV: every row starts with its section's name, and
/// each section opens with its own header row.
pub fn bilan_csv(b: &pb::BilanReport) -> anyhow::Result<Vec<u8>> {
    let mut w = csv_writer(BOM.to_vec());
    let ind = b.indicators.clone().unwrap_or_default();
    w.write_record(["section", "indicator", "value"])?;
    for f in &ind.total {
        w.write_record(["indicators", &f.name, &f.value])?;
    }
    w.write_record([""])?;
    w.write_record([
        "section",
        "id",
        "title",
        "kind",
        "start",
        "occurrences",
        "cancelled",
        "has_attendance",
        "pupils",
        "teachers",
        "families",
        "partners",
    ])?;
    for e in &b.events {
        w.write_record([
            "events".to_string(),
            e.id.clone(),
            e.title.clone(),
            e.kind.clone(),
            e.start.clone(),
            e.occurrences.to_string(),
            e.cancelled.to_string(),
            e.has_attendance.to_string(),
            e.pupils.to_string(),
            e.teachers.to_string(),
            e.families.to_string(),
            e.partners.to_string(),
        ])?;
    }
    for (section, loans) in [
        ("loans_given", &b.loans_given),
        ("loans_received", &b.loans_received),
    ] {
        w.write_record([""])?;
        w.write_record([
            "section",
            "id",
            "lender",
            "borrower",
            "state",
            "from",
            "to",
            "items",
            "item_days",
            "purpose",
            "action",
        ])?;
        for l in loans {
            w.write_record([
                section.to_string(),
                l.id.clone(),
                l.lender.clone(),
                l.borrower.clone(),
                l.state.clone(),
                l.from.clone(),
                l.to.clone(),
                l.items.join(" "),
                l.item_days.to_string(),
                l.purpose.clone(),
                l.action.clone(),
            ])?;
        }
    }
    w.write_record([""])?;
    w.write_record([
        "section",
        "id",
        "title",
        "axis",
        "status",
        "lead",
        "role",
        "start",
        "end",
        "budget_planned",
        "budget_spent",
    ])?;
    for a in &b.actions {
        w.write_record([
            "actions".to_string(),
            a.id.clone(),
            a.title.clone(),
            a.axis.to_string(),
            a.status.clone(),
            a.lead.clone(),
            a.role.clone(),
            a.start.clone(),
            a.end.clone(),
            a.budget_planned.clone(),
            a.budget_spent.clone(),
        ])?;
    }
    w.write_record([""])?;
    w.write_record([
        "section",
        "id",
        "object",
        "funding",
        "state",
        "submitted_on",
        "total_ttc",
    ])?;
    for p in &b.purchases {
        w.write_record([
            "purchases",
            &p.id,
            &p.object,
            &p.funding,
            &p.state,
            &p.submitted_on,
            &p.total_ttc,
        ])?;
    }
    Ok(w.into_inner()?)
}

fn md_escape(s: &str) -> String {
    s.replace('|', "\\|").replace('\n', " ")
}

fn md_table(out: &mut String, header: &[&str], rows: Vec<Vec<String>>) {
    if rows.is_empty() {
        out.push_str("_Aucun._\n\n");
        return;
    }
    out.push_str(&format!("| {} |\n", header.join(" | ")));
    out.push_str(&format!("|{}\n", " --- |".repeat(header.len())));
    for r in rows {
        let cells: Vec<String> = r.iter().map(|c| md_escape(c)).collect();
        out.push_str(&format!("| {} |\n", cells.join(" | ")));
    }
    out.push('\n');
}

fn bilan_md(b: &pb::BilanReport) -> String {
    let ind = b.indicators.clone().unwrap_or_default();
    let name = if b.site_name.is_empty() {
        &b.site
    } else {
        &b.site_name
    };
    let mut out = format!(
        "# Bilan de {name} ({})\n\nPériode : du {} au {}. Établi le {}.\n\n## Indicateurs\n\n",
        b.site, b.from, b.to, b.generated_at
    );
    md_table(
        &mut out,
        &["indicateur", "valeur"],
        ind.total
            .iter()
            .map(|f| vec![f.name.clone(), f.value.clone()])
            .collect(),
    );
    out.push_str("## Événements et fréquentation\n\n");
    md_table(
        &mut out,
        &[
            "événement",
            "type",
            "début",
            "séances",
            "élèves",
            "enseignants",
            "familles",
            "partenaires",
        ],
        b.events
            .iter()
            .map(|e| {
                let title = if e.cancelled {
                    format!("{} (annulé)", e.title)
                } else {
                    e.title.clone()
                };
                let n = |v: i64| {
                    if e.has_attendance {
                        v.to_string()
                    } else {
                        "–".into()
                    }
                };
                vec![
                    title,
                    e.kind.clone(),
                    e.start.clone(),
                    e.occurrences.to_string(),
                    n(e.pupils),
                    n(e.teachers),
                    n(e.families),
                    n(e.partners),
                ]
            })
            .collect(),
    );
    for (title, loans, other) in [
        ("## Prêts donnés\n\n", &b.loans_given, "emprunteur"),
        ("## Prêts reçus\n\n", &b.loans_received, "prêteur"),
    ] {
        out.push_str(title);
        md_table(
            &mut out,
            &["prêt", other, "état", "du", "au", "objets", "objets-jours"],
            loans
                .iter()
                .map(|l| {
                    vec![
                        l.id.clone(),
                        if other == "emprunteur" {
                            l.borrower.clone()
                        } else {
                            l.lender.clone()
                        },
                        l.state.clone(),
                        l.from.clone(),
                        l.to.clone(),
                        l.items.len().to_string(),
                        l.item_days.to_string(),
                    ]
                })
                .collect(),
        );
    }
    out.push_str("## Actions communes\n\n");
    md_table(
        &mut out,
        &[
            "action",
            "axe",
            "statut",
            "rôle",
            "budget prévu €",
            "dépensé €",
        ],
        b.actions
            .iter()
            .map(|a| {
                vec![
                    a.title.clone(),
                    a.axis.to_string(),
                    a.status.clone(),
                    if a.role == "lead" {
                        "pilote"
                    } else {
                        "partenaire"
                    }
                    .to_string(),
                    a.budget_planned.clone(),
                    a.budget_spent.clone(),
                ]
            })
            .collect(),
    );
    out.push_str("## Demandes d'achat\n\n");
    md_table(
        &mut out,
        &[
            "demande",
            "objet",
            "financement",
            "état",
            "soumise le",
            "total TTC €",
        ],
        b.purchases
            .iter()
            .map(|p| {
                vec![
                    p.id.clone(),
                    p.object.clone(),
                    p.funding.clone(),
                    p.state.clone(),
                    p.submitted_on.clone(),
                    p.total_ttc.clone(),
                ]
            })
            .collect(),
    );
    out
}

pub async fn run(t: &Target, json_out: bool, cmd: ReportCmd) -> anyhow::Result<()> {
    let mut c = ReportsClient::new(connect(t).await?);
    match cmd {
        ReportCmd::Indicators {
            site,
            axis,
            period,
            by,
            format,
            out,
        } => {
            let r = c
                .indicators(pb::IndicatorsRequest {
                    site,
                    axis,
                    from: period.from.unwrap_or_default(),
                    to: period.to.unwrap_or_default(),
                    school_year: period.school_year.unwrap_or_default(),
                    by: by.unwrap_or_default(),
                })
                .await
                .map_err(api_error)?
                .into_inner();
            let format = if json_out {
                IndicatorFormat::Json
            } else {
                format
            };
            match format {
                IndicatorFormat::Json => {
                    let mut s = serde_json::to_string_pretty(&indicators_json(&r))?;
                    s.push('\n');
                    write_out(&out, s.as_bytes())?;
                }
                IndicatorFormat::Csv => write_out(&out, &indicators_csv(&r)?)?,
                IndicatorFormat::Table if out.is_some() => {
                    anyhow::bail!("--out : choisissez --format csv ou json pour un fichier")
                }
                IndicatorFormat::Table => {
                    print!("{}", indicators_table(&r));
                    let mut header = vec!["indicateur"];
                    header.extend(r.groups.iter().map(|g| g.key.as_str()));
                    header.push("total");
                    let groups: Vec<std::collections::HashMap<&str, &str>> = r
                        .groups
                        .iter()
                        .map(|g| {
                            g.figures
                                .iter()
                                .map(|f| (f.name.as_str(), f.value.as_str()))
                                .collect()
                        })
                        .collect();
                    let rows: Vec<Vec<String>> = r
                        .total
                        .iter()
                        .map(|f| {
                            let mut row = vec![f.name.clone()];
                            for g in &groups {
                                row.push(g.get(f.name.as_str()).unwrap_or(&"").to_string());
                            }
                            row.push(f.value.clone());
                            row
                        })
                        .collect();
                    print_table(&header, &rows);
                }
            }
        }
        ReportCmd::Bilan {
            site,
            period,
            out,
            format,
        } => {
            let b = c
                .bilan(pb::BilanRequest {
                    site,
                    from: period.from.unwrap_or_default(),
                    to: period.to.unwrap_or_default(),
                    school_year: period.school_year.unwrap_or_default(),
                })
                .await
                .map_err(api_error)?
                .into_inner();
            let bytes = match format {
                BilanFormat::Json => {
                    let mut s = serde_json::to_string_pretty(&bilan_json(&b))?;
                    s.push('\n');
                    s.into_bytes()
                }
                BilanFormat::Csv => bilan_csv(&b)?,
                BilanFormat::Md => bilan_md(&b).into_bytes(),
            };
            write_out(&out, &bytes)?;
        }
    }
    Ok(())
}
