//! Process-wide settings of the CPU kernels, for a program's `main` (the `snn` binary and the
//! benchmarks call [`configure`]; the library never changes them on its own).
//!
//! candle runs large element-wise ops on its own worker pool, whose threads spin for a while
//! after each op (`CANDLE_BARRIER_POOL_SPIN_LIMIT`, default 25,000 iterations). The fused
//! layers run on rayon's pool, so on a small machine the two pools' threads fight for the same
//! cores: a digits training step measured 21.6k samples/s with the default spin, 29.8k with
//! none and 30.9k with 5,000, while the SHD-shaped step, with larger candle ops, prefers some
//! spinning (1,840 samples/s at 25,000, 1,530 at 0, 1,910 at 5,000; 2 cores,
//! `cargo bench -p snn-sdk --bench train_step`, BENCHMARKS.md).

/// Spin iterations of candle's pool workers after an op (candle's default: 25,000).
pub const SPIN_LIMIT: &str = "5000";

/// Sets the kernels' thread count (`RAYON_NUM_THREADS`, read by rayon and candle when they
/// size their pools; `None` keeps their default, all cores) and shortens candle's pool spinning
/// to [`SPIN_LIMIT`] unless `CANDLE_BARRIER_POOL_SPIN_LIMIT` is already set. Call it first thing in `main`,
/// before any tensor op and before other threads start (it writes environment variables).
pub fn configure(threads: Option<usize>) {
    if let Some(n) = threads {
        std::env::set_var("RAYON_NUM_THREADS", n.to_string());
    }
    if std::env::var_os("CANDLE_BARRIER_POOL_SPIN_LIMIT").is_none() {
        std::env::set_var("CANDLE_BARRIER_POOL_SPIN_LIMIT", SPIN_LIMIT);
    }
}
