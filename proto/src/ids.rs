//! Trace and span id parsing with Tempo's rules and error texts (see tempo-api.md §3.1).

/// A 128-bit trace id.
pub type TraceId = [u8; 16];

/// Why a trace or span id could not be parsed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum IdError {
    #[error(
        "trace IDs can only contain hex characters: invalid character '{character}' at position {position}"
    )]
    TraceIdNotHex { character: char, position: usize },
    #[error("trace IDs can't be larger than 128 bits")]
    TraceIdTooLong,
    #[error(
        "span IDs can only contain hex characters: invalid character '{character}' at position {position}"
    )]
    SpanIdNotHex { character: char, position: usize },
    #[error("span IDs can't be larger than 64 bits")]
    SpanIdTooLong,
}

fn first_non_hex(text: &str) -> Option<(char, usize)> {
    text.chars()
        .enumerate()
        .find(|(_, character)| !character.is_ascii_hexdigit())
        .map(|(index, character)| (character, index + 1))
}

fn decode_hex_left_padded(text: &str) -> Vec<u8> {
    let padded = if text.len() % 2 == 1 {
        format!("0{text}")
    } else {
        text.to_owned()
    };
    // Only hex digits reach this point, so decoding cannot fail.
    hex::decode(padded).unwrap_or_default()
}

/// Parses a hex trace id as Tempo does: case-insensitive hex, odd lengths get a leading zero,
/// the bytes are left-padded with zeros to 16.
pub fn parse_trace_id(text: &str) -> Result<TraceId, IdError> {
    if let Some((character, position)) = first_non_hex(text) {
        return Err(IdError::TraceIdNotHex {
            character,
            position,
        });
    }
    let bytes = decode_hex_left_padded(text);
    let significant = strip_leading_zero_bytes(&bytes);
    if significant.len() > 16 {
        return Err(IdError::TraceIdTooLong);
    }
    let mut id = [0u8; 16];
    id[16 - significant.len()..].copy_from_slice(significant);
    Ok(id)
}

/// Parses a hex span id: leading zeros trimmed, at most 8 bytes, left-padded to 8.
pub fn parse_span_id(text: &str) -> Result<[u8; 8], IdError> {
    if let Some((character, position)) = first_non_hex(text) {
        return Err(IdError::SpanIdNotHex {
            character,
            position,
        });
    }
    let bytes = decode_hex_left_padded(text);
    let significant = strip_leading_zero_bytes(&bytes);
    if significant.len() > 8 {
        return Err(IdError::SpanIdTooLong);
    }
    let mut id = [0u8; 8];
    id[8 - significant.len()..].copy_from_slice(significant);
    Ok(id)
}

fn strip_leading_zero_bytes(bytes: &[u8]) -> &[u8] {
    let first_non_zero = bytes
        .iter()
        .position(|byte| *byte != 0)
        .unwrap_or(bytes.len());
    &bytes[first_non_zero..]
}

/// Hex of a trace id with leading zeros trimmed, as Tempo's search results print it.
pub fn trace_id_to_hex_trimmed(id: &[u8]) -> String {
    let full = hex::encode(id);
    let trimmed = full.trim_start_matches('0');
    if trimmed.is_empty() {
        "0".to_owned()
    } else {
        trimmed.to_owned()
    }
}

/// Why a pushed span is rejected (Tempo rejects the whole push).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SpanIdValidationError {
    #[error("trace ids must be 128 bit, received {0} bits")]
    TraceId(usize),
    #[error("span ids must be 64 bit and not all zero")]
    SpanId,
}

/// Checks the ids of a pushed span: trace id 16 bytes, span id 8 bytes and not all zero.
pub fn validate_span_ids(
    trace_id: &[u8],
    span_id: &[u8],
) -> Result<TraceId, SpanIdValidationError> {
    let Ok(trace_id_array) = <TraceId>::try_from(trace_id) else {
        return Err(SpanIdValidationError::TraceId(trace_id.len() * 8));
    };
    if span_id.len() != 8 || span_id.iter().all(|byte| *byte == 0) {
        return Err(SpanIdValidationError::SpanId);
    }
    Ok(trace_id_array)
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn short_ids_are_left_padded() {
        let id = parse_trace_id("12").expect("valid");
        assert_eq!(id[15], 0x12);
        assert!(id[..15].iter().all(|byte| *byte == 0));
        let odd = parse_trace_id("abc").expect("valid");
        assert_eq!(&odd[14..], &[0x0a, 0xbc]);
    }

    #[test]
    fn non_hex_is_reported_with_one_based_position() {
        let error = parse_trace_id("12g4").expect_err("invalid");
        assert_eq!(
            error.to_string(),
            "trace IDs can only contain hex characters: invalid character 'g' at position 3"
        );
    }

    #[test]
    fn too_long_is_rejected() {
        let error = parse_trace_id(&"1".repeat(33)).expect_err("too long");
        assert_eq!(error.to_string(), "trace IDs can't be larger than 128 bits");
        // Leading zeros do not count.
        assert!(parse_trace_id(&format!("00{}", "f".repeat(32))).is_ok());
    }

    #[test]
    fn span_ids_are_checked() {
        assert!(validate_span_ids(&[1; 16], &[1; 8]).is_ok());
        assert!(validate_span_ids(&[1; 8], &[1; 8]).is_err());
        assert!(validate_span_ids(&[1; 16], &[0; 8]).is_err());
        assert!(validate_span_ids(&[1; 16], &[1; 7]).is_err());
    }

    proptest! {
        #[test]
        fn hex_of_any_id_parses_back(id in any::<[u8; 16]>()) {
            prop_assert_eq!(parse_trace_id(&hex::encode(id)).unwrap(), id);
            prop_assert_eq!(parse_trace_id(&hex::encode(id).to_uppercase()).unwrap(), id);
            prop_assert_eq!(parse_trace_id(&trace_id_to_hex_trimmed(&id)).unwrap(), id);
        }

        #[test]
        fn arbitrary_text_never_panics(text in ".{0,80}") {
            let _ = parse_trace_id(&text);
            let _ = parse_span_id(&text);
        }
    }
}
