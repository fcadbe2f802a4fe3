use crate::support::run_bin;

fn write(dir: &std::path::Path, name: &str, text: &str) {
    std::fs::write(dir.join(name), text).unwrap();
}

#[test]
fn attribute_prints_markov_and_shapley_csv() {
    let dir = tempfile::tempdir().unwrap();
    // The three-channel chain worked by hand in the unit tests: RE a = 2/3, b = c = 1/2.
    write(dir.path(), "p.csv", "path,total_conversions,total_conversion_value,total_null\na > b,1,10,0\na > c,0,0,1\nc,1,30,1\n");
    let (code, out, err) = run_bin(
        dir.path(),
        &["attribute", "--paths", "p.csv", "--model", "markov"],
        &[],
    );
    assert_eq!(code, 0, "{err}");
    let lines: Vec<&str> = out.lines().collect();
    assert_eq!(lines[0], "channel_name,total_conversions,total_conversion_value,removal_effects_conversion,removal_effects_conversion_value");
    let a: Vec<f64> = lines[1]
        .split(',')
        .skip(1)
        .map(|v| v.parse().unwrap())
        .collect();
    assert!(lines[1].starts_with("a,"));
    assert!((a[0] - 0.8).abs() < 1e-12, "{out}"); // (2/3)/(5/3) × 2 conversions
    assert!((a[2] - 2.0 / 3.0).abs() < 1e-12, "{out}");
    let (code, out, _) = run_bin(
        dir.path(),
        &[
            "attribute",
            "--paths",
            "p.csv",
            "--model",
            "shapley",
            "--path-transform",
            "first",
        ],
        &[],
    );
    assert_eq!(code, 0);
    assert_eq!(
        out.lines().next().unwrap(),
        "channel_name,total_conversions,total_conversion_value"
    );
    let total: f64 = out
        .lines()
        .skip(1)
        .map(|l| l.split(',').nth(1).unwrap().parse::<f64>().unwrap())
        .sum();
    assert!((total - 2.0).abs() < 1e-12);
}

#[test]
fn attribute_reports_malformed_rows_with_line_numbers() {
    let dir = tempfile::tempdir().unwrap();
    write(dir.path(), "p.csv", "path,total_conversions,total_conversion_value,total_null\na > b,1,10,0\na > ,1,1,1\nb,one,0,0\n");
    let (code, out, err) = run_bin(
        dir.path(),
        &["attribute", "--paths", "p.csv", "--model", "linear"],
        &[],
    );
    assert_eq!(code, 0, "{err}");
    assert!(
        err.contains("line 3: path 'a > ' has an empty step"),
        "{err}"
    );
    assert!(
        err.contains("line 4: total_conversions 'one' is not a non-negative number"),
        "{err}"
    );
    assert!(err.contains("2 of 3 rows malformed and skipped"), "{err}");
    assert!(out.contains("a,0.5,5"), "{out}");
    let (code, _, _) = run_bin(
        dir.path(),
        &["attribute", "--paths", "p.csv", "--strict"],
        &[],
    );
    assert_eq!(code, 1);
    let (code, _, err) = run_bin(
        dir.path(),
        &["attribute", "--paths", "p.csv", "--path-column", "journey"],
        &[],
    );
    assert_eq!(code, 1);
    assert!(err.contains("no column 'journey'"), "{err}");
}

#[test]
fn custom_separator_and_columns() {
    let dir = tempfile::tempdir().unwrap();
    write(
        dir.path(),
        "p.csv",
        "journey,conv,nulls\nfb|email,2,1\nemail,1,3\n",
    );
    let args = [
        "attribute",
        "--paths",
        "p.csv",
        "--model",
        "first-touch",
        "--sep",
        "|",
        "--path-column",
        "journey",
        "--conversions-column",
        "conv",
        "--null-column",
        "nulls",
    ];
    let (code, out, err) = run_bin(dir.path(), &args, &[]);
    assert_eq!(code, 0, "{err}");
    assert!(out.contains("email,1,0") && out.contains("fb,2,0"), "{out}");
}

#[test]
fn a_byte_order_mark_out_of_range_counts_and_a_file_of_bad_rows_are_handled() {
    let dir = tempfile::tempdir().unwrap();
    // A spreadsheet's CSV: a UTF-8 byte-order mark before the header.
    std::fs::write(
        dir.path().join("bom.csv"),
        "\u{feff}path,total_conversions,total_null\nsearch > email,3,1\nemail,1,2\n",
    )
    .unwrap();
    let (code, out, err) = run_bin(
        dir.path(),
        &["attribute", "--paths", "bom.csv", "--model", "last_touch"],
        &[],
    );
    assert_eq!(code, 0, "{err}");
    assert!(out.contains("email,4,0"), "{out}");
    // 1e308 is finite, but sums of it overflow: refused, named, and the rest credited.
    std::fs::write(
        dir.path().join("huge.csv"),
        "path,total_conversions\nsearch,1e308\nemail,2\n",
    )
    .unwrap();
    let (code, out, err) = run_bin(
        dir.path(),
        &["attribute", "--paths", "huge.csv", "--model", "linear"],
        &[],
    );
    assert_eq!(code, 0, "{err}");
    assert!(
        err.contains("line 2") && err.contains("out of range"),
        "{err}"
    );
    assert!(
        out.contains("email,2,0") && !out.contains("search"),
        "{out}"
    );
    // Every row malformed: exit 1 with the reason, not a header alone.
    std::fs::write(
        dir.path().join("bad.csv"),
        "path,total_conversions\nsearch,many\nemail,-1\n",
    )
    .unwrap();
    let (code, out, err) = run_bin(
        dir.path(),
        &["attribute", "--paths", "bad.csv", "--model", "markov"],
        &[],
    );
    assert_eq!(code, 1, "{out}");
    assert!(out.is_empty(), "{out}");
    assert!(
        err.contains("no usable row") && err.contains("line 2"),
        "{err}"
    );
}

#[test]
fn numbers_are_printed_without_float_noise() {
    let dir = tempfile::tempdir().unwrap();
    // 0.1 + 0.2 is 0.30000000000000004 in floating point.
    write(
        dir.path(),
        "p.csv",
        "path,total_conversions,total_conversion_value\na,0.1,1.1\nb > a,0.2,2.2\n",
    );
    let (code, out, err) = run_bin(
        dir.path(),
        &["attribute", "--paths", "p.csv", "--model", "last_touch"],
        &[],
    );
    assert_eq!(code, 0, "{err}");
    assert!(out.contains("a,0.3,3.3"), "{out}");
    assert!(out.lines().all(|l| l.len() < 60), "{out}");
}

/// The CSV's first three columns by channel.
fn totals(out: &str) -> Vec<(String, f64, f64)> {
    out.lines()
        .skip(1)
        .map(|l| {
            let f: Vec<&str> = l.split(',').collect();
            (
                f[0].to_string(),
                f[1].parse().unwrap(),
                f[2].parse().unwrap(),
            )
        })
        .collect()
}

#[test]
fn a_streamed_file_of_many_blocks_credits_as_the_whole_path_set_does() {
    // 60,000 distinct paths (about 6 MB: several of the reader's blocks). Without --ci the
    // file is streamed through per-model tallies; with --ci it is read whole into a path set
    // and fitted by the bootstrap's compiled models: two implementations, one answer.
    let dir = tempfile::tempdir().unwrap();
    let (code, _, err) = run_bin(
        dir.path(),
        &[
            "generate",
            "--paths",
            "60000",
            "--distinct",
            "--seed",
            "3",
            "--out",
            "d.csv",
        ],
        &[],
    );
    assert_eq!(code, 0, "{err}");
    let text = std::fs::read_to_string(dir.path().join("d.csv")).unwrap();
    // The same rows with every path quoted go through the csv crate instead.
    let quoted: String = text
        .lines()
        .enumerate()
        .map(|(i, l)| match (i, l.split_once(',')) {
            (0, _) | (_, None) => format!("{l}\n"),
            (_, Some((p, rest))) => format!("\"{p}\",{rest}\n"),
        })
        .collect();
    write(dir.path(), "q.csv", &quoted);
    let models: [&[&str]; 5] = [
        &["--model", "first_touch"],
        &["--model", "last_non_direct", "--direct-channel", "email"],
        &["--model", "position_based"],
        &["--model", "markov", "--order", "2"],
        &["--model", "shapley", "--path-transform", "frequency"],
    ];
    for model in models {
        let run = |file: &str, extra: &[&str]| {
            let mut args = vec!["attribute", "--paths", file];
            args.extend_from_slice(model);
            args.extend_from_slice(extra);
            let (code, out, err) = run_bin(dir.path(), &args, &[]);
            assert_eq!(code, 0, "{model:?}: {err}");
            assert!(err.contains("60000 rows, 60000 distinct paths"), "{err}");
            totals(&out)
        };
        let streamed = run("d.csv", &[]);
        let whole = run("d.csv", &["--ci", "--samples", "1"]);
        let quoted = run("q.csv", &[]);
        assert_eq!(streamed.len(), 10, "{model:?}");
        for ((a, b), c) in streamed.iter().zip(&whole).zip(&quoted) {
            assert_eq!((&a.0, &a.0), (&b.0, &c.0));
            for (x, y) in [(a.1, b.1), (a.2, b.2), (a.1, c.1), (a.2, c.2)] {
                assert!(
                    (x - y).abs() <= 1e-9 * y.abs().max(1.0),
                    "{model:?} {}: {x} vs {y}",
                    a.0
                );
            }
        }
    }
}

/// `attribute` runs without transparent huge pages (the pipeline keeps them): as it starts it
/// restarts itself, in the same process, under `MIMALLOC_ALLOW_THP=0`, and still reads its
/// standard input and answers.
#[test]
fn attribute_runs_without_huge_pages_and_still_reads_stdin() {
    use std::io::Write;
    use std::process::{Command, Stdio};
    let mut child = Command::new(crate::support::bin())
        .args(["attribute", "--paths", "-", "--model", "linear"])
        .env_remove("MIMALLOC_ALLOW_THP")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let proc = format!("/proc/{}", child.id());
    // (restarted with the switch, the kernel's THP_enabled where it has one: Linux 5.0+)
    let look = || {
        let environ = std::fs::read(format!("{proc}/environ")).unwrap_or_default();
        let restarted = environ
            .split(|&b| b == 0)
            .any(|v| v == b"MIMALLOC_ALLOW_THP=0");
        let status = std::fs::read_to_string(format!("{proc}/status")).unwrap_or_default();
        let thp = status
            .lines()
            .find_map(|l| l.strip_prefix("THP_enabled:"))
            .map(|v| v.trim().to_string());
        (restarted, thp)
    };
    // While it waits for input; mimalloc turns huge pages off before its first allocation.
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(20);
    let (restarted, thp) = loop {
        let (restarted, thp) = look();
        let settled = restarted && thp.as_deref().is_none_or(|v| v == "0");
        if settled || std::time::Instant::now() > deadline {
            break (restarted, thp);
        }
        std::thread::sleep(std::time::Duration::from_millis(10));
    };
    assert!(restarted, "attribute did not restart without huge pages");
    assert!(
        thp.as_deref().is_none_or(|v| v == "0"),
        "huge pages still allowed in attribute: THP_enabled {thp:?}"
    );
    let mut stdin = child.stdin.take().unwrap();
    stdin
        .write_all(
            b"path,total_conversions,total_conversion_value,total_null\na > b,1,10,0\nb,1,30,1\n",
        )
        .unwrap();
    drop(stdin);
    let out = child.wait_with_output().unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let text = String::from_utf8(out.stdout).unwrap();
    assert!(text.starts_with("channel_name,total_conversions"), "{text}");
    assert!(text.contains("\na,0.5,5\n"), "{text}");
    assert!(text.contains("\nb,1.5,35\n"), "{text}");
}
