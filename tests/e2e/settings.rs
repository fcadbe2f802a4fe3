//! Each component checks its own section (`SourceConfig`, `SinkConfig`, `StoreConfig`): what
//! the single validation rejected before is rejected still, naming the same key with the same
//! message.

use attrsync::config::{ConfigError, LoadOptions, Settings};

fn problems(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
    let env = pairs
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
    let settings = Settings::load(&LoadOptions {
        env: Some(env),
        ..Default::default()
    })
    .expect("the sections no component owns are valid");
    attrsync::cli::problems(&settings)
        .into_iter()
        .map(|e| match e {
            ConfigError::Invalid { key, message } => (key, message),
            other => panic!("expected a key error, got {other}"),
        })
        .collect()
}

fn only(pairs: &[(&str, &str)]) -> (String, String) {
    let mut all = problems(pairs);
    assert_eq!(all.len(), 1, "{all:?}");
    all.remove(0)
}

#[test]
fn the_embedded_default_has_no_problem() {
    assert_eq!(problems(&[]), vec![]);
}

#[test]
fn the_file_source_and_local_sink_need_their_paths() {
    assert_eq!(
        only(&[("ATTRSYNC__SOURCE__PATH", "")]),
        (
            "source.path".into(),
            "is empty; name the NDJSON export file to read (e.g. data/sample/events.ndjson.gz)"
                .into()
        )
    );
    assert_eq!(
        only(&[("ATTRSYNC__SINK__DIR", "")]),
        (
            "sink.dir".into(),
            "is empty; name the directory the tables go to (e.g. out)".into()
        )
    );
}

#[test]
fn posthog_names_every_missing_or_bad_key() {
    let all = problems(&[
        ("ATTRSYNC__SOURCE__KIND", "posthog"),
        ("ATTRSYNC__POSTHOG__HOST", "us.posthog.com"),
        ("ATTRSYNC__POSTHOG__PAGE_SIZE", "50001"),
        ("ATTRSYNC__POSTHOG__RATE_LIMIT__CONCURRENCY", "0"),
    ]);
    let keys: Vec<&str> = all.iter().map(|(k, _)| k.as_str()).collect();
    assert_eq!(
        keys,
        [
            "posthog.project_id",
            "posthog.api_key",
            "posthog.host",
            "posthog.page_size",
            "posthog.rate_limit"
        ]
    );
    assert_eq!(
        all[0].1,
        "required when source.kind = \"posthog\" (set ATTRSYNC__POSTHOG__PROJECT_ID)"
    );
    assert!(
        all[1].1.contains("ATTRSYNC__POSTHOG__API_KEY"),
        "{}",
        all[1].1
    );
    assert_eq!(
        all[3].1,
        "50001 is out of range; PostHog returns 1 to 50000 rows per query"
    );
    // A [posthog] section that is never used is not checked.
    assert_eq!(problems(&[("ATTRSYNC__POSTHOG__PAGE_SIZE", "0")]), vec![]);
}

#[test]
fn bigquery_names_its_project_and_batch_limits() {
    let all = problems(&[
        ("ATTRSYNC__SINK__KIND", "bigquery"),
        ("ATTRSYNC__BIGQUERY__BATCH_ROWS", "0"),
        ("ATTRSYNC__BIGQUERY__BATCH_BYTES", "100"),
    ]);
    assert_eq!(
        all,
        vec![
            (
                "bigquery.project_id".to_string(),
                "required when sink.kind = \"bigquery\" (set ATTRSYNC__BIGQUERY__PROJECT_ID)"
                    .to_string()
            ),
            (
                "bigquery.batch_rows".into(),
                "use 1 to 50000 rows per insertAll request".into()
            ),
            (
                "bigquery.batch_bytes".into(),
                "use 1 KB to 10 MB (BigQuery's request limit)".into()
            ),
        ]
    );
}

#[test]
fn the_run_store_url_must_name_a_backend_and_a_file() {
    let (key, message) = only(&[("ATTRSYNC__RUN_STORE__URL", "sqlite://")]);
    assert_eq!(key, "run_store.url");
    assert!(message.contains("names no database file"), "{message}");
    assert_eq!(
        only(&[("ATTRSYNC__RUN_STORE__URL", "mysql://db")]),
        (
            "run_store.url".into(),
            "must start with sqlite: or postgres://".into()
        )
    );
}

#[test]
fn ad_platforms_name_each_missing_credential_and_unknown_zone() {
    let all = problems(&[
        ("ATTRSYNC__ADS__GOOGLE__ENABLED", "true"),
        ("ATTRSYNC__ADS__GOOGLE__ACCOUNTS", "1"),
        ("ATTRSYNC__ADS__GOOGLE__CLIENT_ID", "c"),
        ("ATTRSYNC__ADS__GOOGLE__REFRESH_TOKEN", "r"),
        ("ATTRSYNC__ADS__GOOGLE__TIME_ZONE", "Mars/Olympus"),
        ("ATTRSYNC__ADS__X__ENABLED", "true"),
        ("ATTRSYNC__ADS__FILE__PATH", ""),
    ]);
    let keys: Vec<&str> = all.iter().map(|(k, _)| k.as_str()).collect();
    assert_eq!(
        keys,
        [
            "ads.google.developer_token",
            "ads.google.time_zone",
            "ads.x.accounts",
            "ads.x.consumer_key",
            "ads.x.consumer_secret",
            "ads.x.access_token",
            "ads.x.access_token_secret",
            "ads.file.path"
        ]
    );
    assert_eq!(
        all[0].1,
        "required when ads.google.enabled is true (set ATTRSYNC__ADS__GOOGLE__DEVELOPER_TOKEN or ads.google.developer_token_file)"
    );
    assert_eq!(
        all[1].1,
        "unknown zone Mars/Olympus (account 1); use an IANA name such as America/New_York"
    );
    assert_eq!(
        all[2].1,
        "ads.x.enabled is true but no account is listed (ATTRSYNC__ADS__X__ACCOUNTS=123,456)"
    );
}

#[test]
fn problems_of_several_sections_are_all_reported() {
    let all = problems(&[
        ("ATTRSYNC__SOURCE__PATH", ""),
        ("ATTRSYNC__SINK__DIR", ""),
        ("ATTRSYNC__RUN_STORE__URL", "sqlite://"),
    ]);
    let keys: Vec<&str> = all.iter().map(|(k, _)| k.as_str()).collect();
    assert_eq!(keys, ["source.path", "sink.dir", "run_store.url"]);
}
