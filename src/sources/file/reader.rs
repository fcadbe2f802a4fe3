//! Block-parallel NDJSON reading: one thread reads (and gunzips) blocks that end on a newline,
//! worker threads parse and reduce them into partial extracts, merged at the end. Each line
//! knows its byte offset, so lines after a committed offset are the new ones.

use std::io::Read;
use std::path::Path;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{mpsc, Arc, Mutex};

use anyhow::Context;

use crate::domain::extract::{Extract, SkipReason};
use crate::domain::ids::Uuid;
use crate::domain::time::Timestamp;
use crate::sources::horizon::Horizon;
use crate::sources::wire::parse_line;
use crate::sources::ParseRules;

/// Which lines are new (fresh) this run.
#[derive(Debug, Clone, Default)]
pub enum Fresh {
    /// Every line (a first run, or a new file).
    #[default]
    All,
    /// Lines starting at or after this byte offset.
    FromOffset(u64),
    /// Events with `from <= timestamp < until`; later ones are skipped as `outside_window`.
    Window(Timestamp, Timestamp),
    /// Events a pre-offset cursor on event time had not written yet (upgrade path).
    Horizon(Horizon),
}

impl Fresh {
    fn of(&self, offset: u64, ts: Timestamp, uuid: Uuid) -> bool {
        match self {
            Fresh::All => true,
            Fresh::FromOffset(o) => offset >= *o,
            Fresh::Window(from, _) => ts >= *from,
            Fresh::Horizon(h) => h.is_new(ts, uuid),
        }
    }

    fn until(&self) -> Option<Timestamp> {
        match self {
            Fresh::Window(_, until) => Some(*until),
            _ => None,
        }
    }
}

/// Tuning for [`read_path`].
#[derive(Debug, Clone)]
pub struct ReadOptions {
    pub threads: usize,
    pub block_bytes: usize,
    /// Lines whose error is logged individually; later ones are only counted.
    pub log_first_errors: usize,
    pub fresh: Fresh,
    /// Events stamped after this are skipped as `future`.
    pub latest: Option<Timestamp>,
    /// The stream's length, when known: each parser sizes its tables for its share of the
    /// stream after its first block, instead of growing them by rehashing.
    pub expected_bytes: Option<u64>,
}

impl Default for ReadOptions {
    fn default() -> Self {
        Self {
            threads: 2,
            block_bytes: 4 << 20,
            log_first_errors: 20,
            fresh: Fresh::All,
            latest: None,
            expected_bytes: None,
        }
    }
}

/// How far a read got.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ReadEnd {
    /// Bytes of the (decompressed) stream read.
    pub bytes: u64,
    /// Bytes of a last line without a newline that did not parse (perhaps still being
    /// written): not counted, and left for the next run.
    pub pending: u64,
    /// The stream's first [`super::cursor::HEAD_BYTES`] bytes, which identify the file.
    pub head: Vec<u8>,
}

/// A skipped line, for logs and tests.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LineError {
    pub line: u64,
    pub reason: String,
}

struct Block {
    first_line: u64,
    /// Byte offset of the block's first byte in the stream.
    first_offset: u64,
    /// The block ends the stream with a line that has no newline.
    unterminated: bool,
    bytes: Vec<u8>,
}

/// Reads a whole file into an [`Extract`]. I/O errors fail; bad lines are counted and skipped.
pub fn read_path(
    path: &Path,
    rules: &ParseRules,
    opts: &ReadOptions,
) -> anyhow::Result<(Extract, ReadEnd)> {
    let (reader, len) = super::cursor::open(path)?;
    let opts = ReadOptions {
        expected_bytes: len,
        ..opts.clone()
    };
    let (extract, errors, end) =
        read_stream(reader, rules, &opts).with_context(|| format!("reading {}", path.display()))?;
    let skipped = extract.counts.skipped(SkipReason::Malformed);
    if skipped > errors.len() as u64 {
        tracing::warn!(
            file = %path.display(),
            skipped,
            "{} more malformed lines skipped (only the first {} are logged)",
            skipped - errors.len() as u64,
            errors.len()
        );
    }
    Ok((extract, end))
}

/// Reads NDJSON from any reader; returns the extract, the first logged line errors and how far
/// the read got.
pub fn read_stream(
    mut input: Box<dyn Read + Send>,
    rules: &ParseRules,
    opts: &ReadOptions,
) -> anyhow::Result<(Extract, Vec<LineError>, ReadEnd)> {
    let threads = opts.threads.max(1);
    let (tx, rx) = mpsc::sync_channel::<Block>(threads * 2);
    let rx = Arc::new(Mutex::new(rx));
    // Parsed blocks come back for reuse, so the reader does not fault in fresh pages per block.
    let (spare_tx, spare_rx) = mpsc::channel::<Vec<u8>>();
    let logged = Arc::new(Mutex::new(Vec::new()));
    let error_budget = AtomicU64::new(opts.log_first_errors as u64);
    let pending = AtomicU64::new(0);
    let mut partials: Vec<Extract> = Vec::new();
    let mut head = Vec::new();
    let read_result: anyhow::Result<u64> = std::thread::scope(|scope| {
        let mut handles = Vec::new();
        for _ in 0..threads {
            let rx = Arc::clone(&rx);
            let spare = spare_tx.clone();
            let logged = Arc::clone(&logged);
            let error_budget = &error_budget;
            let pending = &pending;
            handles.push(scope.spawn(move || {
                let mut ex = Extract::default();
                let mut sized = opts.expected_bytes.is_none();
                loop {
                    let block = match rx.lock().expect("receiver lock").recv() {
                        Ok(b) => b,
                        Err(_) => break,
                    };
                    let ctx = LineCtx {
                        rules,
                        opts,
                        logged: &logged,
                        budget: error_budget,
                        pending,
                    };
                    parse_block(&block, &ctx, &mut ex);
                    if !sized {
                        sized = true;
                        let share = opts.expected_bytes.unwrap_or(0) as f64
                            / block.bytes.len().max(1) as f64
                            / threads as f64;
                        ex.reserve(share);
                    }
                    let _ = spare.send(block.bytes);
                }
                ex
            }));
        }
        let res = produce_blocks(&mut input, opts.block_bytes, &tx, &spare_rx, &mut head);
        drop(tx);
        for h in handles {
            partials.push(h.join().expect("parser thread panicked"));
        }
        res
    });
    let bytes = read_result?;
    let t = std::time::Instant::now();
    let mut iter = partials.into_iter();
    let mut total = iter.next().unwrap_or_default();
    for p in iter {
        total.merge(p);
    }
    tracing::debug!(
        secs = t.elapsed().as_secs_f64(),
        threads,
        "read: partial extracts merged"
    );
    let mut errors = std::mem::take(&mut *logged.lock().expect("log lock"));
    errors.sort_by_key(|e| e.line);
    let end = ReadEnd {
        bytes,
        pending: pending.load(Ordering::Relaxed),
        head,
    };
    Ok((total, errors, end))
}

/// Reads the stream into blocks; returns the number of bytes read.
fn produce_blocks(
    input: &mut Box<dyn Read + Send>,
    block_bytes: usize,
    tx: &mpsc::SyncSender<Block>,
    spare: &mpsc::Receiver<Vec<u8>>,
    head: &mut Vec<u8>,
) -> anyhow::Result<u64> {
    let mut carry: Vec<u8> = Vec::new();
    let mut line_no: u64 = 1;
    let mut offset: u64 = 0;
    loop {
        let mut buf = match spare.try_recv() {
            Ok(mut b) => {
                b.clear();
                b.extend_from_slice(&carry);
                carry.clear();
                b
            }
            Err(_) => std::mem::take(&mut carry),
        };
        let start = buf.len();
        buf.resize(start + block_bytes, 0);
        let mut filled = start;
        while filled < buf.len() {
            let n = input.read(&mut buf[filled..]).context("read failed")?;
            if n == 0 {
                break;
            }
            filled += n;
        }
        buf.truncate(filled);
        let eof = filled < start + block_bytes;
        if buf.is_empty() {
            return Ok(offset);
        }
        if !eof {
            match memchr::memrchr(b'\n', &buf) {
                Some(i) => carry = buf.split_off(i + 1),
                // A line longer than a block: keep reading into it.
                None => {
                    carry = buf;
                    continue;
                }
            }
        }
        let lines = memchr::memchr_iter(b'\n', &buf).count() as u64;
        let first_line = line_no;
        line_no += lines;
        let first_offset = offset;
        offset += buf.len() as u64;
        if head.len() < super::cursor::HEAD_BYTES {
            let take = (super::cursor::HEAD_BYTES - head.len()).min(buf.len());
            head.extend_from_slice(&buf[..take]);
        }
        let unterminated = eof && buf.last() != Some(&b'\n');
        if tx
            .send(Block {
                first_line,
                first_offset,
                unterminated,
                bytes: buf,
            })
            .is_err()
        {
            return Ok(offset);
        }
        if eof {
            return Ok(offset);
        }
    }
}

/// What every line of a block is checked against.
struct LineCtx<'a> {
    rules: &'a ParseRules,
    opts: &'a ReadOptions,
    logged: &'a Mutex<Vec<LineError>>,
    budget: &'a AtomicU64,
    /// Bytes of an unterminated last line that did not parse.
    pending: &'a AtomicU64,
}

fn parse_block(block: &Block, ctx: &LineCtx<'_>, ex: &mut Extract) {
    let until = ctx.opts.fresh.until();
    let mut offset = block.first_offset;
    let mut lines = Lines(&block.bytes).peekable();
    let mut this_line = block.first_line;
    while let Some(raw) = lines.next() {
        let line_offset = offset;
        offset += raw.len() as u64 + 1;
        let last_unterminated = block.unterminated && lines.peek().is_none();
        let line_no = this_line;
        this_line += 1;
        let line = raw.strip_suffix(b"\r").unwrap_or(raw);
        if line.iter().all(u8::is_ascii_whitespace) {
            continue;
        }
        let parsed = parse_line(line, &ctx.rules.slots);
        if last_unterminated && parsed.is_err() {
            // Perhaps a line still being appended: leave it for the next run.
            ctx.pending.store(raw.len() as u64, Ordering::Relaxed);
            continue;
        }
        ex.count_read();
        let reason = match parsed {
            Ok(ev) => {
                if until.is_some_and(|u| ev.timestamp >= u) {
                    ex.counts.skip(SkipReason::OutsideWindow);
                    continue;
                }
                if ctx.opts.latest.is_some_and(|l| ev.timestamp > l) {
                    ex.counts.skip(SkipReason::Future);
                    format!(
                        "event {} is stamped {}, in the future",
                        ev.uuid, ev.timestamp
                    )
                } else {
                    let fresh = ctx.opts.fresh.of(line_offset, ev.timestamp, ev.uuid);
                    match ex.absorb(&ev, fresh, &ctx.rules.extract) {
                        Ok(()) => continue,
                        Err(e) => format!("event {}: {e}", ev.uuid),
                    }
                }
            }
            Err(e) => {
                ex.counts.skip(SkipReason::Malformed);
                e.to_string()
            }
        };
        if ctx
            .budget
            .fetch_update(Ordering::Relaxed, Ordering::Relaxed, |b| b.checked_sub(1))
            .is_ok()
        {
            tracing::warn!(line = line_no, %reason, "skipped a bad event line");
            ctx.logged.lock().expect("log lock").push(LineError {
                line: line_no,
                reason,
            });
        }
    }
}

/// The lines of a block, split where `memchr` finds newlines; a final newline ends the last
/// line (no empty piece after it).
struct Lines<'a>(&'a [u8]);

impl<'a> Iterator for Lines<'a> {
    type Item = &'a [u8];

    fn next(&mut self) -> Option<&'a [u8]> {
        let rest = std::mem::take(&mut self.0);
        if rest.is_empty() {
            return None;
        }
        match memchr::memchr(b'\n', rest) {
            Some(i) => {
                self.0 = &rest[i + 1..];
                Some(&rest[..i])
            }
            None => Some(rest),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::extract::SkipReason;

    fn read(text: &str, opts: ReadOptions) -> (Extract, Vec<LineError>) {
        let (ex, errors, _) = read_end(text, opts);
        (ex, errors)
    }

    fn read_end(text: &str, opts: ReadOptions) -> (Extract, Vec<LineError>, ReadEnd) {
        let rules = ParseRules::default();
        read_stream(
            Box::new(std::io::Cursor::new(text.as_bytes().to_vec())),
            &rules,
            &opts,
        )
        .unwrap()
    }

    fn line(i: u32, session: &str) -> String {
        format!(
            r#"{{"uuid":"00000000-0000-0000-0000-{i:012}","event":"$pageview","distinct_id":"d{i}","timestamp":"2024-01-01T00:00:{:02}Z","properties":{{"$session_id":"{session}"}}}}"#,
            i % 60
        )
    }

    #[test]
    fn bad_lines_are_counted_with_their_numbers_across_tiny_blocks() {
        let mut text = String::new();
        for i in 1..=50u32 {
            if i % 10 == 0 {
                text.push_str("{broken\n");
            } else {
                text.push_str(&line(i, &format!("s{}", i % 7)));
                text.push('\n');
            }
        }
        text.push_str("\n\n"); // blank lines are not events
        let opts = ReadOptions {
            threads: 3,
            block_bytes: 300,
            ..Default::default()
        };
        let (ex, errors) = read(&text, opts);
        assert_eq!(ex.counts.read, 50);
        assert_eq!(ex.counts.skipped(SkipReason::Malformed), 5);
        assert_eq!(
            errors.iter().map(|e| e.line).collect::<Vec<_>>(),
            [10, 20, 30, 40, 50]
        );
        assert_eq!(ex.sessions.len(), 7);
        // Each session's start is its earliest event whatever block it was parsed in.
        let s0 = ex.sessions.get("s0").unwrap();
        assert_eq!(s0.distinct_id(), "d7");
    }

    #[test]
    fn tables_sized_from_the_expected_length_read_the_same() {
        let text: String = (1..=300u32)
            .map(|i| line(i, &format!("s{}", i % 40)) + "\n")
            .collect();
        let opts = |expected_bytes| ReadOptions {
            threads: 2,
            block_bytes: 2_000,
            expected_bytes,
            ..Default::default()
        };
        let (plain, _) = read(&text, opts(None));
        // Sized from the first block for the whole stream (and once more, wrongly large).
        for guess in [text.len() as u64, 100 * text.len() as u64] {
            let (sized, _) = read(&text, opts(Some(guess)));
            assert_eq!(sized.counts, plain.counts);
            assert_eq!(sized.sessions.len(), 40);
            for s in plain.sessions.iter() {
                let other = sized.sessions.get(s.session_id().unwrap()).unwrap();
                assert_eq!(other.position(), s.position());
            }
        }
    }

    #[test]
    fn lines_after_the_offset_are_fresh_across_blocks() {
        let mut text = String::new();
        let mut offsets = Vec::new();
        for i in 1..=40u32 {
            offsets.push(text.len() as u64);
            text.push_str(&line(i, &format!("s{i}")));
            text.push('\n');
        }
        let cut = offsets[25];
        let opts = ReadOptions {
            threads: 3,
            block_bytes: 500,
            fresh: Fresh::FromOffset(cut),
            ..Default::default()
        };
        let (ex, _, end) = read_end(&text, opts);
        assert_eq!((end.bytes, end.pending), (text.len() as u64, 0));
        assert_eq!(end.head, text.as_bytes());
        let fresh: Vec<bool> = (1..=40u32)
            .map(|i| ex.sessions.get(&format!("s{i}")).unwrap().fresh)
            .collect();
        assert!(fresh[..25].iter().all(|f| !f) && fresh[25..].iter().all(|f| *f));
    }

    #[test]
    fn an_unterminated_last_line_that_does_not_parse_is_left_for_later() {
        let text = format!("{}\n{{\"uuid\":\"0000", line(1, "a"));
        let (ex, errors, end) = read_end(&text, ReadOptions::default());
        assert!(errors.is_empty());
        assert_eq!(ex.counts.read, 1);
        assert_eq!(end.bytes - end.pending, line(1, "a").len() as u64 + 1);
    }

    #[test]
    fn future_events_are_skipped_and_counted() {
        let text = format!("{}\n{}\n", line(1, "a"), line(2, "b"));
        let opts = ReadOptions {
            latest: Some(Timestamp::parse("2024-01-01T00:00:01Z").unwrap()),
            ..Default::default()
        };
        let (ex, errors, _) = read_end(&text, opts);
        assert_eq!(ex.counts.skipped(SkipReason::Future), 1);
        assert_eq!(ex.sessions.len(), 1);
        assert!(errors[0].reason.contains("future"), "{errors:?}");
    }

    #[test]
    fn last_line_without_newline_is_read() {
        let text = format!("{}\n{}", line(1, "a"), line(2, "b"));
        let (ex, errors) = read(&text, ReadOptions::default());
        assert!(errors.is_empty());
        assert_eq!(ex.counts.read, 2);
        assert_eq!(ex.sessions.len(), 2);
    }
}
