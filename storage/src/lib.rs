//! Storage for Vivace: the write-ahead log, the Parquet block format and the object-store backend.

pub mod backend;
pub mod block;
pub mod wal;
