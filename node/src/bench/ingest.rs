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
    /// Server pid, to report its CPU time and peak RSS.
    #[arg(long)]
    pub pid: Option<u32>,
    /// Seed for trace ids (different runs should use different seeds).
    #[arg(long, default_value_t = 1)]
    pub seed: u64,
    /// HTTP API of the node: after sending, `POST /flush` and wait for the blocks, so that CPU and
    /// memory cover the whole path (receive, WAL, block build, upload).
    #[arg(long)]
    pub flush_http: Option<String>,
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
    let cpu_before = args.pid.and_then(cpu_seconds);
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
                match client.export(request).await {
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
    if let Some(http) = &args.flush_http {
        let client = reqwest::Client::new();
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
    if args.flush_http.is_some() {
        println!("  with block flush   {elapsed_with_flush:.2} s");
    }
    if let (Some(pid), Some(before)) = (args.pid, cpu_before) {
        if let Some(after) = cpu_seconds(pid) {
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
        if let Some(peak) = peak_rss_bytes(pid) {
            println!("  server peak rss    {:.1} MB", peak as f64 / 1e6);
        }
    }
    Ok(())
}
