//! Engine results as Tempo's `tempopb` search messages.

use vivace_engine::format::go_duration;
use vivace_engine::{SpanMatch, SpansetMatch, TraceMatch, Value};
use vivace_proto::otlp::common::{AnyValue, KeyValue, any_value};
use vivace_proto::tempopb_search as pb;

/// What Tempo shows for a trace whose root span has not arrived.
pub const ROOT_SPAN_NOT_YET_RECEIVED: &str = "<root span not yet received>";

/// A trace id as Tempo writes it in search results: lowercase hex, leading zeros trimmed.
pub fn trace_id_hex(trace_id: &[u8; 16]) -> String {
    let full = hex::encode(trace_id);
    let trimmed = full.trim_start_matches('0');
    if trimmed.is_empty() {
        return "0".to_owned();
    }
    trimmed.to_owned()
}

/// An attribute value as Tempo returns it (statuses, kinds and durations as strings).
pub fn any_value(value: &Value) -> AnyValue {
    let inner = match value {
        Value::Int(number) => any_value::Value::IntValue(*number),
        Value::Float(number) => any_value::Value::DoubleValue(*number),
        Value::String(text) => any_value::Value::StringValue(text.clone()),
        Value::Bool(flag) => any_value::Value::BoolValue(*flag),
        Value::Duration(nanos) => any_value::Value::StringValue(go_duration(*nanos)),
        Value::Status(status) => any_value::Value::StringValue(status.as_str().to_owned()),
        Value::Kind(kind) => any_value::Value::StringValue(kind.as_str().to_owned()),
    };
    AnyValue { value: Some(inner) }
}

fn key_values(attributes: &[(String, Value)]) -> Vec<KeyValue> {
    attributes
        .iter()
        .map(|(key, value)| KeyValue {
            key: key.clone(),
            value: Some(any_value(value)),
            ..KeyValue::default()
        })
        .collect()
}

fn span(span: &SpanMatch) -> pb::Span {
    pb::Span {
        span_id: hex::encode(span.span_id),
        name: span.name.clone(),
        start_time_unix_nano: span.start_unix_nanos,
        duration_nanos: span.duration_nanos,
        attributes: key_values(&span.attributes),
    }
}

fn spanset(spanset: &SpansetMatch) -> pb::SpanSet {
    pb::SpanSet {
        spans: spanset.spans.iter().map(span).collect(),
        matched: spanset.matched,
        attributes: key_values(&spanset.attributes),
    }
}

/// One matched trace as `TraceSearchMetadata` (the root service is left empty when unknown; the
/// combiner fills in Tempo's placeholder when answering).
pub fn trace_metadata(found: &TraceMatch) -> pb::TraceSearchMetadata {
    pb::TraceSearchMetadata {
        trace_id: trace_id_hex(&found.trace_id),
        root_service_name: found.root_service_name.clone().unwrap_or_default(),
        root_trace_name: found.root_span_name.clone().unwrap_or_default(),
        start_time_unix_nano: found.start_unix_nanos,
        duration_ms: u32::try_from(found.duration_nanos / 1_000_000).unwrap_or(u32::MAX),
        span_set: None,
        span_sets: found.spansets.iter().map(spanset).collect(),
        service_stats: found
            .service_stats
            .iter()
            .map(|(service, stats)| {
                (
                    service.clone(),
                    pb::ServiceStats {
                        span_count: stats.span_count,
                        error_count: stats.error_count,
                    },
                )
            })
            .collect(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn trace_ids_lose_leading_zeros() {
        let mut id = [0u8; 16];
        id[15] = 0xab;
        assert_eq!(trace_id_hex(&id), "ab");
        assert_eq!(trace_id_hex(&[0u8; 16]), "0");
        assert_eq!(trace_id_hex(&[0x1f; 16]).len(), 32);
    }

    #[test]
    fn statuses_and_durations_are_strings() {
        let status = any_value(&Value::Status(vivace_traceql::Status::Error));
        assert_eq!(
            status.value,
            Some(any_value::Value::StringValue("error".to_owned()))
        );
        let duration = any_value(&Value::Duration(1_500_000));
        assert_eq!(
            duration.value,
            Some(any_value::Value::StringValue("1.5ms".to_owned()))
        );
    }
}
