//! The terminal UI, one module per screen: [`flows`], [`graph`], [`sagas`], [`lag`],
//! [`insights`], [`architecture`], [`events`], the flow [`detail`] opened over them, and the [`help`] overlay; each holds
//! its state, its keys and its view-model (and its widget where it draws something of its
//! own). Around them: what they share ([`state`]), the one transition ([`update`]), the one
//! key-binding table ([`keys`]), the chrome and the frame ([`chrome`]), the geometry
//! ([`layout`]), the view-model building blocks ([`vm`]) and shared widgets ([`widgets`]).
//! Here: the terminal loop, the only part that does I/O (terminal events, engine requests,
//! export files).
//!
//! ```text
//!  hopscope replay shop.jsonl │ ✓ instant │ 0 spans/s │ 51 spans 8 flows │ mem …   event clock 2023-11-14 22:14:21 UTC
//!  1 Flows ▏ 2 Graph   3 Sagas   4 Lag   5 Insights              ✗ 3 failed flows  ⚠ 1 stuck sagas  ? help
//! STATUS      ROOT                                      START         DURATION TRACES SVCS HOPS WORST QUEUE
//! ✓ ok        gateway POST /checkout  → orders, …       22:13:20.000      1.7s      5    7    5       1.24s
//! ✗ error     gateway GET /cart  → cart, inventory      22:13:23.000      80ms      1    3    0           -
//! …
//!  ↑↓ select  Enter open  / filter  s/S sort  e/E export  p pause  q quit
//! ```
//!
//! Data flows one way: the engine publishes `Arc<View>`s; [`update::update`] takes each one
//! (and every key, click and resize) and derives the orders the screens show;
//! [`chrome::frame`] builds plain view-models for what fits on screen; widgets draw them. Drawing happens
//! only when something changed; the loop sleeps in `poll` otherwise.

mod architecture;
pub mod bench_support;
mod chrome;
pub(crate) mod detail;
mod events;
mod filter;
mod flows;
pub(crate) mod fmt;
mod graph;
mod help;
mod insights;
mod keys;
mod lag;
mod layout;
mod list;
pub mod msg;
mod sagas;
mod screen;
pub mod state;
mod theme;
pub mod update;
mod vm;
mod widgets;

#[cfg(test)]
mod tests;

use std::io::Write;
use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use anyhow::{Context as _, Result};
use hopscope_collector::engine::views::{ViewConfig, ViewHandle, ViewRequest};
use ratatui::Frame;
use ratatui::crossterm::event::{
    self, DisableMouseCapture, EnableMouseCapture, Event, MouseEventKind,
};
use ratatui::crossterm::execute;

use self::msg::{Intent, Msg};
use self::state::State;
pub use self::state::{Context, Mode};
pub use self::theme::Theme;
use self::update::update;
use crate::replay::control::ReplayControl;

/// Draws the whole frame from the state. Reads only; changes nothing.
pub fn render(state: &State, frame: &mut Frame<'_>) {
    let vm = chrome::frame(state);
    frame.render_widget(&vm, frame.area());
}

/// Draws the whole frame into `buf` (its area is the screen), as [`render`] does into a
/// terminal frame. Reads only.
pub fn render_to_buffer(state: &State, buf: &mut ratatui::buffer::Buffer) {
    use ratatui::widgets::Widget;
    let vm = chrome::frame(state);
    (&vm).render(buf.area, buf);
}

/// What the loop talks to.
pub struct Io {
    pub views: ViewHandle,
    pub replay: Option<Arc<ReplayControl>>,
    /// Set from outside (SIGTERM) to make the loop return.
    pub stop: Arc<AtomicBool>,
    /// Where exports are written.
    pub export_dir: PathBuf,
}

/// Fails, saying what to run instead, when stdin or stdout is not a terminal: the UI would
/// have nothing to draw on. Checked before anything starts.
pub fn require_terminal(instead: &str) -> Result<()> {
    use std::io::IsTerminal;
    // Keys are read from stdin, or from the controlling terminal when stdin is a pipe
    // (`cat rec.jsonl | hopscope replay -`), as crossterm does.
    let keys = std::io::stdin().is_terminal()
        || std::fs::OpenOptions::new().read(true).write(true).open("/dev/tty").is_ok();
    if std::io::stdout().is_terminal() && keys {
        return Ok(());
    }
    anyhow::bail!("the terminal UI needs a terminal, and stdin or stdout is not one; {instead}")
}

/// How long the loop sleeps waiting for input before looking for a new view.
const POLL: Duration = Duration::from_millis(50);

/// Runs the TUI until the user quits (or `io.stop` is set). Restores the terminal on the way
/// out, on error and on panic.
pub fn run(ctx: Context, io: &mut Io) -> Result<()> {
    let mut terminal = ratatui::try_init().context("cannot open the terminal")?;
    let previous = std::panic::take_hook();
    std::panic::set_hook(Box::new(move |info| {
        let _ = execute!(std::io::stdout(), DisableMouseCapture);
        previous(info);
    }));
    let _ = execute!(std::io::stdout(), EnableMouseCapture);
    let result = event_loop(&mut terminal, ctx, io);
    let _ = execute!(std::io::stdout(), DisableMouseCapture);
    ratatui::restore();
    let _ = std::io::stdout().flush();
    result
}

fn event_loop(terminal: &mut ratatui::DefaultTerminal, ctx: Context, io: &mut Io) -> Result<()> {
    let size = terminal.size()?;
    let mut state = State::new(ctx, io.views.latest(), size.width, size.height);
    let mut dirty = true;
    loop {
        if io.stop.load(Ordering::Relaxed) {
            return Ok(());
        }
        if let Some(replay) = &io.replay {
            let status = replay.status();
            if state.replay != Some(status) {
                update(&mut state, Msg::Replay(status));
                dirty = true;
            }
        }
        if let Some(view) = io.views.changed() {
            if let Some(intent) = update(&mut state, Msg::View(view))
                && carry_out(&mut state, intent, io)
            {
                return Ok(());
            }
            dirty = true;
        }
        if dirty {
            terminal.draw(|f| render(&state, f))?;
            dirty = false;
        }
        if !event::poll(POLL)? {
            continue;
        }
        // Take every pending event before drawing again.
        loop {
            let msg = match event::read()? {
                Event::Key(k) => Msg::Key(k),
                Event::Mouse(m)
                    if matches!(m.kind, MouseEventKind::Moved | MouseEventKind::Drag(_)) =>
                {
                    continue;
                }
                Event::Mouse(m) => Msg::Mouse(m),
                Event::Resize(w, h) => Msg::Resize(w, h),
                _ => continue,
            };
            dirty = true;
            if let Some(intent) = update(&mut state, msg)
                && carry_out(&mut state, intent, io)
            {
                return Ok(());
            }
            if !event::poll(Duration::ZERO)? {
                break;
            }
        }
    }
}

/// Does what an update asked; returns whether to quit.
fn carry_out(state: &mut State, intent: Intent, io: &Io) -> bool {
    match intent {
        Intent::Quit => return true,
        Intent::Request(r) => io.views.request(r),
        Intent::Replay(c) => {
            if let Some(replay) = &io.replay {
                replay.command(c);
            }
        }
        Intent::Export(e) => {
            let path = io.export_dir.join(&e.file_name);
            let result = std::fs::write(&path, e.contents.as_bytes())
                .map(|()| std::fs::canonicalize(&path).unwrap_or(path.clone()))
                .map_err(|err| format!("cannot write {}: {err}", path.display()));
            update(state, Msg::Exported(result));
        }
    }
    false
}

/// Runs the TUI on a blocking thread over `views`, until the user quits, SIGINT or SIGTERM.
/// Tells the engine how to build views first (`clock`, `stuck_after`).
pub async fn show(
    mode: Mode,
    views: ViewHandle,
    replay: Option<Arc<ReplayControl>>,
    config: ViewConfig,
) -> Result<()> {
    show_until(mode, views, replay, config, std::future::pending()).await
}

/// [`show`], also ending (the terminal restored) when `until` completes.
pub async fn show_until(
    mode: Mode,
    views: ViewHandle,
    replay: Option<Arc<ReplayControl>>,
    config: ViewConfig,
    until: impl std::future::Future<Output = ()>,
) -> Result<()> {
    views.request(ViewRequest::Configure(config));
    let stop = Arc::new(AtomicBool::new(false));
    let mut io = Io {
        views,
        replay,
        stop: Arc::clone(&stop),
        export_dir: std::env::current_dir().unwrap_or_else(|_| PathBuf::from(".")),
    };
    let ctx = Context { mode, theme: Theme::from_env() };
    let mut ui = tokio::task::spawn_blocking(move || run(ctx, &mut io));
    tokio::select! {
        result = &mut ui => return result.context("the terminal UI thread failed")?,
        r = crate::serve::wait_for_signal() => r?,
        () = until => {}
    }
    // Asked to stop from outside: the loop sees the flag within one poll and restores the
    // terminal before returning.
    stop.store(true, Ordering::Relaxed);
    ui.await.context("the terminal UI thread failed")?
}
