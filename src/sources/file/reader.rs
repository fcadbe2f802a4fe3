//! Block-parallel NDJSON reading: one thread reads (and gunzips) blocks that end on a newline,
//! worker threads parse and reduce them into partial extracts, merged at the end.

use std::fs::File;
use std::io::{BufReader, Read};
use std::path::Path;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{mpsc, Arc, Mutex};

use anyhow::Context;

use crate::domain::extract::{Extract, SkipReason};
use crate::domain::time::Timestamp;
use crate::sources::wire::parse_line;
use crate::sources::ParseRules;

/// Tuning for [`read_path`].
#[derive(Debug, Clone)]
pub struct ReadOptions {
    pub threads: usize,
    pub block_bytes: usize,
    /// Lines whose error is logged individually; later ones are only counted.
    pub log_first_errors: usize,
    /// Ignore events at or after this instant (they belong to a later run).
    pub until: Option<Timestamp>,
}

impl Default for ReadOptions {
    fn default() -> Self {
        Self {
            threads: 2,
            block_bytes: 4 << 20,
            log_first_errors: 20,
            until: None,
        }
    }
}

/// A skipped line, for logs and tests.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LineError {
    pub line: u64,
    pub reason: String,
}

struct Block {
    first_line: u64,
    bytes: Vec<u8>,
}

/// Reads a whole file into an [`Extract`]. I/O errors fail; bad lines are counted and skipped.
pub fn read_path(path: &Path, rules: &ParseRules, opts: &ReadOptions) -> anyhow::Result<Extract> {
    let file =
        File::open(path).with_context(|| format!("cannot open event file {}", path.display()))?;
    let mut head = [0u8; 2];
    let mut peek = BufReader::with_capacity(1 << 20, file);
    let n = {
        use std::io::BufRead;
        let buf = peek
            .fill_buf()
            .with_context(|| format!("cannot read {}", path.display()))?;
        let n = buf.len().min(2);
        head[..n].copy_from_slice(&buf[..n]);
        n
    };
    let reader: Box<dyn Read + Send> = if n == 2 && head == [0x1f, 0x8b] {
        Box::new(flate2::read::MultiGzDecoder::new(peek))
    } else {
        Box::new(peek)
    };
    let (extract, errors) =
        read_stream(reader, rules, opts).with_context(|| format!("reading {}", path.display()))?;
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
    Ok(extract)
}

/// Reads NDJSON from any reader; returns the extract and the first logged line errors.
pub fn read_stream(
    mut input: Box<dyn Read + Send>,
    rules: &ParseRules,
    opts: &ReadOptions,
) -> anyhow::Result<(Extract, Vec<LineError>)> {
    let threads = opts.threads.max(1);
    let (tx, rx) = mpsc::sync_channel::<Block>(threads * 2);
    let rx = Arc::new(Mutex::new(rx));
    // Parsed blocks come back for reuse, so the reader does not fault in fresh pages per block.
    let (spare_tx, spare_rx) = mpsc::channel::<Vec<u8>>();
    let logged = Arc::new(Mutex::new(Vec::new()));
    let error_budget = AtomicU64::new(opts.log_first_errors as u64);
    let mut partials: Vec<Extract> = Vec::new();
    let read_result: anyhow::Result<()> = std::thread::scope(|scope| {
        let mut handles = Vec::new();
        for _ in 0..threads {
            let rx = Arc::clone(&rx);
            let spare = spare_tx.clone();
            let logged = Arc::clone(&logged);
            let error_budget = &error_budget;
            handles.push(scope.spawn(move || {
                let mut ex = Extract::default();
                loop {
                    let block = match rx.lock().expect("receiver lock").recv() {
                        Ok(b) => b,
                        Err(_) => break,
                    };
                    parse_block(&block, rules, opts, &mut ex, &logged, error_budget);
                    let _ = spare.send(block.bytes);
                }
                ex
            }));
        }
        let res = produce_blocks(&mut input, opts.block_bytes, &tx, &spare_rx);
        drop(tx);
        for h in handles {
            partials.push(h.join().expect("parser thread panicked"));
        }
        res
    });
    read_result?;
    let mut iter = partials.into_iter();
    let mut total = iter.next().unwrap_or_default();
    for p in iter {
        total.merge(p);
    }
    let mut errors = std::mem::take(&mut *logged.lock().expect("log lock"));
    errors.sort_by_key(|e| e.line);
    Ok((total, errors))
}

fn produce_blocks(
    input: &mut Box<dyn Read + Send>,
    block_bytes: usize,
    tx: &mpsc::SyncSender<Block>,
    spare: &mpsc::Receiver<Vec<u8>>,
) -> anyhow::Result<()> {
    let mut carry: Vec<u8> = Vec::new();
    let mut line_no: u64 = 1;
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
            return Ok(());
        }
        if !eof {
            match buf.iter().rposition(|&b| b == b'\n') {
                Some(i) => carry = buf.split_off(i + 1),
                // A line longer than a block: keep reading into it.
                None => {
                    carry = buf;
                    continue;
                }
            }
        }
        let lines = buf.iter().filter(|&&b| b == b'\n').count() as u64;
        let first_line = line_no;
        line_no += lines;
        if tx
            .send(Block {
                first_line,
                bytes: buf,
            })
            .is_err()
        {
            return Ok(());
        }
        if eof {
            return Ok(());
        }
    }
}

fn parse_block(
    block: &Block,
    rules: &ParseRules,
    opts: &ReadOptions,
    ex: &mut Extract,
    logged: &Mutex<Vec<LineError>>,
    budget: &AtomicU64,
) {
    for (this_line, raw) in (block.first_line..).zip(block.bytes.split(|&b| b == b'\n')) {
        let line = raw.strip_suffix(b"\r").unwrap_or(raw);
        if line.iter().all(u8::is_ascii_whitespace) {
            continue;
        }
        ex.count_read();
        let reason = match parse_line(line, &rules.slots) {
            Ok(ev) => {
                if opts.until.is_some_and(|u| ev.timestamp >= u) {
                    ex.counts.skip(SkipReason::OutsideWindow);
                    continue;
                }
                match ex.absorb(&ev, &rules.extract) {
                    Ok(()) => continue,
                    Err(e) => format!("event {}: {e}", ev.uuid),
                }
            }
            Err(e) => {
                ex.counts.skip(SkipReason::Malformed);
                e.to_string()
            }
        };
        if budget
            .fetch_update(Ordering::Relaxed, Ordering::Relaxed, |b| b.checked_sub(1))
            .is_ok()
        {
            tracing::warn!(line = this_line, %reason, "skipped a bad event line");
            logged.lock().expect("log lock").push(LineError {
                line: this_line,
                reason,
            });
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::extract::SkipReason;

    fn read(text: &str, opts: ReadOptions) -> (Extract, Vec<LineError>) {
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
        let s0 = &ex.sessions["s0"];
        assert_eq!(s0.distinct_id.as_ref(), "d7");
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
