//! Exchange rates from a CSV for offline use: `date,currency,rate`, where `rate` converts one
//! unit of `currency` into the reporting currency on `date`.

use std::path::Path;

use anyhow::{anyhow, Context};

use super::{Rate, Rates};
use crate::domain::money::Currency;
use crate::domain::time::Date;

/// Reads the CSV (a header line is optional).
pub fn read(path: &Path, reporting: Currency) -> anyhow::Result<Rates> {
    let text = std::fs::read_to_string(path).with_context(|| {
        format!(
            "cannot read the exchange-rate file {} (fx.path)",
            path.display()
        )
    })?;
    parse(&text, reporting).with_context(|| format!("{} (fx.path)", path.display()))
}

/// Parses `date,currency,rate` lines.
pub fn parse(text: &str, reporting: Currency) -> anyhow::Result<Rates> {
    let mut rates = Rates::new(reporting);
    for (i, line) in text.lines().enumerate() {
        let line = line.trim().trim_start_matches('\u{feff}');
        if line.is_empty() || (i == 0 && line.to_ascii_lowercase().starts_with("date")) {
            continue;
        }
        let f: Vec<&str> = line.split(',').map(str::trim).collect();
        let [date, currency, rate] = f.as_slice() else {
            return Err(anyhow!("line {}: expected date,currency,rate", i + 1));
        };
        let date = Date::parse(date).map_err(|e| anyhow!("line {}: {e}", i + 1))?;
        let currency = Currency::parse(currency).map_err(|e| anyhow!("line {}: {e}", i + 1))?;
        let rate: f64 = rate
            .parse()
            .ok()
            .filter(|r: &f64| r.is_finite() && *r > 0.0)
            .ok_or_else(|| anyhow!("line {}: rate {rate:?} is not a positive number", i + 1))?;
        rates.insert(Rate {
            date,
            currency,
            rate,
        });
    }
    Ok(rates)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn csv_rates_with_a_header_and_errors_by_line() {
        let usd = Currency::parse("USD").unwrap();
        let r = parse(
            "date,currency,rate\n2024-03-01,EUR,1.08\n2024-03-01,gbp,1.26\n",
            usd,
        )
        .unwrap();
        let d = Date::parse("2024-03-02").unwrap();
        assert_eq!(r.rate(Currency::parse("GBP").unwrap(), d), Some(1.26));
        let e = parse("2024-03-01,EUR,-1\n", usd).unwrap_err();
        assert!(format!("{e}").contains("line 1"), "{e}");
        assert!(parse("2024-03-01;EUR;1\n", usd).is_err());
    }
}
