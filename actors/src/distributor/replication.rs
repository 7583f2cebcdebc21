//! Writing fragments to the ingesters the ring chooses: each trace goes to its replica set, and a
//! trace counts as written when a quorum of replicas acknowledged it. In monolithic mode the ring
//! holds one member, this process's ingester; the cluster adds members behind the same interface.

use std::collections::BTreeMap;
use std::sync::{Arc, RwLock};
use std::time::Instant;

use async_trait::async_trait;
use futures::future::join_all;
use vivace_ring::{Member, Ring, quorum, token_for};

use super::{PushTarget, TraceFragment};
use crate::error::{PushError, TracePushOutcome};
use crate::metrics::ReplicationMetrics;
use crate::remote::IngesterLinks;

/// For each member of a replica set: the member and the indexes of the fragments it receives.
type PerMember = BTreeMap<String, (Member, Vec<usize>)>;

/// Pushes through the ring to the members' push targets.
pub struct ReplicatedPush {
    ring: Arc<RwLock<Ring>>,
    links: Arc<dyn IngesterLinks>,
    metrics: ReplicationMetrics,
}

impl ReplicatedPush {
    pub fn new(
        ring: Arc<RwLock<Ring>>,
        links: Arc<dyn IngesterLinks>,
        metrics: ReplicationMetrics,
    ) -> Self {
        ReplicatedPush {
            ring,
            links,
            metrics,
        }
    }

    /// For each member, the indexes of the fragments it must receive; and the quorum.
    fn plan(
        &self,
        tenant: &str,
        fragments: &[TraceFragment],
    ) -> Result<(PerMember, usize), PushError> {
        let ring = self
            .ring
            .read()
            .map_err(|_| PushError::Internal("ring lock poisoned".to_owned()))?;
        let needed = quorum(ring.replication_factor());
        let mut per_member: BTreeMap<String, (Member, Vec<usize>)> = BTreeMap::new();
        for (index, fragment) in fragments.iter().enumerate() {
            let replicas = ring
                .replica_set(token_for(tenant, &fragment.trace_id))
                .map_err(|error| PushError::Unavailable(error.to_string()))?;
            debug_assert!(
                replicas.len() >= needed,
                "replica set smaller than the write quorum"
            );
            for member in replicas {
                per_member
                    .entry(member.id.clone())
                    .or_insert_with(|| (member.clone(), Vec::new()))
                    .1
                    .push(index);
            }
        }
        Ok((per_member, needed))
    }
}

#[async_trait]
impl PushTarget for ReplicatedPush {
    async fn push(
        &self,
        tenant: String,
        fragments: Vec<TraceFragment>,
    ) -> Result<Vec<TracePushOutcome>, PushError> {
        let (per_member, needed) = self.plan(&tenant, &fragments)?;
        let pushes = per_member.into_values().map(|(member, indexes)| {
            let link = self.links.link(&member);
            let subset: Vec<TraceFragment> = indexes
                .iter()
                .map(|index| fragments[*index].clone())
                .collect();
            let tenant = tenant.clone();
            let metrics = self.metrics.clone();
            async move {
                let Some(link) = link else {
                    metrics.record_failure(&member.id);
                    return (
                        indexes,
                        Err(PushError::Unavailable(format!(
                            "no client for ingester {}",
                            member.id
                        ))),
                    );
                };
                let started = Instant::now();
                let outcome = link.push(tenant, subset).await;
                metrics.record_push(&member.id, started.elapsed(), outcome.is_ok());
                if let Err(error) = &outcome {
                    tracing::warn!(ingester = %member.id, %error, "replica push failed");
                }
                (indexes, outcome)
            }
        });
        let mut acknowledgements = vec![0usize; fragments.len()];
        let mut refusals: Vec<Option<TracePushOutcome>> = vec![None; fragments.len()];
        let mut last_error = None;
        for (indexes, outcome) in join_all(pushes).await {
            match outcome {
                Ok(outcomes) => {
                    for (index, outcome) in indexes.into_iter().zip(outcomes) {
                        match outcome {
                            TracePushOutcome::Accepted => acknowledgements[index] += 1,
                            refused => refusals[index] = Some(refused),
                        }
                    }
                }
                Err(error) => last_error = Some(error),
            }
        }
        let mut result = Vec::with_capacity(fragments.len());
        for (index, acknowledged) in acknowledgements.into_iter().enumerate() {
            if acknowledged >= needed {
                result.push(TracePushOutcome::Accepted);
                continue;
            }
            match (refusals[index], &last_error) {
                (Some(refusal), _) => result.push(refusal),
                (None, Some(error)) => return Err(error.clone()),
                (None, None) => {
                    return Err(PushError::Unavailable(format!(
                        "only {acknowledged} of the {needed} replicas needed acknowledged the write"
                    )));
                }
            }
        }
        Ok(result)
    }
}

#[cfg(test)]
mod tests {
    use std::collections::HashMap;
    use std::sync::Mutex;

    use bytes::Bytes;
    use vivace_proto::ids::TraceId;

    use crate::querier::RecentTraces;
    use crate::remote::IngesterLink;
    use vivace_ring::{IngesterState, Member};

    use super::*;

    struct Recording {
        received: Mutex<Vec<[u8; 16]>>,
        fail: bool,
    }

    #[async_trait]
    impl PushTarget for Recording {
        async fn push(
            &self,
            _tenant: String,
            fragments: Vec<TraceFragment>,
        ) -> Result<Vec<TracePushOutcome>, PushError> {
            if self.fail {
                return Err(PushError::Unavailable("down".into()));
            }
            let mut received = self.received.lock().expect("lock");
            received.extend(fragments.iter().map(|fragment| fragment.trace_id));
            Ok(vec![TracePushOutcome::Accepted; fragments.len()])
        }
    }

    #[async_trait]
    impl RecentTraces for Recording {
        async fn find_recent(&self, _tenant: &str, _id: &TraceId) -> Result<Vec<Bytes>, String> {
            Ok(Vec::new())
        }
    }

    fn fragment(id: u8) -> TraceFragment {
        TraceFragment {
            trace_id: [id; 16],
            trace: Bytes::new(),
            start_seconds: 0,
            end_seconds: 0,
            span_count: 1,
        }
    }

    fn setup(
        replication_factor: usize,
        failing: &[&str],
    ) -> (ReplicatedPush, HashMap<String, Arc<Recording>>) {
        let mut ring = Ring::new(replication_factor);
        let mut members: HashMap<String, Arc<dyn IngesterLink>> = HashMap::new();
        let mut recorders = HashMap::new();
        for id in ["a", "b", "c"] {
            ring.upsert(Member {
                id: id.into(),
                grpc_address: String::new(),
                state: IngesterState::Active,
                zone: String::new(),
            });
            let recorder = Arc::new(Recording {
                received: Mutex::new(Vec::new()),
                fail: failing.contains(&id),
            });
            members.insert(id.into(), recorder.clone());
            recorders.insert(id.to_owned(), recorder);
        }
        (
            ReplicatedPush::new(
                Arc::new(RwLock::new(ring)),
                Arc::new(members),
                ReplicationMetrics::default(),
            ),
            recorders,
        )
    }

    #[tokio::test]
    async fn every_trace_reaches_its_replica_set() {
        let (push, recorders) = setup(3, &[]);
        let fragments: Vec<TraceFragment> = (1..=20).map(fragment).collect();
        let outcomes = push.push("t".into(), fragments).await.expect("written");
        assert!(
            outcomes
                .iter()
                .all(|outcome| *outcome == TracePushOutcome::Accepted)
        );
        for recorder in recorders.values() {
            assert_eq!(
                recorder.received.lock().expect("lock").len(),
                20,
                "RF=3 of 3: every member has every trace"
            );
        }
    }

    #[tokio::test]
    async fn one_failure_keeps_quorum_two_do_not() {
        let (push, _) = setup(3, &["a"]);
        assert!(
            push.push("t".into(), (1..=5).map(fragment).collect())
                .await
                .is_ok()
        );
        let (push, _) = setup(3, &["a", "b"]);
        let error = push
            .push("t".into(), (1..=5).map(fragment).collect())
            .await
            .expect_err("no quorum");
        assert!(matches!(error, PushError::Unavailable(_)));
    }
}
