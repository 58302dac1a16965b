//! `snn inspect MODEL [--json]`: a model file's header and layer table (the library's
//! [`crate::deploy::inspect`]); a corrupt file is refused with the decoder's reason.
use std::path::PathBuf;

use clap::Args;

use super::CliResult;

/// Options of `snn inspect`.
#[derive(Args, Debug)]
pub struct InspectArgs {
    /// The model file (written by `snn export`).
    pub model: PathBuf,
    /// Print the model card as JSON (one line) instead of the table.
    #[arg(long)]
    pub json: bool,
}

/// Runs `snn inspect`.
pub fn run(args: InspectArgs) -> CliResult {
    let card = crate::deploy::inspect::card_of(&args.model)?;
    if args.json {
        let v = serde_json::to_string(&card)
            .map_err(|e| super::CliError::runtime(format!("cannot serialise the card: {e}")))?;
        println!("{v}");
    } else {
        print!("{}", crate::deploy::inspect::render(&card));
    }
    Ok(())
}
