//! The French label of every indicator key: what people read in tables,
//! spreadsheets and bilans. The README's indicator reference mirrors
//! [`LABELS`]; a test checks both.

/// Every fixed indicator key with its French label, in report order.
pub const LABELS: &[(&str, &str)] = &[
    ("loans.requests", "demandes de prêt reçues"),
    ("loans.requests_sent", "demandes de prêt envoyées"),
    ("loans.lent", "prêts consentis (sortis)"),
    ("loans.borrowed", "emprunts (sortis)"),
    ("loans.requested", "demandes en attente"),
    ("loans.approved", "prêts accordés, pas encore sortis"),
    ("loans.refused", "demandes refusées"),
    ("loans.checked_out", "prêts sortis, pas encore rendus"),
    ("loans.returned", "prêts rendus"),
    ("loans.cancelled", "demandes annulées"),
    ("loans.overdue", "prêts en retard"),
    ("loans.recorded", "prêts enregistrés après coup"),
    ("loans.item_days_lent", "objets-jours prêtés"),
    ("loans.item_days_borrowed", "objets-jours empruntés"),
    ("equipment.items", "matériel à l'inventaire"),
    ("equipment.loanable", "matériel prêtable"),
    (
        "equipment.item_days_available",
        "objets-jours disponibles (matériel prêtable)",
    ),
    (
        "equipment.item_days_out",
        "objets-jours sortis (matériel prêtable)",
    ),
    (
        "equipment.use_rate_pct",
        "taux d'utilisation du matériel prêtable (%)",
    ),
    ("events.count", "séances d'événements"),
    ("events.seminar", "séances de séminaire"),
    ("events.workshop", "séances d'atelier"),
    ("events.exhibition", "séances de manifestation"),
    ("events.meeting", "réunions"),
    ("events.training", "séances de formation"),
    ("events.roving_action", "séances d'action itinérante"),
    ("events.cancelled", "séances annulées"),
    (
        "events.with_attendance",
        "séances avec fréquentation saisie",
    ),
    ("attendance.pupils", "élèves présents"),
    ("attendance.teachers", "enseignants présents"),
    ("attendance.families", "membres des familles présents"),
    ("attendance.partners", "partenaires présents"),
    ("attendance.total", "personnes présentes (total)"),
    ("actions.count", "actions communes"),
    ("actions.idea", "actions à l'état d'idée"),
    ("actions.preparing", "actions en préparation"),
    ("actions.in_progress", "actions en cours"),
    ("actions.done", "actions terminées"),
    ("actions.cancelled", "actions annulées"),
    ("actions.axis_1", "actions de l'axe 1"),
    ("actions.axis_2", "actions de l'axe 2"),
    ("actions.axis_3", "actions de l'axe 3"),
    ("actions.budget_planned_eur", "budget prévu des actions (€)"),
    ("actions.budget_spent_eur", "budget dépensé des actions (€)"),
    ("partners.count", "partenaires"),
    ("partners.local_authority", "partenaires : collectivités"),
    ("partners.association", "partenaires : associations"),
    ("partners.company", "partenaires : entreprises"),
    ("partners.university", "partenaires : universités"),
    ("partners.other", "partenaires : autres"),
    (
        "partners.contribution_eur",
        "contributions financières des partenaires (€)",
    ),
    ("partners.in_kind", "partenaires contribuant en nature"),
    ("purchases.requested", "demandes d'achat soumises"),
    ("purchases.validated", "demandes d'achat validées"),
    ("purchases.delivered", "demandes d'achat livrées"),
    ("purchases.requested_eur", "achats demandés (€ TTC)"),
    ("purchases.validated_eur", "achats validés (€ TTC)"),
    ("purchases.delivered_eur", "achats livrés (€ TTC)"),
];

/// Keys made of a name: `actions.indicator.<name>.target|actual` and
/// `purchases.funding.<line>.requested_eur|validated_eur|delivered_eur`.
pub const PATTERNS: &[(&str, &str)] = &[
    (
        "actions.indicator.<nom>.target",
        "indicateur « <nom> » des actions : cible",
    ),
    (
        "actions.indicator.<nom>.actual",
        "indicateur « <nom> » des actions : réalisé",
    ),
    (
        "purchases.funding.<ligne>.requested_eur",
        "achats demandés (€ TTC), financement « <ligne> »",
    ),
    (
        "purchases.funding.<ligne>.validated_eur",
        "achats validés (€ TTC), financement « <ligne> »",
    ),
    (
        "purchases.funding.<ligne>.delivered_eur",
        "achats livrés (€ TTC), financement « <ligne> »",
    ),
];

/// The French label of an indicator key; `None` for a key no report makes.
pub fn label(key: &str) -> Option<String> {
    if let Some((_, l)) = LABELS.iter().find(|(k, _)| *k == key) {
        return Some(l.to_string());
    }
    if let Some(rest) = key.strip_prefix("actions.indicator.") {
        let (name, what) = rest.rsplit_once('.')?;
        let what = match what {
            "target" => "cible",
            "actual" => "réalisé",
            _ => return None,
        };
        return Some(format!("indicateur « {name} » des actions : {what}"));
    }
    if let Some(rest) = key.strip_prefix("purchases.funding.") {
        let (line, what) = rest.rsplit_once('.')?;
        let base = LABELS
            .iter()
            .find(|(k, _)| k.strip_prefix("purchases.") == Some(what))?
            .1;
        return Some(if line == "none" {
            format!("{base}, sans financement indiqué")
        } else {
            format!("{base}, financement « {line} »")
        });
    }
    None
}
