//! The equipment API: what it does, and the clear errors it gives bad input
//! without changing anything.

mod common;

use common::*;
use maillage::pb;
use tonic::Code;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn catalogue_add_update_retire_and_filters() {
    let a = TestNode::start("alpha", &[]).await;
    let b = TestNode::start("beta", &[&a]).await;
    let mut ea = a.equipment().await;
    let robot = ea
        .add(pb::AddEquipmentRequest {
            name: "Robots Thymio".into(),
            category: "robotique".into(),
            description: "lot de 8".into(),
            inventory_number: "MB-001".into(),
            loanable: Some(false),
            condition: "new".into(),
            ..Default::default()
        })
        .await
        .unwrap()
        .into_inner();
    assert!(robot.id.starts_with("eq-"));
    assert_eq!(robot.site, "alpha");
    assert_eq!(robot.status, "available");
    assert!(!robot.loanable);
    assert_eq!(robot.condition, "new");
    let cam = b.add_item("Caméra 4K").await;
    converge(&[&a, &b]).await;

    let updated = ea
        .update(pb::UpdateEquipmentRequest {
            id: robot.id.clone(),
            name: Some("Robots Thymio II".into()),
            status: Some("maintenance".into()),
            ..Default::default()
        })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(updated.name, "Robots Thymio II");
    assert_eq!(updated.status, "maintenance");
    assert_eq!(updated.description, "lot de 8", "fields not named are kept");

    let list = |site: &str, category: &str, search: &str, status: &str| pb::ListEquipmentRequest {
        site: site.into(),
        category: category.into(),
        search: search.into(),
        status: status.into(),
        ..Default::default()
    };
    let mut eb = b.equipment().await;
    converge(&[&a, &b]).await;
    let ids = |items: Vec<pb::EquipmentItem>| items.into_iter().map(|i| i.id).collect::<Vec<_>>();
    let all = eb
        .list(list("", "", "", ""))
        .await
        .unwrap()
        .into_inner()
        .items;
    assert_eq!(all.len(), 2);
    let only_a = eb
        .list(list("alpha", "", "", ""))
        .await
        .unwrap()
        .into_inner()
        .items;
    assert_eq!(ids(only_a), vec![robot.id.clone()]);
    let by_cat = eb
        .list(list("", "ROBOTIQUE", "", ""))
        .await
        .unwrap()
        .into_inner()
        .items;
    assert_eq!(by_cat.len(), 2, "both test items are robotique");
    let by_search = eb
        .list(list("", "", "thymio", ""))
        .await
        .unwrap()
        .into_inner()
        .items;
    assert_eq!(ids(by_search), vec![robot.id.clone()]);
    // The catalogue lists items by name, whatever their ids.
    let all = eb
        .list(list("", "", "", ""))
        .await
        .unwrap()
        .into_inner()
        .items;
    let names: Vec<String> = all.iter().map(|i| i.name.clone()).collect();
    let mut sorted = names.clone();
    sorted.sort_by_key(|n| maillage::domain::fold_for_search(n));
    assert_eq!(names, sorted);
    // Case and accents do not matter: « camera » finds « Caméra 4K ».
    for typed in ["camera", "CAMÉRA 4k"] {
        let found = eb
            .list(list("", "", typed, ""))
            .await
            .unwrap()
            .into_inner()
            .items;
        assert_eq!(ids(found), vec![cam.id.clone()], "{typed}");
    }
    let by_inv = eb
        .list(list("", "", "mb-001", ""))
        .await
        .unwrap()
        .into_inner()
        .items;
    assert_eq!(by_inv.len(), 1);
    let maint = eb
        .list(list("", "", "", "maintenance"))
        .await
        .unwrap()
        .into_inner()
        .items;
    assert_eq!(ids(maint), vec![robot.id.clone()]);

    let retired = eb
        .retire(pb::EquipmentId { id: cam.id.clone() })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(retired.status, "retired");
    let again = eb
        .retire(pb::EquipmentId { id: cam.id.clone() })
        .await
        .unwrap_err();
    assert_eq!(again.code(), Code::FailedPrecondition);
    let shown = eb
        .get(pb::EquipmentId { id: cam.id })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(shown.status, "retired");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_input_gets_a_clear_error_and_changes_nothing() {
    let a = TestNode::start("alpha", &[]).await;
    let b = TestNode::start("beta", &[&a]).await;
    let item = a.add_item("Robot").await;
    converge(&[&a, &b]).await;
    let (da, db) = (a.digest(), b.digest());
    let mut ea = a.equipment().await;
    let mut eb = b.equipment().await;

    let err = ea
        .add(pb::AddEquipmentRequest {
            name: "   ".into(),
            category: "robotique".into(),
            ..Default::default()
        })
        .await
        .unwrap_err();
    assert_eq!(err.code(), Code::InvalidArgument);
    assert!(err.message().contains("name"), "{}", err.message());

    let err = ea
        .add(pb::AddEquipmentRequest {
            name: "x".into(),
            category: "".into(),
            ..Default::default()
        })
        .await
        .unwrap_err();
    assert_eq!(err.code(), Code::InvalidArgument);

    let err = ea
        .add(pb::AddEquipmentRequest {
            name: "x".into(),
            category: "arts".into(),
            condition: "cassé".into(),
            ..Default::default()
        })
        .await
        .unwrap_err();
    assert_eq!(err.code(), Code::InvalidArgument);
    assert!(err.message().contains("out_of_order"), "lists valid values");

    let err = ea
        .add(pb::AddEquipmentRequest {
            name: "x".repeat(201),
            category: "arts".into(),
            ..Default::default()
        })
        .await
        .unwrap_err();
    assert_eq!(err.code(), Code::InvalidArgument);

    let err = ea
        .update(pb::UpdateEquipmentRequest {
            id: item.id.clone(),
            status: Some("perdu".into()),
            ..Default::default()
        })
        .await
        .unwrap_err();
    assert_eq!(err.code(), Code::InvalidArgument);

    let err = ea
        .update(pb::UpdateEquipmentRequest {
            id: item.id.clone(),
            name: Some("".into()),
            ..Default::default()
        })
        .await
        .unwrap_err();
    assert_eq!(err.code(), Code::InvalidArgument);

    for id in ["eq-inconnu", "", "site/alpha"] {
        let err = ea.get(pb::EquipmentId { id: id.into() }).await.unwrap_err();
        assert!(
            matches!(err.code(), Code::NotFound | Code::InvalidArgument),
            "{id}: {err:?}"
        );
    }
    let err = ea
        .update(pb::UpdateEquipmentRequest {
            id: "eq-inconnu".into(),
            name: Some("x".into()),
            ..Default::default()
        })
        .await
        .unwrap_err();
    assert_eq!(err.code(), Code::NotFound);

    // Another site's item: visible, but not writable.
    let err = eb
        .update(pb::UpdateEquipmentRequest {
            id: item.id.clone(),
            name: Some("volé".into()),
            ..Default::default()
        })
        .await
        .unwrap_err();
    assert_eq!(err.code(), Code::PermissionDenied);
    assert!(err.message().contains("alpha"));
    let err = eb
        .retire(pb::EquipmentId {
            id: item.id.clone(),
        })
        .await
        .unwrap_err();
    assert_eq!(err.code(), Code::PermissionDenied);

    let err = eb
        .list(pb::ListEquipmentRequest {
            status: "perdu".into(),
            ..Default::default()
        })
        .await
        .unwrap_err();
    assert_eq!(err.code(), Code::InvalidArgument);

    assert_eq!(a.digest(), da, "nothing changed on alpha");
    assert_eq!(b.digest(), db, "nothing changed on beta");
    let unchanged = ea
        .get(pb::EquipmentId { id: item.id })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(unchanged.name, "Robot");
    assert_eq!(unchanged.status, "available");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn export_writes_a_standard_automerge_file() {
    let a = TestNode::start("alpha", &[]).await;
    let item = a.add_item("Robot").await;
    let mut node = a.node_client().await;
    let data = node
        .export_document(pb::ExportDocumentRequest {
            id: "site/alpha".into(),
        })
        .await
        .unwrap()
        .into_inner()
        .data;
    let doc = automerge::AutoCommit::load(&data).unwrap();
    use automerge::ReadDoc;
    let (_, equipment) = doc.get(automerge::ROOT, "equipment").unwrap().unwrap();
    let (_, entry) = doc.get(&equipment, item.id.as_str()).unwrap().unwrap();
    let (name, _) = doc.get(&entry, "name").unwrap().unwrap();
    assert_eq!(name.as_str(), Some("Robot"));

    let err = node
        .export_document(pb::ExportDocumentRequest {
            id: "site/inconnu".into(),
        })
        .await
        .unwrap_err();
    assert_eq!(err.code(), Code::NotFound);
    let err = node
        .export_document(pb::ExportDocumentRequest { id: "../x".into() })
        .await
        .unwrap_err();
    assert_eq!(err.code(), Code::InvalidArgument);
}

fn line(designation: &str, quantity: i64, price: &str) -> pb::PurchaseLineInput {
    pb::PurchaseLineInput {
        designation: designation.into(),
        quantity,
        unit_price_ht: price.into(),
        vat_rate: "20".into(),
    }
}

/// Waits until `node` holds the purchase `id` in `state`.
async fn purchase_in(node: &TestNode, id: &str, state: &str) {
    use maillage::pb::purchases_client::PurchasesClient;
    let mut c = PurchasesClient::new(node.admin().await);
    let start = tokio::time::Instant::now();
    loop {
        if let Ok(p) = c.get(pb::PurchaseId { id: id.into() }).await {
            if p.into_inner().state == state {
                return;
            }
        }
        assert!(
            start.elapsed() < TIMEOUT,
            "{} never saw {id} {state}",
            node.site
        );
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
}

/// Issue 10, items 9, 11 and 14: a delivery turns the lines the director
/// picks into items, each line in its category; purchases are shown in
/// French and named by a beginning of their id.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_delivery_turns_the_chosen_lines_into_items() {
    use maillage::domain::site::Role;
    use maillage::pb::purchases_client::PurchasesClient;
    let r = TestNode::start_with("rectorat", Role::Academy, &[], |_| {}).await;
    let b = TestNode::start("metz", &[&r]).await;
    enrol(&r, &b).await.unwrap();
    let mut site = PurchasesClient::new(b.admin().await);
    let p = site
        .create(pb::CreatePurchaseRequest {
            object: "Atelier vidéo et robotique".into(),
            lines: vec![
                line("Robot Thymio", 2, "129.90"),
                line("Câble USB", 10, "3"),
                line("Caméra 4K", 1, "1234.50"),
            ],
            ..Default::default()
        })
        .await
        .unwrap()
        .into_inner();
    let id = p.id.clone();
    // A beginning of the id names it.
    let short = &id[..id.len() - 3];
    site.submit(pb::PurchaseId { id: short.into() })
        .await
        .unwrap();
    purchase_in(&r, &id, "submitted").await;
    PurchasesClient::new(r.admin().await)
        .decide(pb::PurchaseDecision {
            id: id.clone(),
            verdict: "validated".into(),
            reason: String::new(),
        })
        .await
        .unwrap();
    purchase_in(&b, &id, "validated").await;
    site.ordered(pb::PurchaseId { id: id.clone() })
        .await
        .unwrap();

    // Several lines: say which become items; a wrong line names the valid ones.
    let before = b.digest();
    let err = String::from_utf8_lossy(
        &b.cli(&["purchase", "delivered", short, "--create-items"])
            .stderr,
    )
    .to_string();
    assert!(
        err.contains("--item") && err.contains("2 « Câble USB » (×10)"),
        "{err}"
    );
    let out = b.cli(&["purchase", "delivered", short, "--item", "4:robotique"]);
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("ligne 4 inexistante") && err.contains("1 « Robot Thymio » (×2)"),
        "{err}"
    );
    let out = b.cli(&["purchase", "delivered", short, "--item", "premier"]);
    assert!(String::from_utf8_lossy(&out.stderr).contains("LIGNE[:CATÉGORIE]"));
    assert_eq!(b.digest(), before, "nothing changed");
    let done: serde_json::Value = serde_json::from_str(&ok(&b.cli(&[
        "--json",
        "purchase",
        "delivered",
        short,
        "--item",
        "1:robotique",
        "--item",
        "3:audiovisuel",
    ])))
    .unwrap();
    assert_eq!(done["state"], "delivered");
    let created: Vec<String> = done["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_str().unwrap().to_string())
        .collect();
    assert_eq!(created.len(), 3, "two robots and a camera, no cables");
    let mut made: Vec<(String, String)> = b
        .list()
        .await
        .into_iter()
        .filter(|i| created.contains(&i.id))
        .map(|i| (i.name, i.category))
        .collect();
    made.sort();
    assert_eq!(
        made,
        [
            ("Caméra 4K".to_string(), "audiovisuel".to_string()),
            ("Robot Thymio (1/2)".into(), "robotique".into()),
            ("Robot Thymio (2/2)".into(), "robotique".into()),
        ]
    );

    // In French for people: states, steps, amounts; filters take the words.
    let shown = ok(&b.cli(&["purchase", "show", short]));
    assert!(
        shown.contains("livrée") && shown.contains("créée"),
        "{shown}"
    );
    assert!(
        shown.contains("ligne 3 : 1 × Caméra 4K à 1\u{202f}234,50 € HT"),
        "{shown}"
    );
    assert!(
        !shown.contains("delivered") && !shown.contains("director"),
        "{shown}"
    );
    // The items created, by their names beside their ids.
    let line = shown
        .lines()
        .find(|l| l.contains("matériel créé :"))
        .unwrap_or_else(|| panic!("{shown}"));
    for name in [
        "Robot Thymio (1/2) (eq-",
        "Robot Thymio (2/2) (eq-",
        "Caméra 4K (eq-",
    ] {
        assert!(line.contains(name), "{name}: {shown}");
    }
    let listed = ok(&b.cli(&["purchase", "list", "--state", "Livrée"]));
    assert!(
        listed.contains(&id) && listed.contains("livrée"),
        "{listed}"
    );
}

/// Issue 10, item 11: statuses and conditions are typed and read in French.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn equipment_speaks_french_to_people() {
    let a = TestNode::start("alpha", &[]).await;
    let robot = a.add_item("Robot Thymio").await;
    let updated = a
        .equipment()
        .await
        .update(pb::UpdateEquipmentRequest {
            id: robot.id.clone(),
            condition: Some("usé".into()),
            status: Some("en maintenance".into()),
            ..Default::default()
        })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(
        (updated.status.as_str(), updated.condition.as_str()),
        ("maintenance", "worn")
    );
    let page = ok(&a.cli(&["equipment", "show", &robot.id]));
    for (field, value) in [("statut", "en maintenance"), ("état", "usé")] {
        let l = page
            .lines()
            .find(|l| l.trim_start().starts_with(field))
            .unwrap();
        assert!(l.ends_with(value), "{page}");
    }
    assert!(
        !page.contains("worn") && !page.contains(": maintenance"),
        "{page}"
    );
    let listed = ok(&a.cli(&["equipment", "list", "--status", "en maintenance"]));
    assert!(
        listed.contains("Robot Thymio") && listed.contains("usé"),
        "{listed}"
    );
    let json: serde_json::Value =
        serde_json::from_str(&ok(&a.cli(&["--json", "equipment", "show", &robot.id]))).unwrap();
    assert_eq!(json["condition"], "worn", "keys stay English for tools");
}
