//! The network servers a node runs: the HTTP API, the OTLP receivers (distributors), and the gRPC
//! server carrying OTLP, the ingester service and the frontend's job stream as the roles require.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context as _;
use axum::serve::ListenerExt as _;
use tokio::sync::watch;
use tokio::task::JoinSet;
use tonic::codec::CompressionEncoding;
use vivace_actors::blocklist::BlockList;
use vivace_actors::frontend::Frontend;
use vivace_actors::frontend::service::FrontendService;
use vivace_actors::ingester::service::IngesterService;
use vivace_proto::cluster::frontend_server::FrontendServer;
use vivace_proto::cluster::ingester_server::IngesterServer;
use vivace_proto::otlp::collector::trace_service_server::TraceServiceServer;
use vivace_storage::backend::BlockStore;

use super::actors::Actors;
use crate::http::{ApiState, api_router};
use crate::ingest::{IngestState, OtlpGrpc, otlp_http_router};
use crate::settings::NodeSettings;

/// The running servers; each task ends with the server's outcome.
pub type Running = JoinSet<anyhow::Result<()>>;

pub struct ServerInputs<'a> {
    pub settings: Arc<NodeSettings>,
    pub api_state: Arc<ApiState>,
    pub actors: &'a Actors,
    pub frontend: Option<Arc<Frontend>>,
    pub stop: watch::Receiver<bool>,
}

async fn bind(address: SocketAddr, what: &str) -> anyhow::Result<tokio::net::TcpListener> {
    tokio::net::TcpListener::bind(address)
        .await
        .with_context(|| format!("failed to bind the {what} server to {address}"))
}

async fn stopped(mut stop: watch::Receiver<bool>) {
    let _ = stop.wait_for(|stopped| *stopped).await;
}

/// Accepted connections with Nagle's algorithm off: small gRPC answers (an export's empty reply)
/// must not wait for the peer's delayed ACK.
fn without_nagle(
    listener: tokio::net::TcpListener,
) -> impl futures::Stream<Item = std::io::Result<tokio::net::TcpStream>> {
    use futures::StreamExt as _;
    tokio_stream::wrappers::TcpListenerStream::new(listener).map(|accepted| {
        let mut stream = accepted?;
        disable_nagle(&mut stream);
        Ok(stream)
    })
}

fn disable_nagle(stream: &mut tokio::net::TcpStream) {
    if let Err(error) = stream.set_nodelay(true) {
        tracing::debug!(%error, "cannot disable nagle on a connection");
    }
}

/// Serves `router` on `listener` until `stop`.
fn spawn_http(
    running: &mut Running,
    listener: tokio::net::TcpListener,
    router: axum::Router,
    stop: &watch::Receiver<bool>,
    what: &'static str,
) {
    let stop = stopped(stop.clone());
    running.spawn(async move {
        axum::serve(listener.tap_io(disable_nagle), router)
            .with_graceful_shutdown(stop)
            .await
            .with_context(|| format!("{what} server failed"))
    });
}

/// Binds and starts every server of the node.
pub async fn start(inputs: ServerInputs<'_>) -> anyhow::Result<Running> {
    let settings = inputs.settings;
    let mut running = JoinSet::new();

    let api_listener = bind(settings.http_listen, "HTTP").await?;
    let api = api_router(inputs.api_state, &settings.http_api_prefix);
    spawn_http(&mut running, api_listener, api, &inputs.stop, "HTTP");

    let ingest_state = inputs.actors.distributor.clone().map(|distributor| {
        Arc::new(IngestState {
            distributor,
            multitenancy_enabled: settings.multitenancy_enabled,
            max_message_bytes: settings.max_message_bytes,
        })
    });
    let otlp_service = |state: &Arc<IngestState>| {
        TraceServiceServer::new(OtlpGrpc::new(Arc::clone(state)))
            .accept_compressed(CompressionEncoding::Gzip)
            .accept_compressed(CompressionEncoding::Zstd)
            .max_decoding_message_size(settings.max_message_bytes)
    };
    if let Some(state) = &ingest_state {
        if let Some(address) = settings.otlp_http_listen {
            let listener = bind(address, "OTLP HTTP").await?;
            let router = otlp_http_router(Arc::clone(state));
            spawn_http(&mut running, listener, router, &inputs.stop, "OTLP HTTP");
        }
        if let Some(address) = settings.otlp_grpc_listen {
            let listener = bind(address, "OTLP gRPC").await?;
            let router = tonic::transport::Server::builder().add_service(otlp_service(state));
            let stop = stopped(inputs.stop.clone());
            let incoming = without_nagle(listener);
            running.spawn(async move {
                router
                    .serve_with_incoming_shutdown(incoming, stop)
                    .await
                    .context("OTLP gRPC server failed")
            });
        }
    }

    let listener = bind(settings.grpc_listen, "gRPC").await?;
    let mut routes = tonic::service::RoutesBuilder::default();
    if let Some(state) = &ingest_state {
        routes.add_service(otlp_service(state));
    }
    if let Some(ingester) = &inputs.actors.ingester {
        routes.add_service(
            IngesterServer::new(IngesterService::new(ingester.clone()))
                .max_decoding_message_size(settings.max_message_bytes)
                .max_encoding_message_size(settings.max_message_bytes),
        );
    }
    if let Some(frontend) = &inputs.frontend {
        routes.add_service(
            FrontendServer::new(FrontendService::new(
                frontend.queue(),
                settings.cluster.frontend.query_timeout,
            ))
            .max_decoding_message_size(settings.max_message_bytes)
            .max_encoding_message_size(settings.max_message_bytes),
        );
    }
    let stop = stopped(inputs.stop.clone());
    let incoming = without_nagle(listener);
    running.spawn(async move {
        tonic::transport::Server::builder()
            .add_routes(routes.routes())
            .serve_with_incoming_shutdown(incoming, stop)
            .await
            .context("gRPC server failed")
    });
    Ok(running)
}

/// Re-lists the blocks in storage every `period`.
pub fn spawn_blocklist_poller(
    blocklist: Arc<BlockList>,
    store: Arc<dyn BlockStore>,
    period: Duration,
) {
    tokio::spawn(async move {
        let mut ticker = tokio::time::interval(period);
        ticker.tick().await;
        loop {
            ticker.tick().await;
            if let Err(error) = blocklist.poll(store.as_ref()).await {
                tracing::warn!(%error, "blocklist poll failed");
            }
        }
    });
}
