//! Hash maps for the hot paths: foldhash is several times faster than SipHash on short string
//! keys and still seeded per map, so crafted ids cannot force collisions.

/// A `HashMap` with foldhash.
pub type FastMap<K, V> = std::collections::HashMap<K, V, foldhash::fast::RandomState>;
/// A `HashSet` with foldhash.
pub type FastSet<K> = std::collections::HashSet<K, foldhash::fast::RandomState>;
