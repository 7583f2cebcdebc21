//! The ingester: holds recent traces per tenant, makes pushes durable in its WAL, cuts idle traces
//! into head blocks and head blocks into Parquet blocks that are flushed to object storage.
//!
//! [`Ingester`] is the plain logic (no runtime, no I/O); [`actor::IngesterActor`] adapts it to
//! actix and does the WAL and object-store I/O.

pub mod actor;
pub mod flush;
mod instance;
pub mod service;
pub mod wal_record;

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use vivace_proto::ids::TraceId;
use vivace_proto::tempopb::Trace;

use crate::combine::TraceCombiner;
use crate::distributor::TraceFragment;
use crate::error::TracePushOutcome;
use crate::metrics::{ComponentMetrics, DiscardReason};
use crate::seams::{Clock, IdSource};
pub use instance::{HeldTrace, LimitRefusal, TenantInstance, TenantLimits};
use wal_record::WalRecord;

/// When traces and blocks are cut (Tempo's ingester settings).
#[derive(Debug, Clone)]
pub struct CutSettings {
    pub trace_idle_period: Duration,
    pub max_block_duration: Duration,
    pub max_block_bytes: u64,
    pub flush_check_period: Duration,
    /// How long a flushed block stays answerable here, so that queriers whose block list does
    /// not know it yet still find its traces (`complete_block_timeout`; zero in a single process,
    /// where the block list learns a block the moment it is flushed).
    pub flushed_block_retention: Duration,
}

impl Default for CutSettings {
    fn default() -> Self {
        CutSettings {
            trace_idle_period: Duration::from_secs(5),
            max_block_duration: Duration::from_secs(30 * 60),
            max_block_bytes: 500 * 1024 * 1024,
            flush_check_period: Duration::from_secs(10),
            flushed_block_retention: Duration::ZERO,
        }
    }
}

/// A head block taken for completion: still answerable until it is flushed.
#[derive(Debug)]
pub struct CompletingBlock {
    pub tenant: String,
    pub block_id: uuid::Uuid,
    pub traces: Vec<(TraceId, HeldTrace)>,
    pub bytes: u64,
    /// Search columns of the block, built on the first search that needs them.
    pub search: crate::search::recent::LazyBatch,
}

impl CompletingBlock {
    /// The block's traces combined (duplicate spans removed), in trace-id order, decoded one at a
    /// time as the block encoder streams them.
    pub fn combined_traces(&self) -> impl Iterator<Item = (TraceId, Trace)> + '_ {
        self.traces.iter().map(|(trace_id, held)| {
            let mut combiner = TraceCombiner::new();
            for fragment in &held.fragments {
                combiner.add_encoded(fragment);
            }
            (*trace_id, combiner.finish())
        })
    }

    fn find(&self, trace_id: &TraceId) -> Option<&HeldTrace> {
        self.traces
            .binary_search_by(|(candidate, _)| candidate.cmp(trace_id))
            .ok()
            .map(|index| &self.traces[index].1)
    }
}

/// Traces as their encoded fragments.
pub type HeldFragments = Vec<(TraceId, Vec<Bytes>)>;

/// A snapshot of what a search of recent data reads (cheap: encoded fragments are shared).
#[derive(Debug, Default)]
pub struct SearchSources {
    /// Live traces: their batch is built for every search.
    pub live: HeldFragments,
    /// The head block's cached batch, with its traces when the batch still has to be built.
    pub head: Option<(Arc<crate::search::recent::LazyBatch>, HeldFragments)>,
    pub blocks: Vec<Arc<CompletingBlock>>,
}

impl SearchSources {
    /// Search columns for the snapshot: one batch of the live traces, one of the head block and
    /// one per block (each built once for as long as it does not change). CPU-heavy: run it on a
    /// blocking thread.
    pub fn batches(&self) -> Result<crate::search::recent::RecentData, String> {
        use crate::search::recent::build_batch;
        let of = |traces: &[(TraceId, Vec<Bytes>)]| {
            build_batch(
                traces
                    .iter()
                    .map(|(trace_id, fragments)| (*trace_id, fragments.as_slice())),
            )
        };
        let mut batches = Vec::with_capacity(self.blocks.len() + 2);
        if !self.live.is_empty() {
            batches.push(Arc::new(of(&self.live)?));
        }
        if let Some((cached, traces)) = &self.head {
            batches.push(cached.get_or_build(|| of(traces))?);
        }
        for block in &self.blocks {
            batches.push(block.search.get_or_build(|| {
                build_batch(
                    block
                        .traces
                        .iter()
                        .map(|(trace_id, held)| (*trace_id, held.fragments.as_slice())),
                )
            })?);
        }
        Ok(crate::search::recent::RecentData { batches })
    }
}

/// Largest WAL checkpoint record, in fragment bytes.
const CHECKPOINT_RECORD_BYTES: u64 = 8 * 1024 * 1024;

/// The ingester's state across tenants.
pub struct Ingester {
    cut: CutSettings,
    limits: TenantLimits,
    tenants: BTreeMap<String, TenantInstance>,
    completing: Vec<Arc<CompletingBlock>>,
    /// Flushed blocks kept answerable, with the time they were flushed.
    flushed: Vec<(Arc<CompletingBlock>, u64)>,
    clock: Arc<dyn Clock>,
    ids: Arc<dyn IdSource>,
    metrics: ComponentMetrics,
}

impl Ingester {
    pub fn new(
        cut: CutSettings,
        limits: TenantLimits,
        clock: Arc<dyn Clock>,
        ids: Arc<dyn IdSource>,
        metrics: ComponentMetrics,
    ) -> Self {
        Ingester {
            cut,
            limits,
            tenants: BTreeMap::new(),
            completing: Vec::new(),
            flushed: Vec::new(),
            clock,
            ids,
            metrics,
        }
    }

    /// The cut settings.
    pub fn cut_settings(&self) -> &CutSettings {
        &self.cut
    }

    /// Applies a push: each fragment is accepted or refused by the tenant's limits. Returns the
    /// outcome per fragment and the accepted fragments, which the caller must make durable.
    pub fn push(
        &mut self,
        tenant: &str,
        fragments: Vec<TraceFragment>,
    ) -> (Vec<TracePushOutcome>, Vec<TraceFragment>) {
        let now = self.clock.now_unix_nanos();
        let limits = self.limits;
        let instance = self.tenants.entry(tenant.to_owned()).or_default();
        let mut outcomes = Vec::with_capacity(fragments.len());
        let mut accepted = Vec::with_capacity(fragments.len());
        let mut created = 0;
        for fragment in fragments {
            match instance.check(&fragment, limits) {
                Ok(()) => {
                    created += u64::from(instance.append(fragment.clone(), now));
                    accepted.push(fragment);
                    outcomes.push(TracePushOutcome::Accepted);
                }
                Err(refusal) => {
                    let (outcome, reason) = match refusal {
                        LimitRefusal::MaxLiveTraces => (
                            TracePushOutcome::MaxLiveTraces,
                            DiscardReason::LiveTracesExceeded,
                        ),
                        LimitRefusal::TraceTooLarge => (
                            TracePushOutcome::TraceTooLarge,
                            DiscardReason::TraceTooLarge,
                        ),
                    };
                    self.metrics
                        .record_discarded(tenant, reason, u64::from(fragment.span_count));
                    outcomes.push(outcome);
                }
            }
        }
        self.metrics.record_traces_created(tenant, created);
        self.metrics.set_live_traces(tenant, instance.live_count());
        (outcomes, accepted)
    }

    /// Re-applies fragments read back from the WAL (limits are not enforced again).
    pub fn replay(&mut self, tenant: &str, fragments: Vec<TraceFragment>) {
        let now = self.clock.now_unix_nanos();
        let instance = self.tenants.entry(tenant.to_owned()).or_default();
        for fragment in fragments {
            instance.append(fragment, now);
        }
        self.metrics.set_live_traces(tenant, instance.live_count());
    }

    /// Moves idle live traces (all of them when `everything`) into the head blocks.
    pub fn cut_idle_traces(&mut self, everything: bool) -> usize {
        let now = self.clock.now_unix_nanos();
        let idle_before = now.saturating_sub(self.cut.trace_idle_period.as_nanos() as u64);
        let mut moved = 0;
        for (tenant, instance) in &mut self.tenants {
            moved += instance.cut_idle(idle_before, everything, now);
            self.metrics.set_live_traces(tenant, instance.live_count());
        }
        moved
    }

    /// Takes every head block that is due (all non-empty ones when `force`) for completion.
    pub fn cut_blocks(&mut self, force: bool) -> Vec<Arc<CompletingBlock>> {
        let now = self.clock.now_unix_nanos();
        let max_age = self.cut.max_block_duration.as_nanos() as u64;
        let max_bytes = self.cut.max_block_bytes;
        let mut cut = Vec::new();
        for (tenant, instance) in &mut self.tenants {
            let due = instance.head_is_due(now, max_age, max_bytes)
                || (force && instance.head_count() > 0);
            if !due {
                continue;
            }
            let (head, bytes) = instance.take_head();
            let mut traces: Vec<(TraceId, HeldTrace)> = head.into_iter().collect();
            traces.sort_unstable_by_key(|(trace_id, _)| *trace_id);
            let block = Arc::new(CompletingBlock {
                tenant: tenant.clone(),
                block_id: self.ids.next_uuid(),
                traces,
                bytes,
                search: Default::default(),
            });
            self.metrics.blocks_cut.inc();
            self.completing.push(Arc::clone(&block));
            cut.push(block);
        }
        self.tenants.retain(|_, instance| !instance.is_empty());
        cut
    }

    /// Forgets a completing block once it is safely in object storage (keeping it answerable for
    /// the flushed-block retention), and drops retained blocks that are old enough.
    pub fn block_flushed(&mut self, block_id: uuid::Uuid) {
        let now = self.clock.now_unix_nanos();
        let retain = !self.cut.flushed_block_retention.is_zero();
        let (flushed, still_completing): (Vec<_>, Vec<_>) = self
            .completing
            .drain(..)
            .partition(|block| block.block_id == block_id);
        self.completing = still_completing;
        if retain {
            self.flushed
                .extend(flushed.into_iter().map(|block| (block, now)));
        }
        self.drop_expired_flushed_blocks();
    }

    /// Forgets retained flushed blocks older than the retention.
    pub fn drop_expired_flushed_blocks(&mut self) {
        let now = self.clock.now_unix_nanos();
        let retention = self.cut.flushed_block_retention.as_nanos() as u64;
        self.flushed
            .retain(|(_, flushed_at)| now.saturating_sub(*flushed_at) < retention);
    }

    /// Blocks cut but not yet flushed.
    pub fn completing_blocks(&self) -> &[Arc<CompletingBlock>] {
        &self.completing
    }

    /// Every fragment held for a trace: live, head and completing blocks.
    pub fn find(&self, tenant: &str, trace_id: &TraceId) -> Vec<Bytes> {
        let mut fragments = self
            .tenants
            .get(tenant)
            .map(|instance| instance.find(trace_id))
            .unwrap_or_default();
        let retained = self.flushed.iter().map(|(block, _)| block);
        for block in self
            .completing
            .iter()
            .chain(retained)
            .filter(|block| block.tenant == tenant)
        {
            if let Some(held) = block.find(trace_id) {
                fragments.extend(held.fragments.iter().cloned());
            }
        }
        fragments
    }

    /// What a search of a tenant's recent data reads: its live and head traces (encoded
    /// fragments) and its cut blocks not yet dropped.
    pub fn search_sources(&self, tenant: &str) -> SearchSources {
        let snapshot = |traces: &mut dyn Iterator<Item = (&TraceId, &HeldTrace)>| {
            traces
                .map(|(trace_id, held)| (*trace_id, held.fragments.clone()))
                .collect::<Vec<_>>()
        };
        let (live, head) = match self.tenants.get(tenant) {
            Some(instance) => {
                let live = snapshot(&mut instance.live_traces());
                let (mut head_traces, cached) = instance.head_traces();
                let head_snapshot = if cached.is_built() {
                    Vec::new()
                } else {
                    snapshot(&mut head_traces)
                };
                let head = (instance.head_count() > 0).then(|| (Arc::clone(cached), head_snapshot));
                (live, head)
            }
            None => (Vec::new(), None),
        };
        let retained = self.flushed.iter().map(|(block, _)| block);
        let blocks = self
            .completing
            .iter()
            .chain(retained)
            .filter(|block| block.tenant == tenant)
            .cloned()
            .collect();
        SearchSources { live, head, blocks }
    }

    /// WAL records holding everything in memory except the given blocks, so that WAL segments
    /// older than the checkpoint can be deleted once those blocks are flushed.
    pub fn checkpoint(&self, excluding: &[uuid::Uuid]) -> Vec<WalRecord> {
        let mut records = Vec::new();
        let mut add = |tenant: &str, trace_id: &TraceId, held: &HeldTrace| {
            let needs_new = match records.last() {
                Some((last_tenant, _, bytes)) => {
                    last_tenant != tenant || *bytes >= CHECKPOINT_RECORD_BYTES
                }
                None => true,
            };
            if needs_new {
                records.push((tenant.to_owned(), Vec::new(), 0u64));
            }
            let Some((_, fragments, bytes)) = records.last_mut() else {
                return;
            };
            for encoded in &held.fragments {
                *bytes += encoded.len() as u64;
                fragments.push(TraceFragment {
                    trace_id: *trace_id,
                    trace: encoded.clone(),
                    start_seconds: held.start_seconds,
                    end_seconds: held.end_seconds,
                    span_count: 0,
                });
            }
        };
        for (tenant, instance) in &self.tenants {
            for (trace_id, held) in instance.held_traces() {
                add(tenant, trace_id, held);
            }
        }
        for block in self
            .completing
            .iter()
            .filter(|block| !excluding.contains(&block.block_id))
        {
            for (trace_id, held) in &block.traces {
                add(&block.tenant, trace_id, held);
            }
        }
        records
            .into_iter()
            .map(|(tenant, fragments, _)| WalRecord::from_fragments(&tenant, &fragments))
            .collect()
    }

    /// True when no live trace, head block or unflushed block remains.
    pub fn holds_nothing(&self) -> bool {
        self.completing_blocks().is_empty() && self.tenants.values().all(TenantInstance::is_empty)
    }

    /// Live traces of a tenant.
    pub fn live_traces(&self, tenant: &str) -> usize {
        self.tenants
            .get(tenant)
            .map_or(0, TenantInstance::live_count)
    }
}

#[cfg(test)]
mod tests;
