//! Man pages (`clap_mangen`) and shell completions (`clap_complete`) generated from the
//! CLI definition itself, for the Debian package: the hidden commands
//! `seccomp-watch man --out-dir DIR` and `seccomp-watch completions SHELL [--out-dir DIR]`.
//!
//! The CLI definition comes in as a [`clap::Command`] (from `cli`, which
//! dispatches here), so that this module does not import the CLI back.

use std::io::Write;
use std::path::{Path, PathBuf};

use clap_complete::Shell;

/// `seccomp-watch man` options.
#[derive(Debug, Clone, clap::Args)]
pub struct ManArgs {
    /// Write `seccomp-watch.1` and one `seccomp-watch-COMMAND.1` per command into DIR
    /// (default: print the main page to stdout).
    #[arg(long, value_name = "DIR")]
    pub out_dir: Option<PathBuf>,
}

/// `seccomp-watch completions` options.
#[derive(Debug, Clone, clap::Args)]
pub struct CompletionsArgs {
    /// bash, zsh, fish, elvish or powershell.
    pub shell: Shell,
    /// Write the file under its conventional name into DIR (default: stdout).
    #[arg(long, value_name = "DIR")]
    pub out_dir: Option<PathBuf>,
}

/// The CLI `cli` as clap sees it, named as installed.
fn named(cli: clap::Command) -> clap::Command {
    cli.name("seccomp-watch").bin_name("seccomp-watch")
}

/// Runs `seccomp-watch man` for the CLI `cli`.
pub fn man(args: ManArgs, cli: clap::Command) -> anyhow::Result<i32> {
    match args.out_dir {
        Some(dir) => {
            let written = write_man_pages(&dir, cli)?;
            for p in written {
                println!("{}", parsers::escape::escape(&p.display().to_string()));
            }
        }
        None => {
            let mut out = std::io::stdout().lock();
            clap_mangen::Man::new(named(cli)).render(&mut out)?;
            out.flush()?;
        }
    }
    Ok(0)
}

/// Writes the main page and one page per visible subcommand of the CLI `cli` into `dir`;
/// returns the paths.
pub fn write_man_pages(dir: &Path, cli: clap::Command) -> anyhow::Result<Vec<PathBuf>> {
    std::fs::create_dir_all(dir)?;
    let mut cmd = named(cli);
    cmd.build();
    let mut written = Vec::new();
    let mut page = |c: clap::Command, name: String| -> anyhow::Result<()> {
        let path = dir.join(format!("{name}.1"));
        let mut buf = Vec::new();
        clap_mangen::Man::new(c)
            .title(name.to_uppercase())
            .render(&mut buf)?;
        std::fs::write(&path, buf)?;
        written.push(path);
        Ok(())
    };
    for sub in cmd
        .get_subcommands()
        .filter(|s| !s.is_hide_set() && s.get_name() != "help")
    {
        let name = format!("seccomp-watch-{}", sub.get_name());
        // clap names are &'static str (without its "string" feature); this command runs
        // once and exits, so the few leaked bytes do not matter.
        let leaked: &'static str = Box::leak(name.clone().into_boxed_str());
        page(sub.clone().name(leaked), name)?;
    }
    page(cmd, "seccomp-watch".into())?;
    Ok(written)
}

/// Runs `seccomp-watch completions SHELL` for the CLI `cli`.
pub fn completions(args: CompletionsArgs, cli: clap::Command) -> anyhow::Result<i32> {
    let mut cmd = named(cli);
    match args.out_dir {
        Some(dir) => {
            std::fs::create_dir_all(&dir)?;
            let p = clap_complete::generate_to(args.shell, &mut cmd, "seccomp-watch", &dir)?;
            println!("{}", parsers::escape::escape(&p.display().to_string()));
        }
        None => {
            let mut out = std::io::stdout().lock();
            clap_complete::generate(args.shell, &mut cmd, "seccomp-watch", &mut out);
            out.flush()?;
        }
    }
    Ok(0)
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::CommandFactory;

    /// The real CLI, named as installed.
    fn command() -> clap::Command {
        named(crate::cli::Cli::command())
    }

    #[test]
    fn man_pages_cover_every_visible_command() {
        let dir = tempfile::tempdir().unwrap();
        let written = write_man_pages(dir.path(), crate::cli::Cli::command()).unwrap();
        let names: Vec<String> = written
            .iter()
            .map(|p| p.file_name().unwrap().to_string_lossy().into_owned())
            .collect();
        assert!(names.contains(&"seccomp-watch.1".to_string()), "{names:?}");
        assert!(
            names.contains(&"seccomp-watch-doctor.1".to_string()),
            "{names:?}"
        );
        assert!(
            !names
                .iter()
                .any(|n| n.contains("completions") || n.contains("-man.") || n.contains("-help.")),
            "hidden commands get no page: {names:?}"
        );
        let main = std::fs::read_to_string(dir.path().join("seccomp-watch.1")).unwrap();
        assert!(
            main.starts_with(".ie") || main.contains(".TH SECCOMP-WATCH 1"),
            "{main}"
        );
        assert!(main.contains("doctor"), "{main}");
        let doctor = std::fs::read_to_string(dir.path().join("seccomp-watch-doctor.1")).unwrap();
        assert!(doctor.contains("\\-\\-json"), "{doctor}");
    }

    #[test]
    fn completions_name_the_commands() {
        let dir = tempfile::tempdir().unwrap();
        for (shell, file) in [
            (Shell::Bash, "seccomp-watch.bash"),
            (Shell::Zsh, "_seccomp-watch"),
            (Shell::Fish, "seccomp-watch.fish"),
        ] {
            let mut cmd = command();
            let p =
                clap_complete::generate_to(shell, &mut cmd, "seccomp-watch", dir.path()).unwrap();
            assert_eq!(p.file_name().unwrap().to_str().unwrap(), file);
            let text = std::fs::read_to_string(&p).unwrap();
            assert!(
                text.contains("doctor") && text.contains("parse"),
                "{shell}: {text}"
            );
        }
    }
}
