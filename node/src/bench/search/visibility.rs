//! `vivace bench visibility`: how long after an OTLP export is acknowledged its trace is found by
//! `GET /api/search` of a running node (or Tempo). Each sample exports one small trace carrying
//! a unique `bench_id` span attribute, then polls `{ span.bench_id = "<id>" }` until a trace is
//! returned.

use std::time::{Duration, Instant};

use anyhow::{Context as _, bail};
use vivace_proto::otlp::collector::ExportTraceServiceRequest;
use vivace_proto::otlp::collector::trace_service_client::TraceServiceClient;
use vivace_proto::otlp::trace::{Span, span};

use super::super::generate::{now_nanos, resource_spans, string_attribute, trace_id};

#[derive(clap::Args, Debug, Clone)]
pub struct VisibilityArgs {
    /// HTTP API of the node (where `/api/search` is served).
    #[arg(long, default_value = "http://127.0.0.1:3200")]
    pub endpoint: String,
    /// OTLP gRPC endpoint of the node.
    #[arg(long, default_value = "127.0.0.1:4317")]
    pub otlp: String,
    /// Traces to export and time.
    #[arg(long, default_value_t = 20)]
    pub samples: usize,
    /// Pause between two searches of one sample, in milliseconds.
    #[arg(long, default_value_t = 20)]
    pub poll_ms: u64,
    /// Give up on a sample after this many seconds.
    #[arg(long, default_value_t = 120)]
    pub timeout_s: u64,
    /// Search without `start`/`end` (Tempo then searches only recent data); by default the
    /// searches cover the last hour, as Grafana's do.
    #[arg(long)]
    pub no_range: bool,
    /// Tenant (`X-Scope-OrgID`), if the node is multi-tenant.
    #[arg(long)]
    pub tenant: Option<String>,
}

/// A three-span trace whose spans carry `bench_id = unique`.
fn marked_trace(id: [u8; 16], unique: &str) -> ExportTraceServiceRequest {
    let now = now_nanos();
    let spans = (0..3u8)
        .map(|index| Span {
            trace_id: id.to_vec(),
            span_id: vec![index + 1; 8],
            parent_span_id: if index == 0 { Vec::new() } else { vec![1; 8] },
            name: format!("visibility-{index}"),
            kind: span::SpanKind::Server as i32,
            start_time_unix_nano: now - 2_000_000,
            end_time_unix_nano: now - 1_000_000,
            attributes: vec![string_attribute("bench_id", unique.to_owned())],
            ..Default::default()
        })
        .collect();
    ExportTraceServiceRequest {
        resource_spans: vec![resource_spans(
            vec![string_attribute(
                "service.name",
                "bench-visibility".to_owned(),
            )],
            spans,
        )],
    }
}

/// Percent-encodes a query-string value.
fn encode_component(text: &str) -> String {
    let mut encoded = String::with_capacity(text.len() * 3);
    for byte in text.bytes() {
        if byte.is_ascii_alphanumeric() || b"-_.~".contains(&byte) {
            encoded.push(byte as char);
        } else {
            encoded.push_str(&format!("%{byte:02X}"));
        }
    }
    encoded
}

/// Whether a `/api/search` JSON answer holds at least one trace.
fn has_traces(body: &[u8]) -> anyhow::Result<bool> {
    let answer: serde_json::Value =
        serde_json::from_slice(body).context("the search answer is not JSON")?;
    Ok(answer
        .get("traces")
        .and_then(|traces| traces.as_array())
        .is_some_and(|traces| !traces.is_empty()))
}

fn percentile(sorted: &[f64], fraction: f64) -> f64 {
    let index = ((sorted.len() as f64 * fraction).ceil() as usize).saturating_sub(1);
    sorted.get(index).copied().unwrap_or(0.0)
}

pub async fn run(args: VisibilityArgs) -> anyhow::Result<()> {
    let http = args.endpoint.trim_end_matches('/').to_owned();
    let otlp = if args.otlp.contains("://") {
        args.otlp.clone()
    } else {
        format!("http://{}", args.otlp)
    };
    let channel = tonic::transport::Endpoint::from_shared(otlp.clone())
        .context("invalid OTLP endpoint")?
        .connect()
        .await
        .with_context(|| format!("failed to connect to {otlp}"))?;
    let mut exporter = TraceServiceClient::new(channel);
    let client = reqwest::Client::new();
    let run_id = format!("{:x}", now_nanos());
    let mut latencies = Vec::with_capacity(args.samples);
    let mut asked_after = Vec::with_capacity(args.samples);
    let mut search_latencies = Vec::new();
    println!(
        "visibility: {} samples against {http} (OTLP {otlp}), polling every {} ms{}",
        args.samples,
        args.poll_ms,
        if args.no_range {
            ", no time range"
        } else {
            ", last hour"
        }
    );
    for sample in 0..args.samples {
        let unique = format!("{run_id}-{sample}");
        let id = trace_id(now_nanos(), sample as u64);
        let query = format!(r#"{{ span.bench_id = "{unique}" }}"#);
        exporter
            .export(marked_trace(id, &unique))
            .await
            .context("export failed")?;
        let acknowledged = Instant::now();
        let deadline = acknowledged + Duration::from_secs(args.timeout_s);
        let mut polls = 0u64;
        loop {
            let mut url = format!("{http}/api/search?q={}", encode_component(&query));
            if !args.no_range {
                let now = now_nanos() / 1_000_000_000;
                url.push_str(&format!("&start={}&end={}", now - 3600, now + 60));
            }
            let mut request = client.get(&url);
            if let Some(tenant) = &args.tenant {
                request = request.header("X-Scope-OrgID", tenant);
            }
            let asked = Instant::now();
            let response = request.send().await.context("search request failed")?;
            let status = response.status();
            let body = response.bytes().await?;
            search_latencies.push(asked.elapsed().as_secs_f64() * 1e3);
            polls += 1;
            if !status.is_success() {
                bail!(
                    "GET /api/search answered {status}: {}",
                    String::from_utf8_lossy(&body)
                );
            }
            if has_traces(&body)? {
                let latency = acknowledged.elapsed().as_secs_f64() * 1e3;
                let sent = asked.duration_since(acknowledged).as_secs_f64() * 1e3;
                println!(
                    "  sample {sample:>3}: found by a search sent {sent:>8.1} ms after the ack, answered at {latency:>8.1} ms ({polls} searches)"
                );
                latencies.push(latency);
                asked_after.push(sent);
                break;
            }
            if Instant::now() > deadline {
                bail!(
                    "sample {sample}: not found within {} s of the export",
                    args.timeout_s
                );
            }
            tokio::time::sleep(Duration::from_millis(args.poll_ms)).await;
        }
    }
    latencies.sort_by(f64::total_cmp);
    asked_after.sort_by(f64::total_cmp);
    search_latencies.sort_by(f64::total_cmp);
    println!(
        "ack -> answer      p50 {:.1} ms, p99 {:.1} ms, max {:.1} ms (n={}): the ack until the answer of the first search that found the trace",
        percentile(&latencies, 0.5),
        percentile(&latencies, 0.99),
        percentile(&latencies, 1.0),
        latencies.len()
    );
    println!(
        "ack -> visible     p50 {:.1} ms, p99 {:.1} ms, max {:.1} ms: the ack until that search was sent (the trace was searchable by then)",
        percentile(&asked_after, 0.5),
        percentile(&asked_after, 0.99),
        percentile(&asked_after, 1.0)
    );
    println!(
        "search latency     p50 {:.1} ms, p99 {:.1} ms (n={}; the poll period adds up to {} ms)",
        percentile(&search_latencies, 0.5),
        percentile(&search_latencies, 0.99),
        search_latencies.len(),
        args.poll_ms
    );
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn encodes_traceql_for_a_query_string() {
        assert_eq!(
            encode_component(r#"{ span.bench_id = "a-1" }"#),
            "%7B%20span.bench_id%20%3D%20%22a-1%22%20%7D"
        );
    }

    #[test]
    fn reads_search_answers() {
        assert!(has_traces(br#"{"traces":[{"traceID":"1"}],"metrics":{}}"#).unwrap());
        assert!(!has_traces(br#"{"traces":[],"metrics":{}}"#).unwrap());
        assert!(!has_traces(br#"{"metrics":{}}"#).unwrap());
    }
}
