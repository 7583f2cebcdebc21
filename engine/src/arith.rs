//! Numbers: literal folding, arithmetic on operands (row by row, on each row's first value) and
//! literal-to-literal comparisons.

use std::sync::Arc;

use arrow_array::{Array, Float64Array, Int64Array};
use vivace_traceql::{BinaryOp, Static};

use crate::error::EngineError;
use crate::eval::{Evaluated, kind_code, status_code};
use crate::values::{Slot, Values};

/// A numeric value: ints and durations are nanosecond-exact, floats are floats.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) enum Number {
    Int(i64),
    Float(f64),
    /// Nanoseconds.
    Duration(i64),
}

impl Number {
    pub(crate) fn as_f64(self) -> f64 {
        match self {
            Number::Int(value) | Number::Duration(value) => value as f64,
            Number::Float(value) => value,
        }
    }
}

/// The number a literal stands for, if numeric.
pub(crate) fn static_number(value: &Static) -> Option<Number> {
    match value {
        Static::Int(number) => Some(Number::Int(*number)),
        Static::Float(number) => Some(Number::Float(*number)),
        Static::Duration(duration) => Some(Number::Duration(duration.as_nanos())),
        _ => None,
    }
}

pub(crate) fn ordering_holds(op: BinaryOp, ordering: Option<std::cmp::Ordering>) -> bool {
    use std::cmp::Ordering::{Equal, Greater, Less};
    match (op, ordering) {
        (_, None) => false,
        (BinaryOp::Eq, Some(order)) => order == Equal,
        (BinaryOp::Neq, Some(order)) => order != Equal,
        (BinaryOp::Gt, Some(order)) => order == Greater,
        (BinaryOp::Gte, Some(order)) => order != Less,
        (BinaryOp::Lt, Some(order)) => order == Less,
        (BinaryOp::Lte, Some(order)) => order != Greater,
        _ => false,
    }
}

/// Compares two numbers: exactly when neither is a float.
pub(crate) fn compare_numbers(op: BinaryOp, left: Number, right: Number) -> bool {
    let ordering = match (left, right) {
        (Number::Int(a) | Number::Duration(a), Number::Int(b) | Number::Duration(b)) => {
            Some(a.cmp(&b))
        }
        _ => left.as_f64().partial_cmp(&right.as_f64()),
    };
    ordering_holds(op, ordering)
}

/// `left op right` for two literals.
pub(crate) fn compare_statics(op: BinaryOp, left: &Static, right: &Static) -> bool {
    if let (Some(a), Some(b)) = (static_number(left), static_number(right)) {
        return compare_numbers(op, a, b);
    }
    let ordering = match (left, right) {
        (Static::String(a), Static::String(b)) => Some(a.cmp(b)),
        (Static::Bool(a), Static::Bool(b)) => Some(a.cmp(b)),
        (Static::Status(a), Static::Status(b)) => Some(status_code(*a).cmp(&status_code(*b))),
        (Static::Kind(a), Static::Kind(b)) => Some(kind_code(*a).cmp(&kind_code(*b))),
        _ => None,
    };
    ordering_holds(op, ordering)
}

/// The number of element `index`, if it holds one.
pub(crate) fn number_of(values: &Values, index: usize) -> Option<Number> {
    if let Some(ints) = &values.int
        && ints.is_valid(index)
    {
        return Some(Number::Int(ints.value(index)));
    }
    if let Some(floats) = &values.float
        && floats.is_valid(index)
    {
        return Some(Number::Float(floats.value(index)));
    }
    if let Some(durations) = &values.duration
        && durations.is_valid(index)
    {
        return Some(Number::Duration(durations.value(index)));
    }
    None
}

/// `left op right` on numbers; `None` where it has no value.
pub(crate) fn apply(op: BinaryOp, left: Number, right: Number) -> Option<Number> {
    let float_of = |a: f64, b: f64| -> Option<Number> {
        let result = match op {
            BinaryOp::Add => a + b,
            BinaryOp::Sub => a - b,
            BinaryOp::Mul => a * b,
            BinaryOp::Div => a / b,
            BinaryOp::Mod => a % b,
            BinaryOp::Pow => a.powf(b),
            _ => return None,
        };
        result.is_finite().then_some(Number::Float(result))
    };
    if op == BinaryOp::Pow {
        return float_of(left.as_f64(), right.as_f64());
    }
    let (a, b, duration) = match (left, right) {
        (Number::Int(a), Number::Int(b)) => (a, b, false),
        (Number::Int(a) | Number::Duration(a), Number::Int(b) | Number::Duration(b)) => {
            (a, b, true)
        }
        _ => return float_of(left.as_f64(), right.as_f64()),
    };
    let result = match op {
        BinaryOp::Add => a.wrapping_add(b),
        BinaryOp::Sub => a.wrapping_sub(b),
        BinaryOp::Mul => a.wrapping_mul(b),
        BinaryOp::Div => a.checked_div(b)?,
        BinaryOp::Mod => a.checked_rem(b)?,
        _ => return None,
    };
    Some(if duration {
        Number::Duration(result)
    } else {
        Number::Int(result)
    })
}

/// A side of an arithmetic expression, row by row.
enum Side {
    Constant(Option<Number>),
    Rows(Box<Values>),
}

impl Side {
    fn at(&self, row: usize) -> Option<Number> {
        match self {
            Side::Constant(number) => *number,
            Side::Rows(values) => number_of(values, row),
        }
    }
}

fn side(evaluated: Evaluated) -> Result<Side, EngineError> {
    match evaluated {
        Evaluated::Static(value) => Ok(Side::Constant(static_number(&value))),
        Evaluated::Values(values) => Ok(Side::Rows(Box::new(values.first_per_row()?))),
        Evaluated::Mask(_) => Ok(Side::Constant(None)),
    }
}

/// Builds per-row values from per-row numbers.
fn from_numbers(rows: usize, numbers: Vec<Option<Number>>) -> Values {
    let mut ints = Vec::with_capacity(rows);
    let mut floats = Vec::with_capacity(rows);
    let mut durations = Vec::with_capacity(rows);
    for number in numbers {
        ints.push(match number {
            Some(Number::Int(value)) => Some(value),
            _ => None,
        });
        floats.push(match number {
            Some(Number::Float(value)) => Some(value),
            _ => None,
        });
        durations.push(match number {
            Some(Number::Duration(value)) => Some(value),
            _ => None,
        });
    }
    let mut values = Values::empty(rows);
    values.element_rows = None;
    values.set(Slot::Int, Arc::new(Int64Array::from(ints)));
    values.set(Slot::Float, Arc::new(Float64Array::from(floats)));
    values.set(Slot::Duration, Arc::new(Int64Array::from(durations)));
    values
}

/// `left op right` for arithmetic operators.
pub(crate) fn arithmetic(
    op: BinaryOp,
    left: Evaluated,
    right: Evaluated,
    rows: usize,
) -> Result<Evaluated, EngineError> {
    let left = side(left)?;
    let right = side(right)?;
    if let (Side::Constant(a), Side::Constant(b)) = (&left, &right) {
        let folded = match (a, b) {
            (Some(a), Some(b)) => apply(op, *a, *b),
            _ => None,
        };
        return Ok(Evaluated::Values(Box::new(from_numbers(
            rows,
            vec![folded; rows],
        ))));
    }
    let numbers = (0..rows)
        .map(|row| match (left.at(row), right.at(row)) {
            (Some(a), Some(b)) => apply(op, a, b),
            _ => None,
        })
        .collect();
    Ok(Evaluated::Values(Box::new(from_numbers(rows, numbers))))
}

/// `-x` on each row's first value.
pub(crate) fn negate(values: &Values) -> Result<Values, EngineError> {
    let first = values.first_per_row()?;
    let numbers = (0..first.rows)
        .map(|row| {
            number_of(&first, row).map(|number| match number {
                Number::Int(value) => Number::Int(value.wrapping_neg()),
                Number::Float(value) => Number::Float(-value),
                Number::Duration(value) => Number::Duration(value.wrapping_neg()),
            })
        })
        .collect();
    Ok(from_numbers(first.rows, numbers))
}
