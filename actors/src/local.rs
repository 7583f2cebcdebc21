//! The in-process link between components of one node (monolithic mode): the distributor pushes to,
//! and the querier reads recent data from, the ingester actor of the same process.

use actix::prelude::*;
use async_trait::async_trait;
use bytes::Bytes;
use vivace_proto::ids::TraceId;

use crate::distributor::{PushTarget, TraceFragment};
use crate::error::{PushError, TracePushOutcome};
use crate::ingester::actor::{FindRecent, IngesterActor, PushFragments, SearchRecent, TagsRecent};
use crate::querier::RecentTraces;

/// The ingester actor of this process.
#[derive(Clone)]
pub struct LocalIngester {
    ingester: Addr<IngesterActor>,
}

impl LocalIngester {
    pub fn new(ingester: Addr<IngesterActor>) -> Self {
        LocalIngester { ingester }
    }
}

#[async_trait]
impl PushTarget for LocalIngester {
    async fn push(
        &self,
        tenant: String,
        fragments: Vec<TraceFragment>,
    ) -> Result<Vec<TracePushOutcome>, PushError> {
        self.ingester
            .send(PushFragments { tenant, fragments })
            .await
            .map_err(|error| PushError::Unavailable(format!("ingester unavailable: {error}")))?
    }
}

#[async_trait]
impl RecentTraces for LocalIngester {
    async fn find_recent(&self, tenant: &str, trace_id: &TraceId) -> Result<Vec<Bytes>, String> {
        self.ingester
            .send(FindRecent {
                tenant: tenant.to_owned(),
                trace_id: *trace_id,
            })
            .await
            .map_err(|error| format!("ingester unavailable: {error}"))
    }

    async fn search_recent(
        &self,
        tenant: &str,
        request: &vivace_proto::tempopb_search::SearchRequest,
    ) -> Result<vivace_proto::tempopb_search::SearchResponse, String> {
        self.ingester
            .send(SearchRecent {
                tenant: tenant.to_owned(),
                request: request.clone(),
            })
            .await
            .map_err(|error| format!("ingester unavailable: {error}"))?
    }

    async fn tags_recent(
        &self,
        tenant: &str,
        query: &vivace_proto::cluster::TagsQuery,
    ) -> Result<vivace_proto::cluster::TagsAnswer, String> {
        self.ingester
            .send(TagsRecent {
                tenant: tenant.to_owned(),
                query: query.clone(),
            })
            .await
            .map_err(|error| format!("ingester unavailable: {error}"))?
    }
}
