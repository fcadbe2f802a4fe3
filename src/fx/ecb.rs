//! The European Central Bank's euro foreign exchange reference rates, in the format of its
//! `eurofxref-hist-90d.xml` / `eurofxref-hist.xml` files: a `gesmes:Envelope` holding
//! `<Cube time='YYYY-MM-DD'>` elements, each with `<Cube currency='USD' rate='1.0823'/>` children
//! (units of the currency per euro). Published around 16:00 CET on TARGET working days.

use anyhow::{anyhow, Context};

use crate::domain::money::Currency;
use crate::domain::time::Date;

/// The value of attribute `name` in the element text `tag`, single- or double-quoted.
fn attr<'a>(tag: &'a str, name: &str) -> Option<&'a str> {
    let mut rest = tag;
    loop {
        let i = rest.find(name)?;
        let before_ok = i == 0 || rest.as_bytes()[i - 1].is_ascii_whitespace();
        let after = rest[i + name.len()..].trim_start();
        if before_ok {
            if let Some(v) = after.strip_prefix('=') {
                let v = v.trim_start();
                let q = v.chars().next()?;
                if q == '\'' || q == '"' {
                    let end = v[1..].find(q)?;
                    return Some(&v[1..1 + end]);
                }
            }
        }
        rest = &rest[i + name.len()..];
    }
}

/// Parses the ECB's XML into (day, currency, units per euro).
pub fn parse(xml: &str) -> anyhow::Result<Vec<(Date, Currency, f64)>> {
    if !xml.contains("Cube") {
        return Err(anyhow!(
            "not the ECB's reference-rate format (no Cube elements); it begins {:?}",
            xml.chars().take(80).collect::<String>()
        ));
    }
    let mut out = Vec::new();
    let mut day: Option<Date> = None;
    for tag in xml.split('<').skip(1) {
        let Some(tag) = tag.split('>').next() else {
            continue;
        };
        if !tag.starts_with("Cube") {
            continue;
        }
        if let Some(t) = attr(tag, "time") {
            day = Some(Date::parse(t).map_err(|e| anyhow!("Cube time {t:?}: {e}"))?);
        } else if let (Some(c), Some(r)) = (attr(tag, "currency"), attr(tag, "rate")) {
            let d = day.ok_or_else(|| anyhow!("a rate for {c} outside a dated Cube"))?;
            let currency = Currency::parse(c).map_err(|e| anyhow!("currency {c:?}: {e}"))?;
            let rate: f64 = r
                .parse()
                .ok()
                .filter(|x: &f64| x.is_finite() && *x > 0.0)
                .ok_or_else(|| anyhow!("rate {r:?} of {c} on {d} is not a positive number"))?;
            out.push((d, currency, rate));
        }
    }
    Ok(out)
}

/// Fetches and parses one ECB file.
pub async fn fetch(
    http: &reqwest::Client,
    url: &str,
) -> anyhow::Result<Vec<(Date, Currency, f64)>> {
    let resp = http
        .get(url)
        .send()
        .await
        .map_err(|e| anyhow!("{}", e.without_url()))
        .with_context(|| format!("fetching the ECB reference rates from {url}"))?;
    let status = resp.status();
    if !status.is_success() {
        return Err(anyhow!("the ECB answered HTTP {status} for {url}"));
    }
    let text = resp
        .text()
        .await
        .map_err(|e| anyhow!("{}", e.without_url()))
        .context("reading the ECB reference rates")?;
    parse(&text).with_context(|| format!("parsing {url}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_the_ecb_format_with_either_quote() {
        let xml = r#"<?xml version="1.0" encoding="UTF-8"?>
<gesmes:Envelope xmlns:gesmes="http://www.gesmes.org/xml/2002-08-01" xmlns="http://www.ecb.int/vocabulary/2002-08-01/eurofxref">
	<gesmes:subject>Reference rates</gesmes:subject>
	<gesmes:Sender><gesmes:name>European Central Bank</gesmes:name></gesmes:Sender>
	<Cube>
		<Cube time='2024-03-04'>
			<Cube currency='USD' rate='1.0844'/>
			<Cube currency='JPY' rate='162.51'/>
		</Cube>
		<Cube time="2024-03-01"><Cube currency="USD" rate="1.0823"/></Cube>
	</Cube>
</gesmes:Envelope>"#;
        let rates = parse(xml).unwrap();
        assert_eq!(rates.len(), 3);
        assert_eq!(rates[1].1.as_str(), "JPY");
        assert_eq!(
            rates[2],
            (
                Date::parse("2024-03-01").unwrap(),
                Currency::parse("USD").unwrap(),
                1.0823
            )
        );
        assert!(parse("<html>maintenance</html>").is_err());
        assert!(parse("<Cube time='2024-03-01'><Cube currency='USD' rate='x'/></Cube>").is_err());
    }
}
