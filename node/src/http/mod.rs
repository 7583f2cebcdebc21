//! The HTTP API server (port 3200): Tempo's query routes, status and operational endpoints.

mod cluster;
mod status;
pub use status::TEMPO_API_VERSION;
pub mod search;
pub mod tags;
pub mod tenant;
pub mod traces;

use std::sync::Arc;
use std::sync::atomic::AtomicBool;

use actix::Addr;
use axum::Router;
use axum::routing::{get, post};
use tokio::sync::watch;
use tower_http::compression::CompressionLayer;
use vivace_actors::frontend::Frontend;
use vivace_actors::ingester::actor::IngesterActor;
use vivace_actors::querier::actor::QuerierActor;
use vivace_actors::seams::Clock;
use vivace_ring::cluster::Cluster;

use crate::telemetry::Telemetry;

/// Shared state of the API handlers.
pub struct ApiState {
    /// Trace-by-ID goes through the frontend when this node runs one...
    pub frontend: Option<Arc<Frontend>>,
    /// ...else straight to the querier.
    pub querier: Option<Addr<QuerierActor>>,
    pub ingester: Option<Addr<IngesterActor>>,
    pub cluster: Option<Cluster>,
    pub clock: Arc<dyn Clock>,
    pub instance_id: String,
    pub grpc_advertise: String,
    pub started_unix_nanos: u64,
    /// Set to true to start a graceful shutdown (`POST /shutdown`).
    pub shutdown: watch::Sender<bool>,
    /// Why the node is not ready yet.
    pub not_ready_reason: Arc<std::sync::Mutex<String>>,
    pub multitenancy_enabled: bool,
    pub max_bytes_per_trace: u64,
    pub ready: Arc<AtomicBool>,
    pub telemetry: Arc<Telemetry>,
    pub config_yaml: String,
}

/// Joins Tempo's optional `http_api_prefix` and a route.
fn prefixed(prefix: &str, route: &str) -> String {
    let trimmed = prefix.trim_end_matches('/');
    if trimmed.is_empty() {
        return route.to_owned();
    }
    if trimmed.starts_with('/') {
        format!("{trimmed}{route}")
    } else {
        format!("/{trimmed}{route}")
    }
}

/// The API router.
pub fn api_router(state: Arc<ApiState>, http_api_prefix: &str) -> Router {
    let api = Router::new()
        .route(&prefixed(http_api_prefix, "/api/echo"), get(status::echo))
        .route(
            &prefixed(http_api_prefix, "/api/status/buildinfo"),
            get(status::buildinfo),
        )
        .route(
            &prefixed(http_api_prefix, "/api/traces/{trace_id}"),
            get(traces::trace_by_id_v1),
        )
        .route(
            &prefixed(http_api_prefix, "/api/v2/traces/{trace_id}"),
            get(traces::trace_by_id_v2),
        )
        .route(
            &prefixed(http_api_prefix, "/api/search"),
            get(search::search),
        )
        .route(
            &prefixed(http_api_prefix, "/api/search/tags"),
            get(tags::tags_v1),
        )
        .route(
            &prefixed(http_api_prefix, "/api/v2/search/tags"),
            get(tags::tags_v2),
        )
        // `{tagName}` may hold `/`: the tail is matched whole and must end with `/values`.
        .route(
            &prefixed(http_api_prefix, "/api/search/tag/{*tail}"),
            get(tags::tag_values_v1_route),
        )
        .route(
            &prefixed(http_api_prefix, "/api/v2/search/tag/{*tail}"),
            get(tags::tag_values_v2_route),
        )
        .layer(CompressionLayer::new().gzip(true));
    let operations = Router::new()
        .route("/ready", get(status::ready))
        .route("/metrics", get(status::metrics))
        .route("/status/config", get(status::config))
        .route("/status/buildinfo", get(status::buildinfo))
        .route("/status/version", get(status::buildinfo))
        .route("/flush", get(status::flush).post(status::flush))
        .route("/ingester/flush", post(status::flush))
        .route("/shutdown", get(cluster::shutdown).post(cluster::shutdown))
        .route("/ingester/shutdown", post(cluster::shutdown))
        .route("/ingester/ring", get(cluster::ring))
        .route("/ring", get(cluster::ring))
        .route("/memberlist", get(cluster::memberlist));
    let telemetry = Arc::clone(&state.telemetry);
    api.merge(operations)
        .with_state(state)
        .layer(axum::middleware::from_fn_with_state(
            telemetry,
            crate::telemetry::observe_request,
        ))
}

#[cfg(test)]
mod tests {
    use super::prefixed;

    #[test]
    fn prefixes_are_joined() {
        assert_eq!(prefixed("", "/api/echo"), "/api/echo");
        assert_eq!(prefixed("/tempo/", "/api/echo"), "/tempo/api/echo");
        assert_eq!(prefixed("tempo", "/api/echo"), "/tempo/api/echo");
    }
}
