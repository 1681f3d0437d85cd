//! What the profile commands (`suggest`, `generate`, `record`, `merge`, under
//! [`crate::cmd`]) share: profile files in and out (Docker/OCI JSON or a Kubernetes
//! `SeccompProfile`) here, observations built from events and the stored evidence of a
//! selection ([`evidence`]), and the human output: evidence table, findings ([`output`]).

pub mod evidence;
pub mod output;

use std::io::Write;
use std::path::{Path, PathBuf};

use anyhow::Context;
use parsers::escape::escape;
use rules::profile::{K8sSeccompProfile, Profile};
use rules::suggest::GenerateDefault;

/// The output formats of the commands that write a whole profile.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum ProfileFormat {
    /// Docker/OCI seccomp JSON.
    Json,
    /// A Kubernetes Security Profiles Operator `SeccompProfile` (YAML).
    K8s,
}

/// A profile read from a file, with the `SeccompProfile` it came from when it was one.
#[derive(Debug, Clone)]
pub struct LoadedProfile {
    pub profile: Profile,
    /// The resource, when the file was a `SeccompProfile` YAML.
    pub k8s: Option<K8sSeccompProfile>,
    pub path: PathBuf,
}

/// Reads a profile: Docker/OCI JSON, or a `SeccompProfile` YAML (told apart by the first
/// non-blank character: JSON starts with `{`).
pub fn load_profile(path: &Path) -> anyhow::Result<LoadedProfile> {
    let text = std::fs::read_to_string(path)
        .with_context(|| format!("cannot read {}", escape(&path.display().to_string())))?;
    parse_profile(&text, path)
}

/// [`load_profile`] of text already read.
pub fn parse_profile(text: &str, path: &Path) -> anyhow::Result<LoadedProfile> {
    let shown = escape(&path.display().to_string()).into_owned();
    if text.trim_start().starts_with('{') {
        let profile =
            Profile::from_json(text).with_context(|| format!("{shown}: not a seccomp profile"))?;
        return Ok(LoadedProfile {
            profile,
            k8s: None,
            path: path.to_path_buf(),
        });
    }
    let res = K8sSeccompProfile::from_yaml(text)
        .with_context(|| format!("{shown}: neither a JSON seccomp profile nor a SeccompProfile"))?;
    Ok(LoadedProfile {
        profile: res.to_profile(),
        k8s: Some(res),
        path: path.to_path_buf(),
    })
}

/// A Kubernetes resource name (DNS-1123 subdomain) made from `s`: lower case, runs of other
/// characters as `-`, at most 253 characters; `profile` when nothing is left.
pub fn k8s_name(s: &str) -> String {
    let mut out = String::new();
    for c in s.chars() {
        let c = c.to_ascii_lowercase();
        if c.is_ascii_alphanumeric() || c == '.' {
            out.push(c);
        } else if !out.ends_with('-') {
            out.push('-');
        }
    }
    let trimmed: String = out
        .trim_matches(|c: char| c == '-' || c == '.')
        .chars()
        .take(253)
        .collect();
    let trimmed = trimmed.trim_end_matches(['-', '.']).to_string();
    if trimmed.is_empty() {
        "profile".to_string()
    } else {
        trimmed
    }
}

/// The text of `profile` in `format`, and the notes of what the `SeccompProfile` form
/// dropped. `template`, when given, supplies the resource's metadata (and unknown fields);
/// otherwise it is named `name`.
pub fn render_profile(
    profile: &Profile,
    format: ProfileFormat,
    template: Option<&K8sSeccompProfile>,
    name: &str,
) -> anyhow::Result<(String, Vec<String>)> {
    match format {
        ProfileFormat::Json => Ok((profile.to_json(), Vec::new())),
        ProfileFormat::K8s => {
            let (mut res, notes) = K8sSeccompProfile::from_profile(profile, name);
            if let Some(t) = template {
                res.api_version.clone_from(&t.api_version);
                res.metadata = t.metadata.clone();
                res.extra = t.extra.clone();
            }
            Ok((res.to_yaml()?, notes))
        }
    }
}

/// Writes `text` to `path` atomically: a new temporary file in the same directory, then
/// renamed over `path`.
///
/// The commands may run as root with `-o` in a directory another user can write, so the
/// temporary file has a random name (128 bits from `getrandom`) and is created with
/// `O_CREAT | O_EXCL | O_NOFOLLOW`: a file or symlink planted at that name makes the open
/// fail (and another name is tried) instead of being written through. The rename replaces
/// a symlink at `path` itself rather than following it.
pub fn write_file(path: &Path, text: &str) -> anyhow::Result<()> {
    let shown = escape(&path.display().to_string()).into_owned();
    let dir = match path.parent() {
        Some(d) if !d.as_os_str().is_empty() => d.to_path_buf(),
        _ => PathBuf::from("."),
    };
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let (tmp, mut f) = create_temp(&dir, &name)
        .with_context(|| format!("cannot create a temporary file next to {shown}"))?;
    let res = (|| -> std::io::Result<()> {
        f.write_all(text.as_bytes())?;
        f.sync_all()?;
        std::fs::rename(&tmp, path)?;
        // The rename itself is durable once the directory is synced.
        if let Ok(d) = std::fs::File::open(&dir) {
            let _ = d.sync_all();
        }
        Ok(())
    })();
    if let Err(e) = res {
        let _ = std::fs::remove_file(&tmp);
        return Err(anyhow::Error::new(e).context(format!("cannot write {shown}")));
    }
    Ok(())
}

/// A new file `dir/.NAME.RANDOM.tmp`, opened `O_CREAT | O_EXCL | O_NOFOLLOW` (mode 0666
/// before the umask, as a plain create would give).
fn create_temp(dir: &Path, name: &str) -> std::io::Result<(PathBuf, std::fs::File)> {
    use std::os::unix::fs::OpenOptionsExt;
    let mut last = None;
    for _ in 0..16 {
        let tmp = dir.join(format!(".{name}.{}.tmp", random_hex()?));
        match std::fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .mode(0o666)
            .custom_flags(libc::O_NOFOLLOW | libc::O_CLOEXEC)
            .open(&tmp)
        {
            Ok(f) => return Ok((tmp, f)),
            // Taken (by chance, or planted): another name.
            Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => last = Some(e),
            Err(e) => return Err(e),
        }
    }
    Err(last.unwrap_or_else(|| std::io::Error::other("no free temporary name")))
}

/// 128 random bits as hex, from the kernel (`getrandom`).
fn random_hex() -> std::io::Result<String> {
    let mut b = [0u8; 16];
    let mut got = 0;
    while got < b.len() {
        // SAFETY: writes at most `b.len() - got` bytes into `b[got..]`.
        let n = unsafe { libc::getrandom(b[got..].as_mut_ptr().cast(), b.len() - got, 0) };
        if n < 0 {
            let e = std::io::Error::last_os_error();
            if e.kind() == std::io::ErrorKind::Interrupted {
                continue;
            }
            return Err(e);
        }
        got += n as usize;
    }
    Ok(b.iter().map(|x| format!("{x:02x}")).collect())
}

/// The default action of the recorded profile.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum DefaultAction {
    /// `SCMP_ACT_ERRNO` (EPERM): enforce.
    Errno,
    /// `SCMP_ACT_LOG`: keep logging what else is called.
    Log,
}

impl From<DefaultAction> for GenerateDefault {
    fn from(d: DefaultAction) -> GenerateDefault {
        match d {
            DefaultAction::Errno => GenerateDefault::Errno,
            DefaultAction::Log => GenerateDefault::Log,
        }
    }
}

/// `--allow-dangerous` and `--allow NAME`: which `@dangerous` calls (bpf, mount, ptrace,
/// unshare, setns, keyctl, io_uring_*, ...) a command may allow. Without them such calls are
/// listed with their evidence and a warning, never allowed.
#[derive(Debug, Clone, Default, clap::Args)]
pub struct DangerousArgs {
    /// Allow observed calls of the `@dangerous` group too (`seccomp-watch rules show`
    /// lists it).
    #[arg(long)]
    pub allow_dangerous: bool,
    /// Allow this `@dangerous` call when it was observed (repeat, or separate by commas);
    /// `suggest` also takes a call an entry of the profile denies.
    #[arg(long = "allow", value_name = "NAME", value_delimiter = ',')]
    pub allow: Vec<String>,
    /// Do not allow the signal returns (`rt_sigreturn`, `sigreturn`) and `restart_syscall`
    /// unobserved. By default a profile whose default action denies gets them: a process
    /// returning from a signal handler dies under a profile that denies its signal return,
    /// and only runs that took a signal show the call (runc's init does in about one start
    /// in five).
    #[arg(long)]
    pub no_essentials: bool,
}

impl DangerousArgs {
    /// The policy; an `--allow` name that is not in `@dangerous` is an error (a typo would
    /// otherwise go unnoticed).
    pub fn policy(&self) -> anyhow::Result<rules::suggest::DangerousPolicy> {
        for n in &self.allow {
            if !rules::suggest::is_dangerous_syscall(n) {
                anyhow::bail!(
                    "--allow {}: not a call of the @dangerous group (other calls need no --allow)",
                    escape(n)
                );
            }
        }
        Ok(rules::suggest::DangerousPolicy {
            all: self.allow_dangerous,
            names: self.allow.iter().cloned().collect(),
        })
    }
}

/// The warning printed when `@dangerous` calls were held back (empty when none were).
pub fn dangerous_warning(held: &std::collections::BTreeSet<&str>) -> String {
    if held.is_empty() {
        return String::new();
    }
    let names: Vec<String> = held.iter().map(|n| escape(n).into_owned()).collect();
    format!(
        "WARNING: {} dangerous call(s) observed and NOT allowed: {} (a container rarely needs them; they are used to escape containers). If the workload really needs one, pass --allow NAME (or --allow-dangerous).\n",
        names.len(),
        names.join(", ")
    )
}

/// Parses a duration: a number and a unit `ms`, `s`, `m`, `h`, `d` or `w` (`90s`, `15m`,
/// `2h`, `7d`); several may follow each other (`1h30m`).
pub fn parse_duration(s: &str) -> Result<std::time::Duration, String> {
    let bad = || {
        format!(
            "invalid duration {:?} (expected e.g. 90s, 15m, 2h, 7d)",
            escape(s)
        )
    };
    let mut total_ms: u64 = 0;
    let mut rest = s.trim();
    if rest.is_empty() {
        return Err(bad());
    }
    while !rest.is_empty() {
        let digits = rest.bytes().take_while(u8::is_ascii_digit).count();
        if digits == 0 {
            return Err(bad());
        }
        let n: u64 = rest[..digits].parse().map_err(|_| bad())?;
        rest = &rest[digits..];
        let unit_len = rest.bytes().take_while(u8::is_ascii_alphabetic).count();
        let factor: u64 = match &rest[..unit_len] {
            "ms" => 1,
            "s" => 1000,
            "m" => 60_000,
            "h" => 3_600_000,
            "d" => 86_400_000,
            "w" => 604_800_000,
            _ => return Err(bad()),
        };
        rest = &rest[unit_len..];
        total_ms = n
            .checked_mul(factor)
            .and_then(|v| total_ms.checked_add(v))
            .ok_or_else(bad)?;
    }
    Ok(std::time::Duration::from_millis(total_ms))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations() {
        assert_eq!(parse_duration("90s").unwrap().as_secs(), 90);
        assert_eq!(parse_duration("1h30m").unwrap().as_secs(), 5400);
        assert_eq!(parse_duration("7d").unwrap().as_secs(), 7 * 86400);
        assert_eq!(parse_duration("250ms").unwrap().as_millis(), 250);
        for bad in ["", "5", "h", "5x", "-5m", "5 m", "99999999999999999999d"] {
            assert!(parse_duration(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn write_file_replaces_a_symlink_and_leaves_no_temporary_file() {
        let dir = tempfile::tempdir().unwrap();
        let victim = dir.path().join("victim");
        std::fs::write(&victim, "keep").unwrap();
        let out = dir.path().join("out.json");
        std::os::unix::fs::symlink(&victim, &out).unwrap();
        write_file(&out, "{}\n").unwrap();
        assert_eq!(std::fs::read_to_string(&victim).unwrap(), "keep");
        assert!(std::fs::symlink_metadata(&out).unwrap().is_file());
        assert_eq!(std::fs::read_to_string(&out).unwrap(), "{}\n");
        let names: Vec<_> = std::fs::read_dir(dir.path())
            .unwrap()
            .map(|e| e.unwrap().file_name())
            .collect();
        assert_eq!(names.len(), 2, "{names:?}");
        // Two names in a row differ (random, not the pid).
        assert_ne!(random_hex().unwrap(), random_hex().unwrap());
        // An unwritable directory: an error naming the file.
        let e = write_file(&dir.path().join("missing/x.json"), "{}").unwrap_err();
        assert!(format!("{e:#}").contains("x.json"), "{e:#}");
    }

    #[test]
    fn k8s_names() {
        assert_eq!(k8s_name("Fedora_ls no-opt.json"), "fedora-ls-no-opt.json");
        assert_eq!(k8s_name("--x--"), "x");
        assert_eq!(k8s_name("\u{1b}[31m"), "31m");
        assert_eq!(k8s_name("___"), "profile");
    }
}
