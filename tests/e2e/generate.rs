//! `generate` never overwrites the bundled sample by accident, and honours its exclusive end.

use crate::support::{run_bin, sample_ads, sample_events};

#[test]
fn the_bundled_sample_is_kept_unless_forced() {
    let dir = tempfile::tempdir().unwrap();
    let sample = dir.path().join("data/sample");
    std::fs::create_dir_all(&sample).unwrap();
    std::fs::copy(sample_events(), sample.join("events.ndjson.gz")).unwrap();
    std::fs::copy(sample_ads(), sample.join("ad_metrics.ndjson")).unwrap();
    let before = std::fs::read(sample.join("events.ndjson.gz")).unwrap();
    // No --out: a new file in the working directory.
    let (code, out, err) = run_bin(dir.path(), &["generate", "--persons", "20"], &[]);
    assert_eq!(code, 0, "{out}{err}");
    assert!(dir.path().join("events.ndjson.gz").is_file());
    assert!(dir.path().join("ad_metrics.ndjson").is_file());
    assert_eq!(
        std::fs::read(sample.join("events.ndjson.gz")).unwrap(),
        before
    );
    // Naming the sample: refused, then allowed with --force.
    let args = [
        "generate",
        "--persons",
        "20",
        "--out",
        "data/sample/events.ndjson.gz",
    ];
    let (code, _, err) = run_bin(dir.path(), &args, &[]);
    assert_eq!(code, 2);
    assert!(
        err.contains("refusing to overwrite the bundled sample") && err.contains("--force"),
        "{err}"
    );
    assert_eq!(
        std::fs::read(sample.join("events.ndjson.gz")).unwrap(),
        before
    );
    let mut forced = args.to_vec();
    forced.push("--force");
    let (code, _, err) = run_bin(dir.path(), &forced, &[]);
    assert_eq!(code, 0, "{err}");
    assert_ne!(
        std::fs::read(sample.join("events.ndjson.gz")).unwrap(),
        before
    );
}

#[test]
fn no_event_is_written_at_or_after_the_exclusive_end() {
    let dir = tempfile::tempdir().unwrap();
    let (code, _, err) = run_bin(
        dir.path(),
        &[
            "generate",
            "--persons",
            "3000",
            "--days",
            "1",
            "--end",
            "2026-11-01",
            "--out",
            "e.ndjson",
            "--no-ads",
        ],
        &[],
    );
    assert_eq!(code, 0, "{err}");
    let text = std::fs::read_to_string(dir.path().join("e.ndjson")).unwrap();
    let mut latest = String::new();
    for line in text.lines() {
        let v: serde_json::Value = serde_json::from_str(line).unwrap();
        let ts = v["timestamp"].as_str().unwrap().to_string();
        latest = latest.max(ts);
    }
    assert!(latest.as_str() < "2026-11-01", "latest event {latest}");
    assert!(
        latest.as_str() > "2026-10-31T20",
        "the day is covered: {latest}"
    );
}
