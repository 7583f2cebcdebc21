//! The composition root: opens the WAL and storage, replays, starts the component actors selected by
//! the targets on an actix system thread, and serves HTTP and gRPC on the I/O runtime.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, RwLock};
use std::time::Instant;

use actix::prelude::*;
use anyhow::Context as _;
use tokio::sync::watch;
use tonic::codec::CompressionEncoding;
use vivace_actors::blocklist::BlockList;
use vivace_actors::distributor::actor::DistributorActor;
use vivace_actors::distributor::{Distributor, PushTarget, ReplicatedPush};
use vivace_actors::ingester::Ingester;
use vivace_actors::ingester::actor::IngesterActor;
use vivace_actors::ingester::wal_record::WalRecord;
use vivace_actors::local::LocalIngester;
use vivace_actors::querier::Querier;
use vivace_actors::querier::actor::QuerierActor;
use vivace_actors::seams::{Clock, IdSource, RandomIds, SystemClock};
use vivace_cache::{Cache, HybridCache};
use vivace_proto::otlp::collector::trace_service_server::TraceServiceServer;
use vivace_ring::{IngesterState, Member, Ring};
use vivace_storage::backend::{BlockStore, ObjectStoreBackend};
use vivace_storage::wal::{FsWalDisk, Wal, WalConfig};

use crate::http::{ApiState, api_router};
use crate::ingest::{IngestState, OtlpGrpc, otlp_http_router};
use crate::settings::NodeSettings;
use crate::telemetry::Telemetry;

/// Addresses of the actors running on the actor thread.
struct Actors {
    distributor: Addr<DistributorActor>,
    ingester: Addr<IngesterActor>,
    querier: Addr<QuerierActor>,
}

/// Everything the actor thread needs to build the actors.
struct ActorInputs {
    ingester: Ingester,
    wal: Wal,
    store: Arc<dyn BlockStore>,
    cache: Arc<dyn Cache>,
    blocklist: Arc<BlockList>,
    settings: Arc<NodeSettings>,
    telemetry: Arc<Telemetry>,
    clock: Arc<dyn Clock>,
    io_runtime: tokio::runtime::Handle,
}

fn start_actors(inputs: ActorInputs) -> Actors {
    let metrics = inputs.telemetry.components.clone();
    let ingester = IngesterActor::new(
        inputs.ingester,
        inputs.wal,
        Arc::clone(&inputs.store),
        Arc::clone(&inputs.blocklist),
        inputs.settings.block.clone(),
        metrics.clone(),
    )
    .start();
    let local = Arc::new(LocalIngester::new(ingester.clone()));
    let distributor_logic = Distributor::new(
        inputs.settings.distributor,
        Arc::clone(&inputs.clock),
        metrics.clone(),
    );
    let push_target = single_member_ring(&inputs.settings.instance_id, local.clone());
    let distributor =
        DistributorActor::new(distributor_logic, push_target, metrics.clone()).start();
    let querier_logic = Querier::new(inputs.store, inputs.cache, inputs.blocklist, local, metrics);
    let querier = QuerierActor::new(querier_logic, inputs.io_runtime).start();
    Actors {
        distributor,
        ingester,
        querier,
    }
}

/// The ring of a monolithic node: one ACTIVE member, this process's ingester, replication factor 1.
fn single_member_ring(instance_id: &str, local: Arc<LocalIngester>) -> Arc<dyn PushTarget> {
    let mut ring = Ring::new(1);
    ring.upsert(Member {
        id: instance_id.to_owned(),
        grpc_address: String::new(),
        state: IngesterState::Active,
        zone: String::new(),
    });
    let mut members: HashMap<String, Arc<dyn PushTarget>> = HashMap::new();
    members.insert(instance_id.to_owned(), local);
    Arc::new(ReplicatedPush::new(Arc::new(RwLock::new(ring)), members))
}

/// Runs an actix system on its own thread and builds the actors there.
fn spawn_actor_system(inputs: ActorInputs) -> anyhow::Result<Actors> {
    let (sender, receiver) = std::sync::mpsc::channel();
    std::thread::Builder::new()
        .name("actors".to_owned())
        .spawn(move || {
            let system = actix::System::new();
            system.block_on(async move {
                let _ = sender.send(start_actors(inputs));
            });
            if let Err(error) = system.run() {
                tracing::error!(%error, "actor system stopped with an error");
            }
        })
        .context("failed to start the actor thread")?;
    receiver
        .recv()
        .context("the actor thread stopped before starting the actors")
}

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

async fn bind(address: SocketAddr, what: &str) -> anyhow::Result<tokio::net::TcpListener> {
    tokio::net::TcpListener::bind(address)
        .await
        .with_context(|| format!("failed to bind the {what} server to {address}"))
}

async fn shutdown_signal(mut stop: watch::Receiver<bool>) {
    let _ = stop.wait_for(|stopped| *stopped).await;
}

/// Starts the node and runs until SIGTERM or SIGINT.
pub async fn run(settings: NodeSettings) -> anyhow::Result<()> {
    let settings = Arc::new(settings);
    let started = Instant::now();
    let clock: Arc<dyn Clock> = Arc::new(SystemClock);
    let ids: Arc<dyn IdSource> = Arc::new(RandomIds);

    let disk = FsWalDisk::new(&settings.wal_path).with_context(|| {
        format!(
            "failed to open the wal folder {}",
            settings.wal_path.display()
        )
    })?;
    let (wal, report) =
        Wal::open(Arc::new(disk), WalConfig::default()).context("failed to open the wal")?;
    let telemetry = Arc::new(Telemetry::new(Some(wal.clone())));
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

    let mut ingester = Ingester::new(
        settings.cut.clone(),
        settings.limits,
        Arc::clone(&clock),
        ids,
        telemetry.components.clone(),
    );
    let replayed_records = report.records.len();
    replay(&mut ingester, report.records, &telemetry);
    tracing::info!(
        records = replayed_records,
        truncated_bytes = report.truncated_bytes,
        blocks = polled,
        elapsed_ms = started.elapsed().as_millis() as u64,
        "wal replayed"
    );

    let actors = spawn_actor_system(ActorInputs {
        ingester,
        wal,
        store: Arc::clone(&store),
        cache,
        blocklist: Arc::clone(&blocklist),
        settings: Arc::clone(&settings),
        telemetry: Arc::clone(&telemetry),
        clock,
        io_runtime: tokio::runtime::Handle::current(),
    })?;

    let ready = Arc::new(AtomicBool::new(false));
    let (stop_sender, stop_receiver) = watch::channel(false);
    let mut servers = tokio::task::JoinSet::new();

    let api_state = Arc::new(ApiState {
        querier: actors.querier.clone(),
        ingester: Some(actors.ingester.clone()),
        multitenancy_enabled: settings.multitenancy_enabled,
        max_bytes_per_trace: settings.max_bytes_per_trace,
        ready: Arc::clone(&ready),
        telemetry: Arc::clone(&telemetry),
        config_yaml: settings.config_yaml.clone(),
    });
    let api_listener = bind(settings.http_listen, "HTTP").await?;
    let api = api_router(api_state, &settings.http_api_prefix);
    let api_stop = shutdown_signal(stop_receiver.clone());
    servers.spawn(async move {
        axum::serve(api_listener, api)
            .with_graceful_shutdown(api_stop)
            .await
            .context("HTTP server failed")
    });

    let ingest_state = Arc::new(IngestState {
        distributor: actors.distributor.clone(),
        multitenancy_enabled: settings.multitenancy_enabled,
        max_message_bytes: settings.max_message_bytes,
    });
    if let Some(address) = settings.otlp_http_listen {
        let listener = bind(address, "OTLP HTTP").await?;
        let router = otlp_http_router(Arc::clone(&ingest_state));
        let stop = shutdown_signal(stop_receiver.clone());
        servers.spawn(async move {
            axum::serve(listener, router)
                .with_graceful_shutdown(stop)
                .await
                .context("OTLP HTTP server failed")
        });
    }
    let grpc_addresses = settings
        .otlp_grpc_listen
        .into_iter()
        .map(|address| (address, "OTLP gRPC"))
        .chain(std::iter::once((settings.grpc_listen, "gRPC")));
    for (address, what) in grpc_addresses {
        let listener = bind(address, what).await?;
        let service = TraceServiceServer::new(OtlpGrpc::new(Arc::clone(&ingest_state)))
            .accept_compressed(CompressionEncoding::Gzip)
            .accept_compressed(CompressionEncoding::Zstd)
            .max_decoding_message_size(settings.max_message_bytes);
        let stop = shutdown_signal(stop_receiver.clone());
        let incoming = tokio_stream::wrappers::TcpListenerStream::new(listener);
        servers.spawn(async move {
            tonic::transport::Server::builder()
                .add_service(service)
                .serve_with_incoming_shutdown(incoming, stop)
                .await
                .with_context(|| format!("{what} server failed"))
        });
    }

    let poll_store = Arc::clone(&store);
    let poll_interval = settings.blocklist_poll;
    tokio::spawn(async move {
        let mut ticker = tokio::time::interval(poll_interval);
        ticker.tick().await;
        loop {
            ticker.tick().await;
            if let Err(error) = blocklist.poll(poll_store.as_ref()).await {
                tracing::warn!(%error, "blocklist poll failed");
            }
        }
    });

    ready.store(true, Ordering::Release);
    tracing::info!(
        http = %settings.http_listen,
        grpc = %settings.grpc_listen,
        elapsed_ms = started.elapsed().as_millis() as u64,
        "vivace is ready"
    );

    tokio::select! {
        signal = wait_for_stop_signal() => {
            tracing::info!(signal, "stopping");
        }
        Some(finished) = servers.join_next() => {
            let outcome = finished.context("server task panicked")?;
            outcome?;
        }
    }
    ready.store(false, Ordering::Release);
    let _ = stop_sender.send(true);
    while servers.join_next().await.is_some() {}
    Ok(())
}

async fn wait_for_stop_signal() -> &'static str {
    use tokio::signal::unix::{SignalKind, signal};
    let Ok(mut terminate) = signal(SignalKind::terminate()) else {
        let _ = tokio::signal::ctrl_c().await;
        return "interrupt";
    };
    tokio::select! {
        _ = terminate.recv() => "terminate",
        _ = tokio::signal::ctrl_c() => "interrupt",
    }
}
