//! The decision rules of `snn simulate`: every sample's output spikes per step through
//! `snn_models::decision` (the code a board decides with), and accuracy and mean latency per rule.
//!
//! Per sample of `T_i` steps:
//! - final count: `argmax` of the class counts after step `T_i` (ties and silence -> class 0,
//!   the engine's `predict`); latency `T_i`.
//! - sliding window: the window rule's decision after step `T_i` (`None` = silent window, wrong);
//!   latency = the 1-based step from which the window decision never changed again
//!   (`Settle::since`).
//! - first to threshold: the class that first reached `N` spikes and its step; a sample where no
//!   class reached `N` falls back to the final count with latency `T_i` (and counts as
//!   undecided in `reached`).
//!
//! `mean latency = sum of latencies / samples`, in steps. A model ending in a non-spiking readout
//! (format v3 `Output::MaxMembrane`) has no output spikes: its final row is the readout decision
//! (`snn_models::decision::readout_class` through `Engine::predicted_class`), and the window and
//! threshold rules see a silent output.
use serde::Serialize;
use snn_models::decision::{
    DecisionError, FinalCount, FirstToThreshold, Populations, Reached, Settle, Window,
};
use snn_models::Model;

use crate::train::config::DecisionConfig;

/// What the three rules decided on one sample.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct SampleDecision {
    /// Steps the sample ran (`T_i`).
    pub steps: u32,
    /// Final-count class.
    pub final_class: u16,
    /// Window decision after the last step (`None`: no output spike in the last `W` steps).
    pub window_class: Option<u16>,
    /// Step from which the window decision stayed what it ended as.
    pub window_latency: u32,
    /// First class to reach `N`, and when (`None`: no class did).
    pub first: Option<Reached>,
}

impl SampleDecision {
    /// The first-to-threshold class, or the final count when no class reached `N`.
    pub fn first_class(&self) -> u16 {
        self.first.map_or(self.final_class, |r| r.class)
    }

    /// The first-to-threshold latency, or `T_i` when no class reached `N`.
    pub fn first_latency(&self) -> u32 {
        self.first.map_or(self.steps, |r| r.step)
    }
}

/// Runs the three rules over one sample's output spikes per step, reusing its buffers.
#[derive(Debug)]
pub struct Decider {
    pops: Populations,
    rules: DecisionConfig,
    counts: Vec<u32>,
    ring: Vec<u16>,
    sums: Vec<u32>,
    first: Vec<u32>,
}

impl Decider {
    /// Rules `rules` over `model`'s output populations.
    pub fn new(model: &Model<'_>, rules: DecisionConfig) -> Result<Self, DecisionError> {
        let pops = Populations::of(model)?;
        let (ring, sums) = Window::storage(pops, rules.window);
        let c = usize::from(pops.classes());
        // Checks the window and threshold once, so `decide` only fails on bad spike indices.
        Window::new(pops, rules.window, &mut vec![0; ring], &mut vec![0; sums])?;
        FirstToThreshold::new(pops, rules.threshold, &mut vec![0; c])?;
        Ok(Self {
            pops,
            rules,
            counts: vec![0; c],
            ring: vec![0; ring],
            sums: vec![0; sums],
            first: vec![0; c],
        })
    }

    /// The three decisions over `steps` (the output neurons that spiked at each step).
    pub fn decide<'s>(
        &mut self,
        steps: impl IntoIterator<Item = &'s [u16]>,
    ) -> Result<SampleDecision, DecisionError> {
        let mut fin = FinalCount::new(self.pops, &mut self.counts)?;
        let mut win = Window::new(self.pops, self.rules.window, &mut self.ring, &mut self.sums)?;
        let mut first = FirstToThreshold::new(self.pops, self.rules.threshold, &mut self.first)?;
        let mut settle = Settle::new();
        for spikes in steps {
            fin.push(spikes)?;
            settle.push(win.push(spikes)?);
            first.push(spikes)?;
        }
        Ok(SampleDecision {
            steps: fin.steps(),
            final_class: fin.decision(),
            window_class: win.decision(),
            window_latency: settle.since(),
            first: first.reached(),
        })
    }
}

/// Output spikes per step of one sample, flat: step `t` is `spikes[ends[t-1]..ends[t]]`.
#[derive(Clone, Debug, Default)]
pub struct StepSpikes {
    spikes: Vec<u16>,
    ends: Vec<usize>,
}

impl StepSpikes {
    /// Empties it for the next sample.
    pub fn clear(&mut self) {
        self.spikes.clear();
        self.ends.clear();
    }

    /// Appends one step's output spikes.
    pub fn push(&mut self, step: &[u16]) {
        self.spikes.extend_from_slice(step);
        self.ends.push(self.spikes.len());
    }

    /// The steps in order.
    pub fn steps(&self) -> impl Iterator<Item = &[u16]> {
        let starts = std::iter::once(0).chain(self.ends.iter().copied());
        starts.zip(&self.ends).map(|(a, &b)| &self.spikes[a..b])
    }
}

/// Accuracy and mean latency of one rule.
#[derive(Clone, Copy, Debug, PartialEq, Serialize)]
pub struct RuleScore {
    /// Fraction of samples decided correctly, 0..=1.
    pub accuracy: f64,
    /// Mean decision latency in steps.
    pub mean_latency_steps: f64,
}

/// Accuracy and mean latency of every rule over a data set.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct DecisionReport {
    /// Window width `W` (steps).
    pub window: usize,
    /// Threshold `N` (spikes).
    pub threshold: u32,
    /// The final count (latency: the sample's own steps).
    pub final_count: RuleScore,
    /// The sliding window (latency: the step the decision settled).
    pub sliding_window: RuleScore,
    /// First to threshold (undecided samples fall back to the final count at `T_i`).
    pub first_to_threshold: RuleScore,
    /// Fraction of samples where some class reached `N`.
    pub reached: f64,
    /// The model ends in a non-spiking readout: the final row is its maximum-membrane decision,
    /// and the window and threshold rules, which count output spikes, do not apply.
    pub readout: bool,
    /// Every sample's decisions, in order.
    #[serde(skip)]
    pub samples: Vec<SampleDecision>,
}

impl DecisionReport {
    /// Scores `samples` against `labels` (same order; 0 accuracy and latency when empty).
    pub fn new(rules: DecisionConfig, samples: Vec<SampleDecision>, labels: &[u16]) -> Self {
        let n = samples.len().max(1) as f64;
        let score = |class: &dyn Fn(&SampleDecision) -> Option<u16>,
                     latency: &dyn Fn(&SampleDecision) -> u32| {
            let correct = samples
                .iter()
                .zip(labels)
                .filter(|(s, &y)| class(s) == Some(y))
                .count();
            let steps: f64 = samples.iter().map(|s| f64::from(latency(s))).sum();
            RuleScore {
                accuracy: correct as f64 / n,
                mean_latency_steps: steps / n,
            }
        };
        Self {
            window: rules.window,
            threshold: rules.threshold,
            final_count: score(&|s| Some(s.final_class), &|s| s.steps),
            sliding_window: score(&|s| s.window_class, &|s| s.window_latency),
            first_to_threshold: score(&|s| Some(s.first_class()), &|s| s.first_latency()),
            reached: samples.iter().filter(|s| s.first.is_some()).count() as f64 / n,
            readout: false,
            samples,
        }
    }

    /// Marks the report as a readout model's ([`DecisionReport::readout`]).
    pub fn with_readout(mut self, readout: bool) -> Self {
        self.readout = readout;
        self
    }

    /// The report's JSON object (`window`, `threshold`, `final_count`, `sliding_window`,
    /// `first_to_threshold` each with `accuracy` and `mean_latency_steps`, `reached`,
    /// `readout`).
    pub fn json(&self) -> serde_json::Value {
        serde_json::to_value(self).unwrap_or_default()
    }

    /// One sample's decisions as JSON fields for the per-sample lines.
    pub fn sample_json(s: &SampleDecision) -> serde_json::Value {
        serde_json::json!({
            "window_predicted": s.window_class,
            "window_latency": s.window_latency,
            "threshold_predicted": s.first_class(),
            "threshold_step": s.first.map(|r| r.step),
        })
    }

    /// Human-readable table: one line per rule.
    pub fn render(&self) -> String {
        use std::fmt::Write;
        let mut s = String::new();
        let _ = writeln!(
            s,
            "decision rule                 accuracy   mean latency (steps)"
        );
        if self.readout {
            let r = self.final_count;
            let _ = writeln!(
                s,
                "{:<28}  {:>7.2} %  {:>8.1}",
                "max membrane (readout)",
                100.0 * r.accuracy,
                r.mean_latency_steps
            );
            let _ = writeln!(
                s,
                "sliding window, first to N    n/a: a readout layer has no output spikes"
            );
            return s;
        }
        let rows = [
            ("final count".to_owned(), self.final_count, String::new()),
            (
                format!("sliding window W={}", self.window),
                self.sliding_window,
                "  (step the decision settled)".to_owned(),
            ),
            (
                format!("first to N={}", self.threshold),
                self.first_to_threshold,
                format!(
                    "  ({:.1} % reached N; the rest: final count at T_i)",
                    100.0 * self.reached
                ),
            ),
        ];
        for (name, r, note) in rows {
            let _ = writeln!(
                s,
                "{name:<28}  {:>7.2} %  {:>8.1}{note}",
                100.0 * r.accuracy,
                r.mean_latency_steps
            );
        }
        s
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample(
        steps: u32,
        fin: u16,
        win: Option<u16>,
        wl: u32,
        first: Option<(u16, u32)>,
    ) -> SampleDecision {
        SampleDecision {
            steps,
            final_class: fin,
            window_class: win,
            window_latency: wl,
            first: first.map(|(class, step)| Reached { class, step }),
        }
    }

    #[test]
    fn scores_follow_the_documented_fallbacks() {
        let samples = vec![
            sample(10, 1, Some(1), 4, Some((1, 3))),
            sample(20, 0, None, 20, None),
            sample(30, 2, Some(0), 7, Some((2, 9))),
        ];
        let r = DecisionReport::new(
            DecisionConfig {
                window: 5,
                threshold: 3,
            },
            samples,
            &[1, 0, 2],
        );
        assert_eq!(r.final_count.accuracy, 1.0);
        assert_eq!(r.final_count.mean_latency_steps, 20.0);
        assert!((r.sliding_window.accuracy - 1.0 / 3.0).abs() < 1e-12);
        assert_eq!(r.sliding_window.mean_latency_steps, 31.0 / 3.0);
        // Sample 2 never reached N: final count (correct) at T_i = 20.
        assert_eq!(r.first_to_threshold.accuracy, 1.0);
        assert_eq!(r.first_to_threshold.mean_latency_steps, 32.0 / 3.0);
        assert!((r.reached - 2.0 / 3.0).abs() < 1e-12);
        let j = r.json();
        assert_eq!(j["window"], 5);
        assert_eq!(j["first_to_threshold"]["accuracy"], 1.0);
        assert!(r.render().contains("first to N=3"));
        assert_eq!(j["readout"], false);
    }

    #[test]
    fn a_readout_report_shows_only_the_readout_decision() {
        let rules = DecisionConfig {
            window: 5,
            threshold: 3,
        };
        let r = DecisionReport::new(rules, vec![sample(25, 4, None, 25, None)], &[4])
            .with_readout(true);
        let text = r.render();
        assert!(text.contains("max membrane (readout)"), "{text}");
        assert!(text.contains("100.00 %"), "{text}");
        assert!(
            text.contains("n/a: a readout layer has no output spikes"),
            "{text}"
        );
        assert!(
            !text.contains("final count") && !text.contains("W=5"),
            "{text}"
        );
        assert_eq!(r.json()["readout"], true);
    }

    #[test]
    fn step_spikes_keep_empty_steps() {
        let mut s = StepSpikes::default();
        s.push(&[1, 2]);
        s.push(&[]);
        s.push(&[0]);
        let v: Vec<&[u16]> = s.steps().collect();
        assert_eq!(v, vec![&[1u16, 2][..], &[][..], &[0][..]]);
        s.clear();
        assert_eq!(s.steps().count(), 0);
    }
}
