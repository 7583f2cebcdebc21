//! `vivace`: a distributed tracing backend that stands where Grafana Tempo stands.
//!
//! `vivace [flags]` runs the node (Tempo's flags and configuration file); `vivace bench ...` runs the
//! built-in load generator.

mod app;
mod bench;
mod cluster_settings;
mod config;
mod http;
mod ingest;
mod settings;
mod streaming;
mod telemetry;

use std::process::ExitCode;

fn init_logging(level: &str) {
    let filter = tracing_subscriber::EnvFilter::try_from_default_env().unwrap_or_else(|_| {
        tracing_subscriber::EnvFilter::new(format!("{level},h2=warn,hyper=warn,tower=warn"))
    });
    let ansi = std::io::IsTerminal::is_terminal(&std::io::stdout());
    tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_target(false)
        .with_ansi(ansi)
        .init();
}

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    if args.first().map(String::as_str) == Some("bench") {
        return bench::main(&args[1..]);
    }
    let loaded = match config::load(&args) {
        Ok(loaded) => loaded,
        Err(error) => {
            eprintln!("vivace: {error}");
            return ExitCode::from(2);
        }
    };
    if loaded.print_version {
        println!(
            "vivace, version {} (Tempo API {})",
            env!("CARGO_PKG_VERSION"),
            http::TEMPO_API_VERSION
        );
        return ExitCode::SUCCESS;
    }
    if loaded.print_help {
        println!("{}", config::usage());
        return ExitCode::SUCCESS;
    }
    init_logging(&loaded.config.server.log_level);
    for warning in &loaded.warnings {
        tracing::warn!("{warning}");
    }
    let settings = match settings::NodeSettings::from_config(&loaded.config) {
        Ok(settings) => settings,
        Err(error) => {
            eprintln!("vivace: {error:#}");
            return ExitCode::from(2);
        }
    };
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .thread_name("vivace-io")
        .build()
    {
        Ok(runtime) => runtime,
        Err(error) => {
            eprintln!("vivace: failed to start the runtime: {error}");
            return ExitCode::FAILURE;
        }
    };
    match runtime.block_on(app::run(settings)) {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            tracing::error!("{error:#}");
            eprintln!("vivace: {error:#}");
            ExitCode::FAILURE
        }
    }
}
