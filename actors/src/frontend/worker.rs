//! Querier workers: loops that pull jobs from a frontend and run them, in process or over gRPC.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use tokio::sync::{mpsc, watch};
use tokio_stream::wrappers::ReceiverStream;
use vivace_proto::cluster::frontend_client::FrontendClient;
use vivace_proto::cluster::{JobResult, QuerierHello, QuerierMessage, querier_message};

use super::{FrontendJob, JobExecutor, SharedQueue, job_from_wire, result_to_wire};
use crate::remote::ChannelFactory;

/// Pulls jobs from this node's own frontend until the queue stops.
pub async fn run_local_worker(queue: SharedQueue<FrontendJob>, executor: Arc<dyn JobExecutor>) {
    while let Ok(leased) = queue.next().await {
        if leased.job.is_abandoned() {
            queue.complete(leased.id);
            continue;
        }
        let answer = executor.execute(leased.job.request.clone()).await;
        leased.job.reply(Ok(answer));
        queue.complete(leased.id);
    }
}

/// One stream to a remote frontend: answers jobs until the stream ends.
async fn process_stream(
    channels: &dyn ChannelFactory,
    address: &str,
    querier_id: &str,
    executor: &Arc<dyn JobExecutor>,
) -> Result<(), String> {
    let channel = channels.channel(address)?;
    let (sender, receiver) = mpsc::channel(2);
    let hello = QuerierMessage {
        kind: Some(querier_message::Kind::Hello(QuerierHello {
            querier_id: querier_id.to_owned(),
        })),
    };
    sender
        .send(hello)
        .await
        .map_err(|_| "stream closed".to_owned())?;
    let mut client = FrontendClient::new(channel)
        .max_decoding_message_size(usize::MAX)
        .max_encoding_message_size(usize::MAX);
    let mut jobs = client
        .process(ReceiverStream::new(receiver))
        .await
        .map_err(|status| status.message().to_owned())?
        .into_inner();
    while let Some(job) = jobs
        .message()
        .await
        .map_err(|status| status.message().to_owned())?
    {
        let job_id = job.job_id;
        let answer = match job_from_wire(job) {
            Ok((_, request)) => result_to_wire(job_id, &executor.execute(request).await),
            Err(error) => JobResult {
                job_id,
                error,
                ..JobResult::default()
            },
        };
        let message = QuerierMessage {
            kind: Some(querier_message::Kind::Result(answer)),
        };
        if sender.send(message).await.is_err() {
            return Ok(());
        }
    }
    Ok(())
}

/// Keeps one stream open to the frontend at `address` until `stop` turns true, reconnecting after
/// failures.
pub async fn run_remote_worker(
    channels: Arc<dyn ChannelFactory>,
    address: String,
    querier_id: String,
    executor: Arc<dyn JobExecutor>,
    mut stop: watch::Receiver<bool>,
) {
    loop {
        if *stop.borrow() {
            return;
        }
        tokio::select! {
            outcome = process_stream(channels.as_ref(), &address, &querier_id, &executor) => {
                if let Err(error) = outcome {
                    tracing::debug!(frontend = %address, %error, "frontend stream ended");
                }
            }
            _ = stop.changed() => return,
        }
        tokio::select! {
            _ = tokio::time::sleep(Duration::from_millis(500)) => {}
            _ = stop.changed() => return,
        }
    }
}

/// The remote frontends this querier serves, each with `parallelism` streams.
pub struct RemoteWorkers {
    channels: Arc<dyn ChannelFactory>,
    querier_id: String,
    executor: Arc<dyn JobExecutor>,
    parallelism: usize,
    running: BTreeMap<String, watch::Sender<bool>>,
}

impl RemoteWorkers {
    pub fn new(
        channels: Arc<dyn ChannelFactory>,
        querier_id: String,
        executor: Arc<dyn JobExecutor>,
        parallelism: usize,
    ) -> Self {
        RemoteWorkers {
            channels,
            querier_id,
            executor,
            parallelism: parallelism.max(1),
            running: BTreeMap::new(),
        }
    }

    /// Starts workers for new frontends and stops those of frontends that left.
    pub fn update(&mut self, frontends: impl IntoIterator<Item = String>) {
        let wanted: Vec<String> = frontends.into_iter().collect();
        self.running.retain(|address, stop| {
            let keep = wanted.contains(address);
            if !keep {
                let _ = stop.send(true);
                tracing::info!(frontend = %address, "stopped pulling jobs from frontend");
            }
            keep
        });
        for address in wanted {
            if self.running.contains_key(&address) {
                continue;
            }
            let (stop_sender, stop_receiver) = watch::channel(false);
            for _ in 0..self.parallelism {
                tokio::spawn(run_remote_worker(
                    Arc::clone(&self.channels),
                    address.clone(),
                    self.querier_id.clone(),
                    Arc::clone(&self.executor),
                    stop_receiver.clone(),
                ));
            }
            tracing::info!(frontend = %address, workers = self.parallelism, "pulling jobs from frontend");
            self.running.insert(address, stop_sender);
        }
    }
}

impl Drop for RemoteWorkers {
    fn drop(&mut self) {
        for stop in self.running.values() {
            let _ = stop.send(true);
        }
    }
}
