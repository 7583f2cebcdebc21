//! The actor thread: builds the component actors this node's roles select.

use std::sync::atomic::AtomicUsize;
use std::sync::{Arc, RwLock};

use actix::prelude::*;
use anyhow::Context as _;
use vivace_actors::blocklist::BlockList;
use vivace_actors::distributor::actor::DistributorActor;
use vivace_actors::distributor::{Distributor, ReplicatedPush};
use vivace_actors::ingester::Ingester;
use vivace_actors::ingester::actor::IngesterActor;
use vivace_actors::local::LocalIngester;
use vivace_actors::querier::actor::QuerierActor;
use vivace_actors::querier::{Querier, RingRecentTraces};
use vivace_actors::remote::{ChannelFactory, IngesterLink, IngesterLinks, IngesterPool};
use vivace_actors::seams::Clock;
use vivace_cache::Cache;
use vivace_ring::Ring;
use vivace_ring::role::Role;
use vivace_storage::backend::BlockStore;
use vivace_storage::wal::Wal;

use crate::settings::NodeSettings;
use crate::telemetry::Telemetry;

/// Addresses of the actors running on the actor thread.
pub struct Actors {
    pub distributor: Option<Addr<DistributorActor>>,
    pub ingester: Option<Addr<IngesterActor>>,
    pub querier: Option<Addr<QuerierActor>>,
}

/// Everything the actor thread needs to build the actors.
pub struct ActorInputs {
    /// The replayed ingester and its WAL, on ingester nodes.
    pub ingester: Option<(Ingester, Wal)>,
    pub store: Arc<dyn BlockStore>,
    pub cache: Arc<dyn Cache>,
    pub blocklist: Arc<BlockList>,
    pub settings: Arc<NodeSettings>,
    pub telemetry: Arc<Telemetry>,
    pub clock: Arc<dyn Clock>,
    pub io_runtime: tokio::runtime::Handle,
    pub ring: Arc<RwLock<Ring>>,
    pub channels: Arc<dyn ChannelFactory>,
    /// Healthy distributors in the cluster, for the `global` rate strategy.
    pub healthy_distributors: Arc<AtomicUsize>,
}

fn start_actors(inputs: ActorInputs) -> Actors {
    let settings = Arc::clone(&inputs.settings);
    let roles = &settings.cluster.target;
    let metrics = inputs.telemetry.components.clone();
    let ingester = inputs.ingester.map(|(logic, wal)| {
        IngesterActor::new(
            logic,
            wal,
            Arc::clone(&inputs.store),
            Arc::clone(&inputs.blocklist),
            settings.block.clone(),
            metrics.clone(),
        )
        .start()
    });
    let local = ingester.as_ref().map(|address| {
        let link: Arc<dyn IngesterLink> = Arc::new(LocalIngester::new(address.clone()));
        (settings.instance_id.clone(), link)
    });
    let links: Arc<dyn IngesterLinks> = Arc::new(IngesterPool::new(
        local,
        Arc::clone(&inputs.channels),
        settings.max_message_bytes,
    ));
    let distributor = roles.has(Role::Distributor).then(|| {
        let mut logic = Distributor::new(
            settings.distributor,
            Arc::clone(&inputs.clock),
            metrics.clone(),
        );
        logic.set_healthy_distributors(Arc::clone(&inputs.healthy_distributors));
        let push = ReplicatedPush::new(
            Arc::clone(&inputs.ring),
            Arc::clone(&links),
            inputs.telemetry.replication.clone(),
        );
        DistributorActor::new(logic, Arc::new(push), metrics.clone()).start()
    });
    let querier = roles.has(Role::Querier).then(|| {
        let recent = RingRecentTraces::new(Arc::clone(&inputs.ring), Arc::clone(&links));
        let logic = Querier::new(
            inputs.store,
            inputs.cache,
            inputs.blocklist,
            Arc::new(recent),
            metrics,
        );
        QuerierActor::new(logic, inputs.io_runtime).start()
    });
    Actors {
        distributor,
        ingester,
        querier,
    }
}

/// Runs an actix system on its own thread and builds the actors there.
pub fn spawn_actor_system(inputs: ActorInputs) -> anyhow::Result<Actors> {
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
