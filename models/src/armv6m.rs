//! **Target-specific: ARMv6-M** (Cortex-M0/M0+, `thumbv6m-none-eabi`, e.g. the micro:bit and
//! the RP2040). Compiled only under `cfg(armv6m)` (set by `build.rs` for `thumbv6m` targets)
//! without `arm-dsp`. The inner loop of `words.rs`'s aligned-word block sums for a
//! block of 8 columns, in inline assembly: LLVM keeps the four packed sums, the two masks and
//! the loop's bounds of that loop in 8 low registers only by spilling (49 instructions per row
//! of the zoo digits model, 16 of them stack traffic and literal-pool reloads); here the sums
//! live in the high registers (`add rH, rL` is a plain Thumb-1 instruction), the row bound and
//! the words' base too (moved in from a local array at entry, the sums moved back at exit:
//! Rust passes no operands in high registers on Thumb-1), and the loop's end and the bias mask
//! are pushed once and read from the stack: 33 instructions per row on shifted words, 24 on
//! aligned ones, plus ~60 per call.
//!
//! `words.rs`'s portable loop (`Segments::add`) is the reference: the same aligned words, the
//! same funnel shift `(w[t + q] >> S) | (w[t + q + 1] << (32 - S))`, the same XOR and masks,
//! the same lanes, so the sums are the same integers (`cargo xtask hil --board microbit`
//! compares the board's spike counts with the host's, which runs the byte path).
//!
//! Memory safety: every load is `base + t + 4k` with `t = j * n - 4 * back` (bytes, `u32`
//! wrapping) checked `t <= lim = 4 * (words.len() - span)` before any load of that row, and
//! `k < span`, so every loaded word lies in `words` (`t + 4 * span <= 4 * words.len()`); `t`
//! is a multiple of 4 (`n % 4 == 0`), so every `ldr` is aligned. The spike loads read
//! `spikes[i]` for `i < spikes.len()` only (the loop runs while `p != end`, entered with at
//! least one spike; the spike list's element is 2 or 4 bytes, aligned as its type, so `p`
//! meets `end` exactly). The assembly pushes three words and pops them before it ends on every
//! path; its only other writes are the four sums into the caller's local `state` array.
#![allow(unsafe_code)]

use core::arch::asm;

use crate::engine::Index;

/// One row's 8 columns from the row's address `{a}` (`r3`), the words shifted by `$s` bits
/// (`$s` and `32 - $s` as literals; `"0"` for aligned words), into `r10`, `r11`, `r12`, `lr`.
macro_rules! row_body {
    (aligned) => {
        concat!(
            "ldr r4, [r3, #4]\n",
            "ldr r3, [r3]\n",
            "ldr r5, [sp, #8]\n",
            "eors r3, r5\n",
            "eors r4, r5\n",
            "lsrs r5, r3, #8\n",
            "ands r3, r2\n",
            "ands r5, r2\n",
            "add r10, r3\n",
            "add r11, r5\n",
            "lsrs r5, r4, #8\n",
            "ands r4, r2\n",
            "ands r5, r2\n",
            "add r12, r4\n",
            "add lr, r5\n",
        )
    };
    ($s:literal, $r:literal) => {
        concat!(
            // Word 0: (w0 >> s) | (w1 << (32 - s)).
            "ldr r4, [r3]\n",
            "ldr r5, [r3, #4]\n",
            "lsrs r4, r4, #",
            $s,
            "\n",
            "lsls r5, r5, #",
            $r,
            "\n",
            "orrs r4, r5\n",
            "ldr r5, [sp, #8]\n",
            "eors r4, r5\n",
            "lsrs r5, r4, #8\n",
            "ands r4, r2\n",
            "ands r5, r2\n",
            "add r10, r4\n",
            "add r11, r5\n",
            // Word 1: (w1 >> s) | (w2 << (32 - s)).
            "ldr r4, [r3, #4]\n",
            "ldr r5, [r3, #8]\n",
            "lsrs r4, r4, #",
            $s,
            "\n",
            "lsls r5, r5, #",
            $r,
            "\n",
            "orrs r4, r5\n",
            "ldr r5, [sp, #8]\n",
            "eors r4, r5\n",
            "lsrs r5, r4, #8\n",
            "ands r4, r2\n",
            "ands r5, r2\n",
            "add r12, r4\n",
            "add lr, r5\n",
        )
    };
}

/// The whole loop: the state (`r3`: base, lim, the four sums) into `r8`..`lr`, then per spike
/// load its row `j` (`$load`, advancing `r0` by `$size`), `t = j * n (- 4)` into `r3`, leave
/// at `9:` (before advancing) when `t > lim` (`r9`), else add the row's words at `base + t`
/// (`r8`) by `$body`, until `r0` reaches the pushed end; then the sums back into the state.
macro_rules! rows_loop {
    ($load:literal, $size:literal, $back:literal, $body:expr) => {
        concat!(
            "push {{r3, r4, r5}}\n",
            "ldr r4, [r3, #0]\n",
            "mov r8, r4\n",
            "ldr r4, [r3, #4]\n",
            "mov r9, r4\n",
            "ldr r4, [r3, #8]\n",
            "mov r10, r4\n",
            "ldr r4, [r3, #12]\n",
            "mov r11, r4\n",
            "ldr r4, [r3, #16]\n",
            "mov r12, r4\n",
            "ldr r4, [r3, #20]\n",
            "mov lr, r4\n",
            "2:\n",
            $load,
            "\n",
            "muls r3, r1, r3\n",
            $back,
            "\n",
            "cmp r3, r9\n",
            "bhi 9f\n",
            "adds r0, #",
            $size,
            "\n",
            "add r3, r8\n",
            $body,
            "ldr r3, [sp, #4]\n",
            "cmp r0, r3\n",
            "bne 2b\n",
            "9:\n",
            "pop {{r3, r4, r5}}\n",
            "mov r4, r10\n",
            "str r4, [r3, #8]\n",
            "mov r4, r11\n",
            "str r4, [r3, #12]\n",
            "mov r4, r12\n",
            "str r4, [r3, #16]\n",
            "mov r4, lr\n",
            "str r4, [r3, #20]\n",
        )
    };
}

/// Runs one instance of the loop over the spikes from `p` to `end`; returns where it stopped.
macro_rules! run {
    ($p:expr, $end:expr, $n:expr, $bias:expr, $lanes:expr, $state:expr, $text:expr) => {{
        let p: *const u8 = $p;
        let stop: *const u8;
        let state: *mut [u32; 6] = $state;
        // SAFETY: see the module docs: every row's words are loaded only after `t <= lim`,
        // which puts them inside `words`; the spike loads stay below `end` (entered with at
        // least one spike, `p` advancing by one element per turn up to `end`). Three words are
        // pushed and popped on every path; the only other writes are the four sums into
        // `state[2..6]`, a live local array.
        unsafe {
            asm!(
                $text,
                inout("r0") p => stop,
                in("r1") $n,
                in("r2") $lanes,
                inout("r3") state => _,
                inout("r4") $end => _,
                inout("r5") $bias => _,
                out("r8") _,
                out("r9") _,
                out("r10") _,
                out("r11") _,
                out("r12") _,
                out("lr") _,
            );
        }
        stop
    }};
}

/// Adds the 8 columns of each row of `spikes` from `words` into `acc` (lanes as in `words.rs`):
/// row `j`'s segment is `words[t..t + span]` with `t = j * n / 4 - back` (`span` = 2 for `S == 0`,
/// else 3, funnel-shifted by `S` bits), `n % 4 == 0`, `back` 0 or 1. Stops before the first row
/// whose words do not all lie in `words` and returns how many spikes it consumed (all of them
/// when every row lies inside).
#[inline(never)]
pub(crate) fn add_rows8<T: Index, const S: u32>(
    words: &[u32],
    n: usize,
    back: usize,
    spikes: &[T],
    acc: &mut [u32; 4],
) -> usize {
    let span = if S == 0 { 2 } else { 3 };
    let Some(last) = words.len().checked_sub(span) else {
        return 0;
    };
    // The loop handles 2- and 4-byte spike indices (`ldrh` / `ldr`, `p` stepping by one
    // element up to `end`), `back` 1 only on shifted words (the aligned loop has no `subs`).
    let size = core::mem::size_of::<T>();
    if spikes.is_empty() || n % 4 != 0 || back > 1 || (S == 0 && back != 0) {
        return 0;
    }
    if size != 2 && size != 4 {
        return 0;
    }
    let lim = (4 * last) as u32;
    // base, lim, the four sums: read into the high registers by the assembly, the sums
    // written back.
    let mut state = [words.as_ptr() as u32, lim, acc[0], acc[1], acc[2], acc[3]];
    let st: *mut [u32; 6] = &mut state;
    let start = spikes.as_ptr().cast::<u8>();
    let end = start.wrapping_add(core::mem::size_of_val(spikes));
    let (n, bias, lanes) = (n as u32, 0x8080_8080u32, 0x00FF_00FFu32);
    let stop = match (size, S, back) {
        (2, 0, _) => run!(
            start,
            end,
            n,
            bias,
            lanes,
            st,
            rows_loop!("ldrh r3, [r0]", "2", "", row_body!(aligned))
        ),
        (2, 8, 0) => run!(
            start,
            end,
            n,
            bias,
            lanes,
            st,
            rows_loop!("ldrh r3, [r0]", "2", "", row_body!("8", "24"))
        ),
        (2, 8, _) => run!(
            start,
            end,
            n,
            bias,
            lanes,
            st,
            rows_loop!("ldrh r3, [r0]", "2", "subs r3, #4", row_body!("8", "24"))
        ),
        (2, 16, 0) => run!(
            start,
            end,
            n,
            bias,
            lanes,
            st,
            rows_loop!("ldrh r3, [r0]", "2", "", row_body!("16", "16"))
        ),
        (2, 16, _) => run!(
            start,
            end,
            n,
            bias,
            lanes,
            st,
            rows_loop!("ldrh r3, [r0]", "2", "subs r3, #4", row_body!("16", "16"))
        ),
        (2, _, 0) => run!(
            start,
            end,
            n,
            bias,
            lanes,
            st,
            rows_loop!("ldrh r3, [r0]", "2", "", row_body!("24", "8"))
        ),
        (2, _, _) => run!(
            start,
            end,
            n,
            bias,
            lanes,
            st,
            rows_loop!("ldrh r3, [r0]", "2", "subs r3, #4", row_body!("24", "8"))
        ),
        (_, 0, _) => run!(
            start,
            end,
            n,
            bias,
            lanes,
            st,
            rows_loop!("ldr r3, [r0]", "4", "", row_body!(aligned))
        ),
        (_, 8, 0) => run!(
            start,
            end,
            n,
            bias,
            lanes,
            st,
            rows_loop!("ldr r3, [r0]", "4", "", row_body!("8", "24"))
        ),
        (_, 8, _) => run!(
            start,
            end,
            n,
            bias,
            lanes,
            st,
            rows_loop!("ldr r3, [r0]", "4", "subs r3, #4", row_body!("8", "24"))
        ),
        (_, 16, 0) => run!(
            start,
            end,
            n,
            bias,
            lanes,
            st,
            rows_loop!("ldr r3, [r0]", "4", "", row_body!("16", "16"))
        ),
        (_, 16, _) => run!(
            start,
            end,
            n,
            bias,
            lanes,
            st,
            rows_loop!("ldr r3, [r0]", "4", "subs r3, #4", row_body!("16", "16"))
        ),
        (_, _, 0) => run!(
            start,
            end,
            n,
            bias,
            lanes,
            st,
            rows_loop!("ldr r3, [r0]", "4", "", row_body!("24", "8"))
        ),
        (_, _, _) => run!(
            start,
            end,
            n,
            bias,
            lanes,
            st,
            rows_loop!("ldr r3, [r0]", "4", "subs r3, #4", row_body!("24", "8"))
        ),
    };
    acc.copy_from_slice(&state[2..]);
    (stop as usize).wrapping_sub(start as usize) / size
}
