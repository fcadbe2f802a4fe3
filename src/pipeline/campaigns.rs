//! Spend coverage: which campaigns the events run saw touchpoints of, and how many
//! conversions it credited to each platform per day, so an ad run can say how much of its spend
//! is explained by tracked traffic and how its platform-reported conversions compare.

use std::collections::{BTreeMap, HashSet};

use serde::{Deserialize, Serialize};

use super::attribute::Attributed;
use crate::domain::ad_metric::AdMetricRow;
use crate::domain::attribution::ModelKind;
use crate::domain::platform::Platform;
use crate::domain::time::Date;

/// Unmatched campaigns listed in a run's quality record, at most.
const LIST_UNMATCHED: usize = 10;

/// What the latest events run knew about campaigns.
#[derive(Debug, Default, Clone)]
pub struct CampaignIndex {
    /// (platform, campaign id) and (platform, lower-cased campaign name) of every touchpoint.
    keys: HashSet<(Platform, String)>,
    /// Credits of the reference model per platform and conversion day (UTC).
    attributed: BTreeMap<(Platform, Date), f64>,
    /// The model the attributed conversions are counted under.
    pub model: Option<ModelKind>,
}

impl CampaignIndex {
    /// Indexes a run's touchpoints; conversions count under last_touch when it is enabled,
    /// else under the first model credited.
    pub fn from_attributed(att: &Attributed) -> Self {
        let mut keys = HashSet::new();
        for t in att.journeys.touchpoints() {
            let Some(p) = t.platform else { continue };
            if let Some(id) = t.campaign_id() {
                keys.insert((p, id.to_string()));
            }
            if let Some(name) = t.campaign() {
                keys.insert((p, name.to_lowercase()));
            }
        }
        let all = att
            .credited
            .iter()
            .flat_map(|c| c.credits.iter().map(|cr| cr.model));
        let model = all
            .clone()
            .find(|m| *m == ModelKind::LastTouch)
            .or_else(|| all.clone().next());
        let mut attributed = BTreeMap::new();
        for credited in &att.credited {
            let c = &att.conversions[credited.index];
            let journey = att.journeys.of(c.person_ix);
            for cr in credited.credits.iter().filter(|cr| Some(cr.model) == model) {
                let platform = cr
                    .touchpoint
                    .and_then(|u| journey.iter().find(|t| t.uuid == u))
                    .and_then(|t| t.platform);
                if let Some(p) = platform {
                    *attributed.entry((p, c.timestamp.date())).or_insert(0.0) += cr.credit;
                }
            }
        }
        Self {
            keys,
            attributed,
            model,
        }
    }

    /// Whether some touchpoint named the row's campaign (by id or by name).
    pub fn matches(&self, r: &AdMetricRow) -> bool {
        self.keys.contains(&(r.platform, r.campaign_id.clone()))
            || r.campaign_name
                .as_ref()
                .is_some_and(|n| self.keys.contains(&(r.platform, n.to_lowercase())))
    }

    fn attributed(&self, p: Platform, from: Date, to: Date) -> f64 {
        self.attributed
            .range((p, from)..=(p, to))
            .map(|(_, v)| v)
            .sum()
    }
}

/// Platform-reported conversions next to attributed ones over the same days.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct PlatformConversions {
    pub platform_conversions: f64,
    pub attributed_conversions: f64,
    pub model: String,
}

/// An ad run's spend in the reporting currency.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct ReportingSpend {
    pub currency: String,
    /// Spend converted at each row's day rate (rows without a rate left out).
    pub spend_reporting_micros: i64,
    pub matched_spend_reporting_micros: i64,
    /// `currency on date` of rows that had no rate.
    pub missing_rates: Vec<String>,
}

/// How much of an ad run's spend the tracked traffic explains.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct SpendCoverage {
    /// matched / total spend (in the reporting currency when one is set and every row has a
    /// rate; else micros summed across currencies; 1 when there was no spend).
    pub share: f64,
    pub spend_micros: i64,
    pub matched_spend_micros: i64,
    /// Campaigns with spend but no touchpoint (the first few).
    pub unmatched_campaigns: Vec<String>,
    pub platforms: BTreeMap<String, PlatformConversions>,
    /// The same in the reporting currency, when `reporting.currency` is set.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reporting: Option<ReportingSpend>,
}

impl SpendCoverage {
    pub fn measure(
        rows: &[AdMetricRow],
        index: &CampaignIndex,
        rates: Option<&crate::fx::Rates>,
    ) -> Self {
        let mut s = SpendCoverage::default();
        if let Some(fx) = rates {
            let mut r = ReportingSpend {
                currency: fx.reporting.as_str().to_string(),
                ..Default::default()
            };
            let mut missing = std::collections::BTreeSet::new();
            for row in rows {
                match fx.convert(row.spend_micros, row.currency, row.date) {
                    Some(v) => {
                        r.spend_reporting_micros += v;
                        if index.matches(row) {
                            r.matched_spend_reporting_micros += v;
                        }
                    }
                    None => {
                        missing.insert(format!("{} on {}", row.currency, row.date));
                    }
                }
            }
            r.missing_rates = missing.into_iter().take(LIST_UNMATCHED).collect();
            s.reporting = Some(r);
        }
        let mut unmatched: BTreeMap<String, i64> = BTreeMap::new();
        let mut span: BTreeMap<Platform, (Date, Date, f64)> = BTreeMap::new();
        for r in rows {
            s.spend_micros += r.spend_micros;
            if index.matches(r) {
                s.matched_spend_micros += r.spend_micros;
            } else if r.spend_micros > 0 {
                *unmatched
                    .entry(format!("{}:{}", r.platform, r.campaign_id))
                    .or_default() += r.spend_micros;
            }
            let e = span.entry(r.platform).or_insert((r.date, r.date, 0.0));
            e.0 = e.0.min(r.date);
            e.1 = e.1.max(r.date);
            e.2 += r.platform_conversions;
        }
        s.share = match &s.reporting {
            Some(r) if r.missing_rates.is_empty() && r.spend_reporting_micros > 0 => {
                r.matched_spend_reporting_micros as f64 / r.spend_reporting_micros as f64
            }
            _ if s.spend_micros == 0 => 1.0,
            _ => s.matched_spend_micros as f64 / s.spend_micros as f64,
        };
        let mut by_spend: Vec<(String, i64)> = unmatched.into_iter().collect();
        by_spend.sort_by(|a, b| b.1.cmp(&a.1).then_with(|| a.0.cmp(&b.0)));
        s.unmatched_campaigns = by_spend
            .into_iter()
            .take(LIST_UNMATCHED)
            .map(|(k, _)| k)
            .collect();
        let model = index
            .model
            .map(|m| m.as_str().to_string())
            .unwrap_or_default();
        for (p, (from, to, reported)) in span {
            s.platforms.insert(
                p.as_str().to_string(),
                PlatformConversions {
                    platform_conversions: reported,
                    attributed_conversions: index.attributed(p, from, to),
                    model: model.clone(),
                },
            );
        }
        s
    }
}
