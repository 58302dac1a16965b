//! Link robustness against the real firmware on the emulated MPS2-AN386 board.
//!
//! Needs `qemu-system-arm` and a firmware ELF in `SNN_FW_ELF`; `cargo xtask test` builds the
//! firmware and runs this with `--ignored`. Garbage, truncated and oversized frames, requests out
//! of order, a corrupt model and an oversized model each get an `Error` reply; then a valid
//! upload and inference match the host engine, and the firmware has not reset.
use snn_hal::host::{Client, Qemu};
use snn_hal::protocol::{ErrorCode, Input, Reply, Request, MAX_FRAME};
use snn_hal::synthetic::digits_model;
use snn_models::{crc::crc32, decode, encode::Rng, Engine, Requirements};
use std::path::PathBuf;

fn elf() -> PathBuf {
    let p = std::env::var_os("SNN_FW_ELF")
        .expect("set SNN_FW_ELF to the mps2-an386 firmware ELF (cargo xtask test does)");
    PathBuf::from(p)
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
    let dir = std::env::temp_dir().join(format!("snn-fw-robust-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let (mut qemu, mut client) = Qemu::spawn(&elf(), &dir.join("fw.defmt")).unwrap();
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
    let mut flipped = frame(&Request::Info);
    flipped[3] ^= 0x04;
    if !flipped[..flipped.len() - 1].contains(&0) {
        assert_eq!(error_code(raw(&mut client, &flipped)), ErrorCode::BadCrc);
    }
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
    let m = decode(&model).unwrap();
    let r = Requirements::of(&m);
    let (mut a, mut b, mut c, mut d) = (
        vec![0; r.membrane],
        vec![0; r.current],
        vec![0; r.spikes],
        vec![0; r.out_counts],
    );
    let mut e = Engine::new(&m, &mut a, &mut b, &mut c, &mut d).unwrap();
    e.run_features(&f, 9).unwrap();
    assert_eq!(dev.counts.as_slice(), e.output_counts());
    assert_eq!(dev.synaptic_events, e.stats().synaptic_events);
    assert!(dev.cost > 0, "the instruction counter runs");
    // No reset happened: the model is still loaded and QEMU still runs.
    assert_eq!(client.info().unwrap().model, Some(loaded));
    assert!(qemu.exited().is_none(), "firmware exited");
    drop(qemu);
    let _ = std::fs::remove_dir_all(&dir);
}
