//! The untyped operator tree for everything outside spanset filters.
//!
//! Binding strengths (Tempo's single table, loosest first): `|` 1, `&& ||` 2, comparisons and
//! all spanset operators 3, `+ -` 5, `* / %` 7, `^` 8 (right associative), prefix `-` 9 (binds
//! only the literal or parenthesised expression right after it).

use super::Parser;
use crate::ast::{Aggregate, Attribute, FieldExpr, FirstStage, SpansetFilter, Static};
use crate::error::ParseError;
use crate::token::{Punct, TokenKind};

const PREFIX_MINUS_OPERAND: u8 = 10;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum RootOp {
    Pipe,
    And,
    Or,
    Eq,
    Neq,
    Lt,
    Lte,
    Gt,
    Gte,
    Re,
    /// `!~`
    Nre,
    Desc,
    Ance,
    Sibling,
    NotChild,
    NotParent,
    NotDesc,
    NotAnce,
    UnionChild,
    UnionParent,
    UnionDesc,
    UnionAnce,
    UnionSibling,
    Add,
    Sub,
    Mul,
    Div,
    Mod,
    Pow,
}

impl RootOp {
    fn from_punct(punct: Punct) -> Option<Self> {
        let op = match punct {
            Punct::Pipe => Self::Pipe,
            Punct::And => Self::And,
            Punct::Or => Self::Or,
            Punct::Eq => Self::Eq,
            Punct::Neq => Self::Neq,
            Punct::Lt => Self::Lt,
            Punct::Lte => Self::Lte,
            Punct::Gt => Self::Gt,
            Punct::Gte => Self::Gte,
            Punct::Re => Self::Re,
            Punct::Nre => Self::Nre,
            Punct::Desc => Self::Desc,
            Punct::Ance => Self::Ance,
            Punct::Tilde => Self::Sibling,
            Punct::NotChild => Self::NotChild,
            Punct::NotParent => Self::NotParent,
            Punct::NotDesc => Self::NotDesc,
            Punct::NotAnce => Self::NotAnce,
            Punct::UnionChild => Self::UnionChild,
            Punct::UnionParent => Self::UnionParent,
            Punct::UnionDesc => Self::UnionDesc,
            Punct::UnionAnce => Self::UnionAnce,
            Punct::UnionSibling => Self::UnionSibling,
            Punct::Add => Self::Add,
            Punct::Sub => Self::Sub,
            Punct::Mul => Self::Mul,
            Punct::Div => Self::Div,
            Punct::Mod => Self::Mod,
            Punct::Pow => Self::Pow,
            _ => return None,
        };
        Some(op)
    }

    fn precedence(self) -> u8 {
        match self {
            Self::Pipe => 1,
            Self::And | Self::Or => 2,
            Self::Add | Self::Sub => 5,
            Self::Mul | Self::Div | Self::Mod => 7,
            Self::Pow => 8,
            _ => 3,
        }
    }

    pub(super) fn as_str(self) -> &'static str {
        match self {
            Self::Pipe => "|",
            Self::And => "&&",
            Self::Or => "||",
            Self::Eq => "=",
            Self::Neq => "!=",
            Self::Lt => "<",
            Self::Lte => "<=",
            Self::Gt => ">",
            Self::Gte => ">=",
            Self::Re => "=~",
            Self::Nre => "!~",
            Self::Desc => ">>",
            Self::Ance => "<<",
            Self::Sibling => "~",
            Self::NotChild => "!>",
            Self::NotParent => "!<",
            Self::NotDesc => "!>>",
            Self::NotAnce => "!<<",
            Self::UnionChild => "&>",
            Self::UnionParent => "&<",
            Self::UnionDesc => "&>>",
            Self::UnionAnce => "&<<",
            Self::UnionSibling => "&~",
            Self::Add => "+",
            Self::Sub => "-",
            Self::Mul => "*",
            Self::Div => "/",
            Self::Mod => "%",
            Self::Pow => "^",
        }
    }

    /// `= != < <= > >=`
    pub(super) fn is_comparison(self) -> bool {
        matches!(
            self,
            Self::Eq | Self::Neq | Self::Lt | Self::Lte | Self::Gt | Self::Gte
        )
    }

    /// `+ - * / % ^`
    pub(super) fn is_arithmetic(self) -> bool {
        matches!(
            self,
            Self::Add | Self::Sub | Self::Mul | Self::Div | Self::Mod | Self::Pow
        )
    }
}

/// Function-call forms outside spanset filters.
#[derive(Debug, Clone, PartialEq)]
pub(super) enum Call {
    Aggregate(Aggregate),
    By(FieldExpr),
    Select(Vec<Attribute>),
    Coalesce,
    FirstStage(FirstStage),
    TopK(i64),
    BottomK(i64),
}

#[derive(Debug, Clone, PartialEq)]
pub(super) enum NodeKind {
    Filter(SpansetFilter),
    /// An integer, float or duration literal.
    Number(Static),
    Neg(Box<Node>),
    Paren(Box<Node>),
    Call(Call),
    Binary {
        op: RootOp,
        op_start: usize,
        lhs: Box<Node>,
        rhs: Box<Node>,
    },
}

#[derive(Debug, Clone, PartialEq)]
pub(super) struct Node {
    pub kind: NodeKind,
    /// Byte range of the node's text.
    pub start: usize,
    pub end: usize,
    pub height: u32,
}

impl Node {
    /// The right-hand operand of a pipe chain is never itself a pipe (left associativity), so
    /// flattening only follows left operands.
    pub(super) fn into_stages(self) -> Vec<Node> {
        let mut stages = Vec::new();
        let mut current = self;
        loop {
            match current.kind {
                NodeKind::Binary {
                    op: RootOp::Pipe,
                    lhs,
                    rhs,
                    ..
                } => {
                    stages.push(*rhs);
                    current = *lhs;
                }
                kind => {
                    stages.push(Node { kind, ..current });
                    stages.reverse();
                    return stages;
                }
            }
        }
    }
}

impl Parser<'_> {
    /// Parses the operator tree at `min_level` binding strength.
    pub(super) fn root_expr(&mut self, min_level: u8) -> Result<Node, ParseError> {
        let mut lhs = self.root_prefix()?;
        while let TokenKind::Punct(punct) = self.peek_kind() {
            let Some(op) = RootOp::from_punct(*punct) else {
                break;
            };
            let level = op.precedence();
            if level < min_level {
                break;
            }
            let op_start = self.advance().start;
            let next_min = if op == RootOp::Pow { level } else { level + 1 };
            self.enter()?;
            let rhs = self.root_expr(next_min)?;
            self.leave();
            let height = lhs.height.max(rhs.height) + 1;
            self.check_height(height, op_start)?;
            lhs = Node {
                start: lhs.start,
                end: rhs.end,
                height,
                kind: NodeKind::Binary {
                    op,
                    op_start,
                    lhs: Box::new(lhs),
                    rhs: Box::new(rhs),
                },
            };
        }
        Ok(lhs)
    }

    fn root_prefix(&mut self) -> Result<Node, ParseError> {
        let token = self.peek().clone();
        let leaf = |kind| Node {
            kind,
            start: token.start,
            end: token.end,
            height: 1,
        };
        match &token.kind {
            TokenKind::Punct(Punct::LBrace) => {
                let (filter, height) = self.spanset_filter()?;
                Ok(self.finish(NodeKind::Filter(filter), token.start, height))
            }
            TokenKind::Punct(Punct::LParen) => {
                self.advance();
                self.enter()?;
                let inner = self.root_expr(0)?;
                self.leave();
                self.expect_punct(Punct::RParen)?;
                let height = inner.height + 1;
                self.check_height(height, token.start)?;
                Ok(self.finish(NodeKind::Paren(Box::new(inner)), token.start, height))
            }
            TokenKind::Punct(Punct::Sub) => {
                self.advance();
                self.enter()?;
                let operand = self.root_expr(PREFIX_MINUS_OPERAND)?;
                self.leave();
                let height = operand.height + 1;
                self.check_height(height, token.start)?;
                Ok(self.finish(NodeKind::Neg(Box::new(operand)), token.start, height))
            }
            TokenKind::Int(value) => {
                self.advance();
                Ok(leaf(NodeKind::Number(Static::Int(*value))))
            }
            TokenKind::Float(value) => {
                self.advance();
                Ok(leaf(NodeKind::Number(Static::Float(*value))))
            }
            TokenKind::Duration(value) => {
                self.advance();
                Ok(leaf(NodeKind::Number(Static::Duration(*value))))
            }
            TokenKind::Keyword(keyword) => match self.call(*keyword)? {
                Some((call, height)) => Ok(self.finish(NodeKind::Call(call), token.start, height)),
                None => Err(self.root_operand_expected()),
            },
            _ => Err(self.root_operand_expected()),
        }
    }

    fn root_operand_expected(&self) -> ParseError {
        self.unexpected(
            "a spanset filter `{ ... }`, `(`, a number, an aggregate such as `count()`, `by(...)`, `select(...)`, `coalesce()` or a metrics function such as `rate()`",
        )
    }

    /// A node spanning from `start` to the end of the previous token.
    fn finish(&self, kind: NodeKind, start: usize, height: u32) -> Node {
        let end = self
            .tokens
            .get(self.at.saturating_sub(1))
            .map_or(start, |token| token.end);
        Node {
            kind,
            start,
            end,
            height,
        }
    }

    /// `{ }` or `{ expr }`, with the filter's height.
    pub(super) fn spanset_filter(&mut self) -> Result<(SpansetFilter, u32), ParseError> {
        self.expect_punct(Punct::LBrace)?;
        if self.eat_punct(Punct::RBrace) {
            return Ok((SpansetFilter { expr: None }, 1));
        }
        let (expr, height) = self.field_expr()?;
        if !self.at_punct(Punct::RBrace) {
            return Err(self.unexpected("an operator or `}`"));
        }
        self.advance();
        Ok((SpansetFilter { expr: Some(expr) }, height + 1))
    }
}
