//! Conversions in SQL, as `domain::conversion::ConversionRules::matches` finds them: the first
//! configured conversion whose event and property filters match, its value in micros and its
//! currency (the currency property, else the definition's default), the person's key, and how
//! many of the person's touchpoints fall in its lookback window. Result: the work table
//! `conversions` with the columns of the warehouse table (without `run_id` and `loaded_at`) and
//! each conversion's `lookback` in microseconds (for the credits) and whether it is `fresh`
//! (this cycle writes it).
//!
//! Not yet: values are read through FLOAT64 and rounded half away from zero (the engine reads
//! decimals exactly, half to even), and an event whose value or currency does not parse is
//! dropped here only from conversions (the engine skips it altogether).

use super::expr::lit;
use super::{exec, JobError, Work};
use crate::bigquery::Connection;
use crate::domain::conversion::ConversionRules;

fn slot(s: u16) -> String {
    format!("x{s}")
}

/// The index of the first conversion definition a staged event matches, else NULL.
pub fn matching(rules: &ConversionRules) -> String {
    let mut which = Vec::new();
    for (i, d) in rules.defs.iter().enumerate() {
        let mut cond = vec![format!("event = {}", lit(&d.event))];
        for (s, accepted) in &d.filters {
            let vals: Vec<String> = accepted.iter().map(|a| lit(a)).collect();
            cond.push(format!("{} IN ({})", slot(*s), vals.join(", ")));
        }
        which.push(format!("WHEN {} THEN {i}", cond.join(" AND ")));
    }
    if which.is_empty() {
        return "CAST(NULL AS INT64)".into();
    }
    format!("CASE {} ELSE NULL END", which.join(" "))
}

/// `CREATE OR REPLACE TABLE <work>conversions` from `ev`, `person_keys` and `touchpoints`;
/// `lookbacks[i]` is definition i's lookback in microseconds.
pub fn statement(w: &Work, rules: &ConversionRules, lookbacks: &[i64]) -> String {
    let (mut names, mut values, mut currencies, mut windows) =
        (Vec::new(), Vec::new(), Vec::new(), Vec::new());
    for (i, d) in rules.defs.iter().enumerate() {
        names.push(format!("WHEN {i} THEN {}", lit(&d.name)));
        if let Some(v) = d.value_slot {
            values.push(format!("WHEN {i} THEN {}", slot(v)));
            let cur = d
                .currency_slot
                .map(|c| format!("UPPER(TRIM({}))", slot(c)))
                .unwrap_or_else(|| "NULL".into());
            currencies.push(format!(
                "WHEN {i} THEN COALESCE({cur}, {})",
                lit(d.default_currency.as_str())
            ));
        }
        windows.push(format!(
            "WHEN {i} THEN {}",
            lookbacks.get(i).copied().unwrap_or(0)
        ));
    }
    let case = |arms: &[String], expr: &str| {
        if arms.is_empty() {
            "NULL".to_string()
        } else {
            format!("CASE {expr} {} ELSE NULL END", arms.join(" "))
        }
    };
    format!(
        "CREATE OR REPLACE TABLE {conv} AS \
         WITH m AS (SELECT * FROM (SELECT ev.*, {which} AS def FROM {ev} ev \
           WHERE distinct_id IS NOT NULL) WHERE def IS NOT NULL), \
         v AS (SELECT m.uuid, m.ts, m.event, m.def, m.distinct_id, m.fresh, \
           {value} AS value_text, {currency} AS currency, {window} AS lookback FROM m), \
         c AS (SELECT v.uuid AS conversion_id, {name} AS conversion_name, v.event AS conversion_event, \
           v.ts AS converted_at, COALESCE(k.person_key, v.distinct_id) AS person_key, \
           CAST(ROUND(SAFE_CAST(TRIM(v.value_text) AS FLOAT64) * 1000000) AS INT64) AS value_micros, \
           IF(v.value_text IS NULL, NULL, v.currency) AS currency, v.lookback, v.fresh \
           FROM v LEFT JOIN {keys} k ON k.distinct_id = v.distinct_id), \
         n AS (SELECT c.conversion_id, COUNT(t.touchpoint_id) AS touchpoints_in_window FROM c \
           LEFT JOIN {tp} t ON t.person_key = c.person_key \
           AND UNIX_MICROS(t.touched_at) >= UNIX_MICROS(c.converted_at) - c.lookback \
           AND t.touched_at <= c.converted_at GROUP BY c.conversion_id) \
         SELECT c.conversion_id, c.conversion_name, c.conversion_event, c.converted_at, \
           c.person_key, c.value_micros, c.currency, n.touchpoints_in_window, c.lookback, c.fresh \
         FROM c JOIN n ON n.conversion_id = c.conversion_id",
        conv = w.t("conversions"),
        ev = w.t("ev"),
        keys = w.t("person_keys"),
        tp = w.t("touchpoints"),
        which = matching(rules),
        value = case(&values, "m.def"),
        currency = case(&currencies, "m.def"),
        window = case(&windows, "m.def"),
        name = case(&names, "v.def"),
    )
}

/// Finds the staged events' conversions.
pub async fn find(
    conn: &Connection,
    w: &Work,
    rules: &ConversionRules,
    lookbacks: &[i64],
) -> Result<(), JobError> {
    exec(conn, &statement(w, rules, lookbacks), &[]).await
}
