//! Model slots of the Nucleo-F446RE: the internal flash's last two 128 KiB sectors (6 and 7,
//! at 0x0804_0000 and 0x0806_0000) through `stm32f4xx-hal` (the memory map gives the firmware
//! the first 256 KiB only).
use embedded_storage::nor_flash::{ErrorType, NorFlash, ReadNorFlash};
use snn_hal::slots::Slots;
use stm32f4xx_hal::flash::{Error, FlashExt, LockedFlash};
use stm32f4xx_hal::pac::FLASH;

/// Offset of sector 6 from the start of flash.
const BASE: u32 = 0x4_0000;
/// Sector 6 and 7 are 128 KiB each.
const SLOT: u32 = 128 * 1024;

/// The flash, unlocked for each erase or write and locked again after it.
pub struct Flash(LockedFlash);

impl ErrorType for Flash {
    type Error = Error;
}

impl ReadNorFlash for Flash {
    const READ_SIZE: usize = 1;
    fn read(&mut self, offset: u32, bytes: &mut [u8]) -> Result<(), Self::Error> {
        ReadNorFlash::read(&mut self.0, offset, bytes)
    }
    fn capacity(&self) -> usize {
        ReadNorFlash::capacity(&self.0)
    }
}

impl NorFlash for Flash {
    const WRITE_SIZE: usize = 1;
    const ERASE_SIZE: usize = 128 * 1024;
    fn erase(&mut self, from: u32, to: u32) -> Result<(), Self::Error> {
        NorFlash::erase(&mut self.0.unlocked(), from, to)
    }
    fn write(&mut self, offset: u32, bytes: &[u8]) -> Result<(), Self::Error> {
        NorFlash::write(&mut self.0.unlocked(), offset, bytes)
    }
}

/// The two slots over the flash peripheral.
pub fn slots(flash: FLASH) -> Option<Slots<Flash>> {
    Slots::new(Flash(LockedFlash::new(flash)), BASE, SLOT).ok()
}
