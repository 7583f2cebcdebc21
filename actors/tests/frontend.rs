//! The frontend ↔ querier job stream over real gRPC on loopback: a querier that takes a job and
//! dies has its job retried by another querier; past the retry limit the query reports the loss.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use async_trait::async_trait;
use tokio::sync::{mpsc, watch};
use tokio_stream::wrappers::{ReceiverStream, TcpListenerStream};
use vivace_actors::blocklist::BlockList;
use vivace_actors::frontend::service::FrontendService;
use vivace_actors::frontend::worker::run_remote_worker;
use vivace_actors::frontend::{Frontend, FrontendSettings, JobAnswer, JobExecutor, JobRequest};
use vivace_actors::querier::{FindMode, FindRequest, FindResult};
use vivace_actors::remote::{ChannelFactory, TcpChannels};
use vivace_proto::cluster::frontend_client::FrontendClient;
use vivace_proto::cluster::frontend_server::FrontendServer;
use vivace_proto::cluster::{QuerierHello, QuerierMessage, querier_message};

/// A querier that answers every job with a fixed span count and counts its jobs.
struct CountingQuerier {
    jobs: AtomicUsize,
}

#[async_trait]
impl JobExecutor for CountingQuerier {
    async fn execute(&self, request: JobRequest) -> JobAnswer {
        self.jobs.fetch_add(1, Ordering::SeqCst);
        let JobRequest::TraceById(request) = request else {
            panic!("only trace-by-id jobs are sent in this test");
        };
        assert_eq!(request.mode, FindMode::Ingesters);
        JobAnswer::TraceById(FindResult {
            inspected_bytes: 42,
            ..FindResult::default()
        })
    }
}

async fn serve(frontend: &Frontend) -> String {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let address = listener.local_addr().expect("address").to_string();
    let service = FrontendServer::new(FrontendService::new(
        frontend.queue(),
        Duration::from_secs(10),
    ));
    tokio::spawn(async move {
        tonic::transport::Server::builder()
            .add_service(service)
            .serve_with_incoming(TcpListenerStream::new(listener))
            .await
    });
    address
}

fn channels() -> Arc<dyn ChannelFactory> {
    Arc::new(TcpChannels {
        connect_timeout: Duration::from_secs(1),
        request_timeout: Duration::from_secs(30),
    })
}

/// Connects as a querier, takes one job and disconnects without answering.
async fn take_one_job_and_die(address: &str) {
    let channel = channels().channel(address).expect("channel");
    let (sender, receiver) = mpsc::channel(1);
    sender
        .send(QuerierMessage {
            kind: Some(querier_message::Kind::Hello(QuerierHello {
                querier_id: "doomed".into(),
            })),
        })
        .await
        .expect("hello");
    let mut jobs = FrontendClient::new(channel)
        .process(ReceiverStream::new(receiver))
        .await
        .expect("process")
        .into_inner();
    let job = jobs.message().await.expect("stream").expect("a job");
    assert!(job.job_id > 0);
    drop(jobs);
    drop(sender);
}

fn request() -> FindRequest {
    FindRequest {
        tenant: "tenant-a".into(),
        trace_id: [9; 16],
        mode: FindMode::Ingesters,
        start_seconds: None,
        end_seconds: None,
        block_range: None,
    }
}

#[tokio::test]
async fn a_job_lost_by_a_dying_querier_is_answered_by_another() {
    let frontend = Arc::new(Frontend::new(
        Arc::new(BlockList::new()),
        FrontendSettings::default(),
    ));
    let address = serve(&frontend).await;
    let query = {
        let frontend = Arc::clone(&frontend);
        tokio::spawn(async move { frontend.find_trace_by_id(request()).await })
    };
    take_one_job_and_die(&address).await;

    let querier = Arc::new(CountingQuerier {
        jobs: AtomicUsize::new(0),
    });
    let (stop_sender, stop_receiver) = watch::channel(false);
    tokio::spawn(run_remote_worker(
        channels(),
        address,
        "survivor".into(),
        querier.clone(),
        stop_receiver,
    ));
    let answer = tokio::time::timeout(Duration::from_secs(20), query)
        .await
        .expect("answered in time")
        .expect("query task")
        .expect("query succeeded");
    assert!(
        answer.failed_blocks.is_empty(),
        "{:?}",
        answer.failed_blocks
    );
    assert_eq!(answer.inspected_bytes, 42, "the survivor answered");
    assert_eq!(querier.jobs.load(Ordering::SeqCst), 1);
    let _ = stop_sender.send(true);
}

#[tokio::test]
async fn past_the_retry_limit_the_loss_is_reported() {
    let frontend = Arc::new(Frontend::new(
        Arc::new(BlockList::new()),
        FrontendSettings {
            max_retries: 0,
            ..FrontendSettings::default()
        },
    ));
    let address = serve(&frontend).await;
    let query = {
        let frontend = Arc::clone(&frontend);
        tokio::spawn(async move { frontend.find_trace_by_id(request()).await })
    };
    take_one_job_and_die(&address).await;
    let answer = tokio::time::timeout(Duration::from_secs(20), query)
        .await
        .expect("answered in time")
        .expect("query task")
        .expect("query answered");
    assert_eq!(answer.failed_blocks.len(), 1);
    assert!(
        answer.failed_blocks[0].contains("querier disconnected"),
        "{:?}",
        answer.failed_blocks
    );
}
