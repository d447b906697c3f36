//! The command-line flags every binary takes.

use std::path::PathBuf;

/// Flags shared by every binary; a binary with subcommands flattens these into its own parser.
#[derive(Debug, Clone, Default, clap::Args)]
pub struct Cli {
    /// Configuration file (TOML). Environment variables override it.
    #[arg(long, value_name = "PATH")]
    pub config: Option<PathBuf>,

    /// Print the default configuration as TOML and exit.
    #[arg(long)]
    pub print_default_config: bool,
}
