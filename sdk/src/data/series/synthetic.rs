//! Seeded synthetic event streams of a chosen shape (SHD's by default: 700 channels, 20 classes,
//! up to 1 s), for benchmarks and the zoo when the recorded data is not at hand. They are a
//! shape and speed stand-in, not speech.
//!
//! Class `k` has two "formant" tracks, each a line in (time, channel) from a start channel to an
//! end channel fixed by the class (drawn from `seed`). A sample of class `k` lasts
//! `U(0.6, 1.0) x duration`, starts its tracks with a small random time shift and channel offset,
//! and emits, every millisecond, `events_per_ms` events per track at the track's channel plus a
//! normally distributed spread of `spread` channels; background events fall uniformly on every
//! channel at `noise_per_ms` per millisecond. Events carry no polarity.
use super::nmnist::EventSet;
use super::{Event, EventStream};
use crate::data::SplitMix64;

/// The shape of the synthetic streams (the `[series.synthetic]` table).
#[derive(Clone, Debug, PartialEq, serde::Deserialize, serde::Serialize)]
#[serde(deny_unknown_fields)]
pub struct SyntheticEvents {
    /// Channels (default 700, SHD's cochlea).
    #[serde(default = "default_channels")]
    pub channels: u32,
    /// Classes (default 20, SHD's digits).
    #[serde(default = "default_classes")]
    pub classes: usize,
    /// Training streams per class (default 40).
    #[serde(default = "default_train")]
    pub train_per_class: usize,
    /// Test streams per class (default 10).
    #[serde(default = "default_test")]
    pub test_per_class: usize,
    /// Longest stream, milliseconds (default 1000).
    #[serde(default = "default_duration")]
    pub duration_ms: u32,
    /// Events per track per millisecond (default 2).
    #[serde(default = "default_rate")]
    pub events_per_ms: u32,
    /// Background events per millisecond over all channels (default 1).
    #[serde(default = "default_noise")]
    pub noise_per_ms: u32,
    /// Standard deviation of a track's events across channels (default 8).
    #[serde(default = "default_spread")]
    pub spread: f32,
    /// Seed of the class tracks and the samples.
    #[serde(default)]
    pub seed: u64,
}

fn default_channels() -> u32 {
    700
}
fn default_classes() -> usize {
    20
}
fn default_train() -> usize {
    40
}
fn default_test() -> usize {
    10
}
fn default_duration() -> u32 {
    1000
}
fn default_rate() -> u32 {
    2
}
fn default_noise() -> u32 {
    1
}
fn default_spread() -> f32 {
    8.0
}

impl Default for SyntheticEvents {
    fn default() -> Self {
        Self {
            channels: default_channels(),
            classes: default_classes(),
            train_per_class: default_train(),
            test_per_class: default_test(),
            duration_ms: default_duration(),
            events_per_ms: default_rate(),
            noise_per_ms: default_noise(),
            spread: default_spread(),
            seed: 0,
        }
    }
}

fn unit(rng: &mut SplitMix64) -> f32 {
    (rng.next_u64() >> 40) as f32 / (1u64 << 24) as f32
}

/// Standard normal by Box-Muller.
fn normal(rng: &mut SplitMix64) -> f32 {
    let u = unit(rng).max(1e-7);
    let v = unit(rng);
    (-2.0 * u.ln()).sqrt() * (std::f32::consts::TAU * v).cos()
}

impl SyntheticEvents {
    /// Checks the shape; the message names `series.synthetic.<field>`.
    pub fn validate(&self) -> Result<(), String> {
        let bad = |f: &str, v: String| Err(format!("series.synthetic.{f} {v}"));
        if self.channels == 0 || self.channels > u32::from(u16::MAX) {
            return bad(
                "channels",
                format!("must be 1..=65535, got {}", self.channels),
            );
        }
        if self.classes < 2 {
            return bad(
                "classes",
                format!("must be at least 2, got {}", self.classes),
            );
        }
        if self.train_per_class == 0 || self.test_per_class == 0 {
            return bad(
                "train_per_class",
                "and test_per_class must be at least 1".to_owned(),
            );
        }
        if self.duration_ms == 0 {
            return bad("duration_ms", "must be at least 1".to_owned());
        }
        if !(self.spread.is_finite() && self.spread >= 0.0) {
            return bad("spread", format!("must be >= 0, got {}", self.spread));
        }
        Ok(())
    }

    /// Start and end channel of both tracks of every class.
    fn tracks(&self) -> Vec<[(f32, f32); 2]> {
        let mut rng = SplitMix64::new(self.seed ^ 0x7ac5_0000_0000_0001);
        let c = self.channels as f32;
        (0..self.classes)
            .map(|_| {
                let mut t = || (unit(&mut rng) * c, unit(&mut rng) * c);
                [t(), t()]
            })
            .collect()
    }

    /// One stream of class `k` from `rng`.
    fn stream(&self, tracks: &[(f32, f32); 2], rng: &mut SplitMix64) -> EventStream {
        let len_ms = ((0.6 + 0.4 * unit(rng)) * self.duration_ms as f32).max(1.0) as u32;
        let shift = (unit(rng) * 0.05 * self.duration_ms as f32) as u32;
        let offset = normal(rng) * 3.0;
        let top = self.channels as f32 - 1.0;
        let mut events = Vec::new();
        for ms in 0..len_ms {
            let base = u64::from(ms) * 1000;
            for (j, &(a, b)) in tracks.iter().enumerate() {
                // The second track starts a third of the way in.
                let start = shift + j as u32 * len_ms / 3;
                if ms < start {
                    continue;
                }
                let p = (ms - start) as f32 / (len_ms - start).max(1) as f32;
                let centre = a + (b - a) * p + offset;
                for _ in 0..self.events_per_ms {
                    let ch = (centre + self.spread * normal(rng)).round().clamp(0.0, top);
                    events.push(Event {
                        time_us: base + rng.below(1000) as u64,
                        channel: ch as u32,
                        polarity: None,
                    });
                }
            }
            for _ in 0..self.noise_per_ms {
                events.push(Event {
                    time_us: base + rng.below(1000) as u64,
                    channel: rng.below(self.channels as usize) as u32,
                    polarity: None,
                });
            }
        }
        events.sort_by_key(|e| e.time_us);
        EventStream {
            channels: self.channels,
            events,
        }
    }

    /// The training and test sets (disjoint draws of the same classes), classes `"0".."K-1"`,
    /// samples interleaved by class.
    pub fn generate(&self) -> (EventSet, EventSet) {
        let tracks = self.tracks();
        let classes: Vec<String> = (0..self.classes).map(|k| k.to_string()).collect();
        let make = |per_class: usize, stream: u64| {
            let mut rng = SplitMix64::new(self.seed.wrapping_add(stream));
            let (mut streams, mut labels) = (Vec::new(), Vec::new());
            for _ in 0..per_class {
                for (k, t) in tracks.iter().enumerate() {
                    streams.push(self.stream(t, &mut rng));
                    labels.push(k);
                }
            }
            EventSet {
                classes: classes.clone(),
                streams,
                labels,
            }
        };
        (
            make(self.train_per_class, 0x7141),
            make(self.test_per_class, 0x7e57),
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn streams_have_the_shape_and_are_reproducible() {
        let s = SyntheticEvents {
            channels: 50,
            classes: 3,
            train_per_class: 2,
            test_per_class: 1,
            duration_ms: 100,
            ..SyntheticEvents::default()
        };
        let (train, test) = s.generate();
        assert_eq!((train.streams.len(), test.streams.len()), (6, 3));
        assert_eq!(train.labels, [0, 1, 2, 0, 1, 2]);
        for st in &train.streams {
            assert!(st
                .events
                .iter()
                .all(|e| e.channel < 50 && e.time_us < 100_000));
            assert!(st.events.windows(2).all(|w| w[0].time_us <= w[1].time_us));
            assert!(st.events.len() > 100);
        }
        assert_eq!(s.generate().0, train);
        assert_ne!(train.streams[0], test.streams[0]);
    }
}
