//! Vectorised evaluation of a field expression over a batch: one boolean per span for filters,
//! typed [`Values`] for operands.

use std::sync::Arc;

use arrow_array::cast::AsArray;
use arrow_array::{
    Array, ArrayRef, BooleanArray, Datum, Float64Array, Int32Array, Int64Array, Scalar, StringArray,
};
use arrow_buffer::BooleanBufferBuilder;
use arrow_ord::cmp;
use vivace_traceql::{BinaryOp, FieldExpr, Kind, Static, Status, UnaryOp};

use crate::compile::Regexes;
use crate::error::EngineError;
use crate::extract::BatchView;
use crate::values::{Slot, Strings, Values, constant_mask, without_nulls};

/// An evaluated sub-expression.
pub(crate) enum Evaluated {
    /// A row-level boolean (no nulls).
    Mask(BooleanArray),
    Values(Box<Values>),
    Static(Static),
}

/// Evaluates field expressions over one batch.
pub(crate) struct FieldEval<'a> {
    pub view: BatchView<'a>,
    pub regexes: &'a Regexes,
}

pub(crate) fn status_code(status: Status) -> i32 {
    match status {
        Status::Unset => 0,
        Status::Ok => 1,
        Status::Error => 2,
    }
}

pub(crate) fn kind_code(kind: Kind) -> i32 {
    match kind {
        Kind::Unspecified => 0,
        Kind::Internal => 1,
        Kind::Server => 2,
        Kind::Client => 3,
        Kind::Producer => 4,
        Kind::Consumer => 5,
    }
}

impl FieldEval<'_> {
    fn rows(&self) -> usize {
        self.view.rows()
    }

    /// The rows where `expr` holds.
    pub(crate) fn mask(&self, expr: &FieldExpr) -> Result<BooleanArray, EngineError> {
        let evaluated = self.eval(expr)?;
        Ok(self.as_mask(evaluated))
    }

    fn as_mask(&self, evaluated: Evaluated) -> BooleanArray {
        match evaluated {
            Evaluated::Mask(mask) => mask,
            Evaluated::Static(Static::Bool(value)) => constant_mask(self.rows(), value),
            Evaluated::Static(_) => constant_mask(self.rows(), false),
            Evaluated::Values(values) => match &values.boolean {
                Some(booleans) => values.any_per_row(booleans),
                None => constant_mask(self.rows(), false),
            },
        }
    }

    pub(crate) fn eval(&self, expr: &FieldExpr) -> Result<Evaluated, EngineError> {
        match expr {
            FieldExpr::Static(value) => Ok(Evaluated::Static(value.clone())),
            FieldExpr::Attribute(attribute) => {
                Ok(Evaluated::Values(Box::new(self.view.attribute(attribute)?)))
            }
            FieldExpr::Unary { op, expr } => self.unary(*op, expr),
            FieldExpr::Binary { op, lhs, rhs } => self.binary(*op, lhs, rhs),
        }
    }

    fn unary(&self, op: UnaryOp, expr: &FieldExpr) -> Result<Evaluated, EngineError> {
        let operand = self.eval(expr)?;
        match op {
            UnaryOp::Not => {
                let mask = self.as_mask(operand);
                Ok(Evaluated::Mask(arrow_arith::boolean::not(&mask)?))
            }
            UnaryOp::Exists | UnaryOp::NotExists => {
                let present = match operand {
                    Evaluated::Values(values) => values.present_rows(),
                    Evaluated::Mask(_) | Evaluated::Static(_) => constant_mask(self.rows(), true),
                };
                if op == UnaryOp::Exists {
                    return Ok(Evaluated::Mask(present));
                }
                Ok(Evaluated::Mask(arrow_arith::boolean::not(&present)?))
            }
            UnaryOp::Neg => match operand {
                Evaluated::Static(value) => Ok(Evaluated::Static(negate_static(value))),
                Evaluated::Values(values) => {
                    Ok(Evaluated::Values(Box::new(crate::arith::negate(&values)?)))
                }
                Evaluated::Mask(_) => Ok(Evaluated::Values(Box::new(Values::empty(self.rows())))),
            },
        }
    }

    fn binary(
        &self,
        op: BinaryOp,
        lhs: &FieldExpr,
        rhs: &FieldExpr,
    ) -> Result<Evaluated, EngineError> {
        match op {
            BinaryOp::And | BinaryOp::Or => {
                let left = self.mask(lhs)?;
                if op == BinaryOp::And && left.true_count() == 0 {
                    return Ok(Evaluated::Mask(left));
                }
                let right = self.mask(rhs)?;
                let combined = if op == BinaryOp::And {
                    arrow_arith::boolean::and(&left, &right)?
                } else {
                    arrow_arith::boolean::or(&left, &right)?
                };
                Ok(Evaluated::Mask(combined))
            }
            BinaryOp::Regex | BinaryOp::NotRegex => self.regex(op, lhs, rhs),
            BinaryOp::Add
            | BinaryOp::Sub
            | BinaryOp::Mul
            | BinaryOp::Div
            | BinaryOp::Mod
            | BinaryOp::Pow => {
                let left = self.operand(self.eval(lhs)?);
                let right = self.operand(self.eval(rhs)?);
                crate::arith::arithmetic(op, left, right, self.rows())
            }
            BinaryOp::Eq
            | BinaryOp::Neq
            | BinaryOp::Gt
            | BinaryOp::Gte
            | BinaryOp::Lt
            | BinaryOp::Lte => {
                let left = self.operand(self.eval(lhs)?);
                let right = self.operand(self.eval(rhs)?);
                self.compare(op, left, right).map(Evaluated::Mask)
            }
        }
    }

    /// Masks become boolean values so they compare like any value.
    fn operand(&self, evaluated: Evaluated) -> Evaluated {
        match evaluated {
            Evaluated::Mask(mask) => Evaluated::Values(Box::new(Values::per_row(
                self.rows(),
                Slot::Bool,
                Arc::new(mask),
            ))),
            other => other,
        }
    }

    fn compare(
        &self,
        op: BinaryOp,
        left: Evaluated,
        right: Evaluated,
    ) -> Result<BooleanArray, EngineError> {
        match (left, right) {
            (Evaluated::Static(left), Evaluated::Static(right)) => Ok(constant_mask(
                self.rows(),
                crate::arith::compare_statics(op, &left, &right),
            )),
            (Evaluated::Values(values), Evaluated::Static(value)) => {
                let element_mask = compare_with_static(op, &values, &value)?;
                Ok(values.any_per_row(&element_mask))
            }
            (Evaluated::Static(value), Evaluated::Values(values)) => {
                let element_mask = compare_with_static(flip(op), &values, &value)?;
                Ok(values.any_per_row(&element_mask))
            }
            (Evaluated::Values(left), Evaluated::Values(right)) => {
                compare_rows(op, &left.first_per_row()?, &right.first_per_row()?)
            }
            _ => Ok(constant_mask(self.rows(), false)),
        }
    }

    fn regex(
        &self,
        op: BinaryOp,
        lhs: &FieldExpr,
        rhs: &FieldExpr,
    ) -> Result<Evaluated, EngineError> {
        let FieldExpr::Static(Static::String(pattern)) = rhs else {
            return Err(EngineError::Unsupported(
                "a regex operand other than a string literal".to_owned(),
            ));
        };
        let regex = self.regexes.get(pattern)?;
        let operand = self.eval(lhs)?;
        let matches = |text: &str| regex.is_match(text) == (op == BinaryOp::Regex);
        match operand {
            Evaluated::Static(Static::String(text)) => {
                Ok(Evaluated::Mask(constant_mask(self.rows(), matches(&text))))
            }
            Evaluated::Values(values) => {
                let Some(strings) = &values.string else {
                    return Ok(Evaluated::Mask(constant_mask(self.rows(), false)));
                };
                let element_mask = Strings::of(strings, "regex operand")?.matches(matches);
                Ok(Evaluated::Mask(values.any_per_row(&element_mask)))
            }
            _ => Ok(Evaluated::Mask(constant_mask(self.rows(), false))),
        }
    }
}

fn negate_static(value: Static) -> Static {
    match value {
        Static::Int(number) => Static::Int(number.wrapping_neg()),
        Static::Float(number) => Static::Float(-number),
        Static::Duration(duration) => Static::Duration(duration.wrapping_neg()),
        other => other,
    }
}

/// `a op b` ⇔ `b flip(op) a`.
pub(crate) fn flip(op: BinaryOp) -> BinaryOp {
    match op {
        BinaryOp::Gt => BinaryOp::Lt,
        BinaryOp::Gte => BinaryOp::Lte,
        BinaryOp::Lt => BinaryOp::Gt,
        BinaryOp::Lte => BinaryOp::Gte,
        other => other,
    }
}

fn kernel(op: BinaryOp, left: &dyn Datum, right: &dyn Datum) -> Result<BooleanArray, EngineError> {
    let result = match op {
        BinaryOp::Eq => cmp::eq(left, right)?,
        BinaryOp::Neq => cmp::neq(left, right)?,
        BinaryOp::Gt => cmp::gt(left, right)?,
        BinaryOp::Gte => cmp::gt_eq(left, right)?,
        BinaryOp::Lt => cmp::lt(left, right)?,
        BinaryOp::Lte => cmp::lt_eq(left, right)?,
        _ => {
            return Err(EngineError::Unsupported(format!(
                "operator {}",
                op.as_str()
            )));
        }
    };
    Ok(without_nulls(&result))
}

/// Float comparison with IEEE semantics (`-0 = 0`; NaN compares false), unlike arrow's total
/// order; null elements compare false.
fn float_kernel(op: BinaryOp, values: &Float64Array, bound: impl Fn(usize) -> f64) -> BooleanArray {
    let mut bits = BooleanBufferBuilder::new(values.len());
    for index in 0..values.len() {
        let holds = values.is_valid(index)
            && crate::arith::ordering_holds(op, values.value(index).partial_cmp(&bound(index)));
        bits.append(holds);
    }
    BooleanArray::new(bits.finish(), None)
}

/// Row-wise float comparison of two arrays (nulls on either side compare false).
fn float_kernel_rows(op: BinaryOp, left: &Float64Array, right: &Float64Array) -> BooleanArray {
    let mut bits = BooleanBufferBuilder::new(left.len());
    for index in 0..left.len() {
        let holds = left.is_valid(index)
            && right.is_valid(index)
            && crate::arith::ordering_holds(op, left.value(index).partial_cmp(&right.value(index)));
        bits.append(holds);
    }
    BooleanArray::new(bits.finish(), None)
}

fn or_into(
    accumulated: Option<BooleanArray>,
    next: BooleanArray,
) -> Result<BooleanArray, EngineError> {
    match accumulated {
        None => Ok(next),
        Some(previous) => Ok(arrow_arith::boolean::or(&previous, &next)?),
    }
}

fn as_f64(array: &Int64Array) -> Float64Array {
    array.unary(|value| value as f64)
}

/// Compares every element with a literal; one boolean per element.
pub(crate) fn compare_with_static(
    op: BinaryOp,
    values: &Values,
    value: &Static,
) -> Result<BooleanArray, EngineError> {
    let elements = values.len();
    let mut mask: Option<BooleanArray> = None;
    let numeric = crate::arith::static_number(value);
    if let Some(number) = numeric {
        if let Some(ints) = &values.int {
            let result = match number {
                crate::arith::Number::Float(float) => float_kernel(op, &as_f64(ints), |_| float),
                crate::arith::Number::Int(int) | crate::arith::Number::Duration(int) => {
                    kernel(op, ints, &Int64Array::new_scalar(int))?
                }
            };
            mask = Some(or_into(mask, result)?);
        }
        if let Some(floats) = &values.float {
            let bound = number.as_f64();
            let result = float_kernel(op, floats, |_| bound);
            mask = Some(or_into(mask, result)?);
        }
        if let Some(durations) = &values.duration {
            let result = match number {
                crate::arith::Number::Float(float) => {
                    float_kernel(op, &as_f64(durations), |_| float)
                }
                crate::arith::Number::Int(int) | crate::arith::Number::Duration(int) => {
                    kernel(op, durations, &Int64Array::new_scalar(int))?
                }
            };
            mask = Some(or_into(mask, result)?);
        }
    }
    match value {
        Static::String(text) => {
            if let Some(strings) = &values.string {
                let strings = Strings::of(strings, "string operand")?;
                let result = strings.matches(|candidate| string_holds(op, candidate, text));
                mask = Some(or_into(mask, result)?);
            }
        }
        Static::Bool(flag) => {
            if let Some(booleans) = &values.boolean {
                let scalar = Scalar::new(BooleanArray::from(vec![*flag]));
                mask = Some(or_into(mask, kernel(op, booleans, &scalar)?)?);
            }
        }
        Static::Status(status) => {
            if let Some(codes) = &values.status {
                let scalar = Int32Array::new_scalar(status_code(*status));
                mask = Some(or_into(mask, kernel(op, codes, &scalar)?)?);
            }
        }
        Static::Kind(kind) => {
            if let Some(codes) = &values.kind {
                let scalar = Int32Array::new_scalar(kind_code(*kind));
                mask = Some(or_into(mask, kernel(op, codes, &scalar)?)?);
            }
        }
        Static::Int(_) | Static::Float(_) | Static::Duration(_) => {}
    }
    Ok(mask.unwrap_or_else(|| constant_mask(elements, false)))
}

fn string_holds(op: BinaryOp, candidate: &str, text: &str) -> bool {
    match op {
        BinaryOp::Eq => candidate == text,
        BinaryOp::Neq => candidate != text,
        BinaryOp::Gt => candidate > text,
        BinaryOp::Gte => candidate >= text,
        BinaryOp::Lt => candidate < text,
        BinaryOp::Lte => candidate <= text,
        _ => false,
    }
}

fn plain_strings(array: &ArrayRef) -> Result<StringArray, EngineError> {
    if let Some(plain) = array.as_string_opt::<i32>() {
        return Ok(plain.clone());
    }
    let strings = Strings::of(array, "string operand")?;
    Ok((0..array.len()).map(|row| strings.value(row)).collect())
}

/// Row-wise comparison of two one-value-per-row operands.
fn compare_rows(op: BinaryOp, left: &Values, right: &Values) -> Result<BooleanArray, EngineError> {
    let rows = left.rows;
    let mut mask: Option<BooleanArray> = None;
    let numeric = |values: &Values| -> Vec<(ArrayRef, bool)> {
        let mut arrays: Vec<(ArrayRef, bool)> = Vec::new();
        if let Some(ints) = &values.int {
            arrays.push((Arc::new(ints.clone()), false));
        }
        if let Some(floats) = &values.float {
            arrays.push((Arc::new(floats.clone()), true));
        }
        if let Some(durations) = &values.duration {
            arrays.push((Arc::new(durations.clone()), false));
        }
        arrays
    };
    for (left_array, left_float) in numeric(left) {
        for (right_array, right_float) in numeric(right) {
            let result = if left_float || right_float {
                let left_f = to_f64(&left_array);
                let right_f = to_f64(&right_array);
                float_kernel_rows(op, &left_f, &right_f)
            } else {
                kernel(op, &left_array, &right_array)?
            };
            mask = Some(or_into(mask, result)?);
        }
    }
    if let (Some(left_strings), Some(right_strings)) = (&left.string, &right.string) {
        let result = kernel(
            op,
            &plain_strings(left_strings)?,
            &plain_strings(right_strings)?,
        )?;
        mask = Some(or_into(mask, result)?);
    }
    if let (Some(left_bools), Some(right_bools)) = (&left.boolean, &right.boolean) {
        mask = Some(or_into(mask, kernel(op, left_bools, right_bools)?)?);
    }
    if let (Some(left_codes), Some(right_codes)) = (&left.status, &right.status) {
        mask = Some(or_into(mask, kernel(op, left_codes, right_codes)?)?);
    }
    if let (Some(left_codes), Some(right_codes)) = (&left.kind, &right.kind) {
        mask = Some(or_into(mask, kernel(op, left_codes, right_codes)?)?);
    }
    Ok(mask.unwrap_or_else(|| constant_mask(rows, false)))
}

fn to_f64(array: &ArrayRef) -> Float64Array {
    if let Some(floats) = array.as_primitive_opt::<arrow_array::types::Float64Type>() {
        return floats.clone();
    }
    match array.as_primitive_opt::<arrow_array::types::Int64Type>() {
        Some(ints) => as_f64(ints),
        None => {
            let mut nulls = BooleanBufferBuilder::new(array.len());
            nulls.append_n(array.len(), false);
            Float64Array::new(vec![0.0; array.len()].into(), Some(nulls.finish().into()))
        }
    }
}
