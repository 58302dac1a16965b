//! Board support: exactly one board is compiled in, chosen by a cargo feature.
//!
//! Each board provides its name, the static buffer sizes (the largest model it accepts), and
//! `init()` returning the host link, the cost counter, the spike output and the model slots (and
//! the MPU on boards with the `mpu-guard` feature), and `fault_stop()` where the stack guard's
//! fault handler is compiled in. The emulated boards
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
#[cfg(any(
    feature = "board-mps2-an385",
    feature = "board-mps2-an386",
    feature = "board-mps2-an500",
    feature = "board-mps2-an505"
))]
pub mod storage_mps2;

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
#[cfg(feature = "board-nucleo-f446re")]
pub mod storage_nucleo;

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
#[cfg(all(feature = "real-board", feature = "mpu-guard"))]
pub use real::fault_stop;
#[cfg(feature = "arm-semihosting")]
mod semihosting;
#[cfg(all(feature = "arm-semihosting", feature = "mpu-guard"))]
pub use semihosting::fault_stop;
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

/// The slot type of boards that keep no model over a reset (their `slots` is `None`): too
/// little RAM for two slots (micro:bit) or no flash driver yet.
#[cfg(any(
    feature = "board-microbit",
    feature = "board-virt-rv32",
    feature = "board-nrf52840-dk",
    feature = "board-rp-pico",
    feature = "board-esp32c3"
))]
pub type NoFlash = snn_hal::ram_flash::RamFlash<'static>;

/// Restarts the board after a `Reset` request: SYSRESETREQ on the Arm cores; the RISC-V boards
/// have no reset driver here, so the request is only logged and serving goes on.
pub fn reset() {
    #[cfg(target_arch = "arm")]
    cortex_m::peripheral::SCB::sys_reset();
    #[cfg(not(target_arch = "arm"))]
    defmt::warn!("reset: not supported on this board, ignored");
}
