//! The chrome around every screen, and the frame that puts it together: the header (mode,
//! endpoints, rates, store, memory, the event clock), the tab bar (with what needs a look on
//! each screen), the footer (the hint bar from the key-binding table, the filter being typed,
//! or a message), the body the screen on show builds, and the help over it.

use hopscope_collector::format;
use ratatui::buffer::Buffer;
use ratatui::layout::Rect;
use ratatui::style::Style;
use ratatui::widgets::Widget;

use super::architecture::vm::ArchitectureVm;
use super::detail::vm::DetailVm;
use super::events::vm::EventsVm;
use super::graph::vm::GraphVm;
use super::help::vm::HelpVm;
use super::keys::{self, Places};
use super::layout::{self, TAB_PAD};
use super::sagas::vm::SagasVm;
use super::screen::{Screen, tabs};
use super::state::{Mode, State};
use super::theme::Tone;
use super::vm::{BarVm, Line, Seg, TableVm, width_of};
use super::{architecture, detail, events, flows, fmt, graph, help, insights, lag, sagas};
use hopscope_collector::engine::views::ClockMode;

/// What the body shows.
#[derive(Debug, Clone, PartialEq)]
pub enum BodyVm {
    Table(TableVm),
    Detail(DetailVm),
    Sagas(SagasVm),
    Graph(GraphVm),
    Architecture(ArchitectureVm),
    Events(EventsVm),
}

/// A whole frame.
#[derive(Debug, Clone, PartialEq)]
pub struct FrameVm {
    pub header: BarVm,
    pub tabs: BarVm,
    pub body: BodyVm,
    pub footer: BarVm,
    pub help: Option<HelpVm>,
}

/// Builds the frame for a `width` × `height` terminal.
pub fn frame(state: &State) -> FrameVm {
    let areas = layout::areas(state.width, state.height);
    let body = if state.in_detail() {
        BodyVm::Detail(detail::vm::detail(state, areas.body))
    } else {
        match state.screen {
            Screen::Flows => BodyVm::Table(flows::vm::table(state, areas.body)),
            Screen::Graph => BodyVm::Graph(graph::vm::graph(state, areas.body)),
            Screen::Sagas => BodyVm::Sagas(sagas::vm::sagas(state, areas.body)),
            Screen::Lag => BodyVm::Table(lag::vm::lag(state, areas.body)),
            Screen::Insights => BodyVm::Table(insights::vm::insights(state, areas.body)),
            Screen::Architecture => {
                BodyVm::Architecture(architecture::vm::architecture(state, areas.body))
            }
            Screen::Events => BodyVm::Events(events::vm::events(state, areas.body)),
        }
    };
    FrameVm {
        header: header(state, areas.header.width),
        tabs: tabs_bar(state),
        body,
        footer: footer(state),
        help: state.help.then(|| help::vm::help(state, areas.body)),
    }
}

/// The header: mode and endpoints, rates, store, memory, refusals, the event clock. Parts
/// are dropped, least important first, until it fits.
fn header(state: &State, width: u16) -> BarVm {
    let v = &state.view;
    let s = &v.stats;
    let theme = state.ctx.theme;
    // (priority: lower stays longer, segments)
    let mut parts: Vec<(u8, Line)> = Vec::new();
    parts.push((0, vec![Seg::new(" hopscope ", Tone::Title)]));
    match &state.ctx.mode {
        Mode::Live { grpc, http } | Mode::Demo { grpc, http } => {
            let name = if matches!(state.ctx.mode, Mode::Demo { .. }) { "demo" } else { "live" };
            parts.push((1, vec![Seg::new(name, Tone::Good)]));
            parts.push((
                5,
                vec![Seg::new("gRPC ", Tone::Dim), Seg::new(grpc.clone(), Tone::Normal)],
            ));
            parts.push((
                6,
                vec![Seg::new("HTTP ", Tone::Dim), Seg::new(http.clone(), Tone::Normal)],
            ));
        }
        Mode::Replay { files } => {
            let room = if width >= 120 { 40 } else { 20 };
            parts.push((
                1,
                vec![
                    Seg::new("replay ", Tone::Accent),
                    Seg::new(fmt::fit(files, room), Tone::Normal),
                ],
            ));
            if let Some(r) = &state.replay {
                let (text, tone) = if r.finished && r.speed.is_none() {
                    ("✓ instant".to_owned(), Tone::Good)
                } else if r.finished {
                    ("✓ done".to_owned(), Tone::Good)
                } else if r.paused {
                    ("⏸ paused".to_owned(), Tone::Warn)
                } else {
                    match r.speed {
                        Some(x) => (format!("▶ {}x", speed_text(x)), Tone::Moving),
                        None => ("▶ instant".to_owned(), Tone::Moving),
                    }
                };
                let mut seg = vec![Seg::new(text, tone)];
                if r.position_unix_nano > 0 && r.speed.is_some() {
                    seg.push(Seg::new(
                        format!(" at {}", fmt::clock_ms(r.position_unix_nano)),
                        Tone::Normal,
                    ));
                }
                parts.push((2, seg));
            }
        }
    }
    parts.push((
        3,
        vec![Seg::new(fmt::count(v.spans_per_sec), Tone::Normal), Seg::new(" spans/s", Tone::Dim)],
    ));
    parts.push((
        1,
        vec![
            Seg::new(fmt::count(s.stored), Tone::Normal),
            Seg::new(" spans ", Tone::Dim),
            Seg::new(fmt::count(v.flows.len() as u64), Tone::Normal),
            Seg::new(" flows", Tone::Dim),
        ],
    ));
    if v.max_memory > 0 {
        let tone = if s.store_bytes * 10 > v.max_memory * 9 { Tone::Warn } else { Tone::Normal };
        parts.push((
            4,
            vec![
                Seg::new("mem ", Tone::Dim),
                Seg::new(fmt::bytes(s.store_bytes), tone),
                Seg::new(format!("/{}", fmt::bytes(v.max_memory)), Tone::Dim),
            ],
        ));
    }
    parts.push((
        4,
        vec![
            Seg::new("refused ", Tone::Dim),
            Seg::new(fmt::count(s.refused), if s.refused > 0 { Tone::Bad } else { Tone::Normal }),
            Seg::new(" evicted ", Tone::Dim),
            Seg::new(fmt::count(s.evicted), if s.evicted > 0 { Tone::Warn } else { Tone::Normal }),
        ],
    ));
    // Connections the receivers' limits closed, the non-zero ones only.
    let closed: Line = [
        ("slow-headers", s.header_timeouts),
        ("stalled-bodies", s.body_timeouts),
        ("idle", s.idle_closed),
        ("no-ping", s.ping_timeouts),
        ("over-limit", s.limit_closed),
    ]
    .into_iter()
    .filter(|&(_, n)| n > 0)
    .flat_map(|(label, n)| {
        [Seg::new(format!(" {label} "), Tone::Dim), Seg::new(fmt::count(n), Tone::Warn)]
    })
    .collect();
    if !closed.is_empty() {
        let mut seg = vec![Seg::new("closed", Tone::Dim)];
        seg.extend(closed);
        parts.push((5, seg));
    }
    let clock = if v.clock.now_unix_nano == 0 {
        "--:--:--".to_owned()
    } else if width >= 120 {
        fmt::date_time(v.clock.now_unix_nano)
    } else {
        fmt::clock(v.clock.now_unix_nano)
    };
    let clock_label = match v.clock.mode {
        ClockMode::Live => "clock ",
        ClockMode::Replay => "event clock ",
    };
    let right: Line = {
        let mut r = Vec::new();
        if state.paused {
            r.push(Seg::new("⏸ PAUSED ", Tone::Warn));
        }
        if width >= 120 {
            r.push(Seg::new(clock_label, Tone::Dim));
            r.push(Seg::new(format!("{clock} UTC "), Tone::Normal));
        } else {
            r.push(Seg::new(format!("⏱ {clock} "), Tone::Normal));
        }
        r
    };
    let budget = usize::from(width).saturating_sub(width_of(&right) + 1);
    let sep = || Seg::new(" │ ", Tone::Dim);
    loop {
        let total: usize = parts.iter().map(|(_, l)| width_of(l) + 3).sum();
        if total <= budget || parts.len() <= 1 {
            break;
        }
        let worst = parts.iter().enumerate().max_by_key(|(i, (p, _))| (*p, *i)).map(|(i, _)| i);
        if let Some(i) = worst {
            parts.remove(i);
        }
    }
    let mut left = Vec::new();
    for (i, (_, l)) in parts.into_iter().enumerate() {
        if i > 1 {
            left.push(sep());
        } else if i == 1 {
            left.push(Seg::new(" ", Tone::Normal));
        }
        left.extend(l);
    }
    BarVm { theme, left, right, emphasis: false }
}

fn speed_text(x: f64) -> String {
    if (x - x.round()).abs() < 1e-9 { format!("{x:.0}") } else { format!("{x}") }
}

fn tabs_bar(state: &State) -> BarVm {
    let mut left = vec![Seg::new(" ".repeat(TAB_PAD), Tone::Normal)];
    let tabs = tabs(&state.totals, layout::tab_room(state.width), state.screen);
    let used = TAB_PAD + tabs.iter().map(|t| t.width() + 1).sum::<usize>();
    for tab in tabs {
        let active = tab.screen == state.screen;
        left.push(Seg::new(tab.label, if active { Tone::Title } else { Tone::Dim }));
        if let Some(b) = tab.badge {
            left.push(b);
        }
        left.push(Seg::new(if active { "▏" } else { " " }, Tone::Dim));
    }
    // "q quit" too when it fits.
    let quit = " q quit ";
    let right = if used + layout::TABS_RIGHT.len() + quit.len() <= usize::from(state.width) {
        format!("{}{quit}", layout::TABS_RIGHT)
    } else {
        layout::TABS_RIGHT.to_owned()
    };
    let right = vec![Seg::new(right, Tone::Dim)];
    BarVm { theme: state.ctx.theme, left, right, emphasis: false }
}

fn footer(state: &State) -> BarVm {
    let theme = state.ctx.theme;
    if let Some((text, _)) = &state.flows.input {
        let waiting = state.flows.filter.attribute().is_some_and(|(k, v)| {
            state.view.attribute_matches.as_deref().is_none_or(|m| m.key != k || m.value != v)
        });
        let mut left =
            vec![Seg::new(" filter: ", Tone::Title), Seg::new(format!("{text}█"), Tone::Normal)];
        if waiting {
            left.push(Seg::new("  (asking the engine…)", Tone::Dim));
        }
        return BarVm {
            theme,
            left,
            right: vec![Seg::new(
                "e.g. error  >500ms  service:payments  dest:orders  order.id=42 · Enter keep · Esc undo ",
                Tone::Dim,
            )],
            emphasis: false,
        };
    }
    if let Some(m) = &state.message {
        return BarVm {
            theme,
            left: vec![Seg::new(format!(" {m}"), Tone::Accent)],
            right: Vec::new(),
            emphasis: false,
        };
    }
    let mut right = Vec::new();
    if !state.flows.filter.is_empty() && !state.in_detail() {
        right.push(Seg::new(format!("filter: {} ", state.flows.filter.text()), Tone::Accent));
    }
    let budget = usize::from(state.width).saturating_sub(width_of(&right) + 2);
    let mut left = vec![Seg::new(" ", Tone::Normal)];
    for (k, what) in hints(state, budget) {
        left.push(Seg::new(k, Tone::Title));
        left.push(Seg::new(format!(" {what}  "), Tone::Dim));
    }
    BarVm { theme, left, right, emphasis: false }
}

/// The keys the hint bar names for this screen and mode, in order, the least useful dropped
/// until they fit in `budget` columns.
fn hints(state: &State, budget: usize) -> Vec<(&'static str, &'static str)> {
    let place = if state.in_detail() { Places::DETAIL } else { Places::of(state.screen) };
    // (priority: lower stays longer, key, what it does)
    let mut keys = keys::hints(place, state.paused, state.replay.map(|r| r.paused));
    let width = |keys: &[(u8, &str, &str)]| -> usize {
        keys.iter().map(|(_, k, w)| format::width(k) + format::width(w) + 3).sum()
    };
    while width(&keys) > budget && keys.len() > 1 {
        let worst = keys.iter().enumerate().max_by_key(|(i, (p, _, _))| (*p, *i)).map(|(i, _)| i);
        if let Some(i) = worst {
            keys.remove(i);
        }
    }
    keys.into_iter().map(|(_, k, w)| (k, w)).collect()
}

impl Widget for &FrameVm {
    fn render(self, area: Rect, buf: &mut Buffer) {
        if area.width < 20 || area.height < 5 {
            buf.set_stringn(
                area.x,
                area.y,
                "hopscope: terminal too small",
                usize::from(area.width),
                Style::new(),
            );
            return;
        }
        let a = layout::areas(area.width, area.height);
        self.header.render(a.header, buf);
        self.tabs.render(a.tabs, buf);
        match &self.body {
            BodyVm::Table(t) | BodyVm::Graph(GraphVm::List(t)) => t.render(a.body, buf),
            BodyVm::Detail(d) => d.render(a.body, buf),
            BodyVm::Sagas(s) => s.render(a.body, buf),
            BodyVm::Architecture(x) => x.render(a.body, buf),
            BodyVm::Events(e) => e.render(a.body, buf),
            BodyVm::Graph(GraphVm::Diagram(d)) => d.render(a.body, buf),
        }
        self.footer.render(a.footer, buf);
        if let Some(help) = &self.help {
            help.render(a.body, buf);
        }
    }
}
