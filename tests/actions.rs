//! Common actions over real nodes: participation rules, and concurrent edits on
//! disconnected nodes that merge once reconnected.

mod common;

use common::*;
use maillage::pb;
use tonic::Code;

async fn create(node: &TestNode, title: &str) -> pb::CommonAction {
    node.actions()
        .await
        .create(pb::CreateActionRequest {
            title: title.into(),
            axis: 2,
            description: "Un atelier de fabrication numérique qui circule entre les sites.".into(),
            start: "2027-01-05".into(),
            end: "2027-06-30".into(),
        })
        .await
        .unwrap()
        .into_inner()
}

fn update(id: &str) -> pb::UpdateActionRequest {
    pb::UpdateActionRequest {
        id: id.into(),
        ..Default::default()
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn participants_edit_and_others_may_only_join() {
    let a = TestNode::start("metz", &[]).await;
    let b = TestNode::start("thionville", &[&a]).await;
    let action = create(&a, "Fablab itinérant").await;
    assert_eq!(action.lead, "metz");
    assert_eq!(action.participants, vec!["metz"]);
    assert_eq!(action.status, "idée");
    converge(&[&a, &b]).await;

    let mut cb = b.actions().await;
    let before = (a.digest(), b.digest());
    let err = cb
        .update(pb::UpdateActionRequest {
            title: Some("pris".into()),
            ..update(&action.id)
        })
        .await
        .unwrap_err();
    assert_eq!(err.code(), Code::PermissionDenied);
    let err = cb
        .add_task(pb::AddTaskRequest {
            action: action.id.clone(),
            title: "x".into(),
            ..Default::default()
        })
        .await
        .unwrap_err();
    assert_eq!(err.code(), Code::PermissionDenied);
    assert_eq!((a.digest(), b.digest()), before, "nothing changed");

    let joined = cb
        .join(pb::ActionId {
            id: action.id.clone(),
        })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(joined.participants, vec!["metz", "thionville"]);
    let err = cb
        .join(pb::ActionId {
            id: action.id.clone(),
        })
        .await
        .unwrap_err();
    assert_eq!(err.code(), Code::FailedPrecondition);

    let updated = cb
        .update(pb::UpdateActionRequest {
            status: Some("en_cours".into()),
            budget_planned: Some("2500".into()),
            budget_spent: Some("1250,40".into()),
            set_target_publics: true,
            target_publics: vec!["collégiens".into(), "familles".into()],
            indicators: vec![pb::Indicator {
                name: "élèves touchés".into(),
                target: "300".into(),
                actual: "120".into(),
            }],
            ..update(&action.id)
        })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(updated.status, "en_cours");
    assert_eq!(updated.budget_planned, "2500.00");
    assert_eq!(updated.budget_spent, "1250.40");
    assert_eq!(updated.indicators[0].target, "300");

    let task = cb
        .add_task(pb::AddTaskRequest {
            action: action.id.clone(),
            title: "Réserver le camion".into(),
            site: "metz".into(),
            due: "2027-01-20".into(),
        })
        .await
        .unwrap()
        .into_inner();
    assert!(task.id.starts_with("tk-"));
    converge(&[&a, &b]).await;
    let done = a
        .actions()
        .await
        .complete_task(pb::TaskRef {
            action: action.id.clone(),
            task: task.id.clone(),
        })
        .await
        .unwrap()
        .into_inner();
    assert!(done.done);
    assert_eq!(done.done_by, "metz");

    // Bad input: clear errors, nothing changed.
    converge(&[&a, &b]).await;
    let before = (a.digest(), b.digest());
    let mut ca = a.actions().await;
    for (req, code) in [
        (
            pb::UpdateActionRequest {
                status: Some("fini".into()),
                ..update(&action.id)
            },
            Code::InvalidArgument,
        ),
        (
            pb::UpdateActionRequest {
                budget_spent: Some("-5".into()),
                ..update(&action.id)
            },
            Code::InvalidArgument,
        ),
        (
            pb::UpdateActionRequest {
                end: Some("2026-01-01".into()),
                ..update(&action.id)
            },
            Code::InvalidArgument,
        ),
        (
            pb::UpdateActionRequest {
                title: Some("x".into()),
                ..update("ac-inconnue")
            },
            Code::NotFound,
        ),
    ] {
        assert_eq!(ca.update(req).await.unwrap_err().code(), code);
    }
    let err = ca
        .create(pb::CreateActionRequest {
            title: "x".into(),
            axis: 4,
            ..Default::default()
        })
        .await
        .unwrap_err();
    assert_eq!(err.code(), Code::InvalidArgument);
    let err = ca
        .complete_task(pb::TaskRef {
            action: action.id.clone(),
            task: task.id.clone(),
        })
        .await
        .unwrap_err();
    assert_eq!(err.code(), Code::FailedPrecondition);
    let err = ca
        .leave(pb::ActionId {
            id: action.id.clone(),
        })
        .await
        .unwrap_err();
    assert_eq!(
        err.code(),
        Code::FailedPrecondition,
        "the lead cannot leave"
    );
    assert_eq!((a.digest(), b.digest()), before);

    let list = cb
        .list(pb::ListActionsRequest {
            site: "thionville".into(),
            axis: 2,
            status: "en cours".into(),
        })
        .await
        .unwrap()
        .into_inner()
        .actions;
    assert_eq!(list.len(), 1);
    let left = cb
        .leave(pb::ActionId {
            id: action.id.clone(),
        })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(left.participants, vec!["metz"]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_edits_on_disconnected_nodes_merge() {
    let a = TestNode::start("metz", &[]).await;
    let mut b = TestNode::start("thionville", &[&a]).await;
    let action = create(&a, "Fablab itinérant").await;
    converge(&[&a, &b]).await;
    b.actions()
        .await
        .join(pb::ActionId {
            id: action.id.clone(),
        })
        .await
        .unwrap();
    converge(&[&a, &b]).await;

    // B runs alone: A and B edit the same description and add tasks meanwhile.
    b.restart_isolated().await;
    assert!(!b.running().status().peers.iter().any(|p| p.connected));
    let edit = |desc: &str| pb::UpdateActionRequest {
        description: Some(desc.into()),
        ..update(&action.id)
    };
    a.actions()
        .await
        .update(edit(
            "Un grand atelier de fabrication numérique qui circule entre les sites.",
        ))
        .await
        .unwrap();
    b.actions()
        .await
        .update(edit(
            "Un atelier de fabrication numérique qui circule entre les sites de Moselle.",
        ))
        .await
        .unwrap();
    for (node, title) in [(&a, "Acheter les kits"), (&b, "Former les animateurs")] {
        for i in 0..3 {
            node.actions()
                .await
                .add_task(pb::AddTaskRequest {
                    action: action.id.clone(),
                    title: format!("{title} {i}"),
                    ..Default::default()
                })
                .await
                .unwrap();
        }
    }
    assert_ne!(a.digest(), b.digest());

    b.dial(&a);
    converge(&[&a, &b]).await;
    for node in [&a, &b] {
        let merged = node
            .actions()
            .await
            .get(pb::ActionId {
                id: action.id.clone(),
            })
            .await
            .unwrap()
            .into_inner();
        assert_eq!(
            merged.description,
            "Un grand atelier de fabrication numérique qui circule entre les sites de Moselle."
        );
        assert_eq!(
            merged.tasks.len(),
            6,
            "every task added on either side survives"
        );
    }
}

/// Two people read the description at the same version and each changes a
/// different part of it. With the version they read (`base`), the second
/// edit keeps the first; without it, the second writer's text replaces the
/// first's change, as it always did.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_edit_from_the_version_read_keeps_what_was_written_meanwhile() {
    let a = TestNode::start("metz", &[]).await;
    let action = create(&a, "Fablab itinérant").await;
    let mut c = a.actions().await;
    let read = c
        .get(pb::ActionId {
            id: action.id.clone(),
        })
        .await
        .unwrap()
        .into_inner();
    assert!(!read.heads.is_empty(), "get gives the version read");
    let first = "Un grand atelier de fabrication numérique qui circule entre les sites.";
    let second = "Un atelier de fabrication numérique qui circule entre les sites de Moselle.";
    let edit = |desc: &str, base: &[String]| pb::UpdateActionRequest {
        description: Some(desc.into()),
        base: base.to_vec(),
        ..update(&action.id)
    };
    c.update(edit(first, &read.heads)).await.unwrap();
    let merged = c
        .update(edit(second, &read.heads))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(
        merged.description,
        "Un grand atelier de fabrication numérique qui circule entre les sites de Moselle."
    );

    // A base that is not a version is refused and changes nothing.
    let err = c
        .update(edit("autre", &["pas-une-version".to_string()]))
        .await
        .unwrap_err();
    assert_eq!(err.code(), Code::InvalidArgument);
    assert!(err.message().contains("base"), "{}", err.message());

    // Without a base, the text given replaces the current one.
    let replaced = c.update(edit(second, &[])).await.unwrap().into_inner();
    assert_eq!(replaced.description, second);
}
