//! What a search returns per trace, before it is turned into Tempo's `TraceSearchMetadata`.

use std::collections::BTreeMap;

use vivace_traceql::{Kind, Status};

/// A value of a span or spanset attribute in a result.
#[derive(Debug, Clone, PartialEq)]
pub enum Value {
    Int(i64),
    Float(f64),
    String(String),
    Bool(bool),
    /// Nanoseconds.
    Duration(i64),
    Status(Status),
    Kind(Kind),
}

/// Spans and errors of one service within a trace.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ServiceStats {
    pub span_count: u32,
    pub error_count: u32,
}

/// One span of a spanset.
#[derive(Debug, Clone, PartialEq)]
pub struct SpanMatch {
    pub span_id: [u8; 8],
    pub name: String,
    pub start_unix_nanos: u64,
    pub duration_nanos: u64,
    /// Attributes the query read or selected, by bare name (no scope), in first-use order.
    pub attributes: Vec<(String, Value)>,
}

/// One spanset of a trace.
#[derive(Debug, Clone, PartialEq)]
pub struct SpansetMatch {
    /// At most `spss` spans, in row order.
    pub spans: Vec<SpanMatch>,
    /// How many spans the spanset holds.
    pub matched: u32,
    /// `by(...)` groups and aggregate values, in the order the pipeline produced them. A `by`
    /// group of spans without a value has no entry.
    pub attributes: Vec<(String, Value)>,
}

/// A trace that matched, with its spansets.
#[derive(Debug, Clone, PartialEq)]
pub struct TraceMatch {
    pub trace_id: [u8; 16],
    /// The root span's service and name (`None` without a root span).
    pub root_service_name: Option<String>,
    pub root_span_name: Option<String>,
    /// The earliest span start and the latest end minus it.
    pub start_unix_nanos: u64,
    pub duration_nanos: u64,
    pub spansets: Vec<SpansetMatch>,
    /// Per service (spans without a service under ""), over all spans of the trace seen.
    pub service_stats: BTreeMap<String, ServiceStats>,
}
