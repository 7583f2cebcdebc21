//! Engine semantics on small hand-made traces (recent-data batches).

use vivace_proto::otlp::common::{AnyValue, ArrayValue, KeyValue, any_value};
use vivace_proto::otlp::resource::Resource;
use vivace_proto::otlp::trace::{ResourceSpans, ScopeSpans, Span, Status};
use vivace_proto::tempopb::Trace;

use crate::{CompiledQuery, EvalOptions, TraceMatch, Value, evaluate_batch};

const MS: u64 = 1_000_000;

fn string(key: &str, value: &str) -> KeyValue {
    KeyValue {
        key: key.to_owned(),
        value: Some(AnyValue {
            value: Some(any_value::Value::StringValue(value.to_owned())),
        }),
        ..KeyValue::default()
    }
}

fn int(key: &str, value: i64) -> KeyValue {
    KeyValue {
        key: key.to_owned(),
        value: Some(AnyValue {
            value: Some(any_value::Value::IntValue(value)),
        }),
        ..KeyValue::default()
    }
}

fn float(key: &str, value: f64) -> KeyValue {
    KeyValue {
        key: key.to_owned(),
        value: Some(AnyValue {
            value: Some(any_value::Value::DoubleValue(value)),
        }),
        ..KeyValue::default()
    }
}

fn strings(key: &str, values: &[&str]) -> KeyValue {
    KeyValue {
        key: key.to_owned(),
        value: Some(AnyValue {
            value: Some(any_value::Value::ArrayValue(ArrayValue {
                values: values
                    .iter()
                    .map(|value| AnyValue {
                        value: Some(any_value::Value::StringValue((*value).to_owned())),
                    })
                    .collect(),
            })),
        }),
        ..KeyValue::default()
    }
}

struct SpanSpec {
    id: u8,
    parent: u8,
    name: &'static str,
    start_ms: u64,
    duration_ms: u64,
    error: bool,
    attributes: Vec<KeyValue>,
}

fn span(id: u8, parent: u8, name: &'static str, start_ms: u64, duration_ms: u64) -> SpanSpec {
    SpanSpec {
        id,
        parent,
        name,
        start_ms,
        duration_ms,
        error: false,
        attributes: Vec::new(),
    }
}

impl SpanSpec {
    fn with(mut self, attribute: KeyValue) -> Self {
        self.attributes.push(attribute);
        self
    }

    fn failed(mut self) -> Self {
        self.error = true;
        self
    }

    fn build(self) -> Span {
        Span {
            span_id: vec![0, 0, 0, 0, 0, 0, 0, self.id],
            parent_span_id: if self.parent == 0 {
                Vec::new()
            } else {
                vec![0, 0, 0, 0, 0, 0, 0, self.parent]
            },
            name: self.name.to_owned(),
            start_time_unix_nano: 1_000_000_000_000 + self.start_ms * MS,
            end_time_unix_nano: 1_000_000_000_000 + (self.start_ms + self.duration_ms) * MS,
            attributes: self.attributes,
            status: self.error.then(|| Status {
                code: 2,
                message: "boom".to_owned(),
            }),
            kind: 2,
            ..Span::default()
        }
    }
}

fn batch(service: &str, resource_attributes: Vec<KeyValue>, spans: Vec<SpanSpec>) -> ResourceSpans {
    let mut attributes = vec![string("service.name", service)];
    attributes.extend(resource_attributes);
    ResourceSpans {
        resource: Some(Resource {
            attributes,
            ..Resource::default()
        }),
        scope_spans: vec![ScopeSpans {
            spans: spans.into_iter().map(SpanSpec::build).collect(),
            ..ScopeSpans::default()
        }],
        ..ResourceSpans::default()
    }
}

/// Trace 1: api root (1) → db child (2, error, status 500) → cache grandchild (3); web span (4)
/// child of 1. Trace 2: a lone worker span with an array attribute.
fn traces() -> Vec<([u8; 16], Trace)> {
    let first = Trace {
        resource_spans: vec![
            batch(
                "api",
                vec![string("cluster", "eu")],
                vec![
                    span(1, 0, "GET /", 0, 20).with(int("http.status_code", 200)),
                    span(4, 1, "render", 12, 3).with(string("a", "xyz")),
                ],
            ),
            batch(
                "db",
                vec![string("a", "from-resource")],
                vec![
                    span(2, 1, "query", 1, 10)
                        .with(int("http.status_code", 500))
                        .failed(),
                    span(3, 2, "cache", 2, 1),
                ],
            ),
        ],
    };
    let second = Trace {
        resource_spans: vec![batch(
            "worker",
            Vec::new(),
            vec![span(9, 0, "job", 50, 2).with(strings("tags", &["a", "b"]))],
        )],
    };
    vec![([1; 16], first), ([2; 16], second)]
}

fn run(query: &str) -> Vec<TraceMatch> {
    let parsed = vivace_traceql::parse(query).expect("query parses");
    parsed.validate().expect("query validates");
    let compiled = CompiledQuery::new(&parsed).expect("query compiles");
    let search = vivace_storage::block::search_batch(traces()).expect("batch builds");
    evaluate_batch(
        &compiled,
        &search,
        &EvalOptions {
            spans_per_spanset: usize::MAX,
        },
    )
    .expect("query evaluates")
}

/// Per matching trace: its first id byte and its spansets as span-id bytes.
fn summary(query: &str) -> Vec<(u8, Vec<Vec<u8>>)> {
    run(query)
        .iter()
        .map(|found| {
            let spansets = found
                .spansets
                .iter()
                .map(|set| set.spans.iter().map(|span| span.span_id[7]).collect())
                .collect();
            (found.trace_id[0], spansets)
        })
        .collect()
}

#[test]
fn empty_filter_matches_every_span_and_reports_trace_values() {
    let found = run("{ }");
    assert_eq!(found.len(), 2);
    let first = &found[0];
    assert_eq!(first.spansets[0].matched, 4);
    assert_eq!(first.root_service_name.as_deref(), Some("api"));
    assert_eq!(first.root_span_name.as_deref(), Some("GET /"));
    assert_eq!(first.duration_nanos, 20 * MS);
    assert_eq!(first.service_stats["db"].span_count, 2);
    assert_eq!(first.service_stats["db"].error_count, 1);
}

#[test]
fn attributes_intrinsics_and_scopes() {
    assert_eq!(
        summary("{ span.http.status_code = 500 }"),
        [(1, vec![vec![2]])]
    );
    assert_eq!(
        summary("{ span.http.status_code >= 200 }"),
        [(1, vec![vec![1, 2]])]
    );
    assert_eq!(
        summary(r#"{ resource.service.name = "db" && status = error }"#),
        [(1, vec![vec![2]])]
    );
    assert_eq!(
        summary(r#"{ resource.cluster = "eu" }"#),
        [(1, vec![vec![1, 4]])]
    );
    // Unscoped: the span's own value first, the resource's where the span has none.
    assert_eq!(summary(r#"{ .a = "xyz" }"#), [(1, vec![vec![4]])]);
    assert_eq!(
        summary(r#"{ .a = "from-resource" }"#),
        [(1, vec![vec![2, 3]])]
    );
    assert_eq!(summary(r#"{ name =~ "GET.*" }"#), [(1, vec![vec![1]])]);
    assert_eq!(
        summary(r#"{ name !~ ".*e.*" }"#),
        [(1, vec![vec![1]]), (2, vec![vec![9]])]
    );
    assert_eq!(summary("{ duration > 5ms }"), [(1, vec![vec![1, 2]])]);
    assert_eq!(summary(r#"{ span.tags = "b" }"#), [(2, vec![vec![9]])]);
    assert_eq!(
        summary(r#"{ trace:rootService = "worker" }"#),
        [(2, vec![vec![9]])]
    );
    assert_eq!(
        summary("{ traceDuration > 10ms && kind = server }").len(),
        1
    );
    assert_eq!(summary("{ span:childCount = 2 }"), [(1, vec![vec![1]])]);
}

#[test]
fn missing_attributes_compare_false_and_negation_and_nil_tests() {
    assert!(summary(r#"{ .missing != "x" }"#).is_empty());
    assert_eq!(summary(r#"{ !(.missing = "x") }"#).len(), 2);
    assert_eq!(
        summary("{ span.http.status_code = nil }"),
        [(1, vec![vec![3, 4]]), (2, vec![vec![9]])]
    );
    assert_eq!(
        summary("{ span.http.status_code != nil }"),
        [(1, vec![vec![1, 2]])]
    );
}

#[test]
fn structural_operators_follow_the_tree() {
    assert_eq!(
        summary(r#"{ name = "GET /" } > { }"#),
        [(1, vec![vec![2, 4]])]
    );
    assert_eq!(
        summary(r#"{ name = "GET /" } >> { }"#),
        [(1, vec![vec![2, 3, 4]])]
    );
    assert_eq!(
        summary(r#"{ name = "cache" } << { }"#),
        [(1, vec![vec![1, 2]])]
    );
    assert_eq!(summary(r#"{ name = "cache" } < { }"#), [(1, vec![vec![2]])]);
    assert_eq!(summary(r#"{ name = "query" } ~ { }"#), [(1, vec![vec![4]])]);
    assert_eq!(
        summary(r#"{ name = "GET /" } !> { }"#),
        [(1, vec![vec![1, 3]]), (2, vec![vec![9]])]
    );
    assert_eq!(
        summary(r#"{ name = "GET /" } &> { name = "query" }"#),
        [(1, vec![vec![1, 2]])]
    );
    assert_eq!(
        summary(r#"{ name = "query" } && { name = "job" }"#),
        Vec::<(u8, Vec<Vec<u8>>)>::new()
    );
    assert_eq!(
        summary(r#"{ name = "query" } || { name = "job" }"#).len(),
        2
    );
}

#[test]
fn pipelines_aggregate_group_and_select() {
    assert_eq!(summary("{ } | count() > 2"), [(1, vec![vec![1, 2, 3, 4]])]);
    let found = run("{ } | count() > 2");
    assert_eq!(
        found[0].spansets[0].attributes,
        [("count()".to_owned(), Value::Int(4))]
    );
    assert_eq!(
        summary("{ } | by(resource.service.name)"),
        [(1, vec![vec![1, 4], vec![2, 3]]), (2, vec![vec![9]])]
    );
    let grouped = run("{ } | by(resource.service.name) | count() > 1");
    assert_eq!(grouped.len(), 1);
    assert_eq!(grouped[0].spansets.len(), 2);
    assert_eq!(
        grouped[0].spansets[0].attributes[0],
        (
            "by(resource.service.name)".to_owned(),
            Value::String("api".to_owned())
        )
    );
    assert_eq!(
        summary("{ } | avg(duration) > 8ms"),
        [(1, vec![vec![1, 2, 3, 4]])]
    );
    assert_eq!(
        summary("{ } | by(resource.service.name) | coalesce()"),
        [(1, vec![vec![1, 2, 3, 4]]), (2, vec![vec![9]])]
    );
    let selected = run(r#"{ name = "query" } | select(span.http.status_code)"#);
    assert_eq!(
        selected[0].spansets[0].spans[0].attributes,
        [("http.status_code".to_owned(), Value::Int(500))]
    );
}

#[test]
fn negative_zero_groups_with_zero() {
    let traces = vec![(
        [7; 16],
        Trace {
            resource_spans: vec![batch(
                "api",
                Vec::new(),
                vec![
                    span(1, 0, "a", 0, 1).with(float("x", -0.0)),
                    span(2, 1, "b", 1, 1).with(float("x", 0.0)),
                ],
            )],
        },
    )];
    let parsed = vivace_traceql::parse("{ } | by(span.x)").expect("query parses");
    let compiled = CompiledQuery::new(&parsed).expect("query compiles");
    let search = vivace_storage::block::search_batch(traces).expect("batch builds");
    let found = evaluate_batch(&compiled, &search, &EvalOptions::default()).expect("evaluates");
    assert_eq!(found[0].spansets.len(), 1, "-0 and 0 are one group");
    assert_eq!(found[0].spansets[0].matched, 2);
}
