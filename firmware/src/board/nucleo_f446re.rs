//! ST Nucleo-F446RE (STM32F446RE, Cortex-M4F, 512 KiB flash, 128 KiB RAM).
//!
//! Link: USART2 on PA2/PA3, wired to the ST-LINK virtual COM port, 115200 8N1, through
//! `embedded-hal-nb` ([`snn_hal::NbLink`]). Counter: DWT CYCCNT (core cycles at 168 MHz),
//! extended to 64 bits in software. Spike output: LD2 (PA5) pulses once per output spike.
//! defmt goes out over RTT (read it with `probe-rs attach` or `cargo xtask flash`).
//! Feature `imu`: I2C1 on the Arduino pins D15/D14 (PB8 SCL, PB9 SDA, 400 kHz), where the
//! X-NUCLEO-IKS01A3 shield's LSM6DSO sits (`crate::sensor`).
use super::dwt::DwtCounter;
pub use super::real::halt;
use snn_hal::{NbLink, PinSpikeOutput};
use stm32f4xx_hal::gpio::{Output, Pin};
use stm32f4xx_hal::pac::{self, USART2};
use stm32f4xx_hal::prelude::*;
use stm32f4xx_hal::serial::{Config, Serial};

/// Core clock, Hz (what the DWT counter counts; the sensor loop paces its steps by it).
#[cfg(feature = "imu")]
pub const CORE_HZ: u64 = 168_000_000;
/// Board name reported in `Info`.
pub const NAME: &str = "nucleo-f446re";
/// Largest model file accepted, bytes (kept in RAM so it can be replaced over the link).
pub const MAX_MODEL_BYTES: usize = 64 * 1024;
/// Most neurons over all layers.
pub const MAX_NEURONS: usize = 2048;
/// Most neurons in one layer.
pub const MAX_LAYER_NEURONS: usize = 1024;
/// Largest input size.
pub const MAX_INPUTS: usize = 1024;
/// Most output neurons (the protocol's limit).
pub const MAX_OUTPUTS: usize = snn_hal::protocol::MAX_OUTPUTS;

/// What `init` hands the firmware.
pub struct Board {
    /// Host link.
    pub link: NbLink<Serial<USART2, u8>>,
    /// Cost counter.
    pub counter: DwtCounter,
    /// Spike output.
    pub spikes: PinSpikeOutput<Pin<'A', 5, Output>>,
    /// Model slots (flash sectors 6 and 7).
    pub slots: Option<snn_hal::Slots<super::storage_nucleo::Flash>>,
    /// The MPU (for the stack guard).
    pub mpu: cortex_m::peripheral::MPU,
    /// I2C1 to the sensor shield.
    #[cfg(feature = "imu")]
    pub i2c: stm32f4xx_hal::i2c::I2c<pac::I2C1>,
}

/// Clocks (8 MHz ST-LINK clock in, 168 MHz core), USART2, LD2 and the cycle counter.
pub fn init() -> Board {
    let (Some(dp), Some(mut cp)) = (pac::Peripherals::take(), cortex_m::Peripherals::take()) else {
        halt()
    };
    let rcc = dp.RCC.constrain();
    let clocks = rcc
        .cfgr
        .use_hse(8.MHz())
        .bypass_hse_oscillator()
        .sysclk(168.MHz())
        .freeze();
    let gpioa = dp.GPIOA.split();
    let Ok(serial) = dp.USART2.serial(
        (gpioa.pa2, gpioa.pa3),
        Config::default().baudrate(115_200.bps()),
        &clocks,
    ) else {
        defmt::error!("USART2 configuration refused");
        halt()
    };
    #[cfg(feature = "imu")]
    let i2c = {
        let gpiob = dp.GPIOB.split();
        dp.I2C1.i2c((gpiob.pb8, gpiob.pb9), 400.kHz(), &clocks)
    };
    Board {
        #[cfg(feature = "imu")]
        i2c,
        link: NbLink(serial),
        counter: DwtCounter::start(&mut cp.DCB, &mut cp.DWT),
        spikes: PinSpikeOutput(gpioa.pa5.into_push_pull_output()),
        slots: super::storage_nucleo::slots(dp.FLASH),
        mpu: cp.MPU,
    }
}
