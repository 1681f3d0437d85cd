//! The rules file: TOML text to a validated, indexed [`RuleSet`], with every error tied to
//! its line (syntax errors from the TOML span, semantic errors from the span of the value
//! at fault: unknown syscall, unknown group, bad glob, bad action, ...).
//!
//! ```toml
//! builtin = true            # also load the built-in rules (same name here = replaced)
//!
//! [groups]                  # named syscall groups, used as "@name"
//! escape = ["@mount", "setns", "unshare"]
//!
//! [[rule]]
//! name = "escape-attempt"
//! severity = "critical"     # info, low, medium, high, critical
//! description = "..."
//! enabled = true
//! actions = ["errno", "kill_process"]    # SCMP_ACT_* names, short names or 0x codes
//! syscalls = ["@escape", "ptrace"]
//! workloads = ["k8s:prod/*"]             # globs: workloads, containers (names),
//! namespaces = ["prod-*"]                #   namespaces, pods, images, exes, comms
//! uids = [0]
//! in_container = true                    # the event was attributed to a container
//! profile_known = true                   # attribution knows the applied profile
//! novel = true                           # first time for this workload (after learning)
//! not_in_profile = true                  # the applied profile does not allow the call
//! rate = { count = 100, window = "1m" }  # more than 100 matching events in a minute
//!
//! [[rule.except]]                        # the rule does not fire when every key of
//! workloads = ["k8s:kube-system/*"]      #   one exception matches
//! syscalls = ["unshare"]
//! ```

use std::collections::{BTreeMap, HashMap, HashSet};

use parsers::Action;
use serde::Deserialize;
use toml::Spanned;

use super::glob::Glob;
use super::syscalls::{builtin_group, universe, SyscallId, SyscallSet, BUILTIN_GROUPS};
use super::Severity;

/// The built-in rules, embedded.
pub const DEFAULT_RULES_TOML: &str = include_str!("../default-rules.toml");

/// One problem in a rules file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RuleError {
    /// 1-based line, when known.
    pub line: Option<usize>,
    pub message: String,
}

impl std::fmt::Display for RuleError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self.line {
            Some(l) => write!(f, "line {l}: {}", self.message),
            None => f.write_str(&self.message),
        }
    }
}

/// Every problem found in a rules file (at least one).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{}", .0.iter().map(|e| e.to_string()).collect::<Vec<_>>().join("\n"))]
pub struct RuleErrors(pub Vec<RuleError>);

/// Conditions on one event that need no state (shared by rules and their exceptions).
#[derive(Debug, Clone, Default)]
pub(crate) struct Matcher {
    /// Bitmask of [`action_bit`]s; 0 = any action.
    pub actions: u16,
    pub syscalls: Option<SyscallSet>,
    pub workloads: Vec<Glob>,
    pub containers: Vec<Glob>,
    pub namespaces: Vec<Glob>,
    pub pods: Vec<Glob>,
    pub images: Vec<Glob>,
    pub exes: Vec<Glob>,
    pub comms: Vec<Glob>,
    pub uids: Vec<u32>,
    pub in_container: Option<bool>,
    pub profile_known: Option<bool>,
}

/// The action's bit in [`Matcher::actions`].
#[inline]
pub(crate) fn action_bit(a: Action) -> u16 {
    match a {
        Action::KillProcess => 1,
        Action::KillThread => 2,
        Action::Trap => 4,
        Action::Errno => 8,
        Action::Notify => 16,
        Action::Trace => 32,
        Action::Log => 64,
        Action::Allow => 128,
        Action::Other(_) => 256,
    }
}

/// `rate`: the rule fires only for matching events beyond `count` in a window.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Rate {
    pub count: u64,
    pub window_ms: i64,
}

/// One validated rule.
#[derive(Debug, Clone)]
pub struct Rule {
    pub name: String,
    pub description: Option<String>,
    pub severity: Severity,
    pub enabled: bool,
    /// Line of the rule's `name` (0 for built-ins replaced in memory).
    pub line: usize,
    /// True for a rule from the embedded defaults.
    pub builtin: bool,
    pub novel: bool,
    pub not_in_profile: bool,
    pub rate: Option<Rate>,
    /// Human-readable conditions, as written (for `rules show`).
    pub conditions: Vec<String>,
    /// Human-readable exceptions.
    pub exceptions: Vec<String>,
    pub(crate) matcher: Matcher,
    pub(crate) except: Vec<Matcher>,
}

/// A validated, indexed set of rules.
#[derive(Debug, Clone, Default)]
pub struct RuleSet {
    rules: Vec<Rule>,
    /// Enabled rules with no syscall condition.
    pub(crate) any_syscall: Vec<u32>,
    /// Enabled rules by syscall id.
    pub(crate) by_syscall: Vec<Vec<u32>>,
    /// The file's own groups, resolved: (name, members).
    groups: Vec<(String, Vec<String>)>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawFile {
    #[serde(default)]
    builtin: bool,
    #[serde(default)]
    groups: BTreeMap<String, Spanned<Vec<Spanned<String>>>>,
    #[serde(default)]
    rule: Vec<Spanned<RawRule>>,
}

type Strings = Option<Spanned<Vec<Spanned<String>>>>;

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawRule {
    name: Spanned<String>,
    severity: Spanned<String>,
    description: Option<String>,
    enabled: Option<bool>,
    actions: Strings,
    syscalls: Strings,
    workloads: Strings,
    containers: Strings,
    namespaces: Strings,
    pods: Strings,
    images: Strings,
    exes: Strings,
    comms: Strings,
    uids: Option<Vec<u32>>,
    in_container: Option<bool>,
    profile_known: Option<bool>,
    novel: Option<bool>,
    not_in_profile: Option<bool>,
    rate: Option<Spanned<RawRate>>,
    except: Option<Vec<Spanned<RawExcept>>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawExcept {
    actions: Strings,
    syscalls: Strings,
    workloads: Strings,
    containers: Strings,
    namespaces: Strings,
    pods: Strings,
    images: Strings,
    exes: Strings,
    comms: Strings,
    uids: Option<Vec<u32>>,
    in_container: Option<bool>,
    profile_known: Option<bool>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawRate {
    count: u64,
    window: Spanned<RawDuration>,
}

#[derive(Deserialize)]
#[serde(untagged)]
enum RawDuration {
    Secs(i64),
    Text(String),
}

/// The match keys shared by rules and exceptions, borrowed.
struct RawMatch<'a> {
    actions: &'a Strings,
    syscalls: &'a Strings,
    globs: [(&'static str, &'a Strings); 7],
    uids: &'a Option<Vec<u32>>,
    in_container: Option<bool>,
    profile_known: Option<bool>,
}

/// Parses a duration: integer seconds, or a number with `ms`, `s`, `m`, `h` or `d`.
pub fn parse_duration_ms(s: &str) -> Option<i64> {
    let s = s.trim();
    let split = s.find(|c: char| !c.is_ascii_digit()).unwrap_or(s.len());
    let (num, unit) = s.split_at(split);
    let n: i64 = num.parse().ok()?;
    let mult = match unit.trim() {
        "ms" => 1,
        "" | "s" => 1_000,
        "m" => 60_000,
        "h" => 3_600_000,
        "d" => 86_400_000,
        _ => return None,
    };
    n.checked_mul(mult)
}

struct Ctx<'a> {
    text: &'a str,
    errors: Vec<RuleError>,
    /// The file's groups, resolved (None while being resolved: cycle detection).
    groups: HashMap<String, Option<SyscallSet>>,
    raw_groups: &'a BTreeMap<String, Spanned<Vec<Spanned<String>>>>,
}

impl Ctx<'_> {
    fn line(&self, start: usize) -> usize {
        line_of(self.text, start)
    }

    fn err(&mut self, start: usize, message: String) {
        let line = Some(self.line(start));
        self.errors.push(RuleError { line, message });
    }

    /// Resolves one `syscalls` entry (a name or `@group`) into `out`.
    fn add_syscall(&mut self, entry: &Spanned<String>, out: &mut SyscallSet) {
        let s = entry.get_ref().trim();
        let at = entry.span().start;
        if let Some(g) = s.strip_prefix('@') {
            match self.group(g, at) {
                Some(set) => out.union_with(&set),
                None => {
                    if !self.groups.contains_key(g) && builtin_group(g).is_none() {
                        let known: Vec<String> = BUILTIN_GROUPS
                            .iter()
                            .map(|(n, _, _)| format!("@{n}"))
                            .chain(self.raw_groups.keys().map(|k| format!("@{k}")))
                            .collect();
                        self.err(
                            at,
                            format!("unknown syscall group @{g} (known: {})", known.join(", ")),
                        );
                    }
                }
            }
            return;
        }
        match universe().id(s) {
            Some(id) => out.insert(id),
            None => self.err(
                at,
                format!("unknown syscall {s:?}: no arch libseccomp knows has it"),
            ),
        }
    }

    /// The members of group `g`: the file's own, else a built-in one.
    fn group(&mut self, g: &str, at: usize) -> Option<SyscallSet> {
        if let Some(state) = self.groups.get(g) {
            return match state {
                Some(s) => Some(s.clone()),
                None => {
                    self.err(at, format!("group @{g} includes itself"));
                    None
                }
            };
        }
        if let Some(raw) = self.raw_groups.get(g) {
            self.groups.insert(g.to_string(), None);
            let mut set = SyscallSet::new();
            for m in raw.get_ref() {
                self.add_syscall(m, &mut set);
            }
            self.groups.insert(g.to_string(), Some(set.clone()));
            return Some(set);
        }
        builtin_group(g).map(|members| {
            let mut set = SyscallSet::new();
            for m in members {
                if let Some(id) = universe().id(m) {
                    set.insert(id);
                }
            }
            set
        })
    }

    fn globs(&mut self, key: &str, list: &Strings, out: &mut Vec<Glob>, desc: &mut Vec<String>) {
        let Some(list) = list else { return };
        if list.get_ref().is_empty() {
            self.err(
                list.span().start,
                format!("{key}: empty list (leave the key out to match any)"),
            );
        }
        for g in list.get_ref() {
            match Glob::new(g.get_ref()) {
                Ok(glob) if key == "workloads" && !glob.can_match_workload_key() => self.err(
                    g.span().start,
                    format!(
                        "workloads: glob {:?} cannot match any workload key (keys look like {})",
                        g.get_ref(),
                        super::glob::WORKLOAD_KEY_FORMS
                    ),
                ),
                Ok(glob) => out.push(glob),
                Err(e) => self.err(
                    g.span().start,
                    format!("{key}: bad glob {:?}: {e}", g.get_ref()),
                ),
            }
        }
        desc.push(format!("{key} {}", list_text(list)));
    }

    fn matcher(&mut self, raw: &RawMatch<'_>, desc: &mut Vec<String>) -> Matcher {
        let mut m = Matcher {
            in_container: raw.in_container,
            profile_known: raw.profile_known,
            ..Matcher::default()
        };
        if let Some(list) = raw.actions {
            if list.get_ref().is_empty() {
                self.err(
                    list.span().start,
                    "actions: empty list (leave the key out to match any)".into(),
                );
            }
            for a in list.get_ref() {
                match Action::parse(a.get_ref()) {
                    Some(act) => m.actions |= action_bit(act),
                    None => self.err(
                        a.span().start,
                        format!("unknown action {:?} (SCMP_ACT_KILL_PROCESS, KILL_THREAD, TRAP, ERRNO, NOTIFY, TRACE, LOG, ALLOW or a 0x code)", a.get_ref()),
                    ),
                }
            }
            desc.push(format!("actions {}", list_text(list)));
        }
        if let Some(list) = raw.syscalls {
            if list.get_ref().is_empty() {
                self.err(
                    list.span().start,
                    "syscalls: empty list (leave the key out to match any)".into(),
                );
            }
            let mut set = SyscallSet::new();
            for s in list.get_ref() {
                self.add_syscall(s, &mut set);
            }
            m.syscalls = Some(set);
            desc.push(format!("syscalls {}", list_text(list)));
        }
        for (key, list) in raw.globs {
            let out = match key {
                "workloads" => &mut m.workloads,
                "containers" => &mut m.containers,
                "namespaces" => &mut m.namespaces,
                "pods" => &mut m.pods,
                "images" => &mut m.images,
                "exes" => &mut m.exes,
                _ => &mut m.comms,
            };
            self.globs(key, list, out, desc);
        }
        if let Some(u) = raw.uids {
            m.uids = u.clone();
            desc.push(format!("uids {u:?}"));
        }
        if let Some(b) = raw.in_container {
            desc.push(format!("in_container = {b}"));
        }
        if let Some(b) = raw.profile_known {
            desc.push(format!("profile_known = {b}"));
        }
        m
    }

    fn rule(&mut self, raw: &Spanned<RawRule>) -> Option<Rule> {
        let r = raw.get_ref();
        let name = r.name.get_ref().trim().to_string();
        let start_errors = self.errors.len();
        if name.is_empty()
            || !name
                .bytes()
                .all(|c| c.is_ascii_alphanumeric() || b"-_.:".contains(&c))
        {
            self.err(
                r.name.span().start,
                format!("rule name {name:?}: use letters, digits, '-', '_', '.', ':'"),
            );
        }
        if name == super::alert::OVERFLOW_RULE {
            self.err(
                r.name.span().start,
                format!("rule name {name:?} is reserved for the overflow summary"),
            );
        }
        let severity = match Severity::parse(r.severity.get_ref()) {
            Some(s) => s,
            None => {
                self.err(
                    r.severity.span().start,
                    format!(
                        "severity {:?}: use info, low, medium, high or critical",
                        r.severity.get_ref()
                    ),
                );
                Severity::Info
            }
        };
        let mut conditions = Vec::new();
        let rm = RawMatch {
            actions: &r.actions,
            syscalls: &r.syscalls,
            globs: [
                ("workloads", &r.workloads),
                ("containers", &r.containers),
                ("namespaces", &r.namespaces),
                ("pods", &r.pods),
                ("images", &r.images),
                ("exes", &r.exes),
                ("comms", &r.comms),
            ],
            uids: &r.uids,
            in_container: r.in_container,
            profile_known: r.profile_known,
        };
        let matcher = self.matcher(&rm, &mut conditions);
        let novel = r.novel.unwrap_or(false);
        let not_in_profile = r.not_in_profile.unwrap_or(false);
        if novel {
            conditions.push("novel".into());
        }
        if not_in_profile {
            conditions.push("not_in_profile".into());
        }
        let rate = r.rate.as_ref().and_then(|rate| {
            let window = match rate.get_ref().window.get_ref() {
                RawDuration::Secs(s) => s.checked_mul(1000),
                RawDuration::Text(t) => parse_duration_ms(t),
            };
            match window {
                Some(w) if w > 0 => {
                    conditions.push(format!("rate > {} per {}s", rate.get_ref().count, w / 1000));
                    Some(Rate {
                        count: rate.get_ref().count,
                        window_ms: w,
                    })
                }
                _ => {
                    self.err(
                        rate.get_ref().window.span().start,
                        "rate.window: a positive duration such as 60, \"30s\", \"10m\" or \"1h\""
                            .into(),
                    );
                    None
                }
            }
        });
        let mut except = Vec::new();
        let mut exceptions = Vec::new();
        for e in r.except.iter().flatten() {
            let x = e.get_ref();
            let em = RawMatch {
                actions: &x.actions,
                syscalls: &x.syscalls,
                globs: [
                    ("workloads", &x.workloads),
                    ("containers", &x.containers),
                    ("namespaces", &x.namespaces),
                    ("pods", &x.pods),
                    ("images", &x.images),
                    ("exes", &x.exes),
                    ("comms", &x.comms),
                ],
                uids: &x.uids,
                in_container: x.in_container,
                profile_known: x.profile_known,
            };
            let mut desc = Vec::new();
            let m = self.matcher(&em, &mut desc);
            if desc.is_empty() {
                self.err(
                    e.span().start,
                    "an exception with no condition would silence the whole rule".into(),
                );
            }
            exceptions.push(desc.join(", "));
            except.push(m);
        }
        if self.errors.len() > start_errors {
            return None;
        }
        Some(Rule {
            name,
            description: r.description.clone(),
            severity,
            enabled: r.enabled.unwrap_or(true),
            line: self.line(r.name.span().start),
            builtin: false,
            novel,
            not_in_profile,
            rate,
            conditions,
            exceptions,
            matcher,
            except,
        })
    }
}

fn list_text(list: &Spanned<Vec<Spanned<String>>>) -> String {
    let v: Vec<&str> = list
        .get_ref()
        .iter()
        .map(|s| s.get_ref().as_str())
        .collect();
    format!("[{}]", v.join(", "))
}

/// The 1-based line of byte offset `start` in `text`.
fn line_of(text: &str, start: usize) -> usize {
    let end = start.min(text.len());
    text.as_bytes()[..end]
        .iter()
        .filter(|&&c| c == b'\n')
        .count()
        + 1
}

impl RuleSet {
    /// The built-in rules.
    pub fn builtin() -> RuleSet {
        match parse_text(DEFAULT_RULES_TOML, true) {
            Ok(mut rs) => {
                rs.rules.iter_mut().for_each(|r| r.builtin = true);
                rs.reindex();
                rs
            }
            // The embedded file is checked by a unit test; never reached.
            Err(_) => RuleSet::default(),
        }
    }

    /// Parses and validates a rules file. Every error found is returned, each with its line.
    pub fn parse(text: &str) -> Result<RuleSet, RuleErrors> {
        parse_text(text, false)
    }

    /// Builds a rule set from rules already validated (e.g. built-ins plus a file's).
    fn from_rules(rules: Vec<Rule>, groups: Vec<(String, Vec<String>)>) -> RuleSet {
        let mut rs = RuleSet {
            rules,
            groups,
            ..RuleSet::default()
        };
        rs.reindex();
        rs
    }

    fn reindex(&mut self) {
        let n = universe().len();
        self.any_syscall.clear();
        self.by_syscall = vec![Vec::new(); n];
        for (i, r) in self.rules.iter().enumerate() {
            if !r.enabled {
                continue;
            }
            match &r.matcher.syscalls {
                None => self.any_syscall.push(i as u32),
                Some(set) => {
                    for id in set.iter() {
                        if let Some(v) = self.by_syscall.get_mut(id as usize) {
                            v.push(i as u32);
                        }
                    }
                }
            }
        }
    }

    /// Every rule, in file order (disabled ones included).
    pub fn rules(&self) -> &[Rule] {
        &self.rules
    }

    /// The rule at `i`.
    pub fn rule(&self, i: usize) -> Option<&Rule> {
        self.rules.get(i)
    }

    /// The file's own groups with their members as written.
    pub fn groups(&self) -> &[(String, Vec<String>)] {
        &self.groups
    }

    /// True when a rule needs the `novel` state.
    pub fn uses_novel(&self) -> bool {
        self.rules.iter().any(|r| r.enabled && r.novel)
    }

    /// The enabled rules that may match syscall `id` (or any syscall when unknown), in no
    /// particular order.
    #[inline]
    pub(crate) fn candidates(&self, id: Option<SyscallId>) -> (&[u32], &[u32]) {
        let by = id
            .and_then(|i| self.by_syscall.get(i as usize))
            .map_or(&[][..], Vec::as_slice);
        (&self.any_syscall, by)
    }
}

fn parse_text(text: &str, is_builtin_file: bool) -> Result<RuleSet, RuleErrors> {
    let raw: RawFile = toml::from_str(text).map_err(|e| {
        let line = e.span().map(|s| line_of(text, s.start));
        RuleErrors(vec![RuleError {
            line,
            message: e.message().trim().to_string(),
        }])
    })?;
    let mut ctx = Ctx {
        text,
        errors: Vec::new(),
        groups: HashMap::new(),
        raw_groups: &raw.groups,
    };
    let mut groups = Vec::new();
    for (name, members) in &raw.groups {
        let at = members.span().start;
        if builtin_group(name).is_some() {
            ctx.err(
                at,
                format!("group {name:?} is built in and cannot be redefined"),
            );
            continue;
        }
        if name.starts_with('@') || name.is_empty() {
            ctx.err(at, format!("group name {name:?}: write it without '@'"));
            continue;
        }
        if members.get_ref().is_empty() {
            ctx.err(at, format!("group {name:?} is empty"));
        }
        ctx.group(name, at);
        groups.push((
            name.clone(),
            members
                .get_ref()
                .iter()
                .map(|m| m.get_ref().clone())
                .collect(),
        ));
    }
    let mut rules: Vec<Rule> = Vec::new();
    let mut seen: HashSet<String> = HashSet::new();
    for r in &raw.rule {
        let name = r.get_ref().name.get_ref().trim().to_string();
        if !seen.insert(name.clone()) {
            ctx.err(
                r.get_ref().name.span().start,
                format!("duplicate rule name {name:?}"),
            );
            continue;
        }
        if let Some(rule) = ctx.rule(r) {
            rules.push(rule);
        }
    }
    if !ctx.errors.is_empty() {
        ctx.errors.sort_by_key(|e| e.line);
        return Err(RuleErrors(ctx.errors));
    }
    if raw.builtin && !is_builtin_file {
        let own: HashSet<&str> = rules.iter().map(|r| r.name.as_str()).collect();
        let mut merged: Vec<Rule> = RuleSet::builtin()
            .rules
            .into_iter()
            .filter(|b| !own.contains(b.name.as_str()))
            .collect();
        merged.extend(rules);
        rules = merged;
    }
    Ok(RuleSet::from_rules(rules, groups))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn errs(text: &str) -> Vec<RuleError> {
        match RuleSet::parse(text) {
            Ok(_) => panic!("accepted:\n{text}"),
            Err(e) => e.0,
        }
    }

    #[test]
    fn the_builtin_rules_parse() {
        let rs =
            parse_text(DEFAULT_RULES_TOML, true).unwrap_or_else(|e| panic!("built-in rules: {e}"));
        assert!(rs.rules().len() >= 4);
        let b = RuleSet::builtin();
        assert!(b.rules().iter().all(|r| r.builtin));
        let names: Vec<&str> = b.rules().iter().map(|r| r.name.as_str()).collect();
        for n in [
            "kill-action",
            "dangerous-syscall-in-container",
            "novel-syscall",
            "log-with-known-profile",
        ] {
            assert!(names.contains(&n), "{n} missing: {names:?}");
        }
    }

    #[test]
    fn a_full_rule_parses() {
        let rs = RuleSet::parse(
            r#"
[groups]
escape = ["@mount", "setns"]

[[rule]]
name = "esc"
severity = "critical"
actions = ["errno", "SCMP_ACT_KILL_PROCESS", "0x7ffc0000"]
syscalls = ["@escape", "ptrace"]
workloads = ["k8s:prod/*"]
containers = ["api*"]
namespaces = ["prod"]
pods = ["cart-*"]
images = ["*/cart:*"]
exes = ["/usr/bin/*"]
comms = ["sh"]
uids = [0, 1000]
in_container = true
profile_known = true
novel = true
not_in_profile = true
rate = { count = 10, window = "2m" }

[[rule.except]]
workloads = ["k8s:prod/debug/*"]
"#,
        )
        .unwrap();
        let r = &rs.rules()[0];
        assert_eq!(r.severity, Severity::Critical);
        assert_eq!(
            r.rate,
            Some(Rate {
                count: 10,
                window_ms: 120_000
            })
        );
        assert!(r.novel && r.not_in_profile);
        assert_eq!(r.matcher.actions, 8 | 1 | 64);
        let set = r.matcher.syscalls.as_ref().unwrap();
        for s in ["mount", "setns", "ptrace", "pivot_root"] {
            assert!(set.contains(universe().id(s).unwrap()), "{s}");
        }
        assert!(!set.contains(universe().id("read").unwrap()));
        assert_eq!(r.except.len(), 1);
        assert_eq!(r.line, 6);
        assert_eq!(rs.groups()[0].0, "escape");
    }

    #[test]
    fn a_workload_glob_that_matches_no_key_is_an_error_with_its_line() {
        let e = errs(
            "[[rule]]\nname = \"a\"\nseverity = \"low\"\nworkloads = [\"k8s:prod/*\", \"k8s/prod/*\"]\n\n[[rule.except]]\nworkloads = [\"prod\"]\n",
        );
        assert_eq!(e.len(), 2, "{e:?}");
        assert_eq!(e[0].line, Some(4), "{e:?}");
        assert!(
            e[0].message
                .contains("\"k8s/prod/*\" cannot match any workload key")
                && e[0].message.contains("k8s:NAMESPACE/POD/CONTAINER"),
            "{e:?}"
        );
        assert_eq!(e[1].line, Some(7), "{e:?}");
        // Globs of other keys are not workload keys.
        assert!(RuleSet::parse(
            "[[rule]]\nname = \"a\"\nseverity = \"low\"\ncontainers = [\"prod\"]\n"
        )
        .is_ok());
    }

    #[test]
    fn syntax_errors_have_the_line() {
        let e = errs("[[rule]]\nname = \"a\"\nseverity = \"low\"\nsyscalls = [\"ptrace\"\n");
        assert_eq!(e.len(), 1);
        assert!(e[0].line.is_some(), "{e:?}");
        let e = errs("[[rule]]\nname = \"a\"\nseverity = \"low\"\nsyscals = [\"ptrace\"]\n");
        assert_eq!(e[0].line, Some(4), "{e:?}");
        assert!(e[0].message.contains("syscals"), "{e:?}");
        let e = errs("[[rule]]\nname = \"a\"\n");
        assert!(e[0].message.contains("severity"), "{e:?}");
    }

    #[test]
    fn semantic_errors_have_the_line_and_all_are_reported() {
        let text = r#"[[rule]]
name = "a"
severity = "urgent"
syscalls = ["ptrace", "notacall", "@nosuchgroup"]
workloads = ["web-[0-9"]
actions = ["explode"]
rate = { count = 3, window = "5 fortnights" }

[[rule]]
name = "a"
severity = "low"
"#;
        let e = errs(text);
        let lines: Vec<Option<usize>> = e.iter().map(|e| e.line).collect();
        assert_eq!(
            lines,
            vec![
                Some(3),
                Some(4),
                Some(4),
                Some(5),
                Some(6),
                Some(7),
                Some(10)
            ],
            "{e:#?}"
        );
        let all = RuleErrors(e).to_string();
        for want in [
            "urgent",
            "unknown syscall \"notacall\"",
            "@nosuchgroup",
            "bad glob",
            "explode",
            "rate.window",
            "duplicate rule name",
        ] {
            assert!(all.contains(want), "{want} not in:\n{all}");
        }
    }

    #[test]
    fn names_from_any_arch_are_accepted() {
        // socketcall exists on x86 and s390 only; arm_fadvise64_64 on arm only.
        RuleSet::parse("[[rule]]\nname = \"x\"\nseverity = \"low\"\nsyscalls = [\"socketcall\", \"arm_fadvise64_64\"]\n").unwrap();
    }

    #[test]
    fn group_errors() {
        let e = errs("[groups]\na = [\"@b\"]\nb = [\"@a\"]\n");
        assert!(
            e.iter().any(|e| e.message.contains("includes itself")),
            "{e:?}"
        );
        let e = errs("[groups]\ndangerous = [\"read\"]\n");
        assert!(e[0].message.contains("built in"), "{e:?}");
        let e = errs("[groups]\nmine = [\"read\", \"nope\"]\n");
        assert_eq!(e[0].line, Some(2));
    }

    #[test]
    fn empty_exceptions_and_lists_are_rejected() {
        let e = errs("[[rule]]\nname = \"a\"\nseverity = \"low\"\n[[rule.except]]\n");
        assert!(e[0].message.contains("silence"), "{e:?}");
        let e = errs("[[rule]]\nname = \"a\"\nseverity = \"low\"\nsyscalls = []\n");
        assert_eq!(e[0].line, Some(4));
    }

    #[test]
    fn builtin_flag_merges_and_replaces_by_name() {
        let rs = RuleSet::parse("builtin = true\n[[rule]]\nname = \"kill-action\"\nseverity = \"critical\"\nactions = [\"kill_process\"]\n[[rule]]\nname = \"mine\"\nseverity = \"info\"\n").unwrap();
        let kill: Vec<&Rule> = rs
            .rules()
            .iter()
            .filter(|r| r.name == "kill-action")
            .collect();
        assert_eq!(kill.len(), 1);
        assert_eq!(kill[0].severity, Severity::Critical);
        assert!(!kill[0].builtin);
        assert!(rs
            .rules()
            .iter()
            .any(|r| r.name == "novel-syscall" && r.builtin));
        assert!(rs.rules().iter().any(|r| r.name == "mine"));
        let only = RuleSet::parse("[[rule]]\nname = \"mine\"\nseverity = \"info\"\n").unwrap();
        assert_eq!(only.rules().len(), 1);
    }

    #[test]
    fn durations() {
        assert_eq!(parse_duration_ms("90"), Some(90_000));
        assert_eq!(parse_duration_ms("30s"), Some(30_000));
        assert_eq!(parse_duration_ms("10m"), Some(600_000));
        assert_eq!(parse_duration_ms("24h"), Some(86_400_000));
        assert_eq!(parse_duration_ms("2d"), Some(172_800_000));
        assert_eq!(parse_duration_ms("250ms"), Some(250));
        assert_eq!(parse_duration_ms("1w"), None);
        assert_eq!(parse_duration_ms("m"), None);
    }
}
