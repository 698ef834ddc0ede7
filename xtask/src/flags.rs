//! The command-line grammar, declared with clap.

use clap::{Args, Parser, Subcommand};

/// ipc-lab: lecture 16 (pipes, fork, threads) as programs, exercises and checks.
#[derive(Debug, Parser)]
#[command(
    name = "cargo xtask",
    bin_name = "cargo xtask",
    version,
    disable_help_subcommand = true
)]
pub struct Flags {
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// List the exercises: number, name, title, status, points.
    List,
    /// Build and run one exercise with the terminal attached.
    Run {
        /// Exercise number or name (2, 02, childpipe).
        exercise: String,
        /// Arguments for the program, after `--`.
        #[arg(last = true)]
        args: Vec<String>,
    },
    /// Build the exercises, run their checks, explain each failure.
    Check(CheckFlags),
    /// Show the hint of one exercise.
    Hint {
        /// Exercise number or name.
        exercise: String,
    },
}

#[derive(Debug, Args)]
pub struct CheckFlags {
    /// Exercises to check (numbers or names); all when none is given.
    pub exercises: Vec<String>,
    /// Print the results as one JSON document (Gradescope's results.json schema).
    #[arg(long)]
    pub json: bool,
    /// How many checks to run at once (default: one per CPU).
    #[arg(long, short = 'j')]
    pub jobs: Option<usize>,
}

/// Parses the process's arguments; on a usage error clap prints it and
/// exits with 2.
pub fn parse() -> Flags {
    Flags::parse()
}
