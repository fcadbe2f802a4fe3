//! Spend coverage of an ad run: the share of spend whose campaign some touchpoint named (by id
//! or by name), the unmatched campaigns, and platform-reported against attributed conversions.

use serde_json::{json, Value};

use crate::support::events::*;
use crate::support::run_bin;

fn ad(platform: &str, id: &str, name: &str, date: &str, spend: i64, conversions: f64) -> String {
    json!({"platform": platform, "account_id": "1", "campaign_id": id, "campaign_name": name, "date": date,
           "currency": "USD", "spend_micros": spend, "impressions": 10, "clicks": 2, "platform_conversions": conversions})
    .to_string()
}

#[test]
fn unmatched_spend_is_measured_listed_and_warned_about() {
    let dir = tempfile::tempdir().unwrap();
    let events = [
        pageview(1, "a", &at(1, 1), "sA", google_cpc("Brand")),
        purchase(2, "a", &at(1, 2), "sA", "10.00", "USD"),
        pageview(
            3,
            "b",
            &at(1, 1),
            "sB",
            json!({"utm_source": "facebook", "utm_medium": "paid_social", "utm_id": "333", "fbclid": "x"}),
        ),
        purchase(4, "b", &at(1, 3), "sB", "12.00", "USD"),
    ];
    std::fs::write(dir.path().join("events.ndjson"), events.join("\n") + "\n").unwrap();
    let day = &at(1, 0)[..10];
    let ads = [
        // Matched by name (case-insensitive): the touch's utm_campaign is "Brand".
        ad("google_ads", "111", "brand", day, 30_000_000, 3.0),
        // Nobody came from this one.
        ad("google_ads", "222", "prospecting", day, 70_000_000, 1.5),
        // Matched by id (utm_id).
        ad("meta", "333", "Lookalikes", day, 100_000_000, 4.0),
        ad("meta", "444", "Retargeting", day, 200_000_000, 0.0),
    ];
    std::fs::write(dir.path().join("ads.ndjson"), ads.join("\n") + "\n").unwrap();
    let env = [
        ("ATTRSYNC__SOURCE__PATH", "events.ndjson"),
        ("ATTRSYNC__ADS__FILE__PATH", "ads.ndjson"),
    ];
    let (code, out, err) = run_bin(dir.path(), &["run", "--once"], &env);
    assert_eq!(code, 0, "{out}{err}");
    assert!(out.contains("spend matched           32.5%"), "{out}");
    let (_, json, _) = run_bin(dir.path(), &["status", "--json"], &env);
    let runs: Vec<Value> = json
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    let run = runs.iter().find(|r| r["job"] == "ads:file").unwrap();
    let q = &run["quality"];
    let s = &q["spend"];
    assert_eq!(s["spend_micros"], 400_000_000);
    assert_eq!(s["matched_spend_micros"], 130_000_000);
    assert_eq!(
        s["unmatched_campaigns"],
        json!(["meta:444", "google_ads:222"]),
        "biggest first"
    );
    assert_eq!(
        q["verdict"], "warn",
        "low spend coverage warns, never fails"
    );
    assert!(q["warnings"][0].as_str().unwrap().contains("meta:444"));
    let g = &s["platforms"]["google_ads"];
    assert_eq!(
        (
            g["platform_conversions"].as_f64(),
            g["attributed_conversions"].as_f64()
        ),
        (Some(4.5), Some(1.0))
    );
    assert_eq!(g["model"], "last_touch");
    assert_eq!(
        s["platforms"]["meta"]["attributed_conversions"].as_f64(),
        Some(1.0)
    );
    let (_, table, _) = run_bin(dir.path(), &["status"], &env);
    assert!(
        table
            .lines()
            .any(|l| l.contains("ads:file") && l.contains("32%")),
        "{table}"
    );
}
