//! Field expressions: what goes inside `{ ... }`, aggregate arguments and `by(...)`.

use super::Attribute;
use crate::duration::Duration;

/// Span status values (`ok`, `error`, `unset`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Status {
    /// `error`
    Error,
    /// `ok`
    Ok,
    /// `unset`
    Unset,
}

impl Status {
    /// The keyword.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Error => "error",
            Self::Ok => "ok",
            Self::Unset => "unset",
        }
    }
}

/// Span kind values.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Kind {
    /// `unspecified`
    Unspecified,
    /// `internal`
    Internal,
    /// `server`
    Server,
    /// `client`
    Client,
    /// `producer`
    Producer,
    /// `consumer`
    Consumer,
}

impl Kind {
    /// The keyword.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Unspecified => "unspecified",
            Self::Internal => "internal",
            Self::Server => "server",
            Self::Client => "client",
            Self::Producer => "producer",
            Self::Consumer => "consumer",
        }
    }
}

/// A literal value.
#[derive(Debug, Clone, PartialEq)]
pub enum Static {
    /// A 64-bit integer (`minInt` and `maxInt` are the extremes).
    Int(i64),
    /// A finite 64-bit float.
    Float(f64),
    /// A string.
    String(String),
    /// `true` or `false`.
    Bool(bool),
    /// A duration literal.
    Duration(Duration),
    /// A status keyword.
    Status(Status),
    /// A kind keyword.
    Kind(Kind),
}

impl Static {
    /// The value's static type.
    pub fn static_type(&self) -> StaticType {
        match self {
            Self::Int(_) => StaticType::Int,
            Self::Float(_) => StaticType::Float,
            Self::String(_) => StaticType::String,
            Self::Bool(_) => StaticType::Boolean,
            Self::Duration(_) => StaticType::Duration,
            Self::Status(_) => StaticType::Status,
            Self::Kind(_) => StaticType::Kind,
        }
    }

    /// The value as a float, for numeric statics; durations are converted to seconds (this is
    /// how metrics filters and scalar operands use them).
    pub fn as_f64(&self) -> Option<f64> {
        match self {
            Self::Int(value) => Some(*value as f64),
            Self::Float(value) => Some(*value),
            Self::Duration(value) => Some(value.as_secs_f64()),
            _ => None,
        }
    }
}

/// The static type of an expression, as the validator sees it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum StaticType {
    /// No value (the `parent` intrinsic).
    Nil,
    /// Only known at query time: a custom attribute can hold any type, including arrays.
    Attribute,
    /// 64-bit integer.
    Int,
    /// 64-bit float.
    Float,
    /// String.
    String,
    /// Boolean.
    Boolean,
    /// Duration.
    Duration,
    /// Status enum.
    Status,
    /// Kind enum.
    Kind,
}

impl StaticType {
    /// Int, float and duration mix freely in arithmetic and comparisons.
    pub fn is_numeric(self) -> bool {
        matches!(self, Self::Int | Self::Float | Self::Duration)
    }
}

/// Binary operators of field expressions.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum BinaryOp {
    /// `+`
    Add,
    /// `-`
    Sub,
    /// `*`
    Mul,
    /// `/`
    Div,
    /// `%`
    Mod,
    /// `^`
    Pow,
    /// `=`
    Eq,
    /// `!=`
    Neq,
    /// `>`
    Gt,
    /// `>=`
    Gte,
    /// `<`
    Lt,
    /// `<=`
    Lte,
    /// `=~` (fully anchored RE2)
    Regex,
    /// `!~`
    NotRegex,
    /// `&&`
    And,
    /// `||`
    Or,
}

impl BinaryOp {
    /// The operator symbol.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Add => "+",
            Self::Sub => "-",
            Self::Mul => "*",
            Self::Div => "/",
            Self::Mod => "%",
            Self::Pow => "^",
            Self::Eq => "=",
            Self::Neq => "!=",
            Self::Gt => ">",
            Self::Gte => ">=",
            Self::Lt => "<",
            Self::Lte => "<=",
            Self::Regex => "=~",
            Self::NotRegex => "!~",
            Self::And => "&&",
            Self::Or => "||",
        }
    }

    /// Whether the result is a boolean (comparisons, regex and logical operators).
    pub fn is_boolean(self) -> bool {
        !matches!(
            self,
            Self::Add | Self::Sub | Self::Mul | Self::Div | Self::Mod | Self::Pow
        )
    }

    /// Binding strength: `&& ||` 2, comparisons 3, `+ -` 5, `* / %` 7, `^` 8.
    pub(crate) fn precedence(self) -> u8 {
        match self {
            Self::And | Self::Or => 2,
            Self::Add | Self::Sub => 5,
            Self::Mul | Self::Div | Self::Mod => 7,
            Self::Pow => 8,
            _ => 3,
        }
    }

    /// Only `^` groups to the right.
    pub(crate) fn is_right_assoc(self) -> bool {
        self == Self::Pow
    }
}

/// Unary operators of field expressions.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum UnaryOp {
    /// `-x`
    Neg,
    /// `!x`
    Not,
    /// `x != nil`
    Exists,
    /// `x = nil`
    NotExists,
}

/// An expression evaluated per span.
#[derive(Debug, Clone, PartialEq)]
pub enum FieldExpr {
    /// A literal.
    Static(Static),
    /// An intrinsic or custom attribute.
    Attribute(Attribute),
    /// `lhs op rhs`
    Binary {
        /// The operator.
        op: BinaryOp,
        /// Left operand.
        lhs: Box<FieldExpr>,
        /// Right operand.
        rhs: Box<FieldExpr>,
    },
    /// A prefix operator, or an existence test written `x != nil` / `x = nil`.
    Unary {
        /// The operator.
        op: UnaryOp,
        /// The operand.
        expr: Box<FieldExpr>,
    },
}

impl FieldExpr {
    /// `lhs op rhs`
    pub fn binary(op: BinaryOp, lhs: FieldExpr, rhs: FieldExpr) -> Self {
        Self::Binary {
            op,
            lhs: Box::new(lhs),
            rhs: Box::new(rhs),
        }
    }

    /// `op expr`
    pub fn unary(op: UnaryOp, expr: FieldExpr) -> Self {
        Self::Unary {
            op,
            expr: Box::new(expr),
        }
    }

    /// Whether the expression reads anything from the span (an attribute or intrinsic).
    pub fn references_span(&self) -> bool {
        match self {
            Self::Static(_) => false,
            Self::Attribute(_) => true,
            Self::Binary { lhs, rhs, .. } => lhs.references_span() || rhs.references_span(),
            Self::Unary { expr, .. } => expr.references_span(),
        }
    }

    /// The static type of the result: boolean for comparisons and existence tests, otherwise the
    /// left operand's type unless that is only known at query time, then the right operand's.
    pub fn implied_type(&self) -> StaticType {
        match self {
            Self::Static(value) => value.static_type(),
            Self::Attribute(attribute) => attribute.implied_type(),
            Self::Binary { op, lhs, rhs } => {
                if op.is_boolean() {
                    return StaticType::Boolean;
                }
                let left = lhs.implied_type();
                if left != StaticType::Attribute {
                    return left;
                }
                rhs.implied_type()
            }
            Self::Unary { op, expr } => match op {
                UnaryOp::Exists | UnaryOp::NotExists => StaticType::Boolean,
                UnaryOp::Neg | UnaryOp::Not => expr.implied_type(),
            },
        }
    }
}
