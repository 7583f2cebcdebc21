//! Scalar filters, scalar pipeline filters and constant folding.
//!
//! Constant sub-expressions outside spanset filters (`1 + 2`, `-5`, `(1 / 2)`) are folded
//! at parse time with Tempo's semantics: integer arithmetic stays integer (`1/2` is 0,
//! wrapping on overflow), mixing with floats gives floats, `%` and `^` are not available,
//! durations cannot take part in arithmetic (only be negated), division by zero fails.

use super::Parser;
use super::convert::{cmp_op, contains_wrapped_aggregate};
use super::node::{Call, Node, NodeKind, RootOp};
use crate::ast::{
    ArithOp, ScalarExpr, ScalarFilter, ScalarPipeline, ScalarPipelineExpr, ScalarPipelineFilter,
    ScalarPipelineOperand, Static,
};
use crate::error::ParseError;

fn arith_op(op: RootOp) -> Option<ArithOp> {
    let converted = match op {
        RootOp::Add => ArithOp::Add,
        RootOp::Sub => ArithOp::Sub,
        RootOp::Mul => ArithOp::Mul,
        RootOp::Div => ArithOp::Div,
        RootOp::Mod => ArithOp::Mod,
        RootOp::Pow => ArithOp::Pow,
        _ => return None,
    };
    Some(converted)
}

/// Contains an aggregate call, through parentheses, `-` and arithmetic.
pub(super) fn contains_aggregate(node: &Node) -> bool {
    match &node.kind {
        NodeKind::Call(Call::Aggregate(_)) => true,
        NodeKind::Paren(inner) | NodeKind::Neg(inner) => contains_aggregate(inner),
        NodeKind::Binary { op, lhs, rhs, .. } if op.is_arithmetic() => {
            contains_aggregate(lhs) || contains_aggregate(rhs)
        }
        _ => false,
    }
}

/// The negated constant (wrapping for integers and durations, like Go).
pub(super) fn negate(value: Static) -> Static {
    match value {
        Static::Int(number) => Static::Int(number.wrapping_neg()),
        Static::Float(number) => Static::Float(-number),
        Static::Duration(duration) => Static::Duration(duration.wrapping_neg()),
        other => other,
    }
}

/// Splits a comparison node into its operator and operands.
fn comparison_parts(node: Node) -> Option<(crate::ast::CmpOp, usize, Node, Node)> {
    let NodeKind::Binary {
        op,
        op_start,
        lhs,
        rhs,
    } = node.kind
    else {
        return None;
    };
    let cmp = cmp_op(op)?;
    Some((cmp, op_start, *lhs, *rhs))
}

impl Parser<'_> {
    /// `lhs op rhs` in a pipeline stage, where one side contains an aggregate.
    pub(super) fn scalar_filter(&self, node: Node) -> Result<ScalarFilter, ParseError> {
        let start = node.start;
        let Some((op, op_start, lhs, rhs)) = comparison_parts(node) else {
            return Err(self.error_at(start, "expected a comparison"));
        };
        if !contains_aggregate(&lhs) && !contains_aggregate(&rhs) {
            return Err(self.error_at(
                op_start,
                format!(
                    "expected an aggregate such as `count()` or `avg(...)` in the comparison but found only {} and {}",
                    self.describe(&lhs),
                    self.describe(&rhs)
                ),
            ));
        }
        Ok(ScalarFilter {
            op,
            lhs: self.scalar_operand(lhs)?,
            rhs: self.scalar_operand(rhs)?,
        })
    }

    fn scalar_operand(&self, node: Node) -> Result<ScalarExpr, ParseError> {
        if !contains_aggregate(&node) {
            return Ok(ScalarExpr::Static(self.fold_constant(node)?));
        }
        let (node_start, node_end) = (node.start, node.end);
        let describe = || self.snippet(node_start, node_end);
        match node.kind {
            NodeKind::Call(Call::Aggregate(aggregate)) => Ok(ScalarExpr::Aggregate(aggregate)),
            NodeKind::Paren(inner) => self.scalar_operand(*inner),
            NodeKind::Binary { op, lhs, rhs, .. } => match arith_op(op) {
                Some(arith) => Ok(ScalarExpr::Binary {
                    op: arith,
                    lhs: Box::new(self.scalar_operand(*lhs)?),
                    rhs: Box::new(self.scalar_operand(*rhs)?),
                }),
                None => Err(self.error_at(
                    node.start,
                    format!(
                        "expected arithmetic between aggregates and numbers but found {}",
                        describe()
                    ),
                )),
            },
            _ => Err(self.error_at(
                node.start,
                format!(
                    "expected an aggregate, a number or arithmetic between them but found {}",
                    describe()
                ),
            )),
        }
    }

    /// Folds a constant expression made of numbers, durations, `-`, `( )` and `+ - * /`.
    pub(super) fn fold_constant(&self, node: Node) -> Result<Static, ParseError> {
        let (node_start, node_end) = (node.start, node.end);
        let describe = || self.snippet(node_start, node_end);
        match node.kind {
            NodeKind::Number(value) => Ok(value),
            NodeKind::Neg(inner) => Ok(negate(self.fold_constant(*inner)?)),
            NodeKind::Paren(inner) => self.fold_constant(*inner),
            NodeKind::Binary {
                op,
                op_start,
                lhs,
                rhs,
            } => {
                let arith = match arith_op(op) {
                    Some(arith @ (ArithOp::Add | ArithOp::Sub | ArithOp::Mul | ArithOp::Div)) => {
                        arith
                    }
                    Some(_) => {
                        return Err(self.error_at(
                            op_start,
                            format!(
                                "expected `+`, `-`, `*` or `/` between constants but found `{}`",
                                op.as_str()
                            ),
                        ));
                    }
                    None => {
                        return Err(self.error_at(
                            node.start,
                            format!("expected a number but found {}", describe()),
                        ));
                    }
                };
                let left = self.fold_constant(*lhs)?;
                let right = self.fold_constant(*rhs)?;
                self.fold_arith(arith, left, right, op_start)
            }
            _ => Err(self.error_at(
                node.start,
                format!("expected a number or duration but found {}", describe()),
            )),
        }
    }

    pub(super) fn fold_arith(
        &self,
        op: ArithOp,
        lhs: Static,
        rhs: Static,
        op_start: usize,
    ) -> Result<Static, ParseError> {
        if matches!(lhs, Static::Duration(_)) || matches!(rhs, Static::Duration(_)) {
            return Err(self.error_at(
                op_start,
                "expected numbers in constant arithmetic but found a duration (durations cannot be used in scalar arithmetic)",
            ));
        }
        if let (Static::Int(left), Static::Int(right)) = (&lhs, &rhs) {
            let value = match op {
                ArithOp::Add => left.wrapping_add(*right),
                ArithOp::Sub => left.wrapping_sub(*right),
                ArithOp::Mul => left.wrapping_mul(*right),
                _ if *right == 0 => {
                    return Err(
                        self.error_at(op_start, "division by zero in a constant expression")
                    );
                }
                _ => left.wrapping_div(*right),
            };
            return Ok(Static::Int(value));
        }
        let (Some(left), Some(right)) = (lhs.as_f64(), rhs.as_f64()) else {
            return Err(self.error_at(op_start, "expected numbers in constant arithmetic"));
        };
        let value = match op {
            ArithOp::Add => left + right,
            ArithOp::Sub => left - right,
            ArithOp::Mul => left * right,
            _ => left / right,
        };
        if !value.is_finite() {
            return Err(self.error_at(
                op_start,
                "constant expression is not a finite number (overflow or division by zero)",
            ));
        }
        Ok(Static::Float(value))
    }

    /// `(pipeline | aggregate) op ...` as a whole query.
    pub(super) fn scalar_pipeline_filter(
        &self,
        node: Node,
    ) -> Result<ScalarPipelineFilter, ParseError> {
        let start = node.start;
        let Some((op, _, left, right)) = comparison_parts(node) else {
            return Err(self.error_at(start, "expected a comparison"));
        };
        let lhs = self.scalar_pipeline_expr(left)?;
        let rhs = if contains_wrapped_aggregate(&right) {
            ScalarPipelineOperand::Expr(self.scalar_pipeline_expr(right)?)
        } else {
            ScalarPipelineOperand::Static(self.fold_constant(right)?)
        };
        Ok(ScalarPipelineFilter { op, lhs, rhs })
    }

    fn scalar_pipeline_expr(&self, node: Node) -> Result<ScalarPipelineExpr, ParseError> {
        let (start, end) = (node.start, node.end);
        let unexpected = || {
            self.error_at(
                start,
                format!(
                    "expected a parenthesised pipeline ending in an aggregate, e.g. `({{ }} | count())`, or arithmetic between them but found {}",
                    self.snippet(start, end)
                ),
            )
        };
        match node.kind {
            NodeKind::Paren(inner)
                if matches!(
                    inner.kind,
                    NodeKind::Binary {
                        op: RootOp::Pipe,
                        ..
                    }
                ) =>
            {
                let mut stages = inner.into_stages();
                let Some(last) = stages.pop() else {
                    return Err(unexpected());
                };
                let NodeKind::Call(Call::Aggregate(aggregate)) = last.kind else {
                    return Err(unexpected());
                };
                let pipeline = self.pipeline(stages)?;
                Ok(ScalarPipelineExpr::Pipeline(Box::new(ScalarPipeline {
                    pipeline,
                    aggregate,
                })))
            }
            NodeKind::Paren(inner) => self.scalar_pipeline_expr(*inner),
            NodeKind::Binary { op, lhs, rhs, .. } => match arith_op(op) {
                Some(arith) => Ok(ScalarPipelineExpr::Binary {
                    op: arith,
                    lhs: Box::new(self.scalar_pipeline_expr(*lhs)?),
                    rhs: Box::new(self.scalar_pipeline_expr(*rhs)?),
                }),
                None => Err(unexpected()),
            },
            _ => Err(unexpected()),
        }
    }
}
