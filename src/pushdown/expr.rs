//! SQL expressions more than one step needs, each mirroring the engine function it names.

/// A SQL string literal.
pub fn lit(s: &str) -> String {
    format!("'{}'", s.replace('\\', "\\\\").replace('\'', "\\'"))
}

/// The host of a URL, as `domain::event::url_host` cuts it.
pub fn url_host(expr: &str) -> String {
    format!("NULLIF(REGEXP_EXTRACT({expr}, r'^(?:.*?://)?(?:[^/?#]*@)?([^:/?#]*)'), '')")
}

/// `expr` without a leading `www.`.
pub fn strip_www(expr: &str) -> String {
    format!("IF(STARTS_WITH({expr}, 'www.'), SUBSTR({expr}, 5), {expr})")
}

/// A staged event's referring domain, as `RawProps::referring_domain` reads it:
/// `$referring_domain`, else the lower-cased host of `$referrer`; NULL for `$direct`.
pub fn referring_domain() -> String {
    format!(
        "(CASE WHEN referring_domain = '$direct' THEN NULL \
         WHEN referring_domain IS NOT NULL THEN referring_domain \
         WHEN referrer = '$direct' THEN NULL ELSE LOWER({}) END)",
        url_host("referrer")
    )
}

/// The distinct-id pairs that `$identify`, `$create_alias` and `$merge_dangerously` events of
/// the staged table `ev` link (`a`, `b`; either may be NULL), as `Extract::absorb` reads them.
pub fn link_pairs(ev: &str) -> String {
    format!(
        "SELECT distinct_id AS a, anon_distinct_id AS b FROM {ev} WHERE event = '$identify' \
         UNION ALL SELECT distinct_id, alias FROM {ev} \
         WHERE event IN ('$create_alias', '$merge_dangerously')"
    )
}
