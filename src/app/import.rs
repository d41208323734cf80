//! Importing a site's existing inventory from the spreadsheet it already
//! keeps: CSV (`;` or `,`, UTF-8 or Windows-1252) or .xlsx. Every line is
//! checked first; nothing is written while any line is wrong, or on a dry
//! run, and a good file is written in one change (all lines or none).

use std::collections::{BTreeMap, BTreeSet};

use super::NodeContext;
use crate::base::new_id;
use crate::domain::equipment::{self, Item, Patch};
use crate::domain::{fold_for_search, now_rfc3339};
use crate::error::{Error, Result};

/// Most lines one import may bring.
pub const MAX_LINES: usize = 5000;
/// Largest file accepted, in bytes.
pub const MAX_BYTES: usize = 3 * 1024 * 1024;

/// The columns maillage reads, and the headers that name them (compared
/// without case, accents or punctuation).
const COLUMNS: &[(&str, &[&str])] = &[
    (
        "name",
        &[
            "nom",
            "name",
            "designation",
            "libelle",
            "materiel",
            "intitule",
        ],
    ),
    ("category", &["categorie", "category", "type", "famille"]),
    (
        "description",
        &["description", "details", "commentaire", "remarques"],
    ),
    (
        "inventory_number",
        &[
            "n inventaire",
            "no inventaire",
            "numero d inventaire",
            "numero inventaire",
            "inventaire",
            "inventory number",
            "inventory_number",
            "reference",
        ],
    ),
    ("loanable", &["pretable", "loanable", "pret"]),
    ("condition", &["etat", "condition"]),
    (
        "acquired",
        &[
            "date d acquisition",
            "acquisition",
            "acquis le",
            "date d achat",
            "achete le",
            "acquired",
        ],
    ),
];

/// One line of the file, as read and as checked.
#[derive(Debug, Clone)]
pub struct Line {
    /// Line number in the file (the header is line 1).
    pub number: usize,
    pub name: String,
    pub category: String,
    /// What is wrong with it, in French; empty when it can be imported.
    pub errors: Vec<String>,
    pub patch: Patch,
}

/// What an import found and did.
#[derive(Debug, Clone)]
pub struct Report {
    pub lines: Vec<Line>,
    /// Columns of the file that maillage does not read (kept out).
    pub ignored_columns: Vec<String>,
    /// Items created; empty on a dry run or when a line is wrong.
    pub created: Vec<Item>,
}

impl Report {
    pub fn has_errors(&self) -> bool {
        self.lines.iter().any(|l| !l.errors.is_empty())
    }
}

fn header_key(h: &str) -> String {
    fold_for_search(h)
        .chars()
        .map(|c| if c.is_alphanumeric() { c } else { ' ' })
        .collect::<String>()
        .split_whitespace()
        .collect::<Vec<_>>()
        .join(" ")
}

/// The rows of the file's first sheet or table, as text cells.
pub fn read_rows(file_name: &str, bytes: &[u8]) -> Result<Vec<Vec<String>>> {
    if bytes.len() > MAX_BYTES {
        return Err(Error::invalid(format!(
            "fichier trop gros : {} Mo au plus",
            MAX_BYTES / (1024 * 1024)
        )));
    }
    if bytes.starts_with(b"PK\x03\x04") {
        return read_xlsx(bytes);
    }
    let lower = file_name.to_lowercase();
    if lower.ends_with(".xls") || lower.ends_with(".ods") {
        return Err(Error::invalid(
            "format non pris en charge : enregistrez le tableau en .xlsx ou en .csv",
        ));
    }
    read_csv(bytes)
}

fn read_csv(bytes: &[u8]) -> Result<Vec<Vec<String>>> {
    let bytes = bytes.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(bytes);
    // UTF-8 if it decodes, else Windows-1252 (what Excel writes in France).
    let text = match std::str::from_utf8(bytes) {
        Ok(t) => t.to_string(),
        Err(_) => encoding_rs::WINDOWS_1252.decode(bytes).0.into_owned(),
    };
    let first = text.lines().next().unwrap_or_default();
    let sep = if first.matches(';').count() >= first.matches(',').count() && first.contains(';') {
        b';'
    } else {
        b','
    };
    let mut reader = csv::ReaderBuilder::new()
        .delimiter(sep)
        .has_headers(false)
        .flexible(true)
        .from_reader(text.as_bytes());
    let mut rows = Vec::new();
    for (i, r) in reader.records().enumerate() {
        let r = r.map_err(|e| Error::invalid(format!("ligne {} illisible : {e}", i + 1)))?;
        rows.push(r.iter().map(|c| c.trim().to_string()).collect());
    }
    Ok(rows)
}

fn read_xlsx(bytes: &[u8]) -> Result<Vec<Vec<String>>> {
    use calamine::{open_workbook_from_rs, Data, DataType, Reader, Xlsx};
    let mut book: Xlsx<_> = open_workbook_from_rs(std::io::Cursor::new(bytes))
        .map_err(|e| Error::invalid(format!("classeur .xlsx illisible : {e}")))?;
    let range = book
        .worksheet_range_at(0)
        .ok_or_else(|| Error::invalid("le classeur n'a aucune feuille"))?
        .map_err(|e| Error::invalid(format!("feuille illisible : {e}")))?;
    Ok(range
        .rows()
        .map(|row| {
            row.iter()
                .map(|c| match c {
                    Data::Empty => String::new(),
                    Data::String(s) => s.trim().to_string(),
                    Data::Float(f) if f.fract() == 0.0 && f.abs() < 1e15 => {
                        format!("{}", *f as i64)
                    }
                    Data::DateTime(_) | Data::DateTimeIso(_) => c
                        .as_date()
                        .map(|d| d.format("%Y-%m-%d").to_string())
                        .unwrap_or_else(|| c.to_string()),
                    other => other.to_string(),
                })
                .collect()
        })
        .collect())
}

/// A rule's message about a field, said with the spreadsheet's column.
fn in_columns(message: &str) -> String {
    message
        .replace("le champ name", "la colonne Nom")
        .replace("le champ category", "la colonne Catégorie")
        .replace("le champ description", "la colonne Description")
        .replace("le champ inventory_number", "la colonne N° inventaire")
}

fn yes_no(v: &str) -> std::result::Result<Option<bool>, String> {
    match fold_for_search(v.trim()).as_str() {
        "" => Ok(None),
        "oui" | "o" | "yes" | "y" | "true" | "vrai" | "1" | "x" => Ok(Some(true)),
        "non" | "n" | "no" | "false" | "faux" | "0" => Ok(Some(false)),
        _ => Err(format!("prêtable « {v} » : attendu oui ou non")),
    }
}

/// Reads and checks every line against the rules of a new item and the
/// catalogue of this site (`existing` inventory numbers).
pub fn check(
    rows: Vec<Vec<String>>,
    existing: &BTreeSet<String>,
) -> Result<(Vec<Line>, Vec<String>)> {
    let mut rows = rows.into_iter();
    let header = rows.next().ok_or_else(|| {
        Error::invalid(
            "le fichier est vide : attendu une ligne d'en-tête puis une ligne par matériel",
        )
    })?;
    let mut columns: BTreeMap<&str, usize> = BTreeMap::new();
    let mut ignored = Vec::new();
    for (i, h) in header.iter().enumerate() {
        let key = header_key(h);
        match COLUMNS
            .iter()
            .find(|(_, names)| names.contains(&key.as_str()))
        {
            Some((field, _)) if !columns.contains_key(field) => {
                columns.insert(field, i);
            }
            _ if !h.trim().is_empty() => ignored.push(h.trim().to_string()),
            _ => {}
        }
    }
    for needed in ["name", "category"] {
        if !columns.contains_key(needed) {
            return Err(Error::invalid(format!(
                "colonne « {} » introuvable dans l'en-tête ({}) : il faut au moins les colonnes Nom et Catégorie",
                if needed == "name" { "Nom" } else { "Catégorie" },
                header.join(", ")
            )));
        }
    }
    let now = now_rfc3339();
    let mut seen: BTreeMap<String, usize> = BTreeMap::new();
    let mut lines = Vec::new();
    for (i, row) in rows.enumerate() {
        let number = i + 2;
        if row.iter().all(|c| c.trim().is_empty()) {
            continue;
        }
        if lines.len() >= MAX_LINES {
            return Err(Error::invalid(format!(
                "{MAX_LINES} lignes au plus par import : coupez le fichier en plusieurs"
            )));
        }
        let cell = |field: &str| {
            columns
                .get(field)
                .and_then(|i| row.get(*i))
                .map(|s| s.trim().to_string())
                .unwrap_or_default()
        };
        let mut errors = Vec::new();
        let loanable = match yes_no(&cell("loanable")) {
            Ok(v) => v,
            Err(e) => {
                errors.push(e);
                None
            }
        };
        let condition = cell("condition");
        let acquired = cell("acquired");
        let patch = Patch {
            name: Some(cell("name")),
            category: Some(cell("category")),
            description: Some(cell("description")),
            inventory_number: Some(cell("inventory_number")),
            loanable,
            condition: (!condition.is_empty()).then_some(condition),
            acquired: (!acquired.is_empty()).then_some(acquired),
            ..Default::default()
        };
        if let Err(e) = equipment::new_equipment(&patch, &now) {
            errors.push(in_columns(&e.to_string()));
        }
        let inv = cell("inventory_number");
        if !inv.is_empty() {
            let key = fold_for_search(&inv);
            if existing.contains(&key) {
                errors.push(format!("n° d'inventaire {inv} déjà au catalogue du site"));
            } else if let Some(first) = seen.get(&key) {
                errors.push(format!("n° d'inventaire {inv} déjà à la ligne {first}"));
            } else {
                seen.insert(key, number);
            }
        }
        lines.push(Line {
            number,
            name: cell("name"),
            category: cell("category"),
            errors,
            patch,
        });
    }
    if lines.is_empty() {
        return Err(Error::invalid("aucune ligne de matériel sous l'en-tête"));
    }
    Ok((lines, ignored))
}

/// Imports `bytes` into this site's catalogue; with `dry_run`, or if any
/// line is wrong, only reports.
pub async fn import(
    ctx: &NodeContext,
    file_name: &str,
    bytes: &[u8],
    dry_run: bool,
) -> Result<Report> {
    let rows = read_rows(file_name, bytes)?;
    let existing: BTreeSet<String> = super::equipment::list_all(ctx)?
        .iter()
        .filter(|i| i.site == ctx.site && !i.inventory_number.is_empty())
        .map(|i| fold_for_search(&i.inventory_number))
        .collect();
    let (lines, ignored_columns) = check(rows, &existing)?;
    let mut report = Report {
        lines,
        ignored_columns,
        created: Vec::new(),
    };
    if dry_run || report.has_errors() {
        return Ok(report);
    }
    let now = now_rfc3339();
    let mut new_items = Vec::new();
    for l in &report.lines {
        new_items.push((new_id("eq"), equipment::new_equipment(&l.patch, &now)?));
    }
    ctx.docs
        .change(&ctx.site_doc(), "equipment import", |doc| {
            for (id, e) in &new_items {
                equipment::put(doc, id, e)?;
            }
            Ok(())
        })
        .await?;
    report.created = new_items
        .into_iter()
        .map(|(id, e)| Item::new(&id, &ctx.site, e))
        .collect();
    Ok(report)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn windows_1252_csv_with_semicolons_and_french_headers() {
        let text = "Désignation;Catégorie;N° inventaire;Prêtable;État;Date d'acquisition;Salle\r\n\
                    Caméra 4K;audio-vidéo;TH-AV-001;oui;bon;15/09/2025;B12\r\n\
                    Câbles USB;numérique;;non;;;\r\n";
        let (bytes, _, _) = encoding_rs::WINDOWS_1252.encode(text);
        let rows = read_rows("inventaire.csv", &bytes).unwrap();
        let (lines, ignored) = check(rows, &BTreeSet::new()).unwrap();
        assert_eq!(ignored, vec!["Salle".to_string()]);
        assert_eq!(lines.len(), 2);
        assert!(lines.iter().all(|l| l.errors.is_empty()), "{lines:?}");
        assert_eq!(lines[0].name, "Caméra 4K");
        assert_eq!(lines[0].patch.loanable, Some(true));
        assert_eq!(lines[1].patch.loanable, Some(false));
        assert_eq!(lines[0].number, 2);
    }

    #[test]
    fn every_wrong_line_is_reported() {
        let text = "nom,categorie,inventaire,pretable,etat\n\
                    Trépied,vidéo,A-1,peut-être,bon\n\
                    ,robotique,A-2,oui,bon\n\
                    Robot,robotique,A-1,oui,cassé\n\
                    Robot 2,robotique,EX-9,oui,bon\n";
        let existing: BTreeSet<String> = ["ex-9".to_string()].into();
        let (lines, _) = check(read_rows("f.csv", text.as_bytes()).unwrap(), &existing).unwrap();
        let errors: Vec<String> = lines.iter().map(|l| l.errors.join(" | ")).collect();
        assert!(errors[0].contains("prêtable « peut-être »"), "{errors:?}");
        assert!(
            errors[1].contains("la colonne Nom est obligatoire"),
            "{errors:?}"
        );
        assert!(errors[2].contains("déjà à la ligne 2"), "{errors:?}");
        assert!(errors[2].contains("cassé"), "{errors:?}");
        assert!(errors[3].contains("déjà au catalogue"), "{errors:?}");
    }

    #[test]
    fn a_file_without_the_needed_columns_says_which() {
        let e = check(
            read_rows("f.csv", b"Objet;Lieu\nx;y\n").unwrap(),
            &BTreeSet::new(),
        )
        .unwrap_err()
        .to_string();
        assert!(e.contains("Nom") && e.contains("Objet, Lieu"), "{e}");
        assert!(read_rows("f.xls", b"\xD0\xCF\x11\xE0").is_err());
    }
}
