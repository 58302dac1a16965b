//! The `extern "C"` entry points: the only `unsafe` of the crate.
//!
//! Each function checks its pointers (NULL, alignment, that a handle is open and has not moved),
//! turns them into references and slices, and calls the safe code in `state` and `snn_models`.
//! Handles live in caller storage (`snn_model_t`, `snn_engine_t`) whose first word is a tag bound
//! to the handle's own address, so a zeroed, never-opened, failed or moved handle is refused
//! with `SNN_ERR_NOT_OPEN` instead of being read.
//!
//! The memory contract the caller keeps (C_API.md): model bytes, the model handle and the engine
//! RAM stay valid, unmoved and unchanged while an engine uses them, and one engine is used by
//! one thread at a time.
#![allow(unsafe_code)]

use crate::rule::{Rule, SnnVerdict};
use crate::state::{self, Buffers, SnnEvent, SnnRequirements, SnnStats};
use crate::status::{write_c_string, Detail, SnnStatus};
use core::ffi::{c_char, c_void};
use core::mem::{align_of, size_of, MaybeUninit};
use snn_models::{decode, Engine, FormatError, Model};

/// Version of the C ABI (functions, struct layouts, status numbers); see C_API.md for when it
/// changes. Compare `snn_abi_version()` with this at start-up.
pub const SNN_ABI_VERSION: u32 = 1;

/// `uint64_t` words of `snn_model_t` (alignment and the pointer-independent part).
pub const SNN_MODEL_U64S: usize = 24;
/// Pointer-sized words of `snn_model_t` (the part that scales with the pointer width).
pub const SNN_MODEL_PTRS: usize = 152;
/// `uint64_t` words of `snn_engine_t`.
pub const SNN_ENGINE_U64S: usize = 12;
/// Pointer-sized words of `snn_engine_t`.
pub const SNN_ENGINE_PTRS: usize = 20;

/// Caller-owned storage of an open model: declare one (static, stack or heap) and pass it to
/// `snn_model_open`. The contents are private; the size is part of the ABI.
#[repr(C)]
pub struct SnnModel {
    align: [u64; SNN_MODEL_U64S],
    words: [usize; SNN_MODEL_PTRS],
}

/// Caller-owned storage of an open engine: declare one and pass it to `snn_engine_open`.
#[repr(C)]
pub struct SnnEngine {
    align: [u64; SNN_ENGINE_U64S],
    words: [usize; SNN_ENGINE_PTRS],
}

/// What `snn_model_t` holds.
#[repr(C)]
struct ModelSlot {
    /// `address ^ OPEN` or `address ^ FAILED`; anything else: not open.
    tag: usize,
    /// Why the last open failed (read when the tag says FAILED).
    error: Option<FormatError>,
    /// The model bytes (identity checked by engines) and their length.
    bytes: *const u8,
    len: usize,
    /// Written when the tag says OPEN.
    model: MaybeUninit<Model<'static>>,
}

/// What `snn_engine_t` holds.
#[repr(C)]
struct EngineSlot {
    tag: usize,
    /// The most recent failure (read when the tag says OPEN or FAILED).
    detail: Detail,
    /// The model handle and the bytes it had when the engine was opened.
    model: *const SnnModel,
    bytes: *const u8,
    /// Written when the tag says OPEN.
    engine: MaybeUninit<Engine<'static, 'static>>,
    stage: MaybeUninit<&'static mut [u16]>,
}

const OPEN: usize = 0x5E4E_0BE4;
const FAILED: usize = 0x0FA1_1ED0;

// The storage declared to C is large and aligned enough on every target this compiles for
// (64-bit hosts and 32-bit cores); a change that breaks this fails the build. Measured with
// snn-models 0.1: model slot 1312 B of 1408 (64-bit) and 728 B of 800 (32-bit), 16 B / 8 B
// more with format v3's synapse section (kept as one borrowed byte slice); engine slot
// 216 B of 256 and 144 B of 176. The spare room lets the model grow without an ABI change.
const _: () = assert!(size_of::<ModelSlot>() <= size_of::<SnnModel>());
const _: () = assert!(align_of::<ModelSlot>() <= align_of::<SnnModel>());
const _: () = assert!(size_of::<EngineSlot>() <= size_of::<SnnEngine>());
const _: () = assert!(align_of::<EngineSlot>() <= align_of::<SnnEngine>());

fn done(r: Result<(), SnnStatus>) -> SnnStatus {
    match r {
        Ok(()) => SnnStatus::SnnOk,
        Err(s) => s,
    }
}

fn aligned<T>(p: *const T) -> Result<(), SnnStatus> {
    if p.is_null() {
        Err(SnnStatus::SnnErrNull)
    } else if (p as usize) % align_of::<T>() != 0 {
        Err(SnnStatus::SnnErrMisaligned)
    } else {
        Ok(())
    }
}

/// `n` elements at `p` as a slice; `p` may be NULL when `n` is 0.
///
/// # Safety
/// When `n > 0`, `p` must point to `n` initialised, aligned `T` valid for `'a`.
unsafe fn slice<'a, T>(p: *const T, n: usize) -> Result<&'a [T], SnnStatus> {
    if n == 0 {
        return Ok(&[]);
    }
    aligned(p)?;
    if n > isize::MAX as usize / size_of::<T>().max(1) {
        return Err(SnnStatus::SnnErrInputLength);
    }
    // SAFETY: non-NULL, aligned, and the caller guarantees `n` valid elements for `'a`.
    Ok(unsafe { core::slice::from_raw_parts(p, n) })
}

/// `n` writable elements at `p`; `p` may be NULL when `n` is 0.
///
/// # Safety
/// When `n > 0`, `p` must point to `n` aligned `T` writable for `'a` and not otherwise borrowed.
unsafe fn slice_mut<'a, T>(p: *mut T, n: usize) -> Result<&'a mut [T], SnnStatus> {
    if n == 0 {
        return Ok(&mut []);
    }
    aligned(p)?;
    if n > isize::MAX as usize / size_of::<T>().max(1) {
        return Err(SnnStatus::SnnErrBufferTooSmall);
    }
    // SAFETY: non-NULL, aligned, and the caller guarantees `n` writable elements for `'a`.
    Ok(unsafe { core::slice::from_raw_parts_mut(p, n) })
}

/// Writes `value` through an out-pointer.
///
/// # Safety
/// `p` is NULL or points to a writable `T`.
unsafe fn put<T>(p: *mut T, value: T) -> Result<(), SnnStatus> {
    aligned(p)?;
    // SAFETY: non-NULL and aligned; the caller guarantees it is writable.
    unsafe { p.write(value) };
    Ok(())
}

/// The model slot behind an open handle.
///
/// # Safety
/// `m` is NULL or points to a readable `snn_model_t` that stays put for `'a`.
unsafe fn open_model<'a>(m: *const SnnModel) -> Result<&'a ModelSlot, SnnStatus> {
    aligned(m)?;
    let slot = m.cast::<ModelSlot>();
    // SAFETY: `m` is a readable, aligned `snn_model_t`, which is larger than a `ModelSlot` and
    // aligned for it (asserted above); the tag is a plain word, any value is valid.
    let tag = unsafe { (*slot).tag };
    if tag != m as usize ^ OPEN {
        return Err(SnnStatus::SnnErrNotOpen);
    }
    // SAFETY: the tag says `snn_model_open` wrote a whole `ModelSlot` here, at this address.
    Ok(unsafe { &*slot })
}

/// Checks an engine slot's tag and that its model is still the one it was opened on.
///
/// # Safety
/// `e` is aligned and non-NULL, points to a readable `snn_engine_t`, and the model handle an
/// open engine names is still readable (the memory contract).
unsafe fn check_engine(e: *const SnnEngine) -> Result<(), SnnStatus> {
    let slot = e.cast::<EngineSlot>();
    // SAFETY: as in `open_model`: the tag is a plain word at the start of the storage.
    if unsafe { (*slot).tag } != e as usize ^ OPEN {
        return Err(SnnStatus::SnnErrNotOpen);
    }
    // SAFETY: the tag says `snn_engine_open` wrote this slot; its model pointer was an open
    // model then and the caller keeps that storage alive.
    let (model, bytes) = unsafe { ((*slot).model, (*slot).bytes) };
    // SAFETY: as just said.
    match unsafe { open_model(model) } {
        Ok(m) if m.bytes == bytes => Ok(()),
        _ => Err(SnnStatus::SnnErrModelChanged),
    }
}

/// The engine slot behind an open handle, shared.
///
/// # Safety
/// As [`check_engine`], and nothing writes the engine for `'a`.
unsafe fn engine_ref<'a>(
    e: *const SnnEngine,
) -> Result<(&'a Engine<'static, 'static>, &'a Model<'static>), SnnStatus> {
    aligned(e)?;
    // SAFETY: forwarded.
    unsafe { check_engine(e) }?;
    // SAFETY: checked open: the slot, its engine and its model were written by the opens.
    let slot = unsafe { &*e.cast::<EngineSlot>() };
    // SAFETY: as above.
    let model = unsafe { &*(*slot.model.cast::<ModelSlot>()).model.as_ptr() };
    // SAFETY: the tag says OPEN, so `engine` was initialised by `snn_engine_open`.
    Ok((unsafe { slot.engine.assume_init_ref() }, model))
}

/// The engine slot behind an open handle, exclusive.
///
/// # Safety
/// As [`check_engine`], and nothing else uses the engine for `'a`.
unsafe fn engine_mut<'a>(e: *mut SnnEngine) -> Result<&'a mut EngineSlot, SnnStatus> {
    aligned(e)?;
    // SAFETY: forwarded.
    unsafe { check_engine(e) }?;
    // SAFETY: checked open; the caller gives the engine to one call at a time.
    Ok(unsafe { &mut *e.cast::<EngineSlot>() })
}

/// Runs `f` on an open engine, its model and its staging buffer; a failure is also kept as the
/// engine's detail for `snn_engine_error_text`.
///
/// # Safety
/// As [`engine_mut`].
unsafe fn with_engine(
    e: *mut SnnEngine,
    f: impl FnOnce(&mut Engine<'static, 'static>, &Model<'static>, &mut [u16]) -> Result<(), Detail>,
) -> SnnStatus {
    // SAFETY: forwarded.
    let slot = match unsafe { engine_mut(e) } {
        Ok(s) => s,
        Err(s) => return s,
    };
    // SAFETY: `engine_mut` checked the model is open, so its `model` was initialised.
    let model = unsafe { &*(*slot.model.cast::<ModelSlot>()).model.as_ptr() };
    // SAFETY: the tag says OPEN, so `engine` and `stage` were initialised by `snn_engine_open`.
    let (engine, stage) = unsafe { (slot.engine.assume_init_mut(), slot.stage.assume_init_mut()) };
    match f(engine, model, stage) {
        Ok(()) => SnnStatus::SnnOk,
        Err(d) => {
            slot.detail = d;
            match d {
                Detail::None => SnnStatus::SnnOk,
                Detail::Status(s) => s,
                Detail::Engine(e) => e.into(),
                Detail::Event { .. } => SnnStatus::SnnErrEventOrder,
            }
        }
    }
}

/// The ABI version of this library (compare with `SNN_ABI_VERSION` from the header).
#[no_mangle]
pub extern "C" fn snn_abi_version() -> u32 {
    SNN_ABI_VERSION
}

/// The fixed, NUL-terminated message of a status code (any value; never NULL).
#[no_mangle]
pub extern "C" fn snn_status_message(status: i32) -> *const c_char {
    SnnStatus::message(status).as_ptr().cast()
}

/// Validates `len` model bytes at `bytes` in place (magic, version, CRC-32, every length, index
/// and range) and opens `model` on them; the bytes are borrowed, never copied (flash stays flash).
///
/// # Safety
/// `model` is NULL or writable `snn_model_t` storage; `bytes` is NULL or `len` readable bytes
/// that stay valid and unchanged while the model is open.
#[no_mangle]
pub unsafe extern "C" fn snn_model_open(
    model: *mut SnnModel,
    bytes: *const u8,
    len: usize,
) -> SnnStatus {
    if let Err(s) = aligned(model) {
        return s;
    }
    // SAFETY: the caller guarantees `len` readable bytes that outlive the open model.
    let data: &'static [u8] = match unsafe { slice(bytes, len) } {
        Ok(d) => d,
        Err(s) => return s,
    };
    let (tag, error, value) = match decode(data) {
        Ok(m) => (OPEN, None, MaybeUninit::new(m)),
        Err(e) => (FAILED, Some(e), MaybeUninit::uninit()),
    };
    let status = error.map_or(SnnStatus::SnnOk, SnnStatus::from);
    let slot = ModelSlot {
        tag: model as usize ^ tag,
        error,
        bytes: data.as_ptr(),
        len,
        model: value,
    };
    // SAFETY: `model` is non-NULL, aligned and writable, and large enough (asserted above).
    unsafe { model.cast::<ModelSlot>().write(slot) };
    status
}

/// Fills `out` with what the open `model` needs (RAM bytes, sizes, steps, encoding).
///
/// # Safety
/// `model` is NULL or a readable `snn_model_t`; `out` is NULL or a writable
/// `snn_requirements_t`.
#[no_mangle]
pub unsafe extern "C" fn snn_model_requirements(
    model: *const SnnModel,
    out: *mut SnnRequirements,
) -> SnnStatus {
    // SAFETY: forwarded from the caller.
    done(unsafe { open_model(model) }.and_then(|m| {
        // SAFETY: the tag says OPEN, so `model` was initialised.
        let r = state::requirements(unsafe { m.model.assume_init_ref() }, m.len);
        // SAFETY: forwarded from the caller.
        unsafe { put(out, r) }
    }))
}

/// Copies the model's name into `buf` as a NUL-terminated string (`cap` bytes, including the NUL).
///
/// # Safety
/// `model` is NULL or a readable `snn_model_t`; `buf` is NULL or `cap` writable bytes.
#[no_mangle]
pub unsafe extern "C" fn snn_model_name(
    model: *const SnnModel,
    buf: *mut c_char,
    cap: usize,
) -> SnnStatus {
    // SAFETY: forwarded from the caller.
    done(unsafe { open_model(model) }.and_then(|m| {
        // SAFETY: the tag says OPEN.
        let name = unsafe { m.model.assume_init_ref() }.header.name;
        if cap <= name.len() {
            return Err(SnnStatus::SnnErrBufferTooSmall);
        }
        // SAFETY: forwarded from the caller.
        let dst = unsafe { slice_mut(buf.cast::<u8>(), cap) }?;
        write_c_string(dst, name);
        Ok(())
    }))
}

/// Writes why the last `snn_model_open` on `model` failed (e.g. "invalid layer 1: ...") into
/// `buf` as a NUL-terminated string, truncated to `cap` bytes; returns the bytes written
/// before the NUL. An open model says "no error".
///
/// # Safety
/// `model` is NULL or a readable `snn_model_t`; `buf` is NULL or `cap` writable bytes.
#[no_mangle]
pub unsafe extern "C" fn snn_model_error_text(
    model: *const SnnModel,
    buf: *mut c_char,
    cap: usize,
) -> usize {
    // SAFETY: forwarded from the caller.
    let Ok(dst) = (unsafe { slice_mut(buf.cast::<u8>(), cap) }) else {
        return 0;
    };
    if aligned(model).is_err() {
        return write_c_string(dst, Detail::Status(SnnStatus::SnnErrNull));
    }
    let slot = model.cast::<ModelSlot>();
    // SAFETY: a readable, aligned `snn_model_t`; the tag is a plain word.
    let tag = unsafe { (*slot).tag };
    if tag == model as usize ^ OPEN {
        write_c_string(dst, "no error")
    } else if tag == model as usize ^ FAILED {
        // SAFETY: the tag says `snn_model_open` wrote the slot with its error.
        match unsafe { (*slot).error } {
            Some(e) => write_c_string(dst, e),
            None => write_c_string(dst, "no error"),
        }
    } else {
        write_c_string(dst, Detail::Status(SnnStatus::SnnErrNotOpen))
    }
}

/// Opens `engine` on the open `model` with `ram_len` bytes of caller RAM at `ram` (4-byte
/// aligned, at least `ram_bytes` of `snn_model_requirements`); the RAM is zeroed and then
/// belongs to the engine until it is no longer used. State starts at rest.
///
/// # Safety
/// `engine` is NULL or writable `snn_engine_t` storage; `model` is NULL or a readable
/// `snn_model_t`; `ram` is NULL or `ram_len` writable bytes. The model handle, its bytes and the
/// RAM stay valid, unmoved and otherwise unused while the engine is used.
#[no_mangle]
pub unsafe extern "C" fn snn_engine_open(
    engine: *mut SnnEngine,
    model: *const SnnModel,
    ram: *mut c_void,
    ram_len: usize,
) -> SnnStatus {
    if let Err(s) = aligned(engine) {
        return s;
    }
    // SAFETY: forwarded from the caller.
    let opened = unsafe { open_engine(model, ram, ram_len) };
    let slot = match opened {
        Ok((e, stage, m)) => EngineSlot {
            tag: engine as usize ^ OPEN,
            detail: Detail::None,
            model,
            bytes: m.bytes,
            engine: MaybeUninit::new(e),
            stage: MaybeUninit::new(stage),
        },
        Err(s) => EngineSlot {
            tag: engine as usize ^ FAILED,
            detail: Detail::Status(s),
            model,
            bytes: core::ptr::null(),
            engine: MaybeUninit::uninit(),
            stage: MaybeUninit::uninit(),
        },
    };
    let status = match slot.detail {
        Detail::Status(s) => s,
        _ => SnnStatus::SnnOk,
    };
    // SAFETY: `engine` is non-NULL, aligned, writable and large enough (asserted above).
    unsafe { engine.cast::<EngineSlot>().write(slot) };
    status
}

type Opened = (
    Engine<'static, 'static>,
    &'static mut [u16],
    &'static ModelSlot,
);

/// The engine over `model` and the RAM, and the staging buffer.
///
/// # Safety
/// As [`snn_engine_open`], with `'static` standing for "while the engine is used".
unsafe fn open_engine(
    model: *const SnnModel,
    ram: *mut c_void,
    ram_len: usize,
) -> Result<Opened, SnnStatus> {
    // SAFETY: forwarded from the caller.
    let slot: &'static ModelSlot = unsafe { open_model(model) }?;
    // SAFETY: the tag says OPEN.
    let m: &'static Model<'static> = unsafe { slot.model.assume_init_ref() };
    if ram.is_null() {
        return Err(SnnStatus::SnnErrNull);
    }
    if (ram as usize) % 4 != 0 {
        return Err(SnnStatus::SnnErrMisaligned);
    }
    if ram_len < state::ram_bytes(m) {
        return Err(SnnStatus::SnnErrRamTooSmall);
    }
    let words = Buffers::word_bytes(m);
    let ram = ram.cast::<u8>();
    // SAFETY: the caller gives `ram_len` writable bytes; zeroing them makes every `i32` and
    // `u16` below initialised.
    unsafe { ram.write_bytes(0, ram_len) };
    // SAFETY: `ram` is 4-byte aligned and `words <= ram_bytes <= ram_len` bytes are writable.
    let w = unsafe { slice_mut(ram.cast::<i32>(), words / 4) }?;
    // SAFETY: the rest of the RAM, 2-byte aligned (`words` is a multiple of 4), disjoint from `w`.
    let h = unsafe { slice_mut(ram.add(words).cast::<u16>(), (ram_len - words) / 2) }?;
    let b = Buffers::cut(m, w, h)?;
    let e =
        Engine::new(m, b.membrane, b.current, b.spikes, b.out_counts).map_err(SnnStatus::from)?;
    Ok((e, b.stage, slot))
}

/// Puts every membrane at rest and clears counts and stats (start of a streamed sample).
///
/// # Safety
/// `engine` is NULL or a `snn_engine_t` used by this call only; the memory contract holds.
#[no_mangle]
pub unsafe extern "C" fn snn_engine_reset(engine: *mut SnnEngine) -> SnnStatus {
    // SAFETY: forwarded from the caller.
    unsafe {
        with_engine(engine, |e, _, _| {
            e.reset();
            Ok(())
        })
    }
}

/// Resets, encodes `len` features (one frame of `input_size`, or `time_steps` frames) with the
/// model's encoding and `sample_seed`, and runs every time step.
///
/// # Safety
/// `engine` as in [`snn_engine_reset`]; `features` is NULL or `len` readable bytes.
#[no_mangle]
pub unsafe extern "C" fn snn_run_features(
    engine: *mut SnnEngine,
    features: *const u8,
    len: usize,
    sample_seed: u32,
) -> SnnStatus {
    // SAFETY: forwarded from the caller.
    let f = match unsafe { slice(features, len) } {
        Ok(f) => f,
        Err(s) => return s,
    };
    // SAFETY: forwarded from the caller.
    unsafe {
        with_engine(engine, |e, _, _| {
            e.run_features(f, sample_seed).map_err(Detail::Engine)
        })
    }
}

/// Resets and runs every time step with `count` input spikes given as events (`t`
/// non-decreasing and below `time_steps`, `index` below `input_size`); all are checked first.
///
/// # Safety
/// `engine` as in [`snn_engine_reset`]; `events` is NULL or `count` readable `snn_event_t`.
#[no_mangle]
pub unsafe extern "C" fn snn_run_events(
    engine: *mut SnnEngine,
    events: *const SnnEvent,
    count: usize,
) -> SnnStatus {
    // SAFETY: forwarded from the caller.
    let ev = match unsafe { slice(events, count) } {
        Ok(v) => v,
        Err(s) => return s,
    };
    // SAFETY: forwarded from the caller.
    unsafe { with_engine(engine, |e, m, stage| state::run_events(e, m, stage, ev)) }
}

/// Runs one time step of a streamed sample on `count` input spike indices (each below
/// `input_size`, at most `input_size`); counts accumulate until `snn_engine_reset`.
///
/// # Safety
/// `engine` as in [`snn_engine_reset`]; `input` is NULL or `count` readable `uint16_t`.
#[no_mangle]
pub unsafe extern "C" fn snn_step(
    engine: *mut SnnEngine,
    input: *const u16,
    count: usize,
) -> SnnStatus {
    // SAFETY: forwarded from the caller.
    let input = match unsafe { slice(input, count) } {
        Ok(v) => v,
        Err(s) => return s,
    };
    // SAFETY: forwarded from the caller.
    unsafe { with_engine(engine, |e, _, _| e.step(input).map_err(Detail::Engine)) }
}

/// Points `*spikes` at the indices of layer `layer`'s neurons that spiked in the last step and
/// sets `*count` (the last layer is the output); valid until the engine runs again.
///
/// # Safety
/// `engine` is NULL or a readable `snn_engine_t` not being written; `spikes` and `count` are
/// NULL or writable.
#[no_mangle]
pub unsafe extern "C" fn snn_step_spikes(
    engine: *const SnnEngine,
    layer: u16,
    spikes: *mut *const u16,
    count: *mut usize,
) -> SnnStatus {
    // SAFETY: forwarded from the caller.
    done(unsafe { engine_ref(engine) }.and_then(|(e, m)| {
        if usize::from(layer) >= m.layers.len() {
            return Err(SnnStatus::SnnErrLayerIndex);
        }
        let s = e.layer_spikes(usize::from(layer));
        aligned(spikes)?;
        aligned(count)?;
        // SAFETY: both checked non-NULL and aligned; the caller guarantees they are writable.
        unsafe {
            put(spikes, s.as_ptr())?;
            put(count, s.len())
        }
    }))
}

/// Copies the spike count of each output neuron since the last reset into `counts` (`cap`
/// entries, at least `output_neurons`).
///
/// # Safety
/// `engine` as in [`snn_step_spikes`]; `counts` is NULL or `cap` writable `uint16_t`.
#[no_mangle]
pub unsafe extern "C" fn snn_output_counts(
    engine: *const SnnEngine,
    counts: *mut u16,
    cap: usize,
) -> SnnStatus {
    // SAFETY: forwarded from the caller.
    done(unsafe { engine_ref(engine) }.and_then(|(e, _)| {
        let src = e.output_counts();
        if cap < src.len() {
            return Err(SnnStatus::SnnErrBufferTooSmall);
        }
        // SAFETY: forwarded from the caller.
        state::copy_out(src, unsafe { slice_mut(counts, src.len()) }?)
    }))
}

/// Copies the readout values of a model whose last layer is a non-spiking readout (format v3's
/// `Output::MaxMembrane`, NIR LI / I) into `values` (`cap` entries, at least `output_neurons`):
/// per class the maximum of its readout membrane over the steps since the last reset (`int32_t`
/// in the last layer's units `2^-shift`; 0 before the first step), what `snn_predicted_class`
/// decides on. `SNN_ERR_NO_READOUT` for a model whose last layer spikes.
///
/// # Safety
/// `engine` as in [`snn_step_spikes`]; `values` is NULL or `cap` writable `int32_t`.
#[no_mangle]
pub unsafe extern "C" fn snn_readout(
    engine: *const SnnEngine,
    values: *mut i32,
    cap: usize,
) -> SnnStatus {
    // SAFETY: forwarded from the caller.
    done(unsafe { engine_ref(engine) }.and_then(|(e, m)| {
        if !m.has_readout() {
            return Err(SnnStatus::SnnErrNoReadout);
        }
        let src = e.readout();
        if cap < src.len() {
            return Err(SnnStatus::SnnErrBufferTooSmall);
        }
        // SAFETY: forwarded from the caller.
        state::copy_out(src, unsafe { slice_mut(values, src.len()) }?)
    }))
}

/// Copies each layer's total spikes since the last reset into `totals` (`cap` entries, at least
/// `layers`).
///
/// # Safety
/// `engine` as in [`snn_step_spikes`]; `totals` is NULL or `cap` writable `uint32_t`.
#[no_mangle]
pub unsafe extern "C" fn snn_layer_spike_totals(
    engine: *const SnnEngine,
    totals: *mut u32,
    cap: usize,
) -> SnnStatus {
    // SAFETY: forwarded from the caller.
    done(unsafe { engine_ref(engine) }.and_then(|(e, m)| {
        let src = e.stats().layer_spikes.get(..m.layers.len()).unwrap_or(&[]);
        if cap < src.len() {
            return Err(SnnStatus::SnnErrBufferTooSmall);
        }
        // SAFETY: forwarded from the caller.
        state::copy_out(src, unsafe { slice_mut(totals, src.len()) }?)
    }))
}

/// Fills `out` with the counters since the last reset (steps, input spikes, synaptic events).
///
/// # Safety
/// `engine` as in [`snn_step_spikes`]; `out` is NULL or a writable `snn_stats_t`.
#[no_mangle]
pub unsafe extern "C" fn snn_stats(engine: *const SnnEngine, out: *mut SnnStats) -> SnnStatus {
    // SAFETY: forwarded from the caller.
    done(unsafe { engine_ref(engine) }.and_then(|(e, _)| {
        let s = e.stats();
        let stats = SnnStats {
            synaptic_events: s.synaptic_events,
            input_spikes: s.input_spikes,
            steps: s.steps,
        };
        // SAFETY: forwarded from the caller.
        unsafe { put(out, stats) }
    }))
}

/// Sets `*class` to the class whose output population spiked most (ties: the lower class), or
/// for a readout model the class with the largest [`snn_readout`] value (ties: the lower class).
///
/// # Safety
/// `engine` as in [`snn_step_spikes`]; `class` is NULL or a writable `uint16_t`.
#[no_mangle]
pub unsafe extern "C" fn snn_predicted_class(
    engine: *const SnnEngine,
    class: *mut u16,
) -> SnnStatus {
    // SAFETY: forwarded from the caller.
    done(unsafe { engine_ref(engine) }.and_then(|(e, _)| {
        // SAFETY: forwarded from the caller.
        unsafe { put(class, e.predicted_class()) }
    }))
}

/// Sets `*ok` to whether layer `layer`'s mean rate over the steps run is within its budget.
///
/// # Safety
/// `engine` as in [`snn_step_spikes`]; `ok` is NULL or a writable `bool`.
#[no_mangle]
pub unsafe extern "C" fn snn_budget_ok(
    engine: *const SnnEngine,
    layer: u16,
    ok: *mut bool,
) -> SnnStatus {
    // SAFETY: forwarded from the caller.
    done(unsafe { engine_ref(engine) }.and_then(|(e, m)| {
        if usize::from(layer) >= m.layers.len() {
            return Err(SnnStatus::SnnErrLayerIndex);
        }
        // SAFETY: forwarded from the caller.
        unsafe { put(ok, e.budget_ok(usize::from(layer))) }
    }))
}

/// Writes the most recent failure of `engine` (e.g. "input spike index 70 is out of range")
/// into `buf` as a NUL-terminated string, truncated to `cap` bytes; returns the bytes written
/// before the NUL.
///
/// # Safety
/// `engine` is NULL or a readable `snn_engine_t` not being written; `buf` is NULL or `cap`
/// writable bytes.
#[no_mangle]
pub unsafe extern "C" fn snn_engine_error_text(
    engine: *const SnnEngine,
    buf: *mut c_char,
    cap: usize,
) -> usize {
    // SAFETY: forwarded from the caller.
    let Ok(dst) = (unsafe { slice_mut(buf.cast::<u8>(), cap) }) else {
        return 0;
    };
    if aligned(engine).is_err() {
        return write_c_string(dst, Detail::Status(SnnStatus::SnnErrNull));
    }
    let slot = engine.cast::<EngineSlot>();
    // SAFETY: a readable, aligned `snn_engine_t`; the tag is a plain word.
    let tag = unsafe { (*slot).tag };
    if tag == engine as usize ^ OPEN || tag == engine as usize ^ FAILED {
        // SAFETY: the tag says `snn_engine_open` wrote the slot, detail included.
        write_c_string(dst, unsafe { (*slot).detail })
    } else {
        write_c_string(dst, Detail::Status(SnnStatus::SnnErrNotOpen))
    }
}

/// Sets `*channels` to the real-valued channels one step of `model` takes
/// (`snn_step_values`, `snn_step_raw`): the channel count of a continuous encoding (direct,
/// send-on-delta, sigma-delta), 0 for a model that takes `u8` features or spikes.
///
/// # Safety
/// `model` is NULL or a readable `snn_model_t`; `channels` is NULL or a writable `uint16_t`.
#[no_mangle]
pub unsafe extern "C" fn snn_model_channels(
    model: *const SnnModel,
    channels: *mut u16,
) -> SnnStatus {
    // SAFETY: forwarded from the caller.
    done(unsafe { open_model(model) }.and_then(|m| {
        // SAFETY: the tag says OPEN, so `model` was initialised.
        let n = state::channels(unsafe { m.model.assume_init_ref() });
        // SAFETY: forwarded from the caller.
        unsafe { put(channels, n) }
    }))
}

/// Turns the step limit on (the default: at most `time_steps` steps after a reset, then
/// `SNN_ERR_TOO_MANY_STEPS`) or off (an endless stream: counts saturate at 65,535 per output
/// neuron, `snn_stats_t.steps` at 65,535); kept across resets.
///
/// # Safety
/// `engine` as in [`snn_engine_reset`].
#[no_mangle]
pub unsafe extern "C" fn snn_engine_set_step_limit(engine: *mut SnnEngine, on: bool) -> SnnStatus {
    // SAFETY: forwarded from the caller.
    unsafe {
        with_engine(engine, |e, _, _| {
            e.set_step_limit(on);
            Ok(())
        })
    }
}

/// Runs one time step of a streamed series on `channels` real values (one per channel, as
/// `snn_model_channels`), encoded with the model's continuous encoding and its per-channel
/// constants, exactly as the Rust `Engine::step_values`; state carries over until
/// `snn_engine_reset`. Non-finite values are not refused: NaN encodes as the channel's
/// offset, infinities saturate (the Rust engine's rule).
///
/// # Safety
/// `engine` as in [`snn_engine_reset`]; `values` is NULL or `channels` readable `float`.
#[no_mangle]
pub unsafe extern "C" fn snn_step_values(
    engine: *mut SnnEngine,
    values: *const f32,
    channels: usize,
) -> SnnStatus {
    // SAFETY: forwarded from the caller.
    let v = match unsafe { slice(values, channels) } {
        Ok(v) => v,
        Err(s) => return s,
    };
    // SAFETY: forwarded from the caller.
    unsafe {
        with_engine(engine, |e, m, _| {
            state::step_input(e, m, state::StepInput::Values(v))
        })
    }
}

/// Runs one time step of a streamed series on `channels` raw `int16_t` samples (a sensor's or
/// ADC's readings, one per channel) with unit `2^exp`: `x_c = raw_c * 2^exp` (exact), then as
/// [`snn_step_values`]. This is the Rust firmware's on-board stream encoder
/// (`Engine::step_raw`): the same bits on every core, with or without an FPU.
///
/// # Safety
/// `engine` as in [`snn_engine_reset`]; `raw` is NULL or `channels` readable `int16_t`.
#[no_mangle]
pub unsafe extern "C" fn snn_step_raw(
    engine: *mut SnnEngine,
    raw: *const i16,
    channels: usize,
    exp: i8,
) -> SnnStatus {
    // SAFETY: forwarded from the caller.
    let r = match unsafe { slice(raw, channels) } {
        Ok(r) => r,
        Err(s) => return s,
    };
    // SAFETY: forwarded from the caller.
    unsafe {
        with_engine(engine, |e, m, _| {
            state::step_input(e, m, state::StepInput::Raw(r, exp))
        })
    }
}

/// `uint64_t` words of `snn_decision_t`.
pub const SNN_DECISION_U64S: usize = 4;
/// Pointer-sized words of `snn_decision_t`.
pub const SNN_DECISION_PTRS: usize = 8;

/// Caller-owned storage of a decision rule over an engine's stream: declare one and pass it to
/// `snn_window_open` or `snn_threshold_open`. The contents are private; the size is ABI.
#[repr(C)]
pub struct SnnDecision {
    align: [u64; SNN_DECISION_U64S],
    words: [usize; SNN_DECISION_PTRS],
}

/// What `snn_decision_t` holds.
#[repr(C)]
struct DecisionSlot {
    tag: usize,
    /// The engine whose output spikes are pushed.
    engine: *const SnnEngine,
    /// The caller's RAM: `classes` `u32` counts, then the window's `width * classes` `u16`.
    ram: *mut u32,
    rule: Rule,
}

// Measured: the decision slot is 56 B of 96 on a 64-bit host (about 40 B of 64 on a 32-bit
// core); the build fails if it ever outgrows the handle.
const _: () = assert!(size_of::<DecisionSlot>() <= size_of::<SnnDecision>());
const _: () = assert!(align_of::<DecisionSlot>() <= align_of::<SnnDecision>());

/// The rule's counts and ring in its RAM.
///
/// # Safety
/// `ram` holds `4 * classes + 2 * width * classes` writable bytes, 4-byte aligned, used by this
/// rule only.
unsafe fn rule_ram<'a>(
    ram: *mut u32,
    rule: &Rule,
) -> Result<(&'a mut [u32], &'a mut [u16]), SnnStatus> {
    let c = usize::from(rule.classes);
    // SAFETY: forwarded.
    let counts = unsafe { slice_mut(ram, c) }?;
    let ring_len = usize::from(rule.width) * c;
    // SAFETY: the ring follows the counts in the same block (u16 alignment holds).
    let ring = unsafe { slice_mut(ram.add(c).cast::<u16>(), ring_len) }?;
    Ok((counts, ring))
}

/// Opens a rule on `engine` in `ram`: checks the pointers, asks `make` for the rule over the
/// cut RAM and writes the handle (a failed open leaves it not open).
///
/// # Safety
/// As [`snn_window_open`].
unsafe fn open_rule(
    decision: *mut SnnDecision,
    engine: *const SnnEngine,
    width: u16,
    ram: *mut c_void,
    ram_len: usize,
    make: impl FnOnce(&Model<'static>, &mut [u32], &mut [u16]) -> Result<Rule, SnnStatus>,
) -> SnnStatus {
    if let Err(s) = aligned(decision) {
        return s;
    }
    // SAFETY: `decision` is non-NULL, aligned and writable; a zero tag is "not open".
    unsafe { (*decision.cast::<DecisionSlot>()).tag = 0 };
    // SAFETY: forwarded from the caller.
    let (_, model) = match unsafe { engine_ref(engine) } {
        Ok(x) => x,
        Err(s) => return s,
    };
    let need = match crate::rule::ram_bytes(model, width) {
        Ok(n) => n,
        Err(s) => return s,
    };
    if let Err(s) = aligned(ram.cast::<u32>()) {
        return s;
    }
    if ram_len < need {
        return SnnStatus::SnnErrRamTooSmall;
    }
    let ram = ram.cast::<u32>();
    let probe = Rule {
        classes: model.header.num_classes,
        per_class: model.header.neurons_per_class,
        width,
        threshold: 0,
        head: 0,
        steps: 0,
        reached: None,
    };
    // SAFETY: `ram` is aligned with `need` writable bytes (the caller gives `ram_len`).
    let (counts, ring) = match unsafe { rule_ram(ram, &probe) } {
        Ok(x) => x,
        Err(s) => return s,
    };
    let rule = match make(model, counts, ring) {
        Ok(r) => r,
        Err(s) => return s,
    };
    let slot = DecisionSlot {
        tag: decision as usize ^ OPEN,
        engine,
        ram,
        rule,
    };
    // SAFETY: `decision` is non-NULL, aligned, writable and large enough (asserted above).
    unsafe { decision.cast::<DecisionSlot>().write(slot) };
    SnnStatus::SnnOk
}

/// Sets `*bytes` to the RAM a sliding window of `width` steps over `engine`'s output needs:
/// `4 * num_classes + 2 * width * num_classes` (4-byte aligned when given to
/// [`snn_window_open`]); `width` 0 gives the first-to-threshold rule's `4 * num_classes`.
///
/// # Safety
/// `engine` as in [`snn_step_spikes`]; `bytes` is NULL or a writable `size_t`.
#[no_mangle]
pub unsafe extern "C" fn snn_decision_ram_bytes(
    engine: *const SnnEngine,
    width: u16,
    bytes: *mut usize,
) -> SnnStatus {
    // SAFETY: forwarded from the caller.
    done(unsafe { engine_ref(engine) }.and_then(|(_, m)| {
        let n = crate::rule::ram_bytes(m, width)?;
        // SAFETY: forwarded from the caller.
        unsafe { put(bytes, n) }
    }))
}

/// Opens `decision` as the sliding-window rule over `engine`'s output spikes: after each
/// [`snn_decision_push`], the class with most output spikes over the last `width` steps
/// (1..=65535; ties: the lower class; undecided while the window holds no spike), as the Rust
/// firmware's `decision::Window`. `ram`: [`snn_decision_ram_bytes`] bytes, 4-byte aligned,
/// cleared here.
///
/// # Safety
/// `decision` is NULL or writable `snn_decision_t` storage; `engine` is NULL or an
/// `snn_engine_t` that stays valid and unmoved while the rule is used; `ram` is NULL or
/// `ram_len` writable bytes that stay valid and otherwise unused.
#[no_mangle]
pub unsafe extern "C" fn snn_window_open(
    decision: *mut SnnDecision,
    engine: *const SnnEngine,
    width: u16,
    ram: *mut c_void,
    ram_len: usize,
) -> SnnStatus {
    if width == 0 {
        return SnnStatus::SnnErrDecisionParam;
    }
    // SAFETY: forwarded from the caller.
    unsafe {
        open_rule(decision, engine, width, ram, ram_len, |m, counts, ring| {
            Rule::window(m, width, counts, ring)
        })
    }
}

/// Opens `decision` as the first-to-threshold rule over `engine`'s output spikes: the first
/// class whose spike count since the open or reset reaches `threshold` (at least 1), and the
/// step at which it did; kept until [`snn_decision_reset`] (several classes in one step: the
/// higher count, then the lower class), as the Rust firmware's `decision::FirstToThreshold`.
/// `ram`: [`snn_decision_ram_bytes`] with width 0, 4-byte aligned, cleared here.
///
/// # Safety
/// As [`snn_window_open`].
#[no_mangle]
pub unsafe extern "C" fn snn_threshold_open(
    decision: *mut SnnDecision,
    engine: *const SnnEngine,
    threshold: u32,
    ram: *mut c_void,
    ram_len: usize,
) -> SnnStatus {
    // SAFETY: forwarded from the caller.
    unsafe {
        open_rule(decision, engine, 0, ram, ram_len, |m, counts, _| {
            Rule::first_to(m, threshold, counts)
        })
    }
}

/// The rule slot behind an open decision handle.
///
/// # Safety
/// `d` is NULL or points to a `snn_decision_t` used by this call only.
unsafe fn open_decision<'a>(d: *mut SnnDecision) -> Result<&'a mut DecisionSlot, SnnStatus> {
    // SAFETY: forwarded; the caller gives the handle to this call only.
    unsafe { decision_ref(d) }?;
    // SAFETY: checked open just now.
    Ok(unsafe { &mut *d.cast::<DecisionSlot>() })
}

/// The rule slot behind an open decision handle, shared.
///
/// # Safety
/// `d` is NULL or points to a readable `snn_decision_t` not being written.
unsafe fn decision_ref<'a>(d: *const SnnDecision) -> Result<&'a DecisionSlot, SnnStatus> {
    aligned(d)?;
    let slot = d.cast::<DecisionSlot>();
    // SAFETY: a readable, aligned `snn_decision_t`; the tag is a plain word.
    if unsafe { (*slot).tag } != d as usize ^ OPEN {
        return Err(SnnStatus::SnnErrNotOpen);
    }
    // SAFETY: the tag says an open wrote the whole slot at this address.
    Ok(unsafe { &*slot })
}

/// Forgets every step pushed (start of a new series; call it with `snn_engine_reset`).
///
/// # Safety
/// `decision` is NULL or a `snn_decision_t` used by this call only; its RAM is still valid.
#[no_mangle]
pub unsafe extern "C" fn snn_decision_reset(decision: *mut SnnDecision) -> SnnStatus {
    // SAFETY: forwarded from the caller.
    done(unsafe { open_decision(decision) }.and_then(|d| {
        // SAFETY: the RAM given at the open, sized for this rule.
        let (counts, ring) = unsafe { rule_ram(d.ram, &d.rule) }?;
        d.rule.reset(counts, ring);
        Ok(())
    }))
}

/// Pushes the output spikes of the engine's last step into the rule (call it once after each
/// step) and writes the decision so far into `*verdict`; on error nothing changes.
///
/// # Safety
/// `decision` as in [`snn_decision_reset`]; its engine is valid and not being run;
/// `verdict` is NULL or a writable `snn_verdict_t`.
#[no_mangle]
pub unsafe extern "C" fn snn_decision_push(
    decision: *mut SnnDecision,
    verdict: *mut SnnVerdict,
) -> SnnStatus {
    // SAFETY: forwarded from the caller.
    done(unsafe { open_decision(decision) }.and_then(|d| {
        aligned(verdict)?;
        // SAFETY: the engine the rule was opened on; the caller keeps it valid.
        let (e, m) = unsafe { engine_ref(d.engine) }?;
        let spikes = e.layer_spikes(m.layers.len().saturating_sub(1));
        // SAFETY: the RAM given at the open, sized for this rule.
        let (counts, ring) = unsafe { rule_ram(d.ram, &d.rule) }?;
        let v = d.rule.push(spikes, counts, ring)?;
        // SAFETY: checked non-NULL and aligned; the caller guarantees it is writable.
        unsafe { put(verdict, v) }
    }))
}

/// Copies the rule's per-class counts into `counts` (`cap` entries, at least `num_classes`):
/// the window's sums over its last `width` steps, or first to threshold's counts since reset.
///
/// # Safety
/// `decision` is NULL or a readable `snn_decision_t` not being written, its RAM still valid;
/// `counts` is NULL or `cap` writable `uint32_t`.
#[no_mangle]
pub unsafe extern "C" fn snn_decision_counts(
    decision: *const SnnDecision,
    counts: *mut u32,
    cap: usize,
) -> SnnStatus {
    // SAFETY: forwarded from the caller.
    done(unsafe { decision_ref(decision) }.and_then(|d| {
        // SAFETY: the RAM given at the open, sized for this rule; only read here.
        let (src, _) = unsafe { rule_ram(d.ram, &d.rule) }?;
        if cap < src.len() {
            return Err(SnnStatus::SnnErrBufferTooSmall);
        }
        // SAFETY: forwarded from the caller.
        state::copy_out(src, unsafe { slice_mut(counts, src.len()) }?)
    }))
}
