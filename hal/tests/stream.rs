//! Streams through the protocol server (in memory): every step's output spikes equal the host
//! engine's, state persists across pushes and begins, an SHD-sized event stream (thousands of
//! events over 1,000 steps, ten times the model's `time_steps`) goes through, and wrong
//! requests (other protocol version, no stream, too many steps, malformed steps) are refused;
//! a readout model's streamed series leaves the host engine's readout values on the board.
use snn_hal::host::Client;
use snn_hal::protocol::{
    stream_steps, ErrorCode, Input, Reply, Request, StreamInput, StreamReply, PROTOCOL_VERSION,
    STEP_END,
};
use snn_hal::synthetic::{shd_events, shd_model};
use snn_hal::wire;
use snn_models::{crc::crc32, decode, Engine, EngineBuffers};

mod common;
use common::{call, code, upload, Srv, Store};

const BASIC_MOTIONS: &[u8] = include_bytes!("../../models/zoo/basic_motions.snn");
/// The zoo BasicMotions model with a non-spiking readout (format v3, `Output::MaxMembrane`).
const BASIC_MOTIONS_READOUT: &[u8] = include_bytes!("../../models/zoo/basic_motions_readout.snn");

/// Buffers for the stream models (up to 160 KiB, 1,024 neurons), with decision storage.
fn store() -> Store {
    Store::sized(160 * 1024, 1024, 2048, 1024)
}

/// Uploads `model` and requires it loaded.
fn load(s: &mut Srv<'_>, model: &[u8]) {
    assert!(matches!(upload(s, model, crc32(model)), Reply::Loaded(_)));
}

fn stream(r: Reply) -> StreamReply {
    match r {
        Reply::Stream(s) => s,
        other => panic!("expected a stream reply, got {other:?}"),
    }
}

fn begin(s: &mut Srv<'_>, reset: bool, exp: i8) -> Reply {
    call(
        s,
        &Request::StreamBegin {
            protocol: PROTOCOL_VERSION,
            reset,
            exp,
            window: 10,
            threshold: 5,
        },
    )
}

/// The host engine over a whole stream (no step limit): each step's output spikes, and the
/// final counts.
fn host_stream(
    model: &[u8],
    steps: usize,
    mut step: impl FnMut(&mut Engine<'_, '_>, usize),
) -> (Vec<Vec<u16>>, Vec<u16>) {
    let m = decode(model).unwrap();
    let mut state = EngineBuffers::for_model(&m);
    let mut e = state.engine(&m).unwrap();
    e.set_step_limit(false);
    let last = m.layers.len() - 1;
    let per_step = (0..steps)
        .map(|t| {
            step(&mut e, t);
            e.layer_spikes(last).to_vec()
        })
        .collect();
    (per_step, e.output_counts().to_vec())
}

/// The decisions after each step of `steps` by the host's rules (window 10, threshold 5):
/// `(window class + 1 or 0, final count, first to threshold)`.
type Decided = (u8, u16, Option<(u16, u32)>);

fn host_decisions(model: &[u8], steps: &[Vec<u16>]) -> Vec<Decided> {
    use snn_models::decision::{FinalCount, FirstToThreshold, Populations, Window};
    let m = decode(model).unwrap();
    let pops = Populations::of(&m).unwrap();
    let c = usize::from(pops.classes());
    let (mut fc, mut ring, mut sums, mut tc) =
        (vec![0; c], vec![0; 10 * c], vec![0; c], vec![0; c]);
    let mut f = FinalCount::new(pops, &mut fc).unwrap();
    let mut w = Window::new(pops, 10, &mut ring, &mut sums).unwrap();
    let mut t = FirstToThreshold::new(pops, 5, &mut tc).unwrap();
    steps
        .iter()
        .map(|s| {
            f.push(s).unwrap();
            let win = w.push(s).unwrap().map_or(0, |k| k as u8 + 1);
            let first = t.push(s).unwrap().map(|r| (r.class, r.step));
            (win, f.decision(), first)
        })
        .collect()
}

/// Checks one push's decisions against the host's after its steps `from..to`.
fn check_decisions(r: &StreamReply, host: &[Decided], from: usize) {
    let d = r
        .decisions
        .as_ref()
        .expect("decisions for a model of few classes");
    let to = r.steps as usize;
    let want: Vec<u8> = host[from..to].iter().map(|h| h.0).collect();
    assert_eq!(
        d.window.as_slice(),
        want.as_slice(),
        "window decisions of steps {from}..{to}"
    );
    assert_eq!(d.final_count, host[to - 1].1, "final count after step {to}");
    assert_eq!(
        d.first,
        host[to - 1].2,
        "first to threshold after step {to}"
    );
}

/// Seeded raw samples: `steps` frames of 6 channels, a slow wave plus noise in raw units.
fn raw_samples(steps: usize) -> Vec<i16> {
    raw_wave(steps, 0.21, 3000.0)
}

/// [`raw_samples`] with the wave's speed (radians per step) and amplitude (raw units).
fn raw_wave(steps: usize, speed: f32, amplitude: f32) -> Vec<i16> {
    let mut x = 0x1234_5678u32;
    (0..steps * 6)
        .map(|i| {
            x ^= x << 13;
            x ^= x >> 17;
            x ^= x << 5;
            let wave = ((i / 6) as f32 * speed + (i % 6) as f32).sin() * amplitude;
            (wave as i32 + (x >> 20) as i32 - 2048) as i16
        })
        .collect()
}

#[test]
fn raw_values_stream_matches_the_engine_at_every_step() {
    let mut store = store();
    let mut s = store.server_with_rules();
    load(&mut s, BASIC_MOTIONS);
    // 250 steps (the model declares 100): one stream in pushes, split over two begins that
    // keep the state, against one uninterrupted host run.
    let (exp, steps) = (-10i8, 250usize);
    let raw = raw_samples(steps);
    let (want, want_counts) = host_stream(BASIC_MOTIONS, steps, |e, t| {
        e.step_raw(&raw[6 * t..6 * t + 6], exp).unwrap()
    });
    let decided = host_decisions(BASIC_MOTIONS, &want);
    let r = stream(begin(&mut s, true, exp));
    assert_eq!((r.steps, r.counts.as_slice()), (0, &[0u16; 4][..]));
    let d = r.decisions.as_ref().unwrap();
    assert_eq!((d.final_count, d.window.len(), d.first), (0, 0, None));
    let per = stream_steps(4);
    let mut got: Vec<Vec<u16>> = Vec::new();
    let mut last = StreamReply::new();
    for (i, chunk) in raw.chunks(6 * per).enumerate() {
        if i == 2 {
            let r = stream(begin(&mut s, false, exp));
            assert_eq!(
                r.steps as usize,
                got.len(),
                "a kept stream goes on counting"
            );
            assert_eq!(r.counts, last.counts);
        }
        let bytes: Vec<u8> = chunk.iter().flat_map(|v| v.to_le_bytes()).collect();
        last = stream(call(
            &mut s,
            &Request::StreamPush {
                input: StreamInput::Values(&bytes),
            },
        ));
        check_decisions(&last, &decided, got.len());
        got.extend(last.steps_spikes().map(<[u16]>::to_vec));
        assert_eq!(last.steps as usize, got.len());
    }
    assert_eq!(got.len(), steps);
    for (t, (g, w)) in got.iter().zip(&want).enumerate() {
        assert_eq!(g, w, "output spikes differ at step {t}");
    }
    assert_eq!(last.counts.as_slice(), want_counts.as_slice());
    assert!(
        decided.iter().any(|d| d.2.is_some()) && decided.iter().any(|d| d.0 > 1),
        "the threshold is reached and the window decides for more than class 0"
    );
    assert!(
        want_counts.iter().map(|&c| u32::from(c)).sum::<u32>() > 20,
        "the outputs must spike for the comparison to mean anything: {want_counts:?}"
    );
    // A reset starts from rest: the first push equals the host's first steps again.
    let r = stream(begin(&mut s, true, exp));
    assert_eq!(r.steps, 0);
    let bytes: Vec<u8> = raw[..6 * per]
        .iter()
        .flat_map(|v| v.to_le_bytes())
        .collect();
    let r = stream(call(
        &mut s,
        &Request::StreamPush {
            input: StreamInput::Values(&bytes),
        },
    ));
    let again: Vec<Vec<u16>> = r.steps_spikes().map(<[u16]>::to_vec).collect();
    assert_eq!(again, want[..per]);
}

#[test]
fn a_readout_models_streamed_series_leaves_the_hosts_readout_values_on_the_board() {
    use snn_models::decision::readout_class;
    use snn_models::engine::readout_span;
    let m = decode(BASIC_MOTIONS_READOUT).unwrap();
    assert!(m.has_readout());
    let span = readout_span(&m);
    let exp = -10i8;
    let steps = usize::from(m.header.time_steps);
    let mut seen = Vec::new();
    // Two series (slow and fast motion), each a whole series of the model's 100 steps streamed
    // as raw i16 pushes, with a begin that keeps the state in the middle.
    for (speed, amplitude) in [(0.05f32, 9000.0f32), (0.9, 4000.0)] {
        let raw = raw_wave(steps, speed, amplitude);
        let mut state = EngineBuffers::for_model(&m);
        let mut e = state.engine(&m).unwrap();
        for frame in raw.chunks(6) {
            e.step_raw(frame, exp).unwrap();
            assert!(e.layer_spikes(1).is_empty(), "a readout never spikes");
        }
        let (want, class) = (e.readout().to_vec(), e.predicted_class());
        let mut store = store();
        {
            let mut s = store.server_with_rules();
            load(&mut s, BASIC_MOTIONS_READOUT);
            stream(begin(&mut s, true, exp));
            // No step since the reset: no readout values yet.
            let before = call(&mut s, &Request::Readout);
            assert_eq!(code(&before), ErrorCode::BadInput, "{before:?}");
            let mut done = 0;
            for (i, chunk) in raw.chunks(6 * stream_steps(4)).enumerate() {
                if i == 1 {
                    assert_eq!(stream(begin(&mut s, false, exp)).steps as usize, done);
                }
                let bytes: Vec<u8> = chunk.iter().flat_map(|v| v.to_le_bytes()).collect();
                let r = stream(call(
                    &mut s,
                    &Request::StreamPush {
                        input: StreamInput::Values(&bytes),
                    },
                ));
                done = r.steps as usize;
                assert!(r.steps_spikes().all(<[u16]>::is_empty));
                assert!(r.counts.iter().all(|&c| c == 0));
            }
            assert_eq!(done, steps);
            // `Readout` after the pushes answers with the stream's running maxima: the host's.
            match call(&mut s, &Request::Readout) {
                Reply::Readout(v) => {
                    assert_eq!(&v.values[..], &want[..], "speed {speed}");
                    assert_eq!(v.predicted, class);
                }
                other => panic!("Readout after a stream: {other:?}"),
            }
        }
        // The board's RAM after the stream (what a debugger reads): the readout's running
        // maxima sit where the engine keeps them, equal to the host's, and decide alike.
        let board = &store.membrane[span.clone()];
        assert_eq!(board, &want[..], "speed {speed}");
        assert_eq!(readout_class(board), class);
        seen.push(want);
    }
    assert_ne!(seen[0], seen[1], "the readout values depend on the series");
}

#[test]
fn an_shd_sized_event_stream_goes_through_with_no_limit_but_time() {
    let model = shd_model(3).unwrap();
    let mut store = store();
    let mut s = store.server_with_rules();
    load(&mut s, &model);
    let events = shd_events(7, 1000);
    let total: usize = events.iter().map(Vec::len).sum();
    assert!(total > 5000, "{total} events is not SHD-sized");
    let (want, want_counts) = host_stream(&model, events.len(), |e, t| e.step(&events[t]).unwrap());
    stream(begin(&mut s, true, 0));
    let per = stream_steps(20);
    let mut got: Vec<Vec<u16>> = Vec::new();
    let mut counts = Vec::new();
    let mut pushes = 0;
    let mut last = None;
    for chunk in events.chunks(per) {
        let mut bytes = Vec::new();
        for step in chunk {
            bytes.extend(step.iter().flat_map(|i| i.to_le_bytes()));
            bytes.extend(STEP_END.to_le_bytes());
        }
        // A push whose bytes would overflow a request is split further.
        for piece in split_steps(&bytes, 1000) {
            let r = stream(call(
                &mut s,
                &Request::StreamPush {
                    input: StreamInput::Events(&piece),
                },
            ));
            got.extend(r.steps_spikes().map(<[u16]>::to_vec));
            counts = r.counts.to_vec();
            pushes += 1;
            last = Some(r);
        }
    }
    assert_eq!(got.len(), 1000);
    assert!(pushes >= 1000 / per);
    for (t, (g, w)) in got.iter().zip(&want).enumerate() {
        assert_eq!(g, w, "output spikes differ at step {t}");
    }
    assert_eq!(counts, want_counts);
    let decided = host_decisions(&model, &want);
    assert_eq!(last.unwrap().decisions.unwrap().final_count, decided[999].1);
    assert!(
        got[900..].iter().any(|s| !s.is_empty()),
        "the outputs still spike after the model's 100 declared steps"
    );
}

/// Splits event words into pieces of whole steps of at most `max` bytes.
fn split_steps(bytes: &[u8], max: usize) -> Vec<Vec<u8>> {
    let mut pieces = vec![Vec::new()];
    let mut step = Vec::new();
    for w in bytes.chunks_exact(2) {
        step.extend_from_slice(w);
        if u16::from_le_bytes([w[0], w[1]]) == STEP_END {
            if pieces.last().unwrap().len() + step.len() > max {
                pieces.push(Vec::new());
            }
            pieces.last_mut().unwrap().append(&mut step);
        }
    }
    pieces
}

#[test]
fn wrong_stream_requests_are_refused_and_nothing_runs() {
    let mut store = store();
    let mut s = store.server_with_rules();
    let push = |s: &mut Srv<'_>, bytes: &[u8]| {
        call(
            s,
            &Request::StreamPush {
                input: StreamInput::Values(bytes),
            },
        )
    };
    // No model, then no stream.
    assert_eq!(code(&begin(&mut s, true, 0)), ErrorCode::NoModel);
    load(&mut s, BASIC_MOTIONS);
    assert_eq!(code(&push(&mut s, &[0; 12])), ErrorCode::NoStream);
    assert_eq!(code(&begin(&mut s, false, 0)), ErrorCode::NoStream);
    // Another protocol version: refused, naming both.
    let r = call(
        &mut s,
        &Request::StreamBegin {
            protocol: 2,
            reset: true,
            exp: 0,
            window: 0,
            threshold: 0,
        },
    );
    assert_eq!(code(&r), ErrorCode::Version);
    let Reply::Error(e) = r else { unreachable!() };
    assert!(
        e.reason.contains("protocol 2") && e.reason.contains(&PROTOCOL_VERSION.to_string()),
        "{}",
        e.reason
    );
    assert_eq!(code(&begin(&mut s, true, 61)), ErrorCode::BadInput);
    // A window longer than the device's ring (512 slots / 4 classes = 128 steps).
    let long = Request::StreamBegin {
        protocol: PROTOCOL_VERSION,
        reset: true,
        exp: 0,
        window: 129,
        threshold: 0,
    };
    assert_eq!(code(&call(&mut s, &long)), ErrorCode::BadInput);
    stream(begin(&mut s, true, 0));
    // Not whole steps, too many steps, events for a values model: refused before any step.
    assert_eq!(code(&push(&mut s, &[0; 13])), ErrorCode::BadInput);
    let too_many = vec![0u8; 12 * (stream_steps(4) + 1)];
    assert_eq!(code(&push(&mut s, &too_many)), ErrorCode::BadInput);
    let ev = StreamInput::Events(&[0xFF, 0xFF]);
    assert_eq!(
        code(&call(&mut s, &Request::StreamPush { input: ev })),
        ErrorCode::BadInput
    );
    let r = stream(push(&mut s, &[0; 12]));
    assert_eq!(r.steps, 1, "only the good push ran");
    // An inference ends the stream (it overwrites the state).
    let r = call(
        &mut s,
        &Request::Infer {
            sample_seed: 0,
            input: Input::Features(&[0; 6]),
        },
    );
    assert!(
        matches!(r, Reply::Error(_)),
        "a direct model takes no features"
    );
    assert_eq!(code(&push(&mut s, &[0; 12])), ErrorCode::NoStream);
    // Events: trailing words without a step end, odd bytes, an index past the inputs.
    load(&mut s, &shd_model(1).unwrap());
    stream(begin(&mut s, true, 0));
    let ev = |s: &mut Srv<'_>, b: &[u8]| {
        call(
            s,
            &Request::StreamPush {
                input: StreamInput::Events(b),
            },
        )
    };
    assert_eq!(code(&ev(&mut s, &[1, 0])), ErrorCode::BadInput);
    assert_eq!(code(&ev(&mut s, &[1, 0, 0xFF])), ErrorCode::BadInput);
    assert_eq!(
        code(&ev(&mut s, &[0xBC, 0x02, 0xFF, 0xFF])),
        ErrorCode::BadInput
    );
    assert_eq!(code(&push(&mut s, &[0; 12])), ErrorCode::BadInput);
    let r = stream(ev(&mut s, &[1, 0, 2, 0, 0xFF, 0xFF, 0xFF, 0xFF]));
    assert_eq!((r.steps, r.steps_spikes().count()), (2, 2));
}

/// A device of protocol 2 (before streams) answers `Info` with its version: the host refuses
/// to stream with an error naming both versions, before sending any stream request.
#[test]
fn a_device_of_another_protocol_version_is_refused_by_the_host() {
    use snn_hal::host::ClientError;
    use snn_hal::protocol::{CostUnit, Info};
    use std::io::{Read, Write};
    use std::os::unix::net::UnixStream;
    let (host, mut device) = UnixStream::pair().unwrap();
    let old = std::thread::spawn(move || {
        // Reads one request frame, answers it as a protocol-2 device would answer `Info`, and
        // returns the request.
        let mut frame = Vec::new();
        let mut b = [0u8; 1];
        while device.read(&mut b).unwrap() == 1 && b[0] != 0 {
            frame.push(b[0]);
        }
        let c = wire::decode(&mut frame).unwrap();
        let req: Request<'_> = postcard::from_bytes(c.msg).unwrap();
        let info = Info {
            firmware: "0.1.0".try_into().unwrap(),
            board: "old".try_into().unwrap(),
            protocol: 2,
            format_version: 2,
            model: None,
            free_ram: 0,
            max_model_bytes: 0,
            max_neurons: 0,
            max_inputs: 0,
            cost_unit: CostUnit::None,
            signatures_required: false,
            stack_peak: 0,
            stack_size: 0,
        };
        let (mut raw, mut out) = (vec![0u8; 2048], vec![0u8; 2048]);
        let reply: Reply = Reply::Info(info);
        let n = wire::encode(c.seq, &reply, &mut raw, &mut out).unwrap();
        device.write_all(&out[..n]).unwrap();
        format!("{req:?}")
    });
    let mut client = Client::new(host.try_clone().unwrap(), host);
    let e = client.stream_begin(true, 0, (0, 0)).unwrap_err();
    assert!(
        matches!(
            e,
            ClientError::Version {
                host: PROTOCOL_VERSION,
                device: 2
            }
        ),
        "{e}"
    );
    let text = e.to_string();
    assert!(
        text.contains("protocol 2") && text.contains(&format!("speaks {PROTOCOL_VERSION}")),
        "{text}"
    );
    // A readout needs protocol 4: the same old device is refused without a request.
    let e = client.readout().unwrap_err();
    assert!(matches!(e, ClientError::Version { device: 2, .. }), "{e}");
    assert_eq!(old.join().unwrap(), "Info", "only Info was asked");
}

/// A backend given no decision storage streams without decisions, and refuses a stream that
/// asks for a window or a threshold, saying why.
#[test]
fn without_rule_storage_a_stream_has_no_decisions() {
    let mut st = store();
    let mut s = st.server();
    load(&mut s, BASIC_MOTIONS);
    let r = begin(&mut s, true, 0);
    assert_eq!(code(&r), ErrorCode::BadInput);
    let Reply::Error(e) = r else { unreachable!() };
    assert!(e.reason.contains("at most 0 classes"), "{}", e.reason);
    let plain = Request::StreamBegin {
        protocol: PROTOCOL_VERSION,
        reset: true,
        exp: 0,
        window: 0,
        threshold: 0,
    };
    assert_eq!(stream(call(&mut s, &plain)).decisions, None);
    let r = stream(call(
        &mut s,
        &Request::StreamPush {
            input: StreamInput::Values(&[0; 12]),
        },
    ));
    assert_eq!((r.steps, r.decisions), (1, None));
}

/// The worst-case reply of `stream_steps(outputs)` steps (every output spiking every step,
/// counts at 65,535, every decision present) fits `MAX_REPLY` for every output count that
/// streams, and a model with more outputs does not stream.
#[test]
fn the_largest_stream_reply_fits_a_frame() {
    use snn_hal::protocol::{StreamDecisions, MAX_REPLY, MAX_STREAM_OUTPUTS};
    for outputs in 1..=MAX_STREAM_OUTPUTS {
        let steps = stream_steps(outputs);
        assert!(steps >= 1, "{outputs} outputs");
        let mut r = StreamReply::new();
        r.steps = u32::MAX;
        r.cost = u64::MAX;
        r.step_cost_max = u64::MAX;
        for _ in 0..steps {
            r.spikes.push(outputs as u16).unwrap();
            for i in 0..outputs {
                r.spikes.push(i as u16).unwrap();
            }
        }
        for _ in 0..outputs {
            r.counts.push(u16::MAX).unwrap();
        }
        let mut d = StreamDecisions {
            final_count: u16::MAX,
            window: Default::default(),
            first: Some((u16::MAX, u32::MAX)),
        };
        for _ in 0..steps {
            d.window.push(255).unwrap();
        }
        r.decisions = Some(d);
        let reply: Reply = Reply::Stream(r);
        let bytes = postcard::to_allocvec(&reply).unwrap();
        assert!(
            bytes.len() <= MAX_REPLY,
            "{outputs} outputs, {steps} steps: {} bytes",
            bytes.len()
        );
    }
    assert_eq!(stream_steps(MAX_STREAM_OUTPUTS + 1), 0);
}

/// Inferences and streams alternate on one server (whose result and stream reply share one
/// storage): each reply is the engine's, whatever the request before it was.
#[test]
fn inferences_and_streams_alternate_with_the_right_replies() {
    let model = shd_model(5).unwrap();
    let m = decode(&model).unwrap();
    let mut store = store();
    let mut s = store.server_with_rules();
    load(&mut s, &model);
    // One sample of events (t, index) in its first three steps (a request holds at most 1 kB),
    // silent after them; the same three steps as a stream.
    let mut steps = shd_events(11, 3);
    steps.resize(usize::from(m.header.time_steps), Vec::new());
    let mut sample = Vec::new();
    for (t, step) in steps.iter().enumerate() {
        for &i in step {
            sample.extend((t as u16).to_le_bytes());
            sample.extend(i.to_le_bytes());
        }
    }
    let mut state = EngineBuffers::for_model(&m);
    let mut e = state.engine(&m).unwrap();
    e.run_spike_steps(steps.iter().map(Vec::as_slice)).unwrap();
    let want = e.output_counts().to_vec();
    let want_events = e.stats().synaptic_events;
    assert!(want_events > 0, "the sample drives the network");
    let infer = |s: &mut Srv<'_>| match call(
        s,
        &Request::Infer {
            sample_seed: 0,
            input: Input::Events(&sample),
        },
    ) {
        Reply::Result(r) => r,
        other => panic!("expected a result, got {other:?}"),
    };
    let (host, host_counts) = host_stream(&model, 3, |e, t| e.step(&steps[t]).unwrap());
    let mut three = Vec::new();
    for step in &steps[..3] {
        three.extend(step.iter().flat_map(|i| i.to_le_bytes()));
        three.extend(STEP_END.to_le_bytes());
    }
    for round in 0..2 {
        let r = infer(&mut s);
        assert_eq!(r.counts.as_slice(), want.as_slice(), "round {round}");
        assert_eq!(r.synaptic_events, want_events, "round {round}");
        stream(begin(&mut s, true, 0));
        let got = stream(call(
            &mut s,
            &Request::StreamPush {
                input: StreamInput::Events(&three),
            },
        ));
        let spikes: Vec<Vec<u16>> = got.steps_spikes().map(<[u16]>::to_vec).collect();
        assert_eq!(spikes, host, "round {round}");
        assert_eq!(
            got.counts.as_slice(),
            host_counts.as_slice(),
            "round {round}"
        );
    }
}
