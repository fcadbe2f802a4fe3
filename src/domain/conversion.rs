//! Conversion definitions and the conversions they match.

use std::collections::HashMap;

use super::event::EventRef;
use super::ids::Uuid;
use super::money::{parse_decimal_micros, Currency, Money, MoneyError};
use super::time::Timestamp;

/// Names of the event properties configuration asks the parsers to keep, each with a slot number.
#[derive(Debug, Clone, Default)]
pub struct PropertySlots {
    names: Vec<String>,
    index: HashMap<String, u16>,
}

impl PropertySlots {
    /// The slot of `name`, adding it when new.
    pub fn slot(&mut self, name: &str) -> u16 {
        if let Some(&s) = self.index.get(name) {
            return s;
        }
        let s = self.names.len() as u16;
        self.names.push(name.to_string());
        self.index.insert(name.to_string(), s);
        s
    }

    /// The slot of `name` if configuration asked for it.
    #[inline]
    pub fn get(&self, name: &str) -> Option<u16> {
        // Asked for every property key of every event: a few names are found faster by a
        // scan (`==` tests the lengths first) than by hashing the key.
        if self.names.len() <= 16 {
            return self.names.iter().position(|n| n == name).map(|i| i as u16);
        }
        self.index.get(name).copied()
    }

    pub fn is_empty(&self) -> bool {
        self.names.is_empty()
    }

    /// Property names by slot.
    pub fn names(&self) -> &[String] {
        &self.names
    }
}

/// A configured conversion: an event name plus optional property equality filters.
#[derive(Debug, Clone)]
pub struct ConversionDef {
    pub name: String,
    pub event: String,
    /// (property slot, accepted values): every filter must match one of its values.
    pub filters: Vec<(u16, Vec<String>)>,
    pub value_slot: Option<u16>,
    pub currency_slot: Option<u16>,
    pub default_currency: Currency,
}

/// Why an event that matched a conversion definition could not become a conversion.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ConversionError {
    #[error("conversion '{name}': value {source}")]
    Value { name: String, source: MoneyError },
    #[error("conversion '{name}': currency {source}")]
    Currency { name: String, source: MoneyError },
}

/// The conversion definitions of a run, in priority order: the first that matches an event wins,
/// so each conversion event yields one conversion (its uuid is the row key).
#[derive(Debug, Clone, Default)]
pub struct ConversionRules {
    pub defs: Vec<ConversionDef>,
}

/// A matched conversion event, before identity resolution.
#[derive(Debug, Clone)]
pub struct ConversionEvent {
    pub uuid: Uuid,
    pub timestamp: Timestamp,
    pub distinct_id: Box<str>,
    /// Index into [`ConversionRules::defs`].
    pub def: u16,
    pub value: Option<Money>,
    /// Read in the run's new range (see [`crate::domain::extract::Extract`]).
    pub fresh: bool,
}

impl ConversionRules {
    /// The conversion this event is, if any.
    pub fn matches(
        &self,
        ev: &EventRef<'_>,
        fresh: bool,
    ) -> Result<Option<ConversionEvent>, ConversionError> {
        for (i, def) in self.defs.iter().enumerate() {
            if def.event != ev.event {
                continue;
            }
            let ok = def.filters.iter().all(|(slot, accepted)| {
                ev.props
                    .extra(*slot)
                    .is_some_and(|v| accepted.iter().any(|a| a == v))
            });
            if !ok {
                continue;
            }
            let value = match def.value_slot.and_then(|s| ev.props.extra(s)) {
                None => None,
                Some(text) => {
                    let micros =
                        parse_decimal_micros(text).map_err(|source| ConversionError::Value {
                            name: def.name.clone(),
                            source,
                        })?;
                    let currency = match def.currency_slot.and_then(|s| ev.props.extra(s)) {
                        Some(c) if !c.is_empty() => {
                            Currency::parse(c).map_err(|source| ConversionError::Currency {
                                name: def.name.clone(),
                                source,
                            })?
                        }
                        _ => def.default_currency,
                    };
                    Some(Money::new(micros, currency))
                }
            };
            return Ok(Some(ConversionEvent {
                uuid: ev.uuid,
                timestamp: ev.timestamp,
                distinct_id: Box::from(ev.distinct_id.as_ref()),
                def: i as u16,
                value,
                fresh,
            }));
        }
        Ok(None)
    }

    /// Whether any definition converts on this event name (cheap pre-check).
    pub fn is_empty(&self) -> bool {
        self.defs.is_empty()
    }
}
