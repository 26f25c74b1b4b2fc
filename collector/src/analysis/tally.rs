//! The running sums that the architecture rows and the anti-pattern insights are read from:
//! each flow's shape is added when the flow is built and taken away when it is rebuilt or
//! goes. [`super::analyze`] adds every flow once; the live analysis keeps one [`Tally`] from
//! view to view, so a view costs O(changed flows), and both give the same document.

use super::antipatterns::{FlowKey, Patterns};
use super::architecture::Rows;
use super::shape::FlowShape;
use super::{ArchitectureRow, Ctx, Flow, Insight};

#[derive(Debug, Default)]
pub(crate) struct Tally {
    rows: Rows,
    patterns: Patterns,
}

impl Tally {
    /// Adds the flow at `key` (its place in the output order) with its shape, or (`add`
    /// false) takes it away: it must be the flow and shape added before.
    pub fn apply(&mut self, key: FlowKey, flow: &Flow, shape: &FlowShape, add: bool) {
        self.rows.apply(flow, shape, add);
        self.patterns.apply(key, shape, add);
    }

    /// Takes flow `old` (as added before) away and adds its rebuilt record: the anti-pattern
    /// sums, which read only the shape and the place, are left alone when neither changed
    /// (a flow rebuilt for the clock).
    pub fn replace(
        &mut self,
        old: Option<(FlowKey, &Flow, &FlowShape)>,
        key: FlowKey,
        flow: &Flow,
        shape: &FlowShape,
    ) {
        if let Some((old_key, old_flow, old_shape)) = old {
            self.rows.apply(old_flow, old_shape, false);
            if old_key == key && old_shape == shape {
                self.rows.apply(flow, shape, true);
                return;
            }
            self.patterns.apply(old_key, old_shape, false);
        }
        self.apply(key, flow, shape, true);
    }

    /// The architecture rows, and the anti-pattern insights added to `insights`.
    pub fn read(&mut self, cx: &Ctx<'_>, insights: &mut Vec<Insight>) -> Vec<ArchitectureRow> {
        self.patterns.detect(cx, insights);
        self.rows.rows(cx)
    }
}
