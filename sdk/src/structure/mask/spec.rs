//! Configuration values for masks and per-layer settings: a single value or one per layer.

use serde::{Deserialize, Serialize};

/// A setting given once (broadcast to every layer) or once per layer (`[input, hidden, output]`
/// for a CTRNN), as nn4n does: `weights = "normal"` or `weights = ["uniform", "normal", "zero"]`.
///
/// In TOML a list whose length equals the number of layers is read per layer first; anything
/// else is read as one value for all layers.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum PerLayer<T> {
    /// One value per layer, in layer order.
    Each(Vec<T>),
    /// One value for every layer.
    All(T),
}

impl<T: Clone> PerLayer<T> {
    /// The value for each of `n` layers; a per-layer list of the wrong length is an error
    /// naming the setting.
    pub fn resolve(&self, what: &str, n: usize) -> Result<Vec<T>, String> {
        match self {
            PerLayer::All(v) => Ok(vec![v.clone(); n]),
            PerLayer::Each(vs) if vs.len() == n => Ok(vs.clone()),
            PerLayer::Each(vs) => Err(format!(
                "{what}: a list gives one value per layer, so it needs {n} entries, got {}",
                vs.len()
            )),
        }
    }
}

impl PerLayer<MaskValue> {
    /// Like [`PerLayer::resolve`], but a list of plain numbers whose length is not the number of
    /// layers is read as one [`MaskValue::Labels`] for every layer (e.g. E/I labels).
    pub fn resolve_masks(&self, what: &str, n: usize) -> Result<Vec<MaskValue>, String> {
        if let PerLayer::Each(vs) = self {
            if vs.len() != n && vs.iter().all(|v| matches!(v, MaskValue::Fill(_))) {
                let labels = vs
                    .iter()
                    .map(|v| match v {
                        MaskValue::Fill(x) => *x,
                        _ => 0.0,
                    })
                    .collect();
                return Ok(vec![MaskValue::Labels(labels); n]);
            }
        }
        self.resolve(what, n)
    }
}

impl<T: Default> Default for PerLayer<T> {
    fn default() -> Self {
        PerLayer::All(T::default())
    }
}

/// The value of one mask of one layer (its weight matrix is `[out, in]`, rows = postsynaptic).
///
/// Meaning per mask kind: sparsity (0 = no synapse, anything else = synapse), E/I (sign > 0
/// excitatory, < 0 inhibitory, 0 unconstrained), plasticity (learning-rate scale >= 0),
/// growth (probability in `[0, 1]` per optimiser step of growing a synapse where there is none).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Default)]
#[serde(untagged)]
pub enum MaskValue {
    /// No mask (TOML: `"none"`).
    #[default]
    #[serde(with = "none_string")]
    None,
    /// The same value at every synapse.
    Fill(f64),
    /// One value per presynaptic neuron (a column of the `[out, in]` matrix), e.g. E/I labels.
    Labels(Vec<f64>),
    /// The full `[out, in]` matrix, row by row.
    Matrix(Vec<Vec<f64>>),
}

impl MaskValue {
    /// True for [`MaskValue::None`].
    pub fn is_none(&self) -> bool {
        matches!(self, MaskValue::None)
    }

    /// A full matrix from a row-major slice of `rows * cols` values.
    pub fn from_row_major(values: &[f32], rows: usize, cols: usize) -> Self {
        MaskValue::Matrix(
            (0..rows)
                .map(|r| {
                    values[r * cols..(r + 1) * cols]
                        .iter()
                        .map(|&v| v as f64)
                        .collect()
                })
                .collect(),
        )
    }
}

/// (De)serialises the unit variant as the string `"none"`.
mod none_string {
    use serde::{de::Error, Deserialize, Deserializer, Serializer};

    pub fn serialize<S: Serializer>(s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str("none")
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<(), D::Error> {
        let s = String::deserialize(d)?;
        if s == "none" {
            Ok(())
        } else {
            Err(D::Error::custom(format!("expected \"none\", got {s:?}")))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Deserialize, Serialize, Debug)]
    struct Doc {
        a: PerLayer<MaskValue>,
        b: PerLayer<MaskValue>,
        c: PerLayer<MaskValue>,
    }

    #[test]
    fn toml_forms_parse_and_round_trip() {
        let doc: Doc = toml::from_str(
            r#"
            a = "none"
            b = ["none", 0.5, [[1.0, 0.0], [0.0, 1.0]]]
            c = [1.0, -1.0]
            "#,
        )
        .unwrap();
        assert_eq!(doc.a, PerLayer::All(MaskValue::None));
        assert_eq!(
            doc.b,
            PerLayer::Each(vec![
                MaskValue::None,
                MaskValue::Fill(0.5),
                MaskValue::Matrix(vec![vec![1.0, 0.0], vec![0.0, 1.0]])
            ])
        );
        // Two entries: per layer if the network has two layers, else read as labels.
        assert_eq!(
            doc.c,
            PerLayer::Each(vec![MaskValue::Fill(1.0), MaskValue::Fill(-1.0)])
        );
        assert!(doc.c.resolve("c", 3).is_err());
        assert_eq!(
            doc.c.resolve_masks("c", 3).unwrap(),
            vec![MaskValue::Labels(vec![1.0, -1.0]); 3]
        );
        let back: Doc = toml::from_str(&toml::to_string(&doc).unwrap()).unwrap();
        assert_eq!(back.b, doc.b);
    }
}
