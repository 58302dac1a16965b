//! Inertial sensors read through the `embedded-hal` 1.0 I²C traits, as sources of sensor
//! frames for [`crate::sensor_stream`].
//!
//! [`lsm6dso`] is ST's LSM6DSO accelerometer + gyroscope (the one on the X-NUCLEO-IKS01A3 shield).
//! A driver yields raw `i16` channels in its own LSB; [`crate::sensor_stream::Units`] turns them
//! into the model's units.
pub mod lsm6dso;

/// Something that yields one frame of raw `i16` channels per call (an IMU, an ADC).
pub trait FrameSource {
    /// Why a frame could not be read.
    type Error;
    /// Channels per frame.
    fn channels(&self) -> usize;
    /// Reads the next frame into `out[..channels()]` (`out` may be longer).
    fn read_frame(&mut self, out: &mut [i16]) -> Result<(), Self::Error>;
}
