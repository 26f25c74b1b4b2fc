//! The choreography graph laid out on a virtual canvas, larger than the screen: computed once
//! per change of the graph's shape (its nodes and edges, the zoom, the focus) and kept in
//! the Graph screen's state; each frame draws only the window of it on screen
//! ([`super::diagram`]).
//!
//! Layers come from [`super::order`] (sources left, crossings reduced). Here: each layer is a
//! column of boxes (services square, destinations round, all of the column's width), each box
//! a row per edge on either side; an edge crossing a column passes it on a row of its own (a
//! dummy slot), so lines never run under a box. Boxes are placed top down, each as near the
//! rows that feed it as the boxes above it allow. In the gap after a column each edge that
//! changes rows gets a vertical lane, shared only by edges whose vertical runs are apart;
//! right of the lanes is room for the edge's label, just before its arrow. An edge that closes
//! a cycle (a reply) runs the other way: its arrow points left, into its target's right side.
//!
//! ```text
//!  ┌────────┐      ┌─────────────────┐ 2.1/s 4ms ╭───────────╮
//!  │ gateway├──╮   │ orders          ├──────────▶│ kafka:ord…│
//!  └────────┘  ╰──▶│                 │           ╰───────────╯
//! ```

use std::collections::BTreeMap;

use hopscope_collector::analysis::{Graph, NodeKind};

use super::order::{self, SlotKind};
use crate::app::fmt;

/// How much of each node and edge is written.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Zoom {
    /// Full node names; edges labelled with rate, p95 and error share.
    #[default]
    Normal,
    /// Short node names (a destination without its system); edges with a health symbol only.
    Compact,
}

impl Zoom {
    /// Longest node label.
    fn label_max(self) -> usize {
        match self {
            Zoom::Normal => 28,
            Zoom::Compact => 14,
        }
    }

    /// Room for an edge's label before its arrow.
    pub fn label_room(self) -> u16 {
        match self {
            Zoom::Normal => 20,
            Zoom::Compact => 3,
        }
    }
}

/// A node's box on the canvas.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Placed {
    /// The node's index in the graph's nodes.
    pub node: usize,
    pub x: u16,
    pub y: u16,
    pub w: u16,
    pub h: u16,
    pub label: String,
    pub destination: bool,
    /// Its column (layer), left to right.
    pub layer: usize,
}

impl Placed {
    /// Whether the cell (x, y) is in the box (its border included).
    pub fn holds(&self, x: u16, y: u16) -> bool {
        x >= self.x && x < self.x + self.w && y >= self.y && y < self.y + self.h
    }
}

/// An edge's path on the canvas.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Route {
    /// The edge's index in the graph's edges.
    pub edge: usize,
    /// Its source's and target's indexes in the graph's nodes.
    pub from: usize,
    pub to: usize,
    /// Corners from the cell beside the source's border to the arrow's cell beside the
    /// target's; consecutive points share a row or a column.
    pub points: Vec<(u16, u16)>,
    /// The edge closes a cycle: it runs right to left, into the target's right side.
    pub back: bool,
    /// Where its label goes: it ends before `x` on row `y`, in at most `room` cells.
    pub label: (u16, u16, u16),
    /// Its extent: (left, top, right, bottom), inclusive.
    pub bounds: (u16, u16, u16, u16),
}

/// The whole graph, laid out.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Canvas {
    pub width: u16,
    pub height: u16,
    /// By column, then top down.
    pub boxes: Vec<Placed>,
    pub routes: Vec<Route>,
}

impl Canvas {
    /// The box of the node `node` (an index in the graph's nodes), if laid out.
    pub fn find(&self, node: usize) -> Option<&Placed> {
        self.boxes.iter().find(|b| b.node == node)
    }
}

fn to_u16(v: usize) -> u16 {
    u16::try_from(v).unwrap_or(u16::MAX)
}

/// A node's label at `zoom`.
pub fn label(id: &str, destination: bool, zoom: Zoom) -> String {
    let short = match zoom {
        Zoom::Compact if destination => id.split_once(':').map_or(id, |(_, d)| d),
        _ => id,
    };
    fmt::fit(short, zoom.label_max())
}

/// Lays out the nodes of `g` for which `keep` says so (all when `None`) and the edges between
/// them.
#[expect(clippy::many_single_char_names, reason = "coordinates: x, y, w, h")]
pub fn lay_out(g: &Graph, keep: Option<&[bool]>, zoom: Zoom) -> Canvas {
    let nodes: Vec<usize> =
        (0..g.nodes.len()).filter(|&i| keep.is_none_or(|k| k.get(i) == Some(&true))).collect();
    let local: BTreeMap<&str, usize> =
        nodes.iter().enumerate().map(|(l, &i)| (g.nodes[i].id.as_str(), l)).collect();
    let mut edges = Vec::new();
    let mut edge_ids = Vec::new();
    for (e, x) in g.edges.iter().enumerate() {
        if let (Some(&a), Some(&b)) = (local.get(x.from.as_str()), local.get(x.to.as_str()))
            && a != b
        {
            edges.push((a, b));
            edge_ids.push(e);
        }
    }
    let mut systems: BTreeMap<&str, u32> = BTreeMap::new();
    let group: Vec<Option<u32>> = nodes
        .iter()
        .map(|&i| {
            let n = &g.nodes[i];
            (n.kind == NodeKind::Destination).then(|| {
                let system = n.id.split_once(':').map_or("", |(s, _)| s);
                let next = systems.len() as u32;
                *systems.entry(system).or_insert(next)
            })
        })
        .collect();
    let key: Vec<u32> = (0..nodes.len() as u32).collect();
    let layered = order::lay_out(nodes.len(), &edges, &group, &key);
    let slots = layered.kinds.len();

    // Where each slot is in its layer, and each segment's port on either side.
    let mut index = vec![0usize; slots];
    for layer in &layered.layers {
        for (i, &s) in layer.iter().enumerate() {
            index[s] = i;
        }
    }
    let mut left: Vec<Vec<(usize, usize)>> = vec![Vec::new(); slots];
    let mut right: Vec<Vec<(usize, usize)>> = vec![Vec::new(); slots];
    for (c, chain) in layered.chains.iter().enumerate() {
        for (j, w) in chain.slots.windows(2).enumerate() {
            right[w[0]].push((c, j));
            left[w[1]].push((c, j));
        }
    }
    let seg = |c: usize, j: usize| (layered.chains[c].slots[j], layered.chains[c].slots[j + 1]);
    // Ports in the order of the other end, so that lines leaving a box do not cross.
    let mut out_k: BTreeMap<(usize, usize), usize> = BTreeMap::new();
    let mut in_k: BTreeMap<(usize, usize), usize> = BTreeMap::new();
    for s in 0..slots {
        right[s].sort_by_key(|&(c, j)| (index[seg(c, j).1], c));
        left[s].sort_by_key(|&(c, j)| (index[seg(c, j).0], c));
        for (k, &p) in right[s].iter().enumerate() {
            out_k.insert(p, k);
        }
        for (k, &p) in left[s].iter().enumerate() {
            in_k.insert(p, k);
        }
    }
    let is_node = |s: usize| matches!(layered.kinds[s], SlotKind::Node(_));
    let height = |s: usize| {
        if is_node(s) { to_u16(left[s].len().max(right[s].len()).max(1) + 2) } else { 1 }
    };
    // The row of the k-th of n ports on a side of slot s at top y.
    let port = |s: usize, y: u16, n: usize, k: usize| {
        if is_node(s) {
            let inner = usize::from(height(s) - 2);
            y + 1 + to_u16((inner - n) / 2 + k)
        } else {
            y
        }
    };

    // Rows: columns left to right, slots top down, each as near its feeds as it can be.
    let mut y = vec![0u16; slots];
    for layer in &layered.layers {
        let mut free = 0u16;
        let mut prev_node = false;
        for (i, &s) in layer.iter().enumerate() {
            let feeds: Vec<f64> = left[s]
                .iter()
                .map(|&(c, j)| {
                    let p = seg(c, j).0;
                    f64::from(port(p, y[p], right[p].len(), out_k[&(c, j)]))
                })
                .collect();
            let want = if feeds.is_empty() {
                0.0
            } else {
                let mean = feeds.iter().sum::<f64>() / feeds.len() as f64;
                if is_node(s) {
                    let n = left[s].len();
                    let inner = usize::from(height(s) - 2);
                    mean - 1.0 - ((inner - n) / 2) as f64 - (n.saturating_sub(1) / 2) as f64
                } else {
                    mean
                }
            };
            if i > 0 && (prev_node || is_node(s)) {
                free += 1;
            }
            y[s] = free.max(want.round().max(0.0) as u16);
            free = y[s].saturating_add(height(s));
            prev_node = is_node(s);
        }
    }

    // Column widths, then lanes in each gap (they depend on rows only), then x.
    let labels: Vec<String> = nodes
        .iter()
        .map(|&i| label(&g.nodes[i].id, g.nodes[i].kind == NodeKind::Destination, zoom))
        .collect();
    let col_w: Vec<u16> = layered
        .layers
        .iter()
        .map(|layer| {
            layer
                .iter()
                .filter_map(|&s| match layered.kinds[s] {
                    SlotKind::Node(v) => Some(to_u16(labels[v].chars().count() + 4)),
                    SlotKind::Dummy => None,
                })
                .max()
                .unwrap_or(1)
        })
        .collect();
    let rows_of = |c: usize, j: usize| {
        let (a, b) = seg(c, j);
        (port(a, y[a], right[a].len(), out_k[&(c, j)]), port(b, y[b], left[b].len(), in_k[&(c, j)]))
    };
    let depth = layered.layers.len();
    let mut lane_of: BTreeMap<(usize, usize), u16> = BTreeMap::new();
    let mut lanes_in = vec![0u16; depth];
    for (l, layer) in layered.layers.iter().enumerate() {
        let mut runs: Vec<(u16, u16, usize, usize)> = layer
            .iter()
            .flat_map(|&s| right[s].iter().copied())
            .filter_map(|(c, j)| {
                let (a, b) = rows_of(c, j);
                (a != b).then(|| (a.min(b), a.max(b), c, j))
            })
            .collect();
        runs.sort_unstable();
        // The last row each lane is used to.
        let mut ends: Vec<u16> = Vec::new();
        let mut out_at: BTreeMap<u16, (usize, usize)> = BTreeMap::new();
        let mut in_at: BTreeMap<u16, (usize, usize)> = BTreeMap::new();
        for (top, bottom, c, j) in runs {
            let lane = ends.iter().position(|&e| e.saturating_add(1) < top).unwrap_or_else(|| {
                ends.push(0);
                ends.len() - 1
            });
            ends[lane] = bottom;
            lane_of.insert((c, j), to_u16(lane));
            let (a, b) = rows_of(c, j);
            out_at.insert(a, (c, j));
            in_at.insert(b, (c, j));
        }
        // A row one edge leaves by and another arrives by: the one leaving must turn first
        // (a lane further left), or their runs along the row would overlap.
        let mut lanes = ends.len();
        for _ in 0..out_at.len() {
            let mut moved = false;
            for (row, leaving) in &out_at {
                if let Some(arriving) = in_at.get(row)
                    && lane_of[leaving] >= lane_of[arriving]
                {
                    lane_of.insert(*arriving, to_u16(lanes));
                    lanes += 1;
                    moved = true;
                }
            }
            if !moved {
                break;
            }
        }
        lanes_in[l] = to_u16(lanes);
    }
    let room = zoom.label_room();
    let mut col_x = vec![1u16; depth];
    for l in 1..depth {
        col_x[l] =
            col_x[l - 1].saturating_add(col_w[l - 1]).saturating_add(lanes_in[l - 1] + 3 + room);
    }

    // Routes, in the layering's direction, then turned around for back edges.
    let mut routes = Vec::with_capacity(layered.chains.len());
    for (c, chain) in layered.chains.iter().enumerate() {
        let first = chain.slots[0];
        let l0 = layered.layer_of[first];
        let (y0, _) = rows_of(c, 0);
        let mut points = vec![(col_x[l0] + col_w[l0], y0)];
        let mut end = (0, 0);
        for j in 0..chain.slots.len() - 1 {
            let (a, b) = rows_of(c, j);
            let l = layered.layer_of[chain.slots[j]];
            if let Some(&lane) = lane_of.get(&(c, j)) {
                let x = col_x[l] + col_w[l] + 1 + lane;
                points.push((x, a));
                points.push((x, b));
            }
            end = (col_x[l + 1] - 1, b);
            points.push(end);
            if j + 2 < chain.slots.len() {
                points.push((col_x[l + 1] + col_w[l + 1], b));
            }
        }
        simplify(&mut points);
        if chain.reversed {
            points.reverse();
        }
        let bounds = points.iter().fold((u16::MAX, u16::MAX, 0, 0), |b, &(x, y)| {
            (b.0.min(x), b.1.min(y), b.2.max(x), b.3.max(y))
        });
        let (from, to) = edges[chain.edge];
        routes.push(Route {
            edge: edge_ids[chain.edge],
            from: nodes[from],
            to: nodes[to],
            points,
            back: chain.reversed,
            label: (end.0, end.1, room),
            bounds,
        });
    }
    let mut boxes: Vec<Placed> = layered
        .layers
        .iter()
        .enumerate()
        .flat_map(|(l, layer)| layer.iter().map(move |&s| (l, s)))
        .filter_map(|(l, s)| match layered.kinds[s] {
            SlotKind::Node(v) => Some(Placed {
                node: nodes[v],
                x: col_x[l],
                y: y[s],
                w: col_w[l],
                h: height(s),
                label: labels[v].clone(),
                destination: g.nodes[nodes[v]].kind == NodeKind::Destination,
                layer: l,
            }),
            SlotKind::Dummy => None,
        })
        .collect();
    boxes.sort_by_key(|b| (b.layer, b.y));
    let width =
        col_x.last().zip(col_w.last()).map_or(0, |(x, w)| x.saturating_add(*w).saturating_add(1));
    let height = (0..slots).map(|s| y[s].saturating_add(height(s))).max().unwrap_or(0) + 1;
    Canvas { width, height, boxes, routes }
}

/// Drops repeated points and the middle one of three in a line.
fn simplify(points: &mut Vec<(u16, u16)>) {
    points.dedup();
    let mut i = 1;
    while i + 1 < points.len() {
        let (a, b, c) = (points[i - 1], points[i], points[i + 1]);
        if (a.0 == b.0 && b.0 == c.0) || (a.1 == b.1 && b.1 == c.1) {
            points.remove(i);
        } else {
            i += 1;
        }
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use crate::app::graph::generated::generated_graph as generated;

    /// Every cell a route passes, from its first point to its arrow.
    fn cells(points: &[(u16, u16)]) -> Vec<(u16, u16)> {
        let mut out = Vec::new();
        for w in points.windows(2) {
            let ((x0, y0), (x1, y1)) = (w[0], w[1]);
            let steps = x0.abs_diff(x1).max(y0.abs_diff(y1));
            for k in 0..steps {
                let x = if x1 >= x0 { x0 + k.min(x1 - x0) } else { x0 - k.min(x0 - x1) };
                let y = if y1 >= y0 { y0 + k.min(y1 - y0) } else { y0 - k.min(y0 - y1) };
                out.push((x, y));
            }
        }
        if let Some(&last) = points.last() {
            out.push(last);
        }
        out
    }

    /// No two boxes share a cell; every edge is routed, from beside its source to an arrow
    /// beside its target, in straight runs, and through no box.
    pub(crate) fn check(g: &Graph, c: &Canvas) {
        for (i, a) in c.boxes.iter().enumerate() {
            assert!(a.x + a.w <= c.width && a.y + a.h <= c.height, "{a:?} off the canvas");
            for b in &c.boxes[i + 1..] {
                let apart =
                    a.x + a.w <= b.x || b.x + b.w <= a.x || a.y + a.h <= b.y || b.y + b.h <= a.y;
                assert!(apart, "{a:?} overlaps {b:?}");
            }
        }
        let drawn = g.edges.iter().filter(|e| e.from != e.to).count();
        assert_eq!(c.routes.len(), drawn);
        for r in &c.routes {
            let (from, to) = (c.find(r.from).unwrap(), c.find(r.to).unwrap());
            let e = &g.edges[r.edge];
            assert_eq!((&g.nodes[r.from].id, &g.nodes[r.to].id), (&e.from, &e.to));
            let (first, last) = (r.points[0], *r.points.last().unwrap());
            let inner = |b: &Placed, y: u16| y > b.y && y + 1 < b.y + b.h;
            if r.back {
                assert!(first.0 + 1 == from.x && inner(from, first.1), "{r:?} {from:?}");
                assert!(last.0 == to.x + to.w && inner(to, last.1), "{r:?} {to:?}");
            } else {
                assert!(first.0 == from.x + from.w && inner(from, first.1), "{r:?} {from:?}");
                assert!(last.0 + 1 == to.x && inner(to, last.1), "{r:?} {to:?}");
            }
            for w in r.points.windows(2) {
                assert!(w[0].0 == w[1].0 || w[0].1 == w[1].1, "a diagonal in {r:?}");
            }
            for (x, y) in cells(&r.points) {
                assert!(x < c.width && y < c.height, "{r:?} off the canvas");
                let hit = c.boxes.iter().find(|b| b.holds(x, y));
                assert!(hit.is_none(), "{r:?} runs through {hit:?} at ({x}, {y})");
            }
        }
    }

    /// Lines may cross, but never share a corner, an end or a run along a row.
    fn check_corners(c: &Canvas) {
        let mut at: BTreeMap<(u16, u16), Vec<(usize, bool)>> = BTreeMap::new();
        for r in &c.routes {
            for cell in cells(&r.points) {
                at.entry(cell).or_default().push((r.edge, r.points.contains(&cell)));
            }
        }
        for (cell, here) in at {
            let turns = here.iter().any(|(_, corner)| *corner);
            assert!(here.len() == 1 || !turns, "edges {here:?} meet at a corner at {cell:?}");
        }
    }

    #[test]
    fn a_generated_60_node_graph_lays_out_without_overlaps_and_every_edge_reaches_both_ends() {
        let g = generated(36, 24, 120);
        assert_eq!(g.nodes.len(), 60);
        for zoom in [Zoom::Normal, Zoom::Compact] {
            let c = lay_out(&g, None, zoom);
            assert_eq!(c.boxes.len(), 60);
            assert!(c.routes.iter().any(|r| r.back), "the graph has cycles");
            check(&g, &c);
            check_corners(&c);
        }
    }

    #[test]
    fn a_focus_lays_out_only_the_nodes_kept() {
        let g = generated(12, 6, 30);
        let keep: Vec<bool> = (0..g.nodes.len()).map(|i| i % 2 == 0).collect();
        let c = lay_out(&g, Some(&keep), Zoom::Normal);
        assert_eq!(c.boxes.len(), 9);
        assert!(c.routes.iter().all(|r| keep[r.from] && keep[r.to]));
        let kept = Graph {
            nodes: g.nodes.clone(),
            edges: g
                .edges
                .iter()
                .filter(|e| {
                    let i = |id: &str| g.nodes.iter().position(|n| n.id == id).unwrap();
                    keep[i(&e.from)] && keep[i(&e.to)]
                })
                .cloned()
                .collect(),
        };
        assert_eq!(c.routes.len(), kept.edges.len());
    }

    #[test]
    fn compact_labels_drop_the_system_and_shorten() {
        assert_eq!(label("rabbitmq:orders.saga-replies", true, Zoom::Compact), "orders.saga-r…");
        assert_eq!(label("rabbitmq:orders", true, Zoom::Normal), "rabbitmq:orders");
        assert_eq!(label("orders", false, Zoom::Compact), "orders");
    }
}
