//! `vivace bench`: a load generator for a running Vivace (or Tempo) node.
//!
//! - `vivace bench ingest`: OTLP gRPC exports from N concurrent connections; prints spans/s accepted,
//!   and, given the server's pid, its CPU seconds per million spans and peak RSS.
//! - `vivace bench lookup`: writes traces spread over several flushed blocks, then measures
//!   trace-by-ID latency (p50/p99) for recent data and for blocks.
//! - `vivace bench search`: TraceQL search throughput (spans/s per core, bytes read per query)
//!   and tag latency over flushed blocks it writes to a local-disk store.
//! - `vivace bench visibility`: how long after an OTLP export is acknowledged a running node's
//!   `/api/search` finds the trace.

mod generate;
mod ingest;
mod lookup;
mod process;
mod search;

use std::process::ExitCode;

use clap::{Parser, Subcommand};

#[derive(Parser, Debug)]
#[command(name = "vivace bench", about = "Load generator for Vivace")]
struct BenchArgs {
    #[command(subcommand)]
    command: BenchCommand,
}

#[derive(Subcommand, Debug)]
enum BenchCommand {
    /// Sends OTLP gRPC exports and reports throughput.
    Ingest(ingest::IngestArgs),
    /// Measures trace-by-ID latency for recent data and flushed blocks.
    Lookup(lookup::LookupArgs),
    /// Measures TraceQL search throughput and tag latency over flushed blocks.
    Search(search::SearchArgs),
    /// Measures how long after an acknowledged export a trace is found by search.
    Visibility(search::visibility::VisibilityArgs),
}

/// Entry point of `vivace bench ...` (arguments after `bench`).
pub fn main(args: &[String]) -> ExitCode {
    let parsed = match BenchArgs::try_parse_from(
        std::iter::once("vivace bench".to_owned()).chain(args.iter().cloned()),
    ) {
        Ok(parsed) => parsed,
        Err(error) => {
            let _ = error.print();
            return if error.use_stderr() {
                ExitCode::from(2)
            } else {
                ExitCode::SUCCESS
            };
        }
    };
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(runtime) => runtime,
        Err(error) => {
            eprintln!("vivace bench: failed to start the runtime: {error}");
            return ExitCode::FAILURE;
        }
    };
    let outcome = runtime.block_on(async move {
        match parsed.command {
            BenchCommand::Ingest(ingest_args) => ingest::run(ingest_args).await,
            BenchCommand::Lookup(lookup_args) => lookup::run(lookup_args).await,
            BenchCommand::Search(search_args) => search::run(search_args).await,
            BenchCommand::Visibility(visibility_args) => {
                search::visibility::run(visibility_args).await
            }
        }
    });
    match outcome {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("vivace bench: {error:#}");
            ExitCode::FAILURE
        }
    }
}
