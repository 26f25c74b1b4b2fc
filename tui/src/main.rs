//! The `hopscope` binary: parses the command line and runs the mode it names. The modes live
//! in the `hopscope` library.

use std::process::ExitCode;

use clap::Parser;
use hopscope::{analyze, catalog, cli, demo, export, live, replay, serve};

/// mimalloc: ingest allocates and frees millions of small objects across threads, where
/// glibc's allocator spent ~40% of the collector's CPU (perf, under loadgen).
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() -> ExitCode {
    let cli = cli::Cli::parse();
    let runtime = match tokio::runtime::Builder::new_multi_thread().enable_all().build() {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("hopscope: cannot start the async runtime: {e}");
            return ExitCode::from(1);
        }
    };
    let result = match cli.command {
        None => runtime.block_on(live::run(cli.live)),
        Some(cli::Command::Serve(args)) => runtime.block_on(serve::run(args)),
        Some(cli::Command::Replay(args)) => runtime.block_on(replay::run(args)),
        Some(cli::Command::Demo(args)) => runtime.block_on(demo::run(args)),
        Some(cli::Command::Analyze(args)) => analyze::run(&args),
        Some(cli::Command::Export(args)) => export::run(&args),
        Some(cli::Command::Catalog(args)) => catalog::run(&args),
    };
    match result {
        Ok(code) => code,
        Err(e) => {
            eprintln!("hopscope: error: {e:#}");
            // Unusable settings (a TLS pair half given, a bad file) are usage errors, as
            // clap's own: exit 2 in every mode.
            ExitCode::from(if hopscope::config::is_usage_error(&e) { 2 } else { 1 })
        }
    }
}
