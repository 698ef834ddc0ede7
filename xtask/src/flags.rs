//! The command-line grammar: every subcommand with its arguments and their
//! help, in one table ([`COMMANDS`]), read with `lexopt`.
//!
//! Not clap: a student compiles xtask before their first check, and clap
//! was a sixth of that cold build (its derive, with `syn`, another third).
//! ripgrep made the same trade. The table is enough to parse, to print the
//! usage line and a help page per command in clap's layout, and to keep
//! the exit codes: 2 for a usage error, 0 for `--help` and `--version`.
//! Each command's flags are then read into the plain structs below, which
//! is all the commands see.

use std::ffi::OsString;
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

/// How one argument of a command is written.
#[derive(Debug, Clone, Copy, PartialEq)]
enum Kind {
    /// `--name`, on or off.
    Switch,
    /// `--name VALUE` (or `--name=VALUE`), with the value's name.
    Value(&'static str),
    /// A positional argument; `many` takes every one left.
    Positional { required: bool, many: bool },
}

/// One argument of a command: its long name (the id), short name, kind,
/// help line and default value.
#[derive(Debug)]
struct Arg {
    name: &'static str,
    short: Option<char>,
    kind: Kind,
    help: &'static str,
    default: Option<&'static str>,
}

/// One subcommand: its name, the line the list shows, its arguments, and
/// whether it passes what follows `--` to the program.
#[derive(Debug)]
struct Cmd {
    name: &'static str,
    about: &'static str,
    args: &'static [Arg],
    program_args: bool,
}

const fn switch(name: &'static str, help: &'static str) -> Arg {
    Arg {
        name,
        short: None,
        kind: Kind::Switch,
        help,
        default: None,
    }
}

const fn value(name: &'static str, value_name: &'static str, help: &'static str) -> Arg {
    Arg {
        name,
        short: None,
        kind: Kind::Value(value_name),
        help,
        default: None,
    }
}

const fn positional(name: &'static str, required: bool, many: bool, help: &'static str) -> Arg {
    Arg {
        name,
        short: None,
        kind: Kind::Positional { required, many },
        help,
        default: None,
    }
}

const EXERCISE: Arg = positional("EXERCISE", true, false, "Exercise number or name");

const JOBS: Arg = Arg {
    short: Some('j'),
    ..value(
        "jobs",
        "JOBS",
        "How many checks to run at once (default: one per CPU)",
    )
};

/// Every command, in the order `--help` lists them.
const COMMANDS: &[Cmd] = &[
    Cmd {
        name: "list",
        about: "List the exercises: number, name, title, status, points",
        args: &[],
        program_args: false,
    },
    Cmd {
        name: "run",
        about: "Build and run one exercise with the terminal attached",
        args: &[positional(
            "EXERCISE",
            true,
            false,
            "Exercise number or name (2, 02, childpipe)",
        )],
        program_args: true,
    },
    Cmd {
        name: "check",
        about: "Build the exercises, run their checks, explain each failure",
        args: &[
            positional(
                "EXERCISES",
                false,
                true,
                "Exercises to check (numbers or names); all when none is given",
            ),
            switch(
                "json",
                "Print the results as one JSON document (Gradescope's results.json schema)",
            ),
            JOBS,
        ],
        program_args: false,
    },
    Cmd {
        name: "hint",
        about: "Show the hint of one exercise",
        args: &[EXERCISE],
        program_args: false,
    },
    Cmd {
        name: "watch",
        about: "Re-check the current exercise on every save; keys: h hint, l list, n next, r re-run, q quit",
        args: &[switch(
            "poll",
            "Look for changes by polling instead of file-system events (for WSL, network and container file systems where events do not arrive)",
        )],
        program_args: false,
    },
    Cmd {
        name: "reset",
        about: "Restore one exercise to its released stub (asks first)",
        args: &[
            EXERCISE,
            switch("force", "Do not ask: overwrite the exercise's source right away"),
        ],
        program_args: false,
    },
    Cmd {
        name: "docs",
        about: "Draw the diagrams (docs/diagrams → docs/src/img) and step-throughs (docs/traces → docs/src/trace), and build the book with mdbook",
        args: &[
            switch("svg", "Only draw the diagrams; do not build the book"),
            switch(
                "check",
                "Write nothing: exit 1 if a committed diagram differs from its description (needs --svg)",
            ),
        ],
        program_args: false,
    },
    Cmd {
        name: "trace",
        about: "Run one exercise under a tracer: every process's descriptor table, step by step",
        args: &[
            positional(
                "EXERCISE",
                true,
                false,
                "Exercise number or name (3, 03, closing-ends)",
            ),
            value(
                "at",
                "STEP",
                "Print every process's table as it was after this step",
            ),
            value(
                "html",
                "FILE",
                "Also write the steps as one self-contained HTML page (previous/next, a slider)",
            ),
            value(
                "save-log",
                "FILE",
                "Keep the tracer's raw log (one record per line) in FILE",
            ),
            value(
                "from-log",
                "FILE",
                "Show a saved log instead of running the program (`--save-log` made it)",
            ),
        ],
        program_args: true,
    },
    // BEGIN STAFF
    RELEASE,
    VERIFY,
    GRADE,
    AUTOGRADER,
    BENCH,
    // END STAFF
];

/// The options every command takes.
const GLOBAL: &[Arg] = &[
    Arg {
        short: Some('q'),
        ..switch("quiet", "Print only failures and the summary")
    },
    Arg {
        short: Some('v'),
        ..switch("verbose", "Show cargo's full output and every passing check")
    },
];

/// Parses the process's arguments. A usage error is printed with the
/// command's usage line and exits 2; `--help` and `--version` print and
/// exit 0 (the bare `cargo xtask` prints the help and exits 2).
pub fn parse() -> Flags {
    match parse_from(std::env::args_os().skip(1).collect()) {
        Ok(Parsed::Flags(flags)) => flags,
        Ok(Parsed::Help(text)) => {
            crate::term::out!("{text}");
            std::process::exit(0)
        }
        Err(usage) => {
            eprint!("{usage}");
            std::process::exit(2)
        }
    }
}

/// What the command line asked for.
#[derive(Debug)]
enum Parsed {
    /// A command to run.
    Flags(Flags),
    /// A text to print: a help page, or the version.
    Help(String),
}

/// A usage error, rendered with the usage line it is about; no message
/// at all (a bare `cargo xtask`) shows the help.
#[derive(Debug)]
struct Usage {
    message: Option<String>,
    cmd: Option<&'static Cmd>,
}

impl std::fmt::Display for Usage {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let Some(message) = &self.message else {
            return write!(f, "{}", top_help());
        };
        writeln!(f, "error: {message}\n")?;
        match self.cmd {
            Some(cmd) => writeln!(f, "Usage: cargo xtask {}\n", usage(cmd))?,
            None => writeln!(f, "Usage: cargo xtask [OPTIONS] <COMMAND>\n")?,
        }
        writeln!(f, "For more information, try '--help'.")
    }
}

/// What one command's arguments held: each argument's values by name.
#[derive(Debug, Default)]
struct Matches {
    values: Vec<(&'static str, String)>,
    program_args: Vec<String>,
    quiet: bool,
    verbose: bool,
}

impl Matches {
    fn flag(&self, name: &str) -> bool {
        self.values.iter().any(|(n, _)| *n == name)
    }

    fn all(&self, name: &str) -> Vec<String> {
        self.values
            .iter()
            .filter(|(n, _)| *n == name)
            .map(|(_, v)| v.clone())
            .collect()
    }

    fn one(&self, name: &str) -> Option<String> {
        self.all(name).pop()
    }
}

/// Parses a command line (without the program's name).
fn parse_from(args: Vec<OsString>) -> Result<Parsed, Usage> {
    // What follows the first `--` is the program's, untouched.
    let split = args.iter().position(|a| a == "--");
    let (ours, theirs) = match split {
        Some(i) => (args[..i].to_vec(), args[i + 1..].to_vec()),
        None => (args, Vec::new()),
    };
    let mut p = lexopt::Parser::from_args(ours);
    let mut m = Matches::default();
    let cmd = match command(&mut p, &mut m)? {
        First::Command(cmd) => cmd,
        First::Print(text) => return Ok(Parsed::Help(text)),
    };
    let error = |message: String| Usage {
        message: Some(message),
        cmd: Some(cmd),
    };
    if arguments(cmd, &mut p, &mut m).map_err(error)? == Asked::Help {
        return Ok(Parsed::Help(help(cmd)));
    }
    m.program_args = theirs.iter().map(|a| a.to_string_lossy().into_owned()).collect();
    let command = finish(cmd, &mut m, !theirs.is_empty()).map_err(error)?;
    Ok(Parsed::Flags(Flags {
        quiet: m.quiet,
        verbose: m.verbose,
        command,
    }))
}

/// What comes before a command's own arguments.
enum First {
    /// The command named.
    Command(&'static Cmd),
    /// `--help` or `--version`: a text to print.
    Print(String),
}

/// Reads up to the command's name: the global options, `--help`,
/// `--version`.
fn command(p: &mut lexopt::Parser, m: &mut Matches) -> Result<First, Usage> {
    use lexopt::prelude::*;
    let error = |message: String| Usage {
        message: Some(message),
        cmd: None,
    };
    loop {
        match p.next().map_err(|e| error(e.to_string()))? {
            Some(Short('h') | Long("help")) => return Ok(First::Print(top_help())),
            Some(Short('V') | Long("version")) => {
                return Ok(First::Print(format!(
                    "cargo xtask {}\n",
                    env!("CARGO_PKG_VERSION")
                )));
            }
            Some(Short('q') | Long("quiet")) => m.quiet = true,
            Some(Short('v') | Long("verbose")) => m.verbose = true,
            Some(Value(name)) => {
                let name = name.to_string_lossy().into_owned();
                return COMMANDS
                    .iter()
                    .find(|c| c.name == name)
                    .map(First::Command)
                    .ok_or_else(|| error(format!("unrecognized subcommand '{name}'")));
            }
            Some(other) => return Err(error(format!("unexpected argument '{}'", shown(&other)))),
            None => {
                return Err(Usage {
                    message: None,
                    cmd: None,
                });
            }
        }
    }
}

/// Whether the arguments asked for the command's help page.
#[derive(PartialEq)]
enum Asked {
    Help,
    Nothing,
}

/// Reads the command's own arguments into `m`, each by its table entry.
fn arguments(cmd: &Cmd, p: &mut lexopt::Parser, m: &mut Matches) -> Result<Asked, String> {
    use lexopt::prelude::*;
    let positionals: Vec<&Arg> = cmd
        .args
        .iter()
        .filter(|a| matches!(a.kind, Kind::Positional { .. }))
        .collect();
    let mut next_positional = 0;
    while let Some(arg) = p.next().map_err(|e| e.to_string())? {
        let wanted = match &arg {
            Short('h') | Long("help") => return Ok(Asked::Help),
            Short('q') | Long("quiet") => {
                m.quiet = true;
                continue;
            }
            Short('v') | Long("verbose") => {
                m.verbose = true;
                continue;
            }
            Long(name) => cmd
                .args
                .iter()
                .find(|a| a.name == *name && !matches!(a.kind, Kind::Positional { .. })),
            Short(c) => cmd.args.iter().find(|a| a.short == Some(*c)),
            Value(v) => {
                let Some(a) = positionals.get(next_positional) else {
                    return Err(format!("unexpected argument '{}'", v.to_string_lossy()));
                };
                if !matches!(a.kind, Kind::Positional { many: true, .. }) {
                    next_positional += 1;
                }
                m.values.push((a.name, v.to_string_lossy().into_owned()));
                continue;
            }
        };
        let a = wanted.ok_or_else(|| format!("unexpected argument '{}'", shown(&arg)))?;
        let given = match a.kind {
            Kind::Value(_) => p
                .value()
                .map_err(|e| e.to_string())?
                .to_string_lossy()
                .into_owned(),
            _ => String::new(),
        };
        m.values.push((a.name, given));
    }
    Ok(Asked::Nothing)
}

/// Checks what the table says of the arguments as a whole (required,
/// defaults, `--`, -q against -v), then reads them into the command.
fn finish(cmd: &Cmd, m: &mut Matches, program_args: bool) -> Result<Command, String> {
    for a in cmd.args {
        if let (Kind::Positional { required: true, .. }, false) = (a.kind, m.flag(a.name)) {
            return Err(format!(
                "the following required argument was not provided: {}",
                written(a)
            ));
        }
        if let (Some(default), false) = (a.default, m.flag(a.name)) {
            m.values.push((a.name, default.to_string()));
        }
    }
    if !cmd.program_args && program_args {
        return Err("unexpected argument '--': this command passes no arguments to a program".into());
    }
    if m.quiet && m.verbose {
        return Err("the argument '--quiet' cannot be used with '--verbose'".into());
    }
    read(cmd, m)
}

/// An argument as the user typed it, for an error.
fn shown(arg: &lexopt::Arg<'_>) -> String {
    match arg {
        lexopt::Arg::Short(c) => format!("-{c}"),
        lexopt::Arg::Long(l) => format!("--{l}"),
        lexopt::Arg::Value(v) => v.to_string_lossy().into_owned(),
    }
}

/// A number given to an option, or why it is not one.
fn number<T: std::str::FromStr>(m: &Matches, name: &str, value_name: &str) -> Result<Option<T>, String>
where
    T::Err: std::fmt::Display,
{
    m.one(name)
        .map(|v| {
            v.parse()
                .map_err(|e| format!("invalid value '{v}' for '--{name} <{value_name}>': {e}"))
        })
        .transpose()
}

/// `needs` must be given with `name`, if `name` is.
fn requires(m: &Matches, name: &str, needs: &str) -> Result<(), String> {
    if m.flag(name) && !m.flag(needs) {
        return Err(format!("'--{name}' needs '--{needs}'"));
    }
    Ok(())
}

/// Reads what was parsed into the structs the commands take.
fn read(cmd: &Cmd, m: &Matches) -> Result<Command, String> {
    let exercise = || m.one("EXERCISE").unwrap_or_default();
    Ok(match cmd.name {
        "list" => Command::List,
        "run" => Command::Run {
            exercise: exercise(),
            args: m.program_args.clone(),
        },
        "check" => Command::Check(CheckFlags {
            exercises: m.all("EXERCISES"),
            json: m.flag("json"),
            jobs: number(m, "jobs", "JOBS")?,
        }),
        "hint" => Command::Hint { exercise: exercise() },
        "watch" => Command::Watch(WatchFlags { poll: m.flag("poll") }),
        "reset" => Command::Reset(ResetFlags {
            exercise: exercise(),
            force: m.flag("force"),
        }),
        "docs" => {
            requires(m, "check", "svg")?;
            Command::Docs(DocsFlags {
                svg: m.flag("svg"),
                check: m.flag("check"),
            })
        }
        "trace" => {
            if m.flag("from-log") && m.flag("save-log") {
                return Err("the argument '--from-log' cannot be used with '--save-log'".into());
            }
            Command::Trace(TraceFlags {
                exercise: exercise(),
                at: number(m, "at", "STEP")?,
                html: m.one("html").map(PathBuf::from),
                save_log: m.one("save-log").map(PathBuf::from),
                from_log: m.one("from-log").map(PathBuf::from),
                args: m.program_args.clone(),
            })
        }
        // BEGIN STAFF
        _ => read_staff(cmd, m)?,
        // END STAFF
        #[allow(unreachable_patterns)]
        other => unreachable!("{other} is in COMMANDS but not read"),
    })
}

/// How an argument is written in a usage line or a help page.
fn written(a: &Arg) -> String {
    match a.kind {
        Kind::Switch => format!("--{}", a.name),
        Kind::Value(v) => format!("--{} <{v}>", a.name),
        Kind::Positional { required: true, many } => format!("<{}>{}", a.name, if many { "..." } else { "" }),
        Kind::Positional {
            required: false,
            many,
        } => format!("[{}]{}", a.name, if many { "..." } else { "" }),
    }
}

/// `check [OPTIONS] [EXERCISES]...`.
fn usage(cmd: &Cmd) -> String {
    let mut line = format!("{} [OPTIONS]", cmd.name);
    for a in cmd
        .args
        .iter()
        .filter(|a| matches!(a.kind, Kind::Positional { .. }))
    {
        line.push(' ');
        line.push_str(&written(a));
    }
    if cmd.program_args {
        line.push_str(" [-- <ARGS>...]");
    }
    line
}

/// Two columns: what to type, what it does.
fn table(rows: &[(String, String)]) -> String {
    let width = rows.iter().map(|(l, _)| l.chars().count()).max().unwrap_or(0);
    rows.iter()
        .map(|(left, right)| format!("  {left:width$}  {right}\n"))
        .collect()
}

/// An option's left column: `-j, --jobs <JOBS>` or `    --json`.
fn option_column(a: &Arg) -> String {
    match a.short {
        Some(c) => format!("-{c}, {}", written(a)),
        None => format!("    {}", written(a)),
    }
}

/// One command's help page.
fn help(cmd: &Cmd) -> String {
    let mut page = format!("{}\n\nUsage: cargo xtask {}\n", cmd.about, usage(cmd));
    let mut arguments: Vec<(String, String)> = cmd
        .args
        .iter()
        .filter(|a| matches!(a.kind, Kind::Positional { .. }))
        .map(|a| (written(a), with_default(a)))
        .collect();
    if cmd.program_args {
        arguments.push(("[ARGS]...".into(), "Arguments for the program, after `--`".into()));
    }
    if !arguments.is_empty() {
        page.push_str("\nArguments:\n");
        page.push_str(&table(&arguments));
    }
    let mut options: Vec<(String, String)> = cmd
        .args
        .iter()
        .chain(GLOBAL)
        .filter(|a| !matches!(a.kind, Kind::Positional { .. }))
        .map(|a| (option_column(a), with_default(a)))
        .collect();
    options.push(("-h, --help".into(), "Print help".into()));
    page.push_str("\nOptions:\n");
    page.push_str(&table(&options));
    page
}

fn with_default(a: &Arg) -> String {
    match a.default {
        Some(d) => format!("{} [default: {d}]", a.help),
        None => a.help.to_string(),
    }
}

/// The help of `cargo xtask` itself: every command.
fn top_help() -> String {
    let commands: Vec<(String, String)> = COMMANDS
        .iter()
        .map(|c| (c.name.to_string(), c.about.to_string()))
        .collect();
    let mut options: Vec<(String, String)> = GLOBAL
        .iter()
        .map(|a| (option_column(a), a.help.to_string()))
        .collect();
    options.push(("-h, --help".into(), "Print help".into()));
    options.push(("-V, --version".into(), "Print version".into()));
    format!(
        "ipc-lab: lecture 16 (pipes, fork, threads) as programs, exercises and checks\n\n\
         Usage: cargo xtask [OPTIONS] <COMMAND>\n\nCommands:\n{}\nOptions:\n{}",
        table(&commands),
        table(&options)
    )
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

const RELEASE: Cmd = Cmd {
    name: "release",
    about: "Write the student repository (solutions replaced by todo!, hidden checks removed)",
    args: &[
        positional("OUT", true, false, "Where to write the student repository"),
        switch(
            "force",
            "Write into OUT even if it is not empty (its files may be overwritten)",
        ),
    ],
    program_args: false,
};

const VERIFY: Cmd = Cmd {
    name: "verify",
    about: "Prove the checks bite: references pass everything, released stubs fail",
    args: &[
        positional(
            "EXERCISES",
            false,
            true,
            "With --mutants: only the mutants of these exercises (number or name)",
        ),
        JOBS,
        switch(
            "mutants",
            "Instead: build every mutant of `mutants/` (wrong and acceptable solutions) and check that each wrong one fails a public check and each acceptable one passes every check",
        ),
        value(
            "runs",
            "RUNS",
            "With --mutants: how many times to run each mutant's checks (scores that differ between runs are reported) [default: 1]",
        ),
    ],
    program_args: false,
};

const GRADE: Cmd = Cmd {
    name: "grade",
    about: "Grade submissions: DIR/NAME/results.json and DIR/grades.csv",
    args: &[
        positional(
            "SUBMISSIONS",
            true,
            true,
            "Submissions: student repository folders, or .zip / .tar.gz archives of one",
        ),
        Arg {
            default: Some("grades"),
            ..value(
                "out",
                "OUT",
                "Where results go: DIR/NAME/results.json and DIR/grades.csv",
            )
        },
        Arg {
            short: Some('j'),
            ..value(
                "jobs",
                "JOBS",
                "How many compiles and checks to run at once (default: one per CPU)",
            )
        },
        switch("force", "Grade again submissions that already have results"),
        value(
            "budget",
            "SECONDS",
            "Stop starting work after this many seconds: what is left is reported as \"not graded: time budget exceeded\" (the Gradescope autograder uses it)",
        ),
    ],
    program_args: false,
};

const AUTOGRADER: Cmd = Cmd {
    name: "autograder",
    about: "Write the Gradescope autograder bundle",
    args: &[
        Arg {
            default: Some("autograder"),
            ..value("out", "OUT", "Where to write the bundle")
        },
        switch("force", "Overwrite an existing bundle"),
    ],
    program_args: false,
};

const BENCH: Cmd = Cmd {
    name: "bench",
    about: "Run the benchmarks and print their table",
    args: &[Arg {
        default: Some("pipes"),
        ..positional(
            "WHAT",
            false,
            false,
            "What to measure: `pipes` (exercises 14-16 and dd, the default), `grade`, `isolation` or `trace`",
        )
    }],
    program_args: false,
};

/// Reads a staff command's flags.
fn read_staff(cmd: &Cmd, m: &Matches) -> Result<Command, String> {
    let path = |name: &str| PathBuf::from(m.one(name).unwrap_or_default());
    Ok(match cmd.name {
        "release" => Command::Release(ReleaseFlags {
            out: path("OUT"),
            force: m.flag("force"),
        }),
        "verify" => {
            requires(m, "runs", "mutants")?;
            if !m.flag("mutants") && m.flag("EXERCISES") {
                return Err("exercises are named only with '--mutants'".into());
            }
            Command::Verify(VerifyFlags {
                jobs: number(m, "jobs", "JOBS")?,
                mutants: m.flag("mutants"),
                runs: number(m, "runs", "RUNS")?.unwrap_or(1),
                exercises: m.all("EXERCISES"),
            })
        }
        "grade" => Command::Grade(GradeFlags {
            submissions: m.all("SUBMISSIONS").into_iter().map(PathBuf::from).collect(),
            out: path("out"),
            jobs: number(m, "jobs", "JOBS")?,
            force: m.flag("force"),
            budget: number(m, "budget", "SECONDS")?,
        }),
        "autograder" => Command::Autograder(AutograderFlags {
            out: path("out"),
            force: m.flag("force"),
        }),
        "bench" => Command::Bench(BenchFlags {
            what: m.one("WHAT").unwrap_or_default(),
        }),
        other => unreachable!("{other} is in COMMANDS but not read"),
    })
}
// END STAFF

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(args: &[&str]) -> Result<Parsed, Usage> {
        parse_from(args.iter().map(OsString::from).collect())
    }

    fn flags(args: &[&str]) -> Flags {
        match parse(args) {
            Ok(Parsed::Flags(f)) => f,
            other => panic!("{args:?}: {other:?}"),
        }
    }

    fn error(args: &[&str]) -> String {
        match parse(args) {
            Err(usage) => usage.message.unwrap_or_default(),
            other => panic!("{args:?} was accepted: {other:?}"),
        }
    }

    #[test]
    fn flags_land_in_their_fields() {
        let f = flags(&["trace", "03", "--at", "7", "-q", "--", "--keep-write-end", "--"]);
        assert!(f.quiet && !f.verbose);
        let Command::Trace(t) = f.command else {
            panic!("not trace: {:?}", f.command)
        };
        assert_eq!((t.exercise.as_str(), t.at), ("03", Some(7)));
        assert_eq!(t.args, ["--keep-write-end", "--"]);
        let f = flags(&["-v", "check", "1", "childpipe", "-j3", "--json"]);
        assert!(f.verbose);
        let Command::Check(c) = f.command else {
            panic!("not check: {:?}", f.command)
        };
        assert_eq!(c.exercises, ["1", "childpipe"]);
        assert_eq!((c.json, c.jobs), (true, Some(3)));
        let Command::Trace(t) = flags(&["trace", "5", "--html=page.html"]).command else {
            panic!("not trace")
        };
        assert_eq!(t.html, Some(PathBuf::from("page.html")));
    }

    #[test]
    fn usage_errors_say_what_is_wrong() {
        assert_eq!(error(&["frobnicate"]), "unrecognized subcommand 'frobnicate'");
        assert_eq!(error(&["check", "--bogus"]), "unexpected argument '--bogus'");
        assert!(error(&["run"]).contains("<EXERCISE>"));
        assert!(error(&["hint", "1", "2"]).contains("unexpected argument '2'"));
        assert!(error(&["check", "-q", "-v"]).contains("cannot be used with"));
        assert_eq!(error(&["docs", "--check"]), "'--check' needs '--svg'");
        assert!(error(&["trace", "3", "--at", "x"]).starts_with("invalid value 'x' for '--at <STEP>'"));
        assert!(error(&["trace", "3", "--at"]).contains("--at"));
        assert!(error(&["check", "--", "x"]).contains("'--'"));
        assert!(matches!(parse(&[]), Err(Usage { message: None, .. })));
    }

    #[test]
    fn every_help_page_shows_every_argument() {
        assert!(matches!(parse(&["--help"]), Ok(Parsed::Help(_))));
        assert!(matches!(parse(&["-V"]), Ok(Parsed::Help(v)) if v.starts_with("cargo xtask ")));
        let top = top_help();
        for cmd in COMMANDS {
            assert!(
                top.contains(&format!("  {} ", cmd.name)),
                "{} is not listed",
                cmd.name
            );
            let Ok(Parsed::Help(page)) = parse(&[cmd.name, "--help"]) else {
                panic!("{} --help", cmd.name)
            };
            assert!(page.starts_with(cmd.about), "{page}");
            for a in cmd.args {
                assert!(
                    page.contains(&written(a)),
                    "{}: {} missing from\n{page}",
                    cmd.name,
                    a.name
                );
            }
        }
        let check = help(&COMMANDS[2]);
        assert!(
            check.contains("Usage: cargo xtask check [OPTIONS] [EXERCISES]...\n"),
            "{check}"
        );
        assert!(check.contains("  -j, --jobs <JOBS>  How many checks"), "{check}");
    }
    // BEGIN STAFF

    #[test]
    fn staff_flags_and_defaults() {
        let Command::Grade(g) = flags(&["grade", "a.zip", "b", "--budget", "9.5"]).command else {
            panic!("not grade")
        };
        assert_eq!(g.submissions, [PathBuf::from("a.zip"), PathBuf::from("b")]);
        assert_eq!((g.out, g.budget), (PathBuf::from("grades"), Some(9.5)));
        let Command::Bench(b) = flags(&["bench"]).command else {
            panic!("not bench")
        };
        assert_eq!(b.what, "pipes");
        assert_eq!(error(&["verify", "--runs", "3"]), "'--runs' needs '--mutants'");
        assert!(error(&["grade"]).contains("<SUBMISSIONS>..."));
    }
    // END STAFF
}
