//! The C entry points of `snn-capi` on arbitrary bytes: open a model from them (as a whole file
//! or, odd first byte, a body framed with a valid prefix and CRC), then let the rest of the
//! bytes drive a sequence of calls with arbitrary arguments: steps, events, features, streamed
//! raw / real-valued steps (any bits, NaN included, any exponent and channel count), the step
//! limit, decision rules with any width, threshold and RAM, reads into short buffers, bad
//! layers, NULL pointers, RAM too small. Any panic or any status outside
//! the documented codes is a bug: C must only ever see a status.
#![no_main]

use core::ptr::{null, null_mut};
use libfuzzer_sys::fuzz_target;
use snn_capi::*;
use snn_models::{crc::crc32, FORMAT_VERSION, MAGIC};
use std::mem::MaybeUninit;

/// Most neuron updates one whole-sample run may cost, so one input stays fast.
const MAX_WORK: usize = 1 << 20;

fn frame(body: &[u8]) -> Vec<u8> {
    let mut out = MAGIC.to_vec();
    out.extend_from_slice(&FORMAT_VERSION.to_le_bytes());
    out.extend_from_slice(body);
    let crc = crc32(&out);
    out.extend_from_slice(&crc.to_le_bytes());
    out
}

/// Reads the fuzz input as a stream of small numbers.
struct Input<'a>(&'a [u8]);

impl Input<'_> {
    fn byte(&mut self) -> Option<u8> {
        let (&b, rest) = self.0.split_first()?;
        self.0 = rest;
        Some(b)
    }
    fn u16(&mut self) -> Option<u16> {
        Some(u16::from_le_bytes([self.byte()?, self.byte()?]))
    }
    fn take(&mut self, n: usize) -> &[u8] {
        let n = n.min(self.0.len());
        let (a, b) = self.0.split_at(n);
        self.0 = b;
        a
    }
}

fn known(s: SnnStatus) {
    assert!(SnnStatus::ALL.contains(&s), "undocumented status {}", s as i32);
}

fn text_of_engine(e: &SnnEngine, cap: usize) {
    let mut buf = vec![0xAAu8; cap];
    let n = unsafe { snn_engine_error_text(e, buf.as_mut_ptr().cast(), cap) };
    if cap > 0 {
        assert!(n < cap && buf[n] == 0, "text is NUL-terminated within the buffer");
    }
}

fn drive(model: &SnnModel, req: &SnnRequirements, ram: &mut [u32], ram_len: usize, mut input: Input<'_>) {
    let mut engine = MaybeUninit::<SnnEngine>::zeroed();
    let e = engine.as_mut_ptr();
    let s = unsafe { snn_engine_open(e, model, ram.as_mut_ptr().cast(), ram_len) };
    known(s);
    if ram_len < req.ram_bytes {
        assert_eq!(s, SnnStatus::SnnErrRamTooSmall);
    }
    if s != SnnStatus::SnnOk {
        assert_eq!(unsafe { snn_engine_reset(e) }, SnnStatus::SnnErrNotOpen);
        text_of_engine(unsafe { &*e }, 40);
        return;
    }
    let work = usize::from(req.time_steps)
        * (ram_len / 4 + usize::from(req.input_size));
    let whole_runs = work <= MAX_WORK;
    let mut steps = 0u32;
    for _ in 0..64 {
        let Some(op) = input.byte() else { break };
        let arg = input.u16().unwrap_or(0);
        let s = match op % 16 {
            0 => unsafe { snn_engine_reset(e) },
            1 => {
                // One step of arbitrary indices (some out of range).
                let raw = input.take(usize::from(arg % 64) * 2);
                let idx: Vec<u16> = raw.chunks(2).map(|p| u16::from_le_bytes([p[0], *p.get(1).unwrap_or(&0)])).collect();
                if steps > 4 * u32::from(req.time_steps) + 8 {
                    continue;
                }
                steps += 1;
                unsafe { snn_step(e, idx.as_ptr(), idx.len()) }
            }
            2 if whole_runs => {
                let raw = input.take(usize::from(arg % 128) * 4);
                let ev: Vec<SnnEvent> = raw
                    .chunks(4)
                    .map(|p| SnnEvent {
                        t: u16::from(p[0]) % (req.time_steps.saturating_add(2)).max(1),
                        index: u16::from_le_bytes([*p.get(1).unwrap_or(&0), *p.get(2).unwrap_or(&0)])
                            % req.input_size.saturating_add(2).max(1),
                    })
                    .collect();
                let mut sorted = ev.clone();
                sorted.sort_by_key(|x| x.t);
                let ev = if arg & 0x8000 != 0 { ev } else { sorted };
                let s = unsafe { snn_run_events(e, ev.as_ptr(), ev.len()) };
                if s == SnnStatus::SnnOk {
                    let mut st = SnnStats::default();
                    assert_eq!(unsafe { snn_stats(e, &mut st) }, SnnStatus::SnnOk);
                    assert_eq!(st.steps, req.time_steps);
                }
                s
            }
            3 if whole_runs => {
                let len = match arg % 3 {
                    0 => usize::from(req.input_size),
                    1 => usize::from(req.input_size) * usize::from(req.time_steps),
                    _ => usize::from(arg >> 2),
                };
                let f: Vec<u8> = input.0.iter().copied().cycle().take(len).collect();
                let f = if f.len() < len { vec![0; len] } else { f };
                unsafe { snn_run_features(e, f.as_ptr(), f.len(), u32::from(arg)) }
            }
            4 => {
                let (mut p, mut n) = (null(), 0usize);
                let s = unsafe { snn_step_spikes(e, arg % 10, &mut p, &mut n) };
                if s == SnnStatus::SnnOk {
                    assert!(n <= 65535 && (n == 0 || !p.is_null()));
                }
                s
            }
            5 => {
                let cap = usize::from(arg % 80);
                let mut buf = vec![0u16; cap];
                let s = unsafe { snn_output_counts(e, buf.as_mut_ptr(), cap) };
                assert_eq!(s == SnnStatus::SnnOk, cap >= usize::from(req.output_neurons));
                s
            }
            6 => {
                let cap = usize::from(arg % 10);
                let mut buf = vec![0u32; cap];
                unsafe { snn_layer_spike_totals(e, buf.as_mut_ptr(), cap) }
            }
            7 => {
                let mut c = 0u16;
                let s = unsafe { snn_predicted_class(e, &mut c) };
                assert!(c < req.num_classes.max(1));
                s
            }
            8 => {
                let mut ok = false;
                unsafe { snn_budget_ok(e, arg % 10, &mut ok) }
            }
            9 => {
                text_of_engine(unsafe { &*e }, usize::from(arg % 200));
                SnnStatus::SnnOk
            }
            10 => {
                // NULL where a pointer is required.
                let s = unsafe { snn_stats(e, null_mut()) };
                assert_eq!(s, SnnStatus::SnnErrNull);
                unsafe { snn_step(e, null(), usize::from(arg % 4) + 1) }
            }
            12 | 13 => {
                // One streamed step of a time series: arbitrary channel count, samples, exponent.
                let n = usize::from(arg % 16);
                let raw = input.take(n * if op % 16 == 12 { 2 } else { 4 });
                if steps > 4 * u32::from(req.time_steps) + 8 {
                    continue;
                }
                steps += 1;
                if op % 16 == 12 {
                    let x: Vec<i16> = raw.chunks(2).map(|p| i16::from_le_bytes([p[0], *p.get(1).unwrap_or(&0)])).collect();
                    unsafe { snn_step_raw(e, x.as_ptr(), x.len(), (arg >> 8) as i8) }
                } else {
                    let x: Vec<f32> = raw.chunks(4).map(|p| {
                        let mut b = [0u8; 4];
                        b[..p.len()].copy_from_slice(p);
                        f32::from_le_bytes(b)
                    }).collect();
                    unsafe { snn_step_values(e, x.as_ptr(), x.len()) }
                }
            }
            14 => {
                let mut ch = 0u16;
                let s = unsafe { snn_model_channels(model, &mut ch) };
                assert_eq!(s, SnnStatus::SnnOk);
                assert!(ch <= req.input_size);
                unsafe { snn_engine_set_step_limit(e, arg & 1 == 1) }
            }
            15 => {
                // A decision rule with arbitrary width / threshold and RAM, pushed a few times.
                let width = arg >> 6;
                let mut need = 0usize;
                known(unsafe { snn_decision_ram_bytes(e, width, &mut need) });
                let len = need.saturating_sub(usize::from(arg & 3)).min(1 << 20);
                let mut rule_ram = vec![0u32; len / 4 + 1];
                let mut d = MaybeUninit::<SnnDecision>::zeroed();
                let s = unsafe {
                    if arg & 4 == 0 {
                        snn_window_open(d.as_mut_ptr(), e, width, rule_ram.as_mut_ptr().cast(), len)
                    } else {
                        snn_threshold_open(d.as_mut_ptr(), e, u32::from(width), rule_ram.as_mut_ptr().cast(), len)
                    }
                };
                known(s);
                for _ in 0..usize::from(arg & 0x30) >> 4 {
                    let mut v = SnnVerdict::default();
                    let p = unsafe { snn_decision_push(d.as_mut_ptr(), &mut v) };
                    known(p);
                    if p == SnnStatus::SnnOk {
                        assert!(v.class_index < req.num_classes.max(1));
                    }
                    let mut c = [0u32; 8];
                    known(unsafe { snn_decision_counts(d.as_mut_ptr(), c.as_mut_ptr(), 8) });
                }
                known(unsafe { snn_decision_reset(d.as_mut_ptr()) });
                s
            }
            _ => {
                let mut st = SnnStats::default();
                unsafe { snn_stats(e, &mut st) }
            }
        };
        known(s);
    }
}

fuzz_target!(|data: &[u8]| {
    let Some((&mode, rest)) = data.split_first() else {
        return;
    };
    // The model's bytes come first (their length from two bytes), the calls after them.
    let mut input = Input(rest);
    let len = usize::from(input.u16().unwrap_or(0));
    let raw = input.take(len).to_vec();
    let bytes = if mode & 1 == 0 { raw } else { frame(&raw) };
    let mut model = MaybeUninit::<SnnModel>::zeroed();
    let m = model.as_mut_ptr();
    let s = unsafe { snn_model_open(m, bytes.as_ptr(), bytes.len()) };
    known(s);
    let mut text = [0u8; 64];
    let n = unsafe { snn_model_error_text(m, text.as_mut_ptr().cast(), text.len()) };
    assert!(n < text.len() && text[n] == 0);
    let mut req = MaybeUninit::<SnnRequirements>::zeroed();
    let rs = unsafe { snn_model_requirements(m, req.as_mut_ptr()) };
    if s != SnnStatus::SnnOk {
        assert_eq!(rs, SnnStatus::SnnErrNotOpen);
        return;
    }
    assert_eq!(rs, SnnStatus::SnnOk);
    let req = unsafe { req.assume_init() };
    let mut name = [0u8; 80];
    known(unsafe { snn_model_name(m, name.as_mut_ptr().cast(), usize::from(mode >> 1)) });
    // RAM: usually enough, sometimes a little short.
    let short = usize::from(mode >> 5 == 7) * (1 + usize::from(mode & 7));
    let ram_len = req.ram_bytes.saturating_sub(short);
    let mut ram = vec![0u32; req.ram_bytes / 4 + 1];
    drive(unsafe { &*m }, &req, &mut ram, ram_len, input);
});
