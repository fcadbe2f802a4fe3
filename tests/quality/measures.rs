use serde_json::{json, Value};

use crate::support::events::*;
use crate::support::{read_table, run_bin};

fn line(v: Value) -> String {
    v.to_string()
}

/// Five persons with known identities, channels and conversions, plus known bad input.
fn fixture() -> Vec<String> {
    let masked = json!({"gclid": "<masked>"});
    let weird = json!({"utm_source": "partner", "utm_medium": "weird"});
    let mut v = vec![
        pageview(1, "a-anon", &at(1, 1), "sA1", google_cpc("brand")),
        identify(2, "a", "a-anon", &at(1, 2)),
        pageview(3, "a", &at(1, 3), "sA2", email()),
        purchase(4, "a", &at(1, 4), "sA2", "10.00", "USD"),
        pageview(5, "b-anon", &at(1, 1), "sB1", direct()),
        identify(6, "b", "b-anon", &at(1, 2)),
        purchase(7, "b", &at(1, 5), "sB1", "20.00", "USD"),
        pageview(8, "c", &at(1, 1), "sC1", weird),
        purchase(9, "c", &at(1, 2), "sC1", "30.00", "USD"),
        pageview(10, "d", &at(1, 1), "sD1", masked),
        pageview(11, "e", &at(1, 1), "sE1", direct()),
        purchase(12, "e", &at(1, 2), "sE1", "40.00", "USD"),
    ];
    // Re-sent events (the same uuid twice).
    v.push(v[9].clone());
    v.push(v[3].clone());
    v.push(v[7].clone());
    // Malformed lines.
    v.push("{\"uuid\": \"nope".into());
    v.push(line(json!({"uuid": uuid(99), "event": "$pageview", "timestamp": "yesterday", "distinct_id": "x"})));
    // No person key.
    v.push(line(json!({"uuid": uuid(50), "event": "$pageview", "timestamp": at(1, 1), "distinct_id": "", "properties": {}})));
    v.push(line(json!({"uuid": uuid(51), "event": "purchase", "timestamp": at(1, 1), "properties": {"revenue": 5}})));
    v
}

fn close(a: f64, b: f64) -> bool {
    (a - b).abs() < 1e-9
}

#[test]
fn a_fixture_with_known_flaws_records_exactly_the_expected_counts_and_shares() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("events.ndjson"), fixture().join("\n")).unwrap();
    let env = [
        ("ATTRSYNC__SOURCE__PATH", "events.ndjson"),
        ("ATTRSYNC__ADS__FILE__ENABLED", "false"),
        ("ATTRSYNC__QUALITY__ON_LOW_SCORE", "warn"),
    ];
    let (code, out, err) = run_bin(dir.path(), &["run", "--once"], &env);
    assert_eq!(code, 0, "{out}{err}");
    let (_, json, _) = run_bin(dir.path(), &["status", "--json"], &env);
    let run: Value = serde_json::from_str(json.lines().next().unwrap()).unwrap();
    let q = &run["quality"];
    let r = &q["reconciliation"];
    assert_eq!(
        (r["events_read"].as_u64(), r["events_used"].as_u64()),
        (Some(19), Some(12)),
        "{q:#}"
    );
    assert_eq!(
        r["skipped"],
        json!({"malformed": 2, "duplicate": 3, "no_person_key": 2, "bad_conversion_value": 0, "outside_window": 0, "future": 0})
    );
    assert_eq!(r["balanced"], true);
    // Duplicates lose nothing: their first copies were used.
    assert!(close(r["score"].as_f64().unwrap(), 12.0 / 16.0));
    let i = &q["identity"];
    assert!(
        close(i["events_with_person_key"].as_f64().unwrap(), 15.0 / 17.0),
        "{i}"
    );
    assert!(
        close(
            i["conversions_with_person_key"].as_f64().unwrap(),
            4.0 / 5.0
        ),
        "{i}"
    );
    assert!(
        close(i["journeys_joined"].as_f64().unwrap(), 2.0 / 5.0),
        "{i}"
    );
    assert_eq!(i["persons"], 5);
    let c = &q["coverage"];
    assert!(
        close(
            c["conversions_with_non_direct_touch"].as_f64().unwrap(),
            2.0 / 4.0
        ),
        "{c}"
    );
    assert!(
        close(c["touchpoints_assigned"].as_f64().unwrap(), 5.0 / 6.0),
        "{c}"
    );
    assert_eq!(c["masked_click_ids"], 1);
    let want =
        0.6 * (12.0 / 16.0) + 0.2 * ((15.0 / 17.0 + 0.8) / 2.0) + 0.2 * ((0.5 + 5.0 / 6.0) / 2.0);
    assert!(close(q["score"].as_f64().unwrap(), want), "{}", q["score"]);
    assert_eq!(q["verdict"], "warn");
    let warnings = q["warnings"].as_array().unwrap();
    assert!(
        warnings.iter().any(|w| w
            .as_str()
            .unwrap()
            .contains("75.0% of the events read were usable")),
        "{warnings:?}"
    );
    // Checksums of what was written.
    assert_eq!(q["checksums"]["conversions"]["count"], 4);
    assert_eq!(q["checksums"]["touchpoints"]["count"], 6);
    assert_eq!(read_table(&dir.path().join("out"), "conversions").len(), 4);
    // The status table shows the score and the main shares, and the warnings.
    let (_, table, _) = run_bin(dir.path(), &["status"], &env);
    let row = table.lines().nth(1).unwrap();
    assert!(
        row.contains(&format!("{want:.3}")) && row.contains("88%") && row.contains("50%"),
        "{table}"
    );
    assert!(row.contains("usable"), "{table}");
    // The summary names the score too.
    assert!(out.contains("quality") && out.contains("warn"), "{out}");
}

#[test]
fn below_the_threshold_the_run_fails_before_loading_anything() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("events.ndjson"), fixture().join("\n")).unwrap();
    let env = [
        ("ATTRSYNC__SOURCE__PATH", "events.ndjson"),
        ("ATTRSYNC__ADS__FILE__ENABLED", "false"),
    ];
    let (code, _, err) = run_bin(dir.path(), &["run", "--once"], &env);
    assert_eq!(code, 1);
    assert!(
        err.contains("data quality check failed") && err.contains("quality.threshold"),
        "{err}"
    );
    assert!(
        read_table(&dir.path().join("out"), "conversions").is_empty(),
        "nothing loaded"
    );
    let (_, json, _) = run_bin(dir.path(), &["status", "--json"], &env);
    let run: Value = serde_json::from_str(json.lines().next().unwrap()).unwrap();
    assert_eq!(run["status"], "failed");
    assert_eq!(run["quality"]["verdict"], "fail");
    // Lowering the threshold lets the same data through.
    let env = [
        ("ATTRSYNC__SOURCE__PATH", "events.ndjson"),
        ("ATTRSYNC__ADS__FILE__ENABLED", "false"),
        ("ATTRSYNC__QUALITY__THRESHOLD", "0.5"),
    ];
    let (code, out, err) = run_bin(dir.path(), &["run", "--once"], &env);
    assert_eq!(code, 0, "{out}{err}");
}

#[test]
fn stitching_by_a_property_joins_ids_and_is_counted() {
    let dir = tempfile::tempdir().unwrap();
    let events = [
        line(
            json!({"uuid": uuid(1), "event": "$pageview", "distinct_id": "mobile-1", "timestamp": at(1, 1),
            "properties": {"$session_id": "m", "utm_source": "newsletter", "utm_medium": "email", "$set": {"email": "x@y.z"}}}),
        ),
        line(
            json!({"uuid": uuid(2), "event": "purchase", "distinct_id": "web-1", "timestamp": at(1, 2),
            "properties": {"$session_id": "w", "revenue": 3, "email": "x@y.z"}}),
        ),
    ];
    std::fs::write(dir.path().join("events.ndjson"), events.join("\n")).unwrap();
    let env = [
        ("ATTRSYNC__SOURCE__PATH", "events.ndjson"),
        ("ATTRSYNC__ADS__FILE__ENABLED", "false"),
        ("ATTRSYNC__IDENTITY__STITCH_PROPERTY", "email"),
    ];
    let (code, out, err) = run_bin(dir.path(), &["run", "--once"], &env);
    assert_eq!(code, 0, "{out}{err}");
    let (_, json, _) = run_bin(dir.path(), &["status", "--json"], &env);
    let run: Value = serde_json::from_str(json.lines().next().unwrap()).unwrap();
    assert_eq!(run["quality"]["identity"]["joined_by_stitching"], 1);
    assert_eq!(run["quality"]["identity"]["persons"], 1);
    let credits = read_table(&dir.path().join("out"), "attribution_credits");
    let ft = credits
        .iter()
        .find(|c| c["model"] == "first_touch")
        .unwrap();
    assert_eq!(
        ft["channel"], "email",
        "the mobile touch joined the web purchase"
    );
}
