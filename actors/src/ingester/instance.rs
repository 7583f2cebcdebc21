//! One tenant's recent data inside an ingester: live traces (still receiving spans) and the head
//! block (idle traces waiting for the next block cut).

use std::collections::HashMap;

use bytes::Bytes;
use vivace_proto::ids::TraceId;

use crate::distributor::TraceFragment;

/// The fragments of one trace held in memory, encoded.
#[derive(Clone, Debug, Default)]
pub struct HeldTrace {
    pub fragments: Vec<Bytes>,
    pub bytes: u64,
    pub span_count: u64,
    pub start_seconds: u32,
    pub end_seconds: u32,
    pub last_append_nanos: u64,
}

impl HeldTrace {
    fn append(&mut self, fragment: TraceFragment, now_nanos: u64) {
        if self.fragments.is_empty() {
            self.start_seconds = fragment.start_seconds;
            self.end_seconds = fragment.end_seconds;
        } else {
            self.start_seconds = self.start_seconds.min(fragment.start_seconds);
            self.end_seconds = self.end_seconds.max(fragment.end_seconds);
        }
        self.bytes += fragment.trace.len() as u64;
        self.span_count += u64::from(fragment.span_count);
        self.last_append_nanos = now_nanos;
        self.fragments.push(fragment.trace);
    }

    fn merge(&mut self, other: HeldTrace) {
        if self.fragments.is_empty() {
            *self = other;
            return;
        }
        self.start_seconds = self.start_seconds.min(other.start_seconds);
        self.end_seconds = self.end_seconds.max(other.end_seconds);
        self.bytes += other.bytes;
        self.span_count += other.span_count;
        self.last_append_nanos = self.last_append_nanos.max(other.last_append_nanos);
        self.fragments.extend(other.fragments);
    }
}

/// Why a trace was refused by the tenant's limits.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LimitRefusal {
    MaxLiveTraces,
    TraceTooLarge,
}

/// Per-tenant limits enforced by the ingester.
#[derive(Debug, Clone, Copy)]
pub struct TenantLimits {
    /// 0 means unlimited.
    pub max_traces_per_user: usize,
    /// 0 means unlimited.
    pub max_bytes_per_trace: u64,
}

/// Live traces and the head block of one tenant.
#[derive(Debug, Default)]
pub struct TenantInstance {
    live: HashMap<TraceId, HeldTrace>,
    head: HashMap<TraceId, HeldTrace>,
    head_bytes: u64,
    head_started_nanos: Option<u64>,
    /// Search columns of the head block, built on first use and replaced when the head changes.
    head_search: std::sync::Arc<crate::search::recent::LazyBatch>,
}

impl TenantInstance {
    /// Checks the limits for a fragment without changing anything.
    pub fn check(
        &self,
        fragment: &TraceFragment,
        limits: TenantLimits,
    ) -> Result<(), LimitRefusal> {
        let existing = self.live.get(&fragment.trace_id);
        if existing.is_none()
            && limits.max_traces_per_user > 0
            && self.live.len() >= limits.max_traces_per_user
        {
            return Err(LimitRefusal::MaxLiveTraces);
        }
        let held_bytes = existing.map_or(0, |trace| trace.bytes)
            + self
                .head
                .get(&fragment.trace_id)
                .map_or(0, |trace| trace.bytes);
        if limits.max_bytes_per_trace > 0
            && held_bytes + fragment.trace.len() as u64 > limits.max_bytes_per_trace
        {
            return Err(LimitRefusal::TraceTooLarge);
        }
        Ok(())
    }

    /// Adds a fragment to the live traces. Returns whether a new live trace was created.
    pub fn append(&mut self, fragment: TraceFragment, now_nanos: u64) -> bool {
        let mut created = false;
        let trace = self.live.entry(fragment.trace_id).or_insert_with(|| {
            created = true;
            HeldTrace::default()
        });
        trace.append(fragment, now_nanos);
        created
    }

    /// Moves live traces idle since `idle_before_nanos` (or all, when `everything`) to the head block.
    pub fn cut_idle(&mut self, idle_before_nanos: u64, everything: bool, now_nanos: u64) -> usize {
        let idle_ids: Vec<TraceId> = self
            .live
            .iter()
            .filter(|(_, trace)| everything || trace.last_append_nanos <= idle_before_nanos)
            .map(|(trace_id, _)| *trace_id)
            .collect();
        for trace_id in &idle_ids {
            let Some(trace) = self.live.remove(trace_id) else {
                continue;
            };
            self.head_bytes += trace.bytes;
            self.head.entry(*trace_id).or_default().merge(trace);
        }
        if !idle_ids.is_empty() {
            self.head_search = Default::default();
        }
        if !self.head.is_empty() && self.head_started_nanos.is_none() {
            self.head_started_nanos = Some(now_nanos);
        }
        idle_ids.len()
    }

    /// Whether the head block is due: older than `max_age_nanos` or larger than `max_bytes`.
    pub fn head_is_due(&self, now_nanos: u64, max_age_nanos: u64, max_bytes: u64) -> bool {
        let Some(started) = self.head_started_nanos else {
            return false;
        };
        now_nanos.saturating_sub(started) >= max_age_nanos || self.head_bytes >= max_bytes
    }

    /// Takes the head block's traces, leaving it empty.
    pub fn take_head(&mut self) -> (HashMap<TraceId, HeldTrace>, u64) {
        self.head_started_nanos = None;
        self.head_search = Default::default();
        let bytes = std::mem::take(&mut self.head_bytes);
        (std::mem::take(&mut self.head), bytes)
    }

    /// Fragments of a trace held here (live and head).
    pub fn find(&self, trace_id: &TraceId) -> Vec<Bytes> {
        let mut fragments = Vec::new();
        for source in [&self.live, &self.head] {
            if let Some(trace) = source.get(trace_id) {
                fragments.extend(trace.fragments.iter().cloned());
            }
        }
        fragments
    }

    /// Every trace held (live then head), for a WAL checkpoint.
    pub fn held_traces(&self) -> impl Iterator<Item = (&TraceId, &HeldTrace)> {
        self.live.iter().chain(self.head.iter())
    }

    /// Live traces (still receiving spans).
    pub fn live_traces(&self) -> impl Iterator<Item = (&TraceId, &HeldTrace)> {
        self.live.iter()
    }

    /// Traces of the head block, and the cache of its search columns.
    pub fn head_traces(
        &self,
    ) -> (
        impl Iterator<Item = (&TraceId, &HeldTrace)>,
        &std::sync::Arc<crate::search::recent::LazyBatch>,
    ) {
        (self.head.iter(), &self.head_search)
    }

    pub fn live_count(&self) -> usize {
        self.live.len()
    }

    pub fn head_count(&self) -> usize {
        self.head.len()
    }

    pub fn is_empty(&self) -> bool {
        self.live.is_empty() && self.head.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fragment(id: u8, bytes: usize) -> TraceFragment {
        TraceFragment {
            trace_id: [id; 16],
            trace: Bytes::from(vec![0u8; bytes]),
            start_seconds: 10,
            end_seconds: 20,
            span_count: 1,
        }
    }

    #[test]
    fn limits_refuse_new_traces_and_large_traces() {
        let limits = TenantLimits {
            max_traces_per_user: 1,
            max_bytes_per_trace: 100,
        };
        let mut instance = TenantInstance::default();
        assert_eq!(instance.check(&fragment(1, 60), limits), Ok(()));
        assert!(instance.append(fragment(1, 60), 0));
        assert_eq!(
            instance.check(&fragment(2, 10), limits),
            Err(LimitRefusal::MaxLiveTraces)
        );
        assert_eq!(
            instance.check(&fragment(1, 50), limits),
            Err(LimitRefusal::TraceTooLarge)
        );
        assert_eq!(instance.check(&fragment(1, 40), limits), Ok(()));
    }

    #[test]
    fn idle_traces_move_to_head_and_head_becomes_due() {
        let mut instance = TenantInstance::default();
        instance.append(fragment(1, 10), 100);
        instance.append(fragment(2, 10), 500);
        assert_eq!(instance.cut_idle(200, false, 600), 1);
        assert_eq!(instance.live_count(), 1);
        assert_eq!(instance.head_count(), 1);
        assert!(!instance.head_is_due(700, 1_000, 1_000_000));
        assert!(instance.head_is_due(1_600, 1_000, 1_000_000));
        assert!(instance.head_is_due(700, 1_000, 10));
        assert_eq!(instance.find(&[1; 16]).len(), 1);
        let (head, bytes) = instance.take_head();
        assert_eq!(head.len(), 1);
        assert_eq!(bytes, 10);
        assert!(instance.find(&[1; 16]).is_empty());
    }

    #[test]
    fn head_search_cache_is_replaced_when_the_head_changes() {
        let mut instance = TenantInstance::default();
        instance.append(fragment(1, 10), 100);
        let (_, before) = instance.head_traces();
        let before = std::sync::Arc::clone(before);
        assert_eq!(instance.cut_idle(50, false, 200), 0);
        assert!(std::sync::Arc::ptr_eq(&before, instance.head_traces().1));
        assert_eq!(instance.cut_idle(100, false, 200), 1);
        let after_cut = std::sync::Arc::clone(instance.head_traces().1);
        assert!(!std::sync::Arc::ptr_eq(&before, &after_cut));
        instance.take_head();
        assert!(!std::sync::Arc::ptr_eq(
            &after_cut,
            instance.head_traces().1
        ));
    }
}
