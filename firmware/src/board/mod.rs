//! Board support: exactly one board is compiled in, chosen by a cargo feature.
//!
//! Each board provides its name, the static buffer sizes (the largest model it accepts), and
//! `init()` returning the host link, the cost counter and the spike output.

#[cfg(feature = "board-mps2-an386")]
mod mps2_an386;
#[cfg(feature = "board-mps2-an386")]
pub use mps2_an386::*;
#[cfg(feature = "board-mps2-an386")]
pub mod storage_mps2;

#[cfg(feature = "board-nucleo-f446re")]
mod nucleo_f446re;
#[cfg(feature = "board-nucleo-f446re")]
pub use nucleo_f446re::*;
#[cfg(feature = "board-nucleo-f446re")]
pub mod storage_nucleo;

/// Most output neurons (the protocol's limit).
pub const MAX_OUTPUTS: usize = snn_hal::protocol::MAX_OUTPUTS;

/// RAM between the end of static data and the top of the stack (stack plus unused), bytes.
pub fn free_ram() -> u32 {
    extern "C" {
        // Both provided by cortex-m-rt's link.x: end of .bss/.uninit, and the initial stack top.
        static __sheap: u8;
        static _stack_start: u8;
    }
    // Taking the address of a linker symbol reads nothing.
    let (heap, top) = (
        core::ptr::addr_of!(__sheap) as usize,
        core::ptr::addr_of!(_stack_start) as usize,
    );
    top.saturating_sub(heap) as u32
}
