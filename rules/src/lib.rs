//! Pure rule evaluation, throttling, the seccomp profile model and suggestion: no I/O.
