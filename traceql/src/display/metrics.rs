//! Printing metrics queries.

use std::fmt::{self, Display, Formatter};

use super::{FloatLiteral, ScalarLiteral, write_list};
use crate::ast::{
    Compare, DEFAULT_COMPARE_TOP_N, FirstStage, MetricsAggregate, MetricsExpr, MetricsFunction,
    MetricsPipeline, MetricsQuery, ScalarSide, SecondStage,
};

const ATOM: u8 = 10;

impl Display for MetricsQuery {
    fn fmt(&self, f: &mut Formatter<'_>) -> fmt::Result {
        match &self.expr {
            MetricsExpr::Pipeline(pipeline) => write_bare_pipeline(f, pipeline)?,
            other => write!(f, "{other}")?,
        }
        write_second_stages(f, &self.second_stages)
    }
}

fn write_bare_pipeline(f: &mut Formatter<'_>, pipeline: &MetricsPipeline) -> fmt::Result {
    write!(f, "{} | {}", pipeline.pipeline, pipeline.first_stage)?;
    write_second_stages(f, &pipeline.second_stages)
}

fn write_second_stages(f: &mut Formatter<'_>, stages: &[SecondStage]) -> fmt::Result {
    for stage in stages {
        match stage {
            SecondStage::Filter { .. } => write!(f, " {stage}")?,
            SecondStage::TopK(_) | SecondStage::BottomK(_) => write!(f, " | {stage}")?,
        }
    }
    Ok(())
}

/// Inside arithmetic every pipeline is parenthesised.
impl Display for MetricsPipeline {
    fn fmt(&self, f: &mut Formatter<'_>) -> fmt::Result {
        f.write_str("(")?;
        write_bare_pipeline(f, self)?;
        f.write_str(")")
    }
}

fn level(expr: &MetricsExpr) -> u8 {
    match expr {
        MetricsExpr::Pipeline(_) => ATOM,
        MetricsExpr::Math { op, .. } | MetricsExpr::Scalar { op, .. } => op.precedence(),
    }
}

struct Operand<'a> {
    text: &'a dyn Display,
    parens: bool,
}

impl Display for Operand<'_> {
    fn fmt(&self, f: &mut Formatter<'_>) -> fmt::Result {
        if self.parens {
            return write!(f, "({})", self.text);
        }
        write!(f, "{}", self.text)
    }
}

impl Display for MetricsExpr {
    fn fmt(&self, f: &mut Formatter<'_>) -> fmt::Result {
        match self {
            Self::Pipeline(pipeline) => write!(f, "{pipeline}"),
            Self::Math { op, lhs, rhs } => {
                let own = op.precedence();
                let left = Operand {
                    text: lhs.as_ref(),
                    parens: level(lhs) < own,
                };
                let right = Operand {
                    text: rhs.as_ref(),
                    parens: level(rhs) <= own,
                };
                write!(f, "{left} {} {right}", op.as_str())
            }
            Self::Scalar {
                op,
                expr,
                scalar,
                side,
            } => {
                let own = op.precedence();
                let literal = ScalarLiteral(scalar);
                match side {
                    ScalarSide::Left => {
                        let right = Operand {
                            text: expr.as_ref(),
                            parens: level(expr) <= own,
                        };
                        write!(f, "{literal} {} {right}", op.as_str())
                    }
                    ScalarSide::Right => {
                        let left = Operand {
                            text: expr.as_ref(),
                            parens: level(expr) < own,
                        };
                        write!(f, "{left} {} {literal}", op.as_str())
                    }
                }
            }
        }
    }
}

impl Display for FirstStage {
    fn fmt(&self, f: &mut Formatter<'_>) -> fmt::Result {
        match self {
            Self::Aggregate(aggregate) => write!(f, "{aggregate}"),
            Self::Compare(compare) => write!(f, "{compare}"),
        }
    }
}

impl Display for MetricsAggregate {
    fn fmt(&self, f: &mut Formatter<'_>) -> fmt::Result {
        write!(f, "{}(", self.function.name())?;
        match &self.function {
            MetricsFunction::Rate | MetricsFunction::CountOverTime => {}
            MetricsFunction::QuantileOverTime {
                attribute,
                quantiles,
            } => {
                write!(f, "{attribute}")?;
                for quantile in quantiles {
                    write!(f, ", {}", FloatLiteral(*quantile))?;
                }
            }
            MetricsFunction::MinOverTime(attribute)
            | MetricsFunction::MaxOverTime(attribute)
            | MetricsFunction::SumOverTime(attribute)
            | MetricsFunction::AvgOverTime(attribute)
            | MetricsFunction::HistogramOverTime(attribute) => write!(f, "{attribute}")?,
        }
        f.write_str(")")?;
        if self.by.is_empty() {
            return Ok(());
        }
        f.write_str(" by (")?;
        write_list(f, &self.by)?;
        f.write_str(")")
    }
}

impl Display for Compare {
    fn fmt(&self, f: &mut Formatter<'_>) -> fmt::Result {
        write!(f, "compare({}", self.filter)?;
        if let Some(window) = self.window {
            write!(f, ", {}, {}, {}", self.top_n, window.start, window.end)?;
        } else if self.top_n != DEFAULT_COMPARE_TOP_N {
            write!(f, ", {}", self.top_n)?;
        }
        f.write_str(")")
    }
}

impl Display for SecondStage {
    fn fmt(&self, f: &mut Formatter<'_>) -> fmt::Result {
        match self {
            Self::TopK(limit) => write!(f, "topk({limit})"),
            Self::BottomK(limit) => write!(f, "bottomk({limit})"),
            Self::Filter { op, value } => write!(f, "{} {}", op.as_str(), ScalarLiteral(value)),
        }
    }
}
