//! Nordic nRF52840-DK (nRF52840, Cortex-M4F at 64 MHz, 1 MiB flash, 256 KiB RAM), on
//! `nrf52840-hal`.
//!
//! Link: UARTE0 on P0.06 (TX) / P0.08 (RX), wired to the J-Link's virtual COM port, 115200 8N1.
//! Counter: DWT CYCCNT (core cycles at 64 MHz). Spike output: LED1 (P0.13, active low) pulses
//! once per output spike. defmt goes out over RTT (`probe-rs attach` or `cargo xtask flash`).
use super::dwt::DwtCounter;
use super::real::{halt, ActiveLow, Io07Link};
use nrf52840_hal::clocks::Clocks;
use nrf52840_hal::gpio::{p0, Level, Output, Pin, PushPull};
use nrf52840_hal::pac::{self, UARTE0};
use nrf52840_hal::uarte::{self, Baudrate, Parity, Uarte, UarteRx, UarteTx};
use snn_hal::PinSpikeOutput;
use static_cell::ConstStaticCell;

/// Board name reported in `Info`.
pub const NAME: &str = "nrf52840-dk";
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
    pub link: Io07Link<Uart>,
    /// Cost counter.
    pub counter: DwtCounter,
    /// Spike output.
    pub spikes: PinSpikeOutput<ActiveLow<Pin<Output<PushPull>>>>,
    /// Model slots: none, so nothing is kept over a reset.
    pub slots: Option<snn_hal::Slots<super::NoFlash>>,
}

/// UARTE0's DMA buffers (EasyDMA reads and writes RAM only).
static TX_BUF: ConstStaticCell<[u8; 64]> = ConstStaticCell::new([0; 64]);
static RX_BUF: ConstStaticCell<[u8; 1]> = ConstStaticCell::new([0; 1]);

/// External 32 MHz crystal (accurate baud rate), UARTE0, LED1 and the cycle counter.
pub fn init() -> Board {
    let (Some(dp), Some(mut cp)) = (pac::Peripherals::take(), cortex_m::Peripherals::take()) else {
        halt()
    };
    let _clocks = Clocks::new(dp.CLOCK).enable_ext_hfosc();
    let port0 = p0::Parts::new(dp.P0);
    let pins = uarte::Pins {
        txd: port0.p0_06.into_push_pull_output(Level::High).degrade(),
        rxd: port0.p0_08.into_floating_input().degrade(),
        cts: None,
        rts: None,
    };
    let uarte = Uarte::new(dp.UARTE0, pins, Parity::EXCLUDED, Baudrate::BAUD115200);
    let Ok((tx, rx)) = uarte.split(TX_BUF.take(), RX_BUF.take()) else {
        defmt::error!("UARTE0 refused its buffers");
        halt()
    };
    Board {
        link: Io07Link(Uart { tx, rx }),
        counter: DwtCounter::start(&mut cp.DCB, &mut cp.DWT),
        slots: None,
        spikes: PinSpikeOutput(ActiveLow(
            port0.p0_13.into_push_pull_output(Level::High).degrade(),
        )),
    }
}

/// UARTE0 as one `embedded-io` port: its transmit and receive halves.
pub struct Uart {
    tx: UarteTx<UARTE0>,
    rx: UarteRx<UARTE0>,
}

impl embedded_io_07::ErrorType for Uart {
    type Error = uarte::Error;
}

impl embedded_io_07::Read for Uart {
    fn read(&mut self, buf: &mut [u8]) -> Result<usize, Self::Error> {
        self.rx.read(buf)
    }
}

impl embedded_io_07::Write for Uart {
    fn write(&mut self, buf: &[u8]) -> Result<usize, Self::Error> {
        self.tx.write(buf)
    }
    fn flush(&mut self) -> Result<(), Self::Error> {
        self.tx.flush()
    }
}
