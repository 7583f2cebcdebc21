//! Tempo-compatible protobuf messages (package `tempopb`), written by hand with prost derives.
//!
//! Field numbers follow Tempo's `pkg/tempopb/tempo.proto`, so that clients such as Grafana and
//! tempo-cli decode our protobuf answers unchanged.

use crate::otlp::trace::ResourceSpans;

/// A trace: the same wire shape as an OTLP `ExportTraceServiceRequest` (field 1 = resource spans).
#[derive(Clone, PartialEq, prost::Message)]
pub struct Trace {
    #[prost(message, repeated, tag = "1")]
    pub resource_spans: Vec<ResourceSpans>,
}

impl Trace {
    /// Number of spans in the trace.
    pub fn span_count(&self) -> usize {
        self.resource_spans
            .iter()
            .flat_map(|batch| batch.scope_spans.iter())
            .map(|scope| scope.spans.len())
            .sum()
    }
}

/// Query statistics attached to a trace-by-ID answer (v2).
#[derive(Clone, PartialEq, prost::Message)]
pub struct TraceByIdMetrics {
    #[prost(uint64, tag = "1")]
    pub inspected_bytes: u64,
    #[prost(uint64, tag = "2")]
    pub backend_reads: u64,
    #[prost(uint64, tag = "3")]
    pub backend_bytes: u64,
    #[prost(btree_map = "string, int64", tag = "4")]
    pub additional_metrics: std::collections::BTreeMap<String, i64>,
}

/// Whether an answer holds the whole trace.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, prost::Enumeration)]
#[repr(i32)]
pub enum PartialStatus {
    Complete = 0,
    Partial = 1,
}

impl PartialStatus {
    /// The enum value name as jsonpb writes it.
    pub fn as_str_name(self) -> &'static str {
        match self {
            PartialStatus::Complete => "COMPLETE",
            PartialStatus::Partial => "PARTIAL",
        }
    }
}

/// The v2 trace-by-ID answer (`GET /api/v2/traces/{id}`).
#[derive(Clone, PartialEq, prost::Message)]
pub struct TraceByIdResponse {
    #[prost(message, optional, tag = "1")]
    pub trace: Option<Trace>,
    #[prost(message, optional, tag = "2")]
    pub metrics: Option<TraceByIdMetrics>,
    #[prost(enumeration = "PartialStatus", tag = "3")]
    pub status: i32,
    #[prost(string, tag = "4")]
    pub message: String,
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::otlp::collector::ExportTraceServiceRequest;
    use prost::Message;

    #[test]
    fn trace_is_wire_compatible_with_export_request() {
        let request = ExportTraceServiceRequest {
            resource_spans: vec![ResourceSpans {
                schema_url: "s".into(),
                ..Default::default()
            }],
        };
        let bytes = request.encode_to_vec();
        let trace = Trace::decode(bytes.as_slice()).expect("decodes");
        assert_eq!(trace.resource_spans, request.resource_spans);
    }
}
