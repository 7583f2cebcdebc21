//! Search and tag queries at the frontend: one job for the ingesters' recent data and jobs over
//! row-group ranges of the blocks in the time range (about `target_bytes_per_job` each, newest
//! blocks first), combined as they complete; a search stops once `limit` traces were found.

use std::time::{Duration, Instant};

use futures::StreamExt;
use futures::stream::FuturesUnordered;
use tokio::sync::mpsc;
use vivace_proto::cluster::{TagsAnswer, TagsQuery};
use vivace_proto::tempopb_search as pb;

use super::{Frontend, FrontendError, JobAnswer, JobRequest};
use crate::querier::{SearchJob, SearchTarget, TagsJob};
use crate::search::SearchCombiner;
use crate::search::exec::DEFAULT_SPANS_PER_SPANSET;
use crate::search::tag_query::merge_answers;

/// Settings (`query_frontend.search.*`).
#[derive(Debug, Clone, Copy)]
pub struct SearchSettings {
    /// Bytes of a block one job reads at most (Tempo's `target_bytes_per_job`).
    pub target_bytes_per_job: u64,
    /// Streaming answers send a diff at most this often.
    pub diff_interval: Duration,
}

impl Default for SearchSettings {
    fn default() -> Self {
        SearchSettings {
            target_bytes_per_job: 100 * 1024 * 1024,
            diff_interval: Duration::from_millis(500),
        }
    }
}

/// A tag-names or tag-values query.
#[derive(Debug, Clone)]
pub struct TagsRequest {
    pub tenant: String,
    pub query: TagsQuery,
}

/// Row-group ranges of a block of `row_groups` row groups and `size` bytes, each about
/// `target_bytes` (at least one row group).
pub fn row_group_ranges(
    row_groups: u32,
    size: u64,
    target_bytes: u64,
) -> Vec<std::ops::Range<u32>> {
    if row_groups == 0 {
        return Vec::new();
    }
    let per_group = (size / u64::from(row_groups)).max(1);
    let groups_per_job = u32::try_from((target_bytes / per_group).max(1)).unwrap_or(u32::MAX);
    (0..row_groups)
        .step_by(groups_per_job as usize)
        .map(|start| start..start.saturating_add(groups_per_job).min(row_groups))
        .collect()
}

/// Whether a block has search columns (blocks of earlier formats are only read by trace id).
fn searchable(meta: &vivace_storage::block::BlockMeta) -> bool {
    let current = meta.format == vivace_storage::block::BLOCK_FORMAT;
    if !current {
        tracing::debug!(block = %meta.block_id, format = %meta.format, "block format has no search columns; skipped");
    }
    current
}

impl Frontend {
    /// The jobs of a search, recent data first, then blocks newest first.
    fn plan_search(&self, tenant: &str, request: &pb::SearchRequest) -> (Vec<SearchJob>, u32, u64) {
        let mut jobs = vec![SearchJob {
            tenant: tenant.to_owned(),
            request: request.clone(),
            target: SearchTarget::Recent,
        }];
        if request.start == 0 && request.end == 0 {
            return (jobs, 0, 0);
        }
        let mut blocks = self.blocklist.blocks(
            tenant,
            Some(i64::from(request.start)),
            Some(i64::from(request.end)),
        );
        blocks.retain(searchable);
        blocks.sort_by_key(|meta| std::cmp::Reverse(meta.end_time));
        let total_bytes = blocks.iter().map(|meta| meta.size).sum();
        let block_count = u32::try_from(blocks.len()).unwrap_or(u32::MAX);
        for meta in blocks {
            for row_groups in row_group_ranges(
                meta.total_records,
                meta.size,
                self.search.target_bytes_per_job,
            ) {
                jobs.push(SearchJob {
                    tenant: tenant.to_owned(),
                    request: request.clone(),
                    target: SearchTarget::Block {
                        block_id: meta.block_id,
                        row_groups,
                    },
                });
            }
        }
        (jobs, block_count, total_bytes)
    }

    /// Answers a search; with `progress`, partial answers (traces changed since the last one,
    /// metrics so far) are sent at most every `diff_interval` while jobs complete.
    pub async fn search(
        &self,
        tenant: &str,
        request: pb::SearchRequest,
        progress: Option<mpsc::UnboundedSender<pb::SearchResponse>>,
    ) -> Result<pb::SearchResponse, FrontendError> {
        crate::search::prepare(&request).map_err(FrontendError::BadRequest)?;
        let spans_per_spanset = match request.spans_per_span_set {
            0 => DEFAULT_SPANS_PER_SPANSET,
            other => other,
        };
        let mut combiner = SearchCombiner::new(request.limit as usize, spans_per_spanset as usize);
        let (jobs, blocks, block_bytes) = self.plan_search(tenant, &request);
        combiner.set_plan(
            u32::try_from(jobs.len()).unwrap_or(u32::MAX),
            blocks,
            block_bytes,
        );
        let mut pending = FuturesUnordered::new();
        for job in jobs {
            pending.push(self.submit(JobRequest::Search(job))?);
        }
        let deadline = tokio::time::Instant::now() + self.settings.query_timeout;
        let mut last_diff = Instant::now();
        while let Some(answer) = tokio::time::timeout_at(deadline, pending.next())
            .await
            .map_err(|_| FrontendError::Timeout(self.settings.query_timeout))?
        {
            let response = match answer {
                Ok(Ok(JobAnswer::Search(Ok(response)))) => response,
                Ok(Ok(JobAnswer::Search(Err(error)))) | Ok(Err(error)) => {
                    return Err(FrontendError::JobFailed(error));
                }
                Ok(Ok(_)) => {
                    return Err(FrontendError::JobFailed(
                        "querier answered another kind of job".to_owned(),
                    ));
                }
                Err(_) => {
                    return Err(FrontendError::JobFailed(
                        "job dropped before it was answered".to_owned(),
                    ));
                }
            };
            combiner.add(response);
            combiner.job_completed();
            if combiner.is_full() {
                break;
            }
            if let Some(sender) = &progress
                && last_diff.elapsed() >= self.search.diff_interval
            {
                last_diff = Instant::now();
                let _ignored_if_client_gone = sender.send(combiner.diff());
            }
        }
        Ok(combiner.finish())
    }

    /// Answers a tag-names or tag-values query: recent data, plus every block in the time range.
    pub async fn tags(&self, request: TagsRequest) -> Result<TagsAnswer, FrontendError> {
        let query = &request.query;
        let mut jobs = vec![TagsJob {
            tenant: request.tenant.clone(),
            query: query.clone(),
            block_id: None,
        }];
        if query.start_seconds != 0 || query.end_seconds != 0 {
            for meta in self
                .blocklist
                .blocks(
                    &request.tenant,
                    Some(i64::from(query.start_seconds)),
                    Some(i64::from(query.end_seconds)),
                )
                .into_iter()
                .filter(searchable)
            {
                jobs.push(TagsJob {
                    tenant: request.tenant.clone(),
                    query: query.clone(),
                    block_id: Some(meta.block_id),
                });
            }
        }
        let mut pending = FuturesUnordered::new();
        for job in jobs {
            pending.push(self.submit(JobRequest::Tags(job))?);
        }
        let deadline = tokio::time::Instant::now() + self.settings.query_timeout;
        let mut answers = Vec::new();
        while let Some(answer) = tokio::time::timeout_at(deadline, pending.next())
            .await
            .map_err(|_| FrontendError::Timeout(self.settings.query_timeout))?
        {
            match answer {
                Ok(Ok(JobAnswer::Tags(Ok(tags)))) => answers.push(tags),
                Ok(Ok(JobAnswer::Tags(Err(error)))) | Ok(Err(error)) => {
                    return Err(FrontendError::JobFailed(error));
                }
                Ok(Ok(_)) | Err(_) => {
                    return Err(FrontendError::JobFailed(
                        "tags job dropped or answered as another kind".to_owned(),
                    ));
                }
            }
        }
        Ok(merge_answers(answers, query.limit as usize))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn row_groups_are_grouped_by_target_bytes() {
        assert!(row_group_ranges(0, 100, 10).is_empty());
        assert_eq!(row_group_ranges(4, 400, 1_000), vec![0..4]);
        assert_eq!(row_group_ranges(5, 500, 200), vec![0..2, 2..4, 4..5]);
        assert_eq!(row_group_ranges(3, 3_000, 1), vec![0..1, 1..2, 2..3]);
    }
}
