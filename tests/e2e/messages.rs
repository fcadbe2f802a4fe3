//! Messages a first hour finds: each names what is wrong and what to do.

use crate::support::{run_bin, sample_events};

#[test]
fn check_reports_every_problem_and_probes_the_output_directory() {
    let dir = tempfile::tempdir().unwrap();
    let ro = dir.path().join("readonly");
    std::fs::create_dir(&ro).unwrap();
    let mut perm = std::fs::metadata(&ro).unwrap().permissions();
    std::os::unix::fs::PermissionsExt::set_mode(&mut perm, 0o555);
    std::fs::set_permissions(&ro, perm).unwrap();
    let writable = std::fs::write(ro.join("x"), b"x").is_ok();
    let sample = sample_events();
    let (code, out, err) = run_bin(
        dir.path(),
        &["check"],
        &[
            ("ATTRSYNC__SERVER__BIND", "9090"),
            ("ATTRSYNC__ATTRIBUTION__LOOKBACK_DAYS", "0"),
            ("ATTRSYNC__SINK__DIR", "readonly/out"),
            ("ATTRSYNC__SOURCE__PATH", &sample),
        ],
    );
    assert_eq!(code, 1, "{out}{err}");
    assert!(
        out.contains("FAIL config") && out.contains("server.bind"),
        "{out}"
    );
    assert!(
        out.contains("attribution.lookback_days"),
        "both problems: {out}"
    );
    // The checks after the configuration still ran.
    assert!(out.contains("run store"), "{out}");
    if !writable {
        // (root ignores directory modes; the probe only fails where the mode is enforced.)
        assert!(
            out.contains("FAIL sink (local)") && out.contains("cannot write"),
            "{out}"
        );
    }
}

#[test]
fn an_unreachable_postgres_is_named_with_its_address_and_cause() {
    let dir = tempfile::tempdir().unwrap();
    let (code, _, err) = run_bin(
        dir.path(),
        &["status"],
        &[
            (
                "ATTRSYNC__RUN_STORE__URL",
                "postgres://attrsync@127.0.0.1:1/attrsync",
            ),
            ("ATTRSYNC__RUN_STORE__CONNECT_TIMEOUT", "1s"),
        ],
    );
    assert_ne!(code, 0);
    assert!(
        err.contains("cannot reach PostgreSQL at 127.0.0.1:1/attrsync"),
        "{err}"
    );
    assert!(err.to_lowercase().contains("refused"), "the cause: {err}");
}

#[test]
fn status_limit_zero_and_empty_paths_are_refused_with_the_reason() {
    let dir = tempfile::tempdir().unwrap();
    let (code, _, err) = run_bin(dir.path(), &["status", "--limit", "0"], &[]);
    assert_eq!(code, 2);
    assert!(err.contains("--limit") && err.contains("0"), "{err}");
    let (code, _, err) = run_bin(
        dir.path(),
        &["run", "--once"],
        &[("ATTRSYNC__RUN_STORE__URL", "sqlite://")],
    );
    assert_eq!(code, 2);
    assert!(
        err.contains("run_store.url") && err.contains("names no database file"),
        "{err}"
    );
    // A missing ad credential is a configuration error: exit 2, naming the key.
    let (code, _, err) = run_bin(
        dir.path(),
        &["run", "--once"],
        &[
            ("ATTRSYNC__ADS__GOOGLE__ENABLED", "true"),
            ("ATTRSYNC__ADS__GOOGLE__ACCOUNTS", "123"),
        ],
    );
    assert_eq!(code, 2, "{err}");
    assert!(err.contains("ads.google.client_id"), "{err}");
}

#[test]
fn an_empty_events_file_succeeds_with_a_warning() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("empty.ndjson"), "").unwrap();
    let (code, out, err) = run_bin(
        dir.path(),
        &["run", "--once"],
        &[
            ("ATTRSYNC__SOURCE__PATH", "empty.ndjson"),
            ("ATTRSYNC__ADS__FILE__ENABLED", "false"),
        ],
    );
    assert_eq!(code, 0, "{out}{err}");
    assert!(out.contains("warning: the run read no events"), "{out}");
    let (_, json, _) = run_bin(dir.path(), &["status", "--json"], &[]);
    let run: serde_json::Value = serde_json::from_str(json.lines().next().unwrap()).unwrap();
    assert_eq!(run["quality"]["verdict"], "warn");
}

#[test]
fn a_five_megabyte_property_is_cut_and_counted() {
    use crate::support::events::*;
    let dir = tempfile::tempdir().unwrap();
    let huge = "x".repeat(5 << 20);
    let mut lines = vec![
        pageview(
            1,
            "a",
            &at(1, 0),
            "s1",
            serde_json::json!({"utm_source": "google", "utm_medium": "cpc", "utm_campaign": huge}),
        ),
        purchase(2, "a", &at(1, 1), "s1", "10", "USD"),
    ];
    lines.extend((0..40).map(|i| pageview(10 + i, "b", &at(1, 2), "s2", direct())));
    std::fs::write(dir.path().join("e.ndjson"), lines.join("\n") + "\n").unwrap();
    let (code, out, err) = run_bin(
        dir.path(),
        &["run", "--once"],
        &[
            ("ATTRSYNC__SOURCE__PATH", "e.ndjson"),
            ("ATTRSYNC__ADS__FILE__ENABLED", "false"),
        ],
    );
    assert_eq!(code, 0, "{out}{err}");
    assert!(
        out.contains("text fields longer than 2048 bytes were cut"),
        "{out}"
    );
    for table in ["touchpoints", "attribution_credits"] {
        let dir_t = dir.path().join("out").join(table);
        for f in std::fs::read_dir(&dir_t).unwrap() {
            let text = std::fs::read_to_string(f.unwrap().path()).unwrap();
            assert!(
                text.lines().all(|l| l.len() < 10_000),
                "{table}: a row stays small"
            );
        }
    }
    let (_, json, _) = run_bin(dir.path(), &["status", "--json"], &[]);
    let run: serde_json::Value = serde_json::from_str(json.lines().next().unwrap()).unwrap();
    assert_eq!(run["quality"]["reconciliation"]["truncated_fields"], 1);
}
