//! The role matrix: every API call × every role, no token, a revoked token and
//! an unknown one. The calls carry invalid input or unknown ids, so an allowed
//! call fails for its input (InvalidArgument, NotFound...) and changes nothing,
//! while a refused one is PermissionDenied or Unauthenticated.

mod common;

use common::*;
use maillage::cli::client::Conn;
use maillage::domain::site::Role;
use maillage::pb::{self, *};
use tonic::Code;

#[derive(Clone, Copy, Debug, PartialEq)]
enum Need {
    Read,
    Staff,
    Director,
    Academy,
}

/// Runs every API call once with `conn`; returns (call name, need, status code).
async fn every_call(conn: Conn, site_node: bool) -> Vec<(&'static str, Need, Code)> {
    let code = |r: Result<(), tonic::Status>| r.err().map(|s| s.code()).unwrap_or(Code::Ok);
    let mut n = node_client::NodeClient::new(conn.clone());
    let mut e = equipment_client::EquipmentClient::new(conn.clone());
    let mut l = loans_client::LoansClient::new(conn.clone());
    let mut a = actions_client::ActionsClient::new(conn.clone());
    let mut c = calendar_client::CalendarClient::new(conn.clone());
    let mut t = tokens_client::TokensClient::new(conn.clone());
    let mut u = users_client::UsersClient::new(conn.clone());
    let nobody = || UserEmail {
        email: "personne@ac-nancy-metz.fr".into(),
    };
    let mut w = network_client::NetworkClient::new(conn.clone());
    let mut p = partners_client::PartnersClient::new(conn.clone());
    let mut pu = purchases_client::PurchasesClient::new(conn.clone());
    let mut rp = reports_client::ReportsClient::new(conn);
    let no_purchase = || PurchaseId {
        id: "da-inconnue".into(),
    };
    let unknown = || pb::LoanAction {
        id: "ln-inconnu".into(),
        note: "x".into(),
    };
    let cal_write = if site_node {
        Need::Staff
    } else {
        Need::Academy
    };
    let mut calls = vec![
        (
            "Node.Status",
            Need::Read,
            code(n.status(StatusRequest {}).await.map(|_| ())),
        ),
        (
            "Node.ExportDocument",
            Need::Read,
            code(
                n.export_document(ExportDocumentRequest {
                    id: "site/inconnu".into(),
                })
                .await
                .map(|_| ()),
            ),
        ),
        (
            "Equipment.Add",
            Need::Director,
            code(e.add(AddEquipmentRequest::default()).await.map(|_| ())),
        ),
        (
            "Equipment.Update",
            Need::Director,
            code(
                e.update(UpdateEquipmentRequest {
                    id: "eq-inconnu".into(),
                    ..Default::default()
                })
                .await
                .map(|_| ()),
            ),
        ),
        (
            "Equipment.Retire",
            Need::Director,
            code(
                e.retire(EquipmentId {
                    id: "eq-inconnu".into(),
                })
                .await
                .map(|_| ()),
            ),
        ),
        (
            "Equipment.Import",
            Need::Director,
            code(
                e.import(ImportEquipmentRequest {
                    file_name: "vide.csv".into(),
                    content: Vec::new(),
                    dry_run: false,
                })
                .await
                .map(|_| ()),
            ),
        ),
        (
            "Equipment.Get",
            Need::Read,
            code(
                e.get(EquipmentId {
                    id: "eq-inconnu".into(),
                })
                .await
                .map(|_| ()),
            ),
        ),
        (
            "Equipment.List",
            Need::Read,
            code(e.list(ListEquipmentRequest::default()).await.map(|_| ())),
        ),
        (
            "Loans.RequestLoan",
            Need::Director,
            code(
                l.request_loan(LoanRequestInput::default())
                    .await
                    .map(|_| ()),
            ),
        ),
        (
            "Loans.Approve",
            Need::Director,
            code(l.approve(unknown()).await.map(|_| ())),
        ),
        (
            "Loans.Refuse",
            Need::Director,
            code(l.refuse(unknown()).await.map(|_| ())),
        ),
        (
            "Loans.Checkout",
            Need::Staff,
            code(l.checkout(unknown()).await.map(|_| ())),
        ),
        (
            "Loans.ReturnLoan",
            Need::Staff,
            code(
                l.return_loan(LoanReturn {
                    id: "ln-inconnu".into(),
                    ..Default::default()
                })
                .await
                .map(|_| ()),
            ),
        ),
        (
            "Loans.Record",
            Need::Director,
            code(l.record(pb::LoanRecordInput::default()).await.map(|_| ())),
        ),
        (
            "Loans.Cancel",
            Need::Director,
            code(l.cancel(unknown()).await.map(|_| ())),
        ),
        (
            "Loans.Get",
            Need::Read,
            code(
                l.get(LoanId {
                    id: "ln-inconnu".into(),
                })
                .await
                .map(|_| ()),
            ),
        ),
        (
            "Loans.List",
            Need::Read,
            code(l.list(ListLoansRequest::default()).await.map(|_| ())),
        ),
        (
            "Actions.Create",
            Need::Director,
            code(a.create(CreateActionRequest::default()).await.map(|_| ())),
        ),
        (
            "Actions.Join",
            Need::Director,
            code(
                a.join(ActionId {
                    id: "ac-inconnue".into(),
                })
                .await
                .map(|_| ()),
            ),
        ),
        (
            "Actions.Leave",
            Need::Director,
            code(
                a.leave(ActionId {
                    id: "ac-inconnue".into(),
                })
                .await
                .map(|_| ()),
            ),
        ),
        (
            "Actions.Update",
            Need::Director,
            code(
                a.update(UpdateActionRequest {
                    id: "ac-inconnue".into(),
                    ..Default::default()
                })
                .await
                .map(|_| ()),
            ),
        ),
        (
            "Actions.AddTask",
            Need::Director,
            code(
                a.add_task(AddTaskRequest {
                    action: "ac-inconnue".into(),
                    title: "x".into(),
                    ..Default::default()
                })
                .await
                .map(|_| ()),
            ),
        ),
        (
            "Actions.CompleteTask",
            Need::Director,
            code(
                a.complete_task(TaskRef {
                    action: "ac-inconnue".into(),
                    task: "tk-x".into(),
                })
                .await
                .map(|_| ()),
            ),
        ),
        (
            "Actions.Get",
            Need::Read,
            code(
                a.get(ActionId {
                    id: "ac-inconnue".into(),
                })
                .await
                .map(|_| ()),
            ),
        ),
        (
            "Actions.List",
            Need::Read,
            code(a.list(ListActionsRequest::default()).await.map(|_| ())),
        ),
        (
            "Calendar.AddEvent",
            cal_write,
            code(c.add_event(EventInput::default()).await.map(|_| ())),
        ),
        (
            "Calendar.UpdateEvent",
            cal_write,
            code(
                c.update_event(UpdateEventRequest {
                    id: "ev-inconnu".into(),
                    ..Default::default()
                })
                .await
                .map(|_| ()),
            ),
        ),
        (
            "Calendar.CancelEvent",
            cal_write,
            code(
                c.cancel_event(EventId {
                    id: "ev-inconnu".into(),
                })
                .await
                .map(|_| ()),
            ),
        ),
        (
            "Calendar.RecordAttendance",
            cal_write,
            code(
                c.record_attendance(AttendanceInput {
                    id: "ev-inconnu".into(),
                    ..Default::default()
                })
                .await
                .map(|_| ()),
            ),
        ),
        (
            "Calendar.GetEvent",
            Need::Read,
            code(
                c.get_event(EventId {
                    id: "ev-inconnu".into(),
                })
                .await
                .map(|_| ()),
            ),
        ),
        (
            "Calendar.Occurrences",
            Need::Read,
            code(
                c.occurrences(CalendarQuery {
                    from: "2027-01-01".into(),
                    to: "2027-01-02".into(),
                    ..Default::default()
                })
                .await
                .map(|_| ()),
            ),
        ),
        (
            "Calendar.ExportIcs",
            Need::Read,
            code(c.export_ics(CalendarQuery::default()).await.map(|_| ())),
        ),
        (
            "Tokens.Create",
            Need::Director,
            code(
                t.create(CreateTokenRequest {
                    role: "nobody".into(),
                    name: String::new(),
                })
                .await
                .map(|_| ()),
            ),
        ),
        (
            "Tokens.List",
            Need::Director,
            code(t.list(ListTokensRequest {}).await.map(|_| ())),
        ),
        (
            "Calendar.CreateFeed",
            Need::Director,
            code(
                c.create_feed(CreateFeedRequest {
                    site: "nulle-part".into(),
                    ..Default::default()
                })
                .await
                .map(|_| ()),
            ),
        ),
        (
            "Calendar.ListFeeds",
            Need::Director,
            code(c.list_feeds(ListFeedsRequest {}).await.map(|_| ())),
        ),
        (
            "Calendar.RevokeFeed",
            Need::Director,
            code(
                c.revoke_feed(FeedId {
                    id: "ab-inconnu".into(),
                })
                .await
                .map(|_| ()),
            ),
        ),
        (
            "Users.Add",
            Need::Director,
            code(
                u.add(AddUserRequest {
                    email: "a@b.fr".into(),
                    name: "A".into(),
                    role: "nobody".into(),
                })
                .await
                .map(|_| ()),
            ),
        ),
        (
            "Users.List",
            Need::Director,
            code(u.list(ListUsersRequest {}).await.map(|_| ())),
        ),
        (
            "Users.Disable",
            Need::Director,
            code(u.disable(nobody()).await.map(|_| ())),
        ),
        (
            "Users.Enable",
            Need::Director,
            code(u.enable(nobody()).await.map(|_| ())),
        ),
        (
            "Users.Reset",
            Need::Director,
            code(u.reset(nobody()).await.map(|_| ())),
        ),
        (
            "Tokens.Revoke",
            Need::Director,
            code(
                t.revoke(TokenId {
                    id: "tok-inconnu".into(),
                })
                .await
                .map(|_| ()),
            ),
        ),
        (
            "Network.ListSites",
            Need::Read,
            code(w.list_sites(ListSitesRequest {}).await.map(|_| ())),
        ),
        (
            "Network.Health",
            Need::Read,
            code(w.health(NetworkHealthRequest {}).await.map(|_| ())),
        ),
        (
            "Partners.Add",
            Need::Director,
            code(p.add(AddPartnerRequest::default()).await.map(|_| ())),
        ),
        (
            "Partners.Update",
            Need::Director,
            code(
                p.update(UpdatePartnerRequest {
                    id: "pa-inconnu".into(),
                    ..Default::default()
                })
                .await
                .map(|_| ()),
            ),
        ),
        (
            "Partners.List",
            Need::Read,
            code(
                p.list(ListPartnersRequest {
                    kind: "club".into(),
                    ..Default::default()
                })
                .await
                .map(|_| ()),
            ),
        ),
        (
            "Purchases.Create",
            Need::Director,
            code(
                pu.create(CreatePurchaseRequest::default())
                    .await
                    .map(|_| ()),
            ),
        ),
        (
            "Purchases.Update",
            Need::Director,
            code(
                pu.update(UpdatePurchaseRequest {
                    id: "da-inconnue".into(),
                    ..Default::default()
                })
                .await
                .map(|_| ()),
            ),
        ),
        (
            "Purchases.Submit",
            Need::Director,
            code(pu.submit(no_purchase()).await.map(|_| ())),
        ),
        (
            "Purchases.Decide",
            Need::Academy,
            code(
                pu.decide(PurchaseDecision {
                    id: "da-inconnue".into(),
                    verdict: "validated".into(),
                    reason: String::new(),
                })
                .await
                .map(|_| ()),
            ),
        ),
        (
            "Purchases.Ordered",
            Need::Director,
            code(pu.ordered(no_purchase()).await.map(|_| ())),
        ),
        (
            "Purchases.Delivered",
            Need::Director,
            code(
                pu.delivered(DeliverPurchase {
                    id: "da-inconnue".into(),
                    ..Default::default()
                })
                .await
                .map(|_| ()),
            ),
        ),
        (
            "Purchases.Cancel",
            Need::Director,
            code(pu.cancel(no_purchase()).await.map(|_| ())),
        ),
        (
            "Purchases.Get",
            Need::Read,
            code(pu.get(no_purchase()).await.map(|_| ())),
        ),
        (
            "Purchases.List",
            Need::Read,
            code(
                pu.list(ListPurchasesRequest {
                    state: "perdu".into(),
                    ..Default::default()
                })
                .await
                .map(|_| ()),
            ),
        ),
        (
            "Reports.Indicators",
            Need::Read,
            code(
                rp.indicators(IndicatorsRequest {
                    by: "semaine".into(),
                    ..Default::default()
                })
                .await
                .map(|_| ()),
            ),
        ),
        (
            "Reports.Bilan",
            Need::Read,
            code(rp.bilan(BilanRequest::default()).await.map(|_| ())),
        ),
    ];
    // The registry is written on academy nodes only (a site node refuses
    // every token, so these calls are in the academy node's matrix).
    if !site_node {
        calls.push((
            "Network.Enrol",
            Need::Academy,
            code(w.enrol(EnrolSiteRequest::default()).await.map(|_| ())),
        ));
        calls.push((
            "Network.Update",
            Need::Academy,
            code(
                w.update(UpdateSiteRequest {
                    id: "site-inconnu".into(),
                    name: "Inconnu".into(),
                    ..Default::default()
                })
                .await
                .map(|_| ()),
            ),
        ));
        calls.push((
            "Network.Revoke",
            Need::Academy,
            code(
                w.revoke(SiteId {
                    id: "site-inconnu".into(),
                })
                .await
                .map(|_| ()),
            ),
        ));
    }
    calls
}

fn allowed(role: &str, need: Need) -> bool {
    match role {
        "viewer" => need == Need::Read,
        "staff" => matches!(need, Need::Read | Need::Staff),
        "director" => need != Need::Academy,
        "academy" => true,
        _ => false,
    }
}

async fn token(node: &TestNode, role: &str) -> String {
    tokens_client::TokensClient::new(node.admin().await)
        .create(CreateTokenRequest {
            role: role.into(),
            name: format!("test {role}"),
        })
        .await
        .unwrap()
        .into_inner()
        .token
}

async fn check_matrix(node: &TestNode, roles: &[&str], site_node: bool) {
    let before = node.digest();
    for role in roles {
        let tok = if *role == "admin" {
            node.token()
        } else {
            token(node, role).await
        };
        let effective = if *role == "admin" {
            if site_node {
                "director"
            } else {
                "academy"
            }
        } else {
            role
        };
        for (call, need, code) in every_call(conn(&node.url, Some(&tok)).await, site_node).await {
            if allowed(effective, need) {
                assert!(
                    !matches!(code, Code::PermissionDenied | Code::Unauthenticated),
                    "{effective} should be allowed {call}, got {code:?}"
                );
            } else {
                assert_eq!(code, Code::PermissionDenied, "{effective} on {call}");
            }
        }
    }
    // No token, an unknown token, a revoked one: Unauthenticated everywhere.
    let revoked = {
        let mut t = tokens_client::TokensClient::new(node.admin().await);
        let created = t
            .create(CreateTokenRequest {
                role: "viewer".into(),
                name: "départ".into(),
            })
            .await
            .unwrap()
            .into_inner();
        t.revoke(TokenId {
            id: created.id.clone(),
        })
        .await
        .unwrap();
        created.token
    };
    for tok in [None, Some("mlg_inconnu"), Some(revoked.as_str())] {
        for (call, _, code) in every_call(conn(&node.url, tok).await, site_node).await {
            assert_eq!(code, Code::Unauthenticated, "{call} with {tok:?}");
        }
    }
    assert_eq!(
        node.digest(),
        before,
        "no call of the matrix changed anything"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn role_matrix_on_a_site_node() {
    let a = TestNode::start("metz", &[]).await;
    check_matrix(&a, &["viewer", "staff", "director", "admin"], true).await;
    // A site node has no academy role, and a token never creates a stronger one.
    let mut t = tokens_client::TokensClient::new(a.admin().await);
    let err = t
        .create(CreateTokenRequest {
            role: "academy".into(),
            name: String::new(),
        })
        .await
        .unwrap_err();
    assert_eq!(err.code(), Code::InvalidArgument);
    let staff = token(&a, "staff").await;
    let mut t = tokens_client::TokensClient::new(conn(&a.url, Some(&staff)).await);
    let err = t
        .create(CreateTokenRequest {
            role: "director".into(),
            name: String::new(),
        })
        .await
        .unwrap_err();
    assert_eq!(err.code(), Code::PermissionDenied);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn role_matrix_on_an_academy_node() {
    let r = TestNode::start_with("rectorat", Role::Academy, &[], |_| {}).await;
    check_matrix(
        &r,
        &["viewer", "staff", "director", "academy", "admin"],
        false,
    )
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn transitions_record_the_callers_role() {
    let lender = TestNode::start("preteur", &[]).await;
    let borrower = TestNode::start("emprunteur", &[&lender]).await;
    let item = lender.add_item("Caméra").await;
    converge(&[&lender, &borrower]).await;
    let loan = borrower
        .loans()
        .await
        .request_loan(LoanRequestInput {
            equipment: vec![item.id.clone()],
            from: "2027-02-01".into(),
            to: "2027-02-02".into(),
            ..Default::default()
        })
        .await
        .unwrap()
        .into_inner();
    converge(&[&lender, &borrower]).await;
    lender
        .loans()
        .await
        .approve(LoanAction {
            id: loan.id.clone(),
            note: String::new(),
        })
        .await
        .unwrap();
    let staff = token(&lender, "staff").await;
    let mut as_staff = loans_client::LoansClient::new(conn(&lender.url, Some(&staff)).await);
    let out = as_staff
        .checkout(LoanAction {
            id: loan.id.clone(),
            note: "complet".into(),
        })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(out.approved.unwrap().role, "director");
    let t = out.checked_out.unwrap();
    assert_eq!((t.site.as_str(), t.role.as_str()), ("preteur", "staff"));
}
