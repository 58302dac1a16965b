//! COBS framing: bytes in, whole frames out, with an explicit verdict for oversized frames.
//!
//! A frame is the COBS encoding of one postcard message followed by a `0x00` byte. The
//! accumulator collects bytes up to each `0x00`; a frame longer than its buffer is dropped up to
//! its terminator and reported once as [`Frame::TooLong`], so a flood of garbage can never wedge
//! the link: the next terminator always starts a fresh frame.

/// What one byte fed to a [`FrameBuffer`] completed.
#[derive(Debug, PartialEq, Eq)]
pub enum Frame<'b> {
    /// Still inside a frame.
    Pending,
    /// A complete frame (COBS-encoded, terminator removed), to decode in place.
    Complete(&'b mut [u8]),
    /// A frame overflowed the buffer and was discarded up to its terminator.
    TooLong,
    /// A lone terminator: an empty frame (ignored by the server, useful to resynchronise).
    Empty,
}

/// Collects bytes into frames of at most `N` encoded bytes.
#[derive(Debug)]
pub struct FrameBuffer<const N: usize> {
    buf: [u8; N],
    len: usize,
    overflowed: bool,
}

impl<const N: usize> Default for FrameBuffer<N> {
    fn default() -> Self {
        Self::new()
    }
}

impl<const N: usize> FrameBuffer<N> {
    /// An empty buffer.
    pub const fn new() -> Self {
        Self {
            buf: [0; N],
            len: 0,
            overflowed: false,
        }
    }

    /// Feeds one byte; returns the frame it completed, if any.
    pub fn push(&mut self, byte: u8) -> Frame<'_> {
        if byte == 0 {
            let len = core::mem::take(&mut self.len);
            if core::mem::take(&mut self.overflowed) {
                return Frame::TooLong;
            }
            if len == 0 {
                return Frame::Empty;
            }
            return Frame::Complete(&mut self.buf[..len]);
        }
        if self.overflowed {
            return Frame::Pending;
        }
        match self.buf.get_mut(self.len) {
            Some(slot) => {
                *slot = byte;
                self.len += 1;
            }
            None => {
                self.overflowed = true;
                self.len = 0;
            }
        }
        Frame::Pending
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn splits_frames_and_reports_overflow_once() {
        let mut f = FrameBuffer::<4>::new();
        for b in [1, 2, 3] {
            assert_eq!(f.push(b), Frame::Pending);
        }
        assert_eq!(f.push(0), Frame::Complete(&mut [1, 2, 3]));
        assert_eq!(f.push(0), Frame::Empty);
        for b in 1..=9 {
            assert_eq!(f.push(b), Frame::Pending);
        }
        assert_eq!(f.push(0), Frame::TooLong);
        assert_eq!(f.push(7), Frame::Pending);
        assert_eq!(f.push(0), Frame::Complete(&mut [7]));
    }
}
