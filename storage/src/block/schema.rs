//! The block's Parquet schema: one row per span, sorted by trace id. The trace-by-id columns keep
//! the whole span (attributes, events, links, resource and scope as protobuf) so that a trace reads
//! back exactly as it was written; the search columns of [`super::search_schema`] (which share the
//! intrinsics with them) follow, for TraceQL.

use std::sync::{Arc, LazyLock};

use arrow_array::builder::{BinaryBuilder, StringBuilder, UInt32Builder};
use arrow_array::cast::AsArray;
use arrow_array::types::Int32Type;
use arrow_array::{
    Array, ArrayRef, BinaryArray, FixedSizeBinaryArray, Int32Array, RecordBatch, StringArray,
    UInt32Array, UInt64Array,
};
use arrow_schema::{ArrowError, DataType, Field, Schema, SchemaRef};
use bytes::Bytes;
use prost::Message;
use vivace_proto::ids::TraceId;
use vivace_proto::otlp::common::KeyValue;
use vivace_proto::otlp::trace::{ResourceSpans, ScopeSpans, Span, Status, span};
use vivace_proto::tempopb::Trace;

use super::search_columns::SearchColumnsBuilder;
use super::search_schema::{
    END, KIND, NAME, PARENT_SPAN_ID, SPAN_ID, START, STATUS_CODE, STATUS_MESSAGE, TRACE_ID,
    search_only_fields, search_schema, shared_fields,
};
use super::trace_view::TraceView;

/// Position of `trace_id` among the Parquet leaf columns (the first column of the file).
pub const TRACE_ID_LEAF: usize = 0;
const TRACE_STATE: &str = "trace_state";
const FLAGS: &str = "flags";
const DROPPED_ATTRIBUTES: &str = "dropped_attributes_count";
const DROPPED_EVENTS: &str = "dropped_events_count";
const DROPPED_LINKS: &str = "dropped_links_count";
const RESOURCE: &str = "resource";
const SCOPE: &str = "scope";
const ATTRIBUTES: &str = "attributes";
const EVENTS: &str = "events";
const LINKS: &str = "links";

/// The columns [`batch_to_spans`] reads: a trace lookup reads only these.
pub const TRACE_BY_ID_COLUMNS: &[&str] = &[
    TRACE_ID,
    SPAN_ID,
    PARENT_SPAN_ID,
    NAME,
    KIND,
    START,
    END,
    STATUS_CODE,
    STATUS_MESSAGE,
    TRACE_STATE,
    FLAGS,
    DROPPED_ATTRIBUTES,
    DROPPED_EVENTS,
    DROPPED_LINKS,
    RESOURCE,
    SCOPE,
    ATTRIBUTES,
    EVENTS,
    LINKS,
];

/// Trace-by-id columns that are not search columns, in block order.
const BLOB_FIELDS: &[(&str, DataType)] = &[
    (TRACE_STATE, DataType::Utf8),
    (FLAGS, DataType::UInt32),
    (DROPPED_ATTRIBUTES, DataType::UInt32),
    (DROPPED_EVENTS, DataType::UInt32),
    (DROPPED_LINKS, DataType::UInt32),
    (RESOURCE, DataType::Binary),
    (SCOPE, DataType::Binary),
    (ATTRIBUTES, DataType::Binary),
    (EVENTS, DataType::Binary),
    (LINKS, DataType::Binary),
];

static BLOCK_SCHEMA: LazyLock<SchemaRef> = LazyLock::new(|| {
    let mut fields = Vec::new();
    let shared = shared_fields();
    // The intrinsics up to `status_message`, then the blob columns, then `service_name` and
    // `resource` onwards, as in earlier formats; the search-only columns last.
    let (before_service, service) = shared.split_at(shared.len() - 1);
    fields.extend(before_service.iter().cloned());
    for (name, data_type) in &BLOB_FIELDS[..5] {
        fields.push(Field::new(*name, data_type.clone(), false));
    }
    fields.extend(service.iter().cloned());
    for (name, data_type) in &BLOB_FIELDS[5..] {
        fields.push(Field::new(*name, data_type.clone(), false));
    }
    fields.extend(search_only_fields());
    Arc::new(Schema::new(fields))
});

/// The arrow schema of `data.parquet`.
pub fn block_schema() -> SchemaRef {
    Arc::clone(&BLOCK_SCHEMA)
}

/// `repeated KeyValue attributes = 1`: a span's attributes, order kept.
#[derive(Clone, PartialEq, prost::Message)]
struct AttributeList {
    #[prost(message, repeated, tag = "1")]
    attributes: Vec<KeyValue>,
}

#[derive(Clone, PartialEq, prost::Message)]
struct EventList {
    #[prost(message, repeated, tag = "1")]
    events: Vec<span::Event>,
}

#[derive(Clone, PartialEq, prost::Message)]
struct LinkList {
    #[prost(message, repeated, tag = "1")]
    links: Vec<span::Link>,
}

/// Appends messages as field 1 of a wrapper message (`AttributeList`, `EventList`, `LinkList`)
/// to `buffer`, without copying them into one.
fn encode_as_list<M: Message>(messages: &[M], buffer: &mut Vec<u8>) {
    buffer.clear();
    buffer.reserve(
        messages
            .iter()
            .map(|message| message.encoded_len() + 2)
            .sum(),
    );
    for message in messages {
        prost::encoding::message::encode(1, message, buffer);
    }
}

/// The encoded resource of a batch (`ResourceSpans` without scope spans).
fn encode_resource(batch: &ResourceSpans) -> Vec<u8> {
    let header = ResourceSpans {
        resource: batch.resource.clone(),
        scope_spans: Vec::new(),
        schema_url: batch.schema_url.clone(),
    };
    header.encode_to_vec()
}

/// The encoded scope of a batch (`ScopeSpans` without spans).
fn encode_scope(scope: &ScopeSpans) -> Vec<u8> {
    let header = ScopeSpans {
        scope: scope.scope.clone(),
        spans: Vec::new(),
        schema_url: scope.schema_url.clone(),
    };
    header.encode_to_vec()
}

/// Builds the trace-by-id columns that are not search columns.
struct BlobColumnsBuilder {
    trace_states: StringBuilder,
    flags: UInt32Builder,
    dropped_attributes: UInt32Builder,
    dropped_events: UInt32Builder,
    dropped_links: UInt32Builder,
    resources: BinaryBuilder,
    scopes: BinaryBuilder,
    attributes: BinaryBuilder,
    events: BinaryBuilder,
    links: BinaryBuilder,
    buffer: Vec<u8>,
}

impl BlobColumnsBuilder {
    fn with_capacity(rows: usize) -> Self {
        BlobColumnsBuilder {
            trace_states: StringBuilder::with_capacity(rows, 0),
            flags: UInt32Builder::with_capacity(rows),
            dropped_attributes: UInt32Builder::with_capacity(rows),
            dropped_events: UInt32Builder::with_capacity(rows),
            dropped_links: UInt32Builder::with_capacity(rows),
            resources: BinaryBuilder::with_capacity(rows, rows * 64),
            scopes: BinaryBuilder::with_capacity(rows, rows * 16),
            attributes: BinaryBuilder::with_capacity(rows, rows * 128),
            events: BinaryBuilder::with_capacity(rows, 0),
            links: BinaryBuilder::with_capacity(rows, 0),
            buffer: Vec::new(),
        }
    }

    fn append_trace(&mut self, view: &TraceView<'_>) {
        let resources: Vec<Vec<u8>> = view
            .resources
            .iter()
            .map(|batch| encode_resource(batch))
            .collect();
        let scopes: Vec<Vec<Vec<u8>>> = view
            .resources
            .iter()
            .map(|batch| batch.scope_spans.iter().map(encode_scope).collect())
            .collect();
        for row in &view.rows {
            let span = row.span;
            self.trace_states.append_value(&span.trace_state);
            self.flags.append_value(span.flags);
            self.dropped_attributes
                .append_value(span.dropped_attributes_count);
            self.dropped_events.append_value(span.dropped_events_count);
            self.dropped_links.append_value(span.dropped_links_count);
            let resource = resources.get(row.resource).map(Vec::as_slice);
            self.resources.append_value(resource.unwrap_or_default());
            let scope = scopes
                .get(row.resource)
                .and_then(|scopes| scopes.get(row.scope))
                .map(Vec::as_slice);
            self.scopes.append_value(scope.unwrap_or_default());
            encode_as_list(&span.attributes, &mut self.buffer);
            self.attributes.append_value(&self.buffer);
            encode_as_list(&span.events, &mut self.buffer);
            self.events.append_value(&self.buffer);
            encode_as_list(&span.links, &mut self.buffer);
            self.links.append_value(&self.buffer);
        }
    }

    /// The columns, in [`BLOB_FIELDS`] order.
    fn finish(&mut self) -> Vec<ArrayRef> {
        vec![
            Arc::new(self.trace_states.finish()),
            Arc::new(self.flags.finish()),
            Arc::new(self.dropped_attributes.finish()),
            Arc::new(self.dropped_events.finish()),
            Arc::new(self.dropped_links.finish()),
            Arc::new(self.resources.finish()),
            Arc::new(self.scopes.finish()),
            Arc::new(self.attributes.finish()),
            Arc::new(self.events.finish()),
            Arc::new(self.links.finish()),
        ]
    }
}

/// Builds one record batch of the block schema from whole traces (ids ascending, each id once).
pub fn traces_to_batch(traces: &[(TraceId, Trace)]) -> Result<RecordBatch, ArrowError> {
    let count = traces.iter().map(|(_, trace)| trace.span_count()).sum();
    let mut search = SearchColumnsBuilder::with_capacity(count);
    let mut blobs = BlobColumnsBuilder::with_capacity(count);
    let mut view = TraceView::default();
    for (trace_id, trace) in traces {
        view.load(&trace.resource_spans);
        search.append_trace(trace_id, &view)?;
        blobs.append_trace(&view);
    }
    let search_columns = search.finish()?;
    let blob_columns = blobs.finish();
    let search_fields = search_schema();
    let schema = block_schema();
    let mut columns = Vec::with_capacity(schema.fields().len());
    for field in schema.fields() {
        let name = field.name().as_str();
        let column = match search_fields.index_of(name) {
            Ok(index) => search_columns.get(index),
            Err(_) => BLOB_FIELDS
                .iter()
                .position(|(blob, _)| *blob == name)
                .and_then(|index| blob_columns.get(index)),
        };
        let column = column.ok_or_else(|| {
            ArrowError::SchemaError(format!("no builder for block column {name}"))
        })?;
        columns.push(Arc::clone(column));
    }
    RecordBatch::try_new(schema, columns)
}

/// A span read back, with its encoded resource and scope for regrouping.
pub struct ReadSpan {
    pub resource: Bytes,
    pub scope: Bytes,
    pub span: Span,
}

fn column<'a, T: 'static>(batch: &'a RecordBatch, name: &str) -> Result<&'a T, String> {
    batch
        .column_by_name(name)
        .and_then(|array| array.as_any().downcast_ref::<T>())
        .ok_or_else(|| format!("column {name} is missing or has the wrong type"))
}

/// A string column that is a dictionary (this format) or plain (earlier formats).
enum Names<'a> {
    Plain(&'a StringArray),
    Dictionary(&'a Int32Array, &'a StringArray),
}

impl<'a> Names<'a> {
    fn of(array: &'a ArrayRef) -> Result<Self, String> {
        if let Some(plain) = array.as_string_opt::<i32>() {
            return Ok(Names::Plain(plain));
        }
        let dictionary = array
            .as_dictionary_opt::<Int32Type>()
            .ok_or_else(|| format!("column {NAME} has the wrong type"))?;
        let values = dictionary
            .values()
            .as_string_opt::<i32>()
            .ok_or_else(|| format!("column {NAME} has the wrong type"))?;
        Ok(Names::Dictionary(dictionary.keys(), values))
    }

    fn value(&self, row: usize) -> &'a str {
        match self {
            Names::Plain(array) => array.value(row),
            Names::Dictionary(keys, values) => usize::try_from(keys.value(row))
                .ok()
                .filter(|key| *key < values.len())
                .map(|key| values.value(key))
                .unwrap_or_default(),
        }
    }
}

/// Decodes the spans of a record batch read with (at least) [`TRACE_BY_ID_COLUMNS`].
pub fn batch_to_spans(batch: &RecordBatch) -> Result<Vec<ReadSpan>, String> {
    let trace_ids = column::<FixedSizeBinaryArray>(batch, TRACE_ID)?;
    let span_ids = column::<FixedSizeBinaryArray>(batch, SPAN_ID)?;
    let parents = column::<BinaryArray>(batch, PARENT_SPAN_ID)?;
    let names = batch
        .column_by_name(NAME)
        .ok_or_else(|| format!("column {NAME} is missing"))?;
    let names = Names::of(names)?;
    let kinds = column::<Int32Array>(batch, KIND)?;
    let starts = column::<UInt64Array>(batch, START)?;
    let ends = column::<UInt64Array>(batch, END)?;
    let status_codes = column::<Int32Array>(batch, STATUS_CODE)?;
    let status_messages = column::<StringArray>(batch, STATUS_MESSAGE)?;
    let trace_states = column::<StringArray>(batch, TRACE_STATE)?;
    let flags = column::<UInt32Array>(batch, FLAGS)?;
    let dropped_attributes = column::<UInt32Array>(batch, DROPPED_ATTRIBUTES)?;
    let dropped_events = column::<UInt32Array>(batch, DROPPED_EVENTS)?;
    let dropped_links = column::<UInt32Array>(batch, DROPPED_LINKS)?;
    let resources = column::<BinaryArray>(batch, RESOURCE)?;
    let scopes = column::<BinaryArray>(batch, SCOPE)?;
    let attributes = column::<BinaryArray>(batch, ATTRIBUTES)?;
    let events = column::<BinaryArray>(batch, EVENTS)?;
    let links = column::<BinaryArray>(batch, LINKS)?;
    let mut spans = Vec::with_capacity(batch.num_rows());
    for row in 0..batch.num_rows() {
        let decode_error = |what: &str, error: prost::DecodeError| {
            format!("row {row}: undecodable {what}: {error}")
        };
        let status_code = status_codes.value(row);
        let status = (status_code >= 0).then(|| Status {
            message: status_messages.value(row).to_owned(),
            code: status_code,
        });
        let span = Span {
            trace_id: trace_ids.value(row).to_vec(),
            span_id: span_ids.value(row).to_vec(),
            trace_state: trace_states.value(row).to_owned(),
            parent_span_id: parents.value(row).to_vec(),
            flags: flags.value(row),
            name: names.value(row).to_owned(),
            kind: kinds.value(row),
            start_time_unix_nano: starts.value(row),
            end_time_unix_nano: ends.value(row),
            attributes: AttributeList::decode(attributes.value(row))
                .map_err(|error| decode_error("attributes", error))?
                .attributes,
            dropped_attributes_count: dropped_attributes.value(row),
            events: EventList::decode(events.value(row))
                .map_err(|error| decode_error("events", error))?
                .events,
            dropped_events_count: dropped_events.value(row),
            links: LinkList::decode(links.value(row))
                .map_err(|error| decode_error("links", error))?
                .links,
            dropped_links_count: dropped_links.value(row),
            status,
        };
        spans.push(ReadSpan {
            resource: Bytes::copy_from_slice(resources.value(row)),
            scope: Bytes::copy_from_slice(scopes.value(row)),
            span,
        });
    }
    Ok(spans)
}

/// Regroups spans read back into resource and scope batches, in first-seen order.
pub fn spans_to_batches(spans: Vec<ReadSpan>) -> Result<Vec<ResourceSpans>, String> {
    let mut batches: Vec<(Bytes, ResourceSpans, Vec<Bytes>)> = Vec::new();
    for read in spans {
        let batch_index = match batches
            .iter()
            .position(|(resource, _, _)| *resource == read.resource)
        {
            Some(index) => index,
            None => {
                let header = ResourceSpans::decode(read.resource.clone())
                    .map_err(|error| format!("undecodable resource: {error}"))?;
                batches.push((read.resource.clone(), header, Vec::new()));
                batches.len() - 1
            }
        };
        let (_, batch, scope_keys) = &mut batches[batch_index];
        let scope_index = match scope_keys.iter().position(|scope| *scope == read.scope) {
            Some(index) => index,
            None => {
                let header = ScopeSpans::decode(read.scope.clone())
                    .map_err(|error| format!("undecodable scope: {error}"))?;
                batch.scope_spans.push(header);
                scope_keys.push(read.scope.clone());
                scope_keys.len() - 1
            }
        };
        batch.scope_spans[scope_index].spans.push(read.span);
    }
    Ok(batches.into_iter().map(|(_, batch, _)| batch).collect())
}
