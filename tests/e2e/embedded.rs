use std::collections::{HashMap, HashSet};
use std::path::Path;

use crate::support::{read_table, run_bin};

fn sample() -> String {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("data/sample/events.ndjson.gz")
        .display()
        .to_string()
}

#[test]
fn run_once_twice_writes_each_row_once_and_status_lists_both() {
    let dir = tempfile::tempdir().unwrap();
    let sample = sample();
    let env = [("ATTRSYNC__SOURCE__PATH", sample.as_str())];
    let (code, out, err) = run_bin(dir.path(), &["run", "--once"], &env);
    assert_eq!(code, 0, "{out}\n{err}");
    for needle in [
        "events read",
        "events skipped",
        "conversions",
        "touchpoints",
        "credits",
        "first_touch",
        "rows written",
        "attribution_credits",
        "succeeded in",
    ] {
        assert!(out.contains(needle), "summary lacks {needle}:\n{out}");
    }
    let first: HashMap<&str, usize> = ["conversions", "touchpoints", "attribution_credits"]
        .into_iter()
        .map(|t| (t, read_table(&dir.path().join("out"), t).len()))
        .collect();
    assert!(first.values().all(|n| *n > 0), "{first:?}");

    let (code, out2, err) = run_bin(dir.path(), &["run", "--once"], &env);
    assert_eq!(code, 0, "{out2}\n{err}");
    for t in ["conversions", "touchpoints", "attribution_credits"] {
        let rows = read_table(&dir.path().join("out"), t);
        assert_eq!(rows.len(), first[t], "second run wrote more {t}");
        let keys: HashSet<&str> = rows
            .iter()
            .map(|r| r["row_key"].as_str().unwrap())
            .collect();
        assert_eq!(keys.len(), rows.len(), "duplicate row_key in {t}");
    }

    let (code, status, _) = run_bin(dir.path(), &["status"], &[]);
    assert_eq!(code, 0);
    let lines: Vec<&str> = status.lines().filter(|l| l.contains("succeeded")).collect();
    assert_eq!(lines.len(), 2, "{status}");
    let (_, json, _) = run_bin(dir.path(), &["status", "--json", "--limit", "1"], &[]);
    let last: serde_json::Value = serde_json::from_str(json.lines().next().unwrap()).unwrap();
    assert_eq!(last["status"], "succeeded");
    assert_eq!(last["rows_written"], 0);
}

#[test]
fn credits_sum_to_one_and_values_split_exactly() {
    let dir = tempfile::tempdir().unwrap();
    let sample = sample();
    let (code, out, err) = run_bin(
        dir.path(),
        &["run", "--once"],
        &[("ATTRSYNC__SOURCE__PATH", sample.as_str())],
    );
    assert_eq!(code, 0, "{out}\n{err}");
    let out_dir = dir.path().join("out");
    let conversions: HashMap<String, Option<i64>> = read_table(&out_dir, "conversions")
        .iter()
        .map(|r| {
            (
                r["conversion_id"].as_str().unwrap().to_string(),
                r["value_micros"].as_i64(),
            )
        })
        .collect();
    let mut sums: HashMap<(String, String), (f64, i64, usize)> = HashMap::new();
    for r in read_table(&out_dir, "attribution_credits") {
        let key = (
            r["conversion_id"].as_str().unwrap().to_string(),
            r["model"].as_str().unwrap().to_string(),
        );
        let e = sums.entry(key).or_default();
        e.0 += r["credit"].as_f64().unwrap();
        e.1 += r["credited_value_micros"].as_i64().unwrap_or(0);
        e.2 += 1;
    }
    let models = 8;
    assert_eq!(sums.len(), conversions.len() * models);
    for ((conv, model), (credit, value, _)) in &sums {
        assert!(
            (credit - 1.0).abs() <= 1e-9,
            "{conv} {model}: credits sum to {credit}"
        );
        assert_eq!(
            *value,
            conversions[conv].unwrap_or(0),
            "{conv} {model}: value split"
        );
    }
}

#[test]
fn malformed_config_stops_start_up_naming_the_key() {
    let dir = tempfile::tempdir().unwrap();
    let (code, _, err) = run_bin(
        dir.path(),
        &["run", "--once"],
        &[("ATTRSYNC__ATTRIBUTION__LOOKBACK_DAYS", "a month")],
    );
    assert_eq!(code, 2);
    assert!(err.contains("attribution.lookback_days"), "{err}");
    let (code, _, err) = run_bin(
        dir.path(),
        &["status"],
        &[("ATTRSYNC__SINK__KINDE", "local")],
    );
    assert_eq!(code, 2);
    assert!(
        err.contains("sink.kinde") && err.contains("unknown field"),
        "{err}"
    );
    std::fs::write(
        dir.path().join("bad.toml"),
        "[attribution]\nmodels = [\"linear\", \"magic\"]\n",
    )
    .unwrap();
    let (code, _, err) = run_bin(dir.path(), &["--config", "bad.toml", "check"], &[]);
    assert_eq!(code, 2);
    assert!(
        err.contains("attribution.models") && err.contains("position_based"),
        "{err}"
    );
}

#[test]
fn a_missing_source_fails_the_run_and_records_why() {
    let dir = tempfile::tempdir().unwrap();
    let (code, _, err) = run_bin(
        dir.path(),
        &["run", "--once"],
        &[("ATTRSYNC__SOURCE__PATH", "nope.ndjson")],
    );
    assert_eq!(code, 1, "{err}");
    assert!(err.contains("nope.ndjson"), "{err}");
    let (_, json, _) = run_bin(dir.path(), &["status", "--json"], &[]);
    let run: serde_json::Value = serde_json::from_str(json.lines().next().unwrap()).unwrap();
    assert_eq!(run["status"], "failed");
    assert!(run["error"]
        .as_str()
        .unwrap()
        .contains("cannot open event file nope.ndjson"));
}
