//! Training the dense baseline ([`crate::net::mlp::Mlp`]) on the same data, split and seed as a
//! spiking config: cross-entropy on the logits, the config's Adam, learning rate and schedule.
//!
//! The float input is the quantised input the device sees: `x = (feature >> 1) / 127`, so the
//! int8 model's input scale is exactly `1/127` (see `snn_models::dense`).
use candle_core::{Device, Tensor};

use crate::data::{Samples, Split};
use crate::net::mlp::Mlp;
use crate::train::optim::{Adam, AdamConfig};
use crate::train::{Error, Result, TrainConfig, Trainer};

/// Options of [`train`] beyond the config's.
#[derive(Clone, Copy, Debug)]
pub struct MlpOptions {
    /// Epochs (default: the config's `train.epochs`).
    pub epochs: Option<usize>,
}

/// A trained baseline, its split and float accuracies.
#[derive(Debug)]
pub struct TrainedMlp {
    /// The network.
    pub mlp: Mlp,
    /// The config's train/test split.
    pub split: Split,
    /// Float accuracy on the test split.
    pub test_accuracy: f64,
    /// Float accuracy on the train split.
    pub train_accuracy: f64,
}

/// `[n, inputs]` float inputs `(feature >> 1) / 127` of samples `idx`.
pub fn inputs(s: &Samples, idx: &[usize], dev: &Device) -> Result<Tensor> {
    let mut v = Vec::with_capacity(idx.len() * s.num_features);
    for &i in idx {
        v.extend(s.features_of(i).iter().map(|&f| f32::from(f >> 1) / 127.0));
    }
    Ok(Tensor::from_vec(v, (idx.len(), s.num_features), dev)?)
}

/// Float accuracy of `mlp` on `s`.
pub fn accuracy(mlp: &Mlp, s: &Samples, dev: &Device) -> Result<f64> {
    let idx: Vec<usize> = (0..s.len()).collect();
    let logits = mlp.forward(&inputs(s, &idx, dev)?)?;
    let pred: Vec<u32> = logits.argmax(1)?.to_vec1()?;
    let ok = pred.iter().zip(&s.labels).filter(|(p, l)| p == l).count();
    Ok(ok as f64 / s.len().max(1) as f64)
}

/// Trains an MLP of the config's shape (`input_size`, every layer's `size`) on the config's
/// data and split.
pub fn train(cfg: &TrainConfig, opts: MlpOptions) -> Result<TrainedMlp> {
    let dev = Device::Cpu;
    let data = Trainer::load_data(cfg)?;
    let d = &cfg.data;
    let split = data.split(
        d.test_fraction,
        d.split_seed.unwrap_or(cfg.seed),
        d.scaling.unwrap_or(data.default_scaling),
    )?;
    let mut sizes = vec![cfg.network.input_size];
    sizes.extend(cfg.network.layers.iter().map(|l| l.size));
    if split.train.num_features != sizes[0] {
        return Err(Error::Data(format!(
            "network.input_size is {} but the data has {} features",
            sizes[0], split.train.num_features
        )));
    }
    let mlp = Mlp::new(&sizes, cfg.seed, &dev)?;
    let t = &cfg.train;
    let mut opt = Adam::new(
        mlp.params(),
        AdamConfig {
            kind: t.optimizer,
            weight_decay: t.weight_decay,
            grad_clip: t.grad_clip,
            ..AdamConfig::default()
        },
    )?;
    let epochs = opts.epochs.unwrap_or(t.epochs).max(1);
    let batches_per_epoch = split.train.len().div_ceil(t.batch_size.max(1));
    let mut step = 0;
    for epoch in 0..epochs {
        for batch in split
            .train
            .batches(t.batch_size, true, cfg.seed, epoch as u64)
        {
            let x = inputs(&split.train, &batch, &dev)?;
            let y: Vec<u32> = batch.iter().map(|&i| split.train.labels[i]).collect();
            let y = Tensor::from_vec(y, batch.len(), &dev)?;
            let loss = candle_nn::loss::cross_entropy(&mlp.forward(&x)?, &y)?;
            let grads = loss.backward()?;
            let lr = t.schedule.lr(t.lr, step, batches_per_epoch, epochs);
            opt.step(&grads, lr)?;
            step += 1;
        }
    }
    let test_accuracy = accuracy(&mlp, &split.test, &dev)?;
    let train_accuracy = accuracy(&mlp, &split.train, &dev)?;
    Ok(TrainedMlp {
        mlp,
        split,
        test_accuracy,
        train_accuracy,
    })
}
