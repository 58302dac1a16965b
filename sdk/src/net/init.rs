//! Deterministic parameter initialisation from a seed (no global RNG state).
//!
//! Weights follow PyTorch's `nn.Linear` default: `U(-1/sqrt(fan_in), +1/sqrt(fan_in))` for both
//! weights and bias, so a network converted from snnTorch starts from the same distribution.

use crate::rng::SplitMix64;

/// `n` values from `U(-1/sqrt(fan_in), 1/sqrt(fan_in))` (PyTorch `nn.Linear` default).
pub fn linear_uniform(rng: &mut SplitMix64, n: usize, fan_in: usize) -> Vec<f32> {
    let bound = 1.0 / (fan_in.max(1) as f32).sqrt();
    (0..n).map(|_| rng.uniform(-bound, bound)).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn deterministic_and_in_range() {
        let a = linear_uniform(&mut SplitMix64::stream(7, 1), 1000, 64);
        let b = linear_uniform(&mut SplitMix64::stream(7, 1), 1000, 64);
        let c = linear_uniform(&mut SplitMix64::stream(7, 2), 1000, 64);
        assert_eq!(a, b);
        assert_ne!(a, c);
        assert!(a.iter().all(|&x| (-0.125..0.125).contains(&x)));
        let mean = a.iter().sum::<f32>() / 1000.0;
        assert!(mean.abs() < 0.01, "mean {mean}");
        // variance of U(-b, b) is b^2/3
        let var = a.iter().map(|x| x * x).sum::<f32>() / 1000.0;
        assert!((var - 0.125f32.powi(2) / 3.0).abs() < 0.001, "var {var}");
    }
}
