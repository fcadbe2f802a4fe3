//! The bootstrap's intervals mean what they say: drawn again and again from one known
//! population, a 90% interval holds the population's own share about 90% of the time.

use attrsync::domain::rng::Rng;
use attrsync::engine::bootstrap::{path_shares, Options, Refit};
use attrsync::engine::models::markov::{Compiled, StepLimit};
use attrsync::engine::paths::PathStats;

/// Journey types of the population: (path of channel ids, share of journeys, conversion rate).
const TYPES: [(&[u32], f64, f64); 5] = [
    (&[0], 0.30, 0.20),
    (&[1], 0.25, 0.08),
    (&[0, 1], 0.20, 0.30),
    (&[2, 0], 0.15, 0.15),
    (&[2, 1, 0], 0.10, 0.35),
];

fn paths() -> Vec<&'static [u32]> {
    TYPES.iter().map(|t| t.0).collect()
}

/// Linear weights per type.
fn linear() -> Refit {
    Refit::Rule(
        TYPES
            .iter()
            .map(|(p, _, _)| p.iter().map(|&c| (c, 1.0 / p.len() as f64)).collect())
            .collect(),
    )
}

/// `n` journeys drawn from the population.
fn draw(n: usize, seed: u64) -> Vec<PathStats> {
    let mut rng = Rng::new(seed);
    let weights: Vec<f64> = TYPES.iter().map(|t| t.1).collect();
    let mut stats = vec![PathStats::default(); TYPES.len()];
    for _ in 0..n {
        let t = rng.weighted(&weights);
        if rng.chance(TYPES[t].2) {
            stats[t].conversions += 1.0;
        } else {
            stats[t].nulls += 1.0;
        }
    }
    stats
}

/// The population's own counts (a very large draw without noise).
fn population() -> Vec<PathStats> {
    TYPES
        .iter()
        .map(|(_, share, rate)| PathStats {
            conversions: 1e6 * share * rate,
            nulls: 1e6 * share * (1.0 - rate),
            value: 0.0,
        })
        .collect()
}

/// Share of (seed, channel) pairs whose interval holds the population's share.
fn coverage(refit: &Refit, seeds: u64) -> f64 {
    let opts = |seed| Options {
        samples: 200,
        confidence: 0.9,
        seed,
    };
    let truth: Vec<f64> = path_shares(
        refit,
        &population(),
        3,
        Options {
            samples: 0,
            ..opts(0)
        },
    )
    .iter()
    .map(|s| s.share)
    .collect();
    let (mut held, mut all) = (0, 0);
    for seed in 0..seeds {
        let sample = draw(2_000, 1_000 + seed);
        for (c, s) in path_shares(refit, &sample, 3, opts(seed))
            .iter()
            .enumerate()
        {
            all += 1;
            if s.holds(truth[c]) {
                held += 1;
            }
        }
    }
    held as f64 / all as f64
}

#[test]
fn ninety_percent_intervals_hold_the_true_share_about_ninety_percent_of_the_time() {
    // 300 seeds × 3 channels: a binomial standard error near 1%; the bounds allow for the
    // percentile method's small-sample bias and the channels' correlation.
    let linear = coverage(&linear(), 300);
    eprintln!("coverage linear {linear}");
    assert!((0.84..=0.95).contains(&linear), "linear covered {linear}");
    let markov = Refit::Markov(Compiled::new(&paths(), 1, 3), StepLimit::Exact);
    let markov = coverage(&markov, 300);
    eprintln!("coverage markov {markov}");
    assert!((0.84..=0.95).contains(&markov), "markov covered {markov}");
}

#[test]
fn lower_confidence_gives_narrower_intervals_that_miss_more_often() {
    let refit = linear();
    let sample = draw(2_000, 42);
    let wide = path_shares(
        &refit,
        &sample,
        3,
        Options {
            samples: 400,
            confidence: 0.95,
            seed: 1,
        },
    );
    let narrow = path_shares(
        &refit,
        &sample,
        3,
        Options {
            samples: 400,
            confidence: 0.5,
            seed: 1,
        },
    );
    for (w, n) in wide.iter().zip(&narrow) {
        assert!(n.width() < w.width() * 0.6, "{w:?} {n:?}");
        assert!(w.low <= n.low && n.high <= w.high);
    }
}
