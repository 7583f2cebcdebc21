//! Tag names and tag values (tempo-api.md §2.8–§2.11): `GET /api/search/tags`,
//! `GET /api/v2/search/tags`, `GET /api/search/tag/{tagName}/values` and
//! `GET /api/v2/search/tag/{tagName}/values`, answered through the query-frontend as JSON or
//! protobuf.
//!
//! The query functions ([`tag_names_v1`], [`tag_names_v2`], [`tag_values_v1`],
//! [`tag_values_v2`]) are shared with the gRPC `StreamingQuerier` (see `crate::streaming`).

use std::collections::BTreeSet;
use std::sync::Arc;
use std::time::Duration;

use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use vivace_actors::frontend::{Frontend, TagsRequest};
use vivace_actors::search::SearchLimits;
use vivace_actors::search::tag_query::parse_identifier;
use vivace_proto::cluster::{TagsAnswer, TagsQuery};
use vivace_proto::search_json::{
    search_tag_values_response_to_json, search_tag_values_v2_response_to_json,
    search_tags_response_to_json, search_tags_v2_response_to_json,
};
use vivace_proto::tempopb_search as pb;

use super::ApiState;
use super::search::{QueryError, encoded, frontend_of, tenant_of};

const INTRINSIC: &str = "intrinsic";

/// Every scope a tag name can have, in the order Tempo's v2 answer lists them.
const V2_SCOPES: [&str; 6] = [
    "resource",
    "span",
    INTRINSIC,
    "event",
    "link",
    "instrumentation",
];

/// The intrinsic names Tempo's tag APIs list (`pkg/search/util.go` `GetVirtualIntrinsicValues`).
/// They do not depend on the data, so they are answered here and never queried.
pub use vivace_engine::tags::INTRINSIC_TAGS;

/// Which tag API answers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TagsVersion {
    V1,
    V2,
}

/// A tag-names query (`scope`, `q`, `start`, `end`, `limit` per scope; 0: no limit).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TagNamesRequest {
    pub scope: String,
    pub query: String,
    pub start: u32,
    pub end: u32,
    pub limit: u32,
}

/// A tag-values query (`tagName`, `q`, `start`, `end`, `limit`; 0: no limit).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TagValuesRequest {
    pub tag: String,
    pub query: String,
    pub start: u32,
    pub end: u32,
    pub limit: u32,
}

/// Go's `time.Duration` text for whole seconds (`168h0m0s`).
fn go_duration(duration: Duration) -> String {
    let seconds = duration.as_secs();
    format!("{}h{}m{}s", seconds / 3600, seconds / 60 % 60, seconds % 60)
}

/// The time-range checks of the tag sharder, with the texts of the search ones.
pub fn check_range(start: u32, end: u32, limits: &SearchLimits) -> Result<(), QueryError> {
    if start == 0 && end == 0 {
        return Ok(());
    }
    if end <= start {
        return Err(QueryError::bad_request(format!(
            "http parameter start must be before end. received start={start} end={end}"
        )));
    }
    if Duration::from_secs(u64::from(end - start)) > limits.max_duration {
        return Err(QueryError::bad_request(format!(
            "range specified by start and end exceeds {}. received start={start} end={end}",
            go_duration(limits.max_duration)
        )));
    }
    Ok(())
}

/// The scopes a `scope` parameter asks for; v1 lists intrinsics only when asked explicitly,
/// v2 always adds them for an empty scope or `none`.
pub fn scopes_of(scope: &str, version: TagsVersion) -> Result<Vec<&'static str>, QueryError> {
    match scope {
        "" | "none" => Ok(match version {
            TagsVersion::V1 => vec!["resource", "span"],
            TagsVersion::V2 => V2_SCOPES.to_vec(),
        }),
        other => V2_SCOPES
            .iter()
            .find(|known| **known == other)
            .map(|known| vec![*known])
            .ok_or_else(|| QueryError::bad_request(format!("invalid scope: {other}"))),
    }
}

fn metadata_metrics(answer: &TagsAnswer) -> pb::MetadataMetrics {
    pb::MetadataMetrics {
        inspected_bytes: answer.inspected_bytes,
        ..Default::default()
    }
}

/// The names of each asked scope, in the asked order (a scope without names is still listed),
/// at most `limit` per scope.
async fn names_by_scope(
    frontend: &Frontend,
    tenant: &str,
    request: &TagNamesRequest,
    version: TagsVersion,
) -> Result<(Vec<(&'static str, Vec<String>)>, TagsAnswer), QueryError> {
    check_range(request.start, request.end, &SearchLimits::default())?;
    let scopes = scopes_of(&request.scope, version)?;
    let queried: Vec<String> = scopes
        .iter()
        .filter(|scope| **scope != INTRINSIC)
        .map(|scope| (*scope).to_owned())
        .collect();
    let answer = if queried.is_empty() {
        TagsAnswer::default()
    } else {
        frontend
            .tags(TagsRequest {
                tenant: tenant.to_owned(),
                query: TagsQuery {
                    attribute: String::new(),
                    scopes: queried,
                    filter: request.query.clone(),
                    start_seconds: request.start,
                    end_seconds: request.end,
                    limit: request.limit,
                },
            })
            .await?
    };
    let limit = if request.limit == 0 {
        usize::MAX
    } else {
        request.limit as usize
    };
    let named = scopes
        .into_iter()
        .map(|scope| {
            let names: Vec<String> = if scope == INTRINSIC {
                INTRINSIC_TAGS
                    .iter()
                    .map(|name| (*name).to_owned())
                    .collect()
            } else {
                answer
                    .scopes
                    .iter()
                    .filter(|tags| tags.scope == scope)
                    .flat_map(|tags| tags.names.iter().cloned())
                    .collect::<BTreeSet<String>>()
                    .into_iter()
                    .collect()
            };
            (scope, names.into_iter().take(limit).collect())
        })
        .collect();
    Ok((named, answer))
}

/// Tag names, v1: one list (resource and span names unless a scope is given).
pub async fn tag_names_v1(
    frontend: &Frontend,
    tenant: &str,
    request: &TagNamesRequest,
) -> Result<pb::SearchTagsResponse, QueryError> {
    let (named, answer) = names_by_scope(frontend, tenant, request, TagsVersion::V1).await?;
    let tag_names = if let [(_, names)] = named.as_slice() {
        names.clone()
    } else {
        named
            .into_iter()
            .flat_map(|(_, names)| names)
            .collect::<BTreeSet<String>>()
            .into_iter()
            .collect()
    };
    Ok(pb::SearchTagsResponse {
        tag_names,
        metrics: Some(metadata_metrics(&answer)),
    })
}

/// Tag names, v2: per scope; `scopes` always lists every asked scope, so the JSON always has
/// `"scopes"` (Grafana falls back to v1 without it).
pub async fn tag_names_v2(
    frontend: &Frontend,
    tenant: &str,
    request: &TagNamesRequest,
) -> Result<pb::SearchTagsV2Response, QueryError> {
    let (named, answer) = names_by_scope(frontend, tenant, request, TagsVersion::V2).await?;
    Ok(pb::SearchTagsV2Response {
        scopes: named
            .into_iter()
            .map(|(scope, tags)| pb::SearchTagsV2Scope {
                name: scope.to_owned(),
                tags,
            })
            .collect(),
        metrics: Some(metadata_metrics(&answer)),
    })
}

/// v1 values Tempo answers without looking (`GetVirtualTagValues`).
pub fn virtual_values_v1(tag: &str) -> Option<Vec<String>> {
    let values: &[&str] = match tag {
        "status.code" => &["unset", "ok", "error"],
        "error" => &["true"],
        _ => return None,
    };
    Some(values.iter().map(|value| (*value).to_owned()).collect())
}

/// v2 values Tempo answers without looking (`GetVirtualTagValuesV2`).
pub fn virtual_values_v2(tag: &str) -> Option<Vec<pb::TagValue>> {
    let keywords: &[&str] = match tag {
        "status" | "span:status" => &["ok", "error", "unset"],
        "kind" | "span:kind" => &[
            "client",
            "server",
            "producer",
            "consumer",
            "internal",
            "unspecified",
        ],
        "duration" | "span:duration" | "traceDuration" | "trace:duration" => &[],
        _ => return None,
    };
    Some(
        keywords
            .iter()
            .map(|value| pb::TagValue {
                r#type: "keyword".to_owned(),
                value: (*value).to_owned(),
            })
            .collect(),
    )
}

/// The TraceQL identifier of a v1 (bare) tag name: the unscoped attribute, quoted when needed
/// (`service.name` → `.service.name`, `a b` → `."a b"`).
pub fn v1_identifier(tag: &str) -> String {
    let plain = tag.chars().all(|character| {
        !character.is_whitespace()
            && character != '"'
            && character != '\\'
            && !"{}()=~!<>&|^,".contains(character)
    });
    if plain {
        return format!(".{tag}");
    }
    let escaped = tag.replace('\\', "\\\\").replace('"', "\\\"");
    format!(".\"{escaped}\"")
}

fn non_empty(tag: &str) -> Result<(), QueryError> {
    if tag.is_empty() {
        return Err(QueryError::bad_request(
            "please provide a non-empty tagName",
        ));
    }
    Ok(())
}

async fn values_of(
    frontend: &Frontend,
    tenant: &str,
    attribute: String,
    request: &TagValuesRequest,
) -> Result<TagsAnswer, QueryError> {
    Ok(frontend
        .tags(TagsRequest {
            tenant: tenant.to_owned(),
            query: TagsQuery {
                attribute,
                scopes: Vec::new(),
                filter: request.query.clone(),
                start_seconds: request.start,
                end_seconds: request.end,
                limit: request.limit,
            },
        })
        .await?)
}

/// Tag values, v1: a bare attribute name (span or resource), values as plain strings.
pub async fn tag_values_v1(
    frontend: &Frontend,
    tenant: &str,
    request: &TagValuesRequest,
) -> Result<pb::SearchTagValuesResponse, QueryError> {
    non_empty(&request.tag)?;
    check_range(request.start, request.end, &SearchLimits::default())?;
    if let Some(tag_values) = virtual_values_v1(&request.tag) {
        return Ok(pb::SearchTagValuesResponse {
            tag_values,
            metrics: Some(pb::MetadataMetrics::default()),
        });
    }
    let attribute = v1_identifier(&request.tag);
    parse_identifier(&attribute).map_err(|error| {
        QueryError::bad_request(format!("please provide a valid tagName: {error}"))
    })?;
    let answer = values_of(frontend, tenant, attribute, request).await?;
    let mut seen = BTreeSet::new();
    let tag_values = answer
        .values
        .iter()
        .filter(|value| seen.insert(value.value.clone()))
        .map(|value| value.value.clone())
        .collect();
    Ok(pb::SearchTagValuesResponse {
        tag_values,
        metrics: Some(metadata_metrics(&answer)),
    })
}

/// Tag values, v2: a TraceQL identifier, typed values.
pub async fn tag_values_v2(
    frontend: &Frontend,
    tenant: &str,
    request: &TagValuesRequest,
) -> Result<pb::SearchTagValuesV2Response, QueryError> {
    non_empty(&request.tag)?;
    check_range(request.start, request.end, &SearchLimits::default())?;
    if let Some(tag_values) = virtual_values_v2(&request.tag) {
        return Ok(pb::SearchTagValuesV2Response {
            tag_values,
            metrics: Some(pb::MetadataMetrics::default()),
        });
    }
    parse_identifier(&request.tag).map_err(|error| {
        QueryError::bad_request(format!("please provide a valid tagName: {error}"))
    })?;
    let answer = values_of(frontend, tenant, request.tag.clone(), request).await?;
    Ok(pb::SearchTagValuesV2Response {
        tag_values: answer
            .values
            .iter()
            .map(|value| pb::TagValue {
                r#type: value.r#type.clone(),
                value: value.value.clone(),
            })
            .collect(),
        metrics: Some(metadata_metrics(&answer)),
    })
}

/// The parameters shared by the tag routes.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TagParams {
    pub scope: String,
    pub query: String,
    pub start: u32,
    pub end: u32,
    pub limit: u32,
}

/// Go's `strconv` error text (`strconv.ParseInt: parsing "x": invalid syntax`).
fn go_parse_error(function: &str, text: &str, out_of_range: bool) -> String {
    let reason = if out_of_range {
        "value out of range"
    } else {
        "invalid syntax"
    };
    format!("strconv.{function}: parsing {text:?}: {reason}")
}

/// `start`/`end`: Tempo parses them as 32-bit signed unix seconds.
fn parse_seconds(name: &str, text: &str) -> Result<u32, QueryError> {
    let invalid = |out_of_range| {
        QueryError::bad_request(format!(
            "invalid {name}: {}",
            go_parse_error("ParseInt", text, out_of_range)
        ))
    };
    let value: i64 = text.parse().map_err(|_| {
        let digits = text.strip_prefix(['-', '+']).unwrap_or(text);
        invalid(!digits.is_empty() && digits.bytes().all(|byte| byte.is_ascii_digit()))
    })?;
    let value = i32::try_from(value).map_err(|_| invalid(true))?;
    u32::try_from(value)
        .map_err(|_| QueryError::bad_request(format!("invalid {name}: must be a positive number")))
}

fn parse_count(name: &str, text: &str) -> Result<u32, QueryError> {
    text.parse::<u32>().map_err(|_| {
        let out_of_range = !text.is_empty() && text.bytes().all(|byte| byte.is_ascii_digit());
        QueryError::bad_request(format!(
            "invalid {name}: {}",
            go_parse_error("Atoi", text, out_of_range)
        ))
    })
}

/// Parses `scope`, `q`, `start`, `end`, `limit` and `maxStaleValues` (checked, then unused:
/// every job runs to the end). Empty values count as absent.
pub fn parse_tag_params(params: &[(String, String)]) -> Result<TagParams, QueryError> {
    let get = |name: &str| {
        params
            .iter()
            .find(|(key, value)| key == name && !value.is_empty())
            .map(|(_, value)| value.as_str())
    };
    let mut parsed = TagParams {
        scope: get("scope").unwrap_or("").to_owned(),
        query: get("q").unwrap_or("").to_owned(),
        ..TagParams::default()
    };
    if let Some(text) = get("start") {
        parsed.start = parse_seconds("start", text)?;
    }
    if let Some(text) = get("end") {
        parsed.end = parse_seconds("end", text)?;
    }
    if let Some(text) = get("limit") {
        parsed.limit = parse_count("limit", text)?;
    }
    if let Some(text) = get("maxStaleValues") {
        parse_count("maxStaleValues", text)?;
    }
    Ok(parsed)
}

/// Decodes `%XX` escapes; `None` when there are none or the result is not UTF-8.
fn percent_decode(text: &str) -> Option<String> {
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut decoded_any = false;
    let mut index = 0;
    while index < bytes.len() {
        let escape = (bytes[index] == b'%')
            .then(|| text.get(index + 1..index + 3))
            .flatten()
            .and_then(|hex| u8::from_str_radix(hex, 16).ok());
        if let Some(byte) = escape {
            out.push(byte);
            decoded_any = true;
            index += 3;
        } else {
            out.push(bytes[index]);
            index += 1;
        }
    }
    if !decoded_any {
        return None;
    }
    String::from_utf8(out).ok()
}

/// The tag name of a `…/tag/{tagName}/values` path tail (already percent-decoded once by the
/// router). Older Grafana encodes the name twice, so a name still holding `%XX` escapes is
/// decoded again when the decoded form is `acceptable`.
pub fn tag_name_of(tail: &str, acceptable: impl Fn(&str) -> bool) -> Option<String> {
    let name = tail.strip_suffix("/values")?;
    match percent_decode(name) {
        Some(decoded) if acceptable(&decoded) => Some(decoded),
        _ => Some(name.to_owned()),
    }
}

/// Any v1 (bare) name will do.
fn v1_name_acceptable(_name: &str) -> bool {
    true
}

/// A v2 name must be a TraceQL identifier (or a name with virtual values).
fn v2_name_acceptable(name: &str) -> bool {
    virtual_values_v2(name).is_some() || parse_identifier(name).is_ok()
}

fn tag_values_request(tag: String, params: TagParams) -> TagValuesRequest {
    TagValuesRequest {
        tag,
        query: params.query,
        start: params.start,
        end: params.end,
        limit: params.limit,
    }
}

fn names_request(params: TagParams) -> TagNamesRequest {
    TagNamesRequest {
        scope: params.scope,
        query: params.query,
        start: params.start,
        end: params.end,
        limit: params.limit,
    }
}

/// The frontend, the tenant and the parameters of a tag request.
fn prepare<'a>(
    state: &'a ApiState,
    headers: &HeaderMap,
    params: &[(String, String)],
) -> Result<(&'a Arc<Frontend>, String, TagParams), QueryError> {
    let frontend = frontend_of(state)?;
    let tenant = tenant_of(state, headers)?;
    Ok((frontend, tenant, parse_tag_params(params)?))
}

fn not_found() -> Response {
    (StatusCode::NOT_FOUND, "404 page not found\n").into_response()
}

/// `GET /api/search/tags`.
pub async fn tags_v1(
    State(state): State<Arc<ApiState>>,
    Query(params): Query<Vec<(String, String)>>,
    headers: HeaderMap,
) -> Response {
    let answer = match prepare(&state, &headers, &params) {
        Ok((frontend, tenant, params)) => {
            tag_names_v1(frontend, &tenant, &names_request(params)).await
        }
        Err(error) => Err(error),
    };
    match answer {
        Ok(response) => encoded(&headers, &response, search_tags_response_to_json),
        Err(error) => error.into_response(),
    }
}

/// `GET /api/v2/search/tags`.
pub async fn tags_v2(
    State(state): State<Arc<ApiState>>,
    Query(params): Query<Vec<(String, String)>>,
    headers: HeaderMap,
) -> Response {
    let answer = match prepare(&state, &headers, &params) {
        Ok((frontend, tenant, params)) => {
            tag_names_v2(frontend, &tenant, &names_request(params)).await
        }
        Err(error) => Err(error),
    };
    match answer {
        Ok(response) => encoded(&headers, &response, search_tags_v2_response_to_json),
        Err(error) => error.into_response(),
    }
}

/// `GET /api/search/tag/{tagName}/values`.
pub async fn tag_values_v1_route(
    State(state): State<Arc<ApiState>>,
    Path(tail): Path<String>,
    Query(params): Query<Vec<(String, String)>>,
    headers: HeaderMap,
) -> Response {
    let Some(tag) = tag_name_of(&tail, v1_name_acceptable) else {
        return not_found();
    };
    let answer = match prepare(&state, &headers, &params) {
        Ok((frontend, tenant, params)) => {
            tag_values_v1(frontend, &tenant, &tag_values_request(tag, params)).await
        }
        Err(error) => Err(error),
    };
    match answer {
        Ok(response) => encoded(&headers, &response, search_tag_values_response_to_json),
        Err(error) => error.into_response(),
    }
}

/// `GET /api/v2/search/tag/{tagName}/values`.
pub async fn tag_values_v2_route(
    State(state): State<Arc<ApiState>>,
    Path(tail): Path<String>,
    Query(params): Query<Vec<(String, String)>>,
    headers: HeaderMap,
) -> Response {
    let Some(tag) = tag_name_of(&tail, v2_name_acceptable) else {
        return not_found();
    };
    let answer = match prepare(&state, &headers, &params) {
        Ok((frontend, tenant, params)) => {
            tag_values_v2(frontend, &tenant, &tag_values_request(tag, params)).await
        }
        Err(error) => Err(error),
    };
    match answer {
        Ok(response) => encoded(&headers, &response, search_tag_values_v2_response_to_json),
        Err(error) => error.into_response(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn params(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
        pairs
            .iter()
            .map(|(key, value)| ((*key).to_owned(), (*value).to_owned()))
            .collect()
    }

    #[test]
    fn tag_parameters_parse_with_tempo_texts() {
        let parsed = parse_tag_params(&params(&[
            ("scope", "span"),
            ("q", "{ .a = 1 }"),
            ("start", "100"),
            ("end", "200"),
            ("limit", "5"),
            ("maxStaleValues", "10"),
        ]))
        .expect("valid");
        assert_eq!(
            parsed,
            TagParams {
                scope: "span".into(),
                query: "{ .a = 1 }".into(),
                start: 100,
                end: 200,
                limit: 5,
            }
        );
        assert_eq!(
            parse_tag_params(&params(&[("start", "")])).expect("empty is absent"),
            TagParams::default()
        );
        let error = parse_tag_params(&params(&[("start", "soon")])).expect_err("bad start");
        assert_eq!(
            error.message,
            "invalid start: strconv.ParseInt: parsing \"soon\": invalid syntax"
        );
        let error = parse_tag_params(&params(&[("end", "99999999999")])).expect_err("range");
        assert_eq!(
            error.message,
            "invalid end: strconv.ParseInt: parsing \"99999999999\": value out of range"
        );
        let error = parse_tag_params(&params(&[("limit", "x")])).expect_err("bad limit");
        assert!(error.message.starts_with("invalid limit: "), "{error:?}");
        assert_eq!(error.status, 400);
        assert!(parse_tag_params(&params(&[("maxStaleValues", "-1")])).is_err());
    }

    #[test]
    fn ranges_are_checked_like_search() {
        let limits = SearchLimits::default();
        assert!(check_range(0, 0, &limits).is_ok());
        assert!(check_range(100, 200, &limits).is_ok());
        assert_eq!(
            check_range(1, 700_000, &limits)
                .expect_err("too long")
                .message,
            "range specified by start and end exceeds 168h0m0s. received start=1 end=700000"
        );
        assert_eq!(
            check_range(20, 10, &limits).expect_err("reversed").message,
            "http parameter start must be before end. received start=20 end=10"
        );
    }

    #[test]
    fn scopes_follow_the_version() {
        assert_eq!(
            scopes_of("", TagsVersion::V1).expect("v1"),
            vec!["resource", "span"]
        );
        assert_eq!(
            scopes_of("none", TagsVersion::V2).expect("v2"),
            V2_SCOPES.to_vec()
        );
        assert_eq!(
            scopes_of("intrinsic", TagsVersion::V1).expect("explicit"),
            vec![INTRINSIC]
        );
        assert_eq!(
            scopes_of("event", TagsVersion::V2).expect("event"),
            vec!["event"]
        );
        let error = scopes_of("spam", TagsVersion::V1).expect_err("invalid");
        assert_eq!(
            (error.status, error.message.as_str()),
            (400, "invalid scope: spam")
        );
    }

    #[test]
    fn virtual_values() {
        assert_eq!(
            virtual_values_v1("status.code"),
            Some(vec!["unset".into(), "ok".into(), "error".into()])
        );
        assert_eq!(virtual_values_v1("error"), Some(vec!["true".into()]));
        assert_eq!(virtual_values_v1("service.name"), None);
        for tag in ["status", "span:status"] {
            let values = virtual_values_v2(tag).expect("status");
            let texts: Vec<&str> = values.iter().map(|value| value.value.as_str()).collect();
            assert_eq!(texts, ["ok", "error", "unset"]);
            assert!(values.iter().all(|value| value.r#type == "keyword"));
        }
        for tag in ["kind", "span:kind"] {
            assert_eq!(virtual_values_v2(tag).expect("kind").len(), 6);
        }
        for tag in ["duration", "span:duration", "traceDuration"] {
            assert_eq!(virtual_values_v2(tag), Some(Vec::new()));
        }
        assert_eq!(virtual_values_v2("resource.service.name"), None);
    }

    #[test]
    fn v1_names_become_unscoped_identifiers() {
        assert_eq!(v1_identifier("service.name"), ".service.name");
        assert_eq!(v1_identifier("http/path"), ".http/path");
        assert_eq!(v1_identifier("a b"), ".\"a b\"");
        assert_eq!(v1_identifier("say \"hi\""), ".\"say \\\"hi\\\"\"");
        for tag in [
            "service.name",
            "http/path",
            "a b",
            "say \"hi\"",
            "x=y",
            "k8s.pod.name",
        ] {
            parse_identifier(&v1_identifier(tag)).unwrap_or_else(|error| panic!("{tag}: {error}"));
        }
    }

    #[test]
    fn tag_paths_are_decoded_tolerantly() {
        assert_eq!(
            tag_name_of("service.name/values", v1_name_acceptable).as_deref(),
            Some("service.name")
        );
        assert_eq!(
            tag_name_of("http/path/values", v1_name_acceptable).as_deref(),
            Some("http/path")
        );
        assert_eq!(
            tag_name_of("/values", v1_name_acceptable).as_deref(),
            Some("")
        );
        assert_eq!(tag_name_of("service.name", v1_name_acceptable), None);
        // Encoded twice: the router decoded once, the rest is decoded here.
        assert_eq!(
            tag_name_of("a%20b/values", v1_name_acceptable).as_deref(),
            Some("a b")
        );
        assert_eq!(
            tag_name_of("span.%22a%20b%22/values", v2_name_acceptable).as_deref(),
            Some("span.\"a b\"")
        );
        assert_eq!(
            tag_name_of("resource.service.name/values", v2_name_acceptable).as_deref(),
            Some("resource.service.name")
        );
        // A name that is not an identifier either way is kept (and rejected with Tempo's 400).
        assert_eq!(
            tag_name_of("a b/values", v2_name_acceptable).as_deref(),
            Some("a b")
        );
        assert_eq!(percent_decode("100%"), None);
        assert_eq!(percent_decode("%zz"), None);
        assert_eq!(percent_decode("%ff"), None);
    }

    #[test]
    fn intrinsic_list_matches_the_contract() {
        assert_eq!(INTRINSIC_TAGS.len(), 25);
        assert_eq!(INTRINSIC_TAGS[0], "duration");
        assert_eq!(INTRINSIC_TAGS[24], "trace:duration");
    }

    #[test]
    fn v2_json_always_has_scopes() {
        let response = pb::SearchTagsV2Response {
            scopes: vec![pb::SearchTagsV2Scope {
                name: "resource".into(),
                tags: Vec::new(),
            }],
            metrics: Some(pb::MetadataMetrics::default()),
        };
        let json = search_tags_v2_response_to_json(&response);
        assert_eq!(json["scopes"][0]["name"], "resource");
        assert!(json["metrics"].is_object());
    }
}
