//! snnTorch-compatible classification losses (`snntorch.functional`, 1.0 semantics).
//!
//! The recording here is `[batch, time, neurons]` (snnTorch: `[time, batch, neurons]`); the
//! returned scalars are the numbers snnTorch returns for the same data (golden-tested).
//! The plain functions assume one output neuron per class; the `_population` variants follow
//! snnTorch's `population_code=True` (contiguous blocks of neurons per class).

use super::{
    check_rates, class_indices, count_mse, cross_entropy, dims_btn, div_scalar, one_hot, LossError,
    Result,
};
use candle_core::{Tensor, D};

/// Cross-entropy of the spike counts (`snntorch.functional.ce_count_loss`).
///
/// `c[b, i] = Σ_t S[b, t, i]`; `loss = -(1/B) Σ_b log softmax(c[b])[y_b]`.
pub fn ce_count(spikes: &Tensor, targets: &Tensor) -> Result<Tensor> {
    let (b, _, n) = dims_btn("ce_count", "spikes", spikes)?;
    let y = class_indices("ce_count", targets, b, n)?;
    cross_entropy(&spikes.sum(1)?, &y)
}

/// Cross-entropy applied at every step, averaged over time (`snntorch.functional.ce_rate_loss`).
///
/// `loss = (1/T) Σ_t -(1/B) Σ_b log softmax(S[b, t])[y_b]`.
pub fn ce_rate(spikes: &Tensor, targets: &Tensor) -> Result<Tensor> {
    let (b, t, n) = dims_btn("ce_rate", "spikes", spikes)?;
    let y = class_indices("ce_rate", targets, b, n)?;
    let log_p = candle_nn::ops::log_softmax(spikes, D::Minus1)?;
    let mask = one_hot(&y, n, spikes.dtype(), spikes.device())?.unsqueeze(1)?;
    // Same reduction order as snnTorch: NLL mean over the batch per step, summed over steps, / T.
    let per_step = div_scalar(
        &log_p.broadcast_mul(&mask)?.sum(2)?.sum(0)?.neg()?,
        b as f64,
    )?;
    div_scalar(&per_step.sum_all()?, t as f64)
}

/// Mean squared error of spike counts against target counts (`snntorch.functional.mse_count_loss`).
///
/// Targets are `on = trunc(T * correct_rate)` spikes for the target class and
/// `off = trunc(T * incorrect_rate)` for the others (snnTorch truncates with Python `int()`,
/// so `T = 6, correct_rate = 0.8` asks for 4 spikes, not 4.8).
/// `loss = (1/T) * (1/(B N)) Σ_{b,i} (Σ_t S[b, t, i] - target[b, i])^2`.
pub fn mse_count(
    spikes: &Tensor,
    targets: &Tensor,
    correct_rate: f64,
    incorrect_rate: f64,
) -> Result<Tensor> {
    const LOSS: &str = "mse_count";
    let (b, t, n) = dims_btn(LOSS, "spikes", spikes)?;
    check_rates(LOSS, correct_rate, incorrect_rate)?;
    let y = class_indices(LOSS, targets, b, n)?;
    let on = (t as f64 * correct_rate).trunc();
    let off = (t as f64 * incorrect_rate).trunc();
    let target = one_hot(&y, n, spikes.dtype(), spikes.device())?.affine(on - off, off)?;
    div_scalar(&count_mse(spikes, &target)?, t as f64)
}

/// Cross-entropy of the maximum over time of the output membrane
/// (`snntorch.functional.ce_max_membrane_loss`, after SpyTorch).
///
/// `m[b, i] = max_t V[b, t, i]`; `loss = -(1/B) Σ_b log softmax(m[b])[y_b]`.
/// The gradient flows to the time step holding the maximum.
pub fn ce_max_membrane(membrane: &Tensor, targets: &Tensor) -> Result<Tensor> {
    let (b, _, n) = dims_btn("ce_max_membrane", "membrane", membrane)?;
    let y = class_indices("ce_max_membrane", targets, b, n)?;
    cross_entropy(&membrane.max(1)?, &y)
}

/// Spike count of each class population, snnTorch's `_population_code`: class `c` owns the
/// contiguous neurons `trunc(N c / C) .. trunc(N (c + 1) / C)`; `N` must be a multiple of `C`.
fn population_counts(loss: &'static str, spikes: &Tensor, num_classes: usize) -> Result<Tensor> {
    let (b, _, n) = dims_btn(loss, "spikes", spikes)?;
    if num_classes == 0 || n % num_classes != 0 {
        return Err(LossError::Param {
            loss,
            param: "num_classes",
            reason: format!("must divide the {n} output neurons, got {num_classes}"),
        });
    }
    Ok(spikes
        .sum(1)?
        .reshape((b, num_classes, n / num_classes))?
        .sum(2)?)
}

/// [`ce_count`] with a population code (`ce_count_loss(population_code=True, num_classes=C)`):
/// cross-entropy of the per-class population spike counts.
pub fn ce_count_population(
    spikes: &Tensor,
    targets: &Tensor,
    num_classes: usize,
) -> Result<Tensor> {
    const LOSS: &str = "ce_count_population";
    let counts = population_counts(LOSS, spikes, num_classes)?;
    let y = class_indices(LOSS, targets, counts.dim(0)?, num_classes)?;
    cross_entropy(&counts, &y)
}

/// [`mse_count`] with a population code (`mse_count_loss(population_code=True, num_classes=C)`):
/// population counts `[B, C]` against `trunc(T * rate * N / C)`, MSE over `[B, C]`, divided by `T`.
pub fn mse_count_population(
    spikes: &Tensor,
    targets: &Tensor,
    num_classes: usize,
    correct_rate: f64,
    incorrect_rate: f64,
) -> Result<Tensor> {
    const LOSS: &str = "mse_count_population";
    let counts = population_counts(LOSS, spikes, num_classes)?;
    let (b, t, n) = spikes.dims3()?;
    let y = class_indices(LOSS, targets, b, num_classes)?;
    let per_class = n as f64 / num_classes as f64;
    let on = (t as f64 * correct_rate * per_class).trunc();
    let off = (t as f64 * incorrect_rate * per_class).trunc();
    let target =
        one_hot(&y, num_classes, spikes.dtype(), spikes.device())?.affine(on - off, off)?;
    let mse = div_scalar(
        &(counts - target)?.sqr()?.sum_all()?,
        (b * num_classes) as f64,
    )?;
    div_scalar(&mse, t as f64)
}

#[cfg(test)]
mod tests {
    use super::*;
    use candle_core::{DType, Device, Var};

    fn rec(data: &[f64], b: usize, t: usize, n: usize) -> Tensor {
        Tensor::from_slice(data, (b, t, n), &Device::Cpu).unwrap()
    }

    #[test]
    fn ce_count_single_sample_by_hand() {
        // counts [2, 0]: loss = -log(e^2 / (e^2 + 1)) for class 0.
        let s = rec(&[1., 0., 1., 0.], 1, 2, 2);
        let y = Tensor::new(&[0u32], &Device::Cpu).unwrap();
        let got = ce_count(&s, &y).unwrap().to_scalar::<f64>().unwrap();
        let want = -(2f64.exp() / (2f64.exp() + 1.0)).ln();
        assert!((got - want).abs() < 1e-12, "{got} vs {want}");
    }

    #[test]
    fn mse_count_truncates_targets_like_snntorch() {
        // T = 6, correct 0.8 -> 4 spikes wanted; a neuron with 4 spikes costs nothing.
        let mut d = vec![0.0; 6 * 2];
        for t in 0..4 {
            d[t * 2] = 1.0;
        }
        let s = rec(&d, 1, 6, 2);
        let y = Tensor::new(&[0u32], &Device::Cpu).unwrap();
        let got = mse_count(&s, &y, 0.8, 0.0)
            .unwrap()
            .to_scalar::<f64>()
            .unwrap();
        assert_eq!(got, 0.0);
        let got = mse_count(&s, &y, 1.0, 0.0)
            .unwrap()
            .to_scalar::<f64>()
            .unwrap();
        // (4 - 6)^2 / 2 neurons / 6 steps
        assert!((got - 4.0 / 2.0 / 6.0).abs() < 1e-12);
    }

    #[test]
    fn ce_max_membrane_gradient_reaches_only_the_max_step() {
        let v = Var::from_tensor(&rec(&[0.1, 0.5, 0.9, -0.2], 1, 2, 2)).unwrap();
        let y = Tensor::new(&[1u32], &Device::Cpu).unwrap();
        let loss = ce_max_membrane(v.as_tensor(), &y).unwrap();
        let g = loss.backward().unwrap();
        let g = g
            .get(&v)
            .unwrap()
            .flatten_all()
            .unwrap()
            .to_vec1::<f64>()
            .unwrap();
        // max of neuron 0 is at t=1 (0.9), of neuron 1 at t=0 (0.5).
        assert_eq!(g[0], 0.0);
        assert_eq!(g[3], 0.0);
        assert!(g[2] > 0.0 && g[1] < 0.0);
    }

    #[test]
    fn population_variants_reduce_to_plain_ones_with_one_neuron_per_class() {
        let s = rec(&[1., 0., 1., 1., 0., 1., 0., 0., 1., 1., 1., 0.], 2, 2, 3);
        let y = Tensor::new(&[2u32, 0], &Device::Cpu).unwrap();
        let f = |t: Tensor| t.to_scalar::<f64>().unwrap();
        assert_eq!(
            f(ce_count_population(&s, &y, 3).unwrap()),
            f(ce_count(&s, &y).unwrap())
        );
        assert_eq!(
            f(mse_count_population(&s, &y, 3, 0.8, 0.2).unwrap()),
            f(mse_count(&s, &y, 0.8, 0.2).unwrap())
        );
        // 2 classes x 2 neurons, T = 3: counts sample 0 = [1+0, 1+1]... by hand below.
        let s = rec(&[1., 0., 0., 1., 0., 1., 1., 0., 1., 0., 0., 1.], 1, 3, 4);
        // neuron counts [2, 1, 1, 2] -> class counts [3, 3]; target class 1, T = 3, 2 per class:
        // on = trunc(3 * 1.0 * 2) = 6, off = trunc(3 * 0.0 * 2) = 0 -> ((3-0)^2 + (3-6)^2)/2/3 = 3.
        let y = Tensor::new(&[1u32], &Device::Cpu).unwrap();
        assert!((f(mse_count_population(&s, &y, 2, 1.0, 0.0).unwrap()) - 3.0).abs() < 1e-12);
        assert!((f(ce_count_population(&s, &y, 2).unwrap()) - 2f64.ln()).abs() < 1e-12);
        assert!(ce_count_population(&s, &y, 3).is_err());
    }

    #[test]
    fn bad_targets_are_rejected_with_the_sample_named() {
        let s = rec(&[0.0; 4], 2, 1, 2);
        let y = Tensor::new(&[0u32, 5], &Device::Cpu).unwrap();
        let e = ce_rate(&s, &y).unwrap_err().to_string();
        assert!(e.contains("sample 1") && e.contains("5"), "{e}");
        let y = Tensor::new(&[0f32, 1.0], &Device::Cpu).unwrap();
        assert!(ce_count(&s, &y).is_err());
        assert!(mse_count(&s, &y.to_dtype(DType::U32).unwrap(), 1.5, 0.0).is_err());
    }
}
