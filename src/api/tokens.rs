//! The `Tokens` service: a director (or the academic team on an academy node)
//! manages who may use this node's API.

use tonic::{Request, Response, Status};

use crate::auth::{require, Need, Role, TokenRecord, Tokens};
use crate::base;
use crate::error::Error;
use crate::pb;

pub struct TokensApi {
    tokens: Tokens,
    node_role: base::Role,
}

impl TokensApi {
    pub fn new(tokens: Tokens, node_role: base::Role) -> Self {
        TokensApi { tokens, node_role }
    }
}

fn info(r: &TokenRecord) -> pb::TokenInfo {
    pb::TokenInfo {
        id: r.id.clone(),
        name: r.name.clone(),
        role: r.role.as_str().to_string(),
        created_at: r.created_at.clone(),
        revoked_at: r.revoked_at.clone().unwrap_or_default(),
    }
}

#[tonic::async_trait]
impl pb::tokens_server::Tokens for TokensApi {
    async fn create(
        &self,
        request: Request<pb::CreateTokenRequest>,
    ) -> Result<Response<pb::CreatedToken>, Status> {
        let caller = require(&request, Need::Director)?;
        let r = request.into_inner();
        let role = Role::parse(&r.role)?;
        if role == Role::Academy && self.node_role != base::Role::Academy {
            return Err(
                Error::invalid("le rôle academy n'existe que sur un nœud académique").into(),
            );
        }
        if role > caller.role {
            return Err(Error::denied(format!(
                "un jeton {} ne peut pas créer de jeton {}",
                caller.role.as_str(),
                role.as_str()
            ))
            .into());
        }
        let (token, record) = self.tokens.create(role, &r.name).await?;
        Ok(Response::new(pb::CreatedToken {
            token,
            id: record.id.clone(),
            info: Some(info(&record)),
        }))
    }

    async fn list(
        &self,
        request: Request<pb::ListTokensRequest>,
    ) -> Result<Response<pb::TokenList>, Status> {
        require(&request, Need::Director)?;
        Ok(Response::new(pb::TokenList {
            tokens: self.tokens.list()?.iter().map(info).collect(),
        }))
    }

    async fn revoke(
        &self,
        request: Request<pb::TokenId>,
    ) -> Result<Response<pb::TokenInfo>, Status> {
        require(&request, Need::Director)?;
        let r = self.tokens.revoke(&request.into_inner().id).await?;
        Ok(Response::new(info(&r)))
    }
}
