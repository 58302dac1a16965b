//! Espressif ESP32-C3-DevKit-RUST-1 (ESP32-C3, RV32IMC at 160 MHz, 4 MiB flash, 400 KiB RAM),
//! on `esp-hal`.
//!
//! Link: the chip's USB-Serial-JTAG port (the board's USB-C connector; `/dev/ttyACM0` on the
//! host), which also carries JTAG for probe-rs. Counter: the system timer (16 MHz, read in µs by
//! `esp_hal::time`), reported as cycles at 160 MHz (resolution 160). Spike output: the LED on
//! GPIO7 pulses once per output spike. defmt goes out over RTT (probe-rs through the same USB).
use esp_hal::clock::CpuClock;
use esp_hal::gpio::{Level, Output, OutputConfig};
use esp_hal::time::Instant;
use esp_hal::usb::usb_serial_jtag::UsbSerialJtag;
use esp_hal::Blocking;
use snn_hal::protocol::CostUnit;
use snn_hal::{CycleCounter, IoLink, PinSpikeOutput};

// The application descriptor the ESP-IDF second-stage bootloader (and espflash) expects.
esp_bootloader_esp_idf::esp_app_desc!();

/// Board name reported in `Info`.
pub const NAME: &str = "esp32c3";
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
/// Core clock, cycles per microsecond.
const CYCLES_PER_US: u64 = 160;

/// What `init` hands the firmware.
pub struct Board {
    /// Host link.
    pub link: IoLink<UsbSerialJtag<'static, Blocking>>,
    /// Cost counter.
    pub counter: SysTimerCounter,
    /// Spike output.
    pub spikes: PinSpikeOutput<Output<'static>>,
    /// Model slots: none, so nothing is kept over a reset.
    pub slots: Option<snn_hal::Slots<super::NoFlash>>,
}

/// Clocks at 160 MHz, the USB-Serial-JTAG link and the LED.
pub fn init() -> Board {
    let p = esp_hal::init(esp_hal::Config::default().with_cpu_clock(CpuClock::max()));
    Board {
        link: IoLink(UsbSerialJtag::new(p.USB_DEVICE)),
        counter: SysTimerCounter(()),
        slots: None,
        spikes: PinSpikeOutput(Output::new(p.GPIO7, Level::Low, OutputConfig::default())),
    }
}

/// The system timer since boot, in core cycles: `µs * 160`.
pub struct SysTimerCounter(());

impl CycleCounter for SysTimerCounter {
    fn now(&mut self) -> u64 {
        Instant::now().duration_since_epoch().as_micros() * CYCLES_PER_US
    }
    fn unit(&self) -> CostUnit {
        CostUnit::Cycles
    }
}

#[panic_handler]
fn panic(_: &core::panic::PanicInfo) -> ! {
    defmt::error!("panic");
    loop {
        core::hint::spin_loop();
    }
}

use defmt_rtt as _;
