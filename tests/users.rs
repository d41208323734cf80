//! `maillage user …`: people's accounts on a node, created by its director
//! with a one-time link, never replicated to other sites.

mod common;

use common::*;

fn link_secret(out: &str) -> String {
    let line = out
        .lines()
        .find(|l| l.contains("/compte/activer?jeton="))
        .unwrap_or_else(|| panic!("no link in:\n{out}"));
    line.split("jeton=").nth(1).unwrap().trim().to_string()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_director_creates_accounts_with_a_one_time_link() {
    let metz = TestNode::start("metz", &[]).await;
    let other = TestNode::start("thionville", &[&metz]).await;
    let out = ok(&metz.cli(&[
        "user",
        "add",
        "--email",
        "Claire.Martin@ac-nancy-metz.fr",
        "--name",
        "Claire Martin",
        "--role",
        "staff",
    ]));
    assert!(out.contains("Compte créé pour Claire Martin"), "{out}");
    assert!(out.contains("rôle équipe"), "{out}");
    let secret = link_secret(&out);
    let accounts = &metz.running().ctx.accounts;
    let account = accounts.setup_account(&secret).unwrap();
    assert_eq!(account.email, "claire.martin@ac-nancy-metz.fr");

    let list = ok(&metz.cli(&["user", "list"]));
    assert!(
        list.contains("Claire Martin") && list.contains("mot de passe à choisir"),
        "{list}"
    );
    let json: serde_json::Value =
        serde_json::from_str(&ok(&metz.cli(&["--json", "user", "list"]))).unwrap();
    assert_eq!(json[0]["email"], "claire.martin@ac-nancy-metz.fr");
    assert_eq!(json[0]["role"], "staff");
    assert_eq!(json[0]["password_set"], false);

    // A reset replaces the link: the old one no longer opens the account.
    let again = link_secret(&ok(&metz.cli(&[
        "user",
        "reset",
        "claire.martin@ac-nancy-metz.fr",
    ])));
    assert!(accounts.setup_account(&secret).is_err());
    accounts
        .set_password(&again, "un mot de passe solide")
        .await
        .unwrap();
    let list = ok(&metz.cli(&["user", "list"]));
    assert!(list.contains("actif"), "{list}");

    ok(&metz.cli(&["user", "disable", "claire.martin@ac-nancy-metz.fr"]));
    let list = ok(&metz.cli(&["user", "list"]));
    assert!(list.contains("désactivé"), "{list}");

    // Bad input is refused in French and changes nothing.
    let before = ok(&metz.cli(&["--json", "user", "list"]));
    for (args, says) in [
        (
            vec![
                "user",
                "add",
                "--email",
                "pas une adresse",
                "--name",
                "X",
                "--role",
                "staff",
            ],
            "adresse électronique",
        ),
        (
            vec![
                "user",
                "add",
                "--email",
                "x@ac-nancy-metz.fr",
                "--name",
                "X",
                "--role",
                "academy",
            ],
            "nœud de l'équipe académique",
        ),
        (
            vec![
                "user",
                "add",
                "--email",
                "claire.martin@ac-nancy-metz.fr",
                "--name",
                "X",
                "--role",
                "staff",
            ],
            "existe déjà",
        ),
        (
            vec!["user", "reset", "inconnu@ac-nancy-metz.fr"],
            "aucun compte",
        ),
    ] {
        let out = metz.cli(&args);
        assert!(!out.status.success(), "{args:?}");
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(err.contains(says), "{args:?}: {err}");
    }
    assert_eq!(ok(&metz.cli(&["--json", "user", "list"])), before);

    // Accounts stay on their node: the other site, in sync, has none.
    converge(&[&metz, &other]).await;
    let theirs = ok(&other.cli(&["--json", "user", "list"]));
    assert_eq!(theirs.trim(), "[]", "{theirs}");
}
