//! End to end: the real binary's TUI in a real terminal. `hopscope replay FIXTURE --instant`
//! runs in a 200x50 tmux pane; keys are sent with `send-keys` and the screen is read with
//! `capture-pane -p`. Each test has its own tmux server (`-L` socket name), so tests run in
//! parallel and never touch the user's tmux.
//!
//! tmux must be installed (CI installs it); without it the test fails and says so.

use std::path::PathBuf;
use std::process::{Command, Output};
use std::time::{Duration, Instant};

use hopscope_tests::{hopscope_bin, workspace_root};

const WAIT: Duration = Duration::from_secs(20);

/// A tmux server of our own, with one 200x50 window running a shell.
struct Tmux {
    socket: String,
}

impl Tmux {
    fn start(test: &str) -> Self {
        Self::start_sized(test, 200, 50)
    }

    /// A tmux server with one `width` × `height` window running a shell.
    fn start_sized(test: &str, width: u16, height: u16) -> Self {
        let (width, height) = (width.to_string(), height.to_string());
        let version = Command::new("tmux").arg("-V").output();
        assert!(
            version.as_ref().is_ok_and(|o| o.status.success()),
            "tmux is not installed: install it (e.g. `apt-get install tmux`) to run the TUI \
             end-to-end test ({version:?})"
        );
        let tmux = Tmux { socket: format!("hopscope-{test}-{}", std::process::id()) };
        let out = tmux.run(&[
            "-f",
            "/dev/null",
            "new-session",
            "-d",
            "-x",
            &width,
            "-y",
            &height,
            "env",
            "PS1=hs-shell$ ",
            "TERM=xterm-256color",
            "sh",
        ]);
        assert!(out.status.success(), "tmux new-session: {}", String::from_utf8_lossy(&out.stderr));
        tmux.wait_for("the shell prompt", |s| s.contains("hs-shell$"));
        tmux
    }

    fn run(&self, args: &[&str]) -> Output {
        Command::new("tmux").arg("-L").arg(&self.socket).args(args).output().expect("run tmux")
    }

    /// Sends tmux key names (`Enter`, `Escape`, `q`) or literal text.
    fn keys(&self, keys: &[&str]) {
        let mut args = vec!["send-keys", "-t", "0"];
        args.extend(keys);
        let out = self.run(&args);
        assert!(out.status.success(), "send-keys: {}", String::from_utf8_lossy(&out.stderr));
    }

    fn screen(&self) -> String {
        String::from_utf8_lossy(&self.run(&["capture-pane", "-p", "-t", "0"]).stdout).into_owned()
    }

    /// Waits until the screen satisfies `ok`; panics with the screen if it never does.
    fn wait_for(&self, what: &str, ok: impl Fn(&str) -> bool) -> String {
        let deadline = Instant::now() + WAIT;
        loop {
            let screen = self.screen();
            if ok(&screen) {
                return screen;
            }
            assert!(
                Instant::now() < deadline,
                "timed out waiting for {what}; the screen:\n{screen}"
            );
            std::thread::sleep(Duration::from_millis(100));
        }
    }
}

impl Drop for Tmux {
    fn drop(&mut self) {
        let _ = self.run(&["kill-server"]);
    }
}

fn fixture() -> PathBuf {
    workspace_root().join("tui/src/app/fixtures/shop.otlp.jsonl")
}

fn quote(p: &std::path::Path) -> String {
    format!("'{}'", p.display().to_string().replace('\'', r"'\''"))
}

#[test]
fn replay_tui_screens_keys_and_quit() {
    let bin = hopscope_bin();
    let tmux = Tmux::start("replay");
    let command = format!("{} replay {} --instant", quote(&bin), quote(&fixture()));
    tmux.keys(&[&command, "Enter"]);

    // The Flows screen with the fixture's flows.
    let flows = tmux
        .wait_for("the flows", |s| s.contains("gateway POST /checkout") && s.contains("9 flows"));
    assert!(flows.contains("STATUS") && flows.contains("WORST QUEUE"), "{flows}");
    assert!(
        flows.contains("✗ error") && flows.contains("⚠ stuck") && flows.contains("✓ ok"),
        "{flows}"
    );
    assert!(
        flows.contains("replay") && flows.contains("event clock 2023-11-14 22:14:21 UTC"),
        "{flows}"
    );

    // g then Enter: the newest flow's detail, one timeline across its traces, hops labelled.
    // (The selection follows the flow first selected while the replay was still arriving,
    // so go to the top first: under load the first view may have held fewer flows.)
    tmux.keys(&["g"]);
    tmux.keys(&["Enter"]);
    let detail = tmux.wait_for("the flow detail", |s| s.contains("⇢ 2.94s in kafka orders"));
    assert!(detail.contains("flow 6193388d") && detail.contains("4 traces"), "{detail}");
    assert!(detail.contains("↘ analytics orders process"), "{detail}");

    // Esc: back to the list.
    tmux.keys(&["Escape"]);
    tmux.wait_for("the flows again", |s| s.contains("WORST QUEUE") && !s.contains("⇢"));

    // 2: the graph; 4: lag, worst first.
    tmux.keys(&["2"]);
    tmux.wait_for("the graph", |s| s.contains("kafka:orders") && s.contains("payments"));
    tmux.keys(&["4"]);
    // (Until its last row is there: a capture may catch the terminal mid-redraw.)
    let lag = tmux.wait_for("the lag screen", |s| s.contains("SUBSCRIPTION") && s.contains("✓ ok"));
    let stalled = lag.lines().position(|l| l.contains("✗ stalled")).expect("a stalled row");
    let ok = lag.lines().position(|l| l.contains("✓ ok")).expect("an ok row");
    assert!(stalled < ok, "worst first:\n{lag}");
    assert!(lag.contains("kafka orders → analytics"), "{lag}");

    // 6: architecture, one row per root operation; the checkout row is choreographed and
    // settles after its caller's answer.
    tmux.keys(&["6"]);
    // (Waits for the pane too: a capture can catch a frame half drawn.)
    let arch = tmux.wait_for("the architecture screen", |s| {
        s.contains("WAIT █ THEN SETTLE ░")
            && s.contains("gateway POST /checkout")
            && s.contains("duplicate_delivery kafka:orders")
    });
    let checkout = arch
        .lines()
        .find(|l| l.contains("gateway POST /checkout"))
        .expect("a row for gateway POST /checkout");
    assert!(checkout.starts_with("choreography") && checkout.contains('░'), "{arch}");
    // Rows with insights first, the first selected: its pane lists them with their subject.
    assert!(arch.contains("orders POST /orders · choreography"), "{arch}");
    assert!(arch.contains("duplicate_delivery kafka:orders"), "{arch}");

    // ?: help over the screen; any key closes it.
    tmux.keys(&["?"]);
    tmux.wait_for("the help", |s| {
        s.contains("keys (any key closes)") && s.contains("export the selected flow")
    });
    tmux.keys(&["Escape"]);
    tmux.wait_for("the help to close", |s| !s.contains("keys (any key closes)"));

    // /: filter the flows.
    tmux.keys(&["1", "/"]);
    tmux.wait_for("the filter prompt", |s| s.contains("filter: █"));
    tmux.keys(&["error", "Enter"]);
    let filtered =
        tmux.wait_for("the filtered flows", |s| s.contains("filter: error") && !s.contains("✓ ok"));
    let rows = filtered.lines().filter(|l| l.starts_with("✗ error")).count();
    assert_eq!(rows, 3, "{filtered}");

    // 7: the Events board; t: the timeline of a flow carrying the selected event, Enter
    // opens it; Esc, t and Enter: the flows carrying the event.
    // Each wait is for everything asserted: a capture may catch the terminal mid-redraw.
    tmux.keys(&["7"]);
    tmux.wait_for("the events board", |s| {
        s.contains("board · orders")
            && s.contains("▣ POST /orders")
            && s.contains("◆ orders")
            && s.contains("▤ analytics via analytics")
    });
    tmux.keys(&["G", "t"]);
    tmux.wait_for("the timeline", |s| {
        s.contains("timeline · flow") && s.contains("◇ whenever orders → ◆ payments by ▤ payments")
    });
    tmux.keys(&["Enter"]);
    tmux.wait_for("the flow of the timeline", |s| s.contains("⇢") && s.contains("traces"));
    // (Escape and a key sent together would read as Alt-key.)
    tmux.keys(&["Escape"]);
    tmux.wait_for("the timeline again", |s| s.contains("timeline · flow"));
    tmux.keys(&["t"]);
    tmux.wait_for("the board again", |s| s.contains("board · payments"));
    tmux.keys(&["Enter"]);
    let carrying = tmux.wait_for("the flows carrying it", |s| {
        s.contains("filter: event:payments") && s.contains("gateway POST /checkout")
    });
    let rows = carrying.lines().filter(|l| l.contains("gateway POST /checkout")).count();
    assert_eq!(rows, 1, "{carrying}");

    // q: the terminal is restored and the shell is back.
    tmux.keys(&["q"]);
    tmux.wait_for("the shell", |s| !s.contains("WORST QUEUE") && s.contains("hs-shell$"));
    tmux.keys(&["echo back-$((6*7)) status-$?", "Enter"]);
    let shell = tmux.wait_for("the shell to answer", |s| s.contains("back-42 status-0"));
    assert!(!shell.contains("1 Flows"), "the TUI left text behind:\n{shell}");
}

#[test]
fn replay_of_a_missing_file_fails_before_the_tui() {
    let out = Command::new(hopscope_bin())
        .args(["replay", "/nonexistent/rec.jsonl", "--instant"])
        .output()
        .expect("run hopscope");
    assert_eq!(out.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("/nonexistent/rec.jsonl"), "{stderr}");
}

#[test]
fn replay_without_a_terminal_says_what_to_run_instead() {
    // No tmux here: stdin and stdout are pipes, so the TUI cannot open. It must say so and
    // point at the headless report, not panic inside the terminal library.
    let out = Command::new(hopscope_bin())
        .args(["replay", "--instant"])
        .arg(fixture())
        .stdin(std::process::Stdio::null())
        .output()
        .expect("run hopscope replay");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success(), "{stderr}");
    assert!(stderr.contains("needs a terminal") && stderr.contains("analyze"), "{stderr}");
    assert!(!stderr.contains("panicked"), "{stderr}");
}

#[test]
fn replay_from_stdin_starts_over_with_r() {
    let bin = hopscope_bin();
    let tmux = Tmux::start("stdin");
    // Standard input is read once; `r` (seek to the start) reads the input again.
    let command = format!("cat {} | {} replay - --instant", quote(&fixture()), quote(&bin));
    tmux.keys(&[&command, "Enter"]);
    tmux.wait_for("the flows", |s| s.contains("gateway POST /checkout") && s.contains("9 flows"));
    tmux.keys(&["r"]);
    // The restart clears the store and feeds the replay again: give the clear time to show,
    // then the same flows must come back (from an exhausted stdin they would not).
    std::thread::sleep(Duration::from_millis(1_500));
    let again = tmux.wait_for("the flows after the restart", |s| {
        s.contains("gateway POST /checkout") && s.contains("9 flows")
    });
    assert!(again.contains("replay -"), "{again}");
    tmux.keys(&["q"]);
    tmux.wait_for("the shell", |s| !s.contains("WORST QUEUE") && s.contains("hs-shell$"));
}

/// The node named in the Graph screen's pane title (`<id> · service`, `<id> · destination`,
/// the kind perhaps cut short), if any.
fn pane_node(screen: &str) -> Option<String> {
    screen.lines().find_map(|l| {
        let at = l.find(" · s").or_else(|| l.find(" · d"))?;
        l[..at].split_whitespace().last().map(str::to_owned)
    })
}

/// The demo's own system (10 services, 12 destinations, reply cycles), recorded for 20 s and
/// replayed at 160x45 and at 100x30: screen 2 draws the diagram (boxes and arrows, not the
/// list), and walking the selection column by column (k to the top, j down, l to the next
/// column) brings every service and destination into view, drawn selected.
#[test]
fn demo_graph_is_a_diagram_and_every_node_can_be_brought_into_view() {
    let bin = hopscope_bin();
    let dir = tempfile::tempdir().expect("a temporary directory");
    let rec = dir.path().join("demo.jsonl");
    let out = Command::new(&bin)
        .args(["demo", "--headless", "--duration", "20s", "--record"])
        .arg(&rec)
        // Any free ports: another test (or a collector on this machine) may hold 4317/4318.
        .args(["--grpc", "127.0.0.1:0", "--http", "127.0.0.1:0"])
        .output()
        .expect("run the demo");
    assert!(out.status.success(), "demo: {}", String::from_utf8_lossy(&out.stderr));
    let nodes = [
        "analytics",
        "gateway",
        "inventory",
        "loyalty",
        "notifications",
        "orders",
        "payments",
        "reporting",
        "shipping",
        "tracking",
        "kafka:orders.placed",
        "kafka:shipments",
        "kafka:tracking.events",
        "rabbitmq:audit:order.placed",
        "rabbitmq:inventory.commands",
        "rabbitmq:invoice.requests",
        "rabbitmq:loyalty.dlx:awarded",
        "rabbitmq:loyalty.points:awarded",
        "rabbitmq:orders.invoice-replies",
        "rabbitmq:orders.saga-replies",
        "rabbitmq:payments.commands",
        "rabbitmq:shipping.commands",
    ];
    for (w, h) in [(160u16, 45u16), (100, 30)] {
        let tmux = Tmux::start_sized(&format!("graph{w}"), w, h);
        let command = format!("{} replay {} --instant", quote(&bin), quote(&rec));
        tmux.keys(&[&command, "Enter"]);
        tmux.wait_for("the flows", |s| s.contains("STATUS") && s.contains(" flows"));
        // Let the instant replay finish: the graph is laid out again while it grows.
        std::thread::sleep(Duration::from_secs(2));
        tmux.keys(&["2"]);
        let graph = tmux.wait_for("the diagram", |s| s.contains("╔") && s.contains("▶"));
        assert!(!graph.contains("EDGES OUT"), "the list, not the diagram:\n{graph}");
        assert!(graph.contains("┌") && graph.contains("╭") && graph.contains("┄"), "{graph}");

        // Each key: wait for the screen to change (a no-op at a column's end does not), then
        // to settle (a capture may catch a frame half written).
        let mut screen = graph;
        let mut press = |key: &str| {
            let before = screen.clone();
            tmux.keys(&[key]);
            let deadline = Instant::now() + Duration::from_millis(400);
            let mut last = before.clone();
            loop {
                std::thread::sleep(Duration::from_millis(40));
                let now = tmux.screen();
                let settled = now == last && now != before;
                last = now;
                if settled || Instant::now() > deadline {
                    break;
                }
            }
            screen = last;
            screen.clone()
        };
        let mut seen = std::collections::BTreeSet::new();
        let mut note = |s: &str| {
            if let Some(id) = pane_node(s) {
                let shown: String = id.chars().take(20).collect();
                assert!(s.contains(&format!("║ {shown}")), "{id} not drawn selected:\n{s}");
                seen.insert(id);
            }
        };
        // Up to 10 columns: a dead-letter edge (destination to destination) adds one.
        for _column in 0..10 {
            let mut top = String::new();
            // The demo's tallest column holds 9 nodes.
            for _ in 0..9 {
                top = press("k");
            }
            note(&top);
            for _ in 0..10 {
                note(&press("j"));
            }
            press("l");
        }
        let missing: Vec<_> = nodes.iter().filter(|n| !seen.contains(**n)).collect();
        assert!(missing.is_empty(), "never selected at {w}x{h}: {missing:?} (seen {seen:?})");
        tmux.keys(&["q"]);
        tmux.wait_for("the shell", |s| s.contains("hs-shell$") && !s.contains("2 Graph"));
    }
}
