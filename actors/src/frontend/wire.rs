//! Jobs and results on the frontend ↔ querier stream.

use bytes::Bytes;
use prost::Message;
use uuid::Uuid;
use vivace_proto::cluster::{self as pb, job};
use vivace_proto::ids::TraceId;
use vivace_proto::tempopb::Trace;

use crate::querier::{FindMode, FindRequest, FindResult};

fn mode_name(mode: FindMode) -> &'static str {
    match mode {
        FindMode::All => "all",
        FindMode::Blocks => "blocks",
        FindMode::Ingesters => "ingesters",
    }
}

/// A trace-by-ID job as sent to a querier.
pub fn job_to_wire(job_id: u64, request: &FindRequest) -> pb::Job {
    let (block_start, block_end) = match request.block_range {
        Some((first, last)) => (
            Bytes::copy_from_slice(first.as_bytes()),
            Bytes::copy_from_slice(last.as_bytes()),
        ),
        None => (Bytes::new(), Bytes::new()),
    };
    pb::Job {
        job_id,
        tenant: request.tenant.clone(),
        kind: Some(job::Kind::TraceById(pb::TraceByIdJob {
            trace_id: Bytes::copy_from_slice(&request.trace_id),
            mode: mode_name(request.mode).to_owned(),
            start_seconds: request.start_seconds,
            end_seconds: request.end_seconds,
            block_start,
            block_end,
        })),
    }
}

fn uuid_from(bytes: &[u8], what: &str) -> Result<Uuid, String> {
    Uuid::from_slice(bytes).map_err(|_| format!("{what} must be 16 bytes, got {}", bytes.len()))
}

/// A job received from a frontend; malformed jobs are refused with a reason.
pub fn job_from_wire(job: pb::Job) -> Result<(u64, FindRequest), String> {
    let Some(job::Kind::TraceById(trace_by_id)) = job.kind else {
        return Err(format!("job {} has no known kind", job.job_id));
    };
    let trace_id: TraceId = trace_by_id.trace_id.as_ref().try_into().map_err(|_| {
        format!(
            "trace id must be 16 bytes, got {}",
            trace_by_id.trace_id.len()
        )
    })?;
    let mode = FindMode::parse(&trace_by_id.mode)
        .ok_or_else(|| format!("unknown mode {:?}", trace_by_id.mode))?;
    let block_range = if trace_by_id.block_start.is_empty() && trace_by_id.block_end.is_empty() {
        None
    } else {
        Some((
            uuid_from(&trace_by_id.block_start, "block_start")?,
            uuid_from(&trace_by_id.block_end, "block_end")?,
        ))
    };
    Ok((
        job.job_id,
        FindRequest {
            tenant: job.tenant,
            trace_id,
            mode,
            start_seconds: trace_by_id.start_seconds,
            end_seconds: trace_by_id.end_seconds,
            block_range,
        },
    ))
}

/// A querier's answer on the wire.
pub fn result_to_wire(job_id: u64, result: &FindResult) -> pb::JobResult {
    pb::JobResult {
        job_id,
        trace: Bytes::from(result.trace.encode_to_vec()),
        span_count: result.span_count as u64,
        inspected_bytes: result.inspected_bytes,
        failed_blocks: result.failed_blocks.clone(),
        error: String::new(),
    }
}

/// A querier's answer from the wire; a job error becomes `Err`.
pub fn result_from_wire(result: pb::JobResult) -> Result<FindResult, String> {
    if !result.error.is_empty() {
        return Err(result.error);
    }
    let trace = Trace::decode(result.trace)
        .map_err(|error| format!("querier answered an undecodable trace: {error}"))?;
    Ok(FindResult {
        trace,
        span_count: result.span_count as usize,
        inspected_bytes: result.inspected_bytes,
        backend_reads: 0,
        backend_bytes: 0,
        failed_blocks: result.failed_blocks,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn jobs_round_trip() {
        let request = FindRequest {
            tenant: "t".into(),
            trace_id: [7; 16],
            mode: FindMode::Blocks,
            start_seconds: Some(10),
            end_seconds: None,
            block_range: Some((Uuid::nil(), Uuid::max())),
        };
        let (job_id, decoded) = job_from_wire(job_to_wire(9, &request)).expect("decodes");
        assert_eq!(job_id, 9);
        assert_eq!(decoded.trace_id, request.trace_id);
        assert_eq!(decoded.mode, FindMode::Blocks);
        assert_eq!(decoded.start_seconds, Some(10));
        assert_eq!(decoded.end_seconds, None);
        assert_eq!(decoded.block_range, request.block_range);
    }

    #[test]
    fn malformed_jobs_are_refused() {
        let mut job = job_to_wire(
            1,
            &FindRequest {
                tenant: "t".into(),
                trace_id: [1; 16],
                mode: FindMode::All,
                start_seconds: None,
                end_seconds: None,
                block_range: None,
            },
        );
        if let Some(job::Kind::TraceById(inner)) = job.kind.as_mut() {
            inner.trace_id = Bytes::from_static(b"short");
        }
        assert!(
            job_from_wire(job)
                .expect_err("refused")
                .contains("16 bytes")
        );
        assert!(job_from_wire(pb::Job::default()).is_err());
    }
}
