//! Touchpoints in SQL, as `engine::touchpoints::classify` makes them: each session start's
//! source and medium (UTM tags, else the click id's network, else the external referrer),
//! the channel of the first matching `[[channels.rules]]` rule (compiled into one CASE, each
//! pattern a regular expression), and the ad platform. Result: the work table `touchpoints`
//! with the columns of the warehouse table (without `run_id` and `loaded_at`) and whether it
//! is `fresh` (this cycle writes it).
//!
//! Not yet: text capped at 2,048 bytes (`domain::event::MAX_TEXT`); domains are lower-cased
//! in full Unicode where the engine lowers ASCII only.

use super::expr::{lit, referring_domain, strip_www, url_host};
use super::stage::column;
use super::{exec, JobError, Work};
use crate::bigquery::Connection;
use crate::domain::event::MASKED;
use crate::domain::platform::{ClickIdKind, Platform};
use crate::domain::touchpoint::UNASSIGNED;
use crate::engine::channels::ChannelSpec;

/// Whether `expr` matches the glob `pattern` (`*` any text; case-insensitive pattern against
/// lower-case text), as `engine::glob::Glob` matches.
fn glob(expr: &str, pattern: &str) -> String {
    let p = pattern.to_lowercase();
    let parts: Vec<String> = p
        .split('*')
        .filter(|s| !s.is_empty())
        .map(|part| {
            part.chars()
                .map(|c| {
                    if c.is_ascii_alphanumeric() || !c.is_ascii() {
                        c.to_string()
                    } else {
                        format!("\\{c}")
                    }
                })
                .collect()
        })
        .collect();
    let (start, end) = (!p.starts_with('*'), !p.ends_with('*'));
    if parts.is_empty() {
        return if start {
            format!("({expr} = '')")
        } else {
            "TRUE".into()
        };
    }
    let re = format!(
        "(?s){}{}{}",
        if start { "^" } else { "" },
        parts.join(".*"),
        if end { "$" } else { "" }
    );
    format!("REGEXP_CONTAINS({expr}, {})", lit(&re))
}

fn any_glob(expr: &str, patterns: &[String]) -> String {
    if patterns.is_empty() {
        return "FALSE".into();
    }
    let terms: Vec<String> = patterns.iter().map(|p| glob(expr, p)).collect();
    format!("({})", terms.join(" OR "))
}

/// The channel of the first rule that matches, or `unassigned`.
fn channel_case(spec: &ChannelSpec) -> String {
    let mut whens = Vec::new();
    for r in &spec.rules {
        let mut conds = Vec::new();
        if let Some(d) = r.direct {
            conds.push(format!("is_direct = {d}"));
        }
        if let Some(x) = r.referrer {
            conds.push(format!("(referring IS NOT NULL) = {x}"));
        }
        if !r.click_ids.is_empty() {
            let kinds: Vec<String> = r
                .click_ids
                .iter()
                .filter_map(|c| ClickIdKind::from_param(c))
                .map(|k| lit(k.param()))
                .collect();
            conds.push(format!("click_kind IN ({})", kinds.join(", ")));
        }
        if !r.source.is_empty() {
            conds.push(any_glob("source", &r.source));
        }
        if !r.source_category.is_empty() {
            let pats: Vec<String> = r
                .source_category
                .iter()
                .flat_map(|c| spec.source_categories.get(c).cloned().unwrap_or_default())
                .collect();
            conds.push(any_glob("source", &pats));
        }
        if !r.medium.is_empty() {
            conds.push(any_glob("medium", &r.medium));
        }
        if !r.campaign.is_empty() {
            conds.push(any_glob("u_campaign", &r.campaign));
        }
        let cond = if conds.is_empty() {
            "TRUE".to_string()
        } else {
            conds.join(" AND ")
        };
        whens.push(format!("WHEN {cond} THEN {}", lit(&r.channel)));
    }
    format!("CASE {} ELSE {} END", whens.join(" "), lit(UNASSIGNED))
}

/// The ad platform: the click id's, else on a paid channel the first platform whose sources
/// match.
fn platform_case(spec: &ChannelSpec) -> String {
    let mut whens: Vec<String> = ClickIdKind::ALL
        .iter()
        .map(|k| {
            format!(
                "WHEN click_kind = {} THEN {}",
                lit(k.param()),
                lit(k.platform().as_str())
            )
        })
        .collect();
    let paid: Vec<String> = spec.paid_channels.iter().map(|c| lit(c)).collect();
    if !paid.is_empty() {
        for (name, pats) in &spec.platform_sources {
            if let Some(p) = Platform::parse(name) {
                whens.push(format!(
                    "WHEN channel IN ({}) AND {} THEN {}",
                    paid.join(", "),
                    any_glob("source", pats),
                    lit(p.as_str())
                ));
            }
        }
    }
    format!("CASE {} ELSE NULL END", whens.join(" "))
}

/// `CREATE OR REPLACE TABLE <work>touchpoints` from `starts` and `person_keys`.
pub fn statement(w: &Work, spec: &ChannelSpec) -> String {
    let click_kind = ClickIdKind::ALL
        .iter()
        .map(|k| {
            format!(
                "WHEN {} IS NOT NULL THEN {}",
                column(k.param()),
                lit(k.param())
            )
        })
        .collect::<Vec<_>>()
        .join(" ");
    let click_value = ClickIdKind::ALL
        .iter()
        .map(|k| column(k.param()))
        .collect::<Vec<_>>()
        .join(", ");
    let click_source = ClickIdKind::ALL
        .iter()
        .map(|k| {
            let network = match k.platform() {
                Platform::GoogleAds => "google",
                Platform::Meta => "facebook",
                Platform::MicrosoftAds => "bing",
                Platform::LinkedinAds => "linkedin",
                Platform::TiktokAds => "tiktok",
                Platform::XAds => "twitter",
                Platform::RedditAds => "reddit",
            };
            format!("WHEN click_kind = {} THEN {}", lit(k.param()), lit(network))
        })
        .collect::<Vec<_>>()
        .join(" ");
    let referring_domain = format!("LOWER({})", referring_domain());
    let internal = |e: &str| any_glob(e, &spec.internal_domains);
    let search: Vec<String> = spec
        .source_categories
        .get("search")
        .cloned()
        .unwrap_or_default();
    // `WHERE TRUE`: BigQuery takes QUALIFY only beside a WHERE, GROUP BY or HAVING clause.
    format!(
        "CREATE OR REPLACE TABLE {tp} AS \
         WITH s AS (SELECT * FROM {starts} WHERE TRUE QUALIFY ROW_NUMBER() OVER (PARTITION BY uuid ORDER BY ts) = 1), \
         a AS (SELECT s.*, {landing} AS landing_host, {referring_domain} AS ref_lower, \
           CASE {click_kind} ELSE NULL END AS click_kind, COALESCE({click_value}) AS click_value, \
           NULLIF(LOWER(TRIM(utm_source)), '') AS u_source, NULLIF(LOWER(TRIM(utm_medium)), '') AS u_medium, \
           IFNULL(LOWER(TRIM(utm_campaign)), '') AS u_campaign FROM s), \
         b AS (SELECT a.*, IF(ref_lower IS NULL OR {int_full} OR {int_bare} \
           OR IFNULL(landing_host = {bare}, FALSE), NULL, ref_lower) AS referring FROM a), \
         c AS (SELECT b.*, (u_source IS NOT NULL OR u_medium IS NOT NULL OR u_campaign != '') AS has_utm, \
           COALESCE(u_source, CASE {click_source} ELSE NULL END, {ref_bare}, '(direct)') AS source FROM b), \
         d AS (SELECT c.*, COALESCE(u_medium, IF(click_kind IS NOT NULL, 'cpc', NULL), \
           IF(has_utm, '(not set)', NULL), IF(referring IS NOT NULL AND {search}, 'organic', NULL), \
           IF(referring IS NOT NULL, 'referral', NULL), '(none)') AS medium, \
           (click_kind IS NULL AND NOT has_utm AND referring IS NULL) AS is_direct FROM c), \
         e AS (SELECT d.*, {channel} AS channel FROM d), \
         f AS (SELECT e.*, {platform} AS platform FROM e) \
         SELECT f.uuid AS touchpoint_id, f.ts AS touched_at, \
           COALESCE(k.person_key, f.distinct_id) AS person_key, f.session_id, f.channel, \
           f.platform, f.source, f.medium, f.utm_campaign AS campaign, \
           f.utm_id AS campaign_id, f.utm_content AS content, f.utm_term AS term, \
           f.click_kind AS click_id_type, \
           IF(f.click_kind IS NULL, NULL, f.click_value = {masked}) AS click_id_masked, \
           f.referring AS referring_domain, f.current_url AS landing_url, f.fresh \
         FROM f LEFT JOIN {keys} k ON k.distinct_id = f.distinct_id",
        tp = w.t("touchpoints"),
        starts = w.t("starts"),
        keys = w.t("person_keys"),
        landing = strip_www(&format!("LOWER({})", url_host("current_url"))),
        int_full = internal("ref_lower"),
        int_bare = internal(&strip_www("ref_lower")),
        bare = strip_www("ref_lower"),
        ref_bare = strip_www("referring"),
        search = any_glob("source", &search),
        channel = channel_case(spec),
        platform = platform_case(spec),
        masked = lit(MASKED),
    )
}

/// Classifies the session starts into `touchpoints`.
pub async fn classify(conn: &Connection, w: &Work, spec: &ChannelSpec) -> Result<(), JobError> {
    exec(conn, &statement(w, spec), &[]).await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn globs_become_anchored_expressions() {
        assert_eq!(glob("m", "*cp*"), "REGEXP_CONTAINS(m, '(?s)cp')");
        assert_eq!(glob("m", "paid*"), "REGEXP_CONTAINS(m, '(?s)^paid')");
        assert_eq!(glob("m", "PPC"), "REGEXP_CONTAINS(m, '(?s)^ppc$')");
        assert_eq!(
            glob("s", "*.google.*"),
            "REGEXP_CONTAINS(s, '(?s)\\\\.google\\\\.')"
        );
        assert_eq!(glob("s", "*"), "TRUE");
        assert_eq!(glob("s", ""), "(s = '')");
    }
}
