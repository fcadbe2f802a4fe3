use std::collections::{HashMap, HashSet};

use crate::support::sample_ads;
use crate::support::sample_events as sample;
use crate::support::{read_table, run_bin};

#[test]
fn run_once_twice_writes_each_row_once_and_status_lists_both() {
    let dir = tempfile::tempdir().unwrap();
    let (sample, ads) = (sample(), sample_ads());
    let env = [
        ("ATTRSYNC__SOURCE__PATH", sample.as_str()),
        ("ATTRSYNC__ADS__FILE__PATH", ads.as_str()),
    ];
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

    // The ad metrics file is written once; an unchanged file is not written again.
    let ads = read_table(&dir.path().join("out"), "ad_metrics");
    assert_eq!(ads.len(), 600, "60 days × 10 campaigns");
    assert!(
        out.contains("ad metric rows") && out.contains("spend matched"),
        "{out}"
    );

    let (code, status, _) = run_bin(dir.path(), &["status"], &[]);
    assert_eq!(code, 0);
    let lines: Vec<&str> = status.lines().filter(|l| l.contains("succeeded")).collect();
    assert_eq!(lines.len(), 4, "events and ads:file, twice:\n{status}");
    // The columns line up under their headings (typed values are padded like text).
    let header = status.lines().next().unwrap();
    for (heading, value) in [("status", "succeeded"), ("trigger", "manual")] {
        let at = header.find(heading).unwrap();
        assert!(
            lines.iter().all(|l| l.find(value) == Some(at)),
            "{heading} column misaligned:\n{status}"
        );
    }
    let (_, json, _) = run_bin(dir.path(), &["status", "--json", "--limit", "2"], &[]);
    let runs: Vec<serde_json::Value> = json
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert!(runs.iter().all(|r| r["status"] == "succeeded"));
    let events = runs.iter().find(|r| r["job"] != "ads:file").unwrap();
    assert_eq!(events["rows_written"], 0);
    let ads = runs.iter().find(|r| r["job"] == "ads:file").unwrap();
    assert_eq!(ads["ad_metric_rows"], 0);
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
    let runs: Vec<serde_json::Value> = json
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    let run = runs.iter().find(|r| r["job"] != "ads:file").unwrap();
    assert_eq!(run["status"], "failed");
    let ads = runs.iter().find(|r| r["job"] == "ads:file").unwrap();
    assert_eq!(
        ads["status"], "succeeded",
        "one job failing does not stop the others"
    );
    assert!(run["error"]
        .as_str()
        .unwrap()
        .contains("cannot open event file nope.ndjson"));
}

#[test]
fn campaign_performance_joins_spend_with_credits_per_model() {
    let dir = tempfile::tempdir().unwrap();
    let (sample, ads) = (sample(), sample_ads());
    let env = [
        ("ATTRSYNC__SOURCE__PATH", sample.as_str()),
        ("ATTRSYNC__ADS__FILE__PATH", ads.as_str()),
    ];
    let (code, out, err) = run_bin(dir.path(), &["run", "--once"], &env);
    assert_eq!(code, 0, "{out}\n{err}");
    assert!(out.contains("campaign_performance.ndjson"), "{out}");
    let text = std::fs::read_to_string(dir.path().join("out/campaign_performance.ndjson")).unwrap();
    let rows: Vec<serde_json::Value> = text
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    let out_dir = dir.path().join("out");
    let credits = read_table(&out_dir, "attribution_credits");
    let spend_total: i64 = read_table(&out_dir, "ad_metrics")
        .iter()
        .map(|r| r["spend_micros"].as_i64().unwrap())
        .sum();
    let models: HashSet<&str> = credits
        .iter()
        .map(|c| c["model"].as_str().unwrap())
        .collect();
    assert_eq!(models.len(), 8);
    for m in &models {
        let of: Vec<&serde_json::Value> = rows.iter().filter(|r| r["model"] == *m).collect();
        // All the spend, once per model.
        let spend: i64 = of.iter().map(|r| r["spend_micros"].as_i64().unwrap()).sum();
        assert_eq!(spend, spend_total, "{m}");
        // Every credit given to a paid platform's touchpoint lands on a campaign row.
        let attributed: f64 = of
            .iter()
            .map(|r| r["attributed_conversions"].as_f64().unwrap())
            .sum();
        let credited: f64 = credits
            .iter()
            .filter(|c| c["model"] == *m && !c["platform"].is_null())
            .map(|c| c["credit"].as_f64().unwrap())
            .sum();
        assert!(
            (attributed - credited).abs() < 1e-6,
            "{m}: {attributed} vs {credited}"
        );
    }
    let both = rows
        .iter()
        .filter(|r| {
            r["spend_micros"].as_i64().unwrap() > 0
                && r["attributed_conversions"].as_f64().unwrap() > 0.0
        })
        .count();
    assert!(both > 50, "spend and credits meet on campaign days: {both}");
    let r = rows.iter().find(|r| r["cpa_micros"].is_number()).unwrap();
    let cpa = r["spend_micros"].as_f64().unwrap() / r["attributed_conversions"].as_f64().unwrap();
    assert!((r["cpa_micros"].as_f64().unwrap() - cpa).abs() < 1e-6);
}

#[test]
fn the_readme_names_the_default_models() {
    let readme =
        std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/README.md")).unwrap();
    let row = readme
        .lines()
        .find(|l| l.starts_with("| `attribution.models` |"))
        .expect("the README documents attribution.models");
    let default = crate::support::settings(&[]).attribution.models;
    let default_cell = row.split('|').nth(2).unwrap();
    for m in &default {
        let named = default_cell.contains(m.as_str())
            || (default_cell.contains("six rule-based")
                && !matches!(m.as_str(), "markov" | "shapley"));
        assert!(
            named,
            "{m} is enabled by default but the README says: {default_cell}"
        );
    }
    assert!(
        !default_cell.trim().starts_with("the six"),
        "{default_cell}"
    );
}
