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
