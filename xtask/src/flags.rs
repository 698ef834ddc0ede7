//! The command-line grammar, declared with clap's builder.
//!
//! The builder, not clap's derive: a student compiles xtask before their
//! first check, and the derive macro would bring `syn` and `clap_derive`
//! into that cold build. The grammar is declared once in [`cli`]; each
//! subcommand's flags are then read into the plain structs below, which is
//! all the commands see.

use clap::{Arg, ArgAction, ArgMatches, value_parser};
use std::path::PathBuf;

/// The whole command line.
#[derive(Debug)]
pub struct Flags {
    /// Print only failures and the summary.
    pub quiet: bool,
    /// Show cargo's full output and every passing check.
    pub verbose: bool,
    /// The subcommand and its flags.
    pub command: Command,
}

/// A subcommand and its flags.
#[derive(Debug)]
pub enum Command {
    /// List the exercises: number, name, title, status, points.
    List,
    /// Build and run one exercise with the terminal attached.
    Run {
        /// Exercise number or name (2, 02, childpipe).
        exercise: String,
        /// Arguments for the program, after `--`.
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

#[derive(Debug)]
pub struct TraceFlags {
    /// Exercise number or name (3, 03, closing-ends).
    pub exercise: String,
    /// Print every process's table as it was after this step.
    pub at: Option<usize>,
    /// Also write the steps as one self-contained HTML page (previous/next, a slider).
    pub html: Option<PathBuf>,
    /// Keep the tracer's raw log (one record per line) in FILE.
    pub save_log: Option<PathBuf>,
    /// Show a saved log instead of running the program (`--save-log` made it).
    pub from_log: Option<PathBuf>,
    /// Arguments for the program, after `--`.
    pub args: Vec<String>,
}

#[derive(Debug)]
pub struct WatchFlags {
    /// Look for changes by polling instead of file-system events (for WSL,
    /// network and container file systems where events do not arrive).
    pub poll: bool,
}

#[derive(Debug)]
pub struct ResetFlags {
    /// Exercise number or name.
    pub exercise: String,
    /// Do not ask: overwrite the exercise's source right away.
    pub force: bool,
}

#[derive(Debug)]
pub struct DocsFlags {
    /// Only draw the diagrams; do not build the book.
    pub svg: bool,
    /// Write nothing: exit 1 if a committed diagram differs from its description.
    pub check: bool,
}

#[derive(Debug)]
pub struct CheckFlags {
    /// Exercises to check (numbers or names); all when none is given.
    pub exercises: Vec<String>,
    /// Print the results as one JSON document (Gradescope's results.json schema).
    pub json: bool,
    /// How many checks to run at once (default: one per CPU).
    pub jobs: Option<usize>,
}

/// Parses the process's arguments; on a usage error clap prints it and
/// exits with 2 (and `--help`, `--version` print and exit 0).
pub fn parse() -> Flags {
    read(&cli().get_matches())
}

/// The grammar: every subcommand, its arguments and their help.
fn cli() -> clap::Command {
    use clap::Command as C;
    let cli = C::new("cargo xtask")
        .bin_name("cargo xtask")
        .version(env!("CARGO_PKG_VERSION"))
        .about("ipc-lab: lecture 16 (pipes, fork, threads) as programs, exercises and checks")
        .disable_help_subcommand(true)
        .subcommand_required(true)
        .arg_required_else_help(true)
        .arg(
            switch("quiet", "Print only failures and the summary")
                .short('q')
                .global(true)
                .conflicts_with("verbose"),
        )
        .arg(switch("verbose", "Show cargo's full output and every passing check").short('v').global(true))
        .subcommand(C::new("list").about("List the exercises: number, name, title, status, points"))
        .subcommand(
            C::new("run")
                .about("Build and run one exercise with the terminal attached")
                .arg(exercise("Exercise number or name (2, 02, childpipe)"))
                .arg(program_args()),
        )
        .subcommand(
            C::new("check")
                .about("Build the exercises, run their checks, explain each failure")
                .arg(
                    Arg::new("exercises")
                        .value_name("EXERCISES")
                        .num_args(1..)
                        .action(ArgAction::Append)
                        .help("Exercises to check (numbers or names); all when none is given"),
                )
                .arg(switch("json", "Print the results as one JSON document (Gradescope's results.json schema)"))
                .arg(jobs()),
        )
        .subcommand(C::new("hint").about("Show the hint of one exercise").arg(exercise("Exercise number or name")))
        .subcommand(
            C::new("watch")
                .about("Re-check the current exercise on every save; keys: h hint, l list, n next, r re-run, q quit")
                .arg(switch(
                    "poll",
                    "Look for changes by polling instead of file-system events (for WSL, network and container file systems where events do not arrive)",
                )),
        )
        .subcommand(
            C::new("reset")
                .about("Restore one exercise to its released stub (asks first)")
                .arg(exercise("Exercise number or name"))
                .arg(switch("force", "Do not ask: overwrite the exercise's source right away")),
        )
        .subcommand(
            C::new("docs")
                .about("Draw the diagrams (docs/diagrams → docs/src/img) and step-throughs (docs/traces → docs/src/trace), and build the book with mdbook")
                .arg(switch("svg", "Only draw the diagrams; do not build the book"))
                .arg(
                    switch("check", "Write nothing: exit 1 if a committed diagram differs from its description")
                        .requires("svg"),
                ),
        )
        .subcommand(
            C::new("trace")
                .about("Run one exercise under a tracer: every process's descriptor table, step by step")
                .arg(exercise("Exercise number or name (3, 03, closing-ends)"))
                .arg(
                    Arg::new("at")
                        .long("at")
                        .value_name("STEP")
                        .value_parser(value_parser!(usize))
                        .help("Print every process's table as it was after this step"),
                )
                .arg(file("html", "Also write the steps as one self-contained HTML page (previous/next, a slider)"))
                .arg(file("save-log", "Keep the tracer's raw log (one record per line) in FILE"))
                .arg(
                    file("from-log", "Show a saved log instead of running the program (`--save-log` made it)")
                        .conflicts_with("save-log"),
                )
                .arg(program_args()),
        );
    // BEGIN STAFF
    let cli = cli.subcommands(staff_commands());
    // END STAFF
    cli
}

/// A `--name` that is on or off.
fn switch(name: &'static str, help: &'static str) -> Arg {
    Arg::new(name).long(name).action(ArgAction::SetTrue).help(help)
}

/// The one exercise a command is about.
fn exercise(help: &'static str) -> Arg {
    Arg::new("exercise")
        .value_name("EXERCISE")
        .required(true)
        .help(help)
}

/// A `--name FILE`.
fn file(name: &'static str, help: &'static str) -> Arg {
    Arg::new(name)
        .long(name)
        .value_name("FILE")
        .value_parser(value_parser!(PathBuf))
        .help(help)
}

/// `-j, --jobs N`.
fn jobs() -> Arg {
    Arg::new("jobs")
        .long("jobs")
        .short('j')
        .value_name("JOBS")
        .value_parser(value_parser!(usize))
        .help("How many checks to run at once (default: one per CPU)")
}

/// Everything after `--`, for the program.
fn program_args() -> Arg {
    Arg::new("args")
        .value_name("ARGS")
        .last(true)
        .num_args(1..)
        .action(ArgAction::Append)
        .help("Arguments for the program, after `--`")
}

/// Reads what clap parsed into the structs the commands take.
fn read(m: &ArgMatches) -> Flags {
    let (name, sub) = m.subcommand().expect("clap requires a subcommand");
    let command = match name {
        "list" => Command::List,
        "run" => Command::Run {
            exercise: one(sub, "exercise").unwrap_or_default(),
            args: many(sub, "args"),
        },
        "check" => Command::Check(CheckFlags {
            exercises: many(sub, "exercises"),
            json: sub.get_flag("json"),
            jobs: sub.get_one("jobs").copied(),
        }),
        "hint" => Command::Hint {
            exercise: one(sub, "exercise").unwrap_or_default(),
        },
        "watch" => Command::Watch(WatchFlags {
            poll: sub.get_flag("poll"),
        }),
        "reset" => Command::Reset(ResetFlags {
            exercise: one(sub, "exercise").unwrap_or_default(),
            force: sub.get_flag("force"),
        }),
        "docs" => Command::Docs(DocsFlags {
            svg: sub.get_flag("svg"),
            check: sub.get_flag("check"),
        }),
        "trace" => Command::Trace(TraceFlags {
            exercise: one(sub, "exercise").unwrap_or_default(),
            at: sub.get_one("at").copied(),
            html: sub.get_one("html").cloned(),
            save_log: sub.get_one("save-log").cloned(),
            from_log: sub.get_one("from-log").cloned(),
            args: many(sub, "args"),
        }),
        // BEGIN STAFF
        _ => read_staff(name, sub),
        // END STAFF
        #[allow(unreachable_patterns)]
        _ => unreachable!("clap accepts only the subcommands declared in cli()"),
    };
    Flags {
        quiet: m.get_flag("quiet"),
        verbose: m.get_flag("verbose"),
        command,
    }
}

/// A string argument's value.
fn one(m: &ArgMatches, id: &str) -> Option<String> {
    m.get_one::<String>(id).cloned()
}

/// A repeated argument's values, in order.
fn many<T: Clone + Send + Sync + 'static>(m: &ArgMatches, id: &str) -> Vec<T> {
    m.get_many::<T>(id)
        .map(|values| values.cloned().collect())
        .unwrap_or_default()
}

// BEGIN STAFF
#[derive(Debug)]
pub struct ReleaseFlags {
    /// Where to write the student repository.
    pub out: PathBuf,
    /// Write into OUT even if it is not empty (its files may be overwritten).
    pub force: bool,
}

#[derive(Debug)]
pub struct VerifyFlags {
    /// How many checks to run at once (default: one per CPU).
    pub jobs: Option<usize>,
    /// Instead: build every mutant of `mutants/` (wrong and acceptable
    /// solutions) and check that each wrong one fails a public check and
    /// each acceptable one passes every check.
    pub mutants: bool,
    /// With --mutants: how many times to run each mutant's checks (scores
    /// that differ between runs are reported).
    pub runs: u32,
    /// With --mutants: only the mutants of these exercises (number or name).
    pub exercises: Vec<String>,
}

#[derive(Debug)]
pub struct GradeFlags {
    /// Submissions: student repository folders, or .zip / .tar.gz archives of one.
    pub submissions: Vec<PathBuf>,
    /// Where results go: DIR/NAME/results.json and DIR/grades.csv.
    pub out: PathBuf,
    /// How many compiles and checks to run at once (default: one per CPU).
    pub jobs: Option<usize>,
    /// Grade again submissions that already have results.
    pub force: bool,
    /// Stop starting work after this many seconds: what is left is reported
    /// as "not graded: time budget exceeded" (the Gradescope autograder uses it).
    pub budget: Option<f64>,
}

#[derive(Debug)]
pub struct AutograderFlags {
    /// Where to write the bundle.
    pub out: PathBuf,
    /// Overwrite an existing bundle.
    pub force: bool,
}

#[derive(Debug)]
pub struct BenchFlags {
    /// What to measure: `pipes` (exercises 14-16 and dd, the default),
    /// `grade`, `isolation` or `trace`.
    pub what: String,
}

/// Course staff's subcommands.
fn staff_commands() -> Vec<clap::Command> {
    use clap::Command as C;
    vec![
        C::new("release")
            .about("Write the student repository (solutions replaced by todo!, hidden checks removed)")
            .arg(
                Arg::new("out")
                    .value_name("OUT")
                    .required(true)
                    .value_parser(value_parser!(PathBuf))
                    .help("Where to write the student repository"),
            )
            .arg(switch("force", "Write into OUT even if it is not empty (its files may be overwritten)")),
        C::new("verify")
            .about("Prove the checks bite: references pass everything, released stubs fail")
            .arg(jobs())
            .arg(switch(
                "mutants",
                "Instead: build every mutant of `mutants/` (wrong and acceptable solutions) and check that each wrong one fails a public check and each acceptable one passes every check",
            ))
            .arg(
                Arg::new("runs")
                    .long("runs")
                    .value_name("RUNS")
                    .value_parser(value_parser!(u32))
                    .default_value("1")
                    .requires("mutants")
                    .help("With --mutants: how many times to run each mutant's checks (scores that differ between runs are reported)"),
            )
            .arg(
                Arg::new("exercises")
                    .value_name("EXERCISES")
                    .num_args(1..)
                    .action(ArgAction::Append)
                    .requires("mutants")
                    .help("With --mutants: only the mutants of these exercises (number or name)"),
            ),
        C::new("grade")
            .about("Grade submissions: DIR/NAME/results.json and DIR/grades.csv")
            .arg(
                Arg::new("submissions")
                    .value_name("SUBMISSIONS")
                    .required(true)
                    .num_args(1..)
                    .action(ArgAction::Append)
                    .value_parser(value_parser!(PathBuf))
                    .help("Submissions: student repository folders, or .zip / .tar.gz archives of one"),
            )
            .arg(
                Arg::new("out")
                    .long("out")
                    .value_name("OUT")
                    .value_parser(value_parser!(PathBuf))
                    .default_value("grades")
                    .help("Where results go: DIR/NAME/results.json and DIR/grades.csv"),
            )
            .arg(jobs().help("How many compiles and checks to run at once (default: one per CPU)"))
            .arg(switch("force", "Grade again submissions that already have results"))
            .arg(
                Arg::new("budget")
                    .long("budget")
                    .value_name("SECONDS")
                    .value_parser(value_parser!(f64))
                    .help("Stop starting work after this many seconds: what is left is reported as \"not graded: time budget exceeded\" (the Gradescope autograder uses it)"),
            ),
        C::new("autograder")
            .about("Write the Gradescope autograder bundle")
            .arg(
                Arg::new("out")
                    .long("out")
                    .value_name("OUT")
                    .value_parser(value_parser!(PathBuf))
                    .default_value("autograder")
                    .help("Where to write the bundle"),
            )
            .arg(switch("force", "Overwrite an existing bundle")),
        C::new("bench")
            .about("Run the benchmarks and print their table")
            .arg(
                Arg::new("what")
                    .value_name("WHAT")
                    .default_value("pipes")
                    .help("What to measure: `pipes` (exercises 14-16 and dd, the default), `grade`, `isolation` or `trace`"),
            ),
    ]
}

/// Reads a staff subcommand's flags.
fn read_staff(name: &str, sub: &ArgMatches) -> Command {
    let path = |id: &str| sub.get_one::<PathBuf>(id).cloned().unwrap_or_default();
    match name {
        "release" => Command::Release(ReleaseFlags {
            out: path("out"),
            force: sub.get_flag("force"),
        }),
        "verify" => Command::Verify(VerifyFlags {
            jobs: sub.get_one("jobs").copied(),
            mutants: sub.get_flag("mutants"),
            runs: sub.get_one("runs").copied().unwrap_or(1),
            exercises: many(sub, "exercises"),
        }),
        "grade" => Command::Grade(GradeFlags {
            submissions: many(sub, "submissions"),
            out: path("out"),
            jobs: sub.get_one("jobs").copied(),
            force: sub.get_flag("force"),
            budget: sub.get_one("budget").copied(),
        }),
        "autograder" => Command::Autograder(AutograderFlags {
            out: path("out"),
            force: sub.get_flag("force"),
        }),
        "bench" => Command::Bench(BenchFlags {
            what: one(sub, "what").unwrap_or_default(),
        }),
        _ => unreachable!("clap accepts only the subcommands declared in cli()"),
    }
}
// END STAFF

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_grammar_is_consistent() {
        // clap's own checks: unique ids, `requires`/`conflicts_with` naming
        // arguments that exist, positional arguments in a valid order.
        cli().debug_assert();
    }

    #[test]
    fn flags_land_in_their_fields() {
        let f = read(&cli().get_matches_from([
            "cargo xtask",
            "trace",
            "03",
            "--at",
            "7",
            "-q",
            "--",
            "--keep-write-end",
        ]));
        assert!(f.quiet && !f.verbose);
        let Command::Trace(t) = f.command else {
            panic!("not trace: {:?}", f.command)
        };
        assert_eq!((t.exercise.as_str(), t.at), ("03", Some(7)));
        assert_eq!(t.args, ["--keep-write-end"]);
        let f =
            read(&cli().get_matches_from(["cargo xtask", "check", "1", "childpipe", "-j", "3", "--json"]));
        let Command::Check(c) = f.command else {
            panic!("not check: {:?}", f.command)
        };
        assert_eq!(c.exercises, ["1", "childpipe"]);
        assert_eq!((c.json, c.jobs), (true, Some(3)));
        assert!(
            cli()
                .try_get_matches_from(["cargo xtask", "check", "-q", "-v"])
                .is_err()
        );
        assert!(
            cli()
                .try_get_matches_from(["cargo xtask", "docs", "--check"])
                .is_err()
        );
    }
}
