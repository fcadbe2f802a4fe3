//! `channel_credit`: every run's per-model channel shares with bootstrap intervals, and the
//! drift warnings a data-driven share gives when the next run's mix moves.

use std::collections::BTreeMap;
use std::io::Write;

use serde_json::Value;

use crate::support::events::*;
use crate::support::{read_table, run_bin, sample_events};

#[test]
fn channel_credit_sums_the_runs_credits_with_intervals_around_each_share() {
    let dir = tempfile::tempdir().unwrap();
    let events = sample_events();
    let env = [
        ("ATTRSYNC__SOURCE__PATH", events.as_str()),
        ("ATTRSYNC__ADS__FILE__ENABLED", "false"),
    ];
    let (code, out, err) = run_bin(dir.path(), &["run", "--once"], &env);
    assert_eq!(code, 0, "{out}{err}");
    let sink = dir.path().join("out");
    let mut credited: BTreeMap<(String, String), f64> = BTreeMap::new();
    for r in read_table(&sink, "attribution_credits") {
        *credited
            .entry((
                r["model"].as_str().unwrap().into(),
                r["channel"].as_str().unwrap().into(),
            ))
            .or_default() += r["credit"].as_f64().unwrap();
    }
    let conversions = read_table(&sink, "conversions").len() as f64;
    let rows = read_table(&sink, "channel_credit");
    assert_eq!(rows.len(), credited.len(), "one row per model and channel");
    let mut share_sum: BTreeMap<String, f64> = BTreeMap::new();
    for r in &rows {
        let key = (
            r["model"].as_str().unwrap().to_string(),
            r["channel"].as_str().unwrap().to_string(),
        );
        let conv = r["conversions"].as_f64().unwrap();
        assert!((conv - credited[&key]).abs() < 1e-6, "{key:?}");
        let (s, lo, hi) = (
            r["share"].as_f64().unwrap(),
            r["share_low"].as_f64().unwrap(),
            r["share_high"].as_f64().unwrap(),
        );
        assert!(
            (s - conv / conversions).abs() < 1e-9,
            "{key:?}: share of the run's conversions"
        );
        assert!(lo < s && s < hi, "{key:?}: {lo} {s} {hi}");
        assert!(
            hi - lo < 0.15,
            "{key:?}: 1,109 conversions give tight intervals"
        );
        let j = r["journeys"].as_f64().unwrap();
        assert!(j >= conv - 1e-9 && j <= conversions, "{key:?}: {j}");
        *share_sum.entry(key.0).or_default() += s;
    }
    assert_eq!(share_sum.len(), 8, "every model");
    assert!(
        share_sum.values().all(|s| (s - 1.0).abs() < 1e-9),
        "{share_sum:?}"
    );
    // The table's checksum is recorded and verify re-checks it.
    let (code, out, err) = run_bin(dir.path(), &["verify", "--run", "1"], &env);
    assert_eq!(code, 0, "{out}{err}");
    assert!(out.contains("channel_credit"), "{out}");
    // Without resamples the interval is the point.
    let dir = tempfile::tempdir().unwrap();
    let mut off = env.to_vec();
    off.push(("ATTRSYNC__ATTRIBUTION__BOOTSTRAP_SAMPLES", "0"));
    let (code, _, err) = run_bin(dir.path(), &["run", "--once"], &off);
    assert_eq!(code, 0, "{err}");
    for r in read_table(&dir.path().join("out"), "channel_credit") {
        assert_eq!(r["share_low"], r["share"]);
        assert_eq!(r["share_high"], r["share"]);
    }
}

/// `persons` single-touch journeys from day `day` on: person i lands from `channel(i)` and
/// four in five buy.
fn journeys(first_id: u32, day: i64, persons: u32, channel: impl Fn(u32) -> Value) -> Vec<String> {
    let mut out = Vec::new();
    for i in 0..persons {
        let n = first_id + 3 * i;
        let who = format!("p{n}");
        let session = format!("s{n}");
        let t = at(day + (i % 5) as i64, 9);
        out.push(pageview(n, &who, &t, &session, channel(i)));
        if i % 5 != 4 {
            out.push(purchase(
                n + 1,
                &who,
                &at(day + (i % 5) as i64, 10),
                &session,
                "10.00",
                "USD",
            ));
        }
    }
    out
}

fn even(i: u32) -> Value {
    match i % 4 {
        0 => google_cpc("brand"),
        1 => email(),
        2 => direct(),
        _ => referrer("https://news.example.org/"),
    }
}

fn mostly_email(i: u32) -> Value {
    if i.is_multiple_of(10) {
        google_cpc("brand")
    } else {
        email()
    }
}

fn append(path: &std::path::Path, lines: &[String]) {
    let mut f = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(path)
        .unwrap();
    for l in lines {
        writeln!(f, "{l}").unwrap();
    }
}

/// Runs `run --once` and returns the newest events run's quality notes.
fn notes_after_run(dir: &std::path::Path, env: &[(&str, &str)]) -> Vec<String> {
    let (code, out, err) = run_bin(dir, &["run", "--once"], env);
    assert_eq!(code, 0, "{out}{err}");
    let (_, json, _) = run_bin(dir, &["status", "--json", "--limit", "1"], env);
    let run: Value = serde_json::from_str(json.lines().next().unwrap()).unwrap();
    run["quality"]["notes"]
        .as_array()
        .map(|a| a.iter().map(|n| n.as_str().unwrap().to_string()).collect())
        .unwrap_or_default()
}

#[test]
fn a_moved_mix_warns_and_the_same_mix_again_does_not() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("events.ndjson");
    let path = file.display().to_string();
    let env = [
        ("ATTRSYNC__SOURCE__PATH", path.as_str()),
        ("ATTRSYNC__ADS__FILE__ENABLED", "false"),
        ("ATTRSYNC__ATTRIBUTION__MODELS", "last_touch,markov,shapley"),
    ];
    append(&file, &journeys(1_000, 1, 500, even));
    let first = notes_after_run(dir.path(), &env);
    assert!(first.iter().all(|n| !n.contains("moved from")), "{first:?}");

    // The same mix from other people: nothing moved.
    append(&file, &journeys(10_000, 8, 500, even));
    let same = notes_after_run(dir.path(), &env);
    assert!(same.iter().all(|n| !n.contains("moved from")), "{same:?}");

    // Nine in ten now arrive by email: email's share leaves its interval.
    append(&file, &journeys(20_000, 15, 500, mostly_email));
    let moved = notes_after_run(dir.path(), &env);
    for model in ["markov", "shapley"] {
        assert!(
            moved
                .iter()
                .any(|n| n.starts_with(&format!("{model}: email moved from 25.0%"))),
            "{model}: {moved:?}"
        );
    }
    assert!(
        moved
            .iter()
            .any(|n| n.starts_with("markov: direct moved from 25.0%") && n.contains("to 0.0%")),
        "a channel that vanished: {moved:?}"
    );
    assert!(
        moved.iter().all(|n| !n.starts_with("last_touch")),
        "only data-driven models are checked: {moved:?}"
    );
}

#[test]
fn a_thin_channel_is_flagged() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("events.ndjson");
    let path = file.display().to_string();
    // Eight conversions in all: every interval is wide.
    append(&file, &journeys(1_000, 1, 10, even));
    let env = [
        ("ATTRSYNC__SOURCE__PATH", path.as_str()),
        ("ATTRSYNC__ADS__FILE__ENABLED", "false"),
        ("ATTRSYNC__ATTRIBUTION__MODELS", "markov"),
    ];
    let notes = notes_after_run(dir.path(), &env);
    assert!(
        notes
            .iter()
            .any(|n| n.starts_with("markov: too thin to act on") && n.contains("email")),
        "{notes:?}"
    );
}
