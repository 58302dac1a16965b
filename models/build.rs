//! Sets `cfg(armv6m)` when `snn_models` is compiled for ARMv6-M (Cortex-M0/M0+: Thumb-1, eight
//! low registers, no unaligned word loads, no 32 × 32 → 64 multiply), the one switch of the
//! crate's M0-specific code: the decay's two 32-bit products (`src/engine.rs`, `decay_q`) and
//! the aligned-word block sums in assembly
//! (`src/armv6m.rs`, `src/words.rs`). The same bits either way. (`Cargo.toml`'s target-specific
//! `bytemuck` dependency cannot read this cfg and names the targets itself.)
fn main() {
    println!("cargo::rustc-check-cfg=cfg(armv6m)");
    println!("cargo::rerun-if-changed=build.rs");
    if std::env::var("TARGET").is_ok_and(|t| t.starts_with("thumbv6m")) {
        println!("cargo::rustc-cfg=armv6m");
    }
}
