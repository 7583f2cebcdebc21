//! Ingesters of other nodes, reached over gRPC: pushes from the distributor and recent-data reads
//! from the querier. Channels come from a [`ChannelFactory`] (the network seam: TCP in production,
//! a simulated network in the simulation).

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use async_trait::async_trait;
use bytes::Bytes;
use tonic::transport::{Channel, Endpoint};
use vivace_proto::cluster::ingester_client::IngesterClient;
use vivace_proto::cluster::{self as wire, PushErrorReason};
use vivace_proto::ids::TraceId;
use vivace_ring::Member;

use crate::distributor::{PushTarget, TraceFragment};
use crate::error::{PushError, TracePushOutcome};
use crate::querier::RecentTraces;

/// Both directions of talking to one ingester.
pub trait IngesterLink: PushTarget + RecentTraces {}

impl<T: PushTarget + RecentTraces> IngesterLink for T {}

/// Finds the link to a ring member.
pub trait IngesterLinks: Send + Sync + 'static {
    fn link(&self, member: &Member) -> Option<Arc<dyn IngesterLink>>;
}

/// A fixed set of links by member id (monolithic mode and tests).
impl IngesterLinks for HashMap<String, Arc<dyn IngesterLink>> {
    fn link(&self, member: &Member) -> Option<Arc<dyn IngesterLink>> {
        self.get(&member.id).cloned()
    }
}

/// Opens gRPC channels to `host:port` addresses.
pub trait ChannelFactory: Send + Sync + 'static {
    fn channel(&self, address: &str) -> Result<Channel, String>;
}

/// TCP channels, connected on first use and reconnected after failures.
pub struct TcpChannels {
    pub connect_timeout: Duration,
    pub request_timeout: Duration,
}

/// HTTP/2 pings on every cluster connection, so one that stopped carrying data (a peer gone
/// without a reset, a partition that swallowed frames) is closed and redialled instead of holding
/// every later request until its timeout.
pub const KEEP_ALIVE_INTERVAL: Duration = Duration::from_secs(10);
pub const KEEP_ALIVE_TIMEOUT: Duration = Duration::from_secs(5);

/// The endpoint every cluster channel uses (whatever carries its bytes).
pub fn cluster_endpoint(
    address: &str,
    connect_timeout: Duration,
    request_timeout: Duration,
) -> Result<Endpoint, String> {
    Ok(Endpoint::from_shared(format!("http://{address}"))
        .map_err(|error| format!("invalid address {address}: {error}"))?
        .connect_timeout(connect_timeout)
        .timeout(request_timeout)
        .http2_keep_alive_interval(KEEP_ALIVE_INTERVAL)
        .keep_alive_timeout(KEEP_ALIVE_TIMEOUT)
        .keep_alive_while_idle(true))
}

impl ChannelFactory for TcpChannels {
    fn channel(&self, address: &str) -> Result<Channel, String> {
        let endpoint = cluster_endpoint(address, self.connect_timeout, self.request_timeout)?
            .tcp_nodelay(true);
        Ok(endpoint.connect_lazy())
    }
}

/// One remote ingester.
#[derive(Clone)]
pub struct RemoteIngester {
    address: String,
    client: IngesterClient<Channel>,
}

impl RemoteIngester {
    pub fn new(address: String, channel: Channel, max_message_bytes: usize) -> Self {
        let client = IngesterClient::new(channel)
            .max_decoding_message_size(max_message_bytes)
            .max_encoding_message_size(max_message_bytes);
        RemoteIngester { address, client }
    }
}

/// Converts fragments to their wire form.
pub fn fragments_to_wire(fragments: Vec<TraceFragment>) -> Vec<wire::TraceFragment> {
    fragments
        .into_iter()
        .map(|fragment| wire::TraceFragment {
            trace_id: Bytes::copy_from_slice(&fragment.trace_id),
            trace: fragment.trace,
            start_seconds: fragment.start_seconds,
            end_seconds: fragment.end_seconds,
            span_count: fragment.span_count,
        })
        .collect()
}

/// Converts wire fragments back, refusing malformed trace ids.
pub fn fragments_from_wire(
    fragments: Vec<wire::TraceFragment>,
) -> Result<Vec<TraceFragment>, String> {
    fragments
        .into_iter()
        .map(|fragment| {
            let trace_id: TraceId = fragment.trace_id.as_ref().try_into().map_err(|_| {
                format!("trace id must be 16 bytes, got {}", fragment.trace_id.len())
            })?;
            Ok(TraceFragment {
                trace_id,
                trace: fragment.trace,
                start_seconds: fragment.start_seconds,
                end_seconds: fragment.end_seconds,
                span_count: fragment.span_count,
            })
        })
        .collect()
}

/// Per-trace outcomes as Tempo's `PushErrorReason`s.
pub fn outcomes_to_wire(outcomes: &[TracePushOutcome]) -> Vec<i32> {
    outcomes
        .iter()
        .map(|outcome| match outcome {
            TracePushOutcome::Accepted => PushErrorReason::NoError as i32,
            TracePushOutcome::MaxLiveTraces => PushErrorReason::MaxLiveTraces as i32,
            TracePushOutcome::TraceTooLarge => PushErrorReason::TraceTooLarge as i32,
        })
        .collect()
}

/// A push error as a gRPC status.
pub fn push_error_to_status(error: PushError) -> tonic::Status {
    match error {
        PushError::InvalidArgument(message) => tonic::Status::invalid_argument(message),
        PushError::ResourceExhausted(message) => tonic::Status::resource_exhausted(message),
        PushError::Unavailable(message) => tonic::Status::unavailable(message),
        PushError::Internal(message) => tonic::Status::internal(message),
    }
}

fn status_to_push_error(address: &str, status: tonic::Status) -> PushError {
    let message = format!("ingester {address}: {}", status.message());
    match status.code() {
        tonic::Code::InvalidArgument => PushError::InvalidArgument(message),
        tonic::Code::ResourceExhausted => PushError::ResourceExhausted(message),
        tonic::Code::Internal => PushError::Internal(message),
        _ => PushError::Unavailable(message),
    }
}

#[async_trait]
impl PushTarget for RemoteIngester {
    async fn push(
        &self,
        tenant: String,
        fragments: Vec<TraceFragment>,
    ) -> Result<Vec<TracePushOutcome>, PushError> {
        let expected = fragments.len();
        let request = wire::PushRequest {
            tenant,
            fragments: fragments_to_wire(fragments),
        };
        let mut client = self.client.clone();
        let response = client
            .push(request)
            .await
            .map_err(|status| status_to_push_error(&self.address, status))?
            .into_inner();
        if response.errors_by_trace.len() != expected {
            return Err(PushError::Internal(format!(
                "ingester {} answered {} outcomes for {expected} traces",
                self.address,
                response.errors_by_trace.len()
            )));
        }
        let outcomes = response
            .errors_by_trace
            .into_iter()
            .map(|reason| match PushErrorReason::try_from(reason) {
                Ok(PushErrorReason::NoError) => Ok(TracePushOutcome::Accepted),
                Ok(PushErrorReason::MaxLiveTraces) => Ok(TracePushOutcome::MaxLiveTraces),
                Ok(PushErrorReason::TraceTooLarge) => Ok(TracePushOutcome::TraceTooLarge),
                _ => Err(PushError::Internal(format!(
                    "ingester {} failed a trace (reason {reason})",
                    self.address
                ))),
            })
            .collect::<Result<Vec<_>, PushError>>()?;
        Ok(outcomes)
    }
}

#[async_trait]
impl RecentTraces for RemoteIngester {
    async fn find_recent(&self, tenant: &str, trace_id: &TraceId) -> Result<Vec<Bytes>, String> {
        let request = wire::FindRecentRequest {
            tenant: tenant.to_owned(),
            trace_id: Bytes::copy_from_slice(trace_id),
        };
        let mut client = self.client.clone();
        let response = client
            .find_recent(request)
            .await
            .map_err(|status| format!("ingester {}: {}", self.address, status.message()))?;
        Ok(response.into_inner().fragments)
    }

    async fn search_recent(
        &self,
        tenant: &str,
        request: &vivace_proto::tempopb_search::SearchRequest,
    ) -> Result<vivace_proto::tempopb_search::SearchResponse, String> {
        use prost::Message as _;
        let wire_request = wire::SearchRecentRequest {
            tenant: tenant.to_owned(),
            request: Bytes::from(request.encode_to_vec()),
        };
        let mut client = self.client.clone();
        let response = client
            .search_recent(wire_request)
            .await
            .map_err(|status| format!("ingester {}: {}", self.address, status.message()))?;
        vivace_proto::tempopb_search::SearchResponse::decode(response.into_inner().response)
            .map_err(|error| {
                format!(
                    "ingester {}: undecodable search answer: {error}",
                    self.address
                )
            })
    }

    async fn tags_recent(
        &self,
        tenant: &str,
        query: &vivace_proto::cluster::TagsQuery,
    ) -> Result<vivace_proto::cluster::TagsAnswer, String> {
        use prost::Message as _;
        let wire_request = wire::TagsRecentRequest {
            tenant: tenant.to_owned(),
            query: Bytes::from(query.encode_to_vec()),
        };
        let mut client = self.client.clone();
        let response = client
            .tags_recent(wire_request)
            .await
            .map_err(|status| format!("ingester {}: {}", self.address, status.message()))?;
        vivace_proto::cluster::TagsAnswer::decode(response.into_inner().answer).map_err(|error| {
            format!(
                "ingester {}: undecodable tags answer: {error}",
                self.address
            )
        })
    }
}

/// Links to the ingesters of a cluster: this node's own ingester in process, the others over gRPC
/// (one lazily connected channel per address, kept across ring changes).
pub struct IngesterPool {
    local: Option<(String, Arc<dyn IngesterLink>)>,
    channels: Arc<dyn ChannelFactory>,
    max_message_bytes: usize,
    remotes: Mutex<HashMap<String, Arc<RemoteIngester>>>,
}

impl IngesterPool {
    /// `local` is this node's (member id, link) when it runs an ingester.
    pub fn new(
        local: Option<(String, Arc<dyn IngesterLink>)>,
        channels: Arc<dyn ChannelFactory>,
        max_message_bytes: usize,
    ) -> Self {
        IngesterPool {
            local,
            channels,
            max_message_bytes,
            remotes: Mutex::new(HashMap::new()),
        }
    }
}

impl IngesterLinks for IngesterPool {
    fn link(&self, member: &Member) -> Option<Arc<dyn IngesterLink>> {
        if let Some((local_id, link)) = &self.local
            && *local_id == member.id
        {
            return Some(Arc::clone(link));
        }
        let mut remotes = self
            .remotes
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        if let Some(remote) = remotes.get(&member.grpc_address) {
            return Some(Arc::clone(remote) as Arc<dyn IngesterLink>);
        }
        let channel = match self.channels.channel(&member.grpc_address) {
            Ok(channel) => channel,
            Err(error) => {
                tracing::warn!(member = %member.id, %error, "cannot reach ingester");
                return None;
            }
        };
        let remote = Arc::new(RemoteIngester::new(
            member.grpc_address.clone(),
            channel,
            self.max_message_bytes,
        ));
        remotes.insert(member.grpc_address.clone(), Arc::clone(&remote));
        Some(remote as Arc<dyn IngesterLink>)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fragment(id: u8) -> TraceFragment {
        TraceFragment {
            trace_id: [id; 16],
            trace: Bytes::from_static(b"trace"),
            start_seconds: 1,
            end_seconds: 2,
            span_count: 3,
        }
    }

    #[test]
    fn fragments_round_trip_and_bad_ids_are_refused() {
        let back = fragments_from_wire(fragments_to_wire(vec![fragment(1), fragment(2)]))
            .expect("decodes");
        assert_eq!(back.len(), 2);
        assert_eq!(back[1].trace_id, [2; 16]);
        assert_eq!((back[0].start_seconds, back[0].span_count), (1, 3));
        let mut short = fragments_to_wire(vec![fragment(3)]);
        short[0].trace_id = Bytes::from_static(b"short");
        let error = fragments_from_wire(short).expect_err("refused");
        assert!(error.contains("16 bytes, got 5"), "{error}");
    }

    #[test]
    fn errors_keep_their_kind_across_the_wire() {
        let cases = [
            PushError::InvalidArgument("bad".into()),
            PushError::ResourceExhausted("full".into()),
            PushError::Unavailable("down".into()),
            PushError::Internal("wal".into()),
        ];
        for error in cases {
            let back = status_to_push_error("peer", push_error_to_status(error.clone()));
            assert_eq!(
                std::mem::discriminant(&back),
                std::mem::discriminant(&error),
                "{error:?} came back as {back:?}"
            );
        }
        let reasons = outcomes_to_wire(&[
            TracePushOutcome::Accepted,
            TracePushOutcome::MaxLiveTraces,
            TracePushOutcome::TraceTooLarge,
        ]);
        assert_eq!(
            reasons,
            vec![
                PushErrorReason::NoError as i32,
                PushErrorReason::MaxLiveTraces as i32,
                PushErrorReason::TraceTooLarge as i32
            ]
        );
    }

    #[tokio::test]
    async fn a_dead_peer_is_unavailable_not_an_error_of_the_data() {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
        let address = listener.local_addr().expect("address").to_string();
        drop(listener);
        let channels = TcpChannels {
            connect_timeout: Duration::from_secs(1),
            request_timeout: Duration::from_secs(2),
        };
        let remote = RemoteIngester::new(
            address.clone(),
            channels.channel(&address).expect("channel"),
            1 << 20,
        );
        let error = remote
            .push("t".into(), vec![fragment(4)])
            .await
            .expect_err("nobody listens");
        assert!(matches!(error, PushError::Unavailable(_)), "{error:?}");
        let read = remote.find_recent("t", &[4; 16]).await;
        assert!(read.is_err());
    }
}
