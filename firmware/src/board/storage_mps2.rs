//! Model slots of the emulated board: NOR-flash semantics ([`RamFlash`]) over RAM that a reset
//! keeps. QEMU does not clear RAM on a system reset and the buffer lives in `.uninit` (never
//! zeroed or initialised by the startup code), so a stored model survives `Request::Reset`; on
//! a cold start the RAM is zero, which no slot header matches. (A real MCU would use its flash,
//! as the Nucleo does.)
use super::MAX_MODEL_BYTES;
use core::mem::MaybeUninit;
use snn_hal::ram_flash::RamFlash;
use snn_hal::slots::{Slots, HEADER};

/// The flash type of this board's slots.
pub type Flash = RamFlash<'static>;

/// One slot: the largest model plus its header, rounded up to the erase size.
const SLOT: usize = (MAX_MODEL_BYTES + HEADER).div_ceil(4096) * 4096;

#[link_section = ".uninit.snn_slots"]
static mut SLOT_MEM: MaybeUninit<[u8; 2 * SLOT]> = MaybeUninit::uninit();

/// The two slots; call once (from `init`).
pub fn slots() -> Option<Slots<Flash>> {
    // `black_box` hides the static's (uninitialised) initial value from the optimiser: the
    // bytes are whatever the RAM holds, as with real flash.
    let p = core::hint::black_box(core::ptr::addr_of_mut!(SLOT_MEM)).cast::<u8>();
    // SAFETY: `init` runs once, so this is the only reference to SLOT_MEM; every byte pattern
    // is a valid `u8`, and the RAM behind it has a value (zero on a cold start).
    let mem: &'static mut [u8] = unsafe { core::slice::from_raw_parts_mut(p, 2 * SLOT) };
    Slots::new(RamFlash::new(mem), 0, SLOT as u32).ok()
}
