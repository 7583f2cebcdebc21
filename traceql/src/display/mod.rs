//! Canonical printing. For every tree produced by [`crate::parse`], printing and parsing again
//! yields an equal tree.
//!
//! Parentheses are only added where precedence requires them (the operands of unary operators
//! are always parenthesised unless atomic). Intrinsics print in Tempo's canonical spelling,
//! strings with double quotes, floats always with a `.` or exponent, durations in compound form.

mod field;
mod metrics;
mod pipeline;

use std::fmt::{self, Display, Formatter, Write};

use crate::ast::{Attribute, AttributeScope, CustomAttribute, Hint, Query, QueryBody, Static};
use crate::lexer::is_attribute_char;

impl Display for Query {
    fn fmt(&self, f: &mut Formatter<'_>) -> fmt::Result {
        match &self.body {
            QueryBody::Pipeline(pipeline) => write!(f, "{pipeline}")?,
            QueryBody::PipelineExpr(expr) => write!(f, "{expr}")?,
            QueryBody::ScalarPipelineFilter(filter) => write!(f, "{filter}")?,
            QueryBody::Metrics(metrics) => write!(f, "{metrics}")?,
        }
        if self.hints.is_empty() {
            return Ok(());
        }
        f.write_str(" with(")?;
        write_list(f, &self.hints)?;
        f.write_str(")")
    }
}

impl Display for Hint {
    fn fmt(&self, f: &mut Formatter<'_>) -> fmt::Result {
        write!(f, "{}={}", self.name, self.value)
    }
}

pub(crate) fn write_list<T: Display>(f: &mut Formatter<'_>, items: &[T]) -> fmt::Result {
    for (index, item) in items.iter().enumerate() {
        if index > 0 {
            f.write_str(", ")?;
        }
        write!(f, "{item}")?;
    }
    Ok(())
}

/// Field-expression form: `minInt` stands for the smallest integer.
impl Display for Static {
    fn fmt(&self, f: &mut Formatter<'_>) -> fmt::Result {
        match self {
            Self::Int(i64::MIN) => f.write_str("minInt"),
            Self::Int(value) => write!(f, "{value}"),
            Self::Float(value) => write!(f, "{}", FloatLiteral(*value)),
            Self::String(value) => write!(f, "{}", QuotedString(value)),
            Self::Bool(value) => write!(f, "{value}"),
            Self::Duration(value) => write!(f, "{value}"),
            Self::Status(value) => f.write_str(value.as_str()),
            Self::Kind(value) => f.write_str(value.as_str()),
        }
    }
}

/// A constant outside spanset filters (scalar filters, metrics), where `minInt` is not
/// available but a leading `-` binds tighter than any operator.
pub(crate) struct ScalarLiteral<'a>(pub &'a Static);

impl Display for ScalarLiteral<'_> {
    fn fmt(&self, f: &mut Formatter<'_>) -> fmt::Result {
        match self.0 {
            Static::Int(i64::MIN) => write!(f, "(-{} - 1)", i64::MAX),
            other => write!(f, "{other}"),
        }
    }
}

/// A float that re-lexes as a float: always contains `.` or an exponent.
pub(crate) struct FloatLiteral(pub f64);

impl Display for FloatLiteral {
    fn fmt(&self, f: &mut Formatter<'_>) -> fmt::Result {
        write!(f, "{:?}", self.0)
    }
}

/// A double-quoted string literal with Go escapes where needed.
pub(crate) struct QuotedString<'a>(pub &'a str);

impl Display for QuotedString<'_> {
    fn fmt(&self, f: &mut Formatter<'_>) -> fmt::Result {
        f.write_char('"')?;
        for c in self.0.chars() {
            match c {
                '"' => f.write_str("\\\"")?,
                '\\' => f.write_str("\\\\")?,
                '\n' => f.write_str("\\n")?,
                '\r' => f.write_str("\\r")?,
                '\t' => f.write_str("\\t")?,
                control if control.is_control() && u32::from(control) < 0x80 => {
                    write!(f, "\\x{:02x}", u32::from(control))?
                }
                other => f.write_char(other)?,
            }
        }
        f.write_char('"')
    }
}

impl Display for Attribute {
    fn fmt(&self, f: &mut Formatter<'_>) -> fmt::Result {
        match self {
            Self::Intrinsic(intrinsic) => f.write_str(intrinsic.as_str()),
            Self::Custom(custom) => write!(f, "{custom}"),
        }
    }
}

impl Display for CustomAttribute {
    fn fmt(&self, f: &mut Formatter<'_>) -> fmt::Result {
        if self.parent {
            f.write_str("parent.")?;
            if self.scope != AttributeScope::Unscoped {
                f.write_str(self.scope.prefix())?;
            }
        } else {
            f.write_str(self.scope.prefix())?;
        }
        if !self.needs_quotes() {
            return f.write_str(&self.name);
        }
        f.write_char('"')?;
        for c in self.name.chars() {
            if matches!(c, '"' | '\\') {
                f.write_char('\\')?;
            }
            f.write_char(c)?;
        }
        f.write_char('"')
    }
}

impl CustomAttribute {
    /// Whether the name must be written in quotes to lex back as this attribute (backslashes
    /// would not need it, but quoting them reads less ambiguously).
    fn needs_quotes(&self) -> bool {
        let special = |c: char| matches!(c, '"' | '\\') || !is_attribute_char(c);
        if self.name.is_empty() || self.name.chars().any(special) {
            return true;
        }
        let unscoped = self.scope == AttributeScope::Unscoped;
        if unscoped && !self.parent && self.name.starts_with(|c: char| c.is_ascii_digit()) {
            return true;
        }
        unscoped
            && self.parent
            && (self.name.starts_with("span.") || self.name.starts_with("resource."))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn floats_keep_a_marker() {
        assert_eq!(FloatLiteral(1.0).to_string(), "1.0");
        assert_eq!(FloatLiteral(0.1).to_string(), "0.1");
        assert_eq!(FloatLiteral(1e300).to_string(), "1e300");
    }

    #[test]
    fn strings_escape_quotes_and_controls() {
        assert_eq!(
            QuotedString("a\"b\\c\n\u{1}").to_string(),
            r#""a\"b\\c\n\x01""#
        );
    }

    #[test]
    fn attribute_names_are_quoted_when_needed() {
        let show = |scope, parent, name: &str| {
            CustomAttribute {
                scope,
                parent,
                name: name.to_string(),
            }
            .to_string()
        };
        assert_eq!(show(AttributeScope::Unscoped, false, "a.b-c/d"), ".a.b-c/d");
        assert_eq!(
            show(AttributeScope::Span, false, "foo bar"),
            "span.\"foo bar\""
        );
        assert_eq!(
            show(AttributeScope::Unscoped, false, "a\"b\\c d"),
            ".\"a\\\"b\\\\c d\""
        );
        assert_eq!(show(AttributeScope::Unscoped, false, "5xx"), ".\"5xx\"");
        assert_eq!(show(AttributeScope::Span, false, "5xx"), "span.5xx");
        assert_eq!(show(AttributeScope::Unscoped, false, ""), ".\"\"");
        assert_eq!(
            show(AttributeScope::Unscoped, true, "span.x"),
            "parent.\"span.x\""
        );
        assert_eq!(
            show(AttributeScope::Resource, true, "x"),
            "parent.resource.x"
        );
    }
}
