//! Measures trace lookups in one block on local disk: `cargo run --release -p vivace-storage
//! --example block_lookup -- [traces] [spans per trace] [lookups]`.

use std::sync::Arc;
use std::time::{Duration, Instant};

use uuid::Uuid;
use vivace_cache::{Cache, MemoryCache};
use vivace_proto::ids::TraceId;
use vivace_proto::otlp::common::{AnyValue, InstrumentationScope, KeyValue, any_value};
use vivace_proto::otlp::resource::Resource;
use vivace_proto::otlp::trace::{ResourceSpans, ScopeSpans, Span, Status};
use vivace_proto::tempopb::Trace;
use vivace_storage::backend::{BlockStore, CountingStore, ObjectStoreBackend};
use vivace_storage::block::{BlockConfig, BlockReader, encode_block, list_blocks};
use xxhash_rust::xxh3::xxh3_64_with_seed;

fn trace_id(index: u64) -> TraceId {
    let mut id = [0u8; 16];
    id[..8].copy_from_slice(&xxh3_64_with_seed(&index.to_le_bytes(), 1).to_be_bytes());
    id[8..].copy_from_slice(&xxh3_64_with_seed(&index.to_le_bytes(), 2).to_be_bytes());
    id
}

fn text(key: &str, value: String) -> KeyValue {
    KeyValue {
        key: key.to_owned(),
        value: Some(AnyValue {
            value: Some(any_value::Value::StringValue(value)),
        }),
        ..Default::default()
    }
}

fn make_trace(index: u64, spans_per_trace: u64) -> (TraceId, Trace) {
    let id = trace_id(index);
    let start = 1_700_000_000_000_000_000 + index * 1_000_000;
    let spans = (0..spans_per_trace)
        .map(|span| Span {
            trace_id: id.to_vec(),
            span_id: xxh3_64_with_seed(&id, span).to_be_bytes().to_vec(),
            parent_span_id: if span == 0 {
                Vec::new()
            } else {
                xxh3_64_with_seed(&id, 0).to_be_bytes().to_vec()
            },
            name: format!("GET /api/v{}/items", span % 7),
            kind: 2,
            start_time_unix_nano: start + span * 1000,
            end_time_unix_nano: start + span * 1000 + 50_000,
            attributes: vec![
                text("http.method", "GET".into()),
                text("http.url", format!("https://example.com/items/{index}")),
                text("user.id", format!("user-{}", index % 1000)),
            ],
            status: Some(Status::default()),
            ..Default::default()
        })
        .collect();
    let trace = Trace {
        resource_spans: vec![ResourceSpans {
            resource: Some(Resource {
                attributes: vec![text("service.name", format!("service-{}", index % 20))],
                ..Default::default()
            }),
            scope_spans: vec![ScopeSpans {
                scope: Some(InstrumentationScope {
                    name: "bench".into(),
                    ..Default::default()
                }),
                spans,
                ..Default::default()
            }],
            ..Default::default()
        }],
    };
    (id, trace)
}

fn argument(position: usize, default: u64) -> u64 {
    std::env::args()
        .nth(position)
        .and_then(|value| value.parse().ok())
        .unwrap_or(default)
}

fn percentile(sorted: &[Duration], fraction: f64) -> Duration {
    let index = ((sorted.len().saturating_sub(1)) as f64 * fraction).round() as usize;
    sorted.get(index).copied().unwrap_or_default()
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let traces = argument(1, 100_000);
    let spans_per_trace = argument(2, 5);
    let lookups = argument(3, 2_000);
    let input: Vec<(TraceId, Trace)> = (0..traces)
        .map(|index| make_trace(index, spans_per_trace))
        .collect();
    let started = Instant::now();
    let encoded = encode_block("bench", Uuid::new_v4(), input, &BlockConfig::default())?;
    println!(
        "encode: {} traces, {} spans, {} row groups, {} bytes, {:.0} ms",
        encoded.meta.total_objects,
        encoded.meta.total_spans,
        encoded.meta.total_records,
        encoded.meta.size,
        started.elapsed().as_secs_f64() * 1000.0
    );
    let dir = tempfile::tempdir()?;
    let disk: Arc<dyn BlockStore> = Arc::new(ObjectStoreBackend::local(dir.path())?);
    encoded.upload(disk.as_ref()).await?;
    let metas = list_blocks(disk.as_ref(), "bench").await?;
    let Some(meta) = metas.into_iter().next() else {
        return Err("block not listed".into());
    };
    let counting = Arc::new(CountingStore::new(Arc::clone(&disk)));
    let cache: Arc<dyn Cache> = Arc::new(MemoryCache::new(64 << 20));
    let reader = BlockReader::new(counting.clone(), cache, meta);
    for (name, offset) in [("present", 0u64), ("absent", u64::MAX / 2)] {
        let mut latencies = Vec::with_capacity(lookups as usize);
        let reads_before = counting.reads();
        let bytes_before = counting.bytes_read();
        for lookup in 0..lookups {
            let index = offset.wrapping_add(xxh3_64_with_seed(&lookup.to_le_bytes(), 9) % traces);
            let begun = Instant::now();
            let found = reader.find_trace(&trace_id(index)).await?;
            latencies.push(begun.elapsed());
            if offset == 0 && found.map(|trace| trace.span_count() as u64) != Some(spans_per_trace)
            {
                return Err(format!("trace {index} not found whole").into());
            }
        }
        latencies.sort();
        println!(
            "{name}: n={lookups} p50={:.3} ms p99={:.3} ms max={:.3} ms, {:.1} reads and {:.0} bytes per lookup",
            percentile(&latencies, 0.5).as_secs_f64() * 1000.0,
            percentile(&latencies, 0.99).as_secs_f64() * 1000.0,
            percentile(&latencies, 1.0).as_secs_f64() * 1000.0,
            (counting.reads() - reads_before) as f64 / lookups as f64,
            (counting.bytes_read() - bytes_before) as f64 / lookups as f64,
        );
    }
    Ok(())
}
