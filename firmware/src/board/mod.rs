//! Board support: exactly one board is compiled in, chosen by a cargo feature.
//!
//! Each board provides its name, the static buffer sizes (the largest model it accepts), and
//! `init()` returning the host link, the cost counter and the spike output. The emulated boards
//! (one per core) share their drivers: `cmsdk_uart` on the Arm MPS2 boards, `systick` and
//! `semihosting` (defmt and the failure exit) on every emulated Arm board. The real boards share
//! `real` (halt, panic, defmt over RTT, active-low LED) and `dwt` or `systick` as counter.

#[cfg(any(
    feature = "board-mps2-an385",
    feature = "board-mps2-an386",
    feature = "board-mps2-an500",
    feature = "board-mps2-an505"
))]
mod mps2;
#[cfg(any(
    feature = "board-mps2-an385",
    feature = "board-mps2-an386",
    feature = "board-mps2-an500",
    feature = "board-mps2-an505"
))]
pub use mps2::*;

#[cfg(feature = "board-microbit")]
mod microbit;
#[cfg(feature = "board-microbit")]
pub use microbit::*;

#[cfg(feature = "board-virt-rv32")]
mod virt_rv32;
#[cfg(feature = "board-virt-rv32")]
pub use virt_rv32::*;

#[cfg(feature = "board-nucleo-f446re")]
mod nucleo_f446re;
#[cfg(feature = "board-nucleo-f446re")]
pub use nucleo_f446re::*;

#[cfg(feature = "board-nrf52840-dk")]
mod nrf52840_dk;
#[cfg(feature = "board-nrf52840-dk")]
pub use nrf52840_dk::*;

#[cfg(feature = "board-rp-pico")]
mod rp_pico;
#[cfg(feature = "board-rp-pico")]
pub use rp_pico::*;

#[cfg(feature = "board-esp32c3")]
mod esp32c3;
#[cfg(feature = "board-esp32c3")]
pub use esp32c3::*;

#[cfg(any(
    feature = "board-mps2-an385",
    feature = "board-mps2-an386",
    feature = "board-mps2-an500",
    feature = "board-mps2-an505"
))]
mod cmsdk_uart;
#[cfg(any(feature = "board-nucleo-f446re", feature = "board-nrf52840-dk"))]
mod dwt;
#[cfg(feature = "real-board")]
mod real;
#[cfg(feature = "arm-semihosting")]
mod semihosting;
#[cfg(any(feature = "arm-semihosting", feature = "board-rp-pico"))]
mod systick;

/// RAM between the end of static data and the top of the stack (stack plus unused), bytes.
pub fn free_ram() -> u32 {
    extern "C" {
        // Both provided by the runtime's link.x (cortex-m-rt, riscv-rt): end of .bss/.uninit,
        // and the initial stack top.
        #[cfg(not(feature = "board-esp32c3"))]
        static __sheap: u8;
        // esp-hal's linkall.x: the lowest address the stack may grow to.
        #[cfg(feature = "board-esp32c3")]
        #[link_name = "_stack_end"]
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
