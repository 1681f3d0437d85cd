//! Shell-style globs for rule conditions on workloads, container names, namespaces, images,
//! executables and commands: `*` (any run of characters, `/` included), `?` (one
//! character), `[abc]`, `[a-z]`, `[!a-z]` (one character of, or not of, a class) and `\x`
//! (a literal `x`). A glob matches the whole string.

use std::fmt;

use parsers::workload::{key_shapes, KeyPart};

/// Why a glob is invalid.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum GlobError {
    #[error("unclosed character class `[` at offset {0}")]
    UnclosedClass(usize),
    #[error("empty character class at offset {0}")]
    EmptyClass(usize),
    #[error("reversed range {0}-{1} in a character class")]
    ReversedRange(char, char),
    #[error("trailing backslash")]
    TrailingEscape,
    #[error("empty glob")]
    Empty,
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum Tok {
    Lit(String),
    One,
    Star,
    Class {
        negated: bool,
        ranges: Vec<(char, char)>,
    },
}

/// How a glob is matched: the common shapes without the general matcher.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Shape {
    Exact(String),
    Prefix(String),
    Suffix(String),
    Contains(String),
    Any,
    /// Literals separated by stars: `lit*lit*...` (each flag says whether the pattern is
    /// anchored at that end).
    Segments {
        start: bool,
        end: bool,
        parts: Vec<String>,
    },
    General(Vec<Tok>),
}

/// A compiled glob.
#[derive(Clone, PartialEq, Eq)]
pub struct Glob {
    text: String,
    shape: Shape,
}

impl fmt::Debug for Glob {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Glob({:?})", self.text)
    }
}

impl fmt::Display for Glob {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.text)
    }
}

impl Glob {
    /// Compiles `pattern`.
    pub fn new(pattern: &str) -> Result<Glob, GlobError> {
        if pattern.is_empty() {
            return Err(GlobError::Empty);
        }
        let toks = tokenize(pattern)?;
        let shape = shape_of(toks);
        Ok(Glob {
            text: pattern.to_string(),
            shape,
        })
    }

    /// The pattern as written.
    pub fn as_str(&self) -> &str {
        &self.text
    }

    /// True when the glob matches all of `s`.
    pub fn matches(&self, s: &str) -> bool {
        match &self.shape {
            Shape::Exact(l) => s == l,
            Shape::Prefix(p) => s.starts_with(p.as_str()),
            Shape::Suffix(p) => s.ends_with(p.as_str()),
            Shape::Contains(p) => s.contains(p.as_str()),
            Shape::Any => true,
            Shape::Segments { start, end, parts } => segments_match(*start, *end, parts, s),
            Shape::General(toks) => general_match(toks, s),
        }
    }
}

impl Glob {
    /// True when at least one string of `shape` (a workload key shape of
    /// [`parsers::workload::key_shapes`]) matches the glob: the glob's automaton and the
    /// shape's are intersected and searched for a common accepted string.
    pub fn can_match_shape(&self, shape: &[KeyPart]) -> bool {
        let toks = tokenize(&self.text).expect("a compiled glob tokenizes");
        intersects(&Nfa::of_glob(&toks), &Nfa::of_shape(shape))
    }

    /// True when the glob can match some workload key (`k8s:NS/POD/CONTAINER`,
    /// `compose:P/S`, `RUNTIME:...`, `unit:...`, `exe:...`, `unknown`): a glob for which
    /// this is false can never match an event's workload (`k8s/prod/*`).
    pub fn can_match_workload_key(&self) -> bool {
        key_shapes().iter().any(|s| self.can_match_shape(s))
    }
}

/// What `workloads = [...]` globs must look like, for error messages.
pub const WORKLOAD_KEY_FORMS: &str = "k8s:NAMESPACE/POD/CONTAINER, compose:PROJECT/SERVICE, \
docker:IMAGE, podman:IMAGE, podman@UID:IMAGE, containerd:IMAGE, cri-o:IMAGE, unit:NAME, \
exe:PATH or unknown";

/// A set of characters as sorted, disjoint, inclusive ranges of code points.
type CharSet = Vec<(u32, u32)>;

const MAX_CHAR: u32 = char::MAX as u32;

fn any_char() -> CharSet {
    vec![(0, MAX_CHAR)]
}

fn one_char(c: char) -> CharSet {
    vec![(c as u32, c as u32)]
}

/// The characters outside `ranges` (which may overlap and be unsorted).
fn complement(ranges: &[(u32, u32)]) -> CharSet {
    let mut r: Vec<(u32, u32)> = ranges.to_vec();
    r.sort_unstable();
    let mut out = Vec::new();
    let mut next = 0u32;
    for (lo, hi) in r {
        if lo > next {
            out.push((next, lo - 1));
        }
        next = next.max(hi.saturating_add(1));
    }
    if next <= MAX_CHAR {
        out.push((next, MAX_CHAR));
    }
    out
}

fn overlaps(a: &CharSet, b: &CharSet) -> bool {
    a.iter()
        .any(|&(alo, ahi)| b.iter().any(|&(blo, bhi)| alo <= bhi && blo <= ahi))
}

/// A nondeterministic automaton: edges on character sets, epsilon edges, one accepting
/// state.
struct Nfa {
    edges: Vec<Vec<(CharSet, usize)>>,
    eps: Vec<Vec<usize>>,
    accept: usize,
}

impl Nfa {
    fn new() -> Nfa {
        Nfa {
            edges: vec![Vec::new()],
            eps: vec![Vec::new()],
            accept: 0,
        }
    }

    fn state(&mut self) -> usize {
        self.edges.push(Vec::new());
        self.eps.push(Vec::new());
        self.edges.len() - 1
    }

    /// Appends "one character of `set`" after state `cur`; returns the new state.
    fn step(&mut self, cur: usize, set: CharSet) -> usize {
        let n = self.state();
        self.edges[cur].push((set, n));
        n
    }

    /// Appends "any run of characters of `set`" (`at_least_one`: one or more).
    fn repeat(&mut self, cur: usize, set: CharSet, at_least_one: bool) -> usize {
        let n = self.state();
        self.edges[n].push((set.clone(), n));
        if at_least_one {
            self.edges[cur].push((set, n));
        } else {
            self.eps[cur].push(n);
        }
        n
    }

    fn of_glob(toks: &[Tok]) -> Nfa {
        let mut a = Nfa::new();
        let mut cur = 0;
        for t in toks {
            cur = match t {
                Tok::Lit(l) => l.chars().fold(cur, |c, ch| a.step(c, one_char(ch))),
                Tok::One => a.step(cur, any_char()),
                Tok::Star => a.repeat(cur, any_char(), false),
                Tok::Class { negated, ranges } => {
                    let r: Vec<(u32, u32)> = ranges
                        .iter()
                        .map(|&(lo, hi)| (lo as u32, hi as u32))
                        .collect();
                    let set = if *negated {
                        complement(&r)
                    } else {
                        complement(&complement(&r))
                    };
                    a.step(cur, set)
                }
            };
        }
        a.accept = cur;
        a
    }

    fn of_shape(shape: &[KeyPart]) -> Nfa {
        let mut a = Nfa::new();
        let mut cur = 0;
        for p in shape {
            cur = match p {
                KeyPart::Lit(l) => l.chars().fold(cur, |c, ch| a.step(c, one_char(ch))),
                KeyPart::Uid => a.repeat(cur, vec![('0' as u32, '9' as u32)], true),
                KeyPart::Name => a.repeat(cur, complement(&[('/' as u32, '/' as u32)]), false),
                KeyPart::Rest => a.repeat(cur, any_char(), true),
            };
        }
        a.accept = cur;
        a
    }

    /// `s` and every state reachable from it by epsilon edges.
    fn closure(&self, s: usize, out: &mut Vec<usize>) {
        let mut stack = vec![s];
        while let Some(x) = stack.pop() {
            if !out.contains(&x) {
                out.push(x);
                stack.extend(&self.eps[x]);
            }
        }
    }
}

/// True when some string is accepted by both automata (a search of their product).
fn intersects(a: &Nfa, b: &Nfa) -> bool {
    let mut seen = std::collections::HashSet::new();
    let mut work = vec![(0usize, 0usize)];
    while let Some((x, y)) = work.pop() {
        let (mut xs, mut ys) = (Vec::new(), Vec::new());
        a.closure(x, &mut xs);
        b.closure(y, &mut ys);
        for &x in &xs {
            for &y in &ys {
                if !seen.insert((x, y)) {
                    continue;
                }
                if x == a.accept && y == b.accept {
                    return true;
                }
                for (sa, nx) in &a.edges[x] {
                    for (sb, ny) in &b.edges[y] {
                        if overlaps(sa, sb) {
                            work.push((*nx, *ny));
                        }
                    }
                }
            }
        }
    }
    false
}

fn tokenize(p: &str) -> Result<Vec<Tok>, GlobError> {
    let mut toks: Vec<Tok> = Vec::new();
    let mut lit = String::new();
    let mut it = p.char_indices().peekable();
    let flush = |lit: &mut String, toks: &mut Vec<Tok>| {
        if !lit.is_empty() {
            toks.push(Tok::Lit(std::mem::take(lit)));
        }
    };
    while let Some((i, c)) = it.next() {
        match c {
            '*' => {
                flush(&mut lit, &mut toks);
                if toks.last() != Some(&Tok::Star) {
                    toks.push(Tok::Star);
                }
            }
            '?' => {
                flush(&mut lit, &mut toks);
                toks.push(Tok::One);
            }
            '\\' => match it.next() {
                Some((_, e)) => lit.push(e),
                None => return Err(GlobError::TrailingEscape),
            },
            '[' => {
                flush(&mut lit, &mut toks);
                let mut negated = false;
                if matches!(it.peek(), Some((_, '!' | '^'))) {
                    negated = true;
                    it.next();
                }
                let mut ranges = Vec::new();
                let mut closed = false;
                let mut first = true;
                while let Some((_, c)) = it.next() {
                    // `]` first in the class is a literal.
                    if c == ']' && !first {
                        closed = true;
                        break;
                    }
                    first = false;
                    let lo = if c == '\\' {
                        it.next().map(|(_, e)| e).ok_or(GlobError::TrailingEscape)?
                    } else {
                        c
                    };
                    let is_range = matches!(it.peek(), Some((_, '-'))) && {
                        let mut look = it.clone();
                        look.next();
                        matches!(look.peek(), Some((_, c)) if *c != ']')
                    };
                    if is_range {
                        it.next();
                        let (_, hi) = it.next().ok_or(GlobError::UnclosedClass(i))?;
                        let hi = if hi == '\\' {
                            it.next().map(|(_, e)| e).ok_or(GlobError::TrailingEscape)?
                        } else {
                            hi
                        };
                        if hi < lo {
                            return Err(GlobError::ReversedRange(lo, hi));
                        }
                        ranges.push((lo, hi));
                    } else {
                        ranges.push((lo, lo));
                    }
                }
                if !closed {
                    return Err(GlobError::UnclosedClass(i));
                }
                if ranges.is_empty() {
                    return Err(GlobError::EmptyClass(i));
                }
                toks.push(Tok::Class { negated, ranges });
            }
            c => lit.push(c),
        }
    }
    flush(&mut lit, &mut toks);
    Ok(toks)
}

fn shape_of(toks: Vec<Tok>) -> Shape {
    match toks.as_slice() {
        [] => Shape::Exact(String::new()),
        [Tok::Lit(l)] => Shape::Exact(l.clone()),
        [Tok::Star] => Shape::Any,
        [Tok::Lit(l), Tok::Star] => Shape::Prefix(l.clone()),
        [Tok::Star, Tok::Lit(l)] => Shape::Suffix(l.clone()),
        [Tok::Star, Tok::Lit(l), Tok::Star] => Shape::Contains(l.clone()),
        t if t.iter().all(|t| matches!(t, Tok::Lit(_) | Tok::Star)) => Shape::Segments {
            start: !matches!(t.first(), Some(Tok::Star)),
            end: !matches!(t.last(), Some(Tok::Star)),
            parts: t
                .iter()
                .filter_map(|t| match t {
                    Tok::Lit(l) => Some(l.clone()),
                    _ => None,
                })
                .collect(),
        },
        _ => Shape::General(toks),
    }
}

/// Matches literal parts separated by stars: the first part as a prefix when anchored, the
/// last as a suffix when anchored, the others leftmost in order between them.
fn segments_match(start: bool, end: bool, parts: &[String], s: &str) -> bool {
    let mut lo = 0usize;
    let mut hi = s.len();
    let mut parts = parts;
    if start {
        let Some((first, rest)) = parts.split_first() else {
            return s.is_empty();
        };
        if !s.starts_with(first.as_str()) {
            return false;
        }
        lo = first.len();
        parts = rest;
    }
    if end {
        let Some((last, rest)) = parts.split_last() else {
            return lo <= hi;
        };
        if !s[lo..].ends_with(last.as_str()) {
            return false;
        }
        hi = s.len() - last.len();
        parts = rest;
    }
    for p in parts {
        match s.get(lo..hi).and_then(|w| w.find(p.as_str())) {
            Some(i) => lo += i + p.len(),
            None => return false,
        }
    }
    lo <= hi
}

fn tok_match_one(t: &Tok, c: char) -> bool {
    match t {
        Tok::One => true,
        Tok::Class { negated, ranges } => {
            ranges.iter().any(|&(lo, hi)| lo <= c && c <= hi) != *negated
        }
        _ => false,
    }
}

/// Iterative wildcard matching with backtracking to the last star (linear in practice).
fn general_match(toks: &[Tok], s: &str) -> bool {
    let mut ti = 0usize;
    let mut si = 0usize;
    let mut star: Option<(usize, usize)> = None;
    loop {
        if ti < toks.len() {
            match &toks[ti] {
                Tok::Star => {
                    star = Some((ti, si));
                    ti += 1;
                    continue;
                }
                Tok::Lit(l) => {
                    if s[si..].starts_with(l.as_str()) {
                        si += l.len();
                        ti += 1;
                        continue;
                    }
                }
                t => {
                    if let Some(c) = s[si..].chars().next() {
                        if tok_match_one(t, c) {
                            si += c.len_utf8();
                            ti += 1;
                            continue;
                        }
                    }
                }
            }
        } else if si == s.len() {
            return true;
        }
        // Mismatch: let the last star eat one more character.
        match star {
            Some((st, ss)) => match s[ss..].chars().next() {
                Some(c) => {
                    let ss = ss + c.len_utf8();
                    star = Some((st, ss));
                    ti = st + 1;
                    si = ss;
                }
                None => return false,
            },
            None => return false,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn m(p: &str, s: &str) -> bool {
        Glob::new(p).unwrap().matches(s)
    }

    #[test]
    fn shapes_and_general_matching() {
        assert!(m("nginx", "nginx"));
        assert!(!m("nginx", "nginx2"));
        assert!(m("k8s:prod/*", "k8s:prod/cart/api"));
        assert!(!m("k8s:prod/*", "k8s:dev/cart/api"));
        assert!(m("*/api", "k8s:prod/cart/api"));
        assert!(m("*cart*", "k8s:prod/cart/api"));
        assert!(m("*", ""));
        assert!(m("k8s:*/cart/*", "k8s:prod/cart/api"));
        assert!(!m("k8s:*/cart/*", "k8s:prod/carts"));
        assert!(m("web-?", "web-1"));
        assert!(!m("web-?", "web-10"));
        assert!(m("web-[0-9]", "web-7"));
        assert!(!m("web-[!0-9]", "web-7"));
        assert!(m("web-[!0-9]", "web-x"));
        assert!(m("a\\*b", "a*b"));
        assert!(!m("a\\*b", "axb"));
        assert!(m("[]]x", "]x"));
        assert!(m("*a*b*c", "xxaxxbxxc"));
        assert!(!m("*a*b*c", "xxaxxbxx"));
        assert!(m("é?", "éü"), "? is one character, not one byte");
        assert!(m("[a-]", "-"));
        assert!(m("k8s:*/app1/*", "k8s:prod/app1/app1"));
        assert!(!m("k8s:*/app1/*", "k8s:prod/app12/app1"));
        assert!(m("a*b*c", "abc"));
        assert!(!m("a*b*c", "ac"));
        assert!(!m("ab*ba", "aba"), "prefix and suffix must not overlap");
        assert!(m("ab*ba", "abba"));
        assert!(m("*x*y", "axbxy"));
        assert!(!m("*x*y", "axbx"));
    }

    #[test]
    fn globs_that_cannot_match_a_workload_key() {
        let can = |p: &str| Glob::new(p).unwrap().can_match_workload_key();
        for ok in [
            "*",
            "k8s:prod/*",
            "k8s:*",
            "k8s:prod/cart/api",
            "k8s:*/cart/*",
            "k8s:prod/[a-z]*",
            "*cart*",
            "*/api",
            "compose:shop/*",
            "compose@1000:shop/cart",
            "podman@1000:*",
            "docker:registry.example:5000/shop/cart",
            "docker:*",
            "d*",
            "?8s:prod/*",
            "unit:nginx.service",
            "unit:user@1000.service/*",
            "exe:/usr/bin/*",
            "unknown",
            "unk*",
            "cri-o:*",
            "[ek]*",
        ] {
            assert!(can(ok), "{ok} can match a key");
        }
        for bad in [
            "k8s/prod/*",
            "prod/*",
            "k8s:prod",
            "k8s:prod/cart",
            "k8s:a/b/c/d",
            "k8s:prod/cart/api/*",
            "compose:shop",
            "compose@x:shop/cart",
            "docker@1000:*",
            "podman@:x",
            "docker:",
            "exe:",
            "unknown2",
            "other",
            "[xyz]*",
            "/usr/bin/*",
            "nginx",
        ] {
            assert!(!can(bad), "{bad} cannot match any key");
        }
    }

    #[test]
    fn bad_globs_are_errors() {
        assert_eq!(Glob::new("web-[0-9"), Err(GlobError::UnclosedClass(4)));
        assert_eq!(Glob::new("x\\"), Err(GlobError::TrailingEscape));
        assert_eq!(Glob::new("[z-a]"), Err(GlobError::ReversedRange('z', 'a')));
        assert_eq!(Glob::new(""), Err(GlobError::Empty));
        assert_eq!(Glob::new("[!]"), Err(GlobError::UnclosedClass(0)));
    }

    proptest::proptest! {
        #[test]
        fn a_literal_matches_itself_only(s in "[a-z/:.-]{0,12}", t in "[a-z/:.-]{0,12}") {
            let g = Glob::new(&format!("{s}x")).unwrap();
            let same = format!("{s}x");
            let other = format!("{t}x");
            proptest::prop_assert!(g.matches(&same));
            proptest::prop_assert_eq!(g.matches(&other), s == t);
        }

        #[test]
        fn the_fast_shapes_agree_with_the_general_matcher(p in "[ab*]{1,8}", t in "[ab]{0,10}") {
            let fast = Glob::new(&p).unwrap().matches(&t);
            let general = general_match(&tokenize(&p).unwrap(), &t);
            proptest::prop_assert_eq!(fast, general);
        }

        #[test]
        fn star_between_parts(a in "[a-z]{0,5}", mid in "[a-z/]{0,8}", b in "[a-z]{0,5}") {
            let g = Glob::new(&format!("{a}*{b}")).unwrap();
            let text = format!("{a}{mid}{b}");
            proptest::prop_assert!(g.matches(&text));
        }
    }
}
