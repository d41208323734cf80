//! Indicators and bilans over real nodes: records written through the API on
//! two sites, reports read from either replica, through the command line.

mod common;

use std::collections::BTreeMap;

use common::*;
use maillage::pb;

/// The value of a JSON figure as text (numbers for counts, strings otherwise).
fn text(v: &serde_json::Value) -> String {
    match v {
        serde_json::Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}

fn dir_for_csv() -> std::path::PathBuf {
    tempfile::tempdir().unwrap().keep()
}

/// The rows of a CSV file for French spreadsheets, as Python's csv module
/// reads it (`;`, UTF-8 with its mark), after checking its bytes.
fn excel_rows(path: &std::path::Path) -> Vec<Vec<String>> {
    let raw = std::fs::read(path).unwrap();
    assert!(raw.starts_with(b"\xEF\xBB\xBF"), "byte-order mark");
    let text = String::from_utf8(raw[3..].to_vec()).unwrap();
    assert!(text.contains("\r\n"), "CRLF");
    assert_eq!(
        text.matches('\n').count(),
        text.matches("\r\n").count(),
        "every line ends with CRLF"
    );
    let script = "import csv, json, sys\n\
                  with open(sys.argv[1], encoding='utf-8-sig', newline='') as f:\n\
                  \x20   print(json.dumps(list(csv.reader(f, delimiter=';'))))";
    let out = std::process::Command::new("python3")
        .args(["-c", script, path.to_str().unwrap()])
        .output()
        .expect("python3");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).unwrap()
}

/// The tables of a sectioned spreadsheet CSV: title → (header, rows). A
/// table is a one-cell title row, its header, its rows, then an empty row.
fn excel_tables(path: &std::path::Path) -> BTreeMap<String, (Vec<String>, Vec<Vec<String>>)> {
    let rows = excel_rows(path);
    let mut out = BTreeMap::new();
    let mut i = 1; // the file's title
    while i < rows.len() {
        if rows[i].iter().all(|c| c.is_empty()) {
            i += 1;
            continue;
        }
        let title = rows[i][0].clone();
        let header = rows[i + 1].clone();
        let mut body = Vec::new();
        i += 2;
        while i < rows.len() && !rows[i].iter().all(|c| c.is_empty()) {
            assert_eq!(rows[i].len(), header.len(), "{title}: {:?}", rows[i]);
            body.push(rows[i].clone());
            i += 1;
        }
        out.insert(title, (header, body));
    }
    out
}

/// Compares an indicators spreadsheet CSV with the JSON of the same report,
/// cell by cell; returns how many figures it compared.
fn compare_excel_indicators(path: &std::path::Path, json: &serde_json::Value) -> usize {
    let groups = json["groups"].as_array().unwrap();
    let mut compared = 0;
    let tables = excel_tables(path);
    assert!(tables.contains_key("Prêts") && tables.contains_key("Fréquentation"));
    for (title, (header, rows)) in &tables {
        assert_eq!(&header[..2], ["Indicateur", "Code"], "{title}");
        assert_eq!(header.last().unwrap(), "Total");
        for row in rows {
            let key = &row[1];
            assert_eq!(row[0], json["labels"][key].as_str().unwrap(), "{key}");
            for (i, column) in header.iter().enumerate().skip(2) {
                let want = if column == "Total" {
                    &json["total"][key]
                } else {
                    let g = groups
                        .iter()
                        .find(|g| g["label"] == column.as_str())
                        .unwrap_or_else(|| panic!("no group labelled {column}"));
                    &g["indicators"][key]
                };
                let cell = &row[i];
                if want.is_null() {
                    // A figure this group does not have (a funding line).
                    assert_eq!(cell, "", "{title}: {key} in {column}");
                    continue;
                }
                assert!(!cell.contains('.'), "decimal comma: {key} {cell}");
                assert_eq!(
                    cell.replace(',', "."),
                    text(want),
                    "{title}: {key} in {column}"
                );
                compared += 1;
            }
        }
    }
    compared
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn indicators_and_bilans_come_from_the_recorded_activity() {
    let metz = TestNode::start("metz", &[]).await;
    let thio = TestNode::start("thionville", &[&metz]).await;

    // Metz lends a robot to Thionville for three days; it goes out and back.
    let robot = metz
        .equipment()
        .await
        .add(pb::AddEquipmentRequest {
            name: "Robot Thymio".into(),
            category: "robotique".into(),
            loanable: Some(true),
            ..Default::default()
        })
        .await
        .unwrap()
        .into_inner();
    converge(&[&metz, &thio]).await;
    let loan = thio
        .loans()
        .await
        .request_loan(pb::LoanRequestInput {
            equipment: vec![robot.id.clone()],
            from: "2027-02-01".into(),
            to: "2027-02-03".into(),
            purpose: "atelier robotique".into(),
            ..Default::default()
        })
        .await
        .unwrap()
        .into_inner();
    converge(&[&metz, &thio]).await;
    let act = |id: &str| pb::LoanAction {
        id: id.into(),
        note: String::new(),
    };
    let mut lc = metz.loans().await;
    lc.approve(act(&loan.id)).await.unwrap();
    lc.checkout(act(&loan.id)).await.unwrap();
    lc.return_loan(pb::LoanReturn {
        id: loan.id.clone(),
        ..Default::default()
    })
    .await
    .unwrap();

    // A workshop with its attendance.
    let mut cal = metz.calendar().await;
    let ev = cal
        .add_event(pb::EventInput {
            title: "Atelier programmation".into(),
            kind: "atelier".into(),
            start: "2026-01-07T14:00".into(),
            end: "2026-01-07T16:00".into(),
            audience: vec!["élèves".into()],
            ..Default::default()
        })
        .await
        .unwrap()
        .into_inner();
    cal.record_attendance(pb::AttendanceInput {
        id: ev.id.clone(),
        pupils: 24,
        teachers: 2,
        families: 3,
        partners: 1,
        ..Default::default()
    })
    .await
    .unwrap();

    // A partner and a purchase request, submitted.
    maillage::pb::partners_client::PartnersClient::new(metz.admin().await)
        .add(pb::AddPartnerRequest {
            name: "Ville de Metz".into(),
            kind: "collectivité".into(),
            contribution_eur: "1500".into(),
            ..Default::default()
        })
        .await
        .unwrap();
    let mut pc = maillage::pb::purchases_client::PurchasesClient::new(metz.admin().await);
    let p = pc
        .create(pb::CreatePurchaseRequest {
            object: "Robots".into(),
            lines: vec![pb::PurchaseLineInput {
                designation: "Robot Thymio".into(),
                quantity: 3,
                unit_price_ht: "129.90".into(),
                vat_rate: "20".into(),
            }],
            funding: "France 2030".into(),
            ..Default::default()
        })
        .await
        .unwrap()
        .into_inner();
    pc.submit(pb::PurchaseId { id: p.id.clone() })
        .await
        .unwrap();
    converge(&[&metz, &thio]).await;

    // Read from Thionville's replica, grouped by site, as JSON.
    let period = ["--from", "2025-09-01", "--to", "2027-08-31"];
    let mut args = vec!["report", "indicators", "--by", "site", "--format", "json"];
    args.extend(period);
    let json: serde_json::Value = serde_json::from_str(&ok(&thio.cli(&args))).unwrap();
    assert_eq!(json["from"], "2025-09-01");
    assert_eq!(json["by"], "site");
    let total = &json["total"];
    for (name, want) in [
        ("loans.lent", "1"),
        ("loans.returned", "1"),
        ("loans.item_days_lent", "3"),
        ("loans.item_days_borrowed", "3"),
        ("equipment.items", "1"),
        ("events.count", "1"),
        ("events.workshop", "1"),
        ("events.with_attendance", "1"),
        ("attendance.pupils", "24"),
        ("attendance.total", "30"),
        ("partners.count", "1"),
        ("partners.local_authority", "1"),
        ("partners.contribution_eur", "1500.00"),
        ("purchases.requested", "1"),
        ("purchases.requested_eur", "467.64"),
        ("purchases.validated_eur", "0.00"),
        ("purchases.funding.France 2030.requested_eur", "467.64"),
    ] {
        assert_eq!(text(&total[name]), want, "{name}");
    }
    assert!(total["loans.lent"].is_number(), "counts are numbers");
    assert!(
        total["partners.contribution_eur"].is_string(),
        "amounts are exact text"
    );
    let groups = json["groups"].as_array().unwrap();
    let group = |k: &str| &groups.iter().find(|g| g["key"] == k).unwrap()["indicators"];
    assert_eq!(group("metz")["loans.lent"], 1);
    assert_eq!(group("metz")["loans.item_days_lent"], 3);
    assert_eq!(group("thionville")["loans.borrowed"], 1);
    assert_eq!(group("thionville")["loans.item_days_borrowed"], 3);
    assert_eq!(group("thionville")["events.count"], 0);

    // The CSV holds the same figures.
    let mut args = vec!["report", "indicators", "--by", "site", "--format", "csv"];
    args.extend(period);
    let csv_text = ok(&thio.cli(&args));
    let mut rd = csv::Reader::from_reader(csv_text.as_bytes());
    assert_eq!(
        rd.headers().unwrap().iter().collect::<Vec<_>>(),
        ["group", "label", "indicator", "value", "indicator_label"]
    );
    let mut rows = 0;
    for rec in rd.records() {
        let rec = rec.unwrap();
        let want = if &rec[0] == "total" {
            &json["total"][&rec[2]]
        } else {
            &group(&rec[0])[&rec[2]]
        };
        assert_eq!(text(want), &rec[3], "{rec:?}");
        assert_eq!(json["labels"][&rec[2]], &rec[4], "{rec:?}");
        rows += 1;
    }
    let figures = json["total"].as_object().unwrap().len()
        + groups
            .iter()
            .map(|g| g["indicators"].as_object().unwrap().len())
            .sum::<usize>();
    assert_eq!(rows, figures, "every figure of both sites and the total");

    // Every key has its French label beside it.
    let labels = json["labels"].as_object().unwrap();
    for key in total.as_object().unwrap().keys() {
        let label = labels[key].as_str().unwrap();
        assert!(!label.is_empty() && label != key, "{key}: {label}");
    }
    assert_eq!(labels["loans.lent"], "prêts consentis (sortis)");

    // The same figures in a French spreadsheet, read back with Python's csv.
    for by in ["site", "month", "axis"] {
        let mut args = vec!["report", "indicators", "--by", by, "--format", "json"];
        args.extend(period);
        let json: serde_json::Value = serde_json::from_str(&ok(&thio.cli(&args))).unwrap();
        let path = dir_for_csv().join(format!("indicateurs-{by}.csv"));
        let mut args = vec!["report", "indicators", "--by", by, "--format", "csv-excel"];
        args.extend(["--out", path.to_str().unwrap()]);
        args.extend(period);
        ok(&thio.cli(&args));
        let compared = compare_excel_indicators(&path, &json);
        let figures = json["total"].as_object().unwrap().len()
            + json["groups"]
                .as_array()
                .unwrap()
                .iter()
                .map(|g| g["indicators"].as_object().unwrap().len())
                .sum::<usize>();
        assert_eq!(compared, figures, "by {by}: every figure, once");
    }

    // The table, for people: French labels, months named.
    let mut args = vec!["report", "indicators", "--by", "month"];
    args.extend(period);
    let table = ok(&metz.cli(&args));
    assert!(
        table.contains("Indicateurs du lun. 1 sept. 2025 au mar. 31 août 2027"),
        "{table}"
    );
    for want in [
        "février 2027",
        "personnes présentes (total)",
        "prêts consentis (sortis)",
        "— Fréquentation —",
    ] {
        assert!(table.contains(want), "{want}: {table}");
    }
    for english in ["attendance.total", "loans.lent", "2027-02 "] {
        assert!(!table.contains(english), "{english}: {table}");
    }

    // The bilan of Metz: CSV parsed back gives the JSON's figures.
    let dir = tempfile::tempdir().unwrap();
    let csv_path = dir.path().join("bilan-metz.csv");
    let json_path = dir.path().join("bilan-metz.json");
    for (path, format) in [(&csv_path, "csv"), (&json_path, "json")] {
        let mut args = vec![
            "report",
            "bilan",
            "--site",
            "metz",
            "--out",
            path.to_str().unwrap(),
            "--format",
            format,
        ];
        args.extend(period);
        ok(&thio.cli(&args));
    }
    let bilan: serde_json::Value =
        serde_json::from_slice(&std::fs::read(&json_path).unwrap()).unwrap();
    assert_eq!(bilan["site"], "metz");
    assert_eq!(bilan["events"][0]["pupils"], 24);
    assert_eq!(bilan["loans_given"][0]["id"], loan.id.as_str());
    assert_eq!(bilan["loans_given"][0]["item_days"], 3);
    assert_eq!(bilan["loans_received"].as_array().unwrap().len(), 0);
    assert_eq!(bilan["purchases"][0]["total_ttc"], "467.64");
    let raw = std::fs::read(&csv_path).unwrap();
    assert!(
        raw.starts_with(b"\xEF\xBB\xBF"),
        "UTF-8 with its mark for spreadsheets"
    );
    let mut rd = csv::ReaderBuilder::new()
        .has_headers(false)
        .flexible(true)
        .from_reader(&raw[3..]);
    let mut sections: BTreeMap<String, Vec<csv::StringRecord>> = BTreeMap::new();
    let mut headers: BTreeMap<String, csv::StringRecord> = BTreeMap::new();
    let mut last_header = None;
    for rec in rd.records() {
        let rec = rec.unwrap();
        match &rec[0] {
            "" => {}
            "section" => last_header = Some(rec.clone()),
            s => {
                headers
                    .entry(s.to_string())
                    .or_insert_with(|| last_header.clone().unwrap());
                sections.entry(s.to_string()).or_default().push(rec.clone());
            }
        }
    }
    let indicators = bilan["indicators"].as_object().unwrap();
    assert_eq!(sections["indicators"].len(), indicators.len());
    for rec in &sections["indicators"] {
        assert_eq!(text(&indicators[&rec[1]]), &rec[2], "{rec:?}");
    }
    assert_eq!(text(&indicators["loans.item_days_lent"]), "3");
    assert_eq!(text(&indicators["attendance.total"]), "30");
    // Every other section: each cell equals the JSON's field of that name.
    for (section, rows) in &sections {
        if section == "indicators" {
            continue;
        }
        let header = &headers[section];
        let items = bilan[section].as_array().unwrap();
        assert_eq!(items.len(), rows.len(), "{section}");
        for (rec, item) in rows.iter().zip(items) {
            for (i, field) in header.iter().enumerate().skip(1) {
                let want = match &item[field] {
                    serde_json::Value::Array(a) => a.iter().map(text).collect::<Vec<_>>().join(" "),
                    v => text(v),
                };
                assert_eq!(want, &rec[i], "{section}.{field}");
            }
        }
    }
    // Without --format, the bilan is for people: Markdown, in French.
    let mut args = vec!["report", "bilan", "--site", "metz"];
    args.extend(period);
    let md = ok(&metz.cli(&args));
    assert!(md.starts_with("# Bilan de"), "{md}");
    assert!(
        md.contains("# Bilan de") && md.contains("Atelier programmation"),
        "{md}"
    );
    // In French: states, kinds, labels.
    for want in ["| rendu |", "| atelier |", "personnes présentes (total)"] {
        assert!(md.contains(want), "{want}: {md}");
    }
    for english in ["returned", "workshop", "attendance.total"] {
        assert!(!md.contains(english), "{english}: {md}");
    }

    // The bilan for a French spreadsheet: one table per section, figure by
    // figure the JSON's.
    let xl = dir.path().join("bilan-metz-excel.csv");
    let mut args = vec![
        "report",
        "bilan",
        "--site",
        "metz",
        "--format",
        "csv-excel",
        "--out",
        xl.to_str().unwrap(),
    ];
    args.extend(period);
    ok(&thio.cli(&args));
    let tables = excel_tables(&xl);
    let ind = &tables["Indicateurs"];
    assert_eq!(ind.0, ["Indicateur", "Code", "Valeur"]);
    assert_eq!(ind.1.len(), indicators.len());
    for row in &ind.1 {
        assert_eq!(
            row[2].replace(',', "."),
            text(&indicators[&row[1]]),
            "{row:?}"
        );
        assert_eq!(row[0], bilan["labels"][&row[1]].as_str().unwrap());
    }
    let events = &tables["Événements et fréquentation"];
    let col = |t: &(Vec<String>, Vec<Vec<String>>), name: &str| {
        t.0.iter().position(|h| h == name).unwrap()
    };
    assert_eq!(events.1[0][col(events, "Élèves")], "24");
    assert_eq!(events.1[0][col(events, "Type")], "atelier");
    let given = &tables["Prêts donnés"];
    assert_eq!(given.1[0][col(given, "État")], "rendu");
    assert_eq!(given.1[0][col(given, "Du")], "01/02/2027");
    assert_eq!(given.1[0][col(given, "Au")], "03/02/2027");
    let purchases = &tables["Demandes d'achat"];
    assert_eq!(purchases.1[0][col(purchases, "Total TTC (€)")], "467,64");
    assert_eq!(purchases.1[0][col(purchases, "État")], "soumise");

    // Bad input: clear errors, exit code not zero.
    for (args, expect) in [
        (
            vec!["report", "indicators", "--site", "luneville"],
            "site luneville inconnu",
        ),
        (
            vec![
                "report",
                "indicators",
                "--from",
                "2026-03-01",
                "--to",
                "2026-02-01",
            ],
            "précède",
        ),
        (
            vec!["report", "indicators", "--school-year", "2025-2027"],
            "année scolaire",
        ),
        (
            vec![
                "report",
                "bilan",
                "--site",
                "luneville",
                "--school-year",
                "2025-2026",
            ],
            "inconnu",
        ),
    ] {
        let out = thio.cli(&args);
        assert!(!out.status.success(), "{args:?}");
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(err.contains(expect), "{args:?}: {err}");
    }
}

/// What the indicator reference says, through the command line: a weekly
/// workshop counts every session's attendance; a participant's bilan does not
/// repeat the lead's budget but shows the action's results; an item counts
/// from its acquisition date; people read French.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sessions_budgets_and_acquisitions_count_as_the_reference_says() {
    let metz = TestNode::start("metz", &[]).await;
    let thio = TestNode::start("thionville", &[&metz]).await;

    // « Aide aux devoirs », Wednesdays 2 September – 21 October 2026.
    let ev: serde_json::Value = serde_json::from_str(&ok(&metz.cli(&[
        "event",
        "add",
        "--json",
        "--title",
        "Aide aux devoirs",
        "--kind",
        "atelier",
        "--start",
        "02/09/2026 17:00",
        "--end",
        "02/09/2026 18:00",
        "--rrule",
        "FREQ=WEEKLY;COUNT=8",
        "--audience",
        "élèves",
    ])))
    .unwrap();
    let id = ev["id"].as_str().unwrap();
    let out = metz.cli(&["event", "attendance", id, "--pupils", "8"]);
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("--occurrence"), "{err}");
    for day in [
        "02/09/2026",
        "09/09/2026",
        "16/09/2026",
        "23/09/2026",
        "30/09/2026",
        "07/10/2026",
        "14/10/2026",
        "21/10/2026",
    ] {
        ok(&metz.cli(&[
            "event",
            "attendance",
            id,
            "--occurrence",
            day,
            "--pupils",
            "8",
        ]));
    }
    // A correction of one session; the audiences not given count 0.
    ok(&metz.cli(&[
        "event",
        "attendance",
        id,
        "--occurrence",
        "09/09/2026",
        "--pupils",
        "9",
        "--teachers",
        "1",
    ]));
    let out = metz.cli(&[
        "event",
        "attendance",
        id,
        "--occurrence",
        "10/09/2026",
        "--pupils",
        "9",
    ]);
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        !out.status.success() && err.contains("mer. 16 sept. 2026"),
        "a day without a session names the next ones: {err}"
    );
    let show = ok(&metz.cli(&["event", "show", id]));
    for want in [
        "type            : atelier",
        "public          : élèves",
        "statut          : confirmé",
        "première fois   : mer. 2 sept. 2026, 17:00–18:00",
        // The rule in French words, not FREQ=WEEKLY;COUNT=8.
        "répétition      : chaque semaine",
        "8 séances",
        "séance du mer. 9 sept. 2026 : 9 élèves, 1 enseignant, 0 membre des familles, 0 partenaire",
    ] {
        assert!(show.contains(want), "{want}: {show}");
    }
    for english in ["workshop", "pupils", "confirmed", "FREQ"] {
        assert!(!show.contains(english), "{english}: {show}");
    }
    let cal = ok(&metz.cli(&["calendar", "--from", "01/09/2026", "--to", "30/09/2026"]));
    assert!(
        cal.contains("mer. 2 sept. 2026, 17:00–18:00") && cal.contains("atelier"),
        "{cal}"
    );

    // A common action led by Metz, joined by Thionville.
    let action = maillage::pb::actions_client::ActionsClient::new(metz.admin().await)
        .create(pb::CreateActionRequest {
            title: "Fablab itinérant".into(),
            axis: 1,
            start: "2026-09-01".into(),
            ..Default::default()
        })
        .await
        .unwrap()
        .into_inner();
    maillage::pb::actions_client::ActionsClient::new(metz.admin().await)
        .update(pb::UpdateActionRequest {
            id: action.id.clone(),
            budget_planned: Some("1000".into()),
            indicators: vec![pb::Indicator {
                name: "eleves".into(),
                target: "100".into(),
                actual: "40".into(),
            }],
            ..Default::default()
        })
        .await
        .unwrap();
    converge(&[&metz, &thio]).await;
    maillage::pb::actions_client::ActionsClient::new(thio.admin().await)
        .join(pb::ActionId {
            id: action.id.clone(),
        })
        .await
        .unwrap();
    // An item acquired on 15 October, entered today.
    let item: serde_json::Value = serde_json::from_str(&ok(&metz.cli(&[
        "equipment",
        "add",
        "--json",
        "--name",
        "Caméra",
        "--category",
        "vidéo",
        "--acquired",
        "15/10/2026",
    ])))
    .unwrap();
    assert_eq!(item["acquired"], "2026-10-15");
    let out = metz.cli(&[
        "equipment",
        "add",
        "--name",
        "Trépied",
        "--category",
        "vidéo",
        "--acquired",
        "septembre",
    ]);
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("acquired"));
    let shown = ok(&metz.cli(&["equipment", "show", item["id"].as_str().unwrap()]));
    assert!(
        shown.contains("acquis le     : jeu. 15 oct. 2026"),
        "{shown}"
    );
    converge(&[&metz, &thio]).await;

    let period = ["--from", "2026-09-01", "--to", "2026-10-31"];
    let mut args = vec!["report", "indicators", "--by", "month", "--format", "json"];
    args.extend(period);
    let json: serde_json::Value = serde_json::from_str(&ok(&thio.cli(&args))).unwrap();
    let total = &json["total"];
    for (name, want) in [
        ("events.count", "8"),
        ("events.with_attendance", "8"),
        ("attendance.pupils", "65"),
        ("attendance.teachers", "1"),
        ("attendance.total", "66"),
        ("actions.count", "1"),
        ("actions.budget_planned_eur", "1000.00"),
        // In the inventory since 15 October: 17 days of the period.
        ("equipment.items", "1"),
        ("equipment.item_days_available", "17"),
        ("equipment.use_rate_pct", "0.0"),
    ] {
        assert_eq!(text(&total[name]), want, "{name}");
    }
    let groups = json["groups"].as_array().unwrap();
    let month = |k: &str| &groups.iter().find(|g| g["key"] == k).unwrap()["indicators"];
    assert_eq!(month("2026-09")["attendance.pupils"], 8 * 4 + 9);
    assert_eq!(month("2026-10")["attendance.pupils"], 8 * 3);
    assert_eq!(month("2026-09")["equipment.items"], 0);
    let name = |k: &str| groups.iter().find(|g| g["key"] == k).unwrap()["label"].clone();
    assert_eq!(name("2026-10"), "octobre 2026");

    // The bilans: the budget once, in the lead's; the results in both.
    let bilan = |site: &str| -> serde_json::Value {
        let mut args = vec!["report", "bilan", "--site", site, "--format", "json"];
        args.extend(period);
        serde_json::from_str(&ok(&thio.cli(&args))).unwrap()
    };
    let (lead, participant) = (bilan("metz"), bilan("thionville"));
    assert_eq!(lead["actions"][0]["budget_planned"], "1000.00");
    assert_eq!(participant["actions"][0]["role"], "participant");
    assert_eq!(participant["actions"][0]["budget_planned"], "");
    assert_eq!(
        participant["indicators"]["actions.budget_planned_eur"],
        "0.00"
    );
    assert_eq!(
        participant["indicators"]["actions.indicator.eleves.target"],
        "100"
    );
    assert_eq!(lead["events"][0]["sessions_with_attendance"], 8);
    assert_eq!(lead["events"][0]["pupils"], 65);
    let mut args = vec!["report", "bilan", "--site", "thionville", "--format", "md"];
    args.extend(period);
    let md = ok(&thio.cli(&args));
    assert!(
        md.contains("(budget de Tiers-lieu metz)"),
        "the lead by its name: {md}"
    );
    assert!(md.contains("| participant |"), "{md}");

    // No amount, no « € dépensés ».
    let shown = ok(&metz.cli(&["action", "show", &action.id]));
    assert!(
        shown.contains("000,00 € prévus") && !shown.contains("dépensés"),
        "{shown}"
    );
}
