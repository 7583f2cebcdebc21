//! Combining partial traces (fragments from pushes, replicas, blocks) into one trace with no
//! duplicate spans.

use std::collections::HashSet;

use bytes::Bytes;
use prost::Message;
use vivace_proto::otlp::trace::ResourceSpans;
use vivace_proto::tempopb::Trace;

/// Accumulates partial traces and drops spans already seen (same span id and kind).
#[derive(Default)]
pub struct TraceCombiner {
    seen: HashSet<([u8; 8], i32)>,
    batches: Vec<ResourceSpans>,
    decode_errors: usize,
}

fn span_key(span_id: &[u8], kind: i32) -> ([u8; 8], i32) {
    let mut key = [0u8; 8];
    let length = span_id.len().min(8);
    key[..length].copy_from_slice(&span_id[..length]);
    (key, kind)
}

impl TraceCombiner {
    pub fn new() -> Self {
        TraceCombiner::default()
    }

    /// Adds an encoded `tempopb.Trace`; undecodable input is counted, not fatal.
    pub fn add_encoded(&mut self, encoded: &Bytes) {
        match Trace::decode(encoded.clone()) {
            Ok(trace) => self.add(trace),
            Err(error) => {
                self.decode_errors += 1;
                tracing::warn!(%error, "skipping undecodable trace fragment");
            }
        }
    }

    /// Adds a decoded partial trace.
    pub fn add(&mut self, trace: Trace) {
        for mut batch in trace.resource_spans {
            for scope in &mut batch.scope_spans {
                scope
                    .spans
                    .retain(|span| self.seen.insert(span_key(&span.span_id, span.kind)));
            }
            batch.scope_spans.retain(|scope| !scope.spans.is_empty());
            if batch.scope_spans.is_empty() {
                continue;
            }
            self.batches.push(batch);
        }
    }

    /// Number of distinct spans so far.
    pub fn span_count(&self) -> usize {
        self.seen.len()
    }

    /// Fragments that could not be decoded.
    pub fn decode_errors(&self) -> usize {
        self.decode_errors
    }

    /// The combined trace, batches with identical resource and scope merged.
    pub fn finish(self) -> Trace {
        let mut merged: Vec<ResourceSpans> = Vec::new();
        for batch in self.batches {
            let same_resource = merged.iter_mut().find(|existing| {
                existing.resource == batch.resource && existing.schema_url == batch.schema_url
            });
            let Some(existing) = same_resource else {
                merged.push(batch);
                continue;
            };
            for scope in batch.scope_spans {
                let same_scope = existing.scope_spans.iter_mut().find(|known| {
                    known.scope == scope.scope && known.schema_url == scope.schema_url
                });
                match same_scope {
                    Some(known) => known.spans.extend(scope.spans),
                    None => existing.scope_spans.push(scope),
                }
            }
        }
        Trace {
            resource_spans: merged,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use vivace_proto::otlp::resource::Resource;
    use vivace_proto::otlp::trace::{ScopeSpans, Span};

    fn fragment(span_ids: &[u8], service: &str) -> Trace {
        let resource = Resource {
            attributes: vec![vivace_proto::otlp::common::KeyValue {
                key: "service.name".into(),
                value: Some(vivace_proto::otlp::common::AnyValue {
                    value: Some(vivace_proto::otlp::common::any_value::Value::StringValue(
                        service.into(),
                    )),
                }),
                ..Default::default()
            }],
            ..Default::default()
        };
        Trace {
            resource_spans: vec![ResourceSpans {
                resource: Some(resource),
                scope_spans: vec![ScopeSpans {
                    spans: span_ids
                        .iter()
                        .map(|id| Span {
                            span_id: vec![*id; 8],
                            ..Default::default()
                        })
                        .collect(),
                    ..Default::default()
                }],
                ..Default::default()
            }],
        }
    }

    #[test]
    fn duplicates_are_dropped_and_batches_merged() {
        let mut combiner = TraceCombiner::new();
        combiner.add(fragment(&[1, 2], "a"));
        combiner.add(fragment(&[2, 3], "a"));
        combiner.add(fragment(&[1, 4], "b"));
        combiner.add_encoded(&Bytes::from(fragment(&[3, 5], "b").encode_to_vec()));
        assert_eq!(combiner.span_count(), 5);
        let trace = combiner.finish();
        assert_eq!(trace.resource_spans.len(), 2);
        assert_eq!(trace.span_count(), 5);
        assert_eq!(trace.resource_spans[0].scope_spans.len(), 1);
    }

    #[test]
    fn garbage_is_counted_not_fatal() {
        let mut combiner = TraceCombiner::new();
        combiner.add_encoded(&Bytes::from_static(&[0xff, 0xff, 0xff]));
        assert_eq!(combiner.decode_errors(), 1);
        assert_eq!(combiner.finish().span_count(), 0);
    }
}
