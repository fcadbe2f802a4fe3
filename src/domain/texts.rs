//! `N` optional texts in one allocation. A run holds millions of session starts and
//! touchpoints, each with about ten short texts: as separate `Option<Box<str>>` fields they
//! cost 16 bytes inline each plus an allocation each; here, one allocation and 4 bytes each.

use std::fmt;

/// `N` optional texts, stored back to back. An empty text reads as absent: every text kept
/// here is absent or non-empty (the parsers turn empty properties into absent ones).
#[derive(Clone, PartialEq, Eq, Hash)]
pub struct Texts<const N: usize> {
    text: Box<str>,
    /// Where each field ends in `text`; a field starts where the previous one ends.
    ends: [u32; N],
}

impl<const N: usize> Default for Texts<N> {
    fn default() -> Self {
        Self {
            text: Box::from(""),
            ends: [0; N],
        }
    }
}

impl<const N: usize> Texts<N> {
    /// Packs `fields` (an empty one is stored as absent).
    ///
    /// # Panics
    /// When the texts together exceed 4 GiB (callers cap each field far below that).
    pub fn new(fields: [Option<&str>; N]) -> Self {
        let len: usize = fields.iter().map(|f| f.map_or(0, str::len)).sum();
        let mut text = String::with_capacity(len);
        let mut ends = [0u32; N];
        for (end, f) in ends.iter_mut().zip(fields) {
            if let Some(f) = f {
                text.push_str(f);
            }
            *end = u32::try_from(text.len()).expect("texts under 4 GiB");
        }
        Self {
            text: text.into_boxed_str(),
            ends,
        }
    }

    /// Field `i`, `None` when absent.
    ///
    /// # Panics
    /// When `i >= N`.
    pub fn get(&self, i: usize) -> Option<&str> {
        let start = if i == 0 { 0 } else { self.ends[i - 1] as usize };
        let end = self.ends[i] as usize;
        (end > start).then(|| &self.text[start..end])
    }
}

impl<const N: usize> fmt::Debug for Texts<N> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_list().entries((0..N).map(|i| self.get(i))).finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fields_come_back_as_stored_and_empty_ones_as_absent() {
        let t = Texts::new([Some("ab"), None, Some(""), Some("é"), Some("xyz")]);
        assert_eq!(
            (0..5).map(|i| t.get(i)).collect::<Vec<_>>(),
            [Some("ab"), None, None, Some("é"), Some("xyz")]
        );
        assert_eq!(Texts::<3>::default().get(2), None);
        assert_eq!(
            format!("{t:?}"),
            r#"[Some("ab"), None, None, Some("é"), Some("xyz")]"#
        );
    }
}
