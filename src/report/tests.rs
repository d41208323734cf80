//! Every indicator against values computed by hand on a small fixture.
//!
//! Period: the school year 2025-2026 (1 September 2025 – 31 August 2026,
//! 365 days). Two sites, Metz and Nancy.

use super::facts::*;
use super::*;

fn d(s: &str) -> NaiveDate {
    NaiveDate::parse_from_str(s, "%Y-%m-%d").unwrap()
}

fn dec(s: &str) -> Decimal {
    s.parse().unwrap()
}

#[allow(clippy::too_many_arguments)]
fn loan(
    id: &str,
    lender: &str,
    borrower: &str,
    state: &'static str,
    from: &str,
    to: &str,
    categories: &[&str],
    action: &str,
) -> LoanFact {
    LoanFact {
        id: id.into(),
        lender: lender.into(),
        borrower: borrower.into(),
        state,
        start: format!("{from}T08:00:00Z").parse().unwrap(),
        end: format!("{to}T18:00:00Z").parse().unwrap(),
        from: d(from),
        to: d(to),
        window: (from.into(), to.into()),
        categories: categories.iter().map(|c| (*c).into()).collect(),
        items: std::sync::Arc::new((0..categories.len()).map(|i| format!("eq-{i}")).collect()),
        action: action.into(),
        purpose: "".into(),
        recorded: false,
    }
}

fn item(id: &str, site: &str, category: &str, lendable: bool, since: &str) -> ItemFact {
    ItemFact {
        id: id.into(),
        site: site.into(),
        category: category.into(),
        lendable,
        retired: false,
        since: d(since),
    }
}

fn event(
    site: &str,
    kind: &str,
    days: &[&str],
    cancelled: bool,
    attendance: Option<[i64; 4]>,
    action: &str,
) -> EventFact {
    EventFact {
        id: format!("ev-{site}-{}", days[0]),
        site: site.into(),
        title: kind.into(),
        kind: kind.into(),
        cancelled,
        days: days.iter().map(|s| d(s)).collect(),
        start: days[0].into(),
        attendance: attendance.map(|a| (d(days[0]), a)).into_iter().collect(),
        action: action.into(),
    }
}

#[allow(clippy::too_many_arguments)]
fn action(
    id: &str,
    axis: i64,
    status: &str,
    lead: &str,
    sites: &[&str],
    dates: Option<(&str, &str)>,
    budget: (&str, &str),
    indicators: &[(&str, &str, &str)],
) -> ActionFact {
    ActionFact {
        id: id.into(),
        title: id.into(),
        axis,
        status: status.into(),
        lead: lead.into(),
        sites: sites.iter().map(|s| s.to_string()).collect(),
        start: dates.map(|(s, _)| d(s)),
        end: dates.map(|(_, e)| d(e)),
        budget_planned: dec(budget.0),
        budget_spent: dec(budget.1),
        indicators: indicators
            .iter()
            .map(|(n, t, a)| (n.to_string(), dec(t), dec(a)))
            .collect(),
    }
}

fn partner(
    site: &str,
    kind: &str,
    created: &str,
    eur: &str,
    in_kind: bool,
    actions: &[&str],
) -> PartnerFact {
    PartnerFact {
        site: site.into(),
        kind: kind.into(),
        created: d(created),
        contribution: dec(eur),
        in_kind,
        actions: actions.iter().map(|s| s.to_string()).collect(),
    }
}

fn purchase(
    id: &str,
    site: &str,
    funding: &str,
    state: &'static str,
    submitted: Option<&str>,
    ttc: &str,
    action: &str,
) -> PurchaseFact {
    PurchaseFact {
        id: id.into(),
        site: site.into(),
        object: id.into(),
        funding: funding.into(),
        state,
        submitted: submitted.map(d),
        ttc: dec(ttc),
        action: action.into(),
    }
}

#[allow(clippy::field_reassign_with_default)]
fn fixture() -> Facts {
    let mut f = Facts::default();
    f.sites.insert("metz".into(), "Tiers-lieu de Metz".into());
    f.sites.insert("nancy".into(), "Tiers-lieu de Nancy".into());
    f.actions = vec![
        action(
            "act-a",
            1,
            "en_cours",
            "metz",
            &["metz", "nancy"],
            Some(("2025-10-01", "2026-06-30")),
            ("1000", "250.5"),
            &[("eleves", "100", "40")],
        ),
        // Over before the period.
        action(
            "act-b",
            2,
            "terminée",
            "nancy",
            &["nancy"],
            Some(("2025-01-10", "2025-03-01")),
            ("500", "500"),
            &[],
        ),
        // No dates: always in.
        action(
            "act-c",
            3,
            "idée",
            "nancy",
            &["nancy"],
            None,
            ("0", "0"),
            &[("eleves", "50", "0")],
        ),
    ];
    for a in &f.actions {
        f.axis_of.insert(a.id.clone(), a.axis);
    }
    let mut doc = DocFacts::default();
    doc.items = vec![
        item("eq-0", "metz", "robotique", true, "2025-01-01"),
        item("eq-1", "metz", "robotique", true, "2025-01-01"),
        item("eq-2", "metz", "robotique", false, "2025-01-01"),
        // 2026-03-01 to 2026-08-31: 184 days.
        item("eq-0", "nancy", "audio", true, "2026-03-01"),
    ];
    f.loans = vec![
        // 4 days × 2 items = 8 item-days: 4 in September, 4 in October.
        loan(
            "l1",
            "metz",
            "nancy",
            "returned",
            "2025-09-29",
            "2025-10-02",
            &["robotique", "robotique"],
            "act-a",
        ),
        // Out since January: overdue; 3 item-days.
        loan(
            "l2",
            "nancy",
            "metz",
            "checked_out",
            "2026-01-10",
            "2026-01-12",
            &["audio"],
            "",
        ),
        // Not out: no item-days.
        loan(
            "l3",
            "metz",
            "nancy",
            "requested",
            "2026-05-04",
            "2026-05-05",
            &["robotique"],
            "",
        ),
        // Before the period.
        loan(
            "l4",
            "metz",
            "nancy",
            "cancelled",
            "2024-05-01",
            "2024-05-03",
            &["robotique"],
            "",
        ),
        // Starts before the period: 2 of its days are in it.
        loan(
            "l5",
            "metz",
            "nancy",
            "returned",
            "2025-08-30",
            "2025-09-02",
            &["robotique"],
            "",
        ),
    ];
    doc.events = vec![
        event(
            "metz",
            "workshop",
            &["2025-09-10", "2025-09-17", "2025-09-24"],
            false,
            Some([20, 2, 0, 1]),
            "act-a",
        ),
        event(
            "nancy",
            "seminar",
            &["2026-02-05"],
            false,
            Some([0, 15, 0, 3]),
            "",
        ),
        event("nancy", "exhibition", &["2026-03-01"], true, None, ""),
        event(
            "metz",
            "meeting",
            &["2025-06-01"],
            false,
            Some([5, 5, 5, 5]),
            "",
        ),
    ];
    doc.partners = vec![
        partner(
            "metz",
            "local_authority",
            "2025-03-01",
            "1500",
            false,
            &["act-a"],
        ),
        partner("nancy", "company", "2026-01-15", "0", true, &[]),
        partner("nancy", "association", "2026-10-01", "200", false, &[]),
    ];
    f.docs.push(std::sync::Arc::new(doc));
    f.purchases = vec![
        purchase(
            "u1",
            "metz",
            "France 2030",
            "delivered",
            Some("2025-11-03"),
            "478.20",
            "act-a",
        ),
        purchase(
            "u2",
            "nancy",
            "France 2030",
            "validated",
            Some("2026-02-10"),
            "100.00",
            "",
        ),
        purchase(
            "u3",
            "nancy",
            "Collectivité",
            "refused",
            Some("2026-02-11"),
            "50.00",
            "",
        ),
        purchase("u4", "metz", "France 2030", "draft", None, "999.00", ""),
        purchase(
            "u5",
            "metz",
            "France 2030",
            "submitted",
            Some("2026-04-01"),
            "20.00",
            "",
        ),
    ];
    f
}

fn query(by: &str, site: &str, axis: u32) -> Query {
    Query::new("", "", "2025-2026", site, axis, by, d("2026-11-29")).unwrap()
}

fn run(by: &str, site: &str, axis: u32) -> Report {
    compute(&fixture(), &query(by, site, axis)).unwrap()
}

/// Checks figures of the total (`key` empty) or of a group.
fn check(r: &Report, key: &str, expected: &[(&str, &str)]) {
    for (name, want) in expected {
        let got = if key.is_empty() {
            r.total(name)
        } else {
            r.group(key, name)
        };
        assert_eq!(got, Some(*want), "{name} of {key:?} (by {:?})", r.query.by);
    }
}

#[test]
fn the_total_matches_the_hand_computed_figures() {
    let r = run("", "", 0);
    assert!(r.groups.is_empty());
    check(
        &r,
        "",
        &[
            // Every request in the period, once; lent and borrowed: those
            // that went out (checked out or returned).
            ("loans.requests", "4"),
            ("loans.requests_sent", "4"),
            ("loans.lent", "3"),
            ("loans.borrowed", "3"),
            ("loans.requested", "1"),
            ("loans.approved", "0"),
            ("loans.refused", "0"),
            ("loans.checked_out", "1"),
            ("loans.returned", "2"),
            ("loans.cancelled", "0"),
            ("loans.overdue", "1"),
            ("loans.item_days_lent", "13"),
            ("loans.item_days_borrowed", "13"),
            // The inventory (the item not loanable too), and the loanable.
            ("equipment.items", "4"),
            ("equipment.loanable", "3"),
            ("equipment.item_days_available", "914"),
            // Metz's two robots: 4 + 2 and 4 days; Nancy's recorder was
            // lent in January, before it was acquired: not counted.
            ("equipment.item_days_out", "10"),
            // 10 / (2 × 365 + 184) = 1.09 %.
            ("equipment.use_rate_pct", "1.1"),
            ("events.count", "4"),
            ("events.workshop", "3"),
            ("events.seminar", "1"),
            ("events.exhibition", "0"),
            ("events.meeting", "0"),
            ("events.training", "0"),
            ("events.roving_action", "0"),
            ("events.cancelled", "1"),
            ("events.with_attendance", "2"),
            ("attendance.pupils", "20"),
            ("attendance.teachers", "17"),
            ("attendance.families", "0"),
            ("attendance.partners", "4"),
            ("attendance.total", "41"),
            ("actions.count", "2"),
            ("actions.idea", "1"),
            ("actions.preparing", "0"),
            ("actions.in_progress", "1"),
            ("actions.done", "0"),
            ("actions.cancelled", "0"),
            ("actions.axis_1", "1"),
            ("actions.axis_2", "0"),
            ("actions.axis_3", "1"),
            ("actions.budget_planned_eur", "1000.00"),
            ("actions.budget_spent_eur", "250.50"),
            ("actions.indicator.eleves.target", "150"),
            ("actions.indicator.eleves.actual", "40"),
            ("partners.count", "2"),
            ("partners.local_authority", "1"),
            ("partners.company", "1"),
            ("partners.association", "0"),
            ("partners.contribution_eur", "1500.00"),
            ("partners.in_kind", "1"),
            ("purchases.requested", "4"),
            ("purchases.validated", "2"),
            ("purchases.delivered", "1"),
            ("purchases.requested_eur", "648.20"),
            ("purchases.validated_eur", "578.20"),
            ("purchases.delivered_eur", "478.20"),
            ("purchases.funding.France 2030.requested_eur", "598.20"),
            ("purchases.funding.France 2030.validated_eur", "578.20"),
            ("purchases.funding.France 2030.delivered_eur", "478.20"),
            ("purchases.funding.Collectivité.requested_eur", "50.00"),
            ("purchases.funding.Collectivité.validated_eur", "0.00"),
        ],
    );
}

#[test]
fn by_site() {
    let r = run("site", "", 0);
    let keys: Vec<&str> = r.groups.iter().map(|g| g.key.as_str()).collect();
    assert_eq!(keys, ["metz", "nancy"]);
    assert_eq!(r.groups[0].label, "Tiers-lieu de Metz");
    check(
        &r,
        "metz",
        &[
            ("loans.requests", "3"),
            ("loans.requests_sent", "1"),
            ("loans.lent", "2"),
            ("loans.borrowed", "1"),
            ("loans.returned", "2"),
            ("loans.requested", "1"),
            ("loans.overdue", "0"),
            ("loans.item_days_lent", "10"),
            ("loans.item_days_borrowed", "3"),
            ("equipment.items", "3"),
            ("equipment.loanable", "2"),
            // 10 / 730.
            ("equipment.use_rate_pct", "1.4"),
            ("events.count", "3"),
            ("events.workshop", "3"),
            ("events.with_attendance", "1"),
            ("attendance.pupils", "20"),
            ("attendance.total", "23"),
            ("actions.count", "1"),
            ("actions.in_progress", "1"),
            ("actions.budget_planned_eur", "1000.00"),
            ("actions.budget_spent_eur", "250.50"),
            ("actions.indicator.eleves.target", "100"),
            ("partners.count", "1"),
            ("partners.contribution_eur", "1500.00"),
            ("purchases.requested", "2"),
            ("purchases.requested_eur", "498.20"),
            ("purchases.delivered_eur", "478.20"),
        ],
    );
    check(
        &r,
        "nancy",
        &[
            ("loans.requests", "1"),
            ("loans.requests_sent", "3"),
            ("loans.lent", "1"),
            ("loans.borrowed", "2"),
            ("loans.checked_out", "1"),
            ("loans.overdue", "1"),
            ("loans.item_days_lent", "3"),
            ("loans.item_days_borrowed", "10"),
            ("equipment.items", "1"),
            // Its only loan was before its acquisition: 0 / 184.
            ("equipment.item_days_out", "0"),
            ("equipment.use_rate_pct", "0.0"),
            ("events.count", "1"),
            ("events.seminar", "1"),
            ("events.cancelled", "1"),
            ("attendance.teachers", "15"),
            ("attendance.total", "18"),
            // act-a (participant: no budget) and act-c (lead).
            ("actions.count", "2"),
            ("actions.idea", "1"),
            ("actions.in_progress", "1"),
            ("actions.budget_planned_eur", "0.00"),
            // act-a's results count for its participant too, act-c's for
            // its lead; act-a's budget only for its lead, Metz.
            ("actions.indicator.eleves.target", "150"),
            ("actions.indicator.eleves.actual", "40"),
            ("partners.count", "1"),
            ("partners.in_kind", "1"),
            ("purchases.requested", "2"),
            ("purchases.validated_eur", "100.00"),
            ("purchases.funding.Collectivité.requested_eur", "50.00"),
        ],
    );
}

#[test]
fn by_month() {
    let r = run("month", "", 0);
    assert_eq!(r.groups.len(), 12, "every month of the year, even empty");
    assert_eq!(r.groups[0].key, "2025-09");
    assert_eq!(r.groups[11].key, "2026-08");
    assert_eq!(
        r.groups[0].label, "septembre 2025",
        "months named in French"
    );
    check(
        &r,
        "2025-09",
        &[
            ("loans.lent", "2"),
            ("loans.item_days_lent", "6"),
            ("equipment.items", "3"),
            ("equipment.loanable", "2"),
            // 6 / (2 × 30).
            ("equipment.use_rate_pct", "10.0"),
            ("events.count", "3"),
            ("attendance.total", "23"),
            // act-c has no dates: no month (it used to fall in September).
            ("actions.count", "0"),
            ("actions.idea", "0"),
        ],
    );
    check(
        &r,
        "2025-10",
        &[
            ("loans.lent", "0"),
            ("loans.item_days_lent", "4"),
            ("actions.count", "1"),
            ("actions.budget_planned_eur", "1000.00"),
        ],
    );
    check(
        &r,
        "2026-01",
        &[("loans.lent", "1"), ("loans.item_days_borrowed", "3")],
    );
    check(
        &r,
        "2026-02",
        &[
            ("events.seminar", "1"),
            ("attendance.total", "18"),
            ("purchases.requested", "2"),
            ("purchases.requested_eur", "150.00"),
        ],
    );
    check(
        &r,
        "2026-03",
        &[
            ("events.cancelled", "1"),
            // Metz's 3 items and Nancy's, new this month.
            ("equipment.items", "4"),
            ("equipment.loanable", "3"),
            ("equipment.item_days_available", "93"),
        ],
    );
    check(&r, "2025-11", &[("purchases.delivered_eur", "478.20")]);
    check(
        &r,
        "2026-05",
        &[("loans.requested", "1"), ("loans.item_days_lent", "0")],
    );
    // Partners are a stock: in the total only.
    check(&r, "", &[("partners.count", "2")]);
    check(&r, "2026-01", &[("partners.count", "0")]);
}

#[test]
fn by_axis() {
    let r = run("axis", "", 0);
    let keys: Vec<&str> = r.groups.iter().map(|g| g.key.as_str()).collect();
    assert_eq!(keys, ["1", "3", "none"]);
    assert_eq!(r.groups[0].label, "axe 1");
    check(
        &r,
        "1",
        &[
            ("loans.requests", "1"),
            ("loans.lent", "1"),
            ("loans.item_days_lent", "8"),
            ("events.count", "3"),
            ("attendance.total", "23"),
            ("actions.count", "1"),
            ("actions.budget_spent_eur", "250.50"),
            ("partners.count", "1"),
            ("purchases.requested_eur", "478.20"),
        ],
    );
    check(&r, "3", &[("actions.count", "1"), ("actions.idea", "1")]);
    check(
        &r,
        "none",
        &[
            ("loans.requests", "3"),
            ("loans.lent", "2"),
            ("loans.item_days_lent", "5"),
            ("events.count", "1"),
            ("events.cancelled", "1"),
            ("partners.count", "1"),
            ("purchases.requested", "3"),
        ],
    );
}

#[test]
fn by_category() {
    let r = run("category", "", 0);
    check(
        &r,
        "robotique",
        &[
            ("loans.requests", "3"),
            ("loans.lent", "2"),
            ("loans.item_days_lent", "10"),
            ("equipment.items", "3"),
            ("equipment.loanable", "2"),
            ("equipment.use_rate_pct", "1.4"),
        ],
    );
    check(
        &r,
        "audio",
        &[
            ("loans.lent", "1"),
            ("equipment.items", "1"),
            ("equipment.use_rate_pct", "0.0"),
        ],
    );
    // Events have no category: total only.
    check(&r, "", &[("events.count", "4")]);
    assert_eq!(r.group("robotique", "events.count"), Some("0"));
}

#[test]
fn filters_by_site_and_axis() {
    let r = run("", "nancy", 0);
    check(
        &r,
        "",
        &[
            ("loans.lent", "1"),
            ("loans.borrowed", "2"),
            ("loans.item_days_borrowed", "10"),
            ("equipment.items", "1"),
            ("events.count", "1"),
            ("actions.count", "2"),
            ("actions.budget_planned_eur", "0.00"),
            ("partners.count", "1"),
            ("purchases.requested_eur", "150.00"),
        ],
    );
    let r = run("site", "nancy", 0);
    assert_eq!(r.groups.len(), 1);
    let r = run("", "", 1);
    check(
        &r,
        "",
        &[
            ("loans.lent", "1"),
            ("events.count", "3"),
            ("actions.count", "1"),
            ("partners.count", "1"),
            ("purchases.requested", "1"),
            // Items belong to no axis.
            ("equipment.items", "0"),
            ("equipment.use_rate_pct", ""),
        ],
    );
    let r = compute(
        &fixture(),
        &Query::new("2025-09-01", "2025-09-30", "", "", 0, "", d("2026-11-29")).unwrap(),
    )
    .unwrap();
    check(
        &r,
        "",
        &[
            ("loans.lent", "2"),
            ("loans.item_days_lent", "6"),
            ("events.count", "3"),
            ("purchases.requested", "0"),
        ],
    );
}

#[test]
fn bad_queries_say_what_to_fix() {
    let today = d("2026-11-29");
    let e = |r: Result<Query>| r.unwrap_err().to_string();
    assert!(e(Query::new("2026-03-01", "2026-02-01", "", "", 0, "", today)).contains("précède"));
    assert!(e(Query::new("2026-03-01", "", "", "", 0, "", today)).contains("--from et --to"));
    assert!(e(Query::new(
        "2026-03-01",
        "2026-04-01",
        "2025-2026",
        "",
        0,
        "",
        today
    ))
    .contains("pas les deux"));
    assert!(e(Query::new("", "", "2025-2027", "", 0, "", today)).contains("2025-2026"));
    assert!(e(Query::new("1er mars", "2026-04-01", "", "", 0, "", today)).contains("AAAA-MM-JJ"));
    assert!(e(Query::new("", "", "", "", 4, "", today)).contains("axe"));
    assert!(e(Query::new("", "", "", "", 0, "semaine", today)).contains("regroupement"));
    let unknown = compute(&fixture(), &query("", "lunéville", 0)).unwrap_err();
    assert!(matches!(unknown, Error::NotFound(_)), "{unknown}");
    // No dates: the current school year.
    let q = Query::new("", "", "", "", 0, "", today).unwrap();
    assert_eq!((q.from, q.to), (d("2026-09-01"), d("2027-08-31")));
    let q = Query::new("", "", "", "", 0, "", d("2026-08-31")).unwrap();
    assert_eq!(q.from, d("2025-09-01"));
}

/// An item counts from its acquisition date; loans are clipped to it and to
/// the period, and two loans of one item on the same days count those days
/// once: the rate never goes above 100 %.
#[test]
fn the_use_rate_counts_from_acquisition_and_never_exceeds_100() {
    let mut f = Facts::default();
    f.sites.insert("metz".into(), "Metz".into());
    // Acquired on 1 August 2026: 31 days in the school year 2025-2026.
    let doc = DocFacts {
        items: vec![item("eq-0", "metz", "vidéo", true, "2026-08-01")],
        ..Default::default()
    };
    f.docs.push(std::sync::Arc::new(doc));
    f.loans = vec![
        // 62 days, of which 31 after the acquisition.
        loan(
            "a",
            "metz",
            "nancy",
            "returned",
            "2026-07-01",
            "2026-08-31",
            &["vidéo"],
            "",
        ),
        // The same days again (a conflict recorded twice).
        loan(
            "b",
            "metz",
            "nancy",
            "returned",
            "2026-08-10",
            "2026-08-20",
            &["vidéo"],
            "",
        ),
        // Refused: never out.
        loan(
            "c",
            "metz",
            "nancy",
            "refused",
            "2026-08-01",
            "2026-08-31",
            &["vidéo"],
            "",
        ),
    ];
    let r = compute(&f, &query("", "", 0)).unwrap();
    check(
        &r,
        "",
        &[
            ("equipment.item_days_available", "31"),
            ("equipment.item_days_out", "31"),
            ("equipment.use_rate_pct", "100.0"),
            ("loans.requests", "3"),
            ("loans.lent", "2"),
            ("loans.refused", "1"),
        ],
    );
    // By month: July has no item yet; August is full.
    let r = compute(&f, &query("month", "", 0)).unwrap();
    check(
        &r,
        "2026-07",
        &[("equipment.items", "0"), ("equipment.use_rate_pct", "")],
    );
    check(&r, "2026-08", &[("equipment.use_rate_pct", "100.0")]);
    for g in &r.groups {
        if let Some(v) = r
            .group(&g.key, "equipment.use_rate_pct")
            .filter(|v| !v.is_empty())
        {
            assert!(v.parse::<f64>().unwrap() <= 100.0, "{}: {v}", g.key);
        }
    }
}

/// The rules for actions (README, "Indicator reference"): counts and
/// results for every participating site, budgets for the lead alone, the
/// month an action starts, and records linked to no action in the group
/// `none` by axis.
#[test]
fn action_rules_budgets_once_months_from_the_start_and_the_none_axis() {
    let total = run("", "", 0);
    let by_site = run("site", "", 0);
    let sum = |r: &Report, name: &str| -> Decimal {
        r.groups
            .iter()
            .map(|g| dec(r.group(&g.key, name).unwrap()))
            .sum()
    };
    // Summing the sites gives the budget once.
    assert_eq!(
        sum(&by_site, "actions.budget_planned_eur"),
        dec(total.total("actions.budget_planned_eur").unwrap())
    );
    // An action shared by two sites counts for both.
    assert_eq!(sum(&by_site, "actions.count"), dec("3"));
    assert_eq!(total.total("actions.count"), Some("2"));
    // By month: act-a in October, when it starts; act-c (undated) in none.
    let by_month = run("month", "", 0);
    assert_eq!(sum(&by_month, "actions.count"), dec("1"));
    check(&by_month, "2025-10", &[("actions.count", "1")]);
    check(&by_month, "", &[("actions.count", "2")]);
    // By axis: records linked to no action are in `none`, so that the
    // groups add up to the total for loans, events and purchases.
    let by_axis = run("axis", "", 0);
    let none = by_axis.groups.iter().find(|g| g.key == "none").unwrap();
    assert_eq!(none.label, "hors action (sans axe)");
    for name in ["loans.requests", "events.count", "purchases.requested"] {
        assert_eq!(
            sum(&by_axis, name),
            dec(by_axis.total(name).unwrap()),
            "{name}"
        );
    }
}

/// A weekly « Aide aux devoirs » of 8 sessions with 8 pupils each counts 64
/// pupils, each session in its month; a session out of the period, or no
/// longer an occurrence, does not count.
#[test]
fn attendance_counts_every_occurrence() {
    let mut f = Facts::default();
    f.sites.insert("metz".into(), "Metz".into());
    let days = [
        "2026-05-06",
        "2026-05-13",
        "2026-05-20",
        "2026-05-27",
        "2026-06-03",
        "2026-06-10",
        "2026-06-17",
        "2026-06-24",
    ];
    let mut e = event("metz", "workshop", &days, false, None, "");
    e.attendance = days.iter().map(|s| (d(s), [8, 1, 0, 0])).collect();
    // Recorded for a session since excluded from the series.
    e.attendance.push((d("2026-07-01"), [100, 0, 0, 0]));
    let doc = DocFacts {
        events: vec![e],
        ..Default::default()
    };
    f.docs.push(std::sync::Arc::new(doc));
    let r = compute(&f, &query("month", "", 0)).unwrap();
    check(
        &r,
        "",
        &[
            ("events.count", "8"),
            ("events.with_attendance", "8"),
            ("attendance.pupils", "64"),
            ("attendance.teachers", "8"),
            ("attendance.total", "72"),
        ],
    );
    check(&r, "2026-05", &[("attendance.pupils", "32")]);
    check(&r, "2026-06", &[("attendance.pupils", "32")]);
    check(&r, "2026-07", &[("attendance.pupils", "0")]);
    let june = compute(
        &f,
        &Query::new("2026-06-01", "2026-06-30", "", "", 0, "", d("2026-11-29")).unwrap(),
    )
    .unwrap();
    check(&june, "", &[("attendance.pupils", "32")]);
}

/// Every key a report gives has a French label, every label of the table is
/// a key reports give, and the README's indicator reference lists each.
#[test]
fn every_indicator_has_a_french_label_and_the_readme_lists_it() {
    let mut seen = std::collections::BTreeSet::new();
    for by in ["", "site", "month", "axis", "category"] {
        let r = run(by, "", 0);
        for f in r
            .total
            .iter()
            .chain(r.groups.iter().flat_map(|g| &g.figures))
        {
            let l = label(&f.name).unwrap_or_else(|| panic!("{} has no label", f.name));
            assert_eq!(f.label, l);
            seen.insert(f.name.clone());
        }
    }
    for (k, _) in LABELS {
        assert!(seen.contains(*k), "{k} is labelled but no report gives it");
    }
    assert_eq!(
        label("purchases.funding.France 2030.validated_eur").as_deref(),
        Some("achats validés (€ TTC), financement « France 2030 »")
    );
    assert_eq!(
        label("actions.indicator.eleves.target").as_deref(),
        Some("indicateur « eleves » des actions : cible")
    );
    let readme = include_str!(concat!(env!("CARGO_MANIFEST_DIR"), "/README.md"));
    for (k, l) in LABELS.iter().chain(labels::PATTERNS) {
        assert!(
            readme.contains(&format!("| `{k}` | {l} |")),
            "README: no row for {k} with the label « {l} »"
        );
    }
}
