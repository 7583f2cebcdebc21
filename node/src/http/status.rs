//! Status and operational endpoints: echo, build info, readiness, metrics, config, flush.

use std::sync::Arc;
use std::sync::atomic::Ordering;

use axum::extract::State;
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use vivace_actors::ingester::actor::FlushAll;

use super::ApiState;

/// The Tempo API level Vivace implements (Grafana enables features by this version).
pub const TEMPO_API_VERSION: &str = "2.10.0";

/// `GET /api/echo`: Grafana's data source test.
pub async fn echo() -> Response {
    (
        [(header::CONTENT_TYPE, "text/plain; charset=utf-8")],
        "echo\n",
    )
        .into_response()
}

/// `GET /api/status/buildinfo`.
pub async fn buildinfo() -> Response {
    let info = serde_json::json!({
        "version": TEMPO_API_VERSION,
        "revision": option_env!("VIVACE_GIT_REVISION").unwrap_or("unknown"),
        "branch": "main",
        "buildDate": "",
        "buildUser": "",
        "goVersion": "",
        "vivaceVersion": env!("CARGO_PKG_VERSION"),
    });
    (
        [(header::CONTENT_TYPE, "application/json")],
        info.to_string(),
    )
        .into_response()
}

/// `GET /ready`: 200 once the WAL is replayed and the servers are up.
pub async fn ready(State(state): State<Arc<ApiState>>) -> Response {
    if state.ready.load(Ordering::Acquire) {
        return (StatusCode::OK, "ready\n").into_response();
    }
    let reason = state
        .not_ready_reason
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
        .clone();
    (StatusCode::SERVICE_UNAVAILABLE, format!("{reason}\n")).into_response()
}

/// `GET /metrics` in the Prometheus text format.
pub async fn metrics(State(state): State<Arc<ApiState>>) -> Response {
    match state.telemetry.encode() {
        Ok(text) => (
            [(
                header::CONTENT_TYPE,
                "application/openmetrics-text; version=1.0.0; charset=utf-8",
            )],
            text,
        )
            .into_response(),
        Err(error) => (
            StatusCode::INTERNAL_SERVER_ERROR,
            format!("failed to encode metrics: {error}"),
        )
            .into_response(),
    }
}

/// `GET /status/config`: the running configuration as YAML.
pub async fn config(State(state): State<Arc<ApiState>>) -> Response {
    (
        [(header::CONTENT_TYPE, "text/plain; charset=utf-8")],
        state.config_yaml.clone(),
    )
        .into_response()
}

/// `POST /flush`: cuts every live trace and head block now and flushes them.
pub async fn flush(State(state): State<Arc<ApiState>>) -> Response {
    let Some(ingester) = &state.ingester else {
        return (StatusCode::NOT_FOUND, "no ingester in this process\n").into_response();
    };
    match ingester.send(FlushAll).await {
        Ok(()) => StatusCode::NO_CONTENT.into_response(),
        Err(error) => (
            StatusCode::SERVICE_UNAVAILABLE,
            format!("ingester unavailable: {error}"),
        )
            .into_response(),
    }
}
