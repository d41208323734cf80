//! The web interface in a real browser: headless Chromium driven over
//! WebDriver (Debian's `chromium` and `chromium-driver`, installed by
//! `.ci/run`), against real nodes; and a plain HTTP client for what a
//! browser would not send (a POST without its CSRF token).

mod common;

use common::browser::*;
use common::*;
use fantoccini::Locator;
use maillage::accounts::Accounts;
use maillage::auth::Role;
use maillage::pb;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_director_sees_another_sites_request_on_the_dashboard() {
    let a = TestNode::start("alpha", &[]).await;
    let b = TestNode::start("beta", &[&a]).await;
    let item = a.add_item("Caméra 4K").await;
    converge(&[&a, &b]).await;
    // Beta asks alpha for the camera, through the use case the API calls.
    let loan = maillage::app::loans::request(
        &b.running().ctx,
        pb::LoanRequestInput {
            equipment: vec![item.id.clone()],
            from: paris_day(2),
            to: paris_day(3),
            purpose: "Reportage des élèves".into(),
            ..Default::default()
        },
        "director",
    )
    .await
    .unwrap();
    converge(&[&a, &b]).await;

    // The director of alpha chooses a password through the one-time link.
    let accounts = Accounts::new(a.running().docs().store().clone());
    let (_, secret) = accounts
        .add(
            "claire.martin@ac-nancy-metz.fr",
            "Claire Martin",
            Role::Director,
        )
        .await
        .unwrap();
    let base = a.running().web_url();
    let (_driver, c) = browser().await;
    c.goto(&format!("{base}/")).await.unwrap();
    assert_eq!(
        c.current_url().await.unwrap().path(),
        "/connexion",
        "a visitor is sent to the login page"
    );
    let html = c.source().await.unwrap();
    assert!(html.contains("lang=\"fr\""), "{html}");
    shoot(&c, "connexion").await;

    c.goto(&format!("{base}/compte/activer?jeton={secret}"))
        .await
        .unwrap();
    page_with(&c, "Claire Martin (claire.martin@ac-nancy-metz.fr)").await;
    shoot(&c, "activation").await;
    c.find(Locator::Id("password"))
        .await
        .unwrap()
        .send_keys(PASSWORD)
        .await
        .unwrap();
    c.find(Locator::Id("confirm"))
        .await
        .unwrap()
        .send_keys(PASSWORD)
        .await
        .unwrap();
    c.find(Locator::Css("main form button[type=submit]"))
        .await
        .unwrap()
        .click()
        .await
        .unwrap();
    page_with(&c, "Mot de passe enregistré").await;

    log_in(&c, &base, "claire.martin@ac-nancy-metz.fr", PASSWORD).await;
    let text = page_with(&c, "À traiter").await;
    assert!(text.contains("Claire Martin · direction"), "{text}");
    let row = c
        .find(Locator::Css(&format!("tr[data-loan='{}']", loan.id)))
        .await
        .unwrap_or_else(|_| panic!("the request is on the dashboard:\n{text}"))
        .text()
        .await
        .unwrap();
    for expected in [
        "Caméra 4K",
        "Tiers-lieu beta",
        "demandé",
        "Reportage des élèves",
    ] {
        assert!(row.contains(expected), "{expected} missing from: {row}");
    }
    assert!(!row.contains(&item.id), "names, not ids: {row}");
    // The request sits under « en attente de notre décision ».
    let section = c
        .find(Locator::XPath(
            "//section[h2[starts-with(., 'Demandes en attente de notre décision')]]",
        ))
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(section.contains("Caméra 4K"), "{section}");
    let png = c.screenshot().await.unwrap();
    assert!(png.starts_with(b"\x89PNG"));
    shoot(&c, "tableau-de-bord").await;
    c.close().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn five_wrong_passwords_lock_the_account() {
    let a = TestNode::start("alpha", &[]).await;
    account(&a, "agent@ac-nancy-metz.fr", "Agent", Role::Staff).await;
    let base = a.running().web_url();
    let (_driver, c) = browser().await;
    for attempt in 1..5 {
        log_in(&c, &base, "agent@ac-nancy-metz.fr", "pas le bon").await;
        let text = page_with(&c, "incorrect").await;
        assert!(!text.contains("bloqué"), "attempt {attempt}: {text}");
    }
    log_in(&c, &base, "agent@ac-nancy-metz.fr", "pas le bon").await;
    let text = page_with(&c, "compte bloqué jusqu'à").await;
    assert!(text.contains("Trop d'essais manqués"), "{text}");
    // Locked: even the right password is refused.
    log_in(&c, &base, "agent@ac-nancy-metz.fr", PASSWORD).await;
    page_with(&c, "compte bloqué jusqu'à").await;
    assert_eq!(c.current_url().await.unwrap().path(), "/connexion");
    shoot(&c, "connexion-bloquee").await;
    c.close().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn logout_ends_the_session() {
    let a = TestNode::start("alpha", &[]).await;
    account(
        &a,
        "direction@ac-nancy-metz.fr",
        "Directrice",
        Role::Director,
    )
    .await;
    let base = a.running().web_url();
    let addr = a.running().web_addr.to_string();
    let (_driver, c) = browser().await;
    log_in(&c, &base, "direction@ac-nancy-metz.fr", PASSWORD).await;
    page_with(&c, "À traiter").await;
    let cookie = c.get_named_cookie("maillage_session").await.unwrap();
    assert_eq!(cookie.http_only(), Some(true));
    let id = cookie.value().to_string();
    let (status, _, _) = http(&addr, "GET", "/", Some(&id), None).await;
    assert_eq!(status, 200, "the session works from another client too");

    c.find(Locator::Css("header form[action='/deconnexion'] button"))
        .await
        .unwrap()
        .click()
        .await
        .unwrap();
    page_with(&c, "Connexion").await;
    c.goto(&format!("{base}/")).await.unwrap();
    assert_eq!(c.current_url().await.unwrap().path(), "/connexion");
    let (status, headers, _) = http(&addr, "GET", "/", Some(&id), None).await;
    assert_eq!(status, 303, "the old session id is worth nothing");
    assert_eq!(header(&headers, "location"), Some("/connexion"));
    c.close().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_post_without_its_csrf_token_is_refused() {
    let a = TestNode::start("alpha", &[]).await;
    account(
        &a,
        "direction@ac-nancy-metz.fr",
        "Directrice",
        Role::Director,
    )
    .await;
    let addr = a.running().web_addr.to_string();
    let login = format!(
        "email=direction%40ac-nancy-metz.fr&password={}",
        PASSWORD.replace(' ', "+")
    );

    // No session, no token: refused before the password is even checked.
    let (status, _, body) = http(&addr, "POST", "/connexion", None, Some(&login)).await;
    assert_eq!(status, 403);
    assert!(
        body.contains("lang=\"fr\"") && body.contains("Action refusée"),
        "{body}"
    );

    // The login form gives a pre-session cookie and its token.
    let (status, headers, page) = http(&addr, "GET", "/connexion", None, None).await;
    assert_eq!(status, 200);
    let anon = set_session(&headers);
    let csrf = csrf_of(&page);
    for bad in [
        login.clone(),
        format!("{login}&_csrf=0000"),
        format!("{login}&_csrf="),
    ] {
        let (status, _, body) = http(&addr, "POST", "/connexion", Some(&anon), Some(&bad)).await;
        assert_eq!(status, 403, "{bad}");
        assert!(
            body.contains("jeton de sécurité (CSRF) absent ou invalide"),
            "{body}"
        );
    }
    // With it, the login succeeds, under a new session id.
    let (status, headers, _) = http(
        &addr,
        "POST",
        "/connexion",
        Some(&anon),
        Some(&format!("{login}&_csrf={csrf}")),
    )
    .await;
    assert_eq!(status, 303);
    assert_eq!(header(&headers, "location"), Some("/"));
    let session = set_session(&headers);
    assert_ne!(session, anon);
    let (status, _, page) = http(&addr, "GET", "/", Some(&session), None).await;
    assert_eq!(status, 200);
    let csrf = csrf_of(&page);
    assert_eq!(
        http(&addr, "GET", "/", Some(&anon), None).await.0,
        303,
        "the pre-session id does not log in"
    );

    // A forged logout (no token) is refused, and the session lives on.
    let (status, _, _) = http(&addr, "POST", "/deconnexion", Some(&session), Some("")).await;
    assert_eq!(status, 403);
    assert_eq!(http(&addr, "GET", "/", Some(&session), None).await.0, 200);

    // A disabled account's sessions stop working at once.
    Accounts::new(a.running().docs().store().clone())
        .disable("direction@ac-nancy-metz.fr")
        .await
        .unwrap();
    assert_eq!(http(&addr, "GET", "/", Some(&session), None).await.0, 303);
    let (status, _, _) = http(
        &addr,
        "POST",
        "/deconnexion",
        Some(&session),
        Some(&format!("_csrf={csrf}")),
    )
    .await;
    assert_eq!(status, 403, "that session is gone");
}

fn ids(rows: &[maillage::web::dashboard::LoanRow]) -> Vec<&str> {
    rows.iter().map(|r| r.id.as_str()).collect()
}

/// Paris time `days` from today at `hour`, as RFC 3339.
fn paris_at(days: i64, hour: u32) -> String {
    use chrono::TimeZone;
    let day = (chrono::Utc::now() + chrono::Duration::days(days))
        .with_timezone(&chrono_tz::Europe::Paris)
        .date_naive();
    chrono_tz::Europe::Paris
        .from_local_datetime(&day.and_hms_opt(hour, 0, 0).unwrap())
        .earliest()
        .unwrap()
        .to_rfc3339()
}

/// What the dashboard sorts, from real loans and events on two nodes (no
/// browser: the page above shows the rows; this checks which rows).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_dashboard_sorts_what_each_site_has_to_do() {
    use maillage::app::loans::{decide, Decision};
    use maillage::web::dashboard;
    let a = TestNode::start("alpha", &[]).await;
    let b = TestNode::start("beta", &[&a]).await;
    let (ca, cb) = (&a.running().ctx, &b.running().ctx);
    let drone = a.add_item("Drone").await;
    let robot = a.add_item("Robot Thymio").await;
    let printer = a.add_item("Imprimante 3D").await;
    let micro = a.add_item("Micro").await;
    converge(&[&a, &b]).await;
    let ask = |item: &str, from: i64, to: i64| pb::LoanRequestInput {
        equipment: vec![item.to_string()],
        from: paris_at(from, 9),
        to: paris_at(to, 17),
        purpose: "atelier".into(),
        ..Default::default()
    };
    // Approved, leaving tomorrow; still waiting; out, due back in three days;
    // out since last week and overdue.
    let leaving = maillage::app::loans::request(cb, ask(&drone.id, 1, 2), "director")
        .await
        .unwrap();
    let waiting = maillage::app::loans::request(cb, ask(&robot.id, 20, 21), "director")
        .await
        .unwrap();
    let late = maillage::app::loans::record(
        ca,
        pb::LoanRecordInput {
            equipment: vec![printer.id.clone()],
            borrower: "beta".into(),
            from: paris_at(-8, 9),
            to: paris_at(-2, 17),
            not_returned: true,
            ..Default::default()
        },
        "director",
    )
    .await
    .unwrap();
    let out = maillage::app::loans::record(
        ca,
        pb::LoanRecordInput {
            equipment: vec![micro.id.clone()],
            borrower: "beta".into(),
            from: paris_at(-1, 9),
            to: paris_at(3, 17),
            not_returned: true,
            ..Default::default()
        },
        "director",
    )
    .await
    .unwrap();
    converge(&[&a, &b]).await;
    decide(ca, &leaving.id, Decision::Approve, "", "", "director")
        .await
        .unwrap();
    maillage::app::calendar::add(
        ca,
        pb::EventInput {
            title: "Atelier robotique".into(),
            kind: "atelier".into(),
            start: paris_at(2, 14),
            end: paris_at(2, 16),
            place: "Salle 2".into(),
            ..Default::default()
        },
    )
    .await
    .unwrap();
    converge(&[&a, &b]).await;

    let da = dashboard::build(ca, maillage::auth::Role::Director, chrono::Utc::now()).unwrap();
    assert_eq!(ids(&da.to_decide), [waiting.id.as_str()]);
    assert_eq!(ids(&da.going_out), [leaving.id.as_str()]);
    assert_eq!(ids(&da.overdue), [late.id.as_str()]);
    assert_eq!(ids(&da.due_back), [out.id.as_str()]);
    assert!(da.mine.is_empty(), "alpha asked for nothing");
    assert_eq!(da.events.len(), 1);
    assert_eq!(da.events[0].title, "Atelier robotique");
    assert!(
        da.events[0].period.ends_with(", 14:00–16:00"),
        "{:?}",
        da.events[0]
    );
    assert_eq!(da.events[0].owner, "Tiers-lieu alpha");
    let overdue = &da.overdue[0];
    assert_eq!(
        (overdue.items.as_str(), overdue.other.as_str()),
        ("Imprimante 3D", "Tiers-lieu beta")
    );
    assert!(overdue.overdue);

    let db = dashboard::build(cb, maillage::auth::Role::Director, chrono::Utc::now()).unwrap();
    assert!(db.to_decide.is_empty(), "beta lends nothing");
    let mut mine = ids(&db.mine);
    mine.sort();
    let mut expected = vec![
        leaving.id.as_str(),
        waiting.id.as_str(),
        late.id.as_str(),
        out.id.as_str(),
    ];
    expected.sort();
    assert_eq!(mine, expected);
    let state = |id: &str| db.mine.iter().find(|r| r.id == id).unwrap().state.clone();
    assert_eq!(state(&leaving.id), "accordé");
    assert_eq!(state(&waiting.id), "demandé");
    assert_eq!(ids(&db.going_out), [leaving.id.as_str()]);
    assert_eq!(ids(&db.overdue), [late.id.as_str()]);
    assert_eq!(ids(&db.due_back), [out.id.as_str()]);
    assert!(db.events.is_empty(), "alpha's event is not beta's");
}

/// The links the CLI prints open on the node's web interface: a new
/// person's one-time link, and a calendar subscription until it is revoked.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_links_the_cli_prints_open_on_the_web() {
    let node = TestNode::start("metz", &[]).await;
    let addr = node.running().web_addr.to_string();
    let out = ok(&node.cli(&[
        "user",
        "add",
        "--email",
        "claire@ac-nancy-metz.fr",
        "--name",
        "Claire Martin",
        "--role",
        "staff",
    ]));
    let link = out
        .lines()
        .find(|l| l.contains("/compte/activer?jeton="))
        .unwrap()
        .trim()
        .to_string();
    assert!(link.starts_with(&format!("http://{addr}/")), "{link}");
    let path = &link[format!("http://{addr}").len()..];
    let (status, _, page) = http(&addr, "GET", path, None, None).await;
    assert_eq!(status, 200, "{page}");
    assert!(
        page.contains("Claire Martin") || page.contains("mot de passe"),
        "{page}"
    );

    node.calendar()
        .await
        .add_event(pb::EventInput {
            title: "Club robotique".into(),
            kind: "atelier".into(),
            start: "2027-01-13T14:00".into(),
            end: "2027-01-13T16:00".into(),
            ..Default::default()
        })
        .await
        .unwrap();
    let out = ok(&node.cli(&["calendar", "feed", "add", "--site", "metz"]));
    let url = out
        .lines()
        .find(|l| l.contains("/calendrier/"))
        .unwrap()
        .trim()
        .to_string();
    let path = url[format!("http://{addr}").len()..].to_string();
    let (status, headers, body) = http(&addr, "GET", &path, None, None).await;
    assert_eq!(status, 200, "{body}");
    assert!(header(&headers, "content-type")
        .unwrap()
        .starts_with("text/calendar"));
    assert!(body.contains("BEGIN:VCALENDAR") && body.contains("Club robotique"));
    let id = ok(&node.cli(&["--json", "calendar", "feed", "list"]));
    let id: serde_json::Value = serde_json::from_str(&id).unwrap();
    ok(&node.cli(&["calendar", "feed", "revoke", id[0]["id"].as_str().unwrap()]));
    let (status, _, body) = http(&addr, "GET", &path, None, None).await;
    assert_eq!(status, 404);
    assert!(body.contains("révoqué"), "{body}");
    let (status, _, _) = http(&addr, "GET", "/calendrier/inconnu.ics", None, None).await;
    assert_eq!(status, 404);
}

/// The catalogue finds another site's item whatever the accents, leaves out
/// what is out on loan for the dates asked, and the item's page shows its
/// loans and the incident noted at its return.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_catalogue_finds_free_items_and_shows_their_history() {
    let a = TestNode::start("alpha", &[]).await;
    let b = TestNode::start("beta", &[&a]).await;
    let cam = b.add_item("Caméra 4K").await;
    let tripod = b.add_item("Trépied caméra").await;
    b.add_item("Robot Thymio").await;
    converge(&[&a, &b]).await;
    // Beta lent its camera in the autumn (back with an incident), and the
    // tripod is out to alpha until the day after tomorrow.
    let ctx = &b.running().ctx;
    maillage::app::loans::record(
        ctx,
        pb::LoanRecordInput {
            equipment: vec![cam.id.clone()],
            borrower: "alpha".into(),
            from: paris_day(-40),
            to: paris_day(-35),
            incident: "Objectif rayé".into(),
            condition: "usable".into(),
            ..Default::default()
        },
        "director",
    )
    .await
    .unwrap();
    maillage::app::loans::record(
        ctx,
        pb::LoanRecordInput {
            equipment: vec![tripod.id.clone()],
            borrower: "alpha".into(),
            from: paris_day(-1),
            to: paris_day(2),
            not_returned: true,
            ..Default::default()
        },
        "director",
    )
    .await
    .unwrap();
    converge(&[&a, &b]).await;
    account(&a, "claire@ac-nancy-metz.fr", "Claire Martin", Role::Viewer).await;
    let base = a.running().web_url();
    let (_driver, c) = browser().await;
    log_in(&c, &base, "claire@ac-nancy-metz.fr", PASSWORD).await;
    page_with(&c, "À traiter").await;

    // Without accents or capitals.
    c.goto(&format!("{base}/catalogue?recherche=CAMERA"))
        .await
        .unwrap();
    let text = page_with(&c, "2 matériels").await;
    assert!(
        text.contains("Caméra 4K") && text.contains("Trépied caméra"),
        "{text}"
    );
    assert!(!text.contains("Robot Thymio"), "{text}");
    assert!(text.contains("sorti"), "the tripod is out: {text}");

    // Free tomorrow: the tripod is out, so only the camera.
    let day = (chrono::Utc::now() + chrono::Duration::days(1))
        .with_timezone(&chrono_tz::Europe::Paris)
        .format("%Y-%m-%d")
        .to_string();
    c.goto(&format!(
        "{base}/catalogue?recherche=camera&du={day}&au={day}"
    ))
    .await
    .unwrap();
    let text = page_with(&c, "1 matériel").await;
    assert!(
        text.contains("Caméra 4K") && !text.contains("Trépied"),
        "{text}"
    );
    shoot(&c, "catalogue").await;

    // The item's page, by the link in the list.
    c.find(Locator::LinkText("Caméra 4K"))
        .await
        .unwrap()
        .click()
        .await
        .unwrap();
    let text = page_with(&c, "Incidents").await;
    assert!(text.contains("Objectif rayé"), "{text}");
    assert!(text.contains("enregistré après coup"), "{text}");
    assert!(text.contains("usé"), "the incident wore it: {text}");
    shoot(&c, "materiel").await;
    assert!(
        text.contains("Tiers-lieu") || text.contains("alpha"),
        "{text}"
    );

    // A bad date is said, in French, and lists nothing.
    c.goto(&format!("{base}/catalogue?du=demain"))
        .await
        .unwrap();
    page_with(&c, "invalide").await;
    shoot(&c, "catalogue-date-invalide").await;

    // An item added at beta appears in alpha's open catalogue, without a
    // reload.
    c.goto(&format!("{base}/catalogue")).await.unwrap();
    let text = page_with(&c, "Robot Thymio").await;
    assert!(!text.contains("Imprimante 3D"), "{text}");
    c.execute("window.notReloaded = true;", vec![])
        .await
        .unwrap();
    b.add_item("Imprimante 3D").await;
    page_with(&c, "Imprimante 3D").await;
    assert_eq!(
        c.execute("return window.notReloaded === true;", vec![])
            .await
            .unwrap(),
        serde_json::json!(true),
        "the page was not reloaded"
    );
}

/// A loan from end to end in two browsers on two nodes: a director of alpha
/// asks for beta's camera from its page; beta's director sees it on the
/// dashboard, approves it, records its departure and its return with an
/// incident that sends the camera to repair; alpha sees it returned. A
/// viewer of alpha sees no request form.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_loan_goes_from_request_to_return_in_the_browser() {
    let a = TestNode::start("alpha", &[]).await;
    let b = TestNode::start("beta", &[&a]).await;
    let cam = b.add_item("Caméra 4K").await;
    converge(&[&a, &b]).await;
    account(
        &a,
        "claire@ac-nancy-metz.fr",
        "Claire Martin",
        Role::Director,
    )
    .await;
    account(&a, "lecture@ac-nancy-metz.fr", "Léa Lecture", Role::Viewer).await;
    account(&b, "paul@ac-nancy-metz.fr", "Paul Durand", Role::Director).await;
    account(&b, "accueil@ac-nancy-metz.fr", "Inès Accueil", Role::Staff).await;
    let (base_a, base_b) = (a.running().web_url(), b.running().web_url());

    // Alpha's director finds the camera free next week through the
    // catalogue's date filter, and asks for it from its page.
    let (_da, ca) = browser().await;
    log_in(&ca, &base_a, "claire@ac-nancy-metz.fr", PASSWORD).await;
    page_with(&ca, "À traiter").await;
    let day = |d: i64| {
        (chrono::Utc::now() + chrono::Duration::days(d))
            .with_timezone(&chrono_tz::Europe::Paris)
            .format("%Y-%m-%d")
            .to_string()
    };
    ca.goto(&format!("{base_a}/catalogue?du={}&au={}", day(7), day(8)))
        .await
        .unwrap();
    page_with(&ca, "Caméra 4K").await;
    click(&ca, &format!("tr[data-item='{}'] a", cam.id)).await;
    page_with(&ca, "Demander ce matériel").await;
    shoot(&ca, "materiel-demande").await;
    set_value(&ca, "demande-du", &day(7)).await;
    set_value(&ca, "demande-au", &day(8)).await;
    ca.find(Locator::Id("demande-objet"))
        .await
        .unwrap()
        .send_keys("Reportage des élèves")
        .await
        .unwrap();
    click(&ca, "form[action$='/demande'] button[type=submit]").await;
    let text = page_with(&ca, "Demande envoyée au site prêteur").await;
    assert!(
        text.contains("demandé") && text.contains("Reportage des élèves"),
        "{text}"
    );
    shoot(&ca, "pret-demande").await;
    let loan_url = ca.current_url().await.unwrap();
    let loan_path = loan_url.path().to_string();
    // A mark that a reload would erase.
    ca.execute("window.notReloaded = true;", vec![])
        .await
        .unwrap();
    converge(&[&a, &b]).await;

    // Beta's director decides, from the dashboard.
    let (_db, cb) = browser().await;
    log_in(&cb, &base_b, "paul@ac-nancy-metz.fr", PASSWORD).await;
    page_with(&cb, "Reportage des élèves").await;
    cb.find(Locator::LinkText("Caméra 4K"))
        .await
        .unwrap()
        .click()
        .await
        .unwrap();
    page_with(&cb, "Historique").await;
    click(&cb, "form[action$='/accorder'] button").await;
    page_with(&cb, "Prêt accordé.").await;

    // Alpha's open page shows the approval without a reload.
    let text = page_with(&ca, "accordé le").await;
    assert!(text.contains("Page mise à jour à"), "{text}");
    assert_eq!(
        ca.execute("return window.notReloaded === true;", vec![])
            .await
            .unwrap(),
        serde_json::json!(true),
        "the page was not reloaded"
    );
    assert_eq!(ca.current_url().await.unwrap(), loan_url);
    // Beta's staff, on the loan's page, records the departure and the
    // return with an incident that sends the camera to repair.
    let (_ds, cs) = browser().await;
    log_in(&cs, &base_b, "accueil@ac-nancy-metz.fr", PASSWORD).await;
    let text = page_with(&cs, "À traiter").await;
    assert!(
        !text.contains("Comptes"),
        "staff has no accounts menu: {text}"
    );
    cs.goto(&format!("{base_b}{loan_path}")).await.unwrap();
    let text = page_with(&cs, "Enregistrer la sortie").await;
    assert!(
        !text.contains("Refuser"),
        "staff does not decide requests: {text}"
    );
    click(&cs, "form[action$='/sortir'] button").await;
    page_with(&cs, "Sortie enregistrée.").await;
    cs.find(Locator::Id("incident"))
        .await
        .unwrap()
        .send_keys("Trépied : une jambe ne se verrouille plus")
        .await
        .unwrap();
    cs.find(Locator::Css("#etat option[value=to_repair]"))
        .await
        .unwrap()
        .click()
        .await
        .unwrap();
    click(&cs, "form[action$='/rendre'] button").await;
    let text = page_with(&cs, "Retour enregistré.").await;
    shoot(&cs, "pret-rendu").await;
    assert!(text.contains("à réparer"), "{text}");
    assert!(
        text.contains("par Tiers-lieu beta (équipe)"),
        "who recorded the return, by site and role: {text}"
    );
    cb.goto(&format!("{base_b}/materiel/{}", cam.id))
        .await
        .unwrap();
    let text = page_with(&cb, "Incidents").await;
    assert!(
        text.contains("Trépied : une jambe ne se verrouille plus") && text.contains("maintenance"),
        "{text}"
    );

    // Alpha sees it returned, once the change has crossed.
    converge(&[&a, &b]).await;
    ca.goto(&format!("{base_a}{loan_path}")).await.unwrap();
    let text = page_with(&ca, "rendu").await;
    assert!(
        !text.contains("Enregistrer le retour"),
        "no lender action at alpha: {text}"
    );

    // A viewer of alpha sees the camera but no request form.
    let (_dv, cv) = browser().await;
    log_in(&cv, &base_a, "lecture@ac-nancy-metz.fr", PASSWORD).await;
    page_with(&cv, "À traiter").await;
    cv.goto(&format!("{base_a}/materiel/{}", cam.id))
        .await
        .unwrap();
    let text = page_with(&cv, "Fiche").await;
    assert!(!text.contains("Demander ce matériel"), "{text}");
    assert!(cv
        .find(Locator::Css("form[action$='/demande']"))
        .await
        .is_err());
}

/// A director manages the site's people in the browser: adds a staff
/// member (the one-time link is shown once), who chooses a password,
/// changes it from « Mon compte », cannot reach the accounts page, and is
/// logged out when the director disables the account. A viewer's forged
/// request (valid session and CSRF token) is refused and writes nothing.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_director_manages_accounts_and_roles_hold_on_every_post() {
    let a = TestNode::start("alpha", &[]).await;
    let b = TestNode::start("beta", &[&a]).await;
    let cam = b.add_item("Caméra 4K").await;
    converge(&[&a, &b]).await;
    account(
        &a,
        "claire@ac-nancy-metz.fr",
        "Claire Martin",
        Role::Director,
    )
    .await;
    account(&a, "lecture@ac-nancy-metz.fr", "Léa Lecture", Role::Viewer).await;
    let base = a.running().web_url();

    let (_dd, cd) = browser().await;
    log_in(&cd, &base, "claire@ac-nancy-metz.fr", PASSWORD).await;
    page_with(&cd, "À traiter").await;
    click(&cd, "nav a[href='/comptes']").await;
    page_with(&cd, "Ajouter une personne").await;
    cd.find(Locator::Id("compte-nom"))
        .await
        .unwrap()
        .send_keys("Noé Petit")
        .await
        .unwrap();
    cd.find(Locator::Id("compte-email"))
        .await
        .unwrap()
        .send_keys("noe@ac-nancy-metz.fr")
        .await
        .unwrap();
    click(&cd, "form[action='/comptes'] button").await;
    let text = page_with(&cd, "Compte créé pour Noé Petit.").await;
    assert!(text.contains("mot de passe à choisir"), "{text}");
    let link = cd
        .find(Locator::Css("code.link"))
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(
        link.starts_with(&format!("{base}/compte/activer?jeton=")),
        "{link}"
    );

    // Noé chooses a password, then changes it.
    let (_dn, cn) = browser().await;
    cn.goto(&link).await.unwrap();
    page_with(&cn, "Noé Petit").await;
    cn.find(Locator::Id("password"))
        .await
        .unwrap()
        .send_keys(PASSWORD)
        .await
        .unwrap();
    if let Ok(f) = cn.find(Locator::Id("confirm")).await {
        f.send_keys(PASSWORD).await.unwrap();
    }
    click(&cn, "main form button[type=submit]").await;
    log_in(&cn, &base, "noe@ac-nancy-metz.fr", PASSWORD).await;
    let text = page_with(&cn, "À traiter").await;
    assert!(
        !text.contains("Comptes"),
        "staff has no accounts menu: {text}"
    );
    cn.goto(&format!("{base}/comptes")).await.unwrap();
    page_with(&cn, "Action refusée").await;
    shoot(&cn, "action-refusee").await;
    cn.goto(&format!("{base}/compte")).await.unwrap();
    for (id, v) in [
        ("actuel", PASSWORD),
        ("nouveau", "un nouveau mot de passe"),
        ("confirmation", "un nouveau mot de passe"),
    ] {
        cn.find(Locator::Id(id))
            .await
            .unwrap()
            .send_keys(v)
            .await
            .unwrap();
    }
    click(&cn, "form[action='/compte'] button").await;
    page_with(&cn, "Mot de passe changé.").await;

    // Noé logs in from a second browser, sees both sessions in « Mon
    // compte » and closes the other one: its next page is the login page.
    let (_dn2, cn2) = browser().await;
    log_in(
        &cn2,
        &base,
        "noe@ac-nancy-metz.fr",
        "un nouveau mot de passe",
    )
    .await;
    page_with(&cn2, "À traiter").await;
    cn.goto(&format!("{base}/compte")).await.unwrap();
    let text = page_with(&cn, "Sessions ouvertes (2)").await;
    assert!(
        text.contains("cette session") && text.contains("Chrome sous Linux"),
        "{text}"
    );
    shoot(&cn, "mon-compte").await;
    click(&cn, "form[action$='/fermer'] button").await;
    let text = page_with(&cn, "Session fermée.").await;
    assert!(text.contains("Sessions ouvertes (1)"), "{text}");
    cn2.goto(&format!("{base}/")).await.unwrap();
    assert_eq!(cn2.current_url().await.unwrap().path(), "/connexion");
    cn.goto(&format!("{base}/")).await.unwrap();
    page_with(&cn, "À traiter").await;

    // The director disables Noé: Noé's next page is the login page.
    cd.goto(&format!("{base}/comptes")).await.unwrap();
    click(
        &cd,
        "form[action='/comptes/noe@ac-nancy-metz.fr/desactiver'] button",
    )
    .await;
    let text = page_with(&cd, "Compte de Noé Petit désactivé.").await;
    shoot(&cd, "comptes").await;
    assert!(text.contains("désactivé"), "{text}");
    cn.goto(&format!("{base}/")).await.unwrap();
    assert_eq!(cn.current_url().await.unwrap().path(), "/connexion");

    // A viewer with a valid session and token forges a loan request: refused.
    let (_dv, cv) = browser().await;
    log_in(&cv, &base, "lecture@ac-nancy-metz.fr", PASSWORD).await;
    page_with(&cv, "À traiter").await;
    let session = cv
        .get_named_cookie("maillage_session")
        .await
        .unwrap()
        .value()
        .to_string();
    let csrf = csrf_of(&cv.source().await.unwrap());
    let before = a.digest();
    let addr = a.running().web_addr.to_string();
    let (status, _, body) = http(
        &addr,
        "POST",
        &format!("/materiel/{}/demande", cam.id),
        Some(&session),
        Some(&format!("_csrf={csrf}&du=2030-01-07&au=2030-01-08&objet=x")),
    )
    .await;
    assert_eq!(status, 403, "{body}");
    assert!(body.contains("Action refusée"), "{body}");
    assert_eq!(a.digest(), before, "nothing written");
}

/// The accessibility check finds what it must: a page without a language,
/// an image without text and a field without a label.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_accessibility_check_finds_violations() {
    let (_driver, c) = browser().await;
    c.goto("data:text/html,<html><body><img src='x.png'><input type='text'></body></html>")
        .await
        .unwrap();
    let found = accessibility_violations(&c).await.join("\n");
    for rule in ["html-has-lang", "image-alt", "label"] {
        assert!(found.contains(rule), "{rule} not found in:\n{found}");
    }
}

/// With `[web] tls_cert` and `tls_key`, the node serves its pages over
/// HTTPS itself: the browser logs in over TLS, the session cookie is
/// `Secure`, the links the node gives out start with https://, and plain
/// HTTP on that port gets no page.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_node_serves_https_with_the_configured_certificate() {
    let mut a = TestNode::start("alpha", &[]).await;
    let issued = rcgen::generate_simple_self_signed(vec!["127.0.0.1".to_string()]).unwrap();
    std::fs::write(a.dir.join("web.pem"), issued.cert.pem()).unwrap();
    std::fs::write(a.dir.join("web.key"), issued.signing_key.serialize_pem()).unwrap();
    a.restart_with(|c| {
        c.web.tls_cert = "web.pem".into();
        c.web.tls_key = "web.key".into();
    })
    .await;
    account(
        &a,
        "claire@ac-nancy-metz.fr",
        "Claire Martin",
        Role::Director,
    )
    .await;
    let base = a.running().web_url();
    assert!(base.starts_with("https://127.0.0.1:"), "{base}");

    // The certificate is the test's own: the browser is told to accept it.
    let (_driver, c) = browser_with(&["--ignore-certificate-errors"]).await;
    log_in(&c, &base, "claire@ac-nancy-metz.fr", PASSWORD).await;
    page_with(&c, "Claire Martin · direction").await;
    assert_eq!(c.current_url().await.unwrap().scheme(), "https");
    let cookie = c.get_named_cookie("maillage_session").await.unwrap();
    assert_eq!(cookie.secure(), Some(true), "{cookie:?}");
    assert_eq!(cookie.http_only(), Some(true), "{cookie:?}");

    // Plain HTTP on the HTTPS port: no page.
    let addr = base.trim_start_matches("https://").to_string();
    let mut s = tokio::net::TcpStream::connect(&addr).await.unwrap();
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    s.write_all(b"GET /connexion HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
        .await
        .unwrap();
    let mut raw = Vec::new();
    let _ = tokio::time::timeout(TIMEOUT, s.read_to_end(&mut raw)).await;
    assert!(
        !String::from_utf8_lossy(&raw).contains("connexion"),
        "{}",
        String::from_utf8_lossy(&raw)
    );
}

/// A certificate without its key, or a key that cannot be read, stops the
/// node at start with a message that names the setting.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_bad_web_certificate_setting_is_refused_at_start() {
    let mut a = TestNode::start("alpha", &[]).await;
    a.stop().await;
    let mut cfg = maillage::config::Config::load(&a.dir).unwrap();
    cfg.web.tls_cert = "web.pem".into();
    let e = maillage::node::RunningNode::start_with(&a.dir, cfg.clone())
        .await
        .err()
        .expect("refused");
    assert!(format!("{e:#}").contains("tls_key"), "{e:#}");
    cfg.web.tls_key = "absente.key".into();
    std::fs::write(a.dir.join("web.pem"), "pas un certificat").unwrap();
    let e = maillage::node::RunningNode::start_with(&a.dir, cfg)
        .await
        .err()
        .expect("refused");
    assert!(format!("{e:#}").contains("[web] tls_"), "{e:#}");
}

/// Live pages keep a stream open; a browser keeps six connections per site.
/// Pages left behind (kept in the back-forward cache) close their stream,
/// so that a person browsing page after page never waits for a connection:
/// before, the seventh page stalled for about a minute.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn browsing_many_live_pages_never_waits_for_a_connection() {
    let a = TestNode::start("alpha", &[]).await;
    a.add_item("Caméra 4K").await;
    account(
        &a,
        "claire@ac-nancy-metz.fr",
        "Claire Martin",
        Role::Director,
    )
    .await;
    let base = a.running().web_url();
    let (_driver, c) = browser().await;
    c.update_timeouts(fantoccini::wd::TimeoutConfiguration::new(
        None,
        Some(std::time::Duration::from_secs(20)),
        None,
    ))
    .await
    .unwrap();
    log_in(&c, &base, "claire@ac-nancy-metz.fr", PASSWORD).await;
    page_with(&c, "À traiter").await;
    for round in 0..6 {
        for (path, text) in [("/catalogue", "Caméra 4K"), ("/", "À traiter")] {
            c.goto(&format!("{base}{path}"))
                .await
                .unwrap_or_else(|e| panic!("round {round}, {path}: {e}"));
            page_with(&c, text).await;
        }
    }
}
