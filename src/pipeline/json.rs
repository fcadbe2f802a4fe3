//! A small JSON object writer for warehouse rows: keys are fixed and safe, so only values are
//! escaped, and numbers, uuids and timestamps are written straight into the buffer.

use crate::domain::ids::Uuid;
use crate::domain::time::Timestamp;

/// Appends `s` as a JSON string (escaping `"`, `\` and control characters).
pub fn push_str(out: &mut String, s: &str) {
    out.push('"');
    if !s.bytes().any(|b| ESCAPED[b as usize]) {
        out.push_str(s);
    } else {
        for c in s.chars() {
            match c {
                '"' => out.push_str("\\\""),
                '\\' => out.push_str("\\\\"),
                '\n' => out.push_str("\\n"),
                '\r' => out.push_str("\\r"),
                '\t' => out.push_str("\\t"),
                c if (c as u32) < 0x20 => {
                    out.push_str(&format!("\\u{:04x}", c as u32));
                }
                c => out.push(c),
            }
        }
    }
    out.push('"');
}

/// The bytes a JSON string cannot hold as they are: `"`, `\` and control characters.
const ESCAPED: [bool; 256] = {
    let mut t = [false; 256];
    let mut b = 0;
    while b < 0x20 {
        t[b] = true;
        b += 1;
    }
    t[b'"' as usize] = true;
    t[b'\\' as usize] = true;
    t
};

/// Writes one object's members in order, and digests the values of the tracked columns (see
/// `checksum::value_fields`) as it goes.
pub struct Obj<'a> {
    out: &'a mut String,
    first: bool,
    tracked: &'static [(&'static str, crate::domain::checksum::Kind)],
    values: u64,
}

impl<'a> Obj<'a> {
    pub fn start(out: &'a mut String) -> Self {
        out.push('{');
        Self {
            out,
            first: true,
            tracked: &[],
            values: 0,
        }
    }

    /// An object whose `tracked` columns' values are digested.
    pub fn tracking(
        out: &'a mut String,
        tracked: &'static [(&'static str, crate::domain::checksum::Kind)],
    ) -> Self {
        let mut o = Self::start(out);
        o.tracked = tracked;
        o
    }

    fn track(&mut self, k: &str, canonical: &str) {
        if self.tracked.iter().any(|(n, _)| *n == k) {
            self.values = self
                .values
                .wrapping_add(crate::domain::checksum::field_hash(k, canonical));
        }
    }

    fn key(&mut self, k: &str) {
        if !self.first {
            self.out.push(',');
        }
        self.first = false;
        self.out.push('"');
        self.out.push_str(k);
        self.out.push_str("\":");
    }

    pub fn str(&mut self, k: &str, v: &str) -> &mut Self {
        self.key(k);
        push_str(self.out, v);
        self.track(k, v);
        self
    }

    pub fn opt_str(&mut self, k: &str, v: Option<&str>) -> &mut Self {
        match v {
            Some(v) => self.str(k, v),
            None => self.null(k),
        }
    }

    pub fn null(&mut self, k: &str) -> &mut Self {
        self.key(k);
        self.out.push_str("null");
        self.track(k, crate::domain::checksum::NULL);
        self
    }

    pub fn int(&mut self, k: &str, v: i64) -> &mut Self {
        self.key(k);
        let mut b = itoa::Buffer::new();
        let t = b.format(v);
        self.out.push_str(t);
        self.track(k, t);
        self
    }

    pub fn opt_int(&mut self, k: &str, v: Option<i64>) -> &mut Self {
        match v {
            Some(v) => self.int(k, v),
            None => self.null(k),
        }
    }

    pub fn float(&mut self, k: &str, v: f64) -> &mut Self {
        if !v.is_finite() {
            return self.null(k);
        }
        self.key(k);
        let mut b = ryu::Buffer::new();
        let t = b.format_finite(v);
        self.out.push_str(t);
        if !self.tracked.is_empty() {
            let c = crate::domain::checksum::canonical_ryu(t);
            self.track(k, &c);
        }
        self
    }

    pub fn opt_bool(&mut self, k: &str, v: Option<bool>) -> &mut Self {
        self.key(k);
        self.out.push_str(match v {
            Some(true) => "true",
            Some(false) => "false",
            None => "null",
        });
        self
    }

    pub fn ts(&mut self, k: &str, v: Timestamp) -> &mut Self {
        self.key(k);
        self.out.push('"');
        v.write_rfc3339(self.out);
        self.out.push('"');
        self
    }

    pub fn opt_ts(&mut self, k: &str, v: Option<Timestamp>) -> &mut Self {
        match v {
            Some(v) => self.ts(k, v),
            None => self.null(k),
        }
    }

    pub fn uuid(&mut self, k: &str, v: Uuid) -> &mut Self {
        self.key(k);
        self.out.push('"');
        v.write_to(self.out);
        self.out.push('"');
        self
    }

    pub fn opt_uuid(&mut self, k: &str, v: Option<Uuid>) -> &mut Self {
        match v {
            Some(v) => self.uuid(k, v),
            None => self.null(k),
        }
    }

    /// Appends members written before by [`members`] (none of them tracked).
    pub fn members(&mut self, text: &str) -> &mut Self {
        if text.is_empty() {
            return self;
        }
        if !self.first {
            self.out.push(',');
        }
        self.first = false;
        self.out.push_str(text);
        self
    }

    /// Closes the object; returns the digest of the tracked values.
    pub fn end(&mut self) -> u64 {
        self.out.push('}');
        self.values
    }
}

/// Members written once to be copied into many objects with [`Obj::members`]: the text
/// between the braces of the object `write` makes.
pub fn members(write: impl FnOnce(&mut Obj<'_>)) -> String {
    let mut s = String::new();
    write(&mut Obj::start(&mut s));
    s.remove(0);
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn writes_what_serde_json_reads_back() {
        let mut s = String::new();
        Obj::start(&mut s)
            .str("a", "plain")
            .str("b", "quote\" back\\slash\nline\u{1}é")
            .opt_str("c", None)
            .int("d", -42)
            .float("e", 0.1 + 0.2)
            .float("f", f64::NAN)
            .opt_bool("g", Some(false))
            .ts("h", Timestamp::from_micros(1))
            .uuid("i", Uuid(255))
            .end();
        let shared = members(|o| {
            o.int("x", 1).str("y", "z");
        });
        assert_eq!(shared, r#""x":1,"y":"z""#);
        let mut row = String::new();
        Obj::start(&mut row)
            .members(&shared)
            .int("w", 2)
            .members(&shared)
            .end();
        assert_eq!(row, r#"{"x":1,"y":"z","w":2,"x":1,"y":"z"}"#);
        let v: serde_json::Value = serde_json::from_str(&s).unwrap();
        assert_eq!(v["b"], "quote\" back\\slash\nline\u{1}é");
        assert!(v["c"].is_null() && v["f"].is_null());
        assert_eq!(v["d"], -42);
        assert_eq!(v["e"].as_f64().unwrap(), 0.1 + 0.2);
        assert_eq!(v["g"], false);
        assert_eq!(v["h"], "1970-01-01T00:00:00.000001Z");
        assert_eq!(v["i"], "00000000-0000-0000-0000-0000000000ff");
    }
}
