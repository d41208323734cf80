//! Use cases of people's accounts on this node (`maillage user …`, and the
//! web interface's own pages). Accounts never leave the node.

use chrono::Utc;

use super::NodeContext;
use crate::accounts::Account;
use crate::auth::Role;
use crate::base;
use crate::error::{Error, Result};
use crate::pb;

/// The path of the page where a one-time link lets a person choose a password.
pub const SETUP_PATH: &str = "/compte/activer";

pub fn to_pb(a: &Account) -> pb::UserAccount {
    pb::UserAccount {
        email: a.email.clone(),
        name: a.name.clone(),
        role: a.role.as_str().to_string(),
        disabled: a.disabled,
        password_set: a.password_hash.is_some(),
        locked_until: a
            .locked_until
            .filter(|t| *t > Utc::now())
            .map(|t| t.to_rfc3339())
            .unwrap_or_default(),
        created_at: a.created_at.to_rfc3339(),
    }
}

/// An account's state as people read it.
pub fn state_fr(a: &pb::UserAccount) -> String {
    if a.disabled {
        "désactivé".into()
    } else if !a.locked_until.is_empty() {
        format!(
            "bloqué jusqu'au {}",
            crate::domain::time::fr_instant(&a.locked_until)
        )
    } else if !a.password_set {
        "mot de passe à choisir".into()
    } else {
        "actif".into()
    }
}

fn setup(ctx: &NodeContext, a: &Account, secret: &str) -> pb::UserSetup {
    pb::UserSetup {
        account: Some(to_pb(a)),
        link: format!(
            "{}{SETUP_PATH}?jeton={secret}",
            ctx.web_url.trim_end_matches('/')
        ),
        expires_at: a.setup_expires.map(|t| t.to_rfc3339()).unwrap_or_default(),
    }
}

/// Who may give which role: no one more than their own, and `academy` only
/// on an academy node.
fn check_role(ctx: &NodeContext, caller: Role, role: Role) -> Result<()> {
    if role == Role::Academy && ctx.role != base::Role::Academy {
        return Err(Error::invalid(
            "le rôle academy n'existe que sur le nœud de l'équipe académique",
        ));
    }
    if role > caller {
        return Err(Error::denied(format!(
            "le rôle {} ne peut pas créer de compte {}",
            caller.as_str(),
            role.as_str()
        )));
    }
    Ok(())
}

/// Creates an account and its one-time link to choose a password.
pub async fn add(
    ctx: &NodeContext,
    caller: Role,
    email: &str,
    name: &str,
    role: &str,
) -> Result<pb::UserSetup> {
    let role = Role::parse(role)?;
    check_role(ctx, caller, role)?;
    let (account, secret) = ctx.accounts.add(email, name, role).await?;
    Ok(setup(ctx, &account, &secret))
}

pub fn list(ctx: &NodeContext) -> Result<pb::UserList> {
    Ok(pb::UserList {
        users: ctx.accounts.list()?.iter().map(to_pb).collect(),
    })
}

/// A caller may act on accounts whose role does not exceed theirs: a
/// director resets a staff member's password, not the academic team's.
fn check_over(caller: Role, a: &Account) -> Result<()> {
    if a.role > caller {
        return Err(Error::denied(format!(
            "le rôle {} ne peut pas modifier le compte {} ({})",
            caller.as_str(),
            a.email,
            a.role.as_str()
        )));
    }
    Ok(())
}

pub async fn disable(ctx: &NodeContext, caller: Role, email: &str) -> Result<pb::UserAccount> {
    check_over(caller, &ctx.accounts.find(email)?)?;
    Ok(to_pb(&ctx.accounts.disable(email).await?))
}

pub async fn enable(ctx: &NodeContext, caller: Role, email: &str) -> Result<pb::UserAccount> {
    check_over(caller, &ctx.accounts.find(email)?)?;
    Ok(to_pb(&ctx.accounts.enable(email).await?))
}

/// A new one-time link for a forgotten password or an expired link.
pub async fn reset(ctx: &NodeContext, caller: Role, email: &str) -> Result<pb::UserSetup> {
    check_over(caller, &ctx.accounts.find(email)?)?;
    let (account, secret) = ctx.accounts.reset(email).await?;
    Ok(setup(ctx, &account, &secret))
}
