//! Saturating fixed-point primitives of the engine (see `FORMAT.md`, "Arithmetic").

/// Membrane decay `v * beta` with `beta = leak / 2^16` (Q0.16), rounded half up:
/// `(v * leak + 2^15) >> 16` (arithmetic shift). `|result| <= |v|`, so it never overflows.
#[inline]
pub fn decay(v: i32, leak: u16) -> i32 {
    let p = i64::from(v) * i64::from(leak) + (1 << 15);
    // |p >> 16| <= |v| + 1 only when leak rounds up; clamp keeps the bound documented.
    (p >> 16).clamp(i64::from(i32::MIN), i64::from(i32::MAX)) as i32
}

/// Saturating `a + b` on the membrane: clamps to `[i32::MIN, i32::MAX]` instead of wrapping.
#[inline]
pub fn sat_add(a: i32, b: i32) -> i32 {
    a.saturating_add(b)
}

/// Saturating `a - b` on the membrane.
#[inline]
pub fn sat_sub(a: i32, b: i32) -> i32 {
    a.saturating_sub(b)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn decay_rounds_half_up() {
        assert_eq!(decay(100, 1 << 15), 50);
        assert_eq!(decay(3, 1 << 15), 2); // 1.5 -> 2
        assert_eq!(decay(-3, 1 << 15), -1); // -1.5 -> -1
        assert_eq!(decay(i32::MAX, u16::MAX), 2_147_450_879);
        assert_eq!(decay(i32::MIN, u16::MAX), -2_147_450_880);
        assert_eq!(decay(7, 0), 0);
    }

    #[test]
    fn adds_saturate() {
        assert_eq!(sat_add(i32::MAX, 1), i32::MAX);
        assert_eq!(sat_sub(i32::MIN, 1), i32::MIN);
    }
}
