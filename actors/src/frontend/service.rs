//! The frontend's end of `Frontend.Process`: each stream is one querier slot. The frontend sends a
//! job, waits for its answer, and sends the next. A querier that disconnects or stops answering
//! has its job put back in the queue for another querier (up to the retry limit).

use std::time::Duration;

use tokio::sync::mpsc;
use tokio_stream::wrappers::ReceiverStream;
use tonic::{Request, Response, Status, Streaming};
use vivace_proto::cluster::frontend_server::Frontend as FrontendRpc;
use vivace_proto::cluster::{Job, QuerierMessage, querier_message};

use super::{FrontendJob, Leased, SharedQueue, job_to_wire, result_from_wire};

/// The gRPC service.
pub struct FrontendService {
    queue: SharedQueue<FrontendJob>,
    job_timeout: Duration,
}

impl FrontendService {
    pub fn new(queue: SharedQueue<FrontendJob>, job_timeout: Duration) -> Self {
        FrontendService { queue, job_timeout }
    }
}

#[tonic::async_trait]
impl FrontendRpc for FrontendService {
    type ProcessStream = ReceiverStream<Result<Job, Status>>;

    async fn process(
        &self,
        request: Request<Streaming<QuerierMessage>>,
    ) -> Result<Response<Self::ProcessStream>, Status> {
        let mut inbound = request.into_inner();
        let querier_id = match inbound.message().await? {
            Some(QuerierMessage {
                kind: Some(querier_message::Kind::Hello(hello)),
            }) => hello.querier_id,
            _ => {
                return Err(Status::invalid_argument(
                    "the first message of Process must be a hello",
                ));
            }
        };
        let (sender, receiver) = mpsc::channel(1);
        tokio::spawn(serve_querier(
            self.queue.clone(),
            inbound,
            sender,
            self.job_timeout,
            querier_id,
        ));
        Ok(Response::new(ReceiverStream::new(receiver)))
    }
}

/// Puts a job back after its querier failed; gives up with an error after the retry limit.
fn requeue(queue: &SharedQueue<FrontendJob>, leased: Leased<FrontendJob>, reason: &str) {
    tracing::warn!(
        job = leased.id,
        attempt = leased.attempt,
        reason,
        "querier lost a job; retrying"
    );
    if let Err(error) = queue.retry(leased.id) {
        leased.job.reply(Err(format!("{error}: {reason}")));
    }
}

async fn serve_querier(
    queue: SharedQueue<FrontendJob>,
    mut inbound: Streaming<QuerierMessage>,
    sender: mpsc::Sender<Result<Job, Status>>,
    job_timeout: Duration,
    querier_id: String,
) {
    tracing::debug!(querier = %querier_id, "querier connected");
    loop {
        let leased = tokio::select! {
            leased = queue.next() => match leased {
                Ok(leased) => leased,
                Err(_) => return,
            },
            _ = sender.closed() => return,
            idle_message = inbound.message() => match idle_message {
                Ok(Some(_)) => continue,
                Ok(None) | Err(_) => return,
            },
        };
        if leased.job.is_abandoned() {
            queue.complete(leased.id);
            continue;
        }
        let job = job_to_wire(leased.id, &leased.job.request);
        if sender.send(Ok(job)).await.is_err() {
            requeue(&queue, leased, "querier disconnected");
            return;
        }
        let answer = tokio::time::timeout(job_timeout, inbound.message()).await;
        match answer {
            Ok(Ok(Some(QuerierMessage {
                kind: Some(querier_message::Kind::Result(result)),
            }))) if result.job_id == leased.id => {
                leased
                    .job
                    .reply(result_from_wire(result, &leased.job.request));
                queue.complete(leased.id);
            }
            Ok(Ok(Some(_))) => {
                requeue(&queue, leased, "querier answered another job");
                return;
            }
            Ok(Ok(None)) | Ok(Err(_)) => {
                requeue(&queue, leased, "querier disconnected");
                return;
            }
            Err(_) => {
                requeue(&queue, leased, "querier timed out");
                return;
            }
        }
    }
}
