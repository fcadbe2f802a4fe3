//! Synthetic ad metrics that match the synthetic events: every campaign of the catalog, every
//! day of the period, with clicks that follow the paid sessions the events contain (platforms
//! count a few more clicks than sessions arrive), a per-platform cost per click, and
//! platform-reported conversions that over-claim the way platforms do.

use std::collections::HashMap;
use std::fmt::Write as _;
use std::path::Path;

use anyhow::Context;

use super::catalog::{self, Landing};
use crate::domain::rng::Rng;
use crate::domain::time::Date;

/// Paid sessions per (campaign id, days since the epoch).
pub type PaidSessions = HashMap<(&'static str, i32), u32>;

/// The synthetic account of each platform.
fn account(platform: &str) -> &'static str {
    match platform {
        "google_ads" => "1234567890",
        "meta" => "1029384756",
        "linkedin_ads" => "508812345",
        "microsoft_ads" => "180012345",
        "reddit_ads" => "a2_demo01",
        "x_ads" => "18ce54d4x5t",
        _ => "7100000000000000001",
    }
}

/// Average cost per click, in micros of USD.
fn cpc_micros(platform: &str) -> i64 {
    match platform {
        "google_ads" => 1_450_000,
        "meta" => 820_000,
        "linkedin_ads" => 6_100_000,
        "microsoft_ads" => 1_050_000,
        "reddit_ads" => 640_000,
        "x_ads" => 710_000,
        _ => 480_000,
    }
}

/// Writes one NDJSON line per campaign and day of `[start, end)`; returns the rows written.
pub fn write(
    path: &Path,
    seed: u64,
    start: Date,
    end: Date,
    paid: &PaidSessions,
) -> anyhow::Result<u64> {
    let mut out = String::new();
    let mut n = 0;
    for (kind, (landing, _, propensity)) in catalog::LANDINGS.iter().enumerate() {
        let Landing::Paid(i) = landing else { continue };
        for camp in catalog::CAMPAIGNS[*i] {
            let mut day = start;
            while day < end {
                let mut rng = Rng::for_item(
                    seed ^ 0xad5_u64.rotate_left(40),
                    ((kind as u64) << 32) ^ day.days() as u64 ^ fxhash(camp.id),
                );
                let sessions = paid.get(&(camp.id, day.days())).copied().unwrap_or(0) as i64;
                let clicks =
                    sessions + (sessions as f64 * (0.05 + 0.15 * rng.f64())).round() as i64;
                let impressions = clicks * (35 + rng.below(45) as i64) + rng.below(200) as i64;
                let cpc = cpc_micros(camp.platform) as f64 * (0.8 + 0.4 * rng.f64());
                // Whole cents, as platforms bill.
                let spend = ((clicks as f64 * cpc) / 10_000.0).round() as i64 * 10_000;
                let conversions =
                    (sessions as f64 * propensity * (2.5 + 1.5 * rng.f64()) * 10.0).round() / 10.0;
                let value = (conversions * 85.0 * 100.0).round() as i64 * 10_000;
                let _ = writeln!(
                    out,
                    r#"{{"platform":"{}","account_id":"{}","campaign_id":"{}","campaign_name":"{}","date":"{day}","currency":"USD","spend_micros":{spend},"impressions":{impressions},"clicks":{clicks},"platform_conversions":{conversions},"platform_conversion_value_micros":{value}}}"#,
                    camp.platform,
                    account(camp.platform),
                    camp.id,
                    camp.name,
                );
                n += 1;
                day = day.add_days(1);
            }
        }
    }
    if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
        std::fs::create_dir_all(dir).with_context(|| format!("cannot create {}", dir.display()))?;
    }
    std::fs::write(path, out).with_context(|| format!("cannot write {}", path.display()))?;
    Ok(n)
}

fn fxhash(s: &str) -> u64 {
    s.bytes().fold(0xcbf2_9ce4_8422_2325, |h, b| {
        (h ^ b as u64).wrapping_mul(0x100_0000_01b3)
    })
}
