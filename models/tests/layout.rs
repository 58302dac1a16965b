//! `Layout`: every zoo model (rate, continuous channels, synapse section, readout) rebinds from
//! its bytes to the model `decode` gives, and other bytes give `None`, not a panic.
use snn_models::{decode, Layout};

#[test]
fn zoo_models_rebind_to_their_decoded_model() {
    let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/zoo");
    let mut seen = 0;
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.extension().is_none_or(|e| e != "snn") {
            continue;
        }
        let bytes = std::fs::read(&path).unwrap();
        let model = decode(&bytes).unwrap();
        let layout = Layout::of(&model, &bytes).unwrap();
        let mut bound = decode(&bytes).unwrap();
        bound.layers.clear();
        assert_eq!(layout.bind(&bytes, &mut bound), Some(()), "{path:?}");
        assert_eq!(bound, model, "{path:?}");
        // A copy of the bytes elsewhere is not where the model was decoded from.
        let copy = bytes.clone();
        assert_eq!(
            Layout::of(&model, &copy[..copy.len() / 2]),
            None,
            "{path:?}"
        );
        // Too few bytes for the recorded ranges: an error, not a panic.
        assert_eq!(
            layout.bind(&bytes[..bytes.len() / 2], &mut bound),
            None,
            "{path:?}"
        );
        seen += 1;
    }
    assert!(seen >= 4, "only {seen} zoo models");
}
