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
        ["group", "label", "indicator", "value"]
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
        rows += 1;
    }
    let figures = json["total"].as_object().unwrap().len()
        + groups
            .iter()
            .map(|g| g["indicators"].as_object().unwrap().len())
            .sum::<usize>();
    assert_eq!(rows, figures, "every figure of both sites and the total");

    // The table, for people.
    let mut args = vec!["report", "indicators", "--by", "month"];
    args.extend(period);
    let table = ok(&metz.cli(&args));
    assert!(
        table.contains("Indicateurs du 2025-09-01 au 2027-08-31"),
        "{table}"
    );
    assert!(table.contains("2027-02") && table.contains("attendance.total"));

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
    let mut args = vec!["report", "bilan", "--site", "metz", "--format", "md"];
    args.extend(period);
    let md = ok(&metz.cli(&args));
    assert!(
        md.contains("# Bilan de") && md.contains("Atelier programmation"),
        "{md}"
    );

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
