//! Deterministic simulation of a Vivace cluster. Each run is a function of its seed: the cluster
//! shape, the fault rates and the workload are derived from it and printed first
//! ([`options::SimOptions`]); a failing run names the broken invariant ([`invariants`]) and
//! replays exactly with `SIM_SEED=<seed>`.
//!
//! Scope today: the real distributor replication ([`vivace_actors::distributor::ReplicatedPush`]),
//! ring, ingester logic, WAL (on an in-memory disk that loses unsynced bytes in a crash), flush
//! rounds ([`vivace_actors::ingester::flush::FlushRound`]) into an in-memory object store that
//! fails operations at a seeded rate, and the
//! querier (recent data and blocks), with crashes, restarts, partitions, lost messages and failing
//! fsyncs; and the real gossip membership (chitchat on its in-memory transport, paused time)
//! under partitions, crashes and restarts. Not yet: gRPC and the actix actors themselves,
//! distributor and querier crashes, one-way partitions, object-store latency, slow fsyncs.

pub mod harness;
pub mod invariants;
mod log;
pub mod membership;
mod node;
pub mod options;
mod run;
mod store;
pub mod workload;

pub use run::{Summary, run_seed};
