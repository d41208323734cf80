//! Writing the catalogue in the browser: a director adds, edits and retires
//! the site's items, prints their QR-code labels, and imports an existing
//! inventory (preview first, nothing written until confirmed); a viewer can
//! do none of it, even with a forged request.

mod common;

use std::io::Write;

use common::browser::*;
use common::*;
use fantoccini::wd::{PrintConfiguration, PrintMargins};
use fantoccini::{Client, Locator};
use maillage::auth::Role;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

const DIRECTOR: &str = "claire@ac-nancy-metz.fr";
const VIEWER: &str = "lecture@ac-nancy-metz.fr";

/// This node's items, by the use case the API calls.
fn items_of(node: &TestNode) -> Vec<maillage::domain::equipment::Item> {
    let ctx = &node.running().ctx;
    maillage::app::equipment::list_all(ctx)
        .unwrap()
        .iter()
        .filter(|i| i.site == ctx.site)
        .cloned()
        .collect()
}

fn names_of(node: &TestNode) -> Vec<String> {
    let mut n: Vec<String> = items_of(node).into_iter().map(|i| i.name).collect();
    n.sort();
    n
}

async fn type_in(c: &Client, id: &str, text: &str) {
    let f = c
        .find(Locator::Id(id))
        .await
        .unwrap_or_else(|e| panic!("#{id}: {e}"));
    f.clear().await.unwrap();
    if !text.is_empty() {
        f.send_keys(text).await.unwrap();
    }
}

async fn value_of(c: &Client, id: &str) -> String {
    c.find(Locator::Id(id))
        .await
        .unwrap()
        .prop("value")
        .await
        .unwrap()
        .unwrap_or_default()
}

async fn session_and_token(c: &Client) -> (String, String) {
    let session = c
        .get_named_cookie("maillage_session")
        .await
        .unwrap()
        .value()
        .to_string();
    (session, csrf_of(&c.source().await.unwrap()))
}

/// The path of the page the browser shows.
async fn path(c: &Client) -> String {
    c.current_url().await.unwrap().path().to_string()
}

/// Waits for the browser to reach a page whose path starts with `prefix`.
async fn path_starting(c: &Client, prefix: &str) -> String {
    let start = std::time::Instant::now();
    loop {
        let p = path(c).await;
        if p.starts_with(prefix) {
            return p;
        }
        assert!(start.elapsed() < TIMEOUT, "still on {p}, not {prefix}…");
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
}

/// A multipart POST over a plain socket, as a form with a file sends it:
/// (status, body). Parts are (name, file name, content).
async fn post_multipart(
    addr: &str,
    path: &str,
    session: &str,
    parts: &[(&str, Option<&str>, &[u8])],
) -> (u16, String) {
    const B: &str = "----maillage-test-boundary";
    let mut body: Vec<u8> = Vec::new();
    for (name, file, data) in parts {
        body.extend_from_slice(format!("--{B}\r\n").as_bytes());
        match file {
            Some(f) => body.extend_from_slice(
                format!(
                    "Content-Disposition: form-data; name=\"{name}\"; filename=\"{f}\"\r\n\
                     Content-Type: application/octet-stream\r\n\r\n"
                )
                .as_bytes(),
            ),
            None => body.extend_from_slice(
                format!("Content-Disposition: form-data; name=\"{name}\"\r\n\r\n").as_bytes(),
            ),
        }
        body.extend_from_slice(data);
        body.extend_from_slice(b"\r\n");
    }
    body.extend_from_slice(format!("--{B}--\r\n").as_bytes());
    let mut s = tokio::net::TcpStream::connect(addr).await.unwrap();
    let head = format!(
        "POST {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n\
         Cookie: maillage_session={session}\r\n\
         Content-Type: multipart/form-data; boundary={B}\r\n\
         Content-Length: {}\r\n\r\n",
        body.len()
    );
    s.write_all(head.as_bytes()).await.unwrap();
    s.write_all(&body).await.unwrap();
    let mut raw = Vec::new();
    s.read_to_end(&mut raw).await.unwrap();
    let raw = String::from_utf8_lossy(&raw).to_string();
    let (head, body) = raw.split_once("\r\n\r\n").unwrap();
    let status = head.split(' ').nth(1).unwrap().parse().unwrap();
    (status, body.to_string())
}

/// Logs in over plain HTTP: the session id and the CSRF token of `page`.
async fn http_log_in(addr: &str, email: &str, page: &str) -> (String, String) {
    let (_, headers, form) = http(addr, "GET", "/connexion", None, None).await;
    let anon = set_session(&headers);
    let login = format!(
        "email={}&password={}&_csrf={}",
        email.replace('@', "%40"),
        PASSWORD.replace(' ', "+"),
        csrf_of(&form)
    );
    let (status, headers, _) = http(addr, "POST", "/connexion", Some(&anon), Some(&login)).await;
    assert_eq!(status, 303);
    let session = set_session(&headers);
    let (status, _, body) = http(addr, "GET", page, Some(&session), None).await;
    assert_eq!(status, 200, "{body}");
    (session, csrf_of(&body))
}

/// A minimal .xlsx (one sheet, inline strings), as tests/import.rs makes it.
fn xlsx(rows: &[&[&str]]) -> Vec<u8> {
    let mut sheet = String::from(
        r#"<?xml version="1.0" encoding="UTF-8"?><worksheet xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main"><sheetData>"#,
    );
    for (r, row) in rows.iter().enumerate() {
        sheet.push_str(&format!(r#"<row r="{}">"#, r + 1));
        for (c, cell) in row.iter().enumerate() {
            let col = (b'A' + c as u8) as char;
            sheet.push_str(&format!(
                r#"<c r="{col}{}" t="inlineStr"><is><t>{cell}</t></is></c>"#,
                r + 1
            ));
        }
        sheet.push_str("</row>");
    }
    sheet.push_str("</sheetData></worksheet>");
    let files = [
        (
            "[Content_Types].xml",
            r#"<?xml version="1.0" encoding="UTF-8"?><Types xmlns="http://schemas.openxmlformats.org/package/2006/content-types"><Default Extension="rels" ContentType="application/vnd.openxmlformats-package.relationships+xml"/><Default Extension="xml" ContentType="application/xml"/><Override PartName="/xl/workbook.xml" ContentType="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet.main+xml"/><Override PartName="/xl/worksheets/sheet1.xml" ContentType="application/vnd.openxmlformats-officedocument.spreadsheetml.worksheet+xml"/></Types>"#.to_string(),
        ),
        (
            "_rels/.rels",
            r#"<?xml version="1.0" encoding="UTF-8"?><Relationships xmlns="http://schemas.openxmlformats.org/package/2006/relationships"><Relationship Id="rId1" Type="http://schemas.openxmlformats.org/officeDocument/2006/relationships/officeDocument" Target="xl/workbook.xml"/></Relationships>"#.to_string(),
        ),
        (
            "xl/workbook.xml",
            r#"<?xml version="1.0" encoding="UTF-8"?><workbook xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main" xmlns:r="http://schemas.openxmlformats.org/officeDocument/2006/relationships"><sheets><sheet name="Inventaire" sheetId="1" r:id="rId1"/></sheets></workbook>"#.to_string(),
        ),
        (
            "xl/_rels/workbook.xml.rels",
            r#"<?xml version="1.0" encoding="UTF-8"?><Relationships xmlns="http://schemas.openxmlformats.org/package/2006/relationships"><Relationship Id="rId1" Type="http://schemas.openxmlformats.org/officeDocument/2006/relationships/worksheet" Target="worksheets/sheet1.xml"/></Relationships>"#.to_string(),
        ),
        ("xl/worksheets/sheet1.xml", sheet),
    ];
    let mut out = std::io::Cursor::new(Vec::new());
    {
        let mut z = zip::ZipWriter::new(&mut out);
        for (name, body) in files {
            z.start_file(name, zip::write::SimpleFileOptions::default())
                .unwrap();
            z.write_all(body.as_bytes()).unwrap();
        }
        z.finish().unwrap();
    }
    out.into_inner()
}

/// A director adds an item through the form (a missing name first: the form
/// comes back filled, with the error), edits it, then retires it; the
/// catalogue and the item's page follow. Another site's item has no
/// « Modifier ». A viewer sees no write link, and a viewer's forged posts
/// (valid session and CSRF token) are refused and write nothing.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_director_adds_edits_and_retires_an_item() {
    let a = TestNode::start("alpha", &[]).await;
    let b = TestNode::start("beta", &[&a]).await;
    let theirs = b.add_item("Drone de beta").await;
    converge(&[&a, &b]).await;
    account(&a, DIRECTOR, "Claire Martin", Role::Director).await;
    account(&a, VIEWER, "Léa Lecture", Role::Viewer).await;
    let base = a.running().web_url();
    let addr = a.running().web_addr.to_string();

    let (_dd, c) = browser().await;
    log_in(&c, &base, DIRECTOR, PASSWORD).await;
    page_with(&c, "À traiter").await;
    c.goto(&format!("{base}/catalogue")).await.unwrap();
    page_with(&c, "Ajouter un matériel").await;
    click(&c, "a[href='/materiel/nouveau']").await;
    page_with(&c, "Date d'acquisition").await;
    shoot(&c, "materiel-nouveau").await;

    // No name: the form again, filled, saying what to fix; nothing written.
    let before = a.digest();
    type_in(&c, "categorie", "robotique").await;
    type_in(&c, "description", "Huit robots et leurs câbles").await;
    type_in(&c, "inventaire", "A-ROB-001").await;
    set_value(&c, "acquis", "2025-09-15").await;
    click(&c, "form[action='/materiel/nouveau'] button[type=submit]").await;
    let text = page_with(&c, "Le champ « Nom » est obligatoire.").await;
    assert!(!text.contains("name"), "French only: {text}");
    assert_eq!(value_of(&c, "categorie").await, "robotique");
    assert_eq!(value_of(&c, "inventaire").await, "A-ROB-001");
    assert_eq!(value_of(&c, "acquis").await, "2025-09-15");
    assert_eq!(
        c.find(Locator::Id("nom"))
            .await
            .unwrap()
            .attr("aria-invalid")
            .await
            .unwrap()
            .as_deref(),
        Some("true")
    );
    shoot(&c, "materiel-nouveau-erreur").await;
    assert_eq!(a.digest(), before, "nothing written");
    assert!(items_of(&a).is_empty());

    type_in(&c, "nom", "Robots Thymio").await;
    click(&c, "form[action='/materiel/nouveau'] button[type=submit]").await;
    let text = page_with(&c, "Matériel ajouté au catalogue.").await;
    for expected in [
        "Robots Thymio",
        "robotique",
        "A-ROB-001",
        "15 sept. 2025",
        "Huit robots et leurs câbles",
        "Tiers-lieu alpha",
    ] {
        assert!(text.contains(expected), "{expected} missing: {text}");
    }
    shoot(&c, "materiel-ajoute").await;
    let item_path = path_starting(&c, "/materiel/eq-").await;
    let id = item_path.trim_start_matches("/materiel/").to_string();
    let made = maillage::app::equipment::find(&a.running().ctx, &id).unwrap();
    assert_eq!(
        (made.name.as_str(), made.acquired.as_str(), made.loanable),
        ("Robots Thymio", "2025-09-15", true)
    );

    // Edit: a new name, worn, not loanable, in maintenance.
    click(&c, &format!("a[href='/materiel/{id}/modifier']")).await;
    page_with(&c, "Enregistrer les modifications").await;
    assert_eq!(value_of(&c, "nom").await, "Robots Thymio");
    shoot(&c, "materiel-modifier").await;
    type_in(&c, "nom", "Robots Thymio (lot de 8)").await;
    click(&c, "#etat option[value=worn]").await;
    click(&c, "#statut option[value=maintenance]").await;
    click(&c, "#pretable").await;
    click(&c, "form[action$='/modifier'] button[type=submit]").await;
    let text = page_with(&c, "Modifications enregistrées.").await;
    assert!(text.contains("Robots Thymio (lot de 8)"), "{text}");
    assert!(
        text.contains("usé") && text.contains("en maintenance"),
        "{text}"
    );
    let edited = maillage::app::equipment::find(&a.running().ctx, &id).unwrap();
    assert_eq!(
        (
            edited.name.as_str(),
            edited.condition.as_str(),
            edited.status.as_str(),
            edited.loanable,
            edited.inventory_number.as_str(),
        ),
        (
            "Robots Thymio (lot de 8)",
            "worn",
            "maintenance",
            false,
            "A-ROB-001"
        )
    );
    c.goto(&format!("{base}/catalogue?recherche=thymio"))
        .await
        .unwrap();
    let text = page_with(&c, "1 matériel").await;
    assert!(text.contains("Robots Thymio (lot de 8)"), "{text}");

    // An edit that breaks a rule: the form again, nothing written.
    c.goto(&format!("{base}/materiel/{id}/modifier"))
        .await
        .unwrap();
    page_with(&c, "Enregistrer les modifications").await;
    type_in(&c, "nom", "").await;
    type_in(&c, "description", "Rangés en salle B14").await;
    let before = a.digest();
    click(&c, "form[action$='/modifier'] button[type=submit]").await;
    page_with(&c, "Le champ « Nom » est obligatoire.").await;
    assert_eq!(value_of(&c, "description").await, "Rangés en salle B14");
    shoot(&c, "materiel-modifier-erreur").await;
    assert_eq!(a.digest(), before, "nothing written");

    // Retire, after a confirmation.
    c.goto(&format!("{base}/materiel/{id}")).await.unwrap();
    page_with(&c, "Fiche").await;
    click(&c, &format!("main a[href='/materiel/{id}/retirer']")).await;
    page_with(&c, "ne pourra plus être demandé").await;
    shoot(&c, "materiel-retirer").await;
    assert_eq!(
        maillage::app::equipment::find(&a.running().ctx, &id)
            .unwrap()
            .status,
        "maintenance",
        "not before the confirmation"
    );
    click(&c, "form[action$='/retirer'] button[type=submit]").await;
    let text = page_with(&c, "Matériel retiré du catalogue").await;
    assert!(text.contains("retiré"), "{text}");
    assert_eq!(
        maillage::app::equipment::find(&a.running().ctx, &id)
            .unwrap()
            .status,
        "retired"
    );

    // Another site's item: no « Modifier », and its edit page refuses.
    c.goto(&format!("{base}/materiel/{}", theirs.id))
        .await
        .unwrap();
    let text = page_with(&c, "Fiche").await;
    assert!(!text.contains("Modifier"), "{text}");
    c.goto(&format!("{base}/materiel/{}/modifier", theirs.id))
        .await
        .unwrap();
    let text = page_with(&c, "Action refusée").await;
    assert!(text.contains("seul ce site peut le modifier"), "{text}");
    let (session, csrf) = {
        c.goto(&format!("{base}/catalogue")).await.unwrap();
        page_with(&c, "Catalogue du réseau").await;
        session_and_token(&c).await
    };
    let before = a.digest();
    let (status, _, body) = http(
        &addr,
        "POST",
        &format!("/materiel/{}/modifier", theirs.id),
        Some(&session),
        Some(&format!("_csrf={csrf}&nom=Vol%C3%A9&categorie=x")),
    )
    .await;
    assert_eq!(status, 403, "{body}");
    assert_eq!(a.digest(), before);

    // A form shown before someone else saved the item writes nothing.
    let (_, _, form) = http(
        &addr,
        "GET",
        &format!("/materiel/{id}/modifier"),
        Some(&session),
        None,
    )
    .await;
    let shown = form
        .split("name=\"version\" value=\"")
        .nth(1)
        .and_then(|r| r.split('"').next())
        .unwrap()
        .to_string();
    maillage::app::equipment::update(
        &a.running().ctx,
        &id,
        maillage::domain::equipment::Patch {
            description: Some("Rangés en salle B14".into()),
            ..Default::default()
        },
        "equipment update",
    )
    .await
    .unwrap();
    let before = a.digest();
    let (status, _, body) = http(
        &addr,
        "POST",
        &format!("/materiel/{id}/modifier"),
        Some(&session),
        Some(&format!(
            "_csrf={csrf}&version={shown}&nom=Autre+nom&categorie=robotique&etat=worn&statut=retired"
        )),
    )
    .await;
    assert_eq!(status, 409, "{body}");
    assert!(body.contains("modifié par quelqu'un d'autre"), "{body}");
    assert!(
        body.contains("Rangés en salle B14"),
        "the item as it is now: {body}"
    );
    assert_eq!(a.digest(), before, "nothing written");
    assert_eq!(
        maillage::app::equipment::find(&a.running().ctx, &id)
            .unwrap()
            .name,
        "Robots Thymio (lot de 8)"
    );

    // A viewer: no write link; forged posts refused, nothing written.
    let (_dv, v) = browser().await;
    log_in(&v, &base, VIEWER, PASSWORD).await;
    page_with(&v, "À traiter").await;
    v.goto(&format!("{base}/catalogue")).await.unwrap();
    let text = page_with(&v, "Catalogue du réseau").await;
    assert!(!text.contains("Ajouter"), "{text}");
    assert!(!text.contains("Importer"), "{text}");
    v.goto(&format!("{base}/materiel/{id}")).await.unwrap();
    let text = page_with(&v, "Fiche").await;
    assert!(!text.contains("Modifier"), "{text}");
    v.goto(&format!("{base}/materiel/nouveau")).await.unwrap();
    page_with(&v, "Action refusée").await;
    v.goto(&format!("{base}/catalogue")).await.unwrap();
    page_with(&v, "Catalogue du réseau").await;
    let (session, csrf) = session_and_token(&v).await;
    let before = a.digest();
    for (path, form) in [
        (
            "/materiel/nouveau".to_string(),
            format!("_csrf={csrf}&nom=Faux&categorie=robotique"),
        ),
        (
            format!("/materiel/{id}/modifier"),
            format!("_csrf={csrf}&nom=Faux&categorie=robotique&statut=available"),
        ),
        (format!("/materiel/{id}/retirer"), format!("_csrf={csrf}")),
    ] {
        let (status, _, body) = http(&addr, "POST", &path, Some(&session), Some(&form)).await;
        assert_eq!(status, 403, "{path}: {body}");
        assert!(body.contains("Action refusée"), "{body}");
    }
    assert_eq!(a.digest(), before, "nothing written");
    assert_eq!(names_of(&a), ["Robots Thymio (lot de 8)"]);
}

/// The label sheet: one QR code per item in service of my site, each
/// opening the item's page, none for another site's item or a retired one;
/// the category filter narrows it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_label_sheet_has_one_code_per_item_of_my_site() {
    let a = TestNode::start("alpha", &[]).await;
    let b = TestNode::start("beta", &[&a]).await;
    let ctx = &a.running().ctx;
    let add = |name: &str, category: &str| maillage::domain::equipment::Patch {
        name: Some(name.into()),
        category: Some(category.into()),
        ..Default::default()
    };
    let mut mine = Vec::new();
    for (n, cat) in [
        ("Robot Thymio", "robotique"),
        ("Robot Mbot", "robotique"),
        ("Caméra 4K", "audio-vidéo"),
    ] {
        mine.push(
            maillage::app::equipment::add(ctx, add(n, cat))
                .await
                .unwrap(),
        );
    }
    let old = maillage::app::equipment::add(ctx, add("Vieux robot", "robotique"))
        .await
        .unwrap();
    maillage::app::equipment::retire(ctx, &old.id)
        .await
        .unwrap();
    let theirs = b.add_item("Drone de beta").await;
    converge(&[&a, &b]).await;
    account(&a, VIEWER, "Léa Lecture", Role::Viewer).await;
    let base = a.running().web_url();

    let (_d, c) = browser().await;
    log_in(&c, &base, VIEWER, PASSWORD).await;
    page_with(&c, "À traiter").await;
    c.goto(&format!("{base}/catalogue")).await.unwrap();
    page_with(&c, "Imprimer les étiquettes").await;
    click(&c, "a[href='/materiel/etiquettes']").await;
    page_with(&c, "3 étiquettes").await;
    let codes = c.find_all(Locator::Css("svg.qr")).await.unwrap();
    assert_eq!(codes.len(), 3);
    for i in &mine {
        let label = c
            .find(Locator::Css(&format!("div.label[data-item='{}']", i.id)))
            .await
            .unwrap_or_else(|_| panic!("no label for {}", i.name));
        let svgs = label.find_all(Locator::Css("svg.qr")).await.unwrap();
        assert_eq!(svgs.len(), 1, "one code for {}", i.name);
        assert_eq!(
            svgs[0].attr("data-url").await.unwrap().unwrap(),
            format!("{base}/materiel/{}", i.id)
        );
        let text = label.text().await.unwrap();
        assert!(
            text.contains(&i.name) && text.contains("Tiers-lieu alpha"),
            "{text}"
        );
    }
    for other in [&theirs.id, &old.id] {
        assert!(
            c.find(Locator::Css(&format!("[data-item='{other}']")))
                .await
                .is_err(),
            "no label for {other}"
        );
    }
    let html = c.source().await.unwrap();
    assert!(!html.contains("data:image"), "inline SVG only");
    shoot(&c, "etiquettes").await;
    // Printed as the page says (A4, no margins): target/screenshots/etiquettes.pdf.
    let print = PrintConfiguration::builder()
        .margins(PrintMargins {
            top: 0.0,
            bottom: 0.0,
            left: 0.0,
            right: 0.0,
        })
        .shrink_to_fit(false)
        .build()
        .unwrap();
    let pdf = c.print(print).await.unwrap();
    assert!(pdf.starts_with(b"%PDF"));
    std::fs::write(screenshot_path("etiquettes.pdf"), pdf).unwrap();

    c.goto(&format!("{base}/materiel/etiquettes?categorie=robotique"))
        .await
        .unwrap();
    page_with(&c, "2 étiquettes").await;
    assert_eq!(c.find_all(Locator::Css("svg.qr")).await.unwrap().len(), 2);

    // One item's label, from its page.
    c.goto(&format!("{base}/materiel/{}", mine[2].id))
        .await
        .unwrap();
    page_with(&c, "Fiche").await;
    click(&c, "a[href^='/materiel/etiquettes?materiel=']").await;
    page_with(&c, "1 étiquette ").await;
    let codes = c.find_all(Locator::Css("svg.qr")).await.unwrap();
    assert_eq!(codes.len(), 1);
    assert_eq!(
        codes[0].attr("data-url").await.unwrap().unwrap(),
        format!("{base}/materiel/{}", mine[2].id)
    );
}

/// An inventory as a site keeps it (Windows-1252, `;`): with a wrong line,
/// the preview names it and its error and offers no confirmation; fixed,
/// the preview lists what would be created and nothing is written until
/// « Confirmer l'import »; the confirmation works once. An .xlsx too.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_inventory_is_previewed_then_imported_on_confirmation() {
    let a = TestNode::start("alpha", &[]).await;
    account(&a, DIRECTOR, "Claire Martin", Role::Director).await;
    let base = a.running().web_url();
    let addr = a.running().web_addr.to_string();
    let tmp = tempfile::tempdir().unwrap();
    let write = |name: &str, bytes: &[u8]| {
        let p = tmp.path().join(name);
        std::fs::write(&p, bytes).unwrap();
        p.to_str().unwrap().to_string()
    };
    let cp1252 = |text: &str| encoding_rs::WINDOWS_1252.encode(text).0.into_owned();
    let bad = write(
        "inventaire-a-corriger.csv",
        &cp1252(
            "Désignation;Catégorie;N° inventaire;Prêtable;État;Date d'acquisition;Salle\r\n\
             Caméra 4K;audio-vidéo;A-AV-001;oui;bon;15/09/2025;B12\r\n\
             ;robotique;A-ROB-001;oui;neuf;;B14\r\n\
             Câbles USB;numérique;;non;;;\r\n",
        ),
    );
    let good = write(
        "inventaire.csv",
        &cp1252(
            "Désignation;Catégorie;N° inventaire;Prêtable;État;Date d'acquisition;Salle\r\n\
             Caméra 4K;audio-vidéo;A-AV-001;oui;bon;15/09/2025;B12\r\n\
             Robots Thymio;robotique;A-ROB-001;oui;neuf;;B14\r\n\
             Câbles USB;numérique;;non;;;\r\n",
        ),
    );

    let (_d, c) = browser().await;
    log_in(&c, &base, DIRECTOR, PASSWORD).await;
    page_with(&c, "À traiter").await;
    c.goto(&format!("{base}/catalogue")).await.unwrap();
    page_with(&c, "Importer un inventaire").await;
    click(&c, "a[href='/materiel/importer']").await;
    page_with(&c, "Le fichier attendu").await;
    shoot(&c, "importer").await;

    // A wrong line: named with its error; no confirmation; nothing written.
    let before = a.digest();
    c.find(Locator::Id("fichier"))
        .await
        .unwrap()
        .send_keys(&bad)
        .await
        .unwrap();
    click(&c, "form[action='/materiel/importer'] button[type=submit]").await;
    let text = page_with(&c, "à corriger").await;
    assert!(
        text.contains("Ligne 3 : la colonne Nom est obligatoire"),
        "{text}"
    );
    assert!(text.contains("1 ligne sur 3 à corriger"), "{text}");
    assert!(text.contains("Caméra 4K"), "read as Windows-1252: {text}");
    assert!(text.contains("Colonnes non lues : Salle."), "{text}");
    assert!(c
        .find(Locator::Css("form[action='/materiel/importer/confirmer']"))
        .await
        .is_err());
    shoot(&c, "importer-apercu-erreurs").await;
    assert!(items_of(&a).is_empty());
    assert_eq!(a.digest(), before);

    // Fixed: the preview, and still nothing written.
    c.goto(&format!("{base}/materiel/importer")).await.unwrap();
    page_with(&c, "Le fichier attendu").await;
    c.find(Locator::Id("fichier"))
        .await
        .unwrap()
        .send_keys(&good)
        .await
        .unwrap();
    click(&c, "form[action='/materiel/importer'] button[type=submit]").await;
    let text = page_with(&c, "Toutes les lignes sont correctes").await;
    assert!(
        text.contains("Robots Thymio") && text.contains("15 sept. 2025"),
        "{text}"
    );
    assert!(text.contains("3 matériels seront ajoutés"), "{text}");
    shoot(&c, "importer-apercu").await;
    assert!(items_of(&a).is_empty(), "nothing before the confirmation");
    assert_eq!(a.digest(), before);
    let html = c.source().await.unwrap();
    let preview = html
        .split("name=\"apercu\" value=\"")
        .nth(1)
        .and_then(|r| r.split('"').next())
        .unwrap()
        .to_string();
    let (session, csrf) = session_and_token(&c).await;

    click(
        &c,
        "form[action='/materiel/importer/confirmer'] button[type=submit]",
    )
    .await;
    let text = page_with(&c, "3 matériels ajoutés au catalogue du site.").await;
    assert!(text.contains("Robots Thymio"), "{text}");
    shoot(&c, "importer-termine").await;
    assert_eq!(names_of(&a), ["Caméra 4K", "Câbles USB", "Robots Thymio"]);
    let cam = items_of(&a)
        .into_iter()
        .find(|i| i.name == "Caméra 4K")
        .unwrap();
    assert_eq!(
        (cam.inventory_number.as_str(), cam.acquired.as_str()),
        ("A-AV-001", "2025-09-15")
    );

    // The same confirmation again: the preview is spent.
    let before = a.digest();
    let (status, _, body) = http(
        &addr,
        "POST",
        "/materiel/importer/confirmer",
        Some(&session),
        Some(&format!("_csrf={csrf}&apercu={preview}")),
    )
    .await;
    assert_eq!(status, 409, "{body}");
    assert!(body.contains("envoyez le fichier à nouveau"), "{body}");
    assert_eq!(a.digest(), before);
    assert_eq!(items_of(&a).len(), 3);

    // The same file again: its numbered lines are already there.
    c.goto(&format!("{base}/materiel/importer")).await.unwrap();
    page_with(&c, "Le fichier attendu").await;
    c.find(Locator::Id("fichier"))
        .await
        .unwrap()
        .send_keys(&good)
        .await
        .unwrap();
    click(&c, "form[action='/materiel/importer'] button[type=submit]").await;
    let text = page_with(&c, "à corriger").await;
    assert!(text.contains("A-AV-001 déjà au catalogue"), "{text}");

    // An .xlsx.
    let book = write(
        "inventaire.xlsx",
        &xlsx(&[
            &["Nom", "Catégorie", "Prêtable"],
            &["Tables modulables", "mobilier", "oui"],
            &["Kit raquettes", "sport", "non"],
        ]),
    );
    c.goto(&format!("{base}/materiel/importer")).await.unwrap();
    page_with(&c, "Le fichier attendu").await;
    c.find(Locator::Id("fichier"))
        .await
        .unwrap()
        .send_keys(&book)
        .await
        .unwrap();
    click(&c, "form[action='/materiel/importer'] button[type=submit]").await;
    let text = page_with(&c, "Toutes les lignes sont correctes").await;
    assert!(text.contains("Kit raquettes"), "{text}");
    assert_eq!(items_of(&a).len(), 3);
    click(
        &c,
        "form[action='/materiel/importer/confirmer'] button[type=submit]",
    )
    .await;
    page_with(&c, "2 matériels ajoutés").await;
    assert_eq!(items_of(&a).len(), 5);
    let kit = items_of(&a)
        .into_iter()
        .find(|i| i.name == "Kit raquettes")
        .unwrap();
    assert!(!kit.loanable);
}

/// A multipart form (the file upload) goes through the CSRF guard too:
/// without its `_csrf` part, or with a wrong one, it is refused before any
/// handler runs; with it, the file is checked. A viewer's upload, token and
/// all, is refused.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_multipart_post_without_its_token_is_refused() {
    let a = TestNode::start("alpha", &[]).await;
    account(&a, DIRECTOR, "Claire Martin", Role::Director).await;
    account(&a, VIEWER, "Léa Lecture", Role::Viewer).await;
    let addr = a.running().web_addr.to_string();
    let (session, csrf) = http_log_in(&addr, DIRECTOR, "/materiel/importer").await;
    let file: &[u8] = b"Nom;Categorie\nRobot;robotique\n";
    let before = a.digest();

    let (status, body) = post_multipart(
        &addr,
        "/materiel/importer",
        &session,
        &[("fichier", Some("inventaire.csv"), file)],
    )
    .await;
    assert_eq!(status, 403, "{body}");
    assert!(
        body.contains("jeton de sécurité (CSRF) absent ou invalide"),
        "{body}"
    );
    let (status, body) = post_multipart(
        &addr,
        "/materiel/importer",
        &session,
        &[
            ("_csrf", None, b"0000"),
            ("fichier", Some("inventaire.csv"), file),
        ],
    )
    .await;
    assert_eq!(status, 403, "{body}");

    // With the token (after the file, as any order is allowed): checked.
    let (status, body) = post_multipart(
        &addr,
        "/materiel/importer",
        &session,
        &[
            ("fichier", Some("inventaire.csv"), file),
            ("_csrf", None, csrf.as_bytes()),
        ],
    )
    .await;
    assert_eq!(status, 200, "{body}");
    assert!(body.contains("Toutes les lignes sont correctes"), "{body}");

    // A viewer's upload with a valid session and token.
    let (session, csrf) = http_log_in(&addr, VIEWER, "/catalogue").await;
    let (status, body) = post_multipart(
        &addr,
        "/materiel/importer",
        &session,
        &[
            ("_csrf", None, csrf.as_bytes()),
            ("fichier", Some("inventaire.csv"), file),
        ],
    )
    .await;
    assert_eq!(status, 403, "{body}");
    assert!(body.contains("Action refusée"), "{body}");
    assert_eq!(a.digest(), before, "nothing written");
    assert!(items_of(&a).is_empty());
}
