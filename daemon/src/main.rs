//! The `seccomp-watch` binary; everything lives in the library (`seccomp_watch::cli`).

fn main() {
    seccomp_watch::cli::main()
}
