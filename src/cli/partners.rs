//! `maillage partner add|update|show|list`.

use clap::{Args, Subcommand};

use std::collections::BTreeMap;

use super::client::{api_error, connect, Target};
use super::names::SiteNames;
use super::output::{print_json, print_table};
use crate::pb::{self, partners_client::PartnersClient};

#[derive(Debug, Args)]
pub struct PartnerFields {
    /// Nom du partenaire.
    #[arg(long)]
    pub name: Option<String>,
    /// Type : collectivité, association, entreprise, université ou autre.
    #[arg(long)]
    pub kind: Option<String>,
    /// Contact (personne, courriel, téléphone).
    #[arg(long)]
    pub contact: Option<String>,
    /// Convention (référence, dates).
    #[arg(long)]
    pub agreement: Option<String>,
    /// Contribution financière en euros (par exemple 1500.00).
    #[arg(long)]
    pub contribution_eur: Option<String>,
    /// Contribution en nature, décrite.
    #[arg(long)]
    pub contribution_in_kind: Option<String>,
    /// Action commune liée (répétable).
    #[arg(long = "action")]
    pub actions: Vec<String>,
}

#[derive(Debug, Subcommand)]
pub enum PartnerCmd {
    /// Ajouter un partenaire du site.
    Add(PartnerFields),
    /// Modifier un partenaire du site (les champs non donnés sont gardés ;
    /// --action remplace la liste des actions liées).
    Update {
        id: String,
        #[command(flatten)]
        fields: PartnerFields,
    },
    /// Afficher un partenaire du réseau (son contact, pour l'équipe de son
    /// site seulement).
    Show {
        /// Identifiant du partenaire (ou son début, s'il est unique).
        id: String,
    },
    /// Lister les partenaires du réseau.
    List {
        #[arg(long, default_value = "")]
        site: String,
        /// Type de partenaire : collectivité, association, entreprise,
        /// université ou autre.
        #[arg(long, default_value = "")]
        kind: String,
        #[arg(long, default_value = "")]
        action: String,
    },
}

/// A partner kind as people say it (`local_authority` → collectivité).
fn kind_fr(kind: &str) -> &str {
    crate::domain::partners::kind_fr(kind)
}

fn show(p: &pb::Partner, names: &SiteNames, titles: &BTreeMap<String, String>) {
    println!(
        "{}  {} ({}, {})",
        p.name,
        p.id,
        kind_fr(&p.kind),
        names.name(&p.site)
    );
    if !p.contact.is_empty() {
        println!("  contact      : {}", p.contact);
    }
    if !p.agreement.is_empty() {
        println!("  convention   : {}", p.agreement);
    }
    if !p.contribution_eur.is_empty() {
        println!(
            "  contribution : {}",
            super::actions::euros(&p.contribution_eur)
        );
    }
    if !p.contribution_in_kind.is_empty() {
        println!("  en nature    : {}", p.contribution_in_kind);
    }
    if !p.actions.is_empty() {
        let named: Vec<String> = p
            .actions
            .iter()
            .map(|a| titles.get(a).cloned().unwrap_or_else(|| a.clone()))
            .collect();
        println!("  actions      : {}", named.join(", "));
    }
}

pub async fn run(t: &Target, json_out: bool, cmd: PartnerCmd) -> anyhow::Result<()> {
    let conn = connect(t).await?;
    let names = SiteNames::fetch(&conn).await;
    // Linked actions by title.
    let mut titles = BTreeMap::new();
    if !json_out {
        let mut a = crate::pb::actions_client::ActionsClient::new(conn.clone());
        if let Ok(list) = a.list(pb::ListActionsRequest::default()).await {
            for action in list.into_inner().actions {
                titles.insert(action.id, action.title);
            }
        }
    }
    let mut c = PartnersClient::new(conn);
    match cmd {
        PartnerCmd::Add(f) => {
            let p = c
                .add(pb::AddPartnerRequest {
                    name: f.name.unwrap_or_default(),
                    kind: f.kind.unwrap_or_default(),
                    contact: f.contact.unwrap_or_default(),
                    agreement: f.agreement.unwrap_or_default(),
                    contribution_eur: f.contribution_eur.unwrap_or_default(),
                    contribution_in_kind: f.contribution_in_kind.unwrap_or_default(),
                    actions: f.actions,
                })
                .await
                .map_err(api_error)?
                .into_inner();
            if json_out {
                print_json(&p);
            } else {
                show(&p, &names, &titles);
            }
        }
        PartnerCmd::Update { id, fields: f } => {
            let p = c
                .update(pb::UpdatePartnerRequest {
                    id,
                    name: f.name,
                    kind: f.kind,
                    contact: f.contact,
                    agreement: f.agreement,
                    contribution_eur: f.contribution_eur,
                    contribution_in_kind: f.contribution_in_kind,
                    set_actions: !f.actions.is_empty(),
                    actions: f.actions,
                })
                .await
                .map_err(api_error)?
                .into_inner();
            if json_out {
                print_json(&p);
            } else {
                show(&p, &names, &titles);
            }
        }
        PartnerCmd::Show { id } => {
            // The list already leaves out the contacts this caller may not
            // read (app::partners::sees_contact).
            let list = c
                .list(pb::ListPartnersRequest::default())
                .await
                .map_err(api_error)?
                .into_inner()
                .partners;
            let found = crate::domain::ids::resolve(
                "partenaire",
                &id,
                list.iter().map(|p| (p.id.clone(), p.name.clone())),
            )?;
            let p = list
                .into_iter()
                .find(|p| p.id == found)
                .expect("resolved among these");
            if json_out {
                print_json(&p);
            } else {
                show(&p, &names, &titles);
            }
        }
        PartnerCmd::List { site, kind, action } => {
            let list = c
                .list(pb::ListPartnersRequest { site, kind, action })
                .await
                .map_err(api_error)?
                .into_inner()
                .partners;
            if json_out {
                print_json(&list);
            } else if list.is_empty() {
                println!("Aucun partenaire.");
            } else {
                let mut list = list;
                list.sort_by_cached_key(|p| crate::domain::fold_for_search(&p.name));
                let rows: Vec<Vec<String>> = list
                    .iter()
                    .map(|p| {
                        let actions: Vec<String> = p
                            .actions
                            .iter()
                            .map(|a| titles.get(a).cloned().unwrap_or_else(|| a.clone()))
                            .collect();
                        vec![
                            p.name.clone(),
                            kind_fr(&p.kind).to_string(),
                            names.name(&p.site),
                            if p.contribution_eur.is_empty() {
                                String::new()
                            } else {
                                super::actions::euros(&p.contribution_eur)
                            },
                            actions.join(", "),
                            p.id.clone(),
                        ]
                    })
                    .collect();
                print_table(
                    &["NOM", "TYPE", "SITE", "CONTRIBUTION", "ACTIONS", "ID"],
                    &rows,
                );
            }
        }
    }
    Ok(())
}
