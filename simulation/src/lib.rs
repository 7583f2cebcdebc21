//! Deterministic simulation of a Vivace cluster. Each run is a function of its seed: the cluster
//! shape, the fault rates and the workload are derived from it and printed first
//! ([`options::SimOptions`]); a failing run names the broken invariant ([`invariants`]) and
//! replays exactly with `SIM_SEED=<seed>`.
//!
//! Three scenarios per seed: the step scenario (the distributor replication, ring, ingester
//! logic, WAL on an in-memory disk that forgets unsynced bytes in a crash, flush rounds into an
//! object store failing at a seeded rate, and the querier, driven one simulated second at a
//! time: [`harness`]); the membership scenario (chitchat gossip on its in-memory transport under
//! paused time: [`membership`]); and the wire scenario (the production actors and gRPC services
//! as turmoil hosts on a simulated TCP network, with crashes of every role, symmetric and one-way
//! partitions, latency, failing and slow fsyncs, store errors and latency: [`wire`]).

pub mod entropy;
pub mod harness;
pub mod invariants;
mod log;
pub mod membership;
mod node;
pub mod options;
mod run;
mod store;
pub mod wire;
pub mod workload;

pub use run::{Summary, run_seed, run_wire_seed};
