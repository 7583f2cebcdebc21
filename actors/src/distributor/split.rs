//! Regrouping of an OTLP export by trace, with Tempo's validation (whole push rejected on a bad
//! id) and attribute truncation.

use std::collections::HashMap;

use bytes::Bytes;
use prost::Message;
use vivace_proto::ids::{SpanIdValidationError, TraceId, validate_span_ids};
use vivace_proto::otlp::common::{KeyValue, any_value};
use vivace_proto::otlp::trace::{ResourceSpans, ScopeSpans, Span};
use vivace_proto::tempopb::Trace;

use crate::metrics::DiscardReason;

/// The spans of one trace from one push, encoded as a `tempopb.Trace`.
#[derive(Clone, Debug, PartialEq)]
pub struct TraceFragment {
    pub trace_id: TraceId,
    /// Encoded `tempopb.Trace` holding only this trace's spans.
    pub trace: Bytes,
    /// Earliest span start, unix seconds.
    pub start_seconds: u32,
    /// Latest span end, unix seconds.
    pub end_seconds: u32,
    pub span_count: u32,
}

/// A push that failed validation: the whole request is refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{message}")]
pub struct SplitError {
    pub reason: DiscardReason,
    pub message: String,
    pub span_count: u64,
}

/// Result of splitting a push.
#[derive(Debug, Default)]
pub struct SplitPush {
    pub fragments: Vec<TraceFragment>,
    pub span_count: u64,
    pub truncated_attributes: u64,
}

struct FragmentBuilder {
    trace: Trace,
    /// (resource index in the push, scope index in the push) → (batch, scope) index in `trace`.
    positions: HashMap<(usize, usize), (usize, usize)>,
    start_nanos: u64,
    end_nanos: u64,
    span_count: u32,
}

impl FragmentBuilder {
    fn new() -> Self {
        FragmentBuilder {
            trace: Trace::default(),
            positions: HashMap::new(),
            start_nanos: u64::MAX,
            end_nanos: 0,
            span_count: 0,
        }
    }

    fn add(
        &mut self,
        resource: &ResourceSpans,
        resource_index: usize,
        scope: &ScopeSpans,
        scope_index: usize,
        span: Span,
    ) {
        self.start_nanos = self.start_nanos.min(span.start_time_unix_nano);
        self.end_nanos = self.end_nanos.max(span.end_time_unix_nano);
        self.span_count += 1;
        let (batch_position, scope_position) =
            match self.positions.get(&(resource_index, scope_index)) {
                Some(found) => *found,
                None => {
                    let batch_position = self
                        .positions
                        .iter()
                        .find(|((known_resource, _), _)| *known_resource == resource_index)
                        .map(|(_, (batch, _))| *batch)
                        .unwrap_or_else(|| {
                            self.trace.resource_spans.push(ResourceSpans {
                                resource: resource.resource.clone(),
                                scope_spans: Vec::new(),
                                schema_url: resource.schema_url.clone(),
                            });
                            self.trace.resource_spans.len() - 1
                        });
                    let batch = &mut self.trace.resource_spans[batch_position];
                    batch.scope_spans.push(ScopeSpans {
                        scope: scope.scope.clone(),
                        spans: Vec::new(),
                        schema_url: scope.schema_url.clone(),
                    });
                    let position = (batch_position, batch.scope_spans.len() - 1);
                    self.positions
                        .insert((resource_index, scope_index), position);
                    position
                }
            };
        self.trace.resource_spans[batch_position].scope_spans[scope_position]
            .spans
            .push(span);
    }

    fn finish(self, trace_id: TraceId) -> TraceFragment {
        TraceFragment {
            trace_id,
            trace: Bytes::from(self.trace.encode_to_vec()),
            start_seconds: nanos_to_seconds(self.start_nanos),
            end_seconds: nanos_to_seconds(self.end_nanos),
            span_count: self.span_count,
        }
    }
}

fn nanos_to_seconds(nanos: u64) -> u32 {
    u32::try_from(nanos / 1_000_000_000).unwrap_or(u32::MAX)
}

/// Cuts a string to at most `max_bytes` bytes on a character boundary. Returns whether it was cut.
fn truncate_to(text: &mut String, max_bytes: usize) -> bool {
    if max_bytes == 0 || text.len() <= max_bytes {
        return false;
    }
    let mut boundary = max_bytes;
    while !text.is_char_boundary(boundary) {
        boundary -= 1;
    }
    text.truncate(boundary);
    true
}

fn truncate_attributes(attributes: &mut [KeyValue], max_bytes: usize) -> u64 {
    let mut truncated = 0;
    for attribute in attributes {
        let mut cut = truncate_to(&mut attribute.key, max_bytes);
        if let Some(any_value::Value::StringValue(text)) = attribute
            .value
            .as_mut()
            .and_then(|value| value.value.as_mut())
        {
            cut |= truncate_to(text, max_bytes);
        }
        truncated += u64::from(cut);
    }
    truncated
}

fn count_spans(batches: &[ResourceSpans]) -> u64 {
    batches
        .iter()
        .flat_map(|batch| batch.scope_spans.iter())
        .map(|scope| scope.spans.len() as u64)
        .sum()
}

/// Splits a push into per-trace fragments. Any span with a trace id that is not 16 bytes or a span
/// id that is not 8 non-zero bytes refuses the whole push, as Tempo does.
pub fn split_by_trace(
    batches: Vec<ResourceSpans>,
    max_attribute_bytes: usize,
) -> Result<SplitPush, SplitError> {
    let span_count = count_spans(&batches);
    let mut builders: Vec<(TraceId, FragmentBuilder)> = Vec::new();
    let mut index_by_trace: HashMap<TraceId, usize> = HashMap::new();
    let mut truncated_attributes = 0;
    for (resource_index, mut resource_spans) in batches.into_iter().enumerate() {
        if let Some(resource) = resource_spans.resource.as_mut() {
            truncated_attributes +=
                truncate_attributes(&mut resource.attributes, max_attribute_bytes);
        }
        let scopes = std::mem::take(&mut resource_spans.scope_spans);
        for (scope_index, mut scope_spans) in scopes.into_iter().enumerate() {
            if let Some(scope) = scope_spans.scope.as_mut() {
                truncated_attributes +=
                    truncate_attributes(&mut scope.attributes, max_attribute_bytes);
            }
            let spans = std::mem::take(&mut scope_spans.spans);
            for mut span in spans {
                let trace_id =
                    validate_span_ids(&span.trace_id, &span.span_id).map_err(|error| {
                        let reason = match error {
                            SpanIdValidationError::TraceId(_) => DiscardReason::InvalidTraceId,
                            SpanIdValidationError::SpanId => DiscardReason::InvalidSpanId,
                        };
                        SplitError {
                            reason,
                            message: error.to_string(),
                            span_count,
                        }
                    })?;
                truncated_attributes +=
                    truncate_attributes(&mut span.attributes, max_attribute_bytes);
                for event in &mut span.events {
                    truncated_attributes +=
                        truncate_attributes(&mut event.attributes, max_attribute_bytes);
                }
                for link in &mut span.links {
                    truncated_attributes +=
                        truncate_attributes(&mut link.attributes, max_attribute_bytes);
                }
                let builder_index = *index_by_trace.entry(trace_id).or_insert_with(|| {
                    builders.push((trace_id, FragmentBuilder::new()));
                    builders.len() - 1
                });
                builders[builder_index].1.add(
                    &resource_spans,
                    resource_index,
                    &scope_spans,
                    scope_index,
                    span,
                );
            }
        }
    }
    let fragments = builders
        .into_iter()
        .map(|(trace_id, builder)| builder.finish(trace_id))
        .collect();
    Ok(SplitPush {
        fragments,
        span_count,
        truncated_attributes,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use vivace_proto::otlp::common::AnyValue;

    fn span(trace: u8, span: u8) -> Span {
        Span {
            trace_id: vec![trace; 16],
            span_id: vec![span; 8],
            start_time_unix_nano: 2_000_000_000,
            end_time_unix_nano: 5_000_000_000,
            ..Default::default()
        }
    }

    fn batch(spans: Vec<Span>) -> ResourceSpans {
        ResourceSpans {
            scope_spans: vec![ScopeSpans {
                spans,
                ..Default::default()
            }],
            ..Default::default()
        }
    }

    #[test]
    fn spans_are_grouped_by_trace_keeping_resources() {
        let push = vec![
            batch(vec![span(1, 1), span(2, 2), span(1, 3)]),
            batch(vec![span(2, 4)]),
        ];
        let split = split_by_trace(push, 2048).expect("valid");
        assert_eq!(split.span_count, 4);
        assert_eq!(split.fragments.len(), 2);
        let first = Trace::decode(split.fragments[0].trace.clone()).expect("decodes");
        assert_eq!(first.span_count(), 2);
        assert_eq!(first.resource_spans.len(), 1);
        let second = Trace::decode(split.fragments[1].trace.clone()).expect("decodes");
        assert_eq!(second.resource_spans.len(), 2);
        assert_eq!(split.fragments[0].start_seconds, 2);
        assert_eq!(split.fragments[0].end_seconds, 5);
    }

    #[test]
    fn a_bad_id_refuses_the_whole_push() {
        let mut short_trace = span(1, 1);
        short_trace.trace_id = vec![1; 8];
        let error =
            split_by_trace(vec![batch(vec![span(2, 2), short_trace])], 2048).expect_err("refused");
        assert_eq!(error.reason, DiscardReason::InvalidTraceId);
        assert_eq!(error.span_count, 2);
        let zero_span = span(1, 0);
        let error = split_by_trace(vec![batch(vec![zero_span])], 2048).expect_err("refused");
        assert_eq!(error.reason, DiscardReason::InvalidSpanId);
    }

    #[test]
    fn long_attributes_are_truncated_on_char_boundaries() {
        let mut long = span(1, 1);
        long.attributes.push(KeyValue {
            key: "k".into(),
            value: Some(AnyValue {
                value: Some(any_value::Value::StringValue("é".repeat(10))),
            }),
            ..Default::default()
        });
        let split = split_by_trace(vec![batch(vec![long])], 5).expect("valid");
        assert_eq!(split.truncated_attributes, 1);
        let trace = Trace::decode(split.fragments[0].trace.clone()).expect("decodes");
        let value = &trace.resource_spans[0].scope_spans[0].spans[0].attributes[0].value;
        assert_eq!(
            value.as_ref().and_then(|v| v.value.clone()),
            Some(any_value::Value::StringValue("éé".into()))
        );
    }
}
