//! One synthetic person: sessions over the period, landings, pageviews, identify, conversions.

use std::fmt::Write;

use super::catalog::{self, Landing};
use super::Shape;
use crate::domain::ids::Uuid;
use crate::domain::rng::Rng;
use crate::domain::time::Timestamp;

const MS: i64 = 1000;
const HOUR_MS: i64 = 3_600_000;
const DAY_MS: i64 = 24 * HOUR_MS;

/// Writes one event row.
struct Event<'a> {
    uuid: u128,
    event: &'a str,
    distinct_id: &'a str,
    millis: i64,
    props: &'a str,
}

pub(super) struct Writer<'o> {
    pub out: &'o mut String,
    pub shape: Shape,
    pub events: u64,
    /// Paid sessions per (campaign, UTC day), for the matching ad metrics.
    pub paid: &'o mut super::ads::PaidSessions,
    /// `--end` (exclusive), in milliseconds: nothing at or after it is written.
    pub end_ms: i64,
}

impl Writer<'_> {
    fn event(&mut self, e: Event<'_>) {
        if e.millis >= self.end_ms {
            return;
        }
        let ts = Timestamp::from_micros(e.millis * MS).to_string();
        let id = Uuid(e.uuid).to_string();
        let out = &mut *self.out;
        match self.shape {
            Shape::Export => {
                let _ = write!(
                    out,
                    r#"{{"uuid":"{id}","event":"{}","distinct_id":"{}","timestamp":"{ts}","team_id":1,"properties":{{{}}}}}"#,
                    e.event, e.distinct_id, e.props
                );
            }
            Shape::ExportString => {
                let inner = format!("{{{}}}", e.props);
                let escaped = serde_json::to_string(&inner).expect("string");
                let _ = write!(
                    out,
                    r#"{{"uuid":"{id}","event":"{}","distinct_id":"{}","timestamp":"{ts}","team_id":1,"properties":{escaped}}}"#,
                    e.event, e.distinct_id
                );
            }
            Shape::EventsApi => {
                let _ = write!(
                    out,
                    r#"{{"id":"{id}","distinct_id":"{}","properties":{{{}}},"event":"{}","timestamp":"{ts}","elements_chain":""}}"#,
                    e.distinct_id, e.props, e.event
                );
            }
        }
        out.push('\n');
        self.events += 1;
    }
}

/// Simulates person `index` between `start_ms` and `end_ms`.
pub(super) fn simulate(seed: u64, index: u64, start_ms: i64, end_ms: i64, w: &mut Writer<'_>) {
    let mut rng = crate::domain::rng::Rng::for_item(seed, index);
    let anon = Uuid(rng.uuid7(start_ms)).to_string();
    let user = format!("user_{index:07}");
    let browser = *rng.pick(catalog::BROWSERS);
    let os = *rng.pick(catalog::OSES);
    let device = *rng.pick(catalog::DEVICES);
    let span = (end_ms - start_ms).max(DAY_MS);
    let mut t = start_ms + rng.below(span as u64) as i64;
    let sessions = 1 + (rng.exp(1.8) as usize).min(25);
    let will_identify = rng.chance(0.3);
    let mut identified = false;
    let mut purchases = 0;
    let landing_weights: Vec<f64> = catalog::LANDINGS.iter().map(|l| l.1).collect();
    for s in 0..sessions {
        if t >= end_ms {
            break;
        }
        let (landing, _, propensity) = catalog::LANDINGS[rng.weighted(&landing_weights)];
        let session_id = Uuid(rng.uuid7(t)).to_string();
        let pageviews = 1 + (rng.exp(2.0) as usize).min(12);
        let mut props = String::with_capacity(512);
        let landing_path = *rng.pick(catalog::PAGES);
        if let Some(camp) = landing_props(&mut rng, landing, landing_path, &mut props) {
            *w.paid
                .entry((camp.id, t.div_euclid(DAY_MS) as i32))
                .or_default() += 1;
        }
        let distinct = if identified {
            user.as_str()
        } else {
            anon.as_str()
        };
        let mut prev_path = "";
        for p in 0..pageviews {
            let path = if p == 0 {
                landing_path
            } else {
                *rng.pick(catalog::PAGES)
            };
            let mut all = String::with_capacity(640);
            let _ = write!(
                all,
                r#""$session_id":"{session_id}","$browser":"{browser}","$os":"{os}","$device_type":"{device}","$lib":"web","$host":"{}","$pathname":"{path}""#,
                catalog::HOST
            );
            if p == 0 {
                all.push_str(&props);
                if !props.contains("$current_url") {
                    let _ = write!(all, r#","$current_url":"https://{}{path}""#, catalog::HOST);
                }
            } else {
                let _ = write!(
                    all,
                    r#","$current_url":"https://{h}{path}","$referrer":"https://{h}{prev_path}","$referring_domain":"{h}""#,
                    h = catalog::HOST
                );
            }
            prev_path = path;
            let uuid = rng.uuid7(t);
            w.event(Event {
                uuid,
                event: "$pageview",
                distinct_id: distinct,
                millis: t,
                props: &all,
            });
            t += (10 + rng.below(110) as i64) * 1000;
        }
        let distinct = if !identified && will_identify && (s + 1 == sessions || rng.chance(0.4)) {
            identified = true;
            let props = format!(
                r#""$session_id":"{session_id}","$anon_distinct_id":"{anon}","$lib":"web""#
            );
            let uuid = rng.uuid7(t);
            w.event(Event {
                uuid,
                event: "$identify",
                distinct_id: &user,
                millis: t,
                props: &props,
            });
            t += 2000;
            let uuid = rng.uuid7(t);
            let props = format!(
                r#""$session_id":"{session_id}","plan":"{}","$lib":"web""#,
                rng.pick(&["free", "pro", "team"])
            );
            w.event(Event {
                uuid,
                event: "signed_up",
                distinct_id: &user,
                millis: t,
                props: &props,
            });
            t += 5000;
            user.as_str()
        } else if identified {
            user.as_str()
        } else {
            anon.as_str()
        };
        let returning = if s > 0 { 1.4 } else { 1.0 };
        if rng.chance(propensity * returning / (1.0 + purchases as f64)) {
            purchases += 1;
            let cents = 1_999 + rng.below(28_000) as i64;
            let currency = *rng.pick(&["USD", "USD", "USD", "USD", "EUR", "GBP"]);
            let props = format!(
                r#""$session_id":"{session_id}","revenue":{}.{:02},"currency":"{currency}","order_id":"o{index}-{purchases}","$lib":"web""#,
                cents / 100,
                cents % 100
            );
            let uuid = rng.uuid7(t);
            w.event(Event {
                uuid,
                event: "purchase",
                distinct_id: distinct,
                millis: t,
                props: &props,
            });
        }
        // Next visit: hours to days later.
        t += HOUR_MS + (rng.exp(3.0) * DAY_MS as f64) as i64;
    }
}

/// The landing page properties of a session's first pageview (leading comma included); the
/// campaign, for paid landings.
fn landing_props(
    rng: &mut Rng,
    landing: Landing,
    path: &str,
    out: &mut String,
) -> Option<&'static catalog::Campaign> {
    let host = catalog::HOST;
    match landing {
        Landing::Direct => out.push_str(r#","$referrer":"$direct","$referring_domain":"$direct""#),
        Landing::OrganicSearch | Landing::OrganicSocial | Landing::Referral => {
            let list = match landing {
                Landing::OrganicSearch => catalog::SEARCH_REFERRERS,
                Landing::OrganicSocial => catalog::SOCIAL_REFERRERS,
                _ => catalog::OTHER_REFERRERS,
            };
            let r = *rng.pick(list);
            let domain = crate::domain::event::url_host(r).unwrap_or("");
            let _ = write!(out, r#","$referrer":"{r}","$referring_domain":"{domain}""#);
        }
        Landing::Email => {
            let c = *rng.pick(catalog::EMAIL_CAMPAIGNS);
            let _ = write!(
                out,
                r#","$current_url":"https://{host}{path}?utm_source=newsletter&utm_medium=email&utm_campaign={c}","utm_source":"newsletter","utm_medium":"email","utm_campaign":"{c}","$referrer":"$direct","$referring_domain":"$direct""#
            );
        }
        Landing::Paid(i) => {
            let camp_ref: &'static catalog::Campaign = rng.pick(catalog::CAMPAIGNS[i]);
            let camp = *camp_ref;
            let click = if rng.chance(0.03) {
                "<masked>".to_string()
            } else {
                format!("{:016x}", rng.next_u64())
            };
            let referrer = match camp.platform {
                "google_ads" | "microsoft_ads" => {
                    r#","$referrer":"$direct","$referring_domain":"$direct""#.to_string()
                }
                _ => format!(
                    r#","$referrer":"https://{}.com/","$referring_domain":"{}.com""#,
                    camp.utm_source, camp.utm_source
                ),
            };
            let _ = write!(
                out,
                r#","$current_url":"https://{host}{path}?utm_source={s}&utm_medium={m}&utm_campaign={n}&utm_id={id}&{cp}={click}","utm_source":"{s}","utm_medium":"{m}","utm_campaign":"{n}","utm_id":"{id}","{cp}":"{click}"{referrer}"#,
                s = camp.utm_source,
                m = camp.utm_medium,
                n = camp.name,
                id = camp.id,
                cp = camp.click_param,
            );
            return Some(camp_ref);
        }
    }
    None
}
