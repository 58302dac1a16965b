//! Reading `.nir` files (HDF5) into a [`Graph`], as the `nir` Python package 1.0.x, snnTorch 1.0
//! and Norse 1.1 write them: `/version`, `/node` (a `NIRGraph`: `type`, `nodes/<name>/...`,
//! `edges` an `(N, 2)` array of strings, optional `metadata`); each node a group with a `type`
//! string and one dataset per field, gzip-compressed or not, 0-d scalars or arrays, floats of
//! any width or integers.

use std::collections::BTreeMap;
use std::path::Path;

use rust_hdf5::{DatatypeMessage, H5File, H5Group};

use crate::nir::graph::{Graph, Meta, Node, Param};
use crate::nir::NirError;

/// Reads a `.nir` file; errors name the file and the HDF5 path at fault.
pub fn read(path: &Path) -> Result<Graph, NirError> {
    let bad = |at: &str, reason: String| NirError::File {
        path: path.to_path_buf(),
        at: at.to_owned(),
        reason,
    };
    let file =
        H5File::open(path).map_err(|e| bad("/", format!("not a readable HDF5 file: {e}")))?;
    let root = file.root_group();
    let groups = root
        .group_names()
        .map_err(|e| bad("/", format!("cannot list groups: {e}")))?;
    if !groups.iter().any(|g| g == "node") {
        return Err(bad("/node", "missing: not a NIR file".into()));
    }
    let node = root
        .group("node")
        .map_err(|e| bad("/node", e.to_string()))?;
    let r = Reader { file: &file, path };
    let top = r.node(&node)?;
    match top.graph {
        Some(g) if top.kind == "NIRGraph" => Ok(g),
        _ => Err(bad(
            "/node/type",
            format!("the top node is a `{}`, expected a `NIRGraph`", top.kind),
        )),
    }
}

struct Reader<'a> {
    file: &'a H5File,
    path: &'a Path,
}

/// What a dataset holds.
enum Value {
    Numbers(Param),
    Text(Vec<String>, Vec<usize>),
}

impl Reader<'_> {
    fn bad(&self, at: &str, reason: impl Into<String>) -> NirError {
        NirError::File {
            path: self.path.to_path_buf(),
            at: at.to_owned(),
            reason: reason.into(),
        }
    }

    fn full(group: &H5Group, name: &str) -> String {
        let g = group.name().trim_end_matches('/');
        format!("{g}/{name}")
    }

    fn value(&self, at: &str) -> Result<Value, NirError> {
        let ds = self
            .file
            .dataset(at)
            .map_err(|e| self.bad(at, format!("cannot open dataset: {e}")))?;
        let shape = ds.shape();
        let text = match ds.datatype() {
            Ok(DatatypeMessage::FixedString { .. }) => Some(ds.read_strings()),
            Ok(DatatypeMessage::VarLenString { .. }) => Some(ds.read_vlen_strings()),
            _ => None,
        };
        if let Some(s) = text {
            let s = s.map_err(|e| self.bad(at, format!("cannot read strings: {e}")))?;
            return Ok(Value::Text(s, shape));
        }
        if let Ok(v) = ds.read_numeric_as::<f64>() {
            return Ok(Value::Numbers(Param { shape, data: v }));
        }
        if let Ok(v) = ds.read_numeric_as::<i64>() {
            let data = v.into_iter().map(|x| x as f64).collect();
            return Ok(Value::Numbers(Param { shape, data }));
        }
        if let Ok(s) = ds.read_vlen_strings() {
            return Ok(Value::Text(s, shape));
        }
        match ds.read_strings() {
            Ok(s) => Ok(Value::Text(s, shape)),
            Err(e) => Err(self.bad(at, format!("neither numbers nor strings: {e}"))),
        }
    }

    fn node(&self, group: &H5Group) -> Result<Node, NirError> {
        let at = group.name().to_owned();
        let datasets = group
            .dataset_names()
            .map_err(|e| self.bad(&at, format!("cannot list datasets: {e}")))?;
        let groups = group
            .group_names()
            .map_err(|e| self.bad(&at, format!("cannot list groups: {e}")))?;
        let mut node = Node::default();
        if !datasets.iter().any(|d| d == "type") {
            return Err(self.bad(&at, "has no `type` dataset"));
        }
        let mut edges = None;
        for d in &datasets {
            let full = Self::full(group, d);
            match (d.as_str(), self.value(&full)?) {
                ("type", Value::Text(s, _)) if s.len() == 1 => node.kind = s[0].clone(),
                ("type", Value::Text(s, _)) => {
                    return Err(self.bad(&full, format!("holds {} strings, expected one", s.len())))
                }
                ("type", _) => return Err(self.bad(&full, "is not a string")),
                ("edges", Value::Text(s, shape)) => edges = Some((s, shape, full)),
                (_, Value::Numbers(p)) => {
                    node.params.insert(d.clone(), p);
                }
                // Other string fields (none in NIR 1.0's nodes) are ignored.
                (_, Value::Text(..)) => {}
            }
        }
        if groups.iter().any(|g| g == "metadata") {
            let m = group
                .group("metadata")
                .map_err(|e| self.bad(&at, e.to_string()))?;
            node.metadata = self.metadata(&m)?;
        }
        if node.kind == "NIRGraph" {
            if !groups.iter().any(|g| g == "nodes") {
                return Err(self.bad(&at, "a NIRGraph without a `nodes` group"));
            }
            let nodes = group
                .group("nodes")
                .map_err(|e| self.bad(&at, e.to_string()))?;
            let mut graph = Graph {
                metadata: node.metadata.clone(),
                ..Graph::default()
            };
            for name in nodes
                .group_names()
                .map_err(|e| self.bad(&at, format!("cannot list nodes: {e}")))?
            {
                let g = nodes
                    .group(&name)
                    .map_err(|e| self.bad(&at, e.to_string()))?;
                graph.nodes.insert(name, self.node(&g)?);
            }
            if let Some((s, shape, full)) = edges {
                let pairs = s.len() / 2;
                if s.len() % 2 != 0 || (shape.len() == 2 && shape[1] != 2) {
                    return Err(self.bad(&full, format!("shape {shape:?} is not (N, 2)")));
                }
                graph.edges = (0..pairs)
                    .map(|i| (s[2 * i].clone(), s[2 * i + 1].clone()))
                    .collect();
            }
            node.graph = Some(graph);
        }
        Ok(node)
    }

    fn metadata(&self, group: &H5Group) -> Result<BTreeMap<String, Meta>, NirError> {
        let at = group.name().to_owned();
        let mut out = BTreeMap::new();
        for d in group
            .dataset_names()
            .map_err(|e| self.bad(&at, format!("cannot list datasets: {e}")))?
        {
            let full = Self::full(group, &d);
            let v = match self.value(&full) {
                Ok(Value::Numbers(p)) => Meta::Numbers(p),
                Ok(Value::Text(s, _)) if s.len() == 1 => Meta::Text(s[0].clone()),
                // Metadata we cannot read (lists of strings, odd types) is not ours: skip it.
                _ => continue,
            };
            out.insert(d, v);
        }
        Ok(out)
    }
}
