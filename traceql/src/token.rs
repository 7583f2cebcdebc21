//! Tokens produced by the lexer.

use std::fmt;

use crate::ast::{Attribute, IntrinsicScope};
use crate::duration::Duration;

/// A token and the byte range of its text.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Token {
    pub kind: TokenKind,
    pub start: usize,
    pub end: usize,
}

#[derive(Debug, Clone, PartialEq)]
pub(crate) enum TokenKind {
    Int(i64),
    Float(f64),
    Duration(Duration),
    Str(String),
    /// A word that is not a keyword (only `minInt`, `maxInt` and hint names are meaningful).
    Ident(String),
    Keyword(Keyword),
    /// A complete custom attribute: `.a`, `span.a`, `parent.resource."b c"`, ...
    Attribute(Attribute),
    /// `span:`, `trace:`, `event:`, `link:` or `instrumentation:`.
    ScopeColon(IntrinsicScope),
    Punct(Punct),
    Eof,
}

/// Operators and punctuation.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Punct {
    LBrace,
    RBrace,
    LParen,
    RParen,
    Comma,
    Eq,
    Neq,
    Re,
    /// `!~`: regex-not-match inside a filter, not-sibling between spansets.
    Nre,
    Gt,
    Gte,
    Lt,
    Lte,
    Add,
    Sub,
    Mul,
    Div,
    Mod,
    Pow,
    And,
    Or,
    Not,
    Pipe,
    Desc,
    Ance,
    Tilde,
    NotChild,
    NotParent,
    NotDesc,
    NotAnce,
    UnionChild,
    UnionParent,
    UnionDesc,
    UnionAnce,
    UnionSibling,
}

/// Longest first, so the first match is the maximal munch.
pub(crate) const PUNCTUATION: [(&str, Punct); 35] = [
    ("!>>", Punct::NotDesc),
    ("!<<", Punct::NotAnce),
    ("&>>", Punct::UnionDesc),
    ("&<<", Punct::UnionAnce),
    ("!=", Punct::Neq),
    ("!~", Punct::Nre),
    ("!>", Punct::NotChild),
    ("!<", Punct::NotParent),
    ("&&", Punct::And),
    ("&>", Punct::UnionChild),
    ("&<", Punct::UnionParent),
    ("&~", Punct::UnionSibling),
    ("||", Punct::Or),
    (">>", Punct::Desc),
    (">=", Punct::Gte),
    ("<<", Punct::Ance),
    ("<=", Punct::Lte),
    ("=~", Punct::Re),
    ("!", Punct::Not),
    ("|", Punct::Pipe),
    (">", Punct::Gt),
    ("<", Punct::Lt),
    ("=", Punct::Eq),
    ("~", Punct::Tilde),
    ("+", Punct::Add),
    ("-", Punct::Sub),
    ("*", Punct::Mul),
    ("/", Punct::Div),
    ("%", Punct::Mod),
    ("^", Punct::Pow),
    (",", Punct::Comma),
    ("(", Punct::LParen),
    (")", Punct::RParen),
    ("{", Punct::LBrace),
    ("}", Punct::RBrace),
];

impl Punct {
    pub(crate) fn as_str(self) -> &'static str {
        PUNCTUATION
            .iter()
            .find(|(_, punct)| *punct == self)
            .map_or("?", |(text, _)| text)
    }
}

macro_rules! keywords {
    ($($variant:ident => $text:literal,)*) => {
        /// Reserved words. A reserved word is never an attribute name or a hint name.
        #[derive(Debug, Clone, Copy, PartialEq, Eq)]
        pub(crate) enum Keyword {
            $($variant,)*
        }

        impl Keyword {
            pub(crate) fn from_word(word: &str) -> Option<Self> {
                match word {
                    $($text => Some(Self::$variant),)*
                    _ => None,
                }
            }

            pub(crate) fn as_str(self) -> &'static str {
                match self {
                    $(Self::$variant => $text,)*
                }
            }
        }
    };
}

keywords! {
    True => "true",
    False => "false",
    Nil => "nil",
    Ok => "ok",
    Error => "error",
    Unset => "unset",
    Unspecified => "unspecified",
    Internal => "internal",
    Server => "server",
    Client => "client",
    Producer => "producer",
    Consumer => "consumer",
    Duration => "duration",
    ChildCount => "childCount",
    Name => "name",
    Status => "status",
    StatusMessage => "statusMessage",
    Kind => "kind",
    RootName => "rootName",
    RootServiceName => "rootServiceName",
    RootService => "rootService",
    TraceDuration => "traceDuration",
    NestedSetLeft => "nestedSetLeft",
    NestedSetRight => "nestedSetRight",
    NestedSetParent => "nestedSetParent",
    Id => "id",
    TraceId => "traceID",
    SpanId => "spanID",
    ParentId => "parentID",
    TimeSinceStart => "timeSinceStart",
    Version => "version",
    Parent => "parent",
    Count => "count",
    Avg => "avg",
    Max => "max",
    Min => "min",
    Sum => "sum",
    By => "by",
    Coalesce => "coalesce",
    Select => "select",
    Rate => "rate",
    CountOverTime => "count_over_time",
    MinOverTime => "min_over_time",
    MaxOverTime => "max_over_time",
    AvgOverTime => "avg_over_time",
    SumOverTime => "sum_over_time",
    QuantileOverTime => "quantile_over_time",
    HistogramOverTime => "histogram_over_time",
    Compare => "compare",
    TopK => "topk",
    BottomK => "bottomk",
    With => "with",
}

/// How a token is named in "expected ... but found ..." messages.
impl fmt::Display for TokenKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Int(value) => write!(f, "integer `{value}`"),
            Self::Float(value) => write!(f, "float `{}`", crate::display::FloatLiteral(*value)),
            Self::Duration(value) => write!(f, "duration `{value}`"),
            Self::Str(value) => write!(f, "string {}", crate::display::QuotedString(value)),
            Self::Ident(word) => write!(f, "identifier `{word}`"),
            Self::Keyword(keyword) => write!(f, "`{}`", keyword.as_str()),
            Self::Attribute(attribute) => write!(f, "attribute `{attribute}`"),
            Self::ScopeColon(scope) => write!(f, "`{}:`", scope.as_str()),
            Self::Punct(punct) => write!(f, "`{}`", punct.as_str()),
            Self::Eof => f.write_str("end of query"),
        }
    }
}
