//! Shared helpers for the end-to-end tests: root checks, the built binary, test programs.
