//! What the report shows, independent of where it was read: credits per channel and model,
//! campaigns with their spend, the most frequent paths, conversions per day, and the recent
//! runs' quality. Both readers (local files, BigQuery) feed the same [`Aggregator`].

use std::collections::{BTreeMap, HashMap};

use crate::domain::money::Currency;
use crate::domain::time::{Date, Timestamp};
use crate::fx::Rates;

/// Money summed across rows: per currency, and in the reporting currency when one is set
/// (`None` there once a row had no exchange rate, never a guess).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Amount {
    pub by_currency: BTreeMap<String, i64>,
    pub reporting: Option<i64>,
}

impl Amount {
    /// Adds `micros` of `currency`; `converted` is the same in the reporting currency (the
    /// outer `None`: no reporting currency; the inner: no rate).
    fn add(&mut self, micros: i64, currency: &str, converted: Option<Option<i64>>, first: bool) {
        if !currency.is_empty() {
            *self.by_currency.entry(currency.to_string()).or_default() += micros;
        }
        if let Some(converted) = converted {
            self.reporting = match (first, self.reporting, converted) {
                (true, _, c) => c,
                (false, Some(a), Some(b)) => Some(a + b),
                _ => None,
            };
        }
    }
}

/// `micros` of `currency` on `day` in the reporting currency, when one is set.
fn convert(fx: Option<&Rates>, micros: i64, currency: &str, day: Date) -> Option<Option<i64>> {
    let fx = fx?;
    if micros == 0 {
        return Some(Some(0));
    }
    Some(
        Currency::parse(currency)
            .ok()
            .and_then(|c| fx.convert(micros, c, day)),
    )
}

/// Conversions and value one model credited.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Credited {
    pub conversions: f64,
    pub value: Amount,
    seen: bool,
}

impl Credited {
    fn add(&mut self, credit: f64, micros: i64, currency: &str, converted: Option<Option<i64>>) {
        self.conversions += credit;
        self.value.add(micros, currency, converted, !self.seen);
        self.seen = true;
    }
}

/// One channel's credit under every model.
#[derive(Debug, Clone, Default)]
pub struct ChannelRow {
    pub channel: String,
    pub by_model: BTreeMap<String, Credited>,
}

impl ChannelRow {
    /// Largest minus smallest conversions across the enabled models.
    pub fn spread(&self, models: &[String]) -> f64 {
        let v: Vec<f64> = models
            .iter()
            .map(|m| self.by_model.get(m).map_or(0.0, |c| c.conversions))
            .collect();
        let max = v.iter().cloned().fold(f64::MIN, f64::max);
        let min = v.iter().cloned().fold(f64::MAX, f64::min);
        if v.is_empty() {
            0.0
        } else {
            max - min
        }
    }
}

/// One campaign over the period.
#[derive(Debug, Clone, Default)]
pub struct CampaignRow {
    pub platform: String,
    pub campaign_id: String,
    pub name: Option<String>,
    pub spend: Amount,
    pub impressions: i64,
    pub clicks: i64,
    pub platform_conversions: f64,
    pub by_model: BTreeMap<String, Credited>,
    spend_seen: bool,
}

impl CampaignRow {
    /// The platform's conversions over attrsync's last-touch conversions (a platform counts
    /// every conversion its ads touched; above 1 it claims more than its last touches).
    pub fn over_claim(&self) -> Option<f64> {
        let lt = self.by_model.get("last_touch")?.conversions;
        (lt > 0.0).then(|| self.platform_conversions / lt)
    }
}

/// One frequent path.
#[derive(Debug, Clone, PartialEq)]
pub struct PathRow {
    /// Channels in time order, `a > b > c`.
    pub path: String,
    pub conversions: u64,
    pub median_touches: f64,
    /// Median seconds from the first touch in the window to the conversion.
    pub median_secs: Option<f64>,
}

/// A recent run, from the run store.
#[derive(Debug, Clone)]
pub struct RunRow {
    pub id: i64,
    pub job: String,
    pub status: String,
    pub finished_at: Option<Timestamp>,
    pub score: Option<f64>,
    pub verdict: Option<String>,
    /// (name, share) of the quality record's identity and coverage shares.
    pub shares: Vec<(String, f64)>,
    pub warnings: Vec<String>,
    pub unmatched_campaigns: Vec<String>,
    pub spend_matched_share: Option<f64>,
}

/// Everything on the page.
#[derive(Debug, Clone, Default)]
pub struct ReportData {
    pub generated_at: Timestamp,
    /// Where the numbers come from, for the header.
    pub sink: String,
    pub from: Option<Date>,
    pub to: Option<Date>,
    pub reporting: Option<Currency>,
    /// Models with credits, in the configured order.
    pub models: Vec<String>,
    /// The model of the day-by-day chart and the campaign CPA/ROAS.
    pub focus: String,
    pub channels: Vec<ChannelRow>,
    pub campaigns: Vec<CampaignRow>,
    /// The model the paths come from (one that credits every touch in the window).
    pub path_model: Option<String>,
    pub paths: Vec<PathRow>,
    /// Conversions whose path is shown in `paths` or not: all of the path model's.
    pub path_conversions: u64,
    /// Per day, conversions per channel under `focus`.
    pub daily: BTreeMap<Date, BTreeMap<String, f64>>,
    pub runs: Vec<RunRow>,
}

/// One credit as the readers see it.
#[derive(Debug, Clone)]
pub struct CreditIn<'a> {
    pub conversion_id: &'a str,
    pub converted_at: Timestamp,
    pub model: &'a str,
    pub channel: &'a str,
    /// When the credited touch happened; `None` for a conversion without touches.
    pub touched_at: Option<Timestamp>,
    pub credit: f64,
    pub value_micros: i64,
    pub currency: &'a str,
}

/// One campaign-day-model row of `campaign_performance`.
#[derive(Debug, Clone)]
pub struct CampaignIn<'a> {
    pub platform: &'a str,
    pub campaign_id: &'a str,
    pub name: Option<&'a str>,
    pub date: Date,
    pub model: Option<&'a str>,
    pub currency: Option<&'a str>,
    pub spend_micros: i64,
    pub impressions: i64,
    pub clicks: i64,
    pub platform_conversions: f64,
    pub attributed_conversions: f64,
    pub attributed_value_micros: i64,
    /// The view's reporting-currency columns (NULL where a rate was missing).
    pub spend_reporting_micros: Option<i64>,
    pub value_reporting_micros: Option<i64>,
}

/// Models that credit every touch of a conversion's window (so their credits give its path),
/// in order of preference.
pub const PATH_MODELS: [&str; 5] = [
    "linear",
    "position_based",
    "time_decay",
    "markov",
    "shapley",
];

/// Paths shown.
const TOP_PATHS: usize = 20;

/// The path of a conversion without touches in its window.
pub const NO_TOUCH: &str = "(no touch: direct)";

/// The conversion a path is being built for.
#[derive(Debug, Default)]
struct Journey {
    converted_at: Timestamp,
    touches: Vec<(Timestamp, String)>,
}

/// Sums rows into a [`ReportData`]; rows outside `[from, to]` (conversion or spend day) are
/// left out.
pub struct Aggregator<'f> {
    from: Option<Date>,
    to: Option<Date>,
    fx: Option<&'f Rates>,
    /// The models the run configured, in order.
    configured: Vec<String>,
    focus: Option<String>,
    path_model: Option<String>,
    channels: HashMap<(String, String), Credited>,
    seen_models: std::collections::BTreeSet<String>,
    daily: BTreeMap<Date, BTreeMap<String, f64>>,
    journeys: HashMap<String, Journey>,
    campaigns: BTreeMap<(String, String), CampaignRow>,
    spend_days: std::collections::HashSet<(String, String, Date)>,
    /// Path → (touches, seconds to convert) of each conversion that took it.
    paths: HashMap<String, (Vec<f64>, Vec<f64>)>,
}

impl<'f> Aggregator<'f> {
    /// `configured`: the enabled models in order; `focus`: the model of the daily chart.
    pub fn new(
        from: Option<Date>,
        to: Option<Date>,
        fx: Option<&'f Rates>,
        configured: Vec<String>,
        focus: Option<String>,
    ) -> Self {
        let path_model = PATH_MODELS
            .iter()
            .find(|m| configured.iter().any(|c| c == *m))
            .map(|m| m.to_string());
        let focus = focus.or_else(|| {
            ["last_touch"]
                .iter()
                .map(|m| m.to_string())
                .find(|m| configured.contains(m))
                .or_else(|| configured.first().cloned())
        });
        Self {
            from,
            to,
            fx,
            configured,
            focus,
            path_model,
            channels: HashMap::new(),
            seen_models: Default::default(),
            daily: BTreeMap::new(),
            journeys: HashMap::new(),
            campaigns: BTreeMap::new(),
            spend_days: Default::default(),
            paths: HashMap::new(),
        }
    }

    fn within(&self, d: Date) -> bool {
        self.from.is_none_or(|f| d >= f) && self.to.is_none_or(|t| d <= t)
    }

    /// The model whose credits give the paths, if any is enabled.
    pub fn path_model(&self) -> Option<&str> {
        self.path_model.as_deref()
    }

    /// The model of the daily chart.
    pub fn focus(&self) -> Option<&str> {
        self.focus.as_deref()
    }

    /// One credit row (the local sink reads them all).
    pub fn credit(&mut self, c: &CreditIn<'_>) {
        let day = c.converted_at.date();
        if !self.within(day) {
            return;
        }
        self.credit_sum(
            c.model,
            c.channel,
            day,
            c.currency,
            c.credit,
            c.value_micros,
        );
        if self.path_model.as_deref() == Some(c.model) {
            let j = self
                .journeys
                .entry(c.conversion_id.to_string())
                .or_default();
            j.converted_at = c.converted_at;
            if let Some(t) = c.touched_at {
                j.touches.push((t, c.channel.to_string()));
            }
        }
    }

    /// Credits of one model, channel, conversion day and currency, summed (BigQuery sums them
    /// in SQL).
    pub fn credit_sum(
        &mut self,
        model: &str,
        channel: &str,
        day: Date,
        currency: &str,
        credit: f64,
        value_micros: i64,
    ) {
        if !self.within(day) {
            return;
        }
        self.seen_models.insert(model.to_string());
        let converted = convert(self.fx, value_micros, currency, day);
        self.channels
            .entry((channel.to_string(), model.to_string()))
            .or_default()
            .add(credit, value_micros, currency, converted);
        if self.focus.as_deref() == Some(model) {
            *self
                .daily
                .entry(day)
                .or_default()
                .entry(channel.to_string())
                .or_default() += credit;
        }
    }

    /// One conversion's path under the path model, already built (BigQuery builds them in
    /// SQL): `touches` in its window, `secs` from the first to the conversion.
    pub fn journey(&mut self, path: String, touches: u64, secs: Option<f64>) {
        let g = self.paths.entry(path).or_default();
        g.0.push(touches as f64);
        if let Some(s) = secs {
            g.1.push(s.max(0.0));
        }
    }

    pub fn campaign(&mut self, r: &CampaignIn<'_>) {
        if !self.within(r.date) {
            return;
        }
        let row = self
            .campaigns
            .entry((r.platform.to_string(), r.campaign_id.to_string()))
            .or_insert_with(|| CampaignRow {
                platform: r.platform.to_string(),
                campaign_id: r.campaign_id.to_string(),
                ..Default::default()
            });
        if row.name.is_none() {
            row.name = r.name.map(String::from);
        }
        // The view repeats a day's spend on the row of every model: count it once.
        let day = (r.platform.to_string(), r.campaign_id.to_string(), r.date);
        if self.spend_days.insert(day) {
            if let Some(cur) = r.currency {
                let first = !row.spend_seen;
                let converted = self.fx.map(|_| r.spend_reporting_micros);
                row.spend.add(r.spend_micros, cur, converted, first);
                row.spend_seen = true;
            }
            row.impressions += r.impressions;
            row.clicks += r.clicks;
            row.platform_conversions += r.platform_conversions;
        }
        if let Some(m) = r.model {
            // The view sums credited value beside the spend's currency (ROAS divides them);
            // with a reporting currency its converted column is exact per credit.
            let cur = r.currency.unwrap_or_default();
            let converted = self.fx.map(|_| r.value_reporting_micros);
            row.by_model.entry(m.to_string()).or_default().add(
                r.attributed_conversions,
                r.attributed_value_micros,
                cur,
                converted,
            );
        }
    }

    /// The page's data; `runs` and the header fields are the caller's.
    pub fn finish(mut self) -> ReportData {
        for (_, mut j) in std::mem::take(&mut self.journeys) {
            j.touches.sort();
            let path = if j.touches.is_empty() {
                NO_TOUCH.to_string()
            } else {
                j.touches
                    .iter()
                    .map(|(_, c)| c.as_str())
                    .collect::<Vec<_>>()
                    .join(" > ")
            };
            let secs = j
                .touches
                .first()
                .map(|(first, _)| (j.converted_at.micros() - first.micros()) as f64 / 1e6);
            self.journey(path, j.touches.len() as u64, secs);
        }
        let models: Vec<String> = self
            .configured
            .iter()
            .filter(|m| self.seen_models.contains(*m))
            .cloned()
            .chain(
                self.seen_models
                    .iter()
                    .filter(|m| !self.configured.contains(m))
                    .cloned(),
            )
            .collect();
        let mut by_channel: BTreeMap<String, ChannelRow> = BTreeMap::new();
        for ((channel, model), c) in self.channels {
            by_channel
                .entry(channel.clone())
                .or_insert_with(|| ChannelRow {
                    channel,
                    ..Default::default()
                })
                .by_model
                .insert(model, c);
        }
        let mut channels: Vec<ChannelRow> = by_channel.into_values().collect();
        let total = |r: &ChannelRow| r.by_model.values().map(|c| c.conversions).sum::<f64>();
        channels.sort_by(|a, b| {
            total(b)
                .total_cmp(&total(a))
                .then(a.channel.cmp(&b.channel))
        });
        let mut campaigns: Vec<CampaignRow> = self.campaigns.into_values().collect();
        let spend = |r: &CampaignRow| {
            r.spend
                .reporting
                .unwrap_or_else(|| r.spend.by_currency.values().sum())
        };
        campaigns.sort_by(|a, b| {
            spend(b)
                .cmp(&spend(a))
                .then(a.platform.cmp(&b.platform))
                .then(a.campaign_id.cmp(&b.campaign_id))
        });
        let path_conversions = self.paths.values().map(|g| g.0.len() as u64).sum();
        let paths = top_paths(self.paths);
        ReportData {
            models,
            focus: self.focus.unwrap_or_default(),
            channels,
            campaigns,
            path_model: self.path_model,
            paths,
            path_conversions,
            daily: self.daily,
            from: self.from,
            to: self.to,
            reporting: self.fx.map(|f| f.reporting),
            ..Default::default()
        }
    }
}

fn median(v: &mut [f64]) -> Option<f64> {
    if v.is_empty() {
        return None;
    }
    v.sort_by(f64::total_cmp);
    let n = v.len();
    Some(if n % 2 == 1 {
        v[n / 2]
    } else {
        (v[n / 2 - 1] + v[n / 2]) / 2.0
    })
}

/// The most frequent paths, with the median touches and time to convert of each.
fn top_paths(groups: HashMap<String, (Vec<f64>, Vec<f64>)>) -> Vec<PathRow> {
    let mut rows: Vec<PathRow> = groups
        .into_iter()
        .map(|(path, (mut touches, mut secs))| PathRow {
            path,
            conversions: touches.len() as u64,
            median_touches: median(&mut touches).unwrap_or(0.0),
            median_secs: median(&mut secs),
        })
        .collect();
    rows.sort_by(|a, b| b.conversions.cmp(&a.conversions).then(a.path.cmp(&b.path)));
    rows.truncate(TOP_PATHS);
    rows
}

#[cfg(test)]
mod tests {
    use super::*;

    fn t(s: &str) -> Timestamp {
        Timestamp::parse(s).unwrap()
    }

    fn credit<'a>(
        conv: &'a str,
        at: &str,
        model: &'a str,
        channel: &'a str,
        touched: Option<&str>,
        credit: f64,
    ) -> CreditIn<'a> {
        CreditIn {
            conversion_id: conv,
            converted_at: t(at),
            model,
            channel,
            touched_at: touched.map(t),
            credit,
            value_micros: (credit * 10_000_000.0) as i64,
            currency: "USD",
        }
    }

    fn models() -> Vec<String> {
        vec!["last_touch".into(), "linear".into()]
    }

    #[test]
    fn credits_sum_per_channel_and_model_and_paths_come_from_linear() {
        let mut a = Aggregator::new(None, None, None, models(), None);
        for c in [
            credit(
                "c1",
                "2026-10-02T10:00:00Z",
                "last_touch",
                "email",
                Some("2026-10-02T09:00:00Z"),
                1.0,
            ),
            credit(
                "c1",
                "2026-10-02T10:00:00Z",
                "linear",
                "paid_search",
                Some("2026-10-01T10:00:00Z"),
                0.5,
            ),
            credit(
                "c1",
                "2026-10-02T10:00:00Z",
                "linear",
                "email",
                Some("2026-10-02T09:00:00Z"),
                0.5,
            ),
            credit(
                "c2",
                "2026-10-03T10:00:00Z",
                "last_touch",
                "direct",
                None,
                1.0,
            ),
            credit("c2", "2026-10-03T10:00:00Z", "linear", "direct", None, 1.0),
        ] {
            a.credit(&c);
        }
        assert_eq!(a.path_model(), Some("linear"));
        assert_eq!(a.focus(), Some("last_touch"));
        let d = a.finish();
        assert_eq!(d.models, models());
        let email = d.channels.iter().find(|c| c.channel == "email").unwrap();
        assert_eq!(email.by_model["last_touch"].conversions, 1.0);
        assert_eq!(email.by_model["linear"].conversions, 0.5);
        assert_eq!(email.by_model["linear"].value.by_currency["USD"], 5_000_000);
        assert_eq!(email.spread(&d.models), 0.5);
        assert_eq!(d.path_conversions, 2);
        let c1 = d
            .paths
            .iter()
            .find(|p| p.path == "paid_search > email")
            .unwrap();
        assert_eq!((c1.conversions, c1.median_touches), (1, 2.0));
        assert_eq!(c1.median_secs, Some(86_400.0));
        let c2 = d.paths.iter().find(|p| p.path == NO_TOUCH).unwrap();
        assert_eq!((c2.median_touches, c2.median_secs), (0.0, None));
        assert_eq!(
            d.daily.len(),
            2,
            "one day per conversion day under last_touch"
        );
    }

    #[test]
    fn a_period_leaves_other_days_out() {
        let day = Date::parse("2026-10-03").unwrap();
        let mut a = Aggregator::new(Some(day), Some(day), None, models(), None);
        a.credit(&credit(
            "c1",
            "2026-10-02T23:59:59Z",
            "linear",
            "email",
            None,
            1.0,
        ));
        a.credit(&credit(
            "c2",
            "2026-10-03T00:00:00Z",
            "linear",
            "email",
            None,
            1.0,
        ));
        let d = a.finish();
        assert_eq!(d.channels[0].by_model["linear"].conversions, 1.0);
        assert_eq!(d.path_conversions, 1);
    }

    fn perf<'a>(model: Option<&'a str>, date: &str, spend: i64, conv: f64) -> CampaignIn<'a> {
        CampaignIn {
            platform: "google_ads",
            campaign_id: "1",
            name: Some("Brand"),
            date: Date::parse(date).unwrap(),
            model,
            currency: Some("USD"),
            spend_micros: spend,
            impressions: 100,
            clicks: 10,
            platform_conversions: 6.0,
            attributed_conversions: conv,
            attributed_value_micros: 0,
            spend_reporting_micros: None,
            value_reporting_micros: None,
        }
    }

    #[test]
    fn a_days_spend_repeated_on_every_model_row_counts_once() {
        let mut a = Aggregator::new(None, None, None, models(), None);
        for row in [
            perf(Some("last_touch"), "2026-10-01", 5_000_000, 2.0),
            perf(Some("linear"), "2026-10-01", 5_000_000, 2.5),
            perf(Some("last_touch"), "2026-10-02", 7_000_000, 1.0),
            perf(Some("linear"), "2026-10-02", 7_000_000, 0.5),
        ] {
            a.campaign(&row);
        }
        let d = a.finish();
        let c = &d.campaigns[0];
        assert_eq!(c.spend.by_currency["USD"], 12_000_000);
        assert_eq!((c.clicks, c.platform_conversions), (20, 12.0));
        assert_eq!(c.by_model["last_touch"].conversions, 3.0);
        assert_eq!(c.over_claim(), Some(4.0));
    }

    #[test]
    fn a_missing_rate_leaves_the_reporting_sum_unknown() {
        let usd = Currency::parse("USD").unwrap();
        let mut fx = Rates::new(usd);
        fx.insert(crate::fx::Rate {
            date: Date::parse("2026-10-01").unwrap(),
            currency: Currency::parse("EUR").unwrap(),
            rate: 1.1,
        });
        let mut a = Aggregator::new(None, None, Some(&fx), models(), None);
        let mut c = credit("c1", "2026-10-02T10:00:00Z", "linear", "email", None, 1.0);
        c.currency = "EUR";
        a.credit(&c);
        let d = a.finish();
        assert_eq!(
            d.channels[0].by_model["linear"].value.reporting,
            Some(11_000_000)
        );
        let mut a = Aggregator::new(None, None, Some(&fx), models(), None);
        a.credit(&c);
        let mut gbp = credit("c2", "2026-10-02T10:00:00Z", "linear", "email", None, 1.0);
        gbp.currency = "GBP";
        a.credit(&gbp);
        let d = a.finish();
        assert_eq!(
            d.channels[0].by_model["linear"].value.reporting, None,
            "no GBP rate"
        );
    }
}
