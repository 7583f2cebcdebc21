//! The composition root: opens storage, joins the cluster (when clustered), replays the WAL of an
//! ingester, starts the component actors the target selects on an actix thread, and serves HTTP
//! and gRPC on the I/O runtime until SIGTERM, SIGINT or `POST /shutdown`.

mod actors;
mod cluster;
mod lifecycle;
mod servers;

use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, RwLock};
use std::time::{Duration, Instant};

use anyhow::Context as _;
use tokio::sync::watch;
use vivace_actors::blocklist::BlockList;
use vivace_actors::frontend::worker::run_local_worker;
use vivace_actors::frontend::{Frontend, JobExecutor};
use vivace_actors::ingester::Ingester;
use vivace_actors::ingester::wal_record::WalRecord;
use vivace_actors::remote::{ChannelFactory, TcpChannels};
use vivace_actors::seams::{Clock, IdSource, RandomIds, SystemClock};
use vivace_cache::{Cache, HybridCache};
use vivace_ring::role::Role;
use vivace_ring::{IngesterState, Member, Ring};
use vivace_storage::backend::{BlockStore, ObjectStoreBackend};
use vivace_storage::wal::{FsWalDisk, Wal, WalConfig};

use crate::http::ApiState;
use crate::settings::NodeSettings;
use crate::telemetry::Telemetry;
use actors::{ActorInputs, spawn_actor_system};

/// Timeout of one distributor → ingester or querier → ingester call (Tempo's `remote_timeout`).
const REMOTE_TIMEOUT: Duration = Duration::from_secs(5);
/// Local querier workers serving this node's own frontend.
const LOCAL_QUERIER_WORKERS: usize = 8;

/// Replays the WAL into a fresh ingester.
fn replay(
    ingester: &mut Ingester,
    records: Vec<vivace_storage::wal::ReplayedRecord>,
    telemetry: &Telemetry,
) {
    for record in records {
        match WalRecord::decode_payload(record.payload) {
            Ok((tenant, fragments)) => {
                telemetry.components.replay_records.inc();
                ingester.replay(&tenant, fragments);
            }
            Err(error) => {
                telemetry.components.replay_errors.inc();
                tracing::error!(segment = record.segment, %error, "skipping undecodable wal record");
            }
        }
    }
}

/// The ring of a single process: one ACTIVE member, this process's ingester.
fn single_member_ring(settings: &NodeSettings) -> Ring {
    let mut ring = Ring::new(1);
    ring.upsert(Member {
        id: settings.instance_id.clone(),
        grpc_address: settings.cluster.grpc_advertise.clone(),
        state: IngesterState::Active,
        zone: String::new(),
    });
    ring
}

fn open_wal(settings: &NodeSettings) -> anyhow::Result<(Wal, vivace_storage::wal::ReplayReport)> {
    let disk = FsWalDisk::new(&settings.wal_path).with_context(|| {
        format!(
            "failed to open the wal folder {}",
            settings.wal_path.display()
        )
    })?;
    Wal::open(Arc::new(disk), WalConfig::default()).context("failed to open the wal")
}

/// Starts the node and runs until it is told to stop.
pub async fn run(settings: NodeSettings) -> anyhow::Result<()> {
    let settings = Arc::new(settings);
    let started = Instant::now();
    let clock: Arc<dyn Clock> = Arc::new(SystemClock);
    let started_unix_nanos = clock.now_unix_nanos();
    let ids: Arc<dyn IdSource> = Arc::new(RandomIds);
    let target = settings.cluster.target.clone();
    let runs_ingester = target.has(Role::Ingester);

    let wal_and_report = if runs_ingester {
        Some(open_wal(&settings)?)
    } else {
        None
    };
    let watched_wal = wal_and_report.as_ref().map(|(wal, _)| wal.clone());
    let telemetry = Arc::new(Telemetry::new(watched_wal.clone()));
    let cluster = if target.clustered {
        Some(cluster::join(&settings, clock.as_ref()).await?)
    } else {
        None
    };

    let store: Arc<dyn BlockStore> = Arc::new(
        ObjectStoreBackend::local(&settings.blocks_path).with_context(|| {
            format!(
                "failed to open local storage {}",
                settings.blocks_path.display()
            )
        })?,
    );
    let cache: Arc<dyn Cache> = Arc::new(
        HybridCache::open(
            &settings.cache.path,
            settings.cache.memory_bytes,
            settings.cache.disk_bytes,
        )
        .await
        .context("failed to open the cache")?,
    );
    let blocklist = Arc::new(BlockList::new());
    let polled = blocklist
        .poll(store.as_ref())
        .await
        .context("failed to list blocks")?;

    let ingester = wal_and_report.map(|(wal, report)| {
        let mut logic = Ingester::new(
            settings.cut.clone(),
            settings.limits,
            Arc::clone(&clock),
            ids,
            telemetry.components.clone(),
        );
        let replayed_records = report.records.len();
        replay(&mut logic, report.records, &telemetry);
        tracing::info!(
            records = replayed_records,
            truncated_bytes = report.truncated_bytes,
            elapsed_ms = started.elapsed().as_millis() as u64,
            "wal replayed"
        );
        (logic, wal)
    });

    let ring = Arc::new(RwLock::new(match &cluster {
        Some(_) => Ring::new(settings.cluster.replication_factor),
        None => single_member_ring(&settings),
    }));
    let channels: Arc<dyn ChannelFactory> = Arc::new(TcpChannels {
        connect_timeout: Duration::from_secs(1),
        request_timeout: REMOTE_TIMEOUT,
    });
    let healthy_distributors = Arc::new(AtomicUsize::new(1));
    let actors = spawn_actor_system(ActorInputs {
        healthy_distributors: Arc::clone(&healthy_distributors),
        ingester,
        store: Arc::clone(&store),
        cache,
        blocklist: Arc::clone(&blocklist),
        settings: Arc::clone(&settings),
        telemetry: Arc::clone(&telemetry),
        clock: Arc::clone(&clock),
        io_runtime: tokio::runtime::Handle::current(),
        ring: Arc::clone(&ring),
        channels: Arc::clone(&channels),
    })?;

    let query_settings = crate::config::QuerySettings::from_rendered_yaml(&settings.config_yaml)
        .map_err(anyhow::Error::msg)?;
    let frontend = target.has(Role::QueryFrontend).then(|| {
        Arc::new(
            Frontend::new(Arc::clone(&blocklist), settings.cluster.frontend).with_search_settings(
                vivace_actors::frontend::SearchSettings {
                    target_bytes_per_job: query_settings.search_target_bytes_per_job,
                    ..Default::default()
                },
            ),
        )
    });
    let executor: Option<Arc<dyn JobExecutor>> = actors
        .querier
        .clone()
        .map(|querier| Arc::new(querier) as Arc<dyn JobExecutor>);
    if let (Some(frontend), Some(executor)) = (&frontend, &executor) {
        for _ in 0..LOCAL_QUERIER_WORKERS {
            tokio::spawn(run_local_worker(frontend.queue(), Arc::clone(executor)));
        }
    }
    if let Some(cluster) = &cluster {
        cluster::spawn_ring_updater(
            cluster.clone(),
            Arc::clone(&ring),
            settings.cluster.replication_factor,
            Arc::clone(&telemetry),
            Arc::clone(&healthy_distributors),
        );
        cluster::spawn_gossip_metrics(
            cluster.clone(),
            Arc::clone(&telemetry),
            settings.cluster.gossip_interval,
        );
        if let Some(executor) = &executor {
            cluster::spawn_querier_workers(
                cluster.clone(),
                Arc::clone(&channels),
                Arc::clone(executor),
                settings.cluster.querier_parallelism,
                frontend.is_some(),
            );
        }
    }

    let ready = Arc::new(AtomicBool::new(false));
    let not_ready_reason = Arc::new(Mutex::new("starting".to_owned()));
    let (shutdown_sender, shutdown_receiver) = watch::channel(false);
    let api_state = Arc::new(ApiState {
        frontend: frontend.clone(),
        querier: actors.querier.clone(),
        ingester: actors.ingester.clone(),
        cluster: cluster.clone(),
        clock: Arc::clone(&clock),
        instance_id: settings.instance_id.clone(),
        grpc_advertise: settings.cluster.grpc_advertise.clone(),
        started_unix_nanos,
        shutdown: shutdown_sender,
        not_ready_reason: Arc::clone(&not_ready_reason),
        multitenancy_enabled: settings.multitenancy_enabled,
        max_bytes_per_trace: settings.max_bytes_per_trace,
        ready: Arc::clone(&ready),
        telemetry: Arc::clone(&telemetry),
        config_yaml: settings.config_yaml.clone(),
    });
    let (stop_sender, stop_receiver) = watch::channel(false);
    let mut running = servers::start(servers::ServerInputs {
        settings: Arc::clone(&settings),
        api_state,
        actors: &actors,
        frontend: frontend.clone(),
        stop: stop_receiver,
    })
    .await?;

    servers::spawn_blocklist_poller(
        Arc::clone(&blocklist),
        Arc::clone(&store),
        settings.blocklist_poll,
    );

    lifecycle::become_ready(cluster.as_ref(), runs_ingester, &ready, &not_ready_reason).await;
    tracing::info!(
        http = %settings.http_listen,
        grpc = %settings.grpc_listen,
        target = %settings.cluster.target.roles.iter().map(|role| role.as_str()).collect::<Vec<_>>().join(","),
        node = %settings.instance_id,
        blocks = polled,
        elapsed_ms = started.elapsed().as_millis() as u64,
        "vivace is ready"
    );

    let wal_failure = lifecycle::watch_wal(watched_wal);
    let reason = match lifecycle::wait_for_stop(&mut running, shutdown_receiver, wal_failure).await
    {
        Ok(reason) => reason,
        Err(error) => {
            // Crash-only: leave the cluster so peers stop waiting for this node, and exit with the
            // error; a restart replays what the WAL synced.
            ready.store(false, Ordering::Release);
            if let Some(cluster) = &cluster {
                cluster.leave().await;
            }
            return Err(error);
        }
    };
    tracing::info!(reason, "stopping");
    ready.store(false, Ordering::Release);
    lifecycle::leave(
        cluster.as_ref(),
        actors.ingester.as_ref(),
        target.clustered || settings.flush_all_on_shutdown,
        &not_ready_reason,
    )
    .await;
    if let Some(frontend) = &frontend {
        frontend.stop();
    }
    let _ = stop_sender.send(true);
    while running.join_next().await.is_some() {}
    Ok(())
}
