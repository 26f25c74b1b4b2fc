//! Generated choreography graphs of any size, for the layout's tests and the graph bench
//! (through `bench_support`): deterministic, with cycles. Nothing here runs in the binary.

use hopscope_collector::analysis::{EdgeKind, Graph, GraphEdge, GraphNode, NodeKind};

/// A graph of `services` services and `destinations` destinations (over three systems)
/// with `edges` calls, emits and consumes picked by a fixed pseudo-random sequence, some
/// of which close cycles.
pub fn generated_graph(services: usize, destinations: usize, edges: usize) -> Graph {
    let mut nodes: Vec<GraphNode> = (0..services)
        .map(|i| GraphNode { id: format!("svc-{i:03}"), kind: NodeKind::Service })
        .collect();
    let systems = ["kafka", "rabbitmq", "sqs"];
    nodes.extend((0..destinations).map(|i| GraphNode {
        id: format!("{}:topic-{i:03}", systems[i % 3]),
        kind: NodeKind::Destination,
    }));
    let mut seed = 0x2545_f491_4f6c_dd1d_u64;
    let mut next = |n: usize| {
        seed ^= seed << 13;
        seed ^= seed >> 7;
        seed ^= seed << 17;
        (seed % n as u64) as usize
    };
    let mut out: Vec<GraphEdge> = Vec::new();
    while out.len() < edges {
        let (from, to, kind) = match next(3) {
            0 => (next(services), next(services), EdgeKind::Call),
            1 => (next(services), services + next(destinations), EdgeKind::Emit),
            _ => (services + next(destinations), next(services), EdgeKind::Consume),
        };
        let (from, to) = (nodes[from].id.clone(), nodes[to].id.clone());
        if from == to || out.iter().any(|e| e.from == from && e.to == to) {
            continue;
        }
        out.push(GraphEdge { from, to, kind, count: 10, errors: 0, p50_ns: 1, p95_ns: 2 });
    }
    out.sort_by(|a, b| (&a.from, &a.to).cmp(&(&b.from, &b.to)));
    Graph { nodes, edges: out }
}
