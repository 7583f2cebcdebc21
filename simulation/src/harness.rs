//! One run: a cluster of simulated ingesters behind the real distributor replication and the real
//! querier's recent-data read, driven step by step from a seed. A safety phase injects faults
//! (crashes within the budget of RF − quorum down replicas, partitions, lost messages, failing
//! fsyncs) and checks the invariants as it goes; a liveness phase heals everything, resends
//! what was refused and checks that every acknowledged span is there, exactly once.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::atomic::Ordering;
use std::sync::{Arc, Mutex, RwLock};
use std::time::Duration;

use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use vivace_actors::blocklist::BlockList;
use vivace_actors::combine::TraceCombiner;
use vivace_actors::distributor::{PushTarget, ReplicatedPush, split_by_trace};
use vivace_actors::error::TracePushOutcome;
use vivace_actors::metrics::ComponentMetrics;
use vivace_actors::metrics::ReplicationMetrics;
use vivace_actors::querier::{FindMode, FindRequest, Querier, RingRecentTraces};
use vivace_actors::remote::IngesterLink;
use vivace_actors::seams::ManualClock;
use vivace_cache::NoCache;
use vivace_ring::{IngesterState, Member, Ring, quorum};
use vivace_storage::backend::{BlockStore, ObjectStoreBackend};

use crate::invariants::{Invariant, Violation};
use crate::log::EventLog;
use crate::node::{Ledger, Network, SimIngester};
use crate::options::SimOptions;
use crate::run::Summary;
use crate::store::FaultyStore;
use crate::workload::{Batch, Oracle, SpanId, TraceId, generate};

const TENANT: &str = "sim";
/// Resends of a refused batch in the liveness phase.
const LIVENESS_RETRIES: usize = 3;

pub(crate) struct Sim {
    options: SimOptions,
    rng: StdRng,
    clock: ManualClock,
    log: Arc<EventLog>,
    ledger: Arc<Ledger>,
    ingesters: Vec<Arc<SimIngester>>,
    network: Arc<Network>,
    generations: Vec<u64>,
    crashed_at: BTreeMap<usize, u64>,
    ring: Arc<RwLock<Ring>>,
    push: ReplicatedPush,
    querier: Querier,
    store: Arc<dyn BlockStore>,
    faulty_store: Arc<FaultyStore>,
    blocklist: Arc<BlockList>,
    /// Spans in flushed blocks.
    in_store: BTreeMap<TraceId, BTreeSet<SpanId>>,
    oracle: Oracle,
    /// Per ingester: the spans it stored durably (its WAL append succeeded).
    stored: BTreeMap<String, BTreeMap<TraceId, BTreeSet<SpanId>>>,
    summary: Summary,
    step: u64,
}

pub(crate) fn span_ids(fragments: &[bytes::Bytes]) -> (BTreeSet<SpanId>, usize) {
    let mut combiner = TraceCombiner::new();
    for fragment in fragments {
        combiner.add_encoded(fragment);
    }
    let trace = combiner.finish();
    let mut ids = BTreeSet::new();
    let mut count = 0;
    for resource in &trace.resource_spans {
        for scope in &resource.scope_spans {
            for span in &scope.spans {
                count += 1;
                if let Ok(id) = <SpanId>::try_from(span.span_id.as_slice()) {
                    ids.insert(id);
                }
            }
        }
    }
    (ids, count)
}

impl Sim {
    pub(crate) fn new(options: SimOptions, log: Arc<EventLog>) -> Sim {
        let mut rng = StdRng::seed_from_u64(options.seed);
        let clock = ManualClock::new(1_700_000_000_000_000_000);
        let network = Arc::new(Network {
            rng: Mutex::new(StdRng::seed_from_u64(rng.random())),
            drop_rate: options.drop_rate,
            healed: std::sync::atomic::AtomicBool::new(false),
        });
        let ledger: Arc<Ledger> = Arc::default();
        let mut ingesters = Vec::new();
        let mut links: std::collections::HashMap<String, Arc<dyn IngesterLink>> =
            std::collections::HashMap::new();
        for index in 0..options.ingesters {
            let id = format!("ingester-{index}");
            let node = Arc::new(SimIngester::new(
                id.clone(),
                clock.clone(),
                rng.random(),
                Arc::clone(&network),
                Arc::clone(&ledger),
                Arc::clone(&log),
            ));
            links.insert(id, node.clone());
            ingesters.push(node);
        }
        let links = Arc::new(links);
        let ring = Arc::new(RwLock::new(Ring::new(options.replication_factor)));
        let push = ReplicatedPush::new(
            Arc::clone(&ring),
            links.clone(),
            ReplicationMetrics::default(),
        );
        let reader = RingRecentTraces::new(Arc::clone(&ring), links);
        let faulty_store = Arc::new(FaultyStore::new(
            Arc::new(ObjectStoreBackend::in_memory()),
            // Its own stream, so adding store faults left every other draw of a seed unchanged.
            StdRng::seed_from_u64(options.seed.rotate_left(29)),
            options.store_error_rate,
        ));
        let store: Arc<dyn BlockStore> = faulty_store.clone();
        let blocklist = Arc::new(BlockList::new());
        let querier = Querier::new(
            Arc::clone(&store),
            Arc::new(NoCache),
            Arc::clone(&blocklist),
            Arc::new(reader),
            ComponentMetrics::default(),
        );
        Sim {
            generations: vec![0; options.ingesters],
            options,
            rng,
            clock,
            log,
            ledger,
            ingesters,
            network,
            crashed_at: BTreeMap::new(),
            ring,
            push,
            querier,
            store,
            faulty_store,
            blocklist,
            in_store: BTreeMap::new(),
            oracle: Oracle::default(),
            stored: BTreeMap::new(),
            summary: Summary::default(),
            step: 0,
        }
    }

    fn count(&mut self, fault: &'static str) {
        *self.summary.faults.entry(fault).or_insert(0) += 1;
    }

    fn checked(&mut self, invariant: Invariant) {
        *self.summary.checks.entry(invariant.id()).or_insert(0) += 1;
    }

    fn violate(&mut self, invariant: Invariant, detail: String) {
        self.log.event(
            "harness",
            &format!("VIOLATION {}: {detail}", invariant.id()),
        );
        self.summary
            .violations
            .push(Violation { invariant, detail });
    }

    fn down_count(&self) -> usize {
        self.crashed_at.len()
            + self
                .ingesters
                .iter()
                .enumerate()
                .filter(|(index, node)| {
                    !self.crashed_at.contains_key(index) && node.partitioned.load(Ordering::SeqCst)
                })
                .count()
    }

    fn down_budget(&self) -> usize {
        let factor = self.options.replication_factor;
        factor - quorum(factor)
    }

    /// The ring as the failure detector would leave it: crashed members dropped after the
    /// detection delay, running ones ACTIVE.
    fn update_ring(&mut self) {
        let Ok(mut ring) = self.ring.write() else {
            return;
        };
        for (index, node) in self.ingesters.iter().enumerate() {
            match self.crashed_at.get(&index) {
                Some(crashed) if self.step - crashed >= self.options.detection_steps => {
                    ring.remove(&node.id);
                }
                Some(_) => {}
                None => ring.upsert(Member {
                    id: node.id.clone(),
                    grpc_address: String::new(),
                    state: IngesterState::Active,
                    zone: String::new(),
                }),
            }
        }
    }

    async fn restart(&mut self, index: usize) {
        self.generations[index] += 1;
        let node = Arc::clone(&self.ingesters[index]);
        if let Err(error) = node.start(self.generations[index]).await {
            if node.syncs_failing() {
                // A process on a failing disk cannot start; it is tried again later.
                self.log
                    .event(&node.id, &format!("restart failed: {error}"));
                self.count("restart-failed");
                return;
            }
            self.violate(
                Invariant::ReplayKeepsAcked,
                format!("{} cannot restart: {error}", node.id),
            );
            return;
        }
        self.crashed_at.remove(&index);
        self.count("restart");
        let stored = self.stored.get(&node.id).cloned().unwrap_or_default();
        for (trace_id, spans) in stored {
            self.checked(Invariant::ReplayKeepsAcked);
            let held = node.holds(TENANT, &trace_id).await.unwrap_or_default();
            let (found, _) = span_ids(&held);
            let missing = spans.difference(&found).count();
            if missing > 0 {
                self.violate(
                    Invariant::ReplayKeepsAcked,
                    format!(
                        "{} lost {missing} synced spans of trace {} in its restart",
                        node.id,
                        hex(&trace_id)
                    ),
                );
            }
        }
    }

    /// Ingesters whose WAL failed exit (the node's fail-stop reaction); an orchestrator restarts
    /// them later like any crashed process.
    async fn exit_failed_wals(&mut self) {
        for index in 0..self.ingesters.len() {
            let node = Arc::clone(&self.ingesters[index]);
            if !self.crashed_at.contains_key(&index) && node.wal_failed().await {
                node.crash().await;
                self.crashed_at.insert(index, self.step);
                self.count("wal-fail-stop-exit");
            }
        }
    }

    async fn inject_faults(&mut self) {
        for index in 0..self.ingesters.len() {
            if self.crashed_at.contains_key(&index)
                && self.rng.random_bool(self.options.restart_probability)
            {
                self.restart(index).await;
            }
        }
        if self.down_count() < self.down_budget()
            && self.rng.random_bool(self.options.crash_probability)
        {
            let index = self.rng.random_range(0..self.ingesters.len());
            if !self.crashed_at.contains_key(&index)
                && !self.ingesters[index].partitioned.load(Ordering::SeqCst)
            {
                self.ingesters[index].crash().await;
                self.crashed_at.insert(index, self.step);
                self.count("crash");
            }
        }
        for index in 0..self.ingesters.len() {
            let node = Arc::clone(&self.ingesters[index]);
            if node.partitioned.load(Ordering::SeqCst) && self.rng.random_bool(0.3) {
                node.partitioned.store(false, Ordering::SeqCst);
                self.log.event(&node.id, "partition healed");
            }
        }
        if self.down_count() < self.down_budget()
            && self.rng.random_bool(self.options.partition_probability)
        {
            let index = self.rng.random_range(0..self.ingesters.len());
            if !self.crashed_at.contains_key(&index) {
                self.ingesters[index]
                    .partitioned
                    .store(true, Ordering::SeqCst);
                self.log.event(&self.ingesters[index].id, "partitioned");
                self.count("partition");
            }
        }
        for node in &self.ingesters {
            let failing = self.rng.random_bool(self.options.fsync_failure_probability);
            node.fail_syncs(failing);
            if failing {
                self.log.event(&node.id, "fsyncs fail this step");
                *self.summary.faults.entry("fsync-failure").or_insert(0) += 1;
            }
        }
        self.update_ring();
    }

    /// Pushes a batch through the real replication; returns whether every trace was acknowledged.
    async fn send(&mut self, batch: &Batch) -> bool {
        self.oracle.record_sent(batch);
        let split = match split_by_trace(batch.to_otlp("sim"), 2048) {
            Ok(split) => split,
            Err(error) => {
                self.violate(
                    Invariant::ReadExact,
                    format!("workload refused: {}", error.message),
                );
                return true;
            }
        };
        self.ledger
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
            .clear();
        let trace_ids: Vec<TraceId> = split
            .fragments
            .iter()
            .map(|fragment| fragment.trace_id)
            .collect();
        let outcome = self.push.push(TENANT.to_owned(), split.fragments).await;
        let ledger = std::mem::take(
            &mut *self
                .ledger
                .lock()
                .unwrap_or_else(|poisoned| poisoned.into_inner()),
        );
        for (trace_id, members) in &ledger {
            for member in members {
                let spans = self
                    .stored
                    .entry(member.clone())
                    .or_default()
                    .entry(*trace_id)
                    .or_default();
                spans.extend(
                    batch
                        .spans
                        .iter()
                        .filter(|(span_trace, _)| span_trace == trace_id)
                        .map(|(_, span)| *span),
                );
            }
        }
        let outcomes = match outcome {
            Ok(outcomes) => outcomes,
            Err(error) => {
                self.log
                    .event("distributor", &format!("push refused: {error}"));
                return false;
            }
        };
        let needed = quorum(self.options.replication_factor);
        let mut all_acked = true;
        for (trace_id, outcome) in trace_ids.iter().zip(outcomes) {
            if outcome != TracePushOutcome::Accepted {
                all_acked = false;
                continue;
            }
            self.checked(Invariant::QuorumAck);
            let replicas = ledger.get(trace_id).map_or(0, BTreeSet::len);
            if replicas < needed {
                self.violate(
                    Invariant::QuorumAck,
                    format!(
                        "trace {} acknowledged with {replicas} of {needed} replicas",
                        hex(trace_id)
                    ),
                );
            }
            self.oracle.record_acked(batch, trace_id);
        }
        self.log.event(
            "distributor",
            &format!("push acked traces={}", trace_ids.len()),
        );
        all_acked
    }

    /// Reads a trace through the real querier path; checks what it may and must contain.
    async fn check_trace(&mut self, trace_id: TraceId, healed: bool) {
        let acked = self
            .oracle
            .acked
            .get(&trace_id)
            .cloned()
            .unwrap_or_default();
        let sent = self.oracle.sent.get(&trace_id).cloned().unwrap_or_default();
        let mut must_have = BTreeSet::new();
        for span in &acked {
            let reachable_holder = self.ingesters.iter().enumerate().any(|(index, node)| {
                !self.crashed_at.contains_key(&index)
                    && !node.partitioned.load(Ordering::SeqCst)
                    && self
                        .stored
                        .get(&node.id)
                        .and_then(|traces| traces.get(&trace_id))
                        .is_some_and(|spans| spans.contains(span))
            });
            if reachable_holder {
                must_have.insert(*span);
            }
        }
        let invariant = if healed {
            Invariant::AckedReadableHealed
        } else {
            Invariant::AckedReadableDegraded
        };
        for span in &acked {
            if self
                .in_store
                .get(&trace_id)
                .is_some_and(|spans| spans.contains(span))
            {
                must_have.insert(*span);
            }
        }
        let result = self
            .querier
            .find_trace_by_id(&FindRequest {
                tenant: TENANT.to_owned(),
                trace_id,
                mode: FindMode::All,
                start_seconds: None,
                end_seconds: None,
                block_range: None,
            })
            .await;
        if !result.failed_blocks.is_empty() && (!healed || self.down_count() > self.down_budget()) {
            // Not a silent loss: the read says what it could not read (an injected store error or
            // too many replicas down). After healing, a failure is checked like any other read.
            self.count("reported-read-failure");
            return;
        }
        let fragments = vec![bytes::Bytes::from(prost::Message::encode_to_vec(
            &result.trace,
        ))];
        let (found, count) = span_ids(&fragments);
        self.summary.checked_spans += must_have.len() as u64;
        self.checked(invariant);
        let missing: Vec<&SpanId> = must_have.difference(&found).collect();
        if !missing.is_empty() {
            self.violate(
                invariant,
                format!(
                    "trace {}: {} of {} acknowledged spans missing ({} of them in flushed blocks; read failures: {:?})",
                    hex(&trace_id),
                    missing.len(),
                    acked.len(),
                    missing
                        .iter()
                        .filter(|span| self
                            .in_store
                            .get(&trace_id)
                            .is_some_and(|spans| spans.contains(**span)))
                        .count(),
                    result.failed_blocks
                ),
            );
        }
        self.checked(Invariant::ReadExact);
        if count != found.len() || !found.is_subset(&sent) {
            self.violate(
                Invariant::ReadExact,
                format!(
                    "trace {}: {count} spans read, {} distinct, {} never sent",
                    hex(&trace_id),
                    found.len(),
                    found.difference(&sent).count()
                ),
            );
        }
    }

    pub(crate) async fn run(mut self) -> Summary {
        let batches = generate(&self.options, &mut self.rng);
        for index in 0..self.ingesters.len() {
            self.restart(index).await;
        }
        *self.summary.faults.entry("restart").or_insert(0) = 0;
        self.update_ring();
        let mut refused = Vec::new();
        for batch in batches {
            self.step += 1;
            self.log.set_step(self.step);
            self.inject_faults().await;
            if !self.send(&batch).await {
                refused.push(batch);
            }
            self.exit_failed_wals().await;
            if self.rng.random_bool(self.options.cut_probability) {
                self.clock.advance(Duration::from_secs(6));
                for node in &self.ingesters {
                    node.tick().await;
                }
            }
            for index in 0..self.ingesters.len() {
                if self.crashed_at.contains_key(&index)
                    || !self.rng.random_bool(self.options.flush_probability)
                {
                    continue;
                }
                let node = Arc::clone(&self.ingesters[index]);
                let durable = node.flush(Arc::clone(&self.store), &self.blocklist).await;
                if !durable.is_empty() {
                    self.count("flush");
                }
                for (trace_id, spans) in durable {
                    if let Some(stored) = self
                        .stored
                        .get_mut(&node.id)
                        .and_then(|traces| traces.get_mut(&trace_id))
                    {
                        stored.retain(|span| !spans.contains(span));
                    }
                    self.in_store.entry(trace_id).or_default().extend(spans);
                }
            }
            self.clock.advance(Duration::from_secs(1));
            let acked: Vec<TraceId> = self.oracle.acked.keys().copied().collect();
            for _ in 0..acked.len().min(3) {
                let trace_id = acked[self.rng.random_range(0..acked.len())];
                self.check_trace(trace_id, false).await;
            }
        }
        // Liveness: heal everything, resend what was refused, check everything.
        self.step += 1;
        self.log.set_step(self.step);
        self.log.event("harness", "heal");
        self.network.healed.store(true, Ordering::SeqCst);
        self.faulty_store.healed.store(true, Ordering::SeqCst);
        for node in &self.ingesters {
            node.partitioned.store(false, Ordering::SeqCst);
            node.fail_syncs(false);
        }
        // A WAL that failed in the last step has not made its node exit yet; it does now, so the
        // restarts below replay it.
        self.exit_failed_wals().await;
        let crashed: Vec<usize> = self.crashed_at.keys().copied().collect();
        for index in crashed {
            self.restart(index).await;
        }
        self.update_ring();
        for batch in refused {
            let mut acknowledged = false;
            for _ in 0..LIVENESS_RETRIES {
                if self.send(&batch).await {
                    acknowledged = true;
                    break;
                }
            }
            self.checked(Invariant::LivenessConverges);
            if !acknowledged {
                self.violate(
                    Invariant::LivenessConverges,
                    format!(
                        "a batch of {} spans is still refused after healing",
                        batch.spans.len()
                    ),
                );
            }
        }
        let sent: Vec<TraceId> = self.oracle.sent.keys().copied().collect();
        for trace_id in sent {
            self.check_trace(trace_id, true).await;
        }
        self.summary.simulated_seconds = self.step;
        let store_errors = self.faulty_store.injected.load(Ordering::SeqCst);
        if store_errors > 0 {
            self.summary.faults.insert("store-error", store_errors);
        }
        self.summary.acked_spans = self.oracle.acked_spans();
        let (digest, events) = self.log.digest();
        self.summary.digest = digest;
        self.summary.events = events;
        self.summary
    }
}

pub(crate) fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|byte| format!("{byte:02x}")).collect()
}
