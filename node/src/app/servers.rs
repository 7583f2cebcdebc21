//! The network servers a node runs: the HTTP API, the OTLP receivers (distributors), and the gRPC
//! server carrying OTLP, the ingester service and the frontend's job stream as the roles require.

use std::convert::Infallible;
use std::net::SocketAddr;
use std::pin::pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;

use anyhow::Context as _;
use axum::http::{Request, Version, header};
use axum::serve::ListenerExt as _;
use hyper_util::rt::{TokioExecutor, TokioIo};
use hyper_util::server::conn::auto;
use hyper_util::service::TowerToHyperService;
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
use crate::config::QuerySettings;
use crate::http::{ApiState, api_router};
use crate::ingest::{IngestState, OtlpGrpc, otlp_http_router};
use crate::settings::NodeSettings;
use crate::streaming::StreamingService;

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

/// True for what Tempo's h2c wrapper hands to the gRPC server: HTTP/2 requests whose
/// content type contains `application/grpc`.
fn is_grpc<B>(request: &Request<B>) -> bool {
    request.version() == Version::HTTP_2
        && request
            .headers()
            .get(header::CONTENT_TYPE)
            .and_then(|value| value.to_str().ok())
            .is_some_and(|content_type| content_type.contains("application/grpc"))
}

/// The HTTP port with `stream_over_http_enabled`: gRPC requests go to `grpc` (the
/// `StreamingQuerier`), everything else to `http` (the API router).
#[derive(Clone)]
struct GrpcOrHttp {
    grpc: axum::Router,
    http: axum::Router,
}

impl<B> tower::Service<Request<B>> for GrpcOrHttp
where
    B: axum::body::HttpBody<Data = bytes::Bytes> + Send + 'static,
    B::Error: Into<axum::BoxError>,
{
    type Response = axum::response::Response;
    type Error = Infallible;
    type Future = axum::routing::future::RouteFuture<Infallible>;

    fn poll_ready(&mut self, _context: &mut Context<'_>) -> Poll<Result<(), Infallible>> {
        // Both routers are always ready.
        Poll::Ready(Ok(()))
    }

    fn call(&mut self, request: Request<B>) -> Self::Future {
        let router = if is_grpc(&request) {
            &mut self.grpc
        } else {
            &mut self.http
        };
        tower::Service::call(router, request)
    }
}

/// Accept errors that concern one connection only (axum::serve's rule): retry at once.
fn is_connection_error(error: &std::io::Error) -> bool {
    matches!(
        error.kind(),
        std::io::ErrorKind::ConnectionRefused
            | std::io::ErrorKind::ConnectionAborted
            | std::io::ErrorKind::ConnectionReset
    )
}

/// Serves one connection as HTTP/1 or HTTP/2 (prior knowledge, i.e. h2c), whichever the client
/// speaks; on `stop`, finishes in-flight requests and closes.
async fn serve_h2c_connection(
    stream: tokio::net::TcpStream,
    service: GrpcOrHttp,
    stop: watch::Receiver<bool>,
) {
    let mut builder = auto::Builder::new(TokioExecutor::new());
    // No limit on concurrent streams, as tonic's server. Naming `http2()` also makes the build
    // fail, rather than silently serve HTTP/1 only, should hyper-util lose its `http2` feature
    // (node/Cargo.toml does not ask for `server-auto`/`http2` itself: tonic's server does).
    builder.http2().max_concurrent_streams(None);
    let connection =
        builder.serve_connection(TokioIo::new(stream), TowerToHyperService::new(service));
    let mut connection = pin!(connection);
    let mut stopping = pin!(stopped(stop));
    tokio::select! {
        result = connection.as_mut() => {
            if let Err(error) = result {
                tracing::debug!(%error, "HTTP connection ended with an error");
            }
            return;
        }
        () = &mut stopping => connection.as_mut().graceful_shutdown(),
    }
    if let Err(error) = connection.await {
        tracing::debug!(%error, "HTTP connection ended with an error");
    }
}

/// Serves `service` on `listener` with h2c until `stop`, then waits for open connections.
fn spawn_h2c(
    running: &mut Running,
    listener: tokio::net::TcpListener,
    service: GrpcOrHttp,
    stop: &watch::Receiver<bool>,
) {
    let stop = stop.clone();
    running.spawn(async move {
        let mut connections = JoinSet::new();
        let mut stopping = pin!(stopped(stop.clone()));
        loop {
            tokio::select! {
                () = &mut stopping => break,
                accepted = listener.accept() => match accepted {
                    Ok((mut stream, _peer)) => {
                        disable_nagle(&mut stream);
                        connections.spawn(serve_h2c_connection(stream, service.clone(), stop.clone()));
                    }
                    Err(error) if is_connection_error(&error) => {}
                    Err(error) => {
                        tracing::warn!(%error, "HTTP server cannot accept connections");
                        tokio::time::sleep(Duration::from_secs(1)).await;
                    }
                },
                Some(_) = connections.join_next(), if !connections.is_empty() => {}
            }
        }
        drop(listener);
        while connections.join_next().await.is_some() {}
        Ok(())
    });
}

/// Binds and starts every server of the node.
pub async fn start(inputs: ServerInputs<'_>) -> anyhow::Result<Running> {
    let settings = inputs.settings;
    let mut running = JoinSet::new();
    let query_settings =
        QuerySettings::from_rendered_yaml(&settings.config_yaml).map_err(anyhow::Error::msg)?;
    let streaming = inputs
        .frontend
        .as_ref()
        .map(|frontend| StreamingService::new(Arc::clone(frontend), settings.multitenancy_enabled));

    let api_listener = bind(settings.http_listen, "HTTP").await?;
    let api = api_router(inputs.api_state, &settings.http_api_prefix);
    match (&streaming, query_settings.stream_over_http_enabled) {
        (Some(service), true) => {
            // Grafana dials gRPC at the data source's host:port, i.e. the HTTP port.
            let grpc = tonic::service::Routes::new(
                service.clone().into_server(settings.max_message_bytes),
            )
            .prepare()
            .into_axum_router();
            let service = GrpcOrHttp { grpc, http: api };
            spawn_h2c(&mut running, api_listener, service, &inputs.stop);
        }
        (None, true) => {
            tracing::warn!(
                "stream_over_http_enabled is set, but this node runs no query-frontend: \
                 the streaming gRPC API is not served"
            );
            spawn_http(&mut running, api_listener, api, &inputs.stop, "HTTP");
        }
        (_, false) => spawn_http(&mut running, api_listener, api, &inputs.stop, "HTTP"),
    }

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
    if let Some(service) = &streaming {
        routes.add_service(service.clone().into_server(settings.max_message_bytes));
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

#[cfg(test)]
mod tests {
    use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
    use vivace_proto::tempopb_search as pb;
    use vivace_proto::tempopb_search::streaming_querier_client::StreamingQuerierClient;

    use super::*;
    use crate::http::search::route_tests::api_state;
    use crate::streaming::tests::{FakeQuerier, frontend_with};

    #[test]
    fn only_http2_grpc_requests_are_grpc() {
        let request = |version: Version, content_type: &str| {
            Request::builder()
                .version(version)
                .header(header::CONTENT_TYPE, content_type)
                .body(())
                .expect("request")
        };
        assert!(is_grpc(&request(Version::HTTP_2, "application/grpc")));
        assert!(is_grpc(&request(Version::HTTP_2, "application/grpc+proto")));
        assert!(!is_grpc(&request(Version::HTTP_11, "application/grpc")));
        assert!(!is_grpc(&request(Version::HTTP_2, "application/json")));
        assert!(!is_grpc(
            &Request::builder()
                .version(Version::HTTP_2)
                .body(())
                .expect("request")
        ));
    }

    async fn http1_get(address: SocketAddr, path: &str) -> String {
        let mut stream = tokio::net::TcpStream::connect(address)
            .await
            .expect("connect");
        let request = format!("GET {path} HTTP/1.1\r\nHost: test\r\nConnection: close\r\n\r\n");
        stream.write_all(request.as_bytes()).await.expect("write");
        let mut answer = String::new();
        stream.read_to_string(&mut answer).await.expect("read");
        answer
    }

    /// With `stream_over_http_enabled`, one port speaks HTTP/1, and gRPC over h2c.
    #[tokio::test]
    async fn h2c_serves_grpc_and_http_on_one_port() {
        let frontend = frontend_with(Arc::new(FakeQuerier::default()));
        let http = api_router(api_state(Some(Arc::clone(&frontend)), false), "");
        let grpc = tonic::service::Routes::new(
            StreamingService::new(frontend, false).into_server(4 * 1024 * 1024),
        )
        .prepare()
        .into_axum_router();
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind");
        let address = listener.local_addr().expect("address");
        let (stop_sender, stop) = watch::channel(false);
        let mut running = JoinSet::new();
        spawn_h2c(&mut running, listener, GrpcOrHttp { grpc, http }, &stop);

        let echo = http1_get(address, "/api/echo").await;
        assert!(echo.starts_with("HTTP/1.1 200"), "{echo}");
        assert!(echo.ends_with("echo\n"), "{echo}");
        let search = http1_get(address, "/api/search?q=%7B%7D").await;
        assert!(search.starts_with("HTTP/1.1 200"), "{search}");
        assert!(search.contains("\"traceID\":\"abc\""), "{search}");

        let mut client = StreamingQuerierClient::connect(format!("http://{address}"))
            .await
            .expect("h2c connect");
        let mut stream = client
            .search(pb::SearchRequest {
                query: "{}".to_owned(),
                limit: 1,
                ..Default::default()
            })
            .await
            .expect("search")
            .into_inner();
        let mut last = None;
        while let Some(message) = stream.message().await.expect("message") {
            last = Some(message);
        }
        let last = last.expect("a final answer");
        assert_eq!(last.traces[0].trace_id, "abc");
        let invalid = client
            .search(pb::SearchRequest {
                query: "{ .a = ".to_owned(),
                ..Default::default()
            })
            .await
            .expect_err("bad TraceQL");
        assert_eq!(invalid.code(), tonic::Code::InvalidArgument);
        let tags = client
            .search_tags_v2(pb::SearchTagsRequest {
                scope: "intrinsic".to_owned(),
                ..Default::default()
            })
            .await
            .expect("tags")
            .into_inner()
            .message()
            .await
            .expect("message")
            .expect("one");
        assert_eq!(tags.scopes[0].tags.len(), 25);
        let unknown = client
            .search_tag_values(pb::SearchTagValuesRequest {
                tag_name: "status.code".to_owned(),
                ..Default::default()
            })
            .await
            .expect("values")
            .into_inner()
            .message()
            .await
            .expect("message")
            .expect("one");
        assert_eq!(unknown.tag_values, ["unset", "ok", "error"]);

        // Plain HTTP/2 (prior knowledge) on the same port goes to the API router.
        let h2 = hyper_util::client::legacy::Client::builder(TokioExecutor::new())
            .http2_only(true)
            .build_http::<http_body_util::Empty<bytes::Bytes>>();
        let response = h2
            .get(format!("http://{address}/api/echo").parse().expect("uri"))
            .await
            .expect("HTTP/2 request");
        assert_eq!(response.version(), Version::HTTP_2);
        assert_eq!(response.status(), axum::http::StatusCode::OK);
        let body = http_body_util::BodyExt::collect(response.into_body())
            .await
            .expect("body")
            .to_bytes();
        assert_eq!(body.as_ref(), b"echo\n");
        drop(h2);

        drop(client);
        stop_sender.send(true).expect("stop");
        let stopped = tokio::time::timeout(Duration::from_secs(10), running.join_next())
            .await
            .expect("stops in time")
            .expect("a task");
        assert!(matches!(stopped, Ok(Ok(()))));
    }
}
