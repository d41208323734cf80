//! Purchase requests in a real browser (headless Chromium over WebDriver),
//! across a site node and the academy node, federated: the site drafts a
//! request of three lines whose totals the page computes as they are typed
//! and the node computes again on save, to the cent; submits it; the
//! academic team asks for more information on its node; the site reads the
//! reason, corrects a line and resubmits; the academy validates; the site
//! notes the order, then the delivery of two of the three lines, whose items
//! appear in the catalogue. A bad price is refused in French and saves
//! nothing; a site may not decide, nor see the academy's queue. Every page
//! is checked with axe-core (`shoot`).

mod common;

use common::browser::*;
use common::*;
use fantoccini::{Client, Locator};
use maillage::app::purchases as app;
use maillage::auth::Role as Who;
use maillage::domain::site::Role;
use maillage::pb;

const DIRECTOR: &str = "claire@ac-nancy-metz.fr";
const ACADEMY: &str = "equipe@ac-nancy-metz.fr";
const REASON: &str = "Précisez la longueur des câbles et joignez le devis.";
const OBJECT: &str = "Robots et livres pour l'atelier de programmation";

/// A line as typed: designation, quantity, unit price HT, VAT rate.
type Typed = (&'static str, &'static str, &'static str, &'static str);

const LINES: [Typed; 3] = [
    ("Robot Thymio", "3", "129,90", "20"),
    ("Livre de programmation", "1", "10.10", "5,5"),
    ("Câble USB-C", "6", "4,99", "20"),
];

/// The third line, corrected after the academy's question.
const CORRECTED: Typed = ("Câble USB-C 1 m", "2", "4,99", "20");

/// Cents of an amount typed with a comma or a point.
fn cents(typed: &str) -> i64 {
    let t = typed.replace(',', ".");
    let (units, frac) = t.split_once('.').unwrap_or((&t, ""));
    let frac = format!("{frac:0<2}");
    units.parse::<i64>().unwrap() * 100 + frac[..2].parse::<i64>().unwrap()
}

/// HT, TVA and TTC, in cents.
type Cents = (i64, i64, i64);

/// (HT, TVA, TTC) in cents of each line and of the whole, computed here:
/// the VAT of each line rounded to the cent, half away from zero.
fn totals(lines: &[Typed]) -> (Vec<Cents>, Cents) {
    let mut per = Vec::new();
    let mut sum = (0, 0, 0);
    for (_, q, price, rate) in lines {
        let ht = q.parse::<i64>().unwrap() * cents(price);
        // The rate in hundredths of a percent: 5,5 → 550.
        let vat = (ht * cents(rate) + 5000) / 10000;
        per.push((ht, vat, ht + vat));
        sum = (sum.0 + ht, sum.1 + vat, sum.2 + ht + vat);
    }
    (per, sum)
}

/// An amount as the pages show it (« 1 234,56 € ») in cents.
fn shown_cents(text: &str) -> i64 {
    let t: String = text
        .chars()
        .filter(|c| c.is_ascii_digit() || *c == ',' || *c == '-')
        .collect();
    assert!(t.contains(','), "not an amount: « {text} »");
    cents(&t)
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

async fn text_of(c: &Client, css: &str) -> String {
    c.find(Locator::Css(css))
        .await
        .unwrap_or_else(|e| panic!("{css}: {e}"))
        .text()
        .await
        .unwrap()
}

/// Waits until the element `css` shows `cents` (the page's script has run).
async fn shows(c: &Client, css: &str, want: i64) {
    let start = std::time::Instant::now();
    loop {
        let text = text_of(c, css).await;
        if text.contains(',') && shown_cents(&text) == want {
            return;
        }
        assert!(
            start.elapsed() < TIMEOUT,
            "{css} shows « {text} », expected {want} cents"
        );
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
}

/// Loads `url` again until its text holds `what` (federation takes a moment).
async fn reload_until(c: &Client, url: &str, what: &str) -> String {
    let start = std::time::Instant::now();
    loop {
        c.goto(url).await.unwrap();
        let text = text_of(c, "body").await;
        if text.contains(what) {
            return text;
        }
        assert!(
            start.elapsed() < TIMEOUT,
            "« {what} » never appeared on {url}; the page says:\n{text}"
        );
        tokio::time::sleep(std::time::Duration::from_millis(200)).await;
    }
}

/// Types the lines into the form's rows, adding rows with « Ajouter une ligne ».
async fn type_lines(c: &Client, lines: &[Typed]) {
    for (i, (designation, q, price, rate)) in lines.iter().enumerate() {
        if c.find(Locator::Id(&format!("designation-{i}")))
            .await
            .is_err()
        {
            click(c, "#ajouter-ligne").await;
        }
        type_into(c, &format!("designation-{i}"), designation).await;
        type_into(c, &format!("quantite-{i}"), q).await;
        type_into(c, &format!("prix-{i}"), price).await;
        type_into(c, &format!("tva-{i}"), rate).await;
    }
}

/// The page shows these totals, per line (`line_css(i, what)`) and overall.
async fn shows_totals(c: &Client, lines: &[Typed], line_css: impl Fn(usize, &str) -> String) {
    let (per, sum) = totals(lines);
    for (i, (ht, vat, ttc)) in per.iter().enumerate() {
        shows(c, &line_css(i, "ht"), *ht).await;
        shows(c, &line_css(i, "vat"), *vat).await;
        shows(c, &line_css(i, "ttc"), *ttc).await;
    }
    shows(c, "#total-ht", sum.0).await;
    shows(c, "#total-tva", sum.1).await;
    shows(c, "#total-ttc", sum.2).await;
}

fn form_line(i: usize, what: &str) -> String {
    format!("tr[data-line='{i}'] output[data-total='{what}']")
}

fn saved_line(i: usize, what: &str) -> String {
    format!("#lignes tr[data-line='{i}'] td[data-total='{what}']")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_purchase_goes_from_the_site_to_the_academy_and_back_into_the_catalogue() {
    let academy = TestNode::start_with("rectorat", Role::Academy, &[], |_| {}).await;
    let metz = TestNode::start("metz", &[&academy]).await;
    enrol(&academy, &metz).await.unwrap();
    let fablab = maillage::app::actions::create(
        &metz.running().ctx,
        pb::CreateActionRequest {
            title: "Fablab itinérant".into(),
            axis: 2,
            ..Default::default()
        },
    )
    .await
    .unwrap();
    converge(&[&academy, &metz]).await;
    account(&metz, DIRECTOR, "Claire Martin", Who::Director).await;
    account(&academy, ACADEMY, "Équipe ASTERIE", Who::Academy).await;
    let site = metz.running().web_url();
    let rectorat = academy.running().web_url();
    let started = std::time::Instant::now();

    // The site's director opens « Achats » and the form.
    let (_ds, cs) = browser().await;
    log_in(&cs, &site, DIRECTOR, PASSWORD).await;
    page_with(&cs, "À traiter").await;
    click(&cs, "nav a[href='/achats']").await;
    page_with(&cs, "Aucune demande d'achat").await;
    shoot(&cs, "achats-liste-vide").await;
    click(&cs, "#nouvelle-demande").await;
    page_with(&cs, "Nouvelle demande d'achat").await;
    shoot(&cs, "achat-formulaire").await;

    // A bad price: the form comes back as typed, with a French error, and
    // nothing is saved.
    type_into(&cs, "objet", OBJECT).await;
    type_into(&cs, "fournisseur", "Génération Robots").await;
    type_into(&cs, "financement", "France 2030").await;
    cs.find(Locator::Id("action"))
        .await
        .unwrap()
        .select_by_label("Fablab itinérant")
        .await
        .unwrap();
    type_lines(&cs, &[("Robot Thymio", "3", "abc", "20")]).await;
    shows(&cs, "#total-ttc", 0).await;
    assert_eq!(text_of(&cs, &form_line(0, "ttc")).await, "—");
    click(&cs, "#enregistrer").await;
    let text = page_with(&cs, "n'est pas un montant").await;
    assert!(
        text.contains("Ligne 1 : prix unitaire HT « abc »"),
        "{text}"
    );
    assert_eq!(value_of(&cs, "prix-0").await, "abc");
    assert_eq!(value_of(&cs, "objet").await, OBJECT);
    assert_eq!(value_of(&cs, "action").await, fablab.id);
    shoot(&cs, "achat-formulaire-erreur").await;
    assert!(
        app::all(&metz.running().ctx).unwrap().is_empty(),
        "a refused form saves nothing"
    );

    // Three lines: the page's totals follow the typing, to the cent.
    type_lines(&cs, &LINES).await;
    shows_totals(&cs, &LINES, form_line).await;
    // The VAT is rounded on each line: rounding the sum instead would give
    // one cent less (84,4835 € → 84,48 €), and the page would disagree.
    assert_eq!(totals(&LINES).1, (42974, 8449, 51423));
    // « Recalculer »: the node's figures, the same.
    click(&cs, "#recalculer").await;
    page_with(&cs, "Totaux recalculés par le serveur").await;
    shows_totals(&cs, &LINES, form_line).await;
    click(&cs, "#enregistrer").await;
    page_with(&cs, "Demande enregistrée en brouillon").await;
    shows_totals(&cs, &LINES, saved_line).await;
    let url = cs.current_url().await.unwrap();
    let id = url.path().trim_start_matches("/achats/").to_string();
    let saved = app::find(&metz.running().ctx, &id).unwrap();
    assert_eq!(saved.purchase.lines.len(), 3);
    assert_eq!(saved.purchase.lines[1].unit_price_ht, "10.10");
    assert_eq!(saved.purchase.lines[1].vat_rate, "5.5");
    assert_eq!(saved.purchase.action, fablab.id);
    let text = text_of(&cs, "main").await;
    assert!(
        text.contains("Fablab itinérant") && text.contains("brouillon"),
        "{text}"
    );
    shoot(&cs, "achat-brouillon").await;
    click(&cs, "#soumettre").await;
    page_with(&cs, "Demande soumise à l'équipe académique").await;

    // A site neither decides nor sees the academy's queue.
    let addr = metz.running().web_addr.to_string();
    let cookie = cs.get_named_cookie("maillage_session").await.unwrap();
    let session = cookie.value().to_string();
    let (status, _, page) =
        http(&addr, "GET", &format!("/achats/{id}"), Some(&session), None).await;
    assert_eq!(status, 200);
    assert!(!page.contains("/decider"), "no decision form for a site");
    let csrf = csrf_of(&page);
    let before = metz.digest();
    let body = format!("_csrf={csrf}&decision=validated&motif=");
    let (status, _, page) = http(
        &addr,
        "POST",
        &format!("/achats/{id}/decider"),
        Some(&session),
        Some(&body),
    )
    .await;
    assert_eq!(status, 403, "{page}");
    assert!(
        page.contains("Seule l&#39;équipe académique")
            || page.contains("Seule l'équipe académique"),
        "{page}"
    );
    let (status, _, _) = http(&addr, "GET", "/achats/a-decider", Some(&session), None).await;
    assert_eq!(status, 403);
    assert_eq!(metz.digest(), before, "nothing written");
    assert_eq!(
        app::find(&metz.running().ctx, &id).unwrap().state(),
        "submitted"
    );

    // The academy finds it in its queue, with the funding line's totals.
    let (_da, ca) = browser().await;
    log_in(&ca, &rectorat, ACADEMY, PASSWORD).await;
    page_with(&ca, "À traiter").await;
    click(&ca, "nav a[href='/achats']").await;
    page_with(&ca, "Demandes d'achat à décider").await;
    let queue = reload_until(&ca, &format!("{rectorat}/achats/a-decider"), OBJECT).await;
    assert!(
        queue.contains("Tiers-lieu metz"),
        "the site by its name:\n{queue}"
    );
    let ttc = totals(&LINES).1 .2;
    shows(&ca, &format!("tr[data-purchase='{id}'] td.num"), ttc).await;
    shows(
        &ca,
        "tr[data-funding='France 2030'] td[data-total='requested']",
        ttc,
    )
    .await;
    shows(
        &ca,
        "tr[data-funding='France 2030'] td[data-total='waiting']",
        ttc,
    )
    .await;
    shows(
        &ca,
        "tr[data-funding='France 2030'] td[data-total='validated']",
        0,
    )
    .await;
    shoot(&ca, "achats-a-decider").await;
    click(&ca, &format!("a[href='/achats/{id}']")).await;
    page_with(&ca, "Décision de l'équipe académique").await;
    shoot(&ca, "achat-academie").await;

    // « Demander un complément » without a reason: refused, nothing decided.
    click(&ca, "#complement").await;
    page_with(&ca, "Donnez un motif").await;
    assert_eq!(
        app::find(&academy.running().ctx, &id).unwrap().state(),
        "submitted"
    );
    type_into(&ca, "motif-decision", REASON).await;
    click(&ca, "#complement").await;
    page_with(&ca, "Décision enregistrée").await;

    // The site reads the reason on the page it left open (a live page),
    // corrects the third line and resubmits.
    let page = page_with(&cs, REASON).await;
    assert!(
        page.contains("L'équipe académique demande un complément"),
        "{page}"
    );
    assert!(text_of(&cs, "#motif").await.contains(REASON));
    shoot(&cs, "achat-complement-demande").await;
    click(&cs, "#modifier").await;
    page_with(&cs, "Complément demandé par l'équipe académique").await;
    shoot(&cs, "achat-modifier").await;
    let corrected = [LINES[0], LINES[1], CORRECTED];
    assert_eq!(
        value_of(&cs, "prix-1").await,
        "10,10",
        "the saved lines, in French"
    );
    type_into(&cs, "designation-2", CORRECTED.0).await;
    type_into(&cs, "quantite-2", CORRECTED.1).await;
    shows_totals(&cs, &corrected, form_line).await;
    click(&cs, "#enregistrer").await;
    page_with(&cs, "Demande enregistrée.").await;
    shows_totals(&cs, &corrected, saved_line).await;
    click(&cs, "#soumettre").await;
    page_with(&cs, "Demande soumise à l'équipe académique").await;

    // The academy validates (no reason needed).
    let page = reload_until(&ca, &format!("{rectorat}/achats/{id}"), "soumise à nouveau").await;
    assert!(
        page.contains(REASON),
        "the history keeps the reason:\n{page}"
    );
    click(&ca, "#valider").await;
    page_with(&ca, "Décision enregistrée").await;
    let queue = reload_until(
        &ca,
        &format!("{rectorat}/achats/a-decider"),
        "Aucune demande n'attend de décision",
    )
    .await;
    assert!(queue.contains(OBJECT), "among the other requests:\n{queue}");
    let ttc = totals(&corrected).1 .2;
    shows(
        &ca,
        "tr[data-funding='France 2030'] td[data-total='validated']",
        ttc,
    )
    .await;

    // The site orders, then notes the delivery of the robots and the cables.
    reload_until(
        &cs,
        &format!("{site}/achats/{id}"),
        "Marquer comme commandée",
    )
    .await;
    click(&cs, "#commandee").await;
    page_with(&cs, "Commande notée").await;
    page_with(&cs, "quelles lignes deviennent du matériel").await;
    shoot(&cs, "achat-livraison").await;
    click(&cs, "#materiel-0").await;
    cs.find(Locator::Id("categorie-0"))
        .await
        .unwrap()
        .select_by_label("robotique")
        .await
        .unwrap();
    click(&cs, "#materiel-2").await;
    cs.find(Locator::Id("categorie-2"))
        .await
        .unwrap()
        .select_by_label("numérique")
        .await
        .unwrap();
    click(&cs, "#livree").await;
    page_with(&cs, "Livraison notée").await;
    let made = text_of(&cs, "#materiel-cree").await;
    for name in [
        "Robot Thymio (1/3)",
        "Robot Thymio (3/3)",
        "Câble USB-C 1 m (1/2)",
        "Câble USB-C 1 m (2/2)",
    ] {
        assert!(made.contains(name), "{name} in\n{made}");
    }
    assert!(!made.contains("Livre"), "{made}");
    let history = text_of(&cs, "#historique").await;
    for step in [
        "créée",
        "soumise",
        "complément demandé",
        "soumise à nouveau",
        "validée",
        "commandée",
        "livrée",
    ] {
        assert!(history.contains(step), "{step} in\n{history}");
    }
    shoot(&cs, "achat-livree").await;

    // The items are in the catalogue, each linked from the request; the book is not.
    click(&cs, "#materiel-cree a").await;
    page_with(&cs, "Robot Thymio (1/3)").await;
    cs.goto(&format!("{site}/catalogue")).await.unwrap();
    let catalogue = page_with(&cs, "Câble USB-C 1 m (2/2)").await;
    assert!(catalogue.contains("Robot Thymio (2/3)"), "{catalogue}");
    assert!(!catalogue.contains("Livre de programmation"), "{catalogue}");
    let items = maillage::app::equipment::list_all(&metz.running().ctx).unwrap();
    let robots = items
        .iter()
        .filter(|i| i.name.starts_with("Robot Thymio") && i.category == "robotique")
        .count();
    let cables = items
        .iter()
        .filter(|i| i.name.starts_with("Câble USB-C") && i.category == "numérique")
        .count();
    assert_eq!((robots, cables, items.len()), (3, 2, 5));
    eprintln!("purchase scenario: {:?}", started.elapsed());
}

/// Logs in over plain HTTP: the session id.
async fn http_login(addr: &str, email: &str) -> String {
    let (_, headers, page) = http(addr, "GET", "/connexion", None, None).await;
    let anon = set_session(&headers);
    let login = format!(
        "email={}&password={}&_csrf={}",
        email.replace('@', "%40"),
        PASSWORD.replace(' ', "+"),
        csrf_of(&page)
    );
    let (status, headers, _) = http(addr, "POST", "/connexion", Some(&anon), Some(&login)).await;
    assert_eq!(status, 303);
    set_session(&headers)
}

/// The text of the `<output>` or cell with this id in a page.
fn output(page: &str, id: &str) -> String {
    let at = page
        .find(&format!("id=\"{id}\""))
        .unwrap_or_else(|| panic!("no #{id}"));
    let rest = &page[at..];
    let start = rest.find('>').unwrap() + 1;
    let end = rest.find('<').unwrap();
    rest[start..end].to_string()
}

/// Without JavaScript (plain HTTP, as a browser without scripts sends the
/// form): « Ajouter une ligne » and « Retirer » come back with the lines
/// edited, « Recalculer » with the node's totals, a bad price with a 400
/// and the values as typed, and nothing is saved until « Enregistrer ».
/// A staff member may not write a request.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_form_works_without_javascript() {
    let metz = TestNode::start("metz", &[]).await;
    account(&metz, DIRECTOR, "Claire Martin", Who::Director).await;
    account(&metz, "equipe@metz.fr", "Noé", Who::Staff).await;
    let addr = metz.running().web_addr.to_string();
    let session = http_login(&addr, DIRECTOR).await;
    let (status, _, page) = http(&addr, "GET", "/achats/nouveau", Some(&session), None).await;
    assert_eq!(status, 200);
    assert!(page.contains("/static/achats.js"));
    let csrf = csrf_of(&page);
    let enc = |s: &str| {
        s.replace('%', "%25")
            .replace(' ', "+")
            .replace(',', "%2C")
            .replace('\'', "%27")
    };
    let form = |lines: &[Typed], button: &str| {
        let mut body = format!(
            "_csrf={csrf}&objet={}&fournisseur=&financement=France+2030&action=&bouton={button}",
            enc(OBJECT)
        );
        for (i, (d, q, p, t)) in lines.iter().enumerate() {
            body += &format!(
                "&designation-{i}={}&quantite-{i}={}&prix-{i}={}&tva-{i}={}",
                enc(d),
                enc(q),
                enc(p),
                enc(t)
            );
        }
        body
    };
    let post = |body: String| {
        let (addr, session) = (addr.clone(), session.clone());
        async move {
            http(
                &addr,
                "POST",
                "/achats/nouveau",
                Some(&session),
                Some(&body),
            )
            .await
        }
    };

    let (status, _, page) = post(form(&LINES[..2], "ajouter")).await;
    assert_eq!(status, 200);
    assert!(page.contains("id=\"designation-2\""), "a third row");
    let (status, _, page) = post(form(&LINES, "retirer-1")).await;
    assert_eq!(status, 200);
    assert!(!page.contains("id=\"designation-2\""), "two rows left");
    assert!(
        !page.contains("Livre de programmation"),
        "the second line went"
    );
    assert!(page.contains("Câble USB-C"));

    let (status, _, page) = post(form(&LINES, "recalculer")).await;
    assert_eq!(status, 200);
    assert!(page.contains("Totaux recalculés par le serveur"));
    let (per, sum) = totals(&LINES);
    assert_eq!(shown_cents(&output(&page, "total-ht")), sum.0);
    assert_eq!(shown_cents(&output(&page, "total-tva")), sum.1);
    assert_eq!(shown_cents(&output(&page, "total-ttc")), sum.2);
    for (i, (ht, vat, ttc)) in per.iter().enumerate() {
        assert_eq!(shown_cents(&output(&page, &format!("ligne-ht-{i}"))), *ht);
        assert_eq!(shown_cents(&output(&page, &format!("ligne-tva-{i}"))), *vat);
        assert_eq!(shown_cents(&output(&page, &format!("ligne-ttc-{i}"))), *ttc);
    }

    let bad = [LINES[0], ("Livre", "1", "abc", "5,5")];
    let (status, _, page) = post(form(&bad, "enregistrer")).await;
    assert_eq!(status, 400);
    assert!(
        page.contains("Ligne 2 : prix unitaire HT « abc » n&#39;est pas un montant")
            || page.contains("Ligne 2 : prix unitaire HT « abc » n'est pas un montant"),
        "{page}"
    );
    assert!(page.contains("value=\"abc\""), "the value as typed");
    assert!(
        page.contains("aria-invalid=\"true\""),
        "the field at fault is marked"
    );
    assert!(
        app::all(&metz.running().ctx).unwrap().is_empty(),
        "nothing saved"
    );

    let (status, headers, _) = post(form(&LINES, "enregistrer")).await;
    assert_eq!(status, 303);
    let to = header(&headers, "location").unwrap().to_string();
    let (status, _, page) = http(&addr, "GET", &to, Some(&session), None).await;
    assert_eq!(status, 200);
    assert_eq!(shown_cents(&output(&page, "total-ttc")), sum.2);
    assert_eq!(app::all(&metz.running().ctx).unwrap().len(), 1);

    // Staff reads, but does not write.
    let staff = http_login(&addr, "equipe@metz.fr").await;
    let (status, _, list) = http(&addr, "GET", "/achats", Some(&staff), None).await;
    assert_eq!(status, 200);
    assert!(
        list.contains(OBJECT) && !list.contains("/achats/nouveau"),
        "{list}"
    );
    let (_, _, page) = http(&addr, "GET", &to, Some(&staff), None).await;
    assert!(!page.contains("/soumettre"), "no step for staff");
    let csrf = csrf_of(&page);
    let id = to.split('?').next().unwrap();
    let before = metz.digest();
    for path in [
        format!("{id}/soumettre"),
        format!("{id}/annuler"),
        "/achats/nouveau".to_string(),
    ] {
        let (status, _, page) = http(
            &addr,
            "POST",
            &path,
            Some(&staff),
            Some(&format!("_csrf={csrf}&objet=x")),
        )
        .await;
        assert_eq!(status, 403, "{path}: {page}");
    }
    assert_eq!(metz.digest(), before, "nothing written");
}
