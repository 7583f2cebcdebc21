use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use prost::Message;
use vivace_proto::otlp::trace::{ResourceSpans, ScopeSpans, Span};
use vivace_proto::tempopb::Trace;

use super::*;
use crate::seams::{ManualClock, SeededIds};

fn fragment(trace: u8, span: u8) -> TraceFragment {
    let encoded = Trace {
        resource_spans: vec![ResourceSpans {
            scope_spans: vec![ScopeSpans {
                spans: vec![Span {
                    trace_id: vec![trace; 16],
                    span_id: vec![span; 8],
                    ..Default::default()
                }],
                ..Default::default()
            }],
            ..Default::default()
        }],
    }
    .encode_to_vec();
    TraceFragment {
        trace_id: [trace; 16],
        trace: Bytes::from(encoded),
        start_seconds: 1,
        end_seconds: 2,
        span_count: 1,
    }
}

fn ingester(clock: &ManualClock, limits: TenantLimits) -> Ingester {
    let cut = CutSettings {
        trace_idle_period: Duration::from_secs(5),
        max_block_duration: Duration::from_secs(60),
        max_block_bytes: 1_000_000,
        flush_check_period: Duration::from_secs(1),
        flushed_block_retention: Duration::ZERO,
    };
    Ingester::new(
        cut,
        limits,
        Arc::new(clock.clone()),
        Arc::new(SeededIds::new(1)),
        ComponentMetrics::default(),
    )
}

const NO_LIMITS: TenantLimits = TenantLimits {
    max_traces_per_user: 0,
    max_bytes_per_trace: 0,
};

#[test]
fn pushes_are_found_until_flushed() {
    let clock = ManualClock::new(1_000_000_000_000);
    let mut ingester = ingester(&clock, NO_LIMITS);
    let (outcomes, accepted) = ingester.push("a", vec![fragment(1, 1), fragment(2, 1)]);
    assert_eq!(outcomes, vec![TracePushOutcome::Accepted; 2]);
    assert_eq!(accepted.len(), 2);
    ingester.push("a", vec![fragment(1, 2)]);
    assert_eq!(ingester.find("a", &[1; 16]).len(), 2);
    assert!(
        ingester.find("b", &[1; 16]).is_empty(),
        "tenants are isolated"
    );

    clock.advance(Duration::from_secs(6));
    assert_eq!(ingester.cut_idle_traces(false), 2);
    assert!(ingester.cut_blocks(false).is_empty(), "head not due yet");
    assert_eq!(ingester.find("a", &[1; 16]).len(), 2, "head is searchable");

    clock.advance(Duration::from_secs(61));
    let blocks = ingester.cut_blocks(false);
    assert_eq!(blocks.len(), 1);
    assert_eq!(
        ingester.find("a", &[1; 16]).len(),
        2,
        "completing block is searchable"
    );
    let combined: Vec<_> = blocks[0].combined_traces().collect();
    assert_eq!(combined.len(), 2);
    assert_eq!(
        combined
            .iter()
            .find(|(id, _)| *id == [1; 16])
            .map(|(_, t)| t.span_count()),
        Some(2)
    );

    ingester.block_flushed(blocks[0].block_id);
    assert!(ingester.find("a", &[1; 16]).is_empty());
}

#[test]
fn limits_refuse_per_trace() {
    let clock = ManualClock::new(0);
    let limits = TenantLimits {
        max_traces_per_user: 1,
        max_bytes_per_trace: 0,
    };
    let mut ingester = ingester(&clock, limits);
    let (outcomes, accepted) =
        ingester.push("a", vec![fragment(1, 1), fragment(2, 1), fragment(1, 2)]);
    assert_eq!(
        outcomes,
        vec![
            TracePushOutcome::Accepted,
            TracePushOutcome::MaxLiveTraces,
            TracePushOutcome::Accepted
        ]
    );
    assert_eq!(accepted.len(), 2);
    assert_eq!(ingester.live_traces("a"), 1);
}

#[test]
fn checkpoint_holds_everything_not_being_flushed() {
    let clock = ManualClock::new(0);
    let mut ingester = ingester(&clock, NO_LIMITS);
    ingester.push("a", vec![fragment(1, 1)]);
    ingester.push("b", vec![fragment(2, 1)]);
    ingester.cut_idle_traces(true);
    let blocks = ingester.cut_blocks(true);
    assert_eq!(blocks.len(), 2);
    ingester.push("a", vec![fragment(3, 1)]);

    let excluded: Vec<uuid::Uuid> = blocks.iter().map(|block| block.block_id).collect();
    let records = ingester.checkpoint(&excluded);
    let fragments: usize = records.iter().map(|record| record.traces.len()).sum();
    assert_eq!(fragments, 1, "only the live trace");

    let all = ingester.checkpoint(&[]);
    let mut replayed = ingester_from_records(&clock, &all);
    for id in [1u8, 2, 3] {
        let tenant = if id == 2 { "b" } else { "a" };
        assert_eq!(
            replayed.find(tenant, &[id; 16]).len(),
            1,
            "trace {id} survives a checkpoint replay"
        );
    }
    replayed.cut_idle_traces(true);
    assert_eq!(replayed.cut_blocks(true).len(), 2);
}

fn ingester_from_records(clock: &ManualClock, records: &[WalRecord]) -> Ingester {
    let mut replayed = ingester(clock, NO_LIMITS);
    for record in records {
        let (tenant, fragments) = WalRecord::decode_payload(record.to_payload()).expect("decodes");
        replayed.replay(&tenant, fragments);
    }
    replayed
}

#[test]
fn flushed_blocks_stay_answerable_for_the_retention() {
    let clock = ManualClock::new(1_000_000_000_000);
    let mut ingester = ingester(&clock, NO_LIMITS);
    ingester.cut.flushed_block_retention = Duration::from_secs(30);
    ingester.push("a", vec![fragment(7, 1)]);
    ingester.cut_idle_traces(true);
    let blocks = ingester.cut_blocks(true);
    assert_eq!(blocks.len(), 1);
    ingester.block_flushed(blocks[0].block_id);
    assert!(ingester.completing_blocks().is_empty());
    assert!(
        ingester.holds_nothing(),
        "a retained block is not pending work"
    );
    assert_eq!(ingester.find("a", &[7; 16]).len(), 1, "still answerable");
    assert!(
        ingester.checkpoint(&[]).is_empty(),
        "flushed data is not checkpointed"
    );
    clock.advance(Duration::from_secs(31));
    ingester.drop_expired_flushed_blocks();
    assert!(
        ingester.find("a", &[7; 16]).is_empty(),
        "dropped after the retention"
    );
}
