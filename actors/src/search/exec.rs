//! Running a search job: the request (a `tempopb.SearchRequest`) compiled once, then evaluated over
//! recent traces or over row groups of a block, answered as a `tempopb.SearchResponse`.

use std::collections::BTreeMap;
use std::sync::Arc;

use arrow_array::RecordBatch;
use vivace_engine::prune::{Need, query_needs};
use vivace_engine::{BlockSearch, CompiledQuery, EvalOptions, SearchStats, TraceMatch};
use vivace_proto::tempopb_search as pb;
use vivace_storage::block::BlockReader;

use super::convert::trace_metadata;
use crate::seams::BlockingPool;

/// Spans per spanset when the request leaves it at 0.
pub const DEFAULT_SPANS_PER_SPANSET: u32 = 3;

/// A search request prepared for evaluation.
#[derive(Debug)]
pub struct PreparedSearch {
    pub query: Arc<CompiledQuery>,
    pub need: Need,
    pub options: EvalOptions,
    pub limit: usize,
    /// Trace duration bounds in milliseconds (`minDuration`, `maxDuration`).
    pub min_duration_ms: u32,
    pub max_duration_ms: u32,
    /// Unix nanos; `None` when the request has no time range.
    pub time_range: Option<(u64, u64)>,
}

/// Escapes text for a TraceQL string literal.
fn quoted(text: &str) -> String {
    let mut out = String::with_capacity(text.len() + 2);
    out.push('"');
    for character in text.chars() {
        match character {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            other => out.push(other),
        }
    }
    out.push('"');
    out
}

/// Escapes regex metacharacters (RE2 and Rust agree on these).
fn regex_literal(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for character in text.chars() {
        if "\\.+*?()|[]{}^$".contains(character) {
            out.push('\\');
        }
        out.push(character);
    }
    out
}

/// Legacy tag search as TraceQL: every tag is a case-insensitive substring match on the span's
/// (or its resource's) attribute; `name` matches the span name.
pub fn tags_to_traceql(tags: &BTreeMap<String, String>) -> String {
    if tags.is_empty() {
        return "{ }".to_owned();
    }
    let conditions: Vec<String> = tags
        .iter()
        .map(|(key, value)| {
            let pattern = quoted(&format!("(?i).*{}.*", regex_literal(value)));
            if key == "name" {
                return format!("name =~ {pattern}");
            }
            let attribute = if key
                .chars()
                .all(|c| c.is_alphanumeric() || "._-/".contains(c))
            {
                format!(".{key}")
            } else {
                format!(".{}", quoted(key))
            };
            format!("{attribute} =~ {pattern}")
        })
        .collect();
    format!("{{ {} }}", conditions.join(" && "))
}

/// Compiles a search request (TraceQL `query`, else the legacy `tags`).
pub fn prepare(request: &pb::SearchRequest) -> Result<PreparedSearch, String> {
    let text = if request.query.trim().is_empty() {
        let tags: BTreeMap<String, String> = request
            .tags
            .iter()
            .map(|(key, value)| (key.clone(), value.clone()))
            .collect();
        tags_to_traceql(&tags)
    } else {
        request.query.clone()
    };
    let query =
        vivace_traceql::parse(&text).map_err(|error| format!("invalid TraceQL query: {error}"))?;
    query
        .validate()
        .map_err(|error| format!("invalid TraceQL query: {error}"))?;
    let need = query_needs(&query);
    let compiled = CompiledQuery::new(&query).map_err(|error| error.to_string())?;
    let spans_per_spanset = match request.spans_per_span_set {
        0 => DEFAULT_SPANS_PER_SPANSET,
        other => other,
    };
    let time_range = (request.start != 0 || request.end != 0).then(|| {
        (
            u64::from(request.start) * 1_000_000_000,
            u64::from(request.end).saturating_mul(1_000_000_000) + 999_999_999,
        )
    });
    Ok(PreparedSearch {
        query: Arc::new(compiled),
        need,
        options: EvalOptions {
            spans_per_spanset: spans_per_spanset as usize,
        },
        limit: request.limit as usize,
        min_duration_ms: request.min_duration_ms,
        max_duration_ms: request.max_duration_ms,
        time_range,
    })
}

impl PreparedSearch {
    /// Whether a matched trace passes the duration bounds.
    fn duration_allowed(&self, found: &TraceMatch) -> bool {
        let millis = found.duration_nanos / 1_000_000;
        if self.min_duration_ms > 0 && millis < u64::from(self.min_duration_ms) {
            return false;
        }
        if self.max_duration_ms > 0 && millis > u64::from(self.max_duration_ms) {
            return false;
        }
        true
    }

    /// The answer for matched traces and the work done.
    pub fn respond(&self, found: Vec<TraceMatch>, stats: &SearchStats) -> pb::SearchResponse {
        let mut traces: Vec<pb::TraceSearchMetadata> = found
            .iter()
            .filter(|found| self.duration_allowed(found))
            .filter(|found| vivace_engine::overlaps(found, self.time_range))
            .map(trace_metadata)
            .collect();
        traces.sort_by_key(|trace| std::cmp::Reverse(trace.start_time_unix_nano));
        if self.limit > 0 {
            traces.truncate(self.limit);
        }
        pb::SearchResponse {
            traces,
            metrics: Some(pb::SearchMetrics {
                inspected_traces: u32::try_from(stats.inspected_traces).unwrap_or(u32::MAX),
                inspected_bytes: stats.inspected_bytes,
                inspected_spans: stats.inspected_spans,
                ..pb::SearchMetrics::default()
            }),
        }
    }

    /// Searches a batch of recent data (search columns built from the ingester's traces).
    pub fn search_batch(
        &self,
        batch: &RecordBatch,
        bytes: u64,
    ) -> Result<pb::SearchResponse, String> {
        let found = vivace_engine::evaluate_batch(&self.query, batch, &self.options)
            .map_err(|error| error.to_string())?;
        let stats = SearchStats {
            inspected_bytes: bytes,
            inspected_spans: batch.num_rows() as u64,
            inspected_traces: vivace_engine::count_traces(batch),
            ..SearchStats::default()
        };
        Ok(self.respond(found, &stats))
    }

    /// Searches row groups `row_groups` of a block; each row group is evaluated on `pool`.
    pub async fn search_block(
        &self,
        reader: &BlockReader,
        row_groups: Option<std::ops::Range<usize>>,
        pool: &dyn BlockingPool,
    ) -> Result<pb::SearchResponse, String> {
        let search = BlockSearch {
            row_groups,
            time_range: self.time_range,
            limit: self.limit,
        };
        let (found, stats) = vivace_engine::search_block_offloaded(
            reader,
            &self.query,
            &self.need,
            &search,
            &self.options,
            &PoolOffload(pool),
        )
        .await
        .map_err(|error| error.to_string())?;
        Ok(self.respond(found, &stats))
    }
}

/// The engine's offloading through a blocking pool.
struct PoolOffload<'a>(&'a dyn BlockingPool);

impl vivace_engine::Offload for PoolOffload<'_> {
    fn spawn(&self, job: Box<dyn FnOnce() + Send>) {
        self.0.spawn(job);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn legacy_tags_become_case_insensitive_substring_matches() {
        let mut tags = BTreeMap::new();
        tags.insert("service.name".to_owned(), "api".to_owned());
        tags.insert("name".to_owned(), "GET /a.b".to_owned());
        let text = tags_to_traceql(&tags);
        assert_eq!(
            text,
            r#"{ name =~ "(?i).*GET /a\\.b.*" && .service.name =~ "(?i).*api.*" }"#
        );
        let query = vivace_traceql::parse(&text).expect("generated TraceQL parses");
        query.validate().expect("generated TraceQL validates");
    }

    #[test]
    fn requests_default_spss_and_report_bad_queries() {
        let prepared = prepare(&pb::SearchRequest {
            query: "{ }".to_owned(),
            ..pb::SearchRequest::default()
        })
        .expect("valid");
        assert_eq!(prepared.options.spans_per_spanset, 3);
        assert!(prepared.time_range.is_none());
        let error = prepare(&pb::SearchRequest {
            query: "{ .a = }".to_owned(),
            ..pb::SearchRequest::default()
        })
        .expect_err("invalid");
        assert!(error.starts_with("invalid TraceQL query: "), "{error}");
    }
}
