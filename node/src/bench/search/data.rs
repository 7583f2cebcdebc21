//! The data set of `vivace bench search`: deterministic traces (seeded hashes of the trace and
//! span numbers) written as flushed blocks to a local-disk store, with a manifest so that reruns
//! with the same shape reuse them.
//!
//! Shape, per trace: `spans_per_trace` spans in a random tree under one root; a service out of
//! eight per span (a child keeps its parent's service two times out of three); names `op-0` ..
//! `op-19`; `http.method`, `http.status_code` (200, or 500 on 0.2% of spans and on 70% of the spans
//! of 2% of traces, the "error traces"), `http.url`; `feature.flag = "rare-beta"` on
//! 0.01% of spans; durations 1–200 ms, and 1–5 s on 0.1% of spans. About 167 bytes of OTLP
//! protobuf per span, as in the Tempo measurement the targets come from.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Instant;

use anyhow::{Context as _, bail};
use prost::Message as _;
use serde::{Deserialize, Serialize};
use uuid::Uuid;
use vivace_proto::ids::TraceId;
use vivace_proto::otlp::common::{AnyValue, KeyValue, any_value};
use vivace_proto::otlp::trace::{Span, Status, span};
use vivace_proto::tempopb::Trace;
use vivace_storage::backend::{BlockStore, ObjectStoreBackend};
use vivace_storage::block::{BlockConfig, BlockMeta, encode_sorted_block};
use xxhash_rust::xxh3::xxh3_64_with_seed;

use super::super::generate::{resource_spans, string_attribute, trace_id};

/// Bumped whenever the generated data changes, so that old blocks are not reused.
const GENERATOR_VERSION: u32 = 1;
/// Tenant the blocks are written under.
pub const TENANT: &str = "bench";
/// Services, names and other value ranges of the data.
pub const SERVICES: u64 = 8;
pub const SPAN_NAMES: u64 = 20;
/// Traces start 1 ms apart from this instant (2025-01-01T00:00:00Z).
const BASE_NANOS: u64 = 1_735_689_600_000_000_000;

/// What the data set is, as written next to the blocks.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Manifest {
    pub generator_version: u32,
    pub seed: u64,
    pub spans: u64,
    pub spans_per_trace: u64,
    pub spans_per_block: u64,
    pub block_config: (usize, f64, usize),
    pub blocks: Vec<Uuid>,
    /// OTLP protobuf bytes per span (an `ExportTraceServiceRequest` per trace, averaged).
    pub otlp_bytes_per_span: f64,
}

/// The data set's parameters.
#[derive(Debug, Clone, Copy)]
pub struct Shape {
    pub seed: u64,
    pub spans: u64,
    pub spans_per_trace: u64,
    pub spans_per_block: u64,
}

impl Shape {
    fn traces(&self) -> u64 {
        self.spans.div_ceil(self.spans_per_trace)
    }

    fn traces_per_block(&self) -> u64 {
        self.spans_per_block.div_ceil(self.spans_per_trace).max(1)
    }

    fn block_count(&self) -> u64 {
        self.traces().div_ceil(self.traces_per_block())
    }

    fn matches(&self, manifest: &Manifest, config: &BlockConfig) -> bool {
        manifest.generator_version == GENERATOR_VERSION
            && manifest.seed == self.seed
            && manifest.spans == self.spans
            && manifest.spans_per_trace == self.spans_per_trace
            && manifest.spans_per_block == self.spans_per_block
            && manifest.block_config == config_key(config)
    }
}

fn config_key(config: &BlockConfig) -> (usize, f64, usize) {
    (
        config.row_group_size_bytes,
        config.bloom_false_positive,
        config.bloom_shard_size_bytes,
    )
}

/// A deterministic 64-bit draw for (trace, span, purpose).
fn draw(seed: u64, trace: u64, span: u64, salt: u64) -> u64 {
    let mut key = [0u8; 24];
    key[..8].copy_from_slice(&trace.to_le_bytes());
    key[8..16].copy_from_slice(&span.to_le_bytes());
    key[16..].copy_from_slice(&salt.to_le_bytes());
    xxh3_64_with_seed(&key, seed)
}

fn int_attribute(key: &str, value: i64) -> KeyValue {
    KeyValue {
        key: key.to_owned(),
        value: Some(AnyValue {
            value: Some(any_value::Value::IntValue(value)),
        }),
        ..Default::default()
    }
}

fn span_id(trace: &TraceId, span_index: u64) -> Vec<u8> {
    xxh3_64_with_seed(trace, span_index + 1)
        .max(1)
        .to_be_bytes()
        .to_vec()
}

/// Trace number `index` of the data set.
pub fn build_trace(shape: &Shape, index: u64) -> (TraceId, Trace) {
    let seed = shape.seed;
    let id = trace_id(seed, index);
    let count = shape
        .spans_per_trace
        .min(shape.spans - index * shape.spans_per_trace);
    let error_trace = draw(seed, index, 0, 1).is_multiple_of(50);
    let trace_start = BASE_NANOS + index * 1_000_000;
    let mut services = Vec::with_capacity(count as usize);
    let mut starts = Vec::with_capacity(count as usize);
    // Spans grouped by service, in span order within each group.
    let mut by_service: Vec<Vec<Span>> = vec![Vec::new(); SERVICES as usize];
    for span_index in 0..count {
        let parent = (span_index > 0).then(|| draw(seed, index, span_index, 2) % span_index);
        let service = match parent {
            None => draw(seed, index, 0, 3) % SERVICES,
            Some(parent) if !draw(seed, index, span_index, 3).is_multiple_of(3) => {
                services[parent as usize]
            }
            Some(_) => draw(seed, index, span_index, 4) % SERVICES,
        };
        services.push(service);
        let start = match parent {
            None => trace_start,
            Some(parent) => {
                starts[parent as usize] + 1_000 * (1 + draw(seed, index, span_index, 5) % 500)
            }
        };
        starts.push(start);
        let duration = if draw(seed, index, span_index, 6).is_multiple_of(1000) {
            1_000_000_000 + draw(seed, index, span_index, 7) % 4_000_000_000
        } else {
            1_000_000 + draw(seed, index, span_index, 7) % 199_000_000
        };
        let failed = if error_trace {
            draw(seed, index, span_index, 8) % 10 < 7
        } else {
            draw(seed, index, span_index, 8).is_multiple_of(500)
        };
        let mut attributes = vec![
            string_attribute(
                "http.method",
                if draw(seed, index, span_index, 9).is_multiple_of(4) {
                    "POST"
                } else {
                    "GET"
                }
                .to_owned(),
            ),
            int_attribute("http.status_code", if failed { 500 } else { 200 }),
            string_attribute(
                "http.url",
                format!("/items/{}", draw(seed, index, span_index, 10) % 1000),
            ),
        ];
        if draw(seed, index, span_index, 12).is_multiple_of(10_000) {
            attributes.push(string_attribute("feature.flag", "rare-beta".to_owned()));
        }
        let kind = match (parent, draw(seed, index, span_index, 13) % 3) {
            (None, _) | (_, 0) => span::SpanKind::Server,
            (_, 1) => span::SpanKind::Client,
            _ => span::SpanKind::Internal,
        };
        by_service[service as usize].push(Span {
            trace_id: id.to_vec(),
            span_id: span_id(&id, span_index),
            parent_span_id: parent
                .map(|parent| span_id(&id, parent))
                .unwrap_or_default(),
            name: format!("op-{}", draw(seed, index, span_index, 14) % SPAN_NAMES),
            kind: kind as i32,
            start_time_unix_nano: start,
            end_time_unix_nano: start + duration,
            attributes,
            status: Some(Status {
                code: if failed { 2 } else { 0 },
                message: String::new(),
            }),
            ..Default::default()
        });
    }
    let resource_spans = by_service
        .into_iter()
        .enumerate()
        .filter(|(_, spans)| !spans.is_empty())
        .map(|(service, spans)| {
            resource_spans(
                vec![
                    string_attribute("service.name", format!("service-{service}")),
                    string_attribute("k8s.namespace.name", "bench".to_owned()),
                ],
                spans,
            )
        })
        .collect();
    (id, Trace { resource_spans })
}

fn block_id(seed: u64, block: u64) -> Uuid {
    Uuid::from_u128(
        (u128::from(xxh3_64_with_seed(&block.to_le_bytes(), seed)) << 64)
            | u128::from(0xbe_0000_0000 + block),
    )
}

/// Encodes block number `block` (streaming: traces are built one at a time in trace-id order).
fn encode(
    shape: Shape,
    config: &BlockConfig,
    block: u64,
) -> anyhow::Result<(vivace_storage::block::EncodedBlock, u64, u64)> {
    let first = block * shape.traces_per_block();
    let end = (first + shape.traces_per_block()).min(shape.traces());
    let mut order: Vec<(TraceId, u64)> = (first..end)
        .map(|index| (trace_id(shape.seed, index), index))
        .collect();
    order.sort_unstable();
    let mut otlp_bytes = 0u64;
    let mut spans = 0u64;
    let traces = order.into_iter().map(|(_, index)| {
        let (id, trace) = build_trace(&shape, index);
        otlp_bytes += trace.encoded_len() as u64;
        spans += trace.span_count() as u64;
        (id, trace)
    });
    let encoded = encode_sorted_block(TENANT, block_id(shape.seed, block), traces, config)
        .context("encoding a block")?;
    Ok((encoded, otlp_bytes, spans))
}

fn manifest_path(dir: &Path) -> PathBuf {
    dir.join("manifest.json")
}

/// The blocks under `dir`: reused when the manifest matches `shape` and every block is there,
/// written otherwise (two blocks encoded at a time).
pub async fn prepare(
    dir: &Path,
    shape: Shape,
    config: &BlockConfig,
    store: Arc<dyn BlockStore>,
) -> anyhow::Result<(Vec<BlockMeta>, Manifest)> {
    let blocks_dir = dir.join("blocks");
    if let Ok(text) = std::fs::read_to_string(manifest_path(dir))
        && let Ok(manifest) = serde_json::from_str::<Manifest>(&text)
        && shape.matches(&manifest, config)
    {
        let mut metas = Vec::with_capacity(manifest.blocks.len());
        for id in &manifest.blocks {
            let path = format!("{TENANT}/{id}/meta.json");
            match store.get(&path).await {
                Ok(bytes) => metas.push(serde_json::from_slice::<BlockMeta>(&bytes)?),
                Err(_) => break,
            }
        }
        if metas.len() == manifest.blocks.len() {
            println!(
                "search: reusing {} blocks in {}",
                metas.len(),
                blocks_dir.display()
            );
            return Ok((metas, manifest));
        }
    }
    let has_files = std::fs::read_dir(&blocks_dir)
        .map(|mut entries| entries.next().is_some())
        .unwrap_or(false);
    if has_files {
        if !manifest_path(dir).exists() {
            bail!(
                "{} exists but has no manifest.json from this benchmark: use an empty --dir",
                blocks_dir.display()
            );
        }
        std::fs::remove_file(manifest_path(dir))?;
        std::fs::remove_dir_all(&blocks_dir)
            .with_context(|| format!("removing {}", blocks_dir.display()))?;
        std::fs::create_dir_all(&blocks_dir)?;
    }
    let started = Instant::now();
    let blocks = shape.block_count();
    println!(
        "search: writing {} spans ({} traces) as {blocks} blocks in {}",
        shape.spans,
        shape.traces(),
        blocks_dir.display()
    );
    let mut metas = Vec::with_capacity(blocks as usize);
    let mut otlp_bytes = 0u64;
    let mut spans = 0u64;
    let parallel = std::thread::available_parallelism()
        .map(|count| count.get())
        .unwrap_or(2)
        .clamp(1, 4) as u64;
    let mut next = 0u64;
    while next < blocks {
        let batch_end = (next + parallel).min(blocks);
        let mut tasks = Vec::new();
        for block in next..batch_end {
            let config = config.clone();
            tasks.push(tokio::task::spawn_blocking(move || {
                encode(shape, &config, block)
            }));
        }
        for task in tasks {
            let (encoded, bytes, count) = task.await??;
            encoded.upload(store.as_ref()).await?;
            otlp_bytes += bytes;
            spans += count;
            metas.push(encoded.meta.clone());
        }
        println!(
            "  {batch_end}/{blocks} blocks written ({:.0} s)",
            started.elapsed().as_secs_f64()
        );
        next = batch_end;
    }
    let manifest = Manifest {
        generator_version: GENERATOR_VERSION,
        seed: shape.seed,
        spans: shape.spans,
        spans_per_trace: shape.spans_per_trace,
        spans_per_block: shape.spans_per_block,
        block_config: config_key(config),
        blocks: metas.iter().map(|meta| meta.block_id).collect(),
        otlp_bytes_per_span: otlp_bytes as f64 / spans.max(1) as f64,
    };
    std::fs::write(manifest_path(dir), serde_json::to_vec_pretty(&manifest)?)?;
    Ok((metas, manifest))
}

/// The local-disk store under `<dir>/blocks`.
pub fn local_store(dir: &Path) -> anyhow::Result<Arc<dyn BlockStore>> {
    let store = ObjectStoreBackend::local(&dir.join("blocks"))
        .with_context(|| format!("opening a local store under {}", dir.display()))?;
    Ok(Arc::new(store))
}

/// Total bytes of the files under `path`.
pub fn disk_usage(path: &Path) -> u64 {
    let Ok(entries) = std::fs::read_dir(path) else {
        return 0;
    };
    entries
        .flatten()
        .map(|entry| match entry.metadata() {
            Ok(meta) if meta.is_dir() => disk_usage(&entry.path()),
            Ok(meta) => meta.len(),
            Err(_) => 0,
        })
        .sum()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn shape() -> Shape {
        Shape {
            seed: 3,
            spans: 200_000,
            spans_per_trace: 10,
            spans_per_block: 100_000,
        }
    }

    #[test]
    fn traces_are_deterministic_and_shaped() {
        let shape = shape();
        let (id, trace) = build_trace(&shape, 17);
        assert_eq!(build_trace(&shape, 17), (id, trace.clone()));
        assert_eq!(trace.span_count(), 10);
        let roots = trace
            .resource_spans
            .iter()
            .flat_map(|batch| &batch.scope_spans)
            .flat_map(|scope| &scope.spans)
            .filter(|span| span.parent_span_id.is_empty())
            .count();
        assert_eq!(roots, 1);
    }

    #[test]
    fn spans_are_about_167_bytes_with_rare_and_slow_spans() {
        let shape = shape();
        let (mut bytes, mut spans, mut rare, mut slow, mut errors) = (0, 0, 0, 0, 0);
        for index in 0..20_000 {
            let (_, trace) = build_trace(&shape, index);
            bytes += trace.encoded_len();
            for span in trace
                .resource_spans
                .iter()
                .flat_map(|batch| &batch.scope_spans)
                .flat_map(|scope| &scope.spans)
            {
                spans += 1;
                rare += usize::from(span.attributes.iter().any(|kv| kv.key == "feature.flag"));
                slow += usize::from(
                    span.end_time_unix_nano - span.start_time_unix_nano > 1_000_000_000,
                );
                errors += usize::from(span.status.as_ref().is_some_and(|status| status.code == 2));
            }
        }
        let per_span = bytes as f64 / spans as f64;
        assert!(
            (150.0..185.0).contains(&per_span),
            "{per_span} bytes per span"
        );
        assert!((5..60).contains(&rare), "{rare} rare spans");
        assert!((100..400).contains(&slow), "{slow} slow spans");
        assert!(errors > 1_000 && errors < 4_000, "{errors} error spans");
    }
}
