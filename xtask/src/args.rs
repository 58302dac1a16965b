//! Option parsing shared by the commands: `--name value` pairs, nothing else; anything unknown
//! is an error naming the option and the command.
use anyhow::{bail, Context, Result};
use std::collections::HashMap;
use std::str::FromStr;

/// Parsed `--name value` options of one command.
#[derive(Debug)]
pub struct Opts {
    cmd: &'static str,
    values: HashMap<String, String>,
}

impl Opts {
    /// Parses `args` for `cmd`, accepting only the options in `allowed` (without `--`).
    pub fn parse(cmd: &'static str, args: &[String], allowed: &[&str]) -> Result<Self> {
        let mut values = HashMap::new();
        let mut it = args.iter();
        while let Some(a) = it.next() {
            let Some(name) = a.strip_prefix("--") else {
                bail!("`{cmd}`: unexpected argument `{a}`; run `cargo xtask help`");
            };
            let (name, value) = match name.split_once('=') {
                Some((n, v)) => (n.to_string(), v.to_string()),
                None => {
                    let v = it
                        .next()
                        .with_context(|| format!("`{cmd}`: option --{name} needs a value"))?;
                    (name.to_string(), v.clone())
                }
            };
            if !allowed.contains(&name.as_str()) {
                let list: Vec<String> = allowed.iter().map(|a| format!("--{a}")).collect();
                bail!(
                    "`{cmd}`: unknown option --{name} (accepted: {})",
                    if list.is_empty() {
                        "none".to_string()
                    } else {
                        list.join(", ")
                    }
                );
            }
            values.insert(name, value);
        }
        Ok(Self { cmd, values })
    }

    /// The raw value of `--name`.
    pub fn get(&self, name: &str) -> Option<&str> {
        self.values.get(name).map(String::as_str)
    }

    /// `--name` parsed as `T`, or `default`.
    pub fn num<T: FromStr>(&self, name: &str, default: T) -> Result<T> {
        match self.get(name) {
            None => Ok(default),
            Some(v) => v.parse().map_err(|_| {
                anyhow::anyhow!("`{}`: --{name} expects a number, got `{v}`", self.cmd)
            }),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn args(a: &[&str]) -> Vec<String> {
        a.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn parses_values_and_refuses_unknown_options() {
        let o = Opts::parse(
            "hil",
            &args(&["--samples", "12", "--board=qemu"]),
            &["samples", "board"],
        )
        .unwrap();
        assert_eq!(o.num("samples", 0usize).unwrap(), 12);
        assert_eq!(o.get("board"), Some("qemu"));
        assert_eq!(o.num("missing", 7u8).unwrap(), 7);
        let e = Opts::parse("hil", &args(&["--bogus", "1"]), &["samples"]).unwrap_err();
        assert!(e.to_string().contains("--bogus"), "{e}");
        assert!(Opts::parse("hil", &args(&["--samples"]), &["samples"]).is_err());
        assert!(Opts::parse("hil", &args(&["stray"]), &["samples"]).is_err());
        let o = Opts::parse("hil", &args(&["--samples", "x"]), &["samples"]).unwrap();
        assert!(o.num("samples", 0usize).is_err());
    }
}
