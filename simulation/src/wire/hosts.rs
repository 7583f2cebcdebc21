//! The simulated processes. Each host runs the production actors and gRPC services on its own
//! turmoil runtime; a crash drops the runtime (actors, connections, memory), and a restart runs
//! the host function again: an ingester then replays whatever its WAL disk kept.

use std::future::Future;
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, RwLock};
use std::time::Duration;

use actix::Actor;
use tonic::transport::Server;
use vivace_actors::blocklist::BlockList;
use vivace_actors::distributor::ReplicatedPush;
use vivace_actors::distributor::actor::DistributorActor;
use vivace_actors::distributor::{Distributor, DistributorSettings, RateLimit, RateStrategy};
use vivace_actors::frontend::worker::run_remote_worker;
use vivace_actors::ingester::actor::IngesterActor;
use vivace_actors::ingester::service::IngesterService;
use vivace_actors::ingester::wal_record::WalRecord;
use vivace_actors::ingester::{CutSettings, Ingester, TenantLimits};
use vivace_actors::metrics::{ComponentMetrics, ReplicationMetrics};
use vivace_actors::querier::actor::QuerierActor;
use vivace_actors::querier::{Querier, RingRecentTraces};
use vivace_actors::remote::{ChannelFactory, IngesterLinks, IngesterPool};
use vivace_actors::seams::{Clock, InlinePool, SeededIds};
use vivace_cache::NoCache;
use vivace_proto::cluster::ingester_server::IngesterServer;
use vivace_proto::otlp::collector::trace_service_server::TraceServiceServer;
use vivace_ring::Ring;
use vivace_storage::backend::BlockStore;
use vivace_storage::block::BlockConfig;
use vivace_storage::wal::{MemWalDisk, Wal, WalConfig, WalExecution};

use super::net::{GRPC_PORT, Ledger, LedgerTap, OtlpReceiver, SimChannels, incoming};
use crate::log::EventLog;

pub const TENANT: &str = "sim";
/// How often a host checks that its WAL still takes writes (the node's fail-stop watchdog).
const WAL_WATCHDOG_PERIOD: Duration = Duration::from_millis(500);

/// A host's software: called again on every restart.
pub type Software = Box<dyn Fn() -> Pin<Box<dyn Future<Output = turmoil::Result>>>>;

/// What every host shares: the things that outlive processes (object store, the block list the
/// queriers poll, the ring the failure detector maintains) and the harness's records.
pub struct Shared {
    pub ring: Arc<RwLock<Ring>>,
    pub store: Arc<dyn BlockStore>,
    pub blocklist: Arc<BlockList>,
    pub ledger: Arc<Ledger>,
    pub log: Arc<EventLog>,
}

/// Wall time as the simulation sees it: turmoil's clock.
#[derive(Debug, Clone, Copy)]
pub struct SimClock;

impl Clock for SimClock {
    fn now_unix_nanos(&self) -> u64 {
        turmoil::since_epoch().map_or(0, |since| since.as_nanos() as u64)
    }
}

fn channels() -> Arc<dyn ChannelFactory> {
    Arc::new(SimChannels {
        connect_timeout: Duration::from_secs(1),
        request_timeout: Duration::from_secs(3),
    })
}

fn links() -> Arc<dyn IngesterLinks> {
    Arc::new(IngesterPool::new(None, channels(), 16 * 1024 * 1024))
}

/// The durable parts of one ingester, kept across its restarts.
pub struct IngesterDisk {
    pub index: usize,
    pub disk: Arc<MemWalDisk>,
    pub generation: AtomicU64,
    /// Set by the host when its WAL failed: the process wants to exit (the harness crashes it).
    pub wants_exit: AtomicBool,
    pub seed: u64,
    pub ack_delay: Duration,
}

fn cut_settings() -> CutSettings {
    CutSettings {
        trace_idle_period: Duration::from_secs(5),
        max_block_duration: Duration::from_secs(20),
        max_block_bytes: 1 << 30,
        flush_check_period: Duration::from_secs(1),
        // As in a cluster: flushed blocks stay answerable while queriers may not know them.
        flushed_block_retention: Duration::from_secs(30),
    }
}

pub fn ingester(durable: Arc<IngesterDisk>, shared: Arc<Shared>) -> Software {
    Box::new(move || {
        let durable = Arc::clone(&durable);
        let shared = Arc::clone(&shared);
        Box::pin(async move {
            run_ingester(&durable, &shared).await;
            Ok(())
        })
    })
}

async fn run_ingester(durable: &IngesterDisk, shared: &Shared) {
    let name = format!("ingester-{}", durable.index);
    let generation = durable.generation.fetch_add(1, Ordering::SeqCst) + 1;
    let opened = Wal::open_with(
        durable.disk.clone(),
        WalConfig::default(),
        WalExecution::Inline {
            ack_delay: durable.ack_delay,
        },
    );
    let (wal, report) = match opened {
        Ok(opened) => opened,
        Err(error) => {
            shared.log.event(&name, &format!("start failed: {error}"));
            durable.wants_exit.store(true, Ordering::SeqCst);
            return std::future::pending().await;
        }
    };
    let mut logic = Ingester::new(
        cut_settings(),
        TenantLimits {
            max_traces_per_user: 0,
            max_bytes_per_trace: 0,
        },
        Arc::new(SimClock),
        Arc::new(SeededIds::new(durable.seed ^ generation.rotate_left(32))),
        ComponentMetrics::default(),
    );
    let records = report.records.len();
    for record in report.records {
        match WalRecord::decode_payload(record.payload) {
            Ok((tenant, fragments)) => logic.replay(&tenant, fragments),
            Err(error) => shared
                .log
                .event(&name, &format!("undecodable wal record: {error}")),
        }
    }
    shared.log.event(
        &name,
        &format!("start generation={generation} replayed_records={records}"),
    );
    let actor = IngesterActor::new(
        logic,
        wal.clone(),
        Arc::clone(&shared.store),
        Arc::clone(&shared.blocklist),
        BlockConfig::default(),
        ComponentMetrics::default(),
    )
    .with_blocking_pool(Arc::new(InlinePool))
    .start();
    let tap = LedgerTap {
        inner: IngesterService::new(actor),
        ingester: durable.index,
        ledger: Arc::clone(&shared.ledger),
    };
    let watchdog = async {
        loop {
            tokio::time::sleep(WAL_WATCHDOG_PERIOD).await;
            if wal.has_failed() {
                return;
            }
        }
    };
    let connections = match incoming().await {
        Ok(connections) => connections,
        Err(error) => {
            shared.log.event(&name, &format!("cannot listen: {error}"));
            return std::future::pending().await;
        }
    };
    let server = Server::builder()
        .add_service(IngesterServer::new(tap))
        .serve_with_incoming(connections);
    tokio::select! {
        outcome = server => {
            if let Err(error) = outcome {
                shared.log.event(&name, &format!("server stopped: {error}"));
            }
        }
        () = watchdog => {
            shared.log.event(&name, "wal failed; exiting");
        }
    }
    // The process exits: the harness crashes the host (dropping every task) and restarts it later.
    durable.wants_exit.store(true, Ordering::SeqCst);
    std::future::pending().await
}

pub fn distributor(index: usize, shared: Arc<Shared>) -> Software {
    Box::new(move || {
        let shared = Arc::clone(&shared);
        Box::pin(async move {
            let settings = DistributorSettings {
                rate_limit: RateLimit {
                    bytes_per_second: 1e12,
                    burst_bytes: 1e12,
                    strategy: RateStrategy::Local,
                },
                max_attribute_bytes: 2048,
            };
            let metrics = ComponentMetrics::default();
            let push = ReplicatedPush::new(
                Arc::clone(&shared.ring),
                links(),
                ReplicationMetrics::default(),
            );
            let actor = DistributorActor::new(
                Distributor::new(settings, Arc::new(SimClock), metrics.clone()),
                Arc::new(push),
                metrics,
            )
            .with_blocking_pool(Arc::new(InlinePool))
            .start();
            shared.log.event(&format!("distributor-{index}"), "start");
            let receiver = OtlpReceiver {
                distributor: actor,
                tenant: TENANT.to_owned(),
            };
            let connections = incoming().await?;
            Server::builder()
                .add_service(TraceServiceServer::new(receiver))
                .serve_with_incoming(connections)
                .await?;
            Ok(())
        })
    })
}

pub fn querier(index: usize, frontend: String, shared: Arc<Shared>) -> Software {
    Box::new(move || {
        let shared = Arc::clone(&shared);
        let frontend = frontend.clone();
        Box::pin(async move {
            let recent = RingRecentTraces::new(Arc::clone(&shared.ring), links());
            let querier = Querier::new(
                Arc::clone(&shared.store),
                Arc::new(NoCache),
                Arc::clone(&shared.blocklist),
                Arc::new(recent),
                ComponentMetrics::default(),
            );
            let actor = QuerierActor::new(querier, tokio::runtime::Handle::current()).start();
            shared.log.event(&format!("querier-{index}"), "start");
            let (_stop_sender, stop) = tokio::sync::watch::channel(false);
            let address = format!("{frontend}:{GRPC_PORT}");
            let workers = (0..2).map(|_| {
                run_remote_worker(
                    channels(),
                    address.clone(),
                    format!("querier-{index}"),
                    Arc::new(actor.clone()),
                    stop.clone(),
                )
            });
            futures::future::join_all(workers).await;
            Ok(())
        })
    })
}
