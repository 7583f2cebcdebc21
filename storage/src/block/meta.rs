//! `meta.json` (Tempo's `BlockMeta` keys) and the block's `index` file (row-group id ranges and
//! column-chunk checksums).

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

/// The `format` written in `meta.json`.
pub const BLOCK_FORMAT: &str = "vParquet4-vivace2";

/// A block's metadata, with Tempo's JSON keys. Unknown keys are ignored when reading.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct BlockMeta {
    pub format: String,
    #[serde(rename = "blockID")]
    pub block_id: Uuid,
    #[serde(rename = "tenantID")]
    pub tenant_id: String,
    pub start_time: DateTime<Utc>,
    pub end_time: DateTime<Utc>,
    /// Number of traces.
    pub total_objects: i64,
    #[serde(default)]
    pub total_spans: u64,
    /// Bytes of `data.parquet`.
    #[serde(default)]
    pub size: u64,
    #[serde(default)]
    pub compaction_level: u32,
    #[serde(default)]
    pub index_page_size: u32,
    /// Number of Parquet row groups.
    #[serde(default)]
    pub total_records: u32,
    #[serde(default)]
    pub bloom_shards: u32,
    /// Length of the Parquet footer metadata.
    #[serde(default)]
    pub footer_size: u32,
    #[serde(default, skip_serializing_if = "is_zero")]
    pub replication_factor: u32,
}

fn is_zero(value: &u32) -> bool {
    *value == 0
}

/// One column chunk's place in `data.parquet` and its checksum.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq, Eq)]
pub struct ChunkIndex {
    pub offset: u64,
    pub length: u64,
    pub crc32: u32,
    /// The crc32 of each page of the chunk (the dictionary page first, if any, then the data
    /// pages in the order of the offset index), 8 hex digits each, so that a lookup can verify
    /// the few pages it reads without fetching the whole chunk. Empty in blocks written before
    /// page checksums existed: those are verified chunk by chunk.
    #[serde(
        rename = "pageCrc32",
        default,
        skip_serializing_if = "String::is_empty"
    )]
    pub page_crc32: String,
    /// The crc32 of the chunk's Parquet bloom filter (header and bitset), when it has one.
    #[serde(
        rename = "bloomCrc32",
        default,
        skip_serializing_if = "Option::is_none"
    )]
    pub bloom_crc32: Option<u32>,
}

/// The end of `data.parquet` that a lookup needs before any data: the page indexes and the footer.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq, Eq)]
pub struct TailIndex {
    pub offset: u64,
    pub length: u64,
    pub crc32: u32,
}

/// One row group: its trace-id range (hex, inclusive) and column chunks.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq, Eq)]
pub struct RowGroupIndex {
    #[serde(rename = "minTraceID")]
    pub min_trace_id: String,
    #[serde(rename = "maxTraceID")]
    pub max_trace_id: String,
    pub rows: u64,
    pub chunks: Vec<ChunkIndex>,
}

/// The `index` file.
#[derive(Clone, Debug, Default, Serialize, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "camelCase")]
pub struct BlockIndex {
    pub row_groups: Vec<RowGroupIndex>,
    /// Absent in blocks written before page-level reads existed (read with the footer only).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tail: Option<TailIndex>,
}

impl RowGroupIndex {
    /// Whether the trace id may be in this row group.
    pub fn may_contain(&self, trace_id_hex: &str) -> bool {
        self.min_trace_id.as_str() <= trace_id_hex && trace_id_hex <= self.max_trace_id.as_str()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn meta_uses_tempo_keys_and_ignores_unknown_ones() {
        let meta = BlockMeta {
            format: BLOCK_FORMAT.into(),
            block_id: Uuid::nil(),
            tenant_id: "single-tenant".into(),
            start_time: DateTime::from_timestamp(1, 0).unwrap_or_default(),
            end_time: DateTime::from_timestamp(2, 0).unwrap_or_default(),
            total_objects: 3,
            total_spans: 4,
            size: 5,
            compaction_level: 0,
            index_page_size: 0,
            total_records: 1,
            bloom_shards: 1,
            footer_size: 10,
            replication_factor: 1,
        };
        let json = serde_json::to_value(&meta).expect("serializes");
        for key in [
            "blockID",
            "tenantID",
            "startTime",
            "endTime",
            "totalObjects",
            "totalRecords",
            "bloomShards",
            "footerSize",
        ] {
            assert!(json.get(key).is_some(), "{key} missing in {json}");
        }
        let mut with_extra = json.clone();
        with_extra["dedicatedColumns"] = serde_json::json!([]);
        let read: BlockMeta = serde_json::from_value(with_extra).expect("deserializes");
        assert_eq!(read, meta);
    }
}
