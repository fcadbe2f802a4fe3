//! Lines written with `writev`, straight from the encoded rows' strings.

use std::fs::File;
use std::io::{IoSlice, Write};

/// Writes each text and a newline with `writev`, straight from the encoded rows' strings (a
/// buffered writer copied every byte of a run once more before the kernel's own copy).
pub(super) fn write_lines<'a>(
    f: &mut File,
    texts: impl Iterator<Item = &'a str>,
) -> std::io::Result<()> {
    // Two slices a line, within Linux's IOV_MAX of 1024.
    const LINES: usize = 512;
    let mut slices: Vec<IoSlice<'a>> = Vec::with_capacity(2 * LINES);
    let mut texts = texts.peekable();
    while texts.peek().is_some() {
        slices.clear();
        for t in texts.by_ref().take(LINES) {
            slices.push(IoSlice::new(t.as_bytes()));
            slices.push(IoSlice::new(b"\n"));
        }
        let mut rest = &mut slices[..];
        while !rest.is_empty() {
            match f.write_vectored(rest) {
                Ok(0) => return Err(std::io::ErrorKind::WriteZero.into()),
                Ok(n) => IoSlice::advance_slices(&mut rest, n),
                Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
                Err(e) => return Err(e),
            }
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::write_lines;

    #[test]
    fn every_line_arrives_whole_and_in_order_across_many_calls() {
        // Enough lines for several calls, of lengths that do not divide the batch evenly.
        let texts: Vec<String> = (0..1_337)
            .map(|i| format!("{{\"row\":{i},\"pad\":\"{}\"}}", "x".repeat(i % 97)))
            .collect();
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("rows.ndjson");
        let mut f = std::fs::File::create(&path).unwrap();
        write_lines(&mut f, texts[..600].iter().map(String::as_str)).unwrap();
        write_lines(&mut f, std::iter::empty()).unwrap();
        write_lines(&mut f, texts[600..].iter().map(String::as_str)).unwrap();
        drop(f);
        let written = std::fs::read_to_string(&path).unwrap();
        let expected: String = texts.iter().map(|t| format!("{t}\n")).collect();
        assert_eq!(written, expected);
    }
}
