//! Type rules for field expressions and attributes.

use super::regex::check_re2;
use crate::ast::{
    Attribute, AttributeScope, BinaryOp, CustomAttribute, FieldExpr, Static, StaticType, UnaryOp,
};
use crate::error::ValidateError;

/// Whether two operand types can meet in a binary operation (the operator is checked
/// separately): unknown attribute types, equal types, numbers with numbers, and nil with
/// anything.
pub(super) fn types_match(left: StaticType, right: StaticType) -> bool {
    if left == StaticType::Attribute || right == StaticType::Attribute {
        return true;
    }
    if left == right || (left.is_numeric() && right.is_numeric()) {
        return true;
    }
    left == StaticType::Nil || right == StaticType::Nil
}

/// Whether `op` is defined for an operand of type `operand`.
pub(super) fn operator_accepts(op: BinaryOp, operand: StaticType) -> bool {
    use BinaryOp as Op;
    match operand {
        StaticType::Attribute => true,
        StaticType::Boolean => matches!(op, Op::And | Op::Or | Op::Eq | Op::Neq),
        StaticType::Int | StaticType::Float | StaticType::Duration => matches!(
            op,
            Op::Add
                | Op::Sub
                | Op::Mul
                | Op::Div
                | Op::Mod
                | Op::Pow
                | Op::Eq
                | Op::Neq
                | Op::Gt
                | Op::Gte
                | Op::Lt
                | Op::Lte
        ),
        StaticType::String => matches!(
            op,
            Op::Eq | Op::Neq | Op::Regex | Op::NotRegex | Op::Gt | Op::Gte | Op::Lt | Op::Lte
        ),
        StaticType::Nil | StaticType::Status | StaticType::Kind => matches!(op, Op::Eq | Op::Neq),
    }
}

/// Checks both operand types of a binary operation; `shown` prints the whole operation.
pub(super) fn check_binary_types(
    op: BinaryOp,
    left: StaticType,
    right: StaticType,
    shown: &dyn std::fmt::Display,
) -> Result<(), ValidateError> {
    if !types_match(left, right) {
        return Err(ValidateError::TypeMismatch {
            expr: shown.to_string(),
        });
    }
    if !operator_accepts(op, left) || !operator_accepts(op, right) {
        return Err(ValidateError::IllegalOperation {
            expr: shown.to_string(),
        });
    }
    Ok(())
}

/// `parent` scoped attributes and the `parent` intrinsic are not supported yet.
pub(super) fn attribute(attribute: &Attribute) -> Result<(), ValidateError> {
    match attribute {
        Attribute::Custom(CustomAttribute { parent: true, .. }) => {
            Err(ValidateError::unsupported("parent"))
        }
        Attribute::Intrinsic(crate::ast::Intrinsic::Parent) => {
            Err(ValidateError::unsupported("intrinsic (parent)"))
        }
        _ => Ok(()),
    }
}

fn is_resource_service_name(attribute: &Attribute) -> bool {
    matches!(
        attribute,
        Attribute::Custom(CustomAttribute {
            scope: AttributeScope::Resource,
            parent: false,
            name,
        }) if name == "service.name"
    )
}

pub(super) fn field(expr: &FieldExpr) -> Result<(), ValidateError> {
    match expr {
        FieldExpr::Static(_) => Ok(()),
        FieldExpr::Attribute(attr) => attribute(attr),
        FieldExpr::Binary { op, lhs, rhs } => {
            field(lhs)?;
            field(rhs)?;
            check_binary_types(*op, lhs.implied_type(), rhs.implied_type(), expr)?;
            if matches!(op, BinaryOp::Regex | BinaryOp::NotRegex) {
                return regex_operand(rhs);
            }
            Ok(())
        }
        FieldExpr::Unary { op, expr: operand } => {
            field(operand)?;
            if *op == UnaryOp::NotExists {
                not_exists_operand(operand)?;
            }
            let operand_type = operand.implied_type();
            if operand_type == StaticType::Attribute {
                return Ok(());
            }
            let valid = match op {
                UnaryOp::Neg => operand_type.is_numeric(),
                UnaryOp::Not => operand_type == StaticType::Boolean,
                UnaryOp::Exists | UnaryOp::NotExists => true,
            };
            if !valid {
                return Err(ValidateError::IllegalOperation {
                    expr: expr.to_string(),
                });
            }
            Ok(())
        }
    }
}

/// `x = nil` is meaningless for intrinsics and for `resource.service.name`, which always exist.
fn not_exists_operand(operand: &FieldExpr) -> Result<(), ValidateError> {
    let FieldExpr::Attribute(attr) = operand else {
        return Ok(());
    };
    if let Attribute::Intrinsic(_) = attr {
        return Err(ValidateError::invalid(format!(
            "{attr} = nil is not valid because intrinsics cannot be nil"
        )));
    }
    if is_resource_service_name(attr) {
        return Err(ValidateError::invalid(format!(
            "{attr} = nil is not valid because resource.service.name cannot be nil"
        )));
    }
    Ok(())
}

/// The right side of `=~` / `!~` must be a string literal holding a valid RE2 expression.
fn regex_operand(rhs: &FieldExpr) -> Result<(), ValidateError> {
    let FieldExpr::Static(Static::String(pattern)) = rhs else {
        return Err(ValidateError::InvalidRegex {
            expr: rhs.to_string(),
            reason: "the right side of =~ and !~ must be a string literal".to_string(),
        });
    };
    check_re2(pattern).map_err(|reason| ValidateError::InvalidRegex {
        expr: rhs.to_string(),
        reason,
    })
}
