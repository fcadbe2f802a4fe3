use std::collections::HashMap;

use attrsync::domain::attribution::ModelKind;
use attrsync::pipeline::attribute::{attribute, Attributed};
use attrsync::pipeline::plan_from;
use attrsync::sources::file::{read_stream, ReadOptions};
use serde_json::json;

use crate::support::events::*;
use crate::support::settings;

fn run(lines: &[String], env: &[(&str, &str)]) -> Attributed {
    let mut env = env.to_vec();
    env.push((
        "ATTRSYNC__ATTRIBUTION__MODELS",
        "first_touch,last_touch,last_non_direct,linear,time_decay,position_based",
    ));
    let s = settings(&env);
    let (plan, parse) = plan_from(&s).unwrap();
    let text = lines.join("\n");
    let (ex, errors, _) = read_stream(
        Box::new(std::io::Cursor::new(text.into_bytes())),
        &parse,
        &ReadOptions::default(),
    )
    .unwrap();
    assert!(errors.is_empty(), "{errors:?}");
    attribute(ex, &plan)
}

/// model → [(touchpoint uuid or "direct", credit)] for the single credited conversion.
fn credits(att: &Attributed, conversion: u32) -> HashMap<ModelKind, Vec<(String, f64)>> {
    let conv = att
        .conversions
        .iter()
        .position(|c| c.uuid.to_string() == uuid(conversion))
        .unwrap();
    let cr = &att
        .credited
        .iter()
        .find(|c| c.index == conv)
        .unwrap()
        .credits;
    let mut m: HashMap<ModelKind, Vec<(String, f64)>> = HashMap::new();
    for c in cr {
        let t = c.touchpoint.map_or("direct".to_string(), |u| u.to_string());
        m.entry(c.model).or_default().push((t, c.credit));
    }
    m
}

fn assert_credits(got: &[(String, f64)], want: &[(u32, f64)]) {
    assert_eq!(got.len(), want.len(), "{got:?}");
    for ((t, c), (n, w)) in got.iter().zip(want) {
        assert_eq!(t, &uuid(*n));
        assert!((c - w).abs() < 1e-12, "touch {n}: {c} != {w}; all {got:?}");
    }
}

/// Four touches: one 45 days back (outside the 30-day window), google 10 days back, then an
/// email touch and a direct touch at the same instant 2 days back (tie broken by uuid).
fn four_touch_journey() -> Vec<String> {
    vec![
        pageview(
            1,
            "anon",
            &at(1, 0),
            "s1",
            referrer("https://www.bing.com/"),
        ),
        pageview(2, "anon", &at(36, 0), "s2", google_cpc("brand")),
        pageview(3, "anon", &at(44, 0), "s3", email()),
        pageview(4, "anon", &at(44, 0), "s4", direct()),
        purchase(5, "anon", &at(46, 0), "s4", "100.00", "USD"),
    ]
}

#[test]
fn hand_worked_rule_models() {
    let att = run(&four_touch_journey(), &[]);
    let c = credits(&att, 5);
    assert_credits(&c[&ModelKind::FirstTouch], &[(2, 1.0), (3, 0.0), (4, 0.0)]);
    assert_credits(&c[&ModelKind::LastTouch], &[(2, 0.0), (3, 0.0), (4, 1.0)]);
    // The last touch is direct: last_non_direct skips it to the email touch.
    assert_credits(
        &c[&ModelKind::LastNonDirect],
        &[(2, 0.0), (3, 1.0), (4, 0.0)],
    );
    assert_credits(
        &c[&ModelKind::Linear],
        &[(2, 1.0 / 3.0), (3, 1.0 / 3.0), (4, 1.0 / 3.0)],
    );
    assert_credits(
        &c[&ModelKind::PositionBased],
        &[(2, 0.4), (3, 0.2), (4, 0.4)],
    );
    // Ages 10, 2, 2 days with a 7-day half-life: weights 2^(-8/7), 1, 1.
    let w = 2f64.powf(-8.0 / 7.0);
    let sum = w + 2.0;
    assert_credits(
        &c[&ModelKind::TimeDecay],
        &[(2, w / sum), (3, 1.0 / sum), (4, 1.0 / sum)],
    );
}

#[test]
fn lookback_window_is_configurable() {
    let att = run(
        &four_touch_journey(),
        &[("ATTRSYNC__ATTRIBUTION__LOOKBACK_DAYS", "60")],
    );
    let c = credits(&att, 5);
    assert_credits(
        &c[&ModelKind::FirstTouch],
        &[(1, 1.0), (2, 0.0), (3, 0.0), (4, 0.0)],
    );
    assert_credits(
        &c[&ModelKind::PositionBased],
        &[(1, 0.4), (2, 0.1), (3, 0.1), (4, 0.4)],
    );
}

#[test]
fn one_and_two_touch_journeys() {
    let one = vec![
        pageview(1, "a", &at(1, 0), "s1", google_cpc("x")),
        purchase(2, "a", &at(1, 1), "s1", "10", "USD"),
    ];
    let c = credits(&run(&one, &[]), 2);
    for m in [
        ModelKind::FirstTouch,
        ModelKind::LastTouch,
        ModelKind::Linear,
        ModelKind::TimeDecay,
        ModelKind::PositionBased,
        ModelKind::LastNonDirect,
    ] {
        assert_credits(&c[&m], &[(1, 1.0)]);
    }
    let two = vec![
        pageview(1, "a", &at(1, 0), "s1", google_cpc("x")),
        pageview(2, "a", &at(2, 0), "s2", email()),
        purchase(3, "a", &at(2, 1), "s2", "10", "USD"),
    ];
    let c = credits(
        &run(
            &two,
            &[
                ("ATTRSYNC__ATTRIBUTION__POSITION_BASED_FIRST", "0.3"),
                ("ATTRSYNC__ATTRIBUTION__POSITION_BASED_LAST", "0.5"),
            ],
        ),
        3,
    );
    assert_credits(&c[&ModelKind::PositionBased], &[(1, 0.375), (2, 0.625)]);
}

#[test]
fn all_direct_journey_and_empty_window() {
    let all_direct = vec![
        pageview(1, "a", &at(1, 0), "s1", direct()),
        pageview(2, "a", &at(3, 0), "s2", direct()),
        purchase(3, "a", &at(3, 1), "s2", "10", "USD"),
    ];
    let c = credits(&run(&all_direct, &[]), 3);
    assert_credits(&c[&ModelKind::LastNonDirect], &[(1, 0.0), (2, 1.0)]);
    // Conversion with no touchpoint in the window (only touch 40 days earlier): all to direct.
    let empty = vec![
        pageview(1, "a", &at(1, 0), "s1", google_cpc("x")),
        json!({"uuid": uuid(2), "event": "purchase", "distinct_id": "a", "timestamp": at(41, 0),
               "properties": {"revenue": 5, "currency": "USD"}})
        .to_string(),
    ];
    let att = run(&empty, &[]);
    let c = credits(&att, 2);
    for (m, cr) in &c {
        assert_eq!(cr, &vec![("direct".to_string(), 1.0)], "{m}");
    }
    let rows = &att.credited[0].credits;
    assert!(rows
        .iter()
        .all(|r| r.channel.as_str() == "direct" && r.value_micros == Some(5_000_000)));
}

#[test]
fn identify_joins_anonymous_touches_into_the_users_journey() {
    let lines = vec![
        pageview(1, "anon-1", &at(1, 0), "s1", google_cpc("x")),
        identify(2, "user@example.com", "anon-1", &at(1, 1)),
        pageview(3, "user@example.com", &at(3, 0), "s3", email()),
        purchase(4, "user@example.com", &at(3, 1), "s3", "80.00", "EUR"),
    ];
    let att = run(&lines, &[]);
    let c = credits(&att, 4);
    assert_credits(&c[&ModelKind::FirstTouch], &[(1, 1.0), (3, 0.0)]);
    let conv = &att.conversions[0];
    assert_eq!(conv.person.as_str(), "user@example.com");
    assert_eq!(conv.value.unwrap().micros, 80_000_000);
    assert_eq!(conv.value.unwrap().currency.as_str(), "EUR");
}

#[test]
fn value_credits_sum_to_the_value_exactly() {
    let att = run(&four_touch_journey(), &[]);
    let rows = &att.credited[0].credits;
    let mut by_model: HashMap<ModelKind, (f64, i64)> = HashMap::new();
    for r in rows {
        let e = by_model.entry(r.model).or_default();
        e.0 += r.credit;
        e.1 += r.value_micros.unwrap();
    }
    for (m, (credit, value)) in by_model {
        assert!((credit - 1.0).abs() < 1e-9, "{m}");
        assert_eq!(value, 100_000_000, "{m}");
    }
}

/// Settings with one purchase definition of its own lookback.
fn with_purchase_lookback(
    days: u32,
) -> Result<attrsync::config::Settings, attrsync::config::ConfigError> {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("c.toml");
    std::fs::write(
        &file,
        format!(
            "[attribution]\nmodels = [\"first_touch\", \"linear\"]\n\n[[conversions]]\nname = \"purchase\"\nevent = \"purchase\"\n\
             value_property = \"revenue\"\ncurrency_property = \"currency\"\ndefault_currency = \"USD\"\nlookback_days = {days}\n"
        ),
    )
    .unwrap();
    attrsync::config::Settings::load(&attrsync::config::LoadOptions {
        file: Some(file),
        env: Some(Default::default()),
        ..Default::default()
    })
}

#[test]
fn a_conversion_can_have_its_own_lookback_window() {
    let s = with_purchase_lookback(5).unwrap();
    let (plan, parse) = plan_from(&s).unwrap();
    assert_eq!(
        plan.max_lookback_micros(),
        30 * 86_400_000_000,
        "history for the longest"
    );
    let text = four_touch_journey().join("\n");
    let (ex, _, _) = read_stream(
        Box::new(std::io::Cursor::new(text.into_bytes())),
        &parse,
        &ReadOptions::default(),
    )
    .unwrap();
    let att = attribute(ex, &plan);
    // Five days back from day 46 leaves the two touches of day 44 (google, 10 days back, is out).
    let c = credits(&att, 5);
    assert_credits(&c[&ModelKind::FirstTouch], &[(3, 1.0), (4, 0.0)]);
    assert_credits(&c[&ModelKind::Linear], &[(3, 0.5), (4, 0.5)]);
    let err = with_purchase_lookback(0).unwrap_err().to_string();
    assert!(err.contains("conversions[0].lookback_days"), "{err}");
}

/// Chains of identifies (anon → user, a second device → the same user), a person seen only
/// anonymously and one whose conversion comes before the identify: every touchpoint and
/// conversion of the run carries the key `KeyMap::resolve` gives its distinct id, and
/// the persons are counted once each.
#[test]
fn touchpoints_and_conversions_carry_the_resolved_key_of_their_distinct_id() {
    let lines = vec![
        pageview(1, "anon-1", &at(1, 0), "s1", google_cpc("x")),
        pageview(2, "anon-2", &at(1, 2), "s2", email()),
        identify(3, "user-a", "anon-1", &at(1, 3)),
        identify(4, "user-a", "anon-2", &at(2, 0)),
        purchase(5, "anon-2", &at(1, 4), "s2", "10.00", "USD"),
        pageview(6, "anon-9", &at(2, 0), "s9", direct()),
        purchase(7, "anon-9", &at(2, 1), "s9", "5.00", "USD"),
        pageview(8, "user-b", &at(3, 0), "s8", email()),
        purchase(9, "user-a", &at(3, 1), "s10", "20.00", "USD"),
    ];
    let env = [];
    let s = settings(&env);
    let (plan, parse) = plan_from(&s).unwrap();
    let read = || {
        let text = lines.join("\n");
        read_stream(
            Box::new(std::io::Cursor::new(text.into_bytes())),
            &parse,
            &ReadOptions::default(),
        )
        .unwrap()
        .0
    };
    let ids = attrsync::engine::identity::KeyMap::resolve(&read());
    let att = attribute(read(), &plan);
    let by_uuid: HashMap<String, &str> = [
        (1, "anon-1"),
        (2, "anon-2"),
        (6, "anon-9"),
        (8, "user-b"),
        (5, "anon-2"),
        (7, "anon-9"),
        (9, "user-a"),
    ]
    .into_iter()
    .map(|(n, d)| (uuid(n), d))
    .collect();
    for t in att.journeys.touchpoints() {
        let d = by_uuid[&t.uuid.to_string()];
        assert_eq!(t.person, ids.key(d), "touchpoint of {d}");
    }
    for c in &att.conversions {
        let d = by_uuid[&c.uuid.to_string()];
        assert_eq!(c.person, ids.key(d), "conversion of {d}");
    }
    assert_eq!(ids.key("anon-2").as_str(), "user-a");
    assert_eq!(
        att.journeys.touchpoints().len(),
        5,
        "sessions s1, s2, s8, s9, s10"
    );
    assert_eq!(att.conversions.len(), 3);
    assert_eq!((att.identities.persons(), ids.identities.persons()), (3, 3));
    assert_eq!(att.identities.merged_groups, 1);
    assert_eq!(ids.identities.merged_groups, 1);
}
