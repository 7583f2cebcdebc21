//! `vivace bench search`: TraceQL search throughput over flushed blocks (spans scanned per second
//! and per core, bytes read from storage per query) and tag-name / tag-value latency, on a
//! deterministic data set written to a local-disk store (see `search/data.rs`).
//!
//! `vivace bench visibility` (in `search/visibility.rs`): how long after an OTLP export is
//! acknowledged its trace is found by `/api/search` of a running node.

mod data;
mod measure;
pub mod visibility;

use std::path::PathBuf;
use std::sync::Arc;

use anyhow::Context as _;
use vivace_cache::{Cache, MemoryCache};
use vivace_storage::block::BlockConfig;

use data::Shape;
use measure::{Corpus, Run, Search, Tags, search_once, tags_once};

/// The queries of the issue, in order.
const DEFAULT_QUERIES: &[&str] = &[
    r#"{ resource.service.name = "service-3" }"#,
    r#"{ span.feature.flag = "rare-beta" }"#,
    r#"{ name =~ "op-1[2-4]" }"#,
    "{ duration > 1s }",
    r#"{ resource.service.name = "service-1" } >> { span.http.status_code = 500 }"#,
    "{ span.http.status_code = 500 } | count() > 5",
    r#"{ name = "op-7" } | count() > 3"#,
    r#"{ resource.service.name = "no-such-service" }"#,
    r#"{ span.feature.flag = "no-such-flag" }"#,
];

#[derive(clap::Args, Debug, Clone)]
pub struct SearchArgs {
    /// Spans in the data set.
    #[arg(long, default_value_t = 10_000_000)]
    pub spans: u64,
    /// Folder of the data set: `blocks/` (a local-disk block store) and `manifest.json`. Blocks
    /// are reused when the manifest matches the requested shape.
    #[arg(long)]
    pub dir: PathBuf,
    /// Spans per trace.
    #[arg(long, default_value_t = 10)]
    pub spans_per_trace: u64,
    /// Spans per block.
    #[arg(long, default_value_t = 1_000_000)]
    pub spans_per_block: u64,
    /// Seed of the data set.
    #[arg(long, default_value_t = 1)]
    pub seed: u64,
    /// Repetitions of each query.
    #[arg(long, default_value_t = 3)]
    pub repetitions: usize,
    /// Worker threads (default: available cores).
    #[arg(long)]
    pub threads: Option<usize>,
    /// Queries to run instead of the default list (repeatable).
    #[arg(long = "query")]
    pub queries: Vec<String>,
    /// Size of the memory cache for bloom filters, `index` files and Parquet footers.
    #[arg(long, default_value_t = 256)]
    pub cache_mb: usize,
    /// Skip the tag-name and tag-value measurements.
    #[arg(long)]
    pub no_tags: bool,
}

/// The 1-minute load average (other processes competing for the cores skew wall times).
fn load_average() -> String {
    std::fs::read_to_string("/proc/loadavg")
        .ok()
        .and_then(|text| text.split_whitespace().next().map(str::to_owned))
        .unwrap_or_else(|| "?".to_owned())
}

/// Cores other processes kept busy during a run.
fn others(run: &Run) -> String {
    match run.others_cpu_seconds {
        Some(seconds) => format!("{:.2}", seconds / run.wall_seconds.max(1e-9)),
        None => "?".to_owned(),
    }
}

fn megabytes(bytes: u64) -> String {
    format!("{:.1} MB", bytes as f64 / 1e6)
}

fn millions(count: f64) -> String {
    format!("{:.2} M", count / 1e6)
}

/// The median run by wall time.
fn median(runs: &[Run]) -> Run {
    let mut sorted = runs.to_vec();
    sorted.sort_by(|left, right| left.wall_seconds.total_cmp(&right.wall_seconds));
    sorted.get(sorted.len() / 2).copied().unwrap_or_default()
}

fn fastest(runs: &[Run]) -> f64 {
    runs.iter()
        .map(|run| run.wall_seconds)
        .fold(f64::INFINITY, f64::min)
}

fn print_walls(runs: &[Run]) -> String {
    runs.iter()
        .map(|run| format!("{:.3}", run.wall_seconds))
        .collect::<Vec<_>>()
        .join(" ")
}

pub async fn run(args: SearchArgs) -> anyhow::Result<()> {
    let threads = args.threads.unwrap_or_else(|| {
        std::thread::available_parallelism()
            .map(|count| count.get())
            .unwrap_or(1)
    });
    let shape = Shape {
        seed: args.seed,
        spans: args.spans.max(1),
        spans_per_trace: args.spans_per_trace.max(1),
        spans_per_block: args.spans_per_block.max(1),
    };
    let config = BlockConfig::default();
    std::fs::create_dir_all(&args.dir)
        .with_context(|| format!("creating {}", args.dir.display()))?;
    let store = data::local_store(&args.dir)?;
    let (blocks, manifest) = data::prepare(&args.dir, shape, &config, Arc::clone(&store)).await?;
    let texts: Vec<String> = if args.queries.is_empty() {
        DEFAULT_QUERIES
            .iter()
            .map(|text| (*text).to_owned())
            .collect()
    } else {
        args.queries.clone()
    };
    let searches = texts
        .iter()
        .map(|text| Search::new(text).map(Arc::new))
        .collect::<anyhow::Result<Vec<_>>>()?;
    let cache: Arc<dyn Cache> = Arc::new(MemoryCache::new(args.cache_mb << 20));
    let corpus = Corpus {
        blocks,
        store,
        cache,
        concurrency: threads * 2,
    };
    let spans: u64 = corpus.blocks.iter().map(|meta| meta.total_spans).sum();
    let row_groups: u64 = corpus
        .blocks
        .iter()
        .map(|meta| u64::from(meta.total_records))
        .sum();
    let data_bytes: u64 = corpus.blocks.iter().map(|meta| meta.size).sum();
    println!(
        "search: {spans} spans, {} blocks, {row_groups} row groups; data.parquet {} ({:.1} bytes/span), {} on disk in all; {:.1} OTLP bytes/span",
        corpus.blocks.len(),
        megabytes(data_bytes),
        data_bytes as f64 / spans.max(1) as f64,
        megabytes(data::disk_usage(&args.dir.join("blocks"))),
        manifest.otlp_bytes_per_span
    );
    println!(
        "  {threads} worker threads ({} row-group jobs at a time); {} repetitions; memory cache of {} MB (bloom filters, index, footers; column data is never cached, but the OS page cache holds the files)",
        corpus.concurrency, args.repetitions, args.cache_mb
    );
    println!(
        "  per core = spans / process CPU seconds (getrusage user+sys); wall figures are the median repetition; load average {}",
        load_average()
    );
    // The measurements run on their own runtime with exactly `threads` workers.
    let repetitions = args.repetitions.max(1);
    let no_tags = args.no_tags;
    tokio::task::spawn_blocking(move || {
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(threads.max(1))
            .enable_all()
            .build()?;
        runtime.block_on(measure_all(corpus, searches, repetitions, threads, no_tags))
    })
    .await?
}

async fn measure_all(
    corpus: Corpus,
    searches: Vec<Arc<Search>>,
    repetitions: usize,
    threads: usize,
    no_tags: bool,
) -> anyhow::Result<()> {
    for search in &searches {
        let mut runs = Vec::with_capacity(repetitions);
        let mut found = None;
        for _ in 0..repetitions {
            let (result, run) = search_once(&corpus, search).await?;
            runs.push(run);
            found = Some(result);
        }
        let found = found.unwrap_or_default();
        let run = median(&runs);
        let scanned = found.stats.inspected_spans as f64;
        println!("{}", search.text);
        println!(
            "  wall          {:.3} s median, {:.3} s best ({})",
            run.wall_seconds,
            fastest(&runs),
            print_walls(&runs)
        );
        println!(
            "  scanned       {} spans ({} traces); matched {} traces ({} spans in their spansets)",
            found.stats.inspected_spans, found.stats.inspected_traces, found.traces, found.spans
        );
        println!(
            "  rate          {} spans/s; per core {} spans/s (cpu {:.2} s, {:.2} cores busy, other processes {} cores); wall x threads {} spans/s/core",
            millions(scanned / run.wall_seconds.max(1e-9)),
            millions(scanned / run.cpu_seconds.max(1e-9)),
            run.cpu_seconds,
            run.cpu_seconds / run.wall_seconds.max(1e-9),
            others(&run),
            millions(scanned / (run.wall_seconds * threads as f64).max(1e-9)),
        );
        println!(
            "  storage       {} in {} reads (first repetition {} in {} reads); engine's inspected bytes {}",
            megabytes(run.store_bytes),
            run.store_reads,
            megabytes(runs[0].store_bytes),
            runs[0].store_reads,
            megabytes(found.stats.inspected_bytes)
        );
        println!(
            "  row groups    {} read, {} pruned",
            found.stats.row_groups_read, found.stats.row_groups_pruned
        );
    }
    if !no_tags {
        measure_tags(&corpus, repetitions).await?;
    }
    println!(
        "peak rss {}; load average {}",
        super::process::peak_rss_bytes(std::process::id())
            .map(megabytes)
            .unwrap_or_else(|| "?".to_owned()),
        load_average()
    );
    Ok(())
}

async fn measure_tags(corpus: &Corpus, repetitions: usize) -> anyhow::Result<()> {
    let tag_queries = vec![
        Tags::names(),
        Tags::values("resource.service.name", None)?,
        Tags::values("span.http.status_code", None)?,
        Tags::values("name", Some(r#"{ resource.service.name = "service-3" }"#))?,
    ];
    for tags in tag_queries {
        let tags = Arc::new(tags);
        let mut runs = Vec::with_capacity(repetitions);
        let mut count = 0;
        for _ in 0..repetitions {
            let (found, run) = tags_once(corpus, &tags).await?;
            runs.push(run);
            count = found;
        }
        let run = median(&runs);
        println!("{}", tags.label);
        println!(
            "  latency       {:.3} s median, {:.3} s best ({}); cpu {:.2} s, other processes {} cores",
            run.wall_seconds,
            fastest(&runs),
            print_walls(&runs),
            run.cpu_seconds,
            others(&run)
        );
        println!(
            "  found         {count}; storage {} in {} reads",
            megabytes(run.store_bytes),
            run.store_reads
        );
    }
    Ok(())
}
