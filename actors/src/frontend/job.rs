//! The kinds of work the frontend hands to queriers.

use vivace_proto::cluster::TagsAnswer;
use vivace_proto::tempopb_search::SearchResponse;

use crate::querier::{FindRequest, FindResult, SearchJob, TagsJob};

/// A job for a querier.
#[derive(Debug, Clone)]
pub enum JobRequest {
    TraceById(FindRequest),
    Search(SearchJob),
    Tags(TagsJob),
}

impl JobRequest {
    /// The tenant the job reads.
    pub fn tenant(&self) -> &str {
        match self {
            JobRequest::TraceById(request) => &request.tenant,
            JobRequest::Search(job) => &job.tenant,
            JobRequest::Tags(job) => &job.tenant,
        }
    }
}

/// A querier's answer to a job.
#[derive(Debug)]
pub enum JobAnswer {
    TraceById(FindResult),
    Search(Result<SearchResponse, String>),
    Tags(Result<TagsAnswer, String>),
}
