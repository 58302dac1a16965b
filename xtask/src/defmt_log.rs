//! Decodes the firmware's defmt log with the `defmt-decoder` crate (the ELF holds the table).
use anyhow::{Context, Result};
use defmt_decoder::{DecodeError, Table};
use std::path::Path;

/// The log lines in `log` (raw defmt frames written by the firmware), decoded with `elf`.
pub fn decode(elf: &Path, log: &Path) -> Result<Vec<String>> {
    let elf_bytes = std::fs::read(elf).with_context(|| format!("read {}", elf.display()))?;
    let raw = std::fs::read(log).with_context(|| format!("read {}", log.display()))?;
    let table = Table::parse(&elf_bytes)
        .with_context(|| format!("parse the defmt table of {}", elf.display()))?
        .with_context(|| format!("{} has no defmt table", elf.display()))?;
    let mut dec = table.new_stream_decoder();
    dec.received(&raw);
    let mut lines = Vec::new();
    loop {
        match dec.decode() {
            Ok(frame) => lines.push(frame.display(false).to_string()),
            Err(DecodeError::UnexpectedEof) => break,
            Err(DecodeError::Malformed) => {
                lines.push("(malformed defmt frame)".into());
                if !table.encoding().can_recover() {
                    break;
                }
            }
        }
    }
    Ok(lines)
}

/// Prints the decoded log, prefixed, or why it could not be decoded.
pub fn print(elf: &Path, log: &Path) {
    match decode(elf, log) {
        Ok(lines) => lines.iter().for_each(|l| println!("  [fw] {l}")),
        Err(e) => println!("  [fw] (defmt log not decoded: {e:#})"),
    }
}
