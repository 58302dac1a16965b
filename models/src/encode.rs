//! Input encoders: raw `u8` features -> input spike indices per step, identical on host and device.
//!
//! `features` is either one frame (`input_size` values, the same every step) or a sequence of
//! `time_steps` frames (`time_steps * input_size` values, frame `t` at `t * input_size`).
use crate::error::EngineError;
use crate::format::{Encoding, Header};

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
        let prev = if t == 0 { None } else { self.frame(t - 1) };
        let mut n = 0;
        for (i, &q) in frame.iter().enumerate() {
            let spike = match self.encoding {
                Encoding::Rate { .. } => (self.rng.next_u32() >> 24) < u32::from(q),
                Encoding::Latency { threshold } => {
                    q >= threshold && q > 0 && latency_step(q, self.time_steps) == t
                }
                Encoding::Delta { threshold } => {
                    let before = prev.and_then(|p| p.get(i).copied()).unwrap_or(0);
                    let rise = i16::from(q) - i16::from(before);
                    threshold > 0 && rise >= i16::from(threshold)
                }
                Encoding::Events => false,
            };
            if spike {
                out[n] = i as u16;
                n += 1;
            }
        }
        Ok(n)
    }
}
