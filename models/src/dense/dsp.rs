//! TARGET-SPECIFIC: the dense kernel on Arm cores with the DSP extension (Cortex-M4/M7/M33,
//! feature `arm-dsp`). The only `unsafe` of `models`: inline assembly of `SXTB16`,
//! `SXTB16 ROR #8` and `SMLAD` (the DSP intrinsics are not stable Rust), alone and as the
//! two-row loop `dot2`, each block touching only its named registers and reading only its
//! slices.
//!
//! Per four inputs: the inputs are widened once per layer into two words of 16-bit lanes in
//! the order `SXTB16` produces (`[x0, x2]`, `[x1, x3]`); for each row one word of four weights
//! is loaded, split into `[w0, w2]` and `[w1, w3]` by `SXTB16` / `SXTB16 ROR #8`, and two
//! `SMLAD`s add `w0·x0 + w2·x2` and `w1·x1 + w3·x3`. Two rows share the input loads. The sums are
//! exact (no accumulator can overflow, see `dense`), so the bits equal the portable loop's.
use super::kernel::{bias, dot};
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

/// Two adjacent rows against the packed inputs: `(a + Σ row_o · x, b + Σ row_o+1 · x)` over
/// the `n` inputs (a multiple of four), `rows` holding both rows (`2 · n` bytes). Per four inputs
/// and both rows: one `LDRD` of the packed inputs, two `LDR`s of weights, four `SXTB16`, four
/// `SMLAD`, and the loop's `SUBS`/`BNE`: 13 instructions for 8 MACs.
#[inline(always)]
fn dot2(rows: &[u8], n: usize, packed: &[u32], a: i32, b: i32) -> (i32, i32) {
    let k = n / 4;
    if k == 0 || rows.len() < 2 * n || packed.len() < 2 * k {
        return (a, b);
    }
    let (mut a, mut b) = (a, b);
    // SAFETY: the loop runs k >= 1 times; it reads 4k bytes from `rows` (row o), 4k bytes from
    // `rows + n` (row o + 1; 4k <= n and rows.len() >= 2n) and 2k words from `packed`
    // (k <= packed.len() / 2, and `packed` is word-aligned as LDRD needs), writes only the named
    // registers and the flags, and touches no stack.
    unsafe {
        asm!(
            "2:",
            "ldrd {x0}, {x1}, [{px}], #8",
            "ldr {wb}, [{pa}, {n}]",
            "ldr {wa}, [{pa}], #4",
            "sxtb16 {t}, {wa}",
            "smlad {a}, {t}, {x0}, {a}",
            "sxtb16 {t}, {wa}, ror #8",
            "smlad {a}, {t}, {x1}, {a}",
            "sxtb16 {t}, {wb}",
            "smlad {b}, {t}, {x0}, {b}",
            "sxtb16 {t}, {wb}, ror #8",
            "smlad {b}, {t}, {x1}, {b}",
            "subs {k}, {k}, #1",
            "bne 2b",
            px = inout(reg) packed.as_ptr() => _,
            pa = inout(reg) rows.as_ptr() => _,
            n = in(reg) n,
            k = inout(reg) k => _,
            a = inout(reg) a,
            b = inout(reg) b,
            x0 = out(reg) _,
            x1 = out(reg) _,
            wa = out(reg) _,
            wb = out(reg) _,
            t = out(reg) _,
            options(nostack, readonly),
        );
    }
    (a, b)
}

/// `sink(o, bias_o + Σ_i w_oi · x_i)` for every output `o`, two rows per pass. A layer whose
/// input count is not a multiple of four (none of the zoo's) takes the portable loop instead,
/// so the fast path carries no tail code.
pub(super) fn layer_accumulate(
    layer: &DenseLayer<'_>,
    x: &[i8],
    packed: &mut [u32],
    mut sink: impl FnMut(usize, i32),
) {
    let n = x.len();
    if n % 4 != 0 || packed.len() < n / 2 {
        let rows = layer.weights().chunks_exact(n.max(1));
        for (o, (row, b)) in rows.zip(layer.bias_bytes().chunks_exact(4)).enumerate() {
            sink(o, bias(b).wrapping_add(dot(row, x)));
        }
        return;
    }
    // x >= 0 (features >> 1, or requantised to 0..=127), so zero- and sign-extension agree.
    for (p, c) in packed.chunks_exact_mut(2).zip(x.chunks_exact(4)) {
        p[0] = u32::from(c[0] as u8) | (u32::from(c[2] as u8) << 16);
        p[1] = u32::from(c[1] as u8) | (u32::from(c[3] as u8) << 16);
    }
    let packed = &packed[..n / 2];
    let mut biases = layer.bias_bytes().chunks_exact(8);
    let mut pairs = layer.weights().chunks_exact(2 * n);
    let mut o = 0;
    for (rows, bs) in (&mut pairs).zip(&mut biases) {
        let (a, b) = dot2(rows, n, packed, bias(&bs[..4]), bias(&bs[4..]));
        sink(o, a);
        sink(o + 1, b);
        o += 2;
    }
    // An odd row count leaves one row.
    if let (Some(r), Some(bb)) = (pairs.remainder().get(..n), biases.remainder().get(..4)) {
        let mut a = bias(bb);
        for (w, p) in r.chunks_exact(4).zip(packed.chunks_exact(2)) {
            let w = word(w);
            a = smlad(sxtb16(w), p[0], a);
            a = smlad(sxtb16_ror8(w), p[1], a);
        }
        sink(o, a);
    }
}
