//! `hopscope`: see how a request travels through sync calls and async events.
//!
//! This crate holds the command line ([`cli`]), configuration precedence ([`config`]), the
//! modes ([`live`], [`serve`], [`replay`], [`demo`], [`analyze`], [`export`], [`catalog`]), the offline
//! pipeline those over recordings share ([`offline`]), the progress line of long reads
//! ([`progress`]), a flow and the whole graph rendered as files (`flow_export`, `graph_export`) and the terminal UI ([`app`]).
//! The `hopscope` binary (`main.rs`) only parses the command line and runs one of them; the
//! library exists so benches can reach the UI. Everything that is not a terminal lives in
//! `hopscope-collector`.

pub mod analyze;
pub mod app;
pub mod catalog;
pub mod cli;
pub mod config;
pub mod demo;
pub mod export;
pub(crate) mod flow_export;
pub(crate) mod graph_export;
pub mod live;
pub mod offline;
pub mod progress;
pub mod replay;
pub mod serve;
