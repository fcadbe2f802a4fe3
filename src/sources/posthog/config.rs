//! `[posthog]` as the PostHog source needs it: a project, a key and limits that PostHog
//! accepts. Only [`PostHogConfig::from_settings`] builds one, so the source checks nothing again.

use std::time::Duration;

use crate::config::secret::{self, Secret};
use crate::config::{PostHogSettings, Problems};
use crate::http::Limits;

/// Validated `[posthog]` settings.
#[derive(Debug, Clone)]
pub struct PostHogConfig {
    pub(super) host: String,
    pub(super) project_id: String,
    pub(super) api_key: Secret,
    pub(super) page_size: u32,
    pub(super) overlap: Duration,
    pub(super) settle: Duration,
    pub(super) max_lateness: Duration,
    pub(super) timeout: Duration,
    pub(super) max_attempts: u32,
    pub(super) retry_budget: u32,
    pub(super) persons_per_query: usize,
    pub(super) initial_days: u32,
    pub(super) touch_events: Vec<String>,
    pub(super) limits: Limits,
}

/// PostHog returns at most this many rows per query.
const MAX_PAGE_SIZE: u32 = 50_000;

impl PostHogConfig {
    /// Checks `[posthog]` for `source.kind = "posthog"`; every problem names its key.
    pub fn from_settings(s: &PostHogSettings) -> Result<Self, Problems> {
        let mut p = Problems::default();
        let project_id = s.project_id.clone().filter(|id| !id.is_empty());
        if project_id.is_none() {
            p.bad(
                "posthog.project_id",
                "required when source.kind = \"posthog\" (set ATTRSYNC__POSTHOG__PROJECT_ID)",
            );
        }
        let api_key = match secret::resolve(&s.api_key, &s.api_key_file, "posthog.api_key") {
            Ok(Some(k)) => Some(k),
            Ok(None) => {
                p.bad("posthog.api_key", "required when source.kind = \"posthog\" (set ATTRSYNC__POSTHOG__API_KEY or posthog.api_key_file)");
                None
            }
            Err(e) => {
                p.push(e);
                None
            }
        };
        if !(s.host.starts_with("http://") || s.host.starts_with("https://")) {
            p.bad(
                "posthog.host",
                format!(
                    "'{}' must start with https:// (or http:// for a local instance)",
                    s.host
                ),
            );
        }
        if s.page_size == 0 || s.page_size > MAX_PAGE_SIZE {
            p.bad(
                "posthog.page_size",
                format!(
                    "{} is out of range; PostHog returns 1 to {MAX_PAGE_SIZE} rows per query",
                    s.page_size
                ),
            );
        }
        let rl = &s.rate_limit;
        if rl.per_minute == 0 || rl.per_hour == 0 || rl.concurrency == 0 {
            p.bad(
                "posthog.rate_limit",
                "per_minute, per_hour and concurrency must be at least 1",
            );
        }
        match (project_id, api_key) {
            (Some(project_id), Some(api_key)) if p.is_empty() => Ok(Self {
                host: s.host.trim_end_matches('/').to_string(),
                project_id,
                api_key,
                page_size: s.page_size,
                overlap: s.overlap,
                settle: s.settle,
                max_lateness: s.max_lateness,
                timeout: s.timeout,
                max_attempts: s.max_attempts,
                retry_budget: s.retry_budget,
                persons_per_query: s.persons_per_query.max(1) as usize,
                initial_days: s.initial_days,
                touch_events: s.touch_events.clone(),
                limits: Limits {
                    per_minute: rl.per_minute,
                    per_hour: rl.per_hour,
                    concurrency: rl.concurrency,
                },
            }),
            _ => Err(p),
        }
    }

    /// The instance, for messages.
    pub fn host(&self) -> &str {
        &self.host
    }
}
