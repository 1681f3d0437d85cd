//! The Docker/OCI seccomp profile model: lossless reading and writing (the original text is
//! the source of truth, so an unedited profile is written back byte for byte and an edit
//! changes only the entries it edits), typed read-only views, and the Kubernetes Security
//! Profiles Operator `SeccompProfile` YAML form.

mod complain;
mod cst;
mod k8s;

pub use complain::{complain, is_denying, uncomplain, Complained, Restored, COMPLAIN_MARKER};

pub use cst::SyntaxError;
pub use k8s::{K8sMetadata, K8sSeccompProfile, SPO_API_VERSION, SPO_KIND};

use cst::{Document, Node};
use parsers::Action;
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

/// Why a profile could not be read or edited.
#[derive(Debug, thiserror::Error)]
pub enum ProfileError {
    #[error("invalid JSON: {0}")]
    Syntax(#[from] SyntaxError),
    #[error("not a seccomp profile: {0}")]
    Invalid(String),
    #[error("invalid YAML: {0}")]
    Yaml(String),
    #[error("not a SeccompProfile: {0}")]
    NotSeccompProfile(String),
    #[error("no syscalls entry {0}")]
    NoSuchEntry(usize),
}

/// The typed view of a profile's top level (Docker's `types.Seccomp`); fields this model does
/// not know are kept in `extra`, in their order.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Default)]
#[serde(rename_all = "camelCase")]
pub struct ProfileSpec {
    pub default_action: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub default_errno_ret: Option<u32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub architectures: Option<Vec<String>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub arch_map: Option<Vec<ArchMapEntry>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub flags: Option<Vec<String>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub listener_path: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub listener_metadata: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub syscalls: Option<Vec<SyscallRule>>,
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

/// One `archMap` element: a native arch and the arches its kernel also runs.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Default)]
#[serde(rename_all = "camelCase")]
pub struct ArchMapEntry {
    pub architecture: String,
    #[serde(default)]
    pub sub_architectures: Option<Vec<String>>,
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

/// One `syscalls[]` entry.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Default)]
#[serde(rename_all = "camelCase")]
pub struct SyscallRule {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub names: Option<Vec<String>>,
    /// The legacy one-name form.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    pub action: String,
    /// A number in Docker/OCI profiles; the SPO resource writes it as a string, which is
    /// read too.
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        deserialize_with = "number_or_string"
    )]
    pub errno_ret: Option<u32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub args: Option<Vec<SyscallArg>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub comment: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub includes: Option<Filter>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub excludes: Option<Filter>,
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

/// A syscall argument condition.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Default)]
#[serde(rename_all = "camelCase")]
pub struct SyscallArg {
    pub index: u32,
    pub value: u64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub value_two: Option<u64>,
    pub op: String,
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

/// `includes`/`excludes`: the capabilities, arches and kernel version an entry depends on.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Default)]
#[serde(rename_all = "camelCase")]
pub struct Filter {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub caps: Option<Vec<String>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub arches: Option<Vec<String>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub min_kernel: Option<String>,
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

impl Filter {
    /// True when the filter restricts nothing (`{}`, empty lists, empty `minKernel`).
    pub fn is_empty(&self) -> bool {
        self.caps.as_deref().unwrap_or_default().is_empty()
            && self.arches.as_deref().unwrap_or_default().is_empty()
            && self.min_kernel.as_deref().unwrap_or_default().is_empty()
            && self.extra.values().all(value_is_empty)
    }
}

/// An optional `u32` written as a number or as a string of digits.
fn number_or_string<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Option<u32>, D::Error> {
    #[derive(Deserialize)]
    #[serde(untagged)]
    enum NumOrStr {
        Num(u32),
        Str(String),
    }
    match Option::<NumOrStr>::deserialize(d)? {
        None => Ok(None),
        Some(NumOrStr::Num(n)) => Ok(Some(n)),
        Some(NumOrStr::Str(s)) => s
            .trim()
            .parse()
            .map(Some)
            .map_err(|_| serde::de::Error::custom(format!("errnoRet {s:?} is not a number"))),
    }
}

fn value_is_empty(v: &Value) -> bool {
    match v {
        Value::Null => true,
        Value::String(s) => s.is_empty(),
        Value::Array(a) => a.is_empty(),
        Value::Object(o) => o.is_empty(),
        _ => false,
    }
}

impl SyscallRule {
    /// An unconditional rule for `names` with `action`.
    pub fn new(names: Vec<String>, action: &str) -> SyscallRule {
        SyscallRule {
            names: Some(names),
            action: action.to_string(),
            ..SyscallRule::default()
        }
    }

    /// Every name of the entry (`names` and the legacy `name`).
    pub fn all_names(&self) -> impl Iterator<Item = &str> {
        self.names
            .iter()
            .flatten()
            .map(String::as_str)
            .chain(self.name.as_deref())
    }

    /// True when the entry names `syscall`.
    pub fn has_name(&self, syscall: &str) -> bool {
        self.all_names().any(|n| n == syscall)
    }

    /// The parsed action (`None` when the profile has a name libseccomp does not know).
    pub fn parsed_action(&self) -> Option<Action> {
        Action::parse(&self.action)
    }

    /// True when the entry applies only under conditions: argument comparisons, or
    /// non-empty `includes`/`excludes`.
    pub fn is_conditional(&self) -> bool {
        self.args.as_ref().is_some_and(|a| !a.is_empty())
            || self.includes.as_ref().is_some_and(|f| !f.is_empty())
            || self.excludes.as_ref().is_some_and(|f| !f.is_empty())
    }

    /// True for an unconditional entry with action `action`.
    pub fn is_unconditional(&self, action: Action) -> bool {
        !self.is_conditional() && self.parsed_action() == Some(action)
    }
}

impl ProfileSpec {
    /// The syscalls entries (empty when the profile has none).
    pub fn rules(&self) -> &[SyscallRule] {
        self.syscalls.as_deref().unwrap_or(&[])
    }

    /// The parsed default action.
    pub fn parsed_default_action(&self) -> Option<Action> {
        Action::parse(&self.default_action)
    }

    /// Every arch the profile names: `architectures`, then each `archMap` architecture and
    /// its subArchitectures, in order, without repeats. Empty means "the native arch only".
    pub fn covered_arches(&self) -> Vec<String> {
        let mut out: Vec<String> = Vec::new();
        let mut add = |a: &str| {
            if !out.iter().any(|x| x == a) {
                out.push(a.to_string());
            }
        };
        for a in self.architectures.iter().flatten() {
            add(a);
        }
        for m in self.arch_map.iter().flatten() {
            add(&m.architecture);
            for s in m.sub_architectures.iter().flatten() {
                add(s);
            }
        }
        out
    }
}

/// A seccomp profile: its text (kept losslessly) and the typed view of it.
#[derive(Debug, Clone)]
pub struct Profile {
    doc: Document,
    spec: ProfileSpec,
    indent: String,
    newline: String,
}

impl PartialEq for Profile {
    fn eq(&self, other: &Profile) -> bool {
        self.doc == other.doc
    }
}

impl Profile {
    /// Reads a Docker/OCI JSON profile.
    pub fn from_json(text: &str) -> Result<Profile, ProfileError> {
        let doc = Document::parse(text)?;
        let (indent, newline) = cst::detect_style(&doc);
        let spec = spec_of(&doc)?;
        Ok(Profile {
            doc,
            spec,
            indent,
            newline,
        })
    }

    /// A new profile from a typed spec, printed as serde_json's pretty printer does with
    /// `indent` (e.g. `"  "` or `"\t"`), with a final newline.
    pub fn from_spec_with_indent(spec: &ProfileSpec, indent: &str) -> Profile {
        let value = serde_json::to_value(spec).unwrap_or(Value::Null);
        let doc = Document {
            prefix: String::new(),
            root: Node::render(&value, indent, "\n", 0),
            suffix: "\n".to_string(),
        };
        // A spec that serialized always deserializes back.
        let spec = spec_of(&doc).unwrap_or_else(|_| spec.clone());
        Profile {
            doc,
            spec,
            indent: indent.to_string(),
            newline: "\n".to_string(),
        }
    }

    /// A new profile from a typed spec, indented with two spaces.
    pub fn from_spec(spec: &ProfileSpec) -> Profile {
        Profile::from_spec_with_indent(spec, "  ")
    }

    /// The profile's JSON text: the original bytes, with only the edited parts changed.
    pub fn to_json(&self) -> String {
        self.doc.write()
    }

    /// The typed view.
    pub fn spec(&self) -> &ProfileSpec {
        &self.spec
    }

    /// The whole profile as a JSON value (key order kept).
    pub fn to_value(&self) -> Value {
        self.doc.root.to_value()
    }

    /// The JSON value of syscalls entry `i`.
    pub fn entry_value(&self, i: usize) -> Option<Value> {
        let root = self.doc.root.as_object()?;
        let m = root.members.iter().rev().find(|m| m.key == "syscalls")?;
        match &m.value {
            Node::Array(a) => a.items.get(i).map(|it| it.value.to_value()),
            _ => None,
        }
    }

    /// The indentation unit the profile is written with.
    pub fn indent(&self) -> &str {
        &self.indent
    }

    fn syscalls_array(&mut self) -> Result<&mut cst::Array, ProfileError> {
        let root = self
            .doc
            .root
            .as_object_mut()
            .ok_or_else(|| ProfileError::Invalid("top level is not an object".into()))?;
        if root.get_mut("syscalls").is_none() {
            let (indent, newline) = (self.indent.clone(), self.newline.clone());
            let members = root.members.len();
            let node = Node::Array(cst::Array::default());
            push_member(root, "syscalls", node, &indent, &newline, members, 0);
        }
        let node = root
            .get_mut("syscalls")
            .ok_or_else(|| ProfileError::Invalid("no syscalls".into()))?;
        if let Node::Scalar(raw) = node {
            if raw == "null" {
                *node = Node::Array(cst::Array::default());
            }
        }
        node.as_array_mut()
            .ok_or_else(|| ProfileError::Invalid("syscalls is not an array".into()))
    }

    fn entry_object(&mut self, i: usize) -> Result<&mut cst::Object, ProfileError> {
        self.syscalls_array()?
            .items
            .get_mut(i)
            .and_then(|it| it.value.as_object_mut())
            .ok_or(ProfileError::NoSuchEntry(i))
    }

    fn refresh(&mut self) -> Result<(), ProfileError> {
        self.spec = spec_of(&self.doc)?;
        Ok(())
    }

    /// Appends `names` to the `names` list of syscalls entry `entry` (created when the entry
    /// has none), in the given order.
    pub fn append_names(&mut self, entry: usize, names: &[String]) -> Result<(), ProfileError> {
        if names.is_empty() {
            return Ok(());
        }
        let (indent, newline) = (self.indent.clone(), self.newline.clone());
        let obj = self.entry_object(entry)?;
        if obj.get_mut("names").is_none() {
            push_member(
                obj,
                "names",
                Node::Array(cst::Array::default()),
                &indent,
                &newline,
                0,
                2,
            );
        }
        // Entries are at depth 2 (root object, syscalls array, entry), `names` at depth 3.
        let arr = obj
            .get_mut("names")
            .and_then(Node::as_array_mut)
            .ok_or_else(|| {
                ProfileError::Invalid(format!("syscalls[{entry}].names is not a list"))
            })?;
        for n in names {
            let node = Node::Scalar(Value::String(n.clone()).to_string());
            let at = arr.items.len();
            arr.insert(at, node, &indent, &newline, 3);
        }
        self.refresh()
    }

    /// Removes `names` from syscalls entry `entry` (from `names` and the legacy `name`);
    /// returns how many names the entry has left.
    pub fn remove_names(
        &mut self,
        entry: usize,
        names: &std::collections::BTreeSet<String>,
    ) -> Result<usize, ProfileError> {
        let obj = self.entry_object(entry)?;
        if let Some(arr) = obj.get_mut("names").and_then(Node::as_array_mut) {
            let mut i = arr.items.len();
            while i > 0 {
                i -= 1;
                if arr.items[i]
                    .value
                    .as_str()
                    .is_some_and(|s| names.contains(&s))
                {
                    arr.remove(i);
                }
            }
        }
        let legacy = obj.get_mut("name").and_then(|n| n.as_str());
        if legacy.is_some_and(|s| names.contains(&s)) {
            obj.remove("name");
        }
        self.refresh()?;
        Ok(self
            .spec
            .rules()
            .get(entry)
            .map_or(0, |r| r.all_names().count()))
    }

    /// Removes syscalls entry `entry`.
    pub fn remove_entry(&mut self, entry: usize) -> Result<(), ProfileError> {
        let arr = self.syscalls_array()?;
        if entry >= arr.items.len() {
            return Err(ProfileError::NoSuchEntry(entry));
        }
        arr.remove(entry);
        self.refresh()
    }

    /// Appends `arches` (those not listed yet) to the top-level `architectures` list; a
    /// profile without that list is left as it is (it filters the native arch of every
    /// node it runs on). Returns how many were added.
    pub fn append_architectures(&mut self, arches: &[String]) -> Result<usize, ProfileError> {
        let (indent, newline) = (self.indent.clone(), self.newline.clone());
        let listed = self.spec.architectures.clone().unwrap_or_default();
        let new: Vec<&String> = arches
            .iter()
            .enumerate()
            .filter(|(i, a)| !listed.contains(a) && !arches[..*i].contains(a))
            .map(|(_, a)| a)
            .collect();
        if new.is_empty() {
            return Ok(0);
        }
        let root = self
            .doc
            .root
            .as_object_mut()
            .ok_or_else(|| ProfileError::Invalid("top level is not an object".into()))?;
        let Some(arr) = root.get_mut("architectures").and_then(Node::as_array_mut) else {
            return Ok(0);
        };
        for a in &new {
            let at = arr.items.len();
            arr.insert(
                at,
                Node::Scalar(Value::String((*a).clone()).to_string()),
                &indent,
                &newline,
                1,
            );
        }
        self.refresh()?;
        Ok(new.len())
    }

    /// Sets `defaultAction` to `action` and removes `defaultErrnoRet` (it belongs to the old
    /// action; an ERRNO default without it returns EPERM).
    pub fn set_default_action(&mut self, action: &str) -> Result<(), ProfileError> {
        let root = self
            .doc
            .root
            .as_object_mut()
            .ok_or_else(|| ProfileError::Invalid("top level is not an object".into()))?;
        let node = root
            .get_mut("defaultAction")
            .ok_or_else(|| ProfileError::Invalid("no defaultAction".into()))?;
        *node = Node::Scalar(Value::String(action.to_string()).to_string());
        root.remove("defaultErrnoRet");
        self.refresh()
    }

    /// Sets the `action` of syscalls entry `entry` and removes its `errnoRet` (it belongs to
    /// the old action).
    pub fn set_entry_action(&mut self, entry: usize, action: &str) -> Result<(), ProfileError> {
        let obj = self.entry_object(entry)?;
        let node = obj
            .get_mut("action")
            .ok_or_else(|| ProfileError::Invalid(format!("syscalls[{entry}] has no action")))?;
        *node = Node::Scalar(Value::String(action.to_string()).to_string());
        obj.remove("errnoRet");
        self.refresh()
    }

    /// The object of the top level (`entry` None) or of syscalls entry `entry`, and its
    /// nesting depth.
    fn object_at(
        &mut self,
        entry: Option<usize>,
    ) -> Result<(&mut cst::Object, usize), ProfileError> {
        match entry {
            None => self
                .doc
                .root
                .as_object_mut()
                .map(|o| (o, 0))
                .ok_or_else(|| ProfileError::Invalid("top level is not an object".into())),
            Some(i) => self.entry_object(i).map(|o| (o, 2)),
        }
    }

    /// Sets member `key` of the top level (`entry` None) or of syscalls entry `entry` to the
    /// JSON text `raw` (written as it is: one line), in place when the member exists, else
    /// right after member `after` (at the end when there is none).
    pub(crate) fn set_member_raw(
        &mut self,
        entry: Option<usize>,
        key: &str,
        raw: &str,
        after: &str,
    ) -> Result<(), ProfileError> {
        serde_json::from_str::<Value>(raw)
            .map_err(|e| ProfileError::Invalid(format!("{key}: {e}")))?;
        let (indent, newline) = (self.indent.clone(), self.newline.clone());
        let (obj, depth) = self.object_at(entry)?;
        if let Some(node) = obj.get_mut(key) {
            *node = Node::Scalar(raw.to_string());
        } else {
            let at = obj
                .members
                .iter()
                .rposition(|m| m.key == after)
                .map_or(obj.members.len(), |i| i + 1);
            let node = Node::Scalar(raw.to_string());
            push_member(obj, key, node, &indent, &newline, at, depth);
        }
        self.refresh()
    }

    /// Removes member `key` of the top level (`entry` None) or of syscalls entry `entry`;
    /// true when there was one.
    pub(crate) fn remove_member(
        &mut self,
        entry: Option<usize>,
        key: &str,
    ) -> Result<bool, ProfileError> {
        let (obj, _) = self.object_at(entry)?;
        let removed = obj.remove(key);
        self.refresh()?;
        Ok(removed)
    }

    /// True when the profile is written on one line (as runtimes store the applied profile:
    /// compact JSON), so that a diff of it would be one long line.
    pub fn is_compact(&self) -> bool {
        !self.doc.write().trim().contains('\n') && !self.spec.rules().is_empty()
    }

    /// The same profile pretty-printed (two spaces, members in their order, final newline).
    pub fn pretty(&self) -> Profile {
        let value = self.doc.root.to_value();
        let doc = Document {
            prefix: String::new(),
            root: Node::render(&value, "  ", "\n", 0),
            suffix: "\n".to_string(),
        };
        Profile {
            doc,
            spec: self.spec.clone(),
            indent: "  ".to_string(),
            newline: "\n".to_string(),
        }
    }

    /// Inserts `rule` as syscalls entry `at` (at the end when `at` is past it).
    pub fn insert_entry(&mut self, at: usize, rule: &SyscallRule) -> Result<(), ProfileError> {
        let (indent, newline) = (self.indent.clone(), self.newline.clone());
        let value = serde_json::to_value(rule).map_err(|e| ProfileError::Invalid(e.to_string()))?;
        let node = Node::render(&value, &indent, &newline, 2);
        let arr = self.syscalls_array()?;
        arr.insert(at, node, &indent, &newline, 1);
        self.refresh()
    }
}

/// Adds member `key` at position `at` of an object nested `depth` levels deep (the member's
/// whitespace is copied from its neighbours).
fn push_member(
    obj: &mut cst::Object,
    key: &str,
    value: Node,
    indent: &str,
    newline: &str,
    at: usize,
    depth: usize,
) {
    // Reuse the array insertion logic for the whitespace, then move it into a member.
    let mut tmp = cst::Array {
        items: obj
            .members
            .iter()
            .map(|m| cst::Item {
                before: m.before.clone(),
                value: Node::Scalar(String::new()),
                after: m.after.clone(),
            })
            .collect(),
        empty_ws: obj.empty_ws.clone(),
    };
    tmp.insert(at, Node::Scalar(String::new()), indent, newline, depth);
    // The colon is spaced as the object's first member has it (`"a": 1` or `"a":1`).
    let (colon_before, colon_after) = obj.members.first().map_or_else(
        || (String::new(), " ".to_string()),
        |m| (m.colon_before.clone(), m.colon_after.clone()),
    );
    let member = cst::Member {
        before: String::new(),
        raw_key: Value::String(key.to_string()).to_string(),
        key: key.to_string(),
        colon_before,
        colon_after,
        value,
        after: String::new(),
    };
    obj.members.insert(at.min(obj.members.len()), member);
    for (m, it) in obj.members.iter_mut().zip(tmp.items) {
        m.before = it.before;
        m.after = it.after;
    }
}

fn spec_of(doc: &Document) -> Result<ProfileSpec, ProfileError> {
    if !matches!(doc.root, Node::Object(_)) {
        return Err(ProfileError::Invalid("top level is not an object".into()));
    }
    serde_json::from_value(doc.root.to_value()).map_err(|e| ProfileError::Invalid(e.to_string()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn edits_touch_only_their_entry() {
        let text = "{\n  \"defaultAction\": \"SCMP_ACT_ERRNO\",\n  \"syscalls\": [\n    {\n      \"names\": [\n        \"read\"\n      ],\n      \"action\": \"SCMP_ACT_ALLOW\"\n    }\n  ]\n}\n";
        let mut p = Profile::from_json(text).unwrap();
        assert_eq!(p.to_json(), text);
        p.append_names(0, &["write".to_string()]).unwrap();
        assert_eq!(
            p.to_json(),
            text.replace("\"read\"\n", "\"read\",\n        \"write\"\n")
        );
        p.insert_entry(1, &SyscallRule::new(vec!["open".into()], "SCMP_ACT_LOG"))
            .unwrap();
        let want = "    },\n    {\n      \"names\": [\n        \"open\"\n      ],\n      \"action\": \"SCMP_ACT_LOG\"\n    }\n  ]\n}\n";
        assert!(p.to_json().ends_with(want), "{}", p.to_json());
        assert_eq!(p.spec().rules().len(), 2);
        p.remove_entry(1).unwrap();
        let left = p
            .remove_names(0, &["write".to_string()].into_iter().collect())
            .unwrap();
        assert_eq!(left, 1);
        assert_eq!(p.to_json(), text);
        assert!(matches!(
            p.remove_entry(7),
            Err(ProfileError::NoSuchEntry(7))
        ));
    }

    #[test]
    fn syscalls_created_when_missing() {
        let mut p = Profile::from_json("{\n\t\"defaultAction\": \"SCMP_ACT_LOG\"\n}").unwrap();
        p.insert_entry(0, &SyscallRule::new(vec!["read".into()], "SCMP_ACT_ALLOW"))
            .unwrap();
        assert_eq!(
            p.to_json(),
            "{\n\t\"defaultAction\": \"SCMP_ACT_LOG\",\n\t\"syscalls\": [\n\t\t{\n\t\t\t\"names\": [\n\t\t\t\t\"read\"\n\t\t\t],\n\t\t\t\"action\": \"SCMP_ACT_ALLOW\"\n\t\t}\n\t]\n}"
        );
    }

    #[test]
    fn invalid_profiles_are_errors() {
        assert!(matches!(
            Profile::from_json("[1]"),
            Err(ProfileError::Invalid(_))
        ));
        assert!(matches!(
            Profile::from_json("{\"syscalls\": []}"),
            Err(ProfileError::Invalid(_))
        ));
        assert!(matches!(
            Profile::from_json("{"),
            Err(ProfileError::Syntax(_))
        ));
        assert!(matches!(
            Profile::from_json("{\"defaultAction\": \"SCMP_ACT_LOG\", \"syscalls\": [{\"names\": 3, \"action\": \"x\"}]}"),
            Err(ProfileError::Invalid(_))
        ));
    }

    #[test]
    fn conditional_detection() {
        let p = Profile::from_json(
            r#"{"defaultAction": "SCMP_ACT_ERRNO", "syscalls": [
              {"names": ["a"], "action": "SCMP_ACT_ALLOW", "args": [], "includes": {}, "excludes": {"caps": []}},
              {"names": ["b"], "action": "SCMP_ACT_ALLOW", "includes": {"minKernel": "4.8"}},
              {"names": ["c"], "action": "SCMP_ACT_ALLOW", "args": [{"index": 0, "value": 1, "op": "SCMP_CMP_EQ"}]},
              {"name": "d", "action": "SCMP_ACT_LOG", "excludes": {"caps": ["CAP_SYS_ADMIN"]}}
            ]}"#,
        )
        .unwrap();
        let c: Vec<bool> = p
            .spec()
            .rules()
            .iter()
            .map(SyscallRule::is_conditional)
            .collect();
        assert_eq!(c, [false, true, true, true]);
        assert!(p.spec().rules()[0].is_unconditional(Action::Allow));
        assert!(p.spec().rules()[3].has_name("d"));
    }
}
