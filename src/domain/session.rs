//! Session starts as a run holds them: the first event of each session (or a session-less
//! event with a marketing signal), its texts packed in one allocation, and the table that keeps
//! the earliest start of each session id while events stream past.

use std::hash::BuildHasher;

use hashbrown::HashTable;

use super::event::{capped, ClickId, RawProps, MASKED};
use super::ids::Uuid;
use super::texts::Texts;
use super::time::Timestamp;

/// An event's position in the stream: (timestamp, uuid), the cursor order.
pub type Position = (Timestamp, Uuid);

const DISTINCT_ID: usize = 0;
const SESSION_ID: usize = 1;
const CURRENT_URL: usize = 2;
const REFERRING_DOMAIN: usize = 3;
const UTM_SOURCE: usize = 4;
const UTM_MEDIUM: usize = 5;
const UTM_CAMPAIGN: usize = 6;
const UTM_CONTENT: usize = 7;
const UTM_TERM: usize = 8;
const UTM_ID: usize = 9;

/// The first event of a session (or a session-less event with a marketing signal) and its
/// marketing signals, each text capped at [`super::event::MAX_TEXT`] bytes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SessionStart {
    pub uuid: Uuid,
    pub timestamp: Timestamp,
    /// The first click id present, by priority.
    pub click: Option<ClickId>,
    /// Read in this run's new range, so no earlier run wrote it (see
    /// [`super::extract::Extract`]).
    pub fresh: bool,
    texts: Texts<10>,
}

impl SessionStart {
    /// The start an event makes, and how many of its texts were cut to the cap.
    pub fn new(
        (timestamp, uuid): Position,
        distinct_id: &str,
        session_id: Option<&str>,
        props: &RawProps<'_>,
        fresh: bool,
    ) -> (Self, u64) {
        let referring = props.referring_domain();
        let mut fields = [
            Some(distinct_id),
            session_id,
            props.current_url.as_deref(),
            referring.as_deref(),
            props.utm_source.as_deref(),
            props.utm_medium.as_deref(),
            props.utm_campaign.as_deref(),
            props.utm_content.as_deref(),
            props.utm_term.as_deref(),
            props.utm_id.as_deref(),
        ];
        let mut cut = 0u64;
        // Every text but the distinct id is capped.
        for f in fields.iter_mut().skip(1).flatten() {
            let (t, c) = capped(f);
            cut += c as u64;
            *f = t;
        }
        let texts = Texts::new(fields);
        let click = props.click_id().map(|(kind, v)| ClickId {
            kind,
            masked: v == MASKED,
        });
        let start = SessionStart {
            uuid,
            timestamp,
            click,
            fresh,
            texts,
        };
        (start, cut)
    }

    pub fn position(&self) -> Position {
        (self.timestamp, self.uuid)
    }

    pub fn distinct_id(&self) -> &str {
        self.texts.get(DISTINCT_ID).unwrap_or_default()
    }

    pub fn session_id(&self) -> Option<&str> {
        self.texts.get(SESSION_ID)
    }

    pub fn current_url(&self) -> Option<&str> {
        self.texts.get(CURRENT_URL)
    }

    /// `$referring_domain`, else the host of `$referrer`; absent for `$direct`.
    pub fn referring_domain(&self) -> Option<&str> {
        self.texts.get(REFERRING_DOMAIN)
    }

    pub fn utm_source(&self) -> Option<&str> {
        self.texts.get(UTM_SOURCE)
    }

    pub fn utm_medium(&self) -> Option<&str> {
        self.texts.get(UTM_MEDIUM)
    }

    pub fn utm_campaign(&self) -> Option<&str> {
        self.texts.get(UTM_CAMPAIGN)
    }

    pub fn utm_content(&self) -> Option<&str> {
        self.texts.get(UTM_CONTENT)
    }

    pub fn utm_term(&self) -> Option<&str> {
        self.texts.get(UTM_TERM)
    }

    pub fn utm_id(&self) -> Option<&str> {
        self.texts.get(UTM_ID)
    }
}

/// The earliest start of each session id. The id is read from the start itself, so it is
/// stored once (a map keyed by it would hold every id twice).
///
/// The starts sit in a vector in arrival order and the table holds (hash, index) pairs: a
/// table of the starts themselves (104 bytes each) grew by rehashing every start, reading each
/// one's id again, and the two readers' tables merged in 1.4 s of one thread at 2.2 M sessions;
/// pairs of 8 bytes rehash from the stored hash.
#[derive(Default)]
pub struct Sessions {
    table: HashTable<(u32, u32)>,
    starts: Vec<SessionStart>,
    hasher: foldhash::fast::RandomState,
}

impl std::fmt::Debug for Sessions {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Sessions")
            .field("len", &self.starts.len())
            .finish()
    }
}

/// The table's hash of a stored 32-bit hash (both halves, so its top bits and its low bits
/// are the hash's).
fn full(h: u32) -> u64 {
    (u64::from(h) << 32) | u64::from(h)
}

impl Sessions {
    pub fn len(&self) -> usize {
        self.starts.len()
    }

    pub fn is_empty(&self) -> bool {
        self.starts.is_empty()
    }

    fn hash(&self, sid: &str) -> u32 {
        self.hasher.hash_one(sid) as u32
    }

    /// The index of the start kept for `sid` (already capped), hashed `h`.
    fn find(&self, h: u32, sid: &str) -> Option<usize> {
        self.table
            .find(full(h), |&(eh, i)| {
                eh == h && self.starts[i as usize].session_id() == Some(sid)
            })
            .map(|&(_, i)| i as usize)
    }

    /// The start kept for session `sid`. Ids are kept capped like every text (two sessions
    /// whose ids agree in their first 2,048 bytes are one session).
    pub fn get(&self, sid: &str) -> Option<&SessionStart> {
        let sid = capped(sid).0;
        self.find(self.hash(sid), sid).map(|i| &self.starts[i])
    }

    /// Whether an event at `pos` of session `sid` would replace what is kept (it is the first
    /// seen, or earlier than the kept one): callers build a start only then.
    pub fn wants(&self, sid: &str, pos: Position) -> bool {
        self.get(sid).is_none_or(|cur| pos < cur.position())
    }

    /// Keeps `start` if it is its session's earliest so far.
    ///
    /// # Panics
    /// When `start` has no session id, or past 2^32 sessions.
    pub fn offer(&mut self, start: SessionStart) {
        let sid = start.session_id().expect("a session start with its id");
        let h = self.hash(sid);
        let Self { table, starts, .. } = self;
        let entry = table.entry(
            full(h),
            |&(eh, i)| eh == h && starts[i as usize].session_id() == Some(sid),
            |&(eh, _)| full(eh),
        );
        match entry {
            hashbrown::hash_table::Entry::Occupied(e) => {
                let cur = &mut starts[e.get().1 as usize];
                if start.position() < cur.position() {
                    *cur = start;
                }
            }
            hashbrown::hash_table::Entry::Vacant(e) => {
                let i = u32::try_from(starts.len()).expect("under 2^32 sessions");
                e.insert((h, i));
                starts.push(start);
            }
        }
    }

    pub fn iter(&self) -> impl Iterator<Item = &SessionStart> {
        self.starts.iter()
    }

    /// Room for `more` sessions without rehashing or moving the starts.
    pub fn reserve(&mut self, more: usize) {
        self.table.reserve(more, |&(eh, _)| full(eh));
        self.starts.reserve(more);
    }
}

impl IntoIterator for Sessions {
    type Item = SessionStart;
    type IntoIter = std::vec::IntoIter<SessionStart>;
    fn into_iter(self) -> Self::IntoIter {
        self.starts.into_iter()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::event::MAX_TEXT;
    use crate::domain::platform::ClickIdKind;

    fn start(sid: &str, ts: i64, props: &RawProps<'_>) -> SessionStart {
        SessionStart::new(
            (Timestamp::from_micros(ts), Uuid(ts as u128)),
            "d",
            Some(sid),
            props,
            true,
        )
        .0
    }

    #[test]
    fn huge_texts_are_capped_at_a_character_boundary_and_counted() {
        let huge = format!("é{}", "x".repeat(5_000_000));
        let p = RawProps {
            utm_campaign: Some(huge.as_str().into()),
            current_url: Some(format!("https://a.example/?q={huge}").into()),
            utm_source: Some("google".into()),
            ..Default::default()
        };
        let (s, cut) = SessionStart::new((Timestamp::from_micros(0), Uuid(1)), "d", None, &p, true);
        assert_eq!(cut, 2);
        let c = s.utm_campaign().unwrap();
        assert!(c.len() <= MAX_TEXT && c.len() > MAX_TEXT - 4 && c.starts_with('é'));
        assert_eq!(s.utm_source(), Some("google"));
        assert_eq!(s.distinct_id(), "d");
        assert_eq!(s.session_id(), None);
    }

    #[test]
    fn first_click_id_by_priority_and_masking() {
        let mut p = RawProps::default();
        p.set_click(ClickIdKind::Fbclid, Some("abc".into()));
        p.set_click(ClickIdKind::Gclid, Some(MASKED.into()));
        let s = start("s", 0, &p);
        assert_eq!(
            s.click,
            Some(ClickId {
                kind: ClickIdKind::Gclid,
                masked: true
            })
        );
    }

    #[test]
    fn a_session_keeps_its_earliest_start_whatever_the_order() {
        let mut sessions = Sessions::default();
        let p = RawProps::default();
        for ts in [5, 3, 9, 3] {
            sessions.offer(start("a", ts, &p));
        }
        sessions.offer(start("b", 7, &p));
        assert_eq!(sessions.len(), 2);
        assert_eq!(sessions.get("a").unwrap().timestamp.micros(), 3);
        assert!(!sessions.wants("a", (Timestamp::from_micros(4), Uuid(4))));
        assert!(sessions.wants("a", (Timestamp::from_micros(2), Uuid(2))));
        assert!(sessions.wants("c", (Timestamp::from_micros(99), Uuid(99))));
        let long = "x".repeat(MAX_TEXT + 10);
        sessions.offer(start(&long, 8, &p));
        assert!(sessions.get(&long).is_some(), "found by its uncapped id");
        assert!(!sessions.wants(&long, (Timestamp::from_micros(9), Uuid(9))));
        let mut all: Vec<_> = sessions.into_iter().map(|s| s.timestamp.micros()).collect();
        all.sort();
        assert_eq!(all, [3, 7, 8]);
    }

    #[test]
    fn two_tables_merged_through_growth_keep_each_sessions_earliest_start() {
        // Enough sessions that both tables grow several times, and a merge that grows again.
        let p = RawProps::default();
        let (mut one, mut two) = (Sessions::default(), Sessions::default());
        for i in 0..5_000_i64 {
            one.offer(start(&format!("s{i}"), 10 * i + 5, &p));
            if i % 2 == 0 {
                // Half the sessions seen by both readers, one of them earlier in either.
                let ts = if i % 4 == 0 { 10 * i + 1 } else { 10 * i + 8 };
                two.offer(start(&format!("s{i}"), ts, &p));
            }
            two.offer(start(&format!("t{i}"), i, &p));
        }
        one.reserve(two.len());
        for s in two {
            one.offer(s);
        }
        assert_eq!(one.len(), 10_000);
        assert_eq!(one.iter().count(), 10_000);
        for i in 0..5_000_i64 {
            let want = if i % 4 == 0 { 10 * i + 1 } else { 10 * i + 5 };
            assert_eq!(one.get(&format!("s{i}")).unwrap().timestamp.micros(), want);
            assert_eq!(one.get(&format!("t{i}")).unwrap().timestamp.micros(), i);
        }
        assert!(one.get("s5000").is_none());
    }
}
