//! Writing a [`Graph`] as a `.nir` file (HDF5) the `nir` Python package reads: `/version`,
//! `/node` with `type`, `nodes/<name>/...`, `edges` and `metadata`, the same layout `nir.write`
//! produces. Strings are fixed-length UTF-8 (h5py reads them as `bytes`, as `nir.read`
//! expects); numbers are `float32` (the precision of every tool's parameters) except the
//! integer fields (`shape`, `start_dim`, `end_dim`), stored as `int64`. The file is written
//! to a temporary sibling and renamed, so a reader never sees half a file.

use std::path::Path;

use rust_hdf5::{DatatypeMessage, H5File, H5Group};

use crate::nir::graph::{Graph, Meta, Node, Param};
use crate::nir::NirError;

/// The NIR format version written into `/version`.
pub const NIR_VERSION: &str = "1.0.8";

/// Fields stored as integers.
const INT_FIELDS: &[&str] = &["shape", "start_dim", "end_dim"];

/// Writes `graph` to `path` atomically.
pub fn write(path: &Path, graph: &Graph) -> Result<(), NirError> {
    let bad = |reason: String| NirError::File {
        path: path.to_path_buf(),
        at: "/".into(),
        reason,
    };
    if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
        std::fs::create_dir_all(dir).map_err(|e| bad(format!("cannot create directory: {e}")))?;
    }
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_else(|| "model.nir".into());
    let tmp = path.with_file_name(format!(".{name}.tmp-{}", std::process::id()));
    let result = (|| -> Result<(), rust_hdf5::Hdf5Error> {
        let file = H5File::create(&tmp)?;
        let root = file.root_group();
        write_string(&root, "version", NIR_VERSION)?;
        let top = Node {
            kind: "NIRGraph".into(),
            metadata: graph.metadata.clone(),
            graph: Some(graph.clone()),
            ..Node::default()
        };
        write_node(&root.create_group("node")?, &top)?;
        file.close()
    })();
    if let Err(e) = result {
        let _ = std::fs::remove_file(&tmp);
        return Err(bad(format!("cannot write HDF5: {e}")));
    }
    std::fs::rename(&tmp, path).map_err(|e| {
        let _ = std::fs::remove_file(&tmp);
        bad(format!("cannot rename the temporary file into place: {e}"))
    })
}

fn write_string(g: &H5Group, name: &str, s: &str) -> rust_hdf5::Result<()> {
    let bytes = s.as_bytes();
    let ds = g
        .new_dataset::<u8>()
        .scalar()
        .datatype(DatatypeMessage::fixed_string_utf8(bytes.len().max(1) as u32))
        .create(name)?;
    if bytes.is_empty() {
        ds.write_raw_bytes(&[0])
    } else {
        ds.write_raw_bytes(bytes)
    }
}

fn write_strings(
    g: &H5Group,
    name: &str,
    shape: &[usize],
    items: &[&str],
) -> rust_hdf5::Result<()> {
    let width = items.iter().map(|s| s.len()).max().unwrap_or(1).max(1);
    let mut bytes = vec![0u8; width * items.len()];
    for (i, s) in items.iter().enumerate() {
        bytes[i * width..i * width + s.len()].copy_from_slice(s.as_bytes());
    }
    let ds = g
        .new_dataset::<u8>()
        .shape(shape)
        .datatype(DatatypeMessage::fixed_string_utf8(width as u32))
        .create(name)?;
    if !items.is_empty() {
        ds.write_raw_bytes(&bytes)?;
    }
    Ok(())
}

fn write_param(g: &H5Group, name: &str, p: &Param) -> rust_hdf5::Result<()> {
    if INT_FIELDS.contains(&name) {
        let v: Vec<i64> = p.data.iter().map(|&x| x as i64).collect();
        let ds = g.new_dataset::<i64>().shape(&p.shape).create(name)?;
        ds.write_raw(&v)
    } else {
        let v: Vec<f32> = p.data.iter().map(|&x| x as f32).collect();
        let ds = g.new_dataset::<f32>().shape(&p.shape).create(name)?;
        ds.write_raw(&v)
    }
}

fn write_node(g: &H5Group, node: &Node) -> rust_hdf5::Result<()> {
    write_string(g, "type", &node.kind)?;
    for (k, p) in &node.params {
        write_param(g, k, p)?;
    }
    if !node.metadata.is_empty() {
        let m = g.create_group("metadata")?;
        for (k, v) in &node.metadata {
            match v {
                Meta::Text(s) => write_string(&m, k, s)?,
                // Metadata numbers are float64: `snn_dt` and the exact decays read back as written.
                Meta::Numbers(p) => {
                    let ds = m.new_dataset::<f64>().shape(&p.shape).create(k)?;
                    ds.write_raw(&p.data)?
                }
            }
        }
    }
    if let Some(graph) = &node.graph {
        let nodes = g.create_group("nodes")?;
        for (name, n) in &graph.nodes {
            write_node(&nodes.create_group(name)?, n)?;
        }
        let flat: Vec<&str> = graph
            .edges
            .iter()
            .flat_map(|(a, b)| [a.as_str(), b.as_str()])
            .collect();
        write_strings(g, "edges", &[graph.edges.len(), 2], &flat)?;
    }
    Ok(())
}
