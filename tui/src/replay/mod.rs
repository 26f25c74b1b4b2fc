//! `hopscope replay FILE... [--speed N | --instant]`: the TUI over recorded files.
//!
//! A feeder thread reads the files in order (any format `read_paths` knows) and hands each
//! record's spans to the engine, waiting between records for the original gap scaled by the
//! speed, so lag builds up and sagas get stuck as they did live. The engine's event clock
//! follows the replayed data (its watermark). The TUI steers the feeder through
//! [`ReplayControl`]: pause, resume, faster, slower, and seek-to-start (the feeder clears the
//! engine, in order with what it fed, and reads the files again from the top). `--instant`
//! feeds everything at once.
//!
//! The controller and the feeder ([`control`]) know nothing of the TUI; this mode starts
//! them and the TUI over them.

pub mod control;

use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::{Arc, Mutex};

use anyhow::{Context as _, Result, bail};
use hopscope_collector::engine::views::{ClockMode, ViewConfig};
use hopscope_collector::engine::{Engine, EngineConfig};
use hopscope_collector::formats::read::ReadReport;
use hopscope_collector::model::Interner;
use hopscope_collector::otlp::convert::Decoder;

use self::control::{ReplayControl, feed, feed_from_the_start};
use crate::app::{self, Mode};
use crate::cli::ReplayArgs;
use crate::serve::{StopSignals, stats_line};

/// Standard input can be read once, and seeking to the start (`r`) reads the files again:
/// a `-` among `files` is copied to a temporary file first, which replaces it.
fn spool_stdin(files: &[PathBuf]) -> Result<(Vec<PathBuf>, Option<tempfile::NamedTempFile>)> {
    if !files.iter().any(|p| p.as_os_str() == "-") {
        return Ok((files.to_vec(), None));
    }
    let mut spool = tempfile::NamedTempFile::new().context("cannot spool standard input")?;
    std::io::copy(&mut std::io::stdin().lock(), spool.as_file_mut())
        .context("cannot read standard input")?;
    let files = files
        .iter()
        .map(|p| if p.as_os_str() == "-" { spool.path().to_path_buf() } else { p.clone() })
        .collect();
    Ok((files, Some(spool)))
}

/// Runs `hopscope replay`.
pub async fn run(args: ReplayArgs) -> Result<ExitCode> {
    for path in &args.files {
        if path.as_os_str() != "-" && !path.exists() {
            eprintln!("hopscope: cannot read {}: no such file or directory", path.display());
            return Ok(ExitCode::from(2));
        }
    }
    if !args.headless {
        app::require_terminal("run `hopscope analyze FILE...` for a report without one")?;
    }
    let speed = if args.instant { None } else { Some(args.speed.unwrap_or(1.0)) };
    if let Some(s) = speed
        && !(s > 0.0 && s.is_finite())
    {
        bail!("--speed must be a positive number, not {s}");
    }
    let interner = Arc::new(Interner::new());
    let config = EngineConfig {
        max_memory: args.max_memory.unwrap_or(1 << 30),
        record: args.record.clone().map(hopscope_collector::formats::record::RecordOptions::new),
        ..EngineConfig::default()
    };
    let engine =
        Engine::start(&config, Arc::clone(&interner)).with_context(|| match &args.record {
            Some(path) => format!("cannot start the engine recording to {}", path.display()),
            None => "cannot start the engine".to_owned(),
        })?;
    if args.headless
        && let Some(path) = &args.record
    {
        eprintln!("hopscope: recording to {}", path.display());
    }
    let control = ReplayControl::new(speed);
    let names: Vec<String> = args.files.iter().map(|p| p.display().to_string()).collect();
    let decoder = Decoder::new(interner);
    if args.headless {
        return headless(engine, &control, args.files, decoder, &names).await;
    }
    let report: Arc<Mutex<Option<Result<ReadReport>>>> = Arc::default();
    {
        let (ingest, control, report) =
            (engine.ingest(), Arc::clone(&control), Arc::clone(&report));
        let (files, spool) = spool_stdin(&args.files)?;
        // Not joined: on quit the process exits whatever the feeder is doing.
        std::thread::Builder::new().name("hopscope-replay".into()).spawn(move || {
            // Kept (and deleted) with the feeder that reads it.
            let _spool = spool;
            feed_from_the_start(&files, &decoder, &ingest, &control, &mut |r| {
                *report.lock().unwrap_or_else(std::sync::PoisonError::into_inner) = Some(r);
            });
        })?;
    }
    let view_config = ViewConfig {
        clock: ClockMode::Replay,
        stuck_after: args.stuck_after.unwrap_or(hopscope_collector::analysis::DEFAULT_STUCK_AFTER),
        ..ViewConfig::default()
    };
    let shown = app::show(
        Mode::Replay { files: names.join(" ") },
        engine.views(),
        Some(Arc::clone(&control)),
        view_config,
    )
    .await;
    control.stop();
    shown?;
    let report = report.lock().unwrap_or_else(std::sync::PoisonError::into_inner).take();
    Ok(outcome(report, &names))
}

/// `--headless`: feeds every file into the engine at the replay's pace (Ctrl-C or SIGTERM
/// stops early), drains the engine, prints the stats line and exits.
async fn headless(
    engine: Engine,
    control: &Arc<ReplayControl>,
    files: Vec<PathBuf>,
    decoder: Decoder,
    names: &[String],
) -> Result<ExitCode> {
    let signals = StopSignals::register()?;
    let ingest = engine.ingest();
    let feeder_control = Arc::clone(control);
    let mut feeder =
        tokio::task::spawn_blocking(move || feed(&files, &decoder, &ingest, &feeder_control));
    let report = tokio::select! {
        r = &mut feeder => r,
        r = signals.recv() => {
            r?;
            eprintln!("hopscope: stopping the replay");
            control.stop();
            feeder.await
        }
    }
    .context("the replay feeder panicked")?;
    let summary = tokio::task::spawn_blocking(move || engine.shutdown())
        .await
        .context("engine shutdown")??;
    let code = outcome(Some(report), names);
    eprintln!("{}", stats_line(&summary.stats, 0));
    Ok(code)
}

/// Reports what the feeder read (problems, skipped records); exit 2 when nothing could be.
fn outcome(report: Option<Result<ReadReport>>, names: &[String]) -> ExitCode {
    match report {
        Some(Ok(r)) => {
            for p in &r.problems {
                eprintln!("hopscope: {p}");
            }
            if r.skipped > 0 {
                eprintln!("hopscope: {} records skipped", r.skipped);
            }
            if r.is_empty() {
                eprintln!("hopscope: nothing could be read from {}", names.join(" "));
                return ExitCode::from(2);
            }
        }
        Some(Err(e)) => {
            eprintln!("hopscope: {e:#}");
            return ExitCode::from(2);
        }
        None => {}
    }
    ExitCode::SUCCESS
}
