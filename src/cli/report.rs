//! `maillage report indicators|bilan`: indicators as a table, JSON or CSV,
//! and a site's bilan as CSV, JSON or Markdown. The renderers live in
//! [`crate::report::render`], shared with the web pages.

use std::io::Write;

use super::client::{api_error, connect, Target};
use super::output::print_table;
use crate::pb::{self, reports_client::ReportsClient};
use crate::report::render::*;
use anyhow::Context;
use clap::{Args, Subcommand, ValueEnum};

#[derive(Debug, Clone, Copy, PartialEq, ValueEnum)]
pub enum IndicatorFormat {
    /// Un tableau à l'écran.
    Table,
    /// JSON, pour les programmes (clés anglaises, libellés à côté).
    Json,
    /// CSV pour les programmes : `,`, point décimal, clés anglaises.
    Csv,
    /// CSV pour un tableur en français : `;`, virgule décimale, en-têtes
    /// français, une table par rubrique.
    CsvExcel,
}

#[derive(Debug, Clone, Copy, PartialEq, ValueEnum)]
pub enum BilanFormat {
    /// CSV par rubriques, pour les programmes.
    Csv,
    /// CSV pour un tableur en français : `;`, virgule décimale, en-têtes
    /// français, une table par rubrique.
    CsvExcel,
    Json,
    /// Markdown, à lire ou à imprimer.
    Md,
}

#[derive(Debug, Args)]
pub struct Period {
    /// Premier jour de la période (JJ/MM/AAAA).
    #[arg(long)]
    pub from: Option<String>,
    /// Dernier jour de la période, inclus (JJ/MM/AAAA).
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
        /// Regrouper par site, mois, axe ou catégorie de matériel (ou leurs noms
        /// anglais : site, month, axis, category).
        #[arg(long)]
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
        /// Format : md (par défaut, à lire ou à imprimer), csv-excel (pour un
        /// tableur), csv ou json (pour les programmes).
        #[arg(long, value_enum, default_value = "md")]
        format: BilanFormat,
    },
}

fn indicators_table(r: &pb::IndicatorReport) -> String {
    let mut out = indicators_title(r);
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
            match std::io::stdout().write_all(bytes) {
                // The reader went away (`… | head`): nothing more to say.
                Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => Ok(()),
                other => Ok(other?),
            }
        }
    }
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
                IndicatorFormat::Json => write_out(&out, &indicators_json_bytes(&r)?)?,
                IndicatorFormat::Csv => write_out(&out, &indicators_csv(&r)?)?,
                IndicatorFormat::CsvExcel => write_out(&out, &indicators_csv_excel(&r)?)?,
                IndicatorFormat::Table if out.is_some() => {
                    anyhow::bail!(
                        "--out : choisissez --format csv-excel (tableur), csv ou json pour un fichier"
                    )
                }
                IndicatorFormat::Table => {
                    print!("{}", indicators_table(&r));
                    let mut header = vec!["INDICATEUR"];
                    header.extend(r.groups.iter().map(|g| g.label.as_str()));
                    header.push("TOTAL");
                    let mut table: Vec<Vec<String>> = Vec::new();
                    let mut current = "";
                    for (section, f, values) in rows(&r) {
                        if section != current {
                            table.push(vec![format!("— {section} —")]);
                            current = section;
                        }
                        let cell = |v: &str| {
                            if f.integer {
                                v.to_string()
                            } else {
                                fr_number(v)
                            }
                        };
                        let mut row = vec![f.label.clone()];
                        row.extend(values.iter().map(|v| cell(v)));
                        row.push(cell(&f.value));
                        table.push(row);
                    }
                    print_table(&header, &table);
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
                BilanFormat::Json => bilan_json_bytes(&b)?,
                BilanFormat::Csv => bilan_csv(&b)?,
                BilanFormat::CsvExcel => bilan_csv_excel(&b)?,
                BilanFormat::Md => bilan_md(&b).into_bytes(),
            };
            write_out(&out, &bytes)?;
        }
    }
    Ok(())
}
