//! The distributor, ingester and querier actors wired as in monolithic mode, over an in-memory WAL
//! disk and object store: pushes are durable, flushed to blocks, found by ID, and survive a crash.

use std::sync::Arc;
use std::time::Duration;

use actix::prelude::*;
use vivace_actors::blocklist::BlockList;
use vivace_actors::distributor::actor::{DistributorActor, PushTraces};
use vivace_actors::distributor::{Distributor, DistributorSettings, RateLimit, RateStrategy};
use vivace_actors::error::PushError;
use vivace_actors::ingester::actor::{FlushAll, IngesterActor};
use vivace_actors::ingester::wal_record::WalRecord;
use vivace_actors::ingester::{CutSettings, Ingester, TenantLimits};
use vivace_actors::local::LocalIngester;
use vivace_actors::metrics::ComponentMetrics;
use vivace_actors::querier::{FindMode, FindRequest, Querier, SearchJob, SearchTarget, TagsJob};
use vivace_actors::seams::{Clock, SeededIds, SystemClock};
use vivace_cache::{Cache, MemoryCache};
use vivace_proto::cluster::TagsQuery;
use vivace_proto::otlp::trace::{ResourceSpans, ScopeSpans, Span};
use vivace_proto::tempopb_search::{SearchRequest, SearchResponse};
use vivace_storage::backend::{BlockStore, ObjectStoreBackend};
use vivace_storage::block::list_blocks;
use vivace_storage::wal::{MemWalDisk, Wal, WalConfig};

struct Node {
    distributor: Addr<DistributorActor>,
    ingester: Addr<IngesterActor>,
    querier: Querier,
    blocklist: Arc<BlockList>,
}

fn start_node(disk: &MemWalDisk, store: &Arc<dyn BlockStore>, limits: TenantLimits) -> Node {
    let clock: Arc<dyn Clock> = Arc::new(SystemClock);
    let metrics = ComponentMetrics::default();
    let (wal, report) = Wal::open(Arc::new(disk.clone()), WalConfig::default()).expect("wal opens");
    let cut = CutSettings {
        trace_idle_period: Duration::from_millis(50),
        max_block_duration: Duration::from_secs(3600),
        max_block_bytes: u64::MAX,
        flush_check_period: Duration::from_millis(20),
        flushed_block_retention: Duration::ZERO,
    };
    let mut logic = Ingester::new(
        cut,
        limits,
        Arc::clone(&clock),
        Arc::new(SeededIds::new(3)),
        metrics.clone(),
    );
    for record in report.records {
        let (tenant, fragments) =
            WalRecord::decode_payload(record.payload).expect("record decodes");
        logic.replay(&tenant, fragments);
    }
    let blocklist = Arc::new(BlockList::new());
    let ingester = IngesterActor::new(
        logic,
        wal,
        Arc::clone(store),
        Arc::clone(&blocklist),
        Default::default(),
        metrics.clone(),
    )
    .start();
    let local = Arc::new(LocalIngester::new(ingester.clone()));
    let settings = DistributorSettings {
        rate_limit: RateLimit {
            bytes_per_second: 1e12,
            burst_bytes: 1e12,
            strategy: RateStrategy::Local,
        },
        max_attribute_bytes: 2048,
    };
    let distributor = DistributorActor::new(
        Distributor::new(settings, clock, metrics.clone()),
        local.clone(),
        metrics.clone(),
    )
    .start();
    let cache: Arc<dyn Cache> = Arc::new(MemoryCache::new(1 << 20));
    let querier = Querier::new(
        Arc::clone(store),
        cache,
        Arc::clone(&blocklist),
        local,
        metrics,
    );
    Node {
        distributor,
        ingester,
        querier,
        blocklist,
    }
}

fn push_of(trace: u8, spans: std::ops::Range<u8>) -> Vec<ResourceSpans> {
    vec![ResourceSpans {
        scope_spans: vec![ScopeSpans {
            spans: spans
                .map(|span| Span {
                    trace_id: vec![trace; 16],
                    span_id: vec![span; 8],
                    name: format!("span-{span}"),
                    start_time_unix_nano: 1_700_000_000_000_000_000,
                    end_time_unix_nano: 1_700_000_001_000_000_000,
                    ..Default::default()
                })
                .collect(),
            ..Default::default()
        }],
        ..Default::default()
    }]
}

async fn push(
    node: &Node,
    tenant: &str,
    trace: u8,
    spans: std::ops::Range<u8>,
) -> Result<(), PushError> {
    node.distributor
        .send(PushTraces {
            tenant: tenant.to_owned(),
            batches: push_of(trace, spans.clone()),
            span_count: spans.len() as u64,
            request_bytes: 100,
        })
        .await
        .expect("distributor answers")
}

async fn span_count(node: &Node, tenant: &str, trace: u8, mode: FindMode) -> usize {
    let request = FindRequest {
        tenant: tenant.to_owned(),
        trace_id: [trace; 16],
        mode,
        start_seconds: None,
        end_seconds: None,
        block_range: None,
    };
    let result = node.querier.find_trace_by_id(&request).await;
    assert!(
        result.failed_blocks.is_empty(),
        "no read failures: {:?}",
        result.failed_blocks
    );
    result.span_count
}

fn no_limits() -> TenantLimits {
    TenantLimits {
        max_traces_per_user: 0,
        max_bytes_per_trace: 0,
    }
}

#[actix_rt::test]
async fn acknowledged_spans_survive_a_crash_and_reach_blocks() {
    let disk = MemWalDisk::default();
    let store: Arc<dyn BlockStore> = Arc::new(ObjectStoreBackend::in_memory());
    let node = start_node(&disk, &store, no_limits());
    push(&node, "a", 1, 1..4).await.expect("push accepted");
    push(&node, "a", 2, 1..3).await.expect("push accepted");
    push(&node, "b", 1, 10..11).await.expect("push accepted");
    assert_eq!(span_count(&node, "a", 1, FindMode::All).await, 3);
    assert_eq!(
        span_count(&node, "b", 1, FindMode::All).await,
        1,
        "tenants are isolated"
    );

    // Crash: unsynced WAL bytes are lost, memory is gone.
    disk.crash();
    let restarted = start_node(&disk, &store, no_limits());
    assert_eq!(
        span_count(&restarted, "a", 1, FindMode::All).await,
        3,
        "replayed from the wal"
    );
    assert_eq!(span_count(&restarted, "a", 2, FindMode::All).await, 2);

    // The same trace gets more spans (and a duplicate) after replay; then everything is flushed.
    push(&restarted, "a", 1, 3..6).await.expect("push accepted");
    restarted
        .ingester
        .send(FlushAll)
        .await
        .expect("flush requested");
    let deadline = tokio::time::Instant::now() + Duration::from_secs(20);
    while restarted.blocklist.len() < 2 {
        assert!(
            tokio::time::Instant::now() < deadline,
            "blocks were not flushed in time"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert_eq!(
        list_blocks(store.as_ref(), "a").await.expect("lists").len(),
        1
    );
    assert_eq!(
        span_count(&restarted, "a", 1, FindMode::Blocks).await,
        5,
        "no duplicates from blocks"
    );
    assert_eq!(span_count(&restarted, "a", 1, FindMode::All).await, 5);
    assert_eq!(
        span_count(&restarted, "a", 1, FindMode::Ingesters).await,
        0,
        "flushed data left memory"
    );

    // After the flush the WAL holds nothing that must be replayed: a crash now keeps blocks only.
    tokio::time::sleep(Duration::from_millis(100)).await;
    disk.crash();
    let third = start_node(&disk, &store, no_limits());
    third.blocklist.poll(store.as_ref()).await.expect("polls");
    assert_eq!(span_count(&third, "a", 1, FindMode::All).await, 5);
    assert_eq!(
        span_count(&third, "a", 1, FindMode::Ingesters).await,
        0,
        "old wal segments removed"
    );
}

#[actix_rt::test]
async fn invalid_pushes_and_limits_are_refused() {
    let disk = MemWalDisk::default();
    let store: Arc<dyn BlockStore> = Arc::new(ObjectStoreBackend::in_memory());
    let limits = TenantLimits {
        max_traces_per_user: 1,
        max_bytes_per_trace: 0,
    };
    let node = start_node(&disk, &store, limits);
    let error = push(&node, "a", 1, 0..2)
        .await
        .expect_err("zero span id refuses the push");
    assert!(matches!(error, PushError::InvalidArgument(_)), "{error:?}");
    assert_eq!(
        span_count(&node, "a", 1, FindMode::All).await,
        0,
        "nothing of a refused push is stored"
    );
    push(&node, "a", 1, 1..2)
        .await
        .expect("first trace accepted");
    let error = push(&node, "a", 2, 1..2)
        .await
        .expect_err("second live trace refused");
    assert!(
        matches!(error, PushError::ResourceExhausted(ref text) if text.starts_with("LIVE_TRACES_EXCEEDED")),
        "{error:?}"
    );
}

fn search_job(query: &str, target: SearchTarget, start: u32, end: u32) -> SearchJob {
    SearchJob {
        tenant: "a".to_owned(),
        request: SearchRequest {
            query: query.to_owned(),
            limit: 20,
            start,
            end,
            ..SearchRequest::default()
        },
        target,
    }
}

fn found_ids(response: &SearchResponse) -> Vec<String> {
    response
        .traces
        .iter()
        .map(|trace| trace.trace_id.clone())
        .collect()
}

#[actix_rt::test]
async fn search_finds_acknowledged_traces_in_recent_data_and_in_blocks() {
    let disk = MemWalDisk::default();
    let store: Arc<dyn BlockStore> = Arc::new(ObjectStoreBackend::in_memory());
    let node = start_node(&disk, &store, no_limits());
    push(&node, "a", 1, 1..4).await.expect("push accepted");
    push(&node, "a", 2, 5..6).await.expect("push accepted");
    let recent = node
        .querier
        .search(&search_job(
            r#"{ name = "span-2" }"#,
            SearchTarget::Recent,
            0,
            0,
        ))
        .await
        .expect("recent search");
    assert_eq!(
        found_ids(&recent),
        ["1010101010101010101010101010101"],
        "an acknowledged trace is found at once"
    );
    assert_eq!(recent.traces[0].span_sets[0].matched, 1);
    let values = node
        .querier
        .tags(&TagsJob {
            tenant: "a".to_owned(),
            query: TagsQuery {
                attribute: "name".to_owned(),
                ..TagsQuery::default()
            },
            block_id: None,
        })
        .await
        .expect("tag values");
    let names: Vec<&str> = values
        .values
        .iter()
        .map(|value| value.value.as_str())
        .collect();
    assert_eq!(names, ["span-1", "span-2", "span-3", "span-5"]);

    node.ingester.send(FlushAll).await.expect("flush requested");
    let deadline = tokio::time::Instant::now() + Duration::from_secs(20);
    while node.blocklist.is_empty() {
        assert!(tokio::time::Instant::now() < deadline, "no block in time");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let block = node.blocklist.blocks("a", None, None)[0].clone();
    let in_block = node
        .querier
        .search(&search_job(
            "{ } | count() > 2",
            SearchTarget::Block {
                block_id: block.block_id,
                row_groups: 0..block.total_records,
            },
            1_699_999_000,
            1_700_001_000,
        ))
        .await
        .expect("block search");
    assert_eq!(found_ids(&in_block), ["1010101010101010101010101010101"]);
    let metrics = in_block.metrics.expect("metrics");
    assert_eq!(metrics.inspected_spans, 4);
    assert!(metrics.inspected_bytes > 0 && metrics.backend_bytes > 0);
    let outside = node
        .querier
        .search(&search_job(
            "{ }",
            SearchTarget::Block {
                block_id: block.block_id,
                row_groups: 0..block.total_records,
            },
            1_600_000_000,
            1_600_001_000,
        ))
        .await
        .expect("block search");
    assert!(found_ids(&outside).is_empty(), "time range respected");
}
