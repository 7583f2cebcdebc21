//! `GET /api/search` parameters: defaults, limits and the error texts Tempo answers 400 with.

use std::collections::BTreeMap;
use std::time::Duration;

use super::tags::parse_logfmt;

/// Limits (`query_frontend.search.*`, `query_frontend.max_query_expression_size_bytes`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SearchLimits {
    pub max_query_bytes: usize,
    pub default_limit: u32,
    pub max_limit: u32,
    pub default_spans_per_spanset: u32,
    pub max_spans_per_spanset: u32,
    pub max_duration: Duration,
}

impl Default for SearchLimits {
    fn default() -> Self {
        SearchLimits {
            max_query_bytes: 128 * 1024,
            default_limit: 20,
            max_limit: 262_144,
            default_spans_per_spanset: 3,
            max_spans_per_spanset: 100,
            max_duration: Duration::from_secs(168 * 3600),
        }
    }
}

/// What to look for.
#[derive(Debug, Clone, PartialEq)]
pub enum SearchQuery {
    /// A validated TraceQL query, with its text.
    TraceQl {
        text: String,
        query: vivace_traceql::Query,
    },
    /// Legacy tag search: case-insensitive substring matches on attributes.
    Tags(BTreeMap<String, String>),
}

/// A parsed search request.
#[derive(Debug, Clone, PartialEq)]
pub struct SearchRequest {
    pub query: SearchQuery,
    pub min_duration_ms: Option<u32>,
    pub max_duration_ms: Option<u32>,
    pub limit: u32,
    pub spans_per_spanset: u32,
    /// Unix seconds; both zero: only recent data is searched.
    pub start_seconds: u32,
    pub end_seconds: u32,
}

/// Parameters whose meaning is fixed (everything else is a legacy tag).
const KNOWN: [&str; 8] = [
    "q",
    "tags",
    "minDuration",
    "maxDuration",
    "limit",
    "spss",
    "start",
    "end",
];

fn parse_uint(name: &str, text: &str) -> Result<u32, String> {
    text.parse::<u32>()
        .map_err(|error| format!("invalid {name}: {error}"))
}

fn parse_duration_ms(name: &str, text: &str) -> Result<u32, String> {
    let duration = vivace_traceql::Duration::parse(text)
        .filter(|duration| duration.as_nanos() >= 0)
        .ok_or_else(|| format!("invalid {name}: time: invalid duration \"{text}\""))?;
    Ok(u32::try_from(duration.as_nanos() / 1_000_000).unwrap_or(u32::MAX))
}

/// Parses `/api/search` query parameters (already URL-decoded, in order). The error is the text
/// of the 400 answer.
pub fn parse_search_request(
    params: &[(String, String)],
    limits: &SearchLimits,
) -> Result<SearchRequest, String> {
    let get = |name: &str| {
        params
            .iter()
            .find(|(key, _)| key == name)
            .map(|(_, value)| value.as_str())
    };
    let query = match (get("q"), get("tags")) {
        (Some(_), Some(_)) => {
            return Err("invalid request: can't specify tags and q in the same query".to_owned());
        }
        (Some(text), None) => parse_traceql(text, limits)?,
        (None, Some(tags)) => {
            SearchQuery::Tags(parse_logfmt(tags).map_err(|error| format!("invalid tags: {error}"))?)
        }
        (None, None) if get("start").is_none() && get("end").is_none() => SearchQuery::Tags(
            params
                .iter()
                .filter(|(key, _)| !KNOWN.contains(&key.as_str()))
                .map(|(key, value)| (key.clone(), value.clone()))
                .collect(),
        ),
        (None, None) => SearchQuery::Tags(BTreeMap::new()),
    };
    let min_duration_ms = get("minDuration")
        .map(|text| parse_duration_ms("minDuration", text))
        .transpose()?;
    let max_duration_ms = get("maxDuration")
        .map(|text| parse_duration_ms("maxDuration", text))
        .transpose()?;
    if let (Some(min), Some(max)) = (min_duration_ms, max_duration_ms)
        && min > max
    {
        return Err("invalid maxDuration: must be greater than minDuration".to_owned());
    }
    let limit = match get("limit") {
        None => limits.default_limit,
        Some(text) => {
            let limit = parse_uint("limit", text)?;
            if limit == 0 {
                return Err("invalid limit: must be a positive number".to_owned());
            }
            if limit > limits.max_limit {
                return Err(format!(
                    "limit {limit} exceeds max limit {}",
                    limits.max_limit
                ));
            }
            limit
        }
    };
    let spans_per_spanset = match get("spss") {
        None => limits.default_spans_per_spanset,
        Some(text) => {
            let spss = parse_uint("spss", text)?;
            if spss > limits.max_spans_per_spanset {
                return Err(format!(
                    "spans per span set exceeds {}. received {spss}",
                    limits.max_spans_per_spanset
                ));
            }
            if spss == 0 {
                limits.default_spans_per_spanset
            } else {
                spss
            }
        }
    };
    let start_seconds = get("start")
        .map(|text| parse_uint("start", text))
        .transpose()?
        .unwrap_or(0);
    let end_seconds = get("end")
        .map(|text| parse_uint("end", text))
        .transpose()?
        .unwrap_or(0);
    if start_seconds != 0 || end_seconds != 0 {
        if end_seconds <= start_seconds {
            return Err(format!(
                "http parameter start must be before end. received start={start_seconds} end={end_seconds}"
            ));
        }
        let range = Duration::from_secs(u64::from(end_seconds - start_seconds));
        if range > limits.max_duration {
            return Err(format!(
                "range specified by start and end exceeds {}. received start={start_seconds} end={end_seconds}",
                go_duration(limits.max_duration)
            ));
        }
    }
    Ok(SearchRequest {
        query,
        min_duration_ms,
        max_duration_ms,
        limit,
        spans_per_spanset,
        start_seconds,
        end_seconds,
    })
}

fn parse_traceql(text: &str, limits: &SearchLimits) -> Result<SearchQuery, String> {
    if text.len() > limits.max_query_bytes {
        return Err(format!(
            "TraceQL expression exceeds the configured maximum size of {} bytes, received {} bytes",
            limits.max_query_bytes,
            text.len()
        ));
    }
    let query =
        vivace_traceql::parse(text).map_err(|error| format!("invalid TraceQL query: {error}"))?;
    vivace_traceql::validate(&query).map_err(|error| format!("invalid TraceQL query: {error}"))?;
    Ok(SearchQuery::TraceQl {
        text: text.to_owned(),
        query,
    })
}

/// Go's `time.Duration` text for whole hours/minutes/seconds (`168h0m0s`).
fn go_duration(duration: Duration) -> String {
    let seconds = duration.as_secs();
    format!("{}h{}m{}s", seconds / 3600, seconds / 60 % 60, seconds % 60)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(pairs: &[(&str, &str)]) -> Result<SearchRequest, String> {
        let params: Vec<(String, String)> = pairs
            .iter()
            .map(|(key, value)| ((*key).to_owned(), (*value).to_owned()))
            .collect();
        parse_search_request(&params, &SearchLimits::default())
    }

    #[test]
    fn defaults_and_a_traceql_query() {
        let request = parse(&[("q", "{ span.http.status_code = 500 }")]).expect("valid");
        assert!(matches!(request.query, SearchQuery::TraceQl { .. }));
        assert_eq!((request.limit, request.spans_per_spanset), (20, 3));
        assert_eq!((request.start_seconds, request.end_seconds), (0, 0));
        assert_eq!(
            parse(&[("q", "{}"), ("spss", "0")])
                .expect("valid")
                .spans_per_spanset,
            3
        );
    }

    #[test]
    fn tempo_error_texts() {
        let cases: [(&[(&str, &str)], &str); 9] = [
            (
                &[("q", "{}"), ("tags", "a=b")],
                "invalid request: can't specify tags and q in the same query",
            ),
            (&[("q", "{ .a = }")], "invalid TraceQL query: "),
            (
                &[("tags", "a=1 a=2")],
                "invalid tags: tag a has been set twice",
            ),
            (
                &[("limit", "0")],
                "invalid limit: must be a positive number",
            ),
            (
                &[("limit", "262145")],
                "limit 262145 exceeds max limit 262144",
            ),
            (
                &[("spss", "101")],
                "spans per span set exceeds 100. received 101",
            ),
            (
                &[("minDuration", "2s"), ("maxDuration", "1s")],
                "invalid maxDuration: must be greater than minDuration",
            ),
            (
                &[("start", "20"), ("end", "10")],
                "http parameter start must be before end. received start=20 end=10",
            ),
            (
                &[("start", "1"), ("end", "700000")],
                "range specified by start and end exceeds 168h0m0s. received start=1 end=700000",
            ),
        ];
        for (params, expected) in cases {
            let error = parse(params).expect_err(expected);
            assert!(error.starts_with(expected), "{params:?}: {error}");
        }
        let long = format!("{{ .a = \"{}\" }}", "x".repeat(128 * 1024));
        let too_long = parse(&[("q", long.as_str())]).expect_err("too long");
        assert!(
            too_long.starts_with(
                "TraceQL expression exceeds the configured maximum size of 131072 bytes"
            )
        );
    }

    #[test]
    fn durations_and_legacy_tags() {
        let request = parse(&[
            ("minDuration", "1.5s"),
            ("maxDuration", "1h"),
            ("service.name", "api"),
        ])
        .expect("valid");
        assert_eq!(request.min_duration_ms, Some(1_500));
        assert_eq!(request.max_duration_ms, Some(3_600_000));
        let SearchQuery::Tags(tags) = request.query else {
            panic!("legacy parameters are tags");
        };
        assert_eq!(
            tags.into_iter().collect::<Vec<_>>(),
            vec![("service.name".to_owned(), "api".to_owned())]
        );
        assert!(
            parse(&[("limit", "many")])
                .expect_err("not a number")
                .starts_with("invalid limit: ")
        );
        assert!(
            parse(&[("minDuration", "soon")])
                .expect_err("bad")
                .starts_with("invalid minDuration: ")
        );
    }

    proptest::proptest! {
        #[test]
        fn never_panics(key in "[a-zA-Z]{1,8}", value in "\\PC{0,32}") {
            let _ = parse(&[(key.as_str(), value.as_str())]);
            let _ = parse(&[("q", value.as_str())]);
        }
    }
}
