use std::sync::{Arc, Mutex};

use async_trait::async_trait;
use bytes::Bytes;
use proptest::prelude::*;
use uuid::Uuid;
use vivace_cache::{Cache, MemoryCache, NoCache};
use vivace_proto::ids::TraceId;
use vivace_proto::otlp::common::{
    AnyValue, ArrayValue, InstrumentationScope, KeyValue, KeyValueList, any_value,
};
use vivace_proto::otlp::resource::Resource;
use vivace_proto::otlp::trace::{ResourceSpans, ScopeSpans, Span, Status, span};
use vivace_proto::tempopb::Trace;

use super::*;
use crate::backend::ObjectStoreBackend;

pub(super) fn value_strategy() -> impl Strategy<Value = any_value::Value> {
    let leaf = prop_oneof![
        ".{0,12}".prop_map(any_value::Value::StringValue),
        any::<bool>().prop_map(any_value::Value::BoolValue),
        any::<i64>().prop_map(any_value::Value::IntValue),
        (-1e9f64..1e9).prop_map(any_value::Value::DoubleValue),
        proptest::collection::vec(any::<u8>(), 0..8).prop_map(any_value::Value::BytesValue),
    ];
    leaf.prop_recursive(2, 8, 3, |inner| {
        prop_oneof![
            proptest::collection::vec(inner.clone(), 0..3).prop_map(|values| {
                any_value::Value::ArrayValue(ArrayValue {
                    values: values
                        .into_iter()
                        .map(|value| AnyValue { value: Some(value) })
                        .collect(),
                })
            }),
            proptest::collection::vec(("[a-z]{1,4}", inner), 0..3).prop_map(|pairs| {
                any_value::Value::KvlistValue(KeyValueList {
                    values: pairs
                        .into_iter()
                        .map(|(key, value)| KeyValue {
                            key,
                            value: Some(AnyValue { value: Some(value) }),
                            ..Default::default()
                        })
                        .collect(),
                })
            }),
        ]
    })
}

fn attributes_strategy() -> impl Strategy<Value = Vec<KeyValue>> {
    proptest::collection::vec(("[a-z.]{1,8}", value_strategy()), 0..4).prop_map(|pairs| {
        pairs
            .into_iter()
            .map(|(key, value)| KeyValue {
                key,
                value: Some(AnyValue { value: Some(value) }),
                ..Default::default()
            })
            .collect()
    })
}

pub(super) fn event_strategy() -> impl Strategy<Value = span::Event> {
    (any::<u64>(), ".{0,6}", attributes_strategy(), any::<u32>()).prop_map(
        |(time_unix_nano, name, attributes, dropped_attributes_count)| span::Event {
            time_unix_nano,
            name,
            attributes,
            dropped_attributes_count,
        },
    )
}

pub(super) fn link_strategy() -> impl Strategy<Value = span::Link> {
    (
        proptest::collection::vec(any::<u8>(), 16),
        proptest::collection::vec(any::<u8>(), 8),
        ".{0,6}",
        attributes_strategy(),
        any::<u32>(),
        any::<u32>(),
    )
        .prop_map(
            |(trace_id, span_id, trace_state, attributes, dropped_attributes_count, flags)| {
                span::Link {
                    trace_id,
                    span_id,
                    trace_state,
                    attributes,
                    dropped_attributes_count,
                    flags,
                }
            },
        )
}

fn span_strategy(trace_id: TraceId) -> impl Strategy<Value = Span> {
    let identity = (
        any::<u64>(),
        prop_oneof![Just(Vec::new()), proptest::collection::vec(any::<u8>(), 8)],
        ".{0,8}",
        ".{0,8}",
        0i32..6,
        any::<u32>(),
    );
    let timing = (any::<u64>(), any::<u32>());
    let body = (
        attributes_strategy(),
        proptest::collection::vec(event_strategy(), 0..3),
        proptest::collection::vec(link_strategy(), 0..3),
        proptest::option::of((0i32..3, ".{0,6}")),
        (any::<u32>(), any::<u32>(), any::<u32>()),
    );
    (identity, timing, body).prop_map(
        move |(
            (span_id, parent_span_id, name, trace_state, kind, flags),
            (start, duration),
            (
                attributes,
                events,
                links,
                status,
                (dropped_attributes, dropped_events, dropped_links),
            ),
        )| Span {
            trace_id: trace_id.to_vec(),
            span_id: span_id.to_be_bytes().to_vec(),
            parent_span_id,
            trace_state,
            flags,
            name,
            kind,
            start_time_unix_nano: start,
            end_time_unix_nano: start.saturating_add(u64::from(duration)),
            attributes,
            dropped_attributes_count: dropped_attributes,
            events,
            dropped_events_count: dropped_events,
            links,
            dropped_links_count: dropped_links,
            status: status.map(|(code, message)| Status { code, message }),
        },
    )
}

fn scope_strategy(trace_id: TraceId) -> impl Strategy<Value = ScopeSpans> {
    (
        proptest::option::of((
            "[a-z]{0,5}",
            "[0-9.]{0,3}",
            attributes_strategy(),
            any::<u32>(),
        )),
        proptest::collection::vec(span_strategy(trace_id), 1..4),
        prop_oneof![Just(String::new()), Just("https://schema/scope".to_owned())],
    )
        .prop_map(|(scope, spans, schema_url)| ScopeSpans {
            scope: scope.map(|(name, version, attributes, dropped_attributes_count)| {
                InstrumentationScope {
                    name,
                    version,
                    attributes,
                    dropped_attributes_count,
                }
            }),
            spans,
            schema_url,
        })
}

fn resource_spans_strategy(trace_id: TraceId) -> impl Strategy<Value = ResourceSpans> {
    (
        proptest::option::of((".{0,6}", attributes_strategy(), any::<u32>())),
        proptest::collection::vec(scope_strategy(trace_id), 1..3),
        prop_oneof![
            Just(String::new()),
            Just("https://schema/resource".to_owned())
        ],
    )
        .prop_map(|(resource, scope_spans, schema_url)| ResourceSpans {
            resource: resource.map(|(service, attributes, dropped_attributes_count)| {
                let mut all_attributes = vec![KeyValue {
                    key: "service.name".into(),
                    value: Some(AnyValue {
                        value: Some(any_value::Value::StringValue(service)),
                    }),
                    ..Default::default()
                }];
                all_attributes.extend(attributes);
                Resource {
                    attributes: all_attributes,
                    dropped_attributes_count,
                    ..Default::default()
                }
            }),
            scope_spans,
            schema_url,
        })
}

fn trace_strategy() -> impl Strategy<Value = (TraceId, Trace)> {
    any::<[u8; 16]>().prop_flat_map(|trace_id| {
        proptest::collection::vec(resource_spans_strategy(trace_id), 1..3)
            .prop_map(move |resource_spans| (trace_id, Trace { resource_spans }))
    })
}

/// Random traces; when `share_ids`, some entries reuse the id of an earlier one (to be merged).
fn traces_strategy() -> impl Strategy<Value = Vec<(TraceId, Trace)>> {
    (
        proptest::collection::vec(trace_strategy(), 1..12),
        any::<bool>(),
    )
        .prop_map(|(mut traces, share_ids)| {
            if share_ids && traces.len() > 1 {
                let shared = traces[0].0;
                let last = traces.len() - 1;
                traces[last].0 = shared;
                for batch in &mut traces[last].1.resource_spans {
                    for scope in &mut batch.scope_spans {
                        for span in &mut scope.spans {
                            span.trace_id = shared.to_vec();
                        }
                    }
                }
            }
            traces
        })
}

/// Everything a span carries with it, comparable: (resource spans without scope spans, scope
/// spans without spans, span), spans sorted.
pub(super) type CanonicalSpan = (ResourceSpans, ScopeSpans, Span);

pub(super) fn canonical(trace: &Trace) -> Vec<CanonicalSpan> {
    let mut spans = Vec::new();
    for batch in &trace.resource_spans {
        let resource = ResourceSpans {
            scope_spans: Vec::new(),
            ..batch.clone()
        };
        for scope in &batch.scope_spans {
            let scope_header = ScopeSpans {
                spans: Vec::new(),
                ..scope.clone()
            };
            for span in &scope.spans {
                spans.push((resource.clone(), scope_header.clone(), span.clone()));
            }
        }
    }
    spans.sort_by_key(|(resource, scope, span)| {
        (
            span.span_id.clone(),
            span.start_time_unix_nano,
            prost::Message::encode_to_vec(span),
            prost::Message::encode_to_vec(resource),
            prost::Message::encode_to_vec(scope),
        )
    });
    spans
}

/// Spans of the same resource and scope are grouped together, in first-seen order.
fn assert_grouped(trace: &Trace) {
    let resources: Vec<ResourceSpans> = trace
        .resource_spans
        .iter()
        .map(|batch| ResourceSpans {
            scope_spans: Vec::new(),
            ..batch.clone()
        })
        .collect();
    for (position, resource) in resources.iter().enumerate() {
        assert!(
            !resources[..position].contains(resource),
            "resource repeated: {resource:?}"
        );
    }
}

pub(super) fn small_config() -> BlockConfig {
    BlockConfig {
        row_group_size_bytes: 2_000,
        bloom_false_positive: 0.01,
        bloom_shard_size_bytes: 256,
    }
}

pub(super) fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime")
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(32))]

    #[test]
    fn traces_round_trip_through_a_block(traces in traces_strategy(), missing in any::<[u8; 16]>()) {
        runtime().block_on(async {
            let store: Arc<dyn BlockStore> = Arc::new(ObjectStoreBackend::in_memory());
            let encoded = encode_block("tenant", Uuid::from_u128(7), traces.clone(), &small_config()).expect("encodes");
            encoded.upload(store.as_ref()).await.expect("uploads");
            let metas = list_blocks(store.as_ref(), "tenant").await.expect("lists");
            assert_eq!(metas.len(), 1);
            let cache: Arc<dyn Cache> = Arc::new(MemoryCache::new(1 << 20));
            let reader = BlockReader::new(Arc::clone(&store), cache, metas[0].clone());
            let mut expected: std::collections::BTreeMap<TraceId, Trace> = Default::default();
            for (trace_id, trace) in &traces {
                expected.entry(*trace_id).or_default().resource_spans.extend(trace.resource_spans.clone());
            }
            for (trace_id, trace) in &expected {
                let found = reader.find_trace(trace_id).await.expect("reads").expect("found");
                assert_grouped(&found);
                assert_eq!(canonical(&found), canonical(trace));
            }
            if !expected.contains_key(&missing) {
                assert!(reader.find_trace(&missing).await.expect("reads").is_none());
            }
        });
    }
}

/// Records the order of puts.
struct RecordingStore {
    inner: ObjectStoreBackend,
    puts: Mutex<Vec<String>>,
}

#[async_trait]
impl BlockStore for RecordingStore {
    async fn put(&self, path: &str, data: Bytes) -> Result<(), StorageError> {
        self.puts.lock().expect("lock").push(path.to_owned());
        self.inner.put(path, data).await
    }
    async fn get(&self, path: &str) -> Result<Bytes, StorageError> {
        self.inner.get(path).await
    }
    async fn get_range(
        &self,
        path: &str,
        range: std::ops::Range<u64>,
    ) -> Result<Bytes, StorageError> {
        self.inner.get_range(path, range).await
    }
    async fn list_dirs(&self, prefix: &str) -> Result<Vec<String>, StorageError> {
        self.inner.list_dirs(prefix).await
    }
    async fn delete(&self, path: &str) -> Result<(), StorageError> {
        self.inner.delete(path).await
    }
}

pub(super) fn fixed_traces(count: u8) -> Vec<(TraceId, Trace)> {
    (1..=count)
        .map(|index| {
            let trace_id = [index; 16];
            let spans = (1..=5u8)
                .map(|span| Span {
                    trace_id: trace_id.to_vec(),
                    span_id: vec![span; 8],
                    name: "x".repeat(50),
                    start_time_unix_nano: u64::from(span),
                    ..Default::default()
                })
                .collect();
            (
                trace_id,
                Trace {
                    resource_spans: vec![ResourceSpans {
                        scope_spans: vec![ScopeSpans {
                            spans,
                            ..Default::default()
                        }],
                        ..Default::default()
                    }],
                },
            )
        })
        .collect()
}

#[tokio::test]
async fn meta_json_is_written_last_and_unfinished_blocks_are_invisible() {
    let store = RecordingStore {
        inner: ObjectStoreBackend::in_memory(),
        puts: Mutex::new(Vec::new()),
    };
    let encoded =
        encode_block("t", Uuid::from_u128(1), fixed_traces(200), &small_config()).expect("encodes");
    assert!(
        encoded.meta.total_records > 1,
        "small row groups give several"
    );
    encoded.upload(&store).await.expect("uploads");
    let puts = store.puts.lock().expect("lock").clone();
    assert!(puts.last().is_some_and(|last| last.ends_with("/meta.json")));
    store
        .inner
        .put(
            &format!("t/{}/data.parquet", Uuid::from_u128(2)),
            Bytes::from_static(b"partial"),
        )
        .await
        .expect("put");
    assert_eq!(list_blocks(&store, "t").await.expect("lists").len(), 1);
}

#[tokio::test]
async fn corrupted_data_is_reported_not_served() {
    let store = Arc::new(ObjectStoreBackend::in_memory());
    let encoded =
        encode_block("t", Uuid::from_u128(1), fixed_traces(200), &small_config()).expect("encodes");
    encoded.upload(store.as_ref()).await.expect("uploads");
    let path = format!("t/{}/data.parquet", Uuid::from_u128(1));
    let mut damaged = store.get(&path).await.expect("get").to_vec();
    damaged[10] ^= 0xff;
    store.put(&path, Bytes::from(damaged)).await.expect("put");
    let reader = BlockReader::new(store, Arc::new(NoCache), encoded.meta.clone());
    let mut checksum_errors = 0;
    let mut found = 0;
    for index in 1..=200u8 {
        match reader.find_trace(&[index; 16]).await {
            Err(StorageError::Checksum { .. }) => checksum_errors += 1,
            Ok(Some(trace)) => {
                assert_eq!(trace.span_count(), 5);
                found += 1;
            }
            other => panic!("unexpected lookup result: {other:?}"),
        }
    }
    assert!(checksum_errors > 0, "the damaged row group is reported");
    assert!(found > 0, "other row groups are still served");
}

#[tokio::test]
async fn a_damaged_bloom_shard_never_hides_a_trace() {
    let store = Arc::new(ObjectStoreBackend::in_memory());
    let encoded =
        encode_block("t", Uuid::from_u128(1), fixed_traces(3), &small_config()).expect("encodes");
    encoded.upload(store.as_ref()).await.expect("uploads");
    for shard in 0..encoded.meta.bloom_shards {
        store
            .put(
                &format!("t/{}/bloom-{shard}", Uuid::from_u128(1)),
                Bytes::from_static(b"garbage"),
            )
            .await
            .expect("put");
    }
    let reader = BlockReader::new(store, Arc::new(NoCache), encoded.meta.clone());
    assert!(reader.find_trace(&[2; 16]).await.expect("reads").is_some());
    assert!(reader.find_trace(&[9; 16]).await.expect("reads").is_none());
}

#[tokio::test]
async fn local_disk_blocks_are_listed_per_tenant() {
    let dir = tempfile::tempdir().expect("tempdir");
    let store = Arc::new(ObjectStoreBackend::local(&dir.path().join("blocks")).expect("opens"));
    assert!(
        list_tenants(store.as_ref())
            .await
            .expect("lists")
            .is_empty()
    );
    for tenant in ["a", "b"] {
        encode_block(
            tenant,
            Uuid::new_v4(),
            fixed_traces(2),
            &BlockConfig::default(),
        )
        .expect("encodes")
        .upload(store.as_ref())
        .await
        .expect("uploads");
    }
    assert_eq!(
        list_tenants(store.as_ref()).await.expect("lists"),
        vec!["a", "b"]
    );
    let metas = list_blocks(store.as_ref(), "a").await.expect("lists");
    assert_eq!(metas.len(), 1);
    let cache: Arc<dyn Cache> = Arc::new(MemoryCache::new(1 << 20));
    let reader = BlockReader::new(store, cache, metas[0].clone());
    let found = reader.find_trace(&[2; 16]).await.expect("reads");
    assert_eq!(found.map(|trace| trace.span_count()), Some(5));
    assert!(reader.find_trace(&[3; 16]).await.expect("reads").is_none());
}
