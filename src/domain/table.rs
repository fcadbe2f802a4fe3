//! The warehouse tables attrsync writes.

use std::fmt;

/// The warehouse tables; serialised by name (`attribution_credits`).
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, serde::Serialize, serde::Deserialize,
)]
#[serde(rename_all = "snake_case")]
pub enum Table {
    Conversions,
    Touchpoints,
    AttributionCredits,
    AdMetrics,
    FxRates,
    ChannelCredit,
}

impl Table {
    pub const ALL: [Table; 6] = [
        Table::Conversions,
        Table::Touchpoints,
        Table::AttributionCredits,
        Table::AdMetrics,
        Table::FxRates,
        Table::ChannelCredit,
    ];

    pub fn name(self) -> &'static str {
        match self {
            Table::Conversions => "conversions",
            Table::Touchpoints => "touchpoints",
            Table::AttributionCredits => "attribution_credits",
            Table::AdMetrics => "ad_metrics",
            Table::FxRates => "fx_rates",
            Table::ChannelCredit => "channel_credit",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|t| t.name() == s)
    }
}

impl fmt::Display for Table {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.pad(self.name())
    }
}
