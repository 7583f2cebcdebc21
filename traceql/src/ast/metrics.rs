//! TraceQL metrics: first-stage functions, second-stage functions and arithmetic.

use super::{Attribute, CmpOp, Pipeline, SpansetFilter, Static};

/// A metrics query: an expression of metrics pipelines plus second stages applied to its result.
#[derive(Debug, Clone, PartialEq)]
pub struct MetricsQuery {
    /// The series-producing expression. When it is a single [`MetricsExpr::Pipeline`], that
    /// pipeline's own `second_stages` are empty (they are kept here instead).
    pub expr: MetricsExpr,
    /// Applied to the result of `expr`, in order.
    pub second_stages: Vec<SecondStage>,
}

/// Arithmetic between metrics pipelines and scalars.
#[derive(Debug, Clone, PartialEq)]
pub enum MetricsExpr {
    /// `{ ... } | rate()`; inside arithmetic it is written in parentheses.
    Pipeline(Box<MetricsPipeline>),
    /// `lhs op rhs` between two series sets.
    Math {
        /// The operator.
        op: MathOp,
        /// Left operand.
        lhs: Box<MetricsExpr>,
        /// Right operand.
        rhs: Box<MetricsExpr>,
    },
    /// A series set combined with a constant: `({} | rate()) * 100` or `100 * ({} | rate())`.
    Scalar {
        /// The operator.
        op: MathOp,
        /// The series operand.
        expr: Box<MetricsExpr>,
        /// The constant (an integer or float).
        scalar: Static,
        /// Which side of the operator the constant is on.
        side: ScalarSide,
    },
}

/// The side of an operator a constant is written on.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ScalarSide {
    /// `scalar op expr`
    Left,
    /// `expr op scalar`
    Right,
}

/// Arithmetic operators of metrics expressions.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum MathOp {
    /// `+`
    Add,
    /// `-`
    Sub,
    /// `*`
    Mul,
    /// `/`
    Div,
}

impl MathOp {
    /// The operator symbol.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Add => "+",
            Self::Sub => "-",
            Self::Mul => "*",
            Self::Div => "/",
        }
    }

    pub(crate) fn precedence(self) -> u8 {
        match self {
            Self::Add | Self::Sub => 5,
            Self::Mul | Self::Div => 7,
        }
    }
}

/// `pipeline | first_stage second_stages...`
#[derive(Debug, Clone, PartialEq)]
pub struct MetricsPipeline {
    /// The spanset pipeline selecting spans.
    pub pipeline: Pipeline,
    /// The function turning spans into series.
    pub first_stage: FirstStage,
    /// Second stages written inside the parentheses of a wrapped pipeline.
    pub second_stages: Vec<SecondStage>,
}

/// The function turning spans into series.
#[derive(Debug, Clone, PartialEq)]
pub enum FirstStage {
    /// `rate()`, `count_over_time()`, `quantile_over_time(...)`, ... with optional `by (...)`.
    Aggregate(MetricsAggregate),
    /// `compare({ ... }[, topN[, start, end]])`
    Compare(Compare),
}

/// A first-stage aggregation with its grouping.
#[derive(Debug, Clone, PartialEq)]
pub struct MetricsAggregate {
    /// The function and its arguments.
    pub function: MetricsFunction,
    /// `by (a, b)`; empty when absent.
    pub by: Vec<Attribute>,
}

/// First-stage aggregation functions.
#[derive(Debug, Clone, PartialEq)]
pub enum MetricsFunction {
    /// `rate()`
    Rate,
    /// `count_over_time()`
    CountOverTime,
    /// `min_over_time(attr)`
    MinOverTime(Attribute),
    /// `max_over_time(attr)`
    MaxOverTime(Attribute),
    /// `sum_over_time(attr)`
    SumOverTime(Attribute),
    /// `avg_over_time(attr)`
    AvgOverTime(Attribute),
    /// `quantile_over_time(attr, q1, q2, ...)`
    QuantileOverTime {
        /// The measured attribute.
        attribute: Attribute,
        /// The requested quantiles (at least one).
        quantiles: Vec<f64>,
    },
    /// `histogram_over_time(attr)`
    HistogramOverTime(Attribute),
}

impl MetricsFunction {
    /// The function name.
    pub fn name(&self) -> &'static str {
        match self {
            Self::Rate => "rate",
            Self::CountOverTime => "count_over_time",
            Self::MinOverTime(_) => "min_over_time",
            Self::MaxOverTime(_) => "max_over_time",
            Self::SumOverTime(_) => "sum_over_time",
            Self::AvgOverTime(_) => "avg_over_time",
            Self::QuantileOverTime { .. } => "quantile_over_time",
            Self::HistogramOverTime(_) => "histogram_over_time",
        }
    }

    /// The measured attribute, if the function takes one.
    pub fn attribute(&self) -> Option<&Attribute> {
        match self {
            Self::Rate | Self::CountOverTime => None,
            Self::MinOverTime(attribute)
            | Self::MaxOverTime(attribute)
            | Self::SumOverTime(attribute)
            | Self::AvgOverTime(attribute)
            | Self::HistogramOverTime(attribute)
            | Self::QuantileOverTime { attribute, .. } => Some(attribute),
        }
    }
}

/// `compare()`'s default number of values per attribute.
pub const DEFAULT_COMPARE_TOP_N: i64 = 10;

/// `compare({ filter }, top_n, start, end)`
#[derive(Debug, Clone, PartialEq)]
pub struct Compare {
    /// The selection compared against the baseline.
    pub filter: SpansetFilter,
    /// Values kept per attribute ([`DEFAULT_COMPARE_TOP_N`] when omitted).
    pub top_n: i64,
    /// Optional selection window in unix nanoseconds; `None` when omitted or written `0, 0`.
    pub window: Option<CompareWindow>,
}

/// The optional time window of `compare()`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct CompareWindow {
    /// Start, unix nanoseconds.
    pub start: i64,
    /// End, unix nanoseconds.
    pub end: i64,
}

/// Operations applied to series after the first stage.
#[derive(Debug, Clone, PartialEq)]
pub enum SecondStage {
    /// `| topk(n)`
    TopK(i64),
    /// `| bottomk(n)`
    BottomK(i64),
    /// `> 10`: drops points that do not satisfy the comparison.
    Filter {
        /// The comparison.
        op: CmpOp,
        /// The (folded) constant: integer, float or duration (compared in seconds).
        value: Static,
    },
}
