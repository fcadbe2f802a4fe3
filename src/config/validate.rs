//! What types cannot check, section by section. Every problem is collected (so `check` can
//! report them all); start-up stops at the first, naming its key.

use super::{AttributionSettings, ConfigError, FxSource, QualitySettings, Settings};
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

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// Adds what a section's own validation found.
    pub fn take<T>(&mut self, checked: Result<T, Problems>) -> Option<T> {
        match checked {
            Ok(v) => Some(v),
            Err(mut more) => {
                self.0.append(&mut more.0);
                None
            }
        }
    }

    /// The first problem, which is what start-up reports.
    pub fn first(self) -> Option<ConfigError> {
        self.0.into_iter().next()
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
        if !(self.confidence > 0.0 && self.confidence < 1.0) {
            p.bad(
                "attribution.confidence",
                format!(
                    "{} must be between 0 and 1 (0.9 for 90% intervals)",
                    self.confidence
                ),
            );
        }
        if !(self.max_interval_width > 0.0 && self.max_interval_width <= 1.0) {
            p.bad(
                "attribution.max_interval_width",
                format!(
                    "{} must be a share above 0 and at most 1",
                    self.max_interval_width
                ),
            );
        }
        if self.bootstrap_samples > 100_000 {
            p.bad(
                "attribution.bootstrap_samples",
                format!(
                    "{} is out of range; use 0 (off) to 100000",
                    self.bootstrap_samples
                ),
            );
        }
        if self.markov_order == 0 || self.markov_order > 8 {
            p.bad(
                "attribution.markov_order",
                format!("{} is out of range; use 1 to 8", self.markov_order),
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
    /// Every problem of the sections no component owns, in order. The source, sink, run store
    /// and ad sources check their own sections (`SourceConfig`, `SinkConfig`, `StoreConfig`,
    /// `AdsConfig`); `cli::problems` collects both.
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
            if let Some(d) = c.lookback_days.filter(|d| *d == 0 || *d > 3650) {
                p.bad(
                    format!("conversions[{i}].lookback_days"),
                    format!("{d} is out of range; use 1 to 3650 (or leave it out for attribution.lookback_days)"),
                );
            }
        }
        if let Err(e) = ChannelRules::compile(&self.channels) {
            p.bad("channels", e.to_string());
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
        if self.report.recent_runs == 0 {
            p.bad("report.recent_runs", "must be at least 1");
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
