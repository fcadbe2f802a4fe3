//! Ad metrics from an NDJSON file, one campaign-day per line in the `ad_metrics` column names
//! (what `attrsync generate` writes next to its events). A file is a snapshot: every run
//! reads all of it, and row keys make re-reads harmless.

use std::path::PathBuf;

use anyhow::{anyhow, Context};
use serde::Deserialize;

use super::{AdError, AdSource};
use crate::domain::ad_metric::AdMetricRow;
use crate::domain::money::Currency;
use crate::domain::platform::Platform;
use crate::domain::time::Date;

/// One line.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FileRow {
    pub platform: Platform,
    pub account_id: String,
    pub campaign_id: String,
    #[serde(default)]
    pub campaign_name: Option<String>,
    pub date: Date,
    pub currency: Currency,
    pub spend_micros: i64,
    #[serde(default)]
    pub impressions: i64,
    #[serde(default)]
    pub clicks: i64,
    #[serde(default)]
    pub platform_conversions: f64,
    #[serde(default)]
    pub platform_conversion_value_micros: Option<i64>,
}

impl From<FileRow> for AdMetricRow {
    fn from(r: FileRow) -> Self {
        AdMetricRow {
            platform: r.platform,
            account_id: r.account_id,
            campaign_id: r.campaign_id,
            campaign_name: r.campaign_name,
            date: r.date,
            currency: r.currency,
            spend_micros: r.spend_micros,
            impressions: r.impressions,
            clicks: r.clicks,
            platform_conversions: r.platform_conversions,
            platform_conversion_value_micros: r.platform_conversion_value_micros,
        }
    }
}

/// The `[ads.file]` source.
#[derive(Debug, Clone)]
pub struct FileAds {
    path: PathBuf,
}

impl FileAds {
    pub fn new(path: PathBuf) -> Self {
        Self { path }
    }

    fn read(&self) -> anyhow::Result<Vec<AdMetricRow>> {
        let text = std::fs::read_to_string(&self.path)
            .with_context(|| format!("cannot read ads.file.path {}", self.path.display()))?;
        let mut out = Vec::new();
        for (i, line) in text.lines().enumerate() {
            if line.trim().is_empty() {
                continue;
            }
            let row: FileRow = serde_json::from_str(line)
                .map_err(|e| anyhow!("{} line {}: {e}", self.path.display(), i + 1))?;
            out.push(row.into());
        }
        Ok(out)
    }
}

impl AdSource for FileAds {
    fn job(&self) -> String {
        "ads:file".into()
    }

    async fn resolve(&self) -> Result<Option<super::Resolved>, AdError> {
        Ok(None)
    }

    fn window(&self) -> Option<(Date, Date)> {
        None
    }

    async fn fetch(&self, from: Date, to: Date) -> Result<Vec<AdMetricRow>, AdError> {
        let me = self.clone();
        let rows = tokio::task::spawn_blocking(move || me.read())
            .await
            .map_err(|e| AdError::Permanent(anyhow!("reading the ad metrics file panicked: {e}")))?
            .map_err(|e| match e.downcast_ref::<std::io::Error>() {
                Some(_) => AdError::Transient(e),
                None => AdError::Permanent(e),
            })?;
        Ok(rows
            .into_iter()
            .filter(|r| r.date >= from && r.date <= to)
            .collect())
    }
}
