//! Keeps secrets out of everything attrsync prints or stores. Every secret the process holds
//! (configured keys and tokens, access tokens it obtains, rotated refresh tokens) is registered
//! when it becomes a [`crate::config::secret::Secret`]; text leaving the process — log lines,
//! stored run errors, command output — passes through [`redact`], which also scrubs credential
//! shapes it was never told about (`Bearer …`, JWTs, `access_token=…`, `"client_secret": "…"`),
//! such as a proxy echoing a request back in an error body.

use std::borrow::Cow;
use std::io::Write;
use std::sync::{OnceLock, RwLock};

/// What replaces a secret.
pub const MASK: &str = "[redacted]";

/// Registered secrets kept, at most (the oldest go first; access tokens rotate hourly).
const MAX_SECRETS: usize = 4096;

static SECRETS: RwLock<Vec<String>> = RwLock::new(Vec::new());

/// Registers a secret (values shorter than 6 characters are too common to scrub safely).
pub fn register(secret: &str) {
    let s = secret.trim();
    if s.len() < 6 {
        return;
    }
    let mut all = SECRETS.write().expect("secrets lock");
    if all.iter().any(|x| x == s) {
        return;
    }
    if all.len() >= MAX_SECRETS {
        all.remove(0);
    }
    all.push(s.to_string());
    // Longest first, so a secret containing another is masked whole.
    all.sort_by_key(|x| std::cmp::Reverse(x.len()));
}

fn patterns() -> &'static regex::Regex {
    static RE: OnceLock<regex::Regex> = OnceLock::new();
    RE.get_or_init(|| {
        regex::Regex::new(concat!(
            // Authorization header values.
            r"(?i)(\b(?:bearer|basic|token)\s+)[A-Za-z0-9._~+/=-]{8,}",
            // JWTs (signed assertions, ID and access tokens).
            r"|eyJ[A-Za-z0-9_-]{8,}\.[A-Za-z0-9_-]{4,}\.[A-Za-z0-9_-]*",
            // key=value in forms and query strings, "key": "value" in JSON.
            r#"|(?i)((?:access_token|refresh_token|id_token|client_secret|assertion|api_key|apikey|password|private_key|developer_token|access_token_secret|consumer_secret)"?\s*[=:]\s*"?)[^"&\s,}]{4,}"#,
        ))
        .expect("the redaction pattern compiles")
    })
}

/// `text` with every registered secret and every credential shape masked.
pub fn redact(text: &str) -> Cow<'_, str> {
    let mut out: Cow<'_, str> = Cow::Borrowed(text);
    {
        let all = SECRETS.read().expect("secrets lock");
        for s in all.iter() {
            if out.contains(s.as_str()) {
                out = Cow::Owned(out.replace(s.as_str(), MASK));
            }
        }
    }
    let re = patterns();
    if re.is_match(&out) {
        let replaced = re
            .replace_all(&out, |c: &regex::Captures<'_>| {
                let keep = c.get(1).or(c.get(2)).map_or("", |m| m.as_str());
                format!("{keep}{MASK}")
            })
            .into_owned();
        out = Cow::Owned(replaced);
    }
    out
}

/// A response body quoted in an error: at most `max` bytes (cut at a character boundary),
/// redacted.
pub fn snippet(body: &[u8], max: usize) -> String {
    let text = String::from_utf8_lossy(body);
    let mut end = text.len().min(max);
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    let cut = if end < text.len() {
        format!("{}… ({} bytes)", &text[..end], body.len())
    } else {
        text.into_owned()
    };
    redact(&cut).into_owned()
}

/// Stderr for the log, each write redacted.
#[derive(Debug, Clone, Copy, Default)]
pub struct RedactingStderr;

impl Write for RedactingStderr {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        let text = String::from_utf8_lossy(buf);
        std::io::stderr().write_all(redact(&text).as_bytes())?;
        Ok(buf.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        std::io::stderr().flush()
    }
}

impl<'a> tracing_subscriber::fmt::MakeWriter<'a> for RedactingStderr {
    type Writer = RedactingStderr;

    fn make_writer(&'a self) -> Self::Writer {
        RedactingStderr
    }
}

/// Prints `error: …` to stderr, redacted.
pub fn eprint_error(text: &str) {
    eprintln!("error: {}", redact(text));
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn registered_secrets_and_credential_shapes_are_masked() {
        register("phx_registered_key_1234");
        let t = redact("401: Invalid key phx_registered_key_1234 (Authorization: Bearer phx_registered_key_1234)");
        assert!(!t.contains("phx_registered"), "{t}");
        let t = redact("echo: Authorization: Bearer abcdefghijkl12345; grant_type=refresh_token&refresh_token=1//0gRefresh-Tok3n&client_secret=GOCSPX-xyz123");
        assert!(
            !t.contains("abcdefghijkl12345")
                && !t.contains("1//0gRefresh")
                && !t.contains("GOCSPX"),
            "{t}"
        );
        assert!(
            t.contains("Bearer [redacted]") && t.contains("grant_type=refresh_token"),
            "{t}"
        );
        let jwt = "eyJhbGciOiJSUzI1NiJ9.eyJpc3MiOiJ4QHkifQ.c2lnbmF0dXJl";
        assert!(!redact(&format!("assertion {jwt} refused")).contains("eyJpc3M"));
        let t = redact(r#"{"client_secret": "shh-its-secret", "name": "ok"}"#);
        assert!(
            !t.contains("shh-its") && t.contains(r#""name": "ok""#),
            "{t}"
        );
        assert_eq!(redact("nothing to hide here"), "nothing to hide here");
        register("abc");
        assert_eq!(redact("abc"), "abc", "too short to register");
    }

    #[test]
    fn snippets_are_capped_at_a_character_boundary() {
        let body = "é".repeat(400);
        let s = snippet(body.as_bytes(), 301);
        assert!(s.starts_with("é") && s.ends_with("(800 bytes)"));
        assert!(s.len() < 320);
    }
}
