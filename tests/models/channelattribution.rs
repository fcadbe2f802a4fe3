use std::collections::HashMap;
use std::path::{Path, PathBuf};

use serde_json::Value;

use crate::support::run_bin;

/// The Python with ChannelAttribution: ATTRSYNC_TEST_PYTHON (set by scripts/test) or .venv.
fn python() -> PathBuf {
    std::env::var_os("ATTRSYNC_TEST_PYTHON")
        .map(PathBuf::from)
        .unwrap_or_else(|| Path::new(env!("CARGO_MANIFEST_DIR")).join(".venv/bin/python"))
}

fn peer(args: &[&str]) -> HashMap<String, Value> {
    let script =
        Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/peers/channelattribution_peer.py");
    let out = std::process::Command::new(python())
        .arg(script)
        .args(args)
        .output()
        .expect("python runs (scripts/test creates .venv with ChannelAttribution)");
    assert!(
        out.status.success(),
        "ChannelAttribution failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let stdout = String::from_utf8_lossy(&out.stdout);
    let line = stdout
        .lines()
        .rev()
        .find_map(|l| l.strip_prefix("RESULT "))
        .expect("peer prints a RESULT line");
    serde_json::from_str(line).expect("peer prints JSON")
}

/// attrsync attribute's CSV as channel → column → value.
fn ours(dir: &Path, args: &[&str]) -> HashMap<String, HashMap<String, f64>> {
    let (code, out, err) = run_bin(dir, args, &[]);
    assert_eq!(code, 0, "{err}");
    let mut lines = out.lines();
    let header: Vec<&str> = lines.next().unwrap().split(',').collect();
    lines
        .map(|l| {
            let f: Vec<&str> = l.split(',').collect();
            let cols = header[1..]
                .iter()
                .zip(&f[1..])
                .map(|(h, v)| (h.to_string(), v.parse().unwrap()))
                .collect();
            (f[0].to_string(), cols)
        })
        .collect()
}

fn paths_file(dir: &Path, rows: &str) -> String {
    let (code, _, err) = run_bin(
        dir,
        &[
            "generate",
            "--paths",
            rows,
            "--seed",
            "11",
            "--out",
            "paths.csv",
        ],
        &[],
    );
    assert_eq!(code, 0, "{err}");
    "paths.csv".into()
}

/// Exact results vs 1e8 simulated walks: within ±0.5 conversions and ±0.002 removal effect.
/// ChannelAttribution stops simulating once its estimate settles (conv_par 0.05), which leaves
/// about ±0.001 of noise on removal effects; 8,000 paths (~500 conversions) keep that under
/// half a conversion per channel. Both walk bounds are compared: unbounded (CA max_step
/// 10000) with attrsync's exact solve, and CA's default bound with `--max-step auto`.
fn compare_markov(order: &str) {
    let dir = tempfile::tempdir().unwrap();
    let file = paths_file(dir.path(), "8000");
    let abs = dir.path().join(&file).display().to_string();
    for (ours_step, ca_step) in [("none", "10000"), ("auto", "none")] {
        let mine = ours(
            dir.path(),
            &[
                "attribute",
                "--paths",
                &file,
                "--model",
                "markov",
                "--order",
                order,
                "--max-step",
                ours_step,
            ],
        );
        let theirs = peer(&["markov", &abs, order, "1e8", ca_step]);
        assert_eq!(mine.len(), theirs.len());
        for (ch, t) in &theirs {
            let m = &mine[ch];
            let (mc, tc) = (m["total_conversions"], t["conversions"].as_f64().unwrap());
            let (mr, tr) = (m["removal_effects_conversion"], t["re"].as_f64().unwrap());
            assert!(
                (mc - tc).abs() <= 0.5,
                "order {order} max_step {ca_step} {ch}: conversions {mc} vs {tc}"
            );
            assert!(
                (mr - tr).abs() <= 0.002,
                "order {order} max_step {ca_step} {ch}: removal effect {mr} vs {tr}"
            );
            let (mv, tv) = (
                m["removal_effects_conversion_value"],
                t["re_value"].as_f64().unwrap(),
            );
            assert!(
                (mv - tv).abs() <= 0.004,
                "order {order} {ch}: value removal effect {mv} vs {tv}"
            );
        }
    }
}

#[test]
fn markov_order_1_agrees_with_channelattribution() {
    compare_markov("1");
}

#[test]
fn markov_order_2_agrees_with_channelattribution() {
    compare_markov("2");
}

#[test]
fn heuristics_agree_with_channelattribution_to_1e6() {
    let dir = tempfile::tempdir().unwrap();
    let file = paths_file(dir.path(), "20000");
    let theirs = peer(&["heuristic", &dir.path().join(&file).display().to_string()]);
    for (model, col) in [
        ("first_touch", "first_touch"),
        ("last_touch", "last_touch"),
        ("linear", "linear_touch"),
    ] {
        let mine = ours(
            dir.path(),
            &["attribute", "--paths", &file, "--model", model],
        );
        for (ch, t) in &theirs {
            let (mc, tc) = (
                mine[ch]["total_conversions"],
                t[&format!("{col}_conversions")].as_f64().unwrap(),
            );
            let (mv, tv) = (
                mine[ch]["total_conversion_value"],
                t[&format!("{col}_value")].as_f64().unwrap(),
            );
            assert!((mc - tc).abs() <= 1e-6, "{model} {ch}: {mc} vs {tc}");
            assert!(
                (mv - tv).abs() <= 1e-6 * tv.abs().max(1.0),
                "{model} {ch}: value {mv} vs {tv}"
            );
        }
    }
}
