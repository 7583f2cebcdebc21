//! RE2 (Go `regexp`) syntax checking on top of `regex-syntax`.
//!
//! The two dialects are close; the differences that matter for accepting or rejecting a
//! pattern are bridged by a small rewrite before parsing:
//! - Go treats a `{` that does not start a valid repetition as a literal; Rust rejects it.
//! - Go treats `[` inside a character class as a literal (except `[:name:]`), and `&&`, `~~`
//!   as plain characters; Rust reads them as nested sets and set operators.
//! - Go supports `\Q...\E` quoting; Rust does not.
//! - Go limits repetition counts to 1000.

const MAX_REPEAT: u32 = 1000;

/// Checks that `pattern` is a valid RE2 expression.
pub(crate) fn check_re2(pattern: &str) -> Result<(), String> {
    let translated = to_rust_syntax(pattern)?;
    regex_syntax::Parser::new()
        .parse(&translated)
        .map(|_| ())
        .map_err(|error| error.to_string())
}

/// Rewrites an RE2 pattern into equivalent `regex-syntax` syntax.
pub fn to_rust_syntax(pattern: &str) -> Result<String, String> {
    let chars: Vec<char> = pattern.chars().collect();
    let mut out = String::with_capacity(pattern.len() + 8);
    let mut at = 0;
    let mut in_class = false;
    let mut class_start = 0;
    while at < chars.len() {
        let c = chars[at];
        if c == '\\' {
            at = copy_escape(&chars, at, &mut out)?;
            continue;
        }
        if in_class {
            at = class_char(&chars, at, class_start, &mut out, &mut in_class);
            continue;
        }
        match c {
            '[' => {
                in_class = true;
                out.push('[');
                at += 1;
                if chars.get(at) == Some(&'^') {
                    out.push('^');
                    at += 1;
                }
                class_start = at;
            }
            '{' => {
                let (next, text) = repetition(&chars, at)?;
                out.push_str(&text);
                at = next;
            }
            other => {
                out.push(other);
                at += 1;
            }
        }
    }
    Ok(out)
}

/// Copies `\x`, expanding `\Q...\E` into escaped literals. Returns the next index.
fn copy_escape(chars: &[char], at: usize, out: &mut String) -> Result<usize, String> {
    let Some(&next) = chars.get(at + 1) else {
        return Err("trailing backslash at end of expression".to_string());
    };
    if next != 'Q' {
        out.push('\\');
        out.push(next);
        return Ok(at + 2);
    }
    let mut index = at + 2;
    while index < chars.len() {
        if chars[index] == '\\' && chars.get(index + 1) == Some(&'E') {
            return Ok(index + 2);
        }
        let mut buffer = [0u8; 4];
        out.push_str(&regex_syntax::escape(chars[index].encode_utf8(&mut buffer)));
        index += 1;
    }
    Ok(index)
}

/// One character inside `[...]`. Returns the next index.
fn class_char(
    chars: &[char],
    at: usize,
    class_start: usize,
    out: &mut String,
    in_class: &mut bool,
) -> usize {
    let c = chars[at];
    match c {
        ']' if at > class_start => {
            *in_class = false;
            out.push(']');
            at + 1
        }
        '[' if chars.get(at + 1) == Some(&':') => {
            let Some(length) = chars[at + 2..].windows(2).position(|w| w == [':', ']']) else {
                out.push_str("\\[");
                return at + 1;
            };
            let end = at + 2 + length + 2;
            out.extend(&chars[at..end]);
            end
        }
        '[' | '&' | '~' => {
            out.push('\\');
            out.push(c);
            at + 1
        }
        other => {
            out.push(other);
            at + 1
        }
    }
}

/// `{n}`, `{n,}` or `{n,m}` is a repetition (counts at most 1000); any other `{` is a literal.
fn repetition(chars: &[char], at: usize) -> Result<(usize, String), String> {
    let Some(close) = chars[at..].iter().position(|c| *c == '}') else {
        return Ok((at + 1, "\\{".to_string()));
    };
    let body: String = chars[at + 1..at + close].iter().collect();
    let (low, high) = match body.split_once(',') {
        Some((low, high)) => (low, Some(high)),
        None => (body.as_str(), None),
    };
    let is_count = |text: &str| !text.is_empty() && text.bytes().all(|b| b.is_ascii_digit());
    let valid = is_count(low) && high.is_none_or(|h| h.is_empty() || is_count(h));
    if !valid {
        return Ok((at + 1, "\\{".to_string()));
    }
    for count in [Some(low), high.filter(|h| !h.is_empty())]
        .into_iter()
        .flatten()
    {
        let too_big = count
            .parse::<u32>()
            .map_or(true, |value| value > MAX_REPEAT);
        if too_big {
            return Err(format!("invalid repeat count: {{{body}}}"));
        }
    }
    let text: String = chars[at..=at + close].iter().collect();
    Ok((at + close + 1, text))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accepts_common_re2() {
        for pattern in [
            "",
            ".*",
            "a|b",
            "^foo$",
            "(?i)get",
            "(?P<n>x)",
            "[[:alpha:]]+",
            "[a[]",
            "a{2,3}",
            "a{,3}",
            "{json}",
            "x{",
            "\\Q.*\\E",
            "\\d+\\.\\d+",
            "[a&&b]",
        ] {
            assert!(
                check_re2(pattern).is_ok(),
                "{pattern}: {:?}",
                check_re2(pattern)
            );
        }
    }

    #[test]
    fn rejects_invalid_re2() {
        for pattern in ["[", "(", "a)", "*", "a{1001}", "(?z)", "\\", "[z-a]"] {
            assert!(check_re2(pattern).is_err(), "{pattern}");
        }
    }
}
