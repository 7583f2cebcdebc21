//! Blocks carry the search columns: a scan of a block returns exactly what [`search_batch`] builds
//! for the same traces, Parquet bloom filters answer for the values present, and trace lookups
//! neither change nor read the search columns.

use std::collections::{BTreeMap, BTreeSet};
use std::ops::Range;
use std::sync::{Arc, Mutex};

use arrow_array::RecordBatch;
use async_trait::async_trait;
use bytes::Bytes;
use proptest::prelude::*;
use uuid::Uuid;
use vivace_cache::{Cache, MemoryCache, NoCache};
use vivace_proto::ids::TraceId;
use vivace_proto::otlp::common::{AnyValue, InstrumentationScope, KeyValue, any_value};
use vivace_proto::otlp::resource::Resource;
use vivace_proto::otlp::trace::{ResourceSpans, ScopeSpans, Span, Status};
use vivace_proto::tempopb::Trace;

use super::search_schema::*;
use super::search_tests::{Cell, column};
use super::tests::{
    canonical, event_strategy, fixed_traces, link_strategy, runtime, small_config, value_strategy,
};
use super::*;
use crate::backend::{CountingStore, ObjectStoreBackend};

const KEYS: &[&str] = &[
    "http.method",
    "http.url",
    "http.status_code",
    "service.name",
    "cluster",
    "k8s.pod.name",
    "a",
    "b.c",
];

/// Values of every kind, with repeats and the dedicated columns' types common.
fn search_value() -> impl Strategy<Value = any_value::Value> {
    prop_oneof![
        3 => prop::sample::select(vec!["GET", "PUT", "/x", ""])
            .prop_map(|text| any_value::Value::StringValue(text.to_owned())),
        2 => (0i64..4).prop_map(any_value::Value::IntValue),
        2 => value_strategy(),
    ]
}

fn search_attributes() -> impl Strategy<Value = Vec<KeyValue>> {
    proptest::collection::vec((prop::sample::select(KEYS), search_value()), 0..5).prop_map(
        |pairs| {
            pairs
                .into_iter()
                .map(|(key, value)| KeyValue {
                    key: key.to_owned(),
                    value: Some(AnyValue { value: Some(value) }),
                    ..Default::default()
                })
                .collect()
        },
    )
}

/// Span ids from a small range and parents among them (or missing ones): trees, orphans,
/// duplicate ids, self-parents and cycles.
fn search_span() -> impl Strategy<Value = Span> {
    (
        (0u8..12, proptest::option::of(0u8..14), 0u64..40, 0u64..30),
        prop::sample::select(vec!["GET /", "POST /a", "db"]),
        search_attributes(),
        proptest::collection::vec(event_strategy(), 0..3),
        proptest::collection::vec(link_strategy(), 0..2),
        proptest::option::of((0i32..3, prop::sample::select(vec!["", "err"]))),
    )
        .prop_map(
            |((id, parent, start, duration), name, attributes, events, links, status)| Span {
                span_id: vec![id; 8],
                parent_span_id: parent.map(|parent| vec![parent; 8]).unwrap_or_default(),
                name: name.to_owned(),
                kind: i32::from(id % 6),
                start_time_unix_nano: start,
                end_time_unix_nano: start + duration,
                attributes,
                events,
                links,
                status: status.map(|(code, message)| Status {
                    code,
                    message: message.to_owned(),
                }),
                ..Default::default()
            },
        )
}

fn search_resource() -> impl Strategy<Value = ResourceSpans> {
    let scope = (
        proptest::option::of((
            prop::sample::select(vec!["", "lib", "other"]),
            prop::sample::select(vec!["", "1.0"]),
            search_attributes(),
        )),
        proptest::collection::vec(search_span(), 1..4),
    )
        .prop_map(|(scope, spans)| ScopeSpans {
            scope: scope.map(|(name, version, attributes)| InstrumentationScope {
                name: name.to_owned(),
                version: version.to_owned(),
                attributes,
                ..Default::default()
            }),
            spans,
            ..Default::default()
        });
    (
        proptest::option::of(search_attributes()),
        proptest::collection::vec(scope, 1..3),
    )
        .prop_map(|(attributes, scope_spans)| ResourceSpans {
            resource: attributes.map(|attributes| Resource {
                attributes,
                ..Default::default()
            }),
            scope_spans,
            ..Default::default()
        })
}

/// Traces with ids often shared (entries to merge).
fn search_traces() -> impl Strategy<Value = Vec<(TraceId, Trace)>> {
    let trace_id = prop_oneof![(0u8..4).prop_map(|byte| [byte; 16]), any::<[u8; 16]>()];
    let trace = (trace_id, proptest::collection::vec(search_resource(), 1..3)).prop_map(
        |(trace_id, mut resource_spans)| {
            for span in resource_spans
                .iter_mut()
                .flat_map(|batch| &mut batch.scope_spans)
                .flat_map(|scope| &mut scope.spans)
            {
                span.trace_id = trace_id.to_vec();
            }
            (trace_id, Trace { resource_spans })
        },
    );
    proptest::collection::vec(trace, 1..10)
}

fn search_column_names() -> Vec<String> {
    search_schema()
        .fields()
        .iter()
        .map(|field| field.name().clone())
        .collect()
}

pub(super) async fn uploaded(
    traces: Vec<(TraceId, Trace)>,
    config: &BlockConfig,
) -> (Arc<ObjectStoreBackend>, EncodedBlock) {
    let store = Arc::new(ObjectStoreBackend::in_memory());
    let encoded = encode_block("t", Uuid::from_u128(3), traces, config).expect("encodes");
    encoded.upload(store.as_ref()).await.expect("uploads");
    (store, encoded)
}

fn concat(batches: &[RecordBatch]) -> RecordBatch {
    let schema = batches.first().expect("a batch").schema();
    arrow_select::concat::concat_batches(&schema, batches).expect("concatenates")
}

/// The string values a bloom-filtered leaf holds in a batch.
fn bloom_values(batch: &RecordBatch, leaf: &str) -> BTreeSet<String> {
    let (list, field) = match leaf.split_once(".list.item.") {
        Some((list, field)) => (list, Some(field)),
        None => (leaf, None),
    };
    let mut values = BTreeSet::new();
    let mut add = |value: &Cell| {
        if let Cell::Str(text) = value {
            values.insert(text.clone());
        }
    };
    for value in column(batch, list) {
        match (field, value) {
            (None, value) => add(&value),
            (Some(field), Cell::List(entries)) => {
                for entry in entries {
                    let Cell::Entry(key, value) = entry else {
                        continue;
                    };
                    match field {
                        ATTR_KEY => add(&Cell::Str(key)),
                        _ => add(&value),
                    }
                }
            }
            _ => {}
        }
    }
    values
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(24))]

    #[test]
    fn scans_return_what_search_batch_builds(traces in search_traces()) {
        runtime().block_on(async {
            let expected = search_batch(traces.clone()).expect("builds");
            let (store, encoded) = uploaded(traces.clone(), &small_config()).await;
            let cache: Arc<dyn Cache> = Arc::new(MemoryCache::new(1 << 20));
            let reader = BlockReader::new(store, cache, encoded.meta.clone());
            let metadata = reader.parquet_metadata().await.expect("footer");
            let row_groups: Vec<usize> = (0..row_group_count(&metadata)).collect();
            let names = search_column_names();
            let name_refs: Vec<&str> = names.iter().map(String::as_str).collect();
            let output = reader.scan(&row_groups, &name_refs).await.expect("scans");
            assert!(output.bytes_read > 0);
            assert_eq!(output.batches.len(), row_groups.len());
            let scanned = concat(&output.batches);
            assert_eq!(scanned.schema(), expected.schema());
            assert_eq!(scanned.num_rows(), expected.num_rows());
            for name in &names {
                assert_eq!(column(&scanned, name), column(&expected, name), "column {name}");
            }
            // A trace's rows are in one row group.
            let mut seen: BTreeMap<Vec<u8>, usize> = BTreeMap::new();
            for (group, batch) in output.batches.iter().enumerate() {
                for id in column(batch, TRACE_ID) {
                    let Cell::Bytes(id) = id else { panic!("trace id") };
                    assert_eq!(*seen.entry(id).or_insert(group), group);
                }
            }
            // Bloom filters hold every value present, and rule out most absent ones.
            let (mut probes, mut false_positives) = (0, 0);
            for (group, batch) in output.batches.iter().enumerate() {
                for leaf in bloom_filter_leaves() {
                    for value in bloom_values(batch, &leaf) {
                        let maybe = reader.column_bloom_may_contain(group, &leaf, value.as_bytes()).await.expect("bloom");
                        assert!(maybe, "{value:?} in {leaf} of row group {group}");
                    }
                    for absent in 0..8 {
                        let value = format!("absent-{absent}");
                        probes += 1;
                        if reader.column_bloom_may_contain(group, &leaf, value.as_bytes()).await.expect("bloom") {
                            false_positives += 1;
                        }
                    }
                }
            }
            assert!(false_positives * 10 <= probes, "{false_positives} of {probes} absent values pass");
            // Trace lookups still read back the traces whole.
            let mut merged: BTreeMap<TraceId, Trace> = BTreeMap::new();
            for (trace_id, trace) in &traces {
                merged.entry(*trace_id).or_default().resource_spans.extend(trace.resource_spans.clone());
            }
            for (trace_id, trace) in &merged {
                let found = reader.find_trace(trace_id).await.expect("reads").expect("found");
                assert_eq!(canonical(&found), canonical(trace));
            }
        });
    }
}

/// `count` traces of five spans with attributes, ids spread over the id space.
pub(super) fn attributed_traces(count: u32) -> Vec<(TraceId, Trace)> {
    let text = |key: &str, value: String| KeyValue {
        key: key.to_owned(),
        value: Some(AnyValue {
            value: Some(any_value::Value::StringValue(value)),
        }),
        ..Default::default()
    };
    (0..count)
        .map(|index| {
            let mut trace_id = [0u8; 16];
            trace_id[..4].copy_from_slice(&index.wrapping_mul(2_654_435_761).to_be_bytes());
            trace_id[12..].copy_from_slice(&index.to_be_bytes());
            let spans = (1..=5u8)
                .map(|span| Span {
                    span_id: vec![span; 8],
                    parent_span_id: if span == 1 { Vec::new() } else { vec![1; 8] },
                    name: format!("op-{}", index % 7),
                    start_time_unix_nano: u64::from(index) * 100 + u64::from(span),
                    attributes: vec![
                        text("http.url", format!("/items/{index}")),
                        text("user", format!("user-{}", index % 50)),
                    ],
                    ..Default::default()
                })
                .collect();
            let resource_spans = vec![ResourceSpans {
                resource: Some(Resource {
                    attributes: vec![text("service.name", format!("svc-{}", index % 5))],
                    ..Default::default()
                }),
                scope_spans: vec![ScopeSpans {
                    spans,
                    ..Default::default()
                }],
                ..Default::default()
            }];
            (trace_id, Trace { resource_spans })
        })
        .collect()
}

#[tokio::test]
async fn scans_fetch_only_the_requested_columns_and_count_the_bytes() {
    let (store, encoded) = uploaded(attributed_traces(3000), &BlockConfig::default()).await;
    let counting = Arc::new(CountingStore::new(store));
    let reader = BlockReader::new(
        Arc::clone(&counting) as _,
        Arc::new(MemoryCache::new(16 << 20)),
        encoded.meta.clone(),
    );
    let output = reader
        .scan(&[0], &[SPAN_ATTRS, NAME, NAME])
        .await
        .expect("scans");
    assert_eq!(output.bytes_read, counting.bytes_read());
    let batch = &output.batches[0];
    assert_eq!(batch.num_rows(), 15_000);
    let schema = batch.schema();
    let read: Vec<&str> = schema
        .fields()
        .iter()
        .map(|field| field.name().as_str())
        .collect();
    assert_eq!(read, vec![SPAN_ATTRS, NAME]);
    assert!(
        output.bytes_read < encoded.meta.size / 2,
        "{} of {} bytes read",
        output.bytes_read,
        encoded.meta.size
    );
    // The footer is cached now: a second scan fetches only column chunks.
    let before = counting.bytes_read();
    let again = reader.scan(&[0], &[TRACE_START]).await.expect("scans");
    assert_eq!(again.bytes_read, counting.bytes_read() - before);
    let metadata = reader.parquet_metadata().await.expect("footer");
    let leaf = leaf_column_index(&metadata, TRACE_START).expect("leaf");
    let chunk = metadata.row_group(0).column(leaf);
    assert_eq!(again.bytes_read, chunk.byte_range().1);
    let statistics = chunk.statistics().expect("chunk statistics");
    assert!(statistics.min_bytes_opt().is_some());
    let page_index = metadata.page_index().expect("page indexes are loaded");
    assert!(
        page_index.column_index(0, leaf).is_some(),
        "page statistics of the times"
    );
    assert!(page_index.offset_index(0, leaf).is_some());
}

#[tokio::test]
async fn unknown_columns_and_row_groups_are_errors() {
    let (store, encoded) = uploaded(fixed_traces(3), &BlockConfig::default()).await;
    let reader = BlockReader::new(store, Arc::new(NoCache), encoded.meta.clone());
    assert!(reader.scan(&[0], &["no_such_column"]).await.is_err());
    assert!(reader.scan(&[1], &[NAME]).await.is_err());
    assert!(
        reader
            .column_bloom_may_contain(1, NAME, b"x")
            .await
            .is_err()
    );
    assert!(
        reader
            .column_bloom_may_contain(0, "no.such.leaf", b"x")
            .await
            .expect("no filter"),
        "a leaf without a filter may contain anything"
    );
    let empty = reader.scan(&[], &[NAME]).await.expect("scans");
    assert!(empty.batches.is_empty());
}

/// Records the ranges read.
struct RangeRecordingStore {
    inner: Arc<ObjectStoreBackend>,
    ranges: Mutex<Vec<Range<u64>>>,
}

#[async_trait]
impl BlockStore for RangeRecordingStore {
    async fn put(&self, path: &str, data: Bytes) -> Result<(), StorageError> {
        self.inner.put(path, data).await
    }
    async fn get(&self, path: &str) -> Result<Bytes, StorageError> {
        self.inner.get(path).await
    }
    async fn get_range(&self, path: &str, range: Range<u64>) -> Result<Bytes, StorageError> {
        self.ranges.lock().expect("lock").push(range.clone());
        self.inner.get_range(path, range).await
    }
    async fn list_dirs(&self, prefix: &str) -> Result<Vec<String>, StorageError> {
        self.inner.list_dirs(prefix).await
    }
    async fn delete(&self, path: &str) -> Result<(), StorageError> {
        self.inner.delete(path).await
    }
}

#[tokio::test]
async fn trace_lookups_do_not_read_search_columns() {
    let traces = attributed_traces(2000);
    let (store, encoded) = uploaded(traces.clone(), &BlockConfig::default()).await;
    let recording = Arc::new(RangeRecordingStore {
        inner: store,
        ranges: Mutex::new(Vec::new()),
    });
    let reader = BlockReader::new(
        Arc::clone(&recording) as _,
        Arc::new(MemoryCache::new(16 << 20)),
        encoded.meta.clone(),
    );
    let metadata = reader.parquet_metadata().await.expect("footer");
    assert_eq!(row_group_count(&metadata), 1);
    let first_search_leaf = leaf_column_index(&metadata, NESTED_SET_LEFT).expect("leaf");
    let group = metadata.row_group(0);
    let search_start = group.column(first_search_leaf).byte_range().0;
    recording.ranges.lock().expect("lock").clear();
    for (trace_id, _) in traces.iter().step_by(97) {
        let found = reader
            .find_trace(trace_id)
            .await
            .expect("reads")
            .expect("found");
        assert_eq!(found.span_count(), 5);
    }
    for range in recording.ranges.lock().expect("lock").iter() {
        assert!(
            range.end <= search_start,
            "{range:?} reaches the search columns"
        );
    }
}

#[tokio::test]
async fn a_trace_never_spans_two_row_groups() {
    let (store, encoded) = uploaded(fixed_traces(200), &small_config()).await;
    assert!(encoded.meta.total_records > 2);
    let bytes = store
        .get(&format!("t/{}/index", Uuid::from_u128(3)))
        .await
        .expect("index");
    let index: BlockIndex = serde_json::from_slice(&bytes).expect("parses");
    for pair in index.row_groups.windows(2) {
        assert!(pair[0].max_trace_id < pair[1].min_trace_id);
    }
    // Also when the entries of a trace arrive in pieces.
    let pieces: Vec<(TraceId, Trace)> = fixed_traces(200)
        .into_iter()
        .flat_map(|(trace_id, trace)| {
            let mut batch = trace.resource_spans[0].clone();
            let spans = std::mem::take(&mut batch.scope_spans[0].spans);
            spans.into_iter().map(move |span| {
                let mut piece = batch.clone();
                piece.scope_spans[0].spans = vec![span];
                (
                    trace_id,
                    Trace {
                        resource_spans: vec![piece],
                    },
                )
            })
        })
        .collect();
    let sorted =
        encode_sorted_block("t", Uuid::from_u128(4), pieces, &small_config()).expect("encodes");
    let whole =
        encode_block("t", Uuid::from_u128(4), fixed_traces(200), &small_config()).expect("encodes");
    assert_eq!(
        sorted.data(),
        whole.data(),
        "pieces are merged as whole traces"
    );
}

#[tokio::test]
async fn a_damaged_search_chunk_is_reported_and_a_damaged_filter_answers_maybe() {
    let (store, encoded) = uploaded(attributed_traces(300), &BlockConfig::default()).await;
    let reader = BlockReader::new(
        Arc::clone(&store) as _,
        Arc::new(NoCache),
        encoded.meta.clone(),
    );
    let metadata = reader.parquet_metadata().await.expect("footer");
    let url = attr_string_leaf(SPAN_ATTRS);
    let chunk = metadata
        .row_group(0)
        .column(leaf_column_index(&metadata, &url).expect("leaf"));
    let filter = chunk.bloom_filter_offset().expect("filter") as u64;
    let (offset, length) = chunk.byte_range();
    let path = format!("t/{}/data.parquet", Uuid::from_u128(3));
    let mut data = store.get(&path).await.expect("get").to_vec();
    data[(offset + length / 2) as usize] ^= 0x5a;
    data[filter as usize + 20] ^= 0x5a;
    store.put(&path, Bytes::from(data)).await.expect("put");
    let reader = BlockReader::new(store, Arc::new(NoCache), encoded.meta.clone());
    assert!(matches!(
        reader.scan(&[0], &[SPAN_ATTRS]).await,
        Err(StorageError::Checksum { .. })
    ));
    assert!(reader.scan(&[0], &[NAME]).await.is_ok());
    assert!(
        reader
            .column_bloom_may_contain(0, &url, b"absent")
            .await
            .expect("answers")
    );
}

#[tokio::test]
async fn reader_futures_can_be_spawned() {
    let (store, encoded) = uploaded(fixed_traces(3), &BlockConfig::default()).await;
    let reader = Arc::new(BlockReader::new(
        store,
        Arc::new(NoCache),
        encoded.meta.clone(),
    ));
    let task = tokio::spawn(async move {
        let scanned = reader.scan(&[0], &[NAME, SPAN_ATTRS]).await.expect("scans");
        let maybe = reader
            .column_bloom_may_contain(0, NAME, b"x")
            .await
            .expect("bloom");
        let found = reader.find_trace(&[2; 16]).await.expect("reads");
        (scanned.batches.len(), maybe, found.is_some())
    });
    assert_eq!(task.await.expect("joins"), (1, false, true));
}
