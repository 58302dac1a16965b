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
}
