//! Random TraceQL search queries, as text (parsed and validated by the test): every intrinsic the
//! contract covers, custom attributes in every scope and unscoped, literals of every type drawn
//! from the value sets of `gen_traces`, comparisons, regexes, `&& || !`, `nil` tests, arithmetic,
//! all 17 spanset operators, and pipelines with filters, aggregates, `by()`, `coalesce()` and
//! `select()`.

use proptest::prelude::*;
use proptest::sample::select;

use super::gen_traces::{
    EVENT_NAMES, FLOATS, INTS, SCOPE_NAMES, SCOPE_VERSIONS, SERVICES, SPAN_NAMES, STATUS_MESSAGES,
    STRINGS, span_id, trace_id,
};

type Text = BoxedStrategy<String>;

static CMP: [&str; 6] = ["=", "!=", "<", "<=", ">", ">="];
static EQ: [&str; 2] = ["=", "!="];
static REGEX_OPS: [&str; 2] = ["=~", "!~"];
static REGEXES: [&str; 10] = [
    "ap.*", "a|b", ".*e.*", "GET.*", "[a-d].*", "q.+", "", "1+", ".*", "exc.*",
];
static DURATION_LITERALS: [&str; 7] = ["0s", "500ns", "1us", "1ms", "2ms", "1.5s", "1s"];
static STATUSES: [&str; 3] = ["ok", "error", "unset"];
static KINDS: [&str; 6] = [
    "unspecified",
    "internal",
    "server",
    "client",
    "producer",
    "consumer",
];
static SPANSET_OPS: [&str; 17] = [
    "&&", "||", ">", "<", ">>", "<<", "~", "!>", "!<", "!>>", "!<<", "!~", "&>", "&<", "&>>",
    "&<<", "&~",
];
static ALL_KEYS: [&str; 13] = [
    "a",
    "b",
    "num",
    "flag",
    "http.method",
    "http.status_code",
    "http.url",
    "cluster",
    "namespace",
    "k8s.pod.name",
    "service.name",
    "exception.type",
    "missing",
];
static RESOURCE_QUERY_KEYS: [&str; 9] = [
    "service.name",
    "cluster",
    "namespace",
    "k8s.pod.name",
    "a",
    "b",
    "num",
    "flag",
    "http.method",
];
static EVENT_QUERY_KEYS: [&str; 4] = ["a", "exception.type", "num", "missing"];
static LINK_QUERY_KEYS: [&str; 3] = ["a", "b", "num"];
static SCOPE_QUERY_KEYS: [&str; 2] = ["a", "b"];
static NUMERIC_OPERANDS: [&str; 14] = [
    ".num",
    "span.num",
    "resource.num",
    ".a",
    "span.http.status_code",
    "event.num",
    "-.num",
    "duration",
    "-duration",
    "span:childCount",
    "nestedSetLeft",
    "traceDuration",
    "event:timeSinceStart",
    "link.num",
];
static AGGREGATE_ARGUMENTS: [&str; 11] = [
    "duration",
    ".num",
    ".a",
    "span.http.status_code",
    "span:childCount",
    "traceDuration",
    "event:timeSinceStart",
    "nestedSetLeft",
    "duration * 2",
    ".num + 1",
    "resource.num",
];
static GROUP_KEYS: [&str; 14] = [
    ".a",
    "resource.service.name",
    "span.http.method",
    "name",
    "status",
    "kind",
    ".num",
    ".flag",
    "span:childCount",
    ".num * 2",
    "event:name",
    "duration",
    "instrumentation:name",
    ".a = \"api\"",
];

fn pick(values: &'static [&'static str]) -> impl Strategy<Value = &'static str> + Clone {
    select(values)
}

fn quoted(text: &str) -> String {
    format!("{text:?}")
}

fn texts(values: impl IntoIterator<Item = String>) -> Text {
    select(values.into_iter().collect::<Vec<_>>()).boxed()
}

fn strs(values: &'static [&'static str]) -> Text {
    select(values).prop_map(str::to_owned).boxed()
}

fn string_literals() -> Text {
    texts(STRINGS.iter().chain(&SPAN_NAMES).map(|text| quoted(text)))
}

fn numeric_literals() -> Text {
    prop_oneof![
        3 => texts(INTS.iter().map(i64::to_string)),
        2 => texts(FLOATS.iter().map(|number| format!("{number:?}"))),
        3 => strs(&DURATION_LITERALS),
    ]
    .boxed()
}

/// A custom attribute in a random scope, with a key that scope's data may hold.
pub fn custom_attribute() -> Text {
    prop_oneof![
        3 => select(&ALL_KEYS[..]).prop_map(|key| format!(".{key}")),
        3 => select(&ALL_KEYS[..]).prop_map(|key| format!("span.{key}")),
        3 => select(&RESOURCE_QUERY_KEYS[..]).prop_map(|key| format!("resource.{key}")),
        1 => select(&EVENT_QUERY_KEYS[..]).prop_map(|key| format!("event.{key}")),
        1 => select(&LINK_QUERY_KEYS[..]).prop_map(|key| format!("link.{key}")),
        1 => select(&SCOPE_QUERY_KEYS[..]).prop_map(|key| format!("instrumentation.{key}")),
    ]
    .boxed()
}

/// `intrinsic op literal` for a string intrinsic, including regexes.
fn string_intrinsic(names: &'static [&'static str], values: Vec<String>) -> Text {
    prop_oneof![
        3 => (select(names), select(&CMP[..]), select(values))
            .prop_map(|(name, op, value)| format!("{name} {op} {value}")),
        1 => (select(names), select(&REGEX_OPS[..]), select(&REGEXES[..]))
            .prop_map(|(name, op, pattern)| format!("{name} {op} {}", quoted(pattern))),
    ]
    .boxed()
}

fn quoted_all(values: &[&str]) -> Vec<String> {
    values.iter().map(|text| quoted(text)).collect()
}

/// Comparisons on intrinsics, with literals of their type (numbers for durations and ints).
fn intrinsic_comparison() -> Text {
    let span_ids: Vec<String> = (0..15)
        .map(|index| quoted(&hex::encode(span_id(index))))
        .collect();
    let trace_ids: Vec<String> = (0..9)
        .map(|index| quoted(&hex::encode(trace_id(index))))
        .collect();
    let mut names = quoted_all(&SPAN_NAMES);
    names.push(quoted("a"));
    let mut services = quoted_all(&SERVICES);
    services.push(quoted(""));
    let numeric = |names: &'static [&'static str], values: Text| {
        (select(names), select(&CMP[..]), values)
            .prop_map(|(name, op, value)| format!("{name} {op} {value}"))
            .boxed()
    };
    prop_oneof![
        3 => string_intrinsic(&["name", "span:name"], names.clone()),
        2 => (pick(&["status", "span:status"]), select(&EQ[..]), select(&STATUSES[..]))
            .prop_map(|(name, op, value)| format!("{name} {op} {value}")),
        2 => (pick(&["kind", "span:kind"]), select(&EQ[..]), select(&KINDS[..]))
            .prop_map(|(name, op, value)| format!("{name} {op} {value}")),
        3 => numeric(
            &["duration", "span:duration", "traceDuration", "trace:duration", "event:timeSinceStart"],
            numeric_literals(),
        ),
        2 => numeric(
            &["span:childCount", "nestedSetLeft", "nestedSetRight", "nestedSetParent"],
            prop_oneof![
                4 => texts([-1i64, 0, 1, 2, 3, 5, 10].iter().map(i64::to_string)),
                1 => numeric_literals(),
            ]
            .boxed(),
        ),
        1 => string_intrinsic(&["statusMessage", "span:statusMessage"], quoted_all(&STATUS_MESSAGES)),
        1 => string_intrinsic(&["span:id", "span:parentID", "link:spanID"], span_ids),
        1 => string_intrinsic(&["trace:id", "link:traceID"], trace_ids),
        1 => string_intrinsic(&["rootName", "trace:rootName"], names),
        1 => string_intrinsic(&["rootServiceName", "trace:rootService"], services),
        1 => string_intrinsic(&["event:name"], quoted_all(&EVENT_NAMES)),
        1 => string_intrinsic(&["instrumentation:name"], quoted_all(&SCOPE_NAMES)),
        1 => string_intrinsic(&["instrumentation:version"], quoted_all(&SCOPE_VERSIONS)),
    ]
    .boxed()
}

/// `custom op literal` with a literal of any type (and an operator that type accepts).
fn custom_comparison() -> Text {
    let literal_and_op: Text = prop_oneof![
        4 => (select(&CMP[..]), string_literals()).prop_map(|(op, value)| format!("{op} {value}")),
        4 => (select(&CMP[..]), numeric_literals()).prop_map(|(op, value)| format!("{op} {value}")),
        2 => (select(&EQ[..]), pick(&["true", "false"])).prop_map(|(op, value)| format!("{op} {value}")),
        1 => (select(&EQ[..]), select(&STATUSES[..])).prop_map(|(op, value)| format!("{op} {value}")),
        1 => (select(&EQ[..]), select(&KINDS[..])).prop_map(|(op, value)| format!("{op} {value}")),
        3 => (select(&REGEX_OPS[..]), select(&REGEXES[..]))
            .prop_map(|(op, pattern)| format!("{op} {}", quoted(pattern))),
    ]
    .boxed();
    (custom_attribute(), literal_and_op)
        .prop_map(|(attribute, rest)| format!("{attribute} {rest}"))
        .boxed()
}

/// Two operands read from the span: a custom attribute against another or an intrinsic.
fn attribute_pair() -> Text {
    let ordered = pick(&[
        "name",
        "duration",
        "statusMessage",
        "span:childCount",
        "traceDuration",
        "event:name",
    ]);
    prop_oneof![
        2 => (custom_attribute(), select(&CMP[..]), custom_attribute())
            .prop_map(|(a, op, b)| format!("{a} {op} {b}")),
        1 => (custom_attribute(), select(&CMP[..]), ordered).prop_map(|(a, op, b)| format!("{a} {op} {b}")),
        1 => (custom_attribute(), select(&EQ[..]), pick(&["status", "kind"]))
            .prop_map(|(a, op, b)| format!("{a} {op} {b}")),
        1 => (select(&CMP[..]),).prop_map(|(op,)| format!("duration {op} event:timeSinceStart")),
    ]
    .boxed()
}

/// Arithmetic compared with a literal.
fn arithmetic() -> Text {
    let operand = prop_oneof![3 => strs(&NUMERIC_OPERANDS), 1 => numeric_literals()];
    prop_oneof![
        4 => (strs(&NUMERIC_OPERANDS), pick(&["+", "-", "*", "/", "%"]), operand, select(&CMP[..]), numeric_literals())
            .prop_map(|(a, op, b, cmp, bound)| format!("({a} {op} {b}) {cmp} {bound}")),
        1 => (strs(&NUMERIC_OPERANDS), select(&CMP[..]), numeric_literals())
            .prop_map(|(a, cmp, bound)| format!("({a} ^ 2) {cmp} {bound}")),
    ]
    .boxed()
}

/// `!= nil`, `= nil`, bare booleans and literals.
fn existence() -> Text {
    let intrinsics = pick(&[
        "span:parentID",
        "statusMessage",
        "event:name",
        "trace:rootName",
        "instrumentation:name",
        "link:spanID",
        "rootServiceName",
    ]);
    prop_oneof![
        3 => custom_attribute().prop_map(|attribute| format!("{attribute} != nil")),
        3 => custom_attribute()
            .prop_filter("resource.service.name cannot be nil", |attribute| attribute != "resource.service.name")
            .prop_map(|attribute| format!("{attribute} = nil")),
        2 => intrinsics.prop_map(|name| format!("{name} != nil")),
        2 => pick(&[".flag", "span.flag", "resource.flag", ".a", "!.flag", "event.a", "(.num + 1) != nil", "(.num / 0) = nil"])
            .prop_map(str::to_owned),
        1 => pick(&["true", "false", "1 = 1", "\"a\" =~ \"a|b\""]).prop_map(str::to_owned),
    ]
    .boxed()
}

/// A per-span condition.
pub fn field_expr() -> Text {
    let leaf = prop_oneof![
        6 => custom_comparison(),
        6 => intrinsic_comparison(),
        2 => attribute_pair(),
        2 => arithmetic(),
        2 => existence(),
    ];
    leaf.prop_recursive(1, 3, 2, |inner| {
        prop_oneof![
            2 => (inner.clone(), inner.clone()).prop_map(|(a, b)| format!("({a}) && ({b})")),
            2 => (inner.clone(), inner.clone()).prop_map(|(a, b)| format!("({a}) || ({b})")),
            1 => inner.prop_map(|a| format!("!({a})")),
        ]
    })
    .boxed()
}

/// Filters combined with spanset operators: (text, compound).
pub fn spanset_expr(depth: u32) -> BoxedStrategy<(String, bool)> {
    let filter = prop_oneof![
        1 => Just("{ }".to_owned()),
        6 => field_expr().prop_map(|expr| format!("{{ {expr} }}")),
    ]
    .prop_map(|text| (text, false));
    filter
        .prop_recursive(depth, 4, 2, |inner| {
            (inner.clone(), select(&SPANSET_OPS[..]), inner).prop_map(
                |((a, a_compound), op, (b, b_compound))| {
                    let wrap = |text: String, compound: bool| {
                        if compound { format!("({text})") } else { text }
                    };
                    (
                        format!("{} {op} {}", wrap(a, a_compound), wrap(b, b_compound)),
                        true,
                    )
                },
            )
        })
        .boxed()
}

fn attribute_list() -> Text {
    let attribute = prop_oneof![
        3 => custom_attribute(),
        2 => strs(&["status", "span:id", "span:childCount", "kind", "traceDuration", "event:name", "statusMessage", "name"]),
    ];
    proptest::collection::vec(attribute, 1..=3)
        .prop_map(|list| list.join(", "))
        .boxed()
}

/// A stage after the first.
pub fn stage() -> Text {
    let functions = pick(&["avg", "min", "max", "sum"]);
    prop_oneof![
        3 => spanset_expr(0).prop_map(|(text, _)| text),
        1 => spanset_expr(1).prop_map(|(text, _)| text),
        3 => (select(&CMP[..]), 0u32..=3).prop_map(|(op, bound)| format!("count() {op} {bound}")),
        3 => (functions, strs(&AGGREGATE_ARGUMENTS), select(&CMP[..]), numeric_literals())
            .prop_map(|(function, argument, op, bound)| format!("{function}({argument}) {op} {bound}")),
        3 => strs(&GROUP_KEYS).prop_map(|key| format!("by({key})")),
        1 => Just("coalesce()".to_owned()),
        2 => attribute_list().prop_map(|list| format!("select({list})")),
    ]
    .boxed()
}

/// A spanset pipeline of `min_stages..=max_stages` stages after the first.
pub fn pipeline(min_stages: usize, max_stages: usize) -> Text {
    (
        spanset_expr(1),
        proptest::collection::vec(stage(), min_stages..=max_stages),
    )
        .prop_map(|((first, _), rest)| {
            std::iter::once(first)
                .chain(rest)
                .collect::<Vec<_>>()
                .join(" | ")
        })
        .boxed()
}

/// A search query: mostly pipelines, sometimes parenthesised pipelines combined by an operator.
pub fn query() -> Text {
    prop_oneof![
        9 => pipeline(0, 2),
        2 => (pipeline(1, 2), select(&SPANSET_OPS[..]), pipeline(0, 1))
            .prop_map(|(a, op, b)| format!("({a}) {op} ({b})")),
    ]
    .boxed()
}
