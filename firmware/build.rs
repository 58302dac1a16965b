//! Picks the board's memory map (`memory/<board>.x`) and embeds an optional built-in model.
//!
//! `SNN_FW_MODEL=/path/model.snnm` (set by `cargo xtask build-fw --model FILE`) builds that model
//! into flash; the firmware loads it at boot. Without it the firmware waits for an upload.
use std::{env, fs, path::PathBuf};

/// Every board; each has a feature `board-NAME` and (but the ESP32-C3) a memory map
/// `memory/NAME.x`.
const BOARDS: [&str; 10] = [
    "mps2-an385",
    "mps2-an386",
    "mps2-an500",
    "mps2-an505",
    "microbit",
    "virt-rv32",
    "nucleo-f446re",
    "nrf52840-dk",
    "rp-pico",
    "esp32c3",
];

fn main() {
    // `cfg(armv8m)`: the ARMv8-M MPU layout (RBAR/RLAR), for the stack guard of the M33.
    println!("cargo::rustc-check-cfg=cfg(armv8m)");
    if env::var("TARGET").is_ok_and(|t| t.starts_with("thumbv8m")) {
        println!("cargo::rustc-cfg=armv8m");
    }
    let out = PathBuf::from(env::var_os("OUT_DIR").expect("cargo sets OUT_DIR"));
    let boards: Vec<&str> = BOARDS
        .iter()
        .copied()
        .filter(|b| {
            let feature = format!("CARGO_FEATURE_BOARD_{}", b.to_uppercase().replace('-', "_"));
            env::var_os(feature).is_some()
        })
        .collect();
    let [board] = boards.as_slice() else {
        panic!(
            "enable exactly one board feature (got {boards:?}): board-mps2-an386 (default) or, \
             with --no-default-features, one of {BOARDS:?} prefixed with board-"
        );
    };
    // esp-hal's linkall.x brings the ESP32-C3's memory map; every other board has its own.
    if *board != "esp32c3" {
        // The bench build of the micro:bit with QEMU's SRAM enlarged (feature `sram-256k`).
        let big = *board == "microbit" && env::var_os("CARGO_FEATURE_SRAM_256K").is_some();
        let memory = if big {
            "memory/microbit-256k.x".to_string()
        } else {
            format!("memory/{board}.x")
        };
        fs::copy(&memory, out.join("memory.x")).expect("copy memory.x");
        println!("cargo:rustc-link-search={}", out.display());
        println!("cargo:rerun-if-changed={memory}");
    }
    println!("cargo:rerun-if-changed=build.rs");

    println!("cargo:rerun-if-env-changed=SNN_FW_MODEL");
    let model = match env::var_os("SNN_FW_MODEL").filter(|p| !p.is_empty()) {
        Some(path) => {
            let path = PathBuf::from(path);
            println!("cargo:rerun-if-changed={}", path.display());
            fs::read(&path).unwrap_or_else(|e| {
                panic!(
                    "SNN_FW_MODEL={}: cannot read the model: {e}",
                    path.display()
                )
            })
        }
        None => Vec::new(),
    };
    fs::write(out.join("builtin_model.bin"), model).expect("write builtin_model.bin");

    // SNN_FW_DENSE / SNN_FW_DENSE_SAMPLES (feature dense-bench, `cargo xtask bench-dense`): a
    // dense int8 model and the feature bytes of the samples to run it on at boot.
    for (var, file) in [
        ("SNN_FW_DENSE", "builtin_dense.bin"),
        ("SNN_FW_DENSE_SAMPLES", "dense_samples.bin"),
    ] {
        println!("cargo:rerun-if-env-changed={var}");
        let bytes = match env::var_os(var).filter(|p| !p.is_empty()) {
            Some(path) => {
                let path = PathBuf::from(path);
                println!("cargo:rerun-if-changed={}", path.display());
                fs::read(&path)
                    .unwrap_or_else(|e| panic!("{var}={}: cannot read it: {e}", path.display()))
            }
            None => Vec::new(),
        };
        fs::write(out.join(file), bytes).unwrap_or_else(|e| panic!("write {file}: {e}"));
    }

    // SNN_FW_PUBKEY=/path/key.pub (from `cargo xtask build-fw --pubkey FILE`): the firmware then
    // accepts only models signed with the matching secret key. The file is the 32-byte Ed25519
    // public key, raw or as 64 hex digits (what `snn keygen` writes).
    println!("cargo:rerun-if-env-changed=SNN_FW_PUBKEY");
    let key = match env::var_os("SNN_FW_PUBKEY").filter(|p| !p.is_empty()) {
        Some(path) => {
            let path = PathBuf::from(path);
            println!("cargo:rerun-if-changed={}", path.display());
            let bytes = fs::read(&path).unwrap_or_else(|e| {
                panic!("SNN_FW_PUBKEY={}: cannot read the key: {e}", path.display())
            });
            let key = parse_key(&bytes).unwrap_or_else(|| {
                panic!(
                    "SNN_FW_PUBKEY={}: not an Ed25519 public key (32 bytes, or 64 hex digits)",
                    path.display()
                )
            });
            if env::var_os("CARGO_FEATURE_SIGNED_MODELS").is_none() {
                panic!("SNN_FW_PUBKEY is set: build with --features signed-models (xtask does)");
            }
            format!("Some({key:?})")
        }
        None if env::var_os("CARGO_FEATURE_SIGNED_MODELS").is_some() => panic!(
            "feature signed-models needs the public key: SNN_FW_PUBKEY=FILE \
             (cargo xtask build-fw --pubkey FILE)"
        ),
        None => "None".to_string(),
    };
    fs::write(
        out.join("public_key.rs"),
        format!("/// The Ed25519 public key models must be signed with, if any.\npub const PUBLIC_KEY: Option<[u8; 32]> = {key};\n"),
    )
    .expect("write public_key.rs");
}

/// 32 raw bytes, or 64 hex digits (surrounding whitespace ignored).
fn parse_key(bytes: &[u8]) -> Option<[u8; 32]> {
    if let Ok(k) = <[u8; 32]>::try_from(bytes) {
        return Some(k);
    }
    let text = std::str::from_utf8(bytes).ok()?.trim();
    if text.len() != 64 {
        return None;
    }
    let mut k = [0u8; 32];
    for (i, b) in k.iter_mut().enumerate() {
        *b = u8::from_str_radix(text.get(2 * i..2 * i + 2)?, 16).ok()?;
    }
    Some(k)
}
