//! Link robustness against the real firmware on the emulated MPS2-AN386 board.
//!
//! Needs `qemu-system-arm` and a firmware ELF in `SNN_FW_ELF`; `cargo xtask test` builds the
//! firmware and runs this with `--ignored`. Garbage, truncated and oversized frames, requests out
//! of order, a corrupt model and an oversized model each get an `Error` reply; then a valid
//! upload and inference match the host engine, and the firmware has not reset.
use snn_hal::host::{Client, Qemu};
use snn_hal::protocol::{ErrorCode, Input, Reply, Request, MAX_FRAME, PROTOCOL_VERSION};
use snn_hal::synthetic::digits_model;
use snn_models::{crc::crc32, decode, encode::Rng, EngineBuffers};
use std::path::{Path, PathBuf};

fn elf() -> PathBuf {
    let p = std::env::var_os("SNN_FW_ELF")
        .expect("set SNN_FW_ELF to the mps2-an386 firmware ELF (cargo xtask test does)");
    PathBuf::from(p)
}

/// A firmware booted under QEMU, with its defmt log in a scratch directory of its own.
struct Board {
    qemu: Qemu,
    dir: PathBuf,
}

/// Boots `elf` on the emulated MPS2-AN386 with its log in a fresh scratch directory named
/// after `name`; returns the board and the host's link to it.
fn boot(elf: &Path, name: &str) -> (Board, Client) {
    let dir = std::env::temp_dir().join(format!("snn-fw-{name}-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let (qemu, client) = Qemu::spawn(elf, &dir.join("fw.defmt")).expect("start qemu-system-arm");
    (Board { qemu, dir }, client)
}

impl Board {
    /// Requires the firmware still running (it never exited), then stops QEMU and removes the
    /// scratch directory.
    fn finish(mut self) {
        assert!(self.qemu.exited().is_none(), "firmware exited");
        drop(self.qemu);
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

fn error_code(r: Reply) -> ErrorCode {
    match r {
        Reply::Error(e) => {
            assert!(!e.reason.is_empty(), "{:?} has no reason", e.code);
            e.code
        }
        other => panic!("expected an Error reply, got {other:?}"),
    }
}

fn raw(client: &mut Client, bytes: &[u8]) -> Reply {
    client.send_raw(bytes).unwrap();
    client.recv().unwrap()
}

fn frame(req: &Request<'_>) -> Vec<u8> {
    Client::frame(1, req).unwrap()
}

fn upload_with_crc(client: &mut Client, model: &[u8], crc: u32) -> Reply {
    let begin = Request::LoadBegin {
        len: model.len() as u32,
        crc,
    };
    assert!(matches!(client.call(&begin).unwrap(), Reply::Ack { .. }));
    for (i, bytes) in model.chunks(512).enumerate() {
        let r = client
            .call(&Request::LoadChunk {
                offset: (i * 512) as u32,
                bytes,
            })
            .unwrap();
        assert!(matches!(r, Reply::Ack { .. }), "{r:?}");
    }
    client.call(&Request::LoadEnd).unwrap()
}

#[test]
#[ignore = "needs qemu-system-arm and SNN_FW_ELF; run by `cargo xtask test`"]
fn firmware_survives_bad_frames_and_models_then_infers_correctly() {
    let (board, mut client) = boot(&elf(), "robust");
    let info = client.info().unwrap();
    assert_eq!(info.model, None, "firmware built without a model");

    // Garbage: an invalid COBS code, then random non-zero bytes in frames of random length.
    assert_eq!(
        error_code(raw(&mut client, &[0xFF, 0x13, 0x37, 0])),
        ErrorCode::BadFrame
    );
    let mut rng = Rng::new(42, 0);
    for _ in 0..20 {
        let len = 1 + (rng.next_u32() % 300) as usize;
        let g: Vec<u8> = (0..len)
            .map(|_| (rng.next_u32() % 255 + 1) as u8)
            .chain([0])
            .collect();
        // Random bytes may happen to form a valid request; any reply is fine, one per frame.
        let _ = raw(&mut client, &g);
    }
    // Truncated frame: the first half of a valid chunk frame.
    let model = digits_model(128, 1).unwrap();
    let full = frame(&Request::LoadChunk {
        offset: 0,
        bytes: &model[..300],
    });
    let mut cut = full[..full.len() / 2].to_vec();
    cut.push(0);
    assert!(error_code(raw(&mut client, &cut)).is_link());
    // A valid frame with one flipped bit: caught by the frame CRC, not run.
    let good = frame(&Request::Infer {
        sample_seed: 1,
        input: Input::Features(&[7u8; 64]),
    });
    let mut flipped = good.clone();
    flipped[40] ^= 0x04;
    let mut body = flipped[..flipped.len() - 1].to_vec();
    assert!(matches!(
        snn_hal::wire::decode(&mut body),
        Err(snn_hal::wire::WireError::Crc { .. })
    ));
    assert_eq!(error_code(raw(&mut client, &flipped)), ErrorCode::BadCrc);
    // Oversized frame.
    let mut big = vec![0x55u8; 4 * MAX_FRAME];
    big.push(0);
    assert_eq!(error_code(raw(&mut client, &big)), ErrorCode::FrameTooLong);
    // Out of order.
    let chunk = Request::LoadChunk {
        offset: 0,
        bytes: &model[..16],
    };
    assert_eq!(
        error_code(client.call(&chunk).unwrap()),
        ErrorCode::NoUpload
    );
    assert_eq!(
        error_code(client.call(&Request::LoadEnd).unwrap()),
        ErrorCode::NoUpload
    );
    let f = vec![128u8; 64];
    let infer = Request::Infer {
        sample_seed: 9,
        input: Input::Features(&f),
    };
    assert_eq!(error_code(client.call(&infer).unwrap()), ErrorCode::NoModel);
    // Wrong CRC, corrupt model behind a matching CRC, oversized model.
    assert_eq!(
        error_code(upload_with_crc(&mut client, &model, crc32(&model) ^ 0xDEAD)),
        ErrorCode::CrcMismatch
    );
    let mut corrupt = model.clone();
    corrupt[30] ^= 0x08;
    assert_eq!(
        error_code(upload_with_crc(&mut client, &corrupt, crc32(&corrupt))),
        ErrorCode::BadModel
    );
    let oversized = Request::LoadBegin {
        len: info.max_model_bytes + 1,
        crc: 0,
    };
    assert_eq!(
        error_code(client.call(&oversized).unwrap()),
        ErrorCode::TooLarge
    );

    // Still serving: a valid upload and inference equal to the host engine.
    let loaded = client.load(&model).unwrap();
    assert_eq!(loaded.crc, crc32(&model));
    let dev = client.infer(Input::Features(&f), 9).unwrap();
    let (counts, events) = host_run(&model, &f, 9);
    assert_eq!(dev.counts.as_slice(), counts);
    assert_eq!(dev.synaptic_events, events);
    assert!(dev.cost > 0, "the instruction counter runs");
    // No reset happened: the model is still loaded and QEMU still runs.
    assert_eq!(client.info().unwrap().model, Some(loaded));
    board.finish();
}

/// Output counts and synaptic events of the host engine for one sample.
fn host_run(model: &[u8], f: &[u8], seed: u32) -> (Vec<u16>, u64) {
    let m = decode(model).unwrap();
    let mut state = EngineBuffers::for_model(&m);
    let mut e = state.engine(&m).unwrap();
    e.run_features(f, seed).unwrap();
    (e.output_counts().to_vec(), e.stats().synaptic_events)
}

/// Resets the board over the link and waits until it answers again.
fn reset(client: &mut Client) -> snn_hal::protocol::Info {
    client.reset().unwrap();
    std::thread::sleep(std::time::Duration::from_millis(200));
    client.info().unwrap()
}

#[test]
#[ignore = "needs qemu-system-arm and SNN_FW_ELF; run by `cargo xtask test`"]
fn an_uploaded_model_survives_reset_and_an_interrupted_upload_keeps_it() {
    let (board, mut client) = boot(&elf(), "reset");
    assert_eq!(
        client.info().unwrap().model,
        None,
        "a cold start has no model"
    );
    let model = digits_model(128, 1).unwrap();
    let loaded = client.load(&model).unwrap();
    let f = vec![200u8; 64];
    let before = client.infer(Input::Features(&f), 5).unwrap();
    assert_eq!(before.counts.as_slice(), host_run(&model, &f, 5).0);
    // Stack painting: the inference above used some stack, far less than there is.
    let info = client.info().unwrap();
    assert!(
        info.stack_peak > 256 && info.stack_peak < info.stack_size / 4,
        "stack {} of {}",
        info.stack_peak,
        info.stack_size
    );
    // Reset: the model comes back from its slot and gives the same answer.
    let info = reset(&mut client);
    assert_eq!(info.model, Some(loaded.clone()));
    let after = client.infer(Input::Features(&f), 5).unwrap();
    assert_eq!(after.counts, before.counts);
    // An upload cut off at several points (power lost mid-upload): the old model boots.
    let other = digits_model(96, 2).unwrap();
    for cut in [0usize, 1, 7, other.len() / 512] {
        let begin = Request::LoadBegin {
            len: other.len() as u32,
            crc: crc32(&other),
        };
        assert!(matches!(client.call(&begin).unwrap(), Reply::Ack { .. }));
        for (i, bytes) in other.chunks(512).take(cut).enumerate() {
            let chunk = Request::LoadChunk {
                offset: (i * 512) as u32,
                bytes,
            };
            assert!(matches!(client.call(&chunk).unwrap(), Reply::Ack { .. }));
        }
        let info = reset(&mut client);
        assert_eq!(
            info.model,
            Some(loaded.clone()),
            "upload cut after {cut} chunks"
        );
    }
    // A finished upload replaces it, also across a reset.
    let newer = client.load(&other).unwrap();
    assert_eq!(reset(&mut client).model, Some(newer));
    let r = client.infer(Input::Features(&f), 6).unwrap();
    assert_eq!(r.counts.as_slice(), host_run(&other, &f, 6).0);
    board.finish();
}

#[test]
#[ignore = "needs qemu-system-arm and SNN_FW_SIGNED_ELF; run by `cargo xtask test`"]
fn firmware_built_with_a_key_refuses_unsigned_and_wrongly_signed_models() {
    use snn_hal::synthetic::TEST_SIGNING_SEED;
    use snn_models::signed::sign;
    let elf = PathBuf::from(
        std::env::var_os("SNN_FW_SIGNED_ELF")
            .expect("set SNN_FW_SIGNED_ELF to the firmware built with the test public key"),
    );
    let (board, mut client) = boot(&elf, "signed");
    let info = client.info().unwrap();
    assert!(
        info.signatures_required,
        "Info says signatures are required"
    );
    let model = digits_model(128, 1).unwrap();
    let refused = |client: &mut Client, file: &[u8]| match client.load(file) {
        Err(snn_hal::host::ClientError::Device(e)) => e,
        other => panic!("expected a refusal, got {other:?}"),
    };
    let e = refused(&mut client, &model);
    assert_eq!(e.code, ErrorCode::Unsigned, "{}", e.reason);
    let e = refused(&mut client, &sign(&model, &[9u8; 32]));
    assert_eq!(e.code, ErrorCode::BadSignature, "{}", e.reason);
    let signed = sign(&model, &TEST_SIGNING_SEED);
    let mut tampered = signed.clone();
    tampered[100] ^= 1;
    let e = refused(&mut client, &tampered);
    assert_eq!(e.code, ErrorCode::BadSignature, "{}", e.reason);
    assert_eq!(client.info().unwrap().model, None);
    let loaded = client.load(&signed).unwrap();
    assert_eq!(loaded.bytes as usize, signed.len());
    let f = vec![150u8; 64];
    let r = client.infer(Input::Features(&f), 3).unwrap();
    assert_eq!(r.counts.as_slice(), host_run(&model, &f, 3).0);
    // The stored signed model is checked again at boot, and passes.
    client.reset().unwrap();
    std::thread::sleep(std::time::Duration::from_millis(300));
    assert_eq!(client.info().unwrap().model, Some(loaded));
    board.finish();
}

#[test]
#[ignore = "needs qemu-system-arm and SNN_FW_ELF; run by `cargo xtask test`"]
fn a_host_of_another_protocol_version_gets_an_error_naming_both() {
    let (_board, mut client) = boot(&elf(), "version");
    let model = digits_model(64, 1).unwrap();
    assert!(matches!(
        upload_with_crc(&mut client, &model, crc32(&model)),
        Reply::Loaded(_)
    ));
    let info = client.info().unwrap();
    assert_eq!(info.protocol, PROTOCOL_VERSION);
    // A host one version behind asks for a stream: the firmware names both versions.
    let old = PROTOCOL_VERSION - 1;
    let r = client
        .call(&Request::StreamBegin {
            protocol: old,
            reset: true,
            exp: 0,
            window: 0,
            threshold: 0,
        })
        .unwrap();
    let Reply::Error(e) = &r else {
        panic!("expected an error, got {r:?}")
    };
    assert_eq!(e.code, ErrorCode::Version);
    assert!(
        e.reason.contains(&format!("protocol {old}"))
            && e.reason.contains(&PROTOCOL_VERSION.to_string()),
        "{}",
        e.reason
    );
    // The same host at the right version streams.
    let r = client.stream_begin(true, 0, (5, 3)).unwrap();
    assert_eq!(r.steps, 0);
    let r = client
        .stream_events(&[vec![1, 2, 3], vec![], vec![60]], 10)
        .unwrap();
    assert_eq!(r.iter().map(|r| r.steps_spikes().count()).sum::<usize>(), 3);
}
