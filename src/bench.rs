//! `maillage bench`: the benchmarks, printing their figures.

use clap::Args;

#[derive(Debug, Args)]
pub struct BenchArgs {
    /// all, propagation, catchup, reconnect or writes.
    #[arg(default_value = "all")]
    pub which: String,
}

pub async fn run(_args: BenchArgs, _json: bool) -> anyhow::Result<()> {
    anyhow::bail!("pas encore")
}
