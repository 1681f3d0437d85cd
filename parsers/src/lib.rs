//! Pure parsers for seccomp-watch: bytes in, typed values out; no I/O anywhere in this crate.
//!
//! - [`record`]: one audit record (SECCOMP, type 1326) from an audit.log line, a netlink
//!   message, a kernel log line or a syslog/journal line; its field scanner is in
//!   `fields`, the line prefixes and the trust rules in `envelope`, the `ausearch -i`
//!   form in `ausearch`.
//! - [`journal`]: journald entries (`journalctl -o json`, `-o export`).
//! - [`subject`]: the AppArmor profile and mode of a record's subject.
//! - [`event`]: the owned, stable event (the `parse` JSON format every command reuses).
//! - [`arch`] and [`syscalls`]: audit arch to libseccomp arch names, syscall numbers to names.
//! - [`action`]: the seccomp action of a record's `code=`.
//! - [`cgroup`]: a cgroup path to its container, pod or systemd unit.
//! - [`escape`]: control-character escaping for every human-facing output.

pub mod action;
pub mod arch;
mod ausearch;
pub mod cgroup;
mod envelope;
pub mod escape;
pub mod event;
mod fields;
pub mod journal;
pub mod record;
pub mod subject;
pub mod syscalls;
pub mod time;
pub mod workload;

pub use action::Action;
pub use arch::ScmpArch;
pub use event::Event;
pub use journal::JournalEntry;
pub use record::{
    parse_line, parse_line_with, parse_netlink, Context, ParseError, Parsed, Record, Untrusted,
    Warning,
};
pub use workload::{Attribution, ContainerInfo};
