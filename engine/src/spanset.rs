//! Spansets per trace: filter masks computed once per batch, then each trace's rows are combined
//! by spanset operators and pipeline stages.

use std::collections::HashMap;

use arrow_array::cast::AsArray;
use arrow_array::{Array, BooleanArray, FixedSizeBinaryArray, RecordBatch};
use vivace_storage::block::search_schema as columns;
use vivace_traceql::{
    Aggregate, FieldExpr, Pipeline, QueryBody, ScalarExpr, SpansetExpr, SpansetFilter, SpansetOp,
    SpansetPipelineExpr, Stage,
};

use crate::arith::{Number, apply, compare_numbers, static_number};
use crate::compile::CompiledQuery;
use crate::error::EngineError;
use crate::eval::FieldEval;
use crate::extract::BatchView;
use crate::relate::{NestedSets, combine, union};
use crate::result::{TraceMatch, Value};
use crate::trace_result::{ResultBuilder, value_at};
use crate::values::Values;

/// How results are cut.
#[derive(Debug, Clone, Copy)]
pub struct EvalOptions {
    /// Spans kept per spanset (`matched` still counts them all).
    pub spans_per_spanset: usize,
}

impl Default for EvalOptions {
    fn default() -> Self {
        EvalOptions {
            spans_per_spanset: 3,
        }
    }
}

/// A spanset being evaluated: its rows (ascending) and its attributes so far.
#[derive(Debug, Clone)]
struct Set {
    rows: Vec<u32>,
    attributes: Vec<(String, Value)>,
}

/// Per-batch state: filter masks and per-row operand values, computed once.
struct BatchContext<'a> {
    masks: HashMap<*const SpansetFilter, BooleanArray>,
    operands: HashMap<*const FieldExpr, Values>,
    nested: Option<NestedSets<'a>>,
}

fn collect_filters<'q>(expr: &'q SpansetExpr, out: &mut Vec<&'q SpansetFilter>) {
    match expr {
        SpansetExpr::Filter(filter) => out.push(filter),
        SpansetExpr::Op { lhs, rhs, .. } => {
            collect_filters(lhs, out);
            collect_filters(rhs, out);
        }
    }
}

fn collect_pipeline<'q>(
    pipeline: &'q Pipeline,
    filters: &mut Vec<&'q SpansetFilter>,
    operands: &mut Vec<&'q FieldExpr>,
) {
    for stage in &pipeline.stages {
        match stage {
            Stage::Spanset(expr) => collect_filters(expr, filters),
            Stage::ScalarFilter(filter) => {
                for side in [&filter.lhs, &filter.rhs] {
                    if let ScalarExpr::Aggregate(aggregate) = side
                        && let Some(argument) = aggregate.argument()
                    {
                        operands.push(argument);
                    }
                }
            }
            Stage::GroupBy(expr) => operands.push(expr),
            Stage::Coalesce | Stage::Select(_) => {}
        }
    }
}

fn collect_pipeline_expr<'q>(
    expr: &'q SpansetPipelineExpr,
    filters: &mut Vec<&'q SpansetFilter>,
    operands: &mut Vec<&'q FieldExpr>,
) {
    match expr {
        SpansetPipelineExpr::Pipeline(pipeline) => collect_pipeline(pipeline, filters, operands),
        SpansetPipelineExpr::Op { lhs, rhs, .. } => {
            collect_pipeline_expr(lhs, filters, operands);
            collect_pipeline_expr(rhs, filters, operands);
        }
    }
}

impl<'a> BatchContext<'a> {
    fn new(query: &CompiledQuery, view: BatchView<'a>) -> Result<Self, EngineError> {
        let mut filters = Vec::new();
        let mut operand_exprs = Vec::new();
        match &query.query.body {
            QueryBody::Pipeline(pipeline) => {
                collect_pipeline(pipeline, &mut filters, &mut operand_exprs)
            }
            QueryBody::PipelineExpr(expr) => {
                collect_pipeline_expr(expr, &mut filters, &mut operand_exprs)
            }
            QueryBody::ScalarPipelineFilter(_) | QueryBody::Metrics(_) => {
                return Err(EngineError::Unsupported(
                    "this query shape in search".to_owned(),
                ));
            }
        }
        let evaluator = FieldEval {
            view,
            regexes: &query.regexes,
        };
        let mut masks = HashMap::new();
        for filter in filters {
            let mask = match &filter.expr {
                Some(expr) => evaluator.mask(expr)?,
                None => crate::values::constant_mask(view.rows(), true),
            };
            masks.insert(filter as *const SpansetFilter, mask);
        }
        let mut operands = HashMap::new();
        for expr in operand_exprs {
            let values = match evaluator.eval(expr)? {
                crate::eval::Evaluated::Values(values) => values.first_per_row()?,
                crate::eval::Evaluated::Mask(mask) => Values::per_row(
                    view.rows(),
                    crate::values::Slot::Bool,
                    std::sync::Arc::new(mask),
                ),
                crate::eval::Evaluated::Static(_) => Values::empty(view.rows()),
            };
            operands.insert(expr as *const FieldExpr, values);
        }
        let nested = if query.structural() {
            Some(NestedSets {
                left: view.i32s(columns::NESTED_SET_LEFT)?,
                right: view.i32s(columns::NESTED_SET_RIGHT)?,
                parent: view.i32s(columns::NESTED_SET_PARENT)?,
            })
        } else {
            None
        };
        Ok(BatchContext {
            masks,
            operands,
            nested,
        })
    }

    fn mask(&self, filter: &SpansetFilter) -> Result<&BooleanArray, EngineError> {
        self.masks
            .get(&(filter as *const SpansetFilter))
            .ok_or_else(|| EngineError::Unsupported("a filter outside the plan".to_owned()))
    }

    fn operand(&self, expr: &FieldExpr) -> Result<&Values, EngineError> {
        self.operands
            .get(&(expr as *const FieldExpr))
            .ok_or_else(|| EngineError::Unsupported("an operand outside the plan".to_owned()))
    }

    fn nested(&self) -> Result<&NestedSets<'a>, EngineError> {
        self.nested
            .as_ref()
            .ok_or_else(|| EngineError::Column(columns::NESTED_SET_LEFT.to_owned()))
    }

    /// The rows of `input` a spanset expression selects, `None` when empty.
    fn spanset_expr(
        &self,
        expr: &SpansetExpr,
        input: &[u32],
    ) -> Result<Option<Vec<u32>>, EngineError> {
        match expr {
            SpansetExpr::Filter(filter) => {
                let mask = self.mask(filter)?;
                let rows: Vec<u32> = input
                    .iter()
                    .copied()
                    .filter(|row| mask.value(*row as usize))
                    .collect();
                Ok((!rows.is_empty()).then_some(rows))
            }
            SpansetExpr::Op { op, lhs, rhs } => {
                let left = self.spanset_expr(lhs, input)?;
                if left.is_none() && matches!(op, SpansetOp::And) {
                    return Ok(None);
                }
                let right = self.spanset_expr(rhs, input)?;
                self.combine(*op, left, right)
            }
        }
    }

    fn combine(
        &self,
        op: SpansetOp,
        left: Option<Vec<u32>>,
        right: Option<Vec<u32>>,
    ) -> Result<Option<Vec<u32>>, EngineError> {
        if matches!(op, SpansetOp::And | SpansetOp::Or) {
            return Ok(combine(op, None, left, right));
        }
        Ok(combine(op, Some(self.nested()?), left, right))
    }

    fn pipeline(&self, pipeline: &Pipeline, input: Vec<Set>) -> Result<Vec<Set>, EngineError> {
        let mut sets = input;
        for stage in &pipeline.stages {
            if sets.is_empty() {
                break;
            }
            sets = self.stage(stage, sets)?;
        }
        Ok(sets)
    }

    fn stage(&self, stage: &Stage, sets: Vec<Set>) -> Result<Vec<Set>, EngineError> {
        match stage {
            Stage::Spanset(expr) => {
                let mut kept = Vec::with_capacity(sets.len());
                for set in sets {
                    if let Some(rows) = self.spanset_expr(expr, &set.rows)? {
                        kept.push(Set {
                            rows,
                            attributes: set.attributes,
                        });
                    }
                }
                Ok(kept)
            }
            Stage::ScalarFilter(filter) => {
                let (ScalarExpr::Aggregate(aggregate), ScalarExpr::Static(bound)) =
                    (&filter.lhs, &filter.rhs)
                else {
                    return Err(EngineError::Unsupported(
                        "scalar filters other than aggregate against a constant".to_owned(),
                    ));
                };
                let Some(bound) = static_number(bound) else {
                    return Ok(Vec::new());
                };
                let op = filter.op.as_binary();
                let mut kept = Vec::with_capacity(sets.len());
                for mut set in sets {
                    let Some(value) = self.aggregate(aggregate, &set.rows)? else {
                        continue;
                    };
                    if compare_numbers(op, value, bound) {
                        set.attributes
                            .push((aggregate.to_string(), number_value(value)));
                        kept.push(set);
                    }
                }
                Ok(kept)
            }
            Stage::GroupBy(expr) => {
                let values = self.operand(expr)?;
                let name = format!("by({expr})");
                let mut groups: Vec<Set> = Vec::new();
                for set in sets {
                    let mut keys: Vec<Option<Value>> = Vec::new();
                    let mut members: Vec<Vec<u32>> = Vec::new();
                    for row in &set.rows {
                        let key = value_at(values, *row as usize);
                        match keys.iter().position(|existing| same_key(existing, &key)) {
                            Some(index) => members[index].push(*row),
                            None => {
                                keys.push(key);
                                members.push(vec![*row]);
                            }
                        }
                    }
                    for (key, rows) in keys.into_iter().zip(members) {
                        let mut attributes = set.attributes.clone();
                        if let Some(key) = key {
                            attributes.push((name.clone(), key));
                        }
                        groups.push(Set { rows, attributes });
                    }
                }
                Ok(groups)
            }
            Stage::Coalesce => {
                let mut rows = Vec::new();
                for set in sets {
                    rows = union(&rows, &set.rows);
                }
                Ok(vec![Set {
                    rows,
                    attributes: Vec::new(),
                }])
            }
            Stage::Select(_) => Ok(sets),
        }
    }

    fn aggregate(
        &self,
        aggregate: &Aggregate,
        rows: &[u32],
    ) -> Result<Option<Number>, EngineError> {
        let Some(argument) = aggregate.argument() else {
            return Ok(Some(Number::Int(rows.len() as i64)));
        };
        let values = self.operand(argument)?;
        let numbers: Vec<Number> = rows
            .iter()
            .filter_map(|row| crate::arith::number_of(values, *row as usize))
            .collect();
        let Some(first) = numbers.first().copied() else {
            return Ok(None);
        };
        let result = match aggregate {
            Aggregate::Count => Some(Number::Int(rows.len() as i64)),
            Aggregate::Sum(_) => numbers[1..].iter().try_fold(first, |total, next| {
                apply(vivace_traceql::BinaryOp::Add, total, *next)
            }),
            Aggregate::Min(_) => Some(numbers[1..].iter().fold(first, |best, next| {
                if compare_numbers(vivace_traceql::BinaryOp::Lt, *next, best) {
                    *next
                } else {
                    best
                }
            })),
            Aggregate::Max(_) => Some(numbers[1..].iter().fold(first, |best, next| {
                if compare_numbers(vivace_traceql::BinaryOp::Gt, *next, best) {
                    *next
                } else {
                    best
                }
            })),
            Aggregate::Avg(_) => {
                let total: f64 = numbers.iter().map(|number| number.as_f64()).sum();
                let mean = total / numbers.len() as f64;
                let all_durations = numbers
                    .iter()
                    .all(|number| matches!(number, Number::Duration(_)));
                Some(if all_durations {
                    Number::Duration(mean as i64)
                } else {
                    Number::Float(mean)
                })
            }
        };
        Ok(result)
    }

    fn pipeline_expr(
        &self,
        expr: &SpansetPipelineExpr,
        input: &[u32],
    ) -> Result<Vec<Set>, EngineError> {
        match expr {
            SpansetPipelineExpr::Pipeline(pipeline) => self.pipeline(pipeline, start_sets(input)),
            SpansetPipelineExpr::Op { op, lhs, rhs } => {
                let merged = |sets: Vec<Set>| -> Option<Vec<u32>> {
                    let rows = sets
                        .iter()
                        .fold(Vec::new(), |all, set| union(&all, &set.rows));
                    (!rows.is_empty()).then_some(rows)
                };
                let left = merged(self.pipeline_expr(lhs, input)?);
                if left.is_none() && matches!(op, SpansetOp::And) {
                    return Ok(Vec::new());
                }
                let right = merged(self.pipeline_expr(rhs, input)?);
                Ok(self
                    .combine(*op, left, right)?
                    .map(|rows| {
                        vec![Set {
                            rows,
                            attributes: Vec::new(),
                        }]
                    })
                    .unwrap_or_default())
            }
        }
    }
}

fn start_sets(input: &[u32]) -> Vec<Set> {
    vec![Set {
        rows: input.to_vec(),
        attributes: Vec::new(),
    }]
}

fn number_value(number: Number) -> Value {
    match number {
        Number::Int(value) => Value::Int(value),
        Number::Float(value) => Value::Float(value),
        Number::Duration(value) => Value::Duration(value),
    }
}

/// Group keys compare by value; floats by their bits (after `-0` becomes `0`) so every key,
/// NaN included, equals itself and `-0` groups with `0`.
fn same_key(left: &Option<Value>, right: &Option<Value>) -> bool {
    match (left, right) {
        (Some(Value::Float(a)), Some(Value::Float(b))) => {
            (a + 0.0).to_bits() == (b + 0.0).to_bits()
        }
        _ => left == right,
    }
}

/// Row ranges of the traces of a batch (rows of a trace are contiguous).
fn trace_ranges(ids: &FixedSizeBinaryArray) -> Vec<(usize, usize)> {
    let mut ranges = Vec::new();
    let mut start = 0;
    for row in 1..=ids.len() {
        if row == ids.len() || ids.value(row) != ids.value(start) {
            ranges.push((start, row));
            start = row;
        }
    }
    ranges
}

/// Evaluates a search query over a batch of search columns; one result per matching trace, in
/// row order.
pub fn evaluate_batch(
    query: &CompiledQuery,
    batch: &RecordBatch,
    options: &EvalOptions,
) -> Result<Vec<TraceMatch>, EngineError> {
    if batch.num_rows() == 0 {
        return Ok(Vec::new());
    }
    let view = BatchView { batch };
    let context = BatchContext::new(query, view)?;
    let ids = view
        .column(columns::TRACE_ID)?
        .as_fixed_size_binary_opt()
        .ok_or_else(|| EngineError::Column(columns::TRACE_ID.to_owned()))?;
    let results = ResultBuilder::new(query, view, options)?;
    let first_filter = first_filter(query);
    let mut matches = Vec::new();
    for (start, end) in trace_ranges(ids) {
        if let Some(filter) = first_filter {
            let mask = context.mask(filter)?;
            if mask.slice(start, end - start).true_count() == 0 {
                continue;
            }
        }
        let input: Vec<u32> = (start as u32..end as u32).collect();
        let sets = match &query.query.body {
            QueryBody::Pipeline(pipeline) => context.pipeline(pipeline, start_sets(&input))?,
            QueryBody::PipelineExpr(expr) => context.pipeline_expr(expr, &input)?,
            QueryBody::ScalarPipelineFilter(_) | QueryBody::Metrics(_) => Vec::new(),
        };
        if sets.is_empty() {
            continue;
        }
        let spansets = sets
            .into_iter()
            .map(|set| (set.rows, set.attributes))
            .collect();
        matches.push(results.trace(start, end, spansets)?);
    }
    Ok(matches)
}

/// A filter every result needs a span of: the first stage's filter of a plain pipeline.
fn first_filter(query: &CompiledQuery) -> Option<&SpansetFilter> {
    let QueryBody::Pipeline(pipeline) = &query.query.body else {
        return None;
    };
    match pipeline.stages.first() {
        Some(Stage::Spanset(SpansetExpr::Filter(filter))) => Some(filter),
        _ => None,
    }
}
