//! A simulated ingester: the real [`Ingester`] logic and the real [`Wal`] on an in-memory disk
//! that forgets unsynced bytes when the node crashes. Its link applies the network faults of the
//! step (partition, lost request, lost answer) and records, in the ledger, which replicas stored
//! which traces, for the quorum and replay invariants.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};

use async_trait::async_trait;
use bytes::Bytes;
use rand::Rng;
use rand::rngs::StdRng;
use vivace_actors::blocklist::BlockList;
use vivace_actors::distributor::{PushTarget, TraceFragment};
use vivace_actors::error::{PushError, TracePushOutcome};
use vivace_actors::ingester::flush::FlushRound;
use vivace_actors::ingester::wal_record::WalRecord;
use vivace_actors::ingester::{CutSettings, Ingester, TenantLimits};
use vivace_actors::metrics::ComponentMetrics;
use vivace_actors::querier::RecentTraces;
use vivace_actors::seams::{InlinePool, ManualClock, SeededIds};
use vivace_proto::ids::TraceId;
use vivace_storage::backend::BlockStore;
use vivace_storage::block::BlockConfig;
use vivace_storage::wal::{MemWalDisk, Wal, WalConfig};

use crate::log::EventLog;

/// Shared fault state of the network.
pub struct Network {
    pub rng: Mutex<StdRng>,
    pub drop_rate: f64,
    /// Set in the liveness phase: nothing is lost any more.
    pub healed: AtomicBool,
}

impl Network {
    fn lose(&self) -> bool {
        if self.healed.load(Ordering::SeqCst) {
            return false;
        }
        let mut rng = self
            .rng
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        self.drop_rate > 0.0 && rng.random_bool(self.drop_rate)
    }
}

/// Which replicas stored which trace during the current push.
pub type Ledger = Mutex<BTreeMap<TraceId, BTreeSet<String>>>;

struct Running {
    logic: Ingester,
    wal: Wal,
}

/// One ingester.
pub struct SimIngester {
    pub id: String,
    disk: Arc<MemWalDisk>,
    running: tokio::sync::Mutex<Option<Running>>,
    pub partitioned: AtomicBool,
    syncs_failing: AtomicBool,
    clock: ManualClock,
    seed: u64,
    network: Arc<Network>,
    ledger: Arc<Ledger>,
    log: Arc<EventLog>,
}

fn cut_settings() -> CutSettings {
    CutSettings {
        trace_idle_period: std::time::Duration::from_secs(5),
        max_block_duration: std::time::Duration::from_secs(20),
        max_block_bytes: 1 << 30,
        flush_check_period: std::time::Duration::from_secs(1),
        flushed_block_retention: std::time::Duration::ZERO,
    }
}

const NO_LIMITS: TenantLimits = TenantLimits {
    max_traces_per_user: 0,
    max_bytes_per_trace: 0,
};

impl SimIngester {
    pub fn new(
        id: String,
        clock: ManualClock,
        seed: u64,
        network: Arc<Network>,
        ledger: Arc<Ledger>,
        log: Arc<EventLog>,
    ) -> Self {
        SimIngester {
            id,
            disk: Arc::new(MemWalDisk::new()),
            running: tokio::sync::Mutex::new(None),
            partitioned: AtomicBool::new(false),
            syncs_failing: AtomicBool::new(false),
            clock,
            seed,
            network,
            ledger,
            log,
        }
    }

    /// Opens the WAL and replays it into a fresh ingester (a start or a restart).
    pub async fn start(&self, generation: u64) -> Result<usize, String> {
        let (wal, report) = Wal::open(self.disk.clone(), WalConfig::default())
            .map_err(|error| format!("wal open failed: {error}"))?;
        let mut logic = Ingester::new(
            cut_settings(),
            NO_LIMITS,
            Arc::new(self.clock.clone()),
            Arc::new(SeededIds::new(self.seed ^ generation)),
            ComponentMetrics::default(),
        );
        let records = report.records.len();
        for record in report.records {
            let (tenant, fragments) = WalRecord::decode_payload(record.payload)
                .map_err(|error| format!("undecodable wal record: {error}"))?;
            logic.replay(&tenant, fragments);
        }
        *self.running.lock().await = Some(Running { logic, wal });
        self.log.event(
            &self.id,
            &format!("start generation={generation} replayed_records={records}"),
        );
        Ok(records)
    }

    /// Loses the process: memory, and every WAL byte not synced.
    pub async fn crash(&self) {
        let running = self.running.lock().await.take();
        drop(running);
        self.disk.crash();
        self.log.event(&self.id, "crash");
    }

    /// True when this ingester's WAL stopped after an I/O error: the node process exits then
    /// (see the node's lifecycle), which the harness models as a crash.
    pub async fn wal_failed(&self) -> bool {
        self.running
            .lock()
            .await
            .as_ref()
            .is_some_and(|running| running.wal.has_failed())
    }

    pub fn fail_syncs(&self, failing: bool) {
        self.syncs_failing.store(failing, Ordering::SeqCst);
        self.disk.fail_syncs(failing);
    }

    /// Whether the disk currently fails every sync.
    pub fn syncs_failing(&self) -> bool {
        self.syncs_failing.load(Ordering::SeqCst)
    }

    /// Cuts idle traces and due head blocks, as the actor's tick does.
    pub async fn tick(&self) {
        if let Some(running) = self.running.lock().await.as_mut() {
            running.logic.cut_idle_traces(false);
            running.logic.cut_blocks(false);
        }
    }

    /// Cuts everything and runs a flush round (the actor's code); returns the spans now in
    /// object storage, by trace.
    pub async fn flush(
        &self,
        store: Arc<dyn BlockStore>,
        blocklist: &BlockList,
    ) -> BTreeMap<TraceId, BTreeSet<[u8; 8]>> {
        let mut durable: BTreeMap<TraceId, BTreeSet<[u8; 8]>> = BTreeMap::new();
        let mut guard = self.running.lock().await;
        let Some(running) = guard.as_mut() else {
            return durable;
        };
        running.logic.cut_idle_traces(true);
        running.logic.cut_blocks(true);
        let Some(round) = FlushRound::start(&running.logic, &running.wal) else {
            return durable;
        };
        let mut contents: BTreeMap<uuid::Uuid, Vec<(TraceId, Vec<Bytes>)>> = BTreeMap::new();
        for block in round.blocks() {
            let traces = block
                .traces
                .iter()
                .map(|(trace_id, held)| (*trace_id, held.fragments.clone()))
                .collect();
            contents.insert(block.block_id, traces);
        }
        let flushed = round
            .run(
                store,
                BlockConfig::default(),
                &ComponentMetrics::default(),
                &InlinePool,
            )
            .await;
        for meta in flushed {
            running.logic.block_flushed(meta.block_id);
            for (trace_id, fragments) in contents.remove(&meta.block_id).unwrap_or_default() {
                durable
                    .entry(trace_id)
                    .or_default()
                    .extend(crate::harness::span_ids(&fragments).0);
            }
            self.log.event(
                &self.id,
                &format!("block flushed traces={}", meta.total_objects),
            );
            blocklist.add(meta);
        }
        durable
    }

    /// What this ingester holds of a trace (bypassing the network).
    pub async fn holds(&self, tenant: &str, trace_id: &TraceId) -> Option<Vec<Bytes>> {
        let guard = self.running.lock().await;
        let running = guard.as_ref()?;
        Some(running.logic.find(tenant, trace_id))
    }
}

#[async_trait]
impl PushTarget for SimIngester {
    async fn push(
        &self,
        tenant: String,
        fragments: Vec<TraceFragment>,
    ) -> Result<Vec<TracePushOutcome>, PushError> {
        if self.partitioned.load(Ordering::SeqCst) {
            return Err(PushError::Unavailable(format!(
                "{} is partitioned",
                self.id
            )));
        }
        // Both losses are drawn before any await, so the draws happen in the deterministic order
        // in which the distributor first polls its replica pushes.
        let request_lost = self.network.lose();
        let answer_lost = self.network.lose();
        if request_lost {
            self.log.event(&self.id, "request lost");
            return Err(PushError::Unavailable(format!(
                "request to {} lost",
                self.id
            )));
        }
        if answer_lost {
            self.log.event(&self.id, "answer will be lost");
        }
        let mut guard = self.running.lock().await;
        let Some(running) = guard.as_mut() else {
            return Err(PushError::Unavailable(format!("{} is down", self.id)));
        };
        let (outcomes, accepted) = running.logic.push(&tenant, fragments);
        if !accepted.is_empty() {
            let payload = WalRecord::from_fragments(&tenant, &accepted).to_payload();
            running.wal.append(payload).await.map_err(|error| {
                PushError::Internal(format!("{}: failed to write to the wal: {error}", self.id))
            })?;
            let mut ledger = self
                .ledger
                .lock()
                .unwrap_or_else(|poisoned| poisoned.into_inner());
            for fragment in &accepted {
                ledger
                    .entry(fragment.trace_id)
                    .or_default()
                    .insert(self.id.clone());
            }
        }
        drop(guard);
        if answer_lost {
            return Err(PushError::Unavailable(format!(
                "answer from {} lost",
                self.id
            )));
        }
        Ok(outcomes)
    }
}

#[async_trait]
impl RecentTraces for SimIngester {
    async fn find_recent(&self, tenant: &str, trace_id: &TraceId) -> Result<Vec<Bytes>, String> {
        if self.partitioned.load(Ordering::SeqCst) {
            return Err(format!("{} is partitioned", self.id));
        }
        self.holds(tenant, trace_id)
            .await
            .ok_or_else(|| format!("{} is down", self.id))
    }
}
