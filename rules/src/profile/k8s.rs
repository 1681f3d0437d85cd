//! The Kubernetes Security Profiles Operator `SeccompProfile` resource (YAML). Its `spec` is
//! a subset of a Docker/OCI profile (no `defaultErrnoRet`, `archMap`, `includes`, `excludes`
//! or `comment`; `errnoRet` is a string), so writing one from a [`Profile`] reports what it
//! cannot carry.

use super::{Profile, ProfileError, ProfileSpec, SyscallRule};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

/// The SPO API version this writes.
pub const SPO_API_VERSION: &str = "security-profiles-operator.x-k8s.io/v1beta1";
/// The resource kind.
pub const SPO_KIND: &str = "SeccompProfile";

/// The arches the SPO v1beta1 CRD accepts.
const SPO_ARCHES: &[&str] = &[
    "SCMP_ARCH_NATIVE",
    "SCMP_ARCH_X86",
    "SCMP_ARCH_X86_64",
    "SCMP_ARCH_X32",
    "SCMP_ARCH_ARM",
    "SCMP_ARCH_AARCH64",
    "SCMP_ARCH_MIPS",
    "SCMP_ARCH_MIPS64",
    "SCMP_ARCH_MIPS64N32",
    "SCMP_ARCH_MIPSEL",
    "SCMP_ARCH_MIPSEL64",
    "SCMP_ARCH_MIPSEL64N32",
    "SCMP_ARCH_PPC",
    "SCMP_ARCH_PPC64",
    "SCMP_ARCH_PPC64LE",
    "SCMP_ARCH_S390",
    "SCMP_ARCH_S390X",
    "SCMP_ARCH_PARISC",
    "SCMP_ARCH_PARISC64",
    "SCMP_ARCH_RISCV64",
];

/// A `SeccompProfile` resource; fields this model does not know (e.g. `status`) are kept.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct K8sSeccompProfile {
    pub api_version: String,
    pub kind: String,
    pub metadata: K8sMetadata,
    pub spec: ProfileSpec,
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

/// The resource's `metadata`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Default)]
pub struct K8sMetadata {
    pub name: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub namespace: Option<String>,
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

impl K8sSeccompProfile {
    /// Reads a `SeccompProfile` YAML document (any `security-profiles-operator.x-k8s.io`
    /// version).
    pub fn from_yaml(text: &str) -> Result<K8sSeccompProfile, ProfileError> {
        let res: K8sSeccompProfile =
            serde_yaml::from_str(text).map_err(|e| ProfileError::Yaml(e.to_string()))?;
        if res.kind != SPO_KIND {
            return Err(ProfileError::NotSeccompProfile(format!(
                "kind is {:?}",
                res.kind
            )));
        }
        if !res
            .api_version
            .starts_with("security-profiles-operator.x-k8s.io/")
        {
            return Err(ProfileError::NotSeccompProfile(format!(
                "apiVersion is {:?}",
                res.api_version
            )));
        }
        Ok(res)
    }

    /// The YAML text (`errnoRet` written as a string, as the CRD wants it).
    pub fn to_yaml(&self) -> Result<String, ProfileError> {
        let mut v = serde_json::to_value(self).map_err(|e| ProfileError::Yaml(e.to_string()))?;
        let rules = v
            .get_mut("spec")
            .and_then(|s| s.get_mut("syscalls"))
            .and_then(Value::as_array_mut);
        for r in rules.into_iter().flatten() {
            if let Some(e) = r.get_mut("errnoRet") {
                if let Value::Number(n) = e {
                    *e = Value::String(n.to_string());
                }
            }
        }
        serde_yaml::to_string(&v).map_err(|e| ProfileError::Yaml(e.to_string()))
    }

    /// A resource named `name` whose spec is `profile`, and a note for everything of the
    /// profile that the SPO spec cannot carry (dropped): `defaultErrnoRet`, arches outside
    /// the CRD's list, entries with `includes`/`excludes` (whole entries: their condition
    /// cannot be expressed), comments and unknown fields. `archMap` arches become
    /// `architectures`.
    pub fn from_profile(profile: &Profile, name: &str) -> (K8sSeccompProfile, Vec<String>) {
        let src = profile.spec();
        let mut notes = Vec::new();
        if let Some(e) = src.default_errno_ret {
            if e != 1 {
                notes.push(format!("defaultErrnoRet {e} dropped (EPERM is used)"));
            }
        }
        for k in src.extra.keys() {
            notes.push(format!("field {k:?} dropped"));
        }
        let mut architectures = Vec::new();
        for a in src.covered_arches() {
            if SPO_ARCHES.contains(&a.as_str()) {
                architectures.push(a);
            } else {
                notes.push(format!("architecture {a} dropped (not in the CRD)"));
            }
        }
        let mut syscalls = Vec::new();
        for (i, r) in src.rules().iter().enumerate() {
            let names: Vec<String> = r.all_names().map(str::to_string).collect();
            let conditional = r.includes.as_ref().is_some_and(|f| !f.is_empty())
                || r.excludes.as_ref().is_some_and(|f| !f.is_empty());
            if conditional {
                notes.push(format!(
                    "syscalls[{i}] ({} {}) dropped: includes/excludes cannot be expressed",
                    r.action,
                    names.join(",")
                ));
                continue;
            }
            if r.comment.as_ref().is_some_and(|c| !c.is_empty()) {
                notes.push(format!("syscalls[{i}] comment dropped"));
            }
            for k in r.extra.keys() {
                notes.push(format!("syscalls[{i}] field {k:?} dropped"));
            }
            syscalls.push(SyscallRule {
                names: Some(names),
                action: r.action.clone(),
                errno_ret: r.errno_ret,
                args: r.args.clone().filter(|a| !a.is_empty()),
                ..SyscallRule::default()
            });
        }
        let spec = ProfileSpec {
            default_action: src.default_action.clone(),
            architectures: (!architectures.is_empty()).then_some(architectures),
            flags: src.flags.clone(),
            listener_path: src.listener_path.clone(),
            listener_metadata: src.listener_metadata.clone(),
            syscalls: Some(syscalls),
            ..ProfileSpec::default()
        };
        let res = K8sSeccompProfile {
            api_version: SPO_API_VERSION.to_string(),
            kind: SPO_KIND.to_string(),
            metadata: K8sMetadata {
                name: name.to_string(),
                ..K8sMetadata::default()
            },
            spec,
            extra: Map::new(),
        };
        (res, notes)
    }

    /// The spec as a Docker/OCI profile (two-space JSON; SPO-only fields such as
    /// `baseProfileName` are kept as unknown fields).
    pub fn to_profile(&self) -> Profile {
        Profile::from_spec(&self.spec)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const SPO_EXAMPLE: &str = "\
apiVersion: security-profiles-operator.x-k8s.io/v1beta1
kind: SeccompProfile
metadata:
  name: profile1
  namespace: my-namespace
  labels:
    app: demo
spec:
  defaultAction: SCMP_ACT_ERRNO
  baseProfileName: runc-v1.1.0
  architectures:
  - SCMP_ARCH_X86_64
  syscalls:
  - action: SCMP_ACT_ALLOW
    names:
    - exit_group
    - write
  - action: SCMP_ACT_ERRNO
    errnoRet: '38'
    names:
    - mkdir
    args:
    - index: 1
      value: 448
      op: SCMP_CMP_EQ
";

    #[test]
    fn reads_an_spo_resource() {
        let r = K8sSeccompProfile::from_yaml(SPO_EXAMPLE).unwrap();
        assert_eq!(r.metadata.name, "profile1");
        assert_eq!(r.metadata.namespace.as_deref(), Some("my-namespace"));
        assert_eq!(r.spec.default_action, "SCMP_ACT_ERRNO");
        assert_eq!(r.spec.extra["baseProfileName"], "runc-v1.1.0");
        let rules = r.spec.rules();
        assert_eq!(rules.len(), 2);
        assert_eq!(
            rules[0].names.as_deref(),
            Some(&["exit_group".to_string(), "write".to_string()][..])
        );
        assert_eq!(rules[1].errno_ret, Some(38));
        assert!(rules[1].is_conditional());
        let p = r.to_profile();
        assert_eq!(p.spec(), &r.spec);
        let yaml = r.to_yaml().unwrap();
        assert!(yaml.contains("errnoRet: '38'"), "{yaml}");
        let again = K8sSeccompProfile::from_yaml(&yaml).unwrap();
        assert_eq!(again, r);
    }

    #[test]
    fn rejects_other_kinds() {
        let other = SPO_EXAMPLE.replace("kind: SeccompProfile", "kind: SelinuxProfile");
        assert!(matches!(
            K8sSeccompProfile::from_yaml(&other),
            Err(ProfileError::NotSeccompProfile(_))
        ));
        assert!(matches!(
            K8sSeccompProfile::from_yaml("a: [b"),
            Err(ProfileError::Yaml(_))
        ));
        assert!(K8sSeccompProfile::from_yaml("apiVersion: v1\nkind: SeccompProfile\nmetadata: {name: x}\nspec: {defaultAction: SCMP_ACT_LOG}\n").is_err());
    }
}
