//! Identity resolution in SQL, as `engine::identity` does it in memory: session starts
//! (`starts`), the distinct ids that matter (those of starts, conversions and links), joined by
//! `$identify` / `$create_alias` / `$merge_dangerously` links and by a shared `person_id` (the
//! first one an id's events carry). Connected components are found by propagating the smallest
//! label until nothing changes (a script loop: identity graphs are shallow, so few rounds).
//! A group's key is its smallest person_id, else its smallest identified distinct_id, else its
//! smallest distinct_id. Result: the work table `person_keys(distinct_id, person_key)`.
//!
//! Not yet: the stitching property, and conversion property filters / bad values (a conversion
//! event always counts here).

use super::expr::{link_pairs, referring_domain};
use super::stage::column;
use super::{count, exec, JobError, Work};
use crate::bigquery::{Connection, Param};
use crate::sources::columns::signal_properties;

/// Statements that set up the graph (after staging). Parameter: `@conversion_events`.
fn setup(w: &Work) -> Vec<String> {
    let campaign: Vec<String> = signal_properties()
        .map(|p| format!("{} IS NOT NULL", column(p)))
        .collect();
    let referring = referring_domain();
    let (ev, starts, links) = (w.t("ev"), w.t("starts"), w.t("links"));
    let (nodes, first_person, edges) = (w.t("nodes"), w.t("first_person"), w.t("edges"));
    vec![
        // The first event of each session, and every sessionless event with a signal.
        format!(
            "CREATE OR REPLACE TABLE {starts} AS \
             SELECT * FROM {ev} WHERE session_id IS NOT NULL AND distinct_id IS NOT NULL \
             QUALIFY ROW_NUMBER() OVER (PARTITION BY session_id ORDER BY ts, uuid) = 1 \
             UNION ALL SELECT * FROM {ev} WHERE session_id IS NULL AND distinct_id IS NOT NULL \
             AND ({} OR {referring} IS NOT NULL)",
            campaign.join(" OR ")
        ),
        format!(
            "CREATE OR REPLACE TABLE {links} AS \
             SELECT DISTINCT LEAST(a, b) AS a, GREATEST(a, b) AS b FROM ({}) \
             WHERE a IS NOT NULL AND b IS NOT NULL AND a != b",
            link_pairs(&ev)
        ),
        format!(
            "CREATE OR REPLACE TABLE {} AS SELECT DISTINCT distinct_id FROM {ev} \
             WHERE event = '$identify' AND distinct_id IS NOT NULL",
            w.t("identified")
        ),
        format!(
            "CREATE OR REPLACE TABLE {nodes} AS SELECT DISTINCT id FROM (\
             SELECT distinct_id AS id FROM {starts} \
             UNION ALL SELECT distinct_id FROM {ev} \
             WHERE event IN UNNEST(@conversion_events) AND distinct_id IS NOT NULL \
             UNION ALL SELECT a FROM {links} UNION ALL SELECT b FROM {links})"
        ),
        format!(
            "CREATE OR REPLACE TABLE {first_person} AS SELECT distinct_id, person_id FROM {ev} \
             WHERE person_id IS NOT NULL AND distinct_id IS NOT NULL \
             QUALIFY ROW_NUMBER() OVER (PARTITION BY distinct_id ORDER BY ts, uuid) = 1"
        ),
        format!(
            "CREATE OR REPLACE TABLE {edges} AS \
             SELECT CONCAT('d:', a) AS x, CONCAT('d:', b) AS y FROM {links} \
             UNION ALL SELECT x, y FROM (SELECT CONCAT('d:', a) AS y, CONCAT('d:', b) AS x FROM {links}) \
             UNION ALL SELECT CONCAT('d:', n.id), CONCAT('p:', f.person_id) \
             FROM {nodes} n JOIN {first_person} f ON f.distinct_id = n.id \
             UNION ALL SELECT CONCAT('p:', f.person_id), CONCAT('d:', n.id) \
             FROM {nodes} n JOIN {first_person} f ON f.distinct_id = n.id"
        ),
        format!(
            "CREATE OR REPLACE TABLE {} AS SELECT node, node AS label FROM (\
             SELECT CONCAT('d:', id) AS node FROM {nodes} UNION DISTINCT SELECT y FROM {edges})",
            w.t("lab")
        ),
    ]
}

/// One round of label propagation into `lab2`, the count of labels it changed, and the
/// statement that adopts it.
fn round(w: &Work) -> [String; 3] {
    let (lab, lab2, edges) = (w.t("lab"), w.t("lab2"), w.t("edges"));
    [
        format!(
            "CREATE OR REPLACE TABLE {lab2} AS \
             SELECT l.node, LEAST(l.label, IFNULL(MIN(n.label), l.label)) AS label \
             FROM {lab} l LEFT JOIN {edges} e ON e.x = l.node LEFT JOIN {lab} n ON n.node = e.y \
             GROUP BY l.node, l.label"
        ),
        format!(
            "SELECT COUNT(*) FROM {lab2} b JOIN {lab} a ON a.node = b.node WHERE a.label != b.label"
        ),
        format!("CREATE OR REPLACE TABLE {lab} AS SELECT node, label FROM {lab2}"),
    ]
}

/// Each group's key, for every distinct id.
fn keys(w: &Work) -> String {
    format!(
        "CREATE OR REPLACE TABLE {} AS \
         WITH ranked AS (SELECT l.label, SUBSTR(l.node, 3) AS text, \
         CASE WHEN STARTS_WITH(l.node, 'p:') THEN 0 WHEN i.distinct_id IS NOT NULL THEN 1 ELSE 2 END AS rnk \
         FROM {lab} l LEFT JOIN {identified} i ON CONCAT('d:', i.distinct_id) = l.node), \
         best AS (SELECT label, MIN(text) AS person_key FROM (SELECT label, text, rnk, \
         MIN(rnk) OVER (PARTITION BY label) AS top FROM ranked) WHERE rnk = top GROUP BY label) \
         SELECT SUBSTR(l.node, 3) AS distinct_id, b.person_key FROM {lab} l JOIN best b ON b.label = l.label \
         WHERE STARTS_WITH(l.node, 'd:')",
        w.t("person_keys"),
        lab = w.t("lab"),
        identified = w.t("identified"),
    )
}

/// Resolves the staged events' identities into `person_keys`; returns the rounds it took.
pub async fn resolve(
    conn: &Connection,
    w: &Work,
    conversion_events: &[String],
) -> Result<u32, JobError> {
    let params = [Param::StringArray(
        "conversion_events",
        conversion_events.to_vec(),
    )];
    for sql in setup(w) {
        exec(conn, &sql, &params).await?;
    }
    let [propagate, changed, adopt] = round(w);
    let mut rounds = 0;
    loop {
        rounds += 1;
        exec(conn, &propagate, &[]).await?;
        if count(conn, &changed).await? == 0 {
            break;
        }
        exec(conn, &adopt, &[]).await?;
    }
    exec(conn, &keys(w), &[]).await?;
    Ok(rounds)
}
