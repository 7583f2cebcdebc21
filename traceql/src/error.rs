//! Error types returned by [`crate::parse`] and [`crate::validate`].

use thiserror::Error;

/// A query could not be parsed.
///
/// `offset` is the byte offset of the offending token in the query text; `line` and `column`
/// are 1-based, the column counting characters (not bytes) from the start of the line.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
#[error("parse error at line {line}, col {column}: {message}")]
pub struct ParseError {
    /// Byte offset into the query text.
    pub offset: usize,
    /// 1-based line number.
    pub line: usize,
    /// 1-based column, in characters.
    pub column: usize,
    /// What was expected and what was found.
    pub message: String,
}

impl ParseError {
    /// Builds an error at `offset` in `source`, computing the line and column.
    pub(crate) fn at(source: &str, offset: usize, message: impl Into<String>) -> Self {
        let clamped = clamp_to_char_boundary(source, offset);
        let before = &source[..clamped];
        let line = before.matches('\n').count() + 1;
        let line_start = before.rfind('\n').map_or(0, |i| i + 1);
        let column = before[line_start..].chars().count() + 1;
        Self {
            offset: clamped,
            line,
            column,
            message: message.into(),
        }
    }
}

fn clamp_to_char_boundary(source: &str, offset: usize) -> usize {
    let mut at = offset.min(source.len());
    while at > 0 && !source.is_char_boundary(at) {
        at -= 1;
    }
    at
}

/// A query parsed but failed Tempo's static checks.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum ValidateError {
    /// The construct is part of the grammar but Tempo does not execute it yet.
    #[error("{feature} not yet supported")]
    Unsupported {
        /// Which construct, e.g. `parent` or `scalar filter lhs`.
        feature: String,
    },
    /// Operand types that cannot be combined, e.g. `1 = "foo"`.
    #[error("binary operations must operate on the same type: {expr}")]
    TypeMismatch {
        /// The offending expression, printed canonically.
        expr: String,
    },
    /// An operator applied to a type it is not defined for, e.g. `status > ok` or `-"foo"`.
    #[error("illegal operation for the given type: {expr}")]
    IllegalOperation {
        /// The offending expression, printed canonically.
        expr: String,
    },
    /// A regex operand that is not a string literal or is not a valid RE2 expression.
    #[error("invalid regex: {expr}: {reason}")]
    InvalidRegex {
        /// The offending operand.
        expr: String,
        /// Why it was rejected.
        reason: String,
    },
    /// Any other static check, e.g. a spanset filter that is not boolean or `topk(0)`.
    #[error("{message}")]
    Invalid {
        /// A description of the failed check.
        message: String,
    },
}

impl ValidateError {
    /// Whether this error is Tempo's "not yet supported" class.
    pub fn is_unsupported(&self) -> bool {
        matches!(self, Self::Unsupported { .. })
    }

    pub(crate) fn unsupported(feature: impl Into<String>) -> Self {
        Self::Unsupported {
            feature: feature.into(),
        }
    }

    pub(crate) fn invalid(message: impl Into<String>) -> Self {
        Self::Invalid {
            message: message.into(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn line_and_column_count_characters() {
        let err = ParseError::at("{ .a = 1 }\n{ µ = }", 15, "x");
        assert_eq!((err.line, err.column), (2, 4));
        assert_eq!(
            err.to_string(),
            "parse error at line 2, col 4: x".to_string()
        );
    }

    #[test]
    fn offsets_inside_a_character_are_clamped() {
        let err = ParseError::at("µ", 1, "x");
        assert_eq!((err.offset, err.column), (0, 1));
    }

    #[test]
    fn unsupported_mentions_not_yet_supported() {
        let err = ValidateError::unsupported("parent");
        assert!(err.is_unsupported());
        assert_eq!(err.to_string(), "parent not yet supported");
    }
}
