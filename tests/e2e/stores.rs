//! The output directory belongs to one run store: a new store (run ids from 1 again) never
//! overwrites another store's files, and a deleted output directory is rebuilt where it can be.

use crate::support::{read_table, run_bin, sample_events};

fn run(dir: &std::path::Path, extra: &[(&str, &str)]) -> (i32, String, String) {
    let sample = sample_events();
    let mut env = vec![("ATTRSYNC__SOURCE__PATH", sample.as_str())];
    env.extend_from_slice(extra);
    run_bin(dir, &["run", "--once"], &env)
}

fn count(dir: &std::path::Path, table: &str) -> usize {
    read_table(&dir.join("out"), table).len()
}

#[test]
fn a_new_run_store_refuses_to_overwrite_another_stores_output() {
    let dir = tempfile::tempdir().unwrap();
    let (code, out, err) = run(dir.path(), &[]);
    assert_eq!(code, 0, "{out}{err}");
    let before = count(dir.path(), "conversions");
    assert!(before > 1000);
    let file = dir.path().join("out/conversions/1.ndjson");
    let original = std::fs::read(&file).unwrap();

    // The SQLite file deleted: a new store, whose first run would be run 1 again.
    std::fs::remove_file(dir.path().join("attrsync.db")).unwrap();
    let (code, out, err) = run(dir.path(), &[]);
    assert_ne!(code, 0, "{out}{err}");
    assert!(
        err.contains("sink.dir")
            && err.contains("another run store")
            && err.contains("Point sink.dir at a new directory"),
        "{err}"
    );
    assert_eq!(
        std::fs::read(&file).unwrap(),
        original,
        "nothing overwritten"
    );
    assert_eq!(count(dir.path(), "conversions"), before);
    // Output from before stores had identities (no marker): a new store still refuses it.
    let marker = std::fs::read(dir.path().join("out/.attrsync-store")).unwrap();
    std::fs::remove_file(dir.path().join("out/.attrsync-store")).unwrap();
    std::fs::remove_file(dir.path().join("attrsync.db")).unwrap();
    let (code, _, err) = run(dir.path(), &[]);
    assert_ne!(code, 0);
    assert!(
        err.contains("did not write") && err.contains("store is new"),
        "{err}"
    );
    assert_eq!(
        std::fs::read(&file).unwrap(),
        original,
        "nothing overwritten"
    );
    std::fs::write(dir.path().join("out/.attrsync-store"), marker).unwrap();

    // Another store that marked a directory: both named.
    let other = tempfile::tempdir().unwrap();
    let out_dir = dir.path().join("out").display().to_string();
    let (code, _, err) = run(other.path(), &[("ATTRSYNC__SINK__DIR", &out_dir)]);
    assert_ne!(code, 0);
    assert!(
        err.contains("holds the output of another run store"),
        "{err}"
    );
    let marker: serde_json::Value = serde_json::from_str(
        &std::fs::read_to_string(dir.path().join("out/.attrsync-store")).unwrap(),
    )
    .unwrap();
    assert!(
        err.contains(&marker["store_id"].as_str().unwrap()[..8]),
        "{err}"
    );
}

#[test]
fn a_deleted_output_directory_gets_its_ad_metrics_and_derived_files_back() {
    let dir = tempfile::tempdir().unwrap();
    let (code, out, err) = run(dir.path(), &[]);
    assert_eq!(code, 0, "{out}{err}");
    let ads = count(dir.path(), "ad_metrics");
    assert!(ads > 0);
    std::fs::remove_dir_all(dir.path().join("out")).unwrap();
    let (code, out, err) = run(dir.path(), &[]);
    assert_eq!(code, 0, "{out}{err}");
    // The bundled ad file did not change, but the sink no longer held its rows.
    assert_eq!(count(dir.path(), "ad_metrics"), ads);
    assert!(dir.path().join("out/campaign_performance.ndjson").exists());
    // Events already read are not written again, and the run says so.
    assert!(
        out.contains("is empty but the run store has earlier runs"),
        "{out}"
    );
}
