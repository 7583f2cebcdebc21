//! OTLP receivers: gRPC (`opentelemetry.proto.collector.trace.v1.TraceService/Export`) and HTTP
//! (`POST /v1/traces`, protobuf or JSON, optionally gzip). Both hand the decoded export to the
//! distributor actor and answer only when it is durable.

use std::io::Read;
use std::sync::Arc;

use actix::Addr;
use axum::Router;
use axum::body::Bytes;
use axum::extract::{DefaultBodyLimit, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use prost::Message;
use tonic::{Request, Status};
use vivace_actors::distributor::actor::{DistributorActor, PushTraces};
use vivace_actors::error::PushError;
use vivace_actors::remote::push_error_to_status;
use vivace_proto::otlp::collector::trace_service_server::TraceService;
use vivace_proto::otlp::collector::{ExportTraceServiceRequest, ExportTraceServiceResponse};

use crate::http::tenant::{ORG_ID_HEADER, tenant_from_headers, tenant_from_value};

/// What both receivers need.
#[derive(Clone)]
pub struct IngestState {
    pub distributor: Addr<DistributorActor>,
    pub multitenancy_enabled: bool,
    pub max_message_bytes: usize,
}

fn span_count(request: &ExportTraceServiceRequest) -> u64 {
    request
        .resource_spans
        .iter()
        .flat_map(|batch| batch.scope_spans.iter())
        .map(|scope| scope.spans.len() as u64)
        .sum()
}

async fn push(
    state: &IngestState,
    tenant: String,
    request: ExportTraceServiceRequest,
    request_bytes: u64,
) -> Result<(), PushError> {
    let message = PushTraces {
        tenant,
        span_count: span_count(&request),
        batches: request.resource_spans,
        request_bytes,
    };
    state
        .distributor
        .send(message)
        .await
        .map_err(|error| PushError::Unavailable(format!("distributor unavailable: {error}")))?
}

/// The gRPC OTLP trace service.
pub struct OtlpGrpc {
    state: Arc<IngestState>,
}

impl OtlpGrpc {
    pub fn new(state: Arc<IngestState>) -> Self {
        OtlpGrpc { state }
    }
}

#[tonic::async_trait]
impl TraceService for OtlpGrpc {
    async fn export(
        &self,
        request: Request<ExportTraceServiceRequest>,
    ) -> Result<tonic::Response<ExportTraceServiceResponse>, Status> {
        let org_id = request
            .metadata()
            .get(ORG_ID_HEADER)
            .and_then(|value| value.to_str().ok())
            .map(str::to_owned);
        let tenant = tenant_from_value(org_id.as_deref(), self.state.multitenancy_enabled)
            .map_err(|error| Status::unauthenticated(error.to_string()))?;
        let export = request.into_inner();
        let request_bytes = export.encoded_len() as u64;
        push(&self.state, tenant, export, request_bytes)
            .await
            .map_err(push_error_to_status)?;
        Ok(tonic::Response::new(ExportTraceServiceResponse::default()))
    }
}

/// `google.rpc.Status`, the error body of OTLP/HTTP.
#[derive(Clone, PartialEq, prost::Message, serde::Serialize)]
pub struct RpcStatus {
    #[prost(int32, tag = "1")]
    pub code: i32,
    #[prost(string, tag = "2")]
    pub message: String,
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum BodyFormat {
    Protobuf,
    Json,
}

impl BodyFormat {
    fn content_type(self) -> &'static str {
        match self {
            BodyFormat::Protobuf => "application/x-protobuf",
            BodyFormat::Json => "application/json",
        }
    }
}

fn body_format(headers: &HeaderMap) -> Option<BodyFormat> {
    let content_type = headers.get(header::CONTENT_TYPE)?.to_str().ok()?;
    let media_type = content_type.split(';').next()?.trim().to_ascii_lowercase();
    match media_type.as_str() {
        "application/x-protobuf" | "application/protobuf" => Some(BodyFormat::Protobuf),
        "application/json" => Some(BodyFormat::Json),
        _ => None,
    }
}

fn error_response(
    format: BodyFormat,
    status: StatusCode,
    grpc_code: tonic::Code,
    message: String,
) -> Response {
    let body = RpcStatus {
        code: grpc_code as i32,
        message,
    };
    let encoded = match format {
        BodyFormat::Protobuf => body.encode_to_vec(),
        BodyFormat::Json => serde_json::to_vec(&body).unwrap_or_default(),
    };
    (
        status,
        [(header::CONTENT_TYPE, format.content_type())],
        encoded,
    )
        .into_response()
}

/// 400 with `InvalidArgument`: the body could not be read.
fn invalid_body(format: BodyFormat, message: String) -> Response {
    error_response(
        format,
        StatusCode::BAD_REQUEST,
        tonic::Code::InvalidArgument,
        message,
    )
}

/// Inflates a gzip body, refusing more than `limit` bytes of output.
fn gunzip_limited(body: &[u8], limit: usize) -> Result<Vec<u8>, String> {
    let mut inflated = Vec::new();
    let decoder = flate2::read::GzDecoder::new(body);
    decoder
        .take(limit as u64 + 1)
        .read_to_end(&mut inflated)
        .map_err(|error| format!("invalid gzip body: {error}"))?;
    if inflated.len() > limit {
        return Err(format!(
            "decompressed request body exceeds the limit of {limit} bytes"
        ));
    }
    Ok(inflated)
}

fn decode_body(format: BodyFormat, body: &[u8]) -> Result<ExportTraceServiceRequest, String> {
    match format {
        BodyFormat::Protobuf => ExportTraceServiceRequest::decode(body)
            .map_err(|error| format!("failed to unmarshal request body as protobuf: {error}")),
        BodyFormat::Json => serde_json::from_slice(body)
            .map_err(|error| format!("failed to unmarshal request body as OTLP JSON: {error}")),
    }
}

async fn export_http(
    State(state): State<Arc<IngestState>>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let Some(format) = body_format(&headers) else {
        return (
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "415 unsupported media type, supported: [application/json, application/x-protobuf]",
        )
            .into_response();
    };
    let tenant = match tenant_from_headers(&headers, state.multitenancy_enabled) {
        Ok(tenant) => tenant,
        Err(error) => {
            return error_response(
                format,
                StatusCode::UNAUTHORIZED,
                tonic::Code::Unauthenticated,
                error.to_string(),
            );
        }
    };
    let encoding = headers
        .get(header::CONTENT_ENCODING)
        .and_then(|value| value.to_str().ok())
        .unwrap_or("")
        .trim()
        .to_ascii_lowercase();
    let inflated;
    let raw: &[u8] = match encoding.as_str() {
        "" | "identity" => &body,
        "gzip" => match gunzip_limited(&body, state.max_message_bytes) {
            Ok(bytes) => {
                inflated = bytes;
                &inflated
            }
            Err(message) => return invalid_body(format, message),
        },
        other => {
            let message = format!("unsupported content encoding {other:?}, supported: gzip");
            return error_response(
                format,
                StatusCode::UNSUPPORTED_MEDIA_TYPE,
                tonic::Code::InvalidArgument,
                message,
            );
        }
    };
    let request = match decode_body(format, raw) {
        Ok(request) => request,
        Err(message) => return invalid_body(format, message),
    };
    let request_bytes = raw.len() as u64;
    if let Err(error) = push(&state, tenant, request, request_bytes).await {
        let (status, code) = match &error {
            PushError::InvalidArgument(_) => {
                (StatusCode::BAD_REQUEST, tonic::Code::InvalidArgument)
            }
            PushError::ResourceExhausted(_) => (
                StatusCode::TOO_MANY_REQUESTS,
                tonic::Code::ResourceExhausted,
            ),
            PushError::Unavailable(_) => {
                (StatusCode::SERVICE_UNAVAILABLE, tonic::Code::Unavailable)
            }
            PushError::Internal(_) => (StatusCode::INTERNAL_SERVER_ERROR, tonic::Code::Internal),
        };
        return error_response(format, status, code, error.to_string());
    }
    let body = match format {
        BodyFormat::Protobuf => ExportTraceServiceResponse::default().encode_to_vec(),
        BodyFormat::Json => b"{}".to_vec(),
    };
    (
        StatusCode::OK,
        [(header::CONTENT_TYPE, format.content_type())],
        body,
    )
        .into_response()
}

/// The OTLP/HTTP router (`POST /v1/traces`).
pub fn otlp_http_router(state: Arc<IngestState>) -> Router {
    let limit = state.max_message_bytes;
    Router::new()
        .route("/v1/traces", post(export_http))
        .layer(DefaultBodyLimit::max(limit))
        .with_state(state)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;

    #[test]
    fn gzip_bombs_are_refused() {
        let mut encoder = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::best());
        encoder.write_all(&vec![0u8; 100_000]).expect("compress");
        let compressed = encoder.finish().expect("finish");
        assert!(gunzip_limited(&compressed, 1_000).is_err());
        assert_eq!(
            gunzip_limited(&compressed, 200_000).map(|bytes| bytes.len()),
            Ok(100_000)
        );
        assert!(gunzip_limited(b"not gzip", 1_000).is_err());
    }

    #[test]
    fn content_types() {
        let mut headers = HeaderMap::new();
        headers.insert(
            header::CONTENT_TYPE,
            "application/json; charset=utf-8".parse().expect("header"),
        );
        assert!(body_format(&headers) == Some(BodyFormat::Json));
        headers.insert(header::CONTENT_TYPE, "text/plain".parse().expect("header"));
        assert!(body_format(&headers).is_none());
    }

    #[test]
    fn otlp_json_decodes_hex_ids() {
        let body = br#"{"resourceSpans":[{"scopeSpans":[{"spans":[{"traceId":"5b8efff798038103d269b633813fc60c","spanId":"eee19b7ec3c1b174","name":"x","kind":2,"startTimeUnixNano":"1","endTimeUnixNano":"2","attributes":[{"key":"n","value":{"intValue":"7"}}]}]}]}]}"#;
        let request = decode_body(BodyFormat::Json, body).expect("decodes");
        let span = &request.resource_spans[0].scope_spans[0].spans[0];
        assert_eq!(span.trace_id.len(), 16);
        assert_eq!(span.span_id.len(), 8);
        assert!(decode_body(BodyFormat::Json, b"{not json").is_err());
        assert!(decode_body(BodyFormat::Protobuf, &[0xff, 0xff]).is_err());
    }
}
