//! Property tests: the parser and validator never panic, and every query that parses prints to
//! a canonical form that parses back to the same tree.

use proptest::prelude::*;
use proptest::strategy::BoxedStrategy;
use vivace_traceql::parse;

/// Parses, validates and round-trips `query`; only panics on a round-trip violation.
fn check(query: &str) -> Result<(), TestCaseError> {
    let Ok(ast) = parse(query) else {
        return Ok(());
    };
    let _ = ast.validate();
    let printed = ast.to_string();
    match parse(&printed) {
        Ok(again) => prop_assert_eq!(again, ast, "query {:?} printed as {:?}", query, printed),
        Err(error) => {
            return Err(TestCaseError::fail(format!(
                "query {query:?} printed as {printed:?}, which does not parse: {error}"
            )));
        }
    }
    Ok(())
}

const TOKENS: &[&str] = &[
    "{",
    "}",
    "(",
    ")",
    ",",
    "|",
    "&&",
    "||",
    "!",
    "=",
    "!=",
    "=~",
    "!~",
    ">",
    ">=",
    "<",
    "<=",
    ">>",
    "<<",
    "~",
    "!>",
    "!<",
    "!>>",
    "!<<",
    "&>",
    "&<",
    "&>>",
    "&<<",
    "&~",
    "+",
    "-",
    "*",
    "/",
    "%",
    "^",
    ".",
    ".a",
    "span.",
    "span.a",
    "resource.service.name",
    "parent.",
    "parent.a",
    "parent.span.x",
    ".\"q w\"",
    "span:",
    "trace:",
    "event:",
    "link:",
    "instrumentation:",
    "duration",
    "name",
    "status",
    "kind",
    "id",
    "traceID",
    "childCount",
    "rootName",
    "parent",
    "nestedSetLeft",
    "true",
    "false",
    "nil",
    "ok",
    "error",
    "unset",
    "client",
    "server",
    "minInt",
    "maxInt",
    "0",
    "1",
    "42",
    "1.5",
    ".5",
    "1e3",
    "1s",
    "1h30m",
    "10ms",
    "\"str\"",
    "`raw`",
    "\"a\\\"b\"",
    "count",
    "avg",
    "min",
    "max",
    "sum",
    "by",
    "coalesce",
    "select",
    "rate",
    "count_over_time",
    "quantile_over_time",
    "histogram_over_time",
    "avg_over_time",
    "compare",
    "topk",
    "bottomk",
    "with",
    "sample",
    "ident",
    "//",
    "/*",
    "*/",
    "[",
    "@",
    "\n",
    "µ",
];

fn token_soup() -> impl Strategy<Value = String> {
    (
        prop::collection::vec(prop::sample::select(TOKENS), 0..24),
        any::<bool>(),
    )
        .prop_map(|(tokens, spaced)| tokens.join(if spaced { " " } else { "" }))
}

fn attribute() -> impl Strategy<Value = String> {
    prop::sample::select(vec![
        ".a",
        ".http.status_code",
        "span.http.method",
        "resource.service.name",
        "event.x",
        "link.y",
        "instrumentation.z",
        ".\"a b\"",
        ".\"5xx\"",
        "span.\"q\\\"r\"",
        "parent.a",
        "parent.resource.b",
        "duration",
        "name",
        "status",
        "kind",
        "statusMessage",
        "rootServiceName",
        "traceDuration",
        "nestedSetParent",
        "span:id",
        "span:childCount",
        "trace:rootService",
        "event:timeSinceStart",
        "link:traceID",
        "instrumentation:version",
    ])
    .prop_map(str::to_string)
}

fn literal() -> impl Strategy<Value = String> {
    prop::sample::select(vec![
        "0",
        "1",
        "42",
        "9223372036854775807",
        "minInt",
        "maxInt",
        "2.5",
        "1e-7",
        "1e300",
        ".5",
        "\"s\"",
        "\"\\n\\t\\\"\"",
        "`r\\aw`",
        "\"é\"",
        "1s",
        "1h30m",
        "250ms",
        "3us",
        "true",
        "false",
        "ok",
        "error",
        "unset",
        "client",
        "server",
        "internal",
    ])
    .prop_map(str::to_string)
}

const FIELD_OPS: &[&str] = &[
    "+", "-", "*", "/", "%", "^", "=", "!=", ">", ">=", "<", "<=", "=~", "!~", "&&", "||",
];

fn field_expr() -> BoxedStrategy<String> {
    let leaf = prop_oneof![attribute(), literal()];
    leaf.prop_recursive(4, 24, 2, |inner| {
        prop_oneof![
            (
                inner.clone(),
                prop::sample::select(FIELD_OPS),
                inner.clone()
            )
                .prop_map(|(l, op, r)| format!("{l} {op} {r}")),
            inner.clone().prop_map(|e| format!("({e})")),
            inner.clone().prop_map(|e| format!("-{e}")),
            inner.clone().prop_map(|e| format!("!{e}")),
            inner.clone().prop_map(|e| format!("{e} != nil")),
            inner.clone().prop_map(|e| format!("nil = {e}")),
        ]
    })
    .boxed()
}

fn spanset() -> BoxedStrategy<String> {
    let filter = prop_oneof![
        Just("{}".to_string()),
        field_expr().prop_map(|e| format!("{{ {e} }}")),
    ];
    let ops = &[
        "&&", "||", ">", "<", ">>", "<<", "~", "!>", "!<", "!>>", "!<<", "!~", "&>", "&<", "&>>",
        "&<<", "&~",
    ];
    filter
        .prop_recursive(3, 8, 2, move |inner| {
            prop_oneof![
                (inner.clone(), prop::sample::select(ops), inner.clone())
                    .prop_map(|(l, op, r)| format!("{l} {op} {r}")),
                inner.prop_map(|e| format!("({e})")),
            ]
        })
        .boxed()
}

fn scalar() -> impl Strategy<Value = String> {
    prop::sample::select(vec![
        "1",
        "-2",
        "2.5",
        "1s",
        "(1 + 2) * 3",
        "-(4 / 3)",
        "1 - -1",
    ])
    .prop_map(str::to_string)
}

fn stage() -> BoxedStrategy<String> {
    let aggregate = prop_oneof![
        Just("count()".to_string()),
        (
            prop::sample::select(vec!["avg", "min", "max", "sum"]),
            field_expr()
        )
            .prop_map(|(f, e)| format!("{f}({e})")),
    ];
    let cmp = prop::sample::select(vec!["=", "!=", ">", ">=", "<", "<="]);
    prop_oneof![
        3 => spanset(),
        2 => (aggregate.clone(), cmp.clone(), scalar()).prop_map(|(a, c, s)| format!("{a} {c} {s}")),
        1 => (aggregate.clone(), prop::sample::select(vec!["+", "*", "^"]), aggregate, cmp, scalar())
            .prop_map(|(a, op, b, c, s)| format!("{a} {op} {b} {c} {s}")),
        1 => field_expr().prop_map(|e| format!("by({e})")),
        1 => prop::collection::vec(attribute(), 1..3).prop_map(|a| format!("select({})", a.join(", "))),
        1 => Just("coalesce()".to_string()),
    ]
    .boxed()
}

fn pipeline() -> BoxedStrategy<String> {
    prop::collection::vec(stage(), 1..4)
        .prop_map(|stages| stages.join(" | "))
        .boxed()
}

fn metrics() -> BoxedStrategy<String> {
    let first = prop_oneof![
        Just("rate()".to_string()),
        Just("count_over_time()".to_string()),
        attribute().prop_map(|a| format!("avg_over_time({a})")),
        attribute().prop_map(|a| format!("histogram_over_time({a})")),
        attribute().prop_map(|a| format!("quantile_over_time({a}, 0.5, 1)")),
        spanset().prop_map(|f| format!("compare({f}, 5)")),
        Just("compare({ .a })".to_string()),
    ];
    let by = prop_oneof![
        Just(String::new()),
        prop::collection::vec(attribute(), 1..3).prop_map(|a| format!(" by ({})", a.join(", "))),
    ];
    let second = prop::collection::vec(
        prop::sample::select(vec![
            " | topk(3)",
            " | bottomk(0)",
            " > 10",
            " <= -1.5",
            " != 2s",
        ]),
        0..3,
    );
    let leaf = (pipeline(), first, by, second)
        .prop_map(|(p, f, b, s)| format!("{p} | {f}{b}{}", s.concat()));
    leaf.prop_recursive(2, 6, 2, |inner| {
        prop_oneof![
            (
                inner.clone(),
                prop::sample::select(vec!["+", "-", "*", "/"]),
                inner.clone()
            )
                .prop_map(|(l, op, r)| format!("({l}) {op} ({r})")),
            (inner.clone(), scalar()).prop_map(|(m, s)| format!("({m}) * {s}")),
            (scalar(), inner).prop_map(|(s, m)| format!("{s} - ({m})")),
        ]
    })
    .boxed()
}

fn query() -> impl Strategy<Value = String> {
    let body = prop_oneof![
        3 => pipeline(),
        1 => (pipeline(), prop::sample::select(vec!["&&", ">>", "~", "!<"]), pipeline())
            .prop_map(|(l, op, r)| format!("({l}) {op} ({r})")),
        1 => (pipeline(), scalar()).prop_map(|(p, s)| format!("({p} | count()) > {s}")),
        2 => metrics(),
    ];
    let hints = prop::sample::select(vec![
        "",
        " with(sample=0.1)",
        " with(exemplars=true, job_size=1h, debug=\"x\")",
    ]);
    (body, hints).prop_map(|(b, h)| format!("{b}{h}"))
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 512, ..ProptestConfig::default() })]

    #[test]
    fn arbitrary_text_never_panics(text in any::<String>()) {
        check(&text)?;
    }

    #[test]
    fn token_soup_never_panics(text in token_soup()) {
        check(&text)?;
    }

    #[test]
    fn generated_queries_round_trip(text in query()) {
        check(&text)?;
    }
}

#[test]
fn generated_queries_mostly_parse() {
    use proptest::strategy::ValueTree;
    use proptest::test_runner::TestRunner;

    let mut runner = TestRunner::deterministic();
    let strategy = query();
    let total = 300;
    let mut parsed = 0;
    for _ in 0..total {
        let Ok(tree) = strategy.new_tree(&mut runner) else {
            continue;
        };
        if parse(&tree.current()).is_ok() {
            parsed += 1;
        }
    }
    assert!(
        parsed * 2 > total,
        "only {parsed} of {total} generated queries parsed"
    );
}
