//! `-config.expand-env`: shell-style environment variable expansion of the config file text.
//!
//! Supported forms (as in Tempo, which uses `drone/envsubst`): `$VAR`, `${VAR}`,
//! `${VAR:-default}` / `${VAR:=default}` (default when unset or empty), `${VAR-default}` /
//! `${VAR=default}` (default when unset), and `$$` for a literal `$`. A missing variable expands
//! to the empty string. A `$` not followed by a name or `{` is kept as is.

/// Expands environment references in `text`, looking variables up with `lookup`.
///
/// Returns an error message (with the 1-based line) for an unterminated `${` or a bad name.
pub fn expand_env(text: &str, lookup: &dyn Fn(&str) -> Option<String>) -> Result<String, String> {
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(dollar) = rest.find('$') {
        out.push_str(&rest[..dollar]);
        let after = &rest[dollar + 1..];
        if let Some(tail) = after.strip_prefix('$') {
            out.push('$');
            rest = tail;
            continue;
        }
        if let Some(inner_and_tail) = after.strip_prefix('{') {
            let Some(close) = matching_brace(inner_and_tail) else {
                return Err(format!(
                    "unterminated ${{ at line {}",
                    line_of(text, rest, dollar)
                ));
            };
            let inner = &inner_and_tail[..close];
            let expanded = expand_braced(inner, lookup).map_err(|reason| {
                format!(
                    "{reason} in ${{{inner}}} at line {}",
                    line_of(text, rest, dollar)
                )
            })?;
            out.push_str(&expanded);
            rest = &inner_and_tail[close + 1..];
            continue;
        }
        let name_len = name_length(after);
        if name_len == 0 {
            out.push('$');
            rest = after;
            continue;
        }
        out.push_str(&lookup(&after[..name_len]).unwrap_or_default());
        rest = &after[name_len..];
    }
    out.push_str(rest);
    Ok(out)
}

/// Expands the inside of `${...}`: a name optionally followed by a default operator.
fn expand_braced(inner: &str, lookup: &dyn Fn(&str) -> Option<String>) -> Result<String, String> {
    let name_len = name_length(inner);
    if name_len == 0 {
        return Err("invalid variable name".to_string());
    }
    let name = &inner[..name_len];
    let operator_and_default = &inner[name_len..];
    let value = lookup(name);
    if operator_and_default.is_empty() {
        return Ok(value.unwrap_or_default());
    }
    let (default, empty_counts_as_unset) = if let Some(default) = operator_and_default
        .strip_prefix(":-")
        .or_else(|| operator_and_default.strip_prefix(":="))
    {
        (default, true)
    } else if let Some(default) = operator_and_default
        .strip_prefix('-')
        .or_else(|| operator_and_default.strip_prefix('='))
    {
        (default, false)
    } else {
        return Err(format!("unsupported operator {operator_and_default:?}"));
    };
    match value {
        Some(set) if !(empty_counts_as_unset && set.is_empty()) => Ok(set),
        _ => expand_env(default, lookup),
    }
}

/// Length in bytes of the variable name at the start of `text` (`[A-Za-z_][A-Za-z0-9_]*`).
fn name_length(text: &str) -> usize {
    let mut length = 0;
    for (index, c) in text.char_indices() {
        let allowed = c == '_' || c.is_ascii_alphabetic() || (index > 0 && c.is_ascii_digit());
        if !allowed {
            break;
        }
        length = index + c.len_utf8();
    }
    length
}

/// Index of the `}` closing a `${` whose body starts at `text`, allowing nested `${...}`.
fn matching_brace(text: &str) -> Option<usize> {
    let mut depth = 0usize;
    let bytes = text.as_bytes();
    let mut index = 0;
    while index < bytes.len() {
        match bytes[index] {
            b'$' if bytes.get(index + 1) == Some(&b'{') => {
                depth += 1;
                index += 1;
            }
            b'}' if depth == 0 => return Some(index),
            b'}' => depth -= 1,
            _ => {}
        }
        index += 1;
    }
    None
}

/// 1-based line of the byte at `offset` within `rest`, which is a suffix of `text`.
fn line_of(text: &str, rest: &str, offset: usize) -> usize {
    let absolute = text.len() - rest.len() + offset;
    text[..absolute].matches('\n').count() + 1
}
