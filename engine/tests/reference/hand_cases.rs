//! Hand-computed expectations for the naive evaluator, so the reference is not trivially wrong,
//! and sanity checks of the generators.

use proptest::strategy::{Strategy, ValueTree};
use proptest::test_runner::TestRunner;
use vivace_engine::{TraceMatch, Value};
use vivace_proto::otlp::common::{AnyValue, ArrayValue, KeyValue, any_value};
use vivace_proto::otlp::resource::Resource;
use vivace_proto::otlp::trace::{ResourceSpans, ScopeSpans, Span, Status};
use vivace_proto::tempopb::Trace;

use super::gen_traces::{BASE_NANOS, span_id, trace_id};
use super::{gen_queries, gen_traces, naive};

fn kv(key: &str, value: any_value::Value) -> KeyValue {
    KeyValue {
        key: key.to_owned(),
        value: Some(AnyValue { value: Some(value) }),
        ..Default::default()
    }
}

fn int(value: i64) -> any_value::Value {
    any_value::Value::IntValue(value)
}

fn text(value: &str) -> any_value::Value {
    any_value::Value::StringValue(value.to_owned())
}

fn flag(value: bool) -> any_value::Value {
    any_value::Value::BoolValue(value)
}

/// Span `index` of the pool with parent `parent` (`None`: root), start offset and attributes.
fn span(
    index: usize,
    parent: Option<usize>,
    name: &str,
    start: u64,
    attributes: Vec<KeyValue>,
) -> Span {
    Span {
        trace_id: trace_id(0).to_vec(),
        span_id: span_id(index).to_vec(),
        parent_span_id: parent
            .map(|parent| span_id(parent).to_vec())
            .unwrap_or_default(),
        name: name.to_owned(),
        start_time_unix_nano: BASE_NANOS + start,
        end_time_unix_nano: BASE_NANOS + start + 1_000_000,
        attributes,
        ..Default::default()
    }
}

fn resource(service: &str, attributes: Vec<KeyValue>, spans: Vec<Span>) -> ResourceSpans {
    let mut all = vec![kv("service.name", text(service))];
    all.extend(attributes);
    ResourceSpans {
        resource: Some(Resource {
            attributes: all,
            ..Default::default()
        }),
        scope_spans: vec![ScopeSpans {
            spans,
            ..Default::default()
        }],
        ..Default::default()
    }
}

/// root(0, api) ← b(1, api, error) ← c(2, db); root ← d(3, db). c and d start together.
fn sample() -> Vec<([u8; 16], Trace)> {
    let mut b = span(
        1,
        Some(0),
        "query",
        1_000,
        vec![kv("http.status_code", int(500)), kv("b", flag(true))],
    );
    b.status = Some(Status {
        code: 2,
        message: "boom".into(),
    });
    let api = resource(
        "api",
        vec![kv("num", int(2))],
        vec![
            span(
                0,
                None,
                "root",
                0,
                vec![kv("http.status_code", int(500)), kv("a", flag(true))],
            ),
            b,
        ],
    );
    let c = span(
        2,
        Some(1),
        "query",
        2_000,
        vec![kv("b", flag(true)), kv("num", int(7))],
    );
    let mut d = span(
        3,
        Some(0),
        "render",
        2_000,
        vec![kv("http.status_code", int(200))],
    );
    d.attributes.push(kv(
        "tags",
        any_value::Value::ArrayValue(ArrayValue {
            values: vec![
                AnyValue {
                    value: Some(text("x")),
                },
                AnyValue {
                    value: Some(text("y")),
                },
            ],
        }),
    ));
    d.attributes.push(kv(
        "nums",
        any_value::Value::ArrayValue(ArrayValue {
            values: vec![
                AnyValue {
                    value: Some(int(-5)),
                },
                AnyValue {
                    value: Some(int(3)),
                },
            ],
        }),
    ));
    let db = resource("db", Vec::new(), vec![c, d]);
    vec![(
        trace_id(0),
        Trace {
            resource_spans: vec![api, db],
        },
    )]
}

fn run(query: &str, traces: &[([u8; 16], Trace)]) -> Vec<TraceMatch> {
    let parsed = vivace_traceql::parse(query).expect("parses");
    parsed.validate().expect("validates");
    naive::evaluate(&parsed, traces)
}

/// Each spanset as (span pool indexes, matched, attributes).
type SetSummary = (Vec<usize>, u32, Vec<(String, Value)>);

fn sets(found: &[TraceMatch]) -> Vec<SetSummary> {
    found
        .iter()
        .flat_map(|trace| &trace.spansets)
        .map(|set| {
            let spans = set
                .spans
                .iter()
                .map(|span| {
                    (0..15)
                        .find(|index| span_id(*index) == span.span_id)
                        .expect("pool id")
                })
                .collect();
            (spans, set.matched, set.attributes.clone())
        })
        .collect()
}

fn spans_only(query: &str) -> Vec<Vec<usize>> {
    sets(&run(query, &sample()))
        .into_iter()
        .map(|(spans, _, _)| spans)
        .collect()
}

#[test]
fn naive_everything() {
    let found = run("{ }", &sample());
    assert_eq!(found.len(), 1);
    let trace = &found[0];
    assert_eq!(trace.root_service_name.as_deref(), Some("api"));
    assert_eq!(trace.root_span_name.as_deref(), Some("root"));
    assert_eq!(trace.start_unix_nanos, BASE_NANOS);
    assert_eq!(trace.duration_nanos, 1_002_000);
    assert_eq!(
        (
            trace.service_stats["api"].span_count,
            trace.service_stats["api"].error_count
        ),
        (2, 1)
    );
    assert_eq!(
        (
            trace.service_stats["db"].span_count,
            trace.service_stats["db"].error_count
        ),
        (2, 0)
    );
    // Row order: start time, then write order (c before d).
    assert_eq!(sets(&found), vec![(vec![0, 1, 2, 3], 4, Vec::new())]);
}

#[test]
fn naive_count() {
    let found = sets(&run(
        "{ span.http.status_code = 500 } | count() > 1",
        &sample(),
    ));
    assert_eq!(
        found,
        vec![(vec![0, 1], 2, vec![("count()".to_owned(), Value::Int(2))])]
    );
    assert!(run("{ span.http.status_code = 500 } | count() > 2", &sample()).is_empty());
}

#[test]
fn naive_structure() {
    assert_eq!(spans_only("{ .a } >> { .b }"), vec![vec![1, 2]]);
    assert_eq!(spans_only("{ .a } > { .b }"), vec![vec![1]]);
    assert_eq!(spans_only("{ .a } &> { .b }"), vec![vec![0, 1]]);
    assert_eq!(spans_only("{ .a } !> { .b }"), vec![vec![2]]);
    assert_eq!(spans_only("{ name = \"query\" } < { }"), vec![vec![0, 1]]);
    assert_eq!(spans_only("{ name = \"query\" } << { }"), vec![vec![0, 1]]);
    assert_eq!(spans_only("{ name = \"query\" } ~ { }"), vec![vec![3]]);
    assert_eq!(spans_only("{ name = \"query\" } &~ { }"), vec![vec![1, 3]]);
    assert_eq!(
        spans_only("{ name = \"query\" } !~ { }"),
        vec![vec![0, 1, 2]]
    );
    assert_eq!(
        spans_only("{ .missing } !>> { name = \"root\" }"),
        vec![vec![0]]
    );
    assert!(spans_only("{ .missing } >> { }").is_empty());
}

#[test]
fn naive_and_or() {
    let query = "{ resource.service.name = \"api\" } && { status = error }";
    assert_eq!(spans_only(query), vec![vec![0, 1]]);
    assert!(spans_only("{ resource.service.name = \"web\" } && { status = error }").is_empty());
    assert_eq!(
        spans_only("{ resource.service.name = \"web\" } || { status = error }"),
        vec![vec![1]]
    );
}

#[test]
fn naive_group_by() {
    let found = sets(&run(
        "{ } | by(resource.service.name) | count() > 1",
        &sample(),
    ));
    let group = |service: &str| {
        (
            "by(resource.service.name)".to_owned(),
            Value::String(service.to_owned()),
        )
    };
    let count = ("count()".to_owned(), Value::Int(2));
    assert_eq!(
        found,
        vec![
            (vec![0, 1], 2, vec![group("api"), count.clone()]),
            (vec![2, 3], 2, vec![group("db"), count]),
        ]
    );
    // Spans without a value form their own group, without an attribute.
    let found = sets(&run("{ } | by(span.num)", &sample()));
    assert_eq!(found[0], (vec![0, 1, 3], 3, Vec::new()));
    assert_eq!(
        found[1],
        (vec![2], 1, vec![("by(span.num)".to_owned(), Value::Int(7))])
    );
    assert_eq!(
        sets(&run("{ } | by(span.num) | coalesce()", &sample())),
        vec![(vec![0, 1, 2, 3], 4, Vec::new())]
    );
}

#[test]
fn naive_values() {
    // Unscoped reads the span's values, else the resource's.
    assert_eq!(spans_only("{ .num = 2 }"), vec![vec![0, 1]]);
    assert_eq!(spans_only("{ .num = 7 }"), vec![vec![2]]);
    // Arrays: some value holds; `!` negates, so it holds without the attribute.
    assert_eq!(spans_only("{ .tags = \"y\" }"), vec![vec![3]]);
    assert_eq!(spans_only("{ .tags != \"x\" }"), vec![vec![3]]);
    assert_eq!(spans_only("{ !(.tags = \"x\") }"), vec![vec![0, 1, 2]]);
    assert_eq!(spans_only("{ .tags =~ \"x|z\" }"), vec![vec![3]]);
    // A negative number is a literal too (`-2` parses as a negation of `2`).
    assert_eq!(spans_only("{ .nums > -2 && .nums < -4 }"), vec![vec![3]]);
    // Elsewhere the first value is used.
    assert!(spans_only("{ .nums + 0 > 0 }").is_empty());
    assert_eq!(spans_only("{ .nums > 0 }"), vec![vec![3]]);
    assert_eq!(spans_only("{ .nums * 2 = -10 }"), vec![vec![3]]);
    assert_eq!(spans_only("{ .num + 1 = 8 }"), vec![vec![2]]);
    assert_eq!(
        spans_only("{ (.num / 0) = nil && .num != nil }"),
        vec![vec![0, 1, 2]]
    );
    assert_eq!(spans_only("{ .num > 1.5 && .num < 3 }"), vec![vec![0, 1]]);
    assert_eq!(spans_only("{ statusMessage = \"boom\" }"), vec![vec![1]]);
    assert_eq!(spans_only("{ span:childCount = 2 }"), vec![vec![0]]);
    assert_eq!(
        spans_only("{ span:parentID = \"1111111111111111\" }"),
        vec![vec![1, 3]]
    );
    let found = sets(&run("{ } | avg(duration) = 1ms", &sample()));
    assert_eq!(
        found[0].2,
        vec![("avg(duration)".to_owned(), Value::Duration(1_000_000))]
    );
    let found = sets(&run("{ .num != nil } | sum(.num) = 11", &sample()));
    assert_eq!(found[0].2, vec![("sum(.num)".to_owned(), Value::Int(11))]);
    let found = run(
        "{ .tags != nil } | select(resource.service.name)",
        &sample(),
    );
    let attributes = &found[0].spansets[0].spans[0].attributes;
    assert_eq!(
        *attributes,
        vec![
            ("tags".to_owned(), Value::String("x".into())),
            ("service.name".to_owned(), Value::String("db".into()))
        ]
    );
}

#[test]
fn naive_orphans_and_cycles() {
    // x ↔ y is a cycle, z is an orphan, in this row order.
    let x = span(0, Some(1), "x", 0, Vec::new());
    let y = span(1, Some(0), "y", 1_000, Vec::new());
    let z = span(2, Some(9), "z", 2_000, Vec::new());
    let traces = vec![(
        trace_id(0),
        Trace {
            resource_spans: vec![resource("api", Vec::new(), vec![x, y, z])],
        },
    )];
    let lefts = sets(&run("{ } | by(nestedSetLeft)", &traces));
    let left_of = |index: usize| {
        lefts
            .iter()
            .find(|(spans, _, _)| spans == &vec![index])
            .map(|(_, _, attributes)| attributes[0].1.clone())
    };
    // The orphan is numbered first (a real root); the cycle is broken at its first span.
    assert_eq!(left_of(2), Some(Value::Int(1)));
    assert_eq!(left_of(0), Some(Value::Int(3)));
    assert_eq!(left_of(1), Some(Value::Int(4)));
    let spans = |query: &str| {
        sets(&run(query, &traces))
            .into_iter()
            .map(|(spans, _, _)| spans)
            .collect::<Vec<_>>()
    };
    assert_eq!(spans("{ nestedSetParent = -1 }"), vec![vec![0, 2]]);
    assert_eq!(spans("{ span:childCount = 1 }"), vec![vec![0]]);
    assert_eq!(spans("{ name = \"x\" } > { }"), vec![vec![1]]);
    assert!(spans("{ } ~ { }").is_empty());
    let found = run("{ }", &traces);
    assert_eq!(
        (
            found[0].root_span_name.clone(),
            found[0].root_service_name.clone()
        ),
        (None, None)
    );
    assert!(spans("{ trace:rootName != nil }").is_empty());
}

/// Almost every generated query parses and validates.
#[test]
fn generated_queries_are_valid() {
    let mut runner = TestRunner::deterministic();
    let strategy = gen_queries::query();
    let mut rejected = Vec::new();
    for _ in 0..2000 {
        let query = strategy.new_tree(&mut runner).expect("generates").current();
        let valid = vivace_traceql::parse(&query)
            .map_err(|error| error.to_string())
            .and_then(|parsed| parsed.validate().map_err(|error| error.to_string()));
        if let Err(error) = valid {
            rejected.push(format!("{query}: {error}"));
        }
    }
    assert!(
        rejected.len() < 40,
        "{} rejected, e.g. {:#?}",
        rejected.len(),
        &rejected[..rejected.len().min(10)]
    );
}

/// The trace generator produces the awkward shapes the contract talks about.
#[test]
fn generated_traces_cover_the_edges() {
    let mut runner = TestRunner::deterministic();
    let strategy = gen_traces::traces();
    let (mut orphans, mut rootless, mut ties, mut matched) = (0, 0, 0, 0);
    for _ in 0..300 {
        let traces = strategy.new_tree(&mut runner).expect("generates").current();
        let count = |query: &str| run(query, &traces).len();
        orphans += count("{ span:parentID != nil && nestedSetParent = -1 }");
        rootless += count("{ } | count() > 1") - count("{ trace:rootName != nil } | count() > 1");
        ties += count("{ } | by(duration) | count() > 1");
        matched +=
            count("{ .a = \"api\" || span.http.status_code = 500 || resource.cluster = \"db\" }");
    }
    assert!(
        orphans > 30 && rootless > 10 && ties > 30 && matched > 30,
        "{orphans} {rootless} {ties} {matched}"
    );
}
