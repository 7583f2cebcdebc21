//! Turns query text into tokens.
//!
//! The whole input is tokenised up front. Attribute names are lexical: after a scope prefix
//! (`.`, `span.`, `resource.`, `parent.`, ...) everything up to whitespace or one of
//! `{ } ( ) = ~ ! < > & | ^ ,` belongs to the name, so the lexer emits complete attributes.

mod attribute;
mod literal;

pub(crate) use attribute::is_attribute_char;

use crate::ast::{AttributeScope, IntrinsicScope};
use crate::error::ParseError;
use crate::token::{Keyword, PUNCTUATION, Token, TokenKind};

/// Tokenises `source`; the last token is always [`TokenKind::Eof`].
pub(crate) fn tokenize(source: &str) -> Result<Vec<Token>, ParseError> {
    let mut lexer = Lexer { source, at: 0 };
    let mut tokens = Vec::new();
    loop {
        let token = lexer.next_token()?;
        let done = token.kind == TokenKind::Eof;
        tokens.push(token);
        if done {
            return Ok(tokens);
        }
    }
}

pub(crate) struct Lexer<'a> {
    source: &'a str,
    at: usize,
}

impl<'a> Lexer<'a> {
    fn rest(&self) -> &'a str {
        &self.source[self.at..]
    }

    fn peek(&self) -> Option<char> {
        self.rest().chars().next()
    }

    fn peek_second(&self) -> Option<char> {
        self.rest().chars().nth(1)
    }

    fn bump(&mut self) -> Option<char> {
        let next = self.peek()?;
        self.at += next.len_utf8();
        Some(next)
    }

    fn error(&self, offset: usize, message: impl Into<String>) -> ParseError {
        ParseError::at(self.source, offset, message)
    }

    fn token(&self, kind: TokenKind, start: usize) -> Token {
        Token {
            kind,
            start,
            end: self.at,
        }
    }

    /// Skips the whitespace Go's text scanner skips (space, tab, CR, LF) and comments.
    fn skip_trivia(&mut self) -> Result<(), ParseError> {
        loop {
            let rest = self.rest();
            if rest.starts_with([' ', '\t', '\n', '\r']) {
                self.at += 1;
                continue;
            }
            if rest.starts_with("//") {
                self.at += rest.find('\n').unwrap_or(rest.len());
                continue;
            }
            if let Some(body) = rest.strip_prefix("/*") {
                let Some(close) = body.find("*/") else {
                    return Err(self.error(self.at, "comment not terminated: expected `*/`"));
                };
                self.at += close + 4;
                continue;
            }
            return Ok(());
        }
    }

    fn next_token(&mut self) -> Result<Token, ParseError> {
        self.skip_trivia()?;
        let start = self.at;
        let Some(first) = self.peek() else {
            return Ok(self.token(TokenKind::Eof, start));
        };
        if first == '"' {
            let value = self.quoted_string()?;
            return Ok(self.token(TokenKind::Str(value), start));
        }
        if first == '`' {
            let value = self.raw_string()?;
            return Ok(self.token(TokenKind::Str(value), start));
        }
        let next_is_digit = self.peek_second().is_some_and(|c| c.is_ascii_digit());
        if first.is_ascii_digit() || (first == '.' && next_is_digit) {
            let kind = self.number()?;
            return Ok(self.token(kind, start));
        }
        if first == '.' {
            self.at += 1;
            let attribute = self.attribute(start, AttributeScope::Unscoped, false)?;
            return Ok(self.token(TokenKind::Attribute(attribute), start));
        }
        if first.is_alphabetic() || first == '_' {
            return self.word(start);
        }
        self.punctuation(start, first)
    }

    fn punctuation(&mut self, start: usize, first: char) -> Result<Token, ParseError> {
        let rest = self.rest();
        let Some((text, punct)) = PUNCTUATION.iter().find(|(text, _)| rest.starts_with(text))
        else {
            return Err(self.error(
                start,
                format!("expected an operator, literal, attribute or keyword but found unexpected character `{first}`"),
            ));
        };
        self.at += text.len();
        Ok(self.token(TokenKind::Punct(*punct), start))
    }

    /// An identifier or keyword, or a scope prefix (`span.`, `span:`, ...).
    fn word(&mut self, start: usize) -> Result<Token, ParseError> {
        while self.peek().is_some_and(|c| c.is_alphanumeric() || c == '_') {
            self.bump();
        }
        let word = &self.source[start..self.at];
        match self.peek() {
            Some('.') => {
                if let Some((scope, parent)) = dot_scope(word) {
                    self.at += 1;
                    let attribute = self.attribute(start, scope, parent)?;
                    return Ok(self.token(TokenKind::Attribute(attribute), start));
                }
            }
            Some(':') => {
                if let Some(scope) = colon_scope(word) {
                    self.at += 1;
                    return Ok(self.token(TokenKind::ScopeColon(scope), start));
                }
            }
            _ => {}
        }
        let kind = match Keyword::from_word(word) {
            Some(keyword) => TokenKind::Keyword(keyword),
            None => TokenKind::Ident(word.to_string()),
        };
        Ok(self.token(kind, start))
    }
}

/// Words that start an attribute when followed by `.`; the flag marks `parent.`.
fn dot_scope(word: &str) -> Option<(AttributeScope, bool)> {
    match word {
        "span" => Some((AttributeScope::Span, false)),
        "resource" => Some((AttributeScope::Resource, false)),
        "event" => Some((AttributeScope::Event, false)),
        "link" => Some((AttributeScope::Link, false)),
        "instrumentation" => Some((AttributeScope::Instrumentation, false)),
        "parent" => Some((AttributeScope::Unscoped, true)),
        _ => None,
    }
}

fn colon_scope(word: &str) -> Option<IntrinsicScope> {
    match word {
        "span" => Some(IntrinsicScope::Span),
        "trace" => Some(IntrinsicScope::Trace),
        "event" => Some(IntrinsicScope::Event),
        "link" => Some(IntrinsicScope::Link),
        "instrumentation" => Some(IntrinsicScope::Instrumentation),
        _ => None,
    }
}

#[cfg(test)]
mod tests;
