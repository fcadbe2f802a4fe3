//! Case-insensitive `*` wildcard patterns for channel rules (`paid*`, `*.google.*`).

/// A compiled lower-case pattern where `*` matches any run of characters.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Glob {
    parts: Vec<String>,
    anchored_start: bool,
    anchored_end: bool,
}

impl Glob {
    pub fn new(pattern: &str) -> Self {
        let p = pattern.to_lowercase();
        Self {
            anchored_start: !p.starts_with('*'),
            anchored_end: !p.ends_with('*'),
            parts: p
                .split('*')
                .filter(|s| !s.is_empty())
                .map(str::to_string)
                .collect(),
        }
    }

    /// Whether `text` (already lower-case) matches.
    pub fn matches(&self, text: &str) -> bool {
        if self.parts.is_empty() {
            // "" matches only "", "*" matches anything.
            return !self.anchored_start || text.is_empty();
        }
        let mut rest = text;
        let last = self.parts.len() - 1;
        for (i, part) in self.parts.iter().enumerate() {
            if i == 0 && self.anchored_start {
                if !rest.starts_with(part.as_str()) {
                    return false;
                }
                rest = &rest[part.len()..];
                if i == last && self.anchored_end {
                    return rest.is_empty();
                }
                continue;
            }
            if i == last && self.anchored_end {
                return rest.len() >= part.len() && rest.ends_with(part.as_str());
            }
            // memmem: `str::find` builds a two-way searcher per call, which for the short
            // texts of a session start costs more than the search.
            match memchr::memmem::find(rest.as_bytes(), part.as_bytes()) {
                Some(at) => rest = &rest[at + part.len()..],
                None => return false,
            }
        }
        true
    }
}

/// Whether any pattern matches.
pub fn any_match(globs: &[Glob], text: &str) -> bool {
    globs.iter().any(|g| g.matches(text))
}

#[cfg(test)]
mod tests {
    use super::Glob;

    #[test]
    fn wildcards_match_like_ga4_regexes() {
        let cp = Glob::new("*cp*");
        assert!(cp.matches("cpc") && cp.matches("xcpm") && !cp.matches("ppc"));
        let paid = Glob::new("paid*");
        assert!(paid.matches("paid") && paid.matches("paid_social") && !paid.matches("unpaid"));
        let exact = Glob::new("PPC");
        assert!(exact.matches("ppc") && !exact.matches("ppcx"));
        let dom = Glob::new("*.google.*");
        assert!(dom.matches("www.google.co.uk") && !dom.matches("google.com"));
        let tail = Glob::new("*push");
        assert!(tail.matches("web_push") && !tail.matches("pushy"));
        let mid = Glob::new("a*b*c");
        assert!(
            mid.matches("abc")
                && mid.matches("a-b-c")
                && !mid.matches("a-c-b")
                && !mid.matches("abcd")
        );
        assert!(
            Glob::new("*").matches("anything")
                && Glob::new("").matches("")
                && !Glob::new("").matches("x")
        );
        assert!(!Glob::new("ab*ab").matches("ab"));
    }
}
