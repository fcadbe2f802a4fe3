//! Charts as inline SVG, drawn here (no script, no fonts to fetch): grouped bars for the model
//! comparison, stacked bars for conversions per day. Every chart has a table of its numbers
//! beside it on the page.

use std::fmt::Write;

use super::format::{esc, num};

/// Colours that stay apart for the colour-blind and in greyscale print (Okabe–Ito, then more).
pub const PALETTE: [&str; 12] = [
    "#0072B2", "#E69F00", "#009E73", "#CC79A7", "#56B4E9", "#D55E00", "#F0E442", "#000000",
    "#7F7F7F", "#8C564B", "#17BECF", "#BCBD22",
];

const W: f64 = 960.0;
const H: f64 = 340.0;
const LEFT: f64 = 56.0;
const RIGHT: f64 = 12.0;
const TOP: f64 = 16.0;
const BOTTOM: f64 = 86.0;

/// A round axis maximum and tick step above `max`.
fn axis(max: f64) -> (f64, f64) {
    if max.is_nan() || max <= 0.0 {
        return (1.0, 0.25);
    }
    let raw = max / 4.0;
    let mag = 10f64.powf(raw.log10().floor());
    let step = [1.0, 2.0, 2.5, 5.0, 10.0]
        .iter()
        .map(|m| m * mag)
        .find(|s| *s >= raw)
        .unwrap_or(10.0 * mag);
    ((max / step).ceil() * step, step)
}

fn ticks(out: &mut String, top: f64, step: f64) {
    let plot_h = H - TOP - BOTTOM;
    let mut v = 0.0;
    while v <= top + step / 2.0 {
        let y = TOP + plot_h * (1.0 - v / top);
        let _ = write!(
            out,
            r##"<line x1="{LEFT}" x2="{x2}" y1="{y:.1}" y2="{y:.1}" stroke="#ddd"/><text x="{tx}" y="{ty:.1}" text-anchor="end" class="tick">{label}</text>"##,
            x2 = W - RIGHT,
            tx = LEFT - 6.0,
            ty = y + 4.0,
            label = num(v, if step < 1.0 { 2 } else { 0 })
        );
        v += step;
    }
}

fn legend(out: &mut String, series: &[String]) {
    let mut x = LEFT;
    let y = H - 14.0;
    for (i, s) in series.iter().enumerate() {
        let _ = write!(
            out,
            r#"<rect x="{x:.1}" y="{ry:.1}" width="10" height="10" fill="{c}"/><text x="{tx:.1}" y="{y:.1}" class="legend">{name}</text>"#,
            ry = y - 9.0,
            c = PALETTE[i % PALETTE.len()],
            tx = x + 14.0,
            name = esc(s)
        );
        x += 22.0 + 7.0 * s.chars().count() as f64;
    }
}

fn open(out: &mut String, label: &str) {
    let _ = write!(
        out,
        r#"<svg viewBox="0 0 {W} {H}" role="img" aria-label="{label}" xmlns="http://www.w3.org/2000/svg" class="chart">"#,
        label = esc(label)
    );
}

/// Bars of `values[category][series]`, one group per category.
pub fn grouped_bars(
    label: &str,
    categories: &[String],
    series: &[String],
    values: &[Vec<f64>],
) -> String {
    let mut out = String::new();
    open(&mut out, label);
    let max = values.iter().flatten().cloned().fold(0.0, f64::max);
    let (top, step) = axis(max);
    ticks(&mut out, top, step);
    let plot_w = W - LEFT - RIGHT;
    let plot_h = H - TOP - BOTTOM;
    let group = plot_w / categories.len().max(1) as f64;
    let bar = (group * 0.8) / series.len().max(1) as f64;
    for (ci, cat) in categories.iter().enumerate() {
        let gx = LEFT + group * ci as f64 + group * 0.1;
        for (si, s) in series.iter().enumerate() {
            let v = values[ci].get(si).copied().unwrap_or(0.0);
            let h = plot_h * v / top;
            let _ = write!(
                out,
                r#"<rect x="{x:.1}" y="{y:.1}" width="{w:.1}" height="{h:.1}" fill="{c}"><title>{cat} · {s}: {v}</title></rect>"#,
                x = gx + bar * si as f64,
                y = TOP + plot_h - h,
                w = (bar - 1.0).max(0.5),
                c = PALETTE[si % PALETTE.len()],
                cat = esc(cat),
                s = esc(s),
                v = num(v, 1)
            );
        }
        let _ = write!(
            out,
            r#"<text x="{x:.1}" y="{y:.1}" text-anchor="end" transform="rotate(-30 {x:.1} {y:.1})" class="cat">{name}</text>"#,
            x = gx + group * 0.4,
            y = TOP + plot_h + 14.0,
            name = esc(cat)
        );
    }
    legend(&mut out, series);
    out.push_str("</svg>");
    out
}

/// Stacked bars of `values[column][series]` (a column per day).
pub fn stacked_bars(
    label: &str,
    columns: &[String],
    series: &[String],
    values: &[Vec<f64>],
) -> String {
    let mut out = String::new();
    open(&mut out, label);
    let max = values
        .iter()
        .map(|c| c.iter().sum::<f64>())
        .fold(0.0, f64::max);
    let (top, step) = axis(max);
    ticks(&mut out, top, step);
    let plot_w = W - LEFT - RIGHT;
    let plot_h = H - TOP - BOTTOM;
    let col = plot_w / columns.len().max(1) as f64;
    let every = (columns.len() / 15).max(1);
    for (ci, name) in columns.iter().enumerate() {
        let x = LEFT + col * ci as f64;
        let mut y = TOP + plot_h;
        for (si, s) in series.iter().enumerate() {
            let v = values[ci].get(si).copied().unwrap_or(0.0);
            if v <= 0.0 {
                continue;
            }
            let h = plot_h * v / top;
            y -= h;
            let _ = write!(
                out,
                r#"<rect x="{x:.1}" y="{y:.1}" width="{w:.1}" height="{h:.1}" fill="{c}"><title>{name} · {s}: {v}</title></rect>"#,
                w = (col * 0.85).max(0.5),
                c = PALETTE[si % PALETTE.len()],
                name = esc(name),
                s = esc(s),
                v = num(v, 1)
            );
        }
        if ci % every == 0 {
            let (lx, ly) = (x + col * 0.4, TOP + plot_h + 14.0);
            let _ = write!(
                out,
                r#"<text x="{lx:.1}" y="{ly:.1}" text-anchor="end" transform="rotate(-30 {lx:.1} {ly:.1})" class="cat">{name}</text>"#,
                name = esc(name)
            );
        }
    }
    legend(&mut out, series);
    out.push_str("</svg>");
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn axes_are_round_and_cover_the_maximum() {
        for (max, top, step) in [(7.3, 8.0, 2.0), (120.0, 150.0, 50.0), (0.0, 1.0, 0.25)] {
            assert_eq!(axis(max), (top, step), "{max}");
        }
        let (top, _) = axis(1234.5);
        assert!((1234.5..=2000.0).contains(&top));
    }

    #[test]
    fn bars_are_as_tall_as_their_values_and_names_are_escaped() {
        let svg = grouped_bars(
            "t",
            &["a<b".into()],
            &["m1".into(), "m2".into()],
            &[vec![2.0, 1.0]],
        );
        assert!(svg.contains("a&lt;b") && !svg.contains("a<b"));
        let heights: Vec<f64> = svg
            .split("height=\"")
            .skip(1)
            .map(|s| s.split('"').next().unwrap().parse().unwrap())
            .filter(|h: &f64| *h != 10.0)
            .collect();
        assert_eq!(heights.len(), 2, "{svg}");
        assert!((heights[0] / heights[1] - 2.0).abs() < 0.05, "{heights:?}");
    }
}
