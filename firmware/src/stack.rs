//! Stack painting (how deep the stack has been, reported in `Info`) and the stack guard (an
//! overflow faults instead of overwriting statics).
//!
//! cortex-m-rt puts the stack at the top of RAM, growing down towards the statics, which end at
//! `__sheap`. At boot, [`init`] makes the lowest [`GUARD`] bytes above the statics a no-access
//! MPU region and fills the rest of the free RAM below the current stack pointer with
//! [`PAINT`]; [`usage`] finds the lowest word no longer painted. A push or store into the guard
//! is a MemManage fault; its stacking faults too, so the core escalates to HardFault, whose
//! handler ([`fault`], entered through an assembly trampoline that first moves the stack pointer
//! back to the top of RAM) logs the fault and stops the board. Statics are never touched as
//! long as no single stack frame is larger than the guard.
//!
//! The guard and the fault handler need an ARMv7-M MPU and CFSR (feature `mpu-guard`: the
//! Cortex-M3/M4/M7 boards); the other Arm boards (M0/M0+, M33) and the emulated RV32 board
//! (`virt-rv32`, whose riscv-rt link script has the same `__sheap` and `_stack_start`) get the
//! painting only, from the end of the statics up. The ESP32-C3 (its own runtime) has neither:
//! [`usage`] reports `(0, 0)` there.
#[cfg(any(target_arch = "arm", feature = "board-virt-rv32"))]
pub use painted::*;

#[cfg(not(any(target_arch = "arm", feature = "board-virt-rv32")))]
/// No stack painting on this core.
pub fn init() {}

#[cfg(not(any(target_arch = "arm", feature = "board-virt-rv32")))]
/// `(0, 0)`: no stack painting on this core.
pub fn usage() -> (u32, u32) {
    (0, 0)
}

#[cfg(any(target_arch = "arm", feature = "board-virt-rv32"))]
mod painted {
    use core::sync::atomic::{AtomicU32, Ordering};
    #[cfg(feature = "mpu-guard")]
    use cortex_m::peripheral::MPU;

    /// Paint pattern.
    const PAINT: u32 = 0x5AC3_5AC3;
    /// Guard size, bytes (a power of two; the largest single stack frame it stops).
    #[cfg(feature = "mpu-guard")]
    pub const GUARD: u32 = 1024;

    static BOTTOM: AtomicU32 = AtomicU32::new(0);
    /// The last word of the statics (just below the guard) as it was at boot.
    #[cfg(feature = "mpu-guard")]
    static BELOW: AtomicU32 = AtomicU32::new(0);
    static TOP: AtomicU32 = AtomicU32::new(0);

    fn bounds() -> (u32, u32) {
        extern "C" {
            static __sheap: u8;
            static _stack_start: u8;
        }
        // Taking the address of a linker symbol reads nothing.
        (
            core::ptr::addr_of!(__sheap) as u32,
            core::ptr::addr_of!(_stack_start) as u32,
        )
    }

    /// Arms the guard (when the core has an MPU) and paints the free stack; call first in `main`.
    #[cfg(feature = "mpu-guard")]
    pub fn init(mpu: &mut MPU) {
        let (heap, _) = bounds();
        let guard = heap.div_ceil(GUARD) * GUARD;
        let regions = (mpu._type.read() >> 8) & 0xFF;
        if regions > 0 {
            guard_region(mpu, guard);
            cortex_m::asm::dsb();
            cortex_m::asm::isb();
        }
        // SAFETY: `guard - 4` is RAM: the last word at or below the end of the statics.
        BELOW.store(
            unsafe { core::ptr::read_volatile((guard - 4) as *const u32) },
            Ordering::Relaxed,
        );
        paint(guard + GUARD);
    }

    /// ARMv7-M (M3/M4/M7): region 0 = `[guard, guard + GUARD)`, no access, never execute.
    #[cfg(all(feature = "mpu-guard", not(armv8m)))]
    fn guard_region(mpu: &mut MPU, guard: u32) {
        // SAFETY: region 0 becomes a no-access, never-execute region over the guard; every
        // other address keeps the default memory map (PRIVDEFENA), so nothing else changes.
        unsafe {
            mpu.rnr.write(0);
            mpu.rbar.write(guard);
            // XN, AP = 0b000 (no access), SIZE = log2(GUARD) - 1, ENABLE.
            let size = GUARD.trailing_zeros() - 1;
            mpu.rasr.write((1 << 28) | (size << 1) | 1);
            // ENABLE | PRIVDEFENA.
            mpu.ctrl.write(0b101);
        }
    }

    /// ARMv8-M (M33): region 0 = `[guard, guard + GUARD)`, read-only and never execute. The
    /// ARMv8-M MPU has no "no access" permission; a stack overflow writes (pushes, stores), and
    /// a write to a read-only region is the same MemManage fault.
    #[cfg(all(feature = "mpu-guard", armv8m))]
    fn guard_region(mpu: &mut MPU, guard: u32) {
        // SAFETY: as on ARMv7-M: one region over the guard, the default map everywhere else.
        unsafe {
            mpu.rnr.write(0);
            // MAIR0 attribute 0: normal memory, non-cacheable (the guard is plain SRAM).
            mpu.mair[0].write(0x44);
            // BASE | SH = 0 | AP = 0b10 (read-only, privileged) | XN.
            mpu.rbar.write(guard | (0b10 << 1) | 1);
            // LIMIT (last 32-byte block) | AttrIndx 0 | EN.
            mpu.rlar.write(((guard + GUARD - 32) & !0x1F) | 1);
            // ENABLE | PRIVDEFENA.
            mpu.ctrl.write(0b101);
        }
    }

    /// Paints the free stack from the end of the statics up; call first in `main`.
    #[cfg(not(feature = "mpu-guard"))]
    pub fn init() {
        let (heap, _) = bounds();
        paint(heap.div_ceil(4) * 4);
    }

    /// The current stack pointer.
    #[cfg(target_arch = "arm")]
    fn stack_pointer() -> u32 {
        cortex_m::register::msp::read()
    }

    /// The current stack pointer.
    #[cfg(target_arch = "riscv32")]
    fn stack_pointer() -> u32 {
        let sp: u32;
        // SAFETY: copies the stack pointer register; touches no memory.
        unsafe {
            core::arch::asm!("mv {}, sp", out(reg) sp, options(nomem, nostack, preserves_flags))
        };
        sp
    }

    /// Fills `[bottom, sp - 256)` with [`PAINT`] and records the stack's bounds.
    fn paint(bottom: u32) {
        let (_, top) = bounds();
        let sp = stack_pointer();
        // Leave what the caller already uses alone (and some margin for this function).
        let end = sp.saturating_sub(256) & !3;
        let mut a = bottom;
        while a < end {
            // SAFETY: [bottom, end) is free RAM between the statics (and guard) and the live stack.
            unsafe { core::ptr::write_volatile(a as *mut u32, PAINT) };
            a += 4;
        }
        BOTTOM.store(bottom, Ordering::Relaxed);
        TOP.store(top, Ordering::Relaxed);
    }

    /// `(deepest stack use since boot, stack size)` in bytes.
    pub fn usage() -> (u32, u32) {
        let (bottom, top) = (BOTTOM.load(Ordering::Relaxed), TOP.load(Ordering::Relaxed));
        let mut a = bottom;
        // SAFETY: [bottom, top) is RAM (the painted stack area and the live stack).
        while a < top && unsafe { core::ptr::read_volatile(a as *const u32) } == PAINT {
            a += 4;
        }
        (top.saturating_sub(a), top.saturating_sub(bottom))
    }

    /// What the trampoline calls: the stack overflowed into the guard (or another fault hit).
    #[cfg(feature = "mpu-guard")]
    #[no_mangle]
    extern "C" fn snn_fault(cfsr: u32, mmfar: u32) -> ! {
        let guard_lo = BOTTOM.load(Ordering::Relaxed).saturating_sub(GUARD);
        let in_guard = (guard_lo..guard_lo + GUARD).contains(&mmfar) && cfsr & (1 << 7) != 0;
        // SAFETY: as in `init`: the last word below the guard is RAM.
        let below = unsafe { core::ptr::read_volatile((guard_lo - 4) as *const u32) };
        let intact = below == BELOW.load(Ordering::Relaxed);
        // MSTKERR (bit 4): the exception entry itself hit the guard.
        if in_guard || cfsr & (1 << 4) != 0 {
            if intact {
                defmt::error!(
                    "stack overflow: hit the guard at {=u32:#x} (CFSR {=u32:#x}); statics intact",
                    mmfar,
                    cfsr
                );
            } else {
                defmt::error!(
                    "stack overflow: hit the guard at {=u32:#x} (CFSR {=u32:#x}); statics CHANGED",
                    mmfar,
                    cfsr
                );
            }
        } else {
            defmt::error!("hard fault: CFSR {=u32:#x}, MMFAR {=u32:#x}", cfsr, mmfar);
        }
        crate::board::fault_stop()
    }

    // HardFault and MemManage: move MSP back to the top of RAM (the faulting code left it in the
    // guard), then call `snn_fault(CFSR, MMFAR)` on a fresh stack. Never returns.
    #[cfg(feature = "mpu-guard")]
    core::arch::global_asm!(
        ".section .text.snn_fault_trampoline, \"ax\"",
        ".global HardFault",
        ".global MemoryManagement",
        ".thumb_func",
        "HardFault:",
        ".thumb_func",
        "MemoryManagement:",
        "ldr r0, =_stack_start",
        "msr msp, r0",
        "ldr r2, =0xE000ED28",
        "ldr r0, [r2]",
        "ldr r1, [r2, #12]",
        "bl snn_fault",
        "b .",
    );

    #[cfg(feature = "stack-overflow-test")]
    /// Recurses until the stack overflows (feature `stack-overflow-test`: proves the guard).
    pub fn overflow(depth: u32) -> u32 {
        if depth == u32::MAX {
            return 0;
        }
        let mut frame = [depth; 64];
        let frame = core::hint::black_box(&mut frame);
        frame[0] = overflow(depth + 1);
        frame[1]
    }
}
