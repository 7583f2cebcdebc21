//! Tempo's static checks on a parsed query.
//!
//! Checks run depth-first, left to right, and the first failure is returned, so a query that
//! is both ill-typed and unsupported reports whichever is met first (as Tempo does).

mod field;
mod metrics;
mod regex;

use self::field::{attribute, check_binary_types, field};
use crate::ast::{
    Aggregate, ArithOp, BinaryOp, Pipeline, Query, QueryBody, ScalarExpr, ScalarFilter,
    ScalarPipelineExpr, ScalarPipelineFilter, ScalarPipelineOperand, SpansetExpr, SpansetFilter,
    SpansetPipelineExpr, Stage, StaticType,
};
use crate::error::ValidateError;

pub use self::regex::to_rust_syntax as re2_to_rust_syntax;

/// Runs Tempo's static checks.
///
/// Errors of kind [`ValidateError::Unsupported`] mark constructs Tempo parses but does not
/// execute yet (`parent`, aggregate-vs-aggregate scalar filters, scalar pipeline arithmetic);
/// every other variant is a genuine error (types, regexes, limits).
pub fn validate(query: &Query) -> Result<(), ValidateError> {
    match &query.body {
        QueryBody::Pipeline(pipeline) => validate_pipeline(pipeline),
        QueryBody::PipelineExpr(expr) => pipeline_expr(expr),
        QueryBody::ScalarPipelineFilter(filter) => scalar_pipeline_filter(filter),
        QueryBody::Metrics(metrics) => metrics::metrics_query(metrics),
    }
}

pub(crate) fn validate_pipeline(pipeline: &Pipeline) -> Result<(), ValidateError> {
    pipeline.stages.iter().try_for_each(stage)
}

fn stage(stage: &Stage) -> Result<(), ValidateError> {
    match stage {
        Stage::Spanset(expr) => spanset_expr(expr),
        Stage::ScalarFilter(filter) => scalar_filter(filter),
        Stage::GroupBy(expr) => {
            if !expr.references_span() {
                return Err(ValidateError::invalid(format!(
                    "grouping field expressions must reference the span: {stage}"
                )));
            }
            field(expr)
        }
        Stage::Coalesce => Ok(()),
        Stage::Select(attributes) => attributes.iter().try_for_each(attribute),
    }
}

fn spanset_expr(expr: &SpansetExpr) -> Result<(), ValidateError> {
    match expr {
        SpansetExpr::Filter(filter) => spanset_filter(filter),
        SpansetExpr::Op { lhs, rhs, .. } => {
            spanset_expr(lhs)?;
            spanset_expr(rhs)
        }
    }
}

pub(crate) fn spanset_filter(filter: &SpansetFilter) -> Result<(), ValidateError> {
    let Some(expr) = &filter.expr else {
        return Ok(());
    };
    field(expr)?;
    let result = expr.implied_type();
    if result != StaticType::Attribute && result != StaticType::Boolean {
        return Err(ValidateError::invalid(format!(
            "span filter field expressions must resolve to a boolean: {filter}"
        )));
    }
    Ok(())
}

fn pipeline_expr(expr: &SpansetPipelineExpr) -> Result<(), ValidateError> {
    match expr {
        SpansetPipelineExpr::Pipeline(pipeline) => validate_pipeline(pipeline),
        SpansetPipelineExpr::Op { lhs, rhs, .. } => {
            pipeline_expr(lhs)?;
            pipeline_expr(rhs)
        }
    }
}

fn arith_as_binary(op: ArithOp) -> BinaryOp {
    match op {
        ArithOp::Add => BinaryOp::Add,
        ArithOp::Sub => BinaryOp::Sub,
        ArithOp::Mul => BinaryOp::Mul,
        ArithOp::Div => BinaryOp::Div,
        ArithOp::Mod => BinaryOp::Mod,
        ArithOp::Pow => BinaryOp::Pow,
    }
}

/// Count is an integer; the other aggregates have their argument's type.
fn aggregate_type(aggregate: &Aggregate) -> StaticType {
    aggregate
        .argument()
        .map_or(StaticType::Int, |expr| expr.implied_type())
}

fn aggregate(aggregate: &Aggregate) -> Result<(), ValidateError> {
    let Some(expr) = aggregate.argument() else {
        return Ok(());
    };
    field(expr)?;
    let argument = expr.implied_type();
    if argument != StaticType::Attribute && !argument.is_numeric() {
        return Err(ValidateError::invalid(format!(
            "aggregate field expressions must resolve to a number type: {aggregate}"
        )));
    }
    if !expr.references_span() {
        return Err(ValidateError::invalid(format!(
            "aggregate field expressions must reference the span: {aggregate}"
        )));
    }
    Ok(())
}

fn scalar_type(expr: &ScalarExpr) -> StaticType {
    match expr {
        ScalarExpr::Aggregate(aggregate) => aggregate_type(aggregate),
        ScalarExpr::Static(value) => value.static_type(),
        ScalarExpr::Binary { lhs, rhs, .. } => {
            let left = scalar_type(lhs);
            if left != StaticType::Attribute {
                return left;
            }
            scalar_type(rhs)
        }
    }
}

fn scalar_expr(expr: &ScalarExpr) -> Result<(), ValidateError> {
    match expr {
        ScalarExpr::Aggregate(value) => aggregate(value),
        ScalarExpr::Static(_) => Ok(()),
        ScalarExpr::Binary { op, lhs, rhs } => {
            scalar_expr(lhs)?;
            scalar_expr(rhs)?;
            check_binary_types(
                arith_as_binary(*op),
                scalar_type(lhs),
                scalar_type(rhs),
                expr,
            )
        }
    }
}

/// Only `aggregate <cmp> constant` runs in Tempo; other shapes are "not yet supported".
fn scalar_filter(filter: &ScalarFilter) -> Result<(), ValidateError> {
    scalar_expr(&filter.lhs)?;
    scalar_expr(&filter.rhs)?;
    check_binary_types(
        filter.op.as_binary(),
        scalar_type(&filter.lhs),
        scalar_type(&filter.rhs),
        filter,
    )?;
    if !matches!(filter.lhs, ScalarExpr::Aggregate(_)) {
        return Err(ValidateError::unsupported(
            "scalar filter with a left side other than a single aggregate",
        ));
    }
    if !matches!(filter.rhs, ScalarExpr::Static(_)) {
        return Err(ValidateError::unsupported(
            "scalar filter with a right side other than a constant",
        ));
    }
    Ok(())
}

fn scalar_pipeline_type(expr: &ScalarPipelineExpr) -> StaticType {
    match expr {
        ScalarPipelineExpr::Pipeline(pipeline) => aggregate_type(&pipeline.aggregate),
        ScalarPipelineExpr::Binary { lhs, rhs, .. } => {
            let left = scalar_pipeline_type(lhs);
            if left != StaticType::Attribute {
                return left;
            }
            scalar_pipeline_type(rhs)
        }
    }
}

fn scalar_pipeline_expr(expr: &ScalarPipelineExpr) -> Result<(), ValidateError> {
    match expr {
        ScalarPipelineExpr::Pipeline(pipeline) => {
            validate_pipeline(&pipeline.pipeline)?;
            aggregate(&pipeline.aggregate)
        }
        ScalarPipelineExpr::Binary { op, lhs, rhs } => {
            scalar_pipeline_expr(lhs)?;
            scalar_pipeline_expr(rhs)?;
            check_binary_types(
                arith_as_binary(*op),
                scalar_pipeline_type(lhs),
                scalar_pipeline_type(rhs),
                expr,
            )
        }
    }
}

/// Type-checked like a scalar filter, then always "not yet supported" (Tempo only runs
/// scalar filters inside a pipeline).
fn scalar_pipeline_filter(filter: &ScalarPipelineFilter) -> Result<(), ValidateError> {
    scalar_pipeline_expr(&filter.lhs)?;
    let right = match &filter.rhs {
        ScalarPipelineOperand::Expr(expr) => {
            scalar_pipeline_expr(expr)?;
            scalar_pipeline_type(expr)
        }
        ScalarPipelineOperand::Static(value) => value.static_type(),
    };
    check_binary_types(
        filter.op.as_binary(),
        scalar_pipeline_type(&filter.lhs),
        right,
        filter,
    )?;
    Err(ValidateError::unsupported(
        "scalar filter between parenthesised pipelines",
    ))
}
