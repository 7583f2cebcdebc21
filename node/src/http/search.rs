//! `GET /api/search` (tempo-api.md §2.7): Tempo's parameters, defaults and 400 texts, answered
//! through the query-frontend as JSON (jsonpb dialect) or protobuf `tempopb.SearchResponse`.
//!
//! The request model is shared with the gRPC `StreamingQuerier.Search` (see `crate::streaming`):
//! a gRPC request is turned into the same parameters and validated by the same parser, as Tempo
//! does (`api.BuildSearchRequest`).

use std::sync::Arc;

use axum::extract::{Query, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use prost::Message;
use vivace_actors::frontend::{Frontend, FrontendError};
use vivace_actors::search::{SearchLimits, SearchQuery, SearchRequest, parse_search_request};
use vivace_proto::search_json::search_response_to_json;
use vivace_proto::tempopb_search as pb;

use super::ApiState;
use super::tenant::tenant_from_headers;

pub(crate) const PROTOBUF: &str = "application/protobuf";
pub(crate) const JSON: &str = "application/json";

/// Why a search or tag query was not answered: the HTTP status and Tempo's plain-text message.
/// The gRPC service maps the status to a gRPC code.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct QueryError {
    pub status: u16,
    pub message: String,
}

impl QueryError {
    pub fn bad_request(message: impl Into<String>) -> Self {
        QueryError {
            status: 400,
            message: message.into(),
        }
    }
}

impl From<FrontendError> for QueryError {
    fn from(error: FrontendError) -> Self {
        QueryError {
            status: error.http_status(),
            message: error.to_string(),
        }
    }
}

impl IntoResponse for QueryError {
    fn into_response(self) -> Response {
        let status = StatusCode::from_u16(self.status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
        (
            status,
            [(header::CONTENT_TYPE, "text/plain; charset=utf-8")],
            self.message,
        )
            .into_response()
    }
}

/// The frontend, or 404 on a node that does not run one.
pub(crate) fn frontend_of(state: &ApiState) -> Result<&Arc<Frontend>, QueryError> {
    state.frontend.as_ref().ok_or_else(|| QueryError {
        status: 404,
        message: "this node does not run the query-frontend: search and tag queries are served by \
                  nodes whose target includes query-frontend"
            .to_owned(),
    })
}

/// The tenant of an HTTP request (400 `no org id` when multitenancy requires one).
pub(crate) fn tenant_of(state: &ApiState, headers: &HeaderMap) -> Result<String, QueryError> {
    tenant_from_headers(headers, state.multitenancy_enabled)
        .map_err(|error| QueryError::bad_request(error.to_string()))
}

/// `Accept` contains `application/protobuf` (Tempo's substring test).
pub(crate) fn wants_protobuf(headers: &HeaderMap) -> bool {
    headers
        .get(header::ACCEPT)
        .and_then(|value| value.to_str().ok())
        .is_some_and(|accept| accept.contains(PROTOBUF))
}

/// A 200 answer: protobuf when asked for, else the JSON encoding.
pub(crate) fn encoded<M: Message>(
    headers: &HeaderMap,
    message: &M,
    to_json: fn(&M) -> serde_json::Value,
) -> Response {
    if wants_protobuf(headers) {
        return (
            StatusCode::OK,
            [(header::CONTENT_TYPE, PROTOBUF)],
            message.encode_to_vec(),
        )
            .into_response();
    }
    (
        StatusCode::OK,
        [(header::CONTENT_TYPE, JSON)],
        to_json(message).to_string(),
    )
        .into_response()
}

/// The wire request of a parsed search.
pub fn to_wire(request: SearchRequest) -> pb::SearchRequest {
    let (query, tags) = match request.query {
        SearchQuery::TraceQl { text, .. } => (text, Default::default()),
        SearchQuery::Tags(tags) => (String::new(), tags.into_iter().collect()),
    };
    pb::SearchRequest {
        tags,
        min_duration_ms: request.min_duration_ms.unwrap_or(0),
        max_duration_ms: request.max_duration_ms.unwrap_or(0),
        limit: request.limit,
        start: request.start_seconds,
        end: request.end_seconds,
        query,
        spans_per_span_set: request.spans_per_spanset,
        skip_ast_transformations: Vec::new(),
    }
}

/// Parses `/api/search` parameters into the wire request; the error is the 400 text. Empty
/// values count as absent, as in Tempo (`extractQueryParam`): `q=` searches everything.
pub fn search_request_from_params(
    params: &[(String, String)],
    limits: &SearchLimits,
) -> Result<pb::SearchRequest, String> {
    let given: Vec<(String, String)> = params
        .iter()
        .filter(|(_, value)| !value.is_empty())
        .cloned()
        .collect();
    parse_search_request(&given, limits).map(to_wire)
}

/// Validates a gRPC search request as Tempo does: it is turned into the HTTP parameters (fields
/// at 0 are left out, so `Limit` 0 means the default 20 and `SpansPerSpanSet` 0 means 3) and
/// parsed by the same code. Legacy `Tags` are kept as they are.
pub fn validate_wire_request(
    request: &pb::SearchRequest,
    limits: &SearchLimits,
) -> Result<pb::SearchRequest, String> {
    let has_query = !request.query.trim().is_empty();
    if has_query && !request.tags.is_empty() {
        return Err("invalid request: can't specify tags and q in the same query".to_owned());
    }
    let mut params: Vec<(String, String)> = Vec::new();
    let mut push = |name: &str, value: String| params.push((name.to_owned(), value));
    if has_query {
        push("q", request.query.clone());
    }
    if request.min_duration_ms != 0 {
        push("minDuration", format!("{}ms", request.min_duration_ms));
    }
    if request.max_duration_ms != 0 {
        push("maxDuration", format!("{}ms", request.max_duration_ms));
    }
    if request.limit != 0 {
        push("limit", request.limit.to_string());
    }
    if request.spans_per_span_set != 0 {
        push("spss", request.spans_per_span_set.to_string());
    }
    if request.start != 0 {
        push("start", request.start.to_string());
    }
    if request.end != 0 {
        push("end", request.end.to_string());
    }
    let mut wire = search_request_from_params(&params, limits)?;
    if !has_query {
        wire.tags = request.tags.clone();
    }
    wire.skip_ast_transformations = request.skip_ast_transformations.clone();
    Ok(wire)
}

/// Parses, checks and runs a search through the frontend.
async fn run(
    state: &ApiState,
    headers: &HeaderMap,
    params: &[(String, String)],
) -> Result<pb::SearchResponse, QueryError> {
    let frontend = frontend_of(state)?;
    let tenant = tenant_of(state, headers)?;
    let request = search_request_from_params(params, &SearchLimits::default())
        .map_err(QueryError::bad_request)?;
    Ok(frontend.search(&tenant, request, None).await?)
}

/// `GET /api/search`.
pub async fn search(
    State(state): State<Arc<ApiState>>,
    Query(params): Query<Vec<(String, String)>>,
    headers: HeaderMap,
) -> Response {
    match run(&state, &headers, &params).await {
        Ok(response) => encoded(&headers, &response, search_response_to_json),
        Err(error) => error.into_response(),
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    fn params(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
        pairs
            .iter()
            .map(|(key, value)| ((*key).to_owned(), (*value).to_owned()))
            .collect()
    }

    fn parse(pairs: &[(&str, &str)]) -> Result<pb::SearchRequest, String> {
        search_request_from_params(&params(pairs), &SearchLimits::default())
    }

    #[test]
    fn traceql_parameters_become_the_wire_request() {
        let request = parse(&[
            ("q", "{ resource.service.name = \"api\" }"),
            ("limit", "5"),
            ("spss", "7"),
            ("start", "100"),
            ("end", "200"),
            ("minDuration", "1.5s"),
            ("maxDuration", "1m"),
        ])
        .expect("valid");
        assert_eq!(request.query, "{ resource.service.name = \"api\" }");
        assert!(request.tags.is_empty());
        assert_eq!((request.limit, request.spans_per_span_set), (5, 7));
        assert_eq!((request.start, request.end), (100, 200));
        assert_eq!(
            (request.min_duration_ms, request.max_duration_ms),
            (1_500, 60_000)
        );
    }

    #[test]
    fn defaults_and_legacy_tags() {
        let request = parse(&[("q", "{}")]).expect("valid");
        assert_eq!((request.limit, request.spans_per_span_set), (20, 3));
        assert_eq!((request.start, request.end), (0, 0));
        let legacy = parse(&[("service.name", "api"), ("limit", "3")]).expect("valid");
        assert!(legacy.query.is_empty());
        assert_eq!(
            legacy.tags.get("service.name").map(String::as_str),
            Some("api")
        );
        assert_eq!(legacy.limit, 3);
        let everything = parse(&[("q", ""), ("limit", ""), ("start", "10"), ("end", "20")])
            .expect("empty values are absent");
        assert!(everything.query.is_empty() && everything.tags.is_empty());
        assert_eq!(everything.limit, 20);
        let logfmt = parse(&[("tags", "a=1 b=\"x y\"")]).expect("valid");
        assert_eq!(logfmt.tags.len(), 2);
        assert_eq!(logfmt.tags.get("b").map(String::as_str), Some("x y"));
    }

    #[test]
    fn tempo_400_texts() {
        let cases: [(&[(&str, &str)], &str); 6] = [
            (&[("q", "{ .a = }")], "invalid TraceQL query: "),
            (
                &[("q", "{}"), ("tags", "a=b")],
                "invalid request: can't specify tags and q in the same query",
            ),
            (
                &[("q", "{}"), ("limit", "0")],
                "invalid limit: must be a positive number",
            ),
            (
                &[("q", "{}"), ("spss", "101")],
                "spans per span set exceeds 100. received 101",
            ),
            (
                &[("q", "{}"), ("start", "20"), ("end", "10")],
                "http parameter start must be before end. received start=20 end=10",
            ),
            (
                &[("q", "{}"), ("start", "1"), ("end", "700000")],
                "range specified by start and end exceeds 168h0m0s. received start=1 end=700000",
            ),
        ];
        for (pairs, expected) in cases {
            let error = parse(pairs).expect_err(expected);
            assert!(error.starts_with(expected), "{pairs:?}: {error}");
        }
    }

    #[test]
    fn grpc_requests_get_defaults_and_the_same_validation() {
        let limits = SearchLimits::default();
        let defaulted = validate_wire_request(
            &pb::SearchRequest {
                query: "{ }".to_owned(),
                ..Default::default()
            },
            &limits,
        )
        .expect("valid");
        assert_eq!((defaulted.limit, defaulted.spans_per_span_set), (20, 3));
        let kept = validate_wire_request(
            &pb::SearchRequest {
                query: "{ span.a = 1 }".to_owned(),
                limit: 1,
                spans_per_span_set: 10,
                start: 1_000,
                end: 2_000,
                min_duration_ms: 5,
                max_duration_ms: 90,
                ..Default::default()
            },
            &limits,
        )
        .expect("valid");
        assert_eq!((kept.limit, kept.spans_per_span_set), (1, 10));
        assert_eq!((kept.start, kept.end), (1_000, 2_000));
        assert_eq!((kept.min_duration_ms, kept.max_duration_ms), (5, 90));
        let tags = validate_wire_request(
            &pb::SearchRequest {
                tags: [("service.name".to_owned(), "a b=c".to_owned())].into(),
                ..Default::default()
            },
            &limits,
        )
        .expect("valid");
        assert!(tags.query.is_empty());
        assert_eq!(
            tags.tags.get("service.name").map(String::as_str),
            Some("a b=c")
        );
        let bad = validate_wire_request(
            &pb::SearchRequest {
                query: "{ .a = ".to_owned(),
                ..Default::default()
            },
            &limits,
        )
        .expect_err("bad TraceQL");
        assert!(bad.starts_with("invalid TraceQL query: "), "{bad}");
        let both = validate_wire_request(
            &pb::SearchRequest {
                query: "{}".to_owned(),
                tags: [("a".to_owned(), "b".to_owned())].into(),
                ..Default::default()
            },
            &limits,
        )
        .expect_err("both");
        assert_eq!(
            both,
            "invalid request: can't specify tags and q in the same query"
        );
        let range = validate_wire_request(
            &pb::SearchRequest {
                query: "{}".to_owned(),
                start: 1,
                end: 700_000,
                ..Default::default()
            },
            &limits,
        )
        .expect_err("too long");
        assert!(range.starts_with("range specified by start and end exceeds 168h0m0s"));
    }

    #[test]
    fn errors_are_plain_text_with_tempo_codes() {
        let response = QueryError::from(FrontendError::TooManyOutstanding).into_response();
        assert_eq!(response.status(), StatusCode::TOO_MANY_REQUESTS);
        let response = QueryError::bad_request("invalid scope: x").into_response();
        assert_eq!(response.status(), StatusCode::BAD_REQUEST);
        assert_eq!(
            response
                .headers()
                .get(header::CONTENT_TYPE)
                .and_then(|value| value.to_str().ok()),
            Some("text/plain; charset=utf-8")
        );
    }

    #[test]
    fn answers_are_json_unless_protobuf_is_accepted() {
        let message = pb::SearchResponse {
            traces: vec![pb::TraceSearchMetadata {
                trace_id: "abc".to_owned(),
                ..Default::default()
            }],
            metrics: Some(Default::default()),
        };
        let mut headers = HeaderMap::new();
        let json = encoded(&headers, &message, search_response_to_json);
        assert_eq!(
            json.headers()
                .get(header::CONTENT_TYPE)
                .map(|v| v.as_bytes()),
            Some(JSON.as_bytes())
        );
        headers.insert(
            header::ACCEPT,
            "application/protobuf, */*".parse().expect("header"),
        );
        let protobuf = encoded(&headers, &message, search_response_to_json);
        assert_eq!(
            protobuf
                .headers()
                .get(header::CONTENT_TYPE)
                .map(|v| v.as_bytes()),
            Some(PROTOBUF.as_bytes())
        );
    }
}

/// The routes end to end: the API router over a real frontend whose local worker runs a fake
/// querier.
#[cfg(test)]
pub(crate) mod route_tests {
    use std::sync::Mutex;
    use std::sync::atomic::AtomicBool;

    use axum::body::Body;
    use axum::http::Request;
    use serde_json::Value;
    use tokio::sync::watch;
    use tower::ServiceExt as _;
    use vivace_actors::seams::SystemClock;
    use vivace_proto::cluster::TagsQuery;

    use super::*;
    use crate::streaming::tests::{FakeQuerier, frontend_with};
    use crate::telemetry::Telemetry;

    /// API state around `frontend`.
    pub(crate) fn api_state(
        frontend: Option<Arc<Frontend>>,
        multitenancy_enabled: bool,
    ) -> Arc<ApiState> {
        let (shutdown, _) = watch::channel(false);
        Arc::new(ApiState {
            frontend,
            querier: None,
            ingester: None,
            cluster: None,
            clock: Arc::new(SystemClock),
            instance_id: "test".to_owned(),
            grpc_advertise: "127.0.0.1:9095".to_owned(),
            started_unix_nanos: 0,
            shutdown,
            not_ready_reason: Arc::new(Mutex::new(String::new())),
            multitenancy_enabled,
            max_bytes_per_trace: 0,
            ready: Arc::new(AtomicBool::new(true)),
            telemetry: Arc::new(Telemetry::new(None)),
            config_yaml: String::new(),
        })
    }

    struct Answer {
        status: StatusCode,
        content_type: String,
        body: Vec<u8>,
    }

    impl Answer {
        fn text(&self) -> String {
            String::from_utf8_lossy(&self.body).into_owned()
        }

        fn json(&self) -> Value {
            assert_eq!(self.status, StatusCode::OK, "{}", self.text());
            assert_eq!(self.content_type, JSON);
            serde_json::from_slice(&self.body).expect("JSON body")
        }
    }

    async fn get(router: &axum::Router, uri: &str, headers: &[(&str, &str)]) -> Answer {
        let mut request = Request::get(uri);
        for (name, value) in headers {
            request = request.header(*name, *value);
        }
        let response = router
            .clone()
            .oneshot(request.body(Body::empty()).expect("request"))
            .await
            .expect("infallible");
        let status = response.status();
        let content_type = response
            .headers()
            .get(header::CONTENT_TYPE)
            .and_then(|value| value.to_str().ok())
            .unwrap_or("")
            .to_owned();
        let body = axum::body::to_bytes(response.into_body(), usize::MAX)
            .await
            .expect("body")
            .to_vec();
        Answer {
            status,
            content_type,
            body,
        }
    }

    fn router(prefix: &str) -> (axum::Router, Arc<FakeQuerier>) {
        let querier = Arc::new(FakeQuerier::default());
        let frontend = frontend_with(Arc::clone(&querier));
        (
            super::super::api_router(api_state(Some(frontend), false), prefix),
            querier,
        )
    }

    fn last_tags_query(querier: &FakeQuerier) -> TagsQuery {
        querier
            .tag_queries
            .lock()
            .expect("lock")
            .last()
            .cloned()
            .expect("a tags job ran")
    }

    #[tokio::test]
    async fn search_answers_json_and_protobuf() {
        let (router, _) = router("");
        let json = get(&router, "/api/search?q=%7B%7D&limit=5&spss=2", &[])
            .await
            .json();
        assert_eq!(json["traces"][0]["traceID"], "abc");
        assert_eq!(json["traces"][0]["rootServiceName"], "api");
        assert_eq!(
            json["traces"][0]["startTimeUnixNano"],
            "1700000000000000000"
        );
        assert!(json["metrics"].is_object());
        let protobuf = get(
            &router,
            "/api/search?q=%7B%7D",
            &[("accept", "application/protobuf")],
        )
        .await;
        assert_eq!(protobuf.status, StatusCode::OK);
        assert_eq!(protobuf.content_type, PROTOBUF);
        let decoded = pb::SearchResponse::decode(protobuf.body.as_slice()).expect("protobuf");
        assert_eq!(decoded.traces[0].trace_id, "abc");
        let legacy = get(&router, "/api/search?service.name=api", &[])
            .await
            .json();
        assert_eq!(legacy["traces"][0]["traceID"], "abc");
    }

    #[tokio::test]
    async fn search_errors_are_tempo_texts() {
        let (router, _) = router("");
        let bad = get(&router, "/api/search?q=%7B%20.a%20%3D%20", &[]).await;
        assert_eq!(bad.status, StatusCode::BAD_REQUEST);
        assert!(
            bad.text().starts_with("invalid TraceQL query: "),
            "{}",
            bad.text()
        );
        let range = get(&router, "/api/search?q=%7B%7D&start=1&end=700000", &[]).await;
        assert_eq!(range.status, StatusCode::BAD_REQUEST);
        assert_eq!(
            range.text(),
            "range specified by start and end exceeds 168h0m0s. received start=1 end=700000"
        );
        let failed = get(&router, "/api/search?q=%7B%20.fail%20%3D%201%20%7D", &[]).await;
        assert_eq!(failed.status, StatusCode::INTERNAL_SERVER_ERROR);
        assert_eq!(failed.text(), "disk on fire");
    }

    #[tokio::test]
    async fn without_a_frontend_or_tenant() {
        let router = super::super::api_router(api_state(None, false), "");
        for uri in [
            "/api/search?q=%7B%7D",
            "/api/search/tags",
            "/api/v2/search/tags",
            "/api/search/tag/a/values",
            "/api/v2/search/tag/.a/values",
        ] {
            let answer = get(&router, uri, &[]).await;
            assert_eq!(answer.status, StatusCode::NOT_FOUND, "{uri}");
            assert!(answer.text().contains("query-frontend"), "{uri}");
        }
        let querier = Arc::new(FakeQuerier::default());
        let strict = super::super::api_router(api_state(Some(frontend_with(querier)), true), "");
        let missing = get(&strict, "/api/v2/search/tags", &[]).await;
        assert_eq!(
            (missing.status, missing.text().as_str()),
            (StatusCode::BAD_REQUEST, "no org id")
        );
        let given = get(
            &strict,
            "/api/v2/search/tags",
            &[("x-scope-orgid", "team-a")],
        )
        .await;
        assert_eq!(given.status, StatusCode::OK);
    }

    #[tokio::test]
    async fn tag_names_v1_and_v2() {
        let (router, querier) = router("/tempo");
        let v1 = get(&router, "/tempo/api/search/tags", &[]).await.json();
        assert_eq!(
            v1["tagNames"],
            serde_json::json!(["resource.tag", "shared", "span.tag"])
        );
        assert_eq!(v1["metrics"]["inspectedBytes"], "42");
        assert_eq!(last_tags_query(&querier).scopes, ["resource", "span"]);
        let intrinsic = get(&router, "/tempo/api/search/tags?scope=intrinsic", &[])
            .await
            .json();
        assert_eq!(intrinsic["tagNames"].as_array().map(Vec::len), Some(25));
        let invalid = get(&router, "/tempo/api/search/tags?scope=bogus", &[]).await;
        assert_eq!(
            (invalid.status, invalid.text().as_str()),
            (StatusCode::BAD_REQUEST, "invalid scope: bogus")
        );

        let v2 = get(
            &router,
            "/tempo/api/v2/search/tags?q=%7B%20.a%20%3D%20%7D&start=100&end=200&limit=1",
            &[],
        )
        .await
        .json();
        let names: Vec<&str> = v2["scopes"]
            .as_array()
            .expect("scopes")
            .iter()
            .filter_map(|scope| scope["name"].as_str())
            .collect();
        assert_eq!(
            names,
            [
                "resource",
                "span",
                "intrinsic",
                "event",
                "link",
                "instrumentation"
            ]
        );
        assert_eq!(v2["scopes"][0]["tags"], serde_json::json!(["resource.tag"]));
        assert_eq!(v2["scopes"][2]["tags"], serde_json::json!(["duration"]));
        let asked = last_tags_query(&querier);
        assert_eq!(asked.filter, "{ .a = }");
        assert_eq!((asked.start_seconds, asked.end_seconds), (100, 200));
        let resource = get(&router, "/tempo/api/v2/search/tags?scope=resource", &[])
            .await
            .json();
        assert_eq!(resource["scopes"][0]["name"], "resource");
        assert_eq!(resource["scopes"].as_array().map(Vec::len), Some(1));
        let range = get(&router, "/tempo/api/v2/search/tags?start=1&end=700000", &[]).await;
        assert_eq!(range.status, StatusCode::BAD_REQUEST);
        assert!(
            range
                .text()
                .starts_with("range specified by start and end exceeds 168h0m0s")
        );
        let protobuf = get(
            &router,
            "/tempo/api/v2/search/tags?scope=intrinsic",
            &[("accept", "application/protobuf")],
        )
        .await;
        let decoded = pb::SearchTagsV2Response::decode(protobuf.body.as_slice()).expect("protobuf");
        assert_eq!(decoded.scopes[0].name, "intrinsic");
    }

    #[tokio::test]
    async fn tag_values_v1() {
        let (router, querier) = router("");
        let values = get(&router, "/api/search/tag/service.name/values?limit=7", &[])
            .await
            .json();
        assert_eq!(values["tagValues"], serde_json::json!(["200", "api"]));
        let asked = last_tags_query(&querier);
        assert_eq!(
            (asked.attribute.as_str(), asked.limit),
            (".service.name", 7)
        );
        let status = get(&router, "/api/search/tag/status.code/values", &[])
            .await
            .json();
        assert_eq!(
            status["tagValues"],
            serde_json::json!(["unset", "ok", "error"])
        );
        let error = get(&router, "/api/search/tag/error/values", &[])
            .await
            .json();
        assert_eq!(error["tagValues"], serde_json::json!(["true"]));
        get(&router, "/api/search/tag/http%2Froute/values", &[])
            .await
            .json();
        assert_eq!(last_tags_query(&querier).attribute, ".http/route");
        get(&router, "/api/search/tag/a%2520b/values", &[])
            .await
            .json();
        assert_eq!(last_tags_query(&querier).attribute, ".\"a b\"");
        let empty = get(&router, "/api/search/tag//values", &[]).await;
        assert_eq!(
            (empty.status, empty.text().as_str()),
            (
                StatusCode::BAD_REQUEST,
                "please provide a non-empty tagName"
            )
        );
        let not_values = get(&router, "/api/search/tag/service.name", &[]).await;
        assert_eq!(not_values.status, StatusCode::NOT_FOUND);
    }

    #[tokio::test]
    async fn tag_values_v2() {
        let (router, querier) = router("");
        let typed = get(
            &router,
            "/api/v2/search/tag/resource.service.name/values?q=%7B%7D",
            &[],
        )
        .await
        .json();
        assert_eq!(
            typed["tagValues"],
            serde_json::json!([
                {"type": "int", "value": "200"},
                {"type": "string", "value": "200"},
                {"type": "string", "value": "api"}
            ])
        );
        let asked = last_tags_query(&querier);
        assert_eq!(
            (asked.attribute.as_str(), asked.filter.as_str()),
            ("resource.service.name", "{}")
        );
        let status = get(&router, "/api/v2/search/tag/status/values", &[])
            .await
            .json();
        assert_eq!(
            status["tagValues"],
            serde_json::json!([
                {"type": "keyword", "value": "ok"},
                {"type": "keyword", "value": "error"},
                {"type": "keyword", "value": "unset"}
            ])
        );
        let kind = get(&router, "/api/v2/search/tag/span:kind/values", &[])
            .await
            .json();
        assert_eq!(kind["tagValues"].as_array().map(Vec::len), Some(6));
        let duration = get(&router, "/api/v2/search/tag/duration/values", &[])
            .await
            .json();
        assert!(duration.get("tagValues").is_none());
        get(&router, "/api/v2/search/tag/span.http/route/values", &[])
            .await
            .json();
        assert_eq!(last_tags_query(&querier).attribute, "span.http/route");
        get(
            &router,
            "/api/v2/search/tag/span.%2522a%2520b%2522/values",
            &[],
        )
        .await
        .json();
        assert_eq!(last_tags_query(&querier).attribute, "span.\"a b\"");
        let invalid = get(&router, "/api/v2/search/tag/a%20b/values", &[]).await;
        assert_eq!(invalid.status, StatusCode::BAD_REQUEST);
        assert!(
            invalid
                .text()
                .starts_with("please provide a valid tagName: failed to parse identifier a b"),
            "{}",
            invalid.text()
        );
        let protobuf = get(
            &router,
            "/api/v2/search/tag/status/values",
            &[("accept", "application/protobuf")],
        )
        .await;
        let decoded =
            pb::SearchTagValuesV2Response::decode(protobuf.body.as_slice()).expect("protobuf");
        assert_eq!(decoded.tag_values.len(), 3);
    }
}
