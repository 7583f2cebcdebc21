//! Printing spanset pipelines, spanset expressions and scalar filters.

use std::fmt::{self, Display, Formatter};

use super::{ScalarLiteral, write_list};
use crate::ast::{
    Aggregate, Pipeline, ScalarExpr, ScalarFilter, ScalarPipeline, ScalarPipelineExpr,
    ScalarPipelineFilter, ScalarPipelineOperand, SpansetExpr, SpansetFilter, SpansetOp,
    SpansetPipelineExpr, Stage,
};

const ATOM: u8 = 10;

impl Display for Pipeline {
    fn fmt(&self, f: &mut Formatter<'_>) -> fmt::Result {
        for (index, stage) in self.stages.iter().enumerate() {
            if index > 0 {
                f.write_str(" | ")?;
            }
            write!(f, "{stage}")?;
        }
        Ok(())
    }
}

impl Display for Stage {
    fn fmt(&self, f: &mut Formatter<'_>) -> fmt::Result {
        match self {
            Self::Spanset(expr) => write!(f, "{expr}"),
            Self::ScalarFilter(filter) => write!(f, "{filter}"),
            Self::GroupBy(expr) => write!(f, "by({expr})"),
            Self::Coalesce => f.write_str("coalesce()"),
            Self::Select(attributes) => {
                f.write_str("select(")?;
                write_list(f, attributes)?;
                f.write_str(")")
            }
        }
    }
}

impl Display for SpansetFilter {
    fn fmt(&self, f: &mut Formatter<'_>) -> fmt::Result {
        match &self.expr {
            Some(expr) => write!(f, "{{ {expr} }}"),
            None => f.write_str("{}"),
        }
    }
}

/// Writes `lhs op rhs` for left-associative operators, parenthesising operands that bind
/// looser than `level` (or equally, on the right).
fn write_left_assoc(
    f: &mut Formatter<'_>,
    (lhs, lhs_level): (&dyn Display, u8),
    op: &str,
    (rhs, rhs_level): (&dyn Display, u8),
    level: u8,
) -> fmt::Result {
    if lhs_level < level {
        write!(f, "({lhs})")?;
    } else {
        write!(f, "{lhs}")?;
    }
    write!(f, " {op} ")?;
    if rhs_level <= level {
        return write!(f, "({rhs})");
    }
    write!(f, "{rhs}")
}

fn spanset_level(expr: &SpansetExpr) -> u8 {
    match expr {
        SpansetExpr::Filter(_) => ATOM,
        SpansetExpr::Op { op, .. } => op.precedence(),
    }
}

impl Display for SpansetExpr {
    fn fmt(&self, f: &mut Formatter<'_>) -> fmt::Result {
        match self {
            Self::Filter(filter) => write!(f, "{filter}"),
            Self::Op { op, lhs, rhs } => write_spanset_op(
                f,
                (lhs.as_ref(), spanset_level(lhs)),
                *op,
                (rhs.as_ref(), spanset_level(rhs)),
            ),
        }
    }
}

fn write_spanset_op(
    f: &mut Formatter<'_>,
    lhs: (&dyn Display, u8),
    op: SpansetOp,
    rhs: (&dyn Display, u8),
) -> fmt::Result {
    write_left_assoc(f, lhs, op.as_str(), rhs, op.precedence())
}

fn pipeline_expr_level(expr: &SpansetPipelineExpr) -> u8 {
    match expr {
        SpansetPipelineExpr::Pipeline(_) => ATOM,
        SpansetPipelineExpr::Op { op, .. } => op.precedence(),
    }
}

/// Pipelines are always written in parentheses here.
impl Display for SpansetPipelineExpr {
    fn fmt(&self, f: &mut Formatter<'_>) -> fmt::Result {
        match self {
            Self::Pipeline(pipeline) => write!(f, "({pipeline})"),
            Self::Op { op, lhs, rhs } => write_spanset_op(
                f,
                (lhs.as_ref(), pipeline_expr_level(lhs)),
                *op,
                (rhs.as_ref(), pipeline_expr_level(rhs)),
            ),
        }
    }
}

impl Display for Aggregate {
    fn fmt(&self, f: &mut Formatter<'_>) -> fmt::Result {
        match self.argument() {
            Some(expr) => write!(f, "{}({expr})", self.name()),
            None => write!(f, "{}()", self.name()),
        }
    }
}

impl Display for ScalarFilter {
    fn fmt(&self, f: &mut Formatter<'_>) -> fmt::Result {
        write!(f, "{} {} {}", self.lhs, self.op.as_str(), self.rhs)
    }
}

fn scalar_level(expr: &ScalarExpr) -> u8 {
    match expr {
        ScalarExpr::Aggregate(_) | ScalarExpr::Static(_) => ATOM,
        ScalarExpr::Binary { op, .. } => op.precedence(),
    }
}

/// Writes an arithmetic operation; `^` groups to the right, everything else to the left.
fn write_arith(
    f: &mut Formatter<'_>,
    lhs: (&dyn Display, u8),
    op: crate::ast::ArithOp,
    rhs: (&dyn Display, u8),
) -> fmt::Result {
    let level = op.precedence();
    if op != crate::ast::ArithOp::Pow {
        return write_left_assoc(f, lhs, op.as_str(), rhs, level);
    }
    if lhs.1 <= level {
        write!(f, "({})", lhs.0)?;
    } else {
        write!(f, "{}", lhs.0)?;
    }
    write!(f, " ^ ")?;
    if rhs.1 < level {
        return write!(f, "({})", rhs.0);
    }
    write!(f, "{}", rhs.0)
}

impl Display for ScalarExpr {
    fn fmt(&self, f: &mut Formatter<'_>) -> fmt::Result {
        match self {
            Self::Aggregate(aggregate) => write!(f, "{aggregate}"),
            Self::Static(value) => write!(f, "{}", ScalarLiteral(value)),
            Self::Binary { op, lhs, rhs } => write_arith(
                f,
                (lhs.as_ref(), scalar_level(lhs)),
                *op,
                (rhs.as_ref(), scalar_level(rhs)),
            ),
        }
    }
}

impl Display for ScalarPipeline {
    fn fmt(&self, f: &mut Formatter<'_>) -> fmt::Result {
        write!(f, "({} | {})", self.pipeline, self.aggregate)
    }
}

fn scalar_pipeline_level(expr: &ScalarPipelineExpr) -> u8 {
    match expr {
        ScalarPipelineExpr::Pipeline(_) => ATOM,
        ScalarPipelineExpr::Binary { op, .. } => op.precedence(),
    }
}

impl Display for ScalarPipelineExpr {
    fn fmt(&self, f: &mut Formatter<'_>) -> fmt::Result {
        match self {
            Self::Pipeline(pipeline) => write!(f, "{pipeline}"),
            Self::Binary { op, lhs, rhs } => write_arith(
                f,
                (lhs.as_ref(), scalar_pipeline_level(lhs)),
                *op,
                (rhs.as_ref(), scalar_pipeline_level(rhs)),
            ),
        }
    }
}

impl Display for ScalarPipelineOperand {
    fn fmt(&self, f: &mut Formatter<'_>) -> fmt::Result {
        match self {
            Self::Expr(expr) => write!(f, "{expr}"),
            Self::Static(value) => write!(f, "{}", ScalarLiteral(value)),
        }
    }
}

impl Display for ScalarPipelineFilter {
    fn fmt(&self, f: &mut Formatter<'_>) -> fmt::Result {
        write!(f, "{} {} {}", self.lhs, self.op.as_str(), self.rhs)
    }
}
