//! Microsoft Advertising Reporting v13 (REST/JSON) wire shapes: submit, poll, API faults, and
//! the rows of the downloaded campaign performance CSV.

use serde::Deserialize;

use crate::ads::units::{currency, day, micros};
use crate::ads::{AdError, CampaignDay};

/// The columns requested, in order.
pub const COLUMNS: [&str; 9] = [
    "TimePeriod",
    "CampaignId",
    "CampaignName",
    "Spend",
    "Impressions",
    "Clicks",
    "Conversions",
    "Revenue",
    "CurrencyCode",
];

#[derive(Debug, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct Submitted {
    pub report_request_id: String,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct PollResponse {
    pub report_request_status: ReportRequestStatus,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct ReportRequestStatus {
    pub status: String,
    /// Absent when the report has no rows.
    #[serde(default)]
    pub report_download_url: Option<String>,
}

/// `ApiFaultDetail` / `AdApiFaultDetail`.
#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct Fault {
    #[serde(default)]
    pub operation_errors: Vec<OperationError>,
    #[serde(default)]
    pub errors: Vec<OperationError>,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct OperationError {
    pub code: i64,
    #[serde(default)]
    pub error_code: String,
    #[serde(default)]
    pub message: String,
}

impl Fault {
    pub fn all(&self) -> impl Iterator<Item = &OperationError> {
        self.operation_errors.iter().chain(&self.errors)
    }

    pub fn text(&self) -> String {
        self.all()
            .map(|e| format!("{} {}: {}", e.code, e.error_code, e.message))
            .collect::<Vec<_>>()
            .join("; ")
    }
}

/// One CSV row, by header name.
#[derive(Debug, Deserialize)]
pub struct CsvRow {
    #[serde(rename = "TimePeriod")]
    pub time_period: String,
    #[serde(rename = "CampaignId")]
    pub campaign_id: String,
    #[serde(rename = "CampaignName", default)]
    pub campaign_name: Option<String>,
    #[serde(rename = "Spend", default)]
    pub spend: String,
    #[serde(rename = "Impressions", default)]
    pub impressions: String,
    #[serde(rename = "Clicks", default)]
    pub clicks: String,
    #[serde(rename = "Conversions", default)]
    pub conversions: String,
    #[serde(rename = "Revenue", default)]
    pub revenue: String,
    #[serde(rename = "CurrencyCode", default)]
    pub currency_code: String,
}

/// `Account/Query` (GetAccount): `{"Account": {...}}`.
#[derive(Debug, Deserialize)]
pub struct AccountEnvelope {
    #[serde(rename = "Account")]
    pub account: AdvertiserAccount,
}

/// The parts of `AdvertiserAccount` attrsync reads.
#[derive(Debug, Deserialize)]
pub struct AdvertiserAccount {
    #[serde(rename = "TimeZone", default)]
    pub time_zone: Option<String>,
    #[serde(rename = "CurrencyCode", default)]
    pub currency_code: Option<String>,
}

/// Numbers may come with thousands separators.
fn plain(s: &str) -> String {
    s.trim().replace(',', "")
}

fn int(s: &str, what: &str) -> Result<i64, AdError> {
    let p = plain(s);
    if p.is_empty() {
        return Ok(0);
    }
    p.parse()
        .map_err(|_| AdError::permanent(format!("{what} {s:?} is not a count")))
}

impl TryFrom<CsvRow> for CampaignDay {
    type Error = AdError;

    fn try_from(r: CsvRow) -> Result<Self, AdError> {
        let spend = plain(&r.spend);
        let revenue = plain(&r.revenue);
        let conv = plain(&r.conversions);
        Ok(CampaignDay {
            date: day(&r.time_period, "TimePeriod")?,
            currency: Some(currency(&r.currency_code, "CurrencyCode")?),
            spend_micros: if spend.is_empty() {
                0
            } else {
                micros(&spend, "Spend")?
            },
            impressions: int(&r.impressions, "Impressions")?,
            clicks: int(&r.clicks, "Clicks")?,
            conversions: if conv.is_empty() {
                0.0
            } else {
                conv.parse().map_err(|_| {
                    AdError::permanent(format!("Conversions {conv:?} is not a number"))
                })?
            },
            value_micros: if revenue.is_empty() {
                None
            } else {
                Some(micros(&revenue, "Revenue")?)
            },
            campaign_id: r.campaign_id.trim().to_string(),
            campaign_name: r.campaign_name.filter(|n| !n.is_empty()),
        })
    }
}

/// The rows of a report download: a ZIP holding one CSV (a bare CSV is accepted too).
pub fn parse_report(bytes: &[u8]) -> Result<Vec<CampaignDay>, AdError> {
    let csv_bytes = if bytes.starts_with(b"PK") {
        let mut zip = zip::ZipArchive::new(std::io::Cursor::new(bytes)).map_err(|e| {
            AdError::permanent(format!("the report download is not a readable ZIP ({e})"))
        })?;
        if zip.is_empty() {
            return Err(AdError::permanent("the report ZIP is empty"));
        }
        let mut file = zip
            .by_index(0)
            .map_err(|e| AdError::permanent(format!("the report ZIP is unreadable ({e})")))?;
        let mut buf = Vec::new();
        std::io::Read::read_to_end(&mut file, &mut buf)
            .map_err(|e| AdError::permanent(format!("the report ZIP is unreadable ({e})")))?;
        buf
    } else {
        bytes.to_vec()
    };
    // A UTF-8 byte-order mark precedes the header.
    let text = csv_bytes
        .strip_prefix(b"\xEF\xBB\xBF")
        .unwrap_or(&csv_bytes);
    let mut reader = csv::ReaderBuilder::new().flexible(true).from_reader(text);
    let mut out = Vec::new();
    for (i, rec) in reader.deserialize::<CsvRow>().enumerate() {
        let row = rec.map_err(|e| AdError::permanent(format!("report line {}: {e}", i + 2)))?;
        out.push(
            CampaignDay::try_from(row)
                .map_err(|e| AdError::permanent(format!("report line {}: {e}", i + 2)))?,
        );
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn csv_rows_become_exact_micros() {
        let csv = "\u{feff}\"TimePeriod\",\"CampaignId\",\"CampaignName\",\"Spend\",\"Impressions\",\"Clicks\",\"Conversions\",\"Revenue\",\"CurrencyCode\"\r\n\
                   \"2024-05-02\",\"41001\",\"Brand, exact\",\"1,234.57\",\"10,000\",\"55\",\"2.50\",\"99.90\",\"GBP\"\r\n";
        let rows = parse_report(csv.as_bytes()).unwrap();
        assert_eq!(rows.len(), 1);
        let r = &rows[0];
        assert_eq!(
            (r.spend_micros, r.impressions, r.clicks),
            (1_234_570_000, 10_000, 55)
        );
        assert_eq!(r.campaign_name.as_deref(), Some("Brand, exact"));
        assert_eq!(r.value_micros, Some(99_900_000));
        assert_eq!(r.conversions, 2.5);
    }
}
