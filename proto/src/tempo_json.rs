//! Tempo's JSON dialect for traces (gogo `jsonpb` with default options), see tempo-api.md §1 and §3.3.
//!
//! - lowerCamelCase field names, fields holding their default value omitted;
//! - 64-bit integers as strings, 32-bit integers and doubles as numbers;
//! - `bytes` (trace and span ids, bytes attribute values) as standard base64;
//! - enums as their names (`SPAN_KIND_SERVER`, `STATUS_CODE_ERROR`).
//!
//! `/api/traces/{id}` (v1) writes the trace under `batches`; `/api/v2/traces/{id}` writes a
//! `TraceByIDResponse` whose `trace` uses `resourceSpans`.

use base64::Engine;
use base64::engine::general_purpose::STANDARD as BASE64;
use serde_json::{Map, Value};

use crate::otlp::common::{AnyValue, InstrumentationScope, KeyValue, any_value};
use crate::otlp::resource::Resource;
use crate::otlp::trace::{ResourceSpans, ScopeSpans, Span, Status, span};
use crate::tempopb::{PartialStatus, Trace, TraceByIdMetrics, TraceByIdResponse};

/// Builds a JSON object while skipping default values, as jsonpb does.
#[derive(Default)]
pub(crate) struct Object(Map<String, Value>);

impl Object {
    pub(crate) fn string(&mut self, key: &str, value: &str) -> &mut Self {
        if !value.is_empty() {
            self.0
                .insert(key.to_owned(), Value::String(value.to_owned()));
        }
        self
    }

    pub(crate) fn bytes(&mut self, key: &str, value: &[u8]) -> &mut Self {
        if !value.is_empty() {
            self.0
                .insert(key.to_owned(), Value::String(BASE64.encode(value)));
        }
        self
    }

    pub(crate) fn u32(&mut self, key: &str, value: u32) -> &mut Self {
        if value != 0 {
            self.0.insert(key.to_owned(), Value::from(value));
        }
        self
    }

    pub(crate) fn u64_as_string(&mut self, key: &str, value: u64) -> &mut Self {
        if value != 0 {
            self.0
                .insert(key.to_owned(), Value::String(value.to_string()));
        }
        self
    }

    pub(crate) fn array(&mut self, key: &str, values: Vec<Value>) -> &mut Self {
        if !values.is_empty() {
            self.0.insert(key.to_owned(), Value::Array(values));
        }
        self
    }

    pub(crate) fn object(&mut self, key: &str, value: Option<Value>) -> &mut Self {
        if let Some(present) = value {
            self.0.insert(key.to_owned(), present);
        }
        self
    }

    pub(crate) fn enum_name(&mut self, key: &str, value: i32, name: Option<&str>) -> &mut Self {
        if value == 0 {
            return self;
        }
        let encoded = match name {
            Some(known) => Value::String(known.to_owned()),
            None => Value::from(value),
        };
        self.0.insert(key.to_owned(), encoded);
        self
    }

    pub(crate) fn strings(&mut self, key: &str, values: &[String]) -> &mut Self {
        self.array(
            key,
            values
                .iter()
                .map(|text| Value::String(text.clone()))
                .collect(),
        )
    }

    pub(crate) fn map(&mut self, key: &str, entries: Map<String, Value>) -> &mut Self {
        if !entries.is_empty() {
            self.0.insert(key.to_owned(), Value::Object(entries));
        }
        self
    }

    /// A `map<string, int64>`: jsonpb writes every entry, values as strings.
    pub(crate) fn int64_map(
        &mut self,
        key: &str,
        entries: &std::collections::BTreeMap<String, i64>,
    ) -> &mut Self {
        let encoded = entries
            .iter()
            .map(|(name, value)| (name.clone(), Value::String(value.to_string())))
            .collect();
        self.map(key, encoded)
    }

    pub(crate) fn build(&mut self) -> Value {
        Value::Object(std::mem::take(&mut self.0))
    }
}

/// Encodes an attribute value (the `AnyValue` oneof; a set oneof field is always written).
pub fn any_value_to_json(value: &AnyValue) -> Value {
    let mut object = Map::new();
    let Some(inner) = &value.value else {
        return Value::Object(object);
    };
    let (key, encoded) = match inner {
        any_value::Value::StringValue(text) => ("stringValue", Value::String(text.clone())),
        any_value::Value::BoolValue(flag) => ("boolValue", Value::Bool(*flag)),
        any_value::Value::IntValue(number) => ("intValue", Value::String(number.to_string())),
        any_value::Value::DoubleValue(number) => ("doubleValue", double_to_json(*number)),
        any_value::Value::ArrayValue(array) => {
            let mut inner_object = Object::default();
            inner_object.array(
                "values",
                array.values.iter().map(any_value_to_json).collect(),
            );
            ("arrayValue", inner_object.build())
        }
        any_value::Value::KvlistValue(list) => {
            let mut inner_object = Object::default();
            inner_object.array("values", key_values_to_json(&list.values));
            ("kvlistValue", inner_object.build())
        }
        any_value::Value::BytesValue(bytes) => ("bytesValue", Value::String(BASE64.encode(bytes))),
        any_value::Value::StringValueStrindex(index) => {
            ("stringValueStrindex", Value::from(*index))
        }
    };
    object.insert(key.to_owned(), encoded);
    Value::Object(object)
}

/// jsonpb writes NaN and infinities as strings.
fn double_to_json(number: f64) -> Value {
    if number.is_nan() {
        return Value::String("NaN".to_owned());
    }
    if number.is_infinite() {
        let text = if number > 0.0 {
            "Infinity"
        } else {
            "-Infinity"
        };
        return Value::String(text.to_owned());
    }
    serde_json::Number::from_f64(number)
        .map(Value::Number)
        .unwrap_or(Value::Null)
}

pub(crate) fn key_values_to_json(attributes: &[KeyValue]) -> Vec<Value> {
    attributes.iter().map(key_value_to_json).collect()
}

fn key_value_to_json(attribute: &KeyValue) -> Value {
    let mut object = Object::default();
    object.string("key", &attribute.key);
    object.object("value", attribute.value.as_ref().map(any_value_to_json));
    object.build()
}

fn resource_to_json(resource: &Resource) -> Value {
    let mut object = Object::default();
    object.array("attributes", key_values_to_json(&resource.attributes));
    object.u32("droppedAttributesCount", resource.dropped_attributes_count);
    object.build()
}

fn scope_to_json(scope: &InstrumentationScope) -> Value {
    let mut object = Object::default();
    object.string("name", &scope.name);
    object.string("version", &scope.version);
    object.array("attributes", key_values_to_json(&scope.attributes));
    object.u32("droppedAttributesCount", scope.dropped_attributes_count);
    object.build()
}

fn status_to_json(status: &Status) -> Value {
    let mut object = Object::default();
    object.string("message", &status.message);
    let code_name = crate::otlp::trace::status::StatusCode::try_from(status.code)
        .ok()
        .map(|code| code.as_str_name());
    object.enum_name("code", status.code, code_name);
    object.build()
}

fn event_to_json(event: &span::Event) -> Value {
    let mut object = Object::default();
    object.u64_as_string("timeUnixNano", event.time_unix_nano);
    object.string("name", &event.name);
    object.array("attributes", key_values_to_json(&event.attributes));
    object.u32("droppedAttributesCount", event.dropped_attributes_count);
    object.build()
}

fn link_to_json(link: &span::Link) -> Value {
    let mut object = Object::default();
    object.bytes("traceId", &link.trace_id);
    object.bytes("spanId", &link.span_id);
    object.string("traceState", &link.trace_state);
    object.array("attributes", key_values_to_json(&link.attributes));
    object.u32("droppedAttributesCount", link.dropped_attributes_count);
    object.u32("flags", link.flags);
    object.build()
}

/// Encodes one span in Tempo's dialect.
pub fn span_to_json(span: &Span) -> Value {
    let mut object = Object::default();
    object.bytes("traceId", &span.trace_id);
    object.bytes("spanId", &span.span_id);
    object.string("traceState", &span.trace_state);
    object.bytes("parentSpanId", &span.parent_span_id);
    object.u32("flags", span.flags);
    object.string("name", &span.name);
    let kind_name = span::SpanKind::try_from(span.kind)
        .ok()
        .map(|kind| kind.as_str_name());
    object.enum_name("kind", span.kind, kind_name);
    object.u64_as_string("startTimeUnixNano", span.start_time_unix_nano);
    object.u64_as_string("endTimeUnixNano", span.end_time_unix_nano);
    object.array("attributes", key_values_to_json(&span.attributes));
    object.u32("droppedAttributesCount", span.dropped_attributes_count);
    object.array("events", span.events.iter().map(event_to_json).collect());
    object.u32("droppedEventsCount", span.dropped_events_count);
    object.array("links", span.links.iter().map(link_to_json).collect());
    object.u32("droppedLinksCount", span.dropped_links_count);
    object.object("status", span.status.as_ref().map(status_to_json));
    object.build()
}

fn scope_spans_to_json(scope_spans: &ScopeSpans) -> Value {
    let mut object = Object::default();
    object.object("scope", scope_spans.scope.as_ref().map(scope_to_json));
    object.array(
        "spans",
        scope_spans.spans.iter().map(span_to_json).collect(),
    );
    object.string("schemaUrl", &scope_spans.schema_url);
    object.build()
}

fn resource_spans_to_json(resource_spans: &ResourceSpans) -> Value {
    let mut object = Object::default();
    object.object(
        "resource",
        resource_spans.resource.as_ref().map(resource_to_json),
    );
    object.array(
        "scopeSpans",
        resource_spans
            .scope_spans
            .iter()
            .map(scope_spans_to_json)
            .collect(),
    );
    object.string("schemaUrl", &resource_spans.schema_url);
    object.build()
}

fn trace_to_json_with_key(trace: &Trace, key: &str) -> Value {
    let mut object = Object::default();
    object.array(
        key,
        trace
            .resource_spans
            .iter()
            .map(resource_spans_to_json)
            .collect(),
    );
    object.build()
}

/// The v1 body of `GET /api/traces/{id}`: `{"batches":[...]}`.
pub fn trace_to_v1_json(trace: &Trace) -> Value {
    trace_to_json_with_key(trace, "batches")
}

fn metrics_to_json(metrics: &TraceByIdMetrics) -> Value {
    let mut object = Object::default();
    object.u64_as_string("inspectedBytes", metrics.inspected_bytes);
    object.u64_as_string("backendReads", metrics.backend_reads);
    object.u64_as_string("backendBytes", metrics.backend_bytes);
    if !metrics.additional_metrics.is_empty() {
        let additional: Map<String, Value> = metrics
            .additional_metrics
            .iter()
            .map(|(name, value)| (name.clone(), Value::String(value.to_string())))
            .collect();
        object.object("additionalMetrics", Some(Value::Object(additional)));
    }
    object.build()
}

/// The v2 body of `GET /api/v2/traces/{id}`: a `TraceByIDResponse`.
pub fn trace_by_id_response_to_json(response: &TraceByIdResponse) -> Value {
    let mut object = Object::default();
    object.object(
        "trace",
        response
            .trace
            .as_ref()
            .map(|trace| trace_to_json_with_key(trace, "resourceSpans")),
    );
    object.object("metrics", response.metrics.as_ref().map(metrics_to_json));
    let status_name = PartialStatus::try_from(response.status)
        .ok()
        .map(|status| status.as_str_name());
    object.enum_name("status", response.status, status_name);
    object.string("message", &response.message);
    object.build()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::otlp::common::ArrayValue;

    fn sample_span() -> Span {
        Span {
            trace_id: vec![1; 16],
            span_id: vec![2; 8],
            name: "GET /".into(),
            kind: span::SpanKind::Server as i32,
            start_time_unix_nano: 1_700_000_000_000_000_000,
            end_time_unix_nano: 1_700_000_000_500_000_000,
            attributes: vec![
                KeyValue {
                    key: "http.status_code".into(),
                    value: Some(AnyValue {
                        value: Some(any_value::Value::IntValue(200)),
                    }),
                    ..Default::default()
                },
                KeyValue {
                    key: "tags".into(),
                    value: Some(AnyValue {
                        value: Some(any_value::Value::ArrayValue(ArrayValue {
                            values: vec![AnyValue {
                                value: Some(any_value::Value::BoolValue(false)),
                            }],
                        })),
                    }),
                    ..Default::default()
                },
            ],
            status: Some(Status {
                message: String::new(),
                code: 2,
            }),
            ..Default::default()
        }
    }

    #[test]
    fn span_uses_tempo_dialect() {
        let encoded = span_to_json(&sample_span());
        assert_eq!(encoded["traceId"], "AQEBAQEBAQEBAQEBAQEBAQ==");
        assert_eq!(encoded["spanId"], "AgICAgICAgI=");
        assert_eq!(encoded["kind"], "SPAN_KIND_SERVER");
        assert_eq!(encoded["startTimeUnixNano"], "1700000000000000000");
        assert_eq!(encoded["attributes"][0]["value"]["intValue"], "200");
        assert_eq!(
            encoded["attributes"][1]["value"]["arrayValue"]["values"][0]["boolValue"],
            false
        );
        assert_eq!(encoded["status"]["code"], "STATUS_CODE_ERROR");
        assert!(encoded.get("parentSpanId").is_none());
        assert!(encoded.get("events").is_none());
    }

    #[test]
    fn v1_uses_batches_and_v2_resource_spans() {
        let trace = Trace {
            resource_spans: vec![ResourceSpans {
                scope_spans: vec![ScopeSpans {
                    spans: vec![sample_span()],
                    ..Default::default()
                }],
                ..Default::default()
            }],
        };
        let v1 = trace_to_v1_json(&trace);
        assert!(v1.get("batches").is_some());
        let v2 = trace_by_id_response_to_json(&TraceByIdResponse {
            trace: Some(trace),
            ..Default::default()
        });
        assert!(v2["trace"].get("resourceSpans").is_some());
        assert!(v2.get("status").is_none());
    }

    #[test]
    fn empty_v2_response_has_empty_trace_object() {
        let v2 = trace_by_id_response_to_json(&TraceByIdResponse {
            trace: Some(Trace::default()),
            ..Default::default()
        });
        assert_eq!(v2.to_string(), r#"{"trace":{}}"#);
    }
}
