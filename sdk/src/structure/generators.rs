//! Structure generators (nn4n `mask` module): build the sparsity and E/I masks of the three
//! weight matrices of a rate or spiking network from a few numbers, deterministically from a seed.
//!
//! - [`RandomInput`]: each input channel reaches a random fraction of hidden neurons; hidden and
//!   readout connections are random with given densities; optional Dale's law (`exc_pct`).
//! - [`MultiArea`]: hidden neurons split into areas; `area_connectivities[i][j]` is the probability
//!   of a synapse from area `j` to area `i` (1.0 on the diagonal = dense within an area); inputs
//!   reach only `input_areas`, the readout reads only `readout_areas`.
//! - [`MultiAreaEi`]: [`MultiArea`] with the first `exc_pct` of every area excitatory and the rest
//!   inhibitory; between areas only the allowed pair types (`inter_area_connections` =
//!   `[E→E, E→I, I→E, I→I]`, default only from E) connect; inputs are excitatory; the readout reads
//!   E neurons only unless `inh_readout`.
//!
//! Matrices are `[out, in]` row-major (row = postsynaptic). All generators validate their numbers
//! and return a clear error naming the field.

use serde::{Deserialize, Serialize};

use crate::structure::mask::{LayerMasks, MaskValue, PerLayer, SeedRng};

/// Names of the three layers, for messages.
const LAYERS: [&str; 3] = ["input", "hidden", "output"];

/// Generated masks for the input, hidden and output weights.
#[derive(Debug, Clone, PartialEq)]
pub struct StructureMasks {
    /// `[input, hidden, output]` sizes.
    pub dims: [usize; 3],
    /// Sparsity masks (0/1), row-major `[out, in]`, per layer.
    pub sparsity: [Vec<f32>; 3],
    /// E/I sign matrices per layer (Dale's law), if the structure has E/I.
    pub ei: Option<[Vec<f32>; 3]>,
    /// E/I label (+1 / -1) of each hidden neuron, if the structure has E/I.
    pub hidden_labels: Option<Vec<f32>>,
}

impl StructureMasks {
    /// Weight shapes `[out, in]` of the three layers.
    pub fn shapes(&self) -> [[usize; 2]; 3] {
        let [i, n, o] = self.dims;
        [[n, i], [n, n], [o, n]]
    }

    /// The sparsity masks as a per-layer config value.
    pub fn sparsity_masks(&self) -> PerLayer<MaskValue> {
        let s = self.shapes();
        PerLayer::Each(
            (0..3)
                .map(|k| MaskValue::from_row_major(&self.sparsity[k], s[k][0], s[k][1]))
                .collect(),
        )
    }

    /// The E/I masks as a per-layer config value (`"none"` everywhere without E/I).
    pub fn ei_masks(&self) -> PerLayer<MaskValue> {
        let s = self.shapes();
        match &self.ei {
            None => PerLayer::All(MaskValue::None),
            Some(ei) => PerLayer::Each(
                (0..3)
                    .map(|k| MaskValue::from_row_major(&ei[k], s[k][0], s[k][1]))
                    .collect(),
            ),
        }
    }

    /// The E/I labels of the hidden neurons as a mask value for the hidden layer (or none).
    pub fn ei_labels(&self) -> MaskValue {
        match &self.hidden_labels {
            Some(l) => MaskValue::Labels(l.iter().map(|&x| x as f64).collect()),
            None => MaskValue::None,
        }
    }

    /// [`LayerMasks`] for the three weights (sparsity and E/I set).
    pub fn layer_masks(&self) -> crate::structure::mask::Result<[LayerMasks; 3]> {
        let s = self.shapes();
        let make = |k: usize| -> crate::structure::mask::Result<LayerMasks> {
            let mut m =
                LayerMasks::new(LAYERS[k], s[k][0], s[k][1]).with_sparsity(&self.sparsity[k])?;
            if let Some(ei) = &self.ei {
                m = m.with_ei(&ei[k])?;
            }
            Ok(m)
        };
        Ok([make(0)?, make(1)?, make(2)?])
    }
}

/// A structure generator chosen in a config (`[structure] kind = "multi_area_ei" …`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Structure {
    /// See [`RandomInput`].
    RandomInput(RandomInput),
    /// See [`MultiArea`].
    MultiArea(MultiArea),
    /// See [`MultiAreaEi`].
    MultiAreaEi(MultiAreaEi),
}

impl Structure {
    /// Generates the masks for `dims` from `seed`.
    pub fn build(&self, dims: [usize; 3], seed: u64) -> Result<StructureMasks, String> {
        match self {
            Structure::RandomInput(s) => s.build(dims, seed),
            Structure::MultiArea(s) => s.build(dims, seed),
            Structure::MultiAreaEi(s) => s.build(dims, seed),
        }
    }
}

fn check_prob(name: &str, p: f64) -> Result<(), String> {
    if (0.0..=1.0).contains(&p) {
        Ok(())
    } else {
        Err(format!("{name} must be a probability in [0, 1], got {p}"))
    }
}

/// Random sparse input, hidden and readout connectivity, optionally with Dale's law.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct RandomInput {
    /// Probability that an input channel connects to a hidden neuron.
    pub input_density: f64,
    /// Probability of each hidden→hidden synapse.
    pub hidden_density: f64,
    /// Probability that a hidden neuron connects to an output.
    pub readout_density: f64,
    /// Whether the hidden diagonal may be nonzero.
    pub self_connections: bool,
    /// Fraction of excitatory hidden neurons; `None` = no E/I constraint.
    pub exc_pct: Option<f64>,
}

impl Default for RandomInput {
    fn default() -> Self {
        Self {
            input_density: 0.5,
            hidden_density: 1.0,
            readout_density: 1.0,
            self_connections: false,
            exc_pct: None,
        }
    }
}

impl RandomInput {
    /// Generates the masks.
    pub fn build(&self, dims: [usize; 3], seed: u64) -> Result<StructureMasks, String> {
        check_prob("input_density", self.input_density)?;
        check_prob("hidden_density", self.hidden_density)?;
        check_prob("readout_density", self.readout_density)?;
        if let Some(e) = self.exc_pct {
            check_prob("exc_pct", e)?;
        }
        let [ni, n, no] = dims;
        let mut rng = SeedRng::derive(seed, 0x7374_7275);
        let mut draw = |len: usize, p: f64| -> Vec<f32> {
            (0..len).map(|_| rng.bernoulli(p) as u8 as f32).collect()
        };
        let input = draw(n * ni, self.input_density);
        let mut hidden = draw(n * n, self.hidden_density);
        let readout = draw(no * n, self.readout_density);
        if !self.self_connections {
            (0..n).for_each(|i| hidden[i * n + i] = 0.0);
        }
        let labels = self.exc_pct.map(|e| split_labels(n, e));
        let ei = labels.as_ref().map(|l| ei_from_labels(dims, l));
        Ok(StructureMasks {
            dims,
            sparsity: [input, hidden, readout],
            ei,
            hidden_labels: labels,
        })
    }
}

/// `+1` for the first `round(exc_pct * n)` neurons, `-1` for the rest.
fn split_labels(n: usize, exc_pct: f64) -> Vec<f32> {
    let n_exc = (exc_pct * n as f64).round() as usize;
    (0..n).map(|i| if i < n_exc { 1.0 } else { -1.0 }).collect()
}

/// E/I sign matrices: inputs excitatory, hidden and readout columns signed by the presynaptic
/// hidden label.
fn ei_from_labels(dims: [usize; 3], labels: &[f32]) -> [Vec<f32>; 3] {
    let [ni, n, no] = dims;
    let input = vec![1.0; n * ni];
    let hidden = (0..n * n).map(|k| labels[k % n]).collect();
    let readout = (0..no * n).map(|k| labels[k % n]).collect();
    [input, hidden, readout]
}

/// Hidden neurons in areas with given area-to-area connection probabilities.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct MultiArea {
    /// Number of areas (hidden neurons split as evenly as possible, first areas larger).
    pub n_areas: usize,
    /// `[to][from]` probabilities, `n_areas × n_areas`; empty = 1 within, 0.1 between areas.
    pub area_connectivities: Vec<Vec<f64>>,
    /// Areas that receive the input (default: area 0).
    pub input_areas: Vec<usize>,
    /// Areas the readout reads (default: the last area).
    pub readout_areas: Vec<usize>,
    /// Whether the hidden diagonal may be nonzero.
    pub self_connections: bool,
}

impl Default for MultiArea {
    fn default() -> Self {
        Self {
            n_areas: 2,
            area_connectivities: Vec::new(),
            input_areas: vec![0],
            readout_areas: Vec::new(),
            self_connections: false,
        }
    }
}

impl MultiArea {
    /// Area index of each hidden neuron.
    pub fn area_of(&self, n: usize) -> Vec<usize> {
        let a = self.n_areas.max(1);
        let (base, extra) = (n / a, n % a);
        (0..a)
            .flat_map(|k| std::iter::repeat_n(k, base + usize::from(k < extra)))
            .collect()
    }

    fn connectivities(&self) -> Result<Vec<Vec<f64>>, String> {
        let a = self.n_areas;
        if self.area_connectivities.is_empty() {
            return Ok((0..a)
                .map(|i| (0..a).map(|j| if i == j { 1.0 } else { 0.1 }).collect())
                .collect());
        }
        let m = &self.area_connectivities;
        if m.len() != a || m.iter().any(|r| r.len() != a) {
            return Err(format!(
                "area_connectivities must be {a} x {a} (n_areas = {a}), got {} rows of lengths {:?}",
                m.len(),
                m.iter().map(Vec::len).collect::<Vec<_>>()
            ));
        }
        for (i, row) in m.iter().enumerate() {
            for (j, &p) in row.iter().enumerate() {
                check_prob(&format!("area_connectivities[{i}][{j}]"), p)?;
            }
        }
        Ok(m.clone())
    }

    fn check(&self, n: usize) -> Result<(), String> {
        if self.n_areas == 0 || self.n_areas > n {
            return Err(format!(
                "n_areas must be in 1..={n} (the hidden size), got {}",
                self.n_areas
            ));
        }
        for (name, list) in [
            ("input_areas", &self.input_areas),
            ("readout_areas", &self.readout_areas),
        ] {
            if let Some(&a) = list.iter().find(|&&a| a >= self.n_areas) {
                return Err(format!(
                    "{name} names area {a}, but there are only {} areas",
                    self.n_areas
                ));
            }
        }
        Ok(())
    }

    /// Generates the masks (no E/I).
    pub fn build(&self, dims: [usize; 3], seed: u64) -> Result<StructureMasks, String> {
        self.build_with(dims, seed, |_, _| true)
    }

    /// Shared by [`MultiArea`] and [`MultiAreaEi`]: `allow(post, pre)` filters hidden synapses
    /// between different areas.
    fn build_with(
        &self,
        dims: [usize; 3],
        seed: u64,
        allow: impl Fn(usize, usize) -> bool,
    ) -> Result<StructureMasks, String> {
        let [ni, n, no] = dims;
        self.check(n)?;
        let conn = self.connectivities()?;
        let area = self.area_of(n);
        let readout_areas: Vec<usize> = if self.readout_areas.is_empty() {
            vec![self.n_areas - 1]
        } else {
            self.readout_areas.clone()
        };
        let mut rng = SeedRng::derive(seed, 0x6172_6561);
        let input: Vec<f32> = (0..n * ni)
            .map(|k| self.input_areas.contains(&area[k / ni]) as u8 as f32)
            .collect();
        let mut hidden = vec![0.0f32; n * n];
        for i in 0..n {
            for j in 0..n {
                if i == j && !self.self_connections {
                    continue;
                }
                let same = area[i] == area[j];
                if (same || allow(i, j)) && rng.bernoulli(conn[area[i]][area[j]]) {
                    hidden[i * n + j] = 1.0;
                }
            }
        }
        let readout: Vec<f32> = (0..no * n)
            .map(|k| readout_areas.contains(&area[k % n]) as u8 as f32)
            .collect();
        Ok(StructureMasks {
            dims,
            sparsity: [input, hidden, readout],
            ei: None,
            hidden_labels: None,
        })
    }
}

/// [`MultiArea`] with excitatory and inhibitory neurons in every area (Dale's law).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct MultiAreaEi {
    /// Areas, connectivities, input and readout areas.
    #[serde(flatten)]
    pub areas: MultiArea,
    /// Fraction of excitatory neurons in each area (the first ones of the area).
    pub exc_pct: f64,
    /// Allowed inter-area pair types `[E→E, E→I, I→E, I→I]`.
    pub inter_area_connections: [bool; 4],
    /// Whether inhibitory neurons feed the readout.
    pub inh_readout: bool,
}

impl Default for MultiAreaEi {
    fn default() -> Self {
        Self {
            areas: MultiArea::default(),
            exc_pct: 0.8,
            inter_area_connections: [true, true, false, false],
            inh_readout: false,
        }
    }
}

impl MultiAreaEi {
    /// E/I label of each hidden neuron: the first `round(exc_pct * size)` of each area are E.
    pub fn labels(&self, n: usize) -> Vec<f32> {
        let area = self.areas.area_of(n);
        let mut labels = Vec::with_capacity(n);
        let mut start = 0;
        while start < n {
            let a = area[start];
            let size = area[start..].iter().take_while(|&&x| x == a).count();
            labels.extend(split_labels(size, self.exc_pct));
            start += size;
        }
        labels
    }

    /// Generates the masks with E/I signs.
    pub fn build(&self, dims: [usize; 3], seed: u64) -> Result<StructureMasks, String> {
        check_prob("exc_pct", self.exc_pct)?;
        let n = dims[1];
        let labels = self.labels(n);
        let kind = |i: usize| usize::from(labels[i] < 0.0); // 0 = E, 1 = I
        let allowed = self.inter_area_connections;
        let mut m = self.areas.build_with(dims, seed, |post, pre| {
            // Index: E→E 0, E→I 1, I→E 2, I→I 3 (pre→post).
            allowed[kind(pre) * 2 + kind(post)]
        })?;
        if !self.inh_readout {
            for (k, v) in m.sparsity[2].iter_mut().enumerate() {
                if labels[k % n] < 0.0 {
                    *v = 0.0;
                }
            }
        }
        m.ei = Some(ei_from_labels(dims, &labels));
        m.hidden_labels = Some(labels);
        Ok(m)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn random_input_densities_and_no_diagonal() {
        let s = RandomInput {
            input_density: 0.3,
            hidden_density: 0.2,
            exc_pct: Some(0.75),
            ..Default::default()
        }
        .build([4, 200, 2], 3)
        .unwrap();
        let dens = |v: &[f32]| v.iter().sum::<f32>() / v.len() as f32;
        assert!((dens(&s.sparsity[0]) - 0.3).abs() < 0.05);
        // Hidden: 0.2 of the off-diagonal entries.
        assert!((dens(&s.sparsity[1]) - 0.2 * 199.0 / 200.0).abs() < 0.01);
        assert!((0..200).all(|i| s.sparsity[1][i * 200 + i] == 0.0));
        let labels = s.hidden_labels.as_ref().unwrap();
        assert_eq!(labels.iter().filter(|&&x| x > 0.0).count(), 150);
        let m = s.layer_masks().unwrap();
        assert_eq!(m[1].ei_counts(), (150, 50));
        assert_eq!(
            s,
            RandomInput {
                input_density: 0.3,
                hidden_density: 0.2,
                exc_pct: Some(0.75),
                ..Default::default()
            }
            .build([4, 200, 2], 3)
            .unwrap()
        );
    }

    #[test]
    fn multi_area_ei_blocks() {
        let g = MultiAreaEi {
            areas: MultiArea {
                n_areas: 3,
                area_connectivities: vec![
                    vec![1.0, 0.5, 0.5],
                    vec![0.5, 1.0, 0.5],
                    vec![0.5, 0.5, 1.0],
                ],
                input_areas: vec![0],
                readout_areas: vec![2],
                self_connections: false,
            },
            ..Default::default()
        };
        let n = 30;
        let s = g.build([2, n, 1], 9).unwrap();
        let area = g.areas.area_of(n);
        let labels = g.labels(n);
        for i in 0..n {
            for j in 0..n {
                let present = s.sparsity[1][i * n + j] != 0.0;
                if area[i] == area[j] {
                    assert_eq!(present, i != j, "dense within an area");
                } else if labels[j] < 0.0 {
                    assert!(!present, "no inhibitory projection between areas");
                }
            }
            assert_eq!(
                s.sparsity[0][i * 2] != 0.0,
                area[i] == 0,
                "input only to area 0"
            );
            assert_eq!(
                s.sparsity[2][i] != 0.0,
                area[i] == 2 && labels[i] > 0.0,
                "readout from E neurons of area 2"
            );
        }
        assert_eq!(labels.iter().filter(|&&x| x > 0.0).count(), 24);
        let e = MultiArea {
            n_areas: 2,
            area_connectivities: vec![vec![1.0]],
            ..Default::default()
        }
        .build([1, 10, 1], 0)
        .unwrap_err();
        assert!(e.contains("2 x 2"), "{e}");
        let e = MultiArea {
            readout_areas: vec![5],
            ..Default::default()
        }
        .build([1, 10, 1], 0)
        .unwrap_err();
        assert!(e.contains("readout_areas") && e.contains('5'), "{e}");
    }
}

#[cfg(test)]
mod serde_tests {
    use super::*;

    #[derive(Serialize, Deserialize, Debug, PartialEq)]
    struct Doc {
        structure: Structure,
    }

    #[test]
    fn toml_round_trip_and_typos_rejected() {
        let text = r#"
            [structure]
            kind = "multi_area_ei"
            n_areas = 3
            input_areas = [0]
            exc_pct = 0.75
        "#;
        let doc: Doc = toml::from_str(text).unwrap();
        let Structure::MultiAreaEi(s) = &doc.structure else {
            panic!("{doc:?}")
        };
        assert_eq!((s.areas.n_areas, s.exc_pct), (3, 0.75));
        let back: Doc = toml::from_str(&toml::to_string(&doc).unwrap()).unwrap();
        assert_eq!(back, doc);
        for typo in ["exc_pctt = 0.8", "n_area = 2"] {
            let bad = format!("[structure]\nkind = \"multi_area_ei\"\n{typo}\n");
            assert!(toml::from_str::<Doc>(&bad).is_err(), "{typo} accepted");
        }
        let bad = "[structure]\nkind = \"random_input\"\nhidden_densty = 0.3\n";
        assert!(toml::from_str::<Doc>(bad).is_err());
    }
}
