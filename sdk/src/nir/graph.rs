//! The NIR graph in memory: named nodes with their parameters and the edges between them, as
//! read from or written to a `.nir` file, and the flattening of nested subgraphs.

use std::collections::BTreeMap;

use crate::nir::NirError;

/// A numeric parameter: row-major values with their shape (`[]` for a 0-d scalar).
#[derive(Clone, Debug, PartialEq)]
pub struct Param {
    /// Dimensions (empty for a scalar).
    pub shape: Vec<usize>,
    /// `shape.iter().product()` values, row-major.
    pub data: Vec<f64>,
}

impl Param {
    /// A 0-d scalar.
    pub fn scalar(x: f64) -> Self {
        Self {
            shape: Vec::new(),
            data: vec![x],
        }
    }

    /// A 1-d vector.
    pub fn vector(data: Vec<f64>) -> Self {
        Self {
            shape: vec![data.len()],
            data,
        }
    }

    /// A row-major `[rows, cols]` matrix.
    pub fn matrix(rows: usize, cols: usize, data: Vec<f64>) -> Self {
        Self {
            shape: vec![rows, cols],
            data,
        }
    }

    /// Number of elements (a scalar has one).
    pub fn len(&self) -> usize {
        self.data.len()
    }

    /// True when there are no elements.
    pub fn is_empty(&self) -> bool {
        self.data.is_empty()
    }
}

/// A metadata value (`metadata/<key>` datasets of a node).
#[derive(Clone, Debug, PartialEq)]
pub enum Meta {
    /// A string.
    Text(String),
    /// Numbers (a scalar is one element).
    Numbers(Param),
}

/// One NIR node: its type name (`LIF`, `Affine`, ...), its numeric parameters by field name,
/// its metadata, and for a `NIRGraph` its nested graph.
#[derive(Clone, Debug, PartialEq, Default)]
pub struct Node {
    /// The `type` dataset (`Input`, `Output`, `Affine`, `Linear`, `Scale`, `LIF`, `CubaLIF`, `LI`,
    /// `IF`, `Threshold`, `Flatten`, `NIRGraph`, ...).
    pub kind: String,
    /// Numeric fields by name (`weight`, `bias`, `tau`, `shape`, ...).
    pub params: BTreeMap<String, Param>,
    /// The `metadata` group, if any.
    pub metadata: BTreeMap<String, Meta>,
    /// The nested graph of a `NIRGraph` node.
    pub graph: Option<Graph>,
}

impl Node {
    /// A node of `kind` with the given parameters and no metadata.
    pub fn new(kind: &str, params: impl IntoIterator<Item = (&'static str, Param)>) -> Self {
        Self {
            kind: kind.to_owned(),
            params: params.into_iter().map(|(k, v)| (k.to_owned(), v)).collect(),
            metadata: BTreeMap::new(),
            graph: None,
        }
    }

    /// The parameter `field`, or an error naming the node.
    pub fn param(&self, name: &str, field: &str) -> Result<&Param, NirError> {
        self.params.get(field).ok_or_else(|| NirError::Node {
            node: name.to_owned(),
            kind: self.kind.clone(),
            reason: format!("has no `{field}` dataset"),
        })
    }

    /// A metadata string, if present.
    pub fn meta_text(&self, key: &str) -> Option<&str> {
        match self.metadata.get(key) {
            Some(Meta::Text(s)) => Some(s),
            _ => None,
        }
    }

    /// A metadata numeric array, if present.
    pub fn meta_numbers(&self, key: &str) -> Option<&Param> {
        match self.metadata.get(key) {
            Some(Meta::Numbers(p)) => Some(p),
            _ => None,
        }
    }
}

/// A NIR graph: nodes by name and directed edges `(from, to)`.
#[derive(Clone, Debug, PartialEq, Default)]
pub struct Graph {
    /// Nodes by name.
    pub nodes: BTreeMap<String, Node>,
    /// Edges `(source, target)`; a name may be `sub.node` to address a node of a subgraph.
    pub edges: Vec<(String, String)>,
    /// The graph's own metadata.
    pub metadata: BTreeMap<String, Meta>,
}

impl Graph {
    /// The graph with every nested `NIRGraph` node replaced by its nodes (named
    /// `outer.inner`) and edges; an edge into a subgraph goes to its `Input` node(s), an edge
    /// out of it leaves from its `Output` node(s); those inner Input/Output nodes stay as
    /// pass-through nodes (type `Identity`).
    pub fn flattened(&self) -> Result<Graph, NirError> {
        let mut out = Graph {
            nodes: BTreeMap::new(),
            edges: Vec::new(),
            metadata: self.metadata.clone(),
        };
        // Ports of each subgraph: (entry nodes, exit nodes), with full flattened names.
        let mut ports: BTreeMap<String, (Vec<String>, Vec<String>)> = BTreeMap::new();
        for (name, node) in &self.nodes {
            match (&node.graph, node.kind.as_str()) {
                (Some(sub), _) => {
                    let flat = sub.flattened()?;
                    let mut ins = Vec::new();
                    let mut outs = Vec::new();
                    for (inner, n) in flat.nodes {
                        let full = format!("{name}.{inner}");
                        let mut n = n;
                        if n.kind == "Input" {
                            ins.push(full.clone());
                            n.kind = "Identity".into();
                        } else if n.kind == "Output" {
                            outs.push(full.clone());
                            n.kind = "Identity".into();
                        }
                        out.nodes.insert(full, n);
                    }
                    for (a, b) in flat.edges {
                        out.edges
                            .push((format!("{name}.{a}"), format!("{name}.{b}")));
                    }
                    ports.insert(name.clone(), (ins, outs));
                }
                (None, "NIRGraph") => {
                    return Err(NirError::Node {
                        node: name.clone(),
                        kind: node.kind.clone(),
                        reason: "is a subgraph without nodes".into(),
                    })
                }
                _ => {
                    out.nodes.insert(name.clone(), node.clone());
                }
            }
        }
        for (a, b) in &self.edges {
            let froms = match ports.get(a) {
                Some((_, outs)) => outs.clone(),
                None => vec![a.clone()],
            };
            let tos = match ports.get(b) {
                Some((ins, _)) => ins.clone(),
                None => vec![b.clone()],
            };
            for f in &froms {
                for t in &tos {
                    out.edges.push((f.clone(), t.clone()));
                }
            }
        }
        for (a, b) in &out.edges {
            for end in [a, b] {
                if !out.nodes.contains_key(end) {
                    return Err(NirError::Graph(format!(
                        "edge {a} -> {b} names `{end}`, which is not a node of the graph"
                    )));
                }
            }
        }
        Ok(out)
    }

    /// Names of the nodes with an edge into `name`.
    pub fn preds(&self, name: &str) -> Vec<&str> {
        self.edges
            .iter()
            .filter(|(_, b)| b == name)
            .map(|(a, _)| a.as_str())
            .collect()
    }

    /// Names of the nodes `name` has an edge to.
    pub fn succs(&self, name: &str) -> Vec<&str> {
        self.edges
            .iter()
            .filter(|(a, _)| a == name)
            .map(|(_, b)| b.as_str())
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn subgraphs_flatten_with_prefixed_names_and_ports() {
        let mut sub = Graph::default();
        sub.nodes.insert(
            "input".into(),
            Node::new("Input", [("shape", Param::vector(vec![2.0]))]),
        );
        sub.nodes.insert(
            "lif".into(),
            Node::new("LIF", [("tau", Param::scalar(1.0))]),
        );
        sub.nodes.insert(
            "output".into(),
            Node::new("Output", [("shape", Param::vector(vec![2.0]))]),
        );
        sub.edges = vec![
            ("input".into(), "lif".into()),
            ("lif".into(), "output".into()),
        ];
        let mut g = Graph::default();
        g.nodes.insert(
            "in".into(),
            Node::new("Input", [("shape", Param::vector(vec![2.0]))]),
        );
        g.nodes.insert(
            "sub".into(),
            Node {
                kind: "NIRGraph".into(),
                graph: Some(sub),
                ..Node::default()
            },
        );
        g.nodes.insert(
            "out".into(),
            Node::new("Output", [("shape", Param::vector(vec![2.0]))]),
        );
        g.edges = vec![("in".into(), "sub".into()), ("sub".into(), "out".into())];
        let f = g.flattened().unwrap();
        assert_eq!(f.nodes["sub.lif"].kind, "LIF");
        assert_eq!(f.nodes["sub.input"].kind, "Identity");
        assert_eq!(f.preds("sub.input"), vec!["in"]);
        assert_eq!(f.succs("sub.output"), vec!["out"]);
        let mut bad = g.clone();
        bad.edges.push(("in".into(), "nowhere".into()));
        assert!(bad.flattened().unwrap_err().to_string().contains("nowhere"));
    }
}
