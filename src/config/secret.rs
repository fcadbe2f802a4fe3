//! Secrets from configuration: never printed, never serialised.

use std::fmt;

/// A secret string. `Debug` shows `[redacted]`; there is no `Display` and no `Serialize`.
#[derive(Clone, PartialEq, Eq, Default)]
pub struct Secret(String);

impl Secret {
    pub fn new(s: impl Into<String>) -> Self {
        Self(s.into())
    }

    /// The secret itself, for the one place that sends it (an auth header, a token request).
    pub fn expose(&self) -> &str {
        &self.0
    }

    pub fn is_empty(&self) -> bool {
        self.0.trim().is_empty()
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("[redacted]")
    }
}

impl<'de> serde::Deserialize<'de> for Secret {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        super::lenient::string(d).map(Secret)
    }
}

/// Reads a secret from `inline` or else from the file at `file` (trailing newline trimmed).
pub fn resolve(
    inline: &Option<Secret>,
    file: &Option<std::path::PathBuf>,
    key: &str,
) -> Result<Option<Secret>, super::ConfigError> {
    if let Some(s) = inline.as_ref().filter(|s| !s.is_empty()) {
        return Ok(Some(s.clone()));
    }
    match file {
        None => Ok(None),
        Some(path) => {
            let text = std::fs::read_to_string(path).map_err(|e| super::ConfigError::Invalid {
                key: format!("{key}_file"),
                message: format!("cannot read {}: {e}", path.display()),
            })?;
            Ok(Some(Secret(
                text.trim_end_matches(['\n', '\r']).to_string(),
            )))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::Secret;

    #[test]
    fn debug_never_shows_the_value() {
        let s = Secret::new("phx_supersecret");
        assert_eq!(format!("{s:?}"), "[redacted]");
        assert!(!format!("{:?}", Some(s)).contains("supersecret"));
    }
}
