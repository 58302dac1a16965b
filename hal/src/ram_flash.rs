//! NOR-flash semantics over a RAM buffer: erase sets `0xFF`, a write can only clear bits.
//!
//! The emulated board keeps its model slots in RAM that a reset does not clear (QEMU keeps RAM
//! across a system reset; the firmware places the buffer outside `.bss`), and the host tests
//! use it as the flash that loses power.
use embedded_storage::nor_flash::{
    ErrorType, NorFlash, NorFlashError, NorFlashErrorKind, ReadNorFlash,
};

/// A misaligned or out-of-range access.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct RamFlashError(pub NorFlashErrorKind);

impl NorFlashError for RamFlashError {
    fn kind(&self) -> NorFlashErrorKind {
        self.0
    }
}

/// NOR flash in `mem`: erase unit [`RamFlash::ERASE_SIZE`], write unit 4 bytes.
#[derive(Debug)]
pub struct RamFlash<'a> {
    mem: &'a mut [u8],
}

impl<'a> RamFlash<'a> {
    /// Flash over `mem` (its contents are kept: they are what the flash holds).
    pub fn new(mem: &'a mut [u8]) -> Self {
        Self { mem }
    }

    /// The raw contents.
    pub fn bytes(&self) -> &[u8] {
        self.mem
    }

    fn range(&mut self, from: u32, len: usize, align: usize) -> Result<&mut [u8], RamFlashError> {
        let from = from as usize;
        if !from.is_multiple_of(align) || !len.is_multiple_of(align) {
            return Err(RamFlashError(NorFlashErrorKind::NotAligned));
        }
        from.checked_add(len)
            .and_then(|end| self.mem.get_mut(from..end))
            .ok_or(RamFlashError(NorFlashErrorKind::OutOfBounds))
    }
}

impl ErrorType for RamFlash<'_> {
    type Error = RamFlashError;
}

impl ReadNorFlash for RamFlash<'_> {
    const READ_SIZE: usize = 1;
    fn read(&mut self, offset: u32, bytes: &mut [u8]) -> Result<(), Self::Error> {
        let src = self.range(offset, bytes.len(), 1)?;
        bytes.copy_from_slice(src);
        Ok(())
    }
    fn capacity(&self) -> usize {
        self.mem.len()
    }
}

impl NorFlash for RamFlash<'_> {
    const WRITE_SIZE: usize = 4;
    const ERASE_SIZE: usize = 4096;
    fn erase(&mut self, from: u32, to: u32) -> Result<(), Self::Error> {
        let len = (to as usize).saturating_sub(from as usize);
        self.range(from, len, Self::ERASE_SIZE)?.fill(0xFF);
        Ok(())
    }
    fn write(&mut self, offset: u32, bytes: &[u8]) -> Result<(), Self::Error> {
        let dst = self.range(offset, bytes.len(), Self::WRITE_SIZE)?;
        for (d, &b) in dst.iter_mut().zip(bytes) {
            *d &= b;
        }
        Ok(())
    }
}
