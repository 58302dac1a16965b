//! The dense inference: input scaling, one fully connected layer after another, requantisation
//! between them, logits and argmax. The multiply-accumulate loop is portable here; on Arm cores
//! with the DSP extension (feature `arm-dsp`) the rows go to `dsp.rs` instead, same bits.
use super::{DenseError, DenseLayer, DenseModel};

/// Caller memory of an inference: two activation buffers of at least
/// [`DenseModel::max_width`] entries each, and `packed` of at least
/// [`DenseBuffers::packed_len`] words (the DSP kernel's reordered 16-bit inputs; unused by the
/// portable kernel, but required so one caller works on every core).
#[derive(Debug)]
pub struct DenseBuffers<'b> {
    /// Activations, in and out alternately.
    pub a: &'b mut [i8],
    /// Activations, out and in alternately.
    pub b: &'b mut [i8],
    /// Inputs widened to 16-bit lanes, two words per four inputs.
    pub packed: &'b mut [u32],
}

impl DenseBuffers<'_> {
    /// Words of `packed` a layer of `width` inputs needs: `2 · ⌈width / 4⌉`.
    pub const fn packed_len(width: usize) -> usize {
        width.div_ceil(4) * 2
    }
}

/// Runs one inference: `x = features >> 1`, every layer (see the module doc of `dense`), the
/// last layer's accumulators into `logits[..outputs]`; returns the first index of the largest.
pub fn infer(
    model: &DenseModel<'_>,
    features: &[u8],
    bufs: &mut DenseBuffers<'_>,
    logits: &mut [i32],
) -> Result<u16, DenseError> {
    let width = model.max_width();
    if features.len() != model.inputs() {
        return Err(DenseError::InputLength {
            expected: model.inputs(),
            given: features.len(),
        });
    }
    if bufs.a.len() < width
        || bufs.b.len() < width
        || bufs.packed.len() < DenseBuffers::packed_len(width)
        || logits.len() < model.outputs()
    {
        return Err(DenseError::BufferTooSmall);
    }
    for (x, f) in bufs.a.iter_mut().zip(features) {
        *x = (f >> 1) as i8;
    }
    let (mut cur, mut next) = (&mut *bufs.a, &mut *bufs.b);
    for layer in &model.layers {
        let x = &cur[..usize::from(layer.inputs)];
        if layer.hidden {
            layer_accumulate(layer, x, bufs.packed, |o, acc| {
                if let Some(y) = next.get_mut(o) {
                    *y = layer.requantise(acc);
                }
            });
            core::mem::swap(&mut cur, &mut next);
        } else {
            layer_accumulate(layer, x, bufs.packed, |o, acc| {
                if let Some(l) = logits.get_mut(o) {
                    *l = acc;
                }
            });
        }
    }
    let out = &logits[..model.outputs()];
    let mut best = 0;
    for (i, &v) in out.iter().enumerate() {
        if v > out[best] {
            best = i;
        }
    }
    Ok(best as u16)
}

/// `sink(o, bias_o + Σ_i w_oi · x_i)` for every output `o`, on the portable path: two rows
/// per pass, so each input is loaded once for both.
#[cfg(not(all(feature = "arm-dsp", target_arch = "arm")))]
fn layer_accumulate(
    layer: &DenseLayer<'_>,
    x: &[i8],
    _packed: &mut [u32],
    mut sink: impl FnMut(usize, i32),
) {
    let n = x.len().max(1);
    // Armv6-M (Cortex-M0/M0+; the only Arm profile without 32-bit atomics, hence the cfg) has
    // eight low registers: two rows spill there (9.8 instructions per MAC against 8.9), so it
    // takes one row at a time. Same sums either way.
    if cfg!(all(target_arch = "arm", not(target_has_atomic = "32"))) {
        let rows = layer.weights().chunks_exact(n);
        for (o, (row, b)) in rows.zip(layer.bias_bytes().chunks_exact(4)).enumerate() {
            sink(o, bias(b).wrapping_add(dot(row, x)));
        }
        return;
    }
    let mut biases = layer.bias_bytes().chunks_exact(8);
    let mut pairs = layer.weights().chunks_exact(2 * n);
    let mut o = 0;
    for (rows, bs) in (&mut pairs).zip(&mut biases) {
        let (ra, rb) = rows.split_at(n);
        let (a, b) = dot2(ra, rb, x);
        sink(o, bias(&bs[..4]).wrapping_add(a));
        sink(o + 1, bias(&bs[4..]).wrapping_add(b));
        o += 2;
    }
    // An odd row count leaves one row.
    if let (Some(r), Some(bb)) = (pairs.remainder().get(..n), biases.remainder().get(..4)) {
        sink(o, bias(bb).wrapping_add(dot(r, x)));
    }
}

/// `(Σ_i a_i · x_i, Σ_i b_i · x_i)` over two rows (exact, see [`dot`]), four inputs per step.
#[cfg(not(all(feature = "arm-dsp", target_arch = "arm")))]
fn dot2(ra: &[u8], rb: &[u8], x: &[i8]) -> (i32, i32) {
    let (mut a, mut b) = (0i32, 0i32);
    let (mut ca, mut cb, mut cx) = (ra.chunks_exact(4), rb.chunks_exact(4), x.chunks_exact(4));
    for ((wa, wb), x) in (&mut ca).zip(&mut cb).zip(&mut cx) {
        let (x0, x1, x2, x3) = (
            i32::from(x[0]),
            i32::from(x[1]),
            i32::from(x[2]),
            i32::from(x[3]),
        );
        let w = |v: u8| i32::from(v as i8);
        a = a.wrapping_add(w(wa[0]) * x0 + w(wa[1]) * x1 + w(wa[2]) * x2 + w(wa[3]) * x3);
        b = b.wrapping_add(w(wb[0]) * x0 + w(wb[1]) * x1 + w(wb[2]) * x2 + w(wb[3]) * x3);
    }
    let tail = ca
        .remainder()
        .iter()
        .zip(cb.remainder())
        .zip(cx.remainder());
    for ((&wa, &wb), &x) in tail {
        a = a.wrapping_add(i32::from(wa as i8) * i32::from(x));
        b = b.wrapping_add(i32::from(wb as i8) * i32::from(x));
    }
    (a, b)
}

/// A stored little-endian `i32` bias.
#[inline(always)]
pub(super) fn bias(b: &[u8]) -> i32 {
    match b {
        &[a, b, c, d] => i32::from_le_bytes([a, b, c, d]),
        _ => 0,
    }
}

/// On DSP cores the rows go through `dsp.rs` (two rows per pass, `SMLAD`).
#[cfg(all(feature = "arm-dsp", target_arch = "arm"))]
fn layer_accumulate(
    layer: &DenseLayer<'_>,
    x: &[i8],
    packed: &mut [u32],
    sink: impl FnMut(usize, i32),
) {
    super::dsp::layer_accumulate(layer, x, packed, sink);
}

/// `Σ_i w_i · x_i` in `i32`; validation keeps it from overflowing (wrapping only so a debug
/// build has no overflow check, it never wraps). Unrolled by four so the M0 and RV32 loops
/// stay tight; the order of an exact integer sum does not change its bits.
pub(super) fn dot(row: &[u8], x: &[i8]) -> i32 {
    let mut acc = 0i32;
    let mut rows = row.chunks_exact(4);
    let mut xs = x.chunks_exact(4);
    for (w, x) in (&mut rows).zip(&mut xs) {
        let s = i32::from(w[0] as i8) * i32::from(x[0])
            + i32::from(w[1] as i8) * i32::from(x[1])
            + i32::from(w[2] as i8) * i32::from(x[2])
            + i32::from(w[3] as i8) * i32::from(x[3]);
        acc = acc.wrapping_add(s);
    }
    for (&w, &x) in rows.remainder().iter().zip(xs.remainder()) {
        acc = acc.wrapping_add(i32::from(w as i8) * i32::from(x));
    }
    acc
}
