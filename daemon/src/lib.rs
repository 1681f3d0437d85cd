//! seccomp-watch's daemon and commands: the only crate of the workspace that does I/O.
//!
//! Code map: see ARCHITECTURE.md. [`cli`] parses the command line and dispatches to the
//! command modules; the daemon (`run`) wires sources -> attribution -> store writer.

pub mod alerts;
pub mod alerts_cmd;
pub mod attrib;
pub mod cli;
pub mod completions;
pub mod config;
pub mod doctor;
pub mod http;
pub mod ingest;
pub mod lines;
pub mod metrics;
pub mod parse_cmd;
pub mod pipeline;
pub mod profile_cmd;
pub mod query;
pub mod run;
pub mod sandbox;
pub mod sd_notify;
pub mod sources;
pub mod store;
pub mod writer;
