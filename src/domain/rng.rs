//! A small deterministic PRNG (SplitMix64): the same seed gives the same data on every
//! platform and every version, which `rand`'s generators do not promise.

/// SplitMix64.
#[derive(Debug, Clone)]
pub struct Rng(u64);

impl Rng {
    pub fn new(seed: u64) -> Self {
        Self(seed ^ 0x9E37_79B9_7F4A_7C15)
    }

    /// A generator for item `i` of a stream seeded with `seed` (independent of other items).
    pub fn for_item(seed: u64, i: u64) -> Self {
        let mut r = Self::new(
            seed.wrapping_mul(0xD1B5_4A32_D192_ED03) ^ i.wrapping_mul(0x9E37_79B9_7F4A_7C15),
        );
        r.next_u64();
        r
    }

    pub fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// Uniform in [0, 1).
    pub fn f64(&mut self) -> f64 {
        (self.next_u64() >> 11) as f64 / (1u64 << 53) as f64
    }

    /// Uniform in [0, n).
    pub fn below(&mut self, n: u64) -> u64 {
        if n == 0 {
            return 0;
        }
        ((self.next_u64() as u128 * n as u128) >> 64) as u64
    }

    pub fn chance(&mut self, p: f64) -> bool {
        self.f64() < p
    }

    /// Exponentially distributed with the given mean.
    pub fn exp(&mut self, mean: f64) -> f64 {
        -mean * (1.0 - self.f64()).ln()
    }

    /// Poisson-distributed with mean `lambda` (0 when `lambda` is not positive): by counting
    /// uniforms for small means, by Hörmann's transformed rejection (PTRS, 1993) above.
    pub fn poisson(&mut self, lambda: f64) -> f64 {
        self.poisson_with(lambda, (-lambda).exp())
    }

    /// [`Rng::poisson`] with `limit` = e^−λ computed by the caller (once for many draws).
    #[inline]
    pub fn poisson_with(&mut self, lambda: f64, limit: f64) -> f64 {
        if lambda.is_nan() || lambda <= 0.0 || lambda.is_infinite() {
            return 0.0;
        }
        if lambda < 12.0 {
            let mut k = 0.0;
            let mut prod = self.f64();
            while prod > limit {
                k += 1.0;
                prod *= self.f64();
            }
            return k;
        }
        let slam = lambda.sqrt();
        let loglam = lambda.ln();
        let b = 0.931 + 2.53 * slam;
        let a = -0.059 + 0.02483 * b;
        let inv_alpha = 1.1239 + 1.1328 / (b - 3.4);
        let vr = 0.9277 - 3.6224 / (b - 2.0);
        loop {
            let u = self.f64() - 0.5;
            let v = self.f64();
            let us = 0.5 - u.abs();
            let k = ((2.0 * a / us + b) * u + lambda + 0.43).floor();
            if us >= 0.07 && v <= vr {
                return k;
            }
            if k < 0.0 || (us < 0.013 && v > us) {
                continue;
            }
            if (v * inv_alpha / (a / (us * us) + b)).ln() <= -lambda + k * loglam - ln_factorial(k)
            {
                return k;
            }
        }
    }

    /// Index chosen with probability proportional to `weights`.
    pub fn weighted(&mut self, weights: &[f64]) -> usize {
        let total: f64 = weights.iter().sum();
        let mut x = self.f64() * total;
        for (i, w) in weights.iter().enumerate() {
            if x < *w {
                return i;
            }
            x -= w;
        }
        weights.len() - 1
    }

    pub fn pick<'a, T>(&mut self, items: &'a [T]) -> &'a T {
        &items[self.below(items.len() as u64) as usize]
    }

    /// A random 128-bit value shaped like a UUIDv7 at `millis`.
    pub fn uuid7(&mut self, millis: i64) -> u128 {
        let rand = ((self.next_u64() as u128) << 64) | self.next_u64() as u128;
        let ts = (millis as u128 & 0xFFFF_FFFF_FFFF) << 80;
        let ver = 0x7u128 << 76;
        let var = 0x2u128 << 62;
        ts | ver | (rand & 0x0FFF_0000_0000_0000_0000) | var | (rand & 0x3FFF_FFFF_FFFF_FFFF)
    }
}

/// ln(k!) for a whole `k ≥ 0`: summed below 20, Stirling's series above (error < 1e-12).
fn ln_factorial(k: f64) -> f64 {
    if k < 20.0 {
        return (2..=k as u64).map(|i| (i as f64).ln()).sum();
    }
    let k2 = k * k;
    k * k.ln() - k + 0.5 * (2.0 * std::f64::consts::PI * k).ln() + 1.0 / (12.0 * k)
        - 1.0 / (360.0 * k * k2)
        + 1.0 / (1260.0 * k * k2 * k2)
}

#[cfg(test)]
mod tests {
    use super::Rng;

    #[test]
    fn same_seed_same_stream() {
        let a: Vec<u64> = (0..5).map(|_| Rng::for_item(42, 7).next_u64()).collect();
        assert!(a.windows(2).all(|w| w[0] == w[1]));
        assert_ne!(
            Rng::for_item(42, 7).next_u64(),
            Rng::for_item(42, 8).next_u64()
        );
        let mut r = Rng::new(1);
        assert!((0..1000).all(|_| r.below(10) < 10));
    }

    #[test]
    fn poisson_draws_have_the_mean_and_variance_of_their_lambda() {
        for lambda in [0.3, 3.0, 11.9, 12.0, 40.0, 2500.0] {
            let mut r = Rng::new(7);
            let n = 40_000;
            let xs: Vec<f64> = (0..n).map(|_| r.poisson(lambda)).collect();
            let mean = xs.iter().sum::<f64>() / n as f64;
            let var = xs.iter().map(|x| (x - mean).powi(2)).sum::<f64>() / n as f64;
            // Standard error of the mean is sqrt(λ/n); allow five of them.
            let tol = 5.0 * (lambda / n as f64).sqrt();
            assert!((mean - lambda).abs() < tol, "λ {lambda}: mean {mean}");
            assert!(
                (var / lambda - 1.0).abs() < 0.05,
                "λ {lambda}: variance {var}"
            );
            assert!(xs.iter().all(|x| *x >= 0.0 && x.fract() == 0.0));
        }
        assert_eq!(Rng::new(1).poisson(0.0), 0.0);
        assert!(
            (super::ln_factorial(25.0) - (1..=25).map(|i| (i as f64).ln()).sum::<f64>()).abs()
                < 1e-10
        );
    }
}
