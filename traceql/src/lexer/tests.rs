use super::tokenize;
use crate::ast::{Attribute, AttributeScope, CustomAttribute, IntrinsicScope};
use crate::duration::Duration;
use crate::token::{Keyword, Punct, TokenKind};

fn kinds(source: &str) -> Vec<TokenKind> {
    match tokenize(source) {
        Ok(tokens) => tokens.into_iter().map(|token| token.kind).collect(),
        Err(error) => panic!("{source}: {error}"),
    }
}

fn attr(scope: AttributeScope, parent: bool, name: &str) -> TokenKind {
    TokenKind::Attribute(Attribute::Custom(CustomAttribute {
        scope,
        parent,
        name: name.to_string(),
    }))
}

#[test]
fn operators_use_maximal_munch() {
    let expected = [
        Punct::NotDesc,
        Punct::UnionAnce,
        Punct::Nre,
        Punct::Re,
        Punct::Neq,
        Punct::Gte,
        Punct::And,
        Punct::Or,
        Punct::Pipe,
        Punct::UnionSibling,
    ];
    let found = kinds("!>> &<< !~ =~ != >= && || | &~");
    let puncts: Vec<TokenKind> = expected.into_iter().map(TokenKind::Punct).collect();
    assert_eq!(found[..puncts.len()], puncts[..]);
    assert_eq!(
        kinds("==")[..2],
        [TokenKind::Punct(Punct::Eq), TokenKind::Punct(Punct::Eq)]
    );
}

#[test]
fn attributes_run_until_a_delimiter() {
    assert_eq!(
        kinds(".http.url/a-b:c+1=2")[..3],
        [
            attr(AttributeScope::Unscoped, false, "http.url/a-b:c+1"),
            TokenKind::Punct(Punct::Eq),
            TokenKind::Int(2)
        ]
    );
    assert_eq!(
        kinds("resource.service.name")[0],
        attr(AttributeScope::Resource, false, "service.name")
    );
}

#[test]
fn quoted_attribute_names_unescape() {
    assert_eq!(
        kinds(r#"span."foo bar""#)[0],
        attr(AttributeScope::Span, false, "foo bar")
    );
    assert_eq!(
        kinds(r#"."a\"b\\c""#)[0],
        attr(AttributeScope::Unscoped, false, "a\"b\\c")
    );
    assert_eq!(
        kinds(r#".a"b c"d"#)[0],
        attr(AttributeScope::Unscoped, false, "ab cd")
    );
    assert!(tokenize(r#"."a\nb""#).is_err());
    assert!(tokenize(r#"."abc"#).is_err());
}

#[test]
fn parent_scopes() {
    assert_eq!(
        kinds("parent.a")[0],
        attr(AttributeScope::Unscoped, true, "a")
    );
    assert_eq!(
        kinds("parent.span.a")[0],
        attr(AttributeScope::Span, true, "a")
    );
    assert_eq!(
        kinds("parent.resource.a.b")[0],
        attr(AttributeScope::Resource, true, "a.b")
    );
    assert_eq!(
        kinds("parent.event.a")[0],
        attr(AttributeScope::Unscoped, true, "event.a")
    );
    assert_eq!(
        kinds(r#"parent."span.a""#)[0],
        attr(AttributeScope::Unscoped, true, "span.a")
    );
    assert_eq!(kinds("parent")[0], TokenKind::Keyword(Keyword::Parent));
}

#[test]
fn empty_attribute_names_are_errors() {
    for source in ["{ . }", "{ span. }", "parent.span. ", "."] {
        let error = tokenize(source).expect_err(source);
        assert!(
            error.message.contains("expected an attribute name"),
            "{error}"
        );
    }
    assert_eq!(
        kinds(r#".."#)[0],
        attr(AttributeScope::Unscoped, false, ".")
    );
}

#[test]
fn scope_colons_and_keywords() {
    assert_eq!(
        kinds("span:duration")[..2],
        [
            TokenKind::ScopeColon(IntrinsicScope::Span),
            TokenKind::Keyword(Keyword::Duration)
        ]
    );
    assert_eq!(
        kinds("trace:")[0],
        TokenKind::ScopeColon(IntrinsicScope::Trace)
    );
    assert_eq!(kinds("minInt")[0], TokenKind::Ident("minInt".to_string()));
    assert_eq!(kinds("trace.x")[0], TokenKind::Ident("trace".to_string()));
}

#[test]
fn numbers_and_durations() {
    let seconds = |s: i64| TokenKind::Duration(Duration::from_nanos(s * 1_000_000_000));
    assert_eq!(kinds("42")[0], TokenKind::Int(42));
    assert_eq!(kinds("010")[0], TokenKind::Int(10));
    assert_eq!(kinds("1.5")[0], TokenKind::Float(1.5));
    assert_eq!(kinds(".99")[0], TokenKind::Float(0.99));
    assert_eq!(kinds("1e3")[0], TokenKind::Float(1000.0));
    assert_eq!(kinds("2.5E-1")[0], TokenKind::Float(0.25));
    assert_eq!(kinds("1h30m")[0], seconds(5400));
    assert_eq!(
        kinds("1.5s")[0],
        TokenKind::Duration(Duration::from_nanos(1_500_000_000))
    );
    assert_eq!(
        kinds("300ms")[0],
        TokenKind::Duration(Duration::from_nanos(300_000_000))
    );
    assert_eq!(
        kinds("2µs")[0],
        TokenKind::Duration(Duration::from_nanos(2_000))
    );
    assert_eq!(
        kinds("7ns")[0],
        TokenKind::Duration(Duration::from_nanos(7))
    );
    assert_eq!(kinds("1d")[0], seconds(86_400));
    assert_eq!(
        kinds("1m)")[..2],
        [seconds(60), TokenKind::Punct(Punct::RParen)]
    );
    assert_eq!(
        kinds("1x")[..2],
        [TokenKind::Int(1), TokenKind::Ident("x".to_string())]
    );
}

#[test]
fn bad_numbers_are_errors() {
    for source in [
        "100000000000000000000000000000",
        "1e400",
        "0x1F",
        "1_000",
        "08",
        "1e",
    ] {
        assert!(tokenize(source).is_err(), "{source}");
    }
    assert_eq!(kinds("9223372036854775807")[0], TokenKind::Int(i64::MAX));
}

#[test]
fn strings_and_escapes() {
    let text = |s: &str| TokenKind::Str(s.to_string());
    assert_eq!(kinds(r#""a\tb\n\"q\"\\""#)[0], text("a\tb\n\"q\"\\"));
    assert_eq!(kinds(r#""\x41\101\u00e9\U0001F600""#)[0], text("AAé😀"));
    assert_eq!(kinds(r#""\xc3\xa9""#)[0], text("é"));
    assert_eq!(kinds("`raw \\n\r\nline`")[0], text("raw \\n\nline"));
    assert_eq!(kinds("\"tab\tinside\"")[0], text("tab\tinside"));
    for source in [
        r#""\q""#,
        r#""\'""#,
        r#""\xff""#,
        r#""\ud800""#,
        "\"a\nb\"",
        "\"open",
        "`open",
        r#""\400""#,
    ] {
        assert!(tokenize(source).is_err(), "{source}");
    }
}

#[test]
fn comments_and_whitespace() {
    assert_eq!(
        kinds("{ // note\n true /* more */ }"),
        [
            TokenKind::Punct(Punct::LBrace),
            TokenKind::Keyword(Keyword::True),
            TokenKind::Punct(Punct::RBrace),
            TokenKind::Eof
        ]
    );
    assert!(tokenize("/* open").is_err());
    assert!(tokenize("{ \u{a0} }").is_err());
    assert!(tokenize("[ true ]").is_err());
}

#[test]
fn error_positions() {
    let error = tokenize("{ .a = 1 }\n  { @ }").expect_err("bad char");
    assert_eq!((error.line, error.column, error.offset), (2, 5, 15));
    assert!(
        error.message.contains("found unexpected character `@`"),
        "{error}"
    );
}
