//! The renderers of indicator reports and bilans, shared by the command
//! line (`maillage report`) and the web pages (`/indicateurs`, `/bilans`):
//! JSON (the `--format json` contract), CSV for programs, CSV for French
//! spreadsheets (`csv-excel`: `;`, decimal comma, UTF-8 with its mark) and
//! Markdown. They read the API's wire types, so every caller prints the
//! same bytes from the same reply.

use serde_json::{json, Map, Value};

use crate::pb;

/// A figure as JSON: a number for counts, a string for amounts and rates.
pub fn value(f: &pb::Figure) -> Value {
    if f.integer {
        f.value
            .parse::<i64>()
            .map(Value::from)
            .unwrap_or_else(|_| Value::from(f.value.clone()))
    } else {
        Value::from(f.value.clone())
    }
}

pub fn figures_json(f: &[pb::Figure]) -> Value {
    Value::Object(
        f.iter()
            .map(|f| (f.name.clone(), value(f)))
            .collect::<Map<String, Value>>(),
    )
}

/// Every indicator key of `figures` with its French label.
pub fn labels_json<'a>(figures: impl Iterator<Item = &'a pb::Figure>) -> Value {
    Value::Object(
        figures
            .map(|f| (f.name.clone(), Value::from(f.label.clone())))
            .collect::<Map<String, Value>>(),
    )
}

/// The JSON of an indicator report (the contract of `--format json`):
/// figures under their English keys, and `labels`, each key's French label.
pub fn indicators_json(r: &pb::IndicatorReport) -> Value {
    json!({
        "labels": labels_json(r.total.iter().chain(r.groups.iter().flat_map(|g| g.figures.iter()))),
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

pub fn csv_writer(out: Vec<u8>) -> csv::Writer<Vec<u8>> {
    csv::WriterBuilder::new().flexible(true).from_writer(out)
}

/// CSV of an indicator report: one row per group and indicator; `label` is
/// the group's, `indicator_label` the indicator's French label.
pub fn indicators_csv(r: &pb::IndicatorReport) -> anyhow::Result<Vec<u8>> {
    let mut w = csv_writer(Vec::new());
    w.write_record(["group", "label", "indicator", "value", "indicator_label"])?;
    for g in &r.groups {
        for f in &g.figures {
            w.write_record([&g.key, &g.label, &f.name, &f.value, &f.label])?;
        }
    }
    for f in &r.total {
        w.write_record(["total", "total", &f.name, &f.value, &f.label])?;
    }
    Ok(w.into_inner()?)
}

/// A date of the API (AAAA-MM-JJ) as people read it.
pub fn fr_day(d: &str) -> String {
    crate::domain::time::parse_date(d)
        .map(crate::domain::time::fr_date)
        .unwrap_or_else(|_| d.to_string())
}

/// The title of an indicator report, in French.
pub fn indicators_title(r: &pb::IndicatorReport) -> String {
    let mut out = format!("Indicateurs du {} au {}", fr_day(&r.from), fr_day(&r.to));
    if !r.site.is_empty() {
        out.push_str(&format!(", site {}", r.site));
    }
    if r.axis != 0 {
        out.push_str(&format!(", axe {}", r.axis));
    }
    out
}

/// The sections of an indicator report, by the first part of their keys.
pub const SECTIONS: &[(&str, &str)] = &[
    ("loans", "Prêts"),
    ("equipment", "Matériel"),
    ("events", "Événements"),
    ("attendance", "Fréquentation"),
    ("actions", "Actions communes"),
    ("partners", "Partenaires"),
    ("purchases", "Achats"),
];

/// The section of a key: its position in [`SECTIONS`] and its title.
pub fn section_of(key: &str) -> (usize, &'static str) {
    let first = key.split('.').next().unwrap_or(key);
    SECTIONS
        .iter()
        .position(|(k, _)| *k == first)
        .map(|i| (i, SECTIONS[i].1))
        .unwrap_or((SECTIONS.len(), "Autres"))
}

/// Rows of the report, section by section: (section, figure of the total,
/// value of each group).
pub fn rows(r: &pb::IndicatorReport) -> Vec<(&'static str, &pb::Figure, Vec<&str>)> {
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
    let mut rows = r
        .total
        .iter()
        .map(|f| {
            let values = groups
                .iter()
                .map(|g| g.get(f.name.as_str()).copied().unwrap_or(""))
                .collect();
            (section_of(&f.name), f, values)
        })
        .collect::<Vec<_>>();
    rows.sort_by_key(|((i, _), _, _)| *i);
    rows.into_iter().map(|((_, s), f, v)| (s, f, v)).collect()
}

/// A writer of CSV for French spreadsheets: `;`, CRLF, UTF-8 with its mark.
pub fn excel_writer() -> csv::Writer<Vec<u8>> {
    csv::WriterBuilder::new()
        .flexible(true)
        .delimiter(b';')
        .terminator(csv::Terminator::CRLF)
        .from_writer(BOM.to_vec())
}

/// A decimal as a French spreadsheet reads it: "12,5", "1500,00". No
/// thousands separator here, on purpose: a spreadsheet must read the cell as
/// a number (it formats thousands itself), and a space would make it text.
/// Everything a person reads directly uses [`fr_number`].
pub fn excel_number(v: &str) -> String {
    v.replace('.', ",")
}

/// A decimal as people read it in French, with its thousands separated by a
/// narrow no-break space, as amounts are everywhere else ("12 000,00",
/// "1 500,5"); [`fr_euros`] adds the unit. Text that is not a decimal is
/// returned as it is.
pub fn fr_number(v: &str) -> String {
    let v = v.trim();
    let (int, frac) = v.split_once('.').unwrap_or((v, ""));
    let (sign, digits) = int.strip_prefix('-').map_or(("", int), |d| ("-", d));
    if digits.is_empty()
        || !digits.chars().all(|c| c.is_ascii_digit())
        || !frac.chars().all(|c| c.is_ascii_digit())
    {
        return v.to_string();
    }
    let mut grouped = String::new();
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i) % 3 == 0 {
            grouped.push('\u{202f}');
        }
        grouped.push(c);
    }
    if frac.is_empty() {
        format!("{sign}{grouped}")
    } else {
        format!("{sign}{grouped},{frac}")
    }
}

/// An amount in euros as people read it: "1 500,00 €" (empty stays empty).
pub fn fr_euros(v: &str) -> String {
    if v.trim().is_empty() {
        String::new()
    } else {
        format!("{} €", fr_number(v))
    }
}

/// The indicators for a French spreadsheet: a title, then one table per
/// section (loans, equipment…), each with its title and French header:
/// indicator, code (the English key), one column per group, total.
pub fn indicators_csv_excel(r: &pb::IndicatorReport) -> anyhow::Result<Vec<u8>> {
    let mut w = excel_writer();
    w.write_record([indicators_title(r)])?;
    let mut header = vec!["Indicateur".to_string(), "Code".to_string()];
    header.extend(r.groups.iter().map(|g| g.label.clone()));
    header.push("Total".into());
    let mut current = "";
    for (section, f, values) in rows(r) {
        if section != current {
            w.write_record([""])?;
            w.write_record([section])?;
            w.write_record(&header)?;
            current = section;
        }
        let mut row = vec![f.label.clone(), f.name.clone()];
        let cell = |v: &str| {
            if f.integer {
                v.to_string()
            } else {
                excel_number(v)
            }
        };
        row.extend(values.iter().map(|v| cell(v)));
        row.push(cell(&f.value));
        w.write_record(&row)?;
    }
    Ok(w.into_inner()?)
}

/// Spreadsheets open UTF-8 CSV correctly with this mark first.
pub const BOM: &[u8] = b"\xEF\xBB\xBF";

pub fn bilan_json(b: &pb::BilanReport) -> Value {
    let ind = b.indicators.clone().unwrap_or_default();
    json!({
        "labels": labels_json(ind.total.iter()),
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
    w.write_record(["section", "indicator", "value", "label"])?;
    for f in &ind.total {
        w.write_record(["indicators", &f.name, &f.value, &f.label])?;
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

pub fn md_escape(s: &str) -> String {
    s.replace('|', "\\|").replace('\n', " ")
}

pub fn md_table(out: &mut String, header: &[&str], rows: Vec<Vec<String>>) {
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

/// A loan state in French.
pub fn loan_state_fr(s: &str) -> &str {
    crate::domain::loans::STATES_FR
        .iter()
        .find(|(k, _)| *k == s)
        .map(|(_, fr)| *fr)
        .unwrap_or(s)
}

/// A purchase request's state in French.
pub fn purchase_state_fr(s: &str) -> &str {
    match s {
        "draft" => "brouillon",
        "submitted" => "soumise",
        "needs_info" => "compléments demandés",
        "validated" => "validée",
        "refused" => "refusée",
        "ordered" => "commandée",
        "delivered" => "livrée",
        "cancelled" => "annulée",
        other => other,
    }
}

/// An action's status as stored ("en_cours") in French ("en cours").
pub fn action_status_fr(s: &str) -> String {
    s.replace('_', " ")
}

pub fn role_fr(role: &str) -> &str {
    if role == "lead" {
        "pilote"
    } else {
        "participant"
    }
}

/// A loan window (RFC 3339 instants, the end excluded) as Paris days
/// JJ/MM/AAAA: its first day and its last.
pub fn loan_days(from: &str, to: &str) -> (String, String) {
    let day = |s: &str, end: bool| {
        chrono::DateTime::parse_from_rfc3339(s)
            .map(|t| {
                let t = if end {
                    t - chrono::Duration::seconds(1)
                } else {
                    t
                };
                crate::domain::time::paris(t.with_timezone(&chrono::Utc))
                    .format("%d/%m/%Y")
                    .to_string()
            })
            .unwrap_or_else(|_| s.to_string())
    };
    (day(from, false), day(to, true))
}

/// AAAA-MM-JJ (or an instant) as JJ/MM/AAAA, what French spreadsheets read.
pub fn excel_day(d: &str) -> String {
    if let Ok(day) = crate::domain::time::parse_date(d) {
        return day.format("%d/%m/%Y").to_string();
    }
    chrono::DateTime::parse_from_rfc3339(d)
        .map(|t| {
            crate::domain::time::paris(t.with_timezone(&chrono::Utc))
                .format("%d/%m/%Y %H:%M")
                .to_string()
        })
        .unwrap_or_else(|_| d.to_string())
}

/// A budget cell of the bilan: the lead's amount, or who holds it.
pub fn budget_cell(a: &pb::BilanAction, amount: &str) -> String {
    if a.role == "lead" {
        amount.to_string()
    } else {
        format!("(budget de {})", lead_name(a))
    }
}

/// The lead site of an action, by its name.
pub fn lead_name(a: &pb::BilanAction) -> &str {
    if a.lead_name.is_empty() {
        &a.lead
    } else {
        &a.lead_name
    }
}

/// The items of a loan, by their names.
pub fn loan_items(l: &pb::BilanLoan) -> String {
    if l.item_names.len() == l.items.len() {
        l.item_names.join(", ")
    } else {
        l.items.join(", ")
    }
}

/// A loan's state in a bilan: overdue when it is, and marked when it was
/// entered after the fact.
pub fn loan_state_shown(l: &pb::BilanLoan) -> String {
    let mut state = loan_state_fr(&l.state).to_string();
    if l.overdue {
        state.push_str(", en retard");
    }
    if l.recorded {
        state.push_str(" (enregistré après coup)");
    }
    state
}

pub fn bilan_md(b: &pb::BilanReport) -> String {
    let ind = b.indicators.clone().unwrap_or_default();
    let name = if b.site_name.is_empty() {
        &b.site
    } else {
        &b.site_name
    };
    let mut out = format!(
        "# Bilan de {name} ({})\n\nPériode : du {} au {}. Établi le {}.\n\n## Indicateurs\n\n",
        b.site,
        fr_day(&b.from),
        fr_day(&b.to),
        crate::domain::time::fr_instant(&b.generated_at)
    );
    md_table(
        &mut out,
        &["indicateur", "valeur"],
        ind.total
            .iter()
            .map(|f| {
                let v = if f.integer {
                    f.value.clone()
                } else {
                    fr_number(&f.value)
                };
                vec![f.label.clone(), v]
            })
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
            "séances saisies",
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
                    crate::domain::calendar::kind_label(&e.kind).to_string(),
                    if e.start.len() == 10 {
                        fr_day(&e.start)
                    } else {
                        crate::domain::time::fr_instant(&e.start)
                    },
                    e.occurrences.to_string(),
                    e.sessions_with_attendance.to_string(),
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
            &["prêt", other, "état", "quand", "matériel", "objets-jours"],
            loans
                .iter()
                .map(|l| {
                    vec![
                        l.id.clone(),
                        if other == "emprunteur" {
                            l.borrower_name.clone()
                        } else {
                            l.lender_name.clone()
                        },
                        loan_state_shown(l),
                        crate::domain::time::fr_period(&l.from, &l.to),
                        loan_items(l),
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
            "budget prévu (€)",
            "budget dépensé (€)",
        ],
        b.actions
            .iter()
            .map(|a| {
                vec![
                    a.title.clone(),
                    a.axis.to_string(),
                    action_status_fr(&a.status),
                    role_fr(&a.role).to_string(),
                    budget_cell(a, &fr_number(&a.budget_planned)),
                    budget_cell(a, &fr_number(&a.budget_spent)),
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
            "total TTC (€)",
        ],
        b.purchases
            .iter()
            .map(|p| {
                vec![
                    p.id.clone(),
                    p.object.clone(),
                    p.funding.clone(),
                    purchase_state_fr(&p.state).to_string(),
                    fr_day(&p.submitted_on),
                    fr_number(&p.total_ttc),
                ]
            })
            .collect(),
    );
    out
}

/// The bilan for a French spreadsheet: a title, then one table per section
/// (indicators, events, loans given and received, actions, purchases), each
/// with its title and French header; dates JJ/MM/AAAA, decimal commas,
/// states in French.
pub fn bilan_csv_excel(b: &pb::BilanReport) -> anyhow::Result<Vec<u8>> {
    let ind = b.indicators.clone().unwrap_or_default();
    let name = if b.site_name.is_empty() {
        &b.site
    } else {
        &b.site_name
    };
    let mut w = excel_writer();
    w.write_record([format!(
        "Bilan de {name} ({}), du {} au {}",
        b.site,
        excel_day(&b.from),
        excel_day(&b.to)
    )])?;
    let section = |w: &mut csv::Writer<Vec<u8>>, title: &str, header: &[&str]| {
        w.write_record([""])?;
        w.write_record([title])?;
        w.write_record(header)
    };
    section(&mut w, "Indicateurs", &["Indicateur", "Code", "Valeur"])?;
    for f in &ind.total {
        let v = if f.integer {
            f.value.clone()
        } else {
            excel_number(&f.value)
        };
        w.write_record([f.label.as_str(), &f.name, &v])?;
    }
    section(
        &mut w,
        "Événements et fréquentation",
        &[
            "Événement",
            "Identifiant",
            "Type",
            "Début",
            "Séances",
            "Annulé",
            "Séances avec fréquentation",
            "Élèves",
            "Enseignants",
            "Familles",
            "Partenaires",
        ],
    )?;
    for e in &b.events {
        w.write_record([
            e.title.clone(),
            e.id.clone(),
            crate::domain::calendar::kind_label(&e.kind).to_string(),
            excel_day(&e.start),
            e.occurrences.to_string(),
            if e.cancelled { "oui" } else { "non" }.to_string(),
            e.sessions_with_attendance.to_string(),
            e.pupils.to_string(),
            e.teachers.to_string(),
            e.families.to_string(),
            e.partners.to_string(),
        ])?;
    }
    for (title, loans, other) in [
        ("Prêts donnés", &b.loans_given, "Emprunteur"),
        ("Prêts reçus", &b.loans_received, "Prêteur"),
    ] {
        section(
            &mut w,
            title,
            &[
                "Prêt",
                other,
                "État",
                "Du",
                "Au",
                "Matériel",
                "Objets-jours",
                "Objet du prêt",
                "Action",
            ],
        )?;
        for l in loans {
            let (from, to) = loan_days(&l.from, &l.to);
            w.write_record([
                l.id.clone(),
                if other == "Emprunteur" {
                    l.borrower_name.clone()
                } else {
                    l.lender_name.clone()
                },
                loan_state_shown(l),
                from,
                to,
                loan_items(l),
                l.item_days.to_string(),
                l.purpose.clone(),
                l.action.clone(),
            ])?;
        }
    }
    section(
        &mut w,
        "Actions communes",
        &[
            "Action",
            "Identifiant",
            "Axe",
            "Statut",
            "Pilote",
            "Rôle",
            "Début",
            "Fin",
            "Budget prévu (€)",
            "Budget dépensé (€)",
        ],
    )?;
    for a in &b.actions {
        w.write_record([
            a.title.clone(),
            a.id.clone(),
            a.axis.to_string(),
            action_status_fr(&a.status),
            lead_name(a).to_string(),
            role_fr(&a.role).to_string(),
            excel_day(&a.start),
            excel_day(&a.end),
            budget_cell(a, &excel_number(&a.budget_planned)),
            budget_cell(a, &excel_number(&a.budget_spent)),
        ])?;
    }
    section(
        &mut w,
        "Demandes d'achat",
        &[
            "Demande",
            "Objet",
            "Financement",
            "État",
            "Soumise le",
            "Total TTC (€)",
        ],
    )?;
    for p in &b.purchases {
        w.write_record([
            p.id.clone(),
            p.object.clone(),
            p.funding.clone(),
            purchase_state_fr(&p.state).to_string(),
            excel_day(&p.submitted_on),
            excel_number(&p.total_ttc),
        ])?;
    }
    Ok(w.into_inner()?)
}

/// `--format json` of `report indicators`, as bytes: pretty, with a final
/// newline.
pub fn indicators_json_bytes(r: &pb::IndicatorReport) -> anyhow::Result<Vec<u8>> {
    let mut s = serde_json::to_string_pretty(&indicators_json(r))?;
    s.push('\n');
    Ok(s.into_bytes())
}

/// `--format json` of `report bilan`, as bytes: pretty, with a final newline.
pub fn bilan_json_bytes(b: &pb::BilanReport) -> anyhow::Result<Vec<u8>> {
    let mut s = serde_json::to_string_pretty(&bilan_json(b))?;
    s.push('\n');
    Ok(s.into_bytes())
}
