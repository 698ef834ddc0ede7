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
    /// Print only failures and the summary.
    #[arg(long, short, global = true, conflicts_with = "verbose")]
    pub quiet: bool,
    /// Show cargo's full output and every passing check.
    #[arg(long, short, global = true)]
    pub verbose: bool,
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
    /// Re-check the current exercise on every save; keys: h hint, l list, n next, r re-run, q quit.
    Watch(WatchFlags),
    /// Restore one exercise to its released stub (asks first).
    Reset(ResetFlags),
    /// Draw the diagrams (docs/diagrams → docs/src/img) and step-throughs (docs/traces → docs/src/trace), and build the book with mdbook.
    Docs(DocsFlags),
    /// Run one exercise under a tracer: every process's descriptor table, step by step.
    Trace(TraceFlags),
    // BEGIN STAFF
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
    // END STAFF
}

#[derive(Debug, Args)]
pub struct TraceFlags {
    /// Exercise number or name (3, 03, closing-ends).
    pub exercise: String,
    /// Print every process's table as it was after this step.
    #[arg(long, value_name = "STEP")]
    pub at: Option<usize>,
    /// Also write the steps as one self-contained HTML page (previous/next, a slider).
    #[arg(long, value_name = "FILE")]
    pub html: Option<std::path::PathBuf>,
    /// Keep the tracer's raw log (one JSON record per line) in FILE.
    #[arg(long, value_name = "FILE")]
    pub save_log: Option<std::path::PathBuf>,
    /// Show a saved log instead of running the program (`--save-log` made it).
    #[arg(long, value_name = "FILE", conflicts_with = "save_log")]
    pub from_log: Option<std::path::PathBuf>,
    /// Arguments for the program, after `--`.
    #[arg(last = true)]
    pub args: Vec<String>,
}

#[derive(Debug, Args)]
pub struct WatchFlags {
    /// Look for changes by polling instead of file-system events (for WSL,
    /// network and container file systems where events do not arrive).
    #[arg(long)]
    pub poll: bool,
}

#[derive(Debug, Args)]
pub struct ResetFlags {
    /// Exercise number or name.
    pub exercise: String,
    /// Do not ask: overwrite the exercise's source right away.
    #[arg(long)]
    pub force: bool,
}

#[derive(Debug, Args)]
pub struct DocsFlags {
    /// Only draw the diagrams; do not build the book.
    #[arg(long)]
    pub svg: bool,
    /// Write nothing: exit 1 if a committed diagram differs from its description.
    #[arg(long, requires = "svg")]
    pub check: bool,
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

// BEGIN STAFF
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
    /// Instead: build every mutant of `mutants/` (wrong and acceptable
    /// solutions) and check that each wrong one fails a public check and
    /// each acceptable one passes every check.
    #[arg(long)]
    pub mutants: bool,
    /// With --mutants: how many times to run each mutant's checks (scores
    /// that differ between runs are reported).
    #[arg(long, default_value_t = 1, requires = "mutants")]
    pub runs: u32,
    /// With --mutants: only the mutants of these exercises (number or name).
    #[arg(requires = "mutants")]
    pub exercises: Vec<String>,
}

#[derive(Debug, Args)]
pub struct GradeFlags {
    /// Submissions: student repository folders, or .zip / .tar.gz archives of one.
    #[arg(required = true)]
    pub submissions: Vec<std::path::PathBuf>,
    /// Where results go: DIR/NAME/results.json and DIR/grades.csv.
    #[arg(long, default_value = "grades")]
    pub out: std::path::PathBuf,
    /// How many compiles and checks to run at once (default: one per CPU).
    #[arg(long, short = 'j')]
    pub jobs: Option<usize>,
    /// Grade again submissions that already have results.
    #[arg(long)]
    pub force: bool,
    /// Stop starting work after this many seconds: what is left is reported
    /// as "not graded: time budget exceeded" (the Gradescope autograder uses it).
    #[arg(long, value_name = "SECONDS")]
    pub budget: Option<f64>,
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
    /// What to measure: `pipes` (exercises 14-16 and dd, the default),
    /// `grade`, `isolation` or `trace`.
    #[arg(default_value = "pipes")]
    pub what: String,
}
// END STAFF
