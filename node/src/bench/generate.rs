//! Synthetic OTLP batches for the load generator: deterministic ids from a seed and a counter.

use vivace_proto::otlp::collector::ExportTraceServiceRequest;
use vivace_proto::otlp::common::{AnyValue, InstrumentationScope, KeyValue, any_value};
use vivace_proto::otlp::resource::Resource;
use vivace_proto::otlp::trace::{ResourceSpans, ScopeSpans, Span, Status, span};
use xxhash_rust::xxh3::xxh3_64_with_seed;

/// Wall-clock nanoseconds, for span timestamps.
pub fn now_nanos() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|elapsed| elapsed.as_nanos() as u64)
        .unwrap_or(0)
}

/// Shape of generated batches.
#[derive(Debug, Clone, Copy)]
pub struct BatchShape {
    pub spans_per_batch: usize,
    pub spans_per_trace: usize,
    pub attributes_per_span: usize,
}

pub fn string_attribute(key: &str, value: String) -> KeyValue {
    KeyValue {
        key: key.to_owned(),
        value: Some(AnyValue {
            value: Some(any_value::Value::StringValue(value)),
        }),
        ..Default::default()
    }
}

/// Spans of one resource under the load generator's instrumentation scope.
pub fn resource_spans(resource_attributes: Vec<KeyValue>, spans: Vec<Span>) -> ResourceSpans {
    ResourceSpans {
        resource: Some(Resource {
            attributes: resource_attributes,
            ..Default::default()
        }),
        scope_spans: vec![ScopeSpans {
            scope: Some(InstrumentationScope {
                name: "vivace-bench".to_owned(),
                ..Default::default()
            }),
            spans,
            schema_url: String::new(),
        }],
        schema_url: String::new(),
    }
}

/// The trace id of trace number `index` for generator `seed`.
pub fn trace_id(seed: u64, index: u64) -> [u8; 16] {
    let high = xxh3_64_with_seed(&index.to_le_bytes(), seed);
    let low = xxh3_64_with_seed(&index.to_le_bytes(), seed ^ 0x5eed);
    let mut id = [0u8; 16];
    id[..8].copy_from_slice(&high.to_be_bytes());
    id[8..].copy_from_slice(&low.to_be_bytes());
    id
}

/// Builds batch number `batch_index`: traces `batch_index * traces_per_batch ..`.
pub fn batch(
    seed: u64,
    batch_index: u64,
    shape: BatchShape,
    now_nanos: u64,
) -> (ExportTraceServiceRequest, Vec<[u8; 16]>) {
    let spans_per_trace = shape.spans_per_trace.max(1);
    let traces_per_batch = shape.spans_per_batch.div_ceil(spans_per_trace).max(1);
    let mut spans = Vec::with_capacity(shape.spans_per_batch);
    let mut trace_ids = Vec::with_capacity(traces_per_batch);
    for trace_offset in 0..traces_per_batch as u64 {
        let trace_index = batch_index * traces_per_batch as u64 + trace_offset;
        let id = trace_id(seed, trace_index);
        trace_ids.push(id);
        for span_index in 0..spans_per_trace as u64 {
            if spans.len() == shape.spans_per_batch {
                break;
            }
            let span_id = xxh3_64_with_seed(&id, span_index + 1)
                .max(1)
                .to_be_bytes()
                .to_vec();
            let parent_span_id = if span_index == 0 {
                Vec::new()
            } else {
                xxh3_64_with_seed(&id, span_index)
                    .max(1)
                    .to_be_bytes()
                    .to_vec()
            };
            let attributes = (0..shape.attributes_per_span)
                .map(|attribute| {
                    string_attribute(
                        &format!("attr.{attribute}"),
                        format!("value-{}", (trace_index + attribute as u64) % 97),
                    )
                })
                .collect();
            spans.push(Span {
                trace_id: id.to_vec(),
                span_id,
                parent_span_id,
                name: format!("op-{}", span_index % 10),
                kind: span::SpanKind::Server as i32,
                start_time_unix_nano: now_nanos + span_index * 1_000,
                end_time_unix_nano: now_nanos + span_index * 1_000 + 5_000_000,
                attributes,
                status: Some(Status {
                    code: if trace_index.is_multiple_of(50) { 2 } else { 0 },
                    message: String::new(),
                }),
                ..Default::default()
            });
        }
    }
    let request = ExportTraceServiceRequest {
        resource_spans: vec![resource_spans(
            vec![string_attribute(
                "service.name",
                format!("bench-service-{}", batch_index % 8),
            )],
            spans,
        )],
    };
    (request, trace_ids)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn batches_have_the_requested_shape() {
        let shape = BatchShape {
            spans_per_batch: 100,
            spans_per_trace: 10,
            attributes_per_span: 3,
        };
        let (request, ids) = batch(1, 0, shape, 0);
        let spans = &request.resource_spans[0].scope_spans[0].spans;
        assert_eq!(spans.len(), 100);
        assert_eq!(ids.len(), 10);
        assert_eq!(spans[0].attributes.len(), 3);
        let (_, next_ids) = batch(1, 1, shape, 0);
        assert!(ids.iter().all(|id| !next_ids.contains(id)));
    }
}
