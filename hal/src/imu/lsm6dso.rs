//! ST LSM6DSO 6-axis IMU (3-D accelerometer + 3-D gyroscope) over `embedded-hal` 1.0 I²C.
//!
//! On ST's X-NUCLEO-IKS01A3 shield it sits on the Arduino I²C pins (D14/D15; on a
//! Nucleo-F446RE: I2C1, PB9 SDA / PB8 SCL) at address [`ADDRESS_SA0_HIGH`] (`0x6B`).
//! [`Lsm6dso::init`] checks `WHO_AM_I` (`0x6C`), sets block data update and register
//! auto-increment (`CTRL3_C`), then the accelerometer (`CTRL1_XL`) and gyroscope (`CTRL2_G`)
//! output data rate and full scale. [`Lsm6dso::read`] reads the 12 output bytes in one burst
//! from `OUTX_L_G` (gyro x, y, z then accel x, y, z, little-endian) and returns them as
//! `[ax, ay, az, gx, gy, gz]` in LSB (the order of BasicMotions-style data: accelerometer first).
//!
//! Sensitivity (datasheet DS12140, table 3): accelerometer 0.061 / 0.122 / 0.244 / 0.488 mg/LSB
//! at ±2 / 4 / 8 / 16 g; gyroscope 4.375 / 8.75 / 17.5 / 35 / 70 mdps/LSB at
//! ±125 / 250 / 500 / 1000 / 2000 dps.
use embedded_hal::i2c::I2c;

use super::FrameSource;

/// I²C address with SA0 high (the X-NUCLEO-IKS01A3 shield).
pub const ADDRESS_SA0_HIGH: u8 = 0x6B;
/// I²C address with SA0 low.
pub const ADDRESS_SA0_LOW: u8 = 0x6A;
/// What `WHO_AM_I` reads on an LSM6DSO.
pub const WHO_AM_I_VALUE: u8 = 0x6C;

/// Register addresses used here.
pub mod reg {
    /// Device identification, reads [`super::WHO_AM_I_VALUE`].
    pub const WHO_AM_I: u8 = 0x0F;
    /// Accelerometer control: `ODR_XL[7:4] FS_XL[3:2]`.
    pub const CTRL1_XL: u8 = 0x10;
    /// Gyroscope control: `ODR_G[7:4] FS_G[3:2] FS_125[1]`.
    pub const CTRL2_G: u8 = 0x11;
    /// Control 3: `BDU[6]` (block data update), `IF_INC[2]` (address auto-increment).
    pub const CTRL3_C: u8 = 0x12;
    /// Status: `XLDA[0]`, `GDA[1]` (new accelerometer / gyroscope data).
    pub const STATUS_REG: u8 = 0x1E;
    /// First output register (gyroscope X low byte); 12 bytes to `OUTZ_H_A` (0x2D).
    pub const OUTX_L_G: u8 = 0x22;
}

/// `CTRL3_C` value written by [`Lsm6dso::init`]: BDU and IF_INC set.
pub const CTRL3_C_BDU_IF_INC: u8 = 0x44;

/// Output data rate of both sensors (high-performance mode).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Odr {
    /// 12.5 Hz.
    Hz12_5,
    /// 26 Hz.
    Hz26,
    /// 52 Hz.
    Hz52,
    /// 104 Hz.
    Hz104,
    /// 208 Hz.
    Hz208,
    /// 416 Hz.
    Hz416,
    /// 833 Hz.
    Hz833,
}

impl Odr {
    /// The `ODR_XL` / `ODR_G` field value (bits 7:4).
    pub fn code(self) -> u8 {
        match self {
            Self::Hz12_5 => 0b0001,
            Self::Hz26 => 0b0010,
            Self::Hz52 => 0b0011,
            Self::Hz104 => 0b0100,
            Self::Hz208 => 0b0101,
            Self::Hz416 => 0b0110,
            Self::Hz833 => 0b0111,
        }
    }
}

/// Accelerometer full scale.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AccelRange {
    /// ±2 g.
    G2,
    /// ±4 g.
    G4,
    /// ±8 g.
    G8,
    /// ±16 g.
    G16,
}

impl AccelRange {
    /// The `FS_XL` field value (bits 3:2; note ±16 g is `01`).
    pub fn code(self) -> u8 {
        match self {
            Self::G2 => 0b00,
            Self::G16 => 0b01,
            Self::G4 => 0b10,
            Self::G8 => 0b11,
        }
    }

    /// Sensitivity in µg per LSB (61, 122, 244, 488).
    pub fn micro_g_per_lsb(self) -> u32 {
        match self {
            Self::G2 => 61,
            Self::G4 => 122,
            Self::G8 => 244,
            Self::G16 => 488,
        }
    }
}

/// Gyroscope full scale.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum GyroRange {
    /// ±125 dps.
    Dps125,
    /// ±250 dps.
    Dps250,
    /// ±500 dps.
    Dps500,
    /// ±1000 dps.
    Dps1000,
    /// ±2000 dps.
    Dps2000,
}

impl GyroRange {
    /// The `FS_G[3:2] FS_125[1]` bits as they sit in `CTRL2_G`.
    pub fn bits(self) -> u8 {
        match self {
            Self::Dps125 => 0b0010,
            Self::Dps250 => 0b0000,
            Self::Dps500 => 0b0100,
            Self::Dps1000 => 0b1000,
            Self::Dps2000 => 0b1100,
        }
    }

    /// Sensitivity in µdps per LSB (4375, 8750, 17500, 35000, 70000).
    pub fn micro_dps_per_lsb(self) -> u32 {
        match self {
            Self::Dps125 => 4_375,
            Self::Dps250 => 8_750,
            Self::Dps500 => 17_500,
            Self::Dps1000 => 35_000,
            Self::Dps2000 => 70_000,
        }
    }
}

/// What [`Lsm6dso::init`] configures.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Config {
    /// Output data rate of both sensors.
    pub odr: Odr,
    /// Accelerometer full scale.
    pub accel: AccelRange,
    /// Gyroscope full scale.
    pub gyro: GyroRange,
}

impl Config {
    /// For BasicMotions-style activity models sampled at 10 Hz: 12.5 Hz, ±8 g (the recordings
    /// reach 3 g), ±2000 dps (they reach 2000 dps).
    pub const ACTIVITY: Self = Self {
        odr: Odr::Hz12_5,
        accel: AccelRange::G8,
        gyro: GyroRange::Dps2000,
    };

    /// `CTRL1_XL` value: `ODR_XL << 4 | FS_XL << 2`.
    pub fn ctrl1_xl(&self) -> u8 {
        self.odr.code() << 4 | self.accel.code() << 2
    }

    /// `CTRL2_G` value: `ODR_G << 4 | FS_G/FS_125 bits`.
    pub fn ctrl2_g(&self) -> u8 {
        self.odr.code() << 4 | self.gyro.bits()
    }

    /// Size of one LSB of each channel of [`Lsm6dso::read`] in SI units: m/s² for the
    /// accelerometer (`µg * 1e-6 * 9.80665`), rad/s for the gyroscope (`µdps * 1e-6 * π/180`).
    pub fn si_per_lsb(&self) -> [f64; 6] {
        let a = f64::from(self.accel.micro_g_per_lsb()) * 1e-6 * 9.806_65;
        let g = f64::from(self.gyro.micro_dps_per_lsb()) * 1e-6 * core::f64::consts::PI / 180.0;
        [a, a, a, g, g, g]
    }
}

/// Why the LSM6DSO could not be used.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Error<E> {
    /// The bus failed (e.g. no acknowledge: no device at the address).
    I2c(E),
    /// `WHO_AM_I` read something other than [`WHO_AM_I_VALUE`]: another chip answered.
    WrongChip {
        /// The value read.
        found: u8,
    },
}

impl<E: core::fmt::Debug> core::fmt::Display for Error<E> {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        match self {
            Self::I2c(e) => write!(f, "LSM6DSO: I2C error {e:?}"),
            Self::WrongChip { found } => write!(
                f,
                "LSM6DSO: WHO_AM_I reads {found:#04x}, expected {WHO_AM_I_VALUE:#04x}"
            ),
        }
    }
}

/// An LSM6DSO on an I²C bus.
#[derive(Debug)]
pub struct Lsm6dso<I> {
    i2c: I,
    address: u8,
}

impl<I: I2c> Lsm6dso<I> {
    /// A driver for the chip at `address` (nothing is sent yet).
    pub fn new(i2c: I, address: u8) -> Self {
        Self { i2c, address }
    }

    /// Gives the bus back.
    pub fn release(self) -> I {
        self.i2c
    }

    fn read_reg(&mut self, reg: u8) -> Result<u8, Error<I::Error>> {
        let mut b = [0u8];
        self.i2c
            .write_read(self.address, &[reg], &mut b)
            .map_err(Error::I2c)?;
        Ok(b[0])
    }

    fn write_reg(&mut self, reg: u8, value: u8) -> Result<(), Error<I::Error>> {
        self.i2c
            .write(self.address, &[reg, value])
            .map_err(Error::I2c)
    }

    /// Checks `WHO_AM_I`, then writes `CTRL3_C` (BDU, IF_INC), `CTRL1_XL` and `CTRL2_G`.
    /// Nothing is written when the identification fails.
    pub fn init(&mut self, config: &Config) -> Result<(), Error<I::Error>> {
        let found = self.read_reg(reg::WHO_AM_I)?;
        if found != WHO_AM_I_VALUE {
            return Err(Error::WrongChip { found });
        }
        self.write_reg(reg::CTRL3_C, CTRL3_C_BDU_IF_INC)?;
        self.write_reg(reg::CTRL1_XL, config.ctrl1_xl())?;
        self.write_reg(reg::CTRL2_G, config.ctrl2_g())
    }

    /// Whether both a new accelerometer and a new gyroscope sample are ready (`XLDA` and `GDA`).
    pub fn data_ready(&mut self) -> Result<bool, Error<I::Error>> {
        Ok(self.read_reg(reg::STATUS_REG)? & 0b11 == 0b11)
    }

    /// The latest sample, `[ax, ay, az, gx, gy, gz]` in LSB (one 12-byte burst read).
    pub fn read(&mut self) -> Result<[i16; 6], Error<I::Error>> {
        let mut b = [0u8; 12];
        self.i2c
            .write_read(self.address, &[reg::OUTX_L_G], &mut b)
            .map_err(Error::I2c)?;
        let v = |i: usize| i16::from_le_bytes([b[2 * i], b[2 * i + 1]]);
        Ok([v(3), v(4), v(5), v(0), v(1), v(2)])
    }
}

impl<I: I2c> FrameSource for Lsm6dso<I> {
    type Error = Error<I::Error>;

    fn channels(&self) -> usize {
        6
    }

    fn read_frame(&mut self, out: &mut [i16]) -> Result<(), Self::Error> {
        let frame = self.read()?;
        for (o, v) in out.iter_mut().zip(frame) {
            *o = v;
        }
        Ok(())
    }
}
