//! A given input spike train through the float network (`snn eval RUN --spikes FILE --json`),
//! to compare a run step by step with another tool's simulator.
//!
//! The file is a `T × inputs` array of 0/1 values: JSON (`[[0, 1, …], …]`), CSV (one step per
//! line, comma-separated, no header) or NPY (2-d, `bool`, `u1`, `i4`, `i8`, `f4` or `f8`,
//! little-endian, C order) — chosen by the extension.

use std::path::Path;

use candle_core::{Device, Tensor};

use crate::net::network::Network;
use crate::nir::NirError;

/// A spike train: `steps` rows of `inputs` values.
#[derive(Clone, Debug, PartialEq)]
pub struct SpikeTrain {
    /// Number of inputs per step.
    pub inputs: usize,
    /// One row per step.
    pub rows: Vec<Vec<f32>>,
}

fn bad(path: &Path, reason: impl Into<String>) -> NirError {
    NirError::Spikes {
        path: path.to_path_buf(),
        reason: reason.into(),
    }
}

/// Reads a spike-train file (JSON, CSV or NPY by extension); every value must be 0 or 1.
pub fn read_train(path: &Path) -> Result<SpikeTrain, NirError> {
    let bytes = std::fs::read(path).map_err(|e| bad(path, format!("cannot read: {e}")))?;
    let ext = path
        .extension()
        .map(|e| e.to_string_lossy().to_ascii_lowercase())
        .unwrap_or_default();
    let rows = match ext.as_str() {
        "json" => {
            let v: Vec<Vec<f64>> = serde_json::from_slice(&bytes)
                .map_err(|e| bad(path, format!("not a JSON array of arrays of numbers: {e}")))?;
            v.into_iter()
                .map(|r| r.into_iter().map(|x| x as f32).collect())
                .collect()
        }
        "csv" => {
            let text = String::from_utf8(bytes).map_err(|_| bad(path, "not UTF-8 text"))?;
            let mut rows = Vec::new();
            for (i, line) in text.lines().enumerate() {
                if line.trim().is_empty() {
                    continue;
                }
                let row = line
                    .split(',')
                    .enumerate()
                    .map(|(j, c)| {
                        c.trim().parse::<f32>().map_err(|_| {
                            bad(
                                path,
                                format!(
                                    "line {}, column {}: `{}` is not a number",
                                    i + 1,
                                    j + 1,
                                    c.trim()
                                ),
                            )
                        })
                    })
                    .collect::<Result<Vec<f32>, _>>()?;
                rows.push(row);
            }
            rows
        }
        "npy" => npy(path, &bytes)?,
        _ => {
            return Err(bad(
                path,
                "unknown extension: give a .json, .csv or .npy file",
            ))
        }
    };
    let Some(first) = rows.first() else {
        return Err(bad(path, "has no steps"));
    };
    let inputs = first.len();
    for (t, r) in rows.iter().enumerate() {
        if r.len() != inputs {
            return Err(bad(
                path,
                format!("step {t} has {} values, step 0 has {inputs}", r.len()),
            ));
        }
        if let Some((i, x)) = r.iter().enumerate().find(|(_, x)| **x != 0.0 && **x != 1.0) {
            return Err(bad(
                path,
                format!("step {t}, input {i}: {x} is not a spike (0 or 1)"),
            ));
        }
    }
    Ok(SpikeTrain { inputs, rows })
}

/// Parses a 2-d NPY array (format versions 1-3).
fn npy(path: &Path, b: &[u8]) -> Result<Vec<Vec<f32>>, NirError> {
    if b.len() < 10 || &b[..6] != b"\x93NUMPY" {
        return Err(bad(path, "not an NPY file (magic missing)"));
    }
    let (hlen, start) = match b[6] {
        1 => (u16::from_le_bytes([b[8], b[9]]) as usize, 10),
        2 | 3 if b.len() >= 12 => (u32::from_le_bytes([b[8], b[9], b[10], b[11]]) as usize, 12),
        v => return Err(bad(path, format!("NPY version {v} is not supported"))),
    };
    let header = b
        .get(start..start + hlen)
        .and_then(|h| std::str::from_utf8(h).ok())
        .ok_or_else(|| bad(path, "truncated NPY header"))?;
    let field = |key: &str| -> Option<&str> {
        let i = header.find(&format!("'{key}'"))?;
        let rest = header[i + key.len() + 2..]
            .trim_start()
            .strip_prefix(':')?
            .trim_start();
        Some(rest)
    };
    let descr = field("descr")
        .and_then(|r| r.strip_prefix('\'')?.split('\'').next())
        .ok_or_else(|| bad(path, "NPY header has no descr"))?;
    if field("fortran_order").is_some_and(|r| r.starts_with("True")) {
        return Err(bad(path, "Fortran-ordered NPY arrays are not supported"));
    }
    let shape: Vec<usize> = field("shape")
        .and_then(|r| r.strip_prefix('(')?.split(')').next())
        .map(|s| s.split(',').filter_map(|x| x.trim().parse().ok()).collect())
        .ok_or_else(|| bad(path, "NPY header has no shape"))?;
    let [t, n] = shape[..] else {
        return Err(bad(
            path,
            format!("NPY array has shape {shape:?}, expected (T, inputs)"),
        ));
    };
    let data = &b[start + hlen..];
    let width = match descr {
        "|b1" | "|u1" | "<u1" | "|i1" => 1,
        "<i4" | "<f4" => 4,
        "<i8" | "<f8" => 8,
        d => {
            return Err(bad(
                path,
                format!("NPY dtype `{d}` is not supported (bool, u1, i4, i8, f4, f8)"),
            ))
        }
    };
    if data.len() < t * n * width {
        return Err(bad(
            path,
            format!(
                "NPY data holds {} bytes, shape needs {}",
                data.len(),
                t * n * width
            ),
        ));
    }
    let value = |k: usize| -> f32 {
        let c = &data[k * width..(k + 1) * width];
        match descr {
            "<i4" => i32::from_le_bytes([c[0], c[1], c[2], c[3]]) as f32,
            "<f4" => f32::from_le_bytes([c[0], c[1], c[2], c[3]]),
            "<i8" => i64::from_le_bytes(c.try_into().unwrap_or([0; 8])) as f32,
            "<f8" => f64::from_le_bytes(c.try_into().unwrap_or([0; 8])) as f32,
            "|i1" => c[0] as i8 as f32,
            _ => f32::from(c[0]),
        }
    };
    Ok((0..t)
        .map(|r| (0..n).map(|c| value(r * n + c)).collect())
        .collect())
}

/// What a spike train gives: every layer's spikes and, for a network ending in a non-spiking
/// `readout` layer, that layer's membrane per step (its only output).
#[derive(Clone, Debug, PartialEq)]
pub struct Driven {
    /// Every layer's spikes per step, `[layer][step][neuron]`, 0 or 1 (a readout's are all 0).
    pub spikes: Vec<Vec<Vec<u8>>>,
    /// The readout's membrane `v[t]` per step, `[step][neuron]`; `None` when the last layer
    /// spikes.
    pub readout: Option<Vec<Vec<f32>>>,
}

/// Runs the float network on one spike train: every layer's spikes and a readout's membranes.
pub fn drive_all(net: &Network, train: &SpikeTrain) -> Result<Driven, NirError> {
    let want = net.config().input_size;
    if train.inputs != want {
        return Err(NirError::Graph(format!(
            "the spike train has {} inputs per step, the network takes {want}",
            train.inputs
        )));
    }
    let t = train.rows.len();
    let flat: Vec<f32> = train.rows.iter().flatten().copied().collect();
    let x = Tensor::from_vec(flat, (1, t, want), &Device::Cpu)?;
    let outs = net.forward(&x)?;
    let spikes = outs
        .iter()
        .map(|o| {
            let s = o.spikes.squeeze(0)?.to_vec2::<f32>()?;
            Ok(s.into_iter()
                .map(|r| r.into_iter().map(|x| u8::from(x > 0.5)).collect())
                .collect())
        })
        .collect::<Result<_, NirError>>()?;
    let readout = match outs.last() {
        Some(o) if net.config().has_readout() => Some(o.mem.squeeze(0)?.to_vec2::<f32>()?),
        _ => None,
    };
    Ok(Driven { spikes, readout })
}

/// Runs the float network on one spike train and returns every layer's spikes per step
/// (`[layer][step][neuron]`, 0 or 1).
pub fn drive(net: &Network, train: &SpikeTrain) -> Result<Vec<Vec<Vec<u8>>>, NirError> {
    let want = net.config().input_size;
    if train.inputs != want {
        return Err(NirError::Graph(format!(
            "the spike train has {} inputs per step, the network takes {want}",
            train.inputs
        )));
    }
    let t = train.rows.len();
    let flat: Vec<f32> = train.rows.iter().flatten().copied().collect();
    let x = Tensor::from_vec(flat, (1, t, want), &Device::Cpu)?;
    let outs = net.forward(&x)?;
    outs.iter()
        .map(|o| {
            let s = o.spikes.squeeze(0)?.to_vec2::<f32>()?;
            Ok(s.into_iter()
                .map(|r| r.into_iter().map(|x| u8::from(x > 0.5)).collect())
                .collect())
        })
        .collect()
}
