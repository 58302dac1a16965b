//! Smallest end-to-end check of the format and engine: encode, decode, run a hand-made net.
use snn_models::*;

#[test]
fn encode_decode_run_single_neuron() {
    // One input, one neuron, weight 10, threshold 15, no leak loss (beta = 1 - 2^-16).
    let w = [10u8];
    let mut layers = heapless::Vec::new();
    layers
        .push(Layer {
            inputs: 1,
            neurons: 1,
            weight_bits: 8,
            shift: 0,
            feedforward: Weights::Dense { values: Bytes(&w) },
            recurrent: None,
            bias: None,
            leak: Leak::Shared(u16::MAX),
            threshold: 15,
            reset: Reset::Subtract,
            budget: RateBudget::UNBOUNDED,
        })
        .unwrap();
    let model = Model {
        header: Header {
            name: "one",
            input_size: 1,
            time_steps: 4,
            encoding: Encoding::Events,
            num_classes: 1,
            neurons_per_class: 1,
        },
        layers,
        channels: Default::default(),
        synapses: Default::default(),
        output: Default::default(),
    };
    let bytes = encode_to_vec(&model).unwrap();
    let back = decode(&bytes).unwrap();
    assert_eq!(back, model);
    let mut buffers = EngineBuffers::for_model(&back);
    let mut e = buffers.engine(&back).unwrap();
    for _ in 0..4 {
        e.step(&[0]).unwrap();
    }
    // v: 10, 20 -> spike (5), 15 -> spike (0), 10
    assert_eq!(e.output_counts(), &[2]);
    assert_eq!(e.stats().synaptic_events, 4);
    assert_eq!(e.step(&[0]), Err(EngineError::TooManySteps));
}
