//! The annotated hex dump in FORMAT.md is exactly what the encoder writes for the model it
//! describes, so the document cannot drift from the code.
use snn_models::owned::{OwnedHeader, OwnedLayer, OwnedLeak, OwnedModel, OwnedWeights};
use snn_models::{decode, Encoding, Leak, RateBudget, Reset, Weights};

const FORMAT_MD: &str = include_str!("../FORMAT.md");

/// The leading two-digit hex tokens of every line of the block after `<!-- example-bytes -->`.
fn documented_bytes() -> Vec<u8> {
    let after = FORMAT_MD
        .split("<!-- example-bytes -->")
        .nth(1)
        .expect("FORMAT.md has the example marker");
    let block = after
        .split("```")
        .nth(1)
        .expect("the marker is followed by a code block");
    block
        .lines()
        .skip(1) // the ```text line's language tag
        .flat_map(|line| {
            line.split_whitespace()
                .take_while(|t| t.len() == 2 && t.chars().all(|c| c.is_ascii_hexdigit()))
                .map(|t| u8::from_str_radix(t, 16).unwrap())
                .collect::<Vec<_>>()
        })
        .collect()
}

fn tiny() -> OwnedModel {
    let mut l = OwnedLayer::new(
        2,
        2,
        OwnedWeights::from_dense(2, 2, &[10, -3, 4, 120]).unwrap(),
        16,
    );
    l.shift = 3;
    l.recurrent = Some(OwnedWeights::sparse_from_dense(2, 2, &[0, -2, 0, 0]).unwrap());
    l.bias = Some(vec![1, -1].into());
    l.leak = OwnedLeak::Shared(58982);
    l.budget = RateBudget {
        max_rate: 16384,
        min_rate: 0,
    };
    OwnedModel {
        header: OwnedHeader {
            name: "tiny".into(),
            input_size: 2,
            time_steps: 4,
            encoding: Encoding::Rate { seed: 7 },
            num_classes: 2,
            neurons_per_class: 1,
        },
        layers: vec![l],
        channels: Default::default(),
        synapses: Default::default(),
        output: Default::default(),
    }
}

#[test]
fn documented_example_matches_the_encoder() {
    let doc = documented_bytes();
    assert_eq!(doc.len(), 72);
    assert_eq!(doc, tiny().to_bytes().unwrap());
}

#[test]
fn documented_example_decodes_to_the_described_fields() {
    let doc = documented_bytes();
    let m = decode(&doc).unwrap();
    assert_eq!(m.header.name, "tiny");
    assert_eq!(m.header.encoding, Encoding::Rate { seed: 7 });
    let l = &m.layers[0];
    assert_eq!(l.shift, 3);
    assert!(matches!(l.feedforward, Weights::Dense { values } if values.0 == [10, 0xFD, 4, 120]));
    let Some(Weights::Sparse {
        row_ptr,
        post,
        values,
    }) = l.recurrent
    else {
        panic!("recurrent weights are sparse");
    };
    assert_eq!(row_ptr.iter().collect::<Vec<_>>(), [0, 1, 1]);
    assert_eq!(post.iter().collect::<Vec<_>>(), [1]);
    assert_eq!(values.0, [0xFE]);
    assert_eq!(l.bias.unwrap().iter().collect::<Vec<_>>(), [1, -1]);
    assert_eq!(l.leak, Leak::Shared(58982));
    assert_eq!((l.threshold, l.reset), (16, Reset::Subtract));
    assert_eq!(l.budget.max_rate, 16384);
}
