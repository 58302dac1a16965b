//! Differentiable losses on spike and state recordings.
//!
//! Every recording is a candle tensor laid out `[batch, time, neurons]` (note: snnTorch records
//! `[time, batch, neurons]`; transpose before comparing tensors, the numbers are the same).
//! Targets are class indices, a rank-1 integer tensor of length `batch`.
//! All losses work in any float dtype; the golden tests run them in `F64`.
//!
//! Families, one module each:
//! - [`snntorch`]: `mse_count`, `ce_rate`, `ce_count`, `ce_max_membrane` with snnTorch's numbers.
//! - [`hardware`]: per-layer rate targets, balanced population MSE and its decoder.
//! - [`criterion`]: `FiringRateLoss`, `FiringRateDistLoss`, `StatePredictionLoss`, `HebbianLoss`,
//!   `EntropyLoss`, `PopulationKL` (nn4n-style regularisers).
//! - [`rnn`]: `RNNLoss`, the lambda-weighted task + regulariser composite.
//! - [`composite`]: a loss built from config, a list of `{type, params, lambda, layer}` terms.

pub mod composite;
pub mod criterion;
pub mod hardware;
pub mod rnn;
pub mod snntorch;

use candle_core::{DType, Device, Tensor};

/// Errors raised by the losses: a bad shape, parameter or target, or a candle failure.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum LossError {
    /// A tensor does not have the shape the loss needs.
    #[error("{loss}: `{what}` has shape {got:?}, expected {expected}")]
    Shape {
        /// The loss that rejected the tensor.
        loss: &'static str,
        /// Which argument.
        what: &'static str,
        /// The shape that was passed.
        got: Vec<usize>,
        /// A description of the expected shape.
        expected: String,
    },
    /// A parameter is out of its valid range.
    #[error("{loss}: parameter `{param}` {reason}")]
    Param {
        /// The loss that rejected the parameter.
        loss: &'static str,
        /// Which parameter.
        param: &'static str,
        /// What is wrong with it.
        reason: String,
    },
    /// A class index is not smaller than the number of classes.
    #[error("{loss}: target {value} of sample {sample} is not a class index below {classes}")]
    Target {
        /// The loss that rejected the target.
        loss: &'static str,
        /// Index of the sample in the batch.
        sample: usize,
        /// The offending class index.
        value: i64,
        /// Number of classes.
        classes: usize,
    },
    /// An error from candle.
    #[error(transparent)]
    Candle(#[from] candle_core::Error),
}

/// Result type of the loss functions.
pub type Result<T> = std::result::Result<T, LossError>;

/// Checks that `t` is a `[batch, time, neurons]` recording and returns the three sizes.
pub(crate) fn dims_btn(
    loss: &'static str,
    what: &'static str,
    t: &Tensor,
) -> Result<(usize, usize, usize)> {
    match *t.dims() {
        [b, s, n] if b > 0 && s > 0 && n > 0 => Ok((b, s, n)),
        _ => Err(LossError::Shape {
            loss,
            what,
            got: t.dims().to_vec(),
            expected: "[batch, time, neurons], all non-zero".into(),
        }),
    }
}

/// Reads class indices (any integer dtype, shape `[batch]`) and checks each is `< classes`.
pub(crate) fn class_indices(
    loss: &'static str,
    targets: &Tensor,
    batch: usize,
    classes: usize,
) -> Result<Vec<u32>> {
    if targets.dims() != [batch] {
        return Err(LossError::Shape {
            loss,
            what: "targets",
            got: targets.dims().to_vec(),
            expected: format!("[{batch}] (one class index per sample)"),
        });
    }
    let values: Vec<i64> = match targets.dtype() {
        DType::U8 | DType::U32 | DType::I64 => targets.to_dtype(DType::I64)?.to_vec1()?,
        other => {
            return Err(LossError::Param {
                loss,
                param: "targets",
                reason: format!("must be an integer tensor (u8/u32/i64), got {other:?}"),
            })
        }
    };
    values
        .iter()
        .enumerate()
        .map(|(sample, &value)| {
            u32::try_from(value)
                .ok()
                .filter(|&v| (v as usize) < classes)
                .ok_or(LossError::Target {
                    loss,
                    sample,
                    value,
                    classes,
                })
        })
        .collect()
}

/// One-hot class mask `[batch, classes]` (1 on the target class, 0 elsewhere) in `dtype`.
pub(crate) fn one_hot(
    indices: &[u32],
    classes: usize,
    dtype: DType,
    device: &Device,
) -> Result<Tensor> {
    let mut m = vec![0f64; indices.len() * classes];
    for (b, &c) in indices.iter().enumerate() {
        m[b * classes + c as usize] = 1.0;
    }
    Ok(Tensor::from_vec(m, (indices.len(), classes), device)?.to_dtype(dtype)?)
}

/// Mean over the batch of `-log_softmax(logits)[b, y_b]`; `logits` is `[batch, classes]`.
///
/// `CE = -(1/B) Σ_b (z[b, y_b] - log Σ_c exp z[b, c])`, the same as PyTorch's `CrossEntropyLoss`.
pub(crate) fn cross_entropy(logits: &Tensor, indices: &[u32]) -> Result<Tensor> {
    let (b, c) = logits.dims2()?;
    let log_p = candle_nn::ops::log_softmax(logits, 1)?;
    let mask = one_hot(indices, c, logits.dtype(), logits.device())?;
    div_scalar(&(log_p * mask)?.sum_all()?.neg()?, b as f64)
}

/// Checks that both rates of a count target are in `[0, 1]`, naming the parameter otherwise.
pub(crate) fn check_rates(
    loss: &'static str,
    correct_rate: f64,
    incorrect_rate: f64,
) -> Result<()> {
    for (param, r) in [
        ("correct_rate", correct_rate),
        ("incorrect_rate", incorrect_rate),
    ] {
        if !(0.0..=1.0).contains(&r) {
            return Err(LossError::Param {
                loss,
                param,
                reason: format!("must be in [0, 1], got {r}"),
            });
        }
    }
    Ok(())
}

/// Mean squared error of spike counts against target counts `[batch, neurons]`:
/// `(1/(B N)) Σ_{b,i} (Σ_t S[b, t, i] - target[b, i])^2`.
pub(crate) fn count_mse(spikes: &Tensor, target: &Tensor) -> Result<Tensor> {
    let (b, n) = target.dims2()?;
    let err = (spikes.sum(1)? - target)?;
    div_scalar(&err.sqr()?.sum_all()?, (b * n) as f64)
}

/// `x / d` as a true division in `x`'s dtype (candle's `Tensor / f64` multiplies by `1/d`,
/// which in f32 can land one ulp away from PyTorch's division; snnTorch parity needs the division).
pub(crate) fn div_scalar(x: &Tensor, d: f64) -> Result<Tensor> {
    let d = Tensor::new(d, x.device())?.to_dtype(x.dtype())?;
    Ok(x.broadcast_div(&d)?)
}
