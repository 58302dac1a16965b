//! Raspberry Pi Pico (RP2040, Cortex-M0+ at 125 MHz, 2 MiB flash, 264 KiB RAM), on
//! `rp2040-hal`.
//!
//! Link: UART0 on GP0 (TX) / GP1 (RX), 115200 8N1 (a USB-serial adapter, or a Debug Probe's
//! UART). Counter: SysTick on the core clock, in cycles (the M0+ has no DWT cycle counter).
//! Spike output: the on-board LED (GP25) pulses once per output spike. defmt goes out over RTT.
use super::real::{halt, Io07Link};
use super::systick::SysTickCounter;
use rp2040_hal::clocks::{init_clocks_and_plls, Clock};
use rp2040_hal::fugit::RateExtU32;
use rp2040_hal::gpio::bank0::{Gpio0, Gpio1, Gpio25};
use rp2040_hal::gpio::{FunctionSioOutput, FunctionUart, Pin, PullDown, PullNone};
use rp2040_hal::pac::{self, UART0};
use rp2040_hal::uart::{DataBits, Enabled, StopBits, UartConfig, UartPeripheral};
use rp2040_hal::{Sio, Watchdog};
use snn_hal::protocol::CostUnit;
use snn_hal::PinSpikeOutput;

/// The second-stage bootloader the RP2040 boot ROM runs from the first 256 bytes of flash.
#[link_section = ".boot2"]
#[used]
pub static BOOT2: [u8; 256] = rp2040_boot2::BOOT_LOADER_W25Q080;

/// Board name reported in `Info`.
pub const NAME: &str = "rp-pico";
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
/// The Pico's crystal.
const XOSC_HZ: u32 = 12_000_000;

/// UART0 on GP0/GP1.
pub type Uart = UartPeripheral<
    Enabled,
    UART0,
    (
        Pin<Gpio0, FunctionUart, PullNone>,
        Pin<Gpio1, FunctionUart, PullNone>,
    ),
>;

/// What `init` hands the firmware.
pub struct Board {
    /// Host link.
    pub link: Io07Link<Uart>,
    /// Cost counter (cycles).
    pub counter: SysTickCounter<1, 1>,
    /// Spike output.
    pub spikes: PinSpikeOutput<Pin<Gpio25, FunctionSioOutput, PullDown>>,
    /// Model slots: none, so nothing is kept over a reset.
    pub slots: Option<snn_hal::Slots<super::NoFlash>>,
}

/// Clocks (12 MHz crystal, 125 MHz system), UART0, the LED and SysTick.
pub fn init() -> Board {
    let (Some(mut dp), Some(mut cp)) = (pac::Peripherals::take(), cortex_m::Peripherals::take())
    else {
        halt()
    };
    let mut watchdog = Watchdog::new(dp.WATCHDOG);
    let Ok(clocks) = init_clocks_and_plls(
        XOSC_HZ,
        dp.XOSC,
        dp.CLOCKS,
        dp.PLL_SYS,
        dp.PLL_USB,
        &mut dp.RESETS,
        &mut watchdog,
    ) else {
        defmt::error!("clock setup failed");
        halt()
    };
    let sio = Sio::new(dp.SIO);
    let pins =
        rp2040_hal::gpio::Pins::new(dp.IO_BANK0, dp.PADS_BANK0, sio.gpio_bank0, &mut dp.RESETS);
    let uart_pins = (
        pins.gpio0.reconfigure::<FunctionUart, PullNone>(),
        pins.gpio1.reconfigure::<FunctionUart, PullNone>(),
    );
    let Ok(uart) = UartPeripheral::new(dp.UART0, uart_pins, &mut dp.RESETS).enable(
        UartConfig::new(115_200.Hz(), DataBits::Eight, None, StopBits::One),
        clocks.peripheral_clock.freq(),
    ) else {
        defmt::error!("UART0 configuration refused");
        halt()
    };
    Board {
        link: Io07Link(uart),
        counter: SysTickCounter::start(&mut cp.SYST, CostUnit::Cycles),
        slots: None,
        spikes: PinSpikeOutput(pins.gpio25.into_push_pull_output()),
    }
}
