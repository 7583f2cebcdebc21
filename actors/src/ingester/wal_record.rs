//! What the ingester writes to its WAL: the accepted fragments of one push for one tenant.

use bytes::Bytes;
use prost::Message;
use vivace_proto::ids::TraceId;

use crate::distributor::TraceFragment;

/// One trace fragment inside a WAL record.
#[derive(Clone, PartialEq, prost::Message)]
pub struct WalTrace {
    #[prost(bytes = "bytes", tag = "1")]
    pub trace_id: Bytes,
    /// Encoded `tempopb.Trace`.
    #[prost(bytes = "bytes", tag = "2")]
    pub trace: Bytes,
    #[prost(fixed32, tag = "3")]
    pub start_seconds: u32,
    #[prost(fixed32, tag = "4")]
    pub end_seconds: u32,
    #[prost(uint32, tag = "5")]
    pub span_count: u32,
}

/// A WAL record: fragments of one tenant.
#[derive(Clone, PartialEq, prost::Message)]
pub struct WalRecord {
    #[prost(string, tag = "1")]
    pub tenant: String,
    #[prost(message, repeated, tag = "2")]
    pub traces: Vec<WalTrace>,
}

/// Why a replayed record was skipped.
#[derive(Debug, thiserror::Error)]
pub enum WalRecordError {
    #[error("undecodable wal record: {0}")]
    Decode(#[from] prost::DecodeError),
    #[error("wal record holds a trace id of {0} bytes")]
    TraceIdLength(usize),
}

impl WalRecord {
    /// A record for the given fragments.
    pub fn from_fragments(tenant: &str, fragments: &[TraceFragment]) -> Self {
        WalRecord {
            tenant: tenant.to_owned(),
            traces: fragments
                .iter()
                .map(|fragment| WalTrace {
                    trace_id: Bytes::copy_from_slice(&fragment.trace_id),
                    trace: fragment.trace.clone(),
                    start_seconds: fragment.start_seconds,
                    end_seconds: fragment.end_seconds,
                    span_count: fragment.span_count,
                })
                .collect(),
        }
    }

    /// Encodes the record as the WAL payload.
    pub fn to_payload(&self) -> Bytes {
        Bytes::from(self.encode_to_vec())
    }

    /// Decodes a WAL payload into the tenant and its fragments.
    pub fn decode_payload(payload: Bytes) -> Result<(String, Vec<TraceFragment>), WalRecordError> {
        let record = WalRecord::decode(payload)?;
        let mut fragments = Vec::with_capacity(record.traces.len());
        for trace in record.traces {
            let trace_id = TraceId::try_from(trace.trace_id.as_ref())
                .map_err(|_| WalRecordError::TraceIdLength(trace.trace_id.len()))?;
            fragments.push(TraceFragment {
                trace_id,
                trace: trace.trace,
                start_seconds: trace.start_seconds,
                end_seconds: trace.end_seconds,
                span_count: trace.span_count,
            });
        }
        Ok((record.tenant, fragments))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip() {
        let fragments = vec![TraceFragment {
            trace_id: [7; 16],
            trace: Bytes::from_static(b"\x0a\x00"),
            start_seconds: 1,
            end_seconds: 2,
            span_count: 3,
        }];
        let payload = WalRecord::from_fragments("tenant-a", &fragments).to_payload();
        let (tenant, decoded) = WalRecord::decode_payload(payload).expect("decodes");
        assert_eq!(tenant, "tenant-a");
        assert_eq!(decoded, fragments);
    }

    #[test]
    fn garbage_is_an_error() {
        assert!(WalRecord::decode_payload(Bytes::from_static(&[0xff, 0x01])).is_err());
    }
}
