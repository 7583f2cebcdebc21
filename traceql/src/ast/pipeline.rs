//! Spanset pipelines: filters, spanset operators, scalar filters, grouping and selection.

use super::{Attribute, FieldExpr, Static};

/// Stages joined by `|`. Never empty.
#[derive(Debug, Clone, PartialEq)]
pub struct Pipeline {
    /// The stages, in order.
    pub stages: Vec<Stage>,
}

/// One stage of a spanset pipeline.
#[derive(Debug, Clone, PartialEq)]
pub enum Stage {
    /// Filters and spanset operators: `{ ... } && { ... }`.
    Spanset(SpansetExpr),
    /// An aggregate compared with a value: `count() > 3`.
    ScalarFilter(ScalarFilter),
    /// `by(expr)`: one spanset per distinct value.
    GroupBy(FieldExpr),
    /// `coalesce()`: merge spansets (never the first stage).
    Coalesce,
    /// `select(a, b, ...)`: add attributes to the returned spans.
    Select(Vec<Attribute>),
}

/// `{ expr }`, or `{ }` which matches every span.
#[derive(Debug, Clone, PartialEq)]
pub struct SpansetFilter {
    /// The per-span condition; `None` for `{ }`.
    pub expr: Option<FieldExpr>,
}

/// Operators between spansets.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum SpansetOp {
    /// `&&`: both sides matched; returns the union of matches.
    And,
    /// `||`: either side matched.
    Or,
    /// `>`: right-side spans that are children of left-side matches.
    Child,
    /// `<`: right-side spans that are parents of left-side matches.
    Parent,
    /// `>>`: descendants.
    Descendant,
    /// `<<`: ancestors.
    Ancestor,
    /// `~`: siblings.
    Sibling,
    /// `!>` (experimental)
    NotChild,
    /// `!<` (experimental)
    NotParent,
    /// `!>>` (experimental)
    NotDescendant,
    /// `!<<` (experimental)
    NotAncestor,
    /// `!~` (experimental)
    NotSibling,
    /// `&>`: like `>` but returns matches from both sides.
    UnionChild,
    /// `&<`
    UnionParent,
    /// `&>>`
    UnionDescendant,
    /// `&<<`
    UnionAncestor,
    /// `&~`
    UnionSibling,
}

impl SpansetOp {
    /// The operator symbol.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::And => "&&",
            Self::Or => "||",
            Self::Child => ">",
            Self::Parent => "<",
            Self::Descendant => ">>",
            Self::Ancestor => "<<",
            Self::Sibling => "~",
            Self::NotChild => "!>",
            Self::NotParent => "!<",
            Self::NotDescendant => "!>>",
            Self::NotAncestor => "!<<",
            Self::NotSibling => "!~",
            Self::UnionChild => "&>",
            Self::UnionParent => "&<",
            Self::UnionDescendant => "&>>",
            Self::UnionAncestor => "&<<",
            Self::UnionSibling => "&~",
        }
    }

    /// `&&` and `||` bind looser (2) than the structural operators (3).
    pub(crate) fn precedence(self) -> u8 {
        match self {
            Self::And | Self::Or => 2,
            _ => 3,
        }
    }
}

/// Filters combined with spanset operators.
#[derive(Debug, Clone, PartialEq)]
pub enum SpansetExpr {
    /// A single filter.
    Filter(SpansetFilter),
    /// `lhs op rhs`
    Op {
        /// The operator.
        op: SpansetOp,
        /// Left operand.
        lhs: Box<SpansetExpr>,
        /// Right operand.
        rhs: Box<SpansetExpr>,
    },
}

/// Parenthesised pipelines combined with spanset operators:
/// `({ a } | count() > 1) && ({ b } | count() > 1)`.
#[derive(Debug, Clone, PartialEq)]
pub enum SpansetPipelineExpr {
    /// `( pipeline )`
    Pipeline(Pipeline),
    /// `lhs op rhs`
    Op {
        /// The operator.
        op: SpansetOp,
        /// Left operand.
        lhs: Box<SpansetPipelineExpr>,
        /// Right operand.
        rhs: Box<SpansetPipelineExpr>,
    },
}

/// Comparison operators of scalar filters and metrics filters.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum CmpOp {
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
}

impl CmpOp {
    /// The same comparison as a field-expression operator.
    pub fn as_binary(self) -> super::BinaryOp {
        match self {
            Self::Eq => super::BinaryOp::Eq,
            Self::Neq => super::BinaryOp::Neq,
            Self::Gt => super::BinaryOp::Gt,
            Self::Gte => super::BinaryOp::Gte,
            Self::Lt => super::BinaryOp::Lt,
            Self::Lte => super::BinaryOp::Lte,
        }
    }

    /// The operator symbol.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Eq => "=",
            Self::Neq => "!=",
            Self::Gt => ">",
            Self::Gte => ">=",
            Self::Lt => "<",
            Self::Lte => "<=",
        }
    }
}

/// Arithmetic between scalar expressions.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ArithOp {
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
}

impl ArithOp {
    /// The operator symbol.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Add => "+",
            Self::Sub => "-",
            Self::Mul => "*",
            Self::Div => "/",
            Self::Mod => "%",
            Self::Pow => "^",
        }
    }

    pub(crate) fn precedence(self) -> u8 {
        match self {
            Self::Add | Self::Sub => 5,
            Self::Mul | Self::Div | Self::Mod => 7,
            Self::Pow => 8,
        }
    }
}

/// Aggregates over the spans of a spanset.
#[derive(Debug, Clone, PartialEq)]
pub enum Aggregate {
    /// `count()`
    Count,
    /// `avg(expr)`
    Avg(FieldExpr),
    /// `max(expr)`
    Max(FieldExpr),
    /// `min(expr)`
    Min(FieldExpr),
    /// `sum(expr)`
    Sum(FieldExpr),
}

impl Aggregate {
    /// The function name.
    pub fn name(&self) -> &'static str {
        match self {
            Self::Count => "count",
            Self::Avg(_) => "avg",
            Self::Max(_) => "max",
            Self::Min(_) => "min",
            Self::Sum(_) => "sum",
        }
    }

    /// The argument, `None` for `count()`.
    pub fn argument(&self) -> Option<&FieldExpr> {
        match self {
            Self::Count => None,
            Self::Avg(expr) | Self::Max(expr) | Self::Min(expr) | Self::Sum(expr) => Some(expr),
        }
    }
}

/// `lhs op rhs` where at least one side contains an aggregate.
#[derive(Debug, Clone, PartialEq)]
pub struct ScalarFilter {
    /// The comparison.
    pub op: CmpOp,
    /// Left side.
    pub lhs: ScalarExpr,
    /// Right side.
    pub rhs: ScalarExpr,
}

/// Aggregates, constants and arithmetic between them. Constant sub-expressions are folded at
/// parse time, so a `Binary` always has an aggregate on at least one side.
#[derive(Debug, Clone, PartialEq)]
pub enum ScalarExpr {
    /// An aggregate.
    Aggregate(Aggregate),
    /// A (folded) numeric or duration constant.
    Static(Static),
    /// `lhs op rhs`
    Binary {
        /// The operator.
        op: ArithOp,
        /// Left operand.
        lhs: Box<ScalarExpr>,
        /// Right operand.
        rhs: Box<ScalarExpr>,
    },
}

/// `( pipeline | aggregate )`
#[derive(Debug, Clone, PartialEq)]
pub struct ScalarPipeline {
    /// The spanset pipeline.
    pub pipeline: Pipeline,
    /// The aggregate computed from its result.
    pub aggregate: Aggregate,
}

/// Wrapped scalar pipelines combined with arithmetic.
#[derive(Debug, Clone, PartialEq)]
pub enum ScalarPipelineExpr {
    /// `( pipeline | aggregate )`
    Pipeline(Box<ScalarPipeline>),
    /// `lhs op rhs`
    Binary {
        /// The operator.
        op: ArithOp,
        /// Left operand.
        lhs: Box<ScalarPipelineExpr>,
        /// Right operand.
        rhs: Box<ScalarPipelineExpr>,
    },
}

/// The right side of a [`ScalarPipelineFilter`].
#[derive(Debug, Clone, PartialEq)]
pub enum ScalarPipelineOperand {
    /// Another scalar pipeline expression.
    Expr(ScalarPipelineExpr),
    /// A folded constant.
    Static(Static),
}

/// `({ ... } | count()) > 3` as a whole query. Tempo parses these but does not run them yet.
#[derive(Debug, Clone, PartialEq)]
pub struct ScalarPipelineFilter {
    /// The comparison.
    pub op: CmpOp,
    /// Left side.
    pub lhs: ScalarPipelineExpr,
    /// Right side.
    pub rhs: ScalarPipelineOperand,
}
