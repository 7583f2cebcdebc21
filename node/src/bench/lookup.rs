//! `vivace bench lookup`: trace-by-ID latency for recent data and for flushed blocks.

use std::time::{Duration, Instant};

use anyhow::{Context as _, bail};
use vivace_proto::otlp::collector::trace_service_client::TraceServiceClient;

use super::generate::{BatchShape, batch, now_nanos, trace_id};

#[derive(clap::Args, Debug, Clone)]
pub struct LookupArgs {
    /// OTLP gRPC endpoint of the node.
    #[arg(long, default_value = "http://127.0.0.1:4317")]
    pub endpoint: String,
    /// HTTP API of the node.
    #[arg(long, default_value = "http://127.0.0.1:3200")]
    pub http: String,
    /// Traces to write in total.
    #[arg(long, default_value_t = 100_000)]
    pub traces: u64,
    /// Flushed blocks to spread them over (a `POST /flush` after each share).
    #[arg(long, default_value_t = 10)]
    pub blocks: u64,
    /// Spans per trace.
    #[arg(long, default_value_t = 5)]
    pub spans_per_trace: usize,
    /// Lookups per measured phase.
    #[arg(long, default_value_t = 2000)]
    pub queries: u64,
    /// Seed for trace ids.
    #[arg(long, default_value_t = 7)]
    pub seed: u64,
}

fn percentile(sorted: &[Duration], fraction: f64) -> Duration {
    if sorted.is_empty() {
        return Duration::ZERO;
    }
    let index = ((sorted.len() as f64 - 1.0) * fraction).round() as usize;
    sorted[index.min(sorted.len() - 1)]
}

async fn measure(
    client: &reqwest::Client,
    http: &str,
    seed: u64,
    trace_range: std::ops::Range<u64>,
    queries: u64,
) -> anyhow::Result<Vec<Duration>> {
    let mut latencies = Vec::with_capacity(queries as usize);
    let span = trace_range.end - trace_range.start;
    for query in 0..queries {
        let index = trace_range.start + xxhash_rust::xxh3::xxh3_64(&query.to_le_bytes()) % span;
        let url = format!("{http}/api/traces/{}", hex_id(&trace_id(seed, index)));
        let started = Instant::now();
        let response = client
            .get(&url)
            .header("Accept", "application/protobuf")
            .send()
            .await?;
        let status = response.status();
        let _ = response.bytes().await?;
        latencies.push(started.elapsed());
        if !status.is_success() {
            bail!("lookup of trace {index} answered {status}");
        }
    }
    latencies.sort();
    Ok(latencies)
}

fn hex_id(id: &[u8; 16]) -> String {
    id.iter().map(|byte| format!("{byte:02x}")).collect()
}

fn report(phase: &str, latencies: &[Duration]) {
    let mean = latencies.iter().sum::<Duration>() / latencies.len().max(1) as u32;
    println!(
        "  {phase:<8} n={} p50={:.2} ms p99={:.2} ms mean={:.2} ms",
        latencies.len(),
        percentile(latencies, 0.5).as_secs_f64() * 1e3,
        percentile(latencies, 0.99).as_secs_f64() * 1e3,
        mean.as_secs_f64() * 1e3
    );
}

async fn flushed_blocks(client: &reqwest::Client, http: &str) -> anyhow::Result<u64> {
    let text = client
        .get(format!("{http}/metrics"))
        .send()
        .await?
        .text()
        .await?;
    let value = text
        .lines()
        .find(|line| line.starts_with("tempo_ingester_blocks_flushed_total"))
        .and_then(|line| line.split_whitespace().last())
        .and_then(|number| number.parse::<f64>().ok())
        .unwrap_or(0.0);
    Ok(value as u64)
}

pub(super) async fn flush_and_wait(client: &reqwest::Client, http: &str) -> anyhow::Result<()> {
    let before = flushed_blocks(client, http).await?;
    client
        .post(format!("{http}/flush"))
        .send()
        .await?
        .error_for_status()?;
    let deadline = Instant::now() + Duration::from_secs(120);
    while flushed_blocks(client, http).await? <= before {
        if Instant::now() > deadline {
            bail!("no block was flushed within 120 s of POST /flush");
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    Ok(())
}

pub async fn run(args: LookupArgs) -> anyhow::Result<()> {
    let http = args.http.trim_end_matches('/').to_owned();
    let client = reqwest::Client::new();
    let channel = tonic::transport::Endpoint::from_shared(args.endpoint.clone())
        .context("invalid endpoint")?
        .connect()
        .await
        .with_context(|| format!("failed to connect to {}", args.endpoint))?;
    let mut exporter = TraceServiceClient::new(channel).max_encoding_message_size(64 * 1024 * 1024);
    let shape = BatchShape {
        spans_per_batch: 1000,
        spans_per_trace: args.spans_per_trace,
        attributes_per_span: 2,
    };
    let traces_per_batch = shape.spans_per_batch.div_ceil(shape.spans_per_trace.max(1)) as u64;
    let total_batches = args.traces.div_ceil(traces_per_batch);
    let batches_per_block = total_batches.div_ceil(args.blocks.max(1)).max(1);
    let written_traces = total_batches * traces_per_batch;
    println!(
        "lookup: writing {written_traces} traces over {} blocks",
        args.blocks
    );
    for batch_index in 0..total_batches {
        let (request, _) = batch(args.seed, batch_index, shape, now_nanos());
        exporter.export(request).await.context("export failed")?;
        let last_of_block =
            (batch_index + 1) % batches_per_block == 0 || batch_index + 1 == total_batches;
        if last_of_block {
            flush_and_wait(&client, &http).await?;
        }
    }
    let blocks_latencies =
        measure(&client, &http, args.seed, 0..written_traces, args.queries).await?;
    // A fresh set of traces that stays in the ingester.
    let recent_seed = args.seed.wrapping_add(1);
    let recent_batches = 10u64;
    for batch_index in 0..recent_batches {
        let (request, _) = batch(recent_seed, batch_index, shape, now_nanos());
        exporter.export(request).await.context("export failed")?;
    }
    let recent_latencies = measure(
        &client,
        &http,
        recent_seed,
        0..recent_batches * traces_per_batch,
        args.queries,
    )
    .await?;
    println!("trace-by-ID latency (protobuf, one client):");
    report("recent", &recent_latencies);
    report("blocks", &blocks_latencies);
    Ok(())
}
