//! The typed syntax tree of a TraceQL query.
//!
//! Every node implements [`std::fmt::Display`], printing a canonical form that parses back to
//! an equal tree.

mod attribute;
mod field;
mod metrics;
mod pipeline;

pub use attribute::{Attribute, AttributeScope, CustomAttribute, Intrinsic, IntrinsicScope};
pub use field::{BinaryOp, FieldExpr, Kind, Static, StaticType, Status, UnaryOp};
pub use metrics::{
    Compare, CompareWindow, DEFAULT_COMPARE_TOP_N, FirstStage, MathOp, MetricsAggregate,
    MetricsExpr, MetricsFunction, MetricsPipeline, MetricsQuery, ScalarSide, SecondStage,
};
pub use pipeline::{
    Aggregate, ArithOp, CmpOp, Pipeline, ScalarExpr, ScalarFilter, ScalarPipeline,
    ScalarPipelineExpr, ScalarPipelineFilter, ScalarPipelineOperand, SpansetExpr, SpansetFilter,
    SpansetOp, SpansetPipelineExpr, Stage,
};

/// A parsed query.
#[derive(Debug, Clone, PartialEq)]
pub struct Query {
    /// What the query computes.
    pub body: QueryBody,
    /// `with(name=value, ...)`; empty when absent. When several `with(...)` clauses are
    /// written only the last one is kept, as Tempo does.
    pub hints: Vec<Hint>,
}

impl Query {
    /// Runs Tempo's static checks; see [`crate::validate`].
    pub fn validate(&self) -> Result<(), crate::ValidateError> {
        crate::validate::validate(self)
    }

    /// The value of hint `name`, if present.
    pub fn hint(&self, name: &str) -> Option<&Static> {
        self.hints
            .iter()
            .rev()
            .find(|hint| hint.name == name)
            .map(|hint| &hint.value)
    }
}

impl std::str::FromStr for Query {
    type Err = crate::ParseError;

    fn from_str(query: &str) -> Result<Self, Self::Err> {
        crate::parse(query)
    }
}

/// The kinds of query.
#[derive(Debug, Clone, PartialEq)]
pub enum QueryBody {
    /// A spanset pipeline: `{ ... } | count() > 3 | select(.a)`.
    Pipeline(Pipeline),
    /// Parenthesised pipelines combined with spanset operators.
    PipelineExpr(SpansetPipelineExpr),
    /// Scalar pipelines compared with each other or a constant (not yet supported by Tempo).
    ScalarPipelineFilter(ScalarPipelineFilter),
    /// A TraceQL metrics query.
    Metrics(MetricsQuery),
}

/// One `name=value` query hint.
#[derive(Debug, Clone, PartialEq)]
pub struct Hint {
    /// The hint name (any identifier that is not a keyword).
    pub name: String,
    /// The literal value.
    pub value: Static,
}

/// Hint names Tempo honours for every tenant; all others are only honoured when the tenant
/// allows unsafe hints.
pub const SAFE_HINTS: [&str; 6] = [
    "sample",
    "trace_sample",
    "span_sample",
    "exemplars",
    "most_recent",
    "extrapolate",
];

impl Hint {
    /// Whether Tempo only honours this hint when `unsafe_query_hints` is enabled.
    pub fn is_unsafe(&self) -> bool {
        !SAFE_HINTS.contains(&self.name.as_str())
    }
}
