//! Checks of metrics queries.

use super::{spanset_filter, validate_pipeline};
use crate::ast::{
    Compare, FirstStage, MetricsAggregate, MetricsExpr, MetricsFunction, MetricsPipeline,
    MetricsQuery, SecondStage,
};
use crate::error::ValidateError;

/// Tempo's limit on `by (...)` attributes of a metrics function (one fewer for quantile and
/// histogram, which reserve a label for the bucket).
pub(crate) const MAX_GROUP_BYS: usize = 5;

/// Tempo's limit on `compare()`'s top-N.
pub(crate) const MAX_COMPARE_TOP_N: i64 = 1000;

fn leaves<'q>(node: &'q MetricsExpr, out: &mut Vec<&'q MetricsPipeline>) {
    match node {
        MetricsExpr::Pipeline(pipeline) => out.push(pipeline),
        MetricsExpr::Math { lhs, rhs, .. } => {
            leaves(lhs, out);
            leaves(rhs, out);
        }
        MetricsExpr::Scalar { expr, .. } => leaves(expr, out),
    }
}

/// Spanset pipelines first, then first stages, then second stages, then the `compare()` rule.
pub(super) fn metrics_query(query: &MetricsQuery) -> Result<(), ValidateError> {
    let mut pipelines = Vec::new();
    leaves(&query.expr, &mut pipelines);
    for pipeline in &pipelines {
        validate_pipeline(&pipeline.pipeline)?;
    }
    for pipeline in &pipelines {
        first_stage(&pipeline.first_stage)?;
    }
    for pipeline in &pipelines {
        second_stages(&pipeline.second_stages)?;
    }
    second_stages(&query.second_stages)?;

    let bare = matches!(query.expr, MetricsExpr::Pipeline(_))
        && query.second_stages.is_empty()
        && pipelines.iter().all(|p| p.second_stages.is_empty());
    let uses_compare = pipelines
        .iter()
        .any(|p| matches!(p.first_stage, FirstStage::Compare(_)));
    if uses_compare && !bare {
        return Err(ValidateError::invalid(
            "`compare()` cannot be used with second stage functions, filters or arithmetic",
        ));
    }
    Ok(())
}

fn first_stage(stage: &FirstStage) -> Result<(), ValidateError> {
    match stage {
        FirstStage::Aggregate(aggregate) => metrics_aggregate(aggregate),
        FirstStage::Compare(compare) => compare_stage(compare),
    }
}

fn metrics_aggregate(aggregate: &MetricsAggregate) -> Result<(), ValidateError> {
    let group_bys = aggregate.by.len();
    let too_many = || ValidateError::unsupported(format!("metrics group by {group_bys} values"));
    match &aggregate.function {
        MetricsFunction::HistogramOverTime(_) if group_bys >= MAX_GROUP_BYS => {
            return Err(too_many());
        }
        MetricsFunction::QuantileOverTime { quantiles, .. } => {
            if group_bys >= MAX_GROUP_BYS {
                return Err(too_many());
            }
            if let Some(bad) = quantiles.iter().find(|q| !(0.0..=1.0).contains(*q)) {
                return Err(ValidateError::invalid(format!(
                    "quantile must be between 0 and 1: {bad}"
                )));
            }
        }
        _ => {}
    }
    if group_bys > MAX_GROUP_BYS {
        return Err(too_many());
    }
    Ok(())
}

fn compare_stage(compare: &Compare) -> Result<(), ValidateError> {
    spanset_filter(&compare.filter)?;
    if compare.top_n <= 0 || compare.top_n > MAX_COMPARE_TOP_N {
        return Err(ValidateError::invalid(format!(
            "compare() top number of values must be an integer between 1 and {MAX_COMPARE_TOP_N}"
        )));
    }
    let Some(window) = compare.window else {
        return Ok(());
    };
    if window.start <= 0 || window.end <= 0 {
        return Err(ValidateError::invalid(
            "compare() timestamps must be positive integer unix nanoseconds",
        ));
    }
    if window.end <= window.start {
        return Err(ValidateError::invalid(
            "compare() end timestamp must be greater than start timestamp",
        ));
    }
    Ok(())
}

fn second_stages(stages: &[SecondStage]) -> Result<(), ValidateError> {
    for stage in stages {
        if let SecondStage::TopK(limit) | SecondStage::BottomK(limit) = stage
            && *limit <= 0
        {
            return Err(ValidateError::invalid(format!(
                "limit must be greater than 0: {stage}"
            )));
        }
    }
    Ok(())
}
