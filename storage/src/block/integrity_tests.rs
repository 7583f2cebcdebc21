//! Damage to a block is reported for the traces it touches, never served and never a panic; page
//! reads are verified page by page, and blocks without page checksums are still read.

use std::sync::Arc;

use bytes::Bytes;
use uuid::Uuid;
use vivace_cache::{Cache, MemoryCache, NoCache};
use vivace_proto::ids::TraceId;
use vivace_proto::otlp::trace::{ResourceSpans, ScopeSpans, Span};
use vivace_proto::tempopb::Trace;

use super::*;
use crate::backend::ObjectStoreBackend;

/// `count` traces of five spans with ids spread over the whole id space, in one row group of many
/// pages.
fn many_traces(count: u32) -> Vec<(TraceId, Trace)> {
    (0..count)
        .map(|index| {
            let mut trace_id = [0u8; 16];
            trace_id[..4].copy_from_slice(&index.wrapping_mul(2_654_435_761).to_be_bytes());
            trace_id[12..].copy_from_slice(&index.to_be_bytes());
            let spans = (1..=5u8)
                .map(|span| Span {
                    trace_id: trace_id.to_vec(),
                    span_id: vec![span; 8],
                    name: format!("op-{}", index % 7),
                    start_time_unix_nano: u64::from(index) * 100 + u64::from(span),
                    ..Default::default()
                })
                .collect();
            let trace = Trace {
                resource_spans: vec![ResourceSpans {
                    scope_spans: vec![ScopeSpans {
                        spans,
                        ..Default::default()
                    }],
                    ..Default::default()
                }],
            };
            (trace_id, trace)
        })
        .collect()
}

const TENANT: &str = "t";

fn block_id() -> Uuid {
    Uuid::from_u128(42)
}

async fn uploaded(traces: Vec<(TraceId, Trace)>) -> (Arc<ObjectStoreBackend>, BlockMeta) {
    let store = Arc::new(ObjectStoreBackend::in_memory());
    let encoded =
        encode_block(TENANT, block_id(), traces, &BlockConfig::default()).expect("encodes");
    encoded.upload(store.as_ref()).await.expect("uploads");
    (store, encoded.meta)
}

async fn read_index(store: &ObjectStoreBackend) -> BlockIndex {
    let bytes = store
        .get(&format!("{TENANT}/{}/index", block_id()))
        .await
        .expect("index");
    serde_json::from_slice(&bytes).expect("parses")
}

async fn flip_byte(store: &ObjectStoreBackend, offset: u64) {
    let path = format!("{TENANT}/{}/data.parquet", block_id());
    let mut data = store.get(&path).await.expect("get").to_vec();
    data[offset as usize] ^= 0x5a;
    store.put(&path, Bytes::from(data)).await.expect("put");
}

/// (found whole, checksum errors) over all traces.
async fn lookups(reader: &BlockReader, traces: &[(TraceId, Trace)]) -> (usize, usize) {
    let mut found = 0;
    let mut checksum_errors = 0;
    for (trace_id, _) in traces {
        match reader.find_trace(trace_id).await {
            Ok(Some(trace)) => {
                assert_eq!(trace.span_count(), 5);
                found += 1;
            }
            Err(StorageError::Checksum { .. }) => checksum_errors += 1,
            other => panic!("unexpected lookup result: {other:?}"),
        }
    }
    (found, checksum_errors)
}

#[tokio::test]
async fn a_damaged_page_fails_only_the_traces_on_it() {
    let traces = many_traces(4000);
    let (store, meta) = uploaded(traces.clone()).await;
    let index = read_index(&store).await;
    assert_eq!(index.row_groups.len(), 1);
    assert!(index.tail.is_some());
    let start_times = &index.row_groups[0].chunks[5];
    assert!(
        start_times.page_crc32.len() > 8 * 10,
        "many pages per column"
    );
    flip_byte(&store, start_times.offset + start_times.length / 2).await;
    let reader = BlockReader::new(store, Arc::new(MemoryCache::new(16 << 20)), meta);
    let sample: Vec<(TraceId, Trace)> = traces.iter().step_by(8).cloned().collect();
    let (found, checksum_errors) = lookups(&reader, &sample).await;
    assert!(checksum_errors > 0, "the damaged page is reported");
    assert!(
        found > sample.len() * 3 / 4,
        "only one page is affected: {found} found"
    );
}

#[tokio::test]
async fn blocks_without_page_checksums_are_verified_by_chunk() {
    let traces = many_traces(500);
    let (store, meta) = uploaded(traces.clone()).await;
    let mut index = read_index(&store).await;
    index.tail = None;
    for row_group in &mut index.row_groups {
        for chunk in &mut row_group.chunks {
            chunk.page_crc32.clear();
        }
    }
    store
        .put(
            &format!("{TENANT}/{}/index", block_id()),
            Bytes::from(serde_json::to_vec(&index).expect("serializes")),
        )
        .await
        .expect("put");
    let reader = BlockReader::new(Arc::clone(&store) as _, Arc::new(NoCache), meta.clone());
    assert_eq!(lookups(&reader, &traces).await, (traces.len(), 0));
    let names = &index.row_groups[0].chunks[3];
    flip_byte(&store, names.offset + names.length - 1).await;
    let damaged = BlockReader::new(store, Arc::new(NoCache), meta);
    assert_eq!(lookups(&damaged, &traces).await, (0, traces.len()));
}

#[tokio::test]
async fn a_damaged_footer_is_reported() {
    let traces = many_traces(200);
    let (store, meta) = uploaded(traces.clone()).await;
    flip_byte(&store, meta.size - 12).await;
    let reader = BlockReader::new(store, Arc::new(NoCache), meta);
    assert_eq!(lookups(&reader, &traces).await, (0, traces.len()));
    assert!(
        reader
            .find_trace(&[0xee; 16])
            .await
            .is_ok_and(|found| found.is_none()),
        "an id the bloom filter rules out needs no footer"
    );
}

#[tokio::test]
async fn bloom_shards_and_footer_are_cached_under_their_keys() {
    let traces = many_traces(100);
    let (store, meta) = uploaded(traces.clone()).await;
    let cache = Arc::new(MemoryCache::new(16 << 20));
    let reader = BlockReader::new(store, Arc::clone(&cache) as Arc<dyn Cache>, meta.clone());
    assert!(
        reader
            .find_trace(&traces[7].0)
            .await
            .expect("reads")
            .is_some()
    );
    let base = format!("{TENANT}/{}", meta.block_id);
    assert!(cache.get(&format!("footer/{base}")).await.is_some());
    let mut cached_shards = 0;
    for shard in 0..meta.bloom_shards {
        if cache.get(&format!("bloom/{base}/{shard}")).await.is_some() {
            cached_shards += 1;
        }
    }
    assert_eq!(cached_shards, 1);
    let hits_before = cache.stats().hits();
    assert!(
        reader
            .find_trace(&traces[7].0)
            .await
            .expect("reads")
            .is_some()
    );
    assert!(cache.stats().hits() > hits_before);
}
