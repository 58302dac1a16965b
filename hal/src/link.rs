//! The byte link to the host, and adapters from the two common serial APIs.
//!
//! The server only needs "give me some bytes" and "send these bytes"; [`IoLink`] provides that
//! over any `embedded-io` reader/writer, [`NbLink`] over any `embedded-hal-nb` serial port.

/// A bidirectional byte link (UART, USB CDC, RTT channel, in-memory pipe…).
pub trait Link {
    /// Transport error.
    type Error: core::fmt::Debug;
    /// Blocks until at least one byte is available, copies up to `buf.len()` bytes, returns how
    /// many (0 only when `buf` is empty or the link is closed).
    fn read(&mut self, buf: &mut [u8]) -> Result<usize, Self::Error>;
    /// Sends every byte of `bytes`.
    fn write_all(&mut self, bytes: &[u8]) -> Result<(), Self::Error>;
}

/// A [`Link`] over an `embedded-io` `Read + Write` port.
#[derive(Debug)]
pub struct IoLink<T>(pub T);

impl<T: embedded_io::Read + embedded_io::Write> Link for IoLink<T> {
    type Error = T::Error;
    fn read(&mut self, buf: &mut [u8]) -> Result<usize, Self::Error> {
        self.0.read(buf)
    }
    fn write_all(&mut self, bytes: &[u8]) -> Result<(), Self::Error> {
        self.0.write_all(bytes)?;
        self.0.flush()
    }
}

/// A [`Link`] over an `embedded-hal-nb` serial port (one byte at a time, busy-waiting).
#[derive(Debug)]
pub struct NbLink<S>(pub S);

impl<S> Link for NbLink<S>
where
    S: embedded_hal_nb::serial::Read<u8> + embedded_hal_nb::serial::Write<u8>,
{
    type Error = S::Error;
    fn read(&mut self, buf: &mut [u8]) -> Result<usize, Self::Error> {
        let Some(first) = buf.first_mut() else {
            return Ok(0);
        };
        *first = nb::block!(self.0.read())?;
        Ok(1)
    }
    fn write_all(&mut self, bytes: &[u8]) -> Result<(), Self::Error> {
        for &b in bytes {
            nb::block!(self.0.write(b))?;
        }
        nb::block!(self.0.flush())
    }
}
