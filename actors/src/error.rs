//! Errors a push can end with; the servers map them to gRPC codes and HTTP statuses.

/// Why a push was not (fully) accepted.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PushError {
    /// Bad input: gRPC `InvalidArgument`, HTTP 400. Not retryable.
    #[error("{0}")]
    InvalidArgument(String),
    /// A limit was hit: gRPC `ResourceExhausted`, HTTP 429. Retryable later.
    #[error("{0}")]
    ResourceExhausted(String),
    /// Not enough healthy replicas or a component is stopping: gRPC `Unavailable`, HTTP 503.
    #[error("{0}")]
    Unavailable(String),
    /// Anything else (for example the WAL could not be written): gRPC `Internal`, HTTP 500.
    #[error("{0}")]
    Internal(String),
}

/// Per-trace outcome of a push to an ingester (Tempo's `PushErrorReason`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TracePushOutcome {
    Accepted,
    MaxLiveTraces,
    TraceTooLarge,
}
