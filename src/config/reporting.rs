//! `[reporting]` and `[fx]`: one currency for sums across accounts and conversions, and where
//! the daily exchange rates come from.

use std::path::PathBuf;
use std::time::Duration;

use serde::Deserialize;

use super::lenient;

/// `[reporting]`.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ReportingSettings {
    /// ISO code sums are converted to (`USD`); unset: no conversion, no exchange rates.
    #[serde(default, deserialize_with = "lenient::opt_string")]
    pub currency: Option<String>,
}

/// Where exchange rates come from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FxSource {
    /// The European Central Bank's public daily reference rates.
    Ecb,
    /// A CSV of `date,currency,rate` (rate to the reporting currency), for offline use.
    File,
}

lenient::named_enum!(FxSource { Ecb => "ecb", File => "file" });

/// `[fx]`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FxSettings {
    pub source: FxSource,
    /// The CSV for `source = "file"`.
    #[serde(default)]
    pub path: PathBuf,
    /// The ECB's last 90 days of reference rates (read once a day).
    pub ecb_url: String,
    /// The ECB's whole history since 1999 (read on the first fetch, for older ad days).
    pub ecb_history_url: String,
    #[serde(with = "humantime_serde")]
    pub timeout: Duration,
}
