//! Which sink runs, chosen by `sink.kind`; each kind carries its own validated settings.

use std::path::PathBuf;

use super::bigquery::{BigQueryConfig, BigQuerySink};
use super::local::LocalSink;
use super::AnySink;
use crate::config::{Problems, Settings, SinkKind};
use crate::domain::money::Currency;

/// The configured sink.
#[derive(Debug, Clone)]
pub enum SinkConfig {
    /// Files under a directory (`sink.dir`).
    Local {
        dir: PathBuf,
    },
    BigQuery(BigQueryConfig),
}

impl SinkConfig {
    /// The sink `sink.kind` selects, with its section checked.
    pub fn from_settings(s: &Settings) -> Result<Self, Problems> {
        match s.sink.kind {
            SinkKind::Local if s.sink.dir.as_os_str().is_empty() => {
                let mut p = Problems::default();
                p.bad(
                    "sink.dir",
                    "is empty; name the directory the tables go to (e.g. out)",
                );
                Err(p)
            }
            SinkKind::Local => Ok(SinkConfig::Local {
                dir: s.sink.dir.clone(),
            }),
            SinkKind::Bigquery => {
                BigQueryConfig::from_settings(&s.bigquery).map(SinkConfig::BigQuery)
            }
        }
    }

    /// Builds the sink (BigQuery connects and chooses its credentials here); `reporting` also
    /// converts `campaign_performance` sums to that currency.
    pub async fn build(&self, reporting: Option<Currency>) -> anyhow::Result<AnySink> {
        Ok(match self {
            SinkConfig::Local { dir } => {
                AnySink::Local(LocalSink::new(dir.clone()).with_reporting(reporting))
            }
            SinkConfig::BigQuery(c) => AnySink::BigQuery(Box::new(
                BigQuerySink::connect(c).await?.with_reporting(reporting),
            )),
        })
    }
}
