//! Recursive-descent / Pratt parser.
//!
//! Spanset filter contents (field expressions) are parsed directly into typed trees. Everything
//! outside braces is first parsed into an untyped operator tree ([`node::Node`]) with a single
//! precedence table, exactly as Tempo's grammar shares one table across all productions; the
//! tree is then checked against the grammar and converted into the typed AST
//! ([`convert`], [`scalar`], [`metrics`]). This avoids unbounded look-ahead on `(`, which can
//! open a spanset expression, a wrapped pipeline, a scalar expression or a metrics expression.

mod calls;
mod convert;
mod field;
mod metrics;
mod node;
mod scalar;

use crate::ast::{Hint, Query};
use crate::error::ParseError;
use crate::lexer::tokenize;
use crate::token::{Keyword, Punct, Token, TokenKind};

/// Deepest nesting of parentheses, prefix operators and right-hand operands the parser
/// follows (its recursion depth).
pub const MAX_NESTING: u32 = 128;

/// Greatest height of the syntax tree, counting field expressions inside filters and
/// arguments (a chain `a || b || c` has height 3). Bounds the recursion of the printer, the
/// validator and destructors.
pub const MAX_HEIGHT: u32 = 256;

/// Parses a TraceQL query.
pub fn parse(query: &str) -> Result<Query, ParseError> {
    let tokens = tokenize(query)?;
    let mut parser = Parser {
        source: query,
        tokens,
        at: 0,
        depth: 0,
    };
    parser.query()
}

pub(crate) struct Parser<'a> {
    source: &'a str,
    tokens: Vec<Token>,
    at: usize,
    depth: u32,
}

impl<'a> Parser<'a> {
    fn query(&mut self) -> Result<Query, ParseError> {
        let root = self.root_expr(0)?;
        let mut hints = Vec::new();
        while self.at_keyword(Keyword::With) {
            hints = self.hints()?;
        }
        if !self.at_eof() {
            return Err(self.unexpected("end of query, an operator, `|` or `with(...)`"));
        }
        let body = self.convert_query(root)?;
        Ok(Query { body, hints })
    }

    /// `with(name=value, ...)`
    fn hints(&mut self) -> Result<Vec<Hint>, ParseError> {
        self.advance();
        self.expect_punct(Punct::LParen)?;
        let mut hints = Vec::new();
        loop {
            let name = match &self.peek().kind {
                TokenKind::Ident(name) => name.clone(),
                _ => return Err(self.unexpected("a hint name")),
            };
            self.advance();
            self.expect_punct(Punct::Eq)?;
            let value = self.static_value("a hint value (string, number, duration or boolean)")?;
            hints.push(Hint { name, value });
            if !self.eat_punct(Punct::Comma) {
                break;
            }
        }
        self.expect_punct(Punct::RParen)?;
        Ok(hints)
    }

    // ---- token cursor -------------------------------------------------------------------

    fn peek(&self) -> &Token {
        let last = self.tokens.len().saturating_sub(1);
        &self.tokens[self.at.min(last)]
    }

    fn peek_kind(&self) -> &TokenKind {
        &self.peek().kind
    }

    fn advance(&mut self) -> Token {
        let token = self.peek().clone();
        if self.at + 1 < self.tokens.len() {
            self.at += 1;
        }
        token
    }

    fn at_eof(&self) -> bool {
        matches!(self.peek_kind(), TokenKind::Eof)
    }

    fn at_punct(&self, punct: Punct) -> bool {
        matches!(self.peek_kind(), TokenKind::Punct(p) if *p == punct)
    }

    fn at_keyword(&self, keyword: Keyword) -> bool {
        matches!(self.peek_kind(), TokenKind::Keyword(k) if *k == keyword)
    }

    fn eat_punct(&mut self, punct: Punct) -> bool {
        if !self.at_punct(punct) {
            return false;
        }
        self.advance();
        true
    }

    fn expect_punct(&mut self, punct: Punct) -> Result<Token, ParseError> {
        if !self.at_punct(punct) {
            return Err(self.unexpected(&format!("`{}`", punct.as_str())));
        }
        Ok(self.advance())
    }

    // ---- errors and limits --------------------------------------------------------------

    fn error_at(&self, offset: usize, message: impl Into<String>) -> ParseError {
        ParseError::at(self.source, offset, message)
    }

    /// "expected X but found <next token>"
    fn unexpected(&self, expected: &str) -> ParseError {
        let token = self.peek();
        self.error_at(
            token.start,
            format!("expected {expected} but found {}", token.kind),
        )
    }

    /// Source text of a byte range, shortened for messages.
    fn snippet(&self, start: usize, end: usize) -> String {
        let text = self.source.get(start..end).unwrap_or("").trim();
        let mut chars = text.chars();
        let short: String = chars.by_ref().take(40).collect();
        if chars.next().is_some() {
            return format!("`{short}...`");
        }
        format!("`{short}`")
    }

    /// Enters one more level of parser recursion, failing beyond [`MAX_NESTING`]. After an
    /// error the parse is abandoned, so error paths need not call [`Self::leave`].
    fn enter(&mut self) -> Result<(), ParseError> {
        if self.depth >= MAX_NESTING {
            return Err(self.error_at(
                self.peek().start,
                format!("expected at most {MAX_NESTING} levels of nested parentheses and operators but found more"),
            ));
        }
        self.depth += 1;
        Ok(())
    }

    fn leave(&mut self) {
        self.depth = self.depth.saturating_sub(1);
    }

    fn check_height(&self, height: u32, offset: usize) -> Result<(), ParseError> {
        if height > MAX_HEIGHT {
            return Err(self.too_deep(offset));
        }
        Ok(())
    }

    fn too_deep(&self, offset: usize) -> ParseError {
        self.error_at(
            offset,
            format!(
                "expected an expression at most {MAX_HEIGHT} operators deep but found a deeper one"
            ),
        )
    }
}

#[cfg(test)]
mod tests;
