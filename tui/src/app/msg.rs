//! What goes into `update` ([`Msg`]: a key, a click, a view, a replay status, a resize, an
//! export's outcome) and what may come out of it ([`Intent`]: what the main loop should do).

use std::path::PathBuf;
use std::sync::Arc;

use hopscope_collector::engine::views::{View, ViewRequest};
use ratatui::crossterm::event::{KeyEvent, MouseEvent};

use crate::flow_export::Export;
use crate::replay::control::{ReplayCommand, ReplayStatus};

/// An input or an event.
#[derive(Debug, Clone)]
pub enum Msg {
    Key(KeyEvent),
    Mouse(MouseEvent),
    /// The engine published a view.
    View(Arc<View>),
    Replay(ReplayStatus),
    Resize(u16, u16),
    /// An export was written (its path) or failed (why).
    Exported(Result<PathBuf, String>),
}

/// What the main loop should do after an update.
#[derive(Debug, Clone, PartialEq)]
pub enum Intent {
    Quit,
    Request(ViewRequest),
    Export(Export),
    Replay(ReplayCommand),
}
