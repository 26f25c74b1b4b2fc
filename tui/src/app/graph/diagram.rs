//! The choreography graph as a layered diagram: services (square boxes) and destinations
//! (round boxes) in columns, a node's column one more than the deepest node calling or
//! feeding it; arrows for calls (solid) and emits and consumes (dashed), each labelled with
//! its rate, error share and p95 (latency for calls, queue time for events). Each arrow has
//! its own lane in the gap after its source's column and its own row on both boxes, so
//! arrows never share a segment. An edge closing a cycle (a reply going back to the service
//! that asked) leaves its source to the right, runs back along its own row under the boxes
//! and enters its target from the left, in lanes kept for it beside both columns. When the
//! boxes do not fit, the Graph screen shows a list.

use std::collections::BTreeMap;

use hopscope_collector::analysis::{EdgeKind, GraphEdge, NodeKind};
use ratatui::layout::Rect;

use crate::app::fmt;
use crate::app::state::State;
use crate::app::theme::{Theme, Tone};
use crate::app::vm::{Line, Seg};

use super::edge_label;

/// A layered diagram: columns of boxes, edges drawn between them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DiagramVm {
    pub theme: Theme,
    pub boxes: Vec<BoxVm>,
    pub arrows: Vec<ArrowVm>,
    pub legend: Line,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BoxVm {
    pub x: u16,
    pub y: u16,
    pub width: u16,
    pub height: u16,
    pub label: String,
    pub destination: bool,
    pub selected: bool,
    pub tone: Tone,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ArrowVm {
    /// From the cell right of a box's border (x, y) to the cell left of another's.
    pub from: (u16, u16),
    pub to: (u16, u16),
    /// The column its vertical segment runs in.
    pub lane: u16,
    pub label: String,
    pub dashed: bool,
    pub tone: Tone,
    /// An edge back to an earlier column (closing a cycle): the lane it leaves its source
    /// by, and the row under the boxes it runs back along; `lane` is the one it enters by.
    pub back: Option<(u16, u16)>,
}

/// Least room between columns for lanes and labels.
const MIN_GAP: u16 = 12;
/// Longest node label drawn in full.
const MAX_LABEL: usize = 28;

/// Columns (layers) of the nodes: longest path from the sources, ignoring edges that would
/// close a cycle.
fn layers(n: usize, edges: &[(usize, usize)]) -> Vec<usize> {
    let mut out: Vec<Vec<usize>> = vec![Vec::new(); n];
    for &(a, b) in edges {
        if a != b {
            out[a].push(b);
        }
    }
    // Depth-first order marks back edges (those reaching a node on the current path).
    let mut state = vec![0u8; n];
    let mut order = Vec::with_capacity(n);
    let mut forward: Vec<Vec<usize>> = vec![Vec::new(); n];
    for root in 0..n {
        if state[root] != 0 {
            continue;
        }
        let mut stack = vec![(root, 0usize)];
        state[root] = 1;
        while let Some(&mut (v, ref mut i)) = stack.last_mut() {
            if *i < out[v].len() {
                let w = out[v][*i];
                *i += 1;
                match state[w] {
                    0 => {
                        forward[v].push(w);
                        state[w] = 1;
                        stack.push((w, 0));
                    }
                    2 => forward[v].push(w),
                    _ => {} // a back edge
                }
            } else {
                state[v] = 2;
                order.push(v);
                stack.pop();
            }
        }
    }
    let mut layer = vec![0usize; n];
    for &v in order.iter().rev() {
        for &w in &forward[v] {
            layer[w] = layer[w].max(layer[v] + 1);
        }
    }
    layer
}

/// The diagram of the view's graph in `area`, or `None` when it does not fit.
pub fn diagram(state: &State, area: Rect) -> Option<DiagramVm> {
    let g = &state.view.analysis.graph;
    if g.nodes.is_empty() {
        return None;
    }
    let index: BTreeMap<&str, usize> =
        g.nodes.iter().enumerate().map(|(i, n)| (n.id.as_ref(), i)).collect();
    let edges: Vec<(usize, usize, usize)> = g
        .edges
        .iter()
        .enumerate()
        .filter_map(|(e, x)| {
            Some((
                index.get(x.from.as_ref() as &str).copied()?,
                index.get(x.to.as_ref() as &str).copied()?,
                e,
            ))
        })
        .filter(|(a, b, _)| a != b)
        .collect();
    let pairs: Vec<(usize, usize)> = edges.iter().map(|(a, b, _)| (*a, *b)).collect();
    let layer = layers(g.nodes.len(), &pairs);
    let drawn: Vec<(usize, usize, usize)> =
        edges.iter().copied().filter(|(a, b, _)| layer[*b] > layer[*a]).collect();
    let mut back: Vec<(usize, usize, usize)> =
        edges.iter().copied().filter(|(a, b, _)| layer[*b] <= layer[*a]).collect();
    let columns = layer.iter().max().map_or(1, |m| m + 1);
    // Two columns per back edge beside its source's column (right) and its target's (left).
    let mut out_extra = vec![0u16; columns];
    let mut in_extra = vec![0u16; columns];
    for (a, b, _) in &back {
        out_extra[layer[*a]] += 2;
        in_extra[layer[*b]] += 2;
    }
    let extras: u16 = out_extra.iter().chain(&in_extra).sum();

    // Order inside a column: by the mean row of what feeds the node, then by id.
    let mut cols: Vec<Vec<usize>> = vec![Vec::new(); columns];
    for (i, l) in layer.iter().enumerate() {
        cols[*l].push(i);
    }
    let mut rank = vec![0f64; g.nodes.len()];
    for col in &mut cols {
        let mut keyed: Vec<(f64, usize)> = col
            .iter()
            .map(|&v| {
                let feeds: Vec<f64> =
                    drawn.iter().filter(|(_, b, _)| *b == v).map(|(a, _, _)| rank[*a]).collect();
                let mean = if feeds.is_empty() {
                    f64::MAX
                } else {
                    feeds.iter().sum::<f64>() / feeds.len() as f64
                };
                (mean, v)
            })
            .collect();
        keyed.sort_by(|x, y| x.0.total_cmp(&y.0).then(g.nodes[x.1].id.cmp(&g.nodes[y.1].id)));
        *col = keyed.iter().map(|(_, v)| *v).collect();
        for (r, &v) in col.iter().enumerate() {
            rank[v] = r as f64;
        }
    }

    // Sizes: a row per arrow in or out, at least one.
    let ins = |v: usize| edges.iter().filter(|(_, b, _)| *b == v).count();
    let outs = |v: usize| edges.iter().filter(|(a, _, _)| *a == v).count();
    let height_of = |v: usize| (ins(v).max(outs(v)).max(1) as u16) + 2;
    let label_of = |v: usize| vm_label(&g.nodes[v].id);
    let col_width: Vec<u16> = cols
        .iter()
        .map(|c| c.iter().map(|&v| label_of(v).chars().count() as u16 + 4).max().unwrap_or(4))
        .collect();
    let labels: Vec<String> =
        drawn.iter().map(|(_, _, e)| edge_text(state, &g.edges[*e])).collect();
    let longest = labels.iter().map(|l| l.chars().count() as u16).max().unwrap_or(0);
    let boxes_w: u16 = col_width.iter().sum::<u16>() + 1;
    let gaps = (columns as u16).saturating_sub(1);
    // As much room as the longest label wants, or what is left.
    let want = (longest + 10).max(MIN_GAP);
    let gap = area
        .width
        .saturating_sub(boxes_w + extras)
        .checked_div(gaps)
        .map_or(want, |room| want.min(room).max(MIN_GAP));
    let total_w = boxes_w + extras + gap * gaps;
    // The legend, and a row under the boxes for each back edge.
    let legend_rows = 1;
    let below = legend_rows + back.len() as u16;
    let col_h = |c: &Vec<usize>| c.iter().map(|&v| height_of(v) + 1).sum::<u16>();
    let total_h = cols.iter().map(col_h).max().unwrap_or(0) + below;
    if total_w > area.width || total_h > area.height {
        return None;
    }

    // Place the boxes: columns left to right, boxes top down, centred vertically.
    let mut pos = vec![(0u16, 0u16, 0u16, 0u16); g.nodes.len()];
    let mut left = 1 + in_extra[0];
    for (c, col) in cols.iter().enumerate() {
        let mut top = (area.height - below).saturating_sub(col_h(col)) / 2;
        for &v in col {
            pos[v] = (left, top, col_width[c], height_of(v));
            top += height_of(v) + 1;
        }
        left += col_width[c] + out_extra[c] + gap + in_extra.get(c + 1).copied().unwrap_or(0);
    }

    let selected = state.graph.list.selected();
    let mut next_out = vec![0u16; g.nodes.len()];
    let mut next_in = vec![0u16; g.nodes.len()];
    let mut lanes: BTreeMap<usize, u16> = BTreeMap::new();
    let mut arrows = Vec::new();
    // Arrows in the order of their target rows, so lanes nest instead of crossing.
    let tone_of = |e: usize| {
        let edge = &g.edges[e];
        if edge.errors > 0 {
            Tone::Bad
        } else if edge.kind == EdgeKind::Call {
            Tone::Normal
        } else {
            Tone::Async
        }
    };
    let mut order = drawn.clone();
    order.sort_by_key(|(a, b, _)| (layer[*a], pos[*a].1, pos[*b].1));
    for (a, b, e) in order {
        let (ax, ay, aw, _) = pos[a];
        let (bx, by, _, _) = pos[b];
        let from = (ax + aw, ay + 1 + next_out[a]);
        next_out[a] += 1;
        let to = (bx.saturating_sub(1), by + 1 + next_in[b]);
        next_in[b] += 1;
        let used = lanes.entry(layer[a]).or_insert(0);
        let lane = from.0 + out_extra[layer[a]] + 1 + (*used * 2) % (gap / 2).max(1);
        *used += 1;
        let label = labels[drawn.iter().position(|d| d.2 == e).unwrap_or(0)].clone();
        arrows.push(ArrowVm {
            from,
            to,
            lane: lane.min(to.0.saturating_sub(2)).max(from.0),
            label,
            dashed: g.edges[e].kind != EdgeKind::Call,
            tone: tone_of(e),
            back: None,
        });
    }
    // Back edges: the narrowest on the highest row under the boxes and in the lanes nearest
    // the boxes, so that they nest instead of crossing.
    let bottom = pos.iter().map(|(_, y, _, h)| y + h).max().unwrap_or(0);
    back.sort_by_key(|(a, b, _)| (layer[*a] - layer[*b], pos[*a].1, pos[*b].1));
    let mut used_out = vec![0u16; columns];
    let mut used_in = vec![0u16; columns];
    for (k, (a, b, e)) in back.iter().copied().enumerate() {
        let (ax, ay, aw, _) = pos[a];
        let (bx, by, _, _) = pos[b];
        let from = (ax + aw, ay + 1 + next_out[a]);
        next_out[a] += 1;
        let to = (bx.saturating_sub(1), by + 1 + next_in[b]);
        next_in[b] += 1;
        let out_lane = from.0 + 1 + used_out[layer[a]];
        used_out[layer[a]] += 2;
        let in_lane = bx.saturating_sub(3 + used_in[layer[b]]);
        used_in[layer[b]] += 2;
        arrows.push(ArrowVm {
            from,
            to,
            lane: in_lane,
            label: format!("↩ {}", edge_text(state, &g.edges[e])),
            dashed: g.edges[e].kind != EdgeKind::Call,
            tone: tone_of(e),
            back: Some((out_lane, bottom + k as u16)),
        });
    }
    let boxes = g
        .nodes
        .iter()
        .enumerate()
        .map(|(v, n)| {
            let (left, top, width, height) = pos[v];
            BoxVm {
                x: left,
                y: top,
                width,
                height,
                label: label_of(v),
                destination: n.kind == NodeKind::Destination,
                selected: selected == Some(v),
                tone: if n.kind == NodeKind::Destination { Tone::Async } else { Tone::Title },
            }
        })
        .collect();
    let mut legend = vec![
        Seg::new("─▶ call  ", Tone::Normal),
        Seg::new("┄▶ emit/consume  ", Tone::Async),
        Seg::new("rate · p95 latency (calls) or queue time (events) · ✗ error share", Tone::Dim),
        Seg::new("  ↑↓ select · Enter its flows · v list", Tone::Dim),
    ];
    if !back.is_empty() {
        legend.insert(2, Seg::new("↩ back (a cycle)  ", Tone::Normal));
    }
    Some(DiagramVm { theme: state.ctx.theme, boxes, arrows, legend })
}

/// An edge's label in the diagram: compact.
fn edge_text(state: &State, e: &GraphEdge) -> String {
    edge_label(e.kind, e.count, e.errors, e.p95_ns, state.totals.data_seconds, true)
}

fn vm_label(id: &str) -> String {
    fmt::fit(id, MAX_LABEL)
}

#[cfg(test)]
mod tests {
    use super::layers;

    #[test]
    fn layers_follow_the_longest_path_and_survive_cycles() {
        // 0 → 1 → 2, 0 → 2, 3 → 0, and a cycle 2 → 1.
        let l = layers(4, &[(0, 1), (1, 2), (0, 2), (3, 0), (2, 1)]);
        assert_eq!(l, vec![1, 2, 3, 0]);
    }
}
