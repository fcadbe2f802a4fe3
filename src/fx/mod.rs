//! Exchange rates to one reporting currency: daily rates from the European Central Bank's
//! reference feed or from a CSV, looked up for a day as the rate of that day or else the latest
//! earlier one (weekends and holidays have none). A missing rate is `None`, never 1.0.

pub mod ecb;
pub mod file;

use std::collections::BTreeMap;

use crate::domain::money::Currency;
use crate::domain::time::Date;

/// Rates to the reporting currency: one unit of a currency is `rate` units of the reporting
/// currency on a day.
#[derive(Debug, Clone, PartialEq)]
pub struct Rates {
    pub reporting: Currency,
    by_currency: BTreeMap<Currency, BTreeMap<Date, f64>>,
}

/// One day's rate of one currency, as the `fx_rates` table stores it.
#[derive(Debug, Clone, PartialEq)]
pub struct Rate {
    pub date: Date,
    pub currency: Currency,
    pub rate: f64,
}

impl Rates {
    pub fn new(reporting: Currency) -> Self {
        Self {
            reporting,
            by_currency: BTreeMap::new(),
        }
    }

    /// Adds a rate (a later insert of the same day replaces an earlier one).
    pub fn insert(&mut self, r: Rate) {
        if r.rate.is_finite() && r.rate > 0.0 {
            self.by_currency
                .entry(r.currency)
                .or_default()
                .insert(r.date, r.rate);
        }
    }

    /// Rates from EUR-based reference rates (units of a currency per euro), as the ECB
    /// publishes them: `rate(c) = per_eur(reporting) / per_eur(c)`, for the days that have a
    /// rate of the reporting currency.
    pub fn from_euro(reporting: Currency, per_eur: &[(Date, Currency, f64)]) -> Self {
        let eur = Currency::parse("EUR").expect("a currency");
        let mut days: BTreeMap<Date, BTreeMap<Currency, f64>> = BTreeMap::new();
        for (d, c, r) in per_eur {
            days.entry(*d).or_default().insert(*c, *r);
        }
        let mut out = Rates::new(reporting);
        for (date, mut day) in days {
            day.insert(eur, 1.0);
            let Some(target) = day.get(&reporting).copied() else {
                continue;
            };
            for (currency, r) in day {
                out.insert(Rate {
                    date,
                    currency,
                    rate: target / r,
                });
            }
        }
        out
    }

    /// Every stored rate, by currency then date.
    pub fn all(&self) -> impl Iterator<Item = Rate> + '_ {
        self.by_currency.iter().flat_map(|(c, days)| {
            days.iter().map(|(d, r)| Rate {
                date: *d,
                currency: *c,
                rate: *r,
            })
        })
    }

    pub fn is_empty(&self) -> bool {
        self.by_currency.is_empty()
    }

    /// The rate of `currency` on `date`: that day's, else the latest earlier one. The reporting
    /// currency itself is 1.
    pub fn rate(&self, currency: Currency, date: Date) -> Option<f64> {
        if currency == self.reporting {
            return Some(1.0);
        }
        self.by_currency
            .get(&currency)?
            .range(..=date)
            .next_back()
            .map(|(_, r)| *r)
    }

    /// `micros` of `currency` on `date` in reporting micros (rounded to the nearest micro).
    pub fn convert(&self, micros: i64, currency: Currency, date: Date) -> Option<i64> {
        if currency == self.reporting {
            return Some(micros);
        }
        self.rate(currency, date)
            .map(|r| (micros as f64 * r).round() as i64)
    }

    /// The latest day with any rate.
    pub fn latest(&self) -> Option<Date> {
        self.by_currency
            .values()
            .filter_map(|d| d.keys().next_back())
            .max()
            .copied()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn c(s: &str) -> Currency {
        Currency::parse(s).unwrap()
    }

    fn d(s: &str) -> Date {
        Date::parse(s).unwrap()
    }

    #[test]
    fn cross_rates_from_the_euro_and_the_latest_earlier_day() {
        // Friday 2024-03-01: 1 EUR = 1.0823 USD = 0.85565 GBP = 161.85 JPY.
        let ecb = [
            (d("2024-03-01"), c("USD"), 1.0823),
            (d("2024-03-01"), c("GBP"), 0.85565),
            (d("2024-03-01"), c("JPY"), 161.85),
            (d("2024-03-04"), c("USD"), 1.0844),
            (d("2024-03-04"), c("GBP"), 0.85520),
        ];
        let r = Rates::from_euro(c("USD"), &ecb);
        assert_eq!(r.rate(c("USD"), d("2024-03-02")), Some(1.0));
        assert!((r.rate(c("EUR"), d("2024-03-01")).unwrap() - 1.0823).abs() < 1e-12);
        // Saturday and Sunday take Friday's rate.
        let gbp = r.rate(c("GBP"), d("2024-03-03")).unwrap();
        assert!((gbp - 1.0823 / 0.85565).abs() < 1e-12);
        assert_eq!(
            r.convert(10_000_000, c("EUR"), d("2024-03-03")),
            Some(10_823_000)
        );
        // Before the first rate, and a currency the feed lacks: no rate, never 1.0.
        assert_eq!(r.rate(c("GBP"), d("2024-02-29")), None);
        assert_eq!(r.convert(1, c("XAU"), d("2024-03-04")), None);
        assert_eq!(r.rate(c("JPY"), d("2024-03-05")), Some(1.0823 / 161.85));
        assert_eq!(r.latest(), Some(d("2024-03-04")));
    }
}
