//! Building the search columns ([`super::search_schema`]) from traces: for the ingesters' recent
//! data ([`search_batch`]) and, through the same builder, for every block the writer encodes, so
//! both hold identical values.

use std::sync::Arc;

use arrow_array::builder::{
    BinaryBuilder, FixedSizeBinaryBuilder, Int32Builder, Int64Builder, ListBuilder, StringBuilder,
    StringDictionaryBuilder, UInt64Builder,
};
use arrow_array::types::Int32Type;
use arrow_array::{ArrayRef, RecordBatch};
use arrow_schema::{ArrowError, DataType, Field};
use vivace_proto::ids::TraceId;
use vivace_proto::tempopb::Trace;

use super::nested_set::{NestedSet, Numbering};
use super::search_attrs::{
    AttrListBuilder, DedicatedBuilder, MAX_DEDICATED, all_generic, split_attributes,
};
use super::search_schema::{DEDICATED_RESOURCE, DEDICATED_SPAN, search_schema};
use super::trace_view::{RowRef, TraceView, fixed_id};

/// The search columns of `traces` (entries with the same trace id merged; traces in trace-id
/// order, the rows of a trace in block order): exactly the values a block of the same traces
/// stores.
pub fn search_batch(
    traces: impl IntoIterator<Item = (TraceId, Trace)>,
) -> Result<RecordBatch, ArrowError> {
    let traces: Vec<(TraceId, Trace)> = traces.into_iter().collect();
    search_batch_of(traces.iter().map(|(trace_id, trace)| (trace_id, trace)))
}

/// [`search_batch`] over borrowed traces (nothing is copied or dropped but the columns).
pub fn search_batch_of<'a>(
    traces: impl IntoIterator<Item = (&'a TraceId, &'a Trace)>,
) -> Result<RecordBatch, ArrowError> {
    let mut entries: Vec<(&TraceId, &Trace)> = traces.into_iter().collect();
    // Stable: entries of one id keep their input order.
    entries.sort_by_key(|(trace_id, _)| u128::from_be_bytes(**trace_id));
    let spans = entries.iter().map(|(_, trace)| trace.span_count()).sum();
    let mut builder = SearchColumnsBuilder::with_capacity(spans);
    let mut view = TraceView::default();
    for same_id in entries.chunk_by(|a, b| a.0 == b.0) {
        let Some((trace_id, _)) = same_id.first() else {
            continue;
        };
        view.load(same_id.iter().flat_map(|(_, trace)| &trace.resource_spans));
        builder.append_trace(trace_id, &view)?;
    }
    RecordBatch::try_new(search_schema(), builder.finish()?)
}

/// `Int32` nested-set number (saturating; a trace never has a billion spans).
fn number(value: u32) -> i32 {
    i32::try_from(value).unwrap_or(i32::MAX)
}

/// Builds the search columns, one trace at a time.
pub(crate) struct SearchColumnsBuilder {
    trace_ids: FixedSizeBinaryBuilder,
    span_ids: FixedSizeBinaryBuilder,
    parents: BinaryBuilder,
    names: StringDictionaryBuilder<Int32Type>,
    kinds: Int32Builder,
    starts: UInt64Builder,
    ends: UInt64Builder,
    status_codes: Int32Builder,
    status_messages: StringBuilder,
    service_names: StringDictionaryBuilder<Int32Type>,
    nested_left: Int32Builder,
    nested_right: Int32Builder,
    nested_parent: Int32Builder,
    child_counts: Int32Builder,
    root_services: StringDictionaryBuilder<Int32Type>,
    root_names: StringDictionaryBuilder<Int32Type>,
    trace_starts: UInt64Builder,
    trace_ends: UInt64Builder,
    scope_names: StringDictionaryBuilder<Int32Type>,
    scope_versions: StringDictionaryBuilder<Int32Type>,
    dedicated_span: Vec<DedicatedBuilder>,
    dedicated_resource: Vec<DedicatedBuilder>,
    span_attrs: AttrListBuilder,
    resource_attrs: AttrListBuilder,
    scope_attrs: AttrListBuilder,
    event_attrs: AttrListBuilder,
    link_attrs: AttrListBuilder,
    event_names: ListBuilder<StringBuilder>,
    event_times: ListBuilder<Int64Builder>,
    link_trace_ids: ListBuilder<BinaryBuilder>,
    link_span_ids: ListBuilder<BinaryBuilder>,
    numbering: Numbering,
    /// Span of each nested-set `left` number of the current trace (reused).
    by_left: Vec<usize>,
    /// Child count of each row of the current trace (reused).
    children: Vec<i32>,
}

fn dictionary(rows: usize) -> StringDictionaryBuilder<Int32Type> {
    StringDictionaryBuilder::with_capacity(rows, 256, 4096)
}

fn list_field(item: DataType) -> Arc<Field> {
    Arc::new(Field::new("item", item, false))
}

impl SearchColumnsBuilder {
    /// A builder sized for about `rows` spans.
    pub(crate) fn with_capacity(rows: usize) -> Self {
        let attributes = |per_row: usize| AttrListBuilder::with_capacity(rows, rows * per_row);
        SearchColumnsBuilder {
            trace_ids: FixedSizeBinaryBuilder::with_capacity(rows, 16),
            span_ids: FixedSizeBinaryBuilder::with_capacity(rows, 8),
            parents: BinaryBuilder::with_capacity(rows, rows * 8),
            names: dictionary(rows),
            kinds: Int32Builder::with_capacity(rows),
            starts: UInt64Builder::with_capacity(rows),
            ends: UInt64Builder::with_capacity(rows),
            status_codes: Int32Builder::with_capacity(rows),
            status_messages: StringBuilder::with_capacity(rows, 0),
            service_names: dictionary(rows),
            nested_left: Int32Builder::with_capacity(rows),
            nested_right: Int32Builder::with_capacity(rows),
            nested_parent: Int32Builder::with_capacity(rows),
            child_counts: Int32Builder::with_capacity(rows),
            root_services: dictionary(rows),
            root_names: dictionary(rows),
            trace_starts: UInt64Builder::with_capacity(rows),
            trace_ends: UInt64Builder::with_capacity(rows),
            scope_names: dictionary(rows),
            scope_versions: dictionary(rows),
            dedicated_span: DEDICATED_SPAN
                .iter()
                .map(|(_, _, kind)| DedicatedBuilder::new(*kind, rows))
                .collect(),
            dedicated_resource: DEDICATED_RESOURCE
                .iter()
                .map(|(_, _, kind)| DedicatedBuilder::new(*kind, rows))
                .collect(),
            span_attrs: attributes(4),
            resource_attrs: attributes(4),
            scope_attrs: attributes(0),
            event_attrs: attributes(0),
            link_attrs: attributes(0),
            event_names: ListBuilder::with_capacity(StringBuilder::new(), rows)
                .with_field(list_field(DataType::Utf8)),
            event_times: ListBuilder::with_capacity(Int64Builder::new(), rows)
                .with_field(list_field(DataType::Int64)),
            link_trace_ids: ListBuilder::with_capacity(BinaryBuilder::new(), rows)
                .with_field(list_field(DataType::Binary)),
            link_span_ids: ListBuilder::with_capacity(BinaryBuilder::new(), rows)
                .with_field(list_field(DataType::Binary)),
            numbering: Numbering::default(),
            by_left: Vec::new(),
            children: Vec::new(),
        }
    }

    /// Appends the rows of one whole trace.
    pub(crate) fn append_trace(
        &mut self,
        trace_id: &TraceId,
        view: &TraceView<'_>,
    ) -> Result<(), ArrowError> {
        let rows = view.rows.as_slice();
        if rows.is_empty() {
            return Ok(());
        }
        let mut numbering = std::mem::take(&mut self.numbering);
        let numbers = numbering.number(
            rows.len(),
            |index| rows[index].span.span_id.as_slice(),
            |index| rows[index].span.parent_span_id.as_slice(),
        );
        let result = self.append_numbered(trace_id, view, numbers);
        self.numbering = numbering;
        result
    }

    fn append_numbered(
        &mut self,
        trace_id: &TraceId,
        view: &TraceView<'_>,
        numbers: &[NestedSet],
    ) -> Result<(), ArrowError> {
        self.count_children(numbers);
        self.append_trace_level(view, numbers)?;
        for (position, (row, set)) in view.rows.iter().zip(numbers).enumerate() {
            self.trace_ids.append_value(trace_id)?;
            self.nested_left.append_value(number(set.left));
            self.nested_right.append_value(number(set.right));
            self.nested_parent
                .append_value(i32::try_from(set.parent).unwrap_or(i32::MAX));
            self.child_counts
                .append_value(self.children.get(position).copied().unwrap_or(0));
            self.append_span(row, view)?;
            self.append_scopes(row, view)?;
        }
        Ok(())
    }

    /// Fills `children` with the number of spans whose nested-set parent is each row.
    fn count_children(&mut self, numbers: &[NestedSet]) {
        self.by_left.clear();
        self.by_left.resize(numbers.len() * 2 + 2, usize::MAX);
        self.children.clear();
        self.children.resize(numbers.len(), 0);
        for (position, set) in numbers.iter().enumerate() {
            if let Some(slot) = self.by_left.get_mut(set.left as usize) {
                *slot = position;
            }
        }
        for set in numbers {
            let Ok(parent_left) = usize::try_from(set.parent) else {
                continue;
            };
            let Some(&parent) = self.by_left.get(parent_left) else {
                continue;
            };
            if let Some(count) = self.children.get_mut(parent) {
                *count = count.saturating_add(1);
            }
        }
    }

    /// The trace-level columns, repeated on each of the trace's rows.
    fn append_trace_level(
        &mut self,
        view: &TraceView<'_>,
        numbers: &[NestedSet],
    ) -> Result<(), ArrowError> {
        let rows = view.rows.as_slice();
        let count = rows.len();
        let start = rows
            .iter()
            .map(|row| row.span.start_time_unix_nano)
            .min()
            .unwrap_or(0);
        let end = rows
            .iter()
            .map(|row| row.span.end_time_unix_nano)
            .max()
            .unwrap_or(0);
        self.trace_starts.append_value_n(start, count);
        self.trace_ends.append_value_n(end, count);
        let root = rows
            .iter()
            .zip(numbers)
            .find(|(row, set)| set.parent == -1 && row.span.parent_span_id.is_empty())
            .map(|(row, _)| row);
        match root {
            Some(root) => {
                self.root_names.append_n(&root.span.name, count)?;
                match view.service_name(root.resource) {
                    Some(service) => {
                        self.root_services.append_n(service, count)?;
                    }
                    None => self.root_services.append_nulls(count),
                }
            }
            None => {
                self.root_names.append_nulls(count);
                self.root_services.append_nulls(count);
            }
        }
        Ok(())
    }

    /// The span's own columns: intrinsics, span attributes, events and links.
    fn append_span(&mut self, row: &RowRef<'_>, view: &TraceView<'_>) -> Result<(), ArrowError> {
        let span = row.span;
        self.span_ids.append_value(fixed_id::<8>(&span.span_id))?;
        self.parents.append_value(&span.parent_span_id);
        self.names.append(&span.name)?;
        self.kinds.append_value(span.kind);
        self.starts.append_value(span.start_time_unix_nano);
        self.ends.append_value(span.end_time_unix_nano);
        match &span.status {
            Some(status) => {
                self.status_codes.append_value(status.code);
                self.status_messages.append_value(&status.message);
            }
            None => {
                self.status_codes.append_value(-1);
                self.status_messages.append_value("");
            }
        }
        match view.service_name(row.resource) {
            Some(service) => {
                self.service_names.append(service)?;
            }
            None => self.service_names.append_null(),
        }
        let mut dedicated = [None; MAX_DEDICATED];
        let span_attrs = &mut self.span_attrs;
        split_attributes(&span.attributes, false, &mut dedicated, |key, value| {
            span_attrs.push(key, value)
        })?;
        span_attrs.end_row();
        for (builder, value) in self.dedicated_span.iter_mut().zip(dedicated) {
            builder.append(value)?;
        }
        for event in &span.events {
            self.event_names.values().append_value(&event.name);
            let since_start =
                i128::from(event.time_unix_nano) - i128::from(span.start_time_unix_nano);
            self.event_times
                .values()
                .append_value(since_start.clamp(i128::from(i64::MIN), i128::from(i64::MAX)) as i64);
            let event_attrs = &mut self.event_attrs;
            all_generic(&event.attributes, |key, value| event_attrs.push(key, value))?;
        }
        self.event_names.append(true);
        self.event_times.append(true);
        self.event_attrs.end_row();
        for link in &span.links {
            self.link_trace_ids.values().append_value(&link.trace_id);
            self.link_span_ids.values().append_value(&link.span_id);
            let link_attrs = &mut self.link_attrs;
            all_generic(&link.attributes, |key, value| link_attrs.push(key, value))?;
        }
        self.link_trace_ids.append(true);
        self.link_span_ids.append(true);
        self.link_attrs.end_row();
        Ok(())
    }

    /// The columns the span takes from its resource and instrumentation scope.
    fn append_scopes(&mut self, row: &RowRef<'_>, view: &TraceView<'_>) -> Result<(), ArrowError> {
        let dedicated = view.resource_dedicated(row.resource);
        for (slot, builder) in self.dedicated_resource.iter_mut().enumerate() {
            builder.append(dedicated.and_then(|values| values.get(slot + 1).copied().flatten()))?;
        }
        for (key, value) in view.resource_entries(row.resource) {
            self.resource_attrs.push(key, *value)?;
        }
        self.resource_attrs.end_row();
        let scope = view.scope(row);
        let name = scope
            .map(|scope| scope.name.as_str())
            .filter(|name| !name.is_empty());
        match name {
            Some(name) => {
                self.scope_names.append(name)?;
            }
            None => self.scope_names.append_null(),
        }
        let version = scope
            .map(|scope| scope.version.as_str())
            .filter(|version| !version.is_empty());
        match version {
            Some(version) => {
                self.scope_versions.append(version)?;
            }
            None => self.scope_versions.append_null(),
        }
        if let Some(scope) = scope {
            let scope_attrs = &mut self.scope_attrs;
            all_generic(&scope.attributes, |key, value| scope_attrs.push(key, value))?;
        }
        self.scope_attrs.end_row();
        Ok(())
    }

    /// The columns, in [`search_schema`] order.
    pub(crate) fn finish(&mut self) -> Result<Vec<ArrayRef>, ArrowError> {
        let mut columns: Vec<ArrayRef> = vec![
            Arc::new(self.trace_ids.finish()),
            Arc::new(self.span_ids.finish()),
            Arc::new(self.parents.finish()),
            Arc::new(self.names.finish()),
            Arc::new(self.kinds.finish()),
            Arc::new(self.starts.finish()),
            Arc::new(self.ends.finish()),
            Arc::new(self.status_codes.finish()),
            Arc::new(self.status_messages.finish()),
            Arc::new(self.service_names.finish()),
            Arc::new(self.nested_left.finish()),
            Arc::new(self.nested_right.finish()),
            Arc::new(self.nested_parent.finish()),
            Arc::new(self.child_counts.finish()),
            Arc::new(self.root_services.finish()),
            Arc::new(self.root_names.finish()),
            Arc::new(self.trace_starts.finish()),
            Arc::new(self.trace_ends.finish()),
            Arc::new(self.scope_names.finish()),
            Arc::new(self.scope_versions.finish()),
        ];
        for builder in self
            .dedicated_span
            .iter_mut()
            .chain(self.dedicated_resource.iter_mut())
        {
            columns.push(builder.finish());
        }
        for list in [
            &mut self.span_attrs,
            &mut self.resource_attrs,
            &mut self.scope_attrs,
            &mut self.event_attrs,
            &mut self.link_attrs,
        ] {
            columns.push(list.finish()?);
        }
        columns.push(Arc::new(self.event_names.finish()));
        columns.push(Arc::new(self.event_times.finish()));
        columns.push(Arc::new(self.link_trace_ids.finish()));
        columns.push(Arc::new(self.link_span_ids.finish()));
        Ok(columns)
    }
}
