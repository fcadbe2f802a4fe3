//! Synthetic channel paths in ChannelAttribution's CSV format, for checks and benchmarks.

use std::fmt::Write as _;
use std::io::Write;
use std::path::Path;

use anyhow::Context;

use crate::domain::rng::Rng;

const CHANNELS: &[&str] = &[
    "direct",
    "organic_search",
    "paid_search",
    "paid_social",
    "email",
    "referral",
    "display",
    "affiliates",
];
/// Share of journeys starting in each channel.
const FIRST: &[f64] = &[0.25, 0.2, 0.15, 0.12, 0.08, 0.08, 0.07, 0.05];
/// Per-channel lift on conversion when present in the journey.
const LIFT: &[f64] = &[0.03, 0.04, 0.07, 0.03, 0.08, 0.02, 0.01, 0.05];

/// A path file at `out` (its folder made when missing), with the header written.
fn create(out: &Path) -> anyhow::Result<std::io::BufWriter<std::fs::File>> {
    if let Some(dir) = out.parent().filter(|d| !d.as_os_str().is_empty()) {
        std::fs::create_dir_all(dir).with_context(|| format!("cannot create {}", dir.display()))?;
    }
    let file =
        std::fs::File::create(out).with_context(|| format!("cannot create {}", out.display()))?;
    let mut w = std::io::BufWriter::with_capacity(1 << 20, file);
    w.write_all(b"path,total_conversions,total_conversion_value,total_null\n")?;
    Ok(w)
}

/// Writes `rows` journeys, one per line: path, total_conversions (0/1), value, total_null.
pub fn write_paths(out: &Path, rows: u64, seed: u64) -> anyhow::Result<u64> {
    let mut w = create(out)?;
    let mut line = String::with_capacity(256);
    let mut bytes = 0u64;
    for i in 0..rows {
        let mut rng = Rng::for_item(seed, i);
        line.clear();
        let len = 1 + (rng.exp(1.6) as usize).min(11);
        let mut c = rng.weighted(FIRST);
        let mut miss = 1.0;
        let mut seen = [false; 8];
        for step in 0..len {
            if step > 0 {
                line.push_str(" > ");
                // Stay in the channel a third of the time, else move by the start weights.
                if !rng.chance(0.33) {
                    c = rng.weighted(FIRST);
                }
            }
            line.push_str(CHANNELS[c]);
            if !seen[c] {
                seen[c] = true;
                miss *= 1.0 - LIFT[c];
            }
        }
        let converted = rng.chance(1.0 - miss);
        if converted {
            let cents = 2_000 + rng.below(30_000);
            let _ = writeln!(line, ",1,{}.{:02},0", cents / 100, cents % 100);
        } else {
            line.push_str(",0,0,1\n");
        }
        w.write_all(line.as_bytes())?;
        bytes += line.len() as u64;
    }
    w.flush()?;
    Ok(bytes)
}

/// Channels of the distinct-path shape.
const DISTINCT_CHANNELS: [&str; 10] = [
    "direct",
    "organic_search",
    "paid_search",
    "paid_social",
    "email",
    "referral",
    "display",
    "affiliates",
    "video",
    "push",
];

/// Longest distinct path.
const DISTINCT_MAX_LEN: u32 = 8;

/// Writes `rows` distinct paths of 1–8 steps over 10 channels, each once with its counts, as
/// a warehouse exports journeys already aggregated (ChannelAttribution's own input shape).
/// Row i is path number `(i · m) mod N` of the N possible, for an `m` prime to N: every row
/// differs, and the paths spread over the whole space.
pub fn write_distinct_paths(out: &Path, rows: u64, seed: u64) -> anyhow::Result<u64> {
    let k = DISTINCT_CHANNELS.len() as u64;
    let space: u64 = (1..=DISTINCT_MAX_LEN).map(|l| k.pow(l)).sum();
    anyhow::ensure!(
        rows <= space,
        "at most {space} distinct paths of 1 to {DISTINCT_MAX_LEN} steps exist"
    );
    // A prime that does not divide the size of the space keeps i ↦ i·m mod N a bijection.
    let m: u64 = 1_000_003;
    debug_assert!(!space.is_multiple_of(m));
    let mut w = create(out)?;
    let mut line = String::with_capacity(256);
    let mut bytes = 0u64;
    let offset = seed.wrapping_mul(0x9E37_79B9) % space;
    for i in 0..rows {
        let mut n = ((i as u128 * m as u128 + offset as u128) % space as u128) as u64;
        // Path number n: the lengths' blocks in order, then base-10 digits.
        let mut len = 1;
        while n >= k.pow(len) {
            n -= k.pow(len);
            len += 1;
        }
        line.clear();
        for step in 0..len {
            if step > 0 {
                line.push_str(" > ");
            }
            let digit = (n / k.pow(len - 1 - step)) % k;
            line.push_str(DISTINCT_CHANNELS[digit as usize]);
        }
        let mut rng = Rng::for_item(seed, i);
        let conversions = rng.below(4);
        let nulls = rng.below(12) + u64::from(conversions == 0);
        let cents = conversions * (2_000 + rng.below(30_000));
        let _ = writeln!(
            line,
            ",{conversions},{}.{:02},{nulls}",
            cents / 100,
            cents % 100
        );
        w.write_all(line.as_bytes())?;
        bytes += line.len() as u64;
    }
    w.flush()?;
    Ok(bytes)
}

#[cfg(test)]
mod tests {
    #[test]
    fn distinct_paths_are_distinct() {
        let dir = tempfile::tempdir().unwrap();
        let out = dir.path().join("d.csv");
        super::write_distinct_paths(&out, 20_000, 3).unwrap();
        let text = std::fs::read_to_string(&out).unwrap();
        let paths: std::collections::HashSet<&str> = text
            .lines()
            .skip(1)
            .map(|l| l.split(',').next().unwrap())
            .collect();
        assert_eq!(paths.len(), 20_000);
        assert!(paths
            .iter()
            .all(|p| (1..=8).contains(&p.split(" > ").count())));
    }
}
