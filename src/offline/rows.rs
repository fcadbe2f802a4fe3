//! One block of a path file's lines parsed into a tally: fields split with memchr, steps
//! interned per block (ids are the block's own; the merge maps them), bad rows kept by line.

use std::hash::BuildHasher;

use memchr::memmem;

use super::columns::{number, PathColumns, Positions};
use crate::domain::collections::FastMap;
use crate::engine::paths::{PathStats, Tally};

/// A parsed block: its tally, its channel names (by the tally's ids), its bad rows (0-based
/// line within the block, reason), how many lines and rows it held, and the hashes of its good
/// rows' channel sequences, sorted and deduplicated (for counting distinct paths).
pub(super) struct Part<T> {
    pub tally: T,
    pub names: Vec<String>,
    pub bad: Vec<(u64, String)>,
    pub lines: u64,
    pub rows: u64,
    pub hashes: Vec<u64>,
}

/// What every block is parsed with.
pub(super) struct Layout<'a> {
    pub pos: &'a Positions,
    pub cols: &'a PathColumns,
    pub sep: memmem::Finder<'a>,
}

/// A step that is blank once trimmed.
const BLANK: u32 = u32::MAX;

/// The block's channels: raw step bytes → id, with each name's hash for path hashes.
struct Names<'b> {
    by_bytes: FastMap<&'b [u8], u32>,
    by_name: FastMap<String, u32>,
    names: Vec<String>,
    hashes: Vec<u64>,
    hasher: foldhash::fast::FixedState,
}

impl<'b> Names<'b> {
    /// Starts with the channels the whole file has so far (`known`, in its order), so the
    /// block numbers them alike and merging needs no renumbering.
    fn new<T: Tally>(known: &[String], tally: &mut T) -> Self {
        let mut names = Self {
            by_bytes: FastMap::default(),
            by_name: FastMap::default(),
            names: Vec::new(),
            hashes: Vec::new(),
            // Fixed, so every block hashes a name alike.
            hasher: foldhash::fast::FixedState::with_seed(0xa77),
        };
        for name in known {
            names.add(name, tally);
        }
        names
    }

    fn add<T: Tally>(&mut self, name: &str, tally: &mut T) -> u32 {
        let id = self.names.len() as u32;
        self.names.push(name.to_string());
        self.hashes.push(self.hasher.hash_one(name));
        self.by_name.insert(name.to_string(), id);
        tally.channel(id, name);
        id
    }

    fn id<T: Tally>(&mut self, step: &'b [u8], tally: &mut T) -> u32 {
        if let Some(&id) = self.by_bytes.get(step) {
            return id;
        }
        let lossy = String::from_utf8_lossy(step);
        let name = lossy.trim();
        let id = if name.is_empty() {
            BLANK
        } else if let Some(&id) = self.by_name.get(name) {
            id
        } else {
            self.add(name, tally)
        };
        self.by_bytes.insert(step, id);
        id
    }
}

fn trim_cr(line: &[u8]) -> &[u8] {
    line.strip_suffix(b"\r").unwrap_or(line)
}

/// The fields of `line` at the layout's positions: (path, conversions, value, nulls).
type Fields<'l> = [Option<&'l [u8]>; 4];

fn fields<'l>(line: &'l [u8], pos: &Positions) -> Fields<'l> {
    let mut out: Fields<'l> = [None; 4];
    let want = [Some(pos.path), Some(pos.conversions), pos.value, pos.nulls];
    let last = want.iter().flatten().copied().max().unwrap_or(0);
    let mut start = 0;
    let ends = memchr::memchr_iter(b',', line).chain(std::iter::once(line.len()));
    for (i, end) in ends.enumerate() {
        for (slot, w) in out.iter_mut().zip(&want) {
            if *w == Some(i) {
                *slot = Some(&line[start..end]);
            }
        }
        if i == last {
            break;
        }
        start = end + 1;
    }
    out
}

/// Parses `block` (whole lines) into `tally`; `known` are the channels seen before it.
pub(super) fn parse<T: Tally>(
    block: &[u8],
    layout: &Layout<'_>,
    known: &[String],
    mut tally: T,
) -> Part<T> {
    let cols = layout.cols;
    let pos = layout.pos;
    tally.expect(memchr::memchr_iter(b'\n', block).count() + 1);
    let mut names = Names::new(known, &mut tally);
    let mut bad = Vec::new();
    let mut hashes = Vec::new();
    let (mut lines, mut rows) = (0u64, 0u64);
    let mut ids: Vec<u32> = Vec::with_capacity(16);
    let mut start = 0;
    let ends = memchr::memchr_iter(b'\n', block)
        .chain((block.last().is_some_and(|&b| b != b'\n')).then_some(block.len()));
    for end in ends {
        let line_no = lines;
        lines += 1;
        let line = trim_cr(&block[start..end]);
        start = end + 1;
        if line.is_empty() {
            continue;
        }
        rows += 1;
        let [path, conversions, value, nulls] = fields(line, pos);
        let stats = (|| -> Result<PathStats, String> {
            Ok(PathStats {
                conversions: number(conversions, true, &cols.conversions)?,
                value: number(value, pos.value.is_some(), &cols.value)?,
                nulls: number(nulls, pos.nulls.is_some(), &cols.nulls)?,
            })
        })();
        let (stats, path) = match (stats, path) {
            (Ok(s), Some(p)) => (s, p),
            (Ok(_), None) => {
                bad.push((line_no, format!("missing {}", cols.path)));
                continue;
            }
            (Err(reason), _) => {
                bad.push((line_no, reason));
                continue;
            }
        };
        ids.clear();
        let mut h = 0u64;
        let mut blank = false;
        let mut from = 0;
        let stops = layout
            .sep
            .find_iter(path)
            .chain(std::iter::once(path.len()));
        for stop in stops {
            let step = path[from..stop].trim_ascii();
            from = stop + layout.sep.needle().len();
            let id = names.id(step, &mut tally);
            if id == BLANK {
                blank = true;
                break;
            }
            h = h
                .wrapping_mul(0x9e37_79b9_7f4a_7c15)
                .wrapping_add(names.hashes[id as usize]);
            ids.push(id);
        }
        if blank {
            bad.push((
                line_no,
                format!("path '{}' has an empty step", String::from_utf8_lossy(path)),
            ));
            continue;
        }
        hashes.push(h ^ (ids.len() as u64).rotate_right(7));
        tally.add(&ids, stats);
    }
    hashes.sort_unstable();
    hashes.dedup();
    Part {
        tally,
        names: names.names,
        bad,
        lines,
        rows,
        hashes,
    }
}
