//! Printing field expressions with exactly the parentheses the grammar requires, so the
//! printed form never nests deeper than any input that produces the same tree.
//!
//! A prefix `-` or `!` takes everything binding at least as tightly as `*` into its operand
//! (`-a * b` is `-(a * b)`). So a prefix expression needs no parentheses as an operand, except
//! when such an operator follows it in the output; printing therefore tracks the precedence
//! of the operator that comes next (`trailing`, 0 for none).

use std::fmt::{self, Display, Formatter};

use crate::ast::{FieldExpr, UnaryOp};

/// Precedence of comparisons and of `x != nil` / `x = nil`.
const COMPARISON: u8 = 3;
/// Operators at least this tight are absorbed into a prefix operator's operand.
const PREFIX_OPERAND: u8 = 7;
/// Literals, attributes and prefix expressions.
const ATOM: u8 = 10;

fn precedence(expr: &FieldExpr) -> u8 {
    match expr {
        FieldExpr::Static(_) | FieldExpr::Attribute(_) => ATOM,
        FieldExpr::Binary { op, .. } => op.precedence(),
        FieldExpr::Unary { op, .. } => match op {
            UnaryOp::Neg | UnaryOp::Not => ATOM,
            UnaryOp::Exists | UnaryOp::NotExists => COMPARISON,
        },
    }
}

fn write_operand(
    f: &mut Formatter<'_>,
    expr: &FieldExpr,
    parens: bool,
    trailing: u8,
) -> fmt::Result {
    if !parens {
        return write_expr(f, expr, trailing);
    }
    f.write_str("(")?;
    write_expr(f, expr, 0)?;
    f.write_str(")")
}

fn write_expr(f: &mut Formatter<'_>, expr: &FieldExpr, trailing: u8) -> fmt::Result {
    match expr {
        FieldExpr::Static(value) => write!(f, "{value}"),
        FieldExpr::Attribute(attribute) => write!(f, "{attribute}"),
        FieldExpr::Binary { op, lhs, rhs } => {
            let level = op.precedence();
            let right_assoc = op.is_right_assoc();
            let left_level = precedence(lhs);
            let right_level = precedence(rhs);
            let left_parens = left_level < level || (left_level == level && right_assoc);
            let right_parens = right_level < level || (right_level == level && !right_assoc);
            write_operand(f, lhs, left_parens, level)?;
            write!(f, " {} ", op.as_str())?;
            write_operand(f, rhs, right_parens, trailing)
        }
        FieldExpr::Unary { op, expr: operand } => match op {
            UnaryOp::Neg | UnaryOp::Not => {
                let symbol = if *op == UnaryOp::Neg { "-" } else { "!" };
                let inner_parens = precedence(operand) < PREFIX_OPERAND;
                if trailing < PREFIX_OPERAND {
                    f.write_str(symbol)?;
                    return write_operand(f, operand, inner_parens, trailing);
                }
                write!(f, "({symbol}")?;
                write_operand(f, operand, inner_parens, 0)?;
                f.write_str(")")
            }
            UnaryOp::Exists | UnaryOp::NotExists => {
                write_operand(f, operand, precedence(operand) < COMPARISON, COMPARISON)?;
                if *op == UnaryOp::Exists {
                    return f.write_str(" != nil");
                }
                f.write_str(" = nil")
            }
        },
    }
}

impl Display for FieldExpr {
    fn fmt(&self, f: &mut Formatter<'_>) -> fmt::Result {
        write_expr(f, self, 0)
    }
}
