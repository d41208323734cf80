//! The purchase request form (issue 12, item 3): object, supplier, funding
//! line, linked action, and lines (designation, quantity, unit price before
//! tax, VAT rate) whose totals the page's script (`achats.js`) updates as
//! they are typed. Without JavaScript, « Recalculer », « Ajouter une
//! ligne » and « Retirer » send the form and the node shows it again with
//! its own totals. On save the node checks every line and computes the
//! totals again (`domain::purchases`); a refused form changes nothing and
//! comes back as typed, with the line at fault marked.

use maud::{html, Markup};
use rust_decimal::Decimal;

use super::actions::fr_amount;
use super::pages::{csrf_field, layout, notice, Frame, Notice};
use crate::domain::purchases::{self, eur, Line, Patch, Totals};
use crate::error::{Error, Result};

/// Lines a form may carry (the domain's bound).
pub const MAX_LINES: usize = purchases::MAX_LINES;
/// Blank lines the new form offers.
const BLANK_LINES: usize = 1;
/// The VAT rate a new line starts with.
const DEFAULT_VAT: &str = "20";

/// A line as typed.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct LineInput {
    pub designation: String,
    pub quantity: String,
    pub price: String,
    pub vat: String,
}

impl LineInput {
    fn blank() -> LineInput {
        LineInput {
            vat: DEFAULT_VAT.to_string(),
            ..Default::default()
        }
    }

    /// Nothing typed but the default rate: the line is left out.
    fn is_blank(&self) -> bool {
        self.designation.trim().is_empty()
            && self.quantity.trim().is_empty()
            && self.price.trim().is_empty()
    }
}

/// The form as sent (or as shown).
#[derive(Debug, Clone, Default)]
pub struct FormInput {
    pub object: String,
    pub supplier: String,
    pub funding: String,
    /// The linked action's id, empty for none.
    pub action: String,
    pub lines: Vec<LineInput>,
    /// Which button sent it: `enregistrer`, `recalculer`, `ajouter`, `retirer-N`.
    pub button: String,
}

impl FormInput {
    pub fn blank() -> FormInput {
        FormInput {
            lines: vec![LineInput::blank(); BLANK_LINES],
            ..Default::default()
        }
    }

    /// The form of a saved request, for editing.
    pub fn of(p: &purchases::Purchase) -> FormInput {
        FormInput {
            object: p.object.clone(),
            supplier: p.supplier.clone(),
            funding: p.funding.clone(),
            action: p.action.clone(),
            lines: p
                .lines
                .iter()
                .map(|l| LineInput {
                    designation: l.designation.clone(),
                    quantity: l.quantity.to_string(),
                    price: l.unit_price_ht.replace('.', ","),
                    vat: l.vat_rate.replace('.', ","),
                })
                .collect(),
            button: String::new(),
        }
    }

    /// Reads the fields of the page: `objet`, `fournisseur`, `financement`,
    /// `action`, `bouton`, and per line `designation-N`, `quantite-N`,
    /// `prix-N`, `tva-N` (N from 0, in any order; gaps are closed).
    pub fn from_fields(fields: &[(String, String)]) -> FormInput {
        let mut f = FormInput::default();
        let mut lines: std::collections::BTreeMap<usize, LineInput> = Default::default();
        for (k, v) in fields {
            match k.as_str() {
                "objet" => f.object = v.clone(),
                "fournisseur" => f.supplier = v.clone(),
                "financement" => f.funding = v.clone(),
                "action" => f.action = v.clone(),
                "bouton" => f.button = v.clone(),
                _ => {
                    let Some((name, n)) = k.rsplit_once('-') else {
                        continue;
                    };
                    let Ok(n) = n.parse::<usize>() else { continue };
                    // A line number far beyond the bound is not a line.
                    if n >= MAX_LINES * 4 {
                        continue;
                    }
                    let l = lines.entry(n).or_default();
                    match name {
                        "designation" => l.designation = v.clone(),
                        "quantite" => l.quantity = v.clone(),
                        "prix" => l.price = v.clone(),
                        "tva" => l.vat = v.clone(),
                        _ => {}
                    }
                }
            }
        }
        f.lines = lines.into_values().collect();
        f
    }

    /// Applies « Ajouter une ligne » or « Retirer » (without JavaScript);
    /// true when the button was one of them.
    pub fn edit_lines(&mut self) -> bool {
        if self.button == "ajouter" {
            if self.lines.len() < MAX_LINES {
                self.lines.push(LineInput::blank());
            }
            return true;
        }
        if let Some(n) = self.button.strip_prefix("retirer-") {
            if let Ok(n) = n.parse::<usize>() {
                if n < self.lines.len() {
                    self.lines.remove(n);
                }
            }
            if self.lines.is_empty() {
                self.lines.push(LineInput::blank());
            }
            return true;
        }
        false
    }
}

/// An amount as people type it (« 1 234,50 € ») as the domain reads it.
fn amount_typed(s: &str) -> String {
    s.chars()
        .filter(|c| !c.is_whitespace() && *c != '€' && *c != '\u{202f}')
        .collect::<String>()
        .replace(',', ".")
}

/// One line checked, numbered `n` (from 1) in messages.
pub fn check_line(n: usize, l: &LineInput) -> Result<Line> {
    let q = l.quantity.trim().replace(['\u{202f}', '\u{a0}', ' '], "");
    if q.is_empty() {
        return Err(Error::invalid(format!("ligne {n} : quantité manquante")));
    }
    let quantity: i64 = q.parse().map_err(|_| {
        Error::invalid(format!(
            "ligne {n} : la quantité « {} » n'est pas un nombre entier",
            l.quantity.trim()
        ))
    })?;
    let price = amount_typed(&l.price);
    purchases::line(n, &l.designation, quantity, &price, &l.vat).map_err(|e| match e {
        // The price as typed, not as cleaned up.
        Error::InvalidArgument(m) => Error::InvalidArgument(
            m.replace(&format!("« {price} »"), &format!("« {} »", l.price.trim())),
        ),
        e => e,
    })
}

/// What the node makes of the lines: the valid ones with their totals, and
/// an error for each line at fault (by row, from 0).
#[derive(Debug, Default)]
pub struct Checked {
    /// Per row: its totals when it is valid, its error otherwise, nothing
    /// for a blank row.
    pub rows: Vec<Option<std::result::Result<Totals, String>>>,
    pub lines: Vec<Line>,
    pub totals: Totals,
}

impl Checked {
    pub fn first_error(&self) -> Option<&str> {
        self.rows.iter().find_map(|r| match r {
            Some(Err(e)) => Some(e.as_str()),
            _ => None,
        })
    }
}

pub fn check(f: &FormInput) -> Checked {
    let mut c = Checked::default();
    for (i, l) in f.lines.iter().enumerate() {
        if l.is_blank() {
            c.rows.push(None);
            continue;
        }
        match check_line(i + 1, l) {
            Ok(line) => {
                let t = line.totals();
                c.totals += t;
                c.lines.push(line);
                c.rows.push(Some(Ok(t)));
            }
            Err(e) => c.rows.push(Some(Err(problem_fr(&e)))),
        }
    }
    c
}

/// The patch to save, once every line is valid; else the first error.
pub fn patch(f: &FormInput) -> Result<Patch> {
    let c = check(f);
    if let Some(e) = c.first_error() {
        return Err(Error::invalid(e.to_string()));
    }
    if f.lines.len() > MAX_LINES {
        return Err(Error::invalid(format!(
            "au plus {MAX_LINES} lignes par demande"
        )));
    }
    Ok(Patch {
        object: Some(f.object.clone()),
        lines: Some(c.lines),
        supplier: Some(f.supplier.clone()),
        funding: Some(f.funding.clone()),
        action: Some(f.action.clone()),
    })
}

/// A rule's refusal, with the API's words said as the page says them.
pub fn problem_fr(e: &Error) -> String {
    let mut text = e.to_string();
    for (api, fr) in [
        ("le champ designation", "la désignation"),
        ("le champ object", "l'objet"),
        ("le champ supplier", "le fournisseur"),
        ("le champ funding", "la ligne de financement"),
        ("le champ action", "l'action liée"),
        ("le champ category", "la catégorie"),
        (
            "(attendu par exemple 1250.50)",
            "(attendu par exemple 12,50)",
        ),
        ("(--reason)", ""),
        (
            "--item LIGNE[:CATÉGORIE] (répétable, par exemple --item 1:robotique)",
            "cochez-les",
        ),
        (", ou créez-les avec equipment add", ""),
    ] {
        text = text.replace(api, fr);
    }
    for (k, f) in purchases::STATES_FR {
        text = text
            .replace(&format!("l'état {k} "), &format!("l'état « {f} » "))
            .replace(&format!("l'état {k})"), &format!("l'état « {f} »)"))
            .replace(&format!(" ou {k})"), &format!(" ou « {f} »)"))
            .replace(&format!(" ou {k} "), &format!(" ou « {f} » "));
    }
    super::capital(&text)
}

/// Euros as people read them: « 1 234,50 € ».
pub fn euros(d: Decimal) -> String {
    fr_amount(&eur(d))
}

/// What the form page shows around the fields.
pub struct FormPage<'a> {
    pub title: &'a str,
    /// Where it is sent.
    pub action_url: &'a str,
    pub back: (&'a str, &'a str),
    /// The common actions a request may be linked to: (id, title).
    pub actions: &'a [(String, String)],
    /// Funding lines already in use, suggested.
    pub fundings: &'a [String],
    /// The academy's reason, when the request was sent back.
    pub reason: Option<&'a str>,
}

fn line_row(n: usize, l: &LineInput, row: Option<&std::result::Result<Totals, String>>) -> Markup {
    let err = match row {
        Some(Err(e)) => Some(e.as_str()),
        _ => None,
    };
    let t = match row {
        Some(Ok(t)) => Some(*t),
        _ => None,
    };
    let shown = |v: Option<Decimal>| v.map(euros).unwrap_or_else(|| "—".to_string());
    let human = n + 1;
    html! {
        tr.line.row-error[err.is_some()] data-line=(n) {
            td {
                label for={ "designation-" (n) } class="sr-only" { "Désignation (ligne " (human) ")" }
                input id={ "designation-" (n) } name={ "designation-" (n) } type="text"
                    maxlength=(purchases::MAX_OBJECT) value=(l.designation)
                    aria-invalid=[err.map(|_| "true")];
                @if let Some(e) = err { p.field-error id={ "erreur-ligne-" (n) } { (e) } }
            }
            td {
                label for={ "quantite-" (n) } class="sr-only" { "Quantité (ligne " (human) ")" }
                input.qty id={ "quantite-" (n) } name={ "quantite-" (n) } type="text" inputmode="numeric"
                    value=(l.quantity) size="5";
            }
            td {
                label for={ "prix-" (n) } class="sr-only" { "Prix unitaire HT en euros (ligne " (human) ")" }
                input.price id={ "prix-" (n) } name={ "prix-" (n) } type="text" inputmode="decimal"
                    value=(l.price) size="10";
            }
            td {
                label for={ "tva-" (n) } class="sr-only" { "Taux de TVA en % (ligne " (human) ")" }
                input.vat id={ "tva-" (n) } name={ "tva-" (n) } type="text" inputmode="decimal"
                    value=(l.vat) size="5";
            }
            td.num { output id={ "ligne-ht-" (n) } data-total="ht" { (shown(t.map(|t| t.ht))) } }
            td.num { output id={ "ligne-tva-" (n) } data-total="vat" { (shown(t.map(|t| t.vat))) } }
            td.num { output id={ "ligne-ttc-" (n) } data-total="ttc" { (shown(t.map(|t| t.ttc))) } }
            td {
                button.btn.btn-secondary.remove type="submit" name="bouton" value={ "retirer-" (n) }
                    aria-label={ "Retirer la ligne " (human) } { "Retirer" }
            }
        }
    }
}

pub fn page(frame: &Frame, p: &FormPage, f: &FormInput, n: &Notice) -> Markup {
    let c = check(f);
    layout(
        frame,
        p.title,
        html! {
            p { a href=(p.back.0) { "← " (p.back.1) } }
            @if let Some(reason) = p.reason {
                div.alert.alert-error.reason role="note" {
                    p { strong { "Complément demandé par l'équipe académique : " } (reason) }
                }
            }
            (notice(n))
            p.small { "Les champs marqués d'un astérisque (*) sont obligatoires. Les montants s'écrivent « 12,50 » ou « 12.50 »." }
            form.form.purchase-form method="post" action=(p.action_url) novalidate {
                (csrf_field(frame.csrf))
                // The form's default button: Enter in a field saves (and
                // does not remove the first line).
                button type="submit" name="bouton" value="enregistrer" hidden tabindex="-1" { "Enregistrer la demande" }
                div.field {
                    label for="objet" { "Objet de la demande *" span.hint { "Par exemple : robots pour l'atelier de programmation" } }
                    input #objet type="text" name="objet" required maxlength=(purchases::MAX_OBJECT) value=(f.object);
                }
                div.field {
                    label for="fournisseur" { "Fournisseur" }
                    input #fournisseur type="text" name="fournisseur" maxlength=(purchases::MAX_TEXT) value=(f.supplier);
                }
                div.field {
                    label for="financement" { "Ligne de financement" span.hint { "Par exemple : France 2030" } }
                    input #financement type="text" name="financement" list="financements" maxlength=(purchases::MAX_OBJECT) value=(f.funding);
                    datalist #financements {
                        @for l in p.fundings { option value=(l) {} }
                    }
                }
                div.field {
                    label for="action" { "Action commune liée" }
                    select #action name="action" {
                        option value="" selected[f.action.is_empty()] { "Aucune" }
                        @for (id, title) in p.actions {
                            option value=(id) selected[f.action == *id] { (title) }
                        }
                    }
                }
                fieldset.lines {
                    legend { "Lignes de la demande" }
                    div.table-scroll {
                        table #lignes {
                            caption.sr-only { "Lignes de la demande et leurs totaux" }
                            thead { tr {
                                th scope="col" { "Désignation" }
                                th scope="col" { "Quantité" }
                                th scope="col" { "Prix unitaire HT" }
                                th scope="col" { "TVA" }
                                th scope="col" { "Total HT" }
                                th scope="col" { "Montant TVA" }
                                th scope="col" { "Total TTC" }
                                th scope="col" { span.sr-only { "Retirer" } }
                            } }
                            tbody {
                                @for (i, l) in f.lines.iter().enumerate() {
                                    (line_row(i, l, c.rows.get(i).and_then(|r| r.as_ref())))
                                }
                            }
                            tfoot {
                                tr {
                                    th scope="row" colspan="4" { "Total de la demande" }
                                    td.num { output #total-ht { (euros(c.totals.ht)) } }
                                    td.num { output #total-tva { (euros(c.totals.vat)) } }
                                    td.num { output #total-ttc { (euros(c.totals.ttc)) } }
                                    td {}
                                }
                            }
                        }
                    }
                    p.small #totaux-aide { "La TVA est arrondie au centime sur chaque ligne. Les totaux se mettent à jour pendant la saisie ; le nœud les calcule à nouveau à l'enregistrement." }
                    div.actions {
                        button.btn.btn-secondary #ajouter-ligne type="submit" name="bouton" value="ajouter" { "Ajouter une ligne" }
                        button.btn.btn-secondary #recalculer type="submit" name="bouton" value="recalculer" { "Recalculer" }
                    }
                }
                button.btn #enregistrer type="submit" name="bouton" value="enregistrer" { "Enregistrer la demande" }
            }
            script src="/static/achats.js" defer {}
        },
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fields(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    #[test]
    fn lines_are_read_with_french_numbers_and_totalled_as_the_domain_does() {
        let f = FormInput::from_fields(&fields(&[
            ("objet", "Robots"),
            ("designation-1", "Livre"),
            ("quantite-1", "1"),
            ("prix-1", "10.01"),
            ("tva-1", "5,5"),
            ("designation-0", "Robot Thymio"),
            ("quantite-0", "3"),
            ("prix-0", "1 129,90 €"),
            ("tva-0", "20"),
            ("designation-5", ""),
            ("quantite-5", ""),
            ("prix-5", ""),
            ("tva-5", "20"),
        ]));
        assert_eq!(f.lines.len(), 3, "gaps are closed");
        assert_eq!(f.lines[0].designation, "Robot Thymio");
        let c = check(&f);
        assert!(c.first_error().is_none(), "{:?}", c.rows);
        assert!(c.rows[2].is_none(), "a blank line is left out");
        assert_eq!(c.lines.len(), 2);
        assert_eq!(c.lines[0].unit_price_ht, "1129.90");
        // 3 × 1129.90 = 3389.70, TVA 677.94; 10.01 at 5.5 % : 0.55.
        assert_eq!(eur(c.totals.ht), "3399.71");
        assert_eq!(eur(c.totals.vat), "678.49");
        assert_eq!(eur(c.totals.ttc), "4078.20");
        assert_eq!(euros(c.totals.ttc), "4\u{202f}078,20 €");
        let p = patch(&f).unwrap();
        assert_eq!(p.lines.unwrap().len(), 2);
    }

    #[test]
    fn a_bad_line_is_named_in_french_and_nothing_is_patched() {
        let f = FormInput::from_fields(&fields(&[
            ("objet", "Robots"),
            ("designation-0", "Robot"),
            ("quantite-0", "2"),
            ("prix-0", "abc"),
            ("tva-0", "20"),
            ("designation-1", "Câble"),
            ("quantite-1", "deux"),
            ("prix-1", "3"),
            ("tva-1", "20"),
        ]));
        let c = check(&f);
        let e = c.first_error().unwrap();
        assert!(
            e.contains("Ligne 1") && e.contains("« abc »") && e.contains("montant"),
            "{e}"
        );
        assert!(!e.contains("1250.50"), "{e}");
        match &c.rows[1] {
            Some(Err(e)) => assert!(e.contains("nombre entier"), "{e}"),
            other => panic!("{other:?}"),
        }
        assert!(patch(&f).is_err());
    }

    #[test]
    fn lines_are_added_and_removed_without_javascript() {
        let mut f = FormInput::blank();
        f.button = "ajouter".into();
        assert!(f.edit_lines());
        assert_eq!(f.lines.len(), 2);
        f.lines[0].designation = "A".into();
        f.button = "retirer-0".into();
        assert!(f.edit_lines());
        assert_eq!(f.lines.len(), 1);
        assert_eq!(f.lines[0].designation, "");
        f.button = "retirer-0".into();
        f.edit_lines();
        assert_eq!(f.lines.len(), 1, "one line stays");
        f.button = "enregistrer".into();
        assert!(!f.edit_lines());
    }

    #[test]
    fn states_and_api_words_read_in_french() {
        let e = Error::precondition(
            "impossible de modifier la demande d'achat da-1 : elle est à l'état submitted (possible à l'état draft ou needs_info)",
        );
        let t = problem_fr(&e);
        assert!(t.contains("l'état « soumise »"), "{t}");
        assert!(
            t.contains("« brouillon » ou « compléments demandés »"),
            "{t}"
        );
        assert!(!t.contains("submitted"), "{t}");
    }
}
