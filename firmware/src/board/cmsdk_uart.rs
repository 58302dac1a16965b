//! The Arm CMSDK APB UART of the MPS2 boards, polled, as an `embedded-io` byte stream.

/// CMSDK APB UART at `BASE`, polled (QEMU's `-serial` backs it).
pub struct Uart<const BASE: usize>(());

const DATA: usize = 0x00;
const STATE: usize = 0x04;
const CTRL: usize = 0x08;
const BAUDDIV: usize = 0x10;
const STATE_TX_FULL: u32 = 1 << 0;
const STATE_RX_FULL: u32 = 1 << 1;

impl<const BASE: usize> Uart<BASE> {
    /// Enables TX and RX at 115200 baud for a `clock_hz` peripheral clock.
    pub fn init(clock_hz: u32) -> Self {
        Self::write_reg(BAUDDIV, clock_hz / 115_200);
        Self::write_reg(CTRL, 0b11); // TX and RX enable, no interrupts
        Self(())
    }

    fn read_reg(offset: usize) -> u32 {
        // SAFETY: the UART registers are valid, aligned MMIO words on these boards; reads have
        // no side effect beyond DATA's (consuming the received byte, which the caller wants).
        unsafe { core::ptr::read_volatile((BASE + offset) as *const u32) }
    }

    fn write_reg(offset: usize, value: u32) {
        // SAFETY: as above; this driver is the only user of the UART.
        unsafe { core::ptr::write_volatile((BASE + offset) as *mut u32, value) }
    }
}

impl<const BASE: usize> embedded_io::ErrorType for Uart<BASE> {
    type Error = core::convert::Infallible;
}

impl<const BASE: usize> embedded_io::Read for Uart<BASE> {
    fn read(&mut self, buf: &mut [u8]) -> Result<usize, Self::Error> {
        let mut n = 0;
        for slot in buf.iter_mut() {
            if n == 0 {
                while Self::read_reg(STATE) & STATE_RX_FULL == 0 {}
            } else if Self::read_reg(STATE) & STATE_RX_FULL == 0 {
                break;
            }
            *slot = Self::read_reg(DATA) as u8;
            n += 1;
        }
        Ok(n)
    }
}

impl<const BASE: usize> embedded_io::Write for Uart<BASE> {
    fn write(&mut self, buf: &[u8]) -> Result<usize, Self::Error> {
        for &b in buf {
            while Self::read_reg(STATE) & STATE_TX_FULL != 0 {}
            Self::write_reg(DATA, u32::from(b));
        }
        Ok(buf.len())
    }
    fn flush(&mut self) -> Result<(), Self::Error> {
        while Self::read_reg(STATE) & STATE_TX_FULL != 0 {}
        Ok(())
    }
}
