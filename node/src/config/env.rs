//! `--config.expand-env`: `${VAR}` and `${VAR:-default}` (and `$VAR`) replaced by the environment,
//! as Go's `os.ExpandEnv` does (an unset variable becomes the empty string).

/// Expands environment references in `text` using `lookup`.
pub fn expand_env(text: &str, lookup: impl Fn(&str) -> Option<String>) -> String {
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(dollar) = rest.find('$') {
        out.push_str(&rest[..dollar]);
        let after = &rest[dollar + 1..];
        if let Some(braced) = after.strip_prefix('{') {
            let Some(close) = braced.find('}') else {
                out.push_str(&rest[dollar..]);
                return out;
            };
            let inner = &braced[..close];
            let (name, default) = match inner.split_once(":-") {
                Some((name, default)) => (name, Some(default)),
                None => (inner, None),
            };
            let value = lookup(name).filter(|value| !value.is_empty() || default.is_none());
            out.push_str(&value.unwrap_or_else(|| default.unwrap_or("").to_owned()));
            rest = &braced[close + 1..];
            continue;
        }
        let name_length = after
            .char_indices()
            .find(|(_, character)| !(character.is_ascii_alphanumeric() || *character == '_'))
            .map_or(after.len(), |(index, _)| index);
        if name_length == 0 {
            out.push('$');
            rest = after;
            continue;
        }
        out.push_str(&lookup(&after[..name_length]).unwrap_or_default());
        rest = &after[name_length..];
    }
    out.push_str(rest);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn lookup(name: &str) -> Option<String> {
        match name {
            "PORT" => Some("3201".to_owned()),
            "EMPTY" => Some(String::new()),
            _ => None,
        }
    }

    #[test]
    fn expands_braced_plain_and_defaults() {
        assert_eq!(expand_env("port: ${PORT}", lookup), "port: 3201");
        assert_eq!(expand_env("port: $PORT!", lookup), "port: 3201!");
        assert_eq!(expand_env("x: ${MISSING}", lookup), "x: ");
        assert_eq!(expand_env("x: ${MISSING:-fallback}", lookup), "x: fallback");
        assert_eq!(expand_env("x: ${EMPTY:-fallback}", lookup), "x: fallback");
        assert_eq!(
            expand_env("cost: 5$ and ${unclosed", lookup),
            "cost: 5$ and ${unclosed"
        );
    }
}
