//! **Target-specific: Arm cores with the DSP extension** (Cortex-M4F, M7, and the M33 built with
//! `-C target-cpu=cortex-m33`). Compiled only with the cargo feature `arm-dsp` on `target_arch =
//! "arm"`; the firmware turns the feature on for exactly those boards. Every other core (and the
//! host) runs the portable packed sums in `engine.rs`, which give the same bits.
//!
//! This is the only module of `models` with `unsafe`: inline assembly of the dense synaptic
//! loop. For a block of `B` postsynaptic neurons (columns `off..off + B`, `B` = 8 or 4) and the
//! spiking rows `j`, it adds the `i8` weights `values[j * n + off + c]` into signed 16-bit lanes:
//! per row one `ldrh` of the index and one `mla` for the row's address, then per 4 weights one
//! unaligned `ldr`, two `sxtb16` (bytes 0/2 and 1/3 sign-extended into the two halves of a word)
//! and two `sadd16` (two lane adds at once); two rows per loop turn. That is 13 instructions per
//! row and block of 8: 1.63 per synaptic event (the portable path: 18, 2.25). Lane layout as in the portable
//! path: word `2q` holds columns `4q` (low half) and `4q + 2` (high), word `2q + 1` columns
//! `4q + 1` and `4q + 3`.
//!
//! No saturation is needed and none happens: the engine takes this path only for steps that add
//! at most `BATCH` = 256 rows, and `256 * [-128, 127] = [-32768, 32512]` lies inside `i16`, so
//! every lane sum is exact and `sadd16`'s wrap-around is never reached. The engine then reads a
//! lane as `syn = lane as i16` (exact), where the portable path reads `lane - 128 * rows`.
//!
//! The rate encoder's draw-and-compare loop ([`rate_octets`]) is here too: plain Thumb-2, same
//! draws and comparisons as the portable `encode::rate_step`, which is its reference (the
//! board's hil run proves it, as for the synaptic loop).
//!
//! Memory safety: [`Rows::new`] checks once per step that every spike index `j` names a whole
//! row (`(j + 1) * n <= values.len()`; for `u16` lists four indices per loop turn with
//! `uqsub16`, [`u16_below`]), and each block call checks `off + B <= n`, so every byte the
//! assembly loads lies inside `values`.
#![allow(unsafe_code)]

use core::arch::asm;

/// Spike indices of one step, each checked to name a whole row of a dense `n`-column matrix.
#[derive(Clone, Copy)]
pub(crate) struct Rows<'a, S> {
    values: &'a [u8],
    n: usize,
    spikes: &'a [S],
}

/// Whether every index in `spikes` lies below `rows`: four at a time by `uqsub16` (two
/// indices per word; a lane is non-zero exactly when its index exceeds `rows - 1`), the lanes
/// OR-ed together, then the last `len % 4` without a branch: `(rows - 1) - j` is negative
/// (bit 31 set) exactly when `j >= rows` (both below 2^16), OR-ed into a second word. Two
/// instructions per index in the quads, three in the tail (the plain loop: five).
fn u16_below(spikes: &[u16], rows: usize) -> bool {
    if rows > usize::from(u16::MAX) {
        return true; // every u16 index is below 65,536 <= rows
    }
    if rows == 0 {
        return spikes.is_empty();
    }
    let quads = spikes.len() & !3;
    let (head, tail) = spikes.split_at(quads);
    let m = (rows as u32 - 1) * 0x0001_0001;
    let mut over = 0u32;
    if !head.is_empty() {
        let p = head.as_ptr();
        let end = p.wrapping_add(quads);
        // SAFETY: reads `head` two `u16` per (possibly unaligned, allowed on ARMv7-M/v8-M
        // Mainline) word load, `p` advancing by 8 bytes up to `end`, `quads` a non-zero
        // multiple of 4. No stack, no writes to memory.
        unsafe {
            asm!(
                "2:",
                "ldr {a}, [{p}], #4",
                "ldr {b}, [{p}], #4",
                "uqsub16 {a}, {a}, {m}",
                "uqsub16 {b}, {b}, {m}",
                "orr {over}, {over}, {a}",
                "orr {over}, {over}, {b}",
                "cmp {p}, {end}",
                "bne 2b",
                p = inout(reg) p => _,
                end = in(reg) end,
                m = in(reg) m,
                over = inout(reg) over,
                a = out(reg) _,
                b = out(reg) _,
                options(nostack, readonly),
            );
        }
    }
    let last = rows as u32 - 1;
    let neg = tail
        .iter()
        .fold(0u32, |neg, &j| neg | last.wrapping_sub(u32::from(j)));
    over == 0 && neg >> 31 == 0
}

/// One weight word `$w` of a row into two packed sums: its even bytes (sign-extended to 16-bit
/// lanes, `sxtb16`) added into `$even`, its odd bytes into `$odd` (`sadd16`); uses `{a}`.
macro_rules! word {
    ($w:literal, $even:literal, $odd:literal) => {
        concat!(
            "sxtb16 {a}, ",
            $w,
            "\n",
            "sadd16 ",
            $even,
            ", ",
            $even,
            ", {a}\n",
            "sxtb16 ",
            $w,
            ", ",
            $w,
            ", ror #8\n",
            "sadd16 ",
            $odd,
            ", ",
            $odd,
            ", ",
            $w,
        )
    };
}

/// The loop of [`Rows::add`]'s assembly around one row's instructions (`$row`): two rows per
/// turn, an odd count (`{a}` = 1) entering at the second, until `{p}` reaches `{end}`.
macro_rules! two_rows {
    ($($row:expr),+ $(,)?) => {
        concat!(
            "cmp {a}, #0\n",
            "bne 3f\n",
            "2:\n",
            $($row, "\n",)+
            "3:\n",
            $($row, "\n",)+
            "cmp {p}, {end}\n",
            "bne 2b",
        )
    };
}

macro_rules! rows {
    ($s:ty, $load:literal, $below:expr) => {
        impl<'a> Rows<'a, $s> {
            /// `spikes` over the row-major `n`-column `values`; `None` when an index names a
            /// row that does not exist (or `n == 0`).
            pub(crate) fn new(values: &'a [u8], n: usize, spikes: &'a [$s]) -> Option<Self> {
                let rows = values.len().checked_div(n)?;
                let below: fn(&[$s], usize) -> bool = $below;
                below(spikes, rows).then_some(Self { values, n, spikes })
            }

            /// No rows: adds nothing.
            pub(crate) fn empty() -> Self {
                Self {
                    values: &[],
                    n: 0,
                    spikes: &[],
                }
            }

            /// Adds columns `off..off + 2 * acc.len()` of every row into the signed lanes of
            /// `acc` (4 words: 8 columns, 2 words: 4 columns; any other length adds nothing,
            /// as does a block that runs past column `n`).
            #[inline(always)]
            pub(crate) fn add(&self, off: usize, acc: &mut [u32]) {
                let k = self.spikes.len();
                let cols = 2 * acc.len();
                if k == 0 || off.checked_add(cols).is_none_or(|end| end > self.n) {
                    return;
                }
                // In bounds: row j ends at (j + 1) * n <= len (checked in `new`) and the block
                // ends at j * n + off + cols <= j * n + n.
                let base = self.values.as_ptr().wrapping_add(off);
                let p = self.spikes.as_ptr();
                let end = p.wrapping_add(k);
                let n = self.n;
                let odd = k & 1;
                match acc {
                    [a0, a1, a2, a3] => {
                        // SAFETY: the loads read `values[j * n + off .. j * n + off + 8]` for
                        // spike indices `j` read from `p..end` (the `k >= 1` spikes); all in
                        // bounds as shown above. Unaligned `ldr` is allowed on ARMv7-M/v8-M
                        // Mainline. No stack, no writes to memory.
                        unsafe {
                            asm!(
                                // Two rows per turn; an odd count starts at the second.
                                two_rows!(
                                    $load,
                                    "mla {a}, {a}, {n}, {base}",
                                    "ldr {w1}, [{a}, #4]",
                                    "ldr {w0}, [{a}]",
                                    word!("{w0}", "{a0}", "{a1}"),
                                    word!("{w1}", "{a2}", "{a3}"),
                                ),
                                p = inout(reg) p => _,
                                end = in(reg) end,
                                n = in(reg) n,
                                base = in(reg) base,
                                a = inout(reg) odd => _,
                                w0 = out(reg) _,
                                w1 = out(reg) _,
                                a0 = inout(reg) *a0,
                                a1 = inout(reg) *a1,
                                a2 = inout(reg) *a2,
                                a3 = inout(reg) *a3,
                                options(nostack, readonly),
                            );
                        }
                    }
                    [a0, a1] => {
                        // SAFETY: as above, 4 bytes per row.
                        unsafe {
                            asm!(
                                two_rows!(
                                    $load,
                                    "mla {a}, {a}, {n}, {base}",
                                    "ldr {w0}, [{a}]",
                                    word!("{w0}", "{a0}", "{a1}"),
                                ),
                                p = inout(reg) p => _,
                                end = in(reg) end,
                                n = in(reg) n,
                                base = in(reg) base,
                                a = inout(reg) odd => _,
                                w0 = out(reg) _,
                                a0 = inout(reg) *a0,
                                a1 = inout(reg) *a1,
                                options(nostack, readonly),
                            );
                        }
                    }
                    _ => {}
                }
            }
        }
    };
}

rows!(u16, "ldrh {a}, [{p}], #2", u16_below);
rows!(i32, "ldr {a}, [{p}], #4", |spikes, rows| spikes
    .iter()
    .all(|&j| (j as u32 as usize) < rows));

/// A lane of a signed packed sum: the low half of `w` as `i16`.
#[inline(always)]
pub(crate) fn lo(w: u32) -> i32 {
    i32::from(w as u16 as i16)
}

/// A lane of a signed packed sum: the high half of `w` as `i16`.
#[inline(always)]
pub(crate) fn hi(w: u32) -> i32 {
    (w as i32) >> 16
}

/// Rate coding of the first `8 * floor(frame.len() / 8)` features of one step, eight per loop
/// turn (the portable `encode::rate_step` is the definition and does the rest): for each
/// feature `i` in order, one xorshift32 draw of `x` (`x ^= x << 13; x ^= x >> 17; x ^= x <<
/// 5`), and `i` is appended to `out` when `(x >> 24) < q_i`, i.e. `x < q_i << 24` (the same
/// for `q_i <= 255`: one `cmp` with the shifted operand). Per feature `ldrb`, three `eor`, a
/// `cmp` and a branch; a spike adds an `add` and a `strh`. Returns the spikes written; `x`
/// holds the generator's state after the last draw. Writes nothing and draws nothing when
/// `out` is shorter than the features it would cover.
#[inline(always)]
pub(crate) fn rate_octets(x: &mut u32, frame: &[u8], out: &mut [u16]) -> usize {
    let len = frame.len() & !7;
    if len == 0 || out.len() < len {
        return 0;
    }
    let start = out.as_mut_ptr();
    let f = frame.as_ptr();
    let fend = f.wrapping_add(len);
    let mut o = start;
    // SAFETY: reads `frame[0..len]` (`f` advances by 8 to `fend`, `len <= frame.len()`), and
    // writes at most one `u16` per feature read to `out[0..len]` (`o` advances by 2 bytes per
    // spike, at most `len` spikes, `len <= out.len()`). No stack.
    unsafe {
        asm!(
            "2:",
            "ldrb {q}, [{f}]",
            "eor {x}, {x}, {x}, lsl #13",
            "eor {x}, {x}, {x}, lsr #17",
            "eor {x}, {x}, {x}, lsl #5",
            "cmp.w {x}, {q}, lsl #24",
            "bhs 4f",
            "strh {i}, [{o}], #2",
            "4:",
            "ldrb {q}, [{f}, #1]",
            "eor {x}, {x}, {x}, lsl #13",
            "eor {x}, {x}, {x}, lsr #17",
            "eor {x}, {x}, {x}, lsl #5",
            "cmp.w {x}, {q}, lsl #24",
            "bhs 4f",
            "add {q}, {i}, #1",
            "strh {q}, [{o}], #2",
            "4:",
            "ldrb {q}, [{f}, #2]",
            "eor {x}, {x}, {x}, lsl #13",
            "eor {x}, {x}, {x}, lsr #17",
            "eor {x}, {x}, {x}, lsl #5",
            "cmp.w {x}, {q}, lsl #24",
            "bhs 4f",
            "add {q}, {i}, #2",
            "strh {q}, [{o}], #2",
            "4:",
            "ldrb {q}, [{f}, #3]",
            "eor {x}, {x}, {x}, lsl #13",
            "eor {x}, {x}, {x}, lsr #17",
            "eor {x}, {x}, {x}, lsl #5",
            "cmp.w {x}, {q}, lsl #24",
            "bhs 4f",
            "add {q}, {i}, #3",
            "strh {q}, [{o}], #2",
            "4:",
            "ldrb {q}, [{f}, #4]",
            "eor {x}, {x}, {x}, lsl #13",
            "eor {x}, {x}, {x}, lsr #17",
            "eor {x}, {x}, {x}, lsl #5",
            "cmp.w {x}, {q}, lsl #24",
            "bhs 4f",
            "add {q}, {i}, #4",
            "strh {q}, [{o}], #2",
            "4:",
            "ldrb {q}, [{f}, #5]",
            "eor {x}, {x}, {x}, lsl #13",
            "eor {x}, {x}, {x}, lsr #17",
            "eor {x}, {x}, {x}, lsl #5",
            "cmp.w {x}, {q}, lsl #24",
            "bhs 4f",
            "add {q}, {i}, #5",
            "strh {q}, [{o}], #2",
            "4:",
            "ldrb {q}, [{f}, #6]",
            "eor {x}, {x}, {x}, lsl #13",
            "eor {x}, {x}, {x}, lsr #17",
            "eor {x}, {x}, {x}, lsl #5",
            "cmp.w {x}, {q}, lsl #24",
            "bhs 4f",
            "add {q}, {i}, #6",
            "strh {q}, [{o}], #2",
            "4:",
            "ldrb {q}, [{f}, #7]",
            "eor {x}, {x}, {x}, lsl #13",
            "eor {x}, {x}, {x}, lsr #17",
            "eor {x}, {x}, {x}, lsl #5",
            "cmp.w {x}, {q}, lsl #24",
            "bhs 4f",
            "add {q}, {i}, #7",
            "strh {q}, [{o}], #2",
            "4:",
            "add {f}, {f}, #8",
            "add {i}, {i}, #8",
            "cmp {f}, {fend}",
            "bne 2b",
            x = inout(reg) *x,
            f = inout(reg) f => _,
            fend = in(reg) fend,
            o = inout(reg) o,
            i = inout(reg) 0u32 => _,
            q = out(reg) _,
            options(nostack),
        );
    }
    // `o` advanced by one `u16` per spike from `start`.
    (o as usize - start as usize) / 2
}
