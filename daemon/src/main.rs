//! The `seccomp-watch` binary: CLI entry point.
fn main() {}
