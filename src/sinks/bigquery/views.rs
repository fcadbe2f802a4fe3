//! The analyst views: `<table>_latest` (one row per key, newest wins, committed runs only) and
//! `campaign_performance` (spend next to attributed conversions and value, per model).

use super::schema::TABLES;
use crate::sinks::Table;

/// `CREATE OR REPLACE VIEW` statements, fully qualified (`project.dataset.name`). With a
/// reporting currency, `campaign_performance` also converts spend and value to it.
pub fn statements(
    project: &str,
    dataset: &str,
    reporting: Option<crate::domain::money::Currency>,
) -> Vec<(String, String)> {
    let q = |name: &str| format!("`{project}.{dataset}.{name}`");
    // Only rows of runs that committed (a row in `runs`) are seen.
    let committed = |name: &str| {
        format!(
            "(SELECT * FROM {} WHERE run_id IN (SELECT run_id FROM {}))",
            q(name),
            q(super::schema::RUNS_TABLE)
        )
    };
    let mut out = Vec::new();
    for t in TABLES {
        let name = t.table.name();
        let body = match t.table {
            // A conversion re-attributed later (backfill) replaces all of its older credits,
            // also those whose touchpoint is no longer in the new window.
            Table::AttributionCredits => format!(
                "SELECT * EXCEPT(rn, newest) FROM (SELECT *, \
                 ROW_NUMBER() OVER (PARTITION BY row_key ORDER BY loaded_at DESC) AS rn, \
                 MAX(loaded_at) OVER (PARTITION BY conversion_id, model) AS newest FROM {}) \
                 WHERE rn = 1 AND loaded_at = newest",
                committed(name)
            ),
            Table::AdMetrics => format!(
                "SELECT * EXCEPT(rn) FROM (SELECT *, ROW_NUMBER() OVER (PARTITION BY row_key \
                 ORDER BY pulled_at DESC, loaded_at DESC) AS rn FROM {}) WHERE rn = 1",
                committed(name)
            ),
            _ => format!(
                "SELECT * EXCEPT(rn) FROM (SELECT *, ROW_NUMBER() OVER (PARTITION BY row_key \
                 ORDER BY loaded_at DESC) AS rn FROM {}) WHERE rn = 1",
                committed(name)
            ),
        };
        let view = format!("{name}_latest");
        out.push((
            view.clone(),
            format!("CREATE OR REPLACE VIEW {} AS {body}", q(&view)),
        ));
    }
    out.push((
        "campaign_performance".into(),
        format!(
            "CREATE OR REPLACE VIEW {} AS {}",
            q("campaign_performance"),
            campaign_performance(&q, reporting)
        ),
    ));
    out
}

/// Spend per platform, campaign and day next to the conversions and value every model credits
/// to touchpoints of that campaign (by conversion date). Touchpoints name a campaign by
/// `utm_id` (matched to campaign_id) or `utm_campaign` (matched to the campaign name). Before
/// any model has credited anything, spend still shows, with `model` NULL. With a reporting
/// currency, spend and each credit's value are converted at the rate of their day (else the
/// latest earlier rate); a missing rate leaves the reporting column NULL, never 1.0.
fn campaign_performance(
    q: &dyn Fn(&str) -> String,
    reporting: Option<crate::domain::money::Currency>,
) -> String {
    // A validated three-letter code: safe to write into the view's text.
    let rc = reporting.map_or("NULL".to_string(), |c| format!("'{}'", c.as_str()));
    let conv = |amount: &str, currency: &str| {
        format!(
            "CASE WHEN {amount} IS NULL THEN NULL WHEN {currency} = {rc} THEN {amount} \
             ELSE CAST(ROUND({amount} * fx.rate) AS INT64) END"
        )
    };
    // The rate of a day: the latest at or before it (`until` is the next rate's day).
    let fx_join = |currency: &str, day: &str| {
        format!(
            "LEFT JOIN fx ON fx.currency = {currency} AND {day} >= fx.date \
             AND (fx.until IS NULL OR {day} < fx.until)"
        )
    };
    format!(
        "WITH fx AS ( \
           SELECT currency, date, rate, LEAD(date) OVER (PARTITION BY currency ORDER BY date) AS until \
           FROM {fx_rates} WHERE reporting_currency = {rc}), \
         spend AS ( \
           SELECT platform, campaign_id, ANY_VALUE(campaign_name) AS campaign_name, date, currency, \
                  SUM(spend_micros) AS spend_micros, SUM(impressions) AS impressions, SUM(clicks) AS clicks, \
                  SUM(platform_conversions) AS platform_conversions \
           FROM {ads} GROUP BY platform, campaign_id, date, currency), \
         spend_r AS ( \
           SELECT s.*, {spend_conv} AS spend_reporting_micros FROM spend s {spend_join}), \
         names AS (SELECT DISTINCT platform, campaign_id, LOWER(campaign_name) AS name FROM {ads}), \
         credits_r AS ( \
           SELECT cr.*, {value_conv} AS value_reporting, \
                  (cr.credited_value_micros IS NOT NULL AND ({rc} IS NULL OR \
                   (cr.currency != {rc} AND fx.rate IS NULL))) AS no_rate \
           FROM {credits} cr {credit_join}), \
         credits AS ( \
           SELECT cr.platform, COALESCE(cr.campaign_id, n.campaign_id) AS campaign_id, \
                  ANY_VALUE(cr.campaign) AS campaign, DATE(cr.converted_at) AS date, cr.model, \
                  SUM(cr.credit) AS conversions, SUM(cr.credited_value_micros) AS value_micros, \
                  IF(LOGICAL_OR(cr.no_rate), NULL, IFNULL(SUM(cr.value_reporting), 0)) AS value_reporting_micros \
           FROM credits_r cr LEFT JOIN names n \
             ON n.platform = cr.platform AND cr.campaign_id IS NULL AND n.name = LOWER(cr.campaign) \
           WHERE cr.platform IS NOT NULL \
           GROUP BY cr.platform, COALESCE(cr.campaign_id, n.campaign_id), DATE(cr.converted_at), cr.model), \
         models AS (SELECT DISTINCT model FROM {credits} \
           UNION ALL SELECT CAST(NULL AS STRING) AS model FROM (SELECT 1 AS one) \
           WHERE NOT EXISTS (SELECT 1 FROM {credits})), \
         grid AS (SELECT s.*, m.model FROM spend_r s CROSS JOIN models m) \
         SELECT COALESCE(g.platform, c.platform) AS platform, \
                COALESCE(g.campaign_id, c.campaign_id) AS campaign_id, \
                COALESCE(g.campaign_name, c.campaign) AS campaign_name, \
                COALESCE(g.date, c.date) AS date, COALESCE(g.model, c.model) AS model, \
                g.currency AS currency, IFNULL(g.spend_micros, 0) AS spend_micros, \
                g.impressions AS impressions, g.clicks AS clicks, g.platform_conversions AS platform_conversions, \
                IFNULL(c.conversions, 0) AS attributed_conversions, \
                IFNULL(c.value_micros, 0) AS attributed_value_micros, \
                SAFE_DIVIDE(g.spend_micros, c.conversions) AS cpa_micros, \
                SAFE_DIVIDE(c.value_micros, g.spend_micros) AS roas, \
                CAST({rc} AS STRING) AS reporting_currency, \
                IF(g.platform IS NULL AND {rc} IS NOT NULL, 0, g.spend_reporting_micros) AS spend_reporting_micros, \
                IF(c.platform IS NULL AND {rc} IS NOT NULL, 0, c.value_reporting_micros) AS attributed_value_reporting_micros, \
                SAFE_DIVIDE(g.spend_reporting_micros, c.conversions) AS cpa_reporting_micros, \
                SAFE_DIVIDE(c.value_reporting_micros, g.spend_reporting_micros) AS roas_reporting \
         FROM grid g FULL OUTER JOIN credits c \
           ON c.platform = g.platform AND c.campaign_id = g.campaign_id AND c.date = g.date AND c.model = g.model",
        ads = q("ad_metrics_latest"),
        credits = q("attribution_credits_latest"),
        fx_rates = q("fx_rates_latest"),
        spend_conv = conv("s.spend_micros", "s.currency"),
        spend_join = fx_join("s.currency", "s.date"),
        value_conv = conv("cr.credited_value_micros", "cr.currency"),
        credit_join = fx_join("cr.currency", "DATE(cr.converted_at)"),
    )
}
