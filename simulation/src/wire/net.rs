//! The production gRPC stack on turmoil's simulated TCP: a [`ChannelFactory`] that dials through
//! turmoil, the listener stream tonic serves from, and the two host adapters the simulation adds
//! around production services (the ledger tap on the ingester service, and the OTLP receiver in
//! front of the distributor actor).

use std::collections::{BTreeMap, BTreeSet};
use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};
use std::time::Duration;

use actix::Addr;
use futures::Stream;
use hyper_util::rt::TokioIo;
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tonic::transport::Channel;
use tonic::transport::server::Connected;
use tonic::{Request, Response, Status};
use vivace_actors::distributor::actor::{DistributorActor, PushTraces};
use vivace_actors::ingester::service::IngesterService;
use vivace_actors::remote::{
    ChannelFactory, cluster_endpoint, fragments_from_wire, push_error_to_status,
};
use vivace_proto::cluster::ingester_server::Ingester as IngesterRpc;
use vivace_proto::cluster::{
    FindRecentRequest, FindRecentResponse, PushRequest, PushResponse, SearchRecentRequest,
    SearchRecentResponse, TagsRecentRequest, TagsRecentResponse,
};
use vivace_proto::otlp::collector::trace_service_server::TraceService;
use vivace_proto::otlp::collector::{ExportTraceServiceRequest, ExportTraceServiceResponse};

use crate::workload::{SpanId, TraceId};

/// The gRPC port of every simulated host.
pub const GRPC_PORT: u16 = 9095;

/// Dials `host:port` through turmoil's network.
pub struct SimChannels {
    pub connect_timeout: Duration,
    pub request_timeout: Duration,
}

impl ChannelFactory for SimChannels {
    fn channel(&self, address: &str) -> Result<Channel, String> {
        let endpoint = cluster_endpoint(address, self.connect_timeout, self.request_timeout)?;
        let target = address.to_owned();
        let connector = tower::service_fn(move |_uri: tonic::codegen::http::Uri| {
            let target = target.clone();
            async move {
                let stream = turmoil::net::TcpStream::connect(target.as_str()).await?;
                Ok::<_, std::io::Error>(TokioIo::new(stream))
            }
        });
        Ok(endpoint.connect_with_connector_lazy(connector))
    }
}

/// An accepted simulated connection, as tonic's server wants it.
pub struct SimStream(turmoil::net::TcpStream);

impl Connected for SimStream {
    type ConnectInfo = ();

    fn connect_info(&self) -> Self::ConnectInfo {}
}

impl AsyncRead for SimStream {
    fn poll_read(
        mut self: Pin<&mut Self>,
        context: &mut Context<'_>,
        buffer: &mut ReadBuf<'_>,
    ) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.0).poll_read(context, buffer)
    }
}

impl AsyncWrite for SimStream {
    fn poll_write(
        mut self: Pin<&mut Self>,
        context: &mut Context<'_>,
        buffer: &[u8],
    ) -> Poll<std::io::Result<usize>> {
        Pin::new(&mut self.0).poll_write(context, buffer)
    }

    fn poll_flush(
        mut self: Pin<&mut Self>,
        context: &mut Context<'_>,
    ) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.0).poll_flush(context)
    }

    fn poll_shutdown(
        mut self: Pin<&mut Self>,
        context: &mut Context<'_>,
    ) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.0).poll_shutdown(context)
    }
}

/// The connections accepted on this host's gRPC port.
pub async fn incoming() -> std::io::Result<impl Stream<Item = std::io::Result<SimStream>>> {
    let listener = turmoil::net::TcpListener::bind(("0.0.0.0", GRPC_PORT)).await?;
    Ok(futures::stream::unfold(listener, |listener| async move {
        let accepted = listener
            .accept()
            .await
            .map(|(stream, _peer)| SimStream(stream));
        Some((accepted, listener))
    }))
}

/// Which ingesters stored (in their WAL) which span: the quorum and durability invariants'
/// view of the cluster, kept outside every host so a crash does not erase it.
pub type Ledger = Mutex<BTreeMap<(TraceId, SpanId), BTreeSet<usize>>>;

/// The production ingester service, with a tap that records what it stored.
pub struct LedgerTap {
    pub inner: IngesterService,
    pub ingester: usize,
    pub ledger: Arc<Ledger>,
}

#[tonic::async_trait]
impl IngesterRpc for LedgerTap {
    async fn push(&self, request: Request<PushRequest>) -> Result<Response<PushResponse>, Status> {
        let fragments = fragments_from_wire(request.get_ref().fragments.clone())
            .map_err(Status::invalid_argument)?;
        let response = self.inner.push(request).await?;
        let mut ledger = self
            .ledger
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        for (fragment, outcome) in fragments.iter().zip(&response.get_ref().errors_by_trace) {
            if *outcome != 0 {
                continue;
            }
            let (spans, _) = crate::harness::span_ids(std::slice::from_ref(&fragment.trace));
            for span in spans {
                ledger
                    .entry((fragment.trace_id, span))
                    .or_default()
                    .insert(self.ingester);
            }
        }
        Ok(response)
    }

    async fn find_recent(
        &self,
        request: Request<FindRecentRequest>,
    ) -> Result<Response<FindRecentResponse>, Status> {
        self.inner.find_recent(request).await
    }

    async fn search_recent(
        &self,
        request: Request<SearchRecentRequest>,
    ) -> Result<Response<SearchRecentResponse>, Status> {
        self.inner.search_recent(request).await
    }

    async fn tags_recent(
        &self,
        request: Request<TagsRecentRequest>,
    ) -> Result<Response<TagsRecentResponse>, Status> {
        self.inner.tags_recent(request).await
    }
}

/// OTLP/gRPC export in front of the distributor actor (the node's receiver does the same, with
/// tenant headers and limits this simulation does not exercise).
pub struct OtlpReceiver {
    pub distributor: Addr<DistributorActor>,
    pub tenant: String,
}

#[tonic::async_trait]
impl TraceService for OtlpReceiver {
    async fn export(
        &self,
        request: Request<ExportTraceServiceRequest>,
    ) -> Result<Response<ExportTraceServiceResponse>, Status> {
        let export = request.into_inner();
        let span_count = export
            .resource_spans
            .iter()
            .flat_map(|resource| &resource.scope_spans)
            .map(|scope| scope.spans.len() as u64)
            .sum();
        self.distributor
            .send(PushTraces {
                tenant: self.tenant.clone(),
                batches: export.resource_spans,
                span_count,
                request_bytes: 0,
            })
            .await
            .map_err(|error| Status::unavailable(format!("distributor unavailable: {error}")))?
            .map_err(push_error_to_status)?;
        Ok(Response::new(ExportTraceServiceResponse::default()))
    }
}
