//! The Graph screen over the demo's graph (`fixtures/demo_graph.json`: the graph and lag of
//! `hopscope demo --headless --duration 20s`, 8 services and 9 destinations): snapshots at
//! 80x24, 100x30, 160x45 and 200x50, focus and compact zoom; moving the selection reaches
//! every node and keeps it in view; panning with keys and the mouse; edge health.

use std::collections::BTreeSet;
use std::sync::Arc;

use hopscope_collector::analysis::{EdgeKind, Graph, GraphEdge, Lag, LagStatus};
use hopscope_collector::engine::views::{View, empty_analysis};
use ratatui::Terminal;
use ratatui::backend::TestBackend;
use ratatui::crossterm::event::{
    KeyCode, KeyEvent, KeyModifiers, MouseButton, MouseEvent, MouseEventKind,
};

use super::{Health, health};
use crate::app::bench_support::{empty_state, take_in};
use crate::app::chrome::{self, BodyVm};
use crate::app::graph::vm::GraphVm;
use crate::app::msg::Msg;
use crate::app::render;
use crate::app::state::State;
use crate::app::update::update;

/// The demo's graph and lag, as the engine would publish them 20 s into the demo.
pub(crate) fn demo_view() -> Arc<View> {
    let json: serde_json::Value =
        serde_json::from_str(include_str!("../fixtures/demo_graph.json")).unwrap();
    let mut analysis = empty_analysis();
    analysis.graph = serde_json::from_value::<Graph>(json["graph"].clone()).unwrap();
    analysis.lag = serde_json::from_value::<Vec<Lag>>(json["lag"].clone()).unwrap();
    let mut view = View::empty();
    view.analysis = Arc::new(analysis);
    view.clock.now_unix_nano = 20_000_000_000;
    Arc::new(view)
}

/// A TUI of `w` × `h` on the Graph screen over the demo's graph.
fn demo(w: u16, h: u16) -> State {
    let mut s = empty_state(w, h);
    take_in(&mut s, &demo_view());
    press(&mut s, KeyCode::Char('2'));
    s
}

fn press(s: &mut State, code: KeyCode) {
    update(s, Msg::Key(KeyEvent::new(code, KeyModifiers::NONE)));
}

fn mouse(s: &mut State, kind: MouseEventKind, column: u16, row: u16) {
    update(s, Msg::Mouse(MouseEvent { kind, column, row, modifiers: KeyModifiers::NONE }));
}

fn draw(s: &State) -> Terminal<TestBackend> {
    let mut t = Terminal::new(TestBackend::new(s.width, s.height)).unwrap();
    t.draw(|f| render(s, f)).unwrap();
    t
}

fn selected_id(s: &State) -> String {
    s.view.analysis.graph.nodes[s.graph.list.selected().unwrap()].id.clone()
}

fn select(s: &mut State, id: &str) {
    let node = s.view.analysis.graph.nodes.iter().position(|n| n.id == id).unwrap();
    let (_, keys) = super::order(&s.view);
    s.graph.select(node, &keys, s.page());
    let window = super::nav::window(s);
    s.graph.follow(window);
}

#[test]
fn demo_graph_snapshots() {
    for (w, h) in [(80, 24), (100, 30), (160, 45), (200, 50)] {
        let s = demo(w, h);
        let vm = chrome::frame(&s);
        assert!(matches!(vm.body, BodyVm::Graph(GraphVm::Diagram(_))), "a diagram at {w}x{h}");
        insta::assert_snapshot!(format!("graph_demo_{w}x{h}"), draw(&s).backend());
    }
}

#[test]
fn demo_graph_focus_snapshot() {
    let mut s = demo(160, 45);
    select(&mut s, "payments");
    press(&mut s, KeyCode::Char('f'));
    let c = s.graph.canvas.clone().unwrap();
    // payments, what it consumes and emits to.
    assert_eq!(c.boxes.len(), 6, "{:?}", c.boxes);
    insta::assert_snapshot!("graph_demo_focus_160x45", draw(&s).backend());
    press(&mut s, KeyCode::Char('F'));
    assert!(s.graph.canvas.as_ref().unwrap().boxes.len() > 6);
    press(&mut s, KeyCode::Char('F'));
    assert_eq!(s.graph.focus, None);
    assert_eq!(s.graph.canvas.as_ref().unwrap().boxes.len(), 17);
}

#[test]
fn demo_graph_compact_snapshot() {
    let mut s = demo(100, 30);
    let wide = s.graph.canvas.as_ref().unwrap().width;
    press(&mut s, KeyCode::Char('-'));
    assert!(s.graph.canvas.as_ref().unwrap().width < wide);
    insta::assert_snapshot!("graph_demo_compact_100x30", draw(&s).backend());
    press(&mut s, KeyCode::Char('+'));
    assert_eq!(s.graph.canvas.as_ref().unwrap().width, wide);
}

/// From the first node, h j k l reach every service and destination, and each one selected
/// is drawn whole in the window.
#[test]
fn moving_the_selection_reaches_every_node_and_keeps_it_in_view() {
    for (w, h) in [(80, 24), (100, 30), (160, 45)] {
        let mut s = demo(w, h);
        let all = s.view.analysis.graph.nodes.len();
        let mut seen = BTreeSet::from([selected_id(&s)]);
        let mut frontier = vec![selected_id(&s)];
        while let Some(id) = frontier.pop() {
            for k in ['h', 'j', 'k', 'l'] {
                select(&mut s, &id);
                press(&mut s, KeyCode::Char(k));
                let now = selected_id(&s);
                let vm = chrome::frame(&s);
                let BodyVm::Graph(GraphVm::Diagram(d)) = vm.body else { panic!("a diagram") };
                let window = super::nav::window(&s);
                let b = d.boxes.iter().find(|b| b.selected).expect("the selection is drawn");
                assert!(
                    b.x >= 0
                        && b.y >= 0
                        && b.x + i32::from(b.width) <= i32::from(window.width)
                        && b.y + i32::from(b.height) <= i32::from(window.height),
                    "{now} at {w}x{h}: {b:?} outside {window:?}"
                );
                if seen.insert(now.clone()) {
                    frontier.push(now);
                }
            }
        }
        assert_eq!(seen.len(), all, "{seen:?} at {w}x{h}");
    }
}

#[test]
fn right_goes_along_an_edge_and_enter_opens_the_node_s_flows() {
    let mut s = demo(160, 45);
    select(&mut s, "gateway");
    press(&mut s, KeyCode::Right);
    assert_eq!(selected_id(&s), "orders");
    press(&mut s, KeyCode::Char('h'));
    assert_eq!(selected_id(&s), "gateway");
    press(&mut s, KeyCode::Enter);
    assert_eq!(s.screen, crate::app::screen::Screen::Flows);
}

#[test]
fn keys_the_wheel_and_a_drag_pan_without_moving_the_selection() {
    let mut s = demo(80, 24);
    let before = selected_id(&s);
    s.graph.scroll = (0, 0);
    press(&mut s, KeyCode::PageDown);
    let down = s.graph.scroll.1;
    assert!(down > 0, "{:?}", s.graph.scroll);
    press(&mut s, KeyCode::Char('L'));
    assert!(s.graph.scroll.0 > 0);
    let at = s.graph.scroll;
    let window = super::nav::window(&s);
    let (x, y) = (window.x + 10, window.y + 5);
    mouse(&mut s, MouseEventKind::Down(MouseButton::Left), x, y);
    mouse(&mut s, MouseEventKind::Drag(MouseButton::Left), x + 4, y + 2);
    mouse(&mut s, MouseEventKind::Up(MouseButton::Left), x + 4, y + 2);
    assert_eq!(s.graph.scroll, (at.0 - 4, at.1 - 2));
    mouse(&mut s, MouseEventKind::ScrollUp, x, y);
    assert_eq!(s.graph.scroll.1, at.1 - 5);
    assert_eq!(selected_id(&s), before);
    // v: the list; v again: the diagram.
    press(&mut s, KeyCode::Char('v'));
    assert!(matches!(chrome::frame(&s).body, BodyVm::Graph(GraphVm::List(_))));
    press(&mut s, KeyCode::Char('v'));
    assert!(matches!(chrome::frame(&s).body, BodyVm::Graph(GraphVm::Diagram(_))));
}

#[test]
#[expect(clippy::many_single_char_names, reason = "coordinates")]
fn a_click_selects_a_box_and_a_second_opens_it() {
    let mut s = demo(160, 45);
    let window = super::nav::window(&s);
    let c = s.graph.canvas.clone().unwrap();
    let (ox, oy) = super::diagram::origin(&c, s.graph.scroll, window);
    let b = c.boxes.iter().find(|b| b.label == "orders").unwrap();
    let (x, y) = (window.x + b.x - ox + 2, window.y + b.y - oy + 1);
    mouse(&mut s, MouseEventKind::Down(MouseButton::Left), x, y);
    assert_eq!(selected_id(&s), "orders");
    mouse(&mut s, MouseEventKind::Up(MouseButton::Left), x, y);
    mouse(&mut s, MouseEventKind::Down(MouseButton::Left), x, y);
    assert_eq!(s.screen, crate::app::screen::Screen::Flows);
}

/// The pane is not the list: a click on it selects nothing (as a list row it would move
/// the selection up its column).
#[test]
fn a_click_on_the_pane_selects_nothing() {
    let mut s = demo(160, 45);
    select(&mut s, "rabbitmq:shipping.commands");
    let pane = crate::app::layout::graph(s.body()).pane;
    mouse(&mut s, MouseEventKind::Down(MouseButton::Left), pane.x + 2, pane.y + 3);
    assert_eq!(selected_id(&s), "rabbitmq:shipping.commands");
}

#[test]
fn the_pane_lists_the_selected_node_s_edges_and_a_destination_s_lag() {
    let mut s = demo(200, 50);
    select(&mut s, "rabbitmq:orders.saga-replies");
    let screen = draw(&s).backend().to_string();
    assert!(screen.contains("emitted by") && screen.contains("consumed by"), "{screen}");
    assert!(screen.contains("subscriptions (lag)") && screen.contains("warn"), "{screen}");
    select(&mut s, "orders");
    let screen = draw(&s).backend().to_string();
    assert!(screen.contains("called by") && screen.contains("emits"), "{screen}");
}

#[test]
fn e_writes_the_whole_graph_as_graphviz() {
    let mut s = demo(100, 30);
    let intent = update(&mut s, Msg::Key(KeyEvent::new(KeyCode::Char('E'), KeyModifiers::SHIFT)));
    let Some(crate::app::msg::Intent::Export(e)) = intent else { panic!("{intent:?}") };
    assert_eq!(e.file_name, "hopscope-graph.dot");
    assert!(e.contents.contains("\"gateway\" -> \"orders\""), "{}", e.contents);
    assert_eq!(e.contents.matches(" -> ").count(), 25);
}

#[test]
fn health_comes_from_the_error_share_and_the_subscription_s_lag() {
    let view = demo_view();
    let a = &view.analysis;
    let edge = |from: &str, to: &str| -> &GraphEdge {
        a.graph.edges.iter().find(|e| e.from == from && e.to == to).unwrap()
    };
    assert_eq!(health(a, edge("orders", "rabbitmq:audit")), Health::Ok);
    // 1 error in 66 calls.
    assert_eq!(health(a, edge("gateway", "orders")), Health::Warn);
    // The analytics subscription lags (warn).
    assert_eq!(health(a, edge("kafka:orders.placed", "analytics")), Health::Warn);
    let mut bad = edge("gateway", "orders").clone();
    bad.errors = 10;
    assert_eq!(health(a, &bad), Health::Bad);
    let mut stalled = (*view.analysis).clone();
    for l in &mut stalled.lag {
        l.status = LagStatus::Stalled;
    }
    let consume = edge("rabbitmq:payments.commands", "payments");
    assert_eq!(consume.kind, EdgeKind::Consume);
    assert_eq!(health(&stalled, consume), Health::Bad);
}
