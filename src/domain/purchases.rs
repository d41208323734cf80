//! Purchase requests (demandes d'achat): drafted, submitted, ordered and
//! received by a site in its own document; validated, refused or sent back
//! for more information by the academic team in the `network` document.
//!
//! A decision names the submission it answers (`submission`): a request sent
//! back, corrected and submitted again waits for a new decision, and the
//! earlier one stays in the history. Amounts are exact decimals.

use std::collections::BTreeMap;

use automerge::AutoCommit;
use autosurgeon::{Hydrate, Reconcile};
use rust_decimal::{Decimal, RoundingStrategy};

use super::actions::parse_amount;
use super::loans::Transition;
use super::{map_entries, map_entry, optional_text, put_entry, required_text};
use crate::error::{Error, Result};

/// The site document's map of purchase requests.
pub const MAP: &str = "purchases";
/// The `network` document's map of the academy's decisions, keyed
/// `<purchase id>/<submission>`.
pub const DECISIONS: &str = "purchase_decisions";
pub const STATES: &[&str] = &[
    "draft",
    "submitted",
    "needs_info",
    "validated",
    "refused",
    "ordered",
    "delivered",
    "cancelled",
];
/// What the academy may decide.
pub const VERDICTS: &[&str] = &["validated", "refused", "needs_info"];
pub const MAX_OBJECT: usize = 300;
pub const MAX_TEXT: usize = 2000;
pub const MAX_LINES: usize = 100;
pub const MAX_QUANTITY: i64 = 10_000;
/// Equipment items one delivery may create.
pub const MAX_ITEMS_CREATED: i64 = 500;

#[derive(Debug, Clone, PartialEq, Reconcile, Hydrate)]
pub struct Line {
    pub designation: String,
    pub quantity: i64,
    /// Unit price before tax, euros, two decimals ("12.50").
    pub unit_price_ht: String,
    /// VAT rate in percent ("20", "5.5").
    pub vat_rate: String,
}

#[derive(Debug, Clone, PartialEq, Reconcile, Hydrate)]
pub struct Purchase {
    pub object: String,
    pub lines: Vec<Line>,
    pub supplier: String,
    pub funding: String,
    pub action: String,
    pub created: Transition,
    /// Each submission, in order; a decision names the one it answers (1…).
    pub submitted: Vec<Transition>,
    pub ordered: Option<Transition>,
    pub delivered: Option<Transition>,
    pub cancelled: Option<Transition>,
    /// Equipment items created at delivery.
    pub items: Vec<String>,
    pub updated_at: String,
}

/// One decision of the academy, in the `network` document.
#[derive(Debug, Clone, PartialEq, Reconcile, Hydrate)]
pub struct Decision {
    /// Site whose request it answers.
    pub site: String,
    pub purchase: String,
    pub submission: i64,
    /// validated, refused or needs_info.
    pub verdict: String,
    pub decided: Transition,
}

pub fn decision_key(purchase: &str, submission: i64) -> String {
    format!("{purchase}/{submission}")
}

/// Totals of a line or a request: before tax, tax, and with tax.
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub struct Totals {
    pub ht: Decimal,
    pub vat: Decimal,
    pub ttc: Decimal,
}

impl std::ops::AddAssign for Totals {
    fn add_assign(&mut self, o: Totals) {
        self.ht += o.ht;
        self.vat += o.vat;
        self.ttc += o.ttc;
    }
}

/// Euros with two decimals, as stored and shown.
pub fn eur(d: Decimal) -> String {
    format!(
        "{:.2}",
        d.round_dp_with_strategy(2, RoundingStrategy::MidpointAwayFromZero)
    )
}

fn dec(s: &str) -> Decimal {
    s.parse().unwrap_or_default()
}

impl Line {
    /// Quantity × unit price; the tax is rounded to the cent on each line.
    pub fn totals(&self) -> Totals {
        let ht = Decimal::from(self.quantity) * dec(&self.unit_price_ht);
        let vat = (ht * dec(&self.vat_rate) / Decimal::from(100))
            .round_dp_with_strategy(2, RoundingStrategy::MidpointAwayFromZero);
        Totals {
            ht,
            vat,
            ttc: ht + vat,
        }
    }
}

impl Purchase {
    /// How many times it was submitted.
    pub fn submissions(&self) -> i64 {
        self.submitted.len() as i64
    }

    pub fn totals(&self) -> Totals {
        let mut t = Totals::default();
        for l in &self.lines {
            t += l.totals();
        }
        t
    }

    /// The state, given the academy's decision on the latest submission.
    pub fn state(&self, decision: Option<&Decision>) -> &'static str {
        if self.delivered.is_some() {
            "delivered"
        } else if self.ordered.is_some() {
            "ordered"
        } else if self.cancelled.is_some() {
            "cancelled"
        } else if self.submitted.is_empty() {
            "draft"
        } else {
            match decision
                .filter(|d| d.submission == self.submissions())
                .map(|d| d.verdict.as_str())
            {
                Some("validated") => "validated",
                Some("refused") => "refused",
                Some("needs_info") => "needs_info",
                _ => "submitted",
            }
        }
    }
}

/// The canonical verdict for what a caller asked (English id or French word).
pub fn parse_verdict(s: &str) -> Result<&'static str> {
    match s.trim().to_lowercase().replace('-', "_").as_str() {
        "validated" | "validate" | "validée" | "valider" => Ok("validated"),
        "refused" | "refuse" | "refusée" | "refuser" => Ok("refused"),
        "needs_info" | "compléments" | "complements" => Ok("needs_info"),
        _ => Err(Error::invalid(format!(
            "décision « {s} » inconnue : validated, refused ou needs_info"
        ))),
    }
}

/// A VAT rate in percent: a decimal from 0 to 100, at most two decimals.
pub fn parse_vat_rate(s: &str) -> Result<String> {
    let t = s.trim().trim_end_matches('%').trim().replace(',', ".");
    let d: Decimal = t.parse().map_err(|_| {
        Error::invalid(format!(
            "taux de TVA « {s} » illisible (attendu un pourcentage, par exemple 20 ou 5,5)"
        ))
    })?;
    if d.is_sign_negative() || d > Decimal::from(100) {
        return Err(Error::invalid(format!(
            "taux de TVA « {s} » : il doit être compris entre 0 et 100"
        )));
    }
    if d.scale() > 2 {
        return Err(Error::invalid(format!(
            "taux de TVA « {s} » : deux décimales au plus"
        )));
    }
    Ok(d.normalize().to_string())
}

/// Validates one line given field by field; `n` numbers it in messages.
pub fn line(n: usize, designation: &str, quantity: i64, price: &str, vat: &str) -> Result<Line> {
    let at = |e: Error| Error::invalid(format!("ligne {n} : {e}"));
    let designation = required_text("designation", designation, MAX_OBJECT).map_err(at)?;
    if quantity < 0 {
        return Err(Error::invalid(format!(
            "ligne {n} : la quantité ne peut pas être négative (reçu {quantity})"
        )));
    }
    if quantity == 0 || quantity > MAX_QUANTITY {
        return Err(Error::invalid(format!(
            "ligne {n} : quantité {quantity} hors limites (de 1 à {MAX_QUANTITY})"
        )));
    }
    if price.trim().is_empty() {
        return Err(Error::invalid(format!(
            "ligne {n} : prix unitaire HT manquant"
        )));
    }
    let unit_price_ht = parse_amount("prix unitaire HT", price).map_err(at)?;
    let vat_rate = parse_vat_rate(vat).map_err(at)?;
    Ok(Line {
        designation,
        quantity,
        unit_price_ht,
        vat_rate,
    })
}

/// Parses a line as typed on the command line: `designation;qty;unit_price_ht;vat_rate`.
pub fn parse_line(n: usize, text: &str) -> Result<Line> {
    let fields: Vec<&str> = text.split(';').collect();
    if fields.len() != 4 {
        return Err(Error::invalid(format!(
            "ligne {n} « {text} » : 4 champs séparés par « ; » attendus \
             (désignation;quantité;prix unitaire HT;taux de TVA), {} reçu(s)",
            fields.len()
        )));
    }
    let q = fields[1].trim();
    let quantity: i64 = q.parse().map_err(|_| {
        Error::invalid(format!(
            "ligne {n} « {text} » : la quantité « {q} » n'est pas un nombre entier"
        ))
    })?;
    line(n, fields[0], quantity, fields[2], fields[3])
}

/// The lines as a person picks them: "1 « Robot Thymio » (×4), 2 …".
pub fn lines_for_people(lines: &[Line]) -> String {
    lines
        .iter()
        .enumerate()
        .map(|(i, l)| format!("{} « {} » (×{})", i + 1, l.designation, l.quantity))
        .collect::<Vec<_>>()
        .join(", ")
}

/// Which lines of a delivery become equipment items, with their category:
/// `chosen` holds (1-based line, category, empty for `default_category`,
/// itself empty for « autre »). With `create_items` and nothing chosen, a
/// purchase of one line creates its units; one of several lines must say
/// which (USB cables and books are not equipment). Returns (line index,
/// category), checking that the units to create stay within bounds.
pub fn lines_to_items(
    lines: &[Line],
    create_items: bool,
    chosen: &[(i64, String)],
    default_category: &str,
) -> Result<Vec<(usize, String)>> {
    let default = match default_category.trim() {
        "" => "autre",
        c => c,
    };
    let valid = || {
        if lines.is_empty() {
            "la demande n'a aucune ligne".to_string()
        } else {
            format!("lignes de la demande : {}", lines_for_people(lines))
        }
    };
    let mut out: Vec<(usize, String)> = Vec::new();
    if chosen.is_empty() {
        if !create_items {
            return Ok(out);
        }
        if lines.len() != 1 {
            return Err(Error::invalid(format!(
                "précisez quelles lignes deviennent du matériel, chacune avec sa catégorie : \
                 --item LIGNE[:CATÉGORIE] (répétable, par exemple --item 1:robotique) ; {}",
                valid()
            )));
        }
        out.push((0, default.to_string()));
    }
    for (n, category) in chosen {
        if *n < 1 || *n as usize > lines.len() {
            return Err(Error::invalid(format!(
                "ligne {n} inexistante ; {}",
                valid()
            )));
        }
        let index = *n as usize - 1;
        if out.iter().any(|(i, _)| *i == index) {
            return Err(Error::invalid(format!(
                "ligne {n} donnée deux fois : une catégorie par ligne"
            )));
        }
        let category = match category.trim() {
            "" => default.to_string(),
            c => required_text("category", c, super::equipment::MAX_CATEGORY)?,
        };
        out.push((index, category));
    }
    let count: i64 = out.iter().map(|(i, _)| lines[*i].quantity).sum();
    if count > MAX_ITEMS_CREATED {
        return Err(Error::invalid(format!(
            "{count} objets à créer, au plus {MAX_ITEMS_CREATED} par livraison : \
             choisissez moins de lignes, ou créez-les avec equipment add"
        )));
    }
    Ok(out)
}

/// States as people read them, beside their keys.
pub const STATES_FR: &[(&str, &str)] = &[
    ("draft", "brouillon"),
    ("submitted", "soumise"),
    ("needs_info", "compléments demandés"),
    ("validated", "validée"),
    ("refused", "refusée"),
    ("ordered", "commandée"),
    ("delivered", "livrée"),
    ("cancelled", "annulée"),
];

/// A state, or a step of the history (`created`), in French.
pub fn state_fr(key: &str) -> &str {
    if key == "created" {
        return "créée";
    }
    STATES_FR
        .iter()
        .find(|(k, _)| *k == key)
        .map(|(_, v)| *v)
        .unwrap_or(key)
}

/// A state filter as typed: the key or the French word, whatever the case
/// and accents.
pub fn state_filter(typed: &str) -> Result<&'static str> {
    let fold = |s: &str| super::fold_for_search(s.trim()).replace(['_', '-'], " ");
    let t = fold(typed);
    STATES_FR
        .iter()
        .find(|(k, f)| t == fold(k) || t == fold(f) || (*k == "needs_info" && t == "complements"))
        .map(|(k, _)| *k)
        .ok_or_else(|| {
            Error::invalid(format!(
                "état « {} » inconnu : valeurs possibles {}",
                typed.trim(),
                STATES_FR
                    .iter()
                    .map(|(k, f)| format!("{f} ({k})"))
                    .collect::<Vec<_>>()
                    .join(", ")
            ))
        })
}

/// What a site gives to create or change a request; `None` keeps the value.
#[derive(Debug, Clone, Default)]
pub struct Patch {
    pub object: Option<String>,
    pub lines: Option<Vec<Line>>,
    pub supplier: Option<String>,
    pub funding: Option<String>,
    pub action: Option<String>,
}

impl Patch {
    /// Validates every given field, then applies them; changes nothing on error.
    pub fn apply(&self, p: &mut Purchase, now: &str) -> Result<()> {
        let mut next = p.clone();
        if let Some(v) = &self.object {
            next.object = required_text("object", v, MAX_OBJECT)?;
        }
        if let Some(lines) = &self.lines {
            if lines.len() > MAX_LINES {
                return Err(Error::invalid(format!(
                    "au plus {MAX_LINES} lignes par demande"
                )));
            }
            next.lines = lines
                .iter()
                .enumerate()
                .map(|(i, l)| {
                    line(
                        i + 1,
                        &l.designation,
                        l.quantity,
                        &l.unit_price_ht,
                        &l.vat_rate,
                    )
                })
                .collect::<Result<_>>()?;
        }
        if let Some(v) = &self.supplier {
            next.supplier = optional_text("supplier", v, MAX_TEXT)?;
        }
        if let Some(v) = &self.funding {
            next.funding = optional_text("funding", v, MAX_OBJECT)?;
        }
        if let Some(v) = &self.action {
            next.action = optional_text("action", v, 64)?;
        }
        next.updated_at = now.to_string();
        *p = next;
        Ok(())
    }
}

pub fn new_purchase(patch: &Patch, created: Transition) -> Result<Purchase> {
    let mut p = Purchase {
        object: String::new(),
        lines: Vec::new(),
        supplier: String::new(),
        funding: String::new(),
        action: String::new(),
        updated_at: created.at.clone(),
        created: created.clone(),
        submitted: Vec::new(),
        ordered: None,
        delivered: None,
        cancelled: None,
        items: Vec::new(),
    };
    let mut patch = patch.clone();
    patch.object.get_or_insert_with(String::new);
    patch.apply(&mut p, &created.at)?;
    Ok(p)
}

/// FailedPrecondition unless `state` is one of `allowed`.
pub fn require_state(id: &str, state: &str, allowed: &[&str], doing: &str) -> Result<()> {
    if allowed.contains(&state) {
        return Ok(());
    }
    Err(Error::precondition(format!(
        "impossible de {doing} la demande d'achat {id} : elle est à l'état {state} \
         (possible à l'état {})",
        allowed.join(" ou ")
    )))
}

pub fn get(doc: &AutoCommit, id: &str) -> Result<Option<Purchase>> {
    map_entry(doc, MAP, id)
}

pub fn all(doc: &AutoCommit) -> Result<BTreeMap<String, Purchase>> {
    map_entries(doc, MAP)
}

pub fn put(doc: &mut AutoCommit, id: &str, p: &Purchase) -> Result<()> {
    put_entry(doc, MAP, id, p)
}

pub fn decisions(doc: &AutoCommit) -> Result<BTreeMap<String, Decision>> {
    map_entries(doc, DECISIONS)
}

pub fn put_decision(doc: &mut AutoCommit, d: &Decision) -> Result<()> {
    put_entry(doc, DECISIONS, &decision_key(&d.purchase, d.submission), d)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn t(at: &str) -> Transition {
        Transition {
            at: at.into(),
            site: "metz".into(),
            role: "director".into(),
            note: String::new(),
        }
    }

    #[test]
    fn lines_parse_and_totals_are_exact() {
        let a = parse_line(1, "Robot Thymio;3;129,90;20").unwrap();
        assert_eq!(a.unit_price_ht, "129.90");
        let sum = a.totals();
        assert_eq!(eur(sum.ht), "389.70");
        assert_eq!(eur(sum.vat), "77.94");
        assert_eq!(eur(sum.ttc), "467.64");
        // 5.5 % of 10.01 is 0.55055: rounded to the cent on the line.
        let b = parse_line(2, "Livre;1;10.01;5,5%").unwrap();
        assert_eq!(b.vat_rate, "5.5");
        assert_eq!(eur(b.totals().vat), "0.55");
        // 0.1 + 0.2 in floating point is not 0.3; here it is.
        let p = Purchase {
            lines: vec![
                line(1, "a", 1, "0.10", "0").unwrap(),
                line(2, "b", 1, "0.20", "0").unwrap(),
            ],
            ..new_purchase(
                &Patch {
                    object: Some("o".into()),
                    ..Default::default()
                },
                t("t0"),
            )
            .unwrap()
        };
        assert_eq!(eur(p.totals().ttc), "0.30");
    }

    #[test]
    fn malformed_lines_say_what_is_wrong() {
        for (text, expect) in [
            ("Robot;3;129.90", "4 champs"),
            ("Robot;-2;10;20", "négative"),
            ("Robot;deux;10;20", "nombre entier"),
            ("Robot;0;10;20", "hors limites"),
            (";1;10;20", "designation"),
            ("Robot;1;-10;20", "négatif"),
            ("Robot;1;10.123;20", "deux décimales"),
            ("Robot;1;10;120", "entre 0 et 100"),
            ("Robot;1;;20", "prix unitaire"),
            ("Robot;1;10;beaucoup", "TVA"),
        ] {
            let e = parse_line(4, text).unwrap_err().to_string();
            assert!(e.contains(expect), "{text}: {e}");
            assert!(e.contains("ligne 4"), "{text}: {e}");
        }
    }

    #[test]
    fn deliveries_create_items_from_the_lines_chosen() {
        let lines = vec![
            line(1, "Robot Thymio", 4, "129.90", "20").unwrap(),
            line(2, "Câble USB", 10, "3", "20").unwrap(),
            line(3, "Caméra", 1, "300", "20").unwrap(),
        ];
        assert!(lines_to_items(&lines, false, &[], "").unwrap().is_empty());
        let e = lines_to_items(&lines, true, &[], "robotique")
            .unwrap_err()
            .to_string();
        assert!(
            e.contains("--item") && e.contains("2 « Câble USB » (×10)"),
            "{e}"
        );
        let picked = lines_to_items(
            &lines,
            false,
            &[(1, "robotique".into()), (3, String::new())],
            "vidéo",
        )
        .unwrap();
        assert_eq!(picked, vec![(0, "robotique".into()), (2, "vidéo".into())]);
        let e = lines_to_items(&lines, true, &[(4, String::new())], "")
            .unwrap_err()
            .to_string();
        assert!(
            e.contains("ligne 4 inexistante") && e.contains("1 « Robot Thymio »"),
            "{e}"
        );
        assert!(lines_to_items(&lines, true, &[(1, "a".into()), (1, "b".into())], "").is_err());
        let one = &lines[..1];
        assert_eq!(
            lines_to_items(one, true, &[], "").unwrap(),
            vec![(0, "autre".into())]
        );
        assert_eq!(state_filter("Livrée").unwrap(), "delivered");
        assert_eq!(state_filter("brouillon").unwrap(), "draft");
        assert_eq!(state_filter("needs_info").unwrap(), "needs_info");
        assert!(state_filter("perdue")
            .unwrap_err()
            .to_string()
            .contains("livrée (delivered)"));
    }

    #[test]
    fn the_state_follows_the_decision_on_the_latest_submission() {
        let mut p = new_purchase(
            &Patch {
                object: Some("Robots".into()),
                lines: Some(vec![line(1, "Robot", 2, "100", "20").unwrap()]),
                ..Default::default()
            },
            t("t0"),
        )
        .unwrap();
        assert_eq!(p.state(None), "draft");
        p.submitted.push(t("t1"));
        assert_eq!(p.state(None), "submitted");
        let mut d = Decision {
            site: "metz".into(),
            purchase: "pu-1".into(),
            submission: 1,
            verdict: "needs_info".into(),
            decided: t("t1"),
        };
        assert_eq!(p.state(Some(&d)), "needs_info");
        p.submitted.push(t("t2"));
        assert_eq!(p.state(Some(&d)), "submitted", "an older decision");
        d.submission = 2;
        d.verdict = "validated".into();
        assert_eq!(p.state(Some(&d)), "validated");
        p.ordered = Some(t("t2"));
        assert_eq!(p.state(Some(&d)), "ordered");
        p.delivered = Some(t("t3"));
        assert_eq!(p.state(Some(&d)), "delivered");
        let mut doc = AutoCommit::new();
        put(&mut doc, "pu-1", &p).unwrap();
        assert_eq!(get(&doc, "pu-1").unwrap(), Some(p));
        put_decision(&mut doc, &d).unwrap();
        assert_eq!(decisions(&doc).unwrap()["pu-1/2"], d);
    }
}
