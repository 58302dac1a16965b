//! A small seeded random number generator for masks, structure generators and CTRNN init/noise.
//!
//! SplitMix64 (Steele, Lea & Flood 2014): `state += 0x9E3779B97F4A7C15`, then two xor-shift-multiply
//! rounds. Statistically good enough for weight init, noise and Bernoulli draws, tiny, and the same
//! sequence on every platform, so every seed gives the same network everywhere.

/// Seeded SplitMix64 generator with uniform, normal and Bernoulli draws.
#[derive(Debug, Clone)]
pub struct SeedRng {
    state: u64,
    /// Second normal of the last Box-Muller pair, if not yet used.
    spare: Option<f64>,
}

impl SeedRng {
    /// A generator whose whole sequence is fixed by `seed`.
    pub fn new(seed: u64) -> Self {
        Self {
            state: seed,
            spare: None,
        }
    }

    /// An independent stream derived from this seed and a stream label (e.g. one per layer).
    pub fn derive(seed: u64, stream: u64) -> Self {
        let mut base = Self::new(seed ^ stream.wrapping_mul(0xD1B5_4A32_D192_ED03));
        base.next_u64();
        Self::new(base.next_u64())
    }

    /// Next 64 random bits.
    pub fn next_u64(&mut self) -> u64 {
        crate::rng::splitmix64(&mut self.state)
    }

    /// Uniform in `[0, 1)` with 53 bits of precision.
    pub fn uniform(&mut self) -> f64 {
        (self.next_u64() >> 11) as f64 * (1.0 / (1u64 << 53) as f64)
    }

    /// Uniform in `[lo, hi)`.
    pub fn uniform_range(&mut self, lo: f64, hi: f64) -> f64 {
        lo + (hi - lo) * self.uniform()
    }

    /// Standard normal draw (Box-Muller: `sqrt(-2 ln u1) * (cos, sin)(2 pi u2)`, pairs cached).
    pub fn normal(&mut self) -> f64 {
        if let Some(z) = self.spare.take() {
            return z;
        }
        // 1 - u lies in (0, 1], so the logarithm is finite.
        let u1 = 1.0 - self.uniform();
        let u2 = self.uniform();
        let r = (-2.0 * u1.ln()).sqrt();
        let theta = 2.0 * std::f64::consts::PI * u2;
        self.spare = Some(r * theta.sin());
        r * theta.cos()
    }

    /// True with probability `p` (clamped to `[0, 1]`; `p = 0` is never true, `p = 1` always).
    pub fn bernoulli(&mut self, p: f64) -> bool {
        self.uniform() < p
    }

    /// Uniform index in `0..n` (`n > 0`).
    pub fn index(&mut self, n: usize) -> usize {
        ((self.uniform() * n as f64) as usize).min(n.saturating_sub(1))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn same_seed_same_sequence_and_moments_are_sane() {
        let mut a = SeedRng::new(7);
        let mut b = SeedRng::new(7);
        for _ in 0..10 {
            assert_eq!(a.next_u64(), b.next_u64());
        }
        let n = 20_000;
        let (mut s, mut s2, mut u) = (0.0, 0.0, 0.0);
        for _ in 0..n {
            let z = a.normal();
            s += z;
            s2 += z * z;
            u += a.uniform();
        }
        let mean = s / n as f64;
        let var = s2 / n as f64 - mean * mean;
        // Standard errors: mean 1/sqrt(n) = 0.007, variance sqrt(2/n) = 0.01, uniform mean 0.002.
        assert!(mean.abs() < 0.04, "normal mean {mean}");
        assert!((var - 1.0).abs() < 0.05, "normal variance {var}");
        assert!((u / n as f64 - 0.5).abs() < 0.01, "uniform mean");
        assert_ne!(
            SeedRng::derive(7, 1).next_u64(),
            SeedRng::derive(7, 2).next_u64()
        );
    }
}
