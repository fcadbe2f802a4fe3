//! In-process timings of the attribution engine on generated path files (no peers; see
//! `scripts/bench models` for the comparison with ChannelAttribution).
//! Run: `cargo bench --bench models`.

use std::time::Instant;

use attrsync::engine::models::markov::{self, StepLimit};
use attrsync::engine::models::shapley::{self, PathTransform};
use attrsync::offline::pathfile::{read_bytes, PathColumns};

fn main() {
    let dir = tempfile::tempdir().expect("temp dir");
    for rows in [100_000u64, 1_000_000] {
        let file = dir.path().join(format!("paths-{rows}.csv"));
        attrsync::generate::write_paths(&file, rows, 5).expect("paths written");
        let bytes = std::fs::read(&file).expect("read back");
        let t = Instant::now();
        let (set, bad, n) = read_bytes(&bytes, &PathColumns::default()).expect("parsed");
        let parse = t.elapsed();
        assert!(bad.is_empty() && n == rows);
        let mut line = format!(
            "{rows:>9} rows ({} distinct): parse {:>7.1} ms",
            set.paths.len(),
            parse.as_secs_f64() * 1e3
        );
        for order in [1, 2, 3] {
            let t = Instant::now();
            let fit = markov::fit(&set, order, StepLimit::Exact);
            line += &format!(
                ", markov{order} {:>6.1} ms ({} states)",
                t.elapsed().as_secs_f64() * 1e3,
                fit.states
            );
        }
        let t = Instant::now();
        let _ = shapley::fit(&set, PathTransform::Exposure);
        line += &format!(", shapley {:>6.1} ms", t.elapsed().as_secs_f64() * 1e3);
        println!("{line}");
    }
}
