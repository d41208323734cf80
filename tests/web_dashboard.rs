//! The dashboard « À traiter » of each role, in a real browser across real
//! nodes: the academic team sees the purchase requests to decide across
//! sites and the enrolled sites it has not heard from; a site's director
//! sees its requests sent back for more information, with the academy's
//! reason; both regions update live; a viewer gets no purchase reminder.

mod common;

use common::browser::*;
use common::*;
use fantoccini::{Client, Locator};
use maillage::auth::Role as Who;
use maillage::domain::site::Role;
use maillage::pb;
use maillage::pb::purchases_client::PurchasesClient;

fn line(designation: &str, quantity: i64, price: &str) -> pb::PurchaseLineInput {
    pb::PurchaseLineInput {
        designation: designation.into(),
        quantity,
        unit_price_ht: price.into(),
        vat_rate: "20".into(),
    }
}

/// The text of the dashboard's section whose heading starts with `heading`
/// (empty if there is none).
async fn section(c: &Client, heading: &str) -> String {
    let found = c
        .execute(
            "const h = [...document.querySelectorAll('main section > h2')]
               .find(h => h.textContent.trim().startsWith(arguments[0]));
             return h ? h.parentElement.innerText : '';",
            vec![serde_json::json!(heading)],
        )
        .await
        .unwrap();
    found.as_str().unwrap_or_default().to_string()
}

/// Waits until the section under `heading` contains `what` (without
/// reloading the page), and returns its text.
async fn section_with(c: &Client, heading: &str, what: &str) -> String {
    let start = std::time::Instant::now();
    loop {
        let text = section(c, heading).await;
        if text.contains(what) {
            return text;
        }
        assert!(
            start.elapsed() < TIMEOUT,
            "« {what} » never appeared under « {heading} »:\n{text}"
        );
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
}

/// The number of times the live script replaced a region of the page.
async fn live_updates(c: &Client) -> u64 {
    c.execute(
        "return Number(document.body.getAttribute('data-live-updates') || 0);",
        vec![],
    )
    .await
    .unwrap()
    .as_u64()
    .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn each_role_sees_what_waits_for_it() {
    let academy = TestNode::start_with("rectorat", Role::Academy, &[], |_| {}).await;
    let metz = TestNode::start("metz", &[&academy]).await;
    // Sarrebourg's node ran once, alone, and stopped before its enrolment:
    // the academy has never heard from it.
    let mut sarrebourg = TestNode::start("sarrebourg", &[]).await;
    let sarrebourg_key = sarrebourg.running().status().public_key;
    let sarrebourg_url = sarrebourg.fed_url.clone();
    sarrebourg.stop().await;
    enrol(&academy, &metz).await.unwrap();
    maillage::pb::network_client::NetworkClient::new(academy.admin().await)
        .enrol(pb::EnrolSiteRequest {
            id: "sarrebourg".into(),
            name: "Tiers-lieu de Sarrebourg".into(),
            endpoint: sarrebourg_url,
            key: sarrebourg_key,
            role: "site".into(),
        })
        .await
        .unwrap();

    // Metz asks for two purchases; the academy will send the first back.
    let site = PurchasesClient::new(metz.admin().await);
    let create = |object: &'static str, lines: Vec<pb::PurchaseLineInput>| {
        let mut site = site.clone();
        async move {
            let p = site
                .create(pb::CreatePurchaseRequest {
                    object: object.into(),
                    lines,
                    funding: "France 2030".into(),
                    ..Default::default()
                })
                .await
                .unwrap()
                .into_inner();
            site.submit(pb::PurchaseId { id: p.id.clone() })
                .await
                .unwrap();
            p
        }
    };
    let robots = create(
        "Robots pour l'atelier",
        vec![line("Robot Thymio", 3, "129.90"), line("Câble", 2, "5")],
    )
    .await;
    converge(&[&academy, &metz]).await;

    account(
        &academy,
        "equipe@ac-nancy-metz.fr",
        "Équipe ASTERIE",
        Who::Academy,
    )
    .await;
    account(&metz, "direction@metz.fr", "Claire Martin", Who::Director).await;
    account(&metz, "lecture@metz.fr", "Noé Petit", Who::Viewer).await;
    let academy_web = format!("http://{}", academy.running().web_addr);
    let metz_web = format!("http://{}", metz.running().web_addr);
    let (_da, c) = browser().await;
    let (_dm, cm) = browser().await;

    // The academic team: Metz's request to decide, by the site's name, with
    // its total and a link to its page; Sarrebourg, never heard from.
    log_in(&c, &academy_web, "equipe@ac-nancy-metz.fr", PASSWORD).await;
    page_with(&c, "Demandes d'achat à décider").await;
    let queue = section(&c, "Demandes d'achat à décider").await;
    assert!(
        queue.starts_with("Demandes d'achat à décider (1)"),
        "{queue}"
    );
    assert!(queue.contains("Tiers-lieu metz"), "{queue}");
    assert!(queue.contains("Robots pour l'atelier"), "{queue}");
    // 3 × 129.90 + 2 × 5 = 399.70 before tax, 479.64 with 20 % VAT.
    assert!(queue.contains("479,64 €"), "{queue}");
    assert!(queue.contains("moins d'un jour"), "{queue}");
    let link = c
        .find(Locator::Css(&format!(
            "tr[data-purchase='{}'] a",
            robots.id
        )))
        .await
        .unwrap()
        .attr("href")
        .await
        .unwrap();
    assert_eq!(link, Some(format!("/achats/{}", robots.id)));
    let silent = section(&c, "Sites sans nouvelles depuis 7 jours").await;
    assert!(
        silent.starts_with("Sites sans nouvelles depuis 7 jours (1)"),
        "{silent}"
    );
    assert!(silent.contains("Tiers-lieu de Sarrebourg"), "{silent}");
    assert!(silent.contains("jamais vu"), "{silent}");
    assert!(!silent.contains("Tiers-lieu metz"), "Metz is connected");
    assert!(
        c.find(Locator::Css("tr[data-site=sarrebourg] a[href='/reseau']"))
            .await
            .is_ok(),
        "a link to the network page"
    );
    shoot(&c, "tableau-de-bord-academie").await;

    // A second request submitted while the page is open: it appears live.
    let before = live_updates(&c).await;
    let cameras = create("Caméras", vec![line("Caméra", 2, "250")]).await;
    let queue = section_with(&c, "Demandes d'achat à décider", "Caméras").await;
    assert!(
        queue.starts_with("Demandes d'achat à décider (2)"),
        "{queue}"
    );
    assert!(live_updates(&c).await > before, "updated in place");

    // The academy sends the robots back; Metz's director sees it with the
    // reason, live on an open page.
    log_in(&cm, &metz_web, "direction@metz.fr", PASSWORD).await;
    page_with(&cm, "Demandes d'achat renvoyées pour complément").await;
    let back = section(&cm, "Demandes d'achat renvoyées pour complément").await;
    assert!(
        back.contains("(0)") && back.contains("Aucune demande"),
        "{back}"
    );
    assert!(
        section(&cm, "Demandes d'achat à décider").await.is_empty(),
        "not the academy's reminders"
    );
    let before = live_updates(&cm).await;
    let academy_before = live_updates(&c).await;
    PurchasesClient::new(academy.admin().await)
        .decide(pb::PurchaseDecision {
            id: robots.id.clone(),
            verdict: "needs_info".into(),
            reason: "Joignez le devis du fournisseur.".into(),
        })
        .await
        .unwrap();
    let back = section_with(
        &cm,
        "Demandes d'achat renvoyées pour complément",
        "Joignez le devis du fournisseur.",
    )
    .await;
    assert!(
        back.starts_with("Demandes d'achat renvoyées pour complément (1)"),
        "{back}"
    );
    assert!(back.contains("Robots pour l'atelier"), "{back}");
    assert!(
        !back.contains("Caméras"),
        "still waiting for the academy: {back}"
    );
    assert!(live_updates(&cm).await > before, "updated in place");
    let link = cm
        .find(Locator::Css(&format!(
            "tr[data-purchase='{}'] a",
            robots.id
        )))
        .await
        .unwrap()
        .attr("href")
        .await
        .unwrap();
    assert_eq!(link, Some(format!("/achats/{}", robots.id)));
    // The overdue returns come first.
    let first = cm
        .find(Locator::Css("main section h2"))
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(first.starts_with("Retours en retard"), "{first}");
    shoot(&cm, "tableau-de-bord-site").await;

    // On the academy's open dashboard: the robots left the queue, the
    // cameras wait.
    let start = std::time::Instant::now();
    let queue = loop {
        let queue = section(&c, "Demandes d'achat à décider").await;
        if !queue.contains("Robots") {
            break queue;
        }
        assert!(
            start.elapsed() < TIMEOUT,
            "the decided request stays:\n{queue}"
        );
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    };
    assert!(
        queue.starts_with("Demandes d'achat à décider (1)"),
        "{queue}"
    );
    assert!(queue.contains("Caméras"), "{queue}");
    assert!(live_updates(&c).await > academy_before, "updated in place");
    assert!(c
        .find(Locator::Css(&format!("tr[data-purchase='{}']", cameras.id)))
        .await
        .is_ok());

    // A viewer of Metz has nothing to act on: no purchase reminder.
    click(&cm, "form[action='/deconnexion'] button").await;
    page_with(&cm, "Mot de passe").await;
    log_in(&cm, &metz_web, "lecture@metz.fr", PASSWORD).await;
    page_with(&cm, "Retours en retard").await;
    assert!(section(&cm, "Demandes d'achat renvoyées").await.is_empty());
    assert!(section(&cm, "Achats validés").await.is_empty());
    assert!(!section(&cm, "Demandes en attente de notre décision")
        .await
        .is_empty());
    c.close().await.unwrap();
    cm.close().await.unwrap();
}
