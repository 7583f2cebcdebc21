use crate::ast::*;
use crate::duration::Duration;
use crate::{ParseError, parse};

fn parsed(query: &str) -> Query {
    match parse(query) {
        Ok(ast) => ast,
        Err(error) => panic!("{query}: {error}"),
    }
}

fn parse_error(query: &str) -> ParseError {
    match parse(query) {
        Ok(ast) => panic!("{query} should not parse, got {ast}"),
        Err(error) => error,
    }
}

/// The single spanset filter of `{ ... }`.
fn filter(query: &str) -> FieldExpr {
    let ast = parsed(query);
    let QueryBody::Pipeline(pipeline) = ast.body else {
        panic!("{query}: not a pipeline");
    };
    match pipeline.stages.as_slice() {
        [Stage::Spanset(SpansetExpr::Filter(SpansetFilter { expr: Some(expr) }))] => expr.clone(),
        other => panic!("{query}: unexpected stages {other:?}"),
    }
}

fn attr(name: &str) -> FieldExpr {
    FieldExpr::Attribute(Attribute::custom(AttributeScope::Unscoped, name))
}

fn int(value: i64) -> FieldExpr {
    FieldExpr::Static(Static::Int(value))
}

fn bin(op: BinaryOp, lhs: FieldExpr, rhs: FieldExpr) -> FieldExpr {
    FieldExpr::binary(op, lhs, rhs)
}

fn un(op: UnaryOp, expr: FieldExpr) -> FieldExpr {
    FieldExpr::unary(op, expr)
}

fn round_trips(query: &str) {
    let ast = parsed(query);
    let printed = ast.to_string();
    assert_eq!(parsed(&printed), ast, "{query} printed as {printed}");
}

#[test]
fn logical_operators_share_one_level_and_group_left() {
    let (a, b, c) = (attr("a"), attr("b"), attr("c"));
    assert_eq!(
        filter("{ .a || .b && .c }"),
        bin(
            BinaryOp::And,
            bin(BinaryOp::Or, a.clone(), b.clone()),
            c.clone()
        )
    );
    assert_eq!(
        filter("{ .a && .b || .c }"),
        bin(BinaryOp::Or, bin(BinaryOp::And, a, b), c)
    );
}

#[test]
fn arithmetic_precedence_and_associativity() {
    let (a, b, c) = (attr("a"), attr("b"), attr("c"));
    assert_eq!(
        filter("{ .a + .b * .c = 1 }"),
        bin(
            BinaryOp::Eq,
            bin(
                BinaryOp::Add,
                a.clone(),
                bin(BinaryOp::Mul, b.clone(), c.clone())
            ),
            int(1)
        )
    );
    assert_eq!(
        filter("{ .a - .b - .c = 1 }"),
        bin(
            BinaryOp::Eq,
            bin(
                BinaryOp::Sub,
                bin(BinaryOp::Sub, a.clone(), b.clone()),
                c.clone()
            ),
            int(1)
        )
    );
    assert_eq!(
        filter("{ .a ^ .b ^ .c = 1 }"),
        bin(
            BinaryOp::Eq,
            bin(
                BinaryOp::Pow,
                a.clone(),
                bin(BinaryOp::Pow, b.clone(), c.clone())
            ),
            int(1)
        )
    );
    assert_eq!(
        filter("{ .a % .b * .c = 1 }"),
        bin(
            BinaryOp::Eq,
            bin(BinaryOp::Mul, bin(BinaryOp::Mod, a, b), c),
            int(1)
        )
    );
}

#[test]
fn prefix_operators_take_multiplicative_operands() {
    let (a, b) = (attr("a"), attr("b"));
    assert_eq!(
        filter("{ -.a * .b = 1 }"),
        bin(
            BinaryOp::Eq,
            un(UnaryOp::Neg, bin(BinaryOp::Mul, a.clone(), b.clone())),
            int(1)
        )
    );
    assert_eq!(
        filter("{ -.a + .b = 1 }"),
        bin(
            BinaryOp::Eq,
            bin(BinaryOp::Add, un(UnaryOp::Neg, a.clone()), b.clone()),
            int(1)
        )
    );
    assert_eq!(
        filter("{ !.a && .b }"),
        bin(BinaryOp::And, un(UnaryOp::Not, a.clone()), b.clone())
    );
    assert_eq!(
        filter("{ !.a ^ .b }"),
        un(UnaryOp::Not, bin(BinaryOp::Pow, a, b))
    );
}

#[test]
fn nil_comparisons_become_existence_tests() {
    let (a, b) = (attr("a"), attr("b"));
    assert_eq!(filter("{ .a != nil }"), un(UnaryOp::Exists, a.clone()));
    assert_eq!(filter("{ nil = .a }"), un(UnaryOp::NotExists, a.clone()));
    assert_eq!(
        filter("{ nil != .a + 1 }"),
        un(UnaryOp::Exists, bin(BinaryOp::Add, a.clone(), int(1)))
    );
    assert_eq!(
        filter("{ .a = nil && .b }"),
        bin(BinaryOp::And, un(UnaryOp::NotExists, a.clone()), b.clone())
    );
    assert_eq!(
        filter("{ nil = .a && .b }"),
        bin(BinaryOp::And, un(UnaryOp::NotExists, a), b)
    );
    assert_eq!(
        filter("{ nil = nil }"),
        FieldExpr::Static(Static::Bool(false))
    );
    for query in [
        "{ nil }",
        "{ .a > nil }",
        "{ nil + 1 = 2 }",
        "{ (nil) = .a }",
    ] {
        parse_error(query);
    }
}

#[test]
fn spanset_operators_bind_tighter_than_logical_ones() {
    let QueryBody::Pipeline(pipeline) = parsed("{ .a } && { .b } > { .c } >> { .d }").body else {
        panic!("pipeline expected");
    };
    let [Stage::Spanset(SpansetExpr::Op { op, rhs, .. })] = pipeline.stages.as_slice() else {
        panic!("one spanset stage expected");
    };
    assert_eq!(*op, SpansetOp::And);
    let SpansetExpr::Op { op: inner, lhs, .. } = rhs.as_ref() else {
        panic!("structural operation expected");
    };
    assert_eq!(*inner, SpansetOp::Descendant);
    assert!(matches!(
        lhs.as_ref(),
        SpansetExpr::Op {
            op: SpansetOp::Child,
            ..
        }
    ));
}

#[test]
fn pipe_binds_loosest() {
    let QueryBody::Pipeline(pipeline) = parsed("{ .a } && { .b } | count() > 1 | { .c }").body
    else {
        panic!("pipeline expected");
    };
    assert_eq!(pipeline.stages.len(), 3);
    assert!(matches!(pipeline.stages[1], Stage::ScalarFilter(_)));
}

#[test]
fn scoped_and_legacy_intrinsics_are_the_same() {
    let pairs = [
        ("duration", "span:duration"),
        ("name", "span:name"),
        ("status", "span:status"),
        ("kind", "span:kind"),
        ("statusMessage", "span:statusMessage"),
        ("rootName", "trace:rootName"),
        ("rootServiceName", "trace:rootService"),
        ("traceDuration", "trace:duration"),
    ];
    for (legacy, scoped) in pairs {
        assert_eq!(
            parsed(&format!("{{ {legacy} != nil }}")),
            parsed(&format!("{{ {scoped} != nil }}"))
        );
    }
    assert_eq!(
        filter("{ span: childCount > 1 }"),
        bin(
            BinaryOp::Gt,
            FieldExpr::Attribute(Attribute::Intrinsic(Intrinsic::ChildCount)),
            int(1)
        )
    );
    for bad in [
        "{ childCount > 1 }",
        "{ id = 1 }",
        "{ link:name = 1 }",
        "{ span:traceID = 1 }",
    ] {
        parse_error(bad);
    }
}

#[test]
fn literals() {
    assert_eq!(
        filter("{ .a = minInt }"),
        bin(BinaryOp::Eq, attr("a"), int(i64::MIN))
    );
    assert_eq!(
        filter("{ .a = maxInt }"),
        bin(BinaryOp::Eq, attr("a"), int(i64::MAX))
    );
    assert_eq!(
        filter("{ .a = 1h30m }"),
        bin(
            BinaryOp::Eq,
            attr("a"),
            FieldExpr::Static(Static::Duration(Duration::from_nanos(5_400_000_000_000)))
        )
    );
    assert_eq!(
        filter("{ .a = `x\\y` }"),
        bin(
            BinaryOp::Eq,
            attr("a"),
            FieldExpr::Static(Static::String("x\\y".into()))
        )
    );
    assert_eq!(
        filter("{ kind = producer }"),
        bin(
            BinaryOp::Eq,
            FieldExpr::Attribute(Attribute::Intrinsic(Intrinsic::Kind)),
            FieldExpr::Static(Static::Kind(Kind::Producer))
        )
    );
}

#[test]
fn metrics_arithmetic_follows_precedence() {
    let QueryBody::Metrics(metrics) = parsed("5 + ({} | rate()) * 10").body else {
        panic!("metrics expected");
    };
    let MetricsExpr::Scalar {
        op,
        expr,
        scalar,
        side,
    } = metrics.expr
    else {
        panic!("scalar operation expected");
    };
    assert_eq!(
        (op, scalar, side),
        (MathOp::Add, Static::Int(5), ScalarSide::Left)
    );
    assert!(matches!(
        *expr,
        MetricsExpr::Scalar {
            op: MathOp::Mul,
            side: ScalarSide::Right,
            ..
        }
    ));
}

#[test]
fn metrics_second_stages_are_normalized() {
    assert_eq!(
        parsed("({} | rate() | topk(3)) | bottomk(2)"),
        parsed("{} | rate() | topk(3) | bottomk(2)")
    );
    let QueryBody::Metrics(metrics) = parsed("{} | rate() > 1 < 5 | topk(2) >= 3").body else {
        panic!("metrics expected");
    };
    assert_eq!(metrics.second_stages.len(), 4);
    assert!(matches!(metrics.second_stages[2], SecondStage::TopK(2)));
}

#[test]
fn compare_arguments() {
    let compare = |query: &str| {
        let QueryBody::Metrics(metrics) = parsed(query).body else {
            panic!("metrics expected");
        };
        let MetricsExpr::Pipeline(pipeline) = metrics.expr else {
            panic!("pipeline expected");
        };
        let FirstStage::Compare(compare) = pipeline.first_stage else {
            panic!("compare expected");
        };
        (compare.top_n, compare.window)
    };
    assert_eq!(compare("{} | compare({ .a })"), (10, None));
    assert_eq!(compare("{} | compare({ .a }, 5)"), (5, None));
    assert_eq!(compare("{} | compare({ .a }, 5, 0, 0)"), (5, None));
    assert_eq!(
        compare("{} | compare({ .a }, 5, 1, 2)"),
        (5, Some(CompareWindow { start: 1, end: 2 }))
    );
    parse_error("{} | compare({ .a }, 5, 1)");
    parse_error("{} | compare({ .a } && { .b })");
}

#[test]
fn hints_keep_the_last_clause() {
    let ast = parsed("{} | rate() with(sample=0.1) with(exemplars=true, debug_return_in=`x`)");
    assert_eq!(ast.hints.len(), 2);
    assert_eq!(ast.hint("exemplars"), Some(&Static::Bool(true)));
    assert_eq!(ast.hint("sample"), None);
    assert!(ast.hints[1].is_unsafe());
    for bad in [
        "{} with()",
        "{} with(name=1)",
        "{} with(a=-1)",
        "{} with(a=nil)",
        "({} with(a=1))",
    ] {
        parse_error(bad);
    }
}

#[test]
fn error_positions_and_messages() {
    let unterminated = parse_error("{ .a < 3");
    assert_eq!(
        (unterminated.line, unterminated.column, unterminated.offset),
        (1, 9, 8)
    );
    assert_eq!(
        unterminated.to_string(),
        "parse error at line 1, col 9: expected an operator or `}` but found end of query"
    );
    let second_line = parse_error("{ .a = 1 }\n| count( > 2");
    assert_eq!((second_line.line, second_line.column), (2, 10));
    assert!(
        second_line.message.contains("but found `>`"),
        "{second_line}"
    );
    let bare_aggregate = parse_error("{ true } | count()");
    assert_eq!(bare_aggregate.column, 12);
    let multibyte = parse_error("{ µ = 1 }");
    assert_eq!((multibyte.offset, multibyte.column), (2, 3));
}

#[test]
fn printing_is_canonical_and_reparses() {
    for query in [
        r#"{ ."a b" = "x\ny" && span."c\"d" =~ "e" }"#,
        r#"{ ."a\\b" != nil }"#,
        r#"{ ."5xx" = 1 && parent."span.x" = 2 && parent.span.y = 3 }"#,
        "{ .a = minInt || .b = 1e300 || .c = 0.000001 || .d = -0.5 }",
        "{ -(.a + 1) * 2 = -.b ^ 2 }",
        "{ -.a * .b = (-.a) * .b && .a * -.b * .c = .a ^ -.b ^ (-.c) ^ .d }",
        "{ --.a = !!true && -!.a != nil && .a + -.b + .c = 1 }",
        "{ !(.a = 1) && (.b = nil) = true }",
        "{ (.a && .b) = (.c || .d) }",
        "({ .a } | count() > 1) && ({ .b }) || ({ .c } | by(.d))",
        "({ .a } && { .b }) > ({ .c } | count() > 1)",
        "(by(.a))",
        "count() > 1 - 2 * 3",
        "(avg(.a) ^ 2) ^ 2 > -1.5",
        "avg(.a) ^ 2 ^ count() > 2 ^ count()",
        "({} | count()) + ({ .a } | sum(.b)) * ({} | count()) >= 10",
        "-(-9223372036854775807 - 1) + ({} | rate())",
        "({} | rate() by (.a, span:name)) / ({} | quantile_over_time(duration, .5, .99)) | topk(3)",
        "{} | histogram_over_time(span.x) by (resource.y) with(sample=true, job_size=1h)",
        "{ .a } | compare({ .b }, 20, 1, 2)",
        "{ /* comment */ .a } // trailing",
    ] {
        round_trips(query);
    }
}

#[test]
fn constant_folding_matches_tempo() {
    let value = |query: &str| {
        let QueryBody::Metrics(metrics) = parsed(query).body else {
            panic!("metrics expected");
        };
        let MetricsExpr::Scalar { scalar, .. } = metrics.expr else {
            panic!("scalar expected");
        };
        scalar
    };
    assert_eq!(value("(1 / 2) + ({} | rate())"), Static::Int(0));
    assert_eq!(value("(1 / 2.0) + ({} | rate())"), Static::Float(0.5));
    assert_eq!(value("-(3 - 5) * ({} | rate())"), Static::Int(2));
    assert_eq!(
        value("(9223372036854775807 + 1) * ({} | rate())"),
        Static::Int(i64::MIN)
    );
    for bad in [
        "(1 / 0) + ({} | rate())",
        "(1.0 / 0) + ({} | rate())",
        "(2 % 2) + ({} | rate())",
        "-({} | rate())",
        "({} | rate()) > 1s * 2",
    ] {
        parse_error(bad);
    }
}

#[test]
fn nesting_is_bounded() {
    let deep_parens = format!("{}{{ .a }}{}", "(".repeat(5_000), ")".repeat(5_000));
    assert!(
        parse_error(&deep_parens)
            .message
            .contains("levels of nested")
    );
    let deep_field = format!("{{ {}.a{} }}", "(".repeat(5_000), ")".repeat(5_000));
    assert!(
        parse_error(&deep_field)
            .message
            .contains("levels of nested")
    );
    let negations = format!("{{ {}.a }}", "!".repeat(5_000));
    assert!(parse_error(&negations).message.contains("levels of nested"));
    let long_chain = format!("{{ .a{} }}", " || .a".repeat(5_000));
    assert!(parse_error(&long_chain).message.contains("operators deep"));
    let long_spanset_chain = vec!["{ .a }"; 5_000].join(" && ");
    assert!(
        parse_error(&long_spanset_chain)
            .message
            .contains("operators deep")
    );

    let accepted = format!("{{ .a{} }}", " || .a = 1".repeat(200));
    let ast = parsed(&accepted);
    assert!(ast.validate().is_ok());
    round_trips(&accepted);
}

/// The deepest trees the parser accepts must print, validate, re-parse and drop on a small
/// (2 MiB) stack, even in debug builds; and their printed forms must parse again.
#[test]
fn deepest_accepted_trees_fit_a_small_stack() {
    let handle = std::thread::Builder::new().stack_size(2 << 20).spawn(|| {
        let nesting = crate::MAX_NESTING as usize - 2;
        let height = crate::MAX_HEIGHT as usize - 4;
        let chain = |n: usize| format!(".a{}", " || .a".repeat(n));
        let queries = [
            format!("{{ {} }}", chain(height)),
            vec![format!("{{ {} }}", chain(height / 2)); height / 2].join(" && "),
            format!("{}{{ .a }}{}", "(".repeat(nesting), ")".repeat(nesting)),
            format!("{{ {}.a{} }}", "(".repeat(nesting), ")".repeat(nesting)),
            format!("{{ {}.a = 1 }}", "-".repeat(nesting)),
            format!("{{ {}.a * .b = 1 }}", "-.a * ".repeat(nesting / 2)),
            format!(
                "{{ .a = {}1{} }}",
                "(.b - ".repeat(nesting / 2),
                ")".repeat(nesting / 2)
            ),
            format!("{{ .a{} = 1 }}", " ^ -.a".repeat(nesting / 2)),
            format!("({{}} | rate()){}", " + ({} | rate())".repeat(height - 4)),
            format!(
                "{}({{}} | rate()){}",
                "(".repeat(nesting - 4),
                " + 1)".repeat(nesting - 4)
            ),
        ];
        for query in queries {
            let ast = parsed(&query);
            let _ = ast.validate();
            assert_eq!(parsed(&ast.to_string()), ast, "{query}");
        }
    });
    let result = handle.map(|thread| thread.join());
    assert!(
        matches!(result, Ok(Ok(()))),
        "deep trees failed or overflowed the stack"
    );
}
