//! What the synthetic traffic is made of: landings, referrers, campaigns, pages.

/// The site the synthetic events happen on.
pub const HOST: &str = "shop.example.com";

pub const PAGES: &[&str] = &[
    "/",
    "/pricing",
    "/product/alpha",
    "/product/beta",
    "/blog/attribution-101",
    "/docs",
    "/cart",
];
pub const BROWSERS: &[&str] = &[
    "Chrome",
    "Safari",
    "Firefox",
    "Edge",
    "Mobile Safari",
    "Chrome iOS",
];
pub const OSES: &[&str] = &["Mac OS X", "Windows", "iOS", "Android", "Linux"];
pub const DEVICES: &[&str] = &["Desktop", "Mobile", "Tablet"];

/// A paid campaign: platform, id, name, click-id parameter, utm_source, utm_medium.
#[derive(Debug, Clone, Copy)]
pub struct Campaign {
    pub platform: &'static str,
    pub id: &'static str,
    pub name: &'static str,
    pub click_param: &'static str,
    pub utm_source: &'static str,
    pub utm_medium: &'static str,
}

const fn c(
    platform: &'static str,
    id: &'static str,
    name: &'static str,
    click_param: &'static str,
    utm_source: &'static str,
    utm_medium: &'static str,
) -> Campaign {
    Campaign {
        platform,
        id,
        name,
        click_param,
        utm_source,
        utm_medium,
    }
}

/// Campaigns by landing kind index (see [`LANDINGS`]).
pub const CAMPAIGNS: &[&[Campaign]] = &[
    &[
        c(
            "google_ads",
            "21001",
            "brand_search",
            "gclid",
            "google",
            "cpc",
        ),
        c(
            "google_ads",
            "21002",
            "generic_search",
            "gclid",
            "google",
            "cpc",
        ),
        c(
            "google_ads",
            "21003",
            "pmax_cross-network",
            "gclid",
            "google",
            "cpc",
        ),
    ],
    &[
        c(
            "meta",
            "23850001",
            "prospecting_lookalike",
            "fbclid",
            "facebook",
            "paid_social",
        ),
        c(
            "meta",
            "23850002",
            "retargeting_cart",
            "fbclid",
            "instagram",
            "paid_social",
        ),
    ],
    &[c(
        "linkedin_ads",
        "61001",
        "abm_enterprise",
        "li_fat_id",
        "linkedin",
        "paid_social",
    )],
    &[c(
        "microsoft_ads",
        "41001",
        "bing_brand",
        "msclkid",
        "bing",
        "cpc",
    )],
    &[c(
        "reddit_ads",
        "t2_c1",
        "reddit_communities",
        "rdt_cid",
        "reddit",
        "paid_social",
    )],
    &[c(
        "x_ads",
        "x7k2",
        "x_launch",
        "twclid",
        "twitter",
        "paid_social",
    )],
    &[c(
        "tiktok_ads",
        "17001",
        "tiktok_creators",
        "ttclid",
        "tiktok",
        "paid_social",
    )],
];

/// How a session arrives.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Landing {
    Direct,
    OrganicSearch,
    OrganicSocial,
    Referral,
    Email,
    /// Paid, with an index into [`CAMPAIGNS`].
    Paid(usize),
}

/// Landing kinds with their share of sessions and per-session conversion propensity.
pub const LANDINGS: &[(Landing, f64, f64)] = &[
    (Landing::Direct, 0.28, 0.040),
    (Landing::OrganicSearch, 0.18, 0.035),
    (Landing::OrganicSocial, 0.07, 0.015),
    (Landing::Referral, 0.05, 0.025),
    (Landing::Email, 0.05, 0.070),
    (Landing::Paid(0), 0.14, 0.060),
    (Landing::Paid(1), 0.09, 0.025),
    (Landing::Paid(2), 0.03, 0.045),
    (Landing::Paid(3), 0.03, 0.050),
    (Landing::Paid(4), 0.03, 0.015),
    (Landing::Paid(5), 0.02, 0.012),
    (Landing::Paid(6), 0.03, 0.018),
];

pub const SEARCH_REFERRERS: &[&str] = &[
    "https://www.google.com/",
    "https://www.bing.com/",
    "https://duckduckgo.com/",
    "https://www.google.co.uk/",
];
pub const SOCIAL_REFERRERS: &[&str] = &[
    "https://www.facebook.com/",
    "https://t.co/",
    "https://www.linkedin.com/",
    "https://www.reddit.com/",
    "https://l.instagram.com/",
];
pub const OTHER_REFERRERS: &[&str] = &[
    "https://blog.example.org/best-tools",
    "https://www.producthunt.com/posts/shop",
    "https://github.com/awesome/list",
];
pub const EMAIL_CAMPAIGNS: &[&str] = &["weekly_digest", "winback_q4", "product_launch"];
