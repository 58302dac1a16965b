//! The decision rules against naive recomputations, on a real engine's output spikes and on
//! arbitrary spike lists, and their error values.
mod common;

use proptest::prelude::*;
use snn_models::decision::{
    argmax, DecisionError, FinalCount, FirstToThreshold, Populations, Reached, Settle, Window,
};
use snn_models::owned::{OwnedLayer, OwnedLeak, OwnedWeights};

/// Per-class counts of one step's spikes, recomputed from scratch.
fn class_counts(pops: Populations, spikes: &[u16]) -> Vec<u32> {
    let mut out = vec![0u32; usize::from(pops.classes())];
    for &j in spikes {
        out[usize::from(j / pops.per_class())] += 1;
    }
    out
}

/// The naive decisions of all three rules after every step.
fn naive(
    pops: Populations,
    steps: &[Vec<u16>],
    width: usize,
    n: u32,
) -> (Vec<u16>, Vec<Option<u16>>, Option<Reached>) {
    let per_step: Vec<Vec<u32>> = steps.iter().map(|s| class_counts(pops, s)).collect();
    let classes = usize::from(pops.classes());
    let mut finals = Vec::new();
    let mut windows = Vec::new();
    let mut reached = None;
    for t in 0..steps.len() {
        let total: Vec<u32> = (0..classes)
            .map(|c| per_step[..=t].iter().map(|s| s[c]).sum())
            .collect();
        let max = *total.iter().max().unwrap();
        finals.push(total.iter().position(|&x| x == max).unwrap() as u16);
        let lo = (t + 1).saturating_sub(width);
        let win: Vec<u32> = (0..classes)
            .map(|c| per_step[lo..=t].iter().map(|s| s[c]).sum())
            .collect();
        let wmax = *win.iter().max().unwrap();
        windows.push((wmax > 0).then(|| win.iter().position(|&x| x == wmax).unwrap() as u16));
        if reached.is_none() && max >= n {
            reached = Some(Reached {
                class: total.iter().position(|&x| x == max).unwrap() as u16,
                step: t as u32 + 1,
            });
        }
    }
    (finals, windows, reached)
}

/// Runs the three rules over `steps` and checks every step against `naive`.
fn check_rules(pops: Populations, steps: &[Vec<u16>], width: usize, n: u32) {
    let (finals, windows, reached) = naive(pops, steps, width, n);
    let classes = usize::from(pops.classes());
    let (ring_len, sums_len) = Window::storage(pops, width);
    let (mut fc, mut ring, mut sums, mut tc) = (
        vec![0u32; classes],
        vec![0u16; ring_len],
        vec![0u32; sums_len],
        vec![0u32; classes],
    );
    let mut fin = FinalCount::new(pops, &mut fc).unwrap();
    let mut win = Window::new(pops, width, &mut ring, &mut sums).unwrap();
    let mut first = FirstToThreshold::new(pops, n, &mut tc).unwrap();
    let mut last = None;
    for (t, s) in steps.iter().enumerate() {
        fin.push(s).unwrap();
        assert_eq!(fin.decision(), finals[t], "final count at step {t}");
        assert_eq!(win.push(s).unwrap(), windows[t], "window at step {t}");
        last = first.push(s).unwrap();
        if let Some(r) = last {
            assert!(r.step as usize <= t + 1);
        }
    }
    assert_eq!(last, reached, "first to threshold");
    assert_eq!(fin.steps() as usize, steps.len());
}

fn spikes_strategy(outputs: u16) -> impl Strategy<Value = Vec<Vec<u16>>> {
    prop::collection::vec(
        prop::collection::btree_set(0..outputs, 0..=usize::from(outputs))
            .prop_map(|s| s.into_iter().collect::<Vec<u16>>()),
        1..40,
    )
}

proptest! {
    #[test]
    fn rules_equal_naive_recomputation(
        (classes, per, steps) in (1u16..6, 1u16..4).prop_flat_map(|(c, p)| {
            (Just(c), Just(p), spikes_strategy(c * p))
        }),
        width in 1usize..12,
        n in 1u32..20,
    ) {
        check_rules(Populations::new(classes, per).unwrap(), &steps, width, n);
    }
}

#[test]
fn final_count_is_the_engines_prediction_on_a_real_model() {
    // The shared reference model's outputs are nearly silent; this one spikes on every class.
    let mut owned = common::reference();
    let w: Vec<i8> = (0..6 * 6).map(|k| ((k * 37 % 29) as i8) - 9).collect();
    let mut out = OwnedLayer::new(6, 6, OwnedWeights::from_dense(6, 6, &w).unwrap(), 25);
    out.leak = OwnedLeak::Shared(60000);
    owned.layers = vec![out];
    owned.header.num_classes = 3;
    let model = owned.as_model();
    let pops = Populations::of(&model).unwrap();
    let last = model.layers.len() - 1;
    let mut state = snn_models::EngineBuffers::for_model(&model);
    let mut engine = state.engine(&model).unwrap();
    let mut seed = 0x1234_5678u32;
    let mut saw_spikes = false;
    for sample in 0..50 {
        engine.reset();
        let mut steps = Vec::new();
        for _ in 0..model.header.time_steps {
            let input: Vec<u16> = (0..model.header.input_size)
                .filter(|_| {
                    seed ^= seed << 13;
                    seed ^= seed >> 17;
                    seed ^= seed << 5;
                    seed % 3 != 0
                })
                .collect();
            engine.step(&input).unwrap();
            steps.push(engine.layer_spikes(last).to_vec());
        }
        saw_spikes |= steps.iter().any(|s| !s.is_empty());
        let mut fc = vec![0u32; usize::from(pops.classes())];
        let mut fin = FinalCount::new(pops, &mut fc).unwrap();
        for s in &steps {
            fin.push(s).unwrap();
        }
        assert_eq!(fin.decision(), engine.predicted_class(), "sample {sample}");
        let summed: u32 = engine.output_counts().iter().map(|&c| u32::from(c)).sum();
        assert_eq!(fin.counts().iter().sum::<u32>(), summed, "sample {sample}");
        check_rules(pops, &steps, 3, 4);
    }
    assert!(saw_spikes, "the reference model must produce output spikes");
}

#[test]
fn ties_go_to_the_lowest_class_and_silence_is_undecided() {
    assert_eq!(argmax(&[0, 0, 0]), None);
    assert_eq!(argmax(&[1, 3, 3]), Some(1));
    assert_eq!(argmax(&[]), None);
    let pops = Populations::new(3, 2).unwrap();
    let (mut ring, mut sums) = (vec![0u16; 6], vec![0u32; 3]);
    let mut win = Window::new(pops, 2, &mut ring, &mut sums).unwrap();
    assert_eq!(win.push(&[]).unwrap(), None);
    assert_eq!(win.push(&[5, 2]).unwrap(), Some(1)); // classes 2 and 1 tie -> 1
    assert_eq!(win.push(&[4]).unwrap(), Some(2)); // steps 2..=3: class 1 has 1, class 2 has 2
    let mut fc = vec![0u32; 3];
    let fin = FinalCount::new(pops, &mut fc).unwrap();
    assert_eq!(
        fin.decision(),
        0,
        "silence -> class 0, like engine::predict"
    );
    // Classes 1 (3 spikes) and 2 (2 spikes) cross N = 2 in one step: the higher count wins.
    let mut tc = vec![0u32; 3];
    let mut first = FirstToThreshold::new(pops, 2, &mut tc).unwrap();
    assert_eq!(first.push(&[0, 2]).unwrap(), None);
    assert_eq!(
        first.push(&[2, 3, 4, 5]).unwrap(),
        Some(Reached { class: 1, step: 2 })
    );
    assert_eq!(
        first.push(&[0, 1, 0, 1, 0]).unwrap(),
        Some(Reached { class: 1, step: 2 }),
        "the decision sticks"
    );
    first.reset();
    assert_eq!(first.reached(), None);
    // All three cross N = 2 with equal counts: the lowest class.
    assert_eq!(first.push(&[0, 2]).unwrap(), None);
    assert_eq!(
        first.push(&[1, 3, 4, 5]).unwrap(),
        Some(Reached { class: 0, step: 2 })
    );
}

#[test]
fn the_window_forgets_steps_older_than_w() {
    let pops = Populations::new(2, 1).unwrap();
    let (mut ring, mut sums) = (vec![0u16; 6], vec![0u32; 2]);
    let mut win = Window::new(pops, 3, &mut ring, &mut sums).unwrap();
    for _ in 0..5 {
        assert_eq!(win.push(&[0]).unwrap(), Some(0));
    }
    assert_eq!(win.push(&[1]).unwrap(), Some(0));
    assert_eq!(win.push(&[1]).unwrap(), Some(1));
    assert_eq!(win.sums(), &[1, 2]);
    win.push(&[]).unwrap();
    win.push(&[]).unwrap();
    assert_eq!(
        win.push(&[]).unwrap(),
        None,
        "three silent steps empty a 3-step window"
    );
}

#[test]
fn settle_reports_the_step_a_decision_stopped_changing() {
    let mut s = Settle::new();
    assert_eq!(s.since(), 0);
    for d in [None, Some(1), Some(2), Some(2), Some(1), Some(1), Some(1)] {
        s.push(d);
    }
    assert_eq!((s.current(), s.since(), s.steps()), (Some(1), 5, 7));
    let mut s = Settle::new();
    s.push(Some(0));
    s.push(Some(0));
    assert_eq!(s.since(), 1);
}

#[test]
fn bad_storage_and_spikes_are_errors_and_change_nothing() {
    assert_eq!(
        Populations::new(0, 1),
        Err(DecisionError::Populations {
            classes: 0,
            per_class: 1
        })
    );
    assert!(Populations::new(300, 300).is_err());
    let pops = Populations::new(2, 2).unwrap();
    assert_eq!(
        FinalCount::new(pops, &mut [0u32; 1]).unwrap_err(),
        DecisionError::BufferTooSmall {
            what: "counts",
            needed: 2,
            given: 1
        }
    );
    assert_eq!(
        Window::new(pops, 0, &mut [], &mut [0u32; 2]).unwrap_err(),
        DecisionError::WindowWidth { width: 0 }
    );
    assert_eq!(
        Window::new(pops, 70_000, &mut [], &mut [0u32; 2]).unwrap_err(),
        DecisionError::WindowWidth { width: 70_000 }
    );
    assert!(matches!(
        Window::new(pops, 3, &mut [0u16; 5], &mut [0u32; 2]),
        Err(DecisionError::BufferTooSmall {
            what: "ring",
            needed: 6,
            given: 5
        })
    ));
    assert_eq!(
        FirstToThreshold::new(pops, 0, &mut [0u32; 2]).unwrap_err(),
        DecisionError::ZeroThreshold
    );

    let (mut ring, mut sums, mut fc, mut tc) = ([0u16; 4], [0u32; 2], [0u32; 2], [0u32; 2]);
    let mut win = Window::new(pops, 2, &mut ring, &mut sums).unwrap();
    let mut fin = FinalCount::new(pops, &mut fc).unwrap();
    let mut first = FirstToThreshold::new(pops, 1, &mut tc).unwrap();
    let bad = [1u16, 4];
    let err = DecisionError::Neuron {
        index: 4,
        outputs: 4,
    };
    assert_eq!(win.push(&bad), Err(err));
    assert_eq!(fin.push(&bad), Err(err));
    assert_eq!(first.push(&bad), Err(err));
    assert_eq!(win.sums(), &[0, 0]);
    assert_eq!((fin.counts(), fin.steps()), (&[0u32, 0][..], 0));
    assert_eq!(first.reached(), None);
    assert!(err.to_string().contains("index 4"));
    // Duplicated indices saturate per step instead of overflowing.
    let many = vec![0u16; 70_000];
    assert_eq!(win.push(&many).unwrap(), Some(0));
    assert_eq!(win.sums(), &[65535, 0]);
    assert_eq!(win.push(&many).unwrap(), Some(0));
    assert_eq!(win.push(&[]).unwrap(), Some(0));
    assert_eq!(win.sums(), &[65535, 0]);
}

/// Every rule stopped and resumed after every step (`mark` / `resume` over the same storage)
/// decides exactly as one that ran straight through.
#[test]
fn resumed_rules_decide_as_uninterrupted_ones() {
    use snn_models::decision::{FinalCount, FirstToThreshold, Populations, Window};
    let pops = Populations::new(3, 2).unwrap();
    let mut x = 0x9E37_79B9u32;
    let steps: Vec<Vec<u16>> = (0..60)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 17;
            x ^= x << 5;
            (0..6u16).filter(|i| (x >> (i * 3)) & 3 == 0).collect()
        })
        .collect();
    let (mut c1, mut r1, mut s1, mut t1) = ([0u32; 3], [0u16; 15], [0u32; 3], [0u32; 3]);
    let mut fc = FinalCount::new(pops, &mut c1).unwrap();
    let mut w = Window::new(pops, 5, &mut r1, &mut s1).unwrap();
    let mut ft = FirstToThreshold::new(pops, 9, &mut t1).unwrap();
    let (mut c2, mut r2, mut s2, mut t2) = ([0u32; 3], [0u16; 15], [0u32; 3], [0u32; 3]);
    let (mut fm, mut wm, mut tm) = {
        let f = FinalCount::new(pops, &mut c2).unwrap();
        let w = Window::new(pops, 5, &mut r2, &mut s2).unwrap();
        let t = FirstToThreshold::new(pops, 9, &mut t2).unwrap();
        (f.mark(), w.mark(), t.mark())
    };
    for s in &steps {
        fc.push(s).unwrap();
        let want_w = w.push(s).unwrap();
        let want_t = ft.push(s).unwrap();
        let mut f = FinalCount::resume(pops, &mut c2, fm).unwrap();
        let mut w2 = Window::resume(pops, 5, &mut r2, &mut s2, wm).unwrap();
        let mut t = FirstToThreshold::resume(pops, 9, &mut t2, tm).unwrap();
        f.push(s).unwrap();
        assert_eq!(w2.push(s).unwrap(), want_w);
        assert_eq!(t.push(s).unwrap(), want_t);
        assert_eq!(f.decision(), fc.decision());
        (fm, wm, tm) = (f.mark(), w2.mark(), t.mark());
    }
    assert!(
        ft.reached().is_some(),
        "the threshold must be reached for the test to bite"
    );
    assert!(Window::resume(pops, 5, &mut r2, &mut s2, 5).is_err());
    assert!(FirstToThreshold::resume(pops, 0, &mut t2, tm).is_err());
}
