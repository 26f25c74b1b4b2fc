//! A selectable list: where its selection is, which rows it shows, and how a motion key moves
//! it. Shared by every screen that lists something (and by the flow detail's rows).

use hopscope_collector::analysis::TraceId;

use super::keys::Motion;

/// A selection in a list and the first row shown.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct ListPos {
    pub selected: usize,
    pub offset: usize,
}

impl ListPos {
    /// Keeps the selection inside `len` rows and on screen (`height` rows shown).
    pub fn fit(&mut self, len: usize, height: usize) {
        self.selected = self.selected.min(len.saturating_sub(1));
        let height = height.max(1);
        if self.selected < self.offset {
            self.offset = self.selected;
        } else if self.selected >= self.offset + height {
            self.offset = self.selected + 1 - height;
        }
        self.offset = self.offset.min(len.saturating_sub(height));
    }

    /// Moves the selection as `motion` says, in a list of `len` rows showing `page`.
    pub fn jump(&mut self, motion: Motion, len: usize, page: usize) {
        match motion.delta(page) {
            isize::MIN => self.selected = 0,
            isize::MAX => self.selected = len.saturating_sub(1),
            d => self.selected = self.selected.saturating_add_signed(d),
        }
        self.fit(len, page);
    }
}

/// A list screen other than Flows: an order over the view's rows and a selection kept by key.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct ListState {
    /// Indexes into the view's list (`view.analysis.sagas`, `.lag`, `.insights`,
    /// `.graph.nodes`), in the order shown.
    pub order: Vec<u32>,
    pub pos: ListPos,
    pub selected_key: Option<String>,
}

impl ListState {
    /// Takes a new `order` whose rows are named by `keys` (indexed by view row), keeping the
    /// selected key selected, on the same screen row when it can.
    pub fn keep(&mut self, order: Vec<u32>, keys: &[String], page: usize) {
        if let Some(key) = &self.selected_key
            && let Some(i) = order.iter().position(|&r| keys[r as usize] == *key)
        {
            let row = self.pos.selected.saturating_sub(self.pos.offset);
            self.pos.selected = i;
            self.pos.offset = i.saturating_sub(row);
        }
        self.pos.fit(order.len(), page);
        self.selected_key = order.get(self.pos.selected).map(|&r| keys[r as usize].clone());
        self.order = order;
    }

    /// Moves the selection; the key is re-read from the moved position on the next derive.
    pub fn jump(&mut self, motion: Motion, page: usize) {
        self.pos.jump(motion, self.order.len(), page);
        self.selected_key = None;
    }

    /// The selected row: an index into the view's list.
    pub fn selected(&self) -> Option<usize> {
        self.order.get(self.pos.selected).map(|&r| r as usize)
    }
}

/// The rows `0..n` of a view's list, in the view's order.
pub fn all_rows(n: usize) -> Vec<u32> {
    (0..n as u32).collect()
}

/// What Enter on a list screen's row leads to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Opened {
    /// The detail of this flow, over the list.
    Flow(TraceId),
    /// The Flows screen, filtered by this text.
    FlowsWhere(String),
    /// Nothing: the row leads nowhere, as this says.
    Nowhere(&'static str),
}
