//! Fault injection on the link (feature `std`): a byte-stream proxy that flips bits, drops,
//! duplicates and truncates bytes at set rates, seeded, so a run is repeatable.
//!
//! [`Noisy`] wraps either end of a stream (`Read` and `Write`); [`crate::host::Qemu::spawn_noisy`]
//! puts one between the host client and each direction of QEMU's UART socket.
use std::io::{Read, Write};
use std::sync::{Arc, Mutex, PoisonError};

/// Fault rates; every decision is an independent draw.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Noise {
    /// Probability that each bit is flipped (the bit-error rate).
    pub flip: f64,
    /// Probability that each byte is dropped.
    pub drop: f64,
    /// Probability that each byte is sent twice.
    pub duplicate: f64,
    /// Probability, per byte, that the rest of the current frame is cut off (bytes dropped up to,
    /// not including, the next `0x00`).
    pub truncate: f64,
    /// Seed of the fault sequence.
    pub seed: u64,
}

impl Noise {
    /// Bit flips at `rate` per bit, and drops, duplicates and truncations at `rate / 8` per byte
    /// each (so each kind of fault hits about as many frames as flips of a whole byte would).
    pub fn rate(rate: f64, seed: u64) -> Self {
        Self {
            flip: rate,
            drop: rate / 8.0,
            duplicate: rate / 8.0,
            truncate: rate / 8.0,
            seed,
        }
    }

    /// The same rates with another seed (e.g. one per direction).
    pub fn reseeded(self, seed: u64) -> Self {
        Self { seed, ..self }
    }
}

/// Faults injected so far.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct NoiseStats {
    /// Bytes that went in.
    pub bytes: u64,
    /// Bits flipped.
    pub flipped_bits: u64,
    /// Bytes dropped (one at a time).
    pub dropped: u64,
    /// Bytes sent twice.
    pub duplicated: u64,
    /// Frames cut short.
    pub truncated: u64,
}

/// splitmix64: small, seeded, good enough for fault decisions.
#[derive(Clone, Debug)]
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }
    /// `true` with probability `p`: `next / 2^64 < p`.
    fn chance(&mut self, p: f64) -> bool {
        p > 0.0 && (self.next() >> 11) as f64 * (1.0 / (1u64 << 53) as f64) < p
    }
}

/// The fault process of one direction.
#[derive(Debug)]
struct Injector {
    noise: Noise,
    rng: Rng,
    cutting: bool,
    stats: Arc<Mutex<NoiseStats>>,
}

impl Injector {
    fn new(noise: Noise, stats: Arc<Mutex<NoiseStats>>) -> Self {
        Self {
            noise,
            rng: Rng(noise.seed),
            cutting: false,
            stats,
        }
    }

    /// Appends `input` to `out` with faults applied.
    fn apply(&mut self, input: &[u8], out: &mut Vec<u8>) {
        let n = self.noise;
        let mut st = *self.stats.lock().unwrap_or_else(PoisonError::into_inner);
        for &b in input {
            st.bytes += 1;
            if self.cutting {
                if b != 0 {
                    continue;
                }
                self.cutting = false;
            } else if b != 0 && self.rng.chance(n.truncate) {
                self.cutting = true;
                st.truncated += 1;
                continue;
            }
            if self.rng.chance(n.drop) {
                st.dropped += 1;
                continue;
            }
            let mut v = b;
            for bit in 0..8 {
                if self.rng.chance(n.flip) {
                    v ^= 1 << bit;
                    st.flipped_bits += 1;
                }
            }
            out.push(v);
            if self.rng.chance(n.duplicate) {
                out.push(v);
                st.duplicated += 1;
            }
        }
        *self.stats.lock().unwrap_or_else(PoisonError::into_inner) = st;
    }
}

/// A stream with faults injected into everything read from it and written to it.
#[derive(Debug)]
pub struct Noisy<T> {
    inner: T,
    injector: Injector,
    buf: Vec<u8>,
    pos: usize,
}

impl<T> Noisy<T> {
    /// Wraps `inner`; faults are counted into `stats` (shared, e.g. by both directions).
    pub fn new(inner: T, noise: Noise, stats: Arc<Mutex<NoiseStats>>) -> Self {
        Self {
            inner,
            injector: Injector::new(noise, stats),
            buf: Vec::new(),
            pos: 0,
        }
    }
}

impl<T: Read> Read for Noisy<T> {
    fn read(&mut self, out: &mut [u8]) -> std::io::Result<usize> {
        while self.pos >= self.buf.len() {
            let mut raw = [0u8; 4096];
            let n = self.inner.read(&mut raw)?;
            if n == 0 {
                return Ok(0);
            }
            self.buf.clear();
            self.pos = 0;
            self.injector.apply(&raw[..n], &mut self.buf);
        }
        let k = out.len().min(self.buf.len() - self.pos);
        out[..k].copy_from_slice(&self.buf[self.pos..self.pos + k]);
        self.pos += k;
        Ok(k)
    }
}

impl<T: Write> Write for Noisy<T> {
    fn write(&mut self, input: &[u8]) -> std::io::Result<usize> {
        let mut out = Vec::with_capacity(input.len() + 8);
        self.injector.apply(input, &mut out);
        self.inner.write_all(&out)?;
        Ok(input.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        self.inner.flush()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn run(noise: Noise, input: &[u8]) -> (Vec<u8>, NoiseStats) {
        let stats = Arc::new(Mutex::new(NoiseStats::default()));
        let mut w = Noisy::new(Vec::new(), noise, stats.clone());
        w.write_all(input).unwrap();
        let st = *stats.lock().unwrap();
        (w.inner, st)
    }

    #[test]
    fn rates_are_met_and_runs_repeat() {
        // Frames of 100 bytes.
        let input: Vec<u8> = (0..200_000u32)
            .map(|i| {
                if i % 100 == 99 {
                    0
                } else {
                    (i % 255 + 1) as u8
                }
            })
            .collect();
        let (a, st) = run(Noise::rate(1e-3, 5), &input);
        let (b, _) = run(Noise::rate(1e-3, 5), &input);
        assert_eq!(a, b, "same seed, same faults");
        assert!(
            st.dropped > 0 && st.duplicated > 0 && st.truncated > 0,
            "{st:?}"
        );
        let flips_only = Noise {
            drop: 0.0,
            duplicate: 0.0,
            truncate: 0.0,
            ..Noise::rate(1e-3, 6)
        };
        let (c, st) = run(flips_only, &input);
        assert_eq!(c.len(), input.len());
        let rate = st.flipped_bits as f64 / (8.0 * input.len() as f64);
        assert!((0.8e-3..1.2e-3).contains(&rate), "flip rate {rate}");
        let differing: u32 = c
            .iter()
            .zip(&input)
            .map(|(x, y)| (x ^ y).count_ones())
            .sum();
        assert_eq!(u64::from(differing), st.flipped_bits);
        let clean = run(Noise::rate(0.0, 5), &input).0;
        assert_eq!(clean, input);
    }

    #[test]
    fn truncation_stops_at_the_terminator() {
        let noise = Noise {
            flip: 0.0,
            drop: 0.0,
            duplicate: 0.0,
            truncate: 1.0,
            seed: 1,
        };
        let (out, st) = run(noise, &[1, 2, 3, 0, 4, 0]);
        assert_eq!(out, vec![0, 0]);
        assert_eq!(st.truncated, 2);
    }
}
