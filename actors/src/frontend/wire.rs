//! Jobs and results on the frontend ↔ querier stream.

use bytes::Bytes;
use prost::Message;
use uuid::Uuid;
use vivace_proto::cluster::{self as pb, job};
use vivace_proto::ids::TraceId;
use vivace_proto::tempopb::Trace;
use vivace_proto::tempopb_search::{SearchRequest, SearchResponse};

use super::job::{JobAnswer, JobRequest};
use crate::querier::{FindMode, FindRequest, FindResult, SearchJob, SearchTarget, TagsJob};

fn mode_name(mode: FindMode) -> &'static str {
    match mode {
        FindMode::All => "all",
        FindMode::Blocks => "blocks",
        FindMode::Ingesters => "ingesters",
    }
}

/// A job as sent to a querier.
pub fn job_to_wire(job_id: u64, request: &JobRequest) -> pb::Job {
    match request {
        JobRequest::TraceById(find) => trace_by_id_to_wire(job_id, find),
        JobRequest::Search(search) => {
            let (block_id, first_row_group, row_group_count) = match &search.target {
                SearchTarget::Recent => (Bytes::new(), 0, 0),
                SearchTarget::Block {
                    block_id,
                    row_groups,
                } => (
                    Bytes::copy_from_slice(block_id.as_bytes()),
                    row_groups.start,
                    row_groups.end.saturating_sub(row_groups.start),
                ),
            };
            pb::Job {
                job_id,
                tenant: search.tenant.clone(),
                kind: Some(job::Kind::Search(pb::SearchJob {
                    request: Bytes::from(search.request.encode_to_vec()),
                    block_id,
                    first_row_group,
                    row_group_count,
                })),
            }
        }
        JobRequest::Tags(tags) => pb::Job {
            job_id,
            tenant: tags.tenant.clone(),
            kind: Some(job::Kind::Tags(pb::TagsJob {
                query: Some(tags.query.clone()),
                block_id: tags
                    .block_id
                    .map(|id| Bytes::copy_from_slice(id.as_bytes()))
                    .unwrap_or_default(),
            })),
        },
    }
}

fn trace_by_id_to_wire(job_id: u64, request: &FindRequest) -> pb::Job {
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
pub fn job_from_wire(job: pb::Job) -> Result<(u64, JobRequest), String> {
    let job_id = job.job_id;
    match job.kind {
        Some(job::Kind::TraceById(trace_by_id)) => {
            let request = trace_by_id_from_wire(job.tenant, trace_by_id)?;
            Ok((job_id, JobRequest::TraceById(request)))
        }
        Some(job::Kind::Search(search)) => {
            let request = SearchRequest::decode(search.request)
                .map_err(|error| format!("undecodable search request: {error}"))?;
            let target = if search.block_id.is_empty() {
                SearchTarget::Recent
            } else {
                SearchTarget::Block {
                    block_id: uuid_from(&search.block_id, "block_id")?,
                    row_groups: search.first_row_group
                        ..search
                            .first_row_group
                            .saturating_add(search.row_group_count),
                }
            };
            Ok((
                job_id,
                JobRequest::Search(SearchJob {
                    tenant: job.tenant,
                    request,
                    target,
                }),
            ))
        }
        Some(job::Kind::Tags(tags)) => {
            let block_id = if tags.block_id.is_empty() {
                None
            } else {
                Some(uuid_from(&tags.block_id, "block_id")?)
            };
            Ok((
                job_id,
                JobRequest::Tags(TagsJob {
                    tenant: job.tenant,
                    query: tags.query.unwrap_or_default(),
                    block_id,
                }),
            ))
        }
        None => Err(format!("job {job_id} has no known kind")),
    }
}

fn trace_by_id_from_wire(
    tenant: String,
    trace_by_id: pb::TraceByIdJob,
) -> Result<FindRequest, String> {
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
    Ok(FindRequest {
        tenant,
        trace_id,
        mode,
        start_seconds: trace_by_id.start_seconds,
        end_seconds: trace_by_id.end_seconds,
        block_range,
    })
}

/// A querier's answer on the wire.
pub fn result_to_wire(job_id: u64, answer: &JobAnswer) -> pb::JobResult {
    match answer {
        JobAnswer::TraceById(result) => trace_result_to_wire(job_id, result),
        JobAnswer::Search(Ok(response)) => pb::JobResult {
            job_id,
            search_response: Bytes::from(response.encode_to_vec()),
            ..pb::JobResult::default()
        },
        JobAnswer::Tags(Ok(tags)) => pb::JobResult {
            job_id,
            tags: Some(tags.clone()),
            ..pb::JobResult::default()
        },
        JobAnswer::Search(Err(error)) | JobAnswer::Tags(Err(error)) => pb::JobResult {
            job_id,
            error: error.clone(),
            ..pb::JobResult::default()
        },
    }
}

fn trace_result_to_wire(job_id: u64, result: &FindResult) -> pb::JobResult {
    pb::JobResult {
        job_id,
        trace: Bytes::from(result.trace.encode_to_vec()),
        span_count: result.span_count as u64,
        inspected_bytes: result.inspected_bytes,
        failed_blocks: result.failed_blocks.clone(),
        ..pb::JobResult::default()
    }
}

/// A querier's answer from the wire, read as the answer to `request`; a job error becomes `Err`.
pub fn result_from_wire(result: pb::JobResult, request: &JobRequest) -> Result<JobAnswer, String> {
    if !result.error.is_empty() {
        return Err(result.error);
    }
    match request {
        JobRequest::TraceById(_) => trace_result_from_wire(result).map(JobAnswer::TraceById),
        JobRequest::Search(_) => {
            let response = SearchResponse::decode(result.search_response)
                .map_err(|error| format!("querier answered an undecodable search: {error}"))?;
            Ok(JobAnswer::Search(Ok(response)))
        }
        JobRequest::Tags(_) => Ok(JobAnswer::Tags(Ok(result.tags.unwrap_or_default()))),
    }
}

fn trace_result_from_wire(result: pb::JobResult) -> Result<FindResult, String> {
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
        let (job_id, decoded) =
            job_from_wire(job_to_wire(9, &JobRequest::TraceById(request.clone())))
                .expect("decodes");
        assert_eq!(job_id, 9);
        let JobRequest::TraceById(decoded) = decoded else {
            panic!("a trace-by-id job");
        };
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
            &JobRequest::TraceById(FindRequest {
                tenant: "t".into(),
                trace_id: [1; 16],
                mode: FindMode::All,
                start_seconds: None,
                end_seconds: None,
                block_range: None,
            }),
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

    #[test]
    fn search_and_tags_jobs_round_trip() {
        let search = JobRequest::Search(SearchJob {
            tenant: "t".into(),
            request: SearchRequest {
                query: "{ }".into(),
                limit: 5,
                ..SearchRequest::default()
            },
            target: SearchTarget::Block {
                block_id: Uuid::max(),
                row_groups: 2..7,
            },
        });
        let (_, decoded) = job_from_wire(job_to_wire(3, &search)).expect("decodes");
        let JobRequest::Search(decoded) = decoded else {
            panic!("a search job");
        };
        assert_eq!(decoded.request.limit, 5);
        assert_eq!(
            decoded.target,
            SearchTarget::Block {
                block_id: Uuid::max(),
                row_groups: 2..7
            }
        );
        let tags = JobRequest::Tags(TagsJob {
            tenant: "t".into(),
            query: pb::TagsQuery {
                attribute: "name".into(),
                ..pb::TagsQuery::default()
            },
            block_id: None,
        });
        let (_, decoded) = job_from_wire(job_to_wire(4, &tags)).expect("decodes");
        let JobRequest::Tags(decoded) = decoded else {
            panic!("a tags job");
        };
        assert_eq!(decoded.query.attribute, "name");
        assert_eq!(decoded.block_id, None);
        let answer = result_from_wire(
            result_to_wire(4, &JobAnswer::Search(Err("boom".into()))),
            &search,
        )
        .expect_err("errors travel");
        assert_eq!(answer, "boom");
    }
}
