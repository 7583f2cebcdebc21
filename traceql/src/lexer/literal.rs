//! Numbers, durations and strings.

use super::Lexer;
use crate::duration::Duration;
use crate::error::ParseError;
use crate::token::TokenKind;

/// Characters that may continue a number into a duration literal (`1h30m`, `1.5µs`).
fn is_duration_char(c: char) -> bool {
    c.is_ascii_digit() || matches!(c, '.' | 'n' | 's' | 'u' | 'm' | 'h' | 'd' | 'w' | 'y' | 'µ')
}

impl Lexer<'_> {
    /// An integer, float or duration starting at a digit or at `.` followed by a digit.
    pub(super) fn number(&mut self) -> Result<TokenKind, ParseError> {
        let start = self.at;
        let rest = self.rest();
        if rest.len() > 1
            && rest.starts_with('0')
            && matches!(rest.as_bytes()[1], b'x' | b'X' | b'o' | b'O' | b'b' | b'B')
        {
            return Err(self.error(
                start,
                "expected a decimal number but found a hexadecimal, octal or binary literal",
            ));
        }
        self.skip_digits();
        let mut is_float = false;
        if self.peek() == Some('.') {
            is_float = true;
            self.at += 1;
            self.skip_digits();
        }
        if matches!(self.peek(), Some('e' | 'E')) {
            is_float = true;
            self.exponent(start)?;
        }
        if self.peek() == Some('_') {
            return Err(self.error(self.at, "expected a digit but found `_` in a number"));
        }
        let text = &self.source[start..self.at];
        if let Some(duration) = self.duration_suffix(text) {
            return Ok(TokenKind::Duration(duration));
        }
        if is_float {
            return self.float(text, start);
        }
        self.integer(text, start)
    }

    fn skip_digits(&mut self) {
        let count = self
            .rest()
            .bytes()
            .take_while(|b| b.is_ascii_digit())
            .count();
        self.at += count;
    }

    fn exponent(&mut self, start: usize) -> Result<(), ParseError> {
        self.at += 1;
        if matches!(self.peek(), Some('+' | '-')) {
            self.at += 1;
        }
        if !self.peek().is_some_and(|c| c.is_ascii_digit()) {
            return Err(self.error(start, "expected digits in the exponent of a number"));
        }
        self.skip_digits();
        Ok(())
    }

    /// If the number is immediately followed by duration units, consume them.
    fn duration_suffix(&mut self, number: &str) -> Option<Duration> {
        let suffix_len: usize = self
            .rest()
            .chars()
            .take_while(|c| is_duration_char(*c))
            .map(char::len_utf8)
            .sum();
        if suffix_len == 0 {
            return None;
        }
        let literal = format!("{number}{}", &self.rest()[..suffix_len]);
        let duration = Duration::parse(&literal)?;
        self.at += suffix_len;
        Some(duration)
    }

    fn float(&self, text: &str, start: usize) -> Result<TokenKind, ParseError> {
        match text.parse::<f64>() {
            Ok(value) if value.is_finite() => Ok(TokenKind::Float(value)),
            _ => Err(self.error(start, format!("float `{text}` is out of range"))),
        }
    }

    fn integer(&self, text: &str, start: usize) -> Result<TokenKind, ParseError> {
        if text.len() > 1 && text.starts_with('0') && text.contains(['8', '9']) {
            return Err(self.error(start, format!("invalid digit in octal literal `{text}`")));
        }
        match text.parse::<i64>() {
            Ok(value) => Ok(TokenKind::Int(value)),
            Err(_) => Err(self.error(start, format!("integer `{text}` is out of range"))),
        }
    }

    /// A double-quoted string with Go escapes; `\x`/octal escapes are bytes, and the result
    /// must be valid UTF-8.
    pub(super) fn quoted_string(&mut self) -> Result<String, ParseError> {
        let open = self.at;
        self.at += 1;
        let mut bytes = Vec::new();
        loop {
            let Some(c) = self.bump() else {
                return Err(self.error(open, "string literal not terminated: expected `\"`"));
            };
            match c {
                '"' => break,
                '\n' => {
                    return Err(self.error(open, "string literal not terminated: expected `\"`"));
                }
                '\\' => self.escape(&mut bytes)?,
                other => {
                    let mut buffer = [0u8; 4];
                    bytes.extend_from_slice(other.encode_utf8(&mut buffer).as_bytes());
                }
            }
        }
        String::from_utf8(bytes).map_err(|_| self.error(open, "string literal is not valid UTF-8"))
    }

    fn escape(&mut self, bytes: &mut Vec<u8>) -> Result<(), ParseError> {
        let at = self.at - 1;
        let simple = match self.peek() {
            Some('a') => Some(0x07),
            Some('b') => Some(0x08),
            Some('f') => Some(0x0c),
            Some('n') => Some(b'\n'),
            Some('r') => Some(b'\r'),
            Some('t') => Some(b'\t'),
            Some('v') => Some(0x0b),
            Some('\\') => Some(b'\\'),
            Some('"') => Some(b'"'),
            _ => None,
        };
        if let Some(byte) = simple {
            self.at += 1;
            bytes.push(byte);
            return Ok(());
        }
        match self.peek() {
            Some('0'..='7') => {
                let value = self.escape_digits(at, 8, 3)?;
                let byte = u8::try_from(value)
                    .map_err(|_| self.error(at, "octal escape value is above 255"))?;
                bytes.push(byte);
            }
            Some(kind @ ('x' | 'u' | 'U')) => {
                self.at += 1;
                let width = match kind {
                    'x' => 2,
                    'u' => 4,
                    _ => 8,
                };
                let value = self.escape_digits(at, 16, width)?;
                if kind == 'x' {
                    bytes.push(value as u8);
                    return Ok(());
                }
                let Some(c) = char::from_u32(value) else {
                    return Err(self.error(at, "escape sequence is not a valid Unicode code point"));
                };
                let mut buffer = [0u8; 4];
                bytes.extend_from_slice(c.encode_utf8(&mut buffer).as_bytes());
            }
            _ => {
                return Err(self.error(
                    at,
                    "invalid escape sequence: expected one of \\a \\b \\f \\n \\r \\t \\v \\\\ \\\" \\NNN \\xHH \\uHHHH \\UHHHHHHHH",
                ));
            }
        }
        Ok(())
    }

    fn escape_digits(&mut self, at: usize, radix: u32, width: usize) -> Result<u32, ParseError> {
        let mut value: u32 = 0;
        for _ in 0..width {
            let Some(digit) = self.peek().and_then(|c| c.to_digit(radix)) else {
                return Err(self.error(at, format!("expected {width} digits in escape sequence")));
            };
            self.at += 1;
            value = value.saturating_mul(radix).saturating_add(digit);
        }
        Ok(value)
    }

    /// A backquoted string: no escapes, carriage returns dropped.
    pub(super) fn raw_string(&mut self) -> Result<String, ParseError> {
        let open = self.at;
        let body = &self.source[open + 1..];
        let Some(close) = body.find('`') else {
            return Err(self.error(open, "raw string literal not terminated: expected '`'"));
        };
        let value = body[..close].replace('\r', "");
        self.at = open + 1 + close + 1;
        Ok(value)
    }
}
