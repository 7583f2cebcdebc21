//! One trace as the block writer and the search-column builder see it: its resource batches (all
//! entries of its id, in input order), its rows in block order, and what each resource gives its
//! spans. Buffers are reused from trace to trace.

use std::collections::BTreeMap;

use vivace_proto::ids::TraceId;
use vivace_proto::otlp::common::InstrumentationScope;
use vivace_proto::otlp::trace::{ResourceSpans, Span};
use vivace_proto::tempopb::Trace;

use super::search_attrs::{Dedicated, MAX_DEDICATED, Scalar, split_attributes};

/// Merges entries with the same trace id (their resource spans concatenated in input order).
pub(crate) fn merge_by_trace(
    traces: impl IntoIterator<Item = (TraceId, Trace)>,
) -> BTreeMap<TraceId, Trace> {
    let mut merged: BTreeMap<TraceId, Trace> = BTreeMap::new();
    for (trace_id, trace) in traces {
        merged
            .entry(trace_id)
            .or_default()
            .resource_spans
            .extend(trace.resource_spans);
    }
    merged
}

/// An id as `N` bytes: shorter ids are left-padded with zeros, longer ones truncated.
pub(crate) fn fixed_id<const N: usize>(bytes: &[u8]) -> [u8; N] {
    let mut id = [0u8; N];
    let length = bytes.len().min(N);
    id[N - length..].copy_from_slice(&bytes[..length]);
    id
}

/// One row of a trace: a span and the positions of its resource batch (among the trace's
/// resource batches) and of its scope batch (in that resource batch).
#[derive(Clone, Copy)]
pub(crate) struct RowRef<'a> {
    pub resource: usize,
    pub scope: usize,
    pub span: &'a Span,
}

/// What a resource gives each of its spans: dedicated values (`service.name` first) and the
/// range of its generic entries.
struct ResourceValues<'a> {
    dedicated: [Option<Dedicated<'a>>; MAX_DEDICATED],
    entries: std::ops::Range<usize>,
}

/// One trace, ready to be turned into rows.
#[derive(Default)]
pub(crate) struct TraceView<'a> {
    /// The trace's resource batches, in input order.
    pub resources: Vec<&'a ResourceSpans>,
    /// The rows in block order: by span start, equal starts in input order.
    pub rows: Vec<RowRef<'a>>,
    values: Vec<ResourceValues<'a>>,
    entries: Vec<(&'a str, Scalar<'a>)>,
}

impl<'a> TraceView<'a> {
    /// Loads a trace given as its resource batches (replacing the previous one).
    pub(crate) fn load(&mut self, batches: impl IntoIterator<Item = &'a ResourceSpans>) {
        self.resources.clear();
        self.resources.extend(batches);
        self.rows.clear();
        self.values.clear();
        self.entries.clear();
        for (resource, batch) in self.resources.iter().enumerate() {
            for (scope, scope_spans) in batch.scope_spans.iter().enumerate() {
                for span in &scope_spans.spans {
                    self.rows.push(RowRef {
                        resource,
                        scope,
                        span,
                    });
                }
            }
            let attributes = batch
                .resource
                .as_ref()
                .map(|resource| resource.attributes.as_slice())
                .unwrap_or_default();
            let start = self.entries.len();
            let mut dedicated = [None; MAX_DEDICATED];
            let entries = &mut self.entries;
            let split = split_attributes(attributes, true, &mut dedicated, |key, value| {
                entries.push((key, value));
                Ok::<(), std::convert::Infallible>(())
            });
            if let Err(never) = split {
                match never {}
            }
            self.values.push(ResourceValues {
                dedicated,
                entries: start..self.entries.len(),
            });
        }
        self.rows.sort_by_key(|row| row.span.start_time_unix_nano);
    }

    /// The dedicated `service.name` of a resource batch.
    pub(crate) fn service_name(&self, resource: usize) -> Option<&'a str> {
        match self.values.get(resource)?.dedicated[0] {
            Some(Dedicated::Str(text)) => Some(text),
            _ => None,
        }
    }

    /// The dedicated values of a resource batch (`service.name` first, then
    /// [`super::search_schema::DEDICATED_RESOURCE`]).
    pub(crate) fn resource_dedicated(
        &self,
        resource: usize,
    ) -> Option<&[Option<Dedicated<'a>>; MAX_DEDICATED]> {
        self.values.get(resource).map(|values| &values.dedicated)
    }

    /// The generic entries of a resource batch.
    pub(crate) fn resource_entries(&self, resource: usize) -> &[(&'a str, Scalar<'a>)] {
        self.values
            .get(resource)
            .and_then(|values| self.entries.get(values.entries.clone()))
            .unwrap_or_default()
    }

    /// The instrumentation scope of a row.
    pub(crate) fn scope(&self, row: &RowRef<'a>) -> Option<&'a InstrumentationScope> {
        self.resources
            .get(row.resource)
            .and_then(|batch| batch.scope_spans.get(row.scope))
            .and_then(|scope_spans| scope_spans.scope.as_ref())
    }
}
