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
}
