//! The BigQuery engine's pieces against the in-memory engine, on the emulator: the same export
//! table read by the export source and resolved in memory, and resolved by the SQL.

use std::collections::HashSet;

use attrsync::bigquery::{Connection, ConnectionConfig, Param};
use attrsync::domain::time::Timestamp;
use attrsync::engine::identity::KeyMap;
use attrsync::pipeline::plan_from;
use attrsync::sources::columns::wanted_events;
use attrsync::sources::{ParseRules, ReadRequest, Source, SourceConfig};
use serde_json::Value;

use crate::export::{cycle, events, export_env, export_table, person_ids, rows};
use crate::support::bqemu::{Emulator, PROJECT};
use crate::support::read_table;

/// Runs a script; the rows of its last statement as text cells.
async fn script(conn: &Connection, sql: &str, params: &[Param]) -> Vec<Vec<Option<String>>> {
    let mut pages = conn
        .pages(sql, params, 10_000)
        .await
        .map_err(|e| e.1)
        .unwrap();
    let mut out = Vec::new();
    while let Some(rows) = pages.next().await.map_err(|e| e.1).unwrap() {
        for r in rows {
            out.push(
                r.columns
                    .unwrap_or_default()
                    .into_iter()
                    .map(|c| c.value.and_then(|v| v.as_str().map(String::from)))
                    .collect(),
            );
        }
    }
    out
}

/// Asserts that the work table `table` holds exactly the memory engine's rows `memory`: keyed
/// by `id`, the time column `at` to the microsecond, and every field in `fields` as text.
async fn assert_same_rows(
    conn: &Connection,
    table: &str,
    memory: &[Value],
    (id, at): (&str, &str),
    fields: &[&str],
) {
    let sql = format!(
        "SELECT {id}, CAST(UNIX_MICROS({at}) AS STRING), {} FROM {table}",
        fields
            .iter()
            .map(|f| format!("CAST({f} AS STRING)"))
            .collect::<Vec<_>>()
            .join(", ")
    );
    let ours: std::collections::HashMap<String, Vec<Option<String>>> = script(conn, &sql, &[])
        .await
        .into_iter()
        .map(|mut r| (r.remove(0).unwrap(), r))
        .collect();
    assert_eq!(ours.len(), memory.len(), "{table}: the same rows");
    for m in memory {
        let key = m[id].as_str().unwrap();
        let row = ours
            .get(key)
            .unwrap_or_else(|| panic!("{table}: {key} missing"));
        let when = Timestamp::parse(m[at].as_str().unwrap()).unwrap();
        assert_eq!(
            row[0].as_deref(),
            Some(when.micros().to_string().as_str()),
            "{key} {at}"
        );
        for (i, f) in fields.iter().enumerate() {
            let want = match &m[*f] {
                Value::Null => None,
                Value::String(s) => Some(s.clone()),
                other => Some(other.to_string()),
            };
            assert_eq!(row[i + 1], want, "{key} {f}");
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn identities_touchpoints_conversions_and_credits_in_sql_match_the_in_memory_engine() {
    let emu = Emulator::start().await;
    let dir = tempfile::tempdir().unwrap();
    let evs = events(dir.path(), 150, 6);
    // PostHog's person id on two rows in three: the rest join through $identify alone.
    let mut person = person_ids(&evs);
    let mut rows = rows(&evs, &person, None);
    for (i, r) in rows.iter_mut().enumerate() {
        if i % 3 == 0 {
            r["person_id"] = Value::Null;
        }
    }
    person.clear();
    export_table(&emu, "events", false).await;
    emu.insert("posthog", "events", &rows).await;
    let endpoint = emu.endpoint();
    let table = format!("{PROJECT}.posthog.events");
    let settings = crate::support::settings(&export_env(&endpoint, &table));
    let (plan, parse): (_, ParseRules) = plan_from(&settings).unwrap();
    let (from, to) = (
        Timestamp::now().add_micros(-30 * 86_400_000_000),
        Timestamp::now(),
    );

    // In memory: what the export source reads for that window, resolved by the engine.
    let source = SourceConfig::from_settings(&settings)
        .ok()
        .unwrap()
        .build()
        .unwrap();
    let req = ReadRequest {
        cursor: None,
        window: Some((from, to)),
        now: to,
        max_future_micros: 3_600_000_000,
        lookback_micros: 0,
        training_micros: 0,
    };
    let ex = source.extract(&req, &parse).await.unwrap();
    let ids = KeyMap::resolve(&ex);

    // In SQL.
    let conn_conf = ConnectionConfig::from_settings(&settings.bigquery, "test")
        .ok()
        .unwrap();
    let conn = Connection::open(&conn_conf).await.unwrap();
    let conversions = parse.conversion_events();
    let work = attrsync::pushdown::Work::new(PROJECT, "work", "run_1_");
    emu.create_dataset("work").await;
    let stage = attrsync::pushdown::stage::stage_new(
        &work,
        &format!("`{table}`"),
        true,
        parse.slots.names(),
        false,
    );
    let params = [
        Param::Timestamp("from", from),
        Param::Timestamp("to", to),
        Param::Timestamp("latest", req.latest_allowed()),
        Param::StringArray(
            "events",
            wanted_events(&conversions, &settings.bigquery_export.touch_events),
        ),
    ];
    attrsync::pushdown::exec(&conn, &stage, &params)
        .await
        .map_err(|e| e.1)
        .unwrap();
    let rounds = attrsync::pushdown::identity::resolve(&conn, &work, &conversions)
        .await
        .map_err(|e| e.1)
        .unwrap();
    assert!((2..=5).contains(&rounds), "{rounds} rounds");
    let keys = script(
        &conn,
        &format!(
            "SELECT distinct_id, person_key FROM {}",
            work.t("person_keys")
        ),
        &[],
    )
    .await;
    assert!(keys.len() > 150, "{} distinct ids", keys.len());
    let mut merged = 0;
    let mut groups = HashSet::new();
    for k in &keys {
        let (d, key) = (k[0].as_deref().unwrap(), k[1].as_deref().unwrap());
        assert_eq!(ids.key(d).as_str(), key, "person key of {d}");
        merged += usize::from(d != key);
        groups.insert(key.to_string());
    }
    assert!(merged > 20, "{merged} ids joined to another");
    assert_eq!(groups.len(), ids.identities.persons(), "the same persons");

    // Touchpoints: the memory engine's, written by one cycle of the export source.
    attrsync::pushdown::touchpoints::classify(&conn, &work, &settings.channels)
        .await
        .map_err(|e| e.1)
        .unwrap();
    cycle(&dir.path().join("memory"), &export_env(&endpoint, &table)).await;
    let memory = read_table(&dir.path().join("memory/out"), "touchpoints");
    let fields = [
        "person_key",
        "session_id",
        "channel",
        "platform",
        "source",
        "medium",
        "campaign",
        "campaign_id",
        "content",
        "term",
        "click_id_type",
        "click_id_masked",
        "referring_domain",
        "landing_url",
    ];
    assert_same_rows(
        &conn,
        &work.t("touchpoints"),
        &memory,
        ("touchpoint_id", "touched_at"),
        &fields,
    )
    .await;
    let channels: HashSet<&str> = memory
        .iter()
        .map(|m| m["channel"].as_str().unwrap())
        .collect();
    assert!(channels.len() >= 5, "several channels: {channels:?}");

    // Conversions, with their values and the touchpoints in their windows.
    attrsync::pushdown::conversions::find(
        &conn,
        &work,
        &parse.extract.conversions,
        &plan.conversion_lookback,
    )
    .await
    .map_err(|e| e.1)
    .unwrap();
    let memory = read_table(&dir.path().join("memory/out"), "conversions");
    let fields = [
        "conversion_name",
        "conversion_event",
        "person_key",
        "value_micros",
        "currency",
        "touchpoints_in_window",
    ];
    assert_same_rows(
        &conn,
        &work.t("conversions"),
        &memory,
        ("conversion_id", "converted_at"),
        &fields,
    )
    .await;
    let valued = memory
        .iter()
        .filter(|m| !m["value_micros"].is_null())
        .count();
    assert!(valued >= 5, "{valued} conversions with a value");

    // Credits of all eight models: the data-driven ones fitted on the distinct paths.
    let distinct = attrsync::pushdown::paths::fit(
        &conn,
        &work,
        plan.lookback_micros,
        plan.markov,
        plan.shapley,
        // Several write-back jobs of a few paths each.
        7,
    )
    .await
    .map_err(|e| e.1)
    .unwrap();
    assert!(distinct > 10, "{distinct} distinct paths");
    attrsync::pushdown::credits::credit(&conn, &work, &plan.rule_models, &["markov", "shapley"])
        .await
        .map_err(|e| e.1)
        .unwrap();
    let memory: Vec<Value> = read_table(&dir.path().join("memory/out"), "attribution_credits");
    let models: HashSet<&str> = memory
        .iter()
        .map(|r| r["model"].as_str().unwrap())
        .collect();
    assert_eq!(models.len(), 8, "{models:?}");
    let sql = format!(
        "SELECT row_key, channel, CAST(credit AS STRING), CAST(credited_value_micros AS STRING), \
         touchpoint_id, person_key FROM {}",
        work.t("credits")
    );
    let ours: std::collections::HashMap<String, Vec<Option<String>>> = script(&conn, &sql, &[])
        .await
        .into_iter()
        .map(|mut r| (r.remove(0).unwrap(), r))
        .collect();
    assert_eq!(ours.len(), memory.len(), "the same credit rows");
    let mut valued = 0;
    for m in &memory {
        let key = m["row_key"].as_str().unwrap();
        let row = ours
            .get(key)
            .unwrap_or_else(|| panic!("credit {key} missing"));
        assert_eq!(row[0].as_deref(), m["channel"].as_str(), "{key} channel");
        let credit: f64 = row[1].as_deref().unwrap().parse().unwrap();
        let want = m["credit"].as_f64().unwrap();
        assert!(
            (credit - want).abs() < 1e-9,
            "{key}: credit {credit} vs {want}"
        );
        assert_eq!(
            row[2].as_deref().map(|v| v.parse::<i64>().unwrap()),
            m["credited_value_micros"].as_i64(),
            "{key} value micros"
        );
        assert_eq!(
            row[3].as_deref(),
            m["touchpoint_id"].as_str(),
            "{key} touchpoint"
        );
        assert_eq!(row[4].as_deref(), m["person_key"].as_str(), "{key} person");
        valued += usize::from(!m["credited_value_micros"].is_null());
    }
    assert!(valued >= 30, "{valued} credits with a value");
}
