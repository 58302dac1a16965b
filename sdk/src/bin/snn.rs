//! The `snn` command-line tool.
fn main() {
    println!("snn: not yet");
}
