//! Field expressions (inside `{ }`, aggregate arguments, `by(...)`), literals and attributes.
//!
//! Binding strengths: `&& ||` 2, comparisons and regex 3, `+ -` 5, `* / %` 7, `^` 8 (right
//! associative). A prefix `-` or `!` takes an operand that extends over `* / % ^` but stops at
//! `+ -` and anything looser; `nil =` / `nil !=` take an operand that stops at comparisons.

use super::Parser;
use crate::ast::{
    Attribute, BinaryOp, FieldExpr, Intrinsic, IntrinsicScope, Kind, Static, Status, UnaryOp,
};
use crate::error::ParseError;
use crate::token::{Keyword, Punct, TokenKind};

const COMPARISON: u8 = 3;
const PREFIX_OPERAND: u8 = 7;

fn infix(kind: &TokenKind) -> Option<BinaryOp> {
    let TokenKind::Punct(punct) = kind else {
        return None;
    };
    let op = match punct {
        Punct::Or => BinaryOp::Or,
        Punct::And => BinaryOp::And,
        Punct::Eq => BinaryOp::Eq,
        Punct::Neq => BinaryOp::Neq,
        Punct::Re => BinaryOp::Regex,
        Punct::Nre => BinaryOp::NotRegex,
        Punct::Gt => BinaryOp::Gt,
        Punct::Gte => BinaryOp::Gte,
        Punct::Lt => BinaryOp::Lt,
        Punct::Lte => BinaryOp::Lte,
        Punct::Add => BinaryOp::Add,
        Punct::Sub => BinaryOp::Sub,
        Punct::Mul => BinaryOp::Mul,
        Punct::Div => BinaryOp::Div,
        Punct::Mod => BinaryOp::Mod,
        Punct::Pow => BinaryOp::Pow,
        _ => return None,
    };
    Some(op)
}

/// Legacy (unscoped) intrinsic keywords.
fn legacy_intrinsic(keyword: Keyword) -> Option<Intrinsic> {
    let intrinsic = match keyword {
        Keyword::Duration => Intrinsic::Duration,
        Keyword::Name => Intrinsic::Name,
        Keyword::Status => Intrinsic::Status,
        Keyword::StatusMessage => Intrinsic::StatusMessage,
        Keyword::Kind => Intrinsic::Kind,
        Keyword::Parent => Intrinsic::Parent,
        Keyword::RootName => Intrinsic::TraceRootName,
        Keyword::RootServiceName => Intrinsic::TraceRootService,
        Keyword::TraceDuration => Intrinsic::TraceDuration,
        Keyword::NestedSetLeft => Intrinsic::NestedSetLeft,
        Keyword::NestedSetRight => Intrinsic::NestedSetRight,
        Keyword::NestedSetParent => Intrinsic::NestedSetParent,
        _ => return None,
    };
    Some(intrinsic)
}

/// The intrinsics that may follow each `scope:`.
fn scoped_intrinsic(scope: IntrinsicScope, keyword: Keyword) -> Option<Intrinsic> {
    let intrinsic = match (scope, keyword) {
        (IntrinsicScope::Trace, Keyword::Duration) => Intrinsic::TraceDuration,
        (IntrinsicScope::Trace, Keyword::RootName) => Intrinsic::TraceRootName,
        (IntrinsicScope::Trace, Keyword::RootService) => Intrinsic::TraceRootService,
        (IntrinsicScope::Trace, Keyword::Id) => Intrinsic::TraceId,
        (IntrinsicScope::Span, Keyword::Duration) => Intrinsic::Duration,
        (IntrinsicScope::Span, Keyword::Name) => Intrinsic::Name,
        (IntrinsicScope::Span, Keyword::Kind) => Intrinsic::Kind,
        (IntrinsicScope::Span, Keyword::Status) => Intrinsic::Status,
        (IntrinsicScope::Span, Keyword::StatusMessage) => Intrinsic::StatusMessage,
        (IntrinsicScope::Span, Keyword::Id) => Intrinsic::SpanId,
        (IntrinsicScope::Span, Keyword::ParentId) => Intrinsic::ParentId,
        (IntrinsicScope::Span, Keyword::ChildCount) => Intrinsic::ChildCount,
        (IntrinsicScope::Event, Keyword::Name) => Intrinsic::EventName,
        (IntrinsicScope::Event, Keyword::TimeSinceStart) => Intrinsic::EventTimeSinceStart,
        (IntrinsicScope::Link, Keyword::TraceId) => Intrinsic::LinkTraceId,
        (IntrinsicScope::Link, Keyword::SpanId) => Intrinsic::LinkSpanId,
        (IntrinsicScope::Instrumentation, Keyword::Name) => Intrinsic::InstrumentationName,
        (IntrinsicScope::Instrumentation, Keyword::Version) => Intrinsic::InstrumentationVersion,
        _ => return None,
    };
    Some(intrinsic)
}

fn scoped_choices(scope: IntrinsicScope) -> &'static str {
    match scope {
        IntrinsicScope::Trace => "`duration`, `rootName`, `rootService` or `id`",
        IntrinsicScope::Span => {
            "`duration`, `name`, `kind`, `status`, `statusMessage`, `id`, `parentID` or `childCount`"
        }
        IntrinsicScope::Event => "`name` or `timeSinceStart`",
        IntrinsicScope::Link => "`traceID` or `spanID`",
        IntrinsicScope::Instrumentation => "`name` or `version`",
    }
}

fn keyword_static(keyword: Keyword) -> Option<Static> {
    let value = match keyword {
        Keyword::True => Static::Bool(true),
        Keyword::False => Static::Bool(false),
        Keyword::Ok => Static::Status(Status::Ok),
        Keyword::Error => Static::Status(Status::Error),
        Keyword::Unset => Static::Status(Status::Unset),
        Keyword::Unspecified => Static::Kind(Kind::Unspecified),
        Keyword::Internal => Static::Kind(Kind::Internal),
        Keyword::Server => Static::Kind(Kind::Server),
        Keyword::Client => Static::Kind(Kind::Client),
        Keyword::Producer => Static::Kind(Kind::Producer),
        Keyword::Consumer => Static::Kind(Kind::Consumer),
        _ => return None,
    };
    Some(value)
}

impl Parser<'_> {
    /// A complete field expression, one nesting level down, and its height.
    pub(super) fn field_expr(&mut self) -> Result<(FieldExpr, u32), ParseError> {
        self.enter()?;
        let parsed = self.field_binary(0)?;
        self.leave();
        Ok(parsed)
    }

    /// Pratt loop; returns the expression and its height.
    fn field_binary(&mut self, min_level: u8) -> Result<(FieldExpr, u32), ParseError> {
        let (mut lhs, mut height) = self.field_prefix()?;
        while let Some(op) = infix(self.peek_kind()) {
            let level = op.precedence();
            if level < min_level {
                break;
            }
            let op_start = self.advance().start;
            if matches!(op, BinaryOp::Eq | BinaryOp::Neq) && self.at_keyword(Keyword::Nil) {
                self.advance();
                let test = if op == BinaryOp::Eq {
                    UnaryOp::NotExists
                } else {
                    UnaryOp::Exists
                };
                lhs = FieldExpr::unary(test, lhs);
                height += 1;
                self.check_height(height, op_start)?;
                continue;
            }
            let next_min = if op.is_right_assoc() {
                level
            } else {
                level + 1
            };
            self.enter()?;
            let (rhs, rhs_height) = self.field_binary(next_min)?;
            self.leave();
            lhs = FieldExpr::binary(op, lhs, rhs);
            height = height.max(rhs_height) + 1;
            self.check_height(height, op_start)?;
        }
        Ok((lhs, height))
    }

    fn field_prefix(&mut self) -> Result<(FieldExpr, u32), ParseError> {
        let token = self.peek().clone();
        match &token.kind {
            TokenKind::Punct(Punct::LParen) => {
                self.advance();
                let inner = self.field_expr()?;
                self.expect_punct(Punct::RParen)?;
                Ok(inner)
            }
            TokenKind::Punct(punct @ (Punct::Sub | Punct::Not)) => {
                self.advance();
                let op = if *punct == Punct::Sub {
                    UnaryOp::Neg
                } else {
                    UnaryOp::Not
                };
                self.enter()?;
                let (operand, height) = self.field_binary(PREFIX_OPERAND)?;
                self.leave();
                self.check_height(height + 1, token.start)?;
                Ok((FieldExpr::unary(op, operand), height + 1))
            }
            TokenKind::Keyword(Keyword::Nil) => self.nil_prefix(),
            _ => Ok((self.field_operand()?, 1)),
        }
    }

    /// `nil = x`, `nil != x`, and `nil = nil` / `nil != nil` (both false).
    fn nil_prefix(&mut self) -> Result<(FieldExpr, u32), ParseError> {
        self.advance();
        let test = match self.peek_kind() {
            TokenKind::Punct(Punct::Eq) => UnaryOp::NotExists,
            TokenKind::Punct(Punct::Neq) => UnaryOp::Exists,
            _ => return Err(self.unexpected("`=` or `!=` after `nil`")),
        };
        self.advance();
        if self.at_keyword(Keyword::Nil) {
            self.advance();
            return Ok((FieldExpr::Static(Static::Bool(false)), 1));
        }
        self.enter()?;
        let (operand, height) = self.field_binary(COMPARISON + 1)?;
        self.leave();
        self.check_height(height + 1, self.peek().start)?;
        Ok((FieldExpr::unary(test, operand), height + 1))
    }

    /// A literal, attribute or intrinsic.
    fn field_operand(&mut self) -> Result<FieldExpr, ParseError> {
        if let Some(attribute) = self.try_attribute()? {
            return Ok(FieldExpr::Attribute(attribute));
        }
        let value = self.static_value("a field expression (literal, attribute or intrinsic)")?;
        Ok(FieldExpr::Static(value))
    }

    /// A literal: string, number, duration, boolean, status, kind, `minInt` or `maxInt`.
    pub(super) fn static_value(&mut self, expected: &str) -> Result<Static, ParseError> {
        let token = self.peek().clone();
        let value = match &token.kind {
            TokenKind::Str(text) => Static::String(text.clone()),
            TokenKind::Int(value) => Static::Int(*value),
            TokenKind::Float(value) => Static::Float(*value),
            TokenKind::Duration(value) => Static::Duration(*value),
            TokenKind::Keyword(keyword) => match keyword_static(*keyword) {
                Some(value) => value,
                None => return Err(self.unexpected(expected)),
            },
            TokenKind::Ident(word) if word == "minInt" => Static::Int(i64::MIN),
            TokenKind::Ident(word) if word == "maxInt" => Static::Int(i64::MAX),
            TokenKind::Ident(word) => {
                return Err(self.error_at(
                    token.start,
                    format!(
                        "expected {expected} but found unknown identifier `{word}` (attributes are written `.{word}`, `span.{word}` or `resource.{word}`)"
                    ),
                ));
            }
            _ => return Err(self.unexpected(expected)),
        };
        self.advance();
        Ok(value)
    }

    /// An attribute or intrinsic, or `None` (nothing consumed) if the next token is neither.
    pub(super) fn try_attribute(&mut self) -> Result<Option<Attribute>, ParseError> {
        let token = self.peek().clone();
        match &token.kind {
            TokenKind::Attribute(attribute) => {
                self.advance();
                Ok(Some(attribute.clone()))
            }
            TokenKind::Keyword(keyword) => {
                let Some(intrinsic) = legacy_intrinsic(*keyword) else {
                    return Ok(None);
                };
                self.advance();
                Ok(Some(Attribute::Intrinsic(intrinsic)))
            }
            TokenKind::ScopeColon(scope) => {
                self.advance();
                let found = match self.peek_kind() {
                    TokenKind::Keyword(keyword) => scoped_intrinsic(*scope, *keyword),
                    _ => None,
                };
                let Some(intrinsic) = found else {
                    let expected =
                        format!("{} after `{}:`", scoped_choices(*scope), scope.as_str());
                    return Err(self.unexpected(&expected));
                };
                self.advance();
                Ok(Some(Attribute::Intrinsic(intrinsic)))
            }
            _ => Ok(None),
        }
    }

    /// An attribute or intrinsic (for `select(...)`, metrics arguments and `by (...)`).
    pub(super) fn attribute(&mut self) -> Result<Attribute, ParseError> {
        match self.try_attribute()? {
            Some(attribute) => Ok(attribute),
            None => Err(self.unexpected("an attribute or intrinsic")),
        }
    }

    /// `a, b, c`
    pub(super) fn attribute_list(&mut self) -> Result<Vec<Attribute>, ParseError> {
        let mut attributes = vec![self.attribute()?];
        while self.eat_punct(Punct::Comma) {
            attributes.push(self.attribute()?);
        }
        Ok(attributes)
    }
}
