//! Running TraceQL searches and tag queries over every row group of the benchmark's blocks, in
//! parallel, and measuring wall time, CPU time (getrusage) and what was read from the store.

use std::collections::BTreeSet;
use std::sync::Arc;
use std::time::Instant;

use anyhow::{Context as _, anyhow};
use futures::{StreamExt as _, TryStreamExt as _};
use vivace_actors::search::tag_query::{lenient_filter, parse_identifier};
use vivace_cache::Cache;
use vivace_engine::prune::{Need, query_needs};
use vivace_engine::tags::{TagScope, TypedValue, collect_tag_names, collect_tag_values};
use vivace_engine::{BlockSearch, CompiledQuery, EvalOptions, SearchStats};
use vivace_storage::backend::{BlockStore, CountingStore};
use vivace_storage::block::{BlockMeta, BlockReader, search_schema as columns};
use vivace_traceql::{Attribute, FieldExpr};

/// CPU seconds (user + system) of this process so far, from `getrusage`.
pub fn process_cpu_seconds() -> f64 {
    // SAFETY: `usage` is a valid out-pointer for the duration of the call.
    let mut usage: libc::rusage = unsafe { std::mem::zeroed() };
    // SAFETY: RUSAGE_SELF with a valid pointer has no other preconditions.
    if unsafe { libc::getrusage(libc::RUSAGE_SELF, &mut usage) } != 0 {
        return 0.0;
    }
    let seconds = |time: libc::timeval| time.tv_sec as f64 + time.tv_usec as f64 / 1e6;
    seconds(usage.ru_utime) + seconds(usage.ru_stime)
}

/// Busy CPU seconds of the whole machine so far (all processes), from `/proc/stat`.
pub fn machine_busy_seconds() -> Option<f64> {
    let stat = std::fs::read_to_string("/proc/stat").ok()?;
    let fields: Vec<f64> = stat
        .lines()
        .next()?
        .split_whitespace()
        .skip(1)
        .filter_map(|field| field.parse().ok())
        .collect();
    // user nice system idle iowait irq softirq steal ...: all but idle and iowait are busy.
    let busy: f64 = fields
        .iter()
        .take(8)
        .enumerate()
        .filter(|(index, _)| *index != 3 && *index != 4)
        .map(|(_, ticks)| ticks)
        .sum();
    // SAFETY: sysconf has no preconditions.
    let ticks_per_second = unsafe { libc::sysconf(libc::_SC_CLK_TCK) } as f64;
    (ticks_per_second > 0.0).then(|| busy / ticks_per_second)
}

/// The blocks, the store under them and the cache their readers share.
#[derive(Clone)]
pub struct Corpus {
    pub blocks: Vec<BlockMeta>,
    pub store: Arc<dyn BlockStore>,
    pub cache: Arc<dyn Cache>,
    /// Row-group jobs run at the same time.
    pub concurrency: usize,
}

/// One repetition of a measurement.
#[derive(Debug, Clone, Copy, Default)]
pub struct Run {
    pub wall_seconds: f64,
    pub cpu_seconds: f64,
    pub store_bytes: u64,
    pub store_reads: u64,
    /// CPU seconds other processes used meanwhile (`None` without `/proc/stat`).
    pub others_cpu_seconds: Option<f64>,
}

/// Wall, CPU and machine-wide clocks at the start of a measurement.
struct Clocks {
    started: Instant,
    cpu: f64,
    machine: Option<f64>,
}

impl Clocks {
    fn start() -> Self {
        Clocks {
            started: Instant::now(),
            cpu: process_cpu_seconds(),
            machine: machine_busy_seconds(),
        }
    }

    fn finish(&self, counting: &CountingStore) -> Run {
        let cpu_seconds = process_cpu_seconds() - self.cpu;
        Run {
            wall_seconds: self.started.elapsed().as_secs_f64(),
            cpu_seconds,
            store_bytes: counting.bytes_read(),
            store_reads: counting.reads(),
            others_cpu_seconds: self
                .machine
                .zip(machine_busy_seconds())
                .map(|(before, after)| (after - before - cpu_seconds).max(0.0)),
        }
    }
}

impl Corpus {
    /// Fresh readers over a counting view of the store (as the querier makes per job).
    fn readers(&self) -> (Vec<Arc<BlockReader>>, Arc<CountingStore>) {
        let counting = Arc::new(CountingStore::new(Arc::clone(&self.store)));
        let store: Arc<dyn BlockStore> = counting.clone();
        let readers = self
            .blocks
            .iter()
            .map(|meta| {
                Arc::new(BlockReader::new(
                    Arc::clone(&store),
                    Arc::clone(&self.cache),
                    meta.clone(),
                ))
            })
            .collect();
        (readers, counting)
    }

    /// Every (block, row group) pair: a row-group job each.
    fn jobs(readers: &[Arc<BlockReader>]) -> Vec<(Arc<BlockReader>, usize)> {
        readers
            .iter()
            .flat_map(|reader| {
                let groups = reader.meta().total_records.max(1) as usize;
                (0..groups).map(move |group| (Arc::clone(reader), group))
            })
            .collect()
    }
}

/// A compiled search.
pub struct Search {
    pub text: String,
    compiled: CompiledQuery,
    need: Need,
}

impl Search {
    pub fn new(text: &str) -> anyhow::Result<Self> {
        let query = vivace_traceql::parse(text).map_err(|error| anyhow!("{text}: {error}"))?;
        query
            .validate()
            .map_err(|error| anyhow!("{text}: {error}"))?;
        let compiled = CompiledQuery::new(&query).map_err(|error| anyhow!("{text}: {error}"))?;
        Ok(Search {
            text: text.to_owned(),
            need: query_needs(&query),
            compiled,
        })
    }
}

/// What one pass of a search over every block found.
#[derive(Debug, Clone, Copy, Default)]
pub struct Found {
    pub stats: SearchStats,
    pub traces: u64,
    pub spans: u64,
}

/// Runs `search` once over every row group of the corpus.
pub async fn search_once(corpus: &Corpus, search: &Arc<Search>) -> anyhow::Result<(Found, Run)> {
    let (readers, counting) = corpus.readers();
    let clocks = Clocks::start();
    let jobs = Corpus::jobs(&readers).into_iter().map(|(reader, group)| {
        let search = Arc::clone(search);
        tokio::spawn(async move {
            let (matches, stats) = vivace_engine::search_block(
                &reader,
                &search.compiled,
                &search.need,
                &BlockSearch {
                    row_groups: Some(group..group + 1),
                    time_range: None,
                    limit: 0,
                },
                &EvalOptions {
                    spans_per_spanset: 3,
                },
            )
            .await
            .with_context(|| format!("block {} row group {group}", reader.meta().block_id))?;
            let spans = matches
                .iter()
                .flat_map(|found| &found.spansets)
                .map(|spanset| u64::from(spanset.matched))
                .sum();
            anyhow::Ok(Found {
                stats,
                traces: matches.len() as u64,
                spans,
            })
        })
    });
    let found = futures::stream::iter(jobs)
        .buffer_unordered(corpus.concurrency.max(1))
        .map(|joined| joined.map_err(anyhow::Error::from).and_then(|inner| inner))
        .try_fold(Found::default(), |mut total, part| async move {
            total.stats.add(&part.stats);
            total.traces += part.traces;
            total.spans += part.spans;
            Ok(total)
        })
        .await?;
    let run = clocks.finish(&counting);
    Ok((found, run))
}

/// A tag-names or tag-values query.
pub struct Tags {
    pub label: String,
    attribute: Option<Attribute>,
    scopes: Vec<TagScope>,
    filter: Option<FieldExpr>,
    columns: Vec<&'static str>,
}

impl Tags {
    /// Tag names of the resource and span scopes (Grafana's default).
    pub fn names() -> Self {
        let mut needed: BTreeSet<&'static str> = BTreeSet::new();
        needed.insert(columns::TRACE_ID);
        needed.insert(columns::SPAN_ATTRS);
        needed.extend(columns::DEDICATED_SPAN.iter().map(|(column, _, _)| *column));
        needed.insert(columns::RESOURCE_ATTRS);
        needed.insert(columns::SERVICE_NAME);
        needed.extend(
            columns::DEDICATED_RESOURCE
                .iter()
                .map(|(column, _, _)| *column),
        );
        Tags {
            label: "tag names (resource, span)".to_owned(),
            attribute: None,
            scopes: vec![TagScope::Resource, TagScope::Span],
            filter: None,
            columns: needed.into_iter().collect(),
        }
    }

    /// Values of `identifier`, optionally restricted by a TraceQL filter `{ ... }`.
    pub fn values(identifier: &str, filter: Option<&str>) -> anyhow::Result<Self> {
        let attribute = parse_identifier(identifier).map_err(|error| anyhow!(error))?;
        let mut needed: BTreeSet<&'static str> = BTreeSet::new();
        needed.insert(columns::TRACE_ID);
        needed.extend(vivace_engine::columns_of(&attribute).map_err(|error| anyhow!("{error}"))?);
        let filter_expr = match filter {
            Some(text) => {
                let query =
                    vivace_traceql::parse(text).map_err(|error| anyhow!("{text}: {error}"))?;
                let compiled =
                    CompiledQuery::new(&query).map_err(|error| anyhow!("{text}: {error}"))?;
                needed.extend(compiled.columns());
                Some(lenient_filter(text).ok_or_else(|| anyhow!("{text}: not a filter"))?)
            }
            None => None,
        };
        let label = match filter {
            Some(text) => format!("tag values of {identifier} where {text}"),
            None => format!("tag values of {identifier}"),
        };
        Ok(Tags {
            label,
            attribute: Some(attribute),
            scopes: Vec::new(),
            filter: filter_expr,
            columns: needed.into_iter().collect(),
        })
    }
}

/// Runs a tags query once over every row group; returns the number of names or values found.
pub async fn tags_once(corpus: &Corpus, tags: &Arc<Tags>) -> anyhow::Result<(usize, Run)> {
    let (readers, counting) = corpus.readers();
    let clocks = Clocks::start();
    let jobs = Corpus::jobs(&readers).into_iter().map(|(reader, group)| {
        let tags = Arc::clone(tags);
        tokio::spawn(async move {
            let scanned = reader
                .scan(&[group], &tags.columns)
                .await
                .with_context(|| format!("block {} row group {group}", reader.meta().block_id))?;
            let mut found: BTreeSet<String> = BTreeSet::new();
            let filter = tags.filter.as_ref();
            for batch in &scanned.batches {
                match &tags.attribute {
                    None => {
                        for scope in &tags.scopes {
                            let mut names = BTreeSet::new();
                            collect_tag_names(batch, *scope, filter, &mut names)?;
                            found.extend(names.into_iter().map(|name| format!("{scope:?}/{name}")));
                        }
                    }
                    Some(attribute) => {
                        let mut values: BTreeSet<TypedValue> = BTreeSet::new();
                        collect_tag_values(batch, attribute, filter, 0, &mut values)?;
                        found.extend(
                            values
                                .into_iter()
                                .map(|value| format!("{}/{}", value.kind, value.value)),
                        );
                    }
                }
            }
            anyhow::Ok(found)
        })
    });
    let found = futures::stream::iter(jobs)
        .buffer_unordered(corpus.concurrency.max(1))
        .map(|joined| joined.map_err(anyhow::Error::from).and_then(|inner| inner))
        .try_fold(BTreeSet::new(), |mut total, part| async move {
            total.extend(part);
            Ok(total)
        })
        .await?;
    let run = clocks.finish(&counting);
    Ok((found.len(), run))
}
