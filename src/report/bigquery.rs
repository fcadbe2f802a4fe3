//! The report's rows from BigQuery, summed where they live: credits per model, channel, day and
//! currency, one path per conversion of the path model, and `campaign_performance`; only
//! committed runs' rows (the `_latest` views).

use serde_json::Value;

use super::data::{Aggregator, CampaignIn, NO_TOUCH};
use crate::domain::money::Currency;
use crate::domain::time::Date;
use crate::fx::{Rate, Rates};
use crate::sinks::bigquery::BigQuerySink;

fn text(v: &Value) -> Option<&str> {
    v.as_str()
}

fn int(v: &Value) -> i64 {
    v.as_str().and_then(|s| s.parse().ok()).unwrap_or(0)
}

fn float(v: &Value) -> f64 {
    v.as_str().and_then(|s| s.parse().ok()).unwrap_or(0.0)
}

fn opt_int(v: &Value) -> Option<i64> {
    v.as_str().and_then(|s| s.parse().ok())
}

/// `@from` and `@to` as DATE parameters (open ends as the calendar's ends).
fn bounds(from: Option<Date>, to: Option<Date>) -> [(&'static str, &'static str, String); 2] {
    [
        (
            "from",
            "DATE",
            from.map_or("0001-01-01".into(), |d| d.to_string()),
        ),
        (
            "to",
            "DATE",
            to.map_or("9999-12-31".into(), |d| d.to_string()),
        ),
    ]
}

/// The exchange rates to `reporting` the sink holds.
pub async fn rates(sink: &BigQuerySink, reporting: Currency) -> anyhow::Result<Rates> {
    let sql = format!(
        "SELECT CAST(date AS STRING), currency, rate FROM {} WHERE reporting_currency = @r",
        sink.qualified("fx_rates_latest")
    );
    let mut out = Rates::new(reporting);
    let params = [("r", "STRING", reporting.as_str().to_string())];
    for r in sink.rows(&sql, &params).await? {
        let (Some(d), Some(c)) = (text(&r[0]), text(&r[1])) else {
            continue;
        };
        if let (Ok(date), Ok(currency)) = (Date::parse(d), Currency::parse(c)) {
            out.insert(Rate {
                date,
                currency,
                rate: float(&r[2]),
            });
        }
    }
    Ok(out)
}

/// Feeds the sums of the dataset's committed rows to `agg`.
pub async fn read(
    sink: &BigQuerySink,
    agg: &mut Aggregator<'_>,
    from: Option<Date>,
    to: Option<Date>,
    reporting: bool,
) -> anyhow::Result<()> {
    let params = bounds(from, to);
    let credits = sink.qualified("attribution_credits_latest");
    let sql = format!(
        "SELECT model, channel, CAST(DATE(converted_at) AS STRING) AS day, IFNULL(currency, '') AS currency, \
         SUM(credit), SUM(IFNULL(credited_value_micros, 0)) FROM {credits} \
         WHERE DATE(converted_at) BETWEEN @from AND @to GROUP BY model, channel, day, currency"
    );
    for r in sink.rows(&sql, &params).await? {
        let (Some(model), Some(channel), Some(day)) = (text(&r[0]), text(&r[1]), text(&r[2]))
        else {
            continue;
        };
        let Ok(day) = Date::parse(day) else { continue };
        let currency = text(&r[3]).unwrap_or_default();
        agg.credit_sum(model, channel, day, currency, float(&r[4]), int(&r[5]));
    }
    if let Some(model) = agg.path_model().map(String::from) {
        // One row per conversion: its channels in time order, touches, seconds to convert.
        let sql = format!(
            "SELECT IF(COUNTIF(touched_at IS NOT NULL) = 0, @none, \
             STRING_AGG(IF(touched_at IS NULL, NULL, channel), ' > ' ORDER BY touched_at, channel)), \
             COUNTIF(touched_at IS NOT NULL), \
             TIMESTAMP_DIFF(MAX(converted_at), MIN(touched_at), MICROSECOND) \
             FROM {credits} WHERE model = @model AND DATE(converted_at) BETWEEN @from AND @to \
             GROUP BY conversion_id"
        );
        let mut p = params.to_vec();
        p.push(("model", "STRING", model));
        p.push(("none", "STRING", NO_TOUCH.to_string()));
        for r in sink.rows(&sql, &p).await? {
            let Some(path) = text(&r[0]) else { continue };
            let secs = opt_int(&r[2]).map(|us| us as f64 / 1e6);
            agg.journey(path.to_string(), int(&r[1]) as u64, secs);
        }
    }
    let reporting_cols = if reporting {
        "spend_reporting_micros, attributed_value_reporting_micros"
    } else {
        "NULL, NULL"
    };
    let sql = format!(
        "SELECT platform, campaign_id, campaign_name, CAST(date AS STRING), model, currency, \
         spend_micros, impressions, clicks, platform_conversions, attributed_conversions, \
         attributed_value_micros, {reporting_cols} FROM {} WHERE date BETWEEN @from AND @to",
        sink.qualified("campaign_performance")
    );
    for r in sink.rows(&sql, &params).await? {
        let (Some(platform), Some(id), Some(day)) = (text(&r[0]), text(&r[1]), text(&r[3])) else {
            continue;
        };
        let Ok(date) = Date::parse(day) else { continue };
        agg.campaign(&CampaignIn {
            platform,
            campaign_id: id,
            name: text(&r[2]),
            date,
            model: text(&r[4]),
            currency: text(&r[5]),
            spend_micros: int(&r[6]),
            impressions: int(&r[7]),
            clicks: int(&r[8]),
            platform_conversions: float(&r[9]),
            attributed_conversions: float(&r[10]),
            attributed_value_micros: int(&r[11]),
            spend_reporting_micros: opt_int(&r[12]),
            value_reporting_micros: opt_int(&r[13]),
        });
    }
    Ok(())
}
