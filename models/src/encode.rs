//! Input encoders, identical on host and device.
//!
//! [`Encoder`]: raw `u8` features -> input spike indices per step. `features` is either one frame
//! (`input_size` values, the same every step) or a sequence of `time_steps` frames
//! (`time_steps * input_size` values, frame `t` at `t * input_size`).
//!
//! [`encode_frame`]: one frame of real-valued channels -> the first layer's input for one step
//! under a continuous encoding (direct input, send-on-delta, sigma-delta), with the per-channel
//! constants stored in the model ([`Channels`]). IEEE-754 `f32` subtraction and multiplication
//! are correctly rounded (and never fused here), so every core computes the same `q`.
use crate::error::EngineError;
use crate::format::{Channels, Encoding, Header};

/// Largest magnitude of a quantised channel value `q` (units of `2^-8`).
pub const Q_MAX: i32 = i16::MAX as i32;
/// Fractional bits of a quantised channel value: `x_hat = q / 2^Q_FRAC`.
pub const Q_FRAC: u32 = 8;

/// A real channel value in fixed point: `q = clamp(round((x - offset) * scale), -32767, 32767)`,
/// rounding half away from zero; NaN gives 0. The model sees `x_hat = q / 256`.
#[inline]
pub fn quantise(x: f32, offset: f32, scale: f32) -> i16 {
    let y = (x - offset) * scale;
    let r = if y >= 0.0 { y + 0.5 } else { y - 0.5 };
    // `as` saturates (NaN -> 0), then the clamp keeps the range symmetric.
    (r as i32).clamp(-Q_MAX, Q_MAX) as i16
}

/// One delta-encoder step of a channel with quantised value `q`, reference `r` and threshold
/// `thr > 0`: `+1` (up spike) when `q - r >= thr`, `-1` (down) when `q - r <= -thr`, else 0.
/// On a spike, send-on-delta (`sigma == false`) sets `r = q`; sigma-delta moves `r` by `thr`.
#[inline]
pub fn delta_step(sigma: bool, q: i32, r: &mut i32, thr: i32) -> i8 {
    let d = q - *r;
    let dir = if d >= thr {
        1
    } else if d <= -thr {
        -1
    } else {
        return 0;
    };
    *r = if sigma { *r + dir * thr } else { q };
    dir as i8
}

/// Encodes one frame of `channels.len()` real values for one step of a continuous encoding.
///
/// - [`Encoding::Direct`]: writes each `q_c` (as `u16` bits of the `i16`) to `out[c]` and
///   returns the channel count.
/// - [`Encoding::SendOnDelta`] / [`Encoding::SigmaDelta`]: updates the references in `state`
///   (one `i32` per channel, 0 at the start of a sample) and writes the spiking inputs
///   (`2c` up, `2c + 1` down) ascending to `out`; returns how many.
///
/// `out` needs `input_size` slots and `state` one per channel (delta only). Errors for the
/// other encodings, a frame of the wrong length or short buffers; never panics.
pub fn encode_frame(
    encoding: Encoding,
    channels: &Channels<'_>,
    frame: &[f32],
    state: &mut [i32],
    out: &mut [u16],
) -> Result<usize, EngineError> {
    encode_channels(encoding, channels, frame.iter().copied(), state, out)
}

/// Smallest and largest exponent of a raw sample's unit (`x = raw * 2^exp`).
pub const RAW_EXP_RANGE: (i8, i8) = (-60, 60);

/// The unit `2^exp` of raw `i16` samples, or `None` outside [`RAW_EXP_RANGE`]. Every
/// `raw * 2^exp` with `raw: i16` in that range is an exact `f32` (a normal number or zero).
pub fn raw_unit(exp: i8) -> Option<f32> {
    if exp < RAW_EXP_RANGE.0 || exp > RAW_EXP_RANGE.1 {
        return None;
    }
    Some(f32::from_bits(((127 + i32::from(exp)) as u32) << 23))
}

/// [`raw_unit`], or the error of an exponent outside [`RAW_EXP_RANGE`].
fn raw_unit_or_err(exp: i8) -> Result<f32, EngineError> {
    raw_unit(exp).ok_or(EngineError::InputKind {
        needs: "a raw sample exponent in -60..=60",
    })
}

/// A raw `i16` sample (a sensor's or ADC's reading) in fixed point:
/// `q = quantise(raw * 2^exp, offset, scale)`. `raw * 2^exp` is exact, so this is the same
/// correctly rounded `f32` arithmetic as [`quantise`] on every core (hardware FPU or soft
/// float; Rust never fuses the multiply and subtract). `unit` is [`raw_unit`]`(exp)`.
#[inline]
pub fn quantise_raw(raw: i16, unit: f32, offset: f32, scale: f32) -> i16 {
    quantise(f32::from(raw) * unit, offset, scale)
}

/// [`encode_frame`] for one frame of raw `i16` samples with unit `2^exp` (one per channel):
/// channel `c` is `x_c = raw_c * 2^exp`, then exactly as [`encode_frame`]. This is the
/// on-board encoder of a stream or a sensor: no host needed. Errors as [`encode_frame`], and
/// for `exp` outside [`RAW_EXP_RANGE`].
pub fn encode_raw_frame(
    encoding: Encoding,
    channels: &Channels<'_>,
    raw: &[i16],
    exp: i8,
    state: &mut [i32],
    out: &mut [u16],
) -> Result<usize, EngineError> {
    let unit = raw_unit_or_err(exp)?;
    let xs = raw.iter().map(|&r| f32::from(r) * unit);
    encode_channels(encoding, channels, xs, state, out)
}

/// [`encode_raw_frame`] on little-endian `i16` bytes (`2 * channels` of them), as they arrive
/// on a link.
pub fn encode_raw_le(
    encoding: Encoding,
    channels: &Channels<'_>,
    bytes: &[u8],
    exp: i8,
    state: &mut [i32],
    out: &mut [u16],
) -> Result<usize, EngineError> {
    let unit = raw_unit_or_err(exp)?;
    if bytes.len() % 2 != 0 {
        return Err(EngineError::InputLength {
            expected: 2 * channels.len(),
            given: bytes.len(),
        });
    }
    let xs = bytes
        .chunks_exact(2)
        .map(|b| f32::from(i16::from_le_bytes([b[0], b[1]])) * unit);
    encode_channels(encoding, channels, xs, state, out)
}

/// The body of the continuous encoders over one frame of channel values `x_c`.
fn encode_channels(
    encoding: Encoding,
    channels: &Channels<'_>,
    frame: impl ExactSizeIterator<Item = f32>,
    state: &mut [i32],
    out: &mut [u16],
) -> Result<usize, EngineError> {
    let per = encoding.inputs_per_channel();
    if per == 0 {
        return Err(EngineError::InputKind {
            needs: "u8 features or spike events, not real-valued channels",
        });
    }
    let n = channels.len();
    if frame.len() != n {
        return Err(EngineError::InputLength {
            expected: n,
            given: frame.len(),
        });
    }
    if out.len() < n * per {
        return Err(EngineError::BufferTooSmall {
            buffer: "encoder output",
            needed: n * per,
            given: out.len(),
        });
    }
    let params = channels.offset.iter().zip(channels.scale.iter());
    if per == 1 {
        for ((o, (off, scale)), x) in out.iter_mut().zip(params).zip(frame) {
            *o = quantise(x, off, scale) as u16;
        }
        return Ok(n);
    }
    if state.len() < n {
        return Err(EngineError::BufferTooSmall {
            buffer: "delta state",
            needed: n,
            given: state.len(),
        });
    }
    let sigma = matches!(encoding, Encoding::SigmaDelta);
    let mut k = 0;
    for (c, (((off, scale), thr), (x, r))) in params
        .zip(channels.threshold.iter())
        .zip(frame.zip(state.iter_mut()))
        .enumerate()
    {
        let q = i32::from(quantise(x, off, scale));
        let dir = delta_step(sigma, q, r, i32::from(thr));
        if dir != 0 {
            out[k] = (2 * c + usize::from(dir < 0)) as u16;
            k += 1;
        }
    }
    Ok(k)
}

/// xorshift32 (Marsaglia 2003, shifts 13/17/5): the on-device generator of rate coding.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Rng(u32);

impl Rng {
    /// State for one sample: `model_seed ^ (sample_seed * 0x9E3779B9)` scrambled by one splitmix32
    /// round; a zero state (the only fixed point) becomes `0x6D2B79F5`.
    pub fn new(model_seed: u32, sample_seed: u32) -> Self {
        let mut z = model_seed ^ sample_seed.wrapping_mul(0x9E37_79B9);
        z = (z ^ (z >> 16)).wrapping_mul(0x85EB_CA6B);
        z = (z ^ (z >> 13)).wrapping_mul(0xC2B2_AE35);
        z ^= z >> 16;
        Self(if z == 0 { 0x6D2B_79F5 } else { z })
    }

    /// Next 32-bit value: `x ^= x << 13; x ^= x >> 17; x ^= x << 5`.
    #[inline]
    pub fn next_u32(&mut self) -> u32 {
        let mut x = self.0;
        x ^= x << 13;
        x ^= x >> 17;
        x ^= x << 5;
        self.0 = x;
        x
    }
}

/// Step of the single spike of a latency-coded feature `q` (needs `q >= threshold`):
/// `t = ((255 - q) * (T - 1) + 127) / 255`, so 255 spikes at step 0 and the smallest values last.
pub fn latency_step(q: u8, time_steps: u16) -> u16 {
    let span = u32::from(time_steps.saturating_sub(1));
    ((u32::from(255 - q) * span + 127) / 255) as u16
}

/// The features that spike at step `t` of `time_steps` under latency coding with `threshold`:
/// exactly those with `q` in `lo..=hi` (`Some((lo, hi))`, `1 <= lo <= hi`), or none (`None`).
///
/// [`latency_step`] is non-increasing in `q`, so its level sets are intervals. With
/// `d = 255 - q` and `S = T - 1`, `latency_step(q, T) == t` iff
/// `255 t - 127 <= d S <= 255 t + 127`, i.e. (for `S > 0`)
/// `ceil(max(255 t - 127, 0) / S) <= d <= floor((255 t + 127) / S)`; for `S = 0` every `d` at
/// `t = 0` and none after. Intersected with `q >= threshold` and `q > 0`. Two divisions per
/// step instead of one per feature and step.
pub fn latency_window(t: u16, time_steps: u16, threshold: u8) -> Option<(u8, u8)> {
    let span = u32::from(time_steps.saturating_sub(1));
    let t = u32::from(t);
    let (d_lo, d_hi) = if span == 0 {
        if t != 0 {
            return None;
        }
        (0, 255)
    } else {
        (
            (255 * t).saturating_sub(127).div_ceil(span),
            ((255 * t + 127) / span).min(255),
        )
    };
    if d_lo > d_hi {
        return None;
    }
    // d_lo <= d_hi <= 255, so both bounds are u8 values.
    let lo = ((255 - d_hi) as u8).max(threshold).max(1);
    let hi = (255 - d_lo) as u8;
    (lo <= hi).then_some((lo, hi))
}

/// The features of `frame` with `q` in `lo..=hi` (one compare each: `q - lo <= hi - lo`,
/// unsigned), written ascending to `out`; returns how many. `out` holds `frame.len()` slots.
/// Eight features per loop turn, so the loop's own bookkeeping costs an eighth.
#[inline]
fn window_step(frame: &[u8], (lo, hi): (u8, u8), out: &mut [u16]) -> usize {
    let (lo, width) = (u32::from(lo), u32::from(hi - lo));
    let mut n = 0;
    let mut feature = |i: usize, q: u8, n: &mut usize| {
        if u32::from(q).wrapping_sub(lo) <= width {
            if let Some(o) = out.get_mut(*n) {
                *o = i as u16;
            }
            *n += 1;
        }
    };
    let octs = frame.chunks_exact(8);
    let rest = octs.remainder();
    let mut i = 0;
    for q in octs {
        for (k, &q) in q.iter().enumerate() {
            feature(i + k, q, &mut n);
        }
        i += 8;
    }
    for &q in rest {
        feature(i, q, &mut n);
        i += 1;
    }
    n
}

/// One step of delta coding: feature `i` spikes when `q_i - before_i >= threshold > 0`, with
/// `before` the previous frame (none: 0). Ascending indices to `out`; returns how many.
#[inline]
fn delta_frame_step(frame: &[u8], before: Option<&[u8]>, threshold: u8, out: &mut [u16]) -> usize {
    if threshold == 0 {
        return 0;
    }
    let thr = i16::from(threshold);
    let mut n = 0;
    let mut emit = |i: usize, rise: i16| {
        if rise >= thr {
            if let Some(o) = out.get_mut(n) {
                *o = i as u16;
            }
            n += 1;
        }
    };
    match before {
        None => {
            for (i, &q) in frame.iter().enumerate() {
                emit(i, i16::from(q));
            }
        }
        Some(p) => {
            for (i, (&q, &b)) in frame.iter().zip(p).enumerate() {
                emit(i, i16::from(q) - i16::from(b));
            }
        }
    }
    n
}

/// One step of rate coding: feature `i` spikes when `(draw_i >> 24) < q_i`, one xorshift32 draw
/// per feature in feature order; the spiking indices go to `out` ascending. Eight features per
/// loop turn (the same draws in the same order), so the loop's own bookkeeping costs an eighth
/// (four per turn before: 0.8k more instructions per zoo digits inference on the M4).
///
/// On Arm cores with the DSP extension (feature `arm-dsp`) the whole octets run in the
/// assembly of `dsp.rs` (`rate_octets`: the same draws, the same comparison as `x < q << 24`,
/// no bounds check per spike); this loop is its reference and does the rest.
#[inline]
pub(crate) fn rate_step(rng: &mut Rng, frame: &[u8], out: &mut [u16]) -> usize {
    #[cfg(all(feature = "arm-dsp", target_arch = "arm"))]
    let (mut n, frame, out, base) = {
        let n = crate::dsp::rate_octets(&mut rng.0, frame, out);
        // The octets ran unless `out` was too short for them (then nothing was drawn).
        let done = if out.len() < frame.len() & !7 {
            0
        } else {
            frame.len() & !7
        };
        (n, frame.get(done..).unwrap_or(&[]), out, done)
    };
    #[cfg(not(all(feature = "arm-dsp", target_arch = "arm")))]
    let (mut n, base) = (0, 0);
    let mut feature = |i: usize, q: u8, n: &mut usize| {
        if (rng.next_u32() >> 24) < u32::from(q) {
            if let Some(o) = out.get_mut(*n) {
                *o = i as u16;
            }
            *n += 1;
        }
    };
    let octs = frame.chunks_exact(8);
    let rest = octs.remainder();
    let mut i = base;
    for q in octs {
        for (k, &q) in q.iter().enumerate() {
            feature(i + k, q, &mut n);
        }
        i += 8;
    }
    for &q in rest {
        feature(i, q, &mut n);
        i += 1;
    }
    n
}

/// Encodes one sample step by step.
#[derive(Clone, Debug)]
pub struct Encoder<'f> {
    encoding: Encoding,
    features: &'f [u8],
    input_size: usize,
    time_steps: u16,
    step: u16,
    rng: Rng,
}

impl<'f> Encoder<'f> {
    /// An encoder for `features` under the model's header; `sample_seed` varies the rate code.
    pub fn new(
        header: &Header<'_>,
        features: &'f [u8],
        sample_seed: u32,
    ) -> Result<Self, EngineError> {
        if header.encoding.is_continuous() {
            return Err(EngineError::InputKind {
                needs: "real-valued channels (run_values / step_values), not u8 features",
            });
        }
        let input_size = usize::from(header.input_size);
        let seq = input_size * usize::from(header.time_steps);
        if features.len() != input_size && features.len() != seq {
            return Err(EngineError::InputLength {
                expected: input_size,
                given: features.len(),
            });
        }
        let model_seed = match header.encoding {
            Encoding::Rate { seed } => seed,
            _ => 0,
        };
        Ok(Self {
            encoding: header.encoding,
            features,
            input_size,
            time_steps: header.time_steps,
            step: 0,
            rng: Rng::new(model_seed, sample_seed),
        })
    }

    fn frame(&self, t: u16) -> Option<&'f [u8]> {
        if self.features.len() == self.input_size {
            Some(self.features)
        } else {
            let start = usize::from(t) * self.input_size;
            self.features.get(start..start + self.input_size)
        }
    }

    /// Writes the next step's spiking input indices (ascending) into `out`; returns how many.
    /// `out` needs `input_size` slots. Errors after `time_steps` steps.
    pub fn next_step(&mut self, out: &mut [u16]) -> Result<usize, EngineError> {
        if self.step >= self.time_steps {
            return Err(EngineError::TooManySteps);
        }
        if out.len() < self.input_size {
            return Err(EngineError::BufferTooSmall {
                buffer: "encoder output",
                needed: self.input_size,
                given: out.len(),
            });
        }
        let t = self.step;
        self.step += 1;
        let frame = self.frame(t).ok_or(EngineError::TooManySteps)?;
        if let Encoding::Rate { .. } = self.encoding {
            return Ok(rate_step(&mut self.rng, frame, out));
        }
        Ok(match self.encoding {
            // The spiking features' interval, once per step (a step outside it costs nothing).
            Encoding::Latency { threshold } => latency_window(t, self.time_steps, threshold)
                .map_or(0, |w| window_step(frame, w, out)),
            // One frame every step rises only at step 0.
            Encoding::Delta { .. } if t > 0 && self.features.len() == self.input_size => 0,
            Encoding::Delta { threshold } => {
                let prev = if t == 0 { None } else { self.frame(t - 1) };
                delta_frame_step(frame, prev, threshold, out)
            }
            // Rate coding returned above; the others have no u8 code.
            Encoding::Rate { .. }
            | Encoding::Events
            | Encoding::Direct
            | Encoding::SendOnDelta
            | Encoding::SigmaDelta => 0,
        })
    }
}
