//! The tonic adapter of [`crate::app::calendar`]: authentication, roles and
//! wire types; the use cases themselves live in `app`.

use super::NodeContext;
use crate::app::calendar::*;
use crate::auth::{require, Need};
use crate::error::Result;
use crate::pb;
use std::sync::Arc;
use tonic::{Request, Response, Status};

pub struct CalendarApi {
    ctx: Arc<NodeContext>,
}

impl CalendarApi {
    pub fn new(ctx: Arc<NodeContext>) -> Self {
        CalendarApi { ctx }
    }

    /// Staff record a site's events; on an academy node events are the
    /// network's, written by the academic team.
    fn write_need(&self) -> Need {
        write_need(&self.ctx)
    }
}

#[tonic::async_trait]
impl pb::calendar_server::Calendar for CalendarApi {
    async fn add_event(&self, r: Request<pb::EventInput>) -> Result<Response<pb::Event>, Status> {
        require(&r, self.write_need())?;
        Ok(Response::new(add(&self.ctx, r.into_inner()).await?))
    }

    async fn update_event(
        &self,
        r: Request<pb::UpdateEventRequest>,
    ) -> Result<Response<pb::Event>, Status> {
        require(&r, self.write_need())?;
        Ok(Response::new(update(&self.ctx, r.into_inner()).await?))
    }

    async fn cancel_event(&self, r: Request<pb::EventId>) -> Result<Response<pb::Event>, Status> {
        require(&r, self.write_need())?;
        Ok(Response::new(cancel(&self.ctx, &r.into_inner().id).await?))
    }

    async fn record_attendance(
        &self,
        r: Request<pb::AttendanceInput>,
    ) -> Result<Response<pb::Event>, Status> {
        require(&r, self.write_need())?;
        Ok(Response::new(attendance(&self.ctx, r.into_inner()).await?))
    }

    async fn get_event(&self, r: Request<pb::EventId>) -> Result<Response<pb::Event>, Status> {
        require(&r, Need::Read)?;
        let id = resolve(&self.ctx, &r.get_ref().id)?;
        let (site, e) = find(&self.ctx, &id)?;
        Ok(Response::new(to_pb(&id, &site, &e)))
    }

    async fn occurrences(
        &self,
        r: Request<pb::CalendarQuery>,
    ) -> Result<Response<pb::OccurrenceList>, Status> {
        require(&r, Need::Read)?;
        Ok(Response::new(occurrences(&self.ctx, r.get_ref())?))
    }

    async fn export_ics(
        &self,
        r: Request<pb::CalendarQuery>,
    ) -> Result<Response<pb::IcsFile>, Status> {
        require(&r, Need::Read)?;
        Ok(Response::new(export(&self.ctx, r.get_ref())?))
    }

    async fn create_feed(
        &self,
        r: Request<pb::CreateFeedRequest>,
    ) -> Result<Response<pb::CalendarFeed>, Status> {
        require(&r, Need::Director)?;
        Ok(Response::new(
            crate::app::feeds::create(&self.ctx, r.into_inner()).await?,
        ))
    }

    async fn list_feeds(
        &self,
        r: Request<pb::ListFeedsRequest>,
    ) -> Result<Response<pb::FeedList>, Status> {
        require(&r, Need::Director)?;
        Ok(Response::new(crate::app::feeds::list(&self.ctx)?))
    }

    async fn revoke_feed(
        &self,
        r: Request<pb::FeedId>,
    ) -> Result<Response<pb::CalendarFeed>, Status> {
        require(&r, Need::Director)?;
        Ok(Response::new(
            crate::app::feeds::revoke(&self.ctx, &r.get_ref().id).await?,
        ))
    }
}
