//! `maillage user …`: the accounts of the people who use this node's web
//! interface. They stay on the node: other sites never see them.

use clap::Subcommand;

use super::client::{api_error, connect, Target};
use super::output::{print_json, print_table};
use crate::app::users::state_fr;
use crate::auth::role_fr;
use crate::domain::time::fr_instant;
use crate::pb;
use crate::pb::users_client::UsersClient;

#[derive(Debug, Subcommand)]
pub enum UserCmd {
    /// Créer le compte d'une personne ; affiche un lien à usage unique pour
    /// qu'elle choisisse son mot de passe.
    Add {
        /// Adresse électronique, qui sert d'identifiant de connexion.
        #[arg(long)]
        email: String,
        /// Prénom et nom, tels qu'ils s'afficheront.
        #[arg(long)]
        name: String,
        /// Rôle : director (direction), staff (équipe), viewer (lecture) ou
        /// academy (équipe académique, sur son nœud seulement).
        #[arg(long)]
        role: String,
    },
    /// Lister les comptes de ce nœud.
    List,
    /// Désactiver un compte : la personne ne peut plus se connecter.
    Disable {
        /// Adresse électronique du compte.
        email: String,
    },
    /// Réactiver un compte désactivé.
    Enable {
        /// Adresse électronique du compte.
        email: String,
    },
    /// Donner un nouveau lien pour choisir le mot de passe (oubli, lien
    /// expiré) ; le mot de passe actuel cesse de fonctionner.
    Reset {
        /// Adresse électronique du compte.
        email: String,
    },
}

fn print_setup(s: &pb::UserSetup, created: bool) {
    if let Some(a) = &s.account {
        let what = if created {
            "Compte créé"
        } else {
            "Nouveau lien"
        };
        println!(
            "{what} pour {} ({}), rôle {}.",
            a.name,
            a.email,
            role_fr(&a.role)
        );
    }
    println!(
        "Lien à usage unique pour choisir le mot de passe, valable jusqu'au {} :",
        fr_instant(&s.expires_at)
    );
    println!("  {}", s.link);
    println!("Transmettez-le à la personne seulement : il ne sera plus affiché.");
}

pub async fn run(t: &Target, json: bool, cmd: UserCmd) -> anyhow::Result<()> {
    let mut c = UsersClient::new(connect(t).await?);
    let email = |email: String| pb::UserEmail { email };
    match cmd {
        UserCmd::Add { email, name, role } => {
            let s = c
                .add(pb::AddUserRequest { email, name, role })
                .await
                .map_err(api_error)?
                .into_inner();
            if json {
                print_json(&s);
            } else {
                print_setup(&s, true);
            }
        }
        UserCmd::Reset { email: e } => {
            let s = c.reset(email(e)).await.map_err(api_error)?.into_inner();
            if json {
                print_json(&s);
            } else {
                print_setup(&s, false);
            }
        }
        UserCmd::Disable { email: e } => {
            let a = c.disable(email(e)).await.map_err(api_error)?.into_inner();
            if json {
                print_json(&a);
            } else {
                println!("Compte de {} ({}) désactivé.", a.name, a.email);
            }
        }
        UserCmd::Enable { email: e } => {
            let a = c.enable(email(e)).await.map_err(api_error)?.into_inner();
            if json {
                print_json(&a);
            } else {
                println!("Compte de {} ({}) réactivé.", a.name, a.email);
            }
        }
        UserCmd::List => {
            let list = c
                .list(pb::ListUsersRequest {})
                .await
                .map_err(api_error)?
                .into_inner()
                .users;
            if json {
                print_json(&list);
            } else if list.is_empty() {
                println!("Aucun compte : créez-en avec `maillage user add`.");
            } else {
                let rows: Vec<Vec<String>> = list
                    .iter()
                    .map(|a| {
                        vec![
                            a.name.clone(),
                            a.email.clone(),
                            role_fr(&a.role).to_string(),
                            state_fr(a),
                        ]
                    })
                    .collect();
                print_table(&["NOM", "ADRESSE", "RÔLE", "ÉTAT"], &rows);
            }
        }
    }
    Ok(())
}
