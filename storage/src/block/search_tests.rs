//! The values of the search columns for hand-made traces.

use arrow_array::cast::AsArray;
use arrow_array::types::{Float64Type, Int32Type, Int64Type, UInt64Type};
use arrow_array::{Array, RecordBatch};
use arrow_schema::DataType;
use vivace_proto::ids::TraceId;
use vivace_proto::otlp::common::{
    AnyValue, ArrayValue, InstrumentationScope, KeyValue, KeyValueList, any_value,
};
use vivace_proto::otlp::resource::Resource;
use vivace_proto::otlp::trace::{ResourceSpans, ScopeSpans, Span, Status, span};
use vivace_proto::tempopb::Trace;

use super::search_schema::*;
use super::*;

/// One value of a search column, comparable whatever the array's encoding (dictionary or not).
#[derive(Debug, Clone, PartialEq)]
pub(super) enum Cell {
    Null,
    Str(String),
    Int(i64),
    UInt(u64),
    Float(f64),
    Bool(bool),
    Bytes(Vec<u8>),
    List(Vec<Cell>),
    /// An attribute entry: its key and its one value.
    Entry(String, Box<Cell>),
}

/// The value at `row` of a search column.
pub(super) fn cell(array: &dyn Array, row: usize) -> Cell {
    if array.is_null(row) {
        return Cell::Null;
    }
    match array.data_type() {
        DataType::Dictionary(_, _) => {
            let dictionary = array.as_dictionary::<Int32Type>();
            let key = dictionary.keys().value(row) as usize;
            cell(dictionary.values().as_ref(), key)
        }
        DataType::Utf8 => Cell::Str(array.as_string::<i32>().value(row).to_owned()),
        DataType::Int32 => Cell::Int(i64::from(array.as_primitive::<Int32Type>().value(row))),
        DataType::Int64 => Cell::Int(array.as_primitive::<Int64Type>().value(row)),
        DataType::UInt64 => Cell::UInt(array.as_primitive::<UInt64Type>().value(row)),
        DataType::Float64 => Cell::Float(array.as_primitive::<Float64Type>().value(row)),
        DataType::Boolean => Cell::Bool(array.as_boolean().value(row)),
        DataType::Binary => Cell::Bytes(array.as_binary::<i32>().value(row).to_vec()),
        DataType::FixedSizeBinary(_) => {
            Cell::Bytes(array.as_fixed_size_binary().value(row).to_vec())
        }
        DataType::List(_) => {
            let items = array.as_list::<i32>().value(row);
            Cell::List((0..items.len()).map(|item| cell(&items, item)).collect())
        }
        DataType::Struct(_) => {
            let entry = array.as_struct();
            let key = match cell(entry.column(0).as_ref(), row) {
                Cell::Str(key) => key,
                other => panic!("attribute key {other:?}"),
            };
            let values: Vec<Cell> = entry.columns()[1..]
                .iter()
                .map(|column| cell(column.as_ref(), row))
                .filter(|value| *value != Cell::Null)
                .collect();
            assert_eq!(values.len(), 1, "one value per entry: {values:?}");
            Cell::Entry(key, Box::new(values[0].clone()))
        }
        other => panic!("unexpected column type {other}"),
    }
}

/// Every value of a column of `batch`.
pub(super) fn column(batch: &RecordBatch, name: &str) -> Vec<Cell> {
    let array = batch
        .column_by_name(name)
        .unwrap_or_else(|| panic!("column {name}"));
    (0..array.len())
        .map(|row| cell(array.as_ref(), row))
        .collect()
}

fn text(value: &str) -> Cell {
    Cell::Str(value.to_owned())
}

fn ints(values: &[i64]) -> Vec<Cell> {
    values.iter().map(|value| Cell::Int(*value)).collect()
}

fn entry(key: &str, value: Cell) -> Cell {
    Cell::Entry(key.to_owned(), Box::new(value))
}

fn attribute(key: &str, value: any_value::Value) -> KeyValue {
    KeyValue {
        key: key.to_owned(),
        value: Some(AnyValue { value: Some(value) }),
        ..Default::default()
    }
}

fn string(key: &str, value: &str) -> KeyValue {
    attribute(key, any_value::Value::StringValue(value.to_owned()))
}

fn span(id: u8, parent: &[u8], start: u64, end: u64, name: &str) -> Span {
    Span {
        span_id: vec![id; 8],
        parent_span_id: parent.to_vec(),
        start_time_unix_nano: start,
        end_time_unix_nano: end,
        name: name.to_owned(),
        ..Default::default()
    }
}

fn batch_of(service: &str, spans: Vec<Span>) -> ResourceSpans {
    ResourceSpans {
        resource: Some(Resource {
            attributes: vec![string("service.name", service)],
            ..Default::default()
        }),
        scope_spans: vec![ScopeSpans {
            spans,
            ..Default::default()
        }],
        ..Default::default()
    }
}

#[test]
fn nested_sets_child_counts_and_trace_level_columns() {
    let trace_a: TraceId = [1; 16];
    let trace_b: TraceId = [2; 16];
    // a: root ← c1 ← g, root ← c2, and an orphan sent separately by another service.
    let main = batch_of(
        "svc-a",
        vec![
            span(1, &[], 10, 100, "root"),
            span(2, &[1; 8], 20, 50, "c1"),
            span(3, &[2; 8], 30, 40, "g"),
            span(4, &[1; 8], 25, 120, "c2"),
        ],
    );
    let orphan = batch_of("svc-b", vec![span(5, &[99; 8], 5, 8, "orphan")]);
    // b: no root (its only span has a parent id that is not in the trace).
    let lonely = batch_of("svc-c", vec![span(7, &[98; 8], 1, 2, "lonely")]);
    let traces = vec![
        (
            trace_b,
            Trace {
                resource_spans: vec![lonely],
            },
        ),
        (
            trace_a,
            Trace {
                resource_spans: vec![main],
            },
        ),
        (
            trace_a,
            Trace {
                resource_spans: vec![orphan],
            },
        ),
    ];
    let batch = search_batch(traces).expect("builds");
    assert_eq!(batch.schema(), search_schema());
    // Trace a first (ids ascending), rows by start: orphan 5, root 10, c1 20, c2 25, g 30.
    assert_eq!(
        column(&batch, NAME),
        ["orphan", "root", "c1", "c2", "g", "lonely"].map(text)
    );
    assert_eq!(
        column(&batch, TRACE_ID),
        [[1u8; 16], [1; 16], [1; 16], [1; 16], [1; 16], [2; 16]].map(|id| Cell::Bytes(id.to_vec()))
    );
    assert_eq!(
        column(&batch, SERVICE_NAME),
        ["svc-b", "svc-a", "svc-a", "svc-a", "svc-a", "svc-c"].map(text)
    );
    assert_eq!(column(&batch, NESTED_SET_LEFT), ints(&[1, 3, 4, 8, 5, 1]));
    assert_eq!(column(&batch, NESTED_SET_RIGHT), ints(&[2, 10, 7, 9, 6, 2]));
    assert_eq!(
        column(&batch, NESTED_SET_PARENT),
        ints(&[-1, -1, 3, 3, 4, -1])
    );
    assert_eq!(column(&batch, CHILD_COUNT), ints(&[0, 2, 1, 0, 0, 0]));
    let root_service: Vec<Cell> = std::iter::repeat_n(text("svc-a"), 5)
        .chain([Cell::Null])
        .collect();
    assert_eq!(column(&batch, TRACE_ROOT_SERVICE), root_service);
    let root_name: Vec<Cell> = std::iter::repeat_n(text("root"), 5)
        .chain([Cell::Null])
        .collect();
    assert_eq!(column(&batch, TRACE_ROOT_NAME), root_name);
    let starts = [5, 5, 5, 5, 5, 1].map(Cell::UInt);
    assert_eq!(column(&batch, TRACE_START), starts);
    assert_eq!(
        column(&batch, TRACE_END),
        [120, 120, 120, 120, 120, 2].map(Cell::UInt)
    );
}

#[test]
fn attributes_go_to_dedicated_columns_or_generic_lists() {
    use any_value::Value::{
        ArrayValue as Array_, BoolValue, BytesValue, DoubleValue, IntValue, KvlistValue,
        StringValue,
    };
    let array = Array_(ArrayValue {
        values: [
            StringValue("a".into()),
            IntValue(1),
            Array_(ArrayValue::default()),
            KvlistValue(KeyValueList::default()),
            BytesValue(vec![1]),
            DoubleValue(0.5),
        ]
        .into_iter()
        .map(|value| AnyValue { value: Some(value) })
        .collect(),
    });
    let mut traced = span(1, &[], 1_000, 2_000, "op");
    traced.attributes = vec![
        string("http.method", "GET"),
        attribute("http.status_code", StringValue("200".into())),
        string("http.url", "/a"),
        string("http.url", "/b"),
        attribute("tags", array),
        attribute("raw", BytesValue(vec![9])),
        attribute("ratio", DoubleValue(1.5)),
        attribute("ok", BoolValue(true)),
    ];
    traced.status = Some(Status {
        code: 2,
        message: "boom".into(),
    });
    traced.events = vec![
        span::Event {
            time_unix_nano: 1_500,
            name: "late".into(),
            attributes: vec![attribute("e", IntValue(1))],
            ..Default::default()
        },
        span::Event {
            time_unix_nano: 500,
            name: "early".into(),
            attributes: vec![string("e", "x"), attribute("f", BoolValue(false))],
            ..Default::default()
        },
    ];
    traced.links = vec![span::Link {
        trace_id: vec![3; 16],
        span_id: vec![4; 8],
        attributes: vec![string("l", "y")],
        ..Default::default()
    }];
    let mut plain = span(2, &[1; 8], 0, 1, "plain");
    plain.events = vec![span::Event {
        time_unix_nano: u64::MAX,
        ..Default::default()
    }];
    let resource = ResourceSpans {
        resource: Some(Resource {
            attributes: vec![
                string("service.name", "svc"),
                string("cluster", "c1"),
                attribute("namespace", IntValue(5)),
                string("k8s.pod.name", "p1"),
                string("k8s.pod.name", "p2"),
            ],
            ..Default::default()
        }),
        scope_spans: vec![ScopeSpans {
            scope: Some(InstrumentationScope {
                name: "lib".into(),
                version: String::new(),
                attributes: vec![attribute("scoped", BoolValue(true))],
                ..Default::default()
            }),
            spans: vec![traced, plain],
            ..Default::default()
        }],
        ..Default::default()
    };
    let batch = search_batch([(
        [5; 16],
        Trace {
            resource_spans: vec![resource],
        },
    )])
    .expect("builds");
    // Rows: plain (start 0), then traced (start 1000).
    assert_eq!(column(&batch, NAME), ["plain", "op"].map(text));
    assert_eq!(column(&batch, STATUS_CODE), ints(&[-1, 2]));
    assert_eq!(column(&batch, STATUS_MESSAGE), ["", "boom"].map(text));
    assert_eq!(
        column(&batch, "span_http_method"),
        [Cell::Null, text("GET")]
    );
    assert_eq!(column(&batch, "span_http_url"), [Cell::Null, Cell::Null]);
    assert_eq!(
        column(&batch, "span_http_status_code"),
        [Cell::Null, Cell::Null]
    );
    let span_attrs = column(&batch, SPAN_ATTRS);
    assert_eq!(span_attrs[0], Cell::List(Vec::new()));
    assert_eq!(
        span_attrs[1],
        Cell::List(vec![
            entry("http.status_code", text("200")),
            entry("http.url", text("/a")),
            entry("http.url", text("/b")),
            entry("tags", text("a")),
            entry("tags", Cell::Int(1)),
            entry("tags", Cell::Float(0.5)),
            entry("ratio", Cell::Float(1.5)),
            entry("ok", Cell::Bool(true)),
        ])
    );
    assert_eq!(column(&batch, SERVICE_NAME), [text("svc"), text("svc")]);
    assert_eq!(column(&batch, "resource_cluster"), [text("c1"), text("c1")]);
    assert_eq!(
        column(&batch, "resource_namespace"),
        [Cell::Null, Cell::Null]
    );
    assert_eq!(
        column(&batch, "resource_k8s_pod_name"),
        [Cell::Null, Cell::Null]
    );
    let resource_attrs = Cell::List(vec![
        entry("namespace", Cell::Int(5)),
        entry("k8s.pod.name", text("p1")),
        entry("k8s.pod.name", text("p2")),
    ]);
    assert_eq!(
        column(&batch, RESOURCE_ATTRS),
        [resource_attrs.clone(), resource_attrs]
    );
    assert_eq!(column(&batch, SCOPE_NAME), [text("lib"), text("lib")]);
    assert_eq!(column(&batch, SCOPE_VERSION), [Cell::Null, Cell::Null]);
    let scope_attrs = Cell::List(vec![entry("scoped", Cell::Bool(true))]);
    assert_eq!(
        column(&batch, SCOPE_ATTRS),
        [scope_attrs.clone(), scope_attrs]
    );
    assert_eq!(
        column(&batch, EVENT_NAMES),
        [
            Cell::List(vec![text("")]),
            Cell::List(vec![text("late"), text("early")])
        ]
    );
    assert_eq!(
        column(&batch, EVENT_TIMES_SINCE_START),
        [
            Cell::List(ints(&[i64::MAX])),
            Cell::List(ints(&[500, -500]))
        ]
    );
    assert_eq!(
        column(&batch, EVENT_ATTRS),
        [
            Cell::List(Vec::new()),
            Cell::List(vec![
                entry("e", Cell::Int(1)),
                entry("e", text("x")),
                entry("f", Cell::Bool(false)),
            ])
        ]
    );
    assert_eq!(
        column(&batch, LINK_TRACE_IDS),
        [
            Cell::List(Vec::new()),
            Cell::List(vec![Cell::Bytes(vec![3; 16])])
        ]
    );
    assert_eq!(
        column(&batch, LINK_SPAN_IDS),
        [
            Cell::List(Vec::new()),
            Cell::List(vec![Cell::Bytes(vec![4; 8])])
        ]
    );
    assert_eq!(
        column(&batch, LINK_ATTRS),
        [
            Cell::List(Vec::new()),
            Cell::List(vec![entry("l", text("y"))])
        ]
    );
    // `plain`'s parent is `op`; `op` is the root.
    assert_eq!(column(&batch, CHILD_COUNT), ints(&[0, 1]));
    assert_eq!(column(&batch, TRACE_ROOT_NAME), [text("op"), text("op")]);
}

#[test]
fn an_empty_input_gives_an_empty_batch() {
    let batch = search_batch(Vec::new()).expect("builds");
    assert_eq!(batch.num_rows(), 0);
    assert_eq!(batch.schema(), search_schema());
}

#[test]
fn ties_keep_input_order_and_short_ids_are_padded() {
    let mut first = span(1, &[], 7, 8, "first");
    first.span_id = vec![1, 2];
    let second = span(2, &[], 7, 8, "second");
    let trace = Trace {
        resource_spans: vec![batch_of("s", vec![first, second])],
    };
    let batch = search_batch([([1; 16], trace)]).expect("builds");
    assert_eq!(column(&batch, NAME), ["first", "second"].map(text));
    assert_eq!(
        column(&batch, SPAN_ID)[0],
        Cell::Bytes(vec![0, 0, 0, 0, 0, 0, 1, 2])
    );
    // Two roots: the first in row order is the trace's root.
    assert_eq!(
        column(&batch, TRACE_ROOT_NAME),
        [text("first"), text("first")]
    );
}
