//! A sensor feeding a model step by step and deciding as it goes: the board's activity
//! recognition loop, generic over the frame source so the host tests run the same code.
//!
//! Each [`SensorStream::step`] reads one frame of raw `i16` channels from a
//! [`FrameSource`] (e.g. [`crate::imu::lsm6dso::Lsm6dso`]), converts it to the model's raw units
//! ([`Units`]: `model = round(sensor * mul / 2^16)`, saturated to `i16`), runs one engine step on
//! it (`Engine::step_raw`: `x_c = model_c * 2^exp`, encoded with the channel constants stored in
//! the model), and pushes the step's output spikes through the three `snn_models::decision`
//! rules. The stream runs in segments of the model's `time_steps` (the length it was trained
//! on): the last step of a segment reports the final count, and the next step starts a new
//! segment from rest. A failed read or step changes nothing, so the caller may retry.
use core::fmt::{self, Write};

use snn_models::decision::{
    DecisionError, FinalCount, FirstToThreshold, Populations, Reached, Window,
};
use snn_models::{Engine, EngineError};

pub use crate::imu::FrameSource;

/// Most channels a frame may have.
pub const MAX_CHANNELS: usize = 16;

/// Conversion of a sensor's LSB to the model's raw units `2^exp`, per channel:
/// `model_c = sat_i16((sensor_c * mul_c + 2^15) >> 16)` (`mul_c` in Q16, rounding half up).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Units {
    exp: i8,
    channels: usize,
    mul_q16: [i32; MAX_CHANNELS],
}

impl Units {
    /// Units with exponent `exp` and one Q16 multiplier per channel (`None` for more than
    /// [`MAX_CHANNELS`] channels).
    pub fn new(exp: i8, mul_q16: &[i32]) -> Option<Self> {
        let mut m = [0; MAX_CHANNELS];
        m.get_mut(..mul_q16.len())?.copy_from_slice(mul_q16);
        Some(Self {
            exp,
            channels: mul_q16.len(),
            mul_q16: m,
        })
    }

    /// Units for a model trained on physical values when one sensor LSB of channel `c` is
    /// `per_lsb[c]` of them (e.g. [`crate::imu::lsm6dso::Config::si_per_lsb`]):
    /// `mul_c = round(per_lsb[c] * 2^(16 - exp))`; `None` for too many channels or a multiplier
    /// outside `±2^31`.
    pub fn from_physical(per_lsb: &[f64], exp: i8) -> Option<Self> {
        let mut m = [0i32; MAX_CHANNELS];
        let mut scale = 65536.0f64;
        for _ in 0..exp.unsigned_abs() {
            scale = if exp < 0 { scale * 2.0 } else { scale / 2.0 };
        }
        for (o, &p) in m.get_mut(..per_lsb.len())?.iter_mut().zip(per_lsb) {
            let x = p * scale;
            if !x.is_finite() || x.abs() >= 2_147_483_647.0 {
                return None;
            }
            *o = if x >= 0.0 {
                (x + 0.5) as i32
            } else {
                -((-x + 0.5) as i32)
            };
        }
        Self::new(exp, m.get(..per_lsb.len())?)
    }

    /// The exponent of the model's raw unit `2^exp`.
    pub fn exp(&self) -> i8 {
        self.exp
    }

    /// Channels.
    pub fn channels(&self) -> usize {
        self.channels
    }

    /// The Q16 multipliers.
    pub fn mul_q16(&self) -> &[i32] {
        &self.mul_q16[..self.channels]
    }

    /// Converts one frame (`sensor` and `out` of at least `channels()` values).
    pub fn convert(&self, sensor: &[i16], out: &mut [i16]) {
        for ((o, &s), &m) in out.iter_mut().zip(sensor).zip(self.mul_q16()) {
            let v = (i64::from(s) * i64::from(m) + (1 << 15)) >> 16;
            *o = v.clamp(i64::from(i16::MIN), i64::from(i16::MAX)) as i16;
        }
    }
}

/// Parameters of the decision rules: window `W` steps, threshold `N` spikes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Rules {
    /// Sliding window width in steps.
    pub window: usize,
    /// First-to-threshold spike count.
    pub threshold: u32,
}

/// Caller storage of the decision rules (sizes: `classes`, `W * classes`, `classes`,
/// `classes`; see `snn_models::decision`).
#[derive(Debug)]
pub struct DecisionBuffers<'d> {
    /// Final-count class counts.
    pub final_counts: &'d mut [u32],
    /// Window ring of per-step class counts.
    pub window_ring: &'d mut [u16],
    /// Window class sums.
    pub window_sums: &'d mut [u32],
    /// First-to-threshold class counts.
    pub first_counts: &'d mut [u32],
}

/// Why a stream could not be set up.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SetupError {
    /// The rules or their buffers do not fit the model.
    Decision(DecisionError),
    /// The units convert a different number of channels than the model takes.
    Channels {
        /// Channels of the model.
        model: usize,
        /// Channels of the units.
        units: usize,
    },
}

/// Why one step failed (nothing of the stream changed).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StepError<E> {
    /// The sensor could not be read.
    Sensor(E),
    /// The source yields a different number of channels than the model takes.
    Channels {
        /// Channels of the model.
        model: usize,
        /// Channels of the source.
        source: usize,
    },
    /// The engine refused the frame.
    Engine(EngineError),
    /// A decision rule refused the step's spikes.
    Decision(DecisionError),
}

/// What one step produced.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct StepReport {
    /// 1-based step within the segment.
    pub step: u32,
    /// Output spikes of this step.
    pub output_spikes: u16,
    /// The sliding-window decision (`None`: no output spike in the window).
    pub window: Option<u16>,
    /// The first-to-threshold decision so far in this segment.
    pub first: Option<Reached>,
    /// On the segment's last step: the final-count decision.
    pub segment_end: Option<u16>,
}

impl StepReport {
    /// Writes the report as one text line for a serial terminal:
    /// `step=37 out=2 window=1 first=1@21` (`-` for no decision), plus ` final=1` on a
    /// segment's last step, then `\n`.
    pub fn write_line(&self, out: &mut impl Write) -> fmt::Result {
        write!(out, "step={} out={} window=", self.step, self.output_spikes)?;
        match self.window {
            Some(c) => write!(out, "{c}")?,
            None => out.write_char('-')?,
        }
        out.write_str(" first=")?;
        match self.first {
            Some(r) => write!(out, "{}@{}", r.class, r.step)?,
            None => out.write_char('-')?,
        }
        if let Some(c) = self.segment_end {
            write!(out, " final={c}")?;
        }
        out.write_char('\n')
    }
}

/// The engine and the decision rules fed by a sensor, one step per frame.
pub struct SensorStream<'m, 's, 'd> {
    engine: Engine<'m, 's>,
    units: Units,
    last_layer: usize,
    segment: u32,
    at: u32,
    fin: FinalCount<'d>,
    window: Window<'d>,
    first: FirstToThreshold<'d>,
    sensor: [i16; MAX_CHANNELS],
    raw: [i16; MAX_CHANNELS],
}

impl<'m, 's, 'd> SensorStream<'m, 's, 'd> {
    /// A stream over `engine` (reset here) whose model takes `units.channels()` continuous
    /// channels, deciding with `rules` in `buffers`.
    pub fn new(
        mut engine: Engine<'m, 's>,
        model: &snn_models::Model<'_>,
        units: Units,
        rules: Rules,
        buffers: DecisionBuffers<'d>,
    ) -> Result<Self, SetupError> {
        let channels = model.channels.len();
        if channels != units.channels() || channels == 0 {
            return Err(SetupError::Channels {
                model: channels,
                units: units.channels(),
            });
        }
        let pops = Populations::of(model).map_err(SetupError::Decision)?;
        let fin = FinalCount::new(pops, buffers.final_counts).map_err(SetupError::Decision)?;
        let window = Window::new(pops, rules.window, buffers.window_ring, buffers.window_sums)
            .map_err(SetupError::Decision)?;
        let first = FirstToThreshold::new(pops, rules.threshold, buffers.first_counts)
            .map_err(SetupError::Decision)?;
        engine.reset();
        Ok(Self {
            engine,
            units,
            last_layer: model.layers.len().saturating_sub(1),
            segment: u32::from(model.header.time_steps).max(1),
            at: 0,
            fin,
            window,
            first,
            sensor: [0; MAX_CHANNELS],
            raw: [0; MAX_CHANNELS],
        })
    }

    /// Starts a new segment from rest (engine and rules reset).
    pub fn restart(&mut self) {
        self.engine.reset();
        self.fin.reset();
        self.window.reset();
        self.first.reset();
        self.at = 0;
    }

    /// Steps per segment (the model's `time_steps`).
    pub fn segment_len(&self) -> u32 {
        self.segment
    }

    /// The last frame in the model's raw units (what the engine was given).
    pub fn last_frame(&self) -> &[i16] {
        &self.raw[..self.units.channels()]
    }

    /// The engine (counts, stats, membranes).
    pub fn engine(&self) -> &Engine<'m, 's> {
        &self.engine
    }

    /// Reads one frame from `source`, runs one step and decides.
    pub fn step<S: FrameSource>(
        &mut self,
        source: &mut S,
    ) -> Result<StepReport, StepError<S::Error>> {
        let n = self.units.channels();
        if source.channels() != n {
            return Err(StepError::Channels {
                model: n,
                source: source.channels(),
            });
        }
        let mut sensor = [0i16; MAX_CHANNELS];
        source
            .read_frame(&mut sensor[..n])
            .map_err(StepError::Sensor)?;
        if self.at >= self.segment {
            self.restart();
        }
        self.sensor = sensor;
        let mut raw = [0i16; MAX_CHANNELS];
        self.units.convert(&sensor[..n], &mut raw[..n]);
        self.engine
            .step_raw(&raw[..n], self.units.exp())
            .map_err(StepError::Engine)?;
        self.raw = raw;
        let spikes = self.engine.layer_spikes(self.last_layer);
        // The engine gave output neuron indices, so the rules cannot refuse them; checked anyway.
        self.fin.push(spikes).map_err(StepError::Decision)?;
        let window = self.window.push(spikes).map_err(StepError::Decision)?;
        let first = self.first.push(spikes).map_err(StepError::Decision)?;
        self.at += 1;
        Ok(StepReport {
            step: self.at,
            output_spikes: spikes.len().min(usize::from(u16::MAX)) as u16,
            window,
            first,
            segment_end: (self.at == self.segment).then(|| self.fin.decision()),
        })
    }

    /// The last frame as the sensor gave it.
    pub fn last_sensor_frame(&self) -> &[i16] {
        &self.sensor[..self.units.channels()]
    }
}
