//! Metrics queries: `pipeline | first stage [second stages]` and arithmetic between
//! parenthesised metrics pipelines and constants.

use super::Parser;
use super::convert::{cmp_op, contains_wrapped_metrics, is_first_stage};
use super::node::{Call, Node, NodeKind, RootOp};
use crate::ast::{
    ArithOp, MathOp, MetricsExpr, MetricsPipeline, MetricsQuery, QueryBody, ScalarSide,
    SecondStage, Static,
};
use crate::error::ParseError;

/// Either side of metrics arithmetic.
enum Operand {
    Metrics(MetricsExpr),
    /// A folded constant and where it started (for errors).
    Scalar(Static, usize),
}

fn math_op(op: RootOp) -> Option<MathOp> {
    let converted = match op {
        RootOp::Add => MathOp::Add,
        RootOp::Sub => MathOp::Sub,
        RootOp::Mul => MathOp::Mul,
        RootOp::Div => MathOp::Div,
        _ => return None,
    };
    Some(converted)
}

fn arith_of(op: MathOp) -> ArithOp {
    match op {
        MathOp::Add => ArithOp::Add,
        MathOp::Sub => ArithOp::Sub,
        MathOp::Mul => ArithOp::Mul,
        MathOp::Div => ArithOp::Div,
    }
}

/// A bare query's own second stages move to the query, so `({} | rate() | topk(1))` and
/// `{} | rate() | topk(1)` give the same tree.
fn normalize(expr: MetricsExpr, mut second_stages: Vec<SecondStage>) -> MetricsQuery {
    let MetricsExpr::Pipeline(mut pipeline) = expr else {
        return MetricsQuery {
            expr,
            second_stages,
        };
    };
    let mut own = std::mem::take(&mut pipeline.second_stages);
    own.append(&mut second_stages);
    MetricsQuery {
        expr: MetricsExpr::Pipeline(pipeline),
        second_stages: own,
    }
}

impl Parser<'_> {
    /// `stages[..index] | stages[index] stages[index+1..]` where `stages[index]` is the
    /// first-stage function.
    pub(super) fn metrics_pipeline_query(
        &self,
        stages: Vec<Node>,
        index: usize,
    ) -> Result<QueryBody, ParseError> {
        let pipeline = self.metrics_leaf(stages, index)?;
        Ok(QueryBody::Metrics(normalize(
            MetricsExpr::Pipeline(Box::new(pipeline)),
            Vec::new(),
        )))
    }

    /// Arithmetic of wrapped metrics pipelines, then second stages.
    pub(super) fn metrics_expr_query(&self, stages: Vec<Node>) -> Result<QueryBody, ParseError> {
        let mut rest = stages.into_iter();
        let Some(first) = rest.next() else {
            return Err(self.error_at(0, "expected a metrics query but found nothing"));
        };
        let (base, mut second_stages) = self.peel_filters(first)?;
        let base_start = base.start;
        let expr = match self.metrics_operand(base)? {
            Operand::Metrics(expr) => expr,
            Operand::Scalar(..) => {
                return Err(self.error_at(
                    base_start,
                    "expected a metrics query such as `({ } | rate())` but found a constant",
                ));
            }
        };
        for node in rest {
            second_stages.extend(self.second_stage(node)?);
        }
        Ok(QueryBody::Metrics(normalize(expr, second_stages)))
    }

    /// A metrics pipeline from its stages; `stages[index]` is the first-stage function.
    fn metrics_leaf(&self, stages: Vec<Node>, index: usize) -> Result<MetricsPipeline, ParseError> {
        let mut spanset_stages = stages;
        let mut rest = spanset_stages.split_off(index).into_iter();
        let Some(first_node) = rest.next() else {
            return Err(self.error_at(0, "expected a metrics function"));
        };
        if spanset_stages.is_empty() {
            return Err(self.error_at(
                first_node.start,
                format!(
                    "expected a spanset pipeline before {}, e.g. `{{ }} | rate()`",
                    self.describe(&first_node)
                ),
            ));
        }
        let pipeline = self.pipeline(spanset_stages)?;
        let (base, mut second_stages) = self.peel_filters(first_node)?;
        let NodeKind::Call(Call::FirstStage(first_stage)) = base.kind else {
            return Err(self.error_at(base.start, "expected a metrics function"));
        };
        for node in rest {
            second_stages.extend(self.second_stage(node)?);
        }
        Ok(MetricsPipeline {
            pipeline,
            first_stage,
            second_stages,
        })
    }

    /// `topk(n)` / `bottomk(n)` followed by optional comparison filters.
    fn second_stage(&self, node: Node) -> Result<Vec<SecondStage>, ParseError> {
        let (base, filters) = self.peel_filters(node)?;
        let stage = match base.kind {
            NodeKind::Call(Call::TopK(limit)) => SecondStage::TopK(limit),
            NodeKind::Call(Call::BottomK(limit)) => SecondStage::BottomK(limit),
            _ => {
                return Err(self.error_at(
                    base.start,
                    format!(
                        "expected `topk(n)` or `bottomk(n)` after a metrics function but found {}",
                        self.describe(&base)
                    ),
                ));
            }
        };
        let mut stages = vec![stage];
        stages.extend(filters);
        Ok(stages)
    }

    /// Splits `x > 1 <= 5` into `x` and the filters `> 1`, `<= 5` (in order).
    fn peel_filters(&self, node: Node) -> Result<(Node, Vec<SecondStage>), ParseError> {
        let mut filters = Vec::new();
        let mut current = node;
        loop {
            match current.kind {
                NodeKind::Binary { op, lhs, rhs, .. } if cmp_op(op).is_some() => {
                    if let Some(cmp) = cmp_op(op) {
                        let value = self.fold_constant(*rhs)?;
                        filters.push(SecondStage::Filter { op: cmp, value });
                    }
                    current = *lhs;
                }
                kind => {
                    current = Node { kind, ..current };
                    break;
                }
            }
        }
        filters.reverse();
        Ok((current, filters))
    }

    fn metrics_operand(&self, node: Node) -> Result<Operand, ParseError> {
        if !contains_wrapped_metrics(&node) {
            let start = node.start;
            return Ok(Operand::Scalar(self.fold_constant(node)?, start));
        }
        let (node_start, node_end) = (node.start, node.end);
        let describe = || self.snippet(node_start, node_end);
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
                let stages = inner.into_stages();
                let Some(index) = stages.iter().position(is_first_stage) else {
                    return Err(self.error_at(
                        node.start,
                        format!(
                            "expected a metrics pipeline such as `({{ }} | rate())` but found {}",
                            describe()
                        ),
                    ));
                };
                let leaf = self.metrics_leaf(stages, index)?;
                Ok(Operand::Metrics(MetricsExpr::Pipeline(Box::new(leaf))))
            }
            NodeKind::Paren(inner) => self.metrics_operand(*inner),
            NodeKind::Neg(_) => Err(self.error_at(
                node.start,
                format!(
                    "expected a number after unary `-` but found the metrics query {}",
                    describe()
                ),
            )),
            NodeKind::Binary {
                op,
                op_start,
                lhs,
                rhs,
            } => {
                let Some(math) = math_op(op) else {
                    return Err(self.error_at(
                        op_start,
                        format!(
                            "expected `+`, `-`, `*` or `/` between metrics queries but found `{}`",
                            op.as_str()
                        ),
                    ));
                };
                let left = self.metrics_operand(*lhs)?;
                let right = self.metrics_operand(*rhs)?;
                self.combine(math, left, right, op_start)
            }
            _ => Err(self.error_at(
                node.start,
                format!(
                    "expected a parenthesised metrics pipeline or a number but found {}",
                    describe()
                ),
            )),
        }
    }

    fn combine(
        &self,
        op: MathOp,
        left: Operand,
        right: Operand,
        op_start: usize,
    ) -> Result<Operand, ParseError> {
        match (left, right) {
            (Operand::Metrics(lhs), Operand::Metrics(rhs)) => {
                Ok(Operand::Metrics(MetricsExpr::Math {
                    op,
                    lhs: Box::new(lhs),
                    rhs: Box::new(rhs),
                }))
            }
            (Operand::Metrics(expr), Operand::Scalar(scalar, at)) => {
                let checked = self.metrics_scalar(scalar, at)?;
                Ok(Operand::Metrics(MetricsExpr::Scalar {
                    op,
                    expr: Box::new(expr),
                    scalar: checked,
                    side: ScalarSide::Right,
                }))
            }
            (Operand::Scalar(scalar, at), Operand::Metrics(expr)) => {
                let checked = self.metrics_scalar(scalar, at)?;
                Ok(Operand::Metrics(MetricsExpr::Scalar {
                    op,
                    expr: Box::new(expr),
                    scalar: checked,
                    side: ScalarSide::Left,
                }))
            }
            (Operand::Scalar(lhs, at), Operand::Scalar(rhs, _)) => {
                let folded = self.fold_arith(arith_of(op), lhs, rhs, op_start)?;
                Ok(Operand::Scalar(folded, at))
            }
        }
    }

    fn metrics_scalar(&self, scalar: Static, at: usize) -> Result<Static, ParseError> {
        if matches!(scalar, Static::Duration(_)) {
            return Err(self.error_at(
                at,
                "expected a number but found a duration: durations cannot be used as scalar operands in metrics arithmetic",
            ));
        }
        Ok(scalar)
    }
}
