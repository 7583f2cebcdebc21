//! `vivace bench ingest`: concurrent OTLP gRPC exports.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use anyhow::Context as _;
use prost::Message;
use tonic::codec::CompressionEncoding;
use vivace_proto::otlp::collector::trace_service_client::TraceServiceClient;

use super::generate::{BatchShape, batch, now_nanos};
use super::process::{cpu_seconds, peak_rss_bytes};

#[derive(clap::Args, Debug, Clone)]
pub struct IngestArgs {
    /// OTLP gRPC endpoint of the node.
    #[arg(long, default_value = "http://127.0.0.1:4317")]
    pub endpoint: String,
    /// Concurrent connections, each sending one export at a time.
    #[arg(long, default_value_t = 4)]
    pub connections: usize,
    /// Spans per export.
    #[arg(long, default_value_t = 1000)]
    pub spans_per_batch: usize,
    /// Spans per trace.
    #[arg(long, default_value_t = 10)]
    pub spans_per_trace: usize,
    /// Attributes per span.
    #[arg(long, default_value_t = 2)]
    pub attributes: usize,
    /// Total spans to send.
    #[arg(long, default_value_t = 2_000_000)]
    pub total_spans: u64,
    /// Compress exports with gzip.
    #[arg(long)]
    pub gzip: bool,
    /// Server pid, to report its CPU time and peak RSS; repeat it for every process of a cluster
    /// (CPU is summed, peak RSS reported per process and summed).
    #[arg(long)]
    pub pid: Vec<u32>,
    /// Seed for trace ids (different runs should use different seeds).
    #[arg(long, default_value_t = 1)]
    pub seed: u64,
    /// HTTP API of an ingester node: after sending, `POST /flush` and wait for the blocks, so that
    /// CPU and memory cover the whole path (receive, WAL, block build, upload). Repeat it for
    /// every ingester of a cluster.
    #[arg(long)]
    pub flush_http: Vec<String>,
}

pub async fn run(args: IngestArgs) -> anyhow::Result<()> {
    let shape = BatchShape {
        spans_per_batch: args.spans_per_batch.max(1),
        spans_per_trace: args.spans_per_trace,
        attributes_per_span: args.attributes,
    };
    let total_batches = args.total_spans.div_ceil(shape.spans_per_batch as u64);
    let next_batch = Arc::new(AtomicU64::new(0));
    let accepted_spans = Arc::new(AtomicU64::new(0));
    let failed_batches = Arc::new(AtomicU64::new(0));
    let sent_bytes = Arc::new(AtomicU64::new(0));
    let cpu_before: Option<f64> = args.pid.iter().map(|pid| cpu_seconds(*pid)).sum();
    let latencies = Arc::new(std::sync::Mutex::new(Vec::<f64>::new()));
    let started = Instant::now();
    let mut workers = tokio::task::JoinSet::new();
    for _ in 0..args.connections.max(1) {
        let channel = tonic::transport::Endpoint::from_shared(args.endpoint.clone())
            .context("invalid endpoint")?
            .connect()
            .await
            .with_context(|| format!("failed to connect to {}", args.endpoint))?;
        let mut client =
            TraceServiceClient::new(channel).max_encoding_message_size(64 * 1024 * 1024);
        if args.gzip {
            client = client.send_compressed(CompressionEncoding::Gzip);
        }
        let next_batch = Arc::clone(&next_batch);
        let accepted_spans = Arc::clone(&accepted_spans);
        let failed_batches = Arc::clone(&failed_batches);
        let sent_bytes = Arc::clone(&sent_bytes);
        let latencies = Arc::clone(&latencies);
        let seed = args.seed;
        workers.spawn(async move {
            loop {
                let batch_index = next_batch.fetch_add(1, Ordering::Relaxed);
                if batch_index >= total_batches {
                    return;
                }
                let (request, _) = batch(seed, batch_index, shape, now_nanos());
                let spans = request.resource_spans[0].scope_spans[0].spans.len() as u64;
                sent_bytes.fetch_add(request.encoded_len() as u64, Ordering::Relaxed);
                let export_started = Instant::now();
                let outcome = client.export(request).await;
                latencies
                    .lock()
                    .unwrap_or_else(|poisoned| poisoned.into_inner())
                    .push(export_started.elapsed().as_secs_f64() * 1e3);
                match outcome {
                    Ok(_) => {
                        accepted_spans.fetch_add(spans, Ordering::Relaxed);
                    }
                    Err(status) => {
                        failed_batches.fetch_add(1, Ordering::Relaxed);
                        if failed_batches.load(Ordering::Relaxed) <= 3 {
                            eprintln!("export failed: {status}");
                        }
                        tokio::time::sleep(Duration::from_millis(50)).await;
                    }
                }
            }
        });
    }
    while workers.join_next().await.is_some() {}
    let elapsed = started.elapsed().as_secs_f64();
    let client = reqwest::Client::new();
    for http in &args.flush_http {
        super::lookup::flush_and_wait(&client, http.trim_end_matches('/')).await?;
    }
    let elapsed_with_flush = started.elapsed().as_secs_f64();
    let accepted = accepted_spans.load(Ordering::Relaxed);
    let bytes = sent_bytes.load(Ordering::Relaxed);
    println!(
        "ingest: {} connections, {} spans/export, {} attributes/span",
        args.connections, shape.spans_per_batch, shape.attributes_per_span
    );
    println!("  spans accepted     {accepted}");
    println!(
        "  exports failed     {}",
        failed_batches.load(Ordering::Relaxed)
    );
    println!("  elapsed            {elapsed:.2} s");
    println!(
        "  throughput         {:.0} spans/s",
        accepted as f64 / elapsed
    );
    println!(
        "  bytes per span     {:.0} (OTLP protobuf)",
        bytes as f64 / accepted.max(1) as f64
    );
    let mut sorted = latencies
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
        .clone();
    sorted.sort_by(f64::total_cmp);
    let percentile = |fraction: f64| {
        let index = ((sorted.len() as f64 * fraction).ceil() as usize).saturating_sub(1);
        sorted.get(index).copied().unwrap_or(0.0)
    };
    println!(
        "  export latency     p50 {:.1} ms, p99 {:.1} ms, max {:.1} ms",
        percentile(0.5),
        percentile(0.99),
        percentile(1.0)
    );
    if !args.flush_http.is_empty() {
        println!("  with block flush   {elapsed_with_flush:.2} s");
    }
    if let Some(before) = cpu_before {
        let after: Option<f64> = args.pid.iter().map(|pid| cpu_seconds(*pid)).sum();
        if let Some(after) = after {
            let cpu = after - before;
            println!("  server cpu         {cpu:.2} s");
            println!(
                "  cpu per 1M spans   {:.2} s",
                cpu / (accepted.max(1) as f64 / 1e6)
            );
            println!(
                "  spans per cpu-s    {:.0}",
                accepted as f64 / cpu.max(1e-9)
            );
        }
        let peaks: Vec<u64> = args
            .pid
            .iter()
            .filter_map(|pid| peak_rss_bytes(*pid))
            .collect();
        if !peaks.is_empty() {
            let each: Vec<String> = peaks
                .iter()
                .map(|peak| format!("{:.0}", *peak as f64 / 1e6))
                .collect();
            println!(
                "  server peak rss    {:.1} MB ({} MB)",
                peaks.iter().sum::<u64>() as f64 / 1e6,
                each.join(" + ")
            );
        }
    }
    Ok(())
}
