//! The Kubernetes Security Profiles Operator `SeccompProfile` resource (YAML): its `spec` has
//! the same fields as a Docker/OCI profile, so it converts to and from [`Profile`].

use super::{Profile, ProfileError, ProfileSpec};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

/// The SPO API version this writes.
pub const SPO_API_VERSION: &str = "security-profiles-operator.x-k8s.io/v1beta1";
/// The resource kind.
pub const SPO_KIND: &str = "SeccompProfile";

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

    /// The YAML text.
    pub fn to_yaml(&self) -> Result<String, ProfileError> {
        serde_yaml::to_string(self).map_err(|e| ProfileError::Yaml(e.to_string()))
    }

    /// A resource named `name` whose spec is `profile`.
    pub fn from_profile(profile: &Profile, name: &str) -> K8sSeccompProfile {
        K8sSeccompProfile {
            api_version: SPO_API_VERSION.to_string(),
            kind: SPO_KIND.to_string(),
            metadata: K8sMetadata {
                name: name.to_string(),
                ..K8sMetadata::default()
            },
            spec: profile.spec().clone(),
            extra: Map::new(),
        }
    }

    /// The spec as a Docker/OCI profile (two-space JSON).
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
    errnoRet: 38
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
        let again = K8sSeccompProfile::from_yaml(&r.to_yaml().unwrap()).unwrap();
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
