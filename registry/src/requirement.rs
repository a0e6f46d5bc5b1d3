//! `namespace/name@version-req` references from configs.

use std::fmt;

use semver::VersionReq;

use crate::error::RegistryError;

/// A reference to a plugin library, e.g. `seqgan-lab/cnn-discriminator@^0.1`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PluginRequirement {
    /// Team or lab.
    pub namespace: String,
    /// Library name.
    pub name: String,
    /// Accepted versions (`*` when omitted).
    pub version: VersionReq,
}

fn valid_segment(segment: &str) -> bool {
    !segment.is_empty()
        && segment
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_' || c == '.')
}

impl PluginRequirement {
    /// Parses `namespace/name` with an optional `@version-req`.
    pub fn parse(text: &str) -> Result<Self, RegistryError> {
        let bad = |reason: &str| RegistryError::BadRequirement {
            text: text.to_string(),
            reason: reason.to_string(),
        };
        let (path, version) = match text.split_once('@') {
            Some((path, version)) => (path, Some(version)),
            None => (text, None),
        };
        let (namespace, name) = path
            .split_once('/')
            .ok_or_else(|| bad("no `/` between namespace and name"))?;
        if !valid_segment(namespace) || !valid_segment(name) {
            return Err(bad(
                "namespace and name may hold letters, digits, `-`, `_` and `.` only",
            ));
        }
        let version = match version {
            None => VersionReq::STAR,
            Some(v) => VersionReq::parse(v.trim())
                .map_err(|e| bad(&format!("bad version requirement: {e}")))?,
        };
        Ok(PluginRequirement {
            namespace: namespace.to_string(),
            name: name.to_string(),
            version,
        })
    }

    /// Whether a library with this namespace, name and version satisfies it.
    pub fn matches(&self, namespace: &str, name: &str, version: &str) -> bool {
        self.namespace == namespace
            && self.name == name
            && semver::Version::parse(version).is_ok_and(|v| self.version.matches(&v))
    }

    /// `namespace/name`.
    pub fn qualified_name(&self) -> String {
        format!("{}/{}", self.namespace, self.name)
    }
}

impl fmt::Display for PluginRequirement {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.version == VersionReq::STAR {
            write!(f, "{}/{}", self.namespace, self.name)
        } else {
            write!(f, "{}/{}@{}", self.namespace, self.name, self.version)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_with_and_without_version() {
        let r = PluginRequirement::parse("seqgan-lab/cnn-discriminator@^0.1").unwrap();
        assert_eq!(r.namespace, "seqgan-lab");
        assert!(r.matches("seqgan-lab", "cnn-discriminator", "0.1.7"));
        assert!(!r.matches("seqgan-lab", "cnn-discriminator", "0.2.0"));
        assert!(!r.matches("other", "cnn-discriminator", "0.1.0"));
        let any = PluginRequirement::parse("a/b").unwrap();
        assert!(any.matches("a", "b", "9.9.9"));
        assert_eq!(any.to_string(), "a/b");
    }

    #[test]
    fn rejects_malformed_references_with_the_reason() {
        for (text, reason) in [
            ("no-slash", "no `/`"),
            ("a/b@not a version", "bad version requirement"),
            ("a b/c", "letters, digits"),
            ("/c", "letters, digits"),
        ] {
            let err = PluginRequirement::parse(text).unwrap_err().to_string();
            assert!(err.contains(reason), "{text}: {err}");
            assert!(err.contains(text), "{err}");
        }
    }
}
