//! Vivace's components: each is a plain logic struct (driven by tests without a runtime) and a thin
//! actix actor that adapts it (`distributor`, `ingester`, `querier`).

pub mod blocklist;
pub mod combine;
pub mod distributor;
pub mod error;
pub mod frontend;
pub mod ingester;
pub mod local;
pub mod metrics;
pub mod querier;
pub mod remote;
pub mod seams;
pub mod search;
