//! Secrets from configuration: never printed, never serialised.

use std::fmt;

/// A secret string. `Debug` shows `[redacted]`; there is no `Display` and no `Serialize`.
#[derive(Clone, PartialEq, Eq, Default)]
pub struct Secret(String);

impl Secret {
    /// A secret, registered with the redactor so it never shows in output.
    pub fn new(s: impl Into<String>) -> Self {
        let s = s.into();
        crate::redact::register(&s);
        Self(s)
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
        super::lenient::string(d).map(Secret::new)
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
            Ok(Some(Secret::new(
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

/// `[secrets]`: the key that encrypts credentials attrsync learns at run time (a rotated refresh
/// token) before they are stored in the run store.
#[derive(Debug, Clone, Default, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SecretsSettings {
    /// A file holding the key: 32 bytes, base64 (`openssl rand -base64 32`).
    #[serde(default)]
    pub key_file: Option<std::path::PathBuf>,
    /// The key itself (base64); from the environment only: `ATTRSYNC__SECRETS__KEY`.
    #[serde(default)]
    pub key: Option<Secret>,
}

impl SecretsSettings {
    /// The 32-byte key, if one is configured; a malformed key names its setting.
    pub fn key(&self) -> Result<Option<[u8; 32]>, super::ConfigError> {
        use base64::Engine;
        let Some(text) = resolve(&self.key, &self.key_file, "secrets.key")? else {
            return Ok(None);
        };
        let key_name = if self.key.is_some() {
            "secrets.key"
        } else {
            "secrets.key_file"
        };
        let bytes = base64::engine::general_purpose::STANDARD
            .decode(text.expose().trim())
            .map_err(|_| super::ConfigError::Invalid {
                key: key_name.into(),
                message: "is not base64; make one with `openssl rand -base64 32`".into(),
            })?;
        let key: [u8; 32] = bytes
            .try_into()
            .map_err(|b: Vec<u8>| super::ConfigError::Invalid {
                key: key_name.into(),
                message: format!(
                    "holds {} bytes; AES-256 needs 32 (`openssl rand -base64 32`)",
                    b.len()
                ),
            })?;
        Ok(Some(key))
    }
}
