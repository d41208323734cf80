//! The academic team's pages in a real browser: the indicators page shows
//! the figures of `maillage report indicators --format json` (compared one
//! by one), its chart has one bar per site, its downloads are the command
//! line's; a site's bilan prints to PDF with its name and figures.

mod common;

use common::browser::*;
use common::*;
use fantoccini::Locator;
use maillage::auth::Role as Who;
use maillage::domain::site::Role;
use maillage::pb;

const FROM: &str = "2025-09-01";
const TO: &str = "2027-08-31";

/// The value of a JSON figure as text (numbers for counts, strings otherwise).
fn text(v: &serde_json::Value) -> String {
    match v {
        serde_json::Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}

/// A network with some activity: Metz lends a robot to Thionville (out and
/// back), and holds a workshop with its attendance; the academy sees it all.
async fn network() -> (TestNode, TestNode, TestNode) {
    let academy = TestNode::start_with("rectorat", Role::Academy, &[], |_| {}).await;
    let metz = TestNode::start("metz", &[&academy]).await;
    let thio = TestNode::start("thionville", &[&academy]).await;
    enrol(&academy, &metz).await.unwrap();
    enrol(&academy, &thio).await.unwrap();
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
    converge(&[&academy, &metz, &thio]).await;
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
    converge(&[&academy, &metz, &thio]).await;
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
    // The workshop belongs to a common action of axis 2 that Metz leads.
    let action = metz
        .actions()
        .await
        .create(pb::CreateActionRequest {
            title: "Code au collège".into(),
            axis: 2,
            description: "Des ateliers de programmation.".into(),
            start: "2025-10-01".into(),
            end: "2026-06-30".into(),
        })
        .await
        .unwrap()
        .into_inner();
    let mut cal = metz.calendar().await;
    let ev = cal
        .add_event(pb::EventInput {
            title: "Atelier programmation".into(),
            kind: "atelier".into(),
            start: "2026-01-07T14:00".into(),
            end: "2026-01-07T16:00".into(),
            audience: vec!["élèves".into()],
            action: action.id.clone(),
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
    converge(&[&academy, &metz, &thio]).await;
    (academy, metz, thio)
}

/// Every figure of a report JSON: (group key or "total", indicator key).
fn figure_count(json: &serde_json::Value) -> usize {
    json["total"].as_object().unwrap().len()
        + json["groups"]
            .as_array()
            .unwrap()
            .iter()
            .map(|g| g["indicators"].as_object().unwrap().len())
            .sum::<usize>()
}

fn want<'a>(json: &'a serde_json::Value, group: &str, key: &str) -> &'a serde_json::Value {
    if group == "total" {
        return &json["total"][key];
    }
    let g = json["groups"]
        .as_array()
        .unwrap()
        .iter()
        .find(|g| g["key"] == group)
        .unwrap_or_else(|| panic!("no group {group} in the JSON"));
    &g["indicators"][key]
}

/// The page's figures are the command line's `cli` JSON, one by one.
async fn assert_page_shows(c: &fantoccini::Client, cli: &serde_json::Value) {
    let cells = c
        .execute(
            "return [...document.querySelectorAll('td[data-key]')].map(td =>
               [td.dataset.key, td.dataset.group, td.textContent.trim()]);",
            vec![],
        )
        .await
        .unwrap();
    let cells: Vec<(String, String, String)> = serde_json::from_value(cells).unwrap();
    let mut compared = 0;
    for (key, group, cell) in &cells {
        let w = want(cli, group, key);
        if w.is_null() {
            assert_eq!(cell, "", "{key} in {group}: no such figure");
            continue;
        }
        assert_eq!(&cell.replace(',', "."), &text(w), "{key} in {group}");
        compared += 1;
    }
    assert_eq!(compared, figure_count(cli), "every figure, once");
}

/// The JSON without the instant it was made at.
fn without_time(mut v: serde_json::Value) -> serde_json::Value {
    v.as_object_mut().unwrap().remove("generated_at");
    v
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_academy_reads_the_indicators_and_prints_a_bilan() {
    let (academy, _metz, _thio) = network().await;
    account(
        &academy,
        "equipe@ac-nancy-metz.fr",
        "Équipe ASTERIE",
        Who::Academy,
    )
    .await;
    let addr = academy.running().web_addr.to_string();
    let base = format!("http://{addr}");
    let (_driver, c) = browser().await;
    log_in(&c, &base, "equipe@ac-nancy-metz.fr", PASSWORD).await;
    page_with(&c, "Indicateurs").await;

    // The command line's figures for the same period.
    let cli: serde_json::Value = serde_json::from_str(&ok(&academy.cli(&[
        "report",
        "indicators",
        "--by",
        "site",
        "--format",
        "json",
        "--from",
        FROM,
        "--to",
        TO,
    ])))
    .unwrap();
    assert_eq!(text(&cli["total"]["loans.lent"]), "1");

    // The page, grouped by site, figure by figure.
    let query = format!("du={FROM}&au={TO}&par=site");
    c.goto(&format!("{base}/indicateurs?{query}"))
        .await
        .unwrap();
    page_with(&c, "prêts consentis (sortis)").await;
    assert_page_shows(&c, &cli).await;
    let labels = c
        .execute(
            "return [...document.querySelectorAll('tbody th[scope=row]')].map(th => th.textContent.trim());",
            vec![],
        )
        .await
        .unwrap();
    let labels: Vec<String> = serde_json::from_value(labels).unwrap();
    for (key, label) in cli["labels"].as_object().unwrap() {
        assert!(
            labels.contains(&label.as_str().unwrap().to_string()),
            "{key}: label « {label} » shown"
        );
    }

    // The chart: one bar per site, each with its name and value.
    let bars = c
        .execute(
            "return [...document.querySelectorAll('svg[role=img] rect[data-site]')].map(r =>
               [r.dataset.site, r.querySelector('title').textContent]);",
            vec![],
        )
        .await
        .unwrap();
    let bars: Vec<(String, String)> = serde_json::from_value(bars).unwrap();
    let mut sites: Vec<String> = cli["groups"]
        .as_array()
        .unwrap()
        .iter()
        .map(|g| g["key"].as_str().unwrap().to_string())
        .collect();
    sites.sort();
    let mut shown: Vec<String> = bars.iter().map(|b| b.0.clone()).collect();
    shown.sort();
    assert_eq!(shown, sites, "one bar per site");
    assert!(sites.contains(&"metz".to_string()));
    let metz_bar = &bars.iter().find(|b| b.0 == "metz").unwrap().1;
    assert_eq!(metz_bar, "Tiers-lieu metz : 1", "loans.lent of Metz");
    let rects = c.find_all(Locator::Css("svg rect")).await.unwrap().len();
    assert_eq!(rects, sites.len(), "no other bar");
    shoot(&c, "indicateurs").await;

    // The downloads: the command line's CSV for spreadsheets and JSON.
    let session = c
        .get_named_cookie("maillage_session")
        .await
        .unwrap()
        .value()
        .to_string();
    let (status, headers, body) = http(
        &addr,
        "GET",
        &format!("/indicateurs.json?{query}"),
        Some(&session),
        None,
    )
    .await;
    assert_eq!(status, 200);
    assert_eq!(header(&headers, "content-type"), Some("application/json"));
    let web_json: serde_json::Value = serde_json::from_str(&body).unwrap();
    assert_eq!(without_time(web_json), without_time(cli.clone()));
    let (status, headers, body) = http(
        &addr,
        "GET",
        &format!("/indicateurs.csv?{query}"),
        Some(&session),
        None,
    )
    .await;
    assert_eq!(status, 200);
    assert_eq!(
        header(&headers, "content-type"),
        Some("text/csv; charset=utf-8")
    );
    let excel = ok(&academy.cli(&[
        "report",
        "indicators",
        "--by",
        "site",
        "--format",
        "csv-excel",
        "--from",
        FROM,
        "--to",
        TO,
    ]));
    assert!(body.starts_with('\u{feff}'), "byte-order mark");
    assert_eq!(body, excel, "the same bytes as the command line");
    assert!(body.contains("prêts consentis (sortis);loans.lent;"));

    // Filtered by site and axis in the page's lists: Metz's figures of
    // axis 2, by month, are the command line's with --site and --axis; the
    // robot's loan (linked to no action) is out, the action's workshop in.
    c.goto(&format!("{base}/indicateurs?du={FROM}&au={TO}"))
        .await
        .unwrap();
    page_with(&c, "prêts consentis (sortis)").await;
    for (id, value) in [
        ("filtre-site", "metz"),
        ("filtre-axe", "2"),
        ("par", "mois"),
    ] {
        c.find(Locator::Id(id))
            .await
            .unwrap()
            .select_by_value(value)
            .await
            .unwrap();
    }
    click(&c, "form.filters button[type=submit]").await;
    page_with(&c, "Chiffres de : Tiers-lieu metz, axe 2 — compétences").await;
    let filtered: serde_json::Value = serde_json::from_str(&ok(&academy.cli(&[
        "report",
        "indicators",
        "--site",
        "metz",
        "--axis",
        "2",
        "--by",
        "month",
        "--format",
        "json",
        "--from",
        FROM,
        "--to",
        TO,
    ])))
    .unwrap();
    assert_eq!(
        text(&filtered["total"]["loans.lent"]),
        "0",
        "the loan is out"
    );
    assert_eq!(
        text(&filtered["total"]["attendance.pupils"]),
        "24",
        "the workshop is in"
    );
    assert_page_shows(&c, &filtered).await;
    let lent = c
        .find(Locator::Css("td[data-key='loans.lent'][data-group=total]"))
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert_eq!(lent, "0", "not the network's 1");
    shoot(&c, "indicateurs-filtres").await;
    // Its downloads keep the filters.
    for (selector, format) in [
        ("a[href^='/indicateurs.json?']", "json"),
        ("a[href^='/indicateurs.csv?']", "csv-excel"),
    ] {
        let href = c
            .find(Locator::Css(selector))
            .await
            .unwrap()
            .attr("href")
            .await
            .unwrap()
            .unwrap();
        assert!(
            href.contains("site=metz") && href.contains("axe=2"),
            "{href}"
        );
        let (status, _, body) = http(&addr, "GET", &href, Some(&session), None).await;
        assert_eq!(status, 200, "{href}");
        let cli = ok(&academy.cli(&[
            "report",
            "indicators",
            "--site",
            "metz",
            "--axis",
            "2",
            "--by",
            "month",
            "--format",
            format,
            "--from",
            FROM,
            "--to",
            TO,
        ]));
        if format == "json" {
            let web: serde_json::Value = serde_json::from_str(&body).unwrap();
            let cli: serde_json::Value = serde_json::from_str(&cli).unwrap();
            assert_eq!(without_time(web), without_time(cli));
        } else {
            assert_eq!(body, cli, "the same bytes as the command line");
        }
    }

    // Bilans: choose a site, then its printable page.
    c.goto(&format!("{base}/bilans")).await.unwrap();
    page_with(&c, "Voir le bilan").await;
    shoot(&c, "bilans").await;
    c.goto(&format!("{base}/bilans?site=metz&du={FROM}&au={TO}"))
        .await
        .unwrap();
    let page = page_with(&c, "Bilan de Tiers-lieu metz du").await;
    assert!(page.contains("Académie de Nancy-Metz — Projet ASTERIE"));
    assert!(page.contains("Atelier programmation"));
    let lent = c
        .find(Locator::Css("td[data-key='loans.lent'][data-group=total]"))
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert_eq!(lent, "1");
    shoot(&c, "bilan").await;

    // Printed by Chromium, read back by pdftotext.
    let pdf = c
        .print(fantoccini::wd::PrintConfiguration::default())
        .await
        .unwrap();
    assert!(pdf.starts_with(b"%PDF"));
    let path = tempfile::tempdir().unwrap().keep().join("bilan.pdf");
    std::fs::write(&path, &pdf).unwrap();
    let out = std::process::Command::new("pdftotext")
        .args(["-layout", path.to_str().unwrap(), "-"])
        .output()
        .expect("pdftotext (apt-get install -y poppler-utils)");
    assert!(out.status.success());
    let printed = String::from_utf8_lossy(&out.stdout);
    let flat = printed.split_whitespace().collect::<Vec<_>>().join(" ");
    for want in [
        "Académie de Nancy-Metz — Projet ASTERIE",
        "Bilan de Tiers-lieu metz",
        "prêts consentis (sortis)",
        "élèves présents",
        "Prêts donnés",
        "Tiers-lieu thionville",
        "objets-jours prêtés",
        // The items lent, by name.
        "Robot Thymio",
    ] {
        assert!(flat.contains(want), "« {want} » printed:\n{printed}");
    }
    assert!(
        !flat.contains("Se déconnecter"),
        "the menu is not printed:\n{printed}"
    );
    assert!(
        printed
            .lines()
            .any(|l| l.contains("élèves présents") && l.split_whitespace().last() == Some("24")),
        "the pupils' figure printed:\n{printed}"
    );

    // The bilan's downloads: the command line's bytes.
    let bilan_cli = |format: &str| {
        ok(&academy.cli(&[
            "report", "bilan", "--site", "metz", "--from", FROM, "--to", TO, "--format", format,
        ]))
    };
    let get = |format: &'static str| {
        let (addr, session) = (addr.clone(), session.clone());
        async move {
            http(
                &addr,
                "GET",
                &format!("/bilans/metz/{format}?du={FROM}&au={TO}"),
                Some(&session),
                None,
            )
            .await
        }
    };
    let (status, headers, body) = get("csv").await;
    assert_eq!(status, 200);
    assert_eq!(
        header(&headers, "content-type"),
        Some("text/csv; charset=utf-8")
    );
    assert_eq!(body, bilan_cli("csv-excel"));
    let (status, headers, body) = get("md").await;
    assert_eq!(status, 200);
    assert_eq!(
        header(&headers, "content-type"),
        Some("text/markdown; charset=utf-8")
    );
    let undated = |s: &str| {
        s.lines()
            .filter(|l| !l.contains("Établi le"))
            .collect::<Vec<_>>()
            .join("\n")
    };
    assert_eq!(undated(&body), undated(&bilan_cli("md")));
    assert!(body.starts_with("# Bilan de Tiers-lieu metz (metz)"));
    let (status, headers, body) = get("json").await;
    assert_eq!(status, 200);
    assert_eq!(header(&headers, "content-type"), Some("application/json"));
    let web_json: serde_json::Value = serde_json::from_str(&body).unwrap();
    let cli_json: serde_json::Value = serde_json::from_str(&bilan_cli("json")).unwrap();
    assert_eq!(without_time(web_json), without_time(cli_json));
    c.close().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_indicators_page_defaults_to_the_school_year_and_says_what_is_wrong() {
    let academy = TestNode::start_with("rectorat", Role::Academy, &[], |_| {}).await;
    account(
        &academy,
        "equipe@ac-nancy-metz.fr",
        "Équipe ASTERIE",
        Who::Academy,
    )
    .await;
    let addr = academy.running().web_addr.to_string();
    let base = format!("http://{addr}");
    let (_driver, c) = browser().await;
    log_in(&c, &base, "equipe@ac-nancy-metz.fr", PASSWORD).await;
    page_with(&c, "Indicateurs").await;
    c.find(Locator::Css("nav a[href='/indicateurs']"))
        .await
        .unwrap()
        .click()
        .await
        .unwrap();
    let page = page_with(&c, "Indicateurs du").await;
    let today = chrono::Utc::now()
        .with_timezone(&chrono_tz::Europe::Paris)
        .date_naive();
    let start = chrono::Datelike::year(&today)
        - if chrono::Datelike::month(&today) < 9 {
            1
        } else {
            0
        };
    let du = c
        .find(Locator::Id("du"))
        .await
        .unwrap()
        .prop("value")
        .await
        .unwrap();
    assert_eq!(du.as_deref(), Some(format!("{start}-09-01").as_str()));
    assert!(page.contains("1 sept."), "{page}");
    // No groups: no chart, the network's totals only.
    assert!(c
        .find_all(Locator::Css("svg rect"))
        .await
        .unwrap()
        .is_empty());
    // A period backwards: the page says so, in French.
    c.goto(&format!("{base}/indicateurs?du=2026-06-01&au=2026-01-01"))
        .await
        .unwrap();
    page_with(&c, "précède son début").await;
    shoot(&c, "indicateurs-erreur").await;
    c.close().await.unwrap();
}
