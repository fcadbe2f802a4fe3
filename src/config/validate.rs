//! What types cannot check, section by section. Every problem is collected (so `check` can
//! report them all); start-up stops at the first, naming its key.

use super::{
    AdPlatformSettings, AttributionSettings, ConfigError, FxSource, QualitySettings, Settings,
    SinkKind, SourceKind,
};
use crate::engine::channels::ChannelRules;

/// Problems found so far.
#[derive(Debug, Default)]
pub struct Problems(pub Vec<ConfigError>);

impl Problems {
    /// Records that `key` is wrong and why.
    pub fn bad(&mut self, key: impl Into<String>, message: impl Into<String>) {
        self.0.push(ConfigError::Invalid {
            key: key.into(),
            message: message.into(),
        });
    }

    /// Records an error found elsewhere (a secret file that cannot be read).
    pub fn push(&mut self, e: ConfigError) {
        self.0.push(e);
    }
}

impl AttributionSettings {
    fn problems(&self, p: &mut Problems) {
        if self.lookback_days == 0 || self.lookback_days > 3650 {
            p.bad(
                "attribution.lookback_days",
                format!("{} is out of range; use 1 to 3650", self.lookback_days),
            );
        }
        if self.models.is_empty() {
            p.bad("attribution.models", "enable at least one model");
        }
        if !(self.time_decay_half_life_days > 0.0 && self.time_decay_half_life_days.is_finite()) {
            p.bad(
                "attribution.time_decay_half_life_days",
                "must be a positive number of days",
            );
        }
        for (k, v) in [
            ("position_based_first", self.position_based_first),
            ("position_based_last", self.position_based_last),
        ] {
            if !(0.0..=1.0).contains(&v) {
                p.bad(
                    format!("attribution.{k}"),
                    format!("{v} must be between 0 and 1"),
                );
            }
        }
        if self.position_based_first + self.position_based_last > 1.0 + 1e-12 {
            p.bad(
                "attribution.position_based_last",
                "position_based_first + position_based_last must not exceed 1",
            );
        }
        if self.markov_order == 0 || self.markov_order > 8 {
            p.bad(
                "attribution.markov_order",
                format!("{} is out of range; use 1 to 8", self.markov_order),
            );
        }
        if crate::engine::models::shapley::PathTransform::parse(&self.shapley_path_transform)
            .is_none()
        {
            p.bad(
                "attribution.shapley_path_transform",
                format!(
                    "'{}' is not one of exposure, unique, first, frequency",
                    self.shapley_path_transform
                ),
            );
        }
    }
}

impl QualitySettings {
    fn problems(&self, p: &mut Problems) {
        if !(0.0..=1.0).contains(&self.threshold) {
            p.bad(
                "quality.threshold",
                format!("{} must be between 0 and 1", self.threshold),
            );
        }
        if !(0.0..=1.0).contains(&self.coverage_warn_below) {
            p.bad(
                "quality.coverage_warn_below",
                format!("{} must be between 0 and 1", self.coverage_warn_below),
            );
        }
        let w = &self.weights;
        if [w.reconciliation, w.identity, w.coverage]
            .iter()
            .any(|x| *x < 0.0 || !x.is_finite())
            || w.reconciliation + w.identity + w.coverage <= 0.0
        {
            p.bad(
                "quality.weights",
                "weights must be non-negative with a positive sum",
            );
        }
    }
}

impl AdPlatformSettings {
    /// The credentials and accounts an enabled `[ads.<key>]` needs.
    fn problems(&self, key: &str, p: &mut Problems) {
        if !self.enabled {
            return;
        }
        if self.accounts.is_empty() {
            p.bad(
                format!("ads.{key}.accounts"),
                format!("ads.{key}.enabled is true but no account is listed (ATTRSYNC__ADS__{}__ACCOUNTS=123,456)", key.to_uppercase()),
            );
        }
        let required: &[&str] = match key {
            "google" => &["client_id", "refresh_token", "developer_token"],
            "meta" | "tiktok" => &["access_token"],
            "linkedin" | "reddit" => &["client_id", "refresh_token"],
            "microsoft" => &[
                "client_id",
                "refresh_token",
                "developer_token",
                "login_customer_id",
            ],
            "x" => &[
                "consumer_key",
                "consumer_secret",
                "access_token",
                "access_token_secret",
            ],
            _ => &[],
        };
        for name in required {
            let present = match *name {
                "client_id" => self.client_id.as_deref().is_some_and(|v| !v.is_empty()),
                "login_customer_id" => self
                    .login_customer_id
                    .as_deref()
                    .is_some_and(|v| !v.is_empty()),
                "consumer_key" => self.consumer_key.as_deref().is_some_and(|v| !v.is_empty()),
                secret => match self.secret(secret) {
                    Ok(s) => s.is_some(),
                    Err(e) => {
                        p.push(e);
                        continue;
                    }
                },
            };
            if !present {
                p.bad(
                    format!("ads.{key}.{name}"),
                    format!(
                        "required when ads.{key}.enabled is true (set ATTRSYNC__ADS__{}__{} or ads.{key}.{name}_file)",
                        key.to_uppercase(),
                        name.to_uppercase()
                    ),
                );
            }
        }
        for account in &self.accounts {
            if let Some(zone) = self.zone_of(account) {
                if jiff::tz::TimeZone::get(zone).is_err() {
                    p.bad(
                        format!("ads.{key}.time_zone"),
                        format!("unknown zone {zone} (account {account}); use an IANA name such as America/New_York"),
                    );
                }
            }
        }
    }
}

/// Whether `bind` is a listen address (`0.0.0.0:9090`, `[::]:9090`, `localhost:9090`).
fn listen_address(bind: &str) -> bool {
    bind.parse::<std::net::SocketAddr>().is_ok()
        || bind.rsplit_once(':').is_some_and(|(host, port)| {
            !host.is_empty()
                && host
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || c == '.' || c == '-')
                && port.parse::<u16>().is_ok()
        })
}

impl Settings {
    /// Every problem of the settings, in order.
    pub fn problems(&self) -> Vec<ConfigError> {
        let mut p = Problems::default();
        self.attribution.problems(&mut p);
        self.quality.problems(&mut p);
        if self.conversions.is_empty() {
            p.bad(
                "conversions",
                "define at least one [[conversions]] entry (name, event, default_currency)",
            );
        }
        for (i, c) in self.conversions.iter().enumerate() {
            if c.name.trim().is_empty() || c.event.trim().is_empty() {
                p.bad(
                    format!("conversions[{i}]"),
                    "name and event must not be empty",
                );
            }
        }
        if let Err(e) = ChannelRules::compile(&self.channels) {
            p.bad("channels", e.to_string());
        }
        match self.source.kind {
            SourceKind::File if self.source.path.as_os_str().is_empty() => p.bad(
                "source.path",
                "is empty; name the NDJSON export file to read (e.g. data/sample/events.ndjson.gz)",
            ),
            SourceKind::File => {}
            SourceKind::Posthog => self.posthog_problems(&mut p),
        }
        match self.sink.kind {
            SinkKind::Local if self.sink.dir.as_os_str().is_empty() => p.bad(
                "sink.dir",
                "is empty; name the directory the tables go to (e.g. out)",
            ),
            SinkKind::Local => {}
            SinkKind::Bigquery => self.bigquery_problems(&mut p),
        }
        self.run_store_problems(&mut p);
        let ads = &self.ads;
        for (key, s) in [
            ("google", &ads.google),
            ("meta", &ads.meta),
            ("linkedin", &ads.linkedin),
            ("microsoft", &ads.microsoft),
            ("reddit", &ads.reddit),
            ("x", &ads.x),
            ("tiktok", &ads.tiktok),
        ] {
            s.problems(key, &mut p);
        }
        if ads.file.enabled && ads.file.path.as_os_str().is_empty() {
            p.bad(
                "ads.file.path",
                "is empty; name the ad-metrics NDJSON file, or set ads.file.enabled = false",
            );
        }
        if let Some(c) = self.reporting.currency.as_deref() {
            if crate::domain::money::Currency::parse(c).is_err() {
                p.bad(
                    "reporting.currency",
                    format!("'{c}' is not a three-letter currency code such as USD or EUR"),
                );
            }
            if self.fx.source == FxSource::File && self.fx.path.as_os_str().is_empty() {
                p.bad(
                    "fx.path",
                    "required when fx.source = \"file\" (a CSV of date,currency,rate)",
                );
            }
        }
        if let Err(e) = self.secrets.key() {
            p.push(e);
        }
        if self.schedule.interval.is_zero() {
            p.bad(
                "schedule.interval",
                "must be longer than zero, e.g. \"15m\"",
            );
        }
        let bind = self.server.bind.trim();
        if !bind.is_empty() && !listen_address(bind) {
            p.bad(
                "server.bind",
                format!("'{bind}' is not a listen address such as 0.0.0.0:9090 (empty turns the server off)"),
            );
        }
        p.0
    }

    fn posthog_problems(&self, p: &mut Problems) {
        let ph = &self.posthog;
        if ph.project_id.as_deref().is_none_or(str::is_empty) {
            p.bad(
                "posthog.project_id",
                "required when source.kind = \"posthog\" (set ATTRSYNC__POSTHOG__PROJECT_ID)",
            );
        }
        match self.posthog_api_key() {
            Ok(Some(_)) => {}
            Ok(None) => p.bad("posthog.api_key", "required when source.kind = \"posthog\" (set ATTRSYNC__POSTHOG__API_KEY or posthog.api_key_file)"),
            Err(e) => p.push(e),
        }
        if !(ph.host.starts_with("http://") || ph.host.starts_with("https://")) {
            p.bad(
                "posthog.host",
                format!(
                    "'{}' must start with https:// (or http:// for a local instance)",
                    ph.host
                ),
            );
        }
        if ph.page_size == 0 || ph.page_size > 50_000 {
            p.bad(
                "posthog.page_size",
                format!(
                    "{} is out of range; PostHog returns 1 to 50000 rows per query",
                    ph.page_size
                ),
            );
        }
        let rl = &ph.rate_limit;
        if rl.per_minute == 0 || rl.per_hour == 0 || rl.concurrency == 0 {
            p.bad(
                "posthog.rate_limit",
                "per_minute, per_hour and concurrency must be at least 1",
            );
        }
    }

    fn bigquery_problems(&self, p: &mut Problems) {
        let bq = &self.bigquery;
        if bq.project_id.as_deref().is_none_or(str::is_empty) {
            p.bad(
                "bigquery.project_id",
                "required when sink.kind = \"bigquery\" (set ATTRSYNC__BIGQUERY__PROJECT_ID)",
            );
        }
        if bq.batch_rows == 0 || bq.batch_rows > 50_000 {
            p.bad(
                "bigquery.batch_rows",
                "use 1 to 50000 rows per insertAll request",
            );
        }
        if bq.batch_bytes < 1024 || bq.batch_bytes > 10_000_000 {
            p.bad(
                "bigquery.batch_bytes",
                "use 1 KB to 10 MB (BigQuery's request limit)",
            );
        }
    }

    fn run_store_problems(&self, p: &mut Problems) {
        let url = self.run_store.url.trim();
        if let Some(rest) = url.strip_prefix("sqlite:") {
            let path = rest.trim_start_matches("//");
            let path = path.split('?').next().unwrap_or_default();
            if path.is_empty() {
                p.bad(
                    "run_store.url",
                    format!("'{url}' names no database file; use e.g. sqlite://attrsync.db (or sqlite::memory: for a throwaway store)"),
                );
            }
        } else if !(url.starts_with("postgres://") || url.starts_with("postgresql://")) {
            p.bad("run_store.url", "must start with sqlite: or postgres://");
        }
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn listen_addresses() {
        for ok in ["0.0.0.0:9090", "[::]:80", "localhost:9090", "127.0.0.1:0"] {
            assert!(super::listen_address(ok), "{ok}");
        }
        for bad in ["9090", "localhost", "0.0.0.0:99999", ":80", "http://x:1"] {
            assert!(!super::listen_address(bad), "{bad}");
        }
    }
}
