//! Engine errors.

/// Why a query could not be evaluated.
#[derive(Debug, thiserror::Error)]
pub enum EngineError {
    /// A construct the engine does not evaluate (metrics queries go to the metrics engine).
    #[error("{0} not yet supported")]
    Unsupported(String),
    /// A regex that the matcher rejects.
    #[error("invalid regex {pattern:?}: {detail}")]
    Regex { pattern: String, detail: String },
    /// The batch lacks a column the query needs, or has it with another type.
    #[error("search column {0} is missing or has an unexpected type")]
    Column(String),
    /// An arrow kernel failed.
    #[error("evaluation failed: {0}")]
    Arrow(#[from] arrow_schema::ArrowError),
    /// Reading a block failed.
    #[error(transparent)]
    Storage(#[from] vivace_storage::backend::StorageError),
}
