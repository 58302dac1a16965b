//! Picks the board's memory map and embeds an optional built-in model.
//!
//! `SNN_FW_MODEL=/path/model.snnm` (set by `cargo xtask build-fw --model FILE`) builds that model
//! into flash; the firmware loads it at boot. Without it the firmware waits for an upload.
use std::{env, fs, path::PathBuf};

fn main() {
    let out = PathBuf::from(env::var_os("OUT_DIR").expect("cargo sets OUT_DIR"));
    let nucleo = env::var_os("CARGO_FEATURE_BOARD_NUCLEO_F446RE").is_some();
    let mps2 = env::var_os("CARGO_FEATURE_BOARD_MPS2_AN386").is_some();
    let memory = match (mps2, nucleo) {
        (true, false) => "memory/mps2-an386.x",
        (false, true) => "memory/nucleo-f446re.x",
        _ => panic!(
            "enable exactly one board feature: board-mps2-an386 (default) or board-nucleo-f446re \
             (with --no-default-features)"
        ),
    };
    fs::copy(memory, out.join("memory.x")).expect("copy memory.x");
    println!("cargo:rustc-link-search={}", out.display());
    println!("cargo:rerun-if-changed={memory}");
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
