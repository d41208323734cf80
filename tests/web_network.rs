//! Partners and the academy's « Réseau » page in a real browser (headless
//! Chromium over WebDriver), across real nodes:
//!
//! - a site adds a partner linked to a common action; another site's
//!   director reads it without its contact and cannot change it (the POST
//!   is refused, nothing changes); the owner's team sees the contact;
//! - on the academy node, the network page lists the sites, one connected
//!   and one stopped; a site whose key does not match its certificate is
//!   refused and nothing is enrolled, the right key enrols it; a revocation
//!   through its confirmation page shows the site revoked, and the revoked
//!   site's next change is refused by the academy (its session is refused,
//!   with the reason on the page). A site node has no such page.
//!
//! Every new page is checked with axe-core (`shoot`).

mod common;

use common::browser::*;
use common::*;
use fantoccini::{Client, Locator};
use maillage::app::{actions as act, network as net, partners};
use maillage::auth::Role;
use maillage::domain::site::Role as NodeRole;
use maillage::pb;

const DIRECTOR_A: &str = "claire@ac-nancy-metz.fr";
const DIRECTOR_B: &str = "bruno@ac-nancy-metz.fr";
const ACADEMY: &str = "equipe.asterie@ac-nancy-metz.fr";
const DIRECTOR_RECTORAT: &str = "direction.rectorat@ac-nancy-metz.fr";
const DIRECTOR_METZ: &str = "direction.metz@ac-nancy-metz.fr";

const CONTACT: &str = "Anne Durand, anne.durand@mairie-metz.fr, 03 87 00 00 00";

async fn value_of(c: &Client, id: &str) -> String {
    c.find(Locator::Id(id))
        .await
        .unwrap()
        .prop("value")
        .await
        .unwrap()
        .unwrap_or_default()
}

/// A session on the web interface at `addr`, signed in as `email`, over a
/// plain socket (to send what a browser would not).
async fn http_session(addr: &str, email: &str) -> (String, String) {
    let (_, headers, page) = http(addr, "GET", "/connexion", None, None).await;
    let anon = set_session(&headers);
    let login = format!(
        "email={}&password={}&_csrf={}",
        email.replace('@', "%40"),
        PASSWORD.replace(' ', "+"),
        csrf_of(&page)
    );
    let (status, headers, _) = http(addr, "POST", "/connexion", Some(&anon), Some(&login)).await;
    assert_eq!(status, 303, "login as {email}");
    let session = set_session(&headers);
    let (_, _, page) = http(addr, "GET", "/", Some(&session), None).await;
    (session, csrf_of(&page))
}

/// Reloads `url` until its HTML holds `what` (or panics after [`TIMEOUT`]);
/// returns the HTML.
async fn reload_until(c: &Client, url: &str, what: &str) -> String {
    let start = std::time::Instant::now();
    loop {
        c.goto(url).await.unwrap();
        let html = c.source().await.unwrap_or_default();
        if html.contains(what) {
            return html;
        }
        if start.elapsed() > TIMEOUT {
            panic!("« {what} » never appeared on {url}; the page says:\n{html}");
        }
        tokio::time::sleep(std::time::Duration::from_millis(200)).await;
    }
}

/// A site adds a partner linked to an action (a refused amount first, which
/// writes nothing); another site's director sees it without its contact, has
/// no form, and a POST they forge is refused with nothing changed; the
/// owner's director sees the contact, in the list and on the page.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_partner_is_read_by_every_site_but_its_contact_and_its_edits_stay_with_its_site() {
    let a = TestNode::start("alpha", &[]).await;
    let b = TestNode::start("beta", &[&a]).await;
    account(&a, DIRECTOR_A, "Claire Martin", Role::Director).await;
    account(&b, DIRECTOR_B, "Bruno Petit", Role::Director).await;
    let action = act::create(
        &a.running().ctx,
        pb::CreateActionRequest {
            title: "Fablab itinérant".into(),
            axis: 2,
            description: String::new(),
            start: String::new(),
            end: String::new(),
        },
    )
    .await
    .unwrap();
    act::create(
        &a.running().ctx,
        pb::CreateActionRequest {
            title: "Orientation en réseau".into(),
            axis: 2,
            description: String::new(),
            start: String::new(),
            end: String::new(),
        },
    )
    .await
    .unwrap();
    converge(&[&a, &b]).await;
    let (base_a, base_b) = (a.running().web_url(), b.running().web_url());

    // Alpha's director adds the partner.
    let (_da, ca) = browser().await;
    log_in(&ca, &base_a, DIRECTOR_A, PASSWORD).await;
    page_with(&ca, "À traiter").await;
    click(&ca, "nav a[href='/partenaires']").await;
    page_with(&ca, "Aucun partenaire ne correspond").await;
    shoot(&ca, "partenaires-vide").await;
    click(&ca, "a[href='/partenaires/nouveau']").await;
    page_with(&ca, "Nouveau partenaire").await;
    shoot(&ca, "partenaire-nouveau").await;
    type_into(&ca, "nom", "Ville de Metz").await;
    click(&ca, "#type option[value='local_authority']").await;
    type_into(&ca, "contact", CONTACT).await;
    type_into(
        &ca,
        "convention",
        "Convention n° 2027-04, signée le 3 février 2027",
    )
    .await;
    type_into(&ca, "contribution", "mille euros").await;
    type_into(&ca, "nature", "Prêt de la salle des fêtes").await;
    let boxes = ca
        .find_all(Locator::Css("input[name='actions']"))
        .await
        .unwrap();
    assert_eq!(boxes.len(), 2, "one box per action of the network");
    click(
        &ca,
        &format!("input[name='actions'][value='{}']", action.id),
    )
    .await;
    click(&ca, "main form button[type=submit]").await;
    page_with(&ca, "n'est pas un montant").await;
    assert!(
        partners::all(&a.running().ctx).unwrap().is_empty(),
        "a refused form writes nothing"
    );
    assert_eq!(value_of(&ca, "nom").await, "Ville de Metz", "values kept");
    assert_eq!(value_of(&ca, "contact").await, CONTACT);
    assert!(ca
        .find(Locator::Css(&format!(
            "input[name='actions'][value='{}']:checked",
            action.id
        )))
        .await
        .is_ok());
    shoot(&ca, "partenaire-erreur").await;
    type_into(&ca, "contribution", "1 500,50").await;
    click(&ca, "main form button[type=submit]").await;
    let text = page_with(&ca, "Partenaire enregistré.").await;
    for said in [
        CONTACT,
        "Collectivité",
        "1\u{202f}500,50 €",
        "Fablab itinérant",
        "Prêt de la salle des fêtes",
        "Tiers-lieu alpha",
    ] {
        assert!(text.contains(said), "{said} missing:\n{text}");
    }
    let saved = partners::all(&a.running().ctx).unwrap();
    assert_eq!(saved.len(), 1);
    let p = &saved[0];
    assert_eq!(
        (p.kind.as_str(), p.contribution_eur.as_str(), &p.actions),
        ("local_authority", "1500.50", &vec![action.id.clone()])
    );
    shoot(&ca, "partenaire-page-proprietaire").await;
    ca.goto(&format!("{base_a}/partenaires")).await.unwrap();
    let text = page_with(&ca, "Ville de Metz").await;
    assert!(text.contains(CONTACT), "the owner's list shows the contact");

    // Beta's director reads it, without the contact, and has no form.
    converge(&[&a, &b]).await;
    let (_db, cb) = browser().await;
    log_in(&cb, &base_b, DIRECTOR_B, PASSWORD).await;
    page_with(&cb, "À traiter").await;
    cb.goto(&format!("{base_b}/partenaires?action={}", action.id))
        .await
        .unwrap();
    let text = page_with(&cb, "Ville de Metz").await;
    assert!(text.contains("réservé à l'équipe du site"), "{text}");
    assert!(text.contains("Tiers-lieu alpha"), "{text}");
    assert!(text.contains("Fablab itinérant"), "{text}");
    assert!(!cb.source().await.unwrap().contains("anne.durand"));
    shoot(&cb, "partenaires-autre-site").await;
    cb.goto(&format!("{base_b}/partenaires?type=association"))
        .await
        .unwrap();
    page_with(&cb, "Aucun partenaire ne correspond").await;
    cb.goto(&format!("{base_b}/partenaires/{}", p.id))
        .await
        .unwrap();
    let text = page_with(&cb, "Seule la direction de Tiers-lieu alpha").await;
    assert!(text.contains("réservé à l'équipe du site Tiers-lieu alpha"));
    let html = cb.source().await.unwrap();
    assert!(!html.contains("anne.durand"), "no contact in beta's page");
    assert!(
        !html.contains(&format!("action=\"/partenaires/{}\"", p.id)),
        "no edit form for another site"
    );
    shoot(&cb, "partenaire-page-autre-site").await;

    // Beta's director forges the edit: refused, nothing changes anywhere.
    let addr_b = b.running().web_addr.to_string();
    let (session, csrf) = http_session(&addr_b, DIRECTOR_B).await;
    let before = (a.digest(), b.digest());
    let form = format!("_csrf={csrf}&nom=Pirate&type=company&contact=&contribution=0");
    let (status, _, page) = http(
        &addr_b,
        "POST",
        &format!("/partenaires/{}", p.id),
        Some(&session),
        Some(&form),
    )
    .await;
    assert_eq!(status, 403, "{page}");
    assert!(
        page.contains("seule la direction de ce site peut le modifier"),
        "{page}"
    );
    assert_eq!((a.digest(), b.digest()), before, "nothing written");
    assert_eq!(
        partners::all(&b.running().ctx).unwrap()[0].name,
        "Ville de Metz"
    );

    // The owner changes it from its page.
    ca.goto(&format!("{base_a}/partenaires/{}", p.id))
        .await
        .unwrap();
    page_with(&ca, "Modifier le partenaire").await;
    assert_eq!(value_of(&ca, "contribution").await, "1500,50");
    type_into(&ca, "contribution", "2000").await;
    click(&ca, "form[action^='/partenaires/'] button[type=submit]").await;
    let text = page_with(&ca, "Modifications enregistrées.").await;
    assert!(text.contains("2\u{202f}000,00 €"), "{text}");
    assert_eq!(
        partners::all(&a.running().ctx).unwrap()[0].contribution_eur,
        "2000.00"
    );
}

/// The academic team's network page: two enrolled sites, one stopped; a key
/// that does not match the certificate refused, the right one enrolled; a
/// revocation through its confirmation; the revoked site's sessions and
/// change refused by the academy. Other accounts and site nodes have no
/// such page.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_academy_follows_enrols_and_revokes_sites_on_the_network_page() {
    let academy = TestNode::start_with("rectorat", NodeRole::Academy, &[], |_| {}).await;
    let metz = TestNode::start("metz", &[&academy]).await;
    let mut thio = TestNode::start("thionville", &[&academy]).await;
    enrol(&academy, &metz).await.unwrap();
    enrol(&academy, &thio).await.unwrap();
    converge(&[&academy, &metz, &thio]).await;
    account(&academy, ACADEMY, "Inès Académie", Role::Academy).await;
    account(&academy, DIRECTOR_RECTORAT, "Paul Rectorat", Role::Director).await;
    account(&metz, DIRECTOR_METZ, "Marc Metz", Role::Director).await;
    let base = academy.running().web_url();
    let page = format!("{base}/reseau");

    let (_d, c) = browser().await;
    log_in(&c, &base, ACADEMY, PASSWORD).await;
    page_with(&c, "À traiter").await;
    click(&c, "nav a[href='/reseau']").await;
    page_with(&c, "Sites inscrits").await;
    let html = reload_until(
        &c,
        &page,
        "data-site=\"thionville\" data-connected=\"true\"",
    )
    .await;
    assert!(
        html.contains("data-site=\"metz\" data-connected=\"true\""),
        "{html}"
    );

    // Thionville stops: the page shows it disconnected, metz still connected.
    thio.stop().await;
    let html = reload_until(
        &c,
        &page,
        "data-site=\"thionville\" data-connected=\"false\"",
    )
    .await;
    assert!(
        html.contains("data-site=\"metz\" data-connected=\"true\""),
        "{html}"
    );
    let text = page_with(&c, "non connecté").await;
    assert!(text.contains("Tiers-lieu thionville"), "{text}");
    // The last contact in Paris time, and how long ago.
    let today = maillage::domain::time::fr_date(
        maillage::domain::time::paris(chrono::Utc::now()).date_naive(),
    );
    assert!(text.contains(&format!("{today}, ")), "{today}: {text}");
    assert!(
        text.contains("(à l'instant)") || text.contains("(il y a "),
        "how long ago: {text}"
    );
    shoot(&c, "reseau").await;

    // Enrolment of delta, whose certificate the team pastes: a key that is
    // not the certified one is refused, and nothing is enrolled.
    let (cert, _, key) = node_identity("delta", "site", None);
    let right = hex::encode(key.verifying_key().to_bytes());
    let (_, _, other) = node_identity("delta", "site", None);
    let wrong = hex::encode(other.verifying_key().to_bytes());
    click(&c, "a[href='/reseau/inscrire']").await;
    page_with(&c, "Inscrire un site").await;
    shoot(&c, "reseau-inscrire").await;
    type_into(&c, "id", "delta").await;
    type_into(&c, "nom", "Tiers-lieu delta").await;
    type_into(&c, "cle", &wrong).await;
    set_value(&c, "certificat", &cert).await;
    click(&c, "main form button[type=submit]").await;
    let text = page_with(&c, "n'est pas celle du site delta").await;
    assert!(text.contains("le certificat fourni certifie"), "{text}");
    let registered = |n: &TestNode| {
        net::sites(&n.running().ctx)
            .unwrap()
            .into_iter()
            .map(|(id, _)| id)
            .collect::<Vec<_>>()
    };
    assert!(!registered(&academy).contains(&"delta".to_string()));
    assert_eq!(value_of(&c, "nom").await, "Tiers-lieu delta", "values kept");
    shoot(&c, "reseau-inscrire-refus").await;
    // The same with the certificate sent as a file (node.crt).
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("node.crt");
    std::fs::write(&file, &cert).unwrap();
    set_value(&c, "certificat", "").await;
    c.find(Locator::Id("fichier"))
        .await
        .unwrap()
        .send_keys(file.to_str().unwrap())
        .await
        .unwrap();
    c.execute("window.ancienne_page = true;", vec![])
        .await
        .unwrap();
    click(&c, "main form button[type=submit]").await;
    let before = std::time::Instant::now();
    while c
        .execute("return window.ancienne_page === true;", vec![])
        .await
        .map(|v| v == serde_json::json!(true))
        .unwrap_or(true)
    {
        assert!(before.elapsed() < TIMEOUT, "the form was not sent");
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    let text = page_with(&c, "n'est pas celle du site delta").await;
    assert!(text.contains("le certificat fourni certifie"), "{text}");
    // The form shows the certificate the file held (the text was emptied).
    assert_eq!(value_of(&c, "certificat").await.trim(), cert.trim());
    assert!(!registered(&academy).contains(&"delta".to_string()));
    set_value(&c, "certificat", &cert).await;
    type_into(&c, "cle", &right).await;
    click(&c, "main form button[type=submit]").await;
    let text = page_with(&c, "Tiers-lieu delta est inscrit").await;
    assert!(text.contains("aucun depuis le démarrage"), "{text}");
    assert!(registered(&academy).contains(&"delta".to_string()));
    // The stopped site lags on the registry (delta's enrolment), by so
    // many changes; delta never exchanged a document with this node.
    let html = c.source().await.unwrap();
    let row = |site: &str| {
        let from = html
            .find(&format!("data-site=\"{site}\""))
            .unwrap_or_else(|| panic!("no row for {site}"));
        html[from..from + html[from..].find("</tr>").unwrap()].to_string()
    };
    let thionville = row("thionville");
    assert!(
        thionville.contains("data-doc=\"network\">registre du réseau : "),
        "{thionville}"
    );
    assert!(thionville.contains(" en retard"), "{thionville}");
    assert!(row("delta").contains("jamais échangés directement"));

    // Its name is changed.
    c.goto(&format!("{base}/reseau/delta/modifier"))
        .await
        .unwrap();
    page_with(&c, "Modifier l'inscription de Tiers-lieu delta").await;
    shoot(&c, "reseau-modifier").await;
    type_into(&c, "nom", "Tiers-lieu de Delta").await;
    click(&c, "main form button[type=submit]").await;
    page_with(&c, "L'inscription de Tiers-lieu de Delta est modifiée.").await;

    // Metz is revoked through the confirmation page.
    c.goto(&page).await.unwrap();
    click(&c, "a[href='/reseau/metz/revoquer']").await;
    let text = page_with(&c, "Ce que fait la révocation").await;
    for said in [
        "Ses modifications à venir sont refusées partout.",
        "Ses sessions sont fermées.",
        "Ce qu'il a écrit jusqu'ici reste.",
    ] {
        assert!(text.contains(said), "{said} missing:\n{text}");
    }
    assert!(
        !net::sites(&academy.running().ctx)
            .unwrap()
            .into_iter()
            .any(|(_, e)| e.is_revoked()),
        "the confirmation page revokes nothing"
    );
    shoot(&c, "reseau-revoquer").await;
    click(
        &c,
        "form[action='/reseau/metz/revoquer'] button[type=submit]",
    )
    .await;
    page_with(&c, "Tiers-lieu metz est révoqué").await;
    let html = reload_until(
        &c,
        &page,
        "data-site=\"metz\" data-connected=\"false\" data-revoked=\"true\"",
    )
    .await;
    assert!(!html.contains("href=\"/reseau/metz/revoquer\""), "{html}");

    // Metz's sessions are refused from now on, with the reason on the page;
    // a change it writes after that never reaches the academy.
    let refused = |n: &TestNode| {
        net::health(&n.running().ctx)
            .unwrap()
            .sites
            .into_iter()
            .find(|s| s.id == "metz")
            .map(|s| (s.refused_sessions, s.last_refusal))
            .unwrap()
    };
    eventually("metz's next session is refused", || refused(&academy).0 > 0).await;
    let html = reload_until(&c, &page, "révoqué par l'équipe académique").await;
    assert!(html.contains("data-refused=\""), "{html}");
    shoot(&c, "reseau-revoque").await;
    partners::add(
        &metz.running().ctx,
        maillage::domain::partners::Patch {
            name: Some("Partenaire après révocation".into()),
            ..Default::default()
        },
    )
    .await
    .unwrap();
    let after_write = refused(&academy).0;
    eventually("metz tries again after its write and is refused", || {
        refused(&academy).0 > after_write + 1
    })
    .await;
    assert!(refused(&academy).1.contains("révoqué"));
    assert!(
        !partners::all(&academy.running().ctx)
            .unwrap()
            .iter()
            .any(|p| p.name == "Partenaire après révocation"),
        "the revoked site's change is refused by the academy"
    );

    // Another account of the academy node: no menu entry, 403 on a POST.
    let addr = academy.running().web_addr.to_string();
    let (session, csrf) = http_session(&addr, DIRECTOR_RECTORAT).await;
    let (status, _, home) = http(&addr, "GET", "/", Some(&session), None).await;
    assert_eq!(status, 200);
    assert!(!home.contains("href=\"/reseau\""), "no menu entry");
    let (status, _, body) = http(
        &addr,
        "POST",
        "/reseau/delta/revoquer",
        Some(&session),
        Some(&format!("_csrf={csrf}")),
    )
    .await;
    assert_eq!(status, 403, "{body}");
    assert!(body.contains("Action refusée"), "{body}");
    assert!(!net::sites(&academy.running().ctx)
        .unwrap()
        .into_iter()
        .any(|(id, e)| id == "delta" && e.is_revoked()));

    // A site node has no network page, and no menu entry for it.
    let addr = metz.running().web_addr.to_string();
    let (session, _) = http_session(&addr, DIRECTOR_METZ).await;
    let (status, _, home) = http(&addr, "GET", "/", Some(&session), None).await;
    assert_eq!(status, 200);
    assert!(!home.contains("href=\"/reseau\""), "no menu entry");
    let (status, _, body) = http(&addr, "GET", "/reseau", Some(&session), None).await;
    assert_eq!(status, 404, "{body}");
    assert!(
        body.contains("n'existe que sur le nœud de l'équipe académique"),
        "{body}"
    );
}
