//! Streams on the board (`cargo xtask hil --model FILE` for a model of real channels, `--synthetic
//! shd` for an event stream): every test series goes to the board as raw `i16` samples in
//! pushes (protocol 3 streams), encoded on the board, and each step's output spikes are
//! compared with the host engine's for the same samples (`Engine::step_raw`, the one encoder
//! both sides run). Also the cost per step for `cargo xtask bench-fw`.
use crate::series::{raw_exponent, to_raw, SeriesFile};
use anyhow::{bail, Context, Result};
use snn_hal::host::Client;
use snn_hal::protocol::{CostUnit, StreamReply};
use snn_models::{decode, Engine, EngineBuffers, Model};
use std::time::Instant;

/// Outcome of streaming a test set through a board.
pub struct StreamReport {
    /// Model name.
    pub model: String,
    /// Series (or streams) run.
    pub samples: usize,
    /// Steps run over all of them.
    pub steps: u64,
    /// One line per step whose output spikes differ (at most the first 20 are kept), and the
    /// total count.
    pub mismatches: Vec<String>,
    /// Steps whose output spikes differ.
    pub mismatched_steps: u64,
    /// Series whose final running counts differ.
    pub count_mismatches: u64,
    /// Decisions that differ (window per step; final count and first to threshold per push).
    pub decision_mismatches: u64,
    /// Decision rules: `(window, threshold)`.
    pub rules: (u16, u32),
    /// Final window decision right / first-to-threshold reached and right, over the series.
    pub window_correct: usize,
    /// Series whose first-to-threshold decision was reached, and how many of those were right,
    /// and the sum of their decision steps.
    pub first_reached: usize,
    /// Right first-to-threshold decisions.
    pub first_correct: usize,
    /// Sum of the steps at which first-to-threshold decided.
    pub first_steps: u64,
    /// Correct final-count classes against the labels (`None`: an unlabelled stream); for a
    /// readout model, the classes decided on the readout values.
    pub correct: Option<usize>,
    /// A readout model (no output spikes): after each series the board's readout values
    /// (`Request::Readout`) are compared with the host engine's.
    pub readout: bool,
    /// Series whose readout values (or the class decided on them) were compared.
    pub readouts_compared: u64,
    /// Series whose readout values or class differ between the board and the host.
    pub readout_mismatches: u64,
    /// Output spikes over all steps.
    pub output_spikes: u64,
    /// Synaptic events of every step (the host engine's count; same bits as the board's).
    pub synaptic_events: u64,
    /// Per series (stream): the board's cost of all its steps, its synaptic events and steps.
    pub per_series: Vec<(u64, u64, u64)>,
    /// Sum of the board's step costs.
    pub cost: u64,
    /// Largest cost of one step.
    pub step_max: u64,
    /// What the costs count.
    pub unit: CostUnit,
    /// Wall-clock seconds of the streaming loop.
    pub seconds: f64,
}

impl StreamReport {
    /// Mean cost per step.
    pub fn per_step(&self) -> f64 {
        self.cost as f64 / self.steps.max(1) as f64
    }
}

/// The host engine over one stream from rest: each step's output spikes, the final counts, the
/// synaptic events of all steps and the final readout values (empty for a spiking model).
type HostSteps = (Vec<Vec<u16>>, Vec<u16>, u64, Vec<i32>);

fn host_steps(
    model: &Model<'_>,
    steps: usize,
    mut step: impl FnMut(&mut Engine<'_, '_>, usize) -> Result<(), snn_models::EngineError>,
) -> Result<HostSteps> {
    let mut state = EngineBuffers::for_model(model);
    let mut e = state
        .engine(model)
        .map_err(|e| anyhow::anyhow!("engine: {e}"))?;
    e.set_step_limit(false);
    let last = model.layers.len().saturating_sub(1);
    let mut out = Vec::with_capacity(steps);
    for t in 0..steps {
        step(&mut e, t).map_err(|e| anyhow::anyhow!("host engine, step {t}: {e}"))?;
        out.push(e.layer_spikes(last).to_vec());
    }
    let events = e.stats().synaptic_events;
    Ok((
        out,
        e.output_counts().to_vec(),
        events,
        e.readout().to_vec(),
    ))
}

/// The host's decisions after each of `steps` (`snn_models::decision`, the board's code):
/// `(window class + 1 or 0, final count, first to threshold)`.
type HostDecision = (u8, u16, Option<(u16, u32)>);

fn host_decisions(
    model: &Model<'_>,
    (window, threshold): (u16, u32),
    steps: &[Vec<u16>],
) -> Result<Vec<HostDecision>> {
    use snn_models::decision::{FinalCount, FirstToThreshold, Populations, Window};
    let e = |e| anyhow::anyhow!("decision rules: {e}");
    let pops = Populations::of(model).map_err(e)?;
    let c = usize::from(pops.classes());
    let w = usize::from(window);
    let (mut fc, mut ring, mut sums, mut tc) = (vec![0; c], vec![0; w * c], vec![0; c], vec![0; c]);
    let mut f = FinalCount::new(pops, &mut fc).map_err(e)?;
    let mut win = match w {
        0 => None,
        _ => Some(Window::new(pops, w, &mut ring, &mut sums).map_err(e)?),
    };
    let mut first = match threshold {
        0 => None,
        n => Some(FirstToThreshold::new(pops, n, &mut tc).map_err(e)?),
    };
    steps
        .iter()
        .map(|s| {
            f.push(s).map_err(e)?;
            let wd = match win.as_mut() {
                Some(w) => w.push(s).map_err(e)?.map_or(0, |k| k as u8 + 1),
                None => 0,
            };
            let fd = match first.as_mut() {
                Some(t) => t.push(s).map_err(e)?.map(|r| (r.class, r.step)),
                None => None,
            };
            Ok((wd, f.decision(), fd))
        })
        .collect()
}

/// Compares one stream's decisions, push by push, with the host's; adds to `rep`.
fn compare_decisions(
    rep: &mut StreamReport,
    sample: usize,
    replies: &[StreamReply],
    host: &[HostDecision],
) {
    let mut from = 0usize;
    for r in replies {
        let to = from + r.steps_spikes().count();
        let Some(d) = r.decisions.as_ref() else {
            rep.decision_mismatches += 1;
            rep.mismatches
                .push(format!("sample {sample}: the board sent no decisions"));
            return;
        };
        let Some(last) = to.checked_sub(1).and_then(|t| host.get(t)) else {
            return;
        };
        let want: Vec<u8> = match rep.rules.0 {
            0 => Vec::new(),
            _ => host[from..to].iter().map(|h| h.0).collect(),
        };
        let bad = [
            d.window.as_slice() != want.as_slice(),
            d.final_count != last.1,
            d.first != last.2,
        ];
        let n = bad.iter().filter(|&&b| b).count() as u64;
        if n > 0 {
            rep.decision_mismatches += n;
            if rep.mismatches.len() < 20 {
                rep.mismatches.push(format!(
                    "sample {sample} steps {from}..{to}: board decisions window {:?} final {} \
                     first {:?}; host window {want:?} final {} first {:?}",
                    d.window.as_slice(),
                    d.final_count,
                    d.first,
                    last.1,
                    last.2
                ));
            }
        }
        from = to;
    }
}

/// Compares one stream's replies with the host's steps; adds to `rep`. Returns the board's
/// final running counts.
fn compare(
    rep: &mut StreamReport,
    sample: usize,
    replies: &[StreamReply],
    host: &[Vec<u16>],
    host_counts: &[u16],
) -> Vec<u16> {
    let board: Vec<&[u16]> = replies.iter().flat_map(|r| r.steps_spikes()).collect();
    if board.len() != host.len() {
        rep.mismatched_steps += host.len().abs_diff(board.len()) as u64;
        rep.mismatches.push(format!(
            "sample {sample}: the board ran {} steps, the host {}",
            board.len(),
            host.len()
        ));
    }
    for (t, (b, h)) in board.iter().zip(host).enumerate() {
        if *b != h.as_slice() {
            rep.mismatched_steps += 1;
            if rep.mismatches.len() < 20 {
                rep.mismatches.push(format!(
                    "sample {sample} step {t}: board output spikes {b:?}, host {h:?}"
                ));
            }
        }
        rep.output_spikes += b.len() as u64;
    }
    let counts = replies
        .last()
        .map(|r| r.counts.to_vec())
        .unwrap_or_default();
    if counts != host_counts {
        rep.count_mismatches += 1;
        if rep.mismatches.len() < 20 {
            rep.mismatches.push(format!(
                "sample {sample}: board running counts {counts:?}, host {host_counts:?}"
            ));
        }
    }
    for r in replies {
        rep.steps += r.steps_spikes().count() as u64;
        rep.cost += r.cost;
        rep.step_max = rep.step_max.max(r.step_cost_max);
    }
    counts
}

/// Uploads `model` and streams every series of `file` through the board behind `client`, each
/// from rest, as raw samples with the finest exponent that does not clip the file's values,
/// deciding with `rules` = `(window, threshold)`.
pub fn series(
    client: &mut Client,
    model: &[u8],
    file: &SeriesFile,
    rules: (u16, u32),
) -> Result<StreamReport> {
    let m = decode(model).map_err(|e| anyhow::anyhow!("model: {e}"))?;
    if !m.header.encoding.is_continuous() || m.channels.len() != file.channels {
        bail!(
            "{} has {} channels per step; the model `{}` takes {} ({:?})",
            file.path.display(),
            file.channels,
            m.header.name,
            m.channels.len(),
            m.header.encoding
        );
    }
    let info = client.info().context("Info")?;
    let loaded = client.load(model).context("upload the model")?;
    let max_abs = file
        .series
        .iter()
        .flat_map(|s| s.values.iter())
        .fold(0f32, |a, &x| a.max(x.abs()));
    let exp = raw_exponent(max_abs);
    println!(
        "xtask hil: {} (protocol {}) streams `{}` ({} bytes): {} series of {}, raw i16 samples \
         x = raw * 2^{exp}, encoded on the board",
        info.board,
        info.protocol,
        loaded.name,
        loaded.bytes,
        file.series.len(),
        file.path.display()
    );
    let outputs = m.output_neurons();
    let c = file.channels;
    let mut rep = empty(&loaded.name, info.cost_unit, rules);
    rep.readout = m.has_readout();
    let start = Instant::now();
    for (i, s) in file.series.iter().enumerate() {
        let raw = to_raw(&s.values, exp);
        let (host, host_counts, events, host_readout) = host_steps(&m, raw.len() / c, |e, t| {
            e.step_raw(&raw[t * c..(t + 1) * c], exp)
        })?;
        rep.synaptic_events += events;
        client
            .stream_begin(true, exp, rules)
            .with_context(|| format!("begin the stream of series {i}"))?;
        let replies = client
            .stream_raw(&raw, c, outputs)
            .with_context(|| format!("stream series {i}"))?;
        let counts = compare(&mut rep, i, &replies, &host, &host_counts);
        let cost: u64 = replies.iter().map(|r| r.cost).sum();
        let steps: usize = replies.iter().map(|r| r.steps_spikes().count()).sum();
        rep.per_series.push((cost, events, steps as u64));
        let decided = host_decisions(&m, rules, &host)?;
        compare_decisions(&mut rep, i, &replies, &decided);
        if let Some(&(w, _, first)) = decided.last() {
            rep.window_correct += usize::from(w == s.label as u8 + 1);
            if let Some((class, step)) = first {
                rep.first_reached += 1;
                rep.first_correct += usize::from(class == s.label);
                rep.first_steps += u64::from(step);
            }
        }
        let class = if rep.readout {
            compare_readout(client, &mut rep, i, &host_readout)?
        } else {
            snn_models::engine::predict(&m, &counts)
        };
        rep.correct = Some(rep.correct.unwrap_or(0) + usize::from(class == s.label));
        rep.samples += 1;
    }
    rep.seconds = start.elapsed().as_secs_f64();
    Ok(rep)
}

/// Asks the board for its readout values after a stream (`Request::Readout`) and compares them
/// and their class with the host engine's `host`; adds to `rep`. Returns the host's class.
fn compare_readout(
    client: &mut Client,
    rep: &mut StreamReport,
    sample: usize,
    host: &[i32],
) -> Result<u16> {
    let board = client
        .readout()
        .with_context(|| format!("readout after the stream of series {sample}"))?;
    let class = snn_models::decision::readout_class(host);
    rep.readouts_compared += 1;
    if board.values.as_slice() != host || board.predicted != class {
        rep.readout_mismatches += 1;
        if rep.mismatches.len() < 20 {
            rep.mismatches.push(format!(
                "sample {sample}: board readout {:?} (class {}), host {host:?} (class {class})",
                board.values.as_slice(),
                board.predicted
            ));
        }
    }
    Ok(class)
}

/// Uploads the event `model` and streams `steps` (input indices per step) through the board
/// behind `client` as one stream from rest, compared step by step with the host.
pub fn events(
    client: &mut Client,
    model: &[u8],
    steps: &[Vec<u16>],
    rules: (u16, u32),
) -> Result<StreamReport> {
    let m = decode(model).map_err(|e| anyhow::anyhow!("model: {e}"))?;
    let info = client.info().context("Info")?;
    let loaded = client.load(model).context("upload the model")?;
    let events: usize = steps.iter().map(Vec::len).sum();
    println!(
        "xtask hil: {} streams `{}` ({} bytes): {} steps, {events} input events, in pushes",
        info.board,
        loaded.name,
        loaded.bytes,
        steps.len()
    );
    let mut rep = empty(&loaded.name, info.cost_unit, rules);
    let start = Instant::now();
    let (host, host_counts, events, _) = host_steps(&m, steps.len(), |e, t| e.step(&steps[t]))?;
    rep.synaptic_events = events;
    client
        .stream_begin(true, 0, rules)
        .context("begin the stream")?;
    let replies = client
        .stream_events(steps, m.output_neurons())
        .context("stream the events")?;
    compare(&mut rep, 0, &replies, &host, &host_counts);
    compare_decisions(&mut rep, 0, &replies, &host_decisions(&m, rules, &host)?);
    rep.samples = 1;
    rep.seconds = start.elapsed().as_secs_f64();
    Ok(rep)
}

fn empty(model: &str, unit: CostUnit, rules: (u16, u32)) -> StreamReport {
    StreamReport {
        model: model.to_string(),
        samples: 0,
        steps: 0,
        mismatches: Vec::new(),
        mismatched_steps: 0,
        count_mismatches: 0,
        decision_mismatches: 0,
        rules,
        window_correct: 0,
        first_reached: 0,
        first_correct: 0,
        first_steps: 0,
        correct: None,
        readout: false,
        readouts_compared: 0,
        readout_mismatches: 0,
        output_spikes: 0,
        synaptic_events: 0,
        per_series: Vec::new(),
        cost: 0,
        step_max: 0,
        unit,
        seconds: 0.0,
    }
}

/// Prints the report and fails on any differing step or count, or a silent output layer.
pub fn judge(rep: &StreamReport) -> Result<()> {
    let rule = if rep.readout {
        "readout (max membrane)"
    } else {
        "final-count"
    };
    let accuracy = rep.correct.map_or(String::new(), |c| {
        format!(
            "; {rule} accuracy {:.2} % ({c}/{})",
            100.0 * c as f64 / rep.samples.max(1) as f64,
            rep.samples
        )
    });
    println!(
        "xtask hil: `{}` streamed: {} series, {} steps, {} steps with differing output spikes, \
         {} differing running counts{accuracy}; {} output spikes; {:.1} s ({:.0} steps/s over \
         the link)",
        rep.model,
        rep.samples,
        rep.steps,
        rep.mismatched_steps,
        rep.count_mismatches,
        rep.output_spikes,
        rep.seconds,
        rep.steps as f64 / rep.seconds.max(1e-9)
    );
    if rep.readout {
        println!(
            "xtask hil: decisions (board == host, {} differ): the readout's max membrane (above); \
             window and first to {} spikes n/a: a readout layer has no output spikes",
            rep.decision_mismatches, rep.rules.1
        );
    } else if let Some(n) = rep.correct.map(|_| rep.samples.max(1) as f64) {
        println!(
            "xtask hil: decisions (board == host, {} differ): final count {:.2} %; window of {} \
             steps at the end {:.2} %; first to {} spikes: {} of {} series decided, {:.2} % of \
             those right, after {:.1} steps on average",
            rep.decision_mismatches,
            100.0 * rep.correct.unwrap_or(0) as f64 / n,
            rep.rules.0,
            100.0 * rep.window_correct as f64 / n,
            rep.rules.1,
            rep.first_reached,
            rep.samples,
            100.0 * rep.first_correct as f64 / rep.first_reached.max(1) as f64,
            rep.first_steps as f64 / rep.first_reached.max(1) as f64
        );
    }
    if rep.unit != CostUnit::None {
        println!(
            "xtask hil: {:?} per step: mean {:.0}, max {} (encoding + network step)",
            rep.unit,
            rep.per_step(),
            rep.step_max
        );
    }
    if rep.readout {
        println!(
            "xtask hil: readout values after each series (board == host): {} of {} series \
             compared, {} differ",
            rep.readouts_compared, rep.samples, rep.readout_mismatches
        );
    }
    for m in &rep.mismatches {
        println!("  MISMATCH {m}");
    }
    if rep.mismatched_steps > 0 || rep.count_mismatches > 0 || rep.decision_mismatches > 0 {
        bail!(
            "{} steps, {} running counts and {} decisions differ between the board and the host",
            rep.mismatched_steps,
            rep.count_mismatches,
            rep.decision_mismatches
        );
    }
    if rep.steps == 0 {
        bail!("no steps were run");
    }
    if rep.readout {
        if rep.readout_mismatches > 0 || rep.readouts_compared != rep.samples as u64 {
            bail!(
                "{} of {} series have differing readout values ({} compared)",
                rep.readout_mismatches,
                rep.samples,
                rep.readouts_compared
            );
        }
    } else if rep.output_spikes == 0 {
        bail!("the output layer never spiked: the comparison proves nothing");
    }
    Ok(())
}
