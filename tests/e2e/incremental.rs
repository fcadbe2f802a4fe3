use std::collections::HashSet;
use std::io::Write;

use crate::support::events::*;
use crate::support::{read_table, run_bin};

#[test]
fn bad_lines_are_counted_and_skipped_and_the_run_succeeds() {
    let dir = tempfile::tempdir().unwrap();
    let lines = [
        pageview(1, "a", &at(1, 0), "s1", google_cpc("x")),
        "{\"uuid\": broken".to_string(),
        purchase(2, "a", &at(1, 1), "s1", "12.50", "USD"),
        r#"{"uuid":"00000000-0000-7000-8000-000000000009","event":"purchase","distinct_id":"a","timestamp":"2024-06-01T03:00:00Z","properties":{"revenue":"lots"}}"#.to_string(),
        "[]".to_string(),
    ];
    // 95 good pageviews keep the bad share (3 of 100) under quality.threshold (5%).
    let mut all = lines.to_vec();
    all.extend((0..95).map(|i| pageview(100 + i, "b", &at(2, 0), "s2", direct())));
    std::fs::write(dir.path().join("events.ndjson"), all.join("\n")).unwrap();
    let (code, out, err) = run_bin(
        dir.path(),
        &["run", "--once"],
        &[("ATTRSYNC__SOURCE__PATH", "events.ndjson")],
    );
    assert_eq!(code, 0, "{out}\n{err}");
    assert!(out.contains("events skipped              3"), "{out}");
    assert!(
        out.contains("malformed 2") && out.contains("bad_conversion_value 1"),
        "{out}"
    );
    // Each skipped line is logged with its line number.
    for n in ["line=2", "line=4", "line=5"] {
        assert!(err.contains(n), "log lacks {n}: {err}");
    }
    assert_eq!(read_table(&dir.path().join("out"), "conversions").len(), 1);
}

#[test]
fn appended_events_are_read_once_and_credited_with_earlier_touches() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("events.ndjson");
    let first = [
        pageview(1, "anon", &at(1, 0), "s1", google_cpc("brand")),
        purchase(2, "anon", &at(1, 1), "s1", "10", "USD"),
    ];
    std::fs::write(&path, first.join("\n") + "\n").unwrap();
    // Events only: run ids below are the events runs'.
    let env = [
        ("ATTRSYNC__SOURCE__PATH", "events.ndjson"),
        ("ATTRSYNC__ADS__FILE__ENABLED", "false"),
    ];
    let (code, out, err) = run_bin(dir.path(), &["run", "--once"], &env);
    assert_eq!(code, 0, "{out}{err}");
    let later = [
        pageview(3, "anon", &at(5, 0), "s2", email()),
        identify(4, "u1", "anon", &at(5, 1)),
        purchase(5, "u1", &at(5, 2), "s2", "20", "USD"),
    ];
    std::fs::OpenOptions::new()
        .append(true)
        .open(&path)
        .unwrap()
        .write_all((later.join("\n") + "\n").as_bytes())
        .unwrap();
    let (code, out, err) = run_bin(dir.path(), &["run", "--once"], &env);
    assert_eq!(code, 0, "{out}{err}");
    let out_dir = dir.path().join("out");
    let conversions = read_table(&out_dir, "conversions");
    assert_eq!(conversions.len(), 2);
    let touches = read_table(&out_dir, "touchpoints");
    assert_eq!(touches.len(), 2);
    let keys: HashSet<&str> = touches
        .iter()
        .map(|t| t["row_key"].as_str().unwrap())
        .collect();
    assert_eq!(keys.len(), 2);
    // The second purchase (after identify) is credited first-touch to the google touch of run 1.
    let credits = read_table(&out_dir, "attribution_credits");
    let ft = credits
        .iter()
        .find(|c| {
            c["conversion_id"] == uuid(5) && c["model"] == "first_touch" && c["credit"] == 1.0
        })
        .unwrap();
    assert_eq!(ft["touchpoint_id"], uuid(1));
    assert_eq!(ft["channel"], "paid_search");
    assert_eq!(ft["run_id"], 2);
    assert_eq!(ft["person_key"], "u1");
}
