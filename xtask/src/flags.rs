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
    /// Write the student repository (solutions replaced by todo!, hidden checks removed).
    Release(ReleaseFlags),
    /// Prove the checks bite: references pass everything, released stubs fail.
    Verify(VerifyFlags),
    /// Grade submissions: DIR/NAME/results.json and DIR/grades.csv.
    Grade(GradeFlags),
    /// Write the Gradescope autograder bundle.
    Autograder(AutograderFlags),
    /// Run the benchmarks and print their table.
    Bench(BenchFlags),
}

#[derive(Debug, Args)]
pub struct ReleaseFlags {
    /// Where to write the student repository.
    pub out: std::path::PathBuf,
    /// Write into OUT even if it is not empty (its files may be overwritten).
    #[arg(long)]
    pub force: bool,
}

#[derive(Debug, Args)]
pub struct VerifyFlags {
    /// How many checks to run at once (default: one per CPU).
    #[arg(long, short = 'j')]
    pub jobs: Option<usize>,
}

#[derive(Debug, Args)]
pub struct GradeFlags {
    /// Submissions: student repository folders, or .zip / .tar.gz archives of one.
    #[arg(required = true)]
    pub submissions: Vec<std::path::PathBuf>,
    /// Where results go: DIR/NAME/results.json and DIR/grades.csv.
    #[arg(long, default_value = "grades")]
    pub out: std::path::PathBuf,
    /// How many submissions to grade at once (default: one per CPU).
    #[arg(long, short = 'j')]
    pub jobs: Option<usize>,
    /// Grade again submissions that already have results.
    #[arg(long)]
    pub force: bool,
}

#[derive(Debug, Args)]
pub struct AutograderFlags {
    /// Where to write the bundle.
    #[arg(long, default_value = "autograder")]
    pub out: std::path::PathBuf,
    /// Overwrite an existing bundle.
    #[arg(long)]
    pub force: bool,
}

#[derive(Debug, Args)]
pub struct BenchFlags {
    /// What to measure: `pipes` (exercises 14-16 and dd, the default) or `grade`.
    #[arg(default_value = "pipes")]
    pub what: String,
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
