//! A seeded OTLP workload (the spans of a trace arrive in several batches, out of order, batches
//! mix traces) and the oracle: what was sent, and what was acknowledged.

use std::collections::{BTreeMap, BTreeSet};

use rand::Rng;
use rand::rngs::StdRng;
use vivace_proto::otlp::common::{AnyValue, KeyValue, any_value};
use vivace_proto::otlp::resource::Resource;
use vivace_proto::otlp::trace::{ResourceSpans, ScopeSpans, Span};

use crate::options::SimOptions;

pub type TraceId = [u8; 16];
pub type SpanId = [u8; 8];

/// One export: spans of one or more traces.
#[derive(Debug, Clone)]
pub struct Batch {
    pub spans: Vec<(TraceId, SpanId)>,
}

impl Batch {
    /// The batch as an OTLP request body.
    pub fn to_otlp(&self, service: &str) -> Vec<ResourceSpans> {
        let spans = self
            .spans
            .iter()
            .enumerate()
            .map(|(index, (trace_id, span_id))| Span {
                trace_id: trace_id.to_vec(),
                span_id: span_id.to_vec(),
                name: format!("op-{}", span_id[0] % 7),
                start_time_unix_nano: 1_700_000_000_000_000_000 + index as u64 * 1_000,
                end_time_unix_nano: 1_700_000_000_000_001_000 + index as u64 * 1_000,
                ..Default::default()
            })
            .collect();
        vec![ResourceSpans {
            resource: Some(Resource {
                attributes: vec![KeyValue {
                    key: "service.name".to_owned(),
                    value: Some(AnyValue {
                        value: Some(any_value::Value::StringValue(service.to_owned())),
                    }),
                    ..Default::default()
                }],
                ..Default::default()
            }),
            scope_spans: vec![ScopeSpans {
                spans,
                ..Default::default()
            }],
            ..Default::default()
        }]
    }
}

fn nonzero<const N: usize>(rng: &mut StdRng) -> [u8; N] {
    let mut bytes = [0u8; N];
    rng.fill(&mut bytes[..]);
    bytes[0] |= 1;
    bytes
}

/// The batches of a run, in sending order.
pub fn generate(options: &SimOptions, rng: &mut StdRng) -> Vec<Batch> {
    let mut pieces: Vec<Vec<(TraceId, SpanId)>> = Vec::new();
    for _ in 0..options.traces {
        let trace_id: TraceId = nonzero(rng);
        let span_count = rng.random_range(1..=options.max_spans_per_trace);
        let spans: Vec<(TraceId, SpanId)> =
            (0..span_count).map(|_| (trace_id, nonzero(rng))).collect();
        let batches = rng
            .random_range(1..=options.max_batches_per_trace)
            .min(spans.len());
        let per_batch = spans.len().div_ceil(batches);
        pieces.extend(spans.chunks(per_batch).map(<[_]>::to_vec));
    }
    // Out of order: shuffle the pieces, then merge neighbours so batches mix traces.
    for index in (1..pieces.len()).rev() {
        let other = rng.random_range(0..=index);
        pieces.swap(index, other);
    }
    let mut batches = Vec::new();
    let mut pending = pieces.into_iter().peekable();
    while let Some(first) = pending.next() {
        let mut spans = first;
        let extra = rng.random_range(0..=2);
        for _ in 0..extra {
            if let Some(next) = pending.next() {
                spans.extend(next);
            }
        }
        batches.push(Batch { spans });
    }
    batches
}

/// What was sent and what the cluster acknowledged.
#[derive(Debug, Default)]
pub struct Oracle {
    pub sent: BTreeMap<TraceId, BTreeSet<SpanId>>,
    pub acked: BTreeMap<TraceId, BTreeSet<SpanId>>,
}

impl Oracle {
    pub fn record_sent(&mut self, batch: &Batch) {
        for (trace_id, span_id) in &batch.spans {
            self.sent.entry(*trace_id).or_default().insert(*span_id);
        }
    }

    /// The spans of `trace_id` in `batch` were acknowledged.
    pub fn record_acked(&mut self, batch: &Batch, trace_id: &TraceId) {
        let acked = self.acked.entry(*trace_id).or_default();
        for (span_trace, span_id) in &batch.spans {
            if span_trace == trace_id {
                acked.insert(*span_id);
            }
        }
    }

    pub fn acked_spans(&self) -> usize {
        self.acked.values().map(BTreeSet::len).sum()
    }
}
