//! Tempo's gRPC `tempopb.StreamingQuerier` (tempo-api.md §5) over the query-frontend: what
//! Grafana calls for streaming search and `tempo-cli --use-grpc` for search and tags.
//!
//! - `Search` streams diffs while jobs complete (traces changed since the last message plus the
//!   cumulative metrics, at most every 500 ms), then the final combined answer, then OK. Messages
//!   larger than [`SEGMENT_BYTES`] are split by traces, as Tempo's `GRPCSegment` does.
//! - The tag RPCs answer with one message.
//! - The tenant comes from the `x-scope-orgid` metadata (`single-tenant` when multitenancy is
//!   off); requests are validated like their HTTP forms, with the same texts; errors map to gRPC
//!   codes as Tempo's `erroredResponse` does (400→InvalidArgument, 404→NotFound,
//!   429→ResourceExhausted, 504→DeadlineExceeded, other 5xx→Internal).

use std::pin::Pin;
use std::sync::Arc;

use prost::Message;
use tokio::sync::mpsc;
use tokio_stream::wrappers::ReceiverStream;
use tonic::codec::CompressionEncoding;
use tonic::{Request, Response, Status};
use vivace_actors::frontend::Frontend;
use vivace_actors::search::SearchLimits;
use vivace_proto::tempopb_search as pb;
use vivace_proto::tempopb_search::streaming_querier_server::{
    StreamingQuerier, StreamingQuerierServer,
};

use crate::http::search::{QueryError, validate_wire_request};
use crate::http::tags::{
    TagNamesRequest, TagValuesRequest, tag_names_v1, tag_names_v2, tag_values_v1, tag_values_v2,
};
use crate::http::tenant::{ORG_ID_HEADER, tenant_from_value};

/// Largest search message sent in one piece (Tempo's `max_grpc_streaming_packet_size`).
pub const SEGMENT_BYTES: usize = 1024 * 1024;

/// A stream of answers.
type Answers<M> = Pin<Box<dyn futures::Stream<Item = Result<M, Status>> + Send + 'static>>;

/// The `StreamingQuerier` service of a node running the query-frontend.
#[derive(Clone)]
pub struct StreamingService {
    frontend: Arc<Frontend>,
    multitenancy_enabled: bool,
    limits: SearchLimits,
}

impl StreamingService {
    pub fn new(frontend: Arc<Frontend>, multitenancy_enabled: bool) -> Self {
        StreamingService {
            frontend,
            multitenancy_enabled,
            limits: SearchLimits::default(),
        }
    }

    /// The tonic server: gzip accepted and, when the client asks for it, used.
    pub fn into_server(self, max_message_bytes: usize) -> StreamingQuerierServer<Self> {
        StreamingQuerierServer::new(self)
            .accept_compressed(CompressionEncoding::Gzip)
            .send_compressed(CompressionEncoding::Gzip)
            .max_decoding_message_size(max_message_bytes)
    }

    fn tenant<T>(&self, request: &Request<T>) -> Result<String, Status> {
        let value = request
            .metadata()
            .get(ORG_ID_HEADER)
            .and_then(|value| value.to_str().ok());
        tenant_from_value(value, self.multitenancy_enabled)
            .map_err(|error| Status::invalid_argument(error.to_string()))
    }
}

/// The gRPC status of a failed query (Tempo's HTTP-status → code mapping).
pub fn status_of(error: &QueryError) -> Status {
    let message = error.message.clone();
    match error.status {
        400 => Status::invalid_argument(message),
        404 => Status::not_found(message),
        429 => Status::resource_exhausted(message),
        499 => Status::cancelled(message),
        504 => Status::deadline_exceeded(message),
        500..=599 => Status::internal(message),
        _ => Status::unknown(message),
    }
}

/// One message, then OK; or the error status.
fn single<M: Send + 'static>(
    answer: Result<M, QueryError>,
) -> Result<Response<Answers<M>>, Status> {
    let message = answer.map_err(|error| status_of(&error))?;
    Ok(Response::new(Box::pin(tokio_stream::once(Ok(message)))))
}

/// Splits a search answer into messages of at most `max_bytes` (a trace larger than that goes
/// alone); the metrics travel with the last one. Clients accumulate traces across messages.
pub fn segments(response: pb::SearchResponse, max_bytes: usize) -> Vec<pb::SearchResponse> {
    if response.encoded_len() <= max_bytes || response.traces.len() <= 1 {
        return vec![response];
    }
    let mut out: Vec<pb::SearchResponse> = Vec::new();
    let mut current = pb::SearchResponse::default();
    let mut current_bytes = 0;
    for trace in response.traces {
        // Field tag, length prefix and the message itself.
        let size = trace.encoded_len() + 6;
        if !current.traces.is_empty() && current_bytes + size > max_bytes {
            out.push(std::mem::take(&mut current));
            current_bytes = 0;
        }
        current_bytes += size;
        current.traces.push(trace);
    }
    current.metrics = response.metrics;
    out.push(current);
    out
}

type SearchSender = mpsc::Sender<Result<pb::SearchResponse, Status>>;

/// Sends an answer in segments; false when the client is gone.
async fn send_segments(sender: &SearchSender, response: pb::SearchResponse) -> bool {
    for segment in segments(response, SEGMENT_BYTES) {
        if sender.send(Ok(segment)).await.is_err() {
            return false;
        }
    }
    true
}

/// Runs a search and streams its diffs and final answer. Returns early (dropping the search,
/// which abandons its queued jobs) when the client goes away.
async fn stream_search(
    frontend: Arc<Frontend>,
    tenant: String,
    request: pb::SearchRequest,
    sender: SearchSender,
) {
    let (progress, mut diffs) = mpsc::unbounded_channel();
    let search = frontend.search(&tenant, request, Some(progress));
    tokio::pin!(search);
    let outcome = loop {
        tokio::select! {
            outcome = &mut search => break outcome,
            Some(diff) = diffs.recv() => {
                if !send_segments(&sender, diff).await {
                    return;
                }
            }
            () = sender.closed() => return,
        }
    };
    while let Ok(diff) = diffs.try_recv() {
        if !send_segments(&sender, diff).await {
            return;
        }
    }
    match outcome {
        Ok(answer) => {
            send_segments(&sender, answer).await;
        }
        Err(error) => {
            let _client_may_be_gone = sender.send(Err(status_of(&QueryError::from(error)))).await;
        }
    }
}

#[tonic::async_trait]
impl StreamingQuerier for StreamingService {
    type SearchStream = ReceiverStream<Result<pb::SearchResponse, Status>>;

    async fn search(
        &self,
        request: Request<pb::SearchRequest>,
    ) -> Result<Response<Self::SearchStream>, Status> {
        let tenant = self.tenant(&request)?;
        let wire = validate_wire_request(request.get_ref(), &self.limits)
            .map_err(Status::invalid_argument)?;
        let (sender, receiver) = mpsc::channel(8);
        tokio::spawn(stream_search(
            Arc::clone(&self.frontend),
            tenant,
            wire,
            sender,
        ));
        Ok(Response::new(ReceiverStream::new(receiver)))
    }

    type SearchTagsStream = Answers<pb::SearchTagsResponse>;

    async fn search_tags(
        &self,
        request: Request<pb::SearchTagsRequest>,
    ) -> Result<Response<Self::SearchTagsStream>, Status> {
        let tenant = self.tenant(&request)?;
        let names = names_request(request.into_inner());
        single(tag_names_v1(&self.frontend, &tenant, &names).await)
    }

    type SearchTagsV2Stream = Answers<pb::SearchTagsV2Response>;

    async fn search_tags_v2(
        &self,
        request: Request<pb::SearchTagsRequest>,
    ) -> Result<Response<Self::SearchTagsV2Stream>, Status> {
        let tenant = self.tenant(&request)?;
        let names = names_request(request.into_inner());
        single(tag_names_v2(&self.frontend, &tenant, &names).await)
    }

    type SearchTagValuesStream = Answers<pb::SearchTagValuesResponse>;

    async fn search_tag_values(
        &self,
        request: Request<pb::SearchTagValuesRequest>,
    ) -> Result<Response<Self::SearchTagValuesStream>, Status> {
        let tenant = self.tenant(&request)?;
        let values = values_request(request.into_inner());
        single(tag_values_v1(&self.frontend, &tenant, &values).await)
    }

    type SearchTagValuesV2Stream = Answers<pb::SearchTagValuesV2Response>;

    async fn search_tag_values_v2(
        &self,
        request: Request<pb::SearchTagValuesRequest>,
    ) -> Result<Response<Self::SearchTagValuesV2Stream>, Status> {
        let tenant = self.tenant(&request)?;
        let values = values_request(request.into_inner());
        single(tag_values_v2(&self.frontend, &tenant, &values).await)
    }
}

fn names_request(request: pb::SearchTagsRequest) -> TagNamesRequest {
    TagNamesRequest {
        scope: request.scope,
        query: request.query,
        start: request.start,
        end: request.end,
        limit: request.max_tags_per_scope,
    }
}

fn values_request(request: pb::SearchTagValuesRequest) -> TagValuesRequest {
    TagValuesRequest {
        tag: request.tag_name,
        query: request.query,
        start: request.start,
        end: request.end,
        limit: request.max_tag_values,
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use std::sync::Mutex;

    use futures::StreamExt as _;
    use tonic::Code;
    use vivace_actors::blocklist::BlockList;
    use vivace_actors::frontend::worker::run_local_worker;
    use vivace_actors::frontend::{
        FrontendError, FrontendSettings, JobAnswer, JobExecutor, JobRequest,
    };
    use vivace_proto::cluster::{ScopeTags, TagValue, TagsAnswer, TagsQuery};

    use super::*;

    /// Answers search jobs with one trace and tag jobs with fixed names and values; remembers
    /// the tag queries it saw.
    #[derive(Default)]
    pub(crate) struct FakeQuerier {
        pub tag_queries: Mutex<Vec<TagsQuery>>,
    }

    #[tonic::async_trait]
    impl JobExecutor for FakeQuerier {
        async fn execute(&self, request: JobRequest) -> JobAnswer {
            match request {
                JobRequest::Search(job) => {
                    if job.request.query.contains("fail") {
                        return JobAnswer::Search(Err("disk on fire".to_owned()));
                    }
                    JobAnswer::Search(Ok(pb::SearchResponse {
                        traces: vec![pb::TraceSearchMetadata {
                            trace_id: "abc".to_owned(),
                            root_service_name: "api".to_owned(),
                            start_time_unix_nano: 1_700_000_000_000_000_000,
                            ..Default::default()
                        }],
                        metrics: Some(pb::SearchMetrics {
                            inspected_traces: 1,
                            ..Default::default()
                        }),
                    }))
                }
                JobRequest::Tags(job) => {
                    self.tag_queries
                        .lock()
                        .expect("lock")
                        .push(job.query.clone());
                    let scopes = job
                        .query
                        .scopes
                        .iter()
                        .map(|scope| ScopeTags {
                            scope: scope.clone(),
                            names: vec![format!("{scope}.tag"), "shared".to_owned()],
                        })
                        .collect();
                    let values = if job.query.attribute.is_empty() {
                        Vec::new()
                    } else {
                        vec![
                            TagValue {
                                r#type: "int".to_owned(),
                                value: "200".to_owned(),
                            },
                            TagValue {
                                r#type: "string".to_owned(),
                                value: "200".to_owned(),
                            },
                            TagValue {
                                r#type: "string".to_owned(),
                                value: "api".to_owned(),
                            },
                        ]
                    };
                    JobAnswer::Tags(Ok(TagsAnswer {
                        scopes,
                        values,
                        inspected_bytes: 42,
                    }))
                }
                JobRequest::TraceById(_) => JobAnswer::Tags(Err("unexpected".to_owned())),
            }
        }
    }

    /// A frontend with one local worker running `executor`.
    pub(crate) fn frontend_with(executor: Arc<FakeQuerier>) -> Arc<Frontend> {
        let frontend = Arc::new(Frontend::new(
            Arc::new(BlockList::new()),
            FrontendSettings::default(),
        ));
        tokio::spawn(run_local_worker(
            frontend.queue(),
            executor as Arc<dyn JobExecutor>,
        ));
        frontend
    }

    fn service(multitenancy_enabled: bool) -> (StreamingService, Arc<FakeQuerier>) {
        let querier = Arc::new(FakeQuerier::default());
        let frontend = frontend_with(Arc::clone(&querier));
        (
            StreamingService::new(frontend, multitenancy_enabled),
            querier,
        )
    }

    #[test]
    fn errors_map_to_grpc_codes() {
        let code = |status: u16| {
            status_of(&QueryError {
                status,
                message: "m".to_owned(),
            })
            .code()
        };
        assert_eq!(code(400), Code::InvalidArgument);
        assert_eq!(code(404), Code::NotFound);
        assert_eq!(code(429), Code::ResourceExhausted);
        assert_eq!(code(499), Code::Cancelled);
        assert_eq!(code(500), Code::Internal);
        assert_eq!(code(503), Code::Internal);
        assert_eq!(code(504), Code::DeadlineExceeded);
        assert_eq!(code(418), Code::Unknown);
        let status = status_of(&QueryError::from(FrontendError::TooManyOutstanding));
        assert_eq!(status.code(), Code::ResourceExhausted);
        assert_eq!(status.message(), "too many outstanding requests");
    }

    #[test]
    fn large_answers_are_split_by_traces() {
        let trace = |index: usize| pb::TraceSearchMetadata {
            trace_id: format!("{index:032x}"),
            root_service_name: "x".repeat(100),
            ..Default::default()
        };
        let response = pb::SearchResponse {
            traces: (0..50).map(trace).collect(),
            metrics: Some(pb::SearchMetrics {
                inspected_traces: 50,
                ..Default::default()
            }),
        };
        let small = segments(response.clone(), SEGMENT_BYTES);
        assert_eq!(small, vec![response.clone()]);
        let parts = segments(response.clone(), 1_000);
        assert!(parts.len() > 1);
        assert!(parts.iter().all(|part| part.encoded_len() <= 1_000));
        assert!(
            parts[..parts.len() - 1]
                .iter()
                .all(|part| part.metrics.is_none())
        );
        assert_eq!(
            parts.last().and_then(|part| part.metrics.clone()),
            response.metrics
        );
        let rejoined: Vec<_> = parts.into_iter().flat_map(|part| part.traces).collect();
        assert_eq!(rejoined, response.traces);
    }

    #[tokio::test]
    async fn tenant_comes_from_metadata() {
        let (open, _) = service(false);
        assert_eq!(
            open.tenant(&Request::new(())).expect("single tenant"),
            "single-tenant"
        );
        let (strict, _) = service(true);
        let missing = strict.tenant(&Request::new(())).expect_err("missing");
        assert_eq!(
            (missing.code(), missing.message()),
            (Code::InvalidArgument, "no org id")
        );
        let mut request = Request::new(());
        request
            .metadata_mut()
            .insert("x-scope-orgid", "team-a".parse().expect("value"));
        assert_eq!(strict.tenant(&request).expect("given"), "team-a");
    }

    #[tokio::test]
    async fn search_streams_then_ends_with_the_final_answer() {
        let (service, _) = service(false);
        let response = service
            .search(Request::new(pb::SearchRequest {
                query: "{ }".to_owned(),
                ..Default::default()
            }))
            .await
            .expect("accepted");
        let messages: Vec<_> = response.into_inner().collect().await;
        let last = messages
            .last()
            .expect("a final message")
            .as_ref()
            .expect("ok");
        assert_eq!(last.traces.len(), 1);
        assert_eq!(last.traces[0].trace_id, "abc");
        assert!(last.metrics.is_some());
        assert!(messages.iter().all(Result::is_ok));
    }

    #[tokio::test]
    async fn search_errors_have_codes() {
        let (service, _) = service(false);
        let invalid = service
            .search(Request::new(pb::SearchRequest {
                query: "{ .a = ".to_owned(),
                ..Default::default()
            }))
            .await
            .expect_err("bad TraceQL");
        assert_eq!(invalid.code(), Code::InvalidArgument);
        assert!(invalid.message().starts_with("invalid TraceQL query: "));
        let too_many = service
            .search(Request::new(pb::SearchRequest {
                query: "{}".to_owned(),
                spans_per_span_set: 1_000,
                ..Default::default()
            }))
            .await
            .expect_err("spss");
        assert_eq!(
            too_many.message(),
            "spans per span set exceeds 100. received 1000"
        );
        let failing = service
            .search(Request::new(pb::SearchRequest {
                query: "{ .fail = 1 }".to_owned(),
                ..Default::default()
            }))
            .await
            .expect("accepted");
        let messages: Vec<_> = failing.into_inner().collect().await;
        let status = messages
            .last()
            .expect("an error")
            .as_ref()
            .expect_err("failed job");
        assert_eq!(status.code(), Code::Internal);
        assert_eq!(status.message(), "disk on fire");
    }

    #[tokio::test]
    async fn tag_rpcs_answer_once() {
        let (service, querier) = service(false);
        let v2 = service
            .search_tags_v2(Request::new(pb::SearchTagsRequest::default()))
            .await
            .expect("ok");
        let messages: Vec<_> = v2.into_inner().collect().await;
        assert_eq!(messages.len(), 1);
        let answer = messages[0].as_ref().expect("ok");
        let names: Vec<&str> = answer
            .scopes
            .iter()
            .map(|scope| scope.name.as_str())
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
        assert_eq!(answer.scopes[2].tags.len(), 25);
        assert_eq!(answer.scopes[0].tags, ["resource.tag", "shared"]);
        assert_eq!(
            answer
                .metrics
                .as_ref()
                .map(|metrics| metrics.inspected_bytes),
            Some(42)
        );
        let asked = querier.tag_queries.lock().expect("lock").clone();
        assert_eq!(
            asked[0].scopes,
            ["resource", "span", "event", "link", "instrumentation"]
        );

        let v1 = service
            .search_tags(Request::new(pb::SearchTagsRequest::default()))
            .await
            .expect("ok");
        let messages: Vec<_> = v1.into_inner().collect().await;
        assert_eq!(
            messages[0].as_ref().expect("ok").tag_names,
            ["resource.tag", "shared", "span.tag"]
        );

        let invalid = service
            .search_tags(Request::new(pb::SearchTagsRequest {
                scope: "bogus".to_owned(),
                ..Default::default()
            }))
            .await
            .err()
            .expect("invalid scope");
        assert_eq!(
            (invalid.code(), invalid.message()),
            (Code::InvalidArgument, "invalid scope: bogus")
        );

        let values = service
            .search_tag_values(Request::new(pb::SearchTagValuesRequest {
                tag_name: "http.status_code".to_owned(),
                max_tag_values: 10,
                ..Default::default()
            }))
            .await
            .expect("ok");
        let messages: Vec<_> = values.into_inner().collect().await;
        assert_eq!(messages[0].as_ref().expect("ok").tag_values, ["200", "api"]);
        let asked = querier.tag_queries.lock().expect("lock").clone();
        let last = asked.last().expect("asked");
        assert_eq!(
            (last.attribute.as_str(), last.limit),
            (".http.status_code", 10)
        );

        let typed = service
            .search_tag_values_v2(Request::new(pb::SearchTagValuesRequest {
                tag_name: "span.http.status_code".to_owned(),
                ..Default::default()
            }))
            .await
            .expect("ok");
        let messages: Vec<_> = typed.into_inner().collect().await;
        let kinds: Vec<&str> = messages[0]
            .as_ref()
            .expect("ok")
            .tag_values
            .iter()
            .map(|value| value.r#type.as_str())
            .collect();
        assert_eq!(kinds, ["int", "string", "string"]);

        let invalid = service
            .search_tag_values_v2(Request::new(pb::SearchTagValuesRequest {
                tag_name: "not an identifier".to_owned(),
                ..Default::default()
            }))
            .await
            .err()
            .expect("invalid tag");
        assert!(
            invalid
                .message()
                .starts_with("please provide a valid tagName: failed to parse identifier"),
            "{}",
            invalid.message()
        );
    }
}
