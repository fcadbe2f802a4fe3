//! `[ads.<platform>]` mistakes stop start-up with the key to fix, and `check` reaches every
//! configured ad account.

use crate::support::run_bin;

/// The start-up error of these settings (`[ads]` names the key before any source is built).
fn err_of(pairs: &[(&str, &str)]) -> String {
    let settings = crate::support::settings(pairs);
    match attrsync::cli::problems(&settings).into_iter().next() {
        None => panic!("accepted {pairs:?}"),
        Some(e) => e.to_string(),
    }
}

#[test]
fn missing_or_wrong_keys_are_named() {
    let google = [
        ("ATTRSYNC__ADS__GOOGLE__ENABLED", "true"),
        ("ATTRSYNC__ADS__GOOGLE__ACCOUNTS", "123"),
        ("ATTRSYNC__ADS__GOOGLE__CLIENT_ID", "id"),
        ("ATTRSYNC__ADS__GOOGLE__CLIENT_SECRET", "s"),
        ("ATTRSYNC__ADS__GOOGLE__REFRESH_TOKEN", "r"),
    ];
    assert!(
        err_of(&google).contains("ads.google.developer_token"),
        "{}",
        err_of(&google)
    );
    let mut bad_zone = google.to_vec();
    bad_zone.push(("ATTRSYNC__ADS__GOOGLE__DEVELOPER_TOKEN", "d"));
    bad_zone.push(("ATTRSYNC__ADS__GOOGLE__TIME_ZONE", "Mars/Olympus"));
    let e = err_of(&bad_zone);
    assert!(
        e.contains("ads.google.time_zone") && e.contains("Mars/Olympus"),
        "{e}"
    );
    let e = err_of(&[("ATTRSYNC__ADS__META__ENABLED", "true")]);
    assert!(e.contains("ads.meta.accounts"), "{e}");
    let e = err_of(&[
        ("ATTRSYNC__ADS__X__ENABLED", "true"),
        ("ATTRSYNC__ADS__X__ACCOUNTS", "abc"),
        ("ATTRSYNC__ADS__X__CONSUMER_KEY", "k"),
    ]);
    assert!(e.contains("ads.x.consumer_secret"), "{e}");
}

#[test]
fn check_reaches_each_account_and_start_up_refuses_bad_ads_config() {
    let dir = tempfile::tempdir().unwrap();
    let events =
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("data/sample/events.ndjson.gz");
    let events = events.display().to_string();
    let (code, out, err) = run_bin(
        dir.path(),
        &["check"],
        &[("ATTRSYNC__SOURCE__PATH", &events)],
    );
    assert_eq!(code, 0, "{out}{err}");
    assert!(
        out.contains("ads:file") && out.contains("campaign-day rows"),
        "{out}"
    );
    let env = [
        ("ATTRSYNC__ADS__TIKTOK__ENABLED", "true"),
        ("ATTRSYNC__ADS__TIKTOK__ACCOUNTS", "42"),
    ];
    let (code, out, _) = run_bin(dir.path(), &["check"], &env);
    assert_ne!(code, 0);
    assert!(out.contains("ads.tiktok.access_token"), "{out}");
    let (code, _, err) = run_bin(dir.path(), &["run", "--once"], &env);
    assert_ne!(code, 0);
    assert!(err.contains("ads.tiktok.access_token"), "{err}");
}

#[test]
fn windows_end_today_in_each_accounts_zone() {
    use attrsync::ads::AdSource;
    use attrsync::domain::time::Timestamp;
    let mut s = crate::support::settings(&[
        ("ATTRSYNC__ADS__FILE__ENABLED", "false"),
        ("ATTRSYNC__ADS__TIKTOK__ENABLED", "true"),
        ("ATTRSYNC__ADS__TIKTOK__ACCOUNTS", "east,west"),
        ("ATTRSYNC__ADS__TIKTOK__ACCESS_TOKEN", "t"),
        ("ATTRSYNC__ADS__TIKTOK__RESTATEMENT_DAYS", "3"),
    ]);
    // Kiritimati is UTC+14 and Baker Island UTC−12: for 22 hours of every UTC day their
    // dates differ by one or two days.
    s.ads
        .tiktok
        .time_zones
        .insert("east".into(), "Etc/GMT-14".into());
    s.ads
        .tiktok
        .time_zones
        .insert("west".into(), "Etc/GMT+12".into());
    let sources = attrsync::ads::sources(
        &attrsync::ads::AdsConfig::from_settings(&s.ads).unwrap(),
        None,
    )
    .unwrap();
    let hour = 3_600_000_000;
    let now = Timestamp::now();
    let (east, west) = (
        now.add_micros(14 * hour).date(),
        now.add_micros(-12 * hour).date(),
    );
    let windows: Vec<_> = sources.iter().map(|x| x.window().unwrap()).collect();
    assert_eq!(windows[0], (east.add_days(-3), east));
    assert_eq!(windows[1], (west.add_days(-3), west));
}
