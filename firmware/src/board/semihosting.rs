//! defmt and the panic exit over Arm semihosting (every emulated Arm board).
//!
//! QEMU runs with `-semihosting-config enable=on,target=native`: defmt frames go to its stdout
//! (a log file decoded by xtask), and a panic (which the code is written never to reach) exits
//! QEMU with failure.

/// Stops after a fault: exits QEMU with failure (the log says why).
#[cfg(feature = "mpu-guard")]
pub fn fault_stop() -> ! {
    cortex_m_semihosting::debug::exit(cortex_m_semihosting::debug::EXIT_FAILURE);
    loop {
        cortex_m::asm::wfi();
    }
}

#[panic_handler]
fn panic(_: &core::panic::PanicInfo) -> ! {
    defmt::error!("panic");
    cortex_m_semihosting::debug::exit(cortex_m_semihosting::debug::EXIT_FAILURE);
    loop {
        cortex_m::asm::wfi();
    }
}

use defmt_semihosting as _;
