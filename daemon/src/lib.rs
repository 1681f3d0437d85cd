//! seccomp-watch's daemon and commands: the only crate of the workspace that does I/O.
//!
//! Code map: see ARCHITECTURE.md. [`cli`] parses the command line and dispatches to the
//! command modules under [`cmd`]; the daemon ([`daemon`]) wires sources -> attribution ->
//! store writer.

pub mod alerts;
pub mod attrib;
pub mod cli;
pub mod cmd;
pub mod config;
pub mod daemon;
pub mod fleet;
pub mod http;
pub mod lines;
pub mod logging;
pub mod metrics;
pub mod pipeline;
pub mod probe_marks;
pub mod profile_io;
pub mod query;
pub mod records;
pub mod sandbox;
pub mod sd_notify;
pub mod sources;
pub mod store;
pub mod writer;
pub mod zone;
