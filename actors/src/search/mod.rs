//! Search: the request model of `/api/search` (TraceQL or legacy tags) and its parsing.

pub mod request;
pub mod tags;

pub use request::{SearchLimits, SearchQuery, SearchRequest, parse_search_request};
