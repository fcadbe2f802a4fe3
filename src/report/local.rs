//! The report's rows from the local sink: the newest credits of every conversion and model
//! (as `attribution_credits_latest` keeps them) and `campaign_performance.ndjson`.

use std::io::BufRead;
use std::path::Path;

use anyhow::Context;
use serde::Deserialize;

use super::data::{Aggregator, CampaignIn, CreditIn};
use crate::domain::time::{Date, Timestamp};
use crate::sinks::local::latest::{hash, newest_first};
use crate::sinks::local::performance;

#[derive(Debug, Deserialize)]
struct CreditRow {
    conversion_id: String,
    converted_at: String,
    model: String,
    channel: String,
    #[serde(default)]
    touched_at: Option<String>,
    credit: f64,
    #[serde(default)]
    credited_value_micros: Option<i64>,
    #[serde(default)]
    currency: Option<String>,
}

#[derive(Debug, Deserialize)]
struct PerformanceRow {
    platform: String,
    campaign_id: String,
    #[serde(default)]
    campaign_name: Option<String>,
    date: String,
    #[serde(default)]
    model: Option<String>,
    #[serde(default)]
    currency: Option<String>,
    spend_micros: i64,
    #[serde(default)]
    impressions: Option<i64>,
    #[serde(default)]
    clicks: Option<i64>,
    #[serde(default)]
    platform_conversions: Option<f64>,
    attributed_conversions: f64,
    attributed_value_micros: i64,
    #[serde(default)]
    spend_reporting_micros: Option<i64>,
    #[serde(default)]
    attributed_value_reporting_micros: Option<i64>,
}

/// Feeds every committed credit and campaign-day of `dir` to `agg`.
pub fn read(dir: &Path, agg: &mut Aggregator<'_>) -> anyhow::Result<()> {
    newest_first(
        dir,
        "attribution_credits",
        |c: &CreditRow| hash(&[&c.conversion_id, &c.model]),
        |c: CreditRow| {
            let Ok(converted_at) = Timestamp::parse(&c.converted_at) else {
                return;
            };
            agg.credit(&CreditIn {
                conversion_id: &c.conversion_id,
                converted_at,
                model: &c.model,
                channel: &c.channel,
                touched_at: c
                    .touched_at
                    .as_deref()
                    .and_then(|t| Timestamp::parse(t).ok()),
                credit: c.credit,
                value_micros: c.credited_value_micros.unwrap_or(0),
                currency: c.currency.as_deref().unwrap_or_default(),
            });
        },
    )?;
    let path = dir.join(performance::FILE);
    let file = match std::fs::File::open(&path) {
        Ok(f) => f,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(()),
        Err(e) => return Err(e).with_context(|| format!("cannot open {}", path.display())),
    };
    for (i, line) in std::io::BufReader::new(file).lines().enumerate() {
        let line = line.with_context(|| format!("cannot read {}", path.display()))?;
        let r: PerformanceRow = serde_json::from_str(&line)
            .with_context(|| format!("{} line {}", path.display(), i + 1))?;
        let Ok(date) = Date::parse(&r.date) else {
            continue;
        };
        agg.campaign(&CampaignIn {
            platform: &r.platform,
            campaign_id: &r.campaign_id,
            name: r.campaign_name.as_deref(),
            date,
            model: r.model.as_deref(),
            currency: r.currency.as_deref(),
            spend_micros: r.spend_micros,
            impressions: r.impressions.unwrap_or(0),
            clicks: r.clicks.unwrap_or(0),
            platform_conversions: r.platform_conversions.unwrap_or(0.0),
            attributed_conversions: r.attributed_conversions,
            attributed_value_micros: r.attributed_value_micros,
            spend_reporting_micros: r.spend_reporting_micros,
            value_reporting_micros: r.attributed_value_reporting_micros,
        });
    }
    Ok(())
}
