//! TraceQL evaluation over search columns (`vivace_storage::block::search_schema`): the same
//! engine runs over blocks (Parquet, with row-group pruning) and over the ingesters' recent data
//! (batches built in memory with the same columns).
//!
//! A query is compiled once ([`CompiledQuery`]); every spanset filter becomes a vectorised
//! predicate over a batch (arrow kernels, one boolean per span); spansets are then assembled per
//! trace from those masks (rows of a trace are contiguous), structural operators compare nested-set
//! numbers, and pipeline stages run per trace.
//!
//! # Semantics (the contract the reference evaluator of the tests follows)
//!
//! Values:
//! - A custom attribute may have several values on one span (array attributes, event and link
//!   attributes of all the span's events/links). `attr OP literal` holds when **some** value
//!   holds it (for `!=` and `!~` too: some value differs). Elsewhere (an attribute compared with
//!   another attribute, arithmetic, `by()`, aggregates) the attribute's **first** value is used.
//! - `.name` (unscoped) reads the span's values of `name`; if the span has none, the resource's.
//!   `span.`, `resource.`, `event.`, `link.`, `instrumentation.` read only their scope.
//! - Ints, floats and durations (nanoseconds) compare and combine numerically with each other;
//!   strings, booleans, statuses and kinds only with their own type. A comparison whose operands
//!   have no comparable pair, or where a value is missing, is false. `!x` is the negation of
//!   that (so `!(.a = 1)` holds on a span without `.a`). `x != nil` holds when `x` has a value,
//!   `x = nil` when it has none.
//! - `=~` / `!~` are fully anchored RE2-style regexes on strings.
//! - Arithmetic: int op int is int (wrapping; division or modulo by zero has no value), anything
//!   with a float is float, duration with duration/int is duration. `^` is a float power.
//! - `status` is `unset` when the span has no status; `kind` as OTLP.
//! - `trace:duration` is the latest end minus the earliest start of the trace's spans;
//!   `trace:rootName` / `trace:rootService` read the root span (no parent id, earliest start
//!   when several) and have no value when there is none.
//! - `span:childCount`, `nestedSet*` come from the nested-set numbering (orphans are roots).
//! - `event:name`, `event:timeSinceStart`, `link:traceID`, `link:spanID` are multi-valued like
//!   event/link attributes. Ids compare as lowercase hex strings.
//!
//! Spansets, per trace:
//! - A filter `{ e }` selects the trace's spans where `e` holds; an empty selection is no
//!   spanset. The first stage of a pipeline starts from one spanset holding every span.
//! - `A && B`: one spanset, the union of A and B, when both are non-empty. `A || B`: the union
//!   when either is. Structural operators return spans of B related to some span of A: `>` B's
//!   parent in A, `<` B is the parent of a span in A, `>>` B descends from a span in A, `<<` B is
//!   an ancestor of a span in A, `~` B has the same parent as a span in A and is not that span
//!   (roots are not siblings). The `!` forms return B's spans with no such relation, the `&`
//!   forms the union of the related spans of both sides.
//! - Pipeline stages apply to each spanset in turn: a filter stage keeps the spans of the spanset
//!   where it holds (structural operators inside a stage relate spans of that spanset only);
//!   `count() > 2` keeps spansets whose aggregate holds and records the aggregate as a spanset
//!   attribute named by the printed aggregate (`count()`, `avg(duration)`); `by(e)` splits a
//!   spanset by the value of `e` (spans without a value form their own group) and records
//!   `by(e)`; `coalesce()` merges all spansets into one (attributes dropped); `select(...)` adds
//!   attributes to the returned spans. Aggregates over spans without a value skip them; `avg`,
//!   `min`, `max`, `sum` of no value fail the filter.
//! - `count()` is an int; `sum`, `min`, `max` keep the type arithmetic gives (int, float or
//!   duration); `avg` is a float, or a duration (truncated to whole nanoseconds) when every value
//!   is a duration. Aggregates compare with their bound numerically.
//! - When a side of a spanset operator is a whole pipeline (`({A} | by(.x)) && {B}`), that side's
//!   spansets are merged into one first; the result is one spanset without attributes.
//! - Within a spanset, spans are in row order (start time, then write order); a trace's result
//!   keeps at most `spss` spans per spanset and reports `matched` = the spanset's size.

mod arith;
mod block;
mod compile;
mod error;
mod eval;
mod extract;
pub mod format;
pub mod prune;
mod relate;
mod result;
mod spanset;
pub mod tags;
mod trace_result;
mod values;

#[cfg(test)]
mod tests;

pub use block::{
    BlockSearch, Inline, Offload, SearchStats, count_traces, overlaps, search_block,
    search_block_offloaded,
};
pub use compile::{CompiledQuery, columns_of};
pub use error::EngineError;
pub use result::{ServiceStats, SpanMatch, SpansetMatch, TraceMatch, Value};
pub use spanset::{EvalOptions, evaluate_batch};
