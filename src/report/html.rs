//! The page: one self-contained HTML file (styles, charts and a small sorting script inline;
//! nothing fetched when it is viewed), readable printed and on a phone. Every chart has its
//! numbers in a table; cells carry their exact values in `data-*` attributes.

use std::fmt::Write;

use super::data::{Amount, CampaignRow, Credited, ReportData};
use super::format::{esc, num};
use super::svg;

/// Micros as money: `12,345.67 USD`.
fn money(micros: i64, currency: &str) -> String {
    format!("{} {}", num(micros as f64 / 1e6, 2), esc(currency))
}

/// An amount in the reporting currency when there is one, else per currency.
fn amount(a: &Amount, reporting: Option<&str>) -> String {
    match reporting {
        Some(r) => match a.reporting {
            Some(v) => money(v, r),
            None if a.by_currency.is_empty() => money(0, r),
            None => "no rate".into(),
        },
        None if a.by_currency.is_empty() => "–".into(),
        None => a
            .by_currency
            .iter()
            .map(|(c, v)| money(*v, c))
            .collect::<Vec<_>>()
            .join("<br>"),
    }
}

/// The amount as one number in one currency, when it is one (for ratios).
fn single(a: &Amount, reporting: Option<&str>) -> Option<(i64, String)> {
    match reporting {
        Some(r) => a.reporting.map(|v| (v, r.to_string())),
        None if a.by_currency.len() == 1 => {
            a.by_currency.iter().next().map(|(c, v)| (*v, c.clone()))
        }
        None => None,
    }
}

fn duration(secs: f64) -> String {
    match secs {
        s if s < 3600.0 => format!("{:.0} min", s / 60.0),
        s if s < 2.0 * 86400.0 => format!("{:.1} h", s / 3600.0),
        s => format!("{:.1} days", s / 86400.0),
    }
}

const STYLE: &str = r#"
:root{--fg:#1b1f24;--muted:#5b6470;--line:#d8dde3;--bg:#fff;--accent:#0072B2}
*{box-sizing:border-box}
body{font:15px/1.45 system-ui,-apple-system,"Segoe UI",Roboto,sans-serif;color:var(--fg);background:var(--bg);margin:0;padding:16px;max-width:1100px;margin:auto}
h1{font-size:1.5rem;margin:.2rem 0}
h2{font-size:1.15rem;margin:2rem 0 .4rem;border-bottom:2px solid var(--accent);padding-bottom:.2rem}
p.meta,p.note{color:var(--muted);margin:.2rem 0}
.scroll{overflow-x:auto;-webkit-overflow-scrolling:touch}
table{border-collapse:collapse;margin:.5rem 0 1rem;font-variant-numeric:tabular-nums;min-width:50%}
th,td{border-bottom:1px solid var(--line);padding:.25rem .55rem;text-align:right;white-space:nowrap}
th{background:#f3f5f7;position:sticky;top:0}
th[data-sort]{cursor:pointer}
td.l,th.l{text-align:left}
svg.chart{width:100%;height:auto;max-height:360px}
svg .tick,svg .cat,svg .legend{font-size:11px;fill:#333}
ul.warn li{color:#8a4b00}
.ok{color:#006b3c}.warn{color:#8a4b00}.fail{color:#b00020}
@media (max-width:640px){body{padding:8px;font-size:14px}th,td{padding:.2rem .35rem}}
@media print{body{max-width:none;padding:0}h2{break-after:avoid}table,svg{break-inside:avoid}th{position:static}}
"#;

/// Sorts a table when a header with `data-sort` is clicked; the page reads fine without it.
const SCRIPT: &str = r#"
document.querySelectorAll('table.sortable').forEach(function(t){
  t.querySelectorAll('th[data-sort]').forEach(function(th,i){
    th.addEventListener('click',function(){
      var col=Array.prototype.indexOf.call(th.parentNode.children,th);
      var rows=Array.prototype.slice.call(t.tBodies[0].rows);
      var desc=th.getAttribute('aria-sort')!=='descending';
      rows.sort(function(a,b){
        var x=a.cells[col].getAttribute('data-v'),y=b.cells[col].getAttribute('data-v');
        var nx=parseFloat(x),ny=parseFloat(y);
        var c=(isNaN(nx)||isNaN(ny))?String(x).localeCompare(String(y)):nx-ny;
        return desc?-c:c;});
      rows.forEach(function(r){t.tBodies[0].appendChild(r);});
      t.querySelectorAll('th').forEach(function(h){h.removeAttribute('aria-sort');});
      th.setAttribute('aria-sort',desc?'descending':'ascending');
    });
  });
});
"#;

/// The whole page.
pub fn page(d: &ReportData) -> String {
    let reporting = d.reporting.map(|c| c.as_str().to_string());
    let rep = reporting.as_deref();
    let mut h = String::with_capacity(64 * 1024);
    let period = match (d.from, d.to) {
        (None, None) => "every day the sink holds".to_string(),
        (f, t) => format!(
            "{} to {}",
            f.map_or("the first day".into(), |d| d.to_string()),
            t.map_or("the last".into(), |d| d.to_string())
        ),
    };
    let generated = d.generated_at.to_string();
    let generated = generated
        .get(..19)
        .map_or(generated.clone(), |s| format!("{s}Z"));
    let _ = write!(
        h,
        r#"<!DOCTYPE html><html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width,initial-scale=1"><title>attrsync report</title><style>{STYLE}</style></head><body>
<h1>attrsync report</h1>
<p class="meta">Conversions and spend of {period} · from {sink} · generated {generated}{cur}</p>"#,
        sink = esc(&d.sink),
        cur = rep.map_or(String::new(), |c| format!(" · values in {c}")),
    );
    models_section(&mut h, d, rep);
    campaigns_section(&mut h, d, rep);
    paths_section(&mut h, d);
    daily_section(&mut h, d);
    quality_section(&mut h, d);
    let _ = writeln!(h, "<script>{SCRIPT}</script></body></html>");
    h
}

fn credited<'a>(
    c: &'a std::collections::BTreeMap<String, Credited>,
    m: &str,
) -> Option<&'a Credited> {
    c.get(m)
}

fn models_section(h: &mut String, d: &ReportData, rep: Option<&str>) {
    h.push_str("<h2 id=\"models\">Model comparison</h2>");
    if d.channels.is_empty() {
        h.push_str("<p class=\"note\">No credited conversions in this period yet.</p>");
        return;
    }
    h.push_str("<p class=\"note\">Conversions credited to each channel under each model. The spread is the largest minus the smallest credit across models: where it is wide, the choice of model decides the answer.</p>");
    let cats: Vec<String> = d.channels.iter().map(|c| c.channel.clone()).collect();
    let values: Vec<Vec<f64>> = d
        .channels
        .iter()
        .map(|c| {
            d.models
                .iter()
                .map(|m| credited(&c.by_model, m).map_or(0.0, |x| x.conversions))
                .collect()
        })
        .collect();
    h.push_str(&svg::grouped_bars(
        "Conversions by channel and model",
        &cats,
        &d.models,
        &values,
    ));
    h.push_str("<div class=\"scroll\"><table id=\"channel-credit\" class=\"sortable\"><thead><tr><th class=\"l\" data-sort>channel</th>");
    for m in &d.models {
        let _ = write!(h, "<th data-sort>{}</th>", esc(m));
    }
    h.push_str("<th data-sort>spread</th></tr></thead><tbody>");
    for c in &d.channels {
        let _ = write!(
            h,
            "<tr data-channel=\"{ch}\"><td class=\"l\" data-v=\"{ch}\">{ch}</td>",
            ch = esc(&c.channel)
        );
        for m in &d.models {
            let v = credited(&c.by_model, m).map_or(0.0, |x| x.conversions);
            let _ = write!(
                h,
                "<td data-model=\"{m}\" data-v=\"{v}\" data-conversions=\"{v}\">{}</td>",
                num(v, 1),
                m = esc(m)
            );
        }
        let s = c.spread(&d.models);
        let _ = write!(h, "<td data-v=\"{s}\">{}</td></tr>", num(s, 1));
    }
    h.push_str("</tbody></table></div>");
    // Value per channel and model.
    if rep.is_none() {
        h.push_str("<p class=\"note\">Value per currency of the conversions; set <code>reporting.currency</code> to see one sum.</p>");
    }
    h.push_str(
        "<div class=\"scroll\"><table id=\"channel-value\"><thead><tr><th class=\"l\">value</th>",
    );
    for m in &d.models {
        let _ = write!(h, "<th>{}</th>", esc(m));
    }
    h.push_str("</tr></thead><tbody>");
    for c in &d.channels {
        let _ = write!(h, "<tr><td class=\"l\">{}</td>", esc(&c.channel));
        for m in &d.models {
            let cell = credited(&c.by_model, m).map_or("–".into(), |x| amount(&x.value, rep));
            let _ = write!(h, "<td>{cell}</td>");
        }
        h.push_str("</tr>");
    }
    h.push_str("</tbody></table></div>");
}

fn campaign_cells(h: &mut String, c: &CampaignRow, focus: &str, rep: Option<&str>) {
    let spend = single(&c.spend, rep);
    let f = c.by_model.get(focus);
    let conv = f.map_or(0.0, |x| x.conversions);
    let value = f.and_then(|x| single(&x.value, rep));
    let cpa = spend
        .as_ref()
        .filter(|_| conv > 0.0)
        .map(|(s, cur)| money((*s as f64 / conv) as i64, cur));
    let roas = match (&spend, &value) {
        (Some((s, _)), Some((v, _))) if *s > 0 => Some(*v as f64 / *s as f64),
        _ => None,
    };
    let over = c.over_claim();
    let spend_v = spend.as_ref().map_or(0, |(s, _)| *s);
    let _ = write!(
        h,
        "<td data-v=\"{spend_v}\">{}</td><td data-v=\"{}\">{}</td><td data-v=\"{}\">{}</td><td data-v=\"{}\">{}</td><td data-v=\"{conv}\">{}</td><td>{}</td><td>{}</td><td data-v=\"{}\">{}</td><td data-v=\"{}\">{}</td>",
        amount(&c.spend, rep),
        c.clicks,
        num(c.clicks as f64, 0),
        c.platform_conversions,
        num(c.platform_conversions, 1),
        c.by_model.get("last_touch").map_or(0.0, |x| x.conversions),
        c.by_model
            .get("last_touch")
            .map_or("–".into(), |x| num(x.conversions, 1)),
        num(conv, 1),
        f.map_or("–".into(), |x| amount(&x.value, rep)),
        cpa.unwrap_or_else(|| "–".into()),
        roas.unwrap_or(-1.0),
        roas.map_or("–".into(), |r| num(r, 2)),
        over.unwrap_or(-1.0),
        over.map_or("–".into(), |r| format!("{}×", num(r, 2))),
    );
}

fn campaigns_section(h: &mut String, d: &ReportData, rep: Option<&str>) {
    h.push_str("<h2 id=\"campaigns\">Campaigns</h2>");
    if d.campaigns.is_empty() {
        h.push_str("<p class=\"note\">No ad spend in this period (enable an [ads] platform or the ad metrics file).</p>");
        return;
    }
    let focus = esc(&d.focus);
    let _ = write!(
        h,
        "<p class=\"note\">Largest spenders first; click a heading to sort. CPA and ROAS under <b>{focus}</b>. Over-claim is the platform's own conversions over attrsync's last-touch conversions: above 1× the platform counts conversions another channel closed.</p>"
    );
    let _ = write!(
        h,
        "<div class=\"scroll\"><table id=\"campaigns-table\" class=\"sortable\"><thead><tr><th class=\"l\" data-sort>platform</th><th class=\"l\" data-sort>campaign</th><th data-sort>spend</th><th data-sort>clicks</th><th data-sort>platform conversions</th><th data-sort>last-touch conversions</th><th data-sort>{focus} conversions</th><th>{focus} value</th><th>CPA</th><th data-sort>ROAS</th><th data-sort>over-claim</th></tr></thead><tbody>"
    );
    for c in &d.campaigns {
        let name = c.name.clone().unwrap_or_else(|| c.campaign_id.clone());
        let spend = single(&c.spend, rep);
        let _ = write!(
            h,
            "<tr data-platform=\"{p}\" data-campaign=\"{id}\" data-spend-micros=\"{s}\" data-currency=\"{cur}\"><td class=\"l\" data-v=\"{p}\">{p}</td><td class=\"l\" data-v=\"{n}\">{n}</td>",
            p = esc(&c.platform),
            id = esc(&c.campaign_id),
            s = spend.as_ref().map_or(String::new(), |(v, _)| v.to_string()),
            cur = spend.as_ref().map_or(String::new(), |(_, c)| esc(c)),
            n = esc(&name)
        );
        campaign_cells(h, c, &d.focus, rep);
        h.push_str("</tr>");
    }
    h.push_str("</tbody></table></div>");
    // Attributed conversions of each campaign under every model.
    h.push_str("<div class=\"scroll\"><table id=\"campaign-models\"><thead><tr><th class=\"l\">campaign</th>");
    for m in &d.models {
        let _ = write!(h, "<th>{}</th>", esc(m));
    }
    h.push_str("</tr></thead><tbody>");
    for c in &d.campaigns {
        let name = c.name.clone().unwrap_or_else(|| c.campaign_id.clone());
        let _ = write!(
            h,
            "<tr><td class=\"l\">{} · {}</td>",
            esc(&c.platform),
            esc(&name)
        );
        for m in &d.models {
            let _ = write!(
                h,
                "<td>{}</td>",
                c.by_model
                    .get(m)
                    .map_or("–".into(), |x| num(x.conversions, 1))
            );
        }
        h.push_str("</tr>");
    }
    h.push_str("</tbody></table></div>");
}

fn paths_section(h: &mut String, d: &ReportData) {
    h.push_str("<h2 id=\"journeys\">Journeys</h2>");
    let Some(model) = &d.path_model else {
        h.push_str("<p class=\"note\">Paths need a model that credits every touch of a window (linear, position_based, time_decay, markov or shapley); none is enabled.</p>");
        return;
    };
    let _ = write!(
        h,
        "<p class=\"note\">The most frequent conversion paths: the channels of the touches in each conversion's lookback window, in time order ({} conversions, read from the {} credits).</p>",
        num(d.path_conversions as f64, 0),
        esc(model)
    );
    h.push_str("<div class=\"scroll\"><table id=\"paths\" class=\"sortable\"><thead><tr><th class=\"l\">path</th><th data-sort>conversions</th><th data-sort>share</th><th data-sort>median touches</th><th data-sort>median time to convert</th></tr></thead><tbody>");
    for p in &d.paths {
        let share = p.conversions as f64 / d.path_conversions.max(1) as f64;
        let _ = write!(
            h,
            "<tr><td class=\"l\">{}</td><td data-v=\"{c}\">{}</td><td data-v=\"{share}\">{}%</td><td data-v=\"{t}\">{}</td><td data-v=\"{s}\">{}</td></tr>",
            esc(&p.path),
            num(p.conversions as f64, 0),
            num(share * 100.0, 1),
            num(p.median_touches, 1),
            p.median_secs.map_or("–".into(), duration),
            c = p.conversions,
            t = p.median_touches,
            s = p.median_secs.unwrap_or(-1.0),
        );
    }
    h.push_str("</tbody></table></div>");
}

fn daily_section(h: &mut String, d: &ReportData) {
    h.push_str("<h2 id=\"over-time\">Over time</h2>");
    if d.daily.is_empty() {
        h.push_str("<p class=\"note\">No conversions in this period.</p>");
        return;
    }
    let _ = write!(
        h,
        "<p class=\"note\">Conversions per day by channel under <b>{}</b> (choose another with <code>--model</code>).</p>",
        esc(&d.focus)
    );
    let mut channels: Vec<(String, f64)> = Vec::new();
    for day in d.daily.values() {
        for (c, v) in day {
            match channels.iter_mut().find(|(n, _)| n == c) {
                Some(e) => e.1 += v,
                None => channels.push((c.clone(), *v)),
            }
        }
    }
    channels.sort_by(|a, b| b.1.total_cmp(&a.1).then(a.0.cmp(&b.0)));
    let series: Vec<String> = channels.iter().map(|(c, _)| c.clone()).collect();
    let days: Vec<String> = d.daily.keys().map(|k| k.to_string()).collect();
    let values: Vec<Vec<f64>> = d
        .daily
        .values()
        .map(|day| {
            series
                .iter()
                .map(|c| day.get(c).copied().unwrap_or(0.0))
                .collect()
        })
        .collect();
    h.push_str(&svg::stacked_bars(
        "Conversions per day by channel",
        &days,
        &series,
        &values,
    ));
    h.push_str("<details><summary>The numbers</summary><div class=\"scroll\"><table id=\"daily\"><thead><tr><th class=\"l\">day</th>");
    for s in &series {
        let _ = write!(h, "<th>{}</th>", esc(s));
    }
    h.push_str("</tr></thead><tbody>");
    for (day, row) in days.iter().zip(&values) {
        let _ = write!(h, "<tr><td class=\"l\">{day}</td>");
        for v in row {
            let _ = write!(h, "<td>{}</td>", num(*v, 1));
        }
        h.push_str("</tr>");
    }
    h.push_str("</tbody></table></div></details>");
}

fn quality_section(h: &mut String, d: &ReportData) {
    h.push_str("<h2 id=\"quality\">Data quality</h2>");
    if d.runs.is_empty() {
        h.push_str("<p class=\"note\">No runs in the run store.</p>");
        return;
    }
    let shares: Vec<String> = {
        let mut names: Vec<String> = Vec::new();
        for r in &d.runs {
            for (n, _) in &r.shares {
                if !names.contains(n) {
                    names.push(n.clone());
                }
            }
        }
        names
    };
    h.push_str("<div class=\"scroll\"><table id=\"runs\"><thead><tr><th>run</th><th class=\"l\">job</th><th class=\"l\">status</th><th class=\"l\">finished</th><th>score</th><th class=\"l\">verdict</th>");
    for n in &shares {
        let _ = write!(h, "<th>{}</th>", esc(&n.replace('_', " ")));
    }
    h.push_str("<th>spend matched</th></tr></thead><tbody>");
    for r in &d.runs {
        let verdict = r.verdict.clone().unwrap_or_default();
        let _ = write!(
            h,
            "<tr><td>{}</td><td class=\"l\">{}</td><td class=\"l {st}\">{st}</td><td class=\"l\">{}</td><td>{}</td><td class=\"l {v}\">{v}</td>",
            r.id,
            esc(&r.job),
            r.finished_at.map_or("–".into(), |t| t.to_string()),
            r.score.map_or("–".into(), |s| num(s, 3)),
            st = esc(&r.status),
            v = esc(&verdict),
        );
        for n in &shares {
            let v = r.shares.iter().find(|(k, _)| k == n).map(|(_, v)| *v);
            let _ = write!(
                h,
                "<td>{}</td>",
                v.map_or("–".into(), |v| format!("{}%", num(v * 100.0, 1)))
            );
        }
        let _ = write!(
            h,
            "<td>{}</td></tr>",
            r.spend_matched_share
                .map_or("–".into(), |v| format!("{}%", num(v * 100.0, 1)))
        );
    }
    h.push_str("</tbody></table></div>");
    let mut warnings: Vec<String> = Vec::new();
    for r in &d.runs {
        for w in &r.warnings {
            let line = format!("run {} ({}): {w}", r.id, r.job);
            if !warnings.contains(&line) {
                warnings.push(line);
            }
        }
    }
    if !warnings.is_empty() {
        h.push_str("<h3>Warnings</h3><ul class=\"warn\">");
        for w in warnings.iter().take(30) {
            let _ = write!(h, "<li>{}</li>", esc(w));
        }
        h.push_str("</ul>");
    }
    let unmatched: Vec<&String> = d.runs.iter().flat_map(|r| &r.unmatched_campaigns).collect();
    if !unmatched.is_empty() {
        let mut u: Vec<&String> = unmatched;
        u.sort();
        u.dedup();
        let _ = write!(
            h,
            "<p class=\"note\">Spend without a matching touchpoint (campaigns whose clicks never reached PostHog tagged): {}</p>",
            u.iter().map(|s| esc(s)).collect::<Vec<_>>().join(", ")
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn money_has_two_decimals_and_its_currency() {
        assert_eq!(money(12_345_670_000, "USD"), "12,345.67 USD");
        assert_eq!(duration(90.0), "2 min");
        assert_eq!(duration(3.0 * 86400.0), "3.0 days");
    }
}
