//! NIR (Neuromorphic Intermediate Representation, `neuromorphs/NIR`): import a `.nir` graph
//! written by snnTorch, Norse, Rockpool, sinabs or the `nir` package as a run, and export a run
//! as NIR (`snn import`, `snn export --nir`).
//!
//! Owns: [`graph`] (the graph in memory, subgraph flattening), [`read`] / [`write`] (the HDF5
//! files through the pure-Rust `rust-hdf5`, no system library), [`map`] (the discretisation and
//! every node ⇄ layer rule, documented there), [`run`] (an imported graph as a run directory
//! that `snn eval | export | simulate | plot`, `snn train --resume` and `cargo xtask hil` take)
//! and [`spikes`] (a given input spike train through the float network, to compare with other
//! tools' simulators).
//!
//! May import: [`crate::train`] and everything below it (`net`, `rng`); never `deploy`, `plot`
//! or `cli`.

pub mod graph;
pub mod map;
pub mod read;
pub mod run;
pub mod spikes;
pub mod write;

use std::path::PathBuf;

/// Default Euler step of `snn import` when neither `--dt` nor the file's `snn_dt` metadata
/// gives one: 1e-4 s, the step snnTorch's exporter assumes.
pub const DEFAULT_DT: f64 = 1e-4;

/// What went wrong reading, mapping or writing NIR.
#[derive(Debug, thiserror::Error)]
pub enum NirError {
    /// The file cannot be read or written as NIR.
    #[error("{}: {at}: {reason}", path.display())]
    File {
        /// The file.
        path: PathBuf,
        /// The HDF5 path at fault (`/node/nodes/lif1/tau`).
        at: String,
        /// Why.
        reason: String,
    },
    /// A node we cannot map (or a bad value in it).
    #[error("node `{node}` ({kind}) {reason}")]
    Node {
        /// The node's name.
        node: String,
        /// Its NIR type.
        kind: String,
        /// Why it is refused.
        reason: String,
    },
    /// The graph's shape cannot be mapped onto a chain of layers.
    #[error("NIR graph: {0}")]
    Graph(String),
    /// A spike-train file is malformed.
    #[error("{}: {reason}", path.display())]
    Spikes {
        /// The file.
        path: PathBuf,
        /// What is wrong, and where.
        reason: String,
    },
    /// Building the network or writing the run failed.
    #[error(transparent)]
    Train(#[from] crate::train::Error),
}

impl From<crate::net::NetworkError> for NirError {
    fn from(e: crate::net::NetworkError) -> Self {
        Self::Train(e.into())
    }
}

impl From<candle_core::Error> for NirError {
    fn from(e: candle_core::Error) -> Self {
        Self::Train(e.into())
    }
}
