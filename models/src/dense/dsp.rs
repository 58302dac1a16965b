//! TARGET-SPECIFIC: the dense kernel on Arm cores with the DSP extension (Cortex-M4/M7/M33,
//! feature `arm-dsp`). The only `unsafe` of `models`: three instructions as inline assembly
//! (`SXTB16`, `SXTB16 ROR #8`, `SMLAD`; the DSP intrinsics are not stable Rust), each touching
//! only its named registers.
//!
//! Per four inputs: the inputs are widened once per layer into two words of 16-bit lanes in
//! the order `SXTB16` produces (`[x0, x2]`, `[x1, x3]`); for each row one word of four weights
//! is loaded, split into `[w0, w2]` and `[w1, w3]` by `SXTB16` / `SXTB16 ROR #8`, and two
//! `SMLAD`s add `w0·x0 + w2·x2` and `w1·x1 + w3·x3`. Two rows share the input loads. The sums are
//! exact (no accumulator can overflow, see `dense`), so the bits equal the portable loop's.
use super::kernel::dot;
use super::DenseLayer;
use core::arch::asm;

/// `SXTB16 r, x`: bytes 0 and 2 of `x`, sign-extended into the two halfwords of `r`.
#[inline(always)]
fn sxtb16(x: u32) -> u32 {
    let r: u32;
    // SAFETY: a register-to-register instruction; no memory, stack or flags touched.
    unsafe {
        asm!("sxtb16 {r}, {x}", r = lateout(reg) r, x = in(reg) x,
             options(pure, nomem, nostack, preserves_flags));
    }
    r
}

/// `SXTB16 r, x, ROR #8`: bytes 1 and 3 of `x`, sign-extended into the two halfwords of `r`.
#[inline(always)]
fn sxtb16_ror8(x: u32) -> u32 {
    let r: u32;
    // SAFETY: a register-to-register instruction; no memory, stack or flags touched.
    unsafe {
        asm!("sxtb16 {r}, {x}, ror #8", r = lateout(reg) r, x = in(reg) x,
             options(pure, nomem, nostack, preserves_flags));
    }
    r
}

/// `SMLAD r, a, b, acc`: `acc + a.lo · b.lo + a.hi · b.hi` (signed 16-bit halves).
#[inline(always)]
fn smlad(a: u32, b: u32, acc: i32) -> i32 {
    let r: i32;
    // SAFETY: a register-to-register instruction; it may set the sticky Q flag on overflow,
    // which nothing reads (and cannot happen: see the module doc of `dense`).
    unsafe {
        asm!("smlad {r}, {a}, {b}, {c}", r = lateout(reg) r, a = in(reg) a, b = in(reg) b,
             c = in(reg) acc, options(pure, nomem, nostack));
    }
    r
}

/// Four weight bytes as one little-endian word (one `LDR`: these cores load unaligned words).
#[inline(always)]
fn word(w: &[u8]) -> u32 {
    match w {
        &[a, b, c, d] => u32::from_le_bytes([a, b, c, d]),
        _ => 0,
    }
}

/// `sink(o, bias_o + Σ_i w_oi · x_i)` for every output `o`, two rows per pass.
pub(super) fn layer_accumulate(
    layer: &DenseLayer<'_>,
    x: &[i8],
    packed: &mut [u32],
    mut sink: impl FnMut(usize, i32),
) {
    let n4 = x.len() / 4 * 4;
    // x >= 0 (features >> 1, or requantised to 0..=127), so zero- and sign-extension agree.
    for (p, c) in packed.chunks_exact_mut(2).zip(x[..n4].chunks_exact(4)) {
        p[0] = u32::from(c[0] as u8) | (u32::from(c[2] as u8) << 16);
        p[1] = u32::from(c[1] as u8) | (u32::from(c[3] as u8) << 16);
    }
    let packed = &packed[..n4 / 2];
    let outputs = usize::from(layer.outputs);
    let mut o = 0;
    while o + 1 < outputs {
        let (ra, rb) = (layer.row(o), layer.row(o + 1));
        let (mut a, mut b) = (layer.bias(o), layer.bias(o + 1));
        for ((wa, wb), p) in ra[..n4.min(ra.len())]
            .chunks_exact(4)
            .zip(rb[..n4.min(rb.len())].chunks_exact(4))
            .zip(packed.chunks_exact(2))
        {
            let (wa, wb) = (word(wa), word(wb));
            a = smlad(sxtb16(wa), p[0], a);
            b = smlad(sxtb16(wb), p[0], b);
            a = smlad(sxtb16_ror8(wa), p[1], a);
            b = smlad(sxtb16_ror8(wb), p[1], b);
        }
        a = a.wrapping_add(dot(ra.get(n4..).unwrap_or(&[]), &x[n4..]));
        b = b.wrapping_add(dot(rb.get(n4..).unwrap_or(&[]), &x[n4..]));
        sink(o, a);
        sink(o + 1, b);
        o += 2;
    }
    if o < outputs {
        let r = layer.row(o);
        let mut a = layer.bias(o);
        for (w, p) in r[..n4.min(r.len())]
            .chunks_exact(4)
            .zip(packed.chunks_exact(2))
        {
            let w = word(w);
            a = smlad(sxtb16(w), p[0], a);
            a = smlad(sxtb16_ror8(w), p[1], a);
        }
        a = a.wrapping_add(dot(r.get(n4..).unwrap_or(&[]), &x[n4..]));
        sink(o, a);
    }
}
