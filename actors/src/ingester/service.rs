//! The ingester's gRPC service: pushes from distributors (answered once the fragments are in the
//! WAL) and reads of recent data from queriers.

use actix::prelude::*;
use tonic::{Request, Response, Status};
use vivace_proto::cluster::ingester_server::Ingester as IngesterRpc;
use vivace_proto::cluster::{
    FindRecentRequest, FindRecentResponse, PushRequest, PushResponse, SearchRecentRequest,
    SearchRecentResponse, TagsQuery, TagsRecentRequest, TagsRecentResponse,
};
use vivace_proto::ids::TraceId;

use super::actor::{FindRecent, IngesterActor, PushFragments, SearchRecent, TagsRecent};
use crate::remote::{fragments_from_wire, outcomes_to_wire, push_error_to_status};

/// The service over this node's ingester actor.
pub struct IngesterService {
    ingester: Addr<IngesterActor>,
}

impl IngesterService {
    pub fn new(ingester: Addr<IngesterActor>) -> Self {
        IngesterService { ingester }
    }
}

#[tonic::async_trait]
impl IngesterRpc for IngesterService {
    async fn push(&self, request: Request<PushRequest>) -> Result<Response<PushResponse>, Status> {
        let push = request.into_inner();
        if push.tenant.is_empty() {
            return Err(Status::invalid_argument("push without a tenant"));
        }
        let fragments = fragments_from_wire(push.fragments).map_err(Status::invalid_argument)?;
        let outcomes = self
            .ingester
            .send(PushFragments {
                tenant: push.tenant,
                fragments,
            })
            .await
            .map_err(|error| Status::unavailable(format!("ingester unavailable: {error}")))?
            .map_err(push_error_to_status)?;
        Ok(Response::new(PushResponse {
            errors_by_trace: outcomes_to_wire(&outcomes),
        }))
    }

    async fn find_recent(
        &self,
        request: Request<FindRecentRequest>,
    ) -> Result<Response<FindRecentResponse>, Status> {
        let find = request.into_inner();
        let trace_id: TraceId = find.trace_id.as_ref().try_into().map_err(|_| {
            Status::invalid_argument(format!(
                "trace id must be 16 bytes, got {}",
                find.trace_id.len()
            ))
        })?;
        let fragments = self
            .ingester
            .send(FindRecent {
                tenant: find.tenant,
                trace_id,
            })
            .await
            .map_err(|error| Status::unavailable(format!("ingester unavailable: {error}")))?;
        Ok(Response::new(FindRecentResponse { fragments }))
    }

    async fn search_recent(
        &self,
        request: Request<SearchRecentRequest>,
    ) -> Result<Response<SearchRecentResponse>, Status> {
        use prost::Message as _;
        let search = request.into_inner();
        let decoded = vivace_proto::tempopb_search::SearchRequest::decode(search.request).map_err(
            |error| Status::invalid_argument(format!("undecodable search request: {error}")),
        )?;
        let answer = self
            .ingester
            .send(SearchRecent {
                tenant: search.tenant,
                request: decoded,
            })
            .await
            .map_err(|error| Status::unavailable(format!("ingester unavailable: {error}")))?
            .map_err(Status::invalid_argument)?;
        Ok(Response::new(SearchRecentResponse {
            response: answer.encode_to_vec().into(),
        }))
    }

    async fn tags_recent(
        &self,
        request: Request<TagsRecentRequest>,
    ) -> Result<Response<TagsRecentResponse>, Status> {
        use prost::Message as _;
        let tags = request.into_inner();
        let query = TagsQuery::decode(tags.query).map_err(|error| {
            Status::invalid_argument(format!("undecodable tags query: {error}"))
        })?;
        let answer = self
            .ingester
            .send(TagsRecent {
                tenant: tags.tenant,
                query,
            })
            .await
            .map_err(|error| Status::unavailable(format!("ingester unavailable: {error}")))?
            .map_err(Status::invalid_argument)?;
        Ok(Response::new(TagsRecentResponse {
            answer: answer.encode_to_vec().into(),
        }))
    }
}
