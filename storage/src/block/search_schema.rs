//! The search columns of a block: typed, per-span columns that TraceQL evaluates without decoding
//! the protobuf blobs of [`super::schema`]. The same columns are built for the ingesters' recent
//! data, so one engine runs over both.
//!
//! Conventions:
//! - one row per span; the rows of a trace are contiguous (blocks and live batches alike);
//! - strings that repeat (names, services, attribute keys) are dictionary arrays
//!   (`Dictionary(Int32, Utf8)`); other strings are `Utf8`;
//! - nullable columns are null where the span has no such value;
//! - a *dedicated* column holds one well-known attribute when the span (or its resource) carries it
//!   exactly once with the column's type; otherwise every value of that key goes to the generic
//!   attribute list of its scope, so an attribute is in exactly one of the two places;
//! - generic attribute lists hold one entry per value: an array attribute `[a, b]` is two entries
//!   with the same key, values that are neither string, int, double nor bool (bytes, kvlist) are not
//!   stored for search;
//! - event and link attributes are flattened per span (the entries of all of a span's events).
//!
//! Nested sets ([`NESTED_SET_LEFT`], [`NESTED_SET_RIGHT`], [`NESTED_SET_PARENT`], [`CHILD_COUNT`]):
//! - numbers are 1-based and per trace: a depth-first walk numbers a span on entry (`left`) and on
//!   exit (`right`), so `a` is an ancestor of `b` exactly when `a.left < b.left && b.right <
//!   a.right`; `parent` is the parent's `left`, -1 for a root;
//! - the walk follows the trace's rows in row order (start time, ties in input order): roots and
//!   the children of a span are visited in that order;
//! - a span is a root when its `parent_span_id` is empty, names no span of the trace, names the
//!   span itself, or when it lies on a cycle of parent ids (the cycle is broken at its first span
//!   in row order); when several spans share an id, a parent id names the first of them in row
//!   order;
//! - `child_count` is the number of spans of the trace whose `nested_set_parent` is the span's
//!   `left` (so orphans and broken cycles count where the numbering puts them).
//!
//! Trace-level columns: the root span is the first row (earliest start) whose `nested_set_parent`
//! is -1 and whose `parent_span_id` is empty; `trace_root_service` is that row's `service_name`
//! (null when it is null), `trace_root_name` its name. `trace_start_unix_nano` is the earliest
//! start and `trace_end_unix_nano` the latest end of the trace's spans.
//!
//! Rows: the rows of a trace are ordered by span start, spans with equal starts in input order
//! (resource spans, then scope spans, then spans, entries of the same trace id concatenated in
//! input order); traces are in ascending trace-id order.
//!
//! Types of the intrinsics: ids are `FixedSizeBinary(16)` / `FixedSizeBinary(8)` (shorter ids
//! left-padded with zeros), `parent_span_id` `Binary` as received (empty for none), `kind` and
//! `status_code` `Int32`, times `UInt64` nanos, `status_message` `Utf8` (empty when none).
//!
//! Blocks store these columns next to the trace-by-id columns (the intrinsics are shared), with
//! Parquet bloom filters on the leaves listed by [`bloom_filter_leaves`] (see
//! [`attr_key_leaf`] / [`attr_string_leaf`] for the leaves of the generic attribute lists).

use std::sync::{Arc, LazyLock};

use arrow_schema::{DataType, Field, Fields, Schema, SchemaRef};

/// Per-span intrinsics shared with the trace-by-id schema.
pub const TRACE_ID: &str = "trace_id";
pub const SPAN_ID: &str = "span_id";
pub const PARENT_SPAN_ID: &str = "parent_span_id";
pub const NAME: &str = "name";
pub const KIND: &str = "kind";
pub const START: &str = "start_time_unix_nano";
pub const END: &str = "end_time_unix_nano";
/// OTLP status code, -1 when the span has no status (which TraceQL reads as `unset`).
pub const STATUS_CODE: &str = "status_code";
pub const STATUS_MESSAGE: &str = "status_message";
/// `resource.service.name` (dedicated): null when absent, not a string, or present more than once
/// (then its values are in `resource_attrs`).
pub const SERVICE_NAME: &str = "service_name";

/// Nested-set numbers of the span within its trace (`Int32`, see `nested_set.rs`): left, right,
/// and the parent's left (-1 for a root).
pub const NESTED_SET_LEFT: &str = "nested_set_left";
pub const NESTED_SET_RIGHT: &str = "nested_set_right";
pub const NESTED_SET_PARENT: &str = "nested_set_parent";
/// Number of direct children (`Int32`).
pub const CHILD_COUNT: &str = "child_count";

/// Trace-level values repeated on every row of the trace: the root span's service and name (null
/// when the trace has no root span), and the trace's first start and last end (`UInt64` nanos).
pub const TRACE_ROOT_SERVICE: &str = "trace_root_service";
pub const TRACE_ROOT_NAME: &str = "trace_root_name";
pub const TRACE_START: &str = "trace_start_unix_nano";
pub const TRACE_END: &str = "trace_end_unix_nano";

/// The instrumentation scope's name and version (null when empty).
pub const SCOPE_NAME: &str = "scope_name";
pub const SCOPE_VERSION: &str = "scope_version";

/// Dedicated span attribute columns: (column, attribute key, type).
pub const DEDICATED_SPAN: &[(&str, &str, DedicatedType)] = &[
    ("span_http_method", "http.method", DedicatedType::String),
    ("span_http_url", "http.url", DedicatedType::String),
    (
        "span_http_status_code",
        "http.status_code",
        DedicatedType::Int,
    ),
];

/// Dedicated resource attribute columns (besides `service_name`).
pub const DEDICATED_RESOURCE: &[(&str, &str, DedicatedType)] = &[
    ("resource_cluster", "cluster", DedicatedType::String),
    ("resource_namespace", "namespace", DedicatedType::String),
    ("resource_pod", "pod", DedicatedType::String),
    ("resource_container", "container", DedicatedType::String),
    (
        "resource_k8s_cluster_name",
        "k8s.cluster.name",
        DedicatedType::String,
    ),
    (
        "resource_k8s_namespace_name",
        "k8s.namespace.name",
        DedicatedType::String,
    ),
    (
        "resource_k8s_pod_name",
        "k8s.pod.name",
        DedicatedType::String,
    ),
    (
        "resource_k8s_container_name",
        "k8s.container.name",
        DedicatedType::String,
    ),
];

/// The type of a dedicated column: `Dictionary(Int32, Utf8)` or `Int64`, nullable.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DedicatedType {
    String,
    Int,
}

/// Generic attribute lists, one per scope: `List<Struct<key, s, i, f, b>>`.
pub const SPAN_ATTRS: &str = "span_attrs";
pub const RESOURCE_ATTRS: &str = "resource_attrs";
pub const SCOPE_ATTRS: &str = "scope_attrs";
pub const EVENT_ATTRS: &str = "event_attrs";
pub const LINK_ATTRS: &str = "link_attrs";

/// Fields of an attribute entry: the key (dictionary, never null) and exactly one non-null value.
pub const ATTR_KEY: &str = "key";
pub const ATTR_STRING: &str = "s";
pub const ATTR_INT: &str = "i";
pub const ATTR_FLOAT: &str = "f";
pub const ATTR_BOOL: &str = "b";

/// Per-span lists of the span's events' names (`List<Utf8>`) and times since the span's start
/// (`List<Int64>` nanos, may be negative), in event order.
pub const EVENT_NAMES: &str = "event_names";
pub const EVENT_TIMES_SINCE_START: &str = "event_times_since_start";
/// Per-span lists of the span's links' trace and span ids (`List<Binary>`), in link order.
pub const LINK_TRACE_IDS: &str = "link_trace_ids";
pub const LINK_SPAN_IDS: &str = "link_span_ids";

/// `Dictionary(Int32, Utf8)`.
pub fn dictionary_utf8() -> DataType {
    DataType::Dictionary(Box::new(DataType::Int32), Box::new(DataType::Utf8))
}

/// The struct of one generic attribute entry.
pub fn attribute_entry_fields() -> Fields {
    Fields::from(vec![
        Field::new(ATTR_KEY, dictionary_utf8(), false),
        Field::new(ATTR_STRING, DataType::Utf8, true),
        Field::new(ATTR_INT, DataType::Int64, true),
        Field::new(ATTR_FLOAT, DataType::Float64, true),
        Field::new(ATTR_BOOL, DataType::Boolean, true),
    ])
}

/// `List<Struct<key, s, i, f, b>>` (the list itself is never null; a span without attributes has
/// an empty list).
pub fn attribute_list_type() -> DataType {
    DataType::List(Arc::new(Field::new(
        "item",
        DataType::Struct(attribute_entry_fields()),
        false,
    )))
}

/// `List<item>` with non-null items.
fn list_of(item: DataType) -> DataType {
    DataType::List(Arc::new(Field::new("item", item, false)))
}

/// The type of a dedicated column.
pub fn dedicated_type(kind: DedicatedType) -> DataType {
    match kind {
        DedicatedType::String => dictionary_utf8(),
        DedicatedType::Int => DataType::Int64,
    }
}

/// The intrinsic columns that blocks share with their trace-by-id columns, in block order.
pub(crate) fn shared_fields() -> Vec<Field> {
    vec![
        Field::new(TRACE_ID, DataType::FixedSizeBinary(16), false),
        Field::new(SPAN_ID, DataType::FixedSizeBinary(8), false),
        Field::new(PARENT_SPAN_ID, DataType::Binary, false),
        Field::new(NAME, dictionary_utf8(), false),
        Field::new(KIND, DataType::Int32, false),
        Field::new(START, DataType::UInt64, false),
        Field::new(END, DataType::UInt64, false),
        Field::new(STATUS_CODE, DataType::Int32, false),
        Field::new(STATUS_MESSAGE, DataType::Utf8, false),
        Field::new(SERVICE_NAME, dictionary_utf8(), true),
    ]
}

/// The search columns that only exist for search, in block order.
pub(crate) fn search_only_fields() -> Vec<Field> {
    let mut fields = vec![
        Field::new(NESTED_SET_LEFT, DataType::Int32, false),
        Field::new(NESTED_SET_RIGHT, DataType::Int32, false),
        Field::new(NESTED_SET_PARENT, DataType::Int32, false),
        Field::new(CHILD_COUNT, DataType::Int32, false),
        Field::new(TRACE_ROOT_SERVICE, dictionary_utf8(), true),
        Field::new(TRACE_ROOT_NAME, dictionary_utf8(), true),
        Field::new(TRACE_START, DataType::UInt64, false),
        Field::new(TRACE_END, DataType::UInt64, false),
        Field::new(SCOPE_NAME, dictionary_utf8(), true),
        Field::new(SCOPE_VERSION, dictionary_utf8(), true),
    ];
    for (column, _, kind) in DEDICATED_SPAN.iter().chain(DEDICATED_RESOURCE) {
        fields.push(Field::new(*column, dedicated_type(*kind), true));
    }
    for column in [
        SPAN_ATTRS,
        RESOURCE_ATTRS,
        SCOPE_ATTRS,
        EVENT_ATTRS,
        LINK_ATTRS,
    ] {
        fields.push(Field::new(column, attribute_list_type(), false));
    }
    fields.extend([
        Field::new(EVENT_NAMES, list_of(DataType::Utf8), false),
        Field::new(EVENT_TIMES_SINCE_START, list_of(DataType::Int64), false),
        Field::new(LINK_TRACE_IDS, list_of(DataType::Binary), false),
        Field::new(LINK_SPAN_IDS, list_of(DataType::Binary), false),
    ]);
    fields
}

static SEARCH_SCHEMA: LazyLock<SchemaRef> = LazyLock::new(|| {
    let mut fields = shared_fields();
    fields.extend(search_only_fields());
    Arc::new(Schema::new(fields))
});

/// The search columns, in the order of [`super::search_batch`]'s batches (a block scan returns
/// the columns it is asked for, in the order asked).
pub fn search_schema() -> SchemaRef {
    Arc::clone(&SEARCH_SCHEMA)
}

/// The Parquet leaf path (dotted, as `ColumnPath::string`) of the `key` of a generic attribute
/// list column, e.g. `span_attrs.list.item.key`.
pub fn attr_key_leaf(list_column: &str) -> String {
    format!("{list_column}.list.item.{ATTR_KEY}")
}

/// The Parquet leaf path of the string value (`s`) of a generic attribute list column, e.g.
/// `span_attrs.list.item.s`.
pub fn attr_string_leaf(list_column: &str) -> String {
    format!("{list_column}.list.item.{ATTR_STRING}")
}

/// The leaves of a block with a Parquet bloom filter in every row group: `name`,
/// `service_name`, the dedicated string columns, and the key and string-value leaves of
/// `span_attrs` and `resource_attrs`. A filter holds the column chunk's values as UTF-8 bytes.
pub fn bloom_filter_leaves() -> Vec<String> {
    let mut leaves = vec![NAME.to_owned(), SERVICE_NAME.to_owned()];
    for (column, _, kind) in DEDICATED_SPAN.iter().chain(DEDICATED_RESOURCE) {
        if *kind == DedicatedType::String {
            leaves.push((*column).to_owned());
        }
    }
    for list in [SPAN_ATTRS, RESOURCE_ATTRS] {
        leaves.push(attr_key_leaf(list));
        leaves.push(attr_string_leaf(list));
    }
    leaves
}
