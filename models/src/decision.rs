//! Decision rules over the output spikes of each step: the same code decides on the host and on
//! the board.
//!
//! The engine's last layer holds `classes * per_class` output neurons; output neuron `j` votes
//! for class `j / per_class` ([`Populations`]). Each rule is fed, once per step, the indices of
//! the output neurons that spiked at that step (`Engine::layer_spikes(last)`) and keeps its own
//! state in caller storage (no allocation, no panic; bad indices or short buffers are a
//! [`DecisionError`]):
//!
//! - [`FinalCount`]: the class with most spikes over all steps so far; at the end of a sample it
//!   is the engine's `predict` (ties and an all-silent output go to the lowest class).
//! - [`Window`]: the class with most spikes over the last `W` steps, decided at every step
//!   (`None` while the window holds no output spike; ties go to the lowest class).
//! - [`FirstToThreshold`]: the first class whose count reaches `N`, and the step at which it
//!   did (the decision latency); several classes reaching `N` in the same step: the one with
//!   the higher count, then the lowest class.
//! - [`Settle`]: for reports, the step from which a per-step decision stopped changing.
//! - [`MaxMembrane`]: the rule of a model whose last layer is a non-spiking readout
//!   (format [`crate::format::Output::MaxMembrane`], NIR `LI` / `I`). It is fed the readout's
//!   membranes (`i32`, one neuron per class) once per step and keeps, per class, the maximum
//!   over the sample's valid steps, `value_c = max_t v_c(t)` (the first step sets it; no
//!   initial 0 takes part); the decision is `argmax_c value_c`, ties to the lowest class. This
//!   is the decision of the snnTorch and Norse tutorials for a leaky-integrator readout
//!   (`mem_rec.max(0)` / `torch.max(voltages, 0)`, then `argmax`). The engine keeps the same
//!   maximum itself through [`max_membrane_step`] (`Engine::readout`), so a board running a
//!   whole sample reports the values this rule computes.
//!
//! Counts per class are `u32` sums of `u16` per-step counts: a window of at most 65535 steps of
//! at most 65535 spikes per class and step sums to at most `65535^2 < 2^32`, so window sums are
//! exact; whole-sample counts saturate at `u32::MAX`.
use core::fmt;

use crate::format::Model;

/// Why a decision rule refused its storage or a step's spikes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum DecisionError {
    /// `classes` or `per_class` is 0, or `classes * per_class` exceeds 65535.
    Populations {
        /// Classes given.
        classes: u16,
        /// Output neurons per class given.
        per_class: u16,
    },
    /// A caller buffer is shorter than the rule needs.
    BufferTooSmall {
        /// Which buffer (`"counts"`, `"ring"`, `"sums"`).
        what: &'static str,
        /// Elements needed.
        needed: usize,
        /// Elements given.
        given: usize,
    },
    /// The window width is 0 or above 65535.
    WindowWidth {
        /// Width given.
        width: usize,
    },
    /// The threshold `N` is 0.
    ZeroThreshold,
    /// A spike index is not an output neuron (`>= classes * per_class`).
    Neuron {
        /// The offending index.
        index: u16,
        /// Output neurons there are.
        outputs: u32,
    },
}

impl fmt::Display for DecisionError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Populations { classes, per_class } => write!(
                f,
                "decision populations: {classes} classes of {per_class} neurons \
                 (each must be at least 1, the product at most 65535)"
            ),
            Self::BufferTooSmall {
                what,
                needed,
                given,
            } => write!(
                f,
                "decision buffer `{what}` holds {given} elements, needs {needed}"
            ),
            Self::WindowWidth { width } => {
                write!(f, "decision window of {width} steps (must be 1..=65535)")
            }
            Self::ZeroThreshold => write!(f, "decision threshold must be at least 1 spike"),
            Self::Neuron { index, outputs } => write!(
                f,
                "output spike index {index} is not an output neuron (there are {outputs})"
            ),
        }
    }
}

#[cfg(feature = "std")]
impl std::error::Error for DecisionError {}

/// How output neurons map to classes: neuron `j` votes for class `j / per_class`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Populations {
    classes: u16,
    per_class: u16,
}

impl Populations {
    /// `classes` populations of `per_class` neurons each (both at least 1, product at most 65535).
    pub fn new(classes: u16, per_class: u16) -> Result<Self, DecisionError> {
        if classes == 0 || per_class == 0 || u32::from(classes) * u32::from(per_class) > 65535 {
            return Err(DecisionError::Populations { classes, per_class });
        }
        Ok(Self { classes, per_class })
    }

    /// The populations of a model's header (`num_classes`, `neurons_per_class`).
    pub fn of(model: &Model<'_>) -> Result<Self, DecisionError> {
        Self::new(model.header.num_classes, model.header.neurons_per_class)
    }

    /// Number of classes.
    pub fn classes(&self) -> u16 {
        self.classes
    }

    /// Output neurons per class.
    pub fn per_class(&self) -> u16 {
        self.per_class
    }

    /// Number of output neurons, `classes * per_class`.
    pub fn outputs(&self) -> u32 {
        u32::from(self.classes) * u32::from(self.per_class)
    }

    /// Class of output neuron `index`: `index / per_class`.
    pub fn class_of(&self, index: u16) -> Result<u16, DecisionError> {
        if u32::from(index) >= self.outputs() {
            return Err(DecisionError::Neuron {
                index,
                outputs: self.outputs(),
            });
        }
        Ok(index / self.per_class)
    }

    /// Checks every index of one step's spikes, so a rule changes no state on bad input.
    fn check(&self, spikes: &[u16]) -> Result<(), DecisionError> {
        spikes.iter().try_for_each(|&j| self.class_of(j).map(drop))
    }

    fn classes_usize(&self) -> usize {
        usize::from(self.classes)
    }
}

/// Class with the largest count; ties go to the lowest class; `None` when every count is 0.
pub fn argmax(counts: &[u32]) -> Option<u16> {
    let mut best: Option<(u16, u32)> = None;
    for (c, &n) in counts.iter().enumerate().take(usize::from(u16::MAX)) {
        if n > best.map_or(0, |(_, b)| b) {
            best = Some((c as u16, n));
        }
    }
    best.map(|(c, _)| c)
}

fn need<T>(what: &'static str, buf: &[T], needed: usize) -> Result<(), DecisionError> {
    if buf.len() < needed {
        return Err(DecisionError::BufferTooSmall {
            what,
            needed,
            given: buf.len(),
        });
    }
    Ok(())
}

/// The final-count rule: per-class spike counts over every step so far.
///
/// `decision = argmax(counts)`, ties and all-zero counts -> the lowest class (0), which is
/// exactly `engine::predict` on the engine's output counts after the same steps.
#[derive(Debug)]
pub struct FinalCount<'b> {
    pops: Populations,
    counts: &'b mut [u32],
    steps: u32,
}

impl<'b> FinalCount<'b> {
    /// A rule counting into `counts` (at least `classes` elements; cleared here).
    pub fn new(pops: Populations, counts: &'b mut [u32]) -> Result<Self, DecisionError> {
        need("counts", counts, pops.classes_usize())?;
        let counts = &mut counts[..pops.classes_usize()];
        counts.fill(0);
        Ok(Self {
            pops,
            counts,
            steps: 0,
        })
    }

    /// Forgets every step (a new sample).
    pub fn reset(&mut self) {
        self.counts.fill(0);
        self.steps = 0;
    }

    /// Adds one step's output spikes; on error nothing changes.
    pub fn push(&mut self, spikes: &[u16]) -> Result<(), DecisionError> {
        self.pops.check(spikes)?;
        for &j in spikes {
            let c = usize::from(j / self.pops.per_class);
            if let Some(n) = self.counts.get_mut(c) {
                *n = n.saturating_add(1);
            }
        }
        self.steps = self.steps.saturating_add(1);
        Ok(())
    }

    /// Per-class counts so far.
    pub fn counts(&self) -> &[u32] {
        self.counts
    }

    /// Steps pushed since the last reset.
    pub fn steps(&self) -> u32 {
        self.steps
    }

    /// The class with most spikes so far (ties and silence -> the lowest class).
    pub fn decision(&self) -> u16 {
        argmax(self.counts).unwrap_or(0)
    }
}

/// One step of the readout maximum: `max_c = v_c` at the first step of a sample (`first`),
/// else `max_c = max(max_c, v_c)`, for every class present in both slices. The one place the
/// readout's per-class value is computed (the engine and [`MaxMembrane`] call it).
#[inline]
pub fn max_membrane_step(max: &mut [i32], membranes: &[i32], first: bool) {
    for (m, &v) in max.iter_mut().zip(membranes) {
        *m = if first { v } else { (*m).max(v) };
    }
}

/// Class with the largest readout value; ties go to the lowest class; 0 for no values.
pub fn readout_class(values: &[i32]) -> u16 {
    let mut best: Option<(u16, i32)> = None;
    for (c, &v) in values.iter().enumerate().take(usize::from(u16::MAX)) {
        if best.is_none_or(|(_, b)| v > b) {
            best = Some((c as u16, v));
        }
    }
    best.map_or(0, |(c, _)| c)
}

/// The readout rule: per class the maximum of the non-spiking readout's membrane over every
/// step so far ([`max_membrane_step`]), decided by [`readout_class`] (ties -> lowest class).
#[derive(Debug)]
pub struct MaxMembrane<'b> {
    max: &'b mut [i32],
    steps: u32,
}

impl<'b> MaxMembrane<'b> {
    /// A rule over `classes` classes keeping its maxima in `max` (at least `classes` elements).
    pub fn new(classes: u16, max: &'b mut [i32]) -> Result<Self, DecisionError> {
        if classes == 0 {
            return Err(DecisionError::Populations {
                classes,
                per_class: 1,
            });
        }
        let n = usize::from(classes);
        need("max", max, n)?;
        let max = &mut max[..n];
        max.fill(0);
        Ok(Self { max, steps: 0 })
    }

    /// Forgets every step (a new sample).
    pub fn reset(&mut self) {
        self.max.fill(0);
        self.steps = 0;
    }

    /// Adds one step's readout membranes (`Engine::membranes(last)`: one per class); on error
    /// (a slice of another length) nothing changes.
    pub fn push(&mut self, membranes: &[i32]) -> Result<(), DecisionError> {
        if membranes.len() != self.max.len() {
            return Err(DecisionError::BufferTooSmall {
                what: "readout membranes",
                needed: self.max.len(),
                given: membranes.len(),
            });
        }
        max_membrane_step(self.max, membranes, self.steps == 0);
        self.steps = self.steps.saturating_add(1);
        Ok(())
    }

    /// Per-class maxima so far (0 before the first step).
    pub fn values(&self) -> &[i32] {
        self.max
    }

    /// Steps pushed since the last reset.
    pub fn steps(&self) -> u32 {
        self.steps
    }

    /// The class with the largest maximum so far (ties -> the lowest class).
    pub fn decision(&self) -> u16 {
        readout_class(self.max)
    }
}

/// The sliding-window rule: per-class counts over the last `W` steps, a decision at every step.
///
/// Storage: `ring` holds `W * classes` `u16` (the per-class count of each of the last `W`
/// steps), `sums` holds `classes` `u32` (their column sums). A push subtracts the oldest step
/// and adds the new one, so a step costs `O(classes + spikes)` whatever `W` is.
/// `decision_t = argmax(sum over steps t-W+1..=t of counts)`, ties -> the lowest class,
/// `None` while the window holds no output spike. Before `W` steps the window is the steps so
/// far.
#[derive(Debug)]
pub struct Window<'b> {
    pops: Populations,
    width: usize,
    ring: &'b mut [u16],
    sums: &'b mut [u32],
    head: usize,
}

impl<'b> Window<'b> {
    /// Elements of `ring` (`u16`) and `sums` (`u32`) a window of `width` steps needs.
    pub fn storage(pops: Populations, width: usize) -> (usize, usize) {
        (
            width.saturating_mul(pops.classes_usize()),
            pops.classes_usize(),
        )
    }

    /// A window of `width` steps (1..=65535) over caller storage (see [`Window::storage`];
    /// cleared here).
    pub fn new(
        pops: Populations,
        width: usize,
        ring: &'b mut [u16],
        sums: &'b mut [u32],
    ) -> Result<Self, DecisionError> {
        if width == 0 || width > usize::from(u16::MAX) {
            return Err(DecisionError::WindowWidth { width });
        }
        let (ring_len, sums_len) = Self::storage(pops, width);
        need("ring", ring, ring_len)?;
        need("sums", sums, sums_len)?;
        let mut w = Self {
            pops,
            width,
            ring: &mut ring[..ring_len],
            sums: &mut sums[..sums_len],
            head: 0,
        };
        w.reset();
        Ok(w)
    }

    /// Empties the window (a new sample).
    pub fn reset(&mut self) {
        self.ring.fill(0);
        self.sums.fill(0);
        self.head = 0;
    }

    /// Width `W` in steps.
    pub fn width(&self) -> usize {
        self.width
    }

    /// Adds one step's output spikes, drops the step `W` steps back and returns the decision
    /// over the window; on error nothing changes.
    pub fn push(&mut self, spikes: &[u16]) -> Result<Option<u16>, DecisionError> {
        self.pops.check(spikes)?;
        let c = self.pops.classes_usize();
        let start = self.head * c;
        if let Some(slot) = self.ring.get_mut(start..start + c) {
            for (s, old) in self.sums.iter_mut().zip(slot.iter_mut()) {
                *s = s.saturating_sub(u32::from(*old));
                *old = 0;
            }
            for &j in spikes {
                let k = usize::from(j / self.pops.per_class);
                if let (Some(n), Some(s)) = (slot.get_mut(k), self.sums.get_mut(k)) {
                    let before = *n;
                    *n = n.saturating_add(1);
                    *s = s.saturating_add(u32::from(*n - before));
                }
            }
        }
        self.head = (self.head + 1) % self.width;
        Ok(self.decision())
    }

    /// Per-class counts over the window.
    pub fn sums(&self) -> &[u32] {
        self.sums
    }

    /// The decision over the current window (ties -> the lowest class, `None` if silent).
    pub fn decision(&self) -> Option<u16> {
        argmax(self.sums)
    }
}

/// A first-to-threshold decision: the class and the step at which it was taken.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Reached {
    /// The class whose count reached `N` first.
    pub class: u16,
    /// Steps run when it did, counting that step (1 = the first step): the decision latency.
    pub step: u32,
}

/// The first-to-threshold rule: the first class whose spike count since the reset reaches `N`.
///
/// Once taken, the decision stays until [`reset`](Self::reset). When several classes reach `N`
/// in the same step, the one with the higher count wins, then the lowest class. A sample may end
/// undecided (`None`): no class reached `N`.
#[derive(Debug)]
pub struct FirstToThreshold<'b> {
    pops: Populations,
    threshold: u32,
    counts: &'b mut [u32],
    steps: u32,
    reached: Option<Reached>,
}

impl<'b> FirstToThreshold<'b> {
    /// A rule with threshold `N >= 1` counting into `counts` (at least `classes`; cleared here).
    pub fn new(
        pops: Populations,
        threshold: u32,
        counts: &'b mut [u32],
    ) -> Result<Self, DecisionError> {
        if threshold == 0 {
            return Err(DecisionError::ZeroThreshold);
        }
        need("counts", counts, pops.classes_usize())?;
        let counts = &mut counts[..pops.classes_usize()];
        counts.fill(0);
        Ok(Self {
            pops,
            threshold,
            counts,
            steps: 0,
            reached: None,
        })
    }

    /// Forgets every step and the decision (a new sample).
    pub fn reset(&mut self) {
        self.counts.fill(0);
        self.steps = 0;
        self.reached = None;
    }

    /// The threshold `N`.
    pub fn threshold(&self) -> u32 {
        self.threshold
    }

    /// Adds one step's output spikes and returns the decision so far; on error nothing changes.
    pub fn push(&mut self, spikes: &[u16]) -> Result<Option<Reached>, DecisionError> {
        self.pops.check(spikes)?;
        for &j in spikes {
            if let Some(n) = self.counts.get_mut(usize::from(j / self.pops.per_class)) {
                *n = n.saturating_add(1);
            }
        }
        self.steps = self.steps.saturating_add(1);
        if self.reached.is_none() {
            let mut best: Option<(u16, u32)> = None;
            for (c, &n) in self.counts.iter().enumerate() {
                if n >= self.threshold && n > best.map_or(0, |(_, b)| b) {
                    best = Some((c as u16, n));
                }
            }
            self.reached = best.map(|(class, _)| Reached {
                class,
                step: self.steps,
            });
        }
        Ok(self.reached)
    }

    /// Per-class counts since the reset.
    pub fn counts(&self) -> &[u32] {
        self.counts
    }

    /// The decision, once a class has reached `N`.
    pub fn reached(&self) -> Option<Reached> {
        self.reached
    }
}

/// Tracks when a per-step decision settled: the first step from which it never changed again.
///
/// Feed it the decision of every step; after the last one, [`since`](Self::since) is the
/// 1-based step from which the decision has been [`current`](Self::current) without change
/// (the latency of a rule that decides at every step, such as [`Window`]).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Settle {
    current: Option<u16>,
    since: u32,
    steps: u32,
}

impl Settle {
    /// Nothing seen yet.
    pub fn new() -> Self {
        Self::default()
    }

    /// Records the decision of the next step.
    pub fn push(&mut self, decision: Option<u16>) {
        self.steps = self.steps.saturating_add(1);
        if self.steps == 1 || decision != self.current {
            self.current = decision;
            self.since = self.steps;
        }
    }

    /// The last decision pushed.
    pub fn current(&self) -> Option<u16> {
        self.current
    }

    /// The 1-based step since which the decision has been `current` (0 before any push).
    pub fn since(&self) -> u32 {
        self.since
    }

    /// Steps pushed.
    pub fn steps(&self) -> u32 {
        self.steps
    }
}

// Resuming between requests (#14 item 1, streams on the board): a rule's storage stays with
// the caller, and its few scalars (`steps`, `head`, `reached`) are read back with `mark` and
// handed to `resume`, so a rule continues across requests exactly as if it had never been
// dropped. `resume` validates sizes and never clears the storage.

impl<'b> FinalCount<'b> {
    /// Steps pushed so far: with the counts in the caller's storage, all [`resume`](Self::resume)
    /// needs.
    pub fn mark(&self) -> u32 {
        self.steps
    }

    /// The rule over `counts` as left by a rule whose [`mark`](Self::mark) was `steps` (nothing
    /// is cleared).
    pub fn resume(
        pops: Populations,
        counts: &'b mut [u32],
        steps: u32,
    ) -> Result<Self, DecisionError> {
        need("counts", counts, pops.classes_usize())?;
        Ok(Self {
            pops,
            counts: &mut counts[..pops.classes_usize()],
            steps,
        })
    }
}

impl<'b> Window<'b> {
    /// Position of the next step in the ring: with the ring and sums in the caller's storage,
    /// all [`resume`](Self::resume) needs.
    pub fn mark(&self) -> usize {
        self.head
    }

    /// The window of `width` over `ring` and `sums` as left by a window whose
    /// [`mark`](Self::mark) was `head` (nothing is cleared; `head < width`).
    pub fn resume(
        pops: Populations,
        width: usize,
        ring: &'b mut [u16],
        sums: &'b mut [u32],
        head: usize,
    ) -> Result<Self, DecisionError> {
        if width == 0 || width > usize::from(u16::MAX) || head >= width {
            return Err(DecisionError::WindowWidth { width });
        }
        let (ring_len, sums_len) = Self::storage(pops, width);
        need("ring", ring, ring_len)?;
        need("sums", sums, sums_len)?;
        Ok(Self {
            pops,
            width,
            ring: &mut ring[..ring_len],
            sums: &mut sums[..sums_len],
            head,
        })
    }
}

impl<'b> FirstToThreshold<'b> {
    /// Steps pushed and the decision so far: with the counts in the caller's storage, all
    /// [`resume`](Self::resume) needs.
    pub fn mark(&self) -> (u32, Option<Reached>) {
        (self.steps, self.reached)
    }

    /// The rule with threshold `N >= 1` over `counts` as left by a rule whose
    /// [`mark`](Self::mark) was `(steps, reached)` (nothing is cleared).
    pub fn resume(
        pops: Populations,
        threshold: u32,
        counts: &'b mut [u32],
        (steps, reached): (u32, Option<Reached>),
    ) -> Result<Self, DecisionError> {
        if threshold == 0 {
            return Err(DecisionError::ZeroThreshold);
        }
        need("counts", counts, pops.classes_usize())?;
        Ok(Self {
            pops,
            threshold,
            counts: &mut counts[..pops.classes_usize()],
            steps,
            reached,
        })
    }
}
