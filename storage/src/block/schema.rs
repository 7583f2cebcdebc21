//! The block's Parquet schema: one row per span, sorted by trace id. Columns used for lookups and
//! filtering are typed; the rest of the span (attributes, events, links, resource, scope) is kept
//! as protobuf so that a trace reads back exactly as it was written.

use std::sync::Arc;

use arrow_array::builder::{
    BinaryBuilder, FixedSizeBinaryBuilder, Int32Builder, StringBuilder, UInt32Builder,
    UInt64Builder,
};
use arrow_array::{
    Array, ArrayRef, BinaryArray, FixedSizeBinaryArray, Int32Array, RecordBatch, StringArray,
    UInt32Array, UInt64Array,
};
use arrow_schema::{ArrowError, DataType, Field, Schema, SchemaRef};
use bytes::Bytes;
use prost::Message;
use vivace_proto::ids::TraceId;
use vivace_proto::otlp::common::{KeyValue, any_value};
use vivace_proto::otlp::trace::{ResourceSpans, ScopeSpans, Span, Status, span};

pub const TRACE_ID: &str = "trace_id";
/// Position of `trace_id` among the Parquet leaf columns (the schema is flat: leaf = field).
pub const TRACE_ID_LEAF: usize = 0;
pub const SPAN_ID: &str = "span_id";
const PARENT_SPAN_ID: &str = "parent_span_id";
const NAME: &str = "name";
const KIND: &str = "kind";
const START: &str = "start_time_unix_nano";
const END: &str = "end_time_unix_nano";
const STATUS_CODE: &str = "status_code";
const STATUS_MESSAGE: &str = "status_message";
const TRACE_STATE: &str = "trace_state";
const FLAGS: &str = "flags";
const DROPPED_ATTRIBUTES: &str = "dropped_attributes_count";
const DROPPED_EVENTS: &str = "dropped_events_count";
const DROPPED_LINKS: &str = "dropped_links_count";
const SERVICE_NAME: &str = "service_name";
const RESOURCE: &str = "resource";
const SCOPE: &str = "scope";
const ATTRIBUTES: &str = "attributes";
const EVENTS: &str = "events";
const LINKS: &str = "links";

/// The arrow schema of `data.parquet`.
pub fn block_schema() -> SchemaRef {
    Arc::new(Schema::new(vec![
        Field::new(TRACE_ID, DataType::FixedSizeBinary(16), false),
        Field::new(SPAN_ID, DataType::FixedSizeBinary(8), false),
        Field::new(PARENT_SPAN_ID, DataType::Binary, false),
        Field::new(NAME, DataType::Utf8, false),
        Field::new(KIND, DataType::Int32, false),
        Field::new(START, DataType::UInt64, false),
        Field::new(END, DataType::UInt64, false),
        Field::new(STATUS_CODE, DataType::Int32, false),
        Field::new(STATUS_MESSAGE, DataType::Utf8, false),
        Field::new(TRACE_STATE, DataType::Utf8, false),
        Field::new(FLAGS, DataType::UInt32, false),
        Field::new(DROPPED_ATTRIBUTES, DataType::UInt32, false),
        Field::new(DROPPED_EVENTS, DataType::UInt32, false),
        Field::new(DROPPED_LINKS, DataType::UInt32, false),
        Field::new(SERVICE_NAME, DataType::Utf8, false),
        Field::new(RESOURCE, DataType::Binary, false),
        Field::new(SCOPE, DataType::Binary, false),
        Field::new(ATTRIBUTES, DataType::Binary, false),
        Field::new(EVENTS, DataType::Binary, false),
        Field::new(LINKS, DataType::Binary, false),
    ]))
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

/// Encodes messages as field 1 of a wrapper message (`AttributeList`, `EventList`, `LinkList`)
/// without copying them into one.
fn encode_as_list<M: Message>(messages: &[M]) -> Vec<u8> {
    let mut buffer = Vec::with_capacity(
        messages
            .iter()
            .map(|message| message.encoded_len() + 2)
            .sum(),
    );
    for message in messages {
        prost::encoding::message::encode(1, message, &mut buffer);
    }
    buffer
}

/// One span ready to be written: its resource and scope already encoded.
pub struct SpanRow {
    pub trace_id: TraceId,
    pub span: Span,
    pub resource: Bytes,
    pub scope: Bytes,
    pub service_name: String,
}

/// The encoded resource of a batch (`ResourceSpans` without scope spans) and its service name.
pub fn encode_resource(batch: &ResourceSpans) -> (Bytes, String) {
    let header = ResourceSpans {
        resource: batch.resource.clone(),
        scope_spans: Vec::new(),
        schema_url: batch.schema_url.clone(),
    };
    let service_name = batch
        .resource
        .as_ref()
        .and_then(|resource| {
            resource
                .attributes
                .iter()
                .find(|attribute| attribute.key == "service.name")
        })
        .and_then(|attribute| attribute.value.as_ref())
        .and_then(|value| match &value.value {
            Some(any_value::Value::StringValue(text)) => Some(text.clone()),
            _ => None,
        })
        .unwrap_or_default();
    (Bytes::from(header.encode_to_vec()), service_name)
}

/// The encoded scope of a batch (`ScopeSpans` without spans).
pub fn encode_scope(scope: &ScopeSpans) -> Bytes {
    let header = ScopeSpans {
        scope: scope.scope.clone(),
        spans: Vec::new(),
        schema_url: scope.schema_url.clone(),
    };
    Bytes::from(header.encode_to_vec())
}

fn fixed_id<const N: usize>(bytes: &[u8]) -> [u8; N] {
    let mut id = [0u8; N];
    let length = bytes.len().min(N);
    id[N - length..].copy_from_slice(&bytes[..length]);
    id
}

/// Builds one record batch from span rows.
pub fn rows_to_batch(rows: &[SpanRow]) -> Result<RecordBatch, ArrowError> {
    let count = rows.len();
    let mut trace_ids = FixedSizeBinaryBuilder::with_capacity(count, 16);
    let mut span_ids = FixedSizeBinaryBuilder::with_capacity(count, 8);
    let mut parents = BinaryBuilder::new();
    let mut names = StringBuilder::new();
    let mut kinds = Int32Builder::with_capacity(count);
    let mut starts = UInt64Builder::with_capacity(count);
    let mut ends = UInt64Builder::with_capacity(count);
    let mut status_codes = Int32Builder::with_capacity(count);
    let mut status_messages = StringBuilder::new();
    let mut trace_states = StringBuilder::new();
    let mut flags = UInt32Builder::with_capacity(count);
    let mut dropped_attributes = UInt32Builder::with_capacity(count);
    let mut dropped_events = UInt32Builder::with_capacity(count);
    let mut dropped_links = UInt32Builder::with_capacity(count);
    let mut service_names = StringBuilder::new();
    let mut resources = BinaryBuilder::new();
    let mut scopes = BinaryBuilder::new();
    let mut attributes = BinaryBuilder::new();
    let mut events = BinaryBuilder::new();
    let mut links = BinaryBuilder::new();
    for row in rows {
        let span = &row.span;
        trace_ids.append_value(row.trace_id)?;
        span_ids.append_value(fixed_id::<8>(&span.span_id))?;
        parents.append_value(&span.parent_span_id);
        names.append_value(&span.name);
        kinds.append_value(span.kind);
        starts.append_value(span.start_time_unix_nano);
        ends.append_value(span.end_time_unix_nano);
        let status = span.status.clone().unwrap_or_default();
        status_codes.append_value(if span.status.is_some() {
            status.code
        } else {
            -1
        });
        status_messages.append_value(&status.message);
        trace_states.append_value(&span.trace_state);
        flags.append_value(span.flags);
        dropped_attributes.append_value(span.dropped_attributes_count);
        dropped_events.append_value(span.dropped_events_count);
        dropped_links.append_value(span.dropped_links_count);
        service_names.append_value(&row.service_name);
        resources.append_value(&row.resource);
        scopes.append_value(&row.scope);
        attributes.append_value(encode_as_list(&span.attributes));
        events.append_value(encode_as_list(&span.events));
        links.append_value(encode_as_list(&span.links));
    }
    let columns: Vec<ArrayRef> = vec![
        Arc::new(trace_ids.finish()),
        Arc::new(span_ids.finish()),
        Arc::new(parents.finish()),
        Arc::new(names.finish()),
        Arc::new(kinds.finish()),
        Arc::new(starts.finish()),
        Arc::new(ends.finish()),
        Arc::new(status_codes.finish()),
        Arc::new(status_messages.finish()),
        Arc::new(trace_states.finish()),
        Arc::new(flags.finish()),
        Arc::new(dropped_attributes.finish()),
        Arc::new(dropped_events.finish()),
        Arc::new(dropped_links.finish()),
        Arc::new(service_names.finish()),
        Arc::new(resources.finish()),
        Arc::new(scopes.finish()),
        Arc::new(attributes.finish()),
        Arc::new(events.finish()),
        Arc::new(links.finish()),
    ];
    RecordBatch::try_new(block_schema(), columns)
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

/// Decodes the spans of a record batch read with the full schema.
pub fn batch_to_spans(batch: &RecordBatch) -> Result<Vec<ReadSpan>, String> {
    let trace_ids = column::<FixedSizeBinaryArray>(batch, TRACE_ID)?;
    let span_ids = column::<FixedSizeBinaryArray>(batch, SPAN_ID)?;
    let parents = column::<BinaryArray>(batch, PARENT_SPAN_ID)?;
    let names = column::<StringArray>(batch, NAME)?;
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
