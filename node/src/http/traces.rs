//! `GET /api/traces/{traceID}` (v1) and `GET /api/v2/traces/{traceID}` (v2), with Tempo's
//! encodings, status codes and error texts (tempo-api.md §2.4, §2.5, §3, §4).

use std::collections::HashMap;
use std::sync::Arc;

use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use prost::Message;
use vivace_actors::querier::actor::FindTraceById;
use vivace_actors::querier::{FindMode, FindRequest, FindResult};
use vivace_proto::ids::parse_trace_id;
use vivace_proto::tempo_json::{trace_by_id_response_to_json, trace_to_v1_json};
use vivace_proto::tempopb::{PartialStatus, Trace, TraceByIdMetrics, TraceByIdResponse};

use super::ApiState;
use super::tenant::tenant_from_headers;

const PROTOBUF: &str = "application/protobuf";
const JSON: &str = "application/json";

/// An error answer: a status and a plain-text body, as Tempo writes them.
struct ApiError(StatusCode, String);

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        (self.0, self.1).into_response()
    }
}

fn bad_request(message: impl Into<String>) -> ApiError {
    ApiError(StatusCode::BAD_REQUEST, message.into())
}

fn wants_protobuf(headers: &HeaderMap) -> bool {
    headers
        .get(header::ACCEPT)
        .and_then(|value| value.to_str().ok())
        .is_some_and(|accept| accept.contains(PROTOBUF))
}

fn parse_seconds(params: &HashMap<String, String>, name: &str) -> Result<Option<i64>, ApiError> {
    let Some(text) = params.get(name).filter(|text| !text.is_empty()) else {
        return Ok(None);
    };
    text.parse::<i64>()
        .map(Some)
        .map_err(|error| bad_request(format!("invalid {name}: {error}")))
}

/// Parses the id and the `start`, `end`, `mode` parameters shared by v1 and v2.
fn parse_request(
    state: &ApiState,
    headers: &HeaderMap,
    trace_id_text: &str,
    params: &HashMap<String, String>,
) -> Result<FindRequest, ApiError> {
    let tenant = tenant_from_headers(headers, state.multitenancy_enabled)
        .map_err(|error| bad_request(error.to_string()))?;
    let trace_id = parse_trace_id(trace_id_text).map_err(|error| bad_request(error.to_string()))?;
    let start_seconds = parse_seconds(params, "start")?;
    let end_seconds = parse_seconds(params, "end")?;
    if let (Some(start), Some(end)) = (start_seconds, end_seconds)
        && end <= start
    {
        return Err(bad_request(format!(
            "http parameter start must be before end. received start={start} end={end}"
        )));
    }
    let mode_text = params.get("mode").map(String::as_str).unwrap_or("");
    let Some(mode) = FindMode::parse(mode_text) else {
        return Err(bad_request(format!("invalid value for mode {mode_text}")));
    };
    Ok(FindRequest {
        tenant,
        trace_id,
        mode,
        start_seconds,
        end_seconds,
        block_range: None,
    })
}

async fn find(state: &ApiState, request: FindRequest) -> Result<FindResult, Response> {
    if let Some(frontend) = &state.frontend {
        return frontend.find_trace_by_id(request).await.map_err(|error| {
            let status = StatusCode::from_u16(error.http_status())
                .unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
            (status, format!("{error}\n")).into_response()
        });
    }
    let Some(querier) = &state.querier else {
        return Err((
            StatusCode::NOT_FOUND,
            "this node runs neither the query-frontend nor the querier\n",
        )
            .into_response());
    };
    querier.send(FindTraceById(request)).await.map_err(|error| {
        (
            StatusCode::SERVICE_UNAVAILABLE,
            format!("querier unavailable: {error}"),
        )
            .into_response()
    })
}

fn body(content_type: &'static str, bytes: Vec<u8>) -> Response {
    (
        StatusCode::OK,
        [(header::CONTENT_TYPE, content_type)],
        bytes,
    )
        .into_response()
}

/// `GET /api/traces/{traceID}`.
pub async fn trace_by_id_v1(
    State(state): State<Arc<ApiState>>,
    Path(trace_id_text): Path<String>,
    Query(params): Query<HashMap<String, String>>,
    headers: HeaderMap,
) -> Response {
    let request = match parse_request(&state, &headers, &trace_id_text, &params) {
        Ok(request) => request,
        Err(error) => return error.into_response(),
    };
    match find(&state, request).await {
        Ok(result) => v1_response(&state, &headers, result),
        Err(error) => error.into_response(),
    }
}

fn v1_response(state: &ApiState, headers: &HeaderMap, result: FindResult) -> Response {
    if result.span_count == 0 && !result.failed_blocks.is_empty() {
        let message = format!(
            "failed to read the trace: {}",
            result.failed_blocks.join("; ")
        );
        return (StatusCode::INTERNAL_SERVER_ERROR, message).into_response();
    }
    if result.span_count == 0 {
        return StatusCode::NOT_FOUND.into_response();
    }
    let size = result.trace.encoded_len() as u64;
    if state.max_bytes_per_trace > 0 && size > state.max_bytes_per_trace {
        return (
            StatusCode::UNPROCESSABLE_ENTITY,
            format!(
                "trace exceeds max size (max bytes: {})",
                state.max_bytes_per_trace
            ),
        )
            .into_response();
    }
    if wants_protobuf(headers) {
        return body(PROTOBUF, result.trace.encode_to_vec());
    }
    body(
        JSON,
        trace_to_v1_json(&result.trace).to_string().into_bytes(),
    )
}

/// Drops spans from the end until the trace fits `max_bytes`.
fn cut_to_size(trace: &mut Trace, max_bytes: u64) {
    while trace.encoded_len() as u64 > max_bytes {
        let Some(batch) = trace.resource_spans.last_mut() else {
            return;
        };
        let Some(scope) = batch.scope_spans.last_mut() else {
            trace.resource_spans.pop();
            continue;
        };
        if scope.spans.pop().is_none() {
            batch.scope_spans.pop();
        }
        if batch
            .scope_spans
            .last()
            .is_some_and(|last| last.spans.is_empty())
        {
            batch.scope_spans.pop();
        }
        if batch.scope_spans.is_empty() {
            trace.resource_spans.pop();
        }
    }
}

/// `GET /api/v2/traces/{traceID}`.
pub async fn trace_by_id_v2(
    State(state): State<Arc<ApiState>>,
    Path(trace_id_text): Path<String>,
    Query(params): Query<HashMap<String, String>>,
    headers: HeaderMap,
) -> Response {
    if params
        .get("q")
        .is_some_and(|query| !query.trim().is_empty())
    {
        let message =
            "invalid TraceQL filter: TraceQL filtering of trace by ID is not yet supported";
        return bad_request(message).into_response();
    }
    let request = match parse_request(&state, &headers, &trace_id_text, &params) {
        Ok(request) => request,
        Err(error) => return error.into_response(),
    };
    match find(&state, request).await {
        Ok(result) => v2_response(&state, &headers, result),
        Err(error) => error.into_response(),
    }
}

fn v2_response(state: &ApiState, headers: &HeaderMap, result: FindResult) -> Response {
    let mut response = TraceByIdResponse {
        trace: Some(result.trace),
        metrics: Some(TraceByIdMetrics {
            inspected_bytes: result.inspected_bytes,
            backend_reads: result.backend_reads,
            backend_bytes: result.backend_bytes,
            additional_metrics: Default::default(),
        }),
        status: PartialStatus::Complete as i32,
        message: String::new(),
    };
    if !result.failed_blocks.is_empty() {
        response.status = PartialStatus::Partial as i32;
        response.message = format!(
            "some data could not be read: {}",
            result.failed_blocks.join("; ")
        );
    }
    if let Some(trace) = response.trace.as_mut()
        && state.max_bytes_per_trace > 0
        && trace.encoded_len() as u64 > state.max_bytes_per_trace
    {
        cut_to_size(trace, state.max_bytes_per_trace);
        response.status = PartialStatus::Partial as i32;
        response.message = format!(
            "Trace exceeds maximum size of {} bytes, a partial trace is returned",
            state.max_bytes_per_trace
        );
    }
    if wants_protobuf(headers) {
        return body(PROTOBUF, response.encode_to_vec());
    }
    body(
        JSON,
        trace_by_id_response_to_json(&response)
            .to_string()
            .into_bytes(),
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use vivace_proto::otlp::trace::{ResourceSpans, ScopeSpans, Span};

    #[test]
    fn cut_to_size_keeps_a_prefix_that_fits() {
        let spans = (0..50u8)
            .map(|index| Span {
                span_id: vec![index; 8],
                name: "x".repeat(20),
                ..Default::default()
            })
            .collect();
        let mut trace = Trace {
            resource_spans: vec![ResourceSpans {
                scope_spans: vec![ScopeSpans {
                    spans,
                    ..Default::default()
                }],
                ..Default::default()
            }],
        };
        cut_to_size(&mut trace, 300);
        assert!(trace.encoded_len() <= 300);
        assert!(trace.span_count() > 0);
        cut_to_size(&mut trace, 0);
        assert_eq!(trace.span_count(), 0);
    }
}
