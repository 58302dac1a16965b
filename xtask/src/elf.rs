//! Just enough ELF32 reading to size a firmware image: allocated sections and their sizes.
use anyhow::{bail, Context, Result};

/// An allocated section.
pub struct Section {
    /// Name, e.g. `.text`.
    pub name: String,
    /// Size in bytes.
    pub size: u64,
    /// Occupies space in the file (PROGBITS), i.e. is stored in flash.
    pub stored: bool,
    /// Writable (lives in RAM).
    pub writable: bool,
}

fn u16_at(b: &[u8], o: usize) -> Result<u16> {
    let s = b.get(o..o + 2).context("ELF truncated")?;
    Ok(u16::from_le_bytes([s[0], s[1]]))
}

fn u32_at(b: &[u8], o: usize) -> Result<u32> {
    let s = b.get(o..o + 4).context("ELF truncated")?;
    Ok(u32::from_le_bytes([s[0], s[1], s[2], s[3]]))
}

/// The allocated sections of a little-endian ELF32 file.
pub fn sections(elf: &[u8]) -> Result<Vec<Section>> {
    if elf.get(..4) != Some(b"\x7fELF") || elf.get(4) != Some(&1) || elf.get(5) != Some(&1) {
        bail!("not a little-endian ELF32 file");
    }
    let shoff = u32_at(elf, 0x20)? as usize;
    let shentsize = usize::from(u16_at(elf, 0x2E)?);
    let shnum = usize::from(u16_at(elf, 0x30)?);
    let shstrndx = usize::from(u16_at(elf, 0x32)?);
    let sh = |i: usize| shoff + i * shentsize;
    let strtab = u32_at(elf, sh(shstrndx) + 0x10)? as usize;
    let mut out = Vec::new();
    for i in 0..shnum {
        let base = sh(i);
        let (name_off, kind, flags) = (
            u32_at(elf, base)? as usize,
            u32_at(elf, base + 4)?,
            u32_at(elf, base + 8)?,
        );
        let size = u64::from(u32_at(elf, base + 0x14)?);
        const SHF_WRITE: u32 = 1;
        const SHF_ALLOC: u32 = 2;
        const SHT_NOBITS: u32 = 8;
        if flags & SHF_ALLOC == 0 || size == 0 {
            continue;
        }
        let name_bytes = elf
            .get(strtab + name_off..)
            .context("ELF names truncated")?;
        let end = name_bytes.iter().position(|&b| b == 0).unwrap_or(0);
        out.push(Section {
            name: String::from_utf8_lossy(&name_bytes[..end]).into_owned(),
            size,
            stored: kind != SHT_NOBITS,
            writable: flags & SHF_WRITE != 0,
        });
    }
    Ok(out)
}

/// `(flash, ram)` bytes: flash holds every stored section (code, constants, `.data`'s initial
/// values), RAM every writable one (`.data`, `.bss`, `.uninit`; the stack is what is left, so
/// riscv-rt's `.stack` and `.heap` sections, which span the rest of RAM, are not counted).
pub fn flash_ram(elf: &[u8]) -> Result<(u64, u64)> {
    let s = sections(elf)?;
    let flash = s.iter().filter(|s| s.stored).map(|s| s.size).sum();
    let ram = s
        .iter()
        .filter(|s| s.writable && s.name != ".stack" && s.name != ".heap")
        .map(|s| s.size)
        .sum();
    Ok((flash, ram))
}
