//! The local sink's `campaign_performance.ndjson`: what BigQuery's `campaign_performance` view
//! computes, from the committed files, rebuilt after every cycle that has ad metrics. Latest
//! rows as the views keep them (ads: the newest run of a key; credits: the newest run of a
//! conversion and model), spend per platform, campaign and day joined with the credits every
//! model gave touchpoints of that campaign on that (conversion) day; a credit names its
//! campaign by id, else by name matched to the ad platform's campaign names.

use std::collections::{BTreeMap, BTreeSet, HashMap, HashSet};
use std::fs;
use std::io::{BufRead, BufReader, Write};
use std::path::Path;

use anyhow::Context;
use serde::Deserialize;

/// The file name under the sink directory.
pub const FILE: &str = "campaign_performance.ndjson";

#[derive(Debug, Deserialize)]
struct AdRow {
    row_key: String,
    platform: String,
    campaign_id: String,
    #[serde(default)]
    campaign_name: Option<String>,
    date: String,
    currency: String,
    spend_micros: i64,
    #[serde(default)]
    impressions: i64,
    #[serde(default)]
    clicks: i64,
    #[serde(default)]
    platform_conversions: f64,
}

#[derive(Debug, Deserialize)]
struct CreditRow {
    conversion_id: String,
    converted_at: String,
    model: String,
    #[serde(default)]
    platform: Option<String>,
    #[serde(default)]
    campaign: Option<String>,
    #[serde(default)]
    campaign_id: Option<String>,
    credit: f64,
    #[serde(default)]
    credited_value_micros: Option<i64>,
}

fn hash(parts: &[&str]) -> u64 {
    use std::hash::BuildHasher;
    foldhash::fast::FixedState::with_seed(7).hash_one(parts)
}

/// Streams the committed rows of `table`, newest run first, passing on only the rows of groups
/// (`group`: a row key, or a conversion and model) that no newer run wrote: the rows the
/// `_latest` views keep. Memory holds one hash per group, not the rows. Returns the files read.
fn newest_first<T: for<'de> Deserialize<'de>>(
    dir: &Path,
    table: &str,
    group: impl Fn(&T) -> u64,
    mut each: impl FnMut(T),
) -> anyhow::Result<usize> {
    let d = dir.join(table);
    let entries = match fs::read_dir(&d) {
        Ok(e) => e,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(0),
        Err(e) => return Err(e).with_context(|| format!("cannot list {}", d.display())),
    };
    let mut files: Vec<(u64, std::path::PathBuf)> = Vec::new();
    for e in entries {
        let p = e?.path();
        let run = p
            .file_stem()
            .and_then(|s| s.to_str())
            .and_then(|s| s.parse::<u64>().ok());
        if let (Some(run), true) = (run, p.extension().is_some_and(|x| x == "ndjson")) {
            files.push((run, p));
        }
    }
    files.sort_by_key(|f| std::cmp::Reverse(f.0));
    let mut seen: HashSet<u64> = HashSet::new();
    for (_, p) in &files {
        let mut this: HashSet<u64> = HashSet::new();
        let f = fs::File::open(p).with_context(|| format!("cannot open {}", p.display()))?;
        for (i, line) in BufReader::new(f).lines().enumerate() {
            let line = line.with_context(|| format!("cannot read {}", p.display()))?;
            let row: T = serde_json::from_str(&line)
                .with_context(|| format!("{} line {}", p.display(), i + 1))?;
            let g = group(&row);
            if seen.contains(&g) {
                continue;
            }
            this.insert(g);
            each(row);
        }
        seen.extend(this);
    }
    Ok(files.len())
}

/// (platform, campaign_id, date, model).
type CreditKey = (String, String, String, String);

#[derive(Debug, Default)]
struct Spend {
    name: Option<String>,
    currency: String,
    spend: i64,
    impressions: i64,
    clicks: i64,
    platform_conversions: f64,
}

/// Rebuilds the file when there are ad metrics; returns how many rows it holds.
pub fn rebuild(dir: &Path) -> anyhow::Result<usize> {
    // (platform, campaign_id, date) → spend, across accounts.
    let mut spend: BTreeMap<(String, String, String), Spend> = BTreeMap::new();
    let mut by_name: HashMap<(String, String), String> = HashMap::new();
    let ad_files = newest_first(
        dir,
        "ad_metrics",
        |r: &AdRow| hash(&[&r.row_key]),
        |a: AdRow| {
            if let Some(n) = &a.campaign_name {
                by_name.insert(
                    (a.platform.clone(), n.to_lowercase()),
                    a.campaign_id.clone(),
                );
            }
            let s = spend
                .entry((a.platform, a.campaign_id, a.date))
                .or_default();
            s.name = s.name.take().or(a.campaign_name);
            s.currency = a.currency;
            s.spend += a.spend_micros;
            s.impressions += a.impressions;
            s.clicks += a.clicks;
            s.platform_conversions += a.platform_conversions;
        },
    )?;
    if ad_files == 0 {
        return Ok(0);
    }
    // (platform, campaign_id, date, model) → (conversions, value, a campaign name).
    let mut credited: BTreeMap<CreditKey, (f64, i64, Option<String>)> = BTreeMap::new();
    let mut models = BTreeSet::new();
    // A conversion re-attributed by a newer run replaces all its older credits of that model.
    newest_first(
        dir,
        "attribution_credits",
        |c: &CreditRow| hash(&[&c.conversion_id, &c.model]),
        |c: CreditRow| {
            models.insert(c.model.clone());
            let Some(p) = c.platform else { return };
            let id = c.campaign_id.clone().or_else(|| {
                c.campaign
                    .as_ref()
                    .and_then(|n| by_name.get(&(p.clone(), n.to_lowercase())).cloned())
            });
            let Some(id) = id.or_else(|| c.campaign.clone()) else {
                return;
            };
            let date = c.converted_at.get(..10).unwrap_or_default().to_string();
            let e = credited
                .entry((p, id, date, c.model))
                .or_insert((0.0, 0, None));
            e.0 += c.credit;
            e.1 += c.credited_value_micros.unwrap_or(0);
            if e.2.is_none() {
                e.2 = c.campaign;
            }
        },
    )?;
    let tmp = dir.join(format!("{FILE}.partial"));
    let mut out = std::io::BufWriter::new(
        fs::File::create(&tmp).with_context(|| format!("cannot create {}", tmp.display()))?,
    );
    let mut n = 0;
    let mut emit = |row: serde_json::Value| -> anyhow::Result<()> {
        serde_json::to_writer(&mut out, &row)?;
        out.write_all(b"\n")?;
        n += 1;
        Ok(())
    };
    // Spend shows even before any model credited anything.
    if models.is_empty() {
        models.insert(String::new());
    }
    for ((p, id, date), s) in &spend {
        for m in &models {
            let (conv, value, _) = credited
                .remove(&(p.clone(), id.clone(), date.clone(), m.clone()))
                .unwrap_or((0.0, 0, None));
            emit(serde_json::json!({
                "platform": p, "campaign_id": id, "campaign_name": s.name, "date": date,
                "model": (!m.is_empty()).then_some(m),
                "currency": s.currency, "spend_micros": s.spend, "impressions": s.impressions, "clicks": s.clicks,
                "platform_conversions": s.platform_conversions,
                "attributed_conversions": conv, "attributed_value_micros": value,
                "cpa_micros": (conv > 0.0).then(|| s.spend as f64 / conv),
                "roas": (s.spend > 0).then(|| value as f64 / s.spend as f64),
            }))?;
        }
    }
    // Credited campaigns without spend rows (not pulled, or organic use of the tags).
    for ((p, id, date, m), (conv, value, name)) in credited {
        emit(serde_json::json!({
            "platform": p, "campaign_id": id, "campaign_name": name, "date": date, "model": m,
            "currency": null, "spend_micros": 0, "impressions": null, "clicks": null, "platform_conversions": null,
            "attributed_conversions": conv, "attributed_value_micros": value, "cpa_micros": null, "roas": null,
        }))?;
    }
    let f = out.into_inner().map_err(|e| e.into_error())?;
    f.sync_all()?;
    fs::rename(&tmp, dir.join(FILE)).context("cannot replace campaign_performance.ndjson")?;
    Ok(n)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn write(dir: &Path, table: &str, run: u32, lines: &[serde_json::Value]) {
        let d = dir.join(table);
        fs::create_dir_all(&d).unwrap();
        let text: String = lines.iter().map(|l| format!("{l}\n")).collect();
        fs::write(d.join(format!("{run}.ndjson")), text).unwrap();
    }

    fn ad(spend: i64) -> serde_json::Value {
        serde_json::json!({"row_key": "google_ads:1:111:2024-06-01", "platform": "google_ads", "campaign_id": "111",
            "campaign_name": "Brand", "date": "2024-06-01", "currency": "USD", "spend_micros": spend, "pulled_at": "x"})
    }

    fn credit(
        conversion: &str,
        touch: &str,
        credit: f64,
        campaign: serde_json::Value,
    ) -> serde_json::Value {
        serde_json::json!({"row_key": format!("{conversion}:linear:{touch}"), "conversion_id": conversion,
            "converted_at": "2024-06-01T10:00:00Z", "model": "linear", "platform": "google_ads",
            "campaign": campaign, "credit": credit, "credited_value_micros": (credit * 10e6) as i64})
    }

    #[test]
    fn newest_pulls_and_newest_attributions_win() {
        let dir = tempfile::tempdir().unwrap();
        let d = dir.path();
        write(d, "ad_metrics", 2, &[ad(5_000_000)]);
        write(d, "ad_metrics", 10, &[ad(7_000_000)]);
        // Run 3 credits conversion c1 half to a Brand touch; run 11 re-attributes it wholly to
        // another Brand touch, so run 3's credit must not count.
        write(
            d,
            "attribution_credits",
            3,
            &[
                credit("c1", "t1", 0.5, "Brand".into()),
                credit("c2", "t9", 1.0, "brand".into()),
            ],
        );
        write(
            d,
            "attribution_credits",
            11,
            &[credit("c1", "t2", 1.0, "Brand".into())],
        );
        assert_eq!(rebuild(d).unwrap(), 1);
        let row: serde_json::Value =
            serde_json::from_str(fs::read_to_string(d.join(FILE)).unwrap().trim()).unwrap();
        assert_eq!(row["spend_micros"], 7_000_000, "the newest pull");
        assert_eq!(
            row["campaign_id"], "111",
            "credits matched by name, case-insensitively"
        );
        assert_eq!(
            row["attributed_conversions"], 2.0,
            "c1 once (run 11) and c2"
        );
        assert_eq!(row["cpa_micros"], 3_500_000.0);
    }

    #[test]
    fn nothing_is_built_without_ad_metrics() {
        let dir = tempfile::tempdir().unwrap();
        write(
            dir.path(),
            "attribution_credits",
            1,
            &[credit("c1", "t1", 1.0, "Brand".into())],
        );
        assert_eq!(rebuild(dir.path()).unwrap(), 0);
        assert!(!dir.path().join(FILE).exists());
    }
}
