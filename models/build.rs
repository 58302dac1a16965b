//! Sets `cfg(armv6m)` when `snn_models` is compiled for ARMv6-M (Cortex-M0/M0+: Thumb-1, eight
//! low registers), where one loop of the fused dense step is written another way because it
//! measured faster there (`src/engine.rs`, `Dense::run`). The same bits either way.
fn main() {
    println!("cargo::rustc-check-cfg=cfg(armv6m)");
    println!("cargo::rerun-if-changed=build.rs");
    if std::env::var("TARGET").is_ok_and(|t| t.starts_with("thumbv6m")) {
        println!("cargo::rustc-cfg=armv6m");
    }
}
