//! The safe half of the C decision rules (`snn_decision_t`): the sliding-window and
//! first-to-threshold rules of `snn_models::decision` over a stream, in caller RAM.
//!
//! A rule keeps only scalars in its handle (populations, width or threshold, and the marks
//! `head`, `steps`, `reached`); its counts live in the caller's RAM. Each push rebuilds the
//! `snn_models` rule over that RAM with `resume`, feeds it the engine's output spikes of the
//! last step and stores the marks back, so the C rule decides exactly as the Rust firmware's.
use crate::status::SnnStatus;
use snn_models::decision::{DecisionError, FirstToThreshold, Populations, Reached, Window};
use snn_models::Model;

/// A decision after a push, as `snn_verdict_t`.
#[repr(C)]
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub struct SnnVerdict {
    /// Steps pushed since the rule was opened or reset.
    pub steps: u32,
    /// Window: `steps` when decided. First to threshold: the step (1-based) at which the class
    /// reached the threshold (the decision latency). 0 while undecided.
    pub decided_at: u32,
    /// The decided class (0 while undecided).
    pub class_index: u16,
    /// Window: the window holds an output spike. First to threshold: a class reached it.
    pub decided: bool,
}

/// Which rule a handle runs and its scalars (everything but the counts in caller RAM).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Rule {
    /// The model's populations (`num_classes`, `neurons_per_class`).
    pub classes: u16,
    /// Output neurons per class.
    pub per_class: u16,
    /// Window width in steps; 0 for first to threshold.
    pub width: u16,
    /// Threshold `N` of first to threshold (0 for a window).
    pub threshold: u32,
    /// The window's next ring position.
    pub head: u16,
    /// Steps pushed since the open or reset.
    pub steps: u32,
    /// First to threshold: the decision once taken.
    pub reached: Option<Reached>,
}

fn param(e: DecisionError) -> SnnStatus {
    match e {
        DecisionError::BufferTooSmall { .. } => SnnStatus::SnnErrRamTooSmall,
        DecisionError::Neuron { .. } => SnnStatus::SnnErrInputIndex,
        _ => SnnStatus::SnnErrDecisionParam,
    }
}

/// The populations of a model a spike-count rule can decide on; `SNN_ERR_READOUT_RULE` for a
/// readout model (its last layer does not spike).
fn populations(model: &Model<'_>) -> Result<Populations, SnnStatus> {
    if model.has_readout() {
        return Err(SnnStatus::SnnErrReadoutRule);
    }
    Populations::of(model).map_err(param)
}

/// Bytes of RAM a rule needs: `4 * classes` (the per-class counts or window sums) plus, for a
/// window of `width` steps, `2 * width * classes` (its ring of per-step counts).
pub fn ram_bytes(model: &Model<'_>, width: u16) -> Result<usize, SnnStatus> {
    let c = usize::from(populations(model)?.classes());
    Ok(4 * c + 2 * usize::from(width) * c)
}

impl Rule {
    /// A window of `width` steps (1..=65535) over `model`'s populations, clearing `sums` and
    /// `ring` (cut from the caller's RAM).
    pub fn window(
        model: &Model<'_>,
        width: u16,
        sums: &mut [u32],
        ring: &mut [u16],
    ) -> Result<Self, SnnStatus> {
        let pops = populations(model)?;
        Window::new(pops, usize::from(width), ring, sums).map_err(param)?;
        Ok(Self::of(pops, width, 0))
    }

    /// First to `threshold` (at least 1) spikes over `model`'s populations, clearing `counts`.
    pub fn first_to(
        model: &Model<'_>,
        threshold: u32,
        counts: &mut [u32],
    ) -> Result<Self, SnnStatus> {
        let pops = populations(model)?;
        FirstToThreshold::new(pops, threshold, counts).map_err(param)?;
        Ok(Self::of(pops, 0, threshold))
    }

    fn of(pops: Populations, width: u16, threshold: u32) -> Self {
        Self {
            classes: pops.classes(),
            per_class: pops.per_class(),
            width,
            threshold,
            head: 0,
            steps: 0,
            reached: None,
        }
    }

    /// Forgets every step (a new series): clears the counts and the marks.
    pub fn reset(&mut self, counts: &mut [u32], ring: &mut [u16]) {
        counts.fill(0);
        ring.fill(0);
        self.head = 0;
        self.steps = 0;
        self.reached = None;
    }

    /// Feeds one step's output spikes (indices of output neurons) and returns the decision;
    /// on error nothing changes.
    pub fn push(
        &mut self,
        spikes: &[u16],
        counts: &mut [u32],
        ring: &mut [u16],
    ) -> Result<SnnVerdict, SnnStatus> {
        let pops = Populations::new(self.classes, self.per_class).map_err(param)?;
        let steps = self.steps.saturating_add(1);
        if self.width > 0 {
            let w = usize::from(self.width);
            let head = usize::from(self.head);
            let mut r = Window::resume(pops, w, ring, counts, head).map_err(param)?;
            let d = r.push(spikes).map_err(param)?;
            self.head = r.mark() as u16;
            self.steps = steps;
            Ok(SnnVerdict {
                steps,
                decided_at: if d.is_some() { steps } else { 0 },
                class_index: d.unwrap_or(0),
                decided: d.is_some(),
            })
        } else {
            let mark = (self.steps, self.reached);
            let mut r =
                FirstToThreshold::resume(pops, self.threshold, counts, mark).map_err(param)?;
            let d = r.push(spikes).map_err(param)?;
            (self.steps, self.reached) = r.mark();
            Ok(SnnVerdict {
                steps: self.steps,
                decided_at: d.map_or(0, |r| r.step),
                class_index: d.map_or(0, |r| r.class),
                decided: d.is_some(),
            })
        }
    }
}
