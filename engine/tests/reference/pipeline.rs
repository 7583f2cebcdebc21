//! Spansets for the naive evaluator: spanset operators by scanning pairs of spans, and
//! pipeline stages one spanset at a time.

use vivace_engine::Value;
use vivace_traceql::{
    Aggregate, BinaryOp, Pipeline, ScalarExpr, SpansetExpr, SpansetOp, SpansetPipelineExpr, Stage,
};

use super::naive::{Set, TraceView};
use super::values::{arithmetic, as_f64, cmp_op, compare, is_number, static_value, union};

impl TraceView<'_> {
    /// The spans of `b` related to a span of `a` by a structural operator, and the spans of `a`
    /// related to them.
    pub(super) fn related(
        &self,
        op: SpansetOp,
        a: &[usize],
        b: &[usize],
    ) -> (Vec<usize>, Vec<usize>) {
        let relation = |x: usize, y: usize| -> bool {
            match op {
                SpansetOp::Child | SpansetOp::NotChild | SpansetOp::UnionChild => {
                    self.parent[y] == Some(x)
                }
                SpansetOp::Parent | SpansetOp::NotParent | SpansetOp::UnionParent => {
                    self.parent[x] == Some(y)
                }
                SpansetOp::Descendant | SpansetOp::NotDescendant | SpansetOp::UnionDescendant => {
                    self.descends(y, x)
                }
                SpansetOp::Ancestor | SpansetOp::NotAncestor | SpansetOp::UnionAncestor => {
                    self.descends(x, y)
                }
                SpansetOp::Sibling | SpansetOp::NotSibling | SpansetOp::UnionSibling => {
                    x != y && self.parent[x].is_some() && self.parent[x] == self.parent[y]
                }
                SpansetOp::And | SpansetOp::Or => unreachable!(),
            }
        };
        let related_b = b
            .iter()
            .copied()
            .filter(|y| a.iter().any(|x| relation(*x, *y)))
            .collect();
        let related_a = a
            .iter()
            .copied()
            .filter(|x| b.iter().any(|y| relation(*x, *y)))
            .collect();
        (related_b, related_a)
    }

    /// `A op B` on two (possibly absent) spansets.
    pub(super) fn combine(
        &self,
        op: SpansetOp,
        a: Option<Vec<usize>>,
        b: Option<Vec<usize>>,
    ) -> Option<Vec<usize>> {
        let result = match op {
            SpansetOp::And => union(&a?, &b?),
            SpansetOp::Or => union(&a.unwrap_or_default(), &b.unwrap_or_default()),
            _ => {
                let a = a.unwrap_or_default();
                let b = b?;
                let (related_b, related_a) = self.related(op, &a, &b);
                match op {
                    SpansetOp::NotChild
                    | SpansetOp::NotParent
                    | SpansetOp::NotDescendant
                    | SpansetOp::NotAncestor
                    | SpansetOp::NotSibling => b
                        .iter()
                        .copied()
                        .filter(|span| !related_b.contains(span))
                        .collect(),
                    SpansetOp::UnionChild
                    | SpansetOp::UnionParent
                    | SpansetOp::UnionDescendant
                    | SpansetOp::UnionAncestor
                    | SpansetOp::UnionSibling => {
                        if related_b.is_empty() {
                            Vec::new()
                        } else {
                            union(&related_a, &related_b)
                        }
                    }
                    _ => related_b,
                }
            }
        };
        (!result.is_empty()).then_some(result)
    }

    /// The spans of `input` a spanset expression selects (`None` when empty).
    pub(super) fn spanset(&self, expr: &SpansetExpr, input: &[usize]) -> Option<Vec<usize>> {
        match expr {
            SpansetExpr::Filter(filter) => {
                let rows: Vec<usize> = input
                    .iter()
                    .copied()
                    .filter(|span| {
                        filter
                            .expr
                            .as_ref()
                            .is_none_or(|expr| self.holds(*span, expr))
                    })
                    .collect();
                (!rows.is_empty()).then_some(rows)
            }
            SpansetExpr::Op { op, lhs, rhs } => {
                self.combine(*op, self.spanset(lhs, input), self.spanset(rhs, input))
            }
        }
    }

    /// The aggregate over a spanset's spans (`None`: no value).
    pub(super) fn aggregate(&self, aggregate: &Aggregate, spans: &[usize]) -> Option<Value> {
        let Some(argument) = aggregate.argument() else {
            return Some(Value::Int(spans.len() as i64));
        };
        let numbers: Vec<Value> = spans
            .iter()
            .filter_map(|span| self.values(*span, argument).into_iter().next())
            .filter(is_number)
            .collect();
        let (first, rest) = numbers.split_first()?;
        match aggregate {
            Aggregate::Count => unreachable!(),
            Aggregate::Sum(_) => rest.iter().try_fold(first.clone(), |total, next| {
                arithmetic(BinaryOp::Add, &total, next)
            }),
            Aggregate::Min(_) | Aggregate::Max(_) => {
                let better = if matches!(aggregate, Aggregate::Min(_)) {
                    BinaryOp::Lt
                } else {
                    BinaryOp::Gt
                };
                let mut best = first;
                for next in rest {
                    if compare(better, next, best) {
                        best = next;
                    }
                }
                Some(best.clone())
            }
            Aggregate::Avg(_) => {
                let mean = numbers.iter().map(as_f64).sum::<f64>() / numbers.len() as f64;
                if numbers
                    .iter()
                    .all(|number| matches!(number, Value::Duration(_)))
                {
                    Some(Value::Duration(mean as i64))
                } else {
                    Some(Value::Float(mean))
                }
            }
        }
    }

    pub(super) fn stage(&self, stage: &Stage, sets: Vec<Set>) -> Vec<Set> {
        match stage {
            Stage::Spanset(expr) => sets
                .into_iter()
                .filter_map(|(spans, attributes)| Some((self.spanset(expr, &spans)?, attributes)))
                .collect(),
            Stage::ScalarFilter(filter) => {
                let (ScalarExpr::Aggregate(aggregate), ScalarExpr::Static(bound)) =
                    (&filter.lhs, &filter.rhs)
                else {
                    panic!("validated scalar filters are aggregate against a constant");
                };
                let mut kept = Vec::new();
                for (spans, mut attributes) in sets {
                    let Some(value) = self.aggregate(aggregate, &spans) else {
                        continue;
                    };
                    if compare(cmp_op(filter.op), &value, &static_value(bound)) {
                        attributes.push((aggregate.to_string(), value));
                        kept.push((spans, attributes));
                    }
                }
                kept
            }
            Stage::GroupBy(expr) => {
                let name = format!("by({expr})");
                let mut groups = Vec::new();
                for (spans, attributes) in sets {
                    let mut keys: Vec<Option<Value>> = Vec::new();
                    let mut members: Vec<Vec<usize>> = Vec::new();
                    for span in spans {
                        let key = self.values(span, expr).into_iter().next();
                        match keys.iter().position(|existing| *existing == key) {
                            Some(position) => members[position].push(span),
                            None => {
                                keys.push(key);
                                members.push(vec![span]);
                            }
                        }
                    }
                    for (key, spans) in keys.into_iter().zip(members) {
                        let mut attributes = attributes.clone();
                        attributes.extend(key.map(|key| (name.clone(), key)));
                        groups.push((spans, attributes));
                    }
                }
                groups
            }
            Stage::Coalesce => {
                let all = sets
                    .iter()
                    .fold(Vec::new(), |all, (spans, _)| union(&all, spans));
                vec![(all, Vec::new())]
            }
            Stage::Select(_) => sets,
        }
    }

    pub(super) fn pipeline(&self, pipeline: &Pipeline, mut sets: Vec<Set>) -> Vec<Set> {
        for stage in &pipeline.stages {
            sets = self.stage(stage, sets);
            if sets.is_empty() {
                break;
            }
        }
        sets
    }

    /// A side of a pipeline expression: its spansets merged into one.
    pub(super) fn pipeline_expr(
        &self,
        expr: &SpansetPipelineExpr,
        all: &[usize],
    ) -> Option<Vec<usize>> {
        match expr {
            SpansetPipelineExpr::Pipeline(pipeline) => {
                let sets = self.pipeline(pipeline, vec![(all.to_vec(), Vec::new())]);
                let merged = sets
                    .iter()
                    .fold(Vec::new(), |merged, (spans, _)| union(&merged, spans));
                (!merged.is_empty()).then_some(merged)
            }
            SpansetPipelineExpr::Op { op, lhs, rhs } => self.combine(
                *op,
                self.pipeline_expr(lhs, all),
                self.pipeline_expr(rhs, all),
            ),
        }
    }
}
