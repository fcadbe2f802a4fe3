//! The file source's cursor is the file's identity and a byte offset: a future-dated event
//! cannot stall it, a different file under the same name is read as new, and appended lines are
//! read whatever their timestamps.

use std::io::Write;

use crate::support::events::*;
use crate::support::{read_table, run_bin};

const ENV: [(&str, &str); 2] = [
    ("ATTRSYNC__SOURCE__PATH", "events.ndjson"),
    ("ATTRSYNC__ADS__FILE__ENABLED", "false"),
];

fn append(path: &std::path::Path, lines: &[String]) {
    std::fs::OpenOptions::new()
        .append(true)
        .open(path)
        .unwrap()
        .write_all((lines.join("\n") + "\n").as_bytes())
        .unwrap();
}

/// `n` persons, each a google landing and a purchase an hour later on `day`.
fn journeys(first: u32, n: u32, day: i64) -> Vec<String> {
    (0..n)
        .flat_map(|i| {
            let (k, who) = (first + 2 * i, format!("p{}", first + i));
            let s = format!("s{k}");
            [
                pageview(k, &who, &at(day, 1), &s, google_cpc("brand")),
                purchase(k + 1, &who, &at(day, 2), &s, "10", "USD"),
            ]
        })
        .collect()
}

fn conversions(dir: &std::path::Path) -> usize {
    read_table(&dir.join("out"), "conversions").len()
}

#[test]
fn a_future_dated_event_is_skipped_and_does_not_stall_later_runs() {
    let (dir, control) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    let future = json_line_2030();
    for (d, poisoned) in [(&dir, true), (&control, false)] {
        let mut first = journeys(1, 3, 1);
        // Enough good events that one bad one stays under quality.threshold.
        first.extend((0..40).map(|i| pageview(500 + i, "browser", &at(1, 3), "sb", direct())));
        if poisoned {
            first.push(future.clone());
        }
        std::fs::write(d.path().join("events.ndjson"), first.join("\n") + "\n").unwrap();
        let (code, out, err) = run_bin(d.path(), &["run", "--once"], &ENV);
        assert_eq!(code, 0, "{out}{err}");
        if poisoned {
            assert!(out.contains("future 1"), "{out}");
        }
        append(&d.path().join("events.ndjson"), &journeys(101, 4, 3));
        let (code, out, err) = run_bin(d.path(), &["run", "--once"], &ENV);
        assert_eq!(code, 0, "{out}{err}");
        assert!(out.contains("conversions                 4"), "{out}");
    }
    assert_eq!(conversions(dir.path()), 7);
    assert_eq!(conversions(dir.path()), conversions(control.path()));
}

fn json_line_2030() -> String {
    pageview(999, "clock-skew", "2030-01-01T00:00:00Z", "sx", direct())
}

#[test]
fn appended_lines_are_read_whatever_their_timestamps() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("events.ndjson");
    std::fs::write(&path, journeys(1, 2, 10).join("\n") + "\n").unwrap();
    let (code, out, err) = run_bin(dir.path(), &["run", "--once"], &ENV);
    assert_eq!(code, 0, "{out}{err}");
    // A late export: events from days before everything read so far.
    append(&path, &journeys(101, 3, 2));
    let (code, out, err) = run_bin(dir.path(), &["run", "--once"], &ENV);
    assert_eq!(code, 0, "{out}{err}");
    assert!(out.contains("conversions                 3"), "{out}");
    assert_eq!(conversions(dir.path()), 5);
    // Nothing new: nothing written again.
    let (_, out, _) = run_bin(dir.path(), &["run", "--once"], &ENV);
    assert!(out.contains("conversions                 0"), "{out}");
    assert_eq!(conversions(dir.path()), 5);
}

#[test]
fn another_file_under_the_same_name_is_a_new_file_and_the_run_says_so() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::create_dir_all(dir.path().join("a")).unwrap();
    std::fs::create_dir_all(dir.path().join("b")).unwrap();
    std::fs::write(
        dir.path().join("a/events.ndjson"),
        journeys(1, 3, 5).join("\n") + "\n",
    )
    .unwrap();
    // Later days, so a cursor on event time would skip nothing here; a different file.
    std::fs::write(
        dir.path().join("b/events.ndjson"),
        journeys(201, 2, 1).join("\n") + "\n",
    )
    .unwrap();
    let env = |p: &'static str| [("ATTRSYNC__SOURCE__PATH", p), ENV[1]];
    let (code, out, err) = run_bin(dir.path(), &["run", "--once"], &env("a/events.ndjson"));
    assert_eq!(code, 0, "{out}{err}");
    let (code, out, err) = run_bin(dir.path(), &["run", "--once"], &env("b/events.ndjson"));
    assert_eq!(code, 0, "{out}{err}");
    assert!(out.contains("conversions                 2"), "{out}");
    assert!(out.contains("reading it as a new file"), "{out}");
    assert_eq!(conversions(dir.path()), 5);

    // The same path, rewritten with other content: its beginning changed.
    std::fs::write(
        dir.path().join("b/events.ndjson"),
        journeys(301, 4, 2).join("\n") + "\n",
    )
    .unwrap();
    let (code, out, err) = run_bin(dir.path(), &["run", "--once"], &env("b/events.ndjson"));
    assert_eq!(code, 0, "{out}{err}");
    assert!(out.contains("conversions                 4"), "{out}");
    assert!(
        out.contains("beginning of") && out.contains("changed"),
        "{out}"
    );
}
