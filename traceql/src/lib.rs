//! TraceQL, as Grafana Tempo defines it: lexer, parser, canonical printer and static
//! validator.
//!
//! ```
//! use vivace_traceql::{parse, QueryBody};
//!
//! let query = parse(r#"{ span.http.status_code >= 500 && resource.service.name = "api" } | count() > 2"#)?;
//! assert!(matches!(query.body, QueryBody::Pipeline(_)));
//! query.validate()?;
//! // Printing gives a canonical form that parses back to the same tree.
//! assert_eq!(parse(&query.to_string())?, query);
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
//!
//! Parsing never panics; every failure is a [`ParseError`] with a byte offset, line and
//! column. [`validate`] applies Tempo's type and shape checks; constructs Tempo parses but
//! does not execute yet fail with [`ValidateError::Unsupported`], whose message ends in
//! "not yet supported".
//!
//! # Differences from Tempo's Go parser
//!
//! The grammar, precedence table, constant folding and validation rules follow Tempo. Where
//! Go semantics cannot be kept or would be unsafe, this crate is deliberately stricter:
//! - string escapes (`\x..`, octal) must form valid UTF-8;
//! - hexadecimal, octal-prefixed, binary and `_`-separated numbers are rejected (Tempo
//!   rejects them as integers too, but accepts hexadecimal floats);
//! - constant folding that yields a non-finite float (`1.0 / 0`) is a parse error;
//! - trees are limited to [`MAX_NESTING`] levels of parser recursion and [`MAX_HEIGHT`]
//!   levels of height, so no input can exhaust the stack;
//! - `instrumentation:name` and `instrumentation:version` are typed as strings (Tempo leaves
//!   them untyped);
//! - regexes are checked with `regex-syntax` after bridging the RE2 differences that affect
//!   validity (literal `{`, `[` inside classes, `\Q...\E`, the 1000 repetition limit).

pub mod ast;
mod display;
mod duration;
mod error;
mod lexer;
mod parser;
mod token;
mod validate;

pub use ast::*;
pub use duration::Duration;
pub use error::{ParseError, ValidateError};
pub use parser::{MAX_HEIGHT, MAX_NESTING, parse};
pub use validate::{re2_to_rust_syntax, validate};
