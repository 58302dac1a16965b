//! The portable dense block sums (`engine.rs`, `add_rows`) reading whole aligned words on the
//! cores whose word loads must be aligned: the Cortex-M0/M0+ (ARMv6-M faults on an unaligned
//! `ldr`) and RV32 (LLVM never emits a misaligned `lw`), where the byte-wise read of a row
//! segment was four `ldrb`/`lbu` and six shifts and ORs per word.
//!
//! A dense weight array is row-major with `n` columns and has no alignment in the model file
//! (`FORMAT.md`), so it is viewed once per call as `head ++ words ++ tail`
//! (`bytemuck::pod_align_to`: `head` the `h` bytes before the first aligned word, no `unsafe`).
//! When `n % 4 == 0` and `off % 4 == 0`, every row segment `values[j * n + off ..][..B]` starts
//! at the same byte `r = -h mod 4` of a word, in word `t = j * n / 4 + off / 4 - (h + r) / 4`
//! of `words`. With `r == 0` its `B / 4` weight words are `words[t..t + B / 4]`; otherwise word
//! `q` is the funnel shift `(words[t + q] >> 8r) | (words[t + q + 1] << (32 - 8r))` of
//! `B / 4 + 1` aligned words (little endian), the shift fixed for the whole call (one loop per
//! shift, so the loop holds it as a constant). A row whose words do not all lie in `words` (at
//! the array's two ends) and any other `n` or `off` take the byte path ([`add_rows_bytes`]),
//! which is the reference: both add the same bytes into the same lanes, so the sums are the
//! same integers. Only the blocks of 8 come here (`ALIGNED_LOADS_ONLY`); the fused step's
//! blocks of 4 and every other core keep `engine.rs`'s byte loop, the same as `add_rows_bytes`
//! (every loop here is copied into each variant of the fused step; with blocks of 4 too the
//! micro:bit's flash grew by ~70 kB more, measured with seven loops). On ARMv6-M the loop over
//! the rows is `armv6m.rs`'s assembly; this Rust loop is its reference, RV32's loop, and what
//! the host's tests hold to the byte path.
//!
//! Each weight word `x` then goes into the lanes as before: `x ^ 0x80808080` maps every `i8`
//! weight to `w + 128` in `0..=255`, even bytes `x & 0x00FF00FF` into `acc[2q]`, odd bytes
//! `(x >> 8) & 0x00FF00FF` into `acc[2q + 1]`; at most `256 * 255 < 2^16` per lane.

use crate::engine::{Index, BIAS_BYTES, LANES};

/// Whether this target reads row segments as aligned words ([`add_rows_words`]): the cores without
/// unaligned word loads: RISC-V and ARMv6-M (`cfg(armv6m)`, set by `build.rs`); ARMv7-M and
/// v8-M Mainline load unaligned words in one `ldr`, so the byte path is already one load per
/// word there.
pub(crate) const ALIGNED_LOADS_ONLY: bool = cfg!(any(
    target_arch = "riscv32",
    target_arch = "riscv64",
    armv6m
));

/// One weight word (four columns, little endian) into the packed sums `even` (its bytes 0 and
/// 2) and `odd` (bytes 1 and 3), each biased by 128.
#[inline(always)]
fn add_word(x: u32, even: &mut u32, odd: &mut u32) {
    let x = x ^ BIAS_BYTES;
    *even = even.wrapping_add(x & LANES);
    *odd = odd.wrapping_add((x >> 8) & LANES);
}

/// Adds columns `off..off + B` of every row in `rows` into the `W = B / 2` packed sums `acc`
/// (lane layout as in `engine::lane_values`) by aligned words wherever the layout allows
/// (module docs), the rest by [`add_rows_bytes`]; the same sums on every target. A row whose
/// segment does not lie in `values` adds nothing.
#[inline(always)]
pub(crate) fn add_rows_words<const B: usize, const W: usize, T: Index>(
    values: &[u8],
    n: usize,
    off: usize,
    spikes: &[T],
    acc: &mut [u32; W],
) {
    let rows = spikes.iter().map(|&j| j.index());
    if n % 4 != 0 || off % 4 != 0 {
        return add_rows_bytes::<B, W>(values, n, off, rows, acc);
    }
    let (head, words, _) = bytemuck::pod_align_to::<u8, u32>(values);
    let h = head.len();
    // The segment's first byte within its word, and how many words `h + r` bytes make.
    let r = h.wrapping_neg() & 3;
    // Row 0's segment starts in word `off / 4 - (h + r) / 4` of `words`; row `j`'s `j * n / 4`
    // words later. Before the first word (`off == 0` on a misaligned array) row 0 lies in the
    // head: then the view starts at word 0 and row `j` reads from word `j * n / 4 - 1`.
    let at = match (off / 4).checked_sub((h + r) / 4) {
        Some(first) => Segments {
            values,
            words: words.get(first..).unwrap_or(&[]),
            back: 0,
            n,
            off,
        },
        // `off == 0`, `h + r == 4`: row 0 in the head, row `j >= 1` from word `j * n / 4 - 1`.
        None if off + 4 == h + r => Segments {
            values,
            words,
            back: 1,
            n,
            off,
        },
        // Not from `pod_align_to`'s largest middle: the bytes.
        None => return add_rows_bytes::<B, W>(values, n, off, rows, acc),
    };
    match r {
        0 => at.add::<B, W, 0, T>(spikes, acc),
        1 => at.add::<B, W, 8, T>(spikes, acc),
        2 => at.add::<B, W, 16, T>(spikes, acc),
        _ => at.add::<B, W, 24, T>(spikes, acc),
    }
}

/// The row segments of one call: the aligned words from row 0's segment on.
struct Segments<'a> {
    /// The weights, row-major, `n` columns.
    values: &'a [u8],
    /// Their aligned words from the one row 0's segment starts in (`pod_align_to`), or from
    /// the one after it (`back == 1`).
    words: &'a [u32],
    /// Row `j`'s segment starts in word `j * n / 4 - back`.
    back: usize,
    /// Columns per row.
    n: usize,
    /// The block's first column.
    off: usize,
}

impl Segments<'_> {
    /// Adds every row's segment, its words funnel-shifted by `S` bits (`S = 8r`, `0` when the
    /// segments are aligned), row `j`'s from word `j * n / 4 - back`.
    #[inline(always)]
    fn add<const B: usize, const W: usize, const S: u32, T: Index>(
        &self,
        spikes: &[T],
        acc: &mut [u32; W],
    ) {
        // ARMv6-M: the same loop in assembly (`armv6m.rs`), leaving the rows outside `words`
        // to the byte path here.
        #[cfg(all(armv6m, not(feature = "arm-dsp")))]
        if let Ok(acc) = <&mut [u32; 4]>::try_from(&mut acc[..]) {
            if B == 8 {
                let mut rest = spikes;
                loop {
                    let k =
                        crate::armv6m::add_rows8::<T, S>(self.words, self.n, self.back, rest, acc);
                    let Some((&j, tail)) = rest.get(k..).and_then(<[T]>::split_first) else {
                        return;
                    };
                    add_row_bytes::<8, 4>(self.values, j.index(), self.n, self.off, acc);
                    rest = tail;
                }
            }
        }
        let rows = spikes.iter().map(|&j| j.index());
        let per_row = self.n / 4;
        // Aligned words a segment spans.
        let span = if S == 0 { B / 4 } else { B / 4 + 1 };
        // The last word index a segment may start at.
        let Some(last) = self.words.len().checked_sub(span) else {
            return add_rows_bytes::<B, W>(self.values, self.n, self.off, rows, acc);
        };
        for j in rows {
            let t = j.wrapping_mul(per_row).wrapping_sub(self.back);
            // One compare: `t <= len - span` puts `t..t + span` inside `words`.
            match (t <= last).then(|| self.words.get(t..t + span)).flatten() {
                Some(w) => {
                    for q in 0..B / 4 {
                        let x = if S == 0 {
                            w[q]
                        } else {
                            (w[q] >> S) | (w[q + 1] << ((32 - S) % 32))
                        };
                        let (even, odd) = acc.split_at_mut(2 * q + 1);
                        add_word(x, &mut even[2 * q], &mut odd[0]);
                    }
                }
                // The array's first or last rows, in its unaligned head or tail.
                None => add_row_bytes::<B, W>(self.values, j, self.n, self.off, acc),
            }
        }
    }
}

/// [`add_rows_words`] byte by byte: each four weights assembled into a little-endian word (one
/// unaligned load where the core has them). The reference of the word path.
#[inline(always)]
pub(crate) fn add_rows_bytes<const B: usize, const W: usize>(
    values: &[u8],
    n: usize,
    off: usize,
    rows: impl Iterator<Item = usize>,
    acc: &mut [u32; W],
) {
    for j in rows {
        add_row_bytes::<B, W>(values, j, n, off, acc);
    }
}

/// Columns `off..off + B` of row `j` byte by byte into `acc`; nothing when they do not lie in
/// `values`.
#[inline(always)]
fn add_row_bytes<const B: usize, const W: usize>(
    values: &[u8],
    j: usize,
    n: usize,
    off: usize,
    acc: &mut [u32; W],
) {
    let start = j.wrapping_mul(n).wrapping_add(off);
    let Some(Ok(w)) = values
        .get(start..start.wrapping_add(B))
        .map(<&[u8; B]>::try_from)
    else {
        return;
    };
    for q in 0..B / 4 {
        let x = u32::from_le_bytes([w[4 * q], w[4 * q + 1], w[4 * q + 2], w[4 * q + 3]]);
        let (even, odd) = acc.split_at_mut(2 * q + 1);
        add_word(x, &mut even[2 * q], &mut odd[0]);
    }
}

#[cfg(test)]
mod tests {
    //! The word path against the byte path and against the plain column sums, for every
    //! misalignment of the array, several `n` and `off`, and rows at both ends of the array.
    extern crate std;
    use super::*;
    use crate::encode::Rng;
    use std::{vec, vec::Vec};

    impl Index for usize {
        fn index(self) -> usize {
            self
        }
    }

    /// `sum over rows j of (values[j * n + off + c] as i8 + 128)` for column `c` of the block,
    /// rows whose segment lies in `values` only: the definition of a lane.
    fn plain<const B: usize>(values: &[u8], n: usize, off: usize, rows: &[usize]) -> [u32; B] {
        let mut sums = [0u32; B];
        for &j in rows {
            let start = j.checked_mul(n).and_then(|s| s.checked_add(off));
            let Some(seg) = start.and_then(|s| values.get(s..s.checked_add(B)?)) else {
                continue;
            };
            for (s, &b) in sums.iter_mut().zip(seg) {
                *s += (i32::from(b as i8) + 128) as u32;
            }
        }
        sums
    }

    /// The lanes of `acc` in column order (`acc[2q]` = columns `4q`, `4q + 2`; `acc[2q + 1]` =
    /// `4q + 1`, `4q + 3`).
    fn columns<const B: usize, const W: usize>(acc: &[u32; W]) -> [u32; B] {
        let mut c = [0u32; B];
        for q in 0..B / 4 {
            let (e, d) = (acc[2 * q], acc[2 * q + 1]);
            c[4 * q] = e & 0xFFFF;
            c[4 * q + 1] = d & 0xFFFF;
            c[4 * q + 2] = e >> 16;
            c[4 * q + 3] = d >> 16;
        }
        c
    }

    /// Checks one block of `B` columns of every listed row set over every misalignment of a
    /// random `rows_total x n` array, with the same sums from words, bytes and the plain loop.
    fn check<const B: usize, const W: usize>(n: usize, rows_total: usize, rng: &mut Rng) {
        let len = rows_total * n;
        // Backing words, so that `misalign` bytes in, the array starts `misalign` past an
        // aligned address.
        let mut backing = vec![0u32; len / 4 + 2];
        let bytes: &mut [u8] = bytemuck::cast_slice_mut(&mut backing);
        for b in bytes.iter_mut() {
            *b = rng.next_u32() as u8;
        }
        let last = rows_total - 1;
        let mut row_sets: Vec<Vec<usize>> = Vec::new();
        row_sets.push((0..rows_total).collect());
        row_sets.push(vec![0]);
        row_sets.push(vec![last]);
        row_sets.push(vec![last, 0, last, 0]);
        // Rows past the end add nothing on either path.
        row_sets.push(vec![0, rows_total, last, rows_total + 5]);
        // At most 256 rows, repeats allowed (a lane holds 256 * 255).
        row_sets.push(
            (0..256)
                .map(|_| rng.next_u32() as usize % rows_total)
                .collect(),
        );
        for misalign in 0..4 {
            let values = &bytes[misalign..misalign + len];
            let (head, _, _) = bytemuck::pod_align_to::<u8, u32>(values);
            assert_eq!(
                head.len(),
                (4 - misalign) % 4,
                "alignment of the test array"
            );
            for off in 0..=n - B {
                for rows in &row_sets {
                    let want = plain::<B>(values, n, off, rows);
                    let mut words = [0u32; W];
                    add_rows_words::<B, W, usize>(values, n, off, rows, &mut words);
                    let mut bytes = [0u32; W];
                    add_rows_bytes::<B, W>(values, n, off, rows.iter().copied(), &mut bytes);
                    let what = (misalign, n, off, rows.len());
                    assert_eq!(columns::<B, W>(&words), want, "words {what:?}");
                    assert_eq!(columns::<B, W>(&bytes), want, "bytes {what:?}");
                    assert_eq!(words, bytes, "{what:?}");
                }
            }
        }
    }

    #[test]
    fn words_equal_bytes_for_every_misalignment_n_and_off() {
        let mut rng = Rng::new(0x5eed, 3);
        // n % 4 == 0 takes the words; the others (and odd `off`) the bytes, checked too.
        for n in [4, 8, 12, 16, 20, 36, 64, 128, 10, 9, 13] {
            for rows_total in [1, 2, 3, 7, 40] {
                if n >= 8 {
                    check::<8, 4>(n, rows_total, &mut rng);
                }
                check::<4, 2>(n, rows_total, &mut rng);
            }
        }
    }

    #[test]
    fn a_block_past_the_last_column_adds_nothing() {
        // `off + B > n` on the last row: the segment runs past the array.
        let values = [0x7Fu8; 16];
        let mut acc = [0u32; 4];
        add_rows_words::<8, 4, usize>(&values, 16, 12, &[1], &mut acc);
        assert_eq!(acc, [0; 4]);
    }
}
