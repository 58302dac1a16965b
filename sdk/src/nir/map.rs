//! NIR graph ⇄ our layers: the discretisation and every per-node mapping.
//!
//! **Discretisation** (NIR is continuous time and files carry no `dt`; the user gives it, as
//! NIR's reference and the snnTorch/Norse importers do): forward Euler with step `dt`,
//! initial state zero, a recurrent edge delivers the previous step's spikes.
//!
//! | NIR node | per step | our layer |
//! |---|---|---|
//! | `LIF(tau, r, v_leak = 0, v_threshold, v_reset = 0)` | `v += dt/tau·(v_leak − v + r·I)`; spike when `v > v_threshold`; then `v = v_reset` | `leaky`: `beta = 1 − dt/tau`, input scale `k = r·dt/tau` folded into the weights and bias |
//! | `CubaLIF(tau_syn, tau_mem, r, v_leak = 0, v_threshold, v_reset = 0, w_in)` | `i += dt/tau_syn·(−i + w_in·S)`, then the LIF update with `I = i` | `synaptic`: `alpha = 1 − dt/tau_syn`, `beta = 1 − dt/tau_mem`, `k = (dt/tau_syn)·w_in·(dt/tau_mem)·r` (our current is `i' = (dt/tau_mem)·r·i`); exported to the integer engine as a current-based layer (format v3) |
//! | `IF(r, v_threshold, v_reset = 0)` | `v += r·I` | `leaky` with `beta = 1`, `k = r` |
//! | `Threshold(threshold)` | spike when `I > threshold` (no state) | `leaky` with `beta = 0`, reset `zero` |
//! | `LI(tau, r, v_leak = 0)`, the last layer only | `v += dt/tau·(v_leak − v + r·I)`, no spike | `readout`: `beta = 1 − dt/tau`, `k = r·dt/tau` (non-spiking; the class value is `max_t v`; on the integer engine format v3's `Output::MaxMembrane`) |
//! | `I(r)`, the last layer only | `v += dt·r·I` (Euler of `dv/dt = r·I`) | `readout` with `beta = 1`, `k = dt·r` |
//! | `CubaLI(tau_syn, tau_mem, r, v_leak = 0, w_in)`, the last layer only | `i += dt/tau_syn·(−i + w_in·S)`, then the LI update with `I = i` | `synaptic_readout`: `alpha`, `beta` and `k` as for CubaLIF (a current-based readout on the integer engine) |
//! | `Affine(W, b)`, `Linear(W)`, `Scale(s)`, `Flatten`, nested `NIRGraph` | act in the same step | composed into one affine map `W x + b` per layer (`w_ff`, `bias`) |
//! | cycle `LIF → Affine(W_rec, b_rec) → LIF` | `I(t) += W_rec z(t−1) + b_rec` | `recurrent`: `w_rec = k·W_rec`, `b_rec` joins the bias |
//! | cycle `CubaLIF → Affine(W_rec, b_rec) → CubaLIF` | the same `I(t)` into the synaptic current | `recurrent_synaptic` (the recurrent input enters the current, as snnTorch's `RSynaptic` does) |
//!
//! Thresholds: one per layer; per-neuron thresholds `θ_i` that differ are normalised away
//! (`v_i/θ_i`: the weights and bias of neuron `i` are divided by `θ_i`, threshold 1), which is
//! exact for reset-to-zero and subtract. An input scale within `1e−6` of 1 is taken as exactly 1
//! (snnTorch writes `r = tau/dt` so that `k = 1`). Our spike is `u ≥ θ` where NIR's is `v > θ`:
//! they differ only when a membrane lands exactly on the threshold. `b_rec` is added from step
//! 0, as snnTorch's `RLeaky` does, where NIR's reference delivers nothing at step 0.
//!
//! **Reset**: NIR has only `v_reset` (reset to a value). `v_reset = 0` is our `zero` reset. Our
//! `subtract` and `none` resets have no NIR field: the export writes `v_reset = 0` and the
//! metadata string `snn_reset` (`subtract` / `zero` / `none`), which our import reads back;
//! other tools see a reset to zero. The export also writes the exact decays as metadata
//! `snn_beta` / `snn_alpha` (float32 per neuron) so that run → NIR → run gives the same bits; an
//! import uses them only when they agree with the time constants to `1e−5`.
//!
//! **Rockpool** ([`Semantics::Rockpool`], `snn import --semantics rockpool`): Rockpool 3.1's
//! exporter writes its `LIFTorch` as a CubaLIF and its `LIFNeuronTorch` as a LIF, but its own
//! neurons are not NIR's Euler ODE: per step `i = exp(−dt/tau_syn)·(i + I)` (the input decays
//! with the current in the step it arrives), `v = exp(−dt/tau_mem)·v + i`, spike when
//! `v ≥ v_threshold` (up to `max_spikes_per_dt` spikes per step; only 1 maps onto a NIR node),
//! subtract the threshold; the file says none of this (`v_reset = 0`, `w_in = 1`, and
//! `r = tau_mem·exp(−dt/tau_mem)/dt`, which under NIR's Euler reading scales the input by
//! `(dt/tau_syn)·exp(−dt/tau_mem)` instead of Rockpool's `exp(−dt/tau_syn)`). The Rockpool reading
//! maps it exactly: `alpha = exp(−dt/tau_syn)`, `beta = exp(−dt/tau_mem)`, input scale
//! `k = exp(−dt/tau_syn)·w_in` (1 for a LIF), subtract reset; it checks that `r` is Rockpool's
//! at the given `dt` and refuses the node otherwise (another tool's file, or another `dt`).
//! `LIFTorch`'s own bias (added to `v`) is not exported by Rockpool; an `Affine` bias before it
//! enters the current like the weights.
//!
//! **Readout**: an `LI`, `I` or `CubaLI` node is the network's last layer, read by the `Output`
//! (snnTorch's and Norse's membrane readouts); its value is the membrane itself, and a run
//! decides on each class's maximum over the steps. The export writes a `readout` layer back as
//! `LI` (`tau = dt/(1 − beta)`, `r = tau/dt`, so `k = 1`) or, with `beta = 1` everywhere, as `I`
//! (`r = 1/dt`), and a `synaptic_readout` as `CubaLI` (`r = tau_mem/dt`, `w_in = tau_syn/dt`),
//! with `snn_beta` / `snn_alpha`, so run → NIR → run is exact. A readout node anywhere but last,
//! or in a cycle (it would feed back a membrane, not spikes), is refused.
//!
//! Refused, with the node, its type and why: `Conv1d`/`Conv2d`, `SumPool2d`/`AvgPool2d`, `Delay` (no such layers),
//! `v_leak ≠ 0`, `v_reset ≠ 0`, `dt/tau ≥ 1` (Euler step past the time constant), graphs that
//! are not a chain of layers (branches, skips, a readout without neurons).

use std::collections::{BTreeMap, BTreeSet};

use crate::net::layer::{LayerConfig, LayerKind, Reset};
use crate::net::network::{FloatLayer, NetworkConfig};
use crate::nir::graph::{Graph, Meta, Node, Param};
use crate::nir::NirError;

/// The values of one imported layer, in our parametrisation.
#[derive(Clone, Debug, PartialEq)]
pub struct LayerValues {
    /// Feed-forward weights `[neurons, inputs]`, row-major.
    pub w_ff: Vec<f32>,
    /// Recurrent weights `[neurons, neurons]` (recurrent layers).
    pub w_rec: Option<Vec<f32>>,
    /// Bias per neuron (when any Affine feeds the layer).
    pub bias: Option<Vec<f32>>,
    /// Membrane decay per neuron.
    pub beta: Vec<f32>,
    /// Synaptic decay per neuron (`synaptic` layers).
    pub alpha: Option<Vec<f32>>,
}

/// An imported network: its config and the values of its parameters.
#[derive(Clone, Debug, PartialEq)]
pub struct Imported {
    /// The network architecture (validated).
    pub network: NetworkConfig,
    /// One entry per layer, in order.
    pub layers: Vec<LayerValues>,
    /// The NIR node name of each layer.
    pub names: Vec<String>,
}

const REFUSED: &[(&str, &str)] = &[
    ("Conv1d", "convolutions have no layer of ours yet"),
    ("Conv2d", "convolutions have no layer of ours yet"),
    ("SumPool2d", "pooling has no layer of ours yet"),
    ("AvgPool2d", "pooling has no layer of ours yet"),
    ("Delay", "synaptic delays have no layer of ours yet"),
];

const NEURONS: &[&str] = &["LIF", "CubaLIF", "IF", "Threshold", "LI", "I", "CubaLI"];
/// The non-spiking neuron nodes: a `readout` layer, the last one only.
const READOUTS: &[&str] = &["LI", "I", "CubaLI"];
const LINEAR: &[&str] = &["Affine", "Linear", "Scale", "Flatten", "Identity", "Output"];

fn node_err(name: &str, node: &Node, reason: impl Into<String>) -> NirError {
    NirError::Node {
        node: name.to_owned(),
        kind: node.kind.clone(),
        reason: reason.into(),
    }
}

/// An affine map into a node: one matrix per source (`Input` or a neuron node), and a bias.
#[derive(Clone, Debug)]
struct Lin {
    rows: usize,
    terms: BTreeMap<String, (usize, Vec<f64>)>,
    bias: Vec<f64>,
    has_bias: bool,
}

impl Lin {
    fn identity(source: &str, n: usize) -> Self {
        let mut m = vec![0.0; n * n];
        for i in 0..n {
            m[i * n + i] = 1.0;
        }
        Self {
            rows: n,
            terms: [(source.to_owned(), (n, m))].into(),
            bias: vec![0.0; n],
            has_bias: false,
        }
    }

    fn add(&mut self, o: Lin) {
        for (k, (cols, m)) in o.terms {
            match self.terms.get_mut(&k) {
                Some((_, mine)) => mine.iter_mut().zip(&m).for_each(|(a, b)| *a += b),
                None => {
                    self.terms.insert(k, (cols, m));
                }
            }
        }
        self.bias.iter_mut().zip(&o.bias).for_each(|(a, b)| *a += b);
        self.has_bias |= o.has_bias;
    }

    /// `A · self` for `A` `[out, rows]`.
    fn left_mul(&self, a: &[f64], out: usize) -> Self {
        let r = self.rows;
        let terms = self
            .terms
            .iter()
            .map(|(k, (cols, m))| {
                let mut res = vec![0.0; out * cols];
                for i in 0..out {
                    for j in 0..r {
                        let aij = a[i * r + j];
                        if aij != 0.0 {
                            for c in 0..*cols {
                                res[i * cols + c] += aij * m[j * cols + c];
                            }
                        }
                    }
                }
                (k.clone(), (*cols, res))
            })
            .collect();
        let bias = (0..out)
            .map(|i| (0..r).map(|j| a[i * r + j] * self.bias[j]).sum())
            .collect();
        Self {
            rows: out,
            terms,
            bias,
            has_bias: self.has_bias,
        }
    }
}

/// Broadcasts a parameter (0-d scalar or `n` values, any leading 1-dims) to `n` values.
fn per_neuron(name: &str, node: &Node, field: &str, n: usize) -> Result<Vec<f64>, NirError> {
    let p = node.param(name, field)?;
    match p.len() {
        1 => Ok(vec![p.data[0]; n]),
        m if m == n => Ok(p.data.clone()),
        m => Err(node_err(
            name,
            node,
            format!("`{field}` has {m} values for {n} neurons"),
        )),
    }
}

struct Importer<'a> {
    g: &'a Graph,
    sizes: BTreeMap<String, usize>,
    lins: BTreeMap<String, Lin>,
}

impl<'a> Importer<'a> {
    fn node(&self, name: &str) -> &'a Node {
        &self.g.nodes[name]
    }

    fn size(&mut self, name: &str, visiting: &mut BTreeSet<String>) -> Result<usize, NirError> {
        if let Some(&s) = self.sizes.get(name) {
            return Ok(s);
        }
        let node = self.node(name);
        if !visiting.insert(name.to_owned()) {
            return Err(node_err(
                name,
                node,
                "its size cannot be inferred (a cycle without weights)",
            ));
        }
        let from_params = |fields: &[&str]| {
            fields
                .iter()
                .filter_map(|f| node.params.get(*f))
                .map(Param::len)
                .max()
                .filter(|&m| m > 1)
        };
        let s = match node.kind.as_str() {
            "Input" => node.param(name, "shape")?.data.iter().product::<f64>() as usize,
            "Affine" | "Linear" => {
                let w = node.param(name, "weight")?;
                if w.shape.len() != 2 {
                    return Err(node_err(
                        name,
                        node,
                        format!("weight has shape {:?}, expected 2-d", w.shape),
                    ));
                }
                w.shape[0]
            }
            k => {
                let fields: &[&str] = match k {
                    "LIF" => &["tau", "r", "v_leak", "v_threshold", "v_reset"],
                    "CubaLIF" => &[
                        "tau_syn",
                        "tau_mem",
                        "r",
                        "v_leak",
                        "v_threshold",
                        "v_reset",
                        "w_in",
                    ],
                    "IF" => &["r", "v_threshold", "v_reset"],
                    "Threshold" => &["threshold"],
                    "LI" => &["tau", "r", "v_leak"],
                    "CubaLI" => &["tau_syn", "tau_mem", "r", "v_leak", "w_in"],
                    "I" => &["r"],
                    "Scale" => &["scale"],
                    _ => &[],
                };
                match from_params(fields) {
                    Some(s) => s,
                    None => {
                        let preds = self.g.preds(name);
                        let Some(p) = preds.first() else {
                            return Err(node_err(name, node, "has no input edge"));
                        };
                        self.size(p, visiting)?
                    }
                }
            }
        };
        visiting.remove(name);
        self.sizes.insert(name.to_owned(), s);
        Ok(s)
    }

    /// The affine map feeding `name` (the sum over its input edges).
    fn input_of(&mut self, name: &str, visiting: &mut BTreeSet<String>) -> Result<Lin, NirError> {
        let node = self.node(name);
        let preds: Vec<String> = self.g.preds(name).into_iter().map(str::to_owned).collect();
        if preds.is_empty() {
            return Err(node_err(name, node, "has no input edge"));
        }
        let mut acc: Option<Lin> = None;
        for p in preds {
            let pk = self.node(&p).kind.as_str();
            let l = if pk == "Input" || NEURONS.contains(&pk) {
                let n = self.size(&p, &mut BTreeSet::new())?;
                Lin::identity(&p, n)
            } else {
                self.output_of(&p, visiting)?
            };
            match &mut acc {
                None => acc = Some(l),
                Some(a) if a.rows == l.rows => a.add(l),
                Some(a) => {
                    return Err(node_err(
                        name,
                        node,
                        format!(
                            "its inputs disagree in size ({} and {} from `{p}`)",
                            a.rows, l.rows
                        ),
                    ))
                }
            }
        }
        Ok(acc.expect("at least one predecessor"))
    }

    /// The affine map a linear node outputs.
    fn output_of(&mut self, name: &str, visiting: &mut BTreeSet<String>) -> Result<Lin, NirError> {
        if let Some(l) = self.lins.get(name) {
            return Ok(l.clone());
        }
        let node = self.node(name);
        if !visiting.insert(name.to_owned()) {
            return Err(node_err(name, node, "is on a cycle without neurons"));
        }
        let input = self.input_of(name, visiting)?;
        let out = match node.kind.as_str() {
            "Affine" | "Linear" => {
                let w = node.param(name, "weight")?;
                if w.shape.len() != 2 || w.shape[1] != input.rows {
                    return Err(node_err(
                        name,
                        node,
                        format!(
                            "weight has shape {:?} but its input has {} values",
                            w.shape, input.rows
                        ),
                    ));
                }
                let mut l = input.left_mul(&w.data, w.shape[0]);
                if node.kind == "Affine" {
                    let b = per_neuron(name, node, "bias", w.shape[0])?;
                    l.bias.iter_mut().zip(&b).for_each(|(a, b)| *a += b);
                    l.has_bias = true;
                }
                l
            }
            "Scale" => {
                let s = per_neuron(name, node, "scale", input.rows)?;
                let n = input.rows;
                let mut d = vec![0.0; n * n];
                for i in 0..n {
                    d[i * n + i] = s[i];
                }
                input.left_mul(&d, n)
            }
            // Flatten of a vector, an inner subgraph port, the Output: pass-through.
            _ => input,
        };
        visiting.remove(name);
        self.lins.insert(name.to_owned(), out.clone());
        Ok(out)
    }
}

/// The neuron dynamics of one node in our terms.
struct Dyn {
    beta: Vec<f64>,
    alpha: Option<Vec<f64>>,
    scale: Vec<f64>,
    threshold: Vec<f64>,
    reset: Reset,
}

fn snap(x: f64) -> f64 {
    if (x - 1.0).abs() <= 1e-6 {
        1.0
    } else {
        x
    }
}

/// `1 − dt/tau`, or the exact metadata decay when it agrees.
fn decay(
    name: &str,
    node: &Node,
    field: &str,
    meta: &str,
    dt: f64,
    n: usize,
) -> Result<Vec<f64>, NirError> {
    let tau = per_neuron(name, node, field, n)?;
    let mut out = Vec::with_capacity(n);
    for &t in &tau {
        if !(t.is_finite() && t > 0.0) {
            return Err(node_err(
                name,
                node,
                format!("`{field}` = {t} is not a positive time constant"),
            ));
        }
        let k = dt / t;
        // 1e-6: a tau written as float32 for k = 1 (beta 0) reads back a few ulp short.
        if k > 1.0 + 1e-6 {
            return Err(node_err(
                name,
                node,
                format!("dt/{field} = {dt}/{t} = {k} > 1: the Euler step passes the time constant; give a smaller --dt"),
            ));
        }
        out.push((1.0 - k).max(0.0));
    }
    if let Some(m) = node.meta_numbers(meta).filter(|m| m.len() == n) {
        if m.data.iter().zip(&out).all(|(a, b)| (a - b).abs() <= 1e-5) {
            return Ok(m.data.clone());
        }
    }
    Ok(out)
}

/// How the neuron nodes of a file are read: NIR's own forward-Euler semantics (every tool but
/// Rockpool), or what Rockpool 3.1's exporter means by them (see the module docs).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, clap::ValueEnum, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Semantics {
    /// NIR's reference: forward Euler with step `dt`, spike when `v > v_threshold`.
    #[default]
    Nir,
    /// Rockpool 3.1 (`LIFTorch` → CubaLIF, `LIFNeuronTorch` → LIF): exact exponential decays
    /// `exp(−dt/tau)`, the synaptic current decays after its input is added, subtract reset.
    Rockpool,
}

/// Rockpool's exporter writes `r = tau·exp(−dt/tau)/dt`: checks it against `dt`, so a file of
/// another tool, or one exported at another dt, is refused rather than misread.
fn rockpool_r(name: &str, node: &Node, tau: &[f64], r: &[f64], dt: f64) -> Result<(), NirError> {
    for (t, r) in tau.iter().zip(r) {
        let want = t * (-dt / t).exp() / dt;
        if ((r - want) / want).abs() > 1e-4 {
            return Err(node_err(
                name,
                node,
                format!(
                    "r = {r} is not Rockpool's tau·exp(−dt/tau)/dt = {want} at dt = {dt}: \
                     not a Rockpool file, or exported with another dt"
                ),
            ));
        }
    }
    Ok(())
}

/// A neuron node under Rockpool's semantics (see [`Semantics::Rockpool`]): `LIFNeuronTorch`
/// is `v = exp(−dt/tau)·v + I`, `LIFTorch` is `i = exp(−dt/tau_syn)·(i + I)`,
/// `v = exp(−dt/tau_mem)·v + i`, both spiking when `v ≥ v_threshold` and subtracting it.
fn rockpool_dynamics(
    name: &str,
    node: &Node,
    n: usize,
    dt: f64,
    reset: Option<Reset>,
) -> Result<Option<Dyn>, NirError> {
    let reset = reset.unwrap_or(Reset::Subtract);
    let exp = |tau: &[f64]| -> Vec<f64> { tau.iter().map(|t| (-dt / t).exp()).collect() };
    Ok(match node.kind.as_str() {
        "LIF" => {
            let tau = per_neuron(name, node, "tau", n)?;
            rockpool_r(name, node, &tau, &per_neuron(name, node, "r", n)?, dt)?;
            Some(Dyn {
                beta: exp(&tau),
                alpha: None,
                scale: vec![1.0; n],
                threshold: per_neuron(name, node, "v_threshold", n)?,
                reset,
            })
        }
        "CubaLIF" => {
            let tm = per_neuron(name, node, "tau_mem", n)?;
            rockpool_r(name, node, &tm, &per_neuron(name, node, "r", n)?, dt)?;
            let alpha = exp(&per_neuron(name, node, "tau_syn", n)?);
            let w_in = if node.params.contains_key("w_in") {
                per_neuron(name, node, "w_in", n)?
            } else {
                vec![1.0; n]
            };
            Some(Dyn {
                beta: exp(&tm),
                scale: alpha.iter().zip(&w_in).map(|(a, w)| a * w).collect(),
                alpha: Some(alpha),
                threshold: per_neuron(name, node, "v_threshold", n)?,
                reset,
            })
        }
        _ => None,
    })
}

/// The membrane of `LIF` and `LI` (`tau`, `r`): `beta = 1 − dt/tau` (or its exact metadata),
/// input scale `r·dt/tau`; as a readout (no threshold, no reset) until a caller sets them.
fn leaky(name: &str, node: &Node, n: usize, dt: f64) -> Result<Dyn, NirError> {
    let beta = decay(name, node, "tau", "snn_beta", dt, n)?;
    let tau = per_neuron(name, node, "tau", n)?;
    let r = per_neuron(name, node, "r", n)?;
    Ok(Dyn {
        beta,
        alpha: None,
        scale: tau.iter().zip(&r).map(|(t, r)| snap(r * dt / t)).collect(),
        // A readout has no threshold (the config's 1.0 is never compared).
        threshold: vec![1.0; n],
        reset: Reset::None,
    })
}

/// The synaptic current and membrane of `CubaLIF` and `CubaLI` (`tau_syn`, `tau_mem`, `r`,
/// `w_in` = 1 when absent): `alpha = 1 − dt/tau_syn`, `beta = 1 − dt/tau_mem`, input scale
/// `(dt/tau_syn·w_in)·(dt/tau_mem·r)`; as a readout until a caller sets threshold and reset.
fn current_based(name: &str, node: &Node, n: usize, dt: f64) -> Result<Dyn, NirError> {
    let beta = decay(name, node, "tau_mem", "snn_beta", dt, n)?;
    let alpha = decay(name, node, "tau_syn", "snn_alpha", dt, n)?;
    let ts = per_neuron(name, node, "tau_syn", n)?;
    let tm = per_neuron(name, node, "tau_mem", n)?;
    let r = per_neuron(name, node, "r", n)?;
    let w_in = if node.params.contains_key("w_in") {
        per_neuron(name, node, "w_in", n)?
    } else {
        vec![1.0; n]
    };
    let scale = (0..n)
        .map(|i| snap(dt / ts[i] * w_in[i]) * snap(dt / tm[i] * r[i]))
        .collect();
    Ok(Dyn {
        beta,
        alpha: Some(alpha),
        scale,
        threshold: vec![1.0; n],
        reset: Reset::None,
    })
}

fn dynamics(
    name: &str,
    node: &Node,
    n: usize,
    dt: f64,
    semantics: Semantics,
) -> Result<Dyn, NirError> {
    let zero = |field: &str| -> Result<(), NirError> {
        if node.params.contains_key(field) {
            let v = per_neuron(name, node, field, n)?;
            if let Some(x) = v.iter().find(|x| **x != 0.0) {
                let why = if field == "v_leak" {
                    "our neurons leak towards 0"
                } else {
                    "our layers reset to 0 or subtract the threshold"
                };
                return Err(node_err(name, node, format!("`{field}` = {x} ≠ 0: {why}")));
            }
        }
        Ok(())
    };
    let meta_reset = match node.meta_text("snn_reset") {
        None => None,
        Some("zero") => Some(Reset::Zero),
        Some("subtract") => Some(Reset::Subtract),
        Some("none") => Some(Reset::None),
        Some(other) => {
            return Err(node_err(
                name,
                node,
                format!("metadata snn_reset = `{other}` is not subtract, zero or none"),
            ))
        }
    };
    let reset = meta_reset.unwrap_or(Reset::Zero);
    let rockpool = match semantics {
        Semantics::Rockpool => {
            zero("v_leak")?;
            rockpool_dynamics(name, node, n, dt, meta_reset)?
        }
        Semantics::Nir => None,
    };
    let d = if let Some(d) = rockpool {
        d
    } else {
        match node.kind.as_str() {
            "LIF" => {
                zero("v_leak")?;
                zero("v_reset")?;
                let base = leaky(name, node, n, dt)?;
                Dyn {
                    threshold: per_neuron(name, node, "v_threshold", n)?,
                    reset,
                    ..base
                }
            }
            "CubaLIF" => {
                zero("v_leak")?;
                zero("v_reset")?;
                let base = current_based(name, node, n, dt)?;
                Dyn {
                    threshold: per_neuron(name, node, "v_threshold", n)?,
                    reset,
                    ..base
                }
            }
            "LI" => {
                zero("v_leak")?;
                leaky(name, node, n, dt)?
            }
            "CubaLI" => {
                zero("v_leak")?;
                current_based(name, node, n, dt)?
            }
            "I" => Dyn {
                beta: vec![1.0; n],
                alpha: None,
                scale: per_neuron(name, node, "r", n)?
                    .into_iter()
                    .map(|r| snap(r * dt))
                    .collect(),
                threshold: vec![1.0; n],
                reset: Reset::None,
            },
            "IF" => {
                zero("v_reset")?;
                Dyn {
                    beta: vec![1.0; n],
                    alpha: None,
                    scale: per_neuron(name, node, "r", n)?
                        .into_iter()
                        .map(snap)
                        .collect(),
                    threshold: per_neuron(name, node, "v_threshold", n)?,
                    reset,
                }
            }
            _ => Dyn {
                beta: vec![0.0; n],
                alpha: None,
                scale: vec![1.0; n],
                threshold: per_neuron(name, node, "threshold", n)?,
                reset: Reset::Zero,
            },
        }
    };
    if let Some(t) = d.threshold.iter().find(|t| !(t.is_finite() && **t > 0.0)) {
        return Err(node_err(
            name,
            node,
            format!("threshold {t} is not positive: our thresholds are > 0"),
        ));
    }
    Ok(d)
}

/// One decay for the config: shared when every neuron has the same value, else per neuron
/// (learnt parametrisation, which needs values strictly inside (0, 1)).
fn decay_config(name: &str, node: &Node, what: &str, v: &[f64]) -> Result<(f64, bool), NirError> {
    let first = v[0] as f32;
    if v.iter().all(|&b| b as f32 == first) {
        return Ok((f64::from(first), false));
    }
    if let Some(b) = v.iter().find(|&&b| !(b > 0.0 && b < 1.0)) {
        return Err(node_err(
            name,
            node,
            format!("per-neuron {what} values differ and one is {b}: per-neuron decays must lie strictly inside (0, 1)"),
        ));
    }
    Ok((v.iter().sum::<f64>() / v.len() as f64, true))
}

/// Maps a NIR graph onto our layers with Euler step `dt` (seconds, or the unit of the file's
/// time constants).
pub fn import(graph: &Graph, dt: f64) -> Result<Imported, NirError> {
    import_as(graph, dt, Semantics::Nir)
}

/// [`import`] with the neuron nodes read under `semantics` (Rockpool's files need their own).
pub fn import_as(graph: &Graph, dt: f64, semantics: Semantics) -> Result<Imported, NirError> {
    if !(dt.is_finite() && dt > 0.0) {
        return Err(NirError::Graph(format!(
            "dt = {dt} is not a positive time step"
        )));
    }
    let g = graph.flattened()?;
    for (name, node) in &g.nodes {
        if let Some((_, why)) = REFUSED.iter().find(|(k, _)| *k == node.kind) {
            return Err(node_err(name, node, *why));
        }
        let k = node.kind.as_str();
        if k != "Input" && !NEURONS.contains(&k) && !LINEAR.contains(&k) {
            return Err(node_err(name, node, "is not a NIR node type we know"));
        }
        if k == "Flatten" {
            // We hold one vector per step: flattening it (or a [1, N] batch) changes nothing.
        }
    }
    let find = |kind: &str| -> Result<String, NirError> {
        let v: Vec<&String> = g
            .nodes
            .iter()
            .filter(|(_, n)| n.kind == kind)
            .map(|(k, _)| k)
            .collect();
        match v.as_slice() {
            [one] => Ok((*one).clone()),
            [] => Err(NirError::Graph(format!("the graph has no {kind} node"))),
            many => Err(NirError::Graph(format!(
                "the graph has {} {kind} nodes ({}); we map exactly one",
                many.len(),
                many.iter()
                    .map(|s| s.as_str())
                    .collect::<Vec<_>>()
                    .join(", ")
            ))),
        }
    };
    let input = find("Input")?;
    let output = find("Output")?;
    let mut im = Importer {
        g: &g,
        sizes: BTreeMap::new(),
        lins: BTreeMap::new(),
    };
    let input_size = im.size(&input, &mut BTreeSet::new())?;
    let neurons: Vec<String> = g
        .nodes
        .iter()
        .filter(|(_, n)| NEURONS.contains(&n.kind.as_str()))
        .map(|(k, _)| k.clone())
        .collect();
    let mut inputs = BTreeMap::new();
    for n in &neurons {
        let l = im.input_of(n, &mut BTreeSet::new())?;
        inputs.insert(n.clone(), l);
    }
    // Follow the chain from the Input.
    let mut order: Vec<String> = Vec::new();
    let mut cur = input.clone();
    loop {
        let next: Vec<&String> = neurons
            .iter()
            .filter(|n| inputs[*n].terms.contains_key(&cur) && **n != cur)
            .collect();
        match next.as_slice() {
            [] => break,
            [one] => {
                order.push((*one).clone());
                cur = (*one).clone();
            }
            many => {
                return Err(NirError::Graph(format!(
                    "`{cur}` feeds {} neuron nodes ({}): only a chain of layers maps onto ours",
                    many.len(),
                    many.iter()
                        .map(|s| s.as_str())
                        .collect::<Vec<_>>()
                        .join(", ")
                )))
            }
        }
        if order.len() > neurons.len() {
            return Err(NirError::Graph("the layers form a loop".into()));
        }
    }
    for n in &neurons {
        if !order.contains(n) {
            return Err(node_err(
                n,
                &g.nodes[n],
                "is not on the chain of layers from the Input",
            ));
        }
    }
    let Some(last) = order.last().cloned() else {
        return Err(NirError::Graph(
            "no neuron node is reachable from the Input".into(),
        ));
    };
    // The Output must read the last layer's spikes unchanged.
    let out = im.input_of(&output, &mut BTreeSet::new())?;
    let n_last = im.size(&last, &mut BTreeSet::new())?;
    let ident = Lin::identity(&last, n_last);
    if out.terms.len() != 1
        || out.has_bias
        || out.terms.get(&last).map(|t| &t.1) != ident.terms.get(&last).map(|t| &t.1)
    {
        return Err(node_err(
            &output,
            &g.nodes[&output],
            format!("does not read the spikes of the last layer `{last}` unchanged (a readout without neurons has no layer of ours)"),
        ));
    }
    let mut network = NetworkConfig {
        input_size,
        layers: Vec::new(),
    };
    let mut layers = Vec::new();
    let mut prev = input.clone();
    for name in &order {
        let node = &g.nodes[name];
        let lin = &inputs[name];
        let n = lin.rows;
        for src in lin.terms.keys() {
            if src != &prev && src != name {
                return Err(node_err(
                    name,
                    node,
                    format!("receives from `{src}` besides `{prev}`: skip connections have no layer of ours"),
                ));
            }
        }
        let readout = READOUTS.contains(&node.kind.as_str());
        if readout && name != &last {
            return Err(node_err(
                name,
                node,
                "a non-spiking readout feeds further layers: a readout is the last layer only (it has no spikes to pass on)",
            ));
        }
        if readout && lin.terms.contains_key(name) {
            return Err(node_err(
                name,
                node,
                "a non-spiking readout in a cycle would feed back its membrane, which no layer of ours does",
            ));
        }
        let d = if readout {
            // Rockpool writes no LI; every tool's LI / I is read with NIR's Euler semantics.
            dynamics(name, node, n, dt, Semantics::Nir)?
        } else {
            dynamics(name, node, n, dt, semantics)?
        };
        let shared_th = d.threshold.iter().all(|&t| t == d.threshold[0]);
        let norm: Vec<f64> = if shared_th {
            vec![1.0; n]
        } else {
            d.threshold.iter().map(|t| 1.0 / t).collect()
        };
        let row_scale = |i: usize| d.scale[i] * norm[i];
        let scale_rows = |m: &[f64], cols: usize| -> Vec<f32> {
            (0..n * cols)
                .map(|k| (m[k] * row_scale(k / cols)) as f32)
                .collect()
        };
        let (cols, w) = &lin.terms[&prev];
        let w_ff = scale_rows(w, *cols);
        let w_rec = lin.terms.get(name).map(|(c, m)| scale_rows(m, *c));
        let bias = lin.has_bias.then(|| {
            (0..n)
                .map(|i| (lin.bias[i] * row_scale(i)) as f32)
                .collect()
        });
        let (beta, learn_beta) = decay_config(name, node, "beta", &d.beta)?;
        let alpha = d
            .alpha
            .as_deref()
            .map(|a| decay_config(name, node, "alpha", a))
            .transpose()?;
        let mut cfg = LayerConfig::new(
            match (&w_rec, &d.alpha) {
                (_, Some(_)) if readout => LayerKind::SynapticReadout,
                _ if readout => LayerKind::Readout,
                (Some(_), Some(_)) => LayerKind::RecurrentSynaptic,
                (Some(_), None) => LayerKind::Recurrent,
                (None, Some(_)) => LayerKind::Synaptic,
                _ => LayerKind::Leaky,
            },
            n,
        );
        cfg.beta = Some(beta);
        cfg.learn_beta = learn_beta;
        cfg.beta_per_neuron = learn_beta || alpha.is_some_and(|a| a.1);
        if let Some((a, learn)) = alpha {
            cfg.alpha = Some(a);
            cfg.learn_alpha = learn;
        }
        cfg.threshold = if shared_th {
            d.threshold[0] as f32 as f64
        } else {
            1.0
        };
        cfg.reset = d.reset;
        cfg.bias = bias.is_some();
        cfg.validate(&format!("layers[{}] (node `{name}`)", layers.len()))
            .map_err(|e| node_err(name, node, e.to_string()))?;
        layers.push(LayerValues {
            w_ff,
            w_rec,
            bias,
            beta: d.beta.iter().map(|&b| b as f32).collect(),
            alpha: d.alpha.map(|a| a.iter().map(|&x| x as f32).collect()),
        });
        network.layers.push(cfg);
        prev = name.clone();
    }
    network
        .validate()
        .map_err(|e| NirError::Graph(format!("the imported network is invalid: {e}")))?;
    Ok(Imported {
        network,
        layers,
        names: order,
    })
}

fn f(v: &[f32]) -> Vec<f64> {
    v.iter().map(|&x| f64::from(x)).collect()
}

/// Expresses our layers as a NIR graph (`input → fc0 → lif0 → fc1 → lif1 → … → output`, a
/// recurrent layer adding `lif_i → rec_i → lif_i`) with the time constants for Euler step `dt`
/// chosen as snnTorch's exporter does (`r·dt/tau = 1`), plus the `snn_*` metadata of the
/// module docs.
pub fn export(layers: &[FloatLayer], input_size: usize, dt: f64) -> Result<Graph, NirError> {
    if !(dt.is_finite() && dt > 0.0) {
        return Err(NirError::Graph(format!(
            "dt = {dt} is not a positive time step"
        )));
    }
    let mut g = Graph::default();
    let shape = |n: usize| Param::vector(vec![n as f64]);
    g.nodes.insert(
        "input".into(),
        Node::new("Input", [("shape", shape(input_size))]),
    );
    let mut prev = "input".to_owned();
    for (i, l) in layers.iter().enumerate() {
        let n = l.neurons;
        let fc = format!("fc{i}");
        let lif = format!("lif{i}");
        let w = Param::matrix(n, l.inputs, f(&l.w_ff));
        let node = match &l.bias {
            Some(b) => Node::new("Affine", [("weight", w), ("bias", Param::vector(f(b)))]),
            None => Node::new("Linear", [("weight", w)]),
        };
        g.nodes.insert(fc.clone(), node);
        let bad = |why: String| NirError::Node {
            node: lif.clone(),
            kind: format!("{:?} layer {i}", l.kind),
            reason: why,
        };
        let th = Param::vector(vec![f64::from(l.threshold); n]);
        let zeros = || Param::vector(vec![0.0; n]);
        let tau_of = |b: &[f32], what: &str| -> Result<Vec<f64>, NirError> {
            b.iter()
                .map(|&b| {
                    if b >= 1.0 {
                        Err(bad(format!("{what} = {b}: no finite time constant (only a layer with beta = 1 everywhere becomes an IF)")))
                    } else {
                        Ok(dt / (1.0 - f64::from(b)))
                    }
                })
                .collect()
        };
        let mut node = if l.kind == LayerKind::SynapticReadout {
            let alpha = l.alpha.as_deref().unwrap_or(&[]);
            let ts = tau_of(alpha, "alpha")?;
            let tm = tau_of(&l.beta, "beta")?;
            let mut nd = Node::new(
                "CubaLI",
                [
                    ("tau_syn", Param::vector(ts.clone())),
                    ("tau_mem", Param::vector(tm.clone())),
                    ("r", Param::vector(tm.iter().map(|t| t / dt).collect())),
                    ("w_in", Param::vector(ts.iter().map(|t| t / dt).collect())),
                    ("v_leak", zeros()),
                ],
            );
            nd.metadata
                .insert("snn_alpha".into(), Meta::Numbers(Param::vector(f(alpha))));
            nd
        } else if l.kind == LayerKind::Readout {
            if l.beta.iter().all(|&b| b == 1.0) {
                Node::new("I", [("r", Param::vector(vec![1.0 / dt; n]))])
            } else {
                let tm = tau_of(&l.beta, "beta")?;
                Node::new(
                    "LI",
                    [
                        ("tau", Param::vector(tm.clone())),
                        ("r", Param::vector(tm.iter().map(|t| t / dt).collect())),
                        ("v_leak", zeros()),
                    ],
                )
            }
        } else if let Some(alpha) = &l.alpha {
            let ts = tau_of(alpha, "alpha")?;
            let tm = tau_of(&l.beta, "beta")?;
            let mut nd = Node::new(
                "CubaLIF",
                [
                    ("tau_syn", Param::vector(ts.clone())),
                    ("tau_mem", Param::vector(tm.clone())),
                    ("r", Param::vector(tm.iter().map(|t| t / dt).collect())),
                    ("w_in", Param::vector(ts.iter().map(|t| t / dt).collect())),
                    ("v_leak", zeros()),
                    ("v_threshold", th),
                    ("v_reset", zeros()),
                ],
            );
            nd.metadata
                .insert("snn_alpha".into(), Meta::Numbers(Param::vector(f(alpha))));
            nd
        } else if l.beta.iter().all(|&b| b == 1.0) {
            Node::new(
                "IF",
                [
                    ("r", Param::vector(vec![1.0; n])),
                    ("v_threshold", th),
                    ("v_reset", zeros()),
                ],
            )
        } else {
            let tm = tau_of(&l.beta, "beta")?;
            Node::new(
                "LIF",
                [
                    ("tau", Param::vector(tm.clone())),
                    ("r", Param::vector(tm.iter().map(|t| t / dt).collect())),
                    ("v_leak", zeros()),
                    ("v_threshold", th),
                    ("v_reset", zeros()),
                ],
            )
        };
        let reset = match l.reset {
            Reset::Subtract => "subtract",
            Reset::Zero => "zero",
            Reset::None => "none",
        };
        if !l.kind.is_readout() {
            node.metadata
                .insert("snn_reset".into(), Meta::Text(reset.into()));
        }
        node.metadata
            .insert("snn_beta".into(), Meta::Numbers(Param::vector(f(&l.beta))));
        g.nodes.insert(lif.clone(), node);
        g.edges.push((prev.clone(), fc.clone()));
        g.edges.push((fc, lif.clone()));
        if let Some(w_rec) = &l.w_rec {
            let rec = format!("rec{i}");
            g.nodes.insert(
                rec.clone(),
                Node::new("Linear", [("weight", Param::matrix(n, n, f(w_rec)))]),
            );
            g.edges.push((lif.clone(), rec.clone()));
            g.edges.push((rec, lif.clone()));
        }
        prev = lif;
    }
    let n_out = layers.last().map_or(input_size, |l| l.neurons);
    g.nodes.insert(
        "output".into(),
        Node::new("Output", [("shape", shape(n_out))]),
    );
    g.edges.push((prev, "output".into()));
    g.metadata
        .insert("snn_dt".into(), Meta::Numbers(Param::scalar(dt)));
    Ok(g)
}
