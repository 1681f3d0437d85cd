//! The commands, one module each: its clap arguments and its entry function, which
//! [`crate::cli`] dispatches to. What several commands share lives outside this module
//! ([`crate::query`], [`crate::profile_io`]), so that no command imports another.
//!
//! - [`parse`], [`ingest`]: audit logs to JSON events, or into the database.
//! - [`events`], [`summary`]: the stored events and aggregates.
//! - [`run`]: the daemon ([`crate::daemon`]); [`serve`]: the HTTP API and `/metrics` over a
//!   database (the fleet's PostgreSQL), without sources.
//! - [`suggest`], [`generate`], [`record`], [`merge`]: seccomp profiles from evidence;
//!   [`profile`]: operations on one profile (`profile complain`).
//! - [`rules`], [`alerts`]: alert rules, stored alerts and their deliveries.
//! - [`doctor`]: checks of the host and the configuration.
//! - [`fleet`]: the central PostgreSQL (`fleet migrate`).
//! - [`completions`]: the hidden packaging commands `completions` and `man`.

pub mod alerts;
pub mod completions;
pub mod doctor;
pub mod events;
pub mod fleet;
pub mod generate;
pub mod ingest;
pub mod merge;
pub mod parse;
pub mod profile;
pub mod record;
pub mod rules;
pub mod run;
pub mod serve;
pub mod suggest;
pub mod summary;
