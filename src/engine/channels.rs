//! Ordered, configurable channel-grouping rules in the style of GA4's default channel groups.

use std::collections::BTreeMap;

use serde::Deserialize;

use super::glob::{any_match, Glob};
use crate::domain::platform::{ClickIdKind, Platform};

/// One rule as configured: every condition given must hold; list conditions match any element.
#[derive(Debug, Clone, Default, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct RuleSpec {
    /// Channel name assigned when the rule matches.
    pub channel: String,
    /// The session has no marketing signal (no click id, no UTM tag, no external referrer).
    #[serde(default)]
    pub direct: Option<bool>,
    /// Any of these click-id parameters is present.
    #[serde(default)]
    pub click_ids: Vec<String>,
    /// Source (utm_source, or referring domain without `www.`) matches a pattern.
    #[serde(default)]
    pub source: Vec<String>,
    /// Source falls into one of these categories of `channels.source_categories`.
    #[serde(default)]
    pub source_category: Vec<String>,
    /// Medium (utm_medium or derived) matches a pattern.
    #[serde(default)]
    pub medium: Vec<String>,
    /// utm_campaign matches a pattern.
    #[serde(default)]
    pub campaign: Vec<String>,
    /// The session came from an external referrer.
    #[serde(default)]
    pub referrer: Option<bool>,
}

/// The `[channels]` configuration section.
#[derive(Debug, Clone, Default, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct ChannelSpec {
    pub rules: Vec<RuleSpec>,
    /// Category name → source patterns (`search = ["google", "*.google.*", …]`).
    #[serde(default)]
    pub source_categories: BTreeMap<String, Vec<String>>,
    /// Platform → utm_source patterns, used for paid channels without a click id.
    #[serde(default)]
    pub platform_sources: BTreeMap<String, Vec<String>>,
    /// Channels whose touches may carry an ad platform.
    #[serde(default)]
    pub paid_channels: Vec<String>,
    /// Referring domains that are the site itself (ignored as referrers).
    #[serde(default)]
    pub internal_domains: Vec<String>,
}

/// Why a channel specification is unusable.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ChannelSpecError {
    #[error("channels.rules[{rule}].click_ids: unknown click id '{name}' (known: {known})")]
    UnknownClickId {
        rule: usize,
        name: String,
        known: String,
    },
    #[error(
        "channels.rules[{rule}].source_category: unknown category '{name}' (defined: {known})"
    )]
    UnknownCategory {
        rule: usize,
        name: String,
        known: String,
    },
    #[error("channels.platform_sources: unknown platform '{0}'")]
    UnknownPlatform(String),
    #[error("channels.rules[{0}].channel must not be empty")]
    EmptyChannel(usize),
    #[error("channels.rules must not be empty")]
    NoRules,
}

#[derive(Debug, Clone)]
struct Rule {
    channel: String,
    direct: Option<bool>,
    click_ids: Vec<ClickIdKind>,
    source: Vec<Glob>,
    categories: Vec<usize>,
    medium: Vec<Glob>,
    campaign: Vec<Glob>,
    referrer: Option<bool>,
}

/// Compiled channel rules.
#[derive(Debug, Clone)]
pub struct ChannelRules {
    rules: Vec<Rule>,
    categories: Vec<(String, Vec<Glob>)>,
    platforms: Vec<(Platform, Vec<Glob>)>,
    paid_channels: Vec<String>,
    internal_domains: Vec<Glob>,
}

/// The normalised facts a rule looks at.
#[derive(Debug, Clone, Copy)]
pub struct Facts<'a> {
    pub click: Option<ClickIdKind>,
    /// Lower-case source.
    pub source: &'a str,
    /// Lower-case medium.
    pub medium: &'a str,
    /// Lower-case campaign, or "".
    pub campaign: &'a str,
    pub external_referrer: bool,
    pub has_utm: bool,
}

impl ChannelRules {
    /// Compiles and checks a specification.
    pub fn compile(spec: &ChannelSpec) -> Result<Self, ChannelSpecError> {
        if spec.rules.is_empty() {
            return Err(ChannelSpecError::NoRules);
        }
        let globs = |v: &[String]| v.iter().map(|p| Glob::new(p)).collect::<Vec<_>>();
        let categories: Vec<(String, Vec<Glob>)> = spec
            .source_categories
            .iter()
            .map(|(k, v)| (k.clone(), globs(v)))
            .collect();
        let known_cats = || {
            categories
                .iter()
                .map(|(k, _)| k.as_str())
                .collect::<Vec<_>>()
                .join(", ")
        };
        let mut rules = Vec::new();
        for (i, r) in spec.rules.iter().enumerate() {
            if r.channel.trim().is_empty() {
                return Err(ChannelSpecError::EmptyChannel(i));
            }
            let click_ids = r
                .click_ids
                .iter()
                .map(|c| {
                    ClickIdKind::from_param(c).ok_or_else(|| ChannelSpecError::UnknownClickId {
                        rule: i,
                        name: c.clone(),
                        known: ClickIdKind::ALL.map(|k| k.param()).join(", "),
                    })
                })
                .collect::<Result<_, _>>()?;
            let cats = r
                .source_category
                .iter()
                .map(|c| {
                    categories.iter().position(|(k, _)| k == c).ok_or_else(|| {
                        ChannelSpecError::UnknownCategory {
                            rule: i,
                            name: c.clone(),
                            known: known_cats(),
                        }
                    })
                })
                .collect::<Result<_, _>>()?;
            rules.push(Rule {
                channel: r.channel.trim().to_string(),
                direct: r.direct,
                click_ids,
                source: globs(&r.source),
                categories: cats,
                medium: globs(&r.medium),
                campaign: globs(&r.campaign),
                referrer: r.referrer,
            });
        }
        let platforms = spec
            .platform_sources
            .iter()
            .map(|(k, v)| {
                Platform::parse(k)
                    .map(|p| (p, globs(v)))
                    .ok_or_else(|| ChannelSpecError::UnknownPlatform(k.clone()))
            })
            .collect::<Result<_, _>>()?;
        Ok(Self {
            rules,
            categories,
            platforms,
            paid_channels: spec.paid_channels.clone(),
            internal_domains: globs(&spec.internal_domains),
        })
    }

    /// Whether `domain` is the site's own (configured internal domains).
    pub fn is_internal(&self, domain: &str) -> bool {
        any_match(&self.internal_domains, domain)
    }

    /// Whether `source` is in category `name`.
    pub fn in_category(&self, name: &str, source: &str) -> bool {
        self.categories
            .iter()
            .any(|(k, g)| k == name && any_match(g, source))
    }

    /// The channel name of the first matching rule, or `unassigned`.
    pub fn channel(&self, f: &Facts<'_>) -> &str {
        let direct = f.click.is_none() && !f.has_utm && !f.external_referrer;
        self.rules
            .iter()
            .find(|r| {
                r.direct.is_none_or(|d| d == direct)
                    && r.referrer.is_none_or(|x| x == f.external_referrer)
                    && (r.click_ids.is_empty() || f.click.is_some_and(|c| r.click_ids.contains(&c)))
                    && (r.source.is_empty() || any_match(&r.source, f.source))
                    && (r.categories.is_empty()
                        || r.categories
                            .iter()
                            .any(|&c| any_match(&self.categories[c].1, f.source)))
                    && (r.medium.is_empty() || any_match(&r.medium, f.medium))
                    && (r.campaign.is_empty() || any_match(&r.campaign, f.campaign))
            })
            .map_or(crate::domain::touchpoint::UNASSIGNED, |r| {
                r.channel.as_str()
            })
    }

    /// The ad platform of a touch: from its click id, else from its source on a paid channel.
    pub fn platform(&self, channel: &str, f: &Facts<'_>) -> Option<Platform> {
        if let Some(c) = f.click {
            return Some(c.platform());
        }
        if !self.paid_channels.iter().any(|p| p == channel) {
            return None;
        }
        self.platforms
            .iter()
            .find(|(_, g)| any_match(g, f.source))
            .map(|(p, _)| *p)
    }
}
