//! hopscope end-to-end test support.
