//! The exchange-rate job (`fx:ecb` or `fx:file`), run before the ad accounts each cycle when
//! `reporting.currency` is set: fetch the rates (the ECB at most once a day per process, a file
//! when it changed), write them to `fx_rates`, and keep them for the ad runs' spend quality.

use std::sync::{Arc, Mutex};
use std::time::Instant;

use anyhow::Context;

use super::error::{Cycled, Failed, Failure};
use super::quality::Quality;
use super::rows::{self, RowMeta};
use super::{load, Outcome, Pipeline, RunError, RunSummary};
use crate::config::{FxSettings, FxSource};
use crate::domain::ids::RunId;
use crate::domain::money::Currency;
use crate::domain::time::{Date, Timestamp};
use crate::fx::Rates;
use crate::sinks::{Sink, Table};
use crate::sources::Source;
use crate::store::{CursorPosition, RunStore, Trigger};

/// The cursor partition of the fx job.
pub const FX_PARTITION: &str = "fx";

/// What the fx job needs, and the rates it keeps.
#[derive(Debug)]
pub struct FxJob {
    pub reporting: Currency,
    pub settings: FxSettings,
    pub http: reqwest::Client,
    /// The newest rates, for the ad runs of this process.
    pub rates: Mutex<Option<Arc<Rates>>>,
}

impl FxJob {
    pub fn new(reporting: Currency, settings: FxSettings) -> anyhow::Result<Self> {
        Ok(Self {
            reporting,
            http: crate::http::build_client(settings.timeout)?,
            settings,
            rates: Mutex::default(),
        })
    }

    pub fn job(&self) -> String {
        match self.settings.source {
            FxSource::Ecb => "fx:ecb".into(),
            FxSource::File => "fx:file".into(),
        }
    }

    fn source_name(&self) -> &'static str {
        match self.settings.source {
            FxSource::Ecb => "ecb",
            FxSource::File => "file",
        }
    }

    /// The rates kept in memory, if any.
    pub fn current(&self) -> Option<Arc<Rates>> {
        self.rates.lock().expect("fx lock").clone()
    }

    /// Fetches the rates; `first` reads the ECB's whole history (for older ad days).
    async fn fetch(&self, first: bool) -> anyhow::Result<Rates> {
        match self.settings.source {
            FxSource::Ecb => {
                let url = if first {
                    &self.settings.ecb_history_url
                } else {
                    &self.settings.ecb_url
                };
                let per_eur = crate::fx::ecb::fetch(&self.http, url).await?;
                Ok(Rates::from_euro(self.reporting, &per_eur))
            }
            FxSource::File => {
                let path = self.settings.path.clone();
                let reporting = self.reporting;
                tokio::task::spawn_blocking(move || crate::fx::file::read(&path, reporting))
                    .await
                    .context("the rate file reader panicked")?
            }
        }
    }
}

/// A stable fingerprint of rates (FNV-1a over their text).
fn fingerprint(r: &Rates) -> String {
    let h = r.all().fold(0xcbf2_9ce4_8422_2325u64, |h, x| {
        format!("{}{}{}\n", x.date, x.currency.as_str(), x.rate)
            .bytes()
            .fold(h, |h, b| (h ^ b as u64).wrapping_mul(0x100_0000_01b3))
    });
    format!("{h:016x}")
}

impl<S: Source + Sync, K: Sink + Sync, R: RunStore> Pipeline<S, K, R> {
    /// One run of the exchange-rate job, when a reporting currency is configured.
    pub async fn run_fx(&self, trigger: Trigger) -> Option<(String, Result<Outcome, RunError>)> {
        let fx = self.fx.as_ref()?;
        let job = fx.job();
        let started = Instant::now();
        let result = self
            .run_job(&job, trigger, |run, _| {
                self.fx_cycle(fx, run, &job, started)
            })
            .await;
        super::run_metrics::record_run(&job, &result, started.elapsed());
        Some((job, result))
    }

    async fn fx_cycle(
        &self,
        fx: &FxJob,
        run: RunId,
        job: &str,
        started: Instant,
    ) -> Result<Cycled, Failed> {
        let mut summary = RunSummary::new(run, job);
        let stored = match self.store.cursor(job, FX_PARTITION).await {
            Ok(c) => c,
            Err(e) => {
                return Err(Failed::new(
                    Failure::of(e, "reading the fx cursor"),
                    summary,
                ))
            }
        };
        let done = |summary: RunSummary, position: String| Cycled {
            window: (None, summary.window_end),
            summary,
            cursor: Some(CursorPosition::new(job, FX_PARTITION, position)),
        };
        // Cursor: `<day fetched>:<latest rate day written>:<fingerprint>`.
        let mut parts = stored.as_deref().unwrap_or_default().splitn(3, ':');
        let (fetched, written, print) = (
            parts.next().and_then(|d| Date::parse(d).ok()),
            parts.next().and_then(|d| Date::parse(d).ok()),
            parts.next().unwrap_or_default().to_string(),
        );
        let today = Timestamp::now().date();
        let have = fx.current();
        let held = self.sink.holds(Table::FxRates).await;
        if fx.settings.source == FxSource::Ecb && fetched == Some(today) && have.is_some() && held {
            tracing::info!("exchange rates already fetched today");
            summary.rows_by_table.insert(Table::FxRates, 0);
            summary.duration = started.elapsed();
            return Ok(done(summary, stored.unwrap_or_default()));
        }
        let rates = match fx.fetch(stored.is_none()).await {
            Ok(r) => r,
            Err(e) => {
                let f = Failure::transient(e.context("fetching exchange rates"));
                return Err(Failed::new(f, summary));
            }
        };
        if rates.is_empty() {
            let cause = anyhow::anyhow!(
                "the exchange rates hold no rate to {}; check fx.source and reporting.currency",
                fx.reporting
            );
            return Err(Failed::new(Failure::permanent(cause), summary));
        }
        let print_now = fingerprint(&rates);
        // A changed file is written whole; the ECB feed only from its new days on.
        let since = match fx.settings.source {
            FxSource::File if print_now != print => None,
            _ if print.is_empty() || !held => None,
            _ => written,
        };
        let meta = RowMeta {
            run_id: run,
            loaded_at: Timestamp::now(),
        };
        let encoded = rates
            .all()
            .filter(|r| since.is_none_or(|s| r.date > s))
            .map(|r| rows::fx_rate(&r, fx.reporting, fx.source_name(), meta))
            .collect();
        let loaded = match load::write_table(&self.sink, run, Table::FxRates, encoded).await {
            Ok(l) => l,
            Err(e) => return Err(Failed::new(Failure::of(e, "load failed"), summary)),
        };
        let latest = rates.latest();
        summary
            .rows_by_table
            .insert(Table::FxRates, loaded.acknowledged);
        let quality =
            Quality::for_ads_table(Table::FxRates, loaded.counts(), loaded.checksum.finish());
        let failed = quality.failure();
        summary.quality = Some(quality);
        if let Some(f) = failed {
            return Err(Failed::new(f, summary));
        }
        if let Err(e) = self.sink.commit(run, job).await {
            return Err(Failed::new(Failure::of(e, "load failed"), summary));
        }
        summary.window_end = latest.map(|d| Timestamp::start_of(d.add_days(1)));
        summary.cursor = latest.map(|d| format!("rates through {d}"));
        summary.duration = started.elapsed();
        *fx.rates.lock().expect("fx lock") = Some(Arc::new(rates));
        let written_through = latest
            .max(written)
            .map(|d| d.to_string())
            .unwrap_or_default();
        Ok(done(
            summary,
            format!("{today}:{written_through}:{print_now}"),
        ))
    }
}
