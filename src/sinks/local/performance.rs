//! The local sink's `campaign_performance.ndjson`: what BigQuery's `campaign_performance` view
//! computes, from the committed files, rebuilt after every cycle that has ad metrics. Latest
//! rows as the views keep them (ads: the newest run of a key; credits: the newest run of a
//! conversion and model), spend per platform, campaign and day joined with the credits every
//! model gave touchpoints of that campaign on that (conversion) day; a credit names its
//! campaign by id, else by name matched to the ad platform's campaign names.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::fs;
use std::io::Write;
use std::path::Path;

use anyhow::Context;
use serde::Deserialize;

use super::latest::{hash, newest_first};
use crate::domain::money::Currency;
use crate::domain::time::Date;
use crate::fx::{Rate, Rates};

/// The file name under the sink directory.
pub const FILE: &str = "campaign_performance.ndjson";

#[derive(Debug, Deserialize)]
struct AdRow {
    row_key: String,
    platform: String,
    campaign_id: String,
    #[serde(default)]
    campaign_name: Option<String>,
    date: String,
    currency: String,
    spend_micros: i64,
    #[serde(default)]
    impressions: i64,
    #[serde(default)]
    clicks: i64,
    #[serde(default)]
    platform_conversions: f64,
}

#[derive(Debug, Deserialize)]
struct FxRow {
    row_key: String,
    date: String,
    currency: String,
    reporting_currency: String,
    rate: f64,
}

#[derive(Debug, Deserialize)]
struct CreditRow {
    conversion_id: String,
    converted_at: String,
    model: String,
    #[serde(default)]
    platform: Option<String>,
    #[serde(default)]
    campaign: Option<String>,
    #[serde(default)]
    campaign_id: Option<String>,
    credit: f64,
    #[serde(default)]
    credited_value_micros: Option<i64>,
    #[serde(default)]
    currency: Option<String>,
}

/// (platform, campaign_id, date, model).
type CreditKey = (String, String, String, String);

/// What the credits of one key add up to.
#[derive(Debug, Default)]
struct Credited {
    conversions: f64,
    value: i64,
    name: Option<String>,
    /// The value in the reporting currency; `None` once a credit had no rate.
    value_reporting: Option<i64>,
}

/// The latest rates to the reporting currency from the `fx_rates` files.
pub fn rates(dir: &Path, reporting: Currency) -> anyhow::Result<Rates> {
    let mut out = Rates::new(reporting);
    newest_first(
        dir,
        "fx_rates",
        |r: &FxRow| hash(&[&r.row_key]),
        |r: FxRow| {
            if r.reporting_currency != reporting.as_str() {
                return;
            }
            if let (Ok(date), Ok(currency)) = (Date::parse(&r.date), Currency::parse(&r.currency)) {
                out.insert(Rate {
                    date,
                    currency,
                    rate: r.rate,
                });
            }
        },
    )?;
    Ok(out)
}

/// `micros` of `currency` (text) on `date` (text) in the reporting currency.
fn convert(fx: &Rates, micros: i64, currency: &str, date: &str) -> Option<i64> {
    let c = Currency::parse(currency).ok()?;
    let d = Date::parse(date).ok()?;
    fx.convert(micros, c, d)
}

#[derive(Debug, Default)]
struct Spend {
    name: Option<String>,
    currency: String,
    spend: i64,
    impressions: i64,
    clicks: i64,
    platform_conversions: f64,
}

/// Rebuilds the file when there are ad metrics; returns how many rows it holds. With a
/// reporting currency, spend and value are also converted at each day's rate (the latest
/// earlier one on days without): `*_reporting_*` columns, NULL where a rate is missing.
pub fn rebuild(dir: &Path, reporting: Option<Currency>) -> anyhow::Result<usize> {
    // (platform, campaign_id, date) → spend, across accounts.
    let mut spend: BTreeMap<(String, String, String), Spend> = BTreeMap::new();
    let mut by_name: HashMap<(String, String), String> = HashMap::new();
    let ad_files = newest_first(
        dir,
        "ad_metrics",
        |r: &AdRow| hash(&[&r.row_key]),
        |a: AdRow| {
            if let Some(n) = &a.campaign_name {
                by_name.insert(
                    (a.platform.clone(), n.to_lowercase()),
                    a.campaign_id.clone(),
                );
            }
            let s = spend
                .entry((a.platform, a.campaign_id, a.date))
                .or_default();
            s.name = s.name.take().or(a.campaign_name);
            s.currency = a.currency;
            s.spend += a.spend_micros;
            s.impressions += a.impressions;
            s.clicks += a.clicks;
            s.platform_conversions += a.platform_conversions;
        },
    )?;
    if ad_files == 0 {
        return Ok(0);
    }
    let fx = match reporting {
        Some(c) => Some(rates(dir, c)?),
        None => None,
    };
    let mut credited: BTreeMap<CreditKey, Credited> = BTreeMap::new();
    let mut models = BTreeSet::new();
    // A conversion re-attributed by a newer run replaces all its older credits of that model.
    newest_first(
        dir,
        "attribution_credits",
        |c: &CreditRow| hash(&[&c.conversion_id, &c.model]),
        |c: CreditRow| {
            models.insert(c.model.clone());
            let Some(p) = c.platform else { return };
            let id = c.campaign_id.clone().or_else(|| {
                c.campaign
                    .as_ref()
                    .and_then(|n| by_name.get(&(p.clone(), n.to_lowercase())).cloned())
            });
            let Some(id) = id.or_else(|| c.campaign.clone()) else {
                return;
            };
            let date = c.converted_at.get(..10).unwrap_or_default().to_string();
            let converted = match (&fx, c.credited_value_micros, c.currency.as_deref()) {
                (_, None, _) => Some(0),
                (Some(fx), Some(v), Some(cur)) => convert(fx, v, cur, &date),
                _ => None,
            };
            let new =
                !credited.contains_key(&(p.clone(), id.clone(), date.clone(), c.model.clone()));
            let e = credited.entry((p, id, date, c.model)).or_default();
            if new {
                e.value_reporting = Some(0);
            }
            e.conversions += c.credit;
            e.value += c.credited_value_micros.unwrap_or(0);
            e.value_reporting = e.value_reporting.zip(converted).map(|(a, b)| a + b);
            if e.name.is_none() {
                e.name = c.campaign;
            }
        },
    )?;
    let tmp = dir.join(format!("{FILE}.partial"));
    let mut out = std::io::BufWriter::new(
        fs::File::create(&tmp).with_context(|| format!("cannot create {}", tmp.display()))?,
    );
    let mut n = 0;
    let mut emit = |row: serde_json::Value| -> anyhow::Result<()> {
        serde_json::to_writer(&mut out, &row)?;
        out.write_all(b"\n")?;
        n += 1;
        Ok(())
    };
    // Spend shows even before any model credited anything.
    if models.is_empty() {
        models.insert(String::new());
    }
    let reporting_name = reporting.map(|c| c.as_str().to_string());
    let mut missing = BTreeSet::new();
    for ((p, id, date), s) in &spend {
        let spend_r = fx
            .as_ref()
            .and_then(|fx| convert(fx, s.spend, &s.currency, date));
        if fx.is_some() && spend_r.is_none() {
            missing.insert(format!("{} on {date}", s.currency));
        }
        for m in &models {
            let c = credited
                .remove(&(p.clone(), id.clone(), date.clone(), m.clone()))
                .unwrap_or(Credited {
                    value_reporting: Some(0),
                    ..Default::default()
                });
            let value_r = c.value_reporting.filter(|_| fx.is_some());
            emit(serde_json::json!({
                "platform": p, "campaign_id": id, "campaign_name": s.name, "date": date,
                "model": (!m.is_empty()).then_some(m),
                "currency": s.currency, "spend_micros": s.spend, "impressions": s.impressions, "clicks": s.clicks,
                "platform_conversions": s.platform_conversions,
                "attributed_conversions": c.conversions, "attributed_value_micros": c.value,
                "cpa_micros": (c.conversions > 0.0).then(|| s.spend as f64 / c.conversions),
                "roas": (s.spend > 0).then(|| c.value as f64 / s.spend as f64),
                "reporting_currency": reporting_name,
                "spend_reporting_micros": spend_r,
                "attributed_value_reporting_micros": value_r,
                "cpa_reporting_micros": spend_r.filter(|_| c.conversions > 0.0).map(|v| v as f64 / c.conversions),
                "roas_reporting": spend_r.zip(value_r).filter(|(s, _)| *s > 0).map(|(s, v)| v as f64 / s as f64),
            }))?;
        }
    }
    // Credited campaigns without spend rows (not pulled, or organic use of the tags).
    for ((p, id, date, m), c) in credited {
        emit(serde_json::json!({
            "platform": p, "campaign_id": id, "campaign_name": c.name, "date": date, "model": m,
            "currency": null, "spend_micros": 0, "impressions": null, "clicks": null, "platform_conversions": null,
            "attributed_conversions": c.conversions, "attributed_value_micros": c.value, "cpa_micros": null, "roas": null,
            "reporting_currency": reporting_name,
            "spend_reporting_micros": fx.as_ref().map(|_| 0),
            "attributed_value_reporting_micros": c.value_reporting.filter(|_| fx.is_some()),
            "cpa_reporting_micros": null, "roas_reporting": null,
        }))?;
    }
    if let (Some(r), false) = (&reporting_name, missing.is_empty()) {
        tracing::warn!(
            reporting_currency = %r,
            missing = %missing.iter().take(10).cloned().collect::<Vec<_>>().join(", "),
            days = missing.len(),
            "campaign_performance: no exchange rate for some spend; its reporting columns are null"
        );
    }
    let f = out.into_inner().map_err(|e| e.into_error())?;
    f.sync_all()?;
    fs::rename(&tmp, dir.join(FILE)).context("cannot replace campaign_performance.ndjson")?;
    Ok(n)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn write(dir: &Path, table: &str, run: u32, lines: &[serde_json::Value]) {
        let d = dir.join(table);
        fs::create_dir_all(&d).unwrap();
        let text: String = lines.iter().map(|l| format!("{l}\n")).collect();
        fs::write(d.join(format!("{run}.ndjson")), text).unwrap();
    }

    fn ad(spend: i64) -> serde_json::Value {
        serde_json::json!({"row_key": "google_ads:1:111:2024-06-01", "platform": "google_ads", "campaign_id": "111",
            "campaign_name": "Brand", "date": "2024-06-01", "currency": "USD", "spend_micros": spend, "pulled_at": "x"})
    }

    fn credit(
        conversion: &str,
        touch: &str,
        credit: f64,
        campaign: serde_json::Value,
    ) -> serde_json::Value {
        serde_json::json!({"row_key": format!("{conversion}:linear:{touch}"), "conversion_id": conversion,
            "converted_at": "2024-06-01T10:00:00Z", "model": "linear", "platform": "google_ads",
            "campaign": campaign, "credit": credit, "credited_value_micros": (credit * 10e6) as i64})
    }

    #[test]
    fn newest_pulls_and_newest_attributions_win() {
        let dir = tempfile::tempdir().unwrap();
        let d = dir.path();
        write(d, "ad_metrics", 2, &[ad(5_000_000)]);
        write(d, "ad_metrics", 10, &[ad(7_000_000)]);
        // Run 3 credits conversion c1 half to a Brand touch; run 11 re-attributes it wholly to
        // another Brand touch, so run 3's credit must not count.
        write(
            d,
            "attribution_credits",
            3,
            &[
                credit("c1", "t1", 0.5, "Brand".into()),
                credit("c2", "t9", 1.0, "brand".into()),
            ],
        );
        write(
            d,
            "attribution_credits",
            11,
            &[credit("c1", "t2", 1.0, "Brand".into())],
        );
        assert_eq!(rebuild(d, None).unwrap(), 1);
        let row: serde_json::Value =
            serde_json::from_str(fs::read_to_string(d.join(FILE)).unwrap().trim()).unwrap();
        assert_eq!(row["spend_micros"], 7_000_000, "the newest pull");
        assert_eq!(
            row["campaign_id"], "111",
            "credits matched by name, case-insensitively"
        );
        assert_eq!(
            row["attributed_conversions"], 2.0,
            "c1 once (run 11) and c2"
        );
        assert_eq!(row["cpa_micros"], 3_500_000.0);
    }

    #[test]
    fn reporting_columns_convert_at_the_days_rate_and_stay_null_without_one() {
        let dir = tempfile::tempdir().unwrap();
        let d = dir.path();
        let mut eur_day = ad(10_000_000);
        eur_day["currency"] = "EUR".into();
        let mut later = ad(20_000_000);
        later["row_key"] = "google_ads:1:111:2024-06-03".into();
        later["date"] = "2024-06-03".into();
        later["currency"] = "EUR".into();
        let mut gbp = ad(5_000_000);
        gbp["row_key"] = "google_ads:1:222:2024-06-01".into();
        gbp["campaign_id"] = "222".into();
        gbp["campaign_name"] = "Other".into();
        gbp["currency"] = "GBP".into();
        write(d, "ad_metrics", 1, &[eur_day, later, gbp]);
        // A rate on Friday 2024-05-31 only: Saturday and Monday take it.
        write(
            d,
            "fx_rates",
            2,
            &[
                serde_json::json!({"row_key": "USD:EUR:2024-05-31", "date": "2024-05-31", "currency": "EUR",
                "reporting_currency": "USD", "rate": 1.25, "source": "file"}),
            ],
        );
        let mut c = credit("c1", "t1", 1.0, "Brand".into());
        c["currency"] = "EUR".into();
        write(d, "attribution_credits", 3, &[c]);
        rebuild(d, Some(Currency::parse("USD").unwrap())).unwrap();
        let rows: Vec<serde_json::Value> = fs::read_to_string(d.join(FILE))
            .unwrap()
            .lines()
            .map(|l| serde_json::from_str(l).unwrap())
            .collect();
        let at = |id: &str, date: &str| {
            rows.iter()
                .find(|r| r["campaign_id"] == id && r["date"] == date)
                .unwrap()
        };
        let first = at("111", "2024-06-01");
        assert_eq!(first["spend_reporting_micros"], 12_500_000);
        assert_eq!(first["attributed_value_reporting_micros"], 12_500_000);
        assert_eq!(first["roas_reporting"], 1.0);
        assert_eq!(first["reporting_currency"], "USD");
        assert_eq!(
            at("111", "2024-06-03")["spend_reporting_micros"],
            25_000_000
        );
        let no_rate = at("222", "2024-06-01");
        assert!(
            no_rate["spend_reporting_micros"].is_null(),
            "never a silent 1.0"
        );
        assert_eq!(no_rate["spend_micros"], 5_000_000, "the original stays");
    }

    #[test]
    fn nothing_is_built_without_ad_metrics() {
        let dir = tempfile::tempdir().unwrap();
        write(
            dir.path(),
            "attribution_credits",
            1,
            &[credit("c1", "t1", 1.0, "Brand".into())],
        );
        assert_eq!(rebuild(dir.path(), None).unwrap(), 0);
        assert!(!dir.path().join(FILE).exists());
    }
}
