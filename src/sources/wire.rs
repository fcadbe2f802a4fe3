//! PostHog's JSON event shapes, parsed without copying: batch-export rows (`uuid`, `properties`
//! as an object or as a JSON string) and events-API rows (`id` instead of `uuid`).
//! Only the properties attribution reads are kept; the rest are skipped unparsed.

use std::borrow::Cow;
use std::fmt;

use serde::de::{self, DeserializeSeed, Deserializer, IgnoredAny, MapAccess, Visitor};

use crate::domain::conversion::PropertySlots;
use crate::domain::event::{EventRef, RawProps};
use crate::domain::ids::Uuid;
use crate::domain::platform::ClickIdKind;
use crate::domain::time::Timestamp;

/// A string that borrows from the input when it has no escapes.
#[derive(Debug)]
pub struct CowStr<'de>(pub Cow<'de, str>);

impl<'de> de::Deserialize<'de> for CowStr<'de> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = CowStr<'de>;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a string")
            }
            fn visit_borrowed_str<E>(self, v: &'de str) -> Result<Self::Value, E> {
                Ok(CowStr(Cow::Borrowed(v)))
            }
            fn visit_str<E>(self, v: &str) -> Result<Self::Value, E> {
                Ok(CowStr(Cow::Owned(v.to_string())))
            }
            fn visit_string<E>(self, v: String) -> Result<Self::Value, E> {
                Ok(CowStr(Cow::Owned(v)))
            }
        }
        d.deserialize_str(V)
    }
}

/// A scalar property as text: strings as they are, numbers and booleans printed, null and
/// empty strings absent, objects and arrays skipped.
#[derive(Debug, Clone)]
pub struct Scalar<'de>(pub Option<Cow<'de, str>>);

impl<'de: 'a, 'a> de::Deserialize<'de> for Scalar<'a> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V<'a>(std::marker::PhantomData<&'a ()>);
        impl<'de: 'a, 'a> Visitor<'de> for V<'a> {
            type Value = Scalar<'a>;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a JSON value")
            }
            fn visit_borrowed_str<E>(self, v: &'de str) -> Result<Self::Value, E> {
                Ok(Scalar((!v.is_empty()).then_some(Cow::Borrowed(v))))
            }
            fn visit_str<E>(self, v: &str) -> Result<Self::Value, E> {
                Ok(Scalar((!v.is_empty()).then(|| Cow::Owned(v.to_string()))))
            }
            fn visit_string<E>(self, v: String) -> Result<Self::Value, E> {
                Ok(Scalar((!v.is_empty()).then_some(Cow::Owned(v))))
            }
            fn visit_i64<E>(self, v: i64) -> Result<Self::Value, E> {
                Ok(Scalar(Some(Cow::Owned(v.to_string()))))
            }
            fn visit_u64<E>(self, v: u64) -> Result<Self::Value, E> {
                Ok(Scalar(Some(Cow::Owned(v.to_string()))))
            }
            fn visit_f64<E>(self, v: f64) -> Result<Self::Value, E> {
                // Rust prints the shortest text that reads back as the same float, which is
                // the decimal the client wrote for any value with ≤ 15 significant digits.
                Ok(Scalar(v.is_finite().then(|| Cow::Owned(v.to_string()))))
            }
            fn visit_bool<E>(self, v: bool) -> Result<Self::Value, E> {
                Ok(Scalar(Some(Cow::Borrowed(if v {
                    "true"
                } else {
                    "false"
                }))))
            }
            fn visit_unit<E>(self) -> Result<Self::Value, E> {
                Ok(Scalar(None))
            }
            fn visit_none<E>(self) -> Result<Self::Value, E> {
                Ok(Scalar(None))
            }
            fn visit_some<D: Deserializer<'de>>(self, d: D) -> Result<Self::Value, D::Error> {
                d.deserialize_any(self)
            }
            fn visit_map<A: MapAccess<'de>>(self, mut m: A) -> Result<Self::Value, A::Error> {
                while m.next_entry::<IgnoredAny, IgnoredAny>()?.is_some() {}
                Ok(Scalar(None))
            }
            fn visit_seq<A: de::SeqAccess<'de>>(self, mut s: A) -> Result<Self::Value, A::Error> {
                while s.next_element::<IgnoredAny>()?.is_some() {}
                Ok(Scalar(None))
            }
        }
        d.deserialize_any(V(std::marker::PhantomData))
    }
}

/// Parses a `properties` value (object, or a JSON string holding one).
pub struct PropsSeed<'s> {
    pub slots: &'s PropertySlots,
    /// Only fill configured extras (for nested `$set`).
    pub extras_only: bool,
}

impl<'de> DeserializeSeed<'de> for PropsSeed<'_> {
    type Value = RawProps<'de>;
    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<Self::Value, D::Error> {
        d.deserialize_any(PropsVisitor {
            slots: self.slots,
            extras_only: self.extras_only,
        })
    }
}

struct PropsVisitor<'s> {
    slots: &'s PropertySlots,
    extras_only: bool,
}

impl<'de> Visitor<'de> for PropsVisitor<'_> {
    type Value = RawProps<'de>;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a properties object or a JSON string holding one")
    }

    fn visit_unit<E>(self) -> Result<Self::Value, E> {
        Ok(RawProps::default())
    }

    fn visit_none<E>(self) -> Result<Self::Value, E> {
        Ok(RawProps::default())
    }

    fn visit_str<E: de::Error>(self, v: &str) -> Result<Self::Value, E> {
        if v.trim().is_empty() {
            return Ok(RawProps::default());
        }
        let mut de = serde_json::Deserializer::from_str(v);
        let props = PropsSeed {
            slots: self.slots,
            extras_only: self.extras_only,
        }
        .deserialize(&mut de)
        .map_err(|e| E::custom(format_args!("properties string: {e}")))?;
        Ok(props.into_owned())
    }

    fn visit_map<A: MapAccess<'de>>(self, mut m: A) -> Result<Self::Value, A::Error> {
        let mut p = RawProps::default();
        while let Some(CowStr(key)) = m.next_key::<CowStr<'de>>()? {
            if key == "$set" && !self.slots.is_empty() {
                let nested: RawProps<'de> = m.next_value_seed(PropsSeed {
                    slots: self.slots,
                    extras_only: true,
                })?;
                for (slot, v) in nested.extras {
                    if p.extra(slot).is_none() {
                        p.extras.push((slot, v));
                    }
                }
                continue;
            }
            let slot = self.slots.get(&key);
            let field = if self.extras_only {
                None
            } else {
                field_named(&key)
            };
            if slot.is_none() && field.is_none() {
                m.next_value::<IgnoredAny>()?;
                continue;
            }
            let Scalar(v) = m.next_value::<Scalar<'de>>()?;
            if let (Some(s), Some(v)) = (slot, &v) {
                p.extras.push((s, v.clone()));
            }
            if let Some(f) = field {
                set_field(&mut p, f, v);
            }
        }
        Ok(p)
    }
}

/// A property attribution reads.
#[derive(Clone, Copy)]
enum Field {
    SessionId,
    CurrentUrl,
    Referrer,
    ReferringDomain,
    UtmSource,
    UtmMedium,
    UtmCampaign,
    UtmContent,
    UtmTerm,
    UtmId,
    AnonDistinctId,
    Alias,
    Click(ClickIdKind),
}

/// The field a property key fills, if attribution reads it. Most keys of a real event
/// (`$browser`, `$os`, …) are none of these, so the cheap tests on the first byte come first.
fn field_named(key: &str) -> Option<Field> {
    Some(match key.as_bytes().first()? {
        b'$' => match key {
            "$session_id" => Field::SessionId,
            "$current_url" => Field::CurrentUrl,
            "$referrer" => Field::Referrer,
            "$referring_domain" => Field::ReferringDomain,
            "$anon_distinct_id" => Field::AnonDistinctId,
            _ => return None,
        },
        b'u' => match key {
            "utm_source" => Field::UtmSource,
            "utm_medium" => Field::UtmMedium,
            "utm_campaign" => Field::UtmCampaign,
            "utm_content" => Field::UtmContent,
            "utm_term" => Field::UtmTerm,
            "utm_id" => Field::UtmId,
            _ => return None,
        },
        b'a' if key == "alias" => Field::Alias,
        _ => Field::Click(ClickIdKind::from_param(key)?),
    })
}

/// Keeps `v` as `f` in `p`.
fn set_field<'de>(p: &mut RawProps<'de>, f: Field, v: Option<Cow<'de, str>>) {
    let slot = match f {
        Field::SessionId => &mut p.session_id,
        Field::CurrentUrl => &mut p.current_url,
        Field::Referrer => &mut p.referrer,
        Field::ReferringDomain => &mut p.referring_domain,
        Field::UtmSource => &mut p.utm_source,
        Field::UtmMedium => &mut p.utm_medium,
        Field::UtmCampaign => &mut p.utm_campaign,
        Field::UtmContent => &mut p.utm_content,
        Field::UtmTerm => &mut p.utm_term,
        Field::UtmId => &mut p.utm_id,
        Field::AnonDistinctId => &mut p.anon_distinct_id,
        Field::Alias => &mut p.alias,
        Field::Click(k) => return p.set_click(k, v),
    };
    *slot = v;
}

/// The top-level fields of a PostHog event row, before validation.
#[derive(Default)]
pub struct WireEvent<'de> {
    pub uuid: Option<Cow<'de, str>>,
    pub event: Option<Cow<'de, str>>,
    pub timestamp: Option<Cow<'de, str>>,
    pub distinct_id: Option<Cow<'de, str>>,
    pub person_id: Option<Cow<'de, str>>,
    pub properties: RawProps<'de>,
}

/// Parses one event row object.
pub struct EventSeed<'s> {
    pub slots: &'s PropertySlots,
}

impl<'de> DeserializeSeed<'de> for EventSeed<'_> {
    type Value = WireEvent<'de>;
    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<Self::Value, D::Error> {
        d.deserialize_map(self)
    }
}

impl<'de> Visitor<'de> for EventSeed<'_> {
    type Value = WireEvent<'de>;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a PostHog event object")
    }

    fn visit_map<A: MapAccess<'de>>(self, mut m: A) -> Result<Self::Value, A::Error> {
        let mut w = WireEvent::default();
        while let Some(CowStr(key)) = m.next_key::<CowStr<'de>>()? {
            match key.as_ref() {
                "uuid" | "id" => w.uuid = m.next_value::<Scalar<'de>>()?.0,
                "event" => w.event = m.next_value::<Scalar<'de>>()?.0,
                "timestamp" => w.timestamp = m.next_value::<Scalar<'de>>()?.0,
                "distinct_id" => w.distinct_id = m.next_value::<Scalar<'de>>()?.0,
                "person_id" => w.person_id = m.next_value::<Scalar<'de>>()?.0,
                "properties" => {
                    w.properties = m.next_value_seed(PropsSeed {
                        slots: self.slots,
                        extras_only: false,
                    })?
                }
                _ => {
                    m.next_value::<IgnoredAny>()?;
                }
            }
        }
        Ok(w)
    }
}

/// Why a row is not an event.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum WireError {
    #[error("not JSON: {0}")]
    Json(String),
    #[error("missing `{0}`")]
    Missing(&'static str),
    #[error("uuid: {0}")]
    Uuid(#[from] crate::domain::ids::UuidError),
    #[error("timestamp: {0}")]
    Timestamp(#[from] crate::domain::time::TimeParseError),
}

impl<'de> TryFrom<WireEvent<'de>> for EventRef<'de> {
    type Error = WireError;

    fn try_from(w: WireEvent<'de>) -> Result<Self, Self::Error> {
        let uuid = Uuid::parse(&w.uuid.ok_or(WireError::Missing("uuid"))?)?;
        let timestamp = Timestamp::parse(&w.timestamp.ok_or(WireError::Missing("timestamp"))?)?;
        Ok(EventRef {
            uuid,
            event: w.event.ok_or(WireError::Missing("event"))?,
            timestamp,
            distinct_id: w.distinct_id.unwrap_or(Cow::Borrowed("")),
            person_id: w.person_id,
            props: w.properties,
        })
    }
}

/// Parses one NDJSON line into an event. A line that is valid UTF-8 (all of them, in practice)
/// is checked once as a whole and parsed as text, so the parser need not check each string.
pub fn parse_line<'a>(line: &'a [u8], slots: &PropertySlots) -> Result<EventRef<'a>, WireError> {
    match std::str::from_utf8(line) {
        Ok(text) => parse_with(serde_json::Deserializer::from_str(text), slots),
        // The byte parser says where the bad byte is.
        Err(_) => parse_with(serde_json::Deserializer::from_slice(line), slots),
    }
}

fn parse_with<'a, R: serde_json::de::Read<'a>>(
    mut de: serde_json::Deserializer<R>,
    slots: &PropertySlots,
) -> Result<EventRef<'a>, WireError> {
    let w = EventSeed { slots }
        .deserialize(&mut de)
        .and_then(|w| de.end().map(|_| w))
        .map_err(|e| WireError::Json(e.to_string()))?;
    EventRef::try_from(w)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn slots(names: &[&str]) -> PropertySlots {
        let mut s = PropertySlots::default();
        for n in names {
            s.slot(n);
        }
        s
    }

    #[test]
    fn batch_export_row_with_properties_as_string() {
        let line = br#"{"uuid":"0190f3a2-7b1c-7def-8123-456789abcdef","event":"purchase","properties":"{\"$session_id\":\"s1\",\"utm_source\":\"google\",\"revenue\":49.99,\"currency\":\"eur\",\"gclid\":\"<masked>\"}","distinct_id":"u1","team_id":2,"timestamp":"2024-03-01 10:00:00.000000","elements":"[]"}"#;
        let s = slots(&["revenue", "currency"]);
        let e = parse_line(line, &s).unwrap();
        assert_eq!(e.event, "purchase");
        assert_eq!(e.props.session_id.as_deref(), Some("s1"));
        assert_eq!(e.props.utm_source.as_deref(), Some("google"));
        assert_eq!(e.props.extra(0), Some("49.99"));
        assert_eq!(e.props.extra(1), Some("eur"));
        assert_eq!(e.props.click_id(), Some((ClickIdKind::Gclid, "<masked>")));
        assert_eq!(e.timestamp.to_string(), "2024-03-01T10:00:00.000000Z");
    }

    #[test]
    fn the_first_click_id_by_priority_and_a_repeated_key_the_last_value() {
        let row = |props: &str| {
            format!(
                r#"{{"uuid":"0190f3a2-7b1c-7def-8123-456789abcdef","event":"$pageview","distinct_id":"u1","timestamp":"2024-03-01T10:00:00Z","properties":{props}}}"#
            )
        };
        let s = PropertySlots::default();
        let click = |props: &str| {
            let line = row(props);
            let e = parse_line(line.as_bytes(), &s).unwrap();
            e.props.click_id().map(|(k, v)| (k, v.to_string()))
        };
        let some = |k, v: &str| Some((k, v.to_string()));
        // gclid outranks fbclid whatever the order of the keys.
        assert_eq!(
            click(r#"{"fbclid":"f","gclid":"g"}"#),
            some(ClickIdKind::Gclid, "g")
        );
        assert_eq!(
            click(r#"{"gclid":"g","fbclid":"f"}"#),
            some(ClickIdKind::Gclid, "g")
        );
        // A repeated key keeps its last value; an empty or null one clears it.
        assert_eq!(
            click(r#"{"ttclid":"a","ttclid":"b"}"#),
            some(ClickIdKind::Ttclid, "b")
        );
        assert_eq!(
            click(r#"{"fbclid":"f","gclid":"g","gclid":null}"#),
            some(ClickIdKind::Fbclid, "f")
        );
        assert_eq!(click(r#"{"gclid":"g","gclid":""}"#), None);
        assert_eq!(click(r#"{"utm_source":"x"}"#), None);
    }

    #[test]
    fn events_api_row_with_id_and_object_properties() {
        let line = br#"{"id":"0190f3a2-7b1c-7def-8123-456789abcdef","distinct_id":"anon-1","properties":{"$referring_domain":"www.google.com","$current_url":"https://shop.example/","nested":{"a":[1,2]},"$set":{"email":"a@b.c"}},"event":"$pageview","timestamp":"2024-03-01T10:00:00Z","person":null,"elements":[]}"#;
        let s = slots(&["email"]);
        let e = parse_line(line, &s).unwrap();
        assert_eq!(e.uuid.to_string(), "0190f3a2-7b1c-7def-8123-456789abcdef");
        assert_eq!(e.distinct_id, "anon-1");
        assert_eq!(e.props.referring_domain.as_deref(), Some("www.google.com"));
        assert_eq!(e.props.extra(0), Some("a@b.c"));
    }

    #[test]
    fn bad_rows_say_why() {
        let s = PropertySlots::default();
        let cases: [(&[u8], &str); 6] = [
            (b"{\"uuid\":\"\xff\"}", "not JSON"),
            (b"{not json", "not JSON"),
            (br#"{"event":"x","timestamp":"2024-03-01T10:00:00Z"}"#, "missing `uuid`"),
            (br#"{"uuid":"nope","event":"x","timestamp":"2024-03-01T10:00:00Z"}"#, "uuid"),
            (br#"{"uuid":"0190f3a2-7b1c-7def-8123-456789abcdef","event":"x","timestamp":"soon"}"#, "timestamp"),
            (br#"{"uuid":"0190f3a2-7b1c-7def-8123-456789abcdef","event":"x","timestamp":"2024-03-01T10:00:00Z"} trailing"#, "not JSON"),
        ];
        for (line, want) in cases {
            let err = parse_line(line, &s).unwrap_err().to_string();
            assert!(err.contains(want), "{err} should contain {want}");
        }
    }
}
