//! Attribute names after a scope prefix.

use super::Lexer;
use crate::ast::{Attribute, AttributeScope, CustomAttribute};
use crate::error::ParseError;

/// Whether `c` can appear unquoted in an attribute name.
pub(crate) fn is_attribute_char(c: char) -> bool {
    !c.is_whitespace()
        && !matches!(
            c,
            '{' | '}' | '(' | ')' | '=' | '~' | '!' | '<' | '>' | '&' | '|' | '^' | ','
        )
}

/// The longest scope word that may follow `parent.` (`resource.`).
const LONGEST_PARENT_SCOPE: usize = "resource.".len();

impl Lexer<'_> {
    /// Reads the name after a scope prefix that ends at `self.at`; `start` is where the prefix
    /// began (for error positions).
    pub(super) fn attribute(
        &mut self,
        start: usize,
        scope: AttributeScope,
        parent: bool,
    ) -> Result<Attribute, ParseError> {
        let mut effective_scope = scope;
        if parent {
            effective_scope = self.parent_sub_scope();
        }
        let name_start = self.at;
        let mut name = String::new();
        let mut quoted = false;
        loop {
            match self.peek() {
                Some('"') => {
                    quoted = true;
                    self.quoted_name_part(&mut name)?;
                }
                Some(c) if is_attribute_char(c) => {
                    name.push(c);
                    self.at += c.len_utf8();
                }
                _ => break,
            }
        }
        if name.is_empty() && !quoted {
            let prefix = &self.source[start..name_start];
            let found = self
                .peek()
                .map_or_else(|| "end of query".to_string(), |c| format!("`{c}`"));
            return Err(self.error(
                name_start,
                format!("expected an attribute name after `{prefix}` but found {found}"),
            ));
        }
        Ok(Attribute::Custom(CustomAttribute {
            scope: effective_scope,
            parent,
            name,
        }))
    }

    /// After `parent.`, an unquoted `span.` or `resource.` selects the scope.
    fn parent_sub_scope(&mut self) -> AttributeScope {
        let rest = self.rest();
        let mut word_len = 0;
        for c in rest.chars() {
            if c == '.' {
                break;
            }
            if !is_attribute_char(c) || word_len > LONGEST_PARENT_SCOPE {
                return AttributeScope::Unscoped;
            }
            word_len += c.len_utf8();
        }
        let scope = match rest.get(..=word_len) {
            Some("span.") => AttributeScope::Span,
            Some("resource.") => AttributeScope::Resource,
            _ => return AttributeScope::Unscoped,
        };
        self.at += word_len + 1;
        scope
    }

    /// A `"..."` segment of an attribute name; only `\"` and `\\` are escapes.
    fn quoted_name_part(&mut self, name: &mut String) -> Result<(), ParseError> {
        let open = self.at;
        self.at += 1;
        loop {
            let Some(c) = self.bump() else {
                return Err(self.error(
                    open,
                    "expected `\"` to close the quoted attribute name but found end of query",
                ));
            };
            match c {
                '"' => return Ok(()),
                '\\' => {
                    let escape_at = self.at - 1;
                    match self.bump() {
                        Some(escaped @ ('"' | '\\')) => name.push(escaped),
                        _ => {
                            return Err(self.error(
                                escape_at,
                                "invalid escape sequence in quoted attribute name: expected `\\\"` or `\\\\`",
                            ));
                        }
                    }
                }
                other => name.push(other),
            }
        }
    }
}
