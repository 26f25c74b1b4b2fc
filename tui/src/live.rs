//! `hopscope` with no subcommand: the embedded collector, and the TUI over what it receives.

use std::process::ExitCode;

use anyhow::Result;
use hopscope_collector::engine::views::{ClockMode, ViewConfig};

use crate::app::{self, Mode};
use crate::cli::{LiveArgs, ServeArgs};

/// Runs the collector and the TUI until the user quits; reports what was recorded.
pub async fn run(args: LiveArgs) -> Result<ExitCode> {
    app::require_terminal("run `hopscope serve` for the collector without a terminal UI")?;
    let serve_args = ServeArgs {
        collector: args.collector.clone(),
        record: args.record.clone(),
        stats_interval: None,
    };
    let settings = crate::config::serve(&serve_args)?;
    let collector =
        crate::serve::Collector::start(&settings.collector, settings.record.clone()).await?;
    let mode = Mode::Live {
        grpc: collector.receivers.grpc_addr.to_string(),
        http: collector.receivers.http_addr.to_string(),
    };
    let config = ViewConfig {
        clock: ClockMode::Live,
        stuck_after: args.stuck_after.unwrap_or(hopscope_collector::analysis::DEFAULT_STUCK_AFTER),
        ..ViewConfig::default()
    };
    let shown = app::show(mode, collector.engine.views(), None, config).await;
    let summary = collector.stop().await?;
    shown?;
    if let Some(path) = &settings.record {
        eprintln!("hopscope: recorded {} spans to {}", summary.stats.recorded, path.display());
    }
    Ok(ExitCode::SUCCESS)
}
