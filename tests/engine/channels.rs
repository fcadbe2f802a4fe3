use attrsync::domain::extract::SessionStart;
use attrsync::domain::ids::Uuid;
use attrsync::domain::platform::Platform;
use attrsync::domain::time::Timestamp;
use attrsync::domain::touchpoint::PersonKey;
use attrsync::engine::channels::ChannelRules;
use attrsync::engine::identity::Person;
use attrsync::engine::touchpoints::{classify, ChannelNames};
use attrsync::sources::wire::parse_line;

use crate::support;

/// Classifies one landing (given as event properties) with the default rules.
fn channel_of(props: serde_json::Value) -> (String, Option<Platform>, String, String) {
    let settings = support::settings(&[]);
    let rules = ChannelRules::compile(&settings.channels).unwrap();
    let line = support::events::pageview(1, "d", "2024-06-01T00:00:00Z", "s", props);
    let ev = parse_line(line.as_bytes(), &Default::default()).unwrap();
    let (start, _) = SessionStart::new(
        (Timestamp::from_micros(0), Uuid(1)),
        "d",
        None,
        &ev.props,
        true,
    );
    let t = classify(
        &start,
        Person {
            key: PersonKey("p".into()),
            ix: 0,
        },
        &rules,
        &mut ChannelNames::default(),
    );
    (
        t.channel.to_string(),
        t.platform,
        t.source().to_string(),
        t.medium().to_string(),
    )
}

#[test]
fn click_ids_mean_paid_and_name_the_platform() {
    use serde_json::json;
    let cases = [
        (
            json!({"gclid": "x"}),
            "paid_search",
            Some(Platform::GoogleAds),
        ),
        (
            json!({"msclkid": "x"}),
            "paid_search",
            Some(Platform::MicrosoftAds),
        ),
        (json!({"fbclid": "x"}), "paid_social", Some(Platform::Meta)),
        (
            json!({"li_fat_id": "x"}),
            "paid_social",
            Some(Platform::LinkedinAds),
        ),
        (
            json!({"ttclid": "x"}),
            "paid_social",
            Some(Platform::TiktokAds),
        ),
        (json!({"twclid": "x"}), "paid_social", Some(Platform::XAds)),
        (
            json!({"rdt_cid": "<masked>"}),
            "paid_social",
            Some(Platform::RedditAds),
        ),
        (json!({"dclid": "x"}), "display", Some(Platform::GoogleAds)),
        (
            json!({"gclid": "x", "utm_campaign": "PMax_Cross-Network_EU"}),
            "cross_network",
            Some(Platform::GoogleAds),
        ),
    ];
    for (props, channel, platform) in cases {
        let got = channel_of(props.clone());
        assert_eq!((got.0.as_str(), got.1), (channel, platform), "{props}");
    }
}

#[test]
fn utm_tags_follow_ga4_default_groups() {
    use serde_json::json;
    let cases = [
        (
            json!({"utm_source": "google", "utm_medium": "cpc"}),
            "paid_search",
            Some(Platform::GoogleAds),
        ),
        (
            json!({"utm_source": "Facebook", "utm_medium": "Paid_Social"}),
            "paid_social",
            Some(Platform::Meta),
        ),
        (
            json!({"utm_source": "linkedin", "utm_medium": "ppc"}),
            "paid_social",
            Some(Platform::LinkedinAds),
        ),
        (
            json!({"utm_source": "youtube", "utm_medium": "cpv"}),
            "paid_video",
            Some(Platform::GoogleAds),
        ),
        (
            json!({"utm_source": "partner", "utm_medium": "display"}),
            "display",
            None,
        ),
        (
            json!({"utm_source": "newsletter", "utm_medium": "email"}),
            "email",
            None,
        ),
        (
            json!({"utm_source": "twitter", "utm_medium": "social"}),
            "organic_social",
            None,
        ),
        (
            json!({"utm_source": "partner", "utm_medium": "affiliate"}),
            "affiliates",
            None,
        ),
        (
            json!({"utm_source": "partner", "utm_medium": "sms"}),
            "sms",
            None,
        ),
        (
            json!({"utm_source": "app", "utm_medium": "web_push"}),
            "mobile_push",
            None,
        ),
        (
            json!({"utm_source": "somewhere", "utm_medium": "weird"}),
            "unassigned",
            None,
        ),
    ];
    for (props, channel, platform) in cases {
        let got = channel_of(props.clone());
        assert_eq!((got.0.as_str(), got.1), (channel, platform), "{props}");
    }
}

#[test]
fn referrers_become_organic_search_social_or_referral() {
    use serde_json::json;
    let (c, p, s, m) = channel_of(
        json!({"$referrer": "https://www.google.co.uk/", "$referring_domain": "www.google.co.uk"}),
    );
    assert_eq!(
        (c.as_str(), p, s.as_str(), m.as_str()),
        ("organic_search", None, "google.co.uk", "organic")
    );
    let (c, ..) = channel_of(json!({"$referring_domain": "t.co"}));
    assert_eq!(c, "organic_social");
    let (c, _, s, m) = channel_of(json!({"$referrer": "https://blog.example.org/post"}));
    assert_eq!(
        (c.as_str(), s.as_str(), m.as_str()),
        ("referral", "blog.example.org", "referral")
    );
    let (c, ..) = channel_of(json!({"$referring_domain": "youtube.com"}));
    assert_eq!(c, "organic_video");
}

#[test]
fn no_signal_or_own_site_referrer_is_direct() {
    use serde_json::json;
    assert_eq!(
        channel_of(json!({"$referring_domain": "$direct"})).0,
        "direct"
    );
    // A referrer on the landing page's own host is navigation, not a source.
    let (c, _, s, m) = channel_of(json!({"$referring_domain": "www.shop.example.com"}));
    assert_eq!(
        (c.as_str(), s.as_str(), m.as_str()),
        ("direct", "(direct)", "(none)")
    );
}
