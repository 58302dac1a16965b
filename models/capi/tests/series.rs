//! Time series through the C API: every test series of the zoo BasicMotions models and part of
//! JapaneseVowels' streamed step by step through `snn_step_raw` / `snn_step_values` and through
//! the Rust `Engine` (`step_raw` / `step_values`) give the same output spikes at every step, the
//! same counts, readout values, stats and classes, and the C decision rules (sliding window,
//! first to threshold) decide at every step as `snn_models::decision` does. Refusals of the
//! stream entry points are status codes with texts.
use snn_capi::*;
use snn_models::decision::{FirstToThreshold, Populations, Window};
use snn_models::{decode, EngineBuffers, Model};
use std::io::Read;
use std::mem::MaybeUninit;
use std::path::PathBuf;

mod common;
use common::Opened;

const DIGITS: &[u8] = include_bytes!("../../zoo/digits.snn");
/// The decision rules the hil streams use by default: a window of 10 steps, first to 4 spikes.
const WINDOW: u16 = 10;
const THRESHOLD: u32 = 4;

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../..")
}

fn zoo(name: &str) -> Vec<u8> {
    std::fs::read(root().join("models/zoo").join(name)).unwrap()
}

/// The series of a UEA `.ts.gz` test file, each step-major (frame `t` at `t * channels`), and
/// the channel count.
fn read_ts(file: &str) -> (usize, Vec<Vec<f32>>) {
    let path = root().join("sdk/data").join(file);
    let mut text = String::new();
    flate2::read::GzDecoder::new(std::fs::File::open(&path).unwrap())
        .read_to_string(&mut text)
        .unwrap();
    let mut channels = 0;
    let mut data = false;
    let mut series = Vec::new();
    for line in text.lines().map(str::trim).filter(|l| !l.is_empty()) {
        if !data {
            let lower = line.to_ascii_lowercase();
            if let Some(d) = lower.strip_prefix("@dimensions") {
                channels = d.trim().parse().unwrap();
            }
            data = lower.starts_with("@data");
            continue;
        }
        let fields: Vec<&str> = line.split(':').collect();
        assert_eq!(fields.len(), channels + 1, "{file}: {line}");
        let cols: Vec<Vec<f32>> = fields[..channels]
            .iter()
            .map(|c| c.split(',').map(|v| v.trim().parse().unwrap()).collect())
            .collect();
        let len = cols[0].len();
        series.push(
            (0..len)
                .flat_map(|t| cols.iter().map(move |c| c[t]))
                .collect(),
        );
    }
    assert!(!series.is_empty() && channels > 0, "{file}");
    (channels, series)
}

/// The finest power-of-two unit that does not clip any value of the file (`xtask`'s
/// `raw_exponent`): `exp = -k`, the largest `k` with `max_abs * 2^k <= 32767`.
fn raw_exponent(series: &[Vec<f32>]) -> i8 {
    let max_abs = series.iter().flatten().fold(0f32, |a, &x| a.max(x.abs()));
    let mut k = 60i32;
    while k > -60 && f64::from(max_abs) * 2f64.powi(k) > 32767.0 {
        k -= 1;
    }
    (-k) as i8
}

fn to_raw(values: &[f32], exp: i8) -> Vec<i16> {
    let k = 2f64.powi(-i32::from(exp));
    values
        .iter()
        .map(|&x| (f64::from(x) * k).round().clamp(-32768.0, 32767.0) as i16)
        .collect()
}

/// A decision rule opened through the C API on an engine, in its own RAM.
struct Rule {
    handle: Box<MaybeUninit<SnnDecision>>,
    _ram: Vec<u32>,
}

impl Rule {
    /// `width > 0`: a window of `width` steps; 0: first to `threshold`.
    fn open(e: *mut SnnEngine, width: u16, threshold: u32) -> Self {
        let mut bytes = 0usize;
        assert_eq!(
            unsafe { snn_decision_ram_bytes(e, width, &mut bytes) },
            SnnStatus::SnnOk
        );
        let mut ram = vec![0u32; bytes.div_ceil(4)];
        let mut handle = Box::new(MaybeUninit::<SnnDecision>::zeroed());
        let (d, r) = (handle.as_mut_ptr(), ram.as_mut_ptr().cast());
        let s = unsafe {
            if width > 0 {
                snn_window_open(d, e, width, r, bytes)
            } else {
                snn_threshold_open(d, e, threshold, r, bytes)
            }
        };
        assert_eq!(s, SnnStatus::SnnOk);
        Self { handle, _ram: ram }
    }

    fn d(&mut self) -> *mut SnnDecision {
        self.handle.as_mut_ptr()
    }

    fn push(&mut self) -> SnnVerdict {
        let mut v = SnnVerdict::default();
        assert_eq!(
            unsafe { snn_decision_push(self.d(), &mut v) },
            SnnStatus::SnnOk
        );
        v
    }
}

/// How a series is fed: raw `i16` samples with an exponent, or the `f32` values.
#[derive(Clone, Copy, Debug)]
enum Feed {
    Raw(i8),
    Values,
}

/// What a whole stream of series compared: steps, output spikes, window decisions taken.
#[derive(Default, Debug)]
struct Tally {
    steps: usize,
    spikes: usize,
    window_decided: usize,
    threshold_decided: usize,
}

/// Streams every series of `series` through the C API and the Rust engine, step by step,
/// from rest (engine and rules reset per series, step limit off as on the board's stream).
fn stream_equal(model_bytes: &[u8], channels: usize, series: &[Vec<f32>], feed: Feed) -> Tally {
    let m: Model<'_> = decode(model_bytes).unwrap();
    let readout = m.has_readout();
    let last = m.layers.len() - 1;
    let mut c = Opened::open(model_bytes);
    let e = c.engine();
    let mut n = 0u16;
    assert_eq!(
        unsafe { snn_model_channels(c.model(), &mut n) },
        SnnStatus::SnnOk
    );
    assert_eq!(usize::from(n), channels);
    assert_eq!(
        unsafe { snn_engine_set_step_limit(e, false) },
        SnnStatus::SnnOk
    );
    let mut state = EngineBuffers::for_model(&m);
    let mut r = state.engine(&m).unwrap();
    r.set_step_limit(false);
    // Spike-count rules on a spiking model; their Rust twins.
    let mut rules = (!readout).then(|| (Rule::open(e, WINDOW, 0), Rule::open(e, 0, THRESHOLD)));
    let pops = Populations::of(&m).unwrap();
    let k = usize::from(pops.classes());
    let (mut ring, mut sums, mut counts) =
        (vec![0u16; usize::from(WINDOW) * k], vec![0; k], vec![0; k]);
    let mut tally = Tally::default();
    let outputs = usize::from(c.req.output_neurons);
    for (i, values) in series.iter().enumerate() {
        let mut win = Window::new(pops, usize::from(WINDOW), &mut ring, &mut sums).unwrap();
        let mut first = FirstToThreshold::new(pops, THRESHOLD, &mut counts).unwrap();
        r.reset();
        unsafe {
            assert_eq!(snn_engine_reset(e), SnnStatus::SnnOk);
        }
        if let Some((w, f)) = rules.as_mut() {
            unsafe {
                assert_eq!(snn_decision_reset(w.d()), SnnStatus::SnnOk);
                assert_eq!(snn_decision_reset(f.d()), SnnStatus::SnnOk);
            }
        }
        let raw = match feed {
            Feed::Raw(exp) => to_raw(values, exp),
            Feed::Values => Vec::new(),
        };
        for t in 0..values.len() / channels {
            let frame = t * channels..(t + 1) * channels;
            let status = unsafe {
                match feed {
                    Feed::Raw(exp) => {
                        r.step_raw(&raw[frame.clone()], exp).unwrap();
                        snn_step_raw(e, raw[frame].as_ptr(), channels, exp)
                    }
                    Feed::Values => {
                        r.step_values(&values[frame.clone()]).unwrap();
                        snn_step_values(e, values[frame].as_ptr(), channels)
                    }
                }
            };
            assert_eq!(status, SnnStatus::SnnOk, "series {i} step {t}");
            let (mut p, mut len) = (std::ptr::null(), 0usize);
            unsafe {
                assert_eq!(
                    snn_step_spikes(e, last as u16, &mut p, &mut len),
                    SnnStatus::SnnOk
                );
            }
            let spikes = unsafe { std::slice::from_raw_parts(p, len) };
            let want = r.layer_spikes(last);
            assert_eq!(spikes, want, "{feed:?} series {i} step {t}: output spikes");
            tally.spikes += want.len();
            tally.steps += 1;
            if readout {
                let mut v = vec![0i32; outputs];
                assert_eq!(
                    unsafe { snn_readout(e, v.as_mut_ptr(), v.len()) },
                    SnnStatus::SnnOk
                );
                assert_eq!(v, r.readout(), "series {i} step {t}: readout values");
            }
            if let Some((w, f)) = rules.as_mut() {
                let (vw, vf) = (w.push(), f.push());
                let want_w = win.push(want).unwrap();
                let want_f = first.push(want).unwrap();
                assert_eq!(
                    (vw.decided, vw.class_index, vw.steps),
                    (want_w.is_some(), want_w.unwrap_or(0), t as u32 + 1),
                    "series {i} step {t}: window decision"
                );
                assert_eq!(
                    (vf.decided, vf.class_index, vf.decided_at),
                    (
                        want_f.is_some(),
                        want_f.map_or(0, |x| x.class),
                        want_f.map_or(0, |x| x.step)
                    ),
                    "series {i} step {t}: first-to-threshold decision"
                );
                let mut got = vec![0u32; k];
                unsafe {
                    assert_eq!(
                        snn_decision_counts(w.d(), got.as_mut_ptr(), k),
                        SnnStatus::SnnOk
                    );
                }
                assert_eq!(got, win.sums(), "series {i} step {t}: window sums");
                unsafe {
                    assert_eq!(
                        snn_decision_counts(f.d(), got.as_mut_ptr(), k),
                        SnnStatus::SnnOk
                    );
                }
                assert_eq!(got, first.counts(), "series {i} step {t}: counts");
            }
        }
        if rules.is_some() {
            tally.window_decided += usize::from(win.decision().is_some());
            tally.threshold_decided += usize::from(first.reached().is_some());
        }
        let mut counts_c = vec![0u16; outputs];
        let (mut st, mut class) = (SnnStats::default(), 0u16);
        unsafe {
            assert_eq!(
                snn_output_counts(e, counts_c.as_mut_ptr(), outputs),
                SnnStatus::SnnOk
            );
            assert_eq!(snn_stats(e, &mut st), SnnStatus::SnnOk);
            assert_eq!(snn_predicted_class(e, &mut class), SnnStatus::SnnOk);
        }
        assert_eq!(counts_c, r.output_counts(), "series {i}: counts");
        assert_eq!(st.synaptic_events, r.stats().synaptic_events, "series {i}");
        assert_eq!(st.steps, r.stats().steps, "series {i}");
        assert_eq!(class, r.predicted_class(), "series {i}: class");
    }
    tally
}

#[test]
fn every_basic_motions_series_streams_the_same_bits_through_c() {
    let (channels, series) = read_ts("BasicMotions_TEST.ts.gz");
    assert_eq!(series.len(), 40);
    let exp = raw_exponent(&series);
    let model = zoo("basic_motions.snn");
    let raw = stream_equal(&model, channels, &series, Feed::Raw(exp));
    let values = stream_equal(&model, channels, &series, Feed::Values);
    // The comparison saw real work: output spikes and decisions taken by both rules.
    assert!(raw.spikes > 0 && values.spikes > 0, "{raw:?} {values:?}");
    assert!(
        raw.window_decided > 0 && raw.threshold_decided > 0,
        "{raw:?}"
    );
    assert_eq!(
        raw.steps,
        series.iter().map(|s| s.len() / channels).sum::<usize>()
    );
}

#[test]
fn the_basic_motions_readout_model_streams_the_same_readout_values_through_c() {
    let (channels, series) = read_ts("BasicMotions_TEST.ts.gz");
    let exp = raw_exponent(&series);
    let model = zoo("basic_motions_readout.snn");
    let t = stream_equal(&model, channels, &series, Feed::Raw(exp));
    assert_eq!(
        t.steps,
        series.iter().map(|s| s.len() / channels).sum::<usize>()
    );
    stream_equal(&model, channels, &series[..10], Feed::Values);
}

#[test]
fn japanese_vowels_series_stream_the_same_bits_through_c() {
    let (channels, series) = read_ts("JapaneseVowels_TEST.ts.gz");
    let exp = raw_exponent(&series);
    let model = zoo("japanese_vowels.snn");
    // Every 10th of the 370 test series (both feeds), a sample over the speakers.
    let some: Vec<Vec<f32>> = series.iter().step_by(10).cloned().collect();
    let t = stream_equal(&model, channels, &some, Feed::Raw(exp));
    stream_equal(&model, channels, &some, Feed::Values);
    assert!(t.spikes > 0, "{t:?}");
}

fn text(e: *const SnnEngine) -> String {
    let mut buf = [0u8; 160];
    let n = unsafe { snn_engine_error_text(e, buf.as_mut_ptr().cast(), buf.len()) };
    String::from_utf8_lossy(&buf[..n]).into_owned()
}

#[test]
fn stream_refusals_are_status_codes_with_texts() {
    // A digits model takes u8 features: no channels, real values refused by kind.
    let mut d = Opened::open(DIGITS);
    let de = d.engine();
    let mut n = 7u16;
    let v = [0.5f32; 6];
    let raw = [1i16; 6];
    let mut rule = MaybeUninit::<SnnDecision>::zeroed();
    let mut ram = [0u32; 64];
    let mut verdict = SnnVerdict::default();
    unsafe {
        assert_eq!(snn_model_channels(d.model(), &mut n), SnnStatus::SnnOk);
        assert_eq!(n, 0);
        assert_eq!(
            snn_step_values(de, v.as_ptr(), 6),
            SnnStatus::SnnErrInputKind
        );
        assert!(
            text(de).contains("not real-valued channels"),
            "{}",
            text(de)
        );
        assert_eq!(
            snn_step_raw(de, raw.as_ptr(), 6, 0),
            SnnStatus::SnnErrInputKind
        );
        assert_eq!(
            snn_model_channels(d.model(), std::ptr::null_mut()),
            SnnStatus::SnnErrNull
        );
    }

    let bm = zoo("basic_motions.snn");
    let mut b = Opened::open(&bm);
    let e = b.engine();
    unsafe {
        assert_eq!(snn_model_channels(b.model(), &mut n), SnnStatus::SnnOk);
        assert_eq!(n, 6);
        // Wrong channel count, named with both counts; NULL data; the exponent's range.
        assert_eq!(
            snn_step_values(e, v.as_ptr(), 5),
            SnnStatus::SnnErrInputLength
        );
        assert!(
            text(e).contains('6') && text(e).contains('5'),
            "{}",
            text(e)
        );
        assert_eq!(
            snn_step_raw(e, raw.as_ptr(), 7, 0),
            SnnStatus::SnnErrInputLength
        );
        assert_eq!(
            snn_step_values(e, std::ptr::null(), 6),
            SnnStatus::SnnErrNull
        );
        assert_eq!(
            snn_step_raw(e, std::ptr::null(), 6, 0),
            SnnStatus::SnnErrNull
        );
        assert_eq!(
            snn_step_values(e, std::ptr::null(), 0),
            SnnStatus::SnnErrInputLength
        );
        assert_eq!(
            snn_step_raw(e, raw.as_ptr(), 6, 61),
            SnnStatus::SnnErrRawExponent
        );
        assert_eq!(
            snn_step_raw(e, raw.as_ptr(), 6, -61),
            SnnStatus::SnnErrRawExponent
        );
        assert_eq!(snn_step_raw(e, raw.as_ptr(), 6, -60), SnnStatus::SnnOk);
        // Non-finite values are encoded as the Rust engine encodes them (not refused).
        let odd = [f32::NAN, f32::INFINITY, f32::NEG_INFINITY, 0.0, 1e30, -1e30];
        assert_eq!(snn_step_values(e, odd.as_ptr(), 6), SnnStatus::SnnOk);
        // The refused calls changed nothing: the same two steps on the Rust engine agree.
        let m = decode(&bm).unwrap();
        let mut state = EngineBuffers::for_model(&m);
        let mut r = state.engine(&m).unwrap();
        r.step_raw(&raw, -60).unwrap();
        r.step_values(&odd).unwrap();
        let mut st = SnnStats::default();
        assert_eq!(snn_stats(e, &mut st), SnnStatus::SnnOk);
        assert_eq!(
            (st.steps, st.synaptic_events),
            (r.stats().steps, r.stats().synaptic_events)
        );
        let last = m.layers.len() - 1;
        for l in 0..=last {
            let (mut p, mut len) = (std::ptr::null(), 0usize);
            assert_eq!(
                snn_step_spikes(e, l as u16, &mut p, &mut len),
                SnnStatus::SnnOk
            );
            assert_eq!(
                std::slice::from_raw_parts(p, len),
                r.layer_spikes(l),
                "layer {l}"
            );
        }
        // The step limit: on by default, time_steps steps after a reset.
        assert_eq!(snn_engine_reset(e), SnnStatus::SnnOk);
        for _ in 0..b.req.time_steps {
            assert_eq!(snn_step_raw(e, raw.as_ptr(), 6, 0), SnnStatus::SnnOk);
        }
        assert_eq!(
            snn_step_raw(e, raw.as_ptr(), 6, 0),
            SnnStatus::SnnErrTooManySteps
        );
        assert_eq!(snn_engine_set_step_limit(e, false), SnnStatus::SnnOk);
        assert_eq!(snn_step_raw(e, raw.as_ptr(), 6, 0), SnnStatus::SnnOk);

        // Decision rules: parameters, RAM, handles.
        let r = rule.as_mut_ptr();
        let mut bytes = 0usize;
        assert_eq!(snn_decision_ram_bytes(e, 10, &mut bytes), SnnStatus::SnnOk);
        let classes = usize::from(b.req.num_classes);
        assert_eq!(bytes, 4 * classes + 2 * 10 * classes);
        let p = ram.as_mut_ptr().cast();
        assert_eq!(
            snn_window_open(r, e, 0, p, 256),
            SnnStatus::SnnErrDecisionParam
        );
        assert_eq!(
            snn_threshold_open(r, e, 0, p, 256),
            SnnStatus::SnnErrDecisionParam
        );
        assert_eq!(
            snn_window_open(r, e, 10, p, bytes - 1),
            SnnStatus::SnnErrRamTooSmall
        );
        assert_eq!(
            snn_window_open(r, e, 10, p.cast::<u8>().add(2).cast(), bytes),
            SnnStatus::SnnErrMisaligned
        );
        assert_eq!(
            snn_window_open(r, e, 10, std::ptr::null_mut(), bytes),
            SnnStatus::SnnErrNull
        );
        // A failed open leaves the handle not open.
        assert_eq!(snn_decision_push(r, &mut verdict), SnnStatus::SnnErrNotOpen);
        assert_eq!(snn_window_open(r, e, 10, p, bytes), SnnStatus::SnnOk);
        assert_eq!(
            snn_decision_push(r, std::ptr::null_mut()),
            SnnStatus::SnnErrNull
        );
        assert_eq!(snn_decision_push(r, &mut verdict), SnnStatus::SnnOk);
        assert_eq!(verdict.steps, 1);
        let mut few = [0u32; 1];
        assert_eq!(
            snn_decision_counts(r, few.as_mut_ptr(), 1),
            SnnStatus::SnnErrBufferTooSmall
        );
        // A copied handle is not open; the rule of an engine that is re-opened elsewhere
        // refuses to push.
        let mut moved = MaybeUninit::<SnnDecision>::zeroed();
        core::ptr::copy_nonoverlapping(r, moved.as_mut_ptr(), 1);
        assert_eq!(
            snn_decision_push(moved.as_mut_ptr(), &mut verdict),
            SnnStatus::SnnErrNotOpen
        );
        assert_eq!(
            snn_decision_reset(std::ptr::null_mut()),
            SnnStatus::SnnErrNull
        );
    }

    // A readout model decides on its readout: spike-count rules are refused.
    let ro = zoo("basic_motions_readout.snn");
    let mut o = Opened::open(&ro);
    let oe = o.engine();
    unsafe {
        let mut bytes = 0usize;
        assert_eq!(
            snn_decision_ram_bytes(oe, 10, &mut bytes),
            SnnStatus::SnnErrReadoutRule
        );
        let p = ram.as_mut_ptr().cast();
        assert_eq!(
            snn_window_open(rule.as_mut_ptr(), oe, 10, p, 256),
            SnnStatus::SnnErrReadoutRule
        );
        assert_eq!(
            snn_threshold_open(rule.as_mut_ptr(), oe, 4, p, 256),
            SnnStatus::SnnErrReadoutRule
        );
    }
}
