//! Credits in SQL, as `engine::attribute` makes them: the six rule-based models' weights
//! computed here, the data-driven models' read from `dd_weights` (see `paths.rs`); one row per conversion, model and touchpoint in the conversion's window (in
//! (time, uuid) order), or one `direct` row when the window is empty; each conversion's value
//! split over its touches by largest remainder so the parts sum to it exactly
//! (`engine::attribute::split_micros`). Result: the work table `credits`.
//!
//! Not yet: the rare float overshoot that `split_micros` takes back from the largest part.

use super::{exec, JobError, Work};
use crate::bigquery::Connection;
use crate::domain::touchpoint::DIRECT;
use crate::engine::models::RuleModel;

/// A float as SQL text that reads back as the same f64.
fn float(x: f64) -> String {
    format!("CAST('{x:?}' AS FLOAT64)")
}

/// A model's weight of touch `idx` (1-based) of `n`, over the window columns.
fn weight(m: &RuleModel) -> String {
    match *m {
        RuleModel::FirstTouch => "IF(idx = 1, 1.0, 0.0)".into(),
        RuleModel::LastTouch => "IF(idx = n, 1.0, 0.0)".into(),
        RuleModel::LastNonDirect => "IF(idx = IFNULL(last_nd, n), 1.0, 0.0)".into(),
        RuleModel::Linear => "1.0 / n".into(),
        RuleModel::TimeDecay { half_life_micros } => {
            let hl = float(half_life_micros.max(1) as f64);
            let raw = format!("POW(2.0, -CAST(age - min_age AS FLOAT64) / {hl})");
            format!("{raw} / SUM({raw}) OVER (PARTITION BY conversion_id)")
        }
        RuleModel::PositionBased { first, last } => {
            let total = first + last;
            let (f2, l2) = if total > 0.0 {
                (first / total, last / total)
            } else {
                (0.5, 0.5)
            };
            format!(
                "CASE WHEN n = 1 THEN 1.0 WHEN n = 2 THEN IF(idx = 1, {}, {}) \
                 WHEN idx = 1 THEN {} WHEN idx = n THEN {} \
                 ELSE ({} - {} - {}) / (n - 2) END",
                float(f2),
                float(l2),
                float(first),
                float(last),
                float(1.0),
                float(first),
                float(last)
            )
        }
    }
}

/// `CREATE OR REPLACE TABLE <work>credits` from `conversions` and `touchpoints`, and for the
/// `data_driven` models (`markov`, `shapley`) from `conv_paths` and `dd_weights`.
pub fn statement(w: &Work, models: &[RuleModel], data_driven: &[&str]) -> String {
    let mut per_model: Vec<String> = models
        .iter()
        .map(|m| {
            format!(
                "SELECT conversion_id, '{}' AS model, touchpoint_id, idx, {} AS credit FROM win",
                m.kind().as_str(),
                weight(m)
            )
        })
        .collect();
    if !data_driven.is_empty() {
        per_model.push(format!(
            "SELECT b.conversion_id, d.model, b.touchpoint_id, b.idx, d.weight AS credit \
             FROM win b JOIN {} cp ON cp.conversion_id = b.conversion_id \
             JOIN {} d ON d.path = cp.path AND d.idx = b.idx",
            w.t("conv_paths"),
            w.t("dd_weights")
        ));
    }
    let names: Vec<String> = models
        .iter()
        .map(|m| m.kind().as_str())
        .chain(data_driven.iter().copied())
        .map(|m| format!("'{m}'"))
        .collect();
    format!(
        "CREATE OR REPLACE TABLE {credits} AS \
         WITH base AS (SELECT c.conversion_id, t.touchpoint_id, t.channel, \
           ROW_NUMBER() OVER (PARTITION BY c.conversion_id ORDER BY t.touched_at, t.touchpoint_id) AS idx, \
           COUNT(*) OVER (PARTITION BY c.conversion_id) AS n, \
           UNIX_MICROS(c.converted_at) - UNIX_MICROS(t.touched_at) AS age \
           FROM {conv} c JOIN {tp} t ON t.person_key = c.person_key \
           AND UNIX_MICROS(t.touched_at) >= UNIX_MICROS(c.converted_at) - c.lookback \
           AND t.touched_at <= c.converted_at), \
         win AS (SELECT base.*, \
           MAX(IF(channel != '{direct}', idx, NULL)) OVER (PARTITION BY conversion_id) AS last_nd, \
           MIN(age) OVER (PARTITION BY conversion_id) AS min_age FROM base), \
         weighted AS ({per_model} \
           UNION ALL SELECT c.conversion_id, m AS model, CAST(NULL AS STRING) AS touchpoint_id, \
           1 AS idx, 1.0 AS credit FROM {conv} c CROSS JOIN UNNEST([{names}]) AS m \
           WHERE c.touchpoints_in_window = 0), \
         valued AS (SELECT x.*, c.value_micros, \
           CAST(ABS(c.value_micros) AS FLOAT64) * GREATEST(x.credit, 0.0) AS exact FROM weighted x \
           JOIN {conv} c ON c.conversion_id = x.conversion_id), \
         parts AS (SELECT valued.*, FLOOR(exact) AS part, exact - FLOOR(exact) AS rem FROM valued), \
         ranked AS (SELECT parts.*, \
           ABS(value_micros) - CAST(SUM(part) OVER (PARTITION BY conversion_id, model) AS INT64) AS left_over, \
           ROW_NUMBER() OVER (PARTITION BY conversion_id, model ORDER BY rem DESC, idx) AS place FROM parts) \
         SELECT CONCAT(r.conversion_id, ':', r.model, ':', IFNULL(r.touchpoint_id, 'direct')) AS row_key, \
           r.conversion_id, c.conversion_name, c.converted_at, c.person_key, r.model, r.touchpoint_id, \
           t.touched_at, IFNULL(t.channel, '{direct}') AS channel, t.platform, t.campaign, t.campaign_id, \
           r.credit, \
           IF(r.value_micros IS NULL, NULL, SIGN(r.value_micros) * \
             (CAST(r.part AS INT64) + IF(r.place <= r.left_over, 1, 0))) AS credited_value_micros, \
           c.currency \
         FROM ranked r JOIN {conv} c ON c.conversion_id = r.conversion_id \
         LEFT JOIN {tp} t ON t.touchpoint_id = r.touchpoint_id",
        credits = w.t("credits"),
        conv = w.t("conversions"),
        tp = w.t("touchpoints"),
        direct = DIRECT,
        per_model = per_model.join(" UNION ALL "),
        names = names.join(", "),
    )
}

/// Credits every conversion under the rule-based `models` and the fitted `data_driven` ones.
pub async fn credit(
    conn: &Connection,
    w: &Work,
    models: &[RuleModel],
    data_driven: &[&str],
) -> Result<(), JobError> {
    exec(conn, &statement(w, models, data_driven), &[]).await
}
