//! Digits set-up for the export tests: the split, a short real training run, the float layers
//! and the quantised export evaluated on the test split.
use candle_core::{Device, Tensor};
use snn_models::owned::OwnedHeader;
use snn_models::Encoding;
use snn_sdk::data::encode::{train_seed, EncodingConfig, SpikeEncoder};
use snn_sdk::data::Split;
use snn_sdk::deploy::export::{export, samples_of, Exported};
use snn_sdk::deploy::quant::{FloatLayer, QuantConfig};
use snn_sdk::net::network::{LayerOutput, Network, NetworkConfig};
use snn_sdk::train::optim::{Adam, AdamConfig};
use snn_sdk::Digits;

/// Time steps per sample.
pub const T: usize = 25;

/// The digits data with 20 % held out for test (split seed 0, the data set's scaling).
pub fn split() -> Split {
    let data = Digits::load().unwrap();
    data.split(0.2, 0, Digits::scaling()).unwrap()
}

/// The rate encoder of these tests: 64 channels, `T` steps, seed 0.
pub fn encoder() -> SpikeEncoder {
    SpikeEncoder::new(EncodingConfig::Rate { seed: 0 }, 64, T).unwrap()
}

/// A short real training run of the network `net_toml` (validated; initialised with seed 7):
/// Adam at 5e-3 on batches of 128 rate-encoded samples, minimising `loss(outputs, labels)`.
pub fn train(
    split: &Split,
    epochs: usize,
    net_toml: &str,
    loss: impl Fn(&[LayerOutput], &Tensor) -> Tensor,
) -> Network {
    let cfg: NetworkConfig = toml::from_str(net_toml).unwrap();
    cfg.validate().unwrap();
    let dev = Device::Cpu;
    let net = Network::new(&cfg, 7, &dev).unwrap();
    let enc = encoder();
    let params: Vec<_> = {
        let map = net.varmap().data().lock().unwrap();
        let mut v: Vec<_> = map.iter().map(|(k, v)| (k.clone(), v.clone())).collect();
        v.sort_by(|a, b| a.0.cmp(&b.0));
        v
    };
    let mut adam = Adam::new(params, AdamConfig::default()).unwrap();
    for epoch in 0..epochs as u64 {
        for batch in split.train.batches(128, true, 1, epoch) {
            let x = enc
                .encode_batch(&split.train, &batch, |r| train_seed(r, epoch), &dev)
                .unwrap();
            let y: Vec<u32> = batch.iter().map(|&i| split.train.labels[i]).collect();
            let y = Tensor::new(y, &dev).unwrap();
            let out = net.forward(&x).unwrap();
            adam.step(&loss(&out, &y).backward().unwrap(), 5e-3)
                .unwrap();
        }
    }
    net
}

/// The float layers of `net`, as export quantises them.
pub fn float_layers(net: &Network) -> Vec<FloatLayer> {
    net.layer_params()
        .unwrap()
        .iter()
        .enumerate()
        .map(|(i, l)| FloatLayer::from_network(l, i).unwrap())
        .collect()
}

/// The header of a digits model named `name`: 64 inputs, `T` steps, rate seed 0, 10 classes.
pub fn header(name: &str) -> OwnedHeader {
    OwnedHeader {
        name: name.into(),
        input_size: 64,
        time_steps: T as u16,
        encoding: Encoding::Rate { seed: 0 },
        num_classes: 10,
        neurons_per_class: 1,
    }
}

/// `float` quantised with the default config, calibrated on the first `calibration` training
/// samples, and exported as `header`, with its accuracy on the test split in the card.
pub fn export_digits(
    float: &[FloatLayer],
    header: &OwnedHeader,
    split: &Split,
    calibration: usize,
) -> Exported {
    let calib = samples_of(&split.train);
    let test = samples_of(&split.test);
    export(
        float,
        header,
        &calib[..calibration],
        Some((&test, "digits test split")),
        &QuantConfig::default(),
        None,
    )
    .unwrap()
}
