//! Streams a path file through a tally. Every thread takes the next block of whole lines in
//! turn, parses it into a tally of its own and hands it to the merge, which takes blocks in
//! file order (so sums and channel numbers come out as a one-thread read would give them).
//! Memory holds a few blocks and the tallies, never the file.

use std::collections::BTreeMap;
use std::io::Read;
use std::sync::Mutex;

use anyhow::Context;
use memchr::memmem;
use rayon::prelude::*;

use super::columns::{positions, BadRow, PathColumns};
use super::rows::{parse, Layout, Part};
use crate::engine::paths::{Channels, Tally};

/// Bytes read per block: large enough that a block's tally is cheap to merge, small enough
/// that a few in flight stay far below the size of the files this is for.
const BLOCK: usize = 1 << 20;

/// A scanned file.
pub struct Scan<T> {
    pub tally: T,
    /// Channel names by the tally's ids, numbered in order of first appearance.
    pub channels: Channels,
    pub bad: Vec<BadRow>,
    pub rows: u64,
    /// Distinct paths by their channel sequence (from 64-bit hashes).
    pub distinct: u64,
}

/// The reader's side: whole-line blocks in turn, with buffers the workers hand back.
struct Blocks<'r> {
    input: &'r mut (dyn Read + Send),
    size: usize,
    carry: Vec<u8>,
    next: usize,
    done: bool,
    spare: Vec<Vec<u8>>,
}

impl Blocks<'_> {
    /// The next block, its index and how many bytes of it are filled; the last block may lack
    /// a final newline. Buffers are allocated once and handed back, so pages are touched once.
    fn next_block(&mut self) -> std::io::Result<Option<Block>> {
        if self.done {
            return Ok(None);
        }
        let mut buf = self.spare.pop().unwrap_or_else(|| vec![0u8; self.size]);
        let mut filled = self.carry.len();
        if buf.len() <= filled {
            buf.resize(filled + self.size, 0);
        }
        buf[..filled].copy_from_slice(&self.carry);
        self.carry.clear();
        loop {
            if filled == buf.len() {
                if let Some(nl) = memchr::memrchr(b'\n', &buf[..filled]) {
                    self.carry.extend_from_slice(&buf[nl + 1..filled]);
                    filled = nl + 1;
                    break;
                }
                // One line longer than the buffer: keep reading until it ends.
                buf.resize(buf.len() + self.size, 0);
            }
            match self.input.read(&mut buf[filled..]) {
                Ok(0) => {
                    self.done = true;
                    break;
                }
                Ok(n) => filled += n,
                Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
                Err(e) => return Err(e),
            }
        }
        if filled == 0 {
            self.spare.push(buf);
            return Ok(None);
        }
        let index = self.next;
        self.next += 1;
        Ok(Some(Block { index, buf, filled }))
    }
}

struct Block {
    index: usize,
    buf: Vec<u8>,
    filled: usize,
}

/// The merge's side: parts in file order.
struct Merge<T> {
    next: usize,
    pending: BTreeMap<usize, Part<T>>,
    tally: T,
    channels: Channels,
    bad: Vec<BadRow>,
    rows: u64,
    /// Lines before the next block to merge (the header is line 1).
    lines: u64,
    /// Per part: its paths' hashes, sorted and deduplicated.
    hashes: Vec<Vec<u64>>,
}

impl<T: Tally> Merge<T> {
    fn take(&mut self, part: Part<T>) {
        let ids: Vec<u32> = part
            .names
            .iter()
            .map(|name| {
                let before = self.channels.len();
                let id = self.channels.id(name);
                if self.channels.len() > before {
                    self.tally.channel(id, name);
                }
                id
            })
            .collect();
        self.tally.merge(part.tally, &ids);
        for (line, reason) in part.bad {
            self.bad.push(BadRow {
                line: self.lines + 1 + line,
                reason,
            });
        }
        self.lines += part.lines;
        self.rows += part.rows;
        self.hashes.push(part.hashes);
    }
}

/// How many different values sorted runs hold together: the hash space is cut into ranges
/// counted in parallel, each from its slices of every run (no copy of the whole).
fn distinct(runs: &[Vec<u64>]) -> u64 {
    const RANGE_BITS: u32 = 6;
    (0..1u64 << RANGE_BITS)
        .into_par_iter()
        .map(|r| {
            let lo = r << (64 - RANGE_BITS);
            let last = r == (1 << RANGE_BITS) - 1;
            let hi = (r + 1).wrapping_shl(64 - RANGE_BITS);
            let mut v = Vec::new();
            for run in runs {
                let a = run.partition_point(|&x| x < lo);
                let b = if last {
                    run.len()
                } else {
                    run.partition_point(|&x| x < hi)
                };
                v.extend_from_slice(&run[a..b]);
            }
            v.sort_unstable();
            v.dedup();
            v.len() as u64
        })
        .sum()
}

/// Why a scan stopped.
enum Stop {
    /// A field is quoted: the caller reads the file with the CSV reader instead.
    Quoted,
    Failed(anyhow::Error),
}

/// Scans `input` into tallies made by `make`. `Ok(None)` when the file quotes fields (the CSV
/// reader handles those); a missing column or an unreadable input is an error.
pub fn scan<T: Tally>(
    input: &mut (dyn Read + Send),
    cols: &PathColumns,
    make: impl Fn() -> T + Sync,
) -> anyhow::Result<Option<Scan<T>>> {
    scan_in_blocks(input, cols, make, BLOCK)
}

fn scan_in_blocks<T: Tally>(
    input: &mut (dyn Read + Send),
    cols: &PathColumns,
    make: impl Fn() -> T + Sync,
    size: usize,
) -> anyhow::Result<Option<Scan<T>>> {
    let mut head = Vec::new();
    let mut byte = [0u8; 1];
    // The header, a byte at a time: it is short, and the body must start right after it.
    loop {
        match input.read(&mut byte) {
            Ok(0) => break,
            Ok(_) if byte[0] == b'\n' => break,
            Ok(_) => head.push(byte[0]),
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(e).context("cannot read the path file"),
        }
    }
    let head = head.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(&head);
    let head = head.strip_suffix(b"\r").unwrap_or(head);
    if head.contains(&b'"') {
        return Ok(None);
    }
    let pos = positions(head.split(|&b| b == b','), cols)?;
    let sep = cols.sep.trim();
    let layout = Layout {
        pos: &pos,
        cols,
        sep: memmem::Finder::new(sep.as_bytes()),
    };
    let blocks = Mutex::new(Blocks {
        input,
        size,
        carry: Vec::new(),
        next: 0,
        done: false,
        spare: Vec::new(),
    });
    let merge = Mutex::new(Merge {
        next: 0,
        pending: BTreeMap::new(),
        tally: make(),
        channels: Channels::default(),
        bad: Vec::new(),
        rows: 0,
        lines: 1,
        hashes: Vec::new(),
    });
    let stop: Mutex<Option<Stop>> = Mutex::new(None);
    let work = || loop {
        if stop.lock().expect("stop").is_some() {
            return;
        }
        let next = blocks.lock().expect("blocks").next_block();
        let Block { index, buf, filled } = match next {
            Ok(Some(b)) => b,
            Ok(None) => return,
            Err(e) => {
                let e = anyhow::Error::new(e).context("cannot read the path file");
                stop.lock().expect("stop").get_or_insert(Stop::Failed(e));
                return;
            }
        };
        let block = &buf[..filled];
        if memchr::memchr(b'"', block).is_some() {
            stop.lock().expect("stop").get_or_insert(Stop::Quoted);
            return;
        }
        let known = merge.lock().expect("merge").channels.names().to_vec();
        let part = parse(block, &layout, &known, make());
        blocks.lock().expect("blocks").spare.push(buf);
        let mut m = merge.lock().expect("merge");
        m.pending.insert(index, part);
        while let Some(part) = {
            let n = m.next;
            m.pending.remove(&n)
        } {
            m.take(part);
            m.next += 1;
        }
    };
    let threads = rayon::current_num_threads().max(1);
    std::thread::scope(|s| {
        for _ in 1..threads {
            s.spawn(work);
        }
        work();
    });
    match stop.into_inner().expect("stop") {
        Some(Stop::Quoted) => return Ok(None),
        Some(Stop::Failed(e)) => return Err(e),
        None => {}
    }
    let mut m = merge.into_inner().expect("merge");
    let distinct = distinct(&m.hashes);
    m.bad.sort_by_key(|b| b.line);
    Ok(Some(Scan {
        tally: m.tally,
        channels: m.channels,
        bad: m.bad,
        rows: m.rows,
        distinct,
    }))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::engine::paths::{PathSet, PathStats};
    use crate::offline::pathfile::read_csv;

    /// Hands out a few bytes per read, with an interruption now and then.
    struct Trickle<'a> {
        data: &'a [u8],
        calls: usize,
    }

    impl Read for Trickle<'_> {
        fn read(&mut self, out: &mut [u8]) -> std::io::Result<usize> {
            self.calls += 1;
            if self.calls.is_multiple_of(5) {
                return Err(std::io::ErrorKind::Interrupted.into());
            }
            let n = (self.calls % 7 + 1).min(out.len()).min(self.data.len());
            out[..n].copy_from_slice(&self.data[..n]);
            self.data = &self.data[n..];
            Ok(n)
        }
    }

    fn file() -> String {
        let mut text = String::from("total_null,path,total_conversions,total_conversion_value\r\n");
        for i in 0..400 {
            let path = match i % 9 {
                0 => "search > social > search".to_string(),
                1 => format!("ch{} >  email", i % 13),
                2 => "a >  > b".to_string(),
                3 => String::new(),
                4 => "direct".to_string(),
                // Longer than the smallest blocks below.
                5 => vec!["display"; 40].join(" > "),
                _ => format!("ch{} > ch{} > email", i % 11, i % 4),
            };
            let conv = if i % 17 == 0 {
                "x".to_string()
            } else {
                (i % 3).to_string()
            };
            text.push_str(&format!("{},{path},{conv},{}.5\n", i % 4, i));
            if i % 50 == 0 {
                text.push('\n');
            }
        }
        text.push_str("1,last > row,1,2"); // no final newline
        text
    }

    fn sorted_paths(set: &PathSet) -> Vec<(Vec<String>, PathStats)> {
        let mut v: Vec<_> = set
            .sorted()
            .into_iter()
            .map(|(p, s)| {
                (
                    p.iter()
                        .map(|&c| set.channels.name(c).to_string())
                        .collect(),
                    *s,
                )
            })
            .collect();
        v.sort_by(|a: &(Vec<String>, PathStats), b| a.0.cmp(&b.0));
        v
    }

    #[test]
    fn any_block_size_and_any_read_size_give_the_csv_readers_result() {
        let text = file();
        let cols = PathColumns::default();
        let (want, want_bad, want_rows) = read_csv(text.as_bytes(), &cols).unwrap();
        assert!(want_bad.len() > 20, "the file has bad rows of every kind");
        for size in [16, 100, 4096, BLOCK] {
            let mut input = Trickle {
                data: text.as_bytes(),
                calls: 0,
            };
            let got = scan_in_blocks(&mut input, &cols, PathSet::default, size)
                .unwrap()
                .expect("no quotes");
            assert_eq!(got.rows, want_rows, "block {size}");
            // The csv crate miscounts lines after blank ones: compare reasons, and check each
            // line number against the file itself.
            let reasons = |b: &[BadRow]| b.iter().map(|b| b.reason.clone()).collect::<Vec<_>>();
            assert_eq!(reasons(&got.bad), reasons(&want_bad), "block {size}");
            let lines: Vec<&str> = text.split('\n').collect();
            for b in &got.bad {
                let line = lines[b.line as usize - 1];
                let field = if b.reason.contains("empty step") {
                    b.reason.split('\'').nth(1).unwrap().to_string()
                } else {
                    ",x,".to_string()
                };
                assert!(
                    line.contains(&field),
                    "line {} is {line:?}: {}",
                    b.line,
                    b.reason
                );
            }
            assert_eq!(got.distinct, want.paths.len() as u64);
            // Channels numbered by first appearance, as a one-thread read numbers them.
            assert_eq!(got.channels.names(), want.channels.names());
            assert_eq!(got.tally.channels.names(), want.channels.names());
            let (g, w) = (sorted_paths(&got.tally), sorted_paths(&want));
            assert_eq!(g.len(), w.len());
            for ((gp, gs), (wp, ws)) in g.iter().zip(&w) {
                assert_eq!(gp, wp);
                assert!((gs.conversions - ws.conversions).abs() < 1e-9);
                assert!((gs.value - ws.value).abs() < 1e-9);
                assert!((gs.nulls - ws.nulls).abs() < 1e-9);
            }
        }
    }

    #[test]
    fn quoted_fields_are_left_to_the_csv_reader_and_columns_are_checked() {
        let cols = PathColumns::default();
        let quoted = "path,total_conversions\na,1\n\"b > c\",2\n";
        let got = scan(&mut quoted.as_bytes(), &cols, PathSet::default).unwrap();
        assert!(got.is_none());
        let err = scan(&mut "p,c\n".as_bytes(), &cols, PathSet::default)
            .err()
            .expect("missing column")
            .to_string();
        assert!(err.contains("no column 'path'"), "{err}");
        let empty = scan(&mut "".as_bytes(), &cols, PathSet::default);
        assert!(empty.is_err(), "no header, no columns");
    }

    #[test]
    fn distinct_counts_values_across_sorted_runs() {
        assert_eq!(distinct(&[]), 0);
        assert_eq!(
            distinct(&[vec![1, 3, 5], vec![], vec![2, 3, 9], vec![1]]),
            5
        );
    }
}
