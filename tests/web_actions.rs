//! Common actions in a real browser (headless Chromium over WebDriver): two
//! sites edit an action's description in their own pages at the same time
//! and both edits survive; joining and leaving, tasks with the site in
//! charge, status, budget and indicators, and the timeline read from the
//! document's history; a viewer sees no form and a forged POST writes
//! nothing. Every page is checked with axe-core (`shoot`).

mod common;

use common::browser::*;
use common::*;
use fantoccini::{Client, Locator};
use maillage::app::actions as act;
use maillage::auth::Role;
use maillage::pb;

const DIRECTOR_A: &str = "claire@ac-nancy-metz.fr";
const DIRECTOR_B: &str = "bruno@ac-nancy-metz.fr";
const VIEWER_B: &str = "lecture@ac-nancy-metz.fr";

const FIRST: &str = "Un atelier mobile de fabrication numérique.";
const SECOND: &str = "Il passe deux semaines dans chaque site.";

async fn value_of(c: &Client, id: &str) -> String {
    c.find(Locator::Id(id))
        .await
        .unwrap()
        .prop("value")
        .await
        .unwrap()
        .unwrap_or_default()
}

fn description(node: &TestNode, id: &str) -> String {
    act::get(&node.running().ctx, id)
        .unwrap()
        .description
        .as_str()
        .to_string()
}

/// An action led by alpha, with beta participating, both nodes converged.
async fn action_of_two(a: &TestNode, b: &TestNode) -> String {
    let action = act::create(
        &a.running().ctx,
        pb::CreateActionRequest {
            title: "Fablab itinérant".into(),
            axis: 2,
            description: format!("{FIRST}\n\n{SECOND}"),
            start: "2027-01-05".into(),
            end: "2027-06-30".into(),
        },
    )
    .await
    .unwrap();
    converge(&[a, b]).await;
    act::join_action(&b.running().ctx, &action.id)
        .await
        .unwrap();
    converge(&[a, b]).await;
    action.id
}

/// Two directors, at alpha and beta, open the action's page at the same
/// time; each rewrites a different paragraph of the description in the
/// textarea and saves. Beta saves after alpha's edit has reached its node,
/// from a page that still shows the old text: both edits survive, on both
/// nodes and in both pages.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_sites_edit_the_description_at_the_same_time_and_both_edits_survive() {
    let a = TestNode::start("alpha", &[]).await;
    let b = TestNode::start("beta", &[&a]).await;
    account(&a, DIRECTOR_A, "Claire Martin", Role::Director).await;
    account(&b, DIRECTOR_B, "Bruno Petit", Role::Director).await;
    let id = action_of_two(&a, &b).await;
    let (base_a, base_b) = (a.running().web_url(), b.running().web_url());

    let (_da, ca) = browser().await;
    let (_db, cb) = browser().await;
    log_in(&ca, &base_a, DIRECTOR_A, PASSWORD).await;
    log_in(&cb, &base_b, DIRECTOR_B, PASSWORD).await;
    page_with(&ca, "À traiter").await;
    page_with(&cb, "À traiter").await;
    click(&ca, "nav a[href='/actions']").await;
    page_with(&ca, "Fablab itinérant").await;
    shoot(&ca, "actions-liste").await;
    click(&ca, &format!("a[href='/actions/{id}']")).await;
    cb.goto(&format!("{base_b}/actions/{id}")).await.unwrap();
    page_with(&ca, "Description et objectifs").await;
    page_with(&cb, "Description et objectifs").await;
    shoot(&cb, "action-page").await;
    assert_eq!(
        value_of(&ca, "description").await,
        format!("{FIRST}\n\n{SECOND}")
    );

    // Both edit before either saves.
    let first_a = "Un atelier mobile de fabrication numérique, avec imprimantes 3D.";
    let second_b = "Il passe trois semaines dans chaque site, vacances comprises.";
    set_value(
        &ca,
        "description",
        &format!("{FIRST}\n\n{SECOND}").replace(FIRST, first_a),
    )
    .await;
    set_value(
        &cb,
        "description",
        &format!("{FIRST}\n\n{SECOND}").replace(SECOND, second_b),
    )
    .await;

    click(&ca, "form[action$='/texte'] button[type=submit]").await;
    page_with(&ca, "Texte enregistré.").await;
    // Alpha's edit reaches beta's node; beta's page still shows the old text.
    eventually("alpha's edit reaches beta", || {
        description(&b, &id).contains(first_a)
    })
    .await;
    assert_eq!(
        value_of(&cb, "description").await,
        format!("{FIRST}\n\n{second_b}"),
        "the page being edited is left as it is"
    );
    click(&cb, "form[action$='/texte'] button[type=submit]").await;
    page_with(&cb, "Texte enregistré.").await;

    converge(&[&a, &b]).await;
    let merged = format!("{first_a}\n\n{second_b}");
    assert_eq!(description(&a, &id), merged);
    assert_eq!(description(&b, &id), merged);
    for c in [&ca, &cb] {
        c.refresh().await.unwrap();
        page_with(c, "Description et objectifs").await;
        assert_eq!(value_of(c, "description").await, merged);
    }
    // The timeline says who changed the description.
    let text = page_with(&ca, "Tiers-lieu beta a modifié la description").await;
    assert!(
        text.contains("Tiers-lieu alpha a modifié la description"),
        "{text}"
    );
    assert!(text.contains("Tiers-lieu alpha a créé l'action"), "{text}");
    shoot(&ca, "action-texte-fusionne").await;
}

/// A director of alpha creates an action with the form; beta's director
/// joins it, leaves, joins again, adds a task in charge of alpha with a due
/// date and marks it done, sets the status, budget and an indicator; the
/// timeline lists each with the site's name. A viewer at beta sees no form,
/// and their forged POST is refused and writes nothing.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn joining_tasks_budget_and_the_timeline_in_the_browser() {
    let a = TestNode::start("alpha", &[]).await;
    let b = TestNode::start("beta", &[&a]).await;
    account(&a, DIRECTOR_A, "Claire Martin", Role::Director).await;
    account(&b, DIRECTOR_B, "Bruno Petit", Role::Director).await;
    account(&b, VIEWER_B, "Léa Lecture", Role::Viewer).await;
    converge(&[&a, &b]).await;
    let (base_a, base_b) = (a.running().web_url(), b.running().web_url());

    // Creation, with a refusal first (end before start): nothing written.
    let (_da, ca) = browser().await;
    log_in(&ca, &base_a, DIRECTOR_A, PASSWORD).await;
    page_with(&ca, "À traiter").await;
    ca.goto(&format!("{base_a}/actions")).await.unwrap();
    click(&ca, "a[href='/actions/nouvelle']").await;
    page_with(&ca, "Nouvelle action commune").await;
    shoot(&ca, "action-nouvelle").await;
    type_into(&ca, "titre", "Orientation en réseau").await;
    click(&ca, "#axe-projet option[value='2']").await;
    type_into(
        &ca,
        "description",
        "Des rencontres avec des professionnels.",
    )
    .await;
    set_value(&ca, "debut", "2027-03-01").await;
    set_value(&ca, "fin", "2027-02-01").await;
    type_into(&ca, "budget", "1500,50").await;
    click(&ca, "main form button[type=submit]").await;
    page_with(&ca, "précède le début").await;
    assert!(
        act::all(&a.running().ctx).unwrap().is_empty(),
        "nothing written"
    );
    assert_eq!(value_of(&ca, "titre").await, "Orientation en réseau");
    shoot(&ca, "action-nouvelle-erreur").await;
    set_value(&ca, "fin", "2027-06-30").await;
    click(&ca, "main form button[type=submit]").await;
    let text = page_with(&ca, "Action créée").await;
    assert!(text.contains("1\u{202f}500,50 €"), "{text}");
    assert!(
        text.contains("du lun. 1 mars 2027 au mer. 30 juin 2027"),
        "{text}"
    );
    let id = act::all(&a.running().ctx).unwrap()[0].id.clone();
    converge(&[&a, &b]).await;

    // Beta's director joins, leaves and joins again.
    let (_db, cb) = browser().await;
    log_in(&cb, &base_b, DIRECTOR_B, PASSWORD).await;
    page_with(&cb, "À traiter").await;
    cb.goto(&format!("{base_b}/actions?mon_site=oui"))
        .await
        .unwrap();
    page_with(&cb, "Aucune action ne correspond").await;
    cb.goto(&format!("{base_b}/actions/{id}")).await.unwrap();
    page_with(&cb, "Rejoindre l'action").await;
    assert_eq!(
        cb.find_all(Locator::Css("#description"))
            .await
            .unwrap()
            .len(),
        0,
        "a site that does not take part edits nothing"
    );
    click(&cb, "form[action$='/rejoindre'] button").await;
    page_with(&cb, "Votre site participe à l'action.").await;
    click(&cb, "form[action$='/quitter'] button").await;
    page_with(&cb, "Votre site ne participe plus à l'action.").await;
    click(&cb, "form[action$='/rejoindre'] button").await;
    page_with(&cb, "Votre site participe à l'action.").await;
    assert!(act::get(&b.running().ctx, &id)
        .unwrap()
        .participants
        .contains_key("beta"));
    cb.goto(&format!("{base_b}/actions?mon_site=oui&axe=2"))
        .await
        .unwrap();
    page_with(&cb, "Orientation en réseau").await;
    cb.goto(&format!("{base_b}/actions?statut=terminée"))
        .await
        .unwrap();
    page_with(&cb, "Aucune action ne correspond").await;
    cb.goto(&format!("{base_b}/actions/{id}")).await.unwrap();
    page_with(&cb, "Ajouter une tâche").await;

    // A task in charge of alpha, due on 20/03/2027, then done.
    type_into(&cb, "tache-titre", "Réserver la salle").await;
    click(&cb, "#tache-site option[value='alpha']").await;
    set_value(&cb, "tache-echeance", "2027-03-20").await;
    click(&cb, "form[action$='/taches'] button[type=submit]").await;
    let text = page_with(&cb, "Tâche ajoutée.").await;
    assert!(text.contains("Réserver la salle"), "{text}");
    assert!(text.contains("sam. 20 mars 2027"), "{text}");
    let task = act::get(&b.running().ctx, &id).unwrap().tasks;
    let (task_id, t) = task.iter().next().unwrap();
    assert_eq!((t.site.as_str(), t.due.as_str()), ("alpha", "2027-03-20"));
    shoot(&cb, "action-tache").await;
    click(
        &cb,
        &format!("form[action$='/taches/{task_id}/fait'] button"),
    )
    .await;
    page_with(&cb, "Tâche marquée comme faite.").await;
    assert!(act::get(&b.running().ctx, &id).unwrap().tasks[task_id].done);

    // Status, budget and an indicator.
    click(&cb, "#suivi-statut option[value='en_cours']").await;
    type_into(&cb, "budget-depense", "320").await;
    click(&cb, "form[action$='/suivi'] button[type=submit]").await;
    let text = page_with(&cb, "Statut et budget enregistrés.").await;
    assert!(text.contains("320,00 €"), "{text}");
    assert!(text.contains("en cours"), "{text}");
    type_into(&cb, "indicateur-nom", "élèves touchés").await;
    type_into(&cb, "indicateur-cible", "120").await;
    type_into(&cb, "indicateur-reel", "45").await;
    click(&cb, "form[action$='/indicateurs'] button[type=submit]").await;
    page_with(&cb, "Indicateur enregistré.").await;
    let got = act::get(&b.running().ctx, &id).unwrap();
    assert_eq!(got.budget_spent, "320.00");
    assert_eq!(got.budget_planned, "1500.50");
    assert_eq!(got.indicators["élèves touchés"].actual, "45");
    // A bad amount is refused in French.
    type_into(&cb, "budget-depense", "-3").await;
    click(&cb, "form[action$='/suivi'] button[type=submit]").await;
    page_with(&cb, "Le budget dépensé ne peut pas être négatif.").await;
    assert_eq!(
        act::get(&b.running().ctx, &id).unwrap().budget_spent,
        "320.00"
    );

    // The timeline, on alpha's page too.
    converge(&[&a, &b]).await;
    ca.goto(&format!("{base_a}/actions/{id}")).await.unwrap();
    let text = page_with(&ca, "a marqué la tâche « Réserver la salle » comme faite").await;
    for said in [
        "Tiers-lieu beta a marqué la tâche « Réserver la salle » comme faite",
        "Tiers-lieu beta a ajouté la tâche « Réserver la salle »",
        "Tiers-lieu beta a quitté l'action",
        "Tiers-lieu beta a rejoint l'action",
        "Tiers-lieu beta a modifié le statut, le budget prévu, le budget dépensé",
        "Tiers-lieu beta a modifié les indicateurs",
        "Tiers-lieu alpha a créé l'action",
    ] {
        assert!(text.contains(said), "{said} missing:\n{text}");
    }
    let timeline = text.split("Historique").nth(1).unwrap();
    assert!(
        timeline.find("comme faite").unwrap() < timeline.find("a créé l'action").unwrap(),
        "newest first:\n{timeline}"
    );
    shoot(&ca, "action-historique").await;

    // A viewer at beta: the page without any form; a forged POST refused.
    let addr = b.running().web_addr.to_string();
    let (_, headers, page) = http(&addr, "GET", "/connexion", None, None).await;
    let anon = set_session(&headers);
    let login = format!(
        "email={}&password={}&_csrf={}",
        VIEWER_B.replace('@', "%40"),
        PASSWORD.replace(' ', "+"),
        csrf_of(&page)
    );
    let (status, headers, _) = http(&addr, "POST", "/connexion", Some(&anon), Some(&login)).await;
    assert_eq!(status, 303);
    let session = set_session(&headers);
    let (status, _, page) = http(
        &addr,
        "GET",
        &format!("/actions/{id}"),
        Some(&session),
        None,
    )
    .await;
    assert_eq!(status, 200);
    let main = page.split("<main").nth(1).unwrap();
    assert!(!main.contains("<form"), "a viewer sees no form:\n{main}");
    assert!(
        main.contains("Des rencontres avec des professionnels."),
        "{main}"
    );
    let (status, _, list) = http(&addr, "GET", "/actions", Some(&session), None).await;
    assert_eq!(status, 200);
    assert!(!list.contains("/actions/nouvelle"), "{list}");
    let csrf = csrf_of(&page);
    let before = (a.digest(), b.digest());
    for (path, form) in [
        (format!("/actions/{id}/taches"), "titre=Pirate&site=beta"),
        (
            format!("/actions/{id}/texte"),
            "description=Effac%C3%A9&base=",
        ),
        (format!("/actions/{id}/quitter"), ""),
        ("/actions/nouvelle".to_string(), "titre=Pirate&axe=1"),
        (format!("/actions/{id}/taches/{task_id}/fait"), ""),
    ] {
        let body = format!("_csrf={csrf}&{form}");
        let (status, _, page) = http(&addr, "POST", &path, Some(&session), Some(&body)).await;
        assert_eq!(status, 403, "{path}: {page}");
        assert!(page.contains("Action refusée"), "{page}");
    }
    assert_eq!((a.digest(), b.digest()), before, "nothing written");
}
