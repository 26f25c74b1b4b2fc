//! The layered order of a graph (the first half of a Sugiyama layout; [`super::canvas`] does
//! the second): each node's layer (longest path from the sources, after turning the edges
//! that close a cycle around), a chain of slots for each edge (a dummy slot in every layer it
//! crosses), and the order of the slots in each layer, chosen by barycenter sweeps to reduce
//! crossings, with the destinations of one system kept together.

use std::collections::HashMap;

/// What is in a slot of a layer: a node (its index in the input) or a dummy an edge passes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SlotKind {
    Node(usize),
    Dummy,
}

/// An edge as a chain of slots in consecutive layers, in layer order: source first, or the
/// target first when the edge goes back (closes a cycle) and was turned around.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Chain {
    /// The edge's index in the input.
    pub edge: usize,
    pub slots: Vec<usize>,
    pub reversed: bool,
}

/// The slots by layer, in order, and the chains through them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Layered {
    pub kinds: Vec<SlotKind>,
    pub layer_of: Vec<usize>,
    pub layers: Vec<Vec<usize>>,
    pub chains: Vec<Chain>,
}

/// Sweeps (down then up) of barycenter ordering; the best order seen is kept.
const SWEEPS: usize = 6;

/// Layers of `n` nodes: longest path from the sources over the edges, ignoring those that
/// would close a cycle (found by a depth-first search). Returns each node's layer and, per
/// edge, whether it goes back.
pub fn layers(n: usize, edges: &[(usize, usize)]) -> (Vec<usize>, Vec<bool>) {
    let mut out: Vec<Vec<(usize, usize)>> = vec![Vec::new(); n];
    for (e, &(a, b)) in edges.iter().enumerate() {
        if a != b {
            out[a].push((b, e));
        }
    }
    let mut back = vec![false; edges.len()];
    // 0: not seen, 1: on the current path, 2: done.
    let mut seen = vec![0u8; n];
    let mut finished = Vec::with_capacity(n);
    for root in 0..n {
        if seen[root] != 0 {
            continue;
        }
        let mut stack = vec![(root, 0usize)];
        seen[root] = 1;
        while let Some(&mut (v, ref mut i)) = stack.last_mut() {
            if let Some(&(w, e)) = out[v].get(*i) {
                *i += 1;
                match seen[w] {
                    0 => {
                        seen[w] = 1;
                        stack.push((w, 0));
                    }
                    1 => back[e] = true,
                    _ => {}
                }
            } else {
                seen[v] = 2;
                finished.push(v);
                stack.pop();
            }
        }
    }
    let mut layer = vec![0usize; n];
    for &v in finished.iter().rev() {
        for &(w, e) in &out[v] {
            if !back[e] {
                layer[w] = layer[w].max(layer[v] + 1);
            }
        }
    }
    for (e, &(a, b)) in edges.iter().enumerate() {
        if a == b {
            back[e] = false;
        }
    }
    (layer, back)
}

/// Lays `n` nodes and `edges` (source, target; self-loops are left out) in ordered layers.
/// `group[v]`: nodes sharing a group (a destination's system) stay together in a layer;
/// `key[v]`: breaks ties (and orders the first layer), so the result is deterministic.
pub fn lay_out(n: usize, edges: &[(usize, usize)], group: &[Option<u32>], key: &[u32]) -> Layered {
    let (layer, back) = layers(n, edges);
    let mut kinds: Vec<SlotKind> = (0..n).map(SlotKind::Node).collect();
    let mut layer_of = layer.clone();
    let mut chains = Vec::with_capacity(edges.len());
    for (e, &(a, b)) in edges.iter().enumerate() {
        if a == b {
            continue;
        }
        let (lo, hi) = if back[e] { (b, a) } else { (a, b) };
        let mut slots = vec![lo];
        for l in layer[lo] + 1..layer[hi] {
            kinds.push(SlotKind::Dummy);
            layer_of.push(l);
            slots.push(kinds.len() - 1);
        }
        slots.push(hi);
        chains.push(Chain { edge: e, slots, reversed: back[e] });
    }
    let slots = kinds.len();
    let mut preds: Vec<Vec<usize>> = vec![Vec::new(); slots];
    let mut succs: Vec<Vec<usize>> = vec![Vec::new(); slots];
    // Dummies take the tie-break key of their edge's lower end.
    let mut tie: Vec<u32> = vec![0; slots];
    let mut grp: Vec<Option<u32>> = vec![None; slots];
    tie[..n].copy_from_slice(&key[..n]);
    grp[..n].copy_from_slice(&group[..n]);
    for c in &chains {
        for w in c.slots.windows(2) {
            succs[w[0]].push(w[1]);
            preds[w[1]].push(w[0]);
            if kinds[w[1]] == SlotKind::Dummy {
                tie[w[1]] = tie[w[0]];
            }
        }
    }
    let depth = layer.iter().max().map_or(1, |m| m + 1);
    let mut layers: Vec<Vec<usize>> = vec![Vec::new(); depth];
    for (s, &l) in layer_of.iter().enumerate() {
        layers[l].push(s);
    }
    // The first layer by group then key; the others follow from a first sweep down.
    let mut pos = vec![0f64; slots];
    let zeros = vec![0.0; layers[0].len()];
    let dummy: Vec<bool> = kinds.iter().map(|k| *k == SlotKind::Dummy).collect();
    sort_layer(&mut layers[0], &zeros, &grp, &tie, &dummy);
    place(&layers[0], &mut pos);
    for layer in &mut layers[1..] {
        sweep(layer, &mut pos, &preds, &grp, &tie, &dummy);
    }
    let mut best = layers.clone();
    let mut best_crossings = crossings(&layers, &succs);
    for _ in 0..SWEEPS {
        for layer in &mut layers[1..] {
            sweep(layer, &mut pos, &preds, &grp, &tie, &dummy);
        }
        for layer in layers[..depth.saturating_sub(1)].iter_mut().rev() {
            sweep(layer, &mut pos, &succs, &grp, &tie, &dummy);
        }
        let c = crossings(&layers, &succs);
        if c < best_crossings {
            best_crossings = c;
            best.clone_from(&layers);
        }
        if c == 0 {
            break;
        }
    }
    Layered { kinds, layer_of, layers: best, chains }
}

/// Each slot's position in its layer.
fn place(layer: &[usize], pos: &mut [f64]) {
    for (i, &s) in layer.iter().enumerate() {
        pos[s] = i as f64;
    }
}

/// Orders `layer` by the barycenter of each slot's neighbours (in `nb`); a slot with none
/// keeps its place.
fn sweep(
    layer: &mut [usize],
    pos: &mut [f64],
    nb: &[Vec<usize>],
    grp: &[Option<u32>],
    tie: &[u32],
    dummy: &[bool],
) {
    let values: Vec<f64> = layer
        .iter()
        .map(|&s| {
            let n = &nb[s];
            if n.is_empty() {
                pos[s]
            } else {
                n.iter().map(|&u| pos[u]).sum::<f64>() / n.len() as f64
            }
        })
        .collect();
    sort_layer(layer, &values, grp, tie, dummy);
    place(layer, pos);
}

/// Sorts a layer by `values` (one per slot, in the layer's current order), destinations of
/// one group together at their mean, ties by key; dummies by their value alone.
fn sort_layer(
    layer: &mut [usize],
    values: &[f64],
    grp: &[Option<u32>],
    tie: &[u32],
    dummy: &[bool],
) {
    let mut groups: HashMap<u32, (f64, usize)> = HashMap::new();
    for (&s, &v) in layer.iter().zip(values) {
        if let Some(g) = grp[s] {
            let e = groups.entry(g).or_insert((0.0, 0));
            e.0 += v;
            e.1 += 1;
        }
    }
    let mut keyed: Vec<(f64, u32, f64, u32, usize)> = layer
        .iter()
        .zip(values)
        .map(|(&s, &v)| {
            let primary = grp[s].and_then(|g| groups.get(&g)).map_or(v, |(sum, n)| sum / *n as f64);
            (primary, grp[s].unwrap_or(u32::MAX), v, tie[s], s)
        })
        .collect();
    keyed.sort_by(|a, b| {
        a.0.total_cmp(&b.0)
            .then(a.1.cmp(&b.1))
            .then(a.2.total_cmp(&b.2))
            .then(a.3.cmp(&b.3))
            .then(a.4.cmp(&b.4))
    });
    // Dummies (lines passing) go where their own value puts them, even inside a group.
    let (dummies, nodes): (Vec<_>, Vec<_>) = keyed.into_iter().partition(|k| dummy[k.4]);
    let mut merged = Vec::with_capacity(layer.len());
    let mut d = dummies.into_iter().peekable();
    for n in nodes {
        while let Some(x) = d.next_if(|x| x.2 < n.2) {
            merged.push(x.4);
        }
        merged.push(n.4);
    }
    merged.extend(d.map(|x| x.4));
    layer.copy_from_slice(&merged);
}

/// Crossings between consecutive layers: pairs of segments whose ends are in opposite
/// orders (counted with a Fenwick tree, O(E log E) per pair of layers).
pub fn crossings(layers: &[Vec<usize>], succs: &[Vec<usize>]) -> u64 {
    let mut total = 0u64;
    let mut index = vec![0usize; succs.len()];
    for layer in layers {
        for (i, &s) in layer.iter().enumerate() {
            index[s] = i;
        }
    }
    for w in layers.windows(2) {
        let mut segs: Vec<(usize, usize)> = Vec::new();
        for &u in &w[0] {
            for &v in &succs[u] {
                segs.push((index[u], index[v]));
            }
        }
        segs.sort_unstable();
        let size = w[1].len() + 1;
        let mut tree = vec![0u64; size + 1];
        for (seen, &(_, b)) in (0u64..).zip(&segs) {
            // Segments seen so far ending at or before `b`.
            let mut i = b + 1;
            let mut le = 0;
            while i > 0 {
                le += tree[i];
                i &= i - 1;
            }
            total += seen - le;
            let mut i = b + 1;
            while i <= size {
                tree[i] += 1;
                i += i & i.wrapping_neg();
            }
        }
    }
    total
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn layers_follow_the_longest_path_and_survive_cycles() {
        // 0 → 1 → 2, 0 → 2, 3 → 0, and a cycle 2 → 1.
        let (l, back) = layers(4, &[(0, 1), (1, 2), (0, 2), (3, 0), (2, 1)]);
        assert_eq!(l, vec![1, 2, 3, 0]);
        assert_eq!(back, vec![false, false, false, false, true]);
    }

    #[test]
    fn long_edges_get_a_dummy_per_layer_crossed_and_back_edges_turn_around() {
        let l = lay_out(3, &[(0, 1), (1, 2), (0, 2), (2, 0)], &[None; 3], &[0, 1, 2]);
        let long = l.chains.iter().find(|c| c.edge == 2).unwrap();
        assert_eq!(long.slots.len(), 3);
        assert_eq!(l.kinds[long.slots[1]], SlotKind::Dummy);
        let back = l.chains.iter().find(|c| c.edge == 3).unwrap();
        assert!(back.reversed);
        assert_eq!((back.slots[0], back.slots[2]), (0, 2));
    }

    /// Two sources each feeding the target listed in the other's place: the sweeps uncross.
    #[test]
    fn barycenter_sweeps_remove_avoidable_crossings() {
        // 0 → 3, 1 → 2: keyed so that the first order crosses.
        let l = lay_out(4, &[(0, 3), (1, 2)], &[None; 4], &[0, 1, 2, 3]);
        let mut succs = vec![Vec::new(); l.kinds.len()];
        for c in &l.chains {
            succs[c.slots[0]].push(c.slots[1]);
        }
        assert_eq!(crossings(&l.layers, &succs), 0, "{:?}", l.layers);
    }

    #[test]
    fn destinations_of_one_system_stay_together() {
        // Sources 0, 1, 2; targets 3 (group 7), 4 (none), 5 (group 7) fed so that the
        // barycenters alone would put 4 between 3 and 5.
        let l = lay_out(
            6,
            &[(0, 3), (1, 4), (2, 5)],
            &[None, None, None, Some(7), None, Some(7)],
            &[0, 1, 2, 3, 4, 5],
        );
        let last = &l.layers[1];
        let i3 = last.iter().position(|&s| s == 3).unwrap();
        let i5 = last.iter().position(|&s| s == 5).unwrap();
        assert_eq!(i3.abs_diff(i5), 1, "{last:?}");
    }
}
