//! The Spiking Heidelberg Digits / Spiking Speech Commands HDF5 layout, read with the pure-Rust
//! `rust-hdf5` crate (no system libhdf5): `spikes/times` (one variable-length sequence of spike
//! times in seconds per sample, float16 in the published files), `spikes/units` (the cochlea
//! channel of each spike, uint16) and `labels` (one integer class per sample). Sequences are
//! decoded by their stored base type (f16/f32/f64, u8..u64, i8..i64, either byte order); any
//! other type is refused. Errors name the file, the record (0-based sample) and the dataset.
use std::path::Path;

use rust_hdf5::{ByteOrder, DatatypeMessage, H5File};

use super::error::SeriesError;
use super::nmnist::EventSet;
use super::{Event, EventStream};

/// Dataset of the spike times.
pub const TIMES: &str = "spikes/times";
/// Dataset of the spike channels.
pub const UNITS: &str = "spikes/units";
/// Dataset of the labels.
pub const LABELS: &str = "labels";
/// Cochlea channels of SHD and SSC.
pub const SHD_CHANNELS: u32 = 700;

/// A number type the loader decodes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Num {
    Float {
        size: usize,
        big: bool,
    },
    Int {
        size: usize,
        signed: bool,
        big: bool,
    },
}

impl Num {
    fn of(dt: &DatatypeMessage) -> Option<Self> {
        match dt {
            DatatypeMessage::FloatingPoint {
                size, byte_order, ..
            } if matches!(size, 2 | 4 | 8) => Some(Self::Float {
                size: *size as usize,
                big: *byte_order == ByteOrder::BigEndian,
            }),
            DatatypeMessage::FixedPoint {
                size,
                byte_order,
                signed,
                ..
            } if matches!(size, 1 | 2 | 4 | 8) => Some(Self::Int {
                size: *size as usize,
                signed: *signed,
                big: *byte_order == ByteOrder::BigEndian,
            }),
            _ => None,
        }
    }

    fn size(self) -> usize {
        match self {
            Self::Float { size, .. } | Self::Int { size, .. } => size,
        }
    }

    /// Decodes one element as f64 (integers above 2^53 lose precision, which no channel,
    /// label or time here reaches).
    fn decode(self, b: &[u8]) -> f64 {
        let mut le = [0u8; 8];
        let big = matches!(
            self,
            Self::Float { big: true, .. } | Self::Int { big: true, .. }
        );
        for (i, &x) in b.iter().enumerate() {
            le[if big { b.len() - 1 - i } else { i }] = x;
        }
        match self {
            Self::Float { size: 2, .. } => f16_to_f64(u16::from_le_bytes([le[0], le[1]])),
            Self::Float { size: 4, .. } => {
                f64::from(f32::from_le_bytes([le[0], le[1], le[2], le[3]]))
            }
            Self::Float { .. } => f64::from_le_bytes(le),
            Self::Int { size, signed, .. } => {
                let u = u64::from_le_bytes(le);
                if signed && size < 8 && u >> (8 * size - 1) & 1 == 1 {
                    (u as i64 - (1i64 << (8 * size))) as f64
                } else if signed {
                    u as i64 as f64
                } else {
                    u as f64
                }
            }
        }
    }
}

/// IEEE 754 half precision to f64 (subnormals, infinities and NaN included).
pub fn f16_to_f64(h: u16) -> f64 {
    let sign = if h & 0x8000 != 0 { -1.0 } else { 1.0 };
    let exp = i32::from((h >> 10) & 0x1F);
    let frac = f64::from(h & 0x3FF);
    match exp {
        0 => sign * frac * 2f64.powi(-24),
        31 if frac == 0.0 => sign * f64::INFINITY,
        31 => f64::NAN,
        e => sign * (1.0 + frac / 1024.0) * 2f64.powi(e - 15),
    }
}

fn h5err(path: &Path, what: &str, e: rust_hdf5::Hdf5Error) -> SeriesError {
    SeriesError::file(path, format!("{what}: {e}"))
}

/// The base type of a variable-length dataset, or an error naming the dataset.
fn vlen_base(path: &Path, name: &str, dt: DatatypeMessage) -> Result<Num, SeriesError> {
    match &dt {
        DatatypeMessage::VarLenSequence { base } => Num::of(base).ok_or_else(|| {
            SeriesError::file(
                path,
                format!("{name}: sequences of {base:?} are not numbers this loader decodes (expected float16/32/64 or integers)"),
            )
        }),
        other => Err(SeriesError::file(
            path,
            format!("{name}: expected a variable-length sequence per sample (the SHD layout), found {other:?}"),
        )),
    }
}

/// Decodes the bytes of one sequence of record `i`.
fn decode_seq(
    path: &Path,
    name: &str,
    i: usize,
    num: Num,
    bytes: &[u8],
) -> Result<Vec<f64>, SeriesError> {
    if !bytes.len().is_multiple_of(num.size()) {
        return Err(SeriesError::record(
            path,
            i,
            name,
            format!(
                "{} bytes is not a whole number of {}-byte values",
                bytes.len(),
                num.size()
            ),
        ));
    }
    Ok(bytes
        .chunks_exact(num.size())
        .map(|b| num.decode(b))
        .collect())
}

/// Reads an SHD/SSC file of `channels` units: one event stream per sample (times in
/// microseconds, rounded from seconds; no polarity), labels and class names `"0".."K-1"` with
/// `K` = largest label + 1. Refuses a missing dataset, a count mismatch between the three
/// datasets, a record whose times and units differ in length, a time that is negative or not
/// finite, and a unit at or above `channels`.
pub fn read(path: &Path, channels: u32) -> Result<EventSet, SeriesError> {
    if !path.exists() {
        return Err(SeriesError::file(path, "no such file"));
    }
    let f = H5File::open(path).map_err(|e| h5err(path, "not a readable HDF5 file", e))?;
    let open = |name: &str| {
        f.dataset(name).map_err(|e| {
            SeriesError::file(
                path,
                format!("has no dataset {name} (the SHD layout is spikes/times, spikes/units, labels): {e}"),
            )
        })
    };
    let (times_ds, units_ds, labels_ds) = (open(TIMES)?, open(UNITS)?, open(LABELS)?);
    let tnum = vlen_base(
        path,
        TIMES,
        times_ds.datatype().map_err(|e| h5err(path, TIMES, e))?,
    )?;
    let unum = vlen_base(
        path,
        UNITS,
        units_ds.datatype().map_err(|e| h5err(path, UNITS, e))?,
    )?;
    let lt = labels_ds.datatype().map_err(|e| h5err(path, LABELS, e))?;
    let lnum = match Num::of(&lt) {
        Some(n @ Num::Int { .. }) => n,
        _ => {
            return Err(SeriesError::file(
                path,
                format!("{LABELS}: expected integer labels, found {lt:?}"),
            ))
        }
    };
    let times = times_ds
        .read_vlen_bytes()
        .map_err(|e| h5err(path, TIMES, e))?;
    let units = units_ds
        .read_vlen_bytes()
        .map_err(|e| h5err(path, UNITS, e))?;
    let label_bytes = labels_ds
        .read_raw_bytes()
        .map_err(|e| h5err(path, LABELS, e))?;
    let labels = decode_seq(path, LABELS, 0, lnum, &label_bytes)?;
    if times.len() != units.len() || times.len() != labels.len() {
        return Err(SeriesError::file(
            path,
            format!(
                "{TIMES} has {} samples, {UNITS} {} and {LABELS} {}; they must be equal",
                times.len(),
                units.len(),
                labels.len()
            ),
        ));
    }
    if times.is_empty() {
        return Err(SeriesError::file(path, "has no samples"));
    }
    let mut streams = Vec::with_capacity(times.len());
    let mut out_labels = Vec::with_capacity(times.len());
    for (i, ((tb, ub), &y)) in times.iter().zip(&units).zip(&labels).enumerate() {
        let t = decode_seq(path, TIMES, i, tnum, tb)?;
        let u = decode_seq(path, UNITS, i, unum, ub)?;
        if t.len() != u.len() {
            return Err(SeriesError::record(
                path,
                i,
                UNITS,
                format!("{} units for {} spike times", u.len(), t.len()),
            ));
        }
        if !(y >= 0.0 && y <= f64::from(u16::MAX)) {
            return Err(SeriesError::record(
                path,
                i,
                LABELS,
                format!("label {y} is not a class index (0..=65535)"),
            ));
        }
        let mut events = Vec::with_capacity(t.len());
        for (k, (&time, &unit)) in t.iter().zip(&u).enumerate() {
            if !(time.is_finite() && time >= 0.0) {
                return Err(SeriesError::record(
                    path,
                    i,
                    TIMES,
                    format!("spike {k} has time {time} s (must be finite and >= 0)"),
                ));
            }
            if !(unit >= 0.0 && unit < f64::from(channels)) {
                return Err(SeriesError::record(
                    path,
                    i,
                    UNITS,
                    format!("spike {k} names unit {unit}, not below the {channels} channels (set series.channels)"),
                ));
            }
            events.push(Event {
                time_us: (time * 1e6).round() as u64,
                channel: unit as u32,
                polarity: None,
            });
        }
        events.sort_by_key(|e| e.time_us);
        streams.push(EventStream { channels, events });
        out_labels.push(y as usize);
    }
    let k = out_labels.iter().max().map_or(0, |m| m + 1);
    Ok(EventSet {
        classes: (0..k).map(|c| c.to_string()).collect(),
        streams,
        labels: out_labels,
    })
}

/// Writes `set` in the SHD layout (times as f32 seconds, units as u16, labels as u16; with
/// `compress` the labels dataset is chunked and deflated). h5py reads the result.
pub fn write(path: &Path, set: &EventSet, compress: bool) -> Result<(), SeriesError> {
    let err = |e: rust_hdf5::Hdf5Error| SeriesError::file(path, format!("cannot write: {e}"));
    let f = H5File::create(path).map_err(err)?;
    let g = f.create_group("spikes").map_err(err)?;
    let times: Vec<Vec<f32>> = set
        .streams
        .iter()
        .map(|s| s.events.iter().map(|e| e.time_us as f32 * 1e-6).collect())
        .collect();
    let units: Vec<Vec<u16>> = set
        .streams
        .iter()
        .map(|s| s.events.iter().map(|e| e.channel as u16).collect())
        .collect();
    let t: Vec<&[f32]> = times.iter().map(Vec::as_slice).collect();
    let u: Vec<&[u16]> = units.iter().map(Vec::as_slice).collect();
    g.write_vlen_numeric("times", &t).map_err(err)?;
    g.write_vlen_numeric("units", &u).map_err(err)?;
    let labels: Vec<u16> = set.labels.iter().map(|&y| y as u16).collect();
    let mut b = f.new_dataset::<u16>().shape([labels.len()]);
    if compress {
        b = b.chunk(&[labels.len().clamp(1, 1024)]).deflate(6);
    }
    b.create(LABELS)
        .map_err(err)?
        .write_raw(&labels)
        .map_err(err)?;
    f.close().map_err(err)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn half_precision_decodes_like_ieee() {
        assert_eq!(f16_to_f64(0x3C00), 1.0);
        assert_eq!(f16_to_f64(0xC000), -2.0);
        assert_eq!(f16_to_f64(0x3555), 0.333251953125);
        assert_eq!(f16_to_f64(0x0001), 2f64.powi(-24));
        assert_eq!(f16_to_f64(0x7C00), f64::INFINITY);
        assert!(f16_to_f64(0x7E00).is_nan());
        let n = Num::Float { size: 2, big: true };
        assert_eq!(n.decode(&[0x3C, 0x00]), 1.0);
        let i = Num::Int {
            size: 2,
            signed: true,
            big: false,
        };
        assert_eq!(i.decode(&[0xFF, 0xFF]), -1.0);
    }
}
