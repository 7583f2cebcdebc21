//! Search: the request model of `/api/search` (TraceQL or legacy tags), running search and tag
//! jobs over recent data and blocks, and combining their answers.

pub mod combine;
pub mod convert;
pub mod exec;
pub mod recent;
pub mod request;
pub mod tag_query;
pub mod tags;

pub use combine::SearchCombiner;
pub use exec::{PreparedSearch, prepare};
pub use request::{SearchLimits, SearchQuery, SearchRequest, parse_search_request};
