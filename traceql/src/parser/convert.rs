//! Checks the operator tree against the grammar and builds the typed AST: query kinds,
//! spanset pipelines, spanset expressions and pipeline expressions.

use super::Parser;
use super::node::{Call, Node, NodeKind, RootOp};
use super::scalar::contains_aggregate;
use crate::ast::{CmpOp, Pipeline, QueryBody, SpansetExpr, SpansetOp, SpansetPipelineExpr, Stage};
use crate::error::ParseError;

pub(super) fn spanset_op(op: RootOp) -> Option<SpansetOp> {
    let converted = match op {
        RootOp::And => SpansetOp::And,
        RootOp::Or => SpansetOp::Or,
        RootOp::Gt => SpansetOp::Child,
        RootOp::Lt => SpansetOp::Parent,
        RootOp::Desc => SpansetOp::Descendant,
        RootOp::Ance => SpansetOp::Ancestor,
        RootOp::Sibling => SpansetOp::Sibling,
        RootOp::NotChild => SpansetOp::NotChild,
        RootOp::NotParent => SpansetOp::NotParent,
        RootOp::NotDesc => SpansetOp::NotDescendant,
        RootOp::NotAnce => SpansetOp::NotAncestor,
        RootOp::Nre => SpansetOp::NotSibling,
        RootOp::UnionChild => SpansetOp::UnionChild,
        RootOp::UnionParent => SpansetOp::UnionParent,
        RootOp::UnionDesc => SpansetOp::UnionDescendant,
        RootOp::UnionAnce => SpansetOp::UnionAncestor,
        RootOp::UnionSibling => SpansetOp::UnionSibling,
        _ => return None,
    };
    Some(converted)
}

pub(super) fn cmp_op(op: RootOp) -> Option<CmpOp> {
    let converted = match op {
        RootOp::Eq => CmpOp::Eq,
        RootOp::Neq => CmpOp::Neq,
        RootOp::Gt => CmpOp::Gt,
        RootOp::Gte => CmpOp::Gte,
        RootOp::Lt => CmpOp::Lt,
        RootOp::Lte => CmpOp::Lte,
        _ => return None,
    };
    Some(converted)
}

// ---- shape predicates (non-consuming) ---------------------------------------------------

/// The stages of a pipe chain, without consuming it.
pub(super) fn pipe_stages(node: &Node) -> Vec<&Node> {
    let mut stages = Vec::new();
    let mut current = node;
    while let NodeKind::Binary {
        op: RootOp::Pipe,
        lhs,
        rhs,
        ..
    } = &current.kind
    {
        stages.push(rhs.as_ref());
        current = lhs;
    }
    stages.push(current);
    stages.reverse();
    stages
}

fn is_pipe(node: &Node) -> bool {
    matches!(
        node.kind,
        NodeKind::Binary {
            op: RootOp::Pipe,
            ..
        }
    )
}

/// Strips trailing comparisons (`rate() > 1 < 5` -> `rate()`).
fn peel_base(node: &Node) -> &Node {
    let mut current = node;
    while let NodeKind::Binary { op, lhs, .. } = &current.kind {
        if !op.is_comparison() {
            break;
        }
        current = lhs;
    }
    current
}

/// A metrics first-stage call, possibly followed by comparison filters.
pub(super) fn is_first_stage(node: &Node) -> bool {
    matches!(peel_base(node).kind, NodeKind::Call(Call::FirstStage(_)))
}

/// Contains `( pipeline | metrics function ... )` outside of spanset filters.
pub(super) fn contains_wrapped_metrics(node: &Node) -> bool {
    match &node.kind {
        NodeKind::Paren(inner) if is_pipe(inner) => {
            pipe_stages(inner).into_iter().any(is_first_stage)
        }
        NodeKind::Paren(inner) | NodeKind::Neg(inner) => contains_wrapped_metrics(inner),
        NodeKind::Binary { lhs, rhs, .. } => {
            contains_wrapped_metrics(lhs) || contains_wrapped_metrics(rhs)
        }
        _ => false,
    }
}

/// Contains `( pipeline | aggregate )`, possibly inside arithmetic.
pub(super) fn contains_wrapped_aggregate(node: &Node) -> bool {
    match &node.kind {
        NodeKind::Paren(inner) if is_pipe(inner) => {
            let stages = pipe_stages(inner);
            stages
                .last()
                .is_some_and(|last| matches!(last.kind, NodeKind::Call(Call::Aggregate(_))))
        }
        NodeKind::Paren(inner) => contains_wrapped_aggregate(inner),
        NodeKind::Binary { op, lhs, rhs, .. } if op.is_arithmetic() => {
            contains_wrapped_aggregate(lhs) || contains_wrapped_aggregate(rhs)
        }
        _ => false,
    }
}

/// Aggregates, numbers and arithmetic: the operands of a scalar filter.
fn looks_scalar(node: &Node) -> bool {
    match &node.kind {
        NodeKind::Call(Call::Aggregate(_)) | NodeKind::Number(_) | NodeKind::Neg(_) => true,
        NodeKind::Binary { op, .. } => op.is_arithmetic(),
        NodeKind::Paren(inner) => looks_scalar(inner),
        _ => false,
    }
}

/// A comparison that is a scalar filter rather than a structural spanset operator.
fn is_scalar_comparison(node: &Node) -> bool {
    match &node.kind {
        NodeKind::Binary { op, lhs, rhs, .. } => {
            op.is_comparison() && (looks_scalar(lhs) || looks_scalar(rhs))
        }
        _ => false,
    }
}

fn is_spanset_binary(node: &Node) -> bool {
    match &node.kind {
        NodeKind::Binary { op, .. } => spanset_op(*op).is_some() && !is_scalar_comparison(node),
        _ => false,
    }
}

/// Whether a top-level stage combines wrapped pipelines rather than plain spanset filters.
fn needs_pipeline_expr(node: &Node) -> bool {
    match &node.kind {
        NodeKind::Paren(inner) => match &inner.kind {
            NodeKind::Filter(_) => false,
            NodeKind::Paren(_) => needs_pipeline_expr(inner),
            _ if is_pipe(inner) => true,
            _ if is_spanset_binary(inner) => needs_pipeline_expr(inner),
            _ => true,
        },
        NodeKind::Binary { lhs, rhs, .. } if is_spanset_binary(node) => {
            needs_pipeline_expr(lhs) || needs_pipeline_expr(rhs)
        }
        _ => false,
    }
}

/// Filters, parentheses and spanset operators only.
fn is_pure_spanset(node: &Node) -> bool {
    match &node.kind {
        NodeKind::Filter(_) => true,
        NodeKind::Paren(inner) => is_pure_spanset(inner),
        NodeKind::Binary { lhs, rhs, .. } if is_spanset_binary(node) => {
            is_pure_spanset(lhs) && is_pure_spanset(rhs)
        }
        _ => false,
    }
}

/// The first call matching `wanted` reachable without entering parentheses.
fn find_call<'n>(node: &'n Node, wanted: &dyn Fn(&Call) -> bool) -> Option<&'n Node> {
    match &node.kind {
        NodeKind::Call(call) if wanted(call) => Some(node),
        NodeKind::Binary { lhs, rhs, .. } => {
            find_call(lhs, wanted).or_else(|| find_call(rhs, wanted))
        }
        NodeKind::Neg(inner) => find_call(inner, wanted),
        _ => None,
    }
}

// ---- conversions ------------------------------------------------------------------------

impl Parser<'_> {
    pub(super) fn describe(&self, node: &Node) -> String {
        self.snippet(node.start, node.end)
    }

    /// Classifies the whole query.
    pub(super) fn convert_query(&self, root: Node) -> Result<QueryBody, ParseError> {
        let mut stages = root.into_stages();
        if let Some(index) = stages.iter().position(is_first_stage) {
            return self.metrics_pipeline_query(stages, index);
        }
        if stages.first().is_some_and(contains_wrapped_metrics) {
            return self.metrics_expr_query(stages);
        }
        if stages.len() > 1 {
            return Ok(QueryBody::Pipeline(self.pipeline(stages)?));
        }
        let Some(only) = stages.pop() else {
            return Err(self.error_at(0, "expected a query but found nothing"));
        };
        if let NodeKind::Binary { op, lhs, .. } = &only.kind
            && op.is_comparison()
            && contains_wrapped_aggregate(lhs)
        {
            return Ok(QueryBody::ScalarPipelineFilter(
                self.scalar_pipeline_filter(only)?,
            ));
        }
        if contains_wrapped_aggregate(&only) {
            return Err(self.error_at(
                only.start,
                format!(
                    "expected a comparison such as `({{ }} | count()) > 1` but found {} without one",
                    self.describe(&only)
                ),
            ));
        }
        if needs_pipeline_expr(&only) {
            return match self.pipeline_expr(only)? {
                SpansetPipelineExpr::Pipeline(pipeline) => Ok(QueryBody::Pipeline(pipeline)),
                expr => Ok(QueryBody::PipelineExpr(expr)),
            };
        }
        let stage = self.stage(only, true)?;
        Ok(QueryBody::Pipeline(Pipeline {
            stages: vec![stage],
        }))
    }

    pub(super) fn pipeline(&self, stages: Vec<Node>) -> Result<Pipeline, ParseError> {
        let mut converted = Vec::with_capacity(stages.len());
        for (index, node) in stages.into_iter().enumerate() {
            converted.push(self.stage(node, index == 0)?);
        }
        Ok(Pipeline { stages: converted })
    }

    fn stage(&self, node: Node, first: bool) -> Result<Stage, ParseError> {
        if let Some(call) = find_call(&node, &|call| {
            matches!(call, Call::FirstStage(_) | Call::TopK(_) | Call::BottomK(_))
        }) {
            return Err(self.error_at(
                call.start,
                format!(
                    "expected a spanset filter, scalar filter, `by()`, `select()` or `coalesce()` but found {}; metrics functions end a pipeline (`{{ }} | rate()`), `topk`/`bottomk` follow them, and arithmetic needs parentheses (`({{ }} | rate()) * 2`)",
                    self.describe(call)
                ),
            ));
        }
        let start = node.start;
        match node.kind {
            NodeKind::Call(Call::By(expr)) => Ok(Stage::GroupBy(expr)),
            NodeKind::Call(Call::Select(attributes)) => Ok(Stage::Select(attributes)),
            NodeKind::Call(Call::Coalesce) if first => Err(self.error_at(
                start,
                "expected a spanset filter, scalar filter, `by()` or `select()` to start the pipeline but found `coalesce()`",
            )),
            NodeKind::Call(Call::Coalesce) => Ok(Stage::Coalesce),
            NodeKind::Call(Call::Aggregate(aggregate)) => Err(self.error_at(
                start,
                format!(
                    "expected a comparison after `{aggregate}` (e.g. `{aggregate} > 1`) but found the aggregate alone"
                ),
            )),
            kind => {
                let rebuilt = Node { kind, ..node };
                if is_scalar_comparison(&rebuilt) {
                    return Ok(Stage::ScalarFilter(self.scalar_filter(rebuilt)?));
                }
                if looks_scalar(&rebuilt) {
                    return Err(self.bare_scalar(&rebuilt));
                }
                Ok(Stage::Spanset(self.spanset_expr(rebuilt)?))
            }
        }
    }

    /// Error for arithmetic that is not compared with anything.
    fn bare_scalar(&self, node: &Node) -> ParseError {
        let description = self.describe(node);
        if contains_aggregate(node) {
            return self.error_at(
                node.start,
                format!(
                    "expected a comparison after the scalar expression {description}, e.g. `count() > 1`"
                ),
            );
        }
        self.error_at(
            node.start,
            format!(
                "expected a spanset filter, a scalar filter such as `count() > 1`, `by()`, `select()` or `coalesce()` but found the constant expression {description}"
            ),
        )
    }

    fn spanset_expr(&self, node: Node) -> Result<SpansetExpr, ParseError> {
        let (node_start, node_end) = (node.start, node.end);
        let describe = || self.snippet(node_start, node_end);
        match node.kind {
            NodeKind::Filter(filter) => Ok(SpansetExpr::Filter(filter)),
            NodeKind::Paren(inner) if is_pipe(&inner) => Err(self.error_at(
                node.start,
                format!(
                    "expected a spanset expression but found the parenthesised pipeline {}; pipelines can only be combined at the top level, e.g. `({{ a }} | count() > 1) && ({{ b }})`",
                    describe()
                ),
            )),
            NodeKind::Paren(inner) => self.spanset_expr(*inner),
            NodeKind::Binary {
                op,
                op_start,
                lhs,
                rhs,
            } => {
                let Some(spanset) = spanset_op(op) else {
                    return Err(self.error_at(
                        op_start,
                        format!(
                            "expected a spanset operator (`&&`, `||`, `>`, `<`, `>>`, `<<`, `~`, `!>`, `&>`, ...) between spansets but found `{}`",
                            op.as_str()
                        ),
                    ));
                };
                Ok(SpansetExpr::Op {
                    op: spanset,
                    lhs: Box::new(self.spanset_expr(*lhs)?),
                    rhs: Box::new(self.spanset_expr(*rhs)?),
                })
            }
            _ => Err(self.error_at(
                node.start,
                format!("expected a spanset filter `{{ ... }}` but found {}", describe()),
            )),
        }
    }

    /// Spanset operators between parenthesised pipelines. Sub-trees made only of filters are
    /// folded into a single spanset expression, so equal queries get equal trees.
    fn pipeline_expr(&self, node: Node) -> Result<SpansetPipelineExpr, ParseError> {
        let (node_start, node_end) = (node.start, node.end);
        let describe = || self.snippet(node_start, node_end);
        match node.kind {
            NodeKind::Paren(inner) => self.pipeline_operand(*inner),
            NodeKind::Binary {
                op,
                lhs,
                rhs,
                op_start,
            } => {
                let Some(spanset) = spanset_op(op) else {
                    return Err(self.error_at(
                        op_start,
                        format!(
                            "expected a spanset operator between parenthesised pipelines but found `{}`",
                            op.as_str()
                        ),
                    ));
                };
                let left = self.pipeline_expr(*lhs)?;
                let right = self.pipeline_expr(*rhs)?;
                Ok(merge_pipeline_exprs(spanset, left, right))
            }
            _ => Err(self.error_at(
                node.start,
                format!(
                    "expected a parenthesised pipeline `( ... )` but found {}",
                    describe()
                ),
            )),
        }
    }

    /// The contents of `( ... )` in a pipeline expression.
    fn pipeline_operand(&self, inner: Node) -> Result<SpansetPipelineExpr, ParseError> {
        if let NodeKind::Paren(_) = inner.kind {
            return self.pipeline_expr(inner);
        }
        if is_pure_spanset(&inner) {
            let expr = self.spanset_expr(inner)?;
            return Ok(SpansetPipelineExpr::Pipeline(Pipeline {
                stages: vec![Stage::Spanset(expr)],
            }));
        }
        if is_spanset_binary(&inner) {
            return self.pipeline_expr(inner);
        }
        Ok(SpansetPipelineExpr::Pipeline(
            self.pipeline(inner.into_stages())?,
        ))
    }
}

/// `op` applied to two pipeline expressions; two single-filter-expression pipelines merge.
fn merge_pipeline_exprs(
    op: SpansetOp,
    lhs: SpansetPipelineExpr,
    rhs: SpansetPipelineExpr,
) -> SpansetPipelineExpr {
    match (into_single_spanset(lhs), into_single_spanset(rhs)) {
        (Ok(left), Ok(right)) => SpansetPipelineExpr::Pipeline(Pipeline {
            stages: vec![Stage::Spanset(SpansetExpr::Op {
                op,
                lhs: Box::new(left),
                rhs: Box::new(right),
            })],
        }),
        (left, right) => SpansetPipelineExpr::Op {
            op,
            lhs: Box::new(back_to_pipeline_expr(left)),
            rhs: Box::new(back_to_pipeline_expr(right)),
        },
    }
}

/// The spanset expression of a pipeline made of exactly one spanset stage.
fn into_single_spanset(expr: SpansetPipelineExpr) -> Result<SpansetExpr, SpansetPipelineExpr> {
    let SpansetPipelineExpr::Pipeline(pipeline) = expr else {
        return Err(expr);
    };
    let mut stages = pipeline.stages;
    if stages.len() != 1 {
        return Err(SpansetPipelineExpr::Pipeline(Pipeline { stages }));
    }
    match stages.pop() {
        Some(Stage::Spanset(spanset)) => Ok(spanset),
        other => Err(SpansetPipelineExpr::Pipeline(Pipeline {
            stages: other.into_iter().collect(),
        })),
    }
}

fn back_to_pipeline_expr(
    converted: Result<SpansetExpr, SpansetPipelineExpr>,
) -> SpansetPipelineExpr {
    match converted {
        Ok(spanset) => SpansetPipelineExpr::Pipeline(Pipeline {
            stages: vec![Stage::Spanset(spanset)],
        }),
        Err(expr) => expr,
    }
}
