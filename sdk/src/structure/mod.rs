//! Structure: connectivity masks (sparsity, Dale's law, plasticity, growth), topology generators
//! and the continuous-time RNN (CTRNN) built on them.
//!
//! Owns: [`mask`] (per-layer masks and their seeded draws; raises [`mask::MaskError`]),
//! [`generators`] (random-input, multi-area and E/I topologies as mask sets), [`ctrnn`] (the
//! nn4n-style CTRNN with its config and weight I/O).
//!
//! May import: [`crate::loss`] (the CTRNN hands its recordings to `loss::rnn`) and
//! [`crate::rng`]; never `net`, `data`, `train`, `budget`, `deploy`, `plot` or `cli`.

pub mod ctrnn;
pub mod generators;
pub mod mask;
