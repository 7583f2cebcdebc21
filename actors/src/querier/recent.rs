//! Recent data in a cluster: every readable ingester is asked for the trace, and the answer is
//! good when no more than RF − quorum replicas of the trace's replica set failed.

use std::sync::{Arc, RwLock};

use async_trait::async_trait;
use bytes::Bytes;
use futures::future::join_all;
use vivace_proto::ids::TraceId;
use vivace_ring::{Member, Ring, quorum, token_for};

use super::RecentTraces;
use crate::remote::IngesterLinks;

/// Reads recent data from the ingesters of the ring.
pub struct RingRecentTraces {
    ring: Arc<RwLock<Ring>>,
    links: Arc<dyn IngesterLinks>,
}

impl RingRecentTraces {
    pub fn new(ring: Arc<RwLock<Ring>>, links: Arc<dyn IngesterLinks>) -> Self {
        RingRecentTraces { ring, links }
    }

    /// The members to ask, the trace's current replica set, and how many of those may fail.
    fn plan(
        &self,
        tenant: &str,
        trace_id: &TraceId,
    ) -> Result<(Vec<Member>, Vec<String>, usize), String> {
        let ring = self
            .ring
            .read()
            .map_err(|_| "ring lock poisoned".to_owned())?;
        let readable: Vec<Member> = ring.readable_members().cloned().collect();
        if readable.is_empty() {
            return Err("empty ring: no ingester to read recent data from".to_owned());
        }
        let replicas: Vec<String> = ring
            .replica_set(token_for(tenant, trace_id))
            .map(|set| set.iter().map(|member| member.id.clone()).collect())
            .unwrap_or_default();
        let replication_factor = ring.replication_factor();
        let tolerated = replication_factor - quorum(replication_factor);
        Ok((readable, replicas, tolerated))
    }
}

#[async_trait]
impl RecentTraces for RingRecentTraces {
    async fn find_recent(&self, tenant: &str, trace_id: &TraceId) -> Result<Vec<Bytes>, String> {
        let (members, replicas, tolerated) = self.plan(tenant, trace_id)?;
        let reads = members.iter().map(|member| {
            let link = self.links.link(member);
            async move {
                let Some(link) = link else {
                    return (member, Err(format!("no client for ingester {}", member.id)));
                };
                (member, link.find_recent(tenant, trace_id).await)
            }
        });
        let mut fragments = Vec::new();
        let mut failed_replicas = Vec::new();
        for (member, outcome) in join_all(reads).await {
            match outcome {
                Ok(found) => fragments.extend(found),
                Err(error) => {
                    tracing::warn!(ingester = %member.id, %error, "recent data read failed");
                    if replicas.contains(&member.id) {
                        failed_replicas.push(error);
                    }
                }
            }
        }
        if failed_replicas.len() > tolerated {
            return Err(format!(
                "too many unhealthy ingesters in the replica set: {}",
                failed_replicas.join("; ")
            ));
        }
        Ok(fragments)
    }

    async fn search_recent(
        &self,
        tenant: &str,
        request: &vivace_proto::tempopb_search::SearchRequest,
    ) -> Result<vivace_proto::tempopb_search::SearchResponse, String> {
        let answers = self
            .ask_all(|link| async move { link.search_recent(tenant, request).await })
            .await?;
        let spans_per_spanset = match request.spans_per_span_set {
            0 => crate::search::exec::DEFAULT_SPANS_PER_SPANSET,
            other => other,
        };
        let mut combiner =
            crate::search::SearchCombiner::new(request.limit as usize, spans_per_spanset as usize);
        for answer in answers {
            combiner.add(answer);
        }
        Ok(combiner.finish())
    }

    async fn tags_recent(
        &self,
        tenant: &str,
        query: &vivace_proto::cluster::TagsQuery,
    ) -> Result<vivace_proto::cluster::TagsAnswer, String> {
        let answers = self
            .ask_all(|link| async move { link.tags_recent(tenant, query).await })
            .await?;
        Ok(crate::search::tag_query::merge_answers(
            answers,
            query.limit as usize,
        ))
    }
}

impl RingRecentTraces {
    /// Asks every readable ingester; fails when more than RF − quorum of them failed (then some
    /// acknowledged span may have no replica among those that answered).
    async fn ask_all<'a, T, F, Fut>(&'a self, ask: F) -> Result<Vec<T>, String>
    where
        F: Fn(Arc<dyn crate::remote::IngesterLink>) -> Fut,
        Fut: std::future::Future<Output = Result<T, String>> + 'a,
    {
        let (members, tolerated) = {
            let ring = self
                .ring
                .read()
                .map_err(|_| "ring lock poisoned".to_owned())?;
            let members: Vec<Member> = ring.readable_members().cloned().collect();
            let replication_factor = ring.replication_factor();
            (members, replication_factor - quorum(replication_factor))
        };
        if members.is_empty() {
            return Err("empty ring: no ingester to read recent data from".to_owned());
        }
        let reads = members.iter().map(|member| {
            let link = self.links.link(member);
            let read = link.map(&ask);
            async move {
                match read {
                    Some(read) => (member, read.await),
                    None => (member, Err(format!("no client for ingester {}", member.id))),
                }
            }
        });
        let mut answers = Vec::new();
        let mut failures = Vec::new();
        for (member, outcome) in join_all(reads).await {
            match outcome {
                Ok(answer) => answers.push(answer),
                Err(error) => {
                    tracing::warn!(ingester = %member.id, %error, "recent data search failed");
                    failures.push(error);
                }
            }
        }
        if failures.len() > tolerated {
            return Err(format!(
                "too many unhealthy ingesters: {}",
                failures.join("; ")
            ));
        }
        Ok(answers)
    }
}

#[cfg(test)]
mod tests {
    use std::collections::HashMap;

    use vivace_ring::IngesterState;

    use super::*;
    use crate::distributor::{PushTarget, TraceFragment};
    use crate::error::{PushError, TracePushOutcome};
    use crate::remote::IngesterLink;

    struct Replica {
        holds: Vec<Bytes>,
        down: bool,
    }

    #[async_trait]
    impl PushTarget for Replica {
        async fn push(
            &self,
            _tenant: String,
            _fragments: Vec<TraceFragment>,
        ) -> Result<Vec<TracePushOutcome>, PushError> {
            Err(PushError::Unavailable("not used".into()))
        }
    }

    #[async_trait]
    impl RecentTraces for Replica {
        async fn find_recent(&self, _tenant: &str, _id: &TraceId) -> Result<Vec<Bytes>, String> {
            if self.down {
                return Err("connection refused".into());
            }
            Ok(self.holds.clone())
        }

        async fn search_recent(
            &self,
            _tenant: &str,
            _request: &vivace_proto::tempopb_search::SearchRequest,
        ) -> Result<vivace_proto::tempopb_search::SearchResponse, String> {
            if self.down {
                return Err("connection refused".into());
            }
            let holder = String::from_utf8_lossy(&self.holds[0]).into_owned();
            Ok(vivace_proto::tempopb_search::SearchResponse {
                traces: vec![vivace_proto::tempopb_search::TraceSearchMetadata {
                    trace_id: holder,
                    start_time_unix_nano: 1,
                    ..Default::default()
                }],
                metrics: None,
            })
        }
    }

    fn reader(down: &[&str]) -> RingRecentTraces {
        let mut ring = Ring::new(3);
        let mut links: HashMap<String, Arc<dyn IngesterLink>> = HashMap::new();
        for id in ["a", "b", "c"] {
            ring.upsert(Member {
                id: id.into(),
                grpc_address: String::new(),
                state: IngesterState::Active,
                zone: String::new(),
            });
            links.insert(
                id.into(),
                Arc::new(Replica {
                    holds: vec![Bytes::from(id.to_owned())],
                    down: down.contains(&id),
                }),
            );
        }
        RingRecentTraces::new(Arc::new(RwLock::new(ring)), Arc::new(links))
    }

    #[tokio::test]
    async fn answers_from_every_replica_and_tolerates_one_failure() {
        let all = reader(&[]).find_recent("t", &[1; 16]).await.expect("read");
        assert_eq!(all.len(), 3);
        let degraded = reader(&["b"])
            .find_recent("t", &[1; 16])
            .await
            .expect("read");
        assert_eq!(degraded.len(), 2, "RF=3 tolerates one failed replica");
        let error = reader(&["a", "c"])
            .find_recent("t", &[1; 16])
            .await
            .expect_err("two failures of three are too many");
        assert!(error.contains("too many unhealthy ingesters"), "{error}");
    }

    #[tokio::test]
    async fn recent_search_asks_every_ingester_and_tolerates_one_failure() {
        let request = vivace_proto::tempopb_search::SearchRequest {
            query: "{ }".into(),
            limit: 20,
            ..Default::default()
        };
        let ids = |response: vivace_proto::tempopb_search::SearchResponse| {
            let mut ids: Vec<String> = response.traces.into_iter().map(|t| t.trace_id).collect();
            ids.sort();
            ids
        };
        let all = reader(&[])
            .search_recent("t", &request)
            .await
            .expect("search");
        assert_eq!(ids(all), ["a", "b", "c"]);
        let degraded = reader(&["b"])
            .search_recent("t", &request)
            .await
            .expect("RF=3 tolerates one failed ingester");
        assert_eq!(ids(degraded), ["a", "c"]);
        let error = reader(&["a", "c"])
            .search_recent("t", &request)
            .await
            .expect_err("two failures of three are too many");
        assert!(error.contains("too many unhealthy ingesters"), "{error}");
    }
}
