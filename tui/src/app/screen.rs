//! The screens in tab order, and what their tabs say: each tab's label and its badge (what
//! needs a look there), from counts taken over the whole view when it arrives.

use hopscope_collector::analysis::{FlowStatus, LagStatus, SagaState};
use hopscope_collector::engine::views::View;
use hopscope_collector::format;

use super::theme::Tone;
use super::vm::Seg;

/// The screens, in tab order.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Screen {
    Flows,
    Graph,
    Sagas,
    Lag,
    Insights,
    Architecture,
    Events,
}

impl Screen {
    pub const ALL: [Screen; 7] = [
        Screen::Flows,
        Screen::Graph,
        Screen::Sagas,
        Screen::Lag,
        Screen::Insights,
        Screen::Architecture,
        Screen::Events,
    ];

    /// The digit that shows it (DESIGN.md §5: 1 Flows … 7 Events), on its tab.
    pub fn number(self) -> u8 {
        match self {
            Screen::Flows => 1,
            Screen::Graph => 2,
            Screen::Sagas => 3,
            Screen::Lag => 4,
            Screen::Insights => 5,
            Screen::Architecture => 6,
            Screen::Events => 7,
        }
    }

    pub fn title(self) -> &'static str {
        match self {
            Screen::Flows => "Flows",
            Screen::Graph => "Graph",
            Screen::Sagas => "Sagas",
            Screen::Lag => "Lag",
            Screen::Insights => "Insights",
            Screen::Architecture => "Architecture",
            Screen::Events => "Events",
        }
    }

    /// A shorter title, for a tab bar too narrow for the full ones.
    pub fn short_title(self) -> &'static str {
        match self {
            Screen::Architecture => "Arch",
            other => other.title(),
        }
    }

    /// Its place in the tab order.
    pub fn index(self) -> usize {
        Screen::ALL.iter().position(|s| *s == self).unwrap_or(0)
    }

    /// The next screen in tab order, or the previous one (`forward` false), wrapping.
    pub fn cycle(self, forward: bool) -> Screen {
        let n = Screen::ALL.len();
        Screen::ALL[(self.index() + if forward { 1 } else { n - 1 }) % n]
    }
}

/// Counts over the whole view, taken when it arrives (so a frame never scans the flows).
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub struct Totals {
    /// Flows in error or stuck.
    pub failed_flows: usize,
    /// Sagas stuck or failed.
    pub failed_sagas: usize,
    /// Subscriptions stalled or warning.
    pub lagging: usize,
    pub insights: usize,
    /// From the first flow's start to the event clock: what graph rates divide by.
    pub data_seconds: f64,
}

impl Totals {
    pub fn of(view: &View) -> Self {
        let a = &view.analysis;
        let flows = || view.flows.iter().map(|r| &r.flow);
        let start = flows().map(|f| f.start_unix_nano).min().unwrap_or(0);
        let end = flows().map(|f| f.end_unix_nano).max().unwrap_or(0);
        Self {
            failed_flows: flows()
                .filter(|f| matches!(f.status, FlowStatus::Error | FlowStatus::Stuck))
                .count(),
            failed_sagas: a
                .sagas
                .iter()
                .filter(|x| matches!(x.state, SagaState::Stuck | SagaState::Failed))
                .count(),
            lagging: a
                .lag
                .iter()
                .filter(|l| matches!(l.status, LagStatus::Stalled | LagStatus::Warn))
                .count(),
            insights: a.insights.len(),
            data_seconds: view.clock.now_unix_nano.max(end).saturating_sub(start) as f64 / 1e9,
        }
    }
}

/// One tab: its screen, its label and its badge.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Tab {
    pub screen: Screen,
    pub label: String,
    pub badge: Option<Seg>,
}

impl Tab {
    /// Columns it takes, label and badge.
    pub fn width(&self) -> usize {
        format::width(&self.label) + self.badge.as_ref().map_or(0, |b| format::width(&b.text))
    }
}

/// Every tab, in order, in `room` columns (each tab and a separator): the full titles when
/// they fit, else the short ones, else only the `current` screen's title beside the others'
/// digits and badges.
pub fn tabs(totals: &Totals, room: usize, current: Screen) -> Vec<Tab> {
    let fits = |tabs: &[Tab]| tabs.iter().map(|t| t.width() + 1).sum::<usize>() <= room;
    let full = tabs_titled(totals, |_| true, Screen::title);
    if fits(&full) {
        return full;
    }
    let short = tabs_titled(totals, |_| true, Screen::short_title);
    if fits(&short) {
        return short;
    }
    tabs_titled(totals, |s| s == current, Screen::short_title)
}

fn tabs_titled(
    totals: &Totals,
    titled: impl Fn(Screen) -> bool,
    title: fn(Screen) -> &'static str,
) -> Vec<Tab> {
    let count = |n: usize, symbol: &str, tone: Tone| {
        (n > 0).then(|| Seg::new(format!("{symbol}{n} "), tone))
    };
    Screen::ALL
        .iter()
        .map(|&screen| {
            let badge = match screen {
                Screen::Flows => count(totals.failed_flows, "✗", Tone::Bad),
                Screen::Graph | Screen::Architecture | Screen::Events => None,
                Screen::Sagas => count(totals.failed_sagas, "⚠", Tone::Warn),
                Screen::Lag => count(totals.lagging, "⚠", Tone::Warn),
                Screen::Insights => count(totals.insights, "", Tone::Accent),
            };
            let label = if titled(screen) {
                format!(" {} {} ", screen.number(), title(screen))
            } else {
                format!(" {} ", screen.number())
            };
            Tab { screen, label, badge }
        })
        .collect()
}
