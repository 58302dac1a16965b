//! The protocol server on the host with an in-memory link: every malformed or out-of-order
//! request gets an `Error` reply, the server keeps serving, and results equal the engine's.
use snn_hal::host::Client;
use snn_hal::protocol::{ErrorCode, Input, Reply, Request, CHUNK, MAX_FRAME};
use snn_hal::synthetic::digits_model;
use snn_hal::{Device, IoLink, NoCounter, NoSpikeOutput, Server};
use snn_models::{crc::crc32, decode, EngineBuffers};

mod common;
use common::{call, code, feed, frame, host_run, reply_of, upload, Srv, Store};

/// Buffers for a model of up to `model_bytes` and `neurons` neurons.
fn store(model_bytes: usize, neurons: usize) -> Store {
    Store::sized(model_bytes, neurons, neurons + 256, 256)
}

fn features(i: u32) -> Vec<u8> {
    (0..64).map(|k| ((k * 37 + i * 11) % 256) as u8).collect()
}

/// An empty result for a backend's `infer` to fill.
fn no_result() -> snn_hal::protocol::InferResult {
    snn_hal::protocol::InferResult {
        counts: heapless::Vec::new(),
        predicted: 0,
        layers: heapless::Vec::new(),
        steps: 0,
        input_spikes: 0,
        synaptic_events: 0,
        cost: 0,
    }
}

fn infer_ok(s: &mut Srv<'_>, model: &[u8], seed: u32) {
    let f = features(seed);
    let r = call(
        s,
        &Request::Infer {
            sample_seed: seed,
            input: Input::Features(&f),
        },
    );
    let Reply::Result(r) = r else {
        panic!("expected a result, got {r:?}")
    };
    let (counts, layers) = host_run(model, &f, seed);
    assert_eq!(r.counts.as_slice(), counts.as_slice());
    let got: Vec<u32> = r.layers.iter().map(|l| l.spikes).collect();
    assert_eq!(got, layers);
    assert!(
        layers.iter().all(|&n| n > 0),
        "spikes reach every layer: {layers:?}"
    );
}

#[test]
fn info_upload_and_infer_match_the_engine() {
    let model = digits_model(128, 7).unwrap();
    let mut st = store(64 * 1024, 1024);
    let mut s = st.server();
    let Reply::Info(info) = call(&mut s, &Request::Info) else {
        panic!()
    };
    assert_eq!(info.model, None);
    assert_eq!(info.max_model_bytes, 64 * 1024);
    let Reply::Loaded(m) = upload(&mut s, &model, crc32(&model)) else {
        panic!()
    };
    assert_eq!((m.input_size, m.outputs, m.neurons), (64, 10, 138));
    let Reply::Info(info) = call(&mut s, &Request::Info) else {
        panic!()
    };
    assert_eq!(info.model, Some(m));
    for seed in 0..5 {
        infer_ok(&mut s, &model, seed);
    }
}

#[test]
fn every_bad_request_gets_an_error_and_serving_goes_on() {
    let model = digits_model(128, 7).unwrap();
    let mut st = store(16 * 1024, 1024);
    let mut s = st.server();
    let f = features(1);
    let infer = Request::Infer {
        sample_seed: 1,
        input: Input::Features(&f),
    };
    // Before any model.
    assert_eq!(code(&call(&mut s, &infer)), ErrorCode::NoModel);
    // Out of order upload steps.
    let chunk = Request::LoadChunk {
        offset: 0,
        bytes: &model[..10],
    };
    assert_eq!(code(&call(&mut s, &chunk)), ErrorCode::NoUpload);
    assert_eq!(code(&call(&mut s, &Request::LoadEnd)), ErrorCode::NoUpload);
    // Garbage: not COBS / not postcard.
    let r = feed(&mut s, &[0xFF, 0x13, 0x37, 0x42, 0x99, 0x00]);
    assert_eq!(r.len(), 1);
    assert_eq!(code(&r[0]), ErrorCode::BadFrame);
    // Truncated frame: the first half of a valid chunk frame, then a terminator.
    let full = frame(&Request::LoadChunk {
        offset: 0,
        bytes: &model[..200],
    });
    let mut cut = full[..full.len() / 2].to_vec();
    cut.push(0);
    let r = feed(&mut s, &cut);
    assert!(code(&r[0]).is_link(), "{r:?}");
    // Oversized frame: one error, then the next frame is served.
    let mut big = vec![0x55u8; 3 * MAX_FRAME];
    big.push(0);
    let r = feed(&mut s, &big);
    assert_eq!(r.len(), 1);
    assert_eq!(code(&r[0]), ErrorCode::FrameTooLong);
    // Wrong CRC announced.
    assert_eq!(
        code(&upload(&mut s, &model, crc32(&model) ^ 1)),
        ErrorCode::CrcMismatch
    );
    // Corrupt model with a matching upload CRC: refused by the model decoder.
    let mut bad = model.clone();
    bad[20] ^= 0x40;
    assert_eq!(
        code(&upload(&mut s, &bad, crc32(&bad))),
        ErrorCode::BadModel
    );
    // Oversized model.
    let huge = Request::LoadBegin {
        len: 1 << 20,
        crc: 0,
    };
    assert_eq!(code(&call(&mut s, &huge)), ErrorCode::TooLarge);
    // A chunk at the wrong offset, and an upload ended early.
    let begin = Request::LoadBegin {
        len: model.len() as u32,
        crc: crc32(&model),
    };
    assert!(matches!(call(&mut s, &begin), Reply::Ack { .. }));
    let skip = Request::LoadChunk {
        offset: 4,
        bytes: &model[4..20],
    };
    assert_eq!(code(&call(&mut s, &skip)), ErrorCode::BadOffset);
    assert_eq!(
        code(&call(&mut s, &Request::LoadEnd)),
        ErrorCode::CrcMismatch
    );
    assert_eq!(code(&call(&mut s, &infer)), ErrorCode::NoModel);
    // Now a valid upload; then wrong inputs, then valid inference.
    assert!(matches!(
        upload(&mut s, &model, crc32(&model)),
        Reply::Loaded(_)
    ));
    let short = Request::Infer {
        sample_seed: 0,
        input: Input::Features(&f[..10]),
    };
    assert_eq!(code(&call(&mut s, &short)), ErrorCode::BadInput);
    let events = [0u8, 0, 200, 0]; // index 200 >= 64
    let bad_ev = Request::Infer {
        sample_seed: 0,
        input: Input::Events(&events),
    };
    assert_eq!(code(&call(&mut s, &bad_ev)), ErrorCode::BadInput);
    let late = [30u8, 0, 1, 0]; // t = 30 >= 25 steps
    let late_ev = Request::Infer {
        sample_seed: 0,
        input: Input::Events(&late),
    };
    assert_eq!(code(&call(&mut s, &late_ev)), ErrorCode::BadInput);
    infer_ok(&mut s, &model, 3);
}

#[test]
fn the_rich_model_runs_every_engine_path_and_matches() {
    let model = snn_hal::synthetic::digits_model_rich(5).unwrap();
    let mut st = store(64 * 1024, 1024);
    let mut s = st.server();
    let Reply::Loaded(m) = upload(&mut s, &model, crc32(&model)) else {
        panic!()
    };
    assert_eq!((m.outputs, m.neurons), (10, 106));
    for seed in 0..5 {
        infer_ok(&mut s, &model, seed);
    }
}

#[test]
fn a_version_3_model_with_synaptic_currents_matches_the_engine() {
    use snn_models::owned::{OwnedLeak, OwnedModel, OwnedSynapse, OwnedSynapses};
    // The rich model with a current-based synapse on every layer but one (format version 3):
    // the server's per-request parse of the stored file must read the synapse section.
    let rich = snn_hal::synthetic::digits_model_rich(5).unwrap();
    let mut owned = OwnedModel::from_bytes(&rich).unwrap();
    let n = owned.layers.len();
    let synapses: Vec<OwnedSynapse> = (0..n)
        .map(|l| match l {
            0 => OwnedSynapse::Current(OwnedLeak::Shared(45000)),
            l if l + 1 == n => OwnedSynapse::Instant,
            l => OwnedSynapse::Current(OwnedLeak::PerNeuron(
                (0..owned.layers[l].neurons)
                    .map(|i| 30000 + 300 * i)
                    .collect::<Vec<u16>>()
                    .into(),
            )),
        })
        .collect();
    owned.synapses = OwnedSynapses::new(&synapses);
    let model = owned.to_bytes().unwrap();
    assert_eq!(&model[4..6], &3u16.to_le_bytes());
    let mut st = store(64 * 1024, 1024);
    let mut s = st.server();
    assert!(matches!(
        upload(&mut s, &model, crc32(&model)),
        Reply::Loaded(_)
    ));
    for seed in 0..5 {
        infer_ok(&mut s, &model, seed);
    }
    // The same weights without the section give other spikes: the section is really applied.
    let (with, _) = host_run(&model, &features(1), 1);
    let (without, _) = host_run(&rich, &features(1), 1);
    assert_ne!(with, without);
}

#[test]
fn a_readout_models_values_come_back_over_the_link_equal_to_the_engine() {
    use snn_models::owned::{OwnedModel, OwnedSynapse, OwnedSynapses};
    use snn_models::{Output, Reset};
    // The rich model (recurrent and sparse layers) with a current-based hidden layer and its
    // last layer a non-spiking readout: the server's per-request parse reads both sections.
    let rich = snn_hal::synthetic::digits_model_rich(5).unwrap();
    let mut owned = OwnedModel::from_bytes(&rich).unwrap();
    let n = owned.layers.len();
    owned.layers[n - 1].reset = Reset::None;
    owned.layers[n - 1].recurrent = None;
    owned.output = Output::MaxMembrane;
    owned.header.num_classes = owned.layers[n - 1].neurons;
    owned.header.neurons_per_class = 1;
    let synapses: Vec<OwnedSynapse> = (0..n)
        .map(|l| match l {
            0 => OwnedSynapse::Current(snn_models::owned::OwnedLeak::Shared(45000)),
            _ => OwnedSynapse::Instant,
        })
        .collect();
    owned.synapses = OwnedSynapses::new(&synapses);
    let model = owned.to_bytes().unwrap();
    let mut st = store(64 * 1024, 1024);
    let mut s = st.server();
    assert!(matches!(
        upload(&mut s, &model, crc32(&model)),
        Reply::Loaded(_)
    ));
    // Nothing to report before an inference.
    assert_eq!(code(&call(&mut s, &Request::Readout)), ErrorCode::BadInput);
    let m = decode(&model).unwrap();
    let mut classes = std::collections::BTreeSet::new();
    for seed in 0..6 {
        let f = features(seed);
        let r = call(
            &mut s,
            &Request::Infer {
                sample_seed: seed,
                input: Input::Features(&f),
            },
        );
        let Reply::Result(r) = r else { panic!("{r:?}") };
        let Reply::Readout(v) = call(&mut s, &Request::Readout) else {
            panic!("no readout")
        };
        let mut state = EngineBuffers::for_model(&m);
        let mut e = state.engine(&m).unwrap();
        e.run_features(&f, seed).unwrap();
        assert_eq!(&v.values[..], e.readout(), "seed {seed}");
        assert_eq!(v.predicted, e.predicted_class());
        assert_eq!(r.predicted, v.predicted);
        assert!(r.counts.iter().all(|&c| c == 0), "a readout never spikes");
        classes.insert(v.values.clone());
    }
    assert!(
        classes.len() > 1 && classes.iter().flatten().any(|&x| x != 0),
        "the readout values change with the input"
    );
    // A spiking model has no readout values.
    let plain = digits_model(64, 1).unwrap();
    assert!(matches!(
        upload(&mut s, &plain, crc32(&plain)),
        Reply::Loaded(_)
    ));
    infer_ok(&mut s, &plain, 1);
    let r = call(&mut s, &Request::Readout);
    assert_eq!(code(&r), ErrorCode::BadInput);
    let Reply::Error(e) = r else { panic!() };
    assert!(e.reason.contains("no readout"), "{}", e.reason);
}

#[test]
fn a_model_needing_more_state_than_the_device_has_is_refused() {
    let model = digits_model(512, 1).unwrap();
    let mut st = store(64 * 1024, 256);
    let mut s = st.server();
    assert_eq!(
        code(&upload(&mut s, &model, crc32(&model))),
        ErrorCode::ModelTooBig
    );
}

#[test]
fn event_input_equals_stepping_the_engine() {
    let model = digits_model(64, 3).unwrap();
    let mut st = store(64 * 1024, 1024);
    let mut s = st.server();
    assert!(matches!(
        upload(&mut s, &model, crc32(&model)),
        Reply::Loaded(_)
    ));
    // Input k spikes at every step t with (t + k) % 3 == 0.
    let mut ev = Vec::new();
    let mut per_step = vec![Vec::new(); 25];
    for (t, step) in per_step.iter_mut().enumerate() {
        for k in 0..32u16 {
            if (t as u16 + k) & 3 == 0 {
                ev.extend_from_slice(&(t as u16).to_le_bytes());
                ev.extend_from_slice(&k.to_le_bytes());
                step.push(k);
            }
        }
    }
    let r = call(
        &mut s,
        &Request::Infer {
            sample_seed: 0,
            input: Input::Events(&ev),
        },
    );
    let Reply::Result(r) = r else { panic!("{r:?}") };
    let m = decode(&model).unwrap();
    let mut state = EngineBuffers::for_model(&m);
    let mut e = state.engine(&m).unwrap();
    for step in &per_step {
        e.step(step).unwrap();
    }
    assert_eq!(r.counts.as_slice(), e.output_counts());
    assert_eq!(r.synaptic_events, e.stats().synaptic_events);
}

/// An in-memory byte pipe implementing `embedded-io`, to drive `Server::serve` through `IoLink`.
struct Pipe {
    input: Vec<u8>,
    pos: usize,
    output: Vec<u8>,
}

impl embedded_io::ErrorType for Pipe {
    type Error = core::convert::Infallible;
}
impl embedded_io::Read for Pipe {
    fn read(&mut self, buf: &mut [u8]) -> Result<usize, Self::Error> {
        let n = buf.len().min(self.input.len() - self.pos).min(7);
        buf[..n].copy_from_slice(&self.input[self.pos..self.pos + n]);
        self.pos += n;
        Ok(n)
    }
}
impl embedded_io::Write for Pipe {
    fn write(&mut self, buf: &[u8]) -> Result<usize, Self::Error> {
        self.output.extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> Result<(), Self::Error> {
        Ok(())
    }
}

#[test]
fn serves_a_byte_stream_through_an_embedded_io_link() {
    let mut st = store(1024, 64);
    let mut s = st.server();
    let mut input = vec![0xFF, 2, 3, 0];
    input.extend(frame(&Request::Info));
    input.extend(frame(&Request::LoadEnd));
    let mut link = IoLink(Pipe {
        input,
        pos: 0,
        output: Vec::new(),
    });
    s.serve(&mut link).unwrap();
    let mut out = link.0.output;
    let replies: Vec<Reply> = out
        .split_mut(|&b| b == 0)
        .filter(|f| !f.is_empty())
        .map(|f| {
            let mut v = f.to_vec();
            v.push(0);
            reply_of(&v).1
        })
        .collect();
    assert_eq!(replies.len(), 3);
    assert_eq!(code(&replies[0]), ErrorCode::BadFrame);
    assert!(matches!(replies[1], Reply::Info(_)));
    assert_eq!(code(&replies[2]), ErrorCode::NoUpload);
}

/// Records output spikes as they are signalled.
#[derive(Default)]
struct Recorder(Vec<u16>);

impl snn_hal::SpikeOutput for Recorder {
    fn spike(&mut self, neuron: u16) {
        self.0.push(neuron);
    }
}

#[test]
fn the_spike_output_sees_every_output_spike() {
    use snn_hal::Backend;
    let model = digits_model(128, 7).unwrap();
    let mut st = store(64 * 1024, 1024);
    let mut backend = st.backend();
    backend.load(&model).unwrap();
    let mut out = no_result();
    let mut rec = Recorder::default();
    let f = features(2);
    backend
        .infer(Input::Features(&f), 2, &mut out, &mut rec)
        .unwrap();
    let mut per_neuron = vec![0u16; out.counts.len()];
    for &i in &rec.0 {
        per_neuron[usize::from(i)] += 1;
    }
    assert!(!rec.0.is_empty());
    assert_eq!(per_neuron.as_slice(), out.counts.as_slice());
    // Stepping with a spike output gives exactly what `Engine::run_features` gives.
    let (counts, layers) = host_run(&model, &f, 2);
    assert_eq!(out.counts.as_slice(), counts.as_slice());
    let got: Vec<u32> = out.layers.iter().map(|l| l.spikes).collect();
    assert_eq!(got, layers);
}

#[test]
fn replies_echo_the_sequence_number_and_a_repeat_is_not_run_twice() {
    let model = digits_model(128, 7).unwrap();
    let mut st = store(64 * 1024, 1024);
    let mut s = st.server();
    let begin = Request::LoadBegin {
        len: model.len() as u32,
        crc: crc32(&model),
    };
    let f = Client::frame(700, &begin).unwrap();
    let mut replies = Vec::new();
    for &b in &f {
        if let Some(r) = s.push(b) {
            replies.push(reply_of(r));
        }
    }
    assert_eq!(replies, vec![(700, Reply::Ack { received: 0 })]);
    // A chunk, then the same frame again (a host retry after a lost reply): the same Ack, and
    // the chunk is not applied twice (a second application would be a BadOffset).
    let chunk = Client::frame(
        701,
        &Request::LoadChunk {
            offset: 0,
            bytes: &model[..CHUNK],
        },
    )
    .unwrap();
    let mut first = None;
    for _ in 0..3 {
        let mut got = None;
        for &b in &chunk {
            if let Some(r) = s.push(b) {
                got = Some(reply_of(r));
            }
        }
        let got = got.expect("one reply per frame");
        assert_eq!(got.0, 701);
        assert!(matches!(got.1, Reply::Ack { received } if received as usize == CHUNK));
        first.get_or_insert(got.clone());
        assert_eq!(Some(got), first);
        // A damaged frame in between (one flipped bit) gets BadCrc with its sequence number
        // and leaves the cached reply alone.
        let mut bad = chunk.clone();
        bad[40] ^= 0x10;
        let r: Vec<_> = bad
            .iter()
            .filter_map(|&b| s.push(b).map(reply_of))
            .collect();
        assert_eq!(
            bad.iter().filter(|&&b| b == 0).count(),
            1,
            "the flip made no terminator"
        );
        let (seq, r) = r.into_iter().next().expect("a reply to the damaged frame");
        assert!(code(&r).is_link());
        if code(&r) == ErrorCode::BadCrc {
            assert_eq!(seq, 701);
        }
    }
    // The rest of the upload goes on from where the one applied chunk left it.
    for (i, bytes) in model.chunks(CHUNK).enumerate().skip(1) {
        let offset = (i * CHUNK) as u32;
        let r = call(&mut s, &Request::LoadChunk { offset, bytes });
        assert!(matches!(r, Reply::Ack { .. }), "{r:?}");
    }
    assert!(matches!(call(&mut s, &Request::LoadEnd), Reply::Loaded(_)));
    infer_ok(&mut s, &model, 4);
    // Reset is answered first; the board learns of it once.
    assert!(!s.take_reset());
    assert!(matches!(call(&mut s, &Request::Reset), Reply::Ack { .. }));
    assert!(s.take_reset());
    assert!(!s.take_reset());
}

#[test]
fn a_device_with_a_public_key_refuses_unsigned_and_wrongly_signed_models() {
    use snn_models::signed::{public_key, sign};
    let model = digits_model(128, 7).unwrap();
    let seed = [42u8; 32];
    let signed = sign(&model, &seed);
    let mut st = store(64 * 1024, 1024);
    // Without a key: signatures are not required, and a signed model loads like a plain one.
    {
        let mut s = st.server();
        let Reply::Info(info) = call(&mut s, &Request::Info) else {
            panic!()
        };
        assert!(!info.signatures_required);
        assert!(matches!(
            upload(&mut s, &signed, crc32(&signed)),
            Reply::Loaded(_)
        ));
        infer_ok(&mut s, &model, 1);
    }
    let mut backend = st.backend();
    backend.require_signatures(public_key(&seed));
    let device = Device {
        stack: Some(|| (100, 2000)),
        ..common::device()
    };
    let mut s = Server::new(backend, NoCounter, NoSpikeOutput, device);
    let Reply::Info(info) = call(&mut s, &Request::Info) else {
        panic!()
    };
    assert!(info.signatures_required);
    assert_eq!((info.stack_peak, info.stack_size), (100, 2000));
    let refused = |s: &mut Srv<'_>, file: &[u8]| {
        let r = upload(s, file, crc32(file));
        let Reply::Error(e) = r else {
            panic!("expected a refusal, got {r:?}")
        };
        let Reply::Info(info) = call(s, &Request::Info) else {
            panic!()
        };
        assert_eq!(info.model, None, "a refused model is not loaded");
        e
    };
    let e = refused(&mut s, &model);
    assert_eq!(e.code, ErrorCode::Unsigned);
    assert!(e.reason.contains("not signed"), "{}", e.reason);
    let other = sign(&model, &[43u8; 32]);
    let e = refused(&mut s, &other);
    assert_eq!(e.code, ErrorCode::BadSignature);
    assert!(e.reason.contains("does not verify"), "{}", e.reason);
    // One changed byte of the model, of the CRC, or of the signature: refused.
    for i in [10, model.len() - 1, model.len() + 3] {
        let mut bad = signed.clone();
        bad[i] ^= 0x20;
        assert_eq!(
            refused(&mut s, &bad).code,
            ErrorCode::BadSignature,
            "byte {i}"
        );
    }
    // Signed with the device's key: loaded and run.
    let Reply::Loaded(m) = upload(&mut s, &signed, crc32(&signed)) else {
        panic!()
    };
    assert_eq!(m.bytes as usize, signed.len());
    infer_ok(&mut s, &model, 2);
}

/// The backend keeps where the loaded model's parts lie in its buffer: a write into the buffer
/// unloads the model until a load validates the bytes again, and each load (of another model
/// of another size and layout) gives the host's results.
#[test]
fn a_write_into_the_stored_model_unloads_it_until_the_next_load() {
    use snn_hal::protocol::InferResult;
    use snn_hal::Backend;
    let mut st = store(16 * 1024, 1024);
    let mut b = st.backend();
    let f = features(3);
    let mut out = no_result();
    let infer = |b: &mut snn_hal::CpuBackend<'_>, out: &mut InferResult| {
        b.infer(Input::Features(&f), 3, out, &mut NoSpikeOutput)
    };
    for (hidden, seed) in [(128, 7), (64, 9), (128, 7)] {
        let model = digits_model(hidden, seed).unwrap();
        b.load(&model).unwrap();
        infer(&mut b, &mut out).unwrap();
        let (counts, layers) = host_run(&model, &f, 3);
        assert_eq!(out.counts.as_slice(), counts.as_slice(), "H = {hidden}");
        let got: Vec<u32> = out.layers.iter().map(|l| l.spikes).collect();
        assert_eq!(got, layers, "H = {hidden}");
        // One byte rewritten in place (the same byte): no model until the next load.
        b.write_chunk(20, &model[20..21]).unwrap();
        let e = infer(&mut b, &mut out).unwrap_err();
        assert_eq!(e.code, ErrorCode::NoModel, "H = {hidden}");
    }
}

/// The largest dense weight array of a model file's bytes, as a slice of them.
fn largest_dense(bytes: &[u8]) -> &[u8] {
    let m = decode(bytes).unwrap();
    m.layers
        .iter()
        .filter_map(|l| match &l.feedforward {
            snn_models::Weights::Dense { values } => Some(values.0),
            _ => None,
        })
        .max_by_key(|v| v.len())
        .unwrap()
}

#[test]
fn an_upload_is_moved_so_its_largest_weights_are_word_aligned_with_the_same_results() {
    let base = digits_model(64, 3).unwrap();
    let mut offsets = Vec::new();
    // Names of 1 to 4 bytes put the weights at every alignment within the file.
    for k in 1..=4 {
        let name = "n".repeat(k);
        let mut m = decode(&base).unwrap();
        m.header.name = &name;
        let model = snn_models::encode_to_vec(&m).unwrap();
        let at = largest_dense(&model).as_ptr() as usize - model.as_ptr() as usize;
        offsets.push(at % 4);
        // With room to move, the loaded bytes' largest array starts on a word; without (a
        // buffer of exactly the file), it stays where the upload put it. Same results both ways.
        for room in [3, 0] {
            let mut st = Store::sized(model.len() + room, 1024, 1024 + 256, 256);
            let mut b = st.backend();
            b.load(&model).unwrap();
            let loaded = b.loaded_model().unwrap();
            assert_eq!(loaded, model.as_slice(), "name {k}, room {room}");
            let aligned = (largest_dense(loaded).as_ptr() as usize).is_multiple_of(4);
            let start = loaded.as_ptr() as usize - st.model.as_ptr() as usize;
            if room == 0 {
                assert_eq!(start, 0, "name {k}: no room, not moved");
            } else {
                assert!(aligned, "name {k}: moved by {start}, still not aligned");
            }
            let mut s = Server::new(st.backend(), NoCounter, NoSpikeOutput, common::device());
            assert!(matches!(
                upload(&mut s, &model, crc32(&model)),
                Reply::Loaded(_)
            ));
            for seed in 0..3 {
                infer_ok(&mut s, &model, seed);
            }
        }
    }
    offsets.sort_unstable();
    assert_eq!(offsets, vec![0, 1, 2, 3], "the names cover every alignment");
}
