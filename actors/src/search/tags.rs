//! The legacy `tags` parameter of `/api/search`: logfmt pairs (`k=v k2="v 2"`), as Grafana's old
//! search form sends them.

use std::collections::BTreeMap;

/// Parses logfmt pairs; a key without `=` gets an empty value. Errors name the byte position.
pub fn parse_logfmt(text: &str) -> Result<BTreeMap<String, String>, String> {
    let bytes = text.as_bytes();
    let mut pairs = BTreeMap::new();
    let mut position = 0;
    while position < bytes.len() {
        if bytes[position].is_ascii_whitespace() {
            position += 1;
            continue;
        }
        let key_start = position;
        while position < bytes.len() && !is_key_end(bytes[position]) {
            position += 1;
        }
        if position == key_start {
            return Err(syntax_error(
                position,
                &format!("unexpected '{}'", bytes[position] as char),
            ));
        }
        let key = &text[key_start..position];
        let mut value = String::new();
        if position < bytes.len() && bytes[position] == b'=' {
            position += 1;
            let (parsed, next) = parse_value(text, position)?;
            value = parsed;
            position = next;
        }
        if pairs.insert(key.to_owned(), value).is_some() {
            return Err(format!("tag {key} has been set twice"));
        }
    }
    Ok(pairs)
}

fn is_key_end(byte: u8) -> bool {
    byte == b'=' || byte == b'"' || byte.is_ascii_whitespace()
}

fn syntax_error(position: usize, message: &str) -> String {
    format!(
        "logfmt syntax error at pos {} on line 1: {message}",
        position + 1
    )
}

/// A bare or quoted value starting at `start`; returns it and the position after it.
fn parse_value(text: &str, start: usize) -> Result<(String, usize), String> {
    let bytes = text.as_bytes();
    if start >= bytes.len() || bytes[start].is_ascii_whitespace() {
        return Ok((String::new(), start));
    }
    if bytes[start] != b'"' {
        let mut end = start;
        while end < bytes.len() && !bytes[end].is_ascii_whitespace() {
            if bytes[end] == b'"' || bytes[end] == b'=' {
                return Err(syntax_error(
                    end,
                    &format!("unexpected '{}'", bytes[end] as char),
                ));
            }
            end += 1;
        }
        return Ok((text[start..end].to_owned(), end));
    }
    let mut value = String::new();
    let mut characters = text[start + 1..].char_indices();
    while let Some((offset, character)) = characters.next() {
        match character {
            '"' => return Ok((value, start + 1 + offset + 1)),
            '\\' => match characters.next() {
                Some((_, 'n')) => value.push('\n'),
                Some((_, 't')) => value.push('\t'),
                Some((_, 'r')) => value.push('\r'),
                Some((_, escaped @ ('"' | '\\' | '/'))) => value.push(escaped),
                Some((escape_offset, other)) => {
                    return Err(syntax_error(
                        start + 1 + escape_offset,
                        &format!("invalid quoted value: unknown escape '\\{other}'"),
                    ));
                }
                None => break,
            },
            other => value.push(other),
        }
    }
    Err(syntax_error(text.len(), "unterminated quoted value"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pairs_bare_and_quoted() {
        let pairs = parse_logfmt(r#"service.name=api  http.url="/a b" error flag="x\"y""#)
            .expect("valid logfmt");
        assert_eq!(pairs["service.name"], "api");
        assert_eq!(pairs["http.url"], "/a b");
        assert_eq!(pairs["error"], "");
        assert_eq!(pairs["flag"], "x\"y");
    }

    #[test]
    fn errors_say_what_and_where() {
        assert_eq!(
            parse_logfmt("a=1 a=2").expect_err("duplicate"),
            "tag a has been set twice"
        );
        let unterminated = parse_logfmt(r#"a="open"#).expect_err("unterminated");
        assert!(
            unterminated.contains("unterminated quoted value"),
            "{unterminated}"
        );
        assert!(unterminated.contains("at pos 8"), "{unterminated}");
        let stray = parse_logfmt("=x").expect_err("no key");
        assert!(
            stray.contains("unexpected '='") && stray.contains("at pos 1"),
            "{stray}"
        );
    }

    proptest::proptest! {
        #[test]
        fn never_panics(text in "\\PC{0,64}") {
            let _ = parse_logfmt(&text);
        }
    }
}
