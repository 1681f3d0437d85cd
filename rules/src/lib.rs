//! Pure rules for seccomp-watch: the seccomp profile model and the profile suggestion,
//! generation and merge algorithms (no I/O).

pub mod engine;
pub mod profile;
pub mod suggest;
