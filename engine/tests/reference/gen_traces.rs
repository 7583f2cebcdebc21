//! Random traces for the differential test: random trees (orphans, self-parents, an occasional
//! parent cycle), 1–3 resources with 1–2 scopes each, attributes of every OTLP type drawn from
//! small key and value sets (so queries hit, keys collide across scopes, well-known keys with
//! dedicated columns appear with the wrong type or twice), events, links, statuses, kinds, and
//! start times and durations from small sets (so ties happen).

use proptest::prelude::*;
use proptest::sample::select;
use vivace_proto::otlp::common::{
    AnyValue, ArrayValue, InstrumentationScope, KeyValue, KeyValueList, any_value,
};
use vivace_proto::otlp::resource::Resource;
use vivace_proto::otlp::trace::{ResourceSpans, ScopeSpans, Span, Status, span};
use vivace_proto::tempopb::Trace;

/// Start of every trace; span starts are offsets from it.
pub const BASE_NANOS: u64 = 1_700_000_000_000_000_000;
pub static START_OFFSETS: [u64; 6] = [0, 1_000, 2_000, 500_000, 1_000_000, 3_000_000];
pub static DURATIONS: [u64; 6] = [0, 500, 1_000, 1_000_000, 2_000_000, 1_500_000_000];
pub static EVENT_OFFSETS: [i64; 4] = [-1_000, 0, 500, 1_000_000];

pub static STRINGS: [&str; 9] = ["api", "db", "web", "GET", "POST", "a", "b", "/users", ""];
pub static INTS: [i64; 6] = [0, 1, 2, 200, 500, -3];
pub static FLOATS: [f64; 4] = [0.5, 1.5, -2.25, 200.0];
pub static SPAN_NAMES: [&str; 5] = ["root", "GET /users", "query", "render", "send"];
pub static SERVICES: [&str; 3] = ["api", "db", "web"];
pub static STATUS_MESSAGES: [&str; 3] = ["", "boom", "timeout"];
pub static EVENT_NAMES: [&str; 3] = ["exception", "retry", "log"];
pub static SCOPE_NAMES: [&str; 3] = ["", "lib-a", "lib-b"];
pub static SCOPE_VERSIONS: [&str; 3] = ["", "1.0", "2.1"];

pub static SPAN_KEYS: [&str; 8] = [
    "a",
    "b",
    "num",
    "flag",
    "http.method",
    "http.status_code",
    "http.url",
    "cluster",
];
pub static RESOURCE_KEYS: [&str; 8] = [
    "a",
    "b",
    "num",
    "flag",
    "cluster",
    "namespace",
    "k8s.pod.name",
    "http.method",
];
pub static SCOPE_KEYS: [&str; 2] = ["a", "b"];
pub static EVENT_KEYS: [&str; 3] = ["a", "exception.type", "num"];
pub static LINK_KEYS: [&str; 3] = ["a", "b", "num"];

/// Spans per trace at most; span ids beyond it are never assigned (orphans point there).
pub const MAX_SPANS: usize = 12;
const SPAN_ID_POOL: usize = 15;
const TRACE_ID_POOL: usize = 9;

/// The `index`-th trace id of the pool.
pub fn trace_id(index: usize) -> [u8; 16] {
    [0x11 * (index as u8 % TRACE_ID_POOL as u8 + 1); 16]
}

/// The `index`-th span id of the pool.
pub fn span_id(index: usize) -> [u8; 8] {
    [0x11 * (index as u8 % SPAN_ID_POOL as u8 + 1); 8]
}

fn value(inner: any_value::Value) -> Option<AnyValue> {
    Some(AnyValue { value: Some(inner) })
}

fn scalar() -> impl Strategy<Value = any_value::Value> {
    prop_oneof![
        3 => select(&STRINGS[..]).prop_map(|text| any_value::Value::StringValue(text.to_owned())),
        3 => select(&INTS[..]).prop_map(any_value::Value::IntValue),
        2 => select(&FLOATS[..]).prop_map(any_value::Value::DoubleValue),
        2 => any::<bool>().prop_map(any_value::Value::BoolValue),
    ]
}

/// Any OTLP value: mostly scalars, sometimes (possibly mixed or empty) arrays, bytes, kvlists.
fn any_otlp_value() -> impl Strategy<Value = any_value::Value> {
    prop_oneof![
        8 => scalar(),
        2 => proptest::collection::vec(scalar(), 0..3).prop_map(|values| {
            any_value::Value::ArrayValue(ArrayValue {
                values: values.into_iter().map(|inner| AnyValue { value: Some(inner) }).collect(),
            })
        }),
        1 => Just(any_value::Value::BytesValue(vec![0xde, 0xad])),
        1 => scalar().prop_map(|inner| {
            any_value::Value::KvlistValue(KeyValueList {
                values: vec![KeyValue { key: "a".into(), value: value(inner), ..Default::default() }],
            })
        }),
    ]
}

/// A value of the type a key usually has.
fn typed_for(key: &'static str) -> BoxedStrategy<any_value::Value> {
    let strings = |choices: &'static [&'static str]| {
        select(choices)
            .prop_map(|text| any_value::Value::StringValue(text.to_owned()))
            .boxed()
    };
    match key {
        "http.status_code" => select(vec![200i64, 404, 500])
            .prop_map(any_value::Value::IntValue)
            .boxed(),
        "http.method" => strings(&["GET", "POST"]),
        "http.url" => strings(&["/users", "/"]),
        "cluster" | "namespace" | "k8s.pod.name" => strings(&["api", "db", "a"]),
        "flag" => any::<bool>().prop_map(any_value::Value::BoolValue).boxed(),
        "num" => prop_oneof![
            select(&INTS[..]).prop_map(any_value::Value::IntValue),
            select(&FLOATS[..]).prop_map(any_value::Value::DoubleValue),
        ]
        .boxed(),
        _ => scalar().boxed(),
    }
}

fn attributes(keys: &'static [&'static str], max: usize) -> impl Strategy<Value = Vec<KeyValue>> {
    let attribute = select(keys).prop_flat_map(|key| {
        prop_oneof![3 => typed_for(key), 2 => any_otlp_value()].prop_map(move |inner| KeyValue {
            key: key.to_owned(),
            value: value(inner),
            ..Default::default()
        })
    });
    proptest::collection::vec(attribute, 0..=max)
}

/// How a span's parent id is chosen.
#[derive(Debug, Clone, Copy)]
enum ParentPlan {
    /// An earlier span (a root for the first span).
    Earlier(usize),
    Root,
    /// An id no span of the trace has.
    Orphan,
    /// Its own id.
    Itself,
}

fn parent_plan() -> impl Strategy<Value = ParentPlan> {
    prop_oneof![
        12 => any::<usize>().prop_map(ParentPlan::Earlier),
        3 => Just(ParentPlan::Root),
        2 => Just(ParentPlan::Orphan),
        1 => Just(ParentPlan::Itself),
    ]
}

/// Everything about a span but its place in the tree and its ids.
fn span_body() -> impl Strategy<Value = (Span, usize)> {
    let identity = (
        select(&SPAN_NAMES[..]),
        0i32..6,
        proptest::option::weighted(0.6, (0i32..3, select(&STATUS_MESSAGES[..]))),
        0..START_OFFSETS.len(),
        0..DURATIONS.len(),
        any::<usize>(),
    );
    let event = (
        select(&EVENT_NAMES[..]),
        select(&EVENT_OFFSETS[..]),
        attributes(&EVENT_KEYS, 2),
    );
    let link = (0..TRACE_ID_POOL, 0..SPAN_ID_POOL, attributes(&LINK_KEYS, 2));
    let body = (
        attributes(&SPAN_KEYS, 4),
        proptest::collection::vec(event, 0..3),
        proptest::collection::vec(link, 0..3),
    );
    (identity, body).prop_map(
        |((name, kind, status, start, duration, slot), (attributes, events, links))| {
            let start = BASE_NANOS + START_OFFSETS[start];
            let span = Span {
                name: name.to_owned(),
                kind,
                status: status.map(|(code, message)| Status {
                    code,
                    message: message.to_owned(),
                }),
                start_time_unix_nano: start,
                end_time_unix_nano: start + DURATIONS[duration],
                attributes,
                events: events
                    .into_iter()
                    .map(|(name, offset, attributes)| span::Event {
                        time_unix_nano: start.saturating_add_signed(offset),
                        name: name.to_owned(),
                        attributes,
                        dropped_attributes_count: 0,
                    })
                    .collect(),
                links: links
                    .into_iter()
                    .map(|(trace, span, attributes)| span::Link {
                        trace_id: trace_id(trace).to_vec(),
                        span_id: span_id(span).to_vec(),
                        attributes,
                        ..Default::default()
                    })
                    .collect(),
                ..Default::default()
            };
            (span, slot)
        },
    )
}

/// A resource: a string service name (usually), none, or an int; plus attributes.
fn resource() -> impl Strategy<Value = Resource> {
    let service = prop_oneof![
        6 => select(&SERVICES[..]).prop_map(|name| Some(any_value::Value::StringValue(name.to_owned()))),
        1 => Just(None),
        1 => Just(Some(any_value::Value::IntValue(3))),
    ];
    (service, attributes(&RESOURCE_KEYS, 3)).prop_map(|(service, extra)| {
        let mut attributes: Vec<KeyValue> = service
            .map(|inner| KeyValue {
                key: "service.name".into(),
                value: value(inner),
                ..Default::default()
            })
            .into_iter()
            .collect();
        attributes.extend(extra);
        Resource {
            attributes,
            ..Default::default()
        }
    })
}

fn scope() -> impl Strategy<Value = InstrumentationScope> {
    (
        select(&SCOPE_NAMES[..]),
        select(&SCOPE_VERSIONS[..]),
        attributes(&SCOPE_KEYS, 2),
    )
        .prop_map(|(name, version, attributes)| InstrumentationScope {
            name: name.to_owned(),
            version: version.to_owned(),
            attributes,
            dropped_attributes_count: 0,
        })
}

/// One trace with the given id. No flat maps, so failing cases shrink by dropping spans.
pub fn trace(id: [u8; 16]) -> impl Strategy<Value = Trace> {
    let layout = proptest::collection::vec(
        (resource(), proptest::collection::vec(scope(), 1..=2)),
        1..=3,
    );
    let ids = Just((0..MAX_SPANS).collect::<Vec<usize>>()).prop_shuffle();
    let spans = proptest::collection::vec((span_body(), parent_plan(), 0..3usize), 1..=MAX_SPANS);
    (ids, spans, proptest::bool::weighted(0.15), layout)
        .prop_map(move |(ids, spans, cycle, layout)| build(id, &ids, spans, cycle, layout))
}

type SpanPlanned = ((Span, usize), ParentPlan, usize);

fn build(
    trace_id: [u8; 16],
    ids: &[usize],
    spans: Vec<SpanPlanned>,
    cycle: bool,
    layout: Vec<(Resource, Vec<InstrumentationScope>)>,
) -> Trace {
    let count = spans.len();
    let mut batches: Vec<ResourceSpans> = layout
        .into_iter()
        .map(|(resource, scopes)| ResourceSpans {
            resource: Some(resource),
            scope_spans: scopes
                .into_iter()
                .map(|scope| ScopeSpans {
                    scope: Some(scope),
                    ..Default::default()
                })
                .collect(),
            ..Default::default()
        })
        .collect();
    let slots: Vec<(usize, usize)> = batches
        .iter()
        .enumerate()
        .flat_map(|(batch, resource)| {
            (0..resource.scope_spans.len()).map(move |scope| (batch, scope))
        })
        .collect();
    for (index, ((mut span, slot), plan, orphan)) in spans.into_iter().enumerate() {
        span.trace_id = trace_id.to_vec();
        span.span_id = span_id(ids[index]).to_vec();
        let parent = match plan {
            ParentPlan::Earlier(_) if index == 0 => None,
            ParentPlan::Earlier(choice) => Some(span_id(ids[choice % index]).to_vec()),
            ParentPlan::Root => None,
            ParentPlan::Orphan => Some(span_id(MAX_SPANS + orphan).to_vec()),
            ParentPlan::Itself => Some(span.span_id.clone()),
        };
        // A cycle: the first span hangs under the last, whose ancestry usually reaches it.
        let parent = if cycle && index == 0 && count > 1 {
            Some(span_id(ids[count - 1]).to_vec())
        } else {
            parent
        };
        span.parent_span_id = parent.unwrap_or_default();
        let (batch, scope) = slots[slot % slots.len()];
        batches[batch].scope_spans[scope].spans.push(span);
    }
    Trace {
        resource_spans: batches,
    }
}

/// 1–6 traces with distinct ids, in random order (failing cases shrink by dropping traces).
pub fn traces() -> impl Strategy<Value = Vec<([u8; 16], Trace)>> {
    let ids = Just((0..TRACE_ID_POOL).collect::<Vec<usize>>()).prop_shuffle();
    let traces = proptest::collection::vec(trace([0; 16]), 1..=6);
    (ids, traces).prop_map(|(ids, traces)| {
        ids.into_iter()
            .zip(traces)
            .map(|(index, mut trace)| {
                let id = trace_id(index);
                for span in trace
                    .resource_spans
                    .iter_mut()
                    .flat_map(|batch| &mut batch.scope_spans)
                    .flat_map(|scope| &mut scope.spans)
                {
                    span.trace_id = id.to_vec();
                }
                (id, trace)
            })
            .collect()
    })
}

/// A compact, one-line-per-span description of traces (for failure reports).
pub fn describe(traces: &[([u8; 16], Trace)]) -> String {
    let mut out = String::new();
    let kv = |attributes: &[KeyValue]| {
        attributes
            .iter()
            .map(|attribute| {
                let shown = match attribute
                    .value
                    .as_ref()
                    .and_then(|value| value.value.as_ref())
                {
                    Some(any_value::Value::StringValue(text)) => format!("{text:?}"),
                    Some(any_value::Value::IntValue(number)) => number.to_string(),
                    Some(any_value::Value::DoubleValue(number)) => format!("{number:?}"),
                    Some(any_value::Value::BoolValue(flag)) => flag.to_string(),
                    Some(other) => format!("{other:?}"),
                    None => "none".to_owned(),
                };
                format!("{}={shown}", attribute.key)
            })
            .collect::<Vec<_>>()
            .join(" ")
    };
    for (id, trace) in traces {
        out.push_str(&format!("trace {}\n", hex::encode(id)));
        for batch in &trace.resource_spans {
            let resource = batch
                .resource
                .as_ref()
                .map(|r| kv(&r.attributes))
                .unwrap_or_default();
            out.push_str(&format!("  resource [{resource}]\n"));
            for scope_spans in &batch.scope_spans {
                let scope = scope_spans.scope.clone().unwrap_or_default();
                out.push_str(&format!(
                    "    scope {:?} {:?} [{}]\n",
                    scope.name,
                    scope.version,
                    kv(&scope.attributes)
                ));
                for span in &scope_spans.spans {
                    let events: Vec<String> = span
                        .events
                        .iter()
                        .map(|event| {
                            let offset =
                                event.time_unix_nano as i64 - span.start_time_unix_nano as i64;
                            format!("{}@{offset} [{}]", event.name, kv(&event.attributes))
                        })
                        .collect();
                    let links: Vec<String> = span
                        .links
                        .iter()
                        .map(|link| {
                            format!(
                                "{}/{} [{}]",
                                hex::encode(&link.trace_id[..2]),
                                hex::encode(&link.span_id[..2]),
                                kv(&link.attributes)
                            )
                        })
                        .collect();
                    out.push_str(&format!(
                        "      span {} parent {:?} {:?} kind {} status {:?} start +{} dur {} [{}] events {events:?} links {links:?}\n",
                        hex::encode(&span.span_id[..2]),
                        hex::encode(&span.parent_span_id),
                        span.name,
                        span.kind,
                        span.status.as_ref().map(|status| (status.code, status.message.as_str())),
                        span.start_time_unix_nano - BASE_NANOS,
                        span.end_time_unix_nano - span.start_time_unix_nano,
                        kv(&span.attributes),
                    ));
                }
            }
        }
    }
    out
}
