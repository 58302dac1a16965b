//! Hardware-oriented losses: firing-rate targets per layer and balanced population coding.
//!
//! These shape the spike counts the integer engine will see on the device: the population decoder
//! here is the same rule as `snn_models::Engine::predicted_class` (most spikes, ties to the lower
//! class), so host accuracy under [`balanced_population_mse`] is measured the way the device decides.

use super::{check_rates, class_indices, count_mse, dims_btn, one_hot, LossError, Result};
use candle_core::{DType, Tensor};

/// Sum over layers of `multiplier_l * (mean rate of layer l - offset_l)^2`.
///
/// The mean rate of a layer is the mean of its `[batch, time, neurons]` spikes (spikes per neuron
/// per step). `spikes`, `offsets` and `multipliers` have one entry per layer.
pub fn firing_rate_target_mse(
    spikes: &[Tensor],
    offsets: &[f64],
    multipliers: &[f64],
) -> Result<Tensor> {
    const LOSS: &str = "firing_rate_target_mse";
    if spikes.is_empty() || spikes.len() != offsets.len() || spikes.len() != multipliers.len() {
        return Err(LossError::Param {
            loss: LOSS,
            param: "offsets/multipliers",
            reason: format!(
                "need one entry per layer: {} layers, {} offsets, {} multipliers",
                spikes.len(),
                offsets.len(),
                multipliers.len()
            ),
        });
    }
    let mut total: Option<Tensor> = None;
    for ((s, &o), &m) in spikes.iter().zip(offsets).zip(multipliers) {
        dims_btn(LOSS, "spikes", s)?;
        let term = s.mean_all()?.affine(1.0, -o)?.sqr()?.affine(m, 0.0)?;
        total = Some(match total {
            None => term,
            Some(t) => (t + term)?,
        });
    }
    Ok(total.expect("at least one layer checked above"))
}

/// Checks `neurons == num_classes * neurons_per_class` for a population-coded output layer.
fn check_population(
    loss: &'static str,
    neurons: usize,
    num_classes: usize,
    neurons_per_class: usize,
) -> Result<()> {
    if num_classes == 0 || neurons_per_class == 0 || neurons != num_classes * neurons_per_class {
        return Err(LossError::Param {
            loss,
            param: "num_classes/neurons_per_class",
            reason: format!(
                "{num_classes} classes x {neurons_per_class} neurons per class does not match the {neurons} output neurons"
            ),
        });
    }
    Ok(())
}

/// Balanced population MSE on spike counts.
///
/// Output neuron `i` belongs to class `i / neurons_per_class`. Its target count over the `T` steps
/// is `correct_rate * T` if that class is the sample's label, else `incorrect_rate * T`
/// (not truncated, unlike snnTorch's `mse_count`).
/// `loss = (1/(B N)) Σ_{b,i} (Σ_t S[b, t, i] - target[b, i])^2`.
/// "Balanced": every class's block gets the same number of neurons and the same targets, so no
/// class is favoured; decode with [`population_decode`].
pub fn balanced_population_mse(
    spikes: &Tensor,
    targets: &Tensor,
    num_classes: usize,
    neurons_per_class: usize,
    correct_rate: f64,
    incorrect_rate: f64,
) -> Result<Tensor> {
    const LOSS: &str = "balanced_population_mse";
    let (b, t, n) = dims_btn(LOSS, "spikes", spikes)?;
    check_population(LOSS, n, num_classes, neurons_per_class)?;
    check_rates(LOSS, correct_rate, incorrect_rate)?;
    let y = class_indices(LOSS, targets, b, num_classes)?;
    // Expand the class one-hot [B, C] to neurons [B, C * npc].
    let class_mask = one_hot(&y, num_classes, spikes.dtype(), spikes.device())?;
    let mask = class_mask
        .unsqueeze(2)?
        .broadcast_as((b, num_classes, neurons_per_class))?
        .reshape((b, n))?;
    let tf = t as f64;
    let target = mask.affine((correct_rate - incorrect_rate) * tf, incorrect_rate * tf)?;
    count_mse(spikes, &target)
}

/// Spike count per class population, `[batch, num_classes]`: `Σ_t Σ_{i in block c} S[b, t, i]`.
pub fn population_counts(
    spikes: &Tensor,
    num_classes: usize,
    neurons_per_class: usize,
) -> Result<Tensor> {
    let (b, _, n) = dims_btn("population_counts", "spikes", spikes)?;
    check_population("population_counts", n, num_classes, neurons_per_class)?;
    Ok(spikes
        .sum(1)?
        .reshape((b, num_classes, neurons_per_class))?
        .sum(2)?)
}

/// The population decoder: per sample, the class whose population spiked most; ties go to the
/// lower class index (the rule of `snn_models::Engine::predicted_class`).
pub fn population_decode(
    spikes: &Tensor,
    num_classes: usize,
    neurons_per_class: usize,
) -> Result<Vec<u32>> {
    let counts = population_counts(spikes, num_classes, neurons_per_class)?
        .to_dtype(DType::F64)?
        .to_vec2::<f64>()?;
    Ok(counts
        .iter()
        .map(|row| {
            let mut best = 0;
            for (c, &v) in row.iter().enumerate() {
                if v > row[best] {
                    best = c;
                }
            }
            best as u32
        })
        .collect())
}

#[cfg(test)]
mod tests {
    use super::*;
    use candle_core::Device;

    #[test]
    fn decoder_picks_most_spikes_and_breaks_ties_low() {
        // 1 step, 3 classes x 2 neurons; sample 0: class 2 wins; sample 1: tie between 0 and 1.
        let s = Tensor::from_slice(
            &[0f32, 1., 0., 0., 1., 1., /* */ 1., 0., 0., 1., 0., 0.],
            (2, 1, 6),
            &Device::Cpu,
        )
        .unwrap();
        assert_eq!(population_decode(&s, 3, 2).unwrap(), vec![2, 0]);
    }

    #[test]
    fn balanced_population_mse_zero_at_target() {
        // T = 10, correct 0.5 -> 5 spikes, incorrect 0.1 -> 1 spike; 2 classes x 1 neuron.
        let mut d = vec![0f64; 10 * 2];
        for t in 0..5 {
            d[t * 2 + 1] = 1.0; // class 1 neuron
        }
        d[0] = 1.0; // class 0 neuron fires once
        let s = Tensor::from_vec(d, (1, 10, 2), &Device::Cpu).unwrap();
        let y = Tensor::new(&[1u32], &Device::Cpu).unwrap();
        let l = balanced_population_mse(&s, &y, 2, 1, 0.5, 0.1).unwrap();
        assert!(l.to_scalar::<f64>().unwrap().abs() < 1e-12);
        assert!(balanced_population_mse(&s, &y, 3, 1, 0.5, 0.1).is_err());
    }

    #[test]
    fn rate_target_needs_one_entry_per_layer() {
        let s = Tensor::zeros((1, 2, 3), DType::F64, &Device::Cpu).unwrap();
        assert!(firing_rate_target_mse(std::slice::from_ref(&s), &[0.1, 0.2], &[1.0]).is_err());
        let l = firing_rate_target_mse(&[s], &[0.1], &[2.0]).unwrap();
        assert!((l.to_scalar::<f64>().unwrap() - 0.02).abs() < 1e-12);
    }
}
