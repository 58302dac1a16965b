//! What the real (non-emulated) Arm boards share: the halt, the panic handler, defmt over RTT,
//! an active-low LED adapter and a host link over `embedded-io` 0.7 (the version the current
//! `nrf52840-hal` and `rp2040-hal` implement; `snn_hal::IoLink` takes 0.6).
#[cfg(feature = "board-nrf52840-dk")]
use embedded_hal::digital::{ErrorType, OutputPin};
#[cfg(any(feature = "board-nrf52840-dk", feature = "board-rp-pico"))]
use snn_hal::Link;

/// A [`Link`] over an `embedded-io` 0.7 `Read + Write` port.
#[cfg(any(feature = "board-nrf52840-dk", feature = "board-rp-pico"))]
pub struct Io07Link<T>(pub T);

#[cfg(any(feature = "board-nrf52840-dk", feature = "board-rp-pico"))]
impl<T: embedded_io_07::Read + embedded_io_07::Write> Link for Io07Link<T> {
    type Error = T::Error;
    fn read(&mut self, buf: &mut [u8]) -> Result<usize, Self::Error> {
        self.0.read(buf)
    }
    fn write_all(&mut self, bytes: &[u8]) -> Result<(), Self::Error> {
        self.0.write_all(bytes)?;
        self.0.flush()
    }
}

/// Stops the core for good (waiting for interrupts that do nothing).
pub fn halt() -> ! {
    loop {
        cortex_m::asm::wfi();
    }
}

/// Stops after a fault (the RTT log says why).
#[cfg(feature = "mpu-guard")]
pub fn fault_stop() -> ! {
    halt()
}

/// An output pin driving an LED that is lit when the pin is low: `set_high` lights it.
#[cfg(feature = "board-nrf52840-dk")]
pub struct ActiveLow<P>(pub P);

#[cfg(feature = "board-nrf52840-dk")]
impl<P: ErrorType> ErrorType for ActiveLow<P> {
    type Error = P::Error;
}

#[cfg(feature = "board-nrf52840-dk")]
impl<P: OutputPin> OutputPin for ActiveLow<P> {
    fn set_high(&mut self) -> Result<(), Self::Error> {
        self.0.set_low()
    }
    fn set_low(&mut self) -> Result<(), Self::Error> {
        self.0.set_high()
    }
}

#[panic_handler]
fn panic(_: &core::panic::PanicInfo) -> ! {
    defmt::error!("panic");
    halt()
}

use defmt_rtt as _;
