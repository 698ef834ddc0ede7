//! Drawing: the words and colours of the watch, made from its [`State`].
//!
//! Lines are made of [`Span`]s (a piece of text with one [`Style`]), so the
//! same lines serve both faces: the screen, redrawn in place, wrapped and
//! cut to the terminal's size ([`Screen::draw`]), and plain lines printed
//! once each (`print_*`).

use super::files::POLL;
use super::state::{Busy, How, LastCheck, Note, State, Warning};
use super::terminal;
use crate::table::{Row, STATUS_WIDTH, Status};
use crate::term::{Paint, Verbosity, out, verbosity};
use checks::ExerciseResult;
use std::time::Duration;

/// A piece of a line with one style.
pub type Span = (Style, String);

/// A line of spans.
pub type Line = Vec<Span>;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Style {
    Plain,
    Dim,
    Bold,
    Red,
    Green,
    Yellow,
}

fn span(style: Style, text: impl Into<String>) -> Span {
    (style, text.into())
}

fn paint(p: Paint, (style, text): &Span) -> String {
    match style {
        Style::Plain => text.clone(),
        Style::Dim => p.dim(text),
        Style::Bold => p.bold(text),
        Style::Red => p.red(text),
        Style::Green => p.green(text),
        Style::Yellow => p.yellow(text),
    }
}

fn label(i: usize) -> String {
    checks::catalogue()[i].label()
}

/// How saves are noticed, in words.
pub fn how(how: &How) -> String {
    let every = POLL.as_secs_f64();
    match how {
        How::Events => "watching crates/ for changes".to_string(),
        How::Polling => format!("watching crates/ for changes (polling every {every:.1} s, --poll)"),
        How::EventsUnavailable(e) => {
            format!("file events unavailable ({e}); polling crates/ every {every:.1} s")
        }
        How::EventsMissed => format!("file events do not arrive here; polling crates/ every {every:.1} s"),
    }
}

fn warning(w: &Warning) -> Span {
    let text = match w {
        Warning::EventsFailed(e) => format!("file events failed ({e}); the poll still notices saves"),
        Warning::EventsMissed => format!(
            "no file event came for that save (a folder shared from macOS or Windows?): polling every {:.1} s from now on",
            POLL.as_secs_f64()
        ),
    };
    span(Style::Yellow, format!("watch: {text}"))
}

fn note(n: Note) -> Span {
    match n {
        Note::PassesNow(i) => span(Style::Green, format!("✓ {} passes now.", label(i))),
        Note::Passes(i) => span(Style::Green, format!("✓ {} passes.", label(i))),
        Note::FailsToo(i) => span(Style::Red, format!("✗ {} fails (it changed too).", label(i))),
        Note::LastOne => span(Style::Dim, "No other exercise is waiting: this is the last one."),
    }
}

fn busy(b: Busy) -> String {
    match b {
        Busy::Building(i) => format!("building {}…", label(i)),
        Busy::Checking(i) => format!("checking {}…", label(i)),
    }
}

/// The verdict on the current exercise, as lines (none while it is first
/// being built); every failure in full with `all_in_full`, else the first
/// in full and the others by name.
fn verdict_lines(state: &State, all_in_full: bool) -> Vec<Line> {
    let Some(current) = state.current else {
        return all_done_lines(state);
    };
    match &state.last {
        Some((i, last)) if *i == current => last_check_lines(*i, last, all_in_full),
        _ => Vec::new(),
    }
}

/// What the last check of exercise `i` said.
fn last_check_lines(i: usize, last: &LastCheck, all_in_full: bool) -> Vec<Line> {
    match last {
        LastCheck::CargoFailed(err) => {
            vec![vec![span(
                Style::Red,
                format!("✗ {}: could not build: {err}", label(i)),
            )]]
        }
        LastCheck::Ran {
            result,
            build,
            checks,
        } => {
            let mut lines = vec![headline(i, result, *build, *checks)];
            lines.extend(failure_lines(result, all_in_full));
            lines
        }
    }
}

/// "✗ 03 closing-ends: 2 of 4 checks fail  (build 0.40 s, checks 1.20 s)".
fn headline(i: usize, result: &ExerciseResult, build: Duration, checks: Duration) -> Line {
    let total = result.checks.len();
    let failed = result.checks.iter().filter(|c| !c.passed()).count();
    let compile_error = result
        .checks
        .first()
        .is_some_and(|c| c.failure == Some(checks::Failure::DidNotCompile));
    let times = format!(
        "  (build {:.2} s, checks {:.2} s)",
        build.as_secs_f64(),
        checks.as_secs_f64()
    );
    let e = label(i);
    let words = if failed == 0 {
        span(Style::Green, format!("✓ {e}: all {total} checks pass"))
    } else if compile_error {
        span(Style::Red, format!("✗ {e}: it does not compile"))
    } else {
        span(Style::Red, format!("✗ {e}: {failed} of {total} checks fail"))
    };
    vec![words, span(Style::Dim, times)]
}

/// What failed and why. On the screen, one failure at a time: the first in
/// full, the others by name (they often fail for the same reason, and a
/// screen is short). Plain mode and --verbose: all.
fn failure_lines(result: &ExerciseResult, all_in_full: bool) -> Vec<Line> {
    let mut lines = Vec::new();
    let mut shown = 0;
    for c in &result.checks {
        if c.passed() {
            if verbosity() == Verbosity::Verbose {
                lines.push(vec![span(Style::Green, "✓ "), span(Style::Plain, c.name)]);
            }
            continue;
        }
        shown += 1;
        if shown > 1 && !all_in_full {
            if shown == 2 {
                lines.push(vec![]);
            }
            lines.push(vec![
                span(Style::Red, "✗ "),
                span(Style::Plain, c.name),
                span(Style::Dim, " (fails too)"),
            ]);
            continue;
        }
        lines.push(vec![]);
        lines.push(vec![span(Style::Red, "✗ "), span(Style::Bold, c.name)]);
        lines.push(vec![span(Style::Dim, format!("  $ {}", c.command))]);
        for l in c.output.lines() {
            lines.push(vec![span(Style::Plain, format!("  {l}"))]);
        }
    }
    lines
}

fn all_done_lines(state: &State) -> Vec<Line> {
    let total = state.passed.len();
    vec![
        vec![span(
            Style::Green,
            format!("✓ All {total} exercises pass their checks. Well done!"),
        )],
        vec![span(
            Style::Plain,
            "Graders also run hidden checks (other arguments, bigger messages): a program that is \
             right in general passes them. Saving any exercise checks it again; r re-checks them all.",
        )],
    ]
}

fn hint_lines(state: &State) -> Vec<Line> {
    state.current.map(exercise_hint).unwrap_or_default()
}

fn exercise_hint(i: usize) -> Vec<Line> {
    let e = &checks::catalogue()[i];
    vec![vec![span(Style::Yellow, "hint: "), span(Style::Plain, e.hint)]]
}

/// The exercise table in `cols` columns (titles are cut to fit), the
/// current exercise marked.
fn list_lines(state: &State, rows: &[Row], cols: usize) -> Vec<Line> {
    let longest = rows
        .iter()
        .map(|r| r.exercise.title.chars().count())
        .max()
        .unwrap_or(5);
    // mark 2, label 20, status 11, points 7, spaces 3
    let tw = longest.min(cols.saturating_sub(43)).max(5);
    let title = |t: &str| -> String {
        if t.chars().count() <= tw {
            t.to_string()
        } else {
            let cut: String = t.chars().take(tw - 1).collect();
            format!("{cut}…")
        }
    };
    let mut lines = vec![vec![span(
        Style::Bold,
        format!(
            "  {:<20} {:<tw$} {:<STATUS_WIDTH$} {:>6}",
            "exercise", "title", "status", "points"
        ),
    )]];
    for (i, row) in rows.iter().enumerate() {
        let mark = if state.current == Some(i) { "▸ " } else { "  " };
        let style = match row.status {
            Status::Passed => Style::Green,
            Status::Failing => Style::Red,
            Status::Unchecked => Style::Dim,
        };
        let status = row.status.label();
        let pad = STATUS_WIDTH.saturating_sub(status.chars().count());
        lines.push(vec![
            span(Style::Bold, mark),
            span(
                Style::Plain,
                format!("{:<20} {:<tw$} ", row.exercise.label(), title(row.exercise.title)),
            ),
            span(style, status),
            span(Style::Plain, format!("{} {:>6}", " ".repeat(pad), row.points)),
        ]);
    }
    lines
}

fn progress_spans(state: &State, width: usize) -> Line {
    let done = state.done();
    let total = state.passed.len().max(1);
    let cells = width.clamp(10, 40);
    let full = done * cells / total;
    vec![
        span(Style::Plain, "progress "),
        span(Style::Green, "█".repeat(full)),
        span(Style::Dim, "░".repeat(cells - full)),
        span(Style::Bold, format!(" {done}/{total}")),
    ]
}

/// Where the watch shows itself: a screen redrawn in place (interactive),
/// or plain lines.
pub struct Screen {
    /// The full-screen face; else plain lines.
    pub interactive: bool,
    paint: Paint,
    /// The terminal size at the last draw, to redraw after a resize.
    drawn_size: Option<(usize, usize)>,
}

impl Screen {
    pub fn new(interactive: bool) -> Screen {
        Screen {
            interactive,
            paint: Paint::stdout(),
            drawn_size: None,
        }
    }

    /// Whether the terminal changed size since the last draw.
    pub fn resized(&self) -> bool {
        terminal::size() != self.drawn_size
    }

    // ---- plain mode ------------------------------------------------------

    fn print_lines(&self, lines: &[Line]) {
        let mut text = String::new();
        for l in lines {
            text.extend(l.iter().map(|s| paint(self.paint, s)));
            text.push('\n');
        }
        out!("{text}");
    }

    /// The last check, the hint when it failed, and the progress bar.
    pub fn print_verdict(&self, state: &State) {
        let Some((i, last)) = &state.last else { return };
        let mut lines = vec![vec![]];
        lines.extend(last_check_lines(*i, last, true));
        if state.last_failed() {
            lines.push(vec![]);
            lines.extend(exercise_hint(*i));
        }
        self.print_lines(&lines);
        self.print_progress(state);
    }

    pub fn print_hint(&self, state: &State) {
        match state.current {
            Some(_) => self.print_lines(&hint_lines(state)),
            None => self.print_lines(&[vec![span(Style::Plain, "Everything passes: no hint needed.")]]),
        }
    }

    pub fn print_list(&self, state: &State, rows: &[Row]) {
        self.print_lines(&list_lines(state, rows, usize::MAX));
    }

    pub fn print_progress(&self, state: &State) {
        if verbosity() != Verbosity::Quiet {
            self.print_lines(&[progress_spans(state, state.passed.len() * 2)]);
        }
    }

    pub fn print_note(&self, n: Note) {
        self.print_lines(&[vec![note(n)]]);
    }

    pub fn print_warning(&self, w: &Warning) {
        self.print_lines(&[vec![warning(w)]]);
    }

    /// "on to 04 child-to-child — …", when plain mode moves on.
    pub fn print_moving_on(&self, i: usize) {
        let e = &checks::catalogue()[i];
        self.print_lines(&[vec![span(
            Style::Dim,
            format!("on to {} — {}", e.label(), e.title),
        )]]);
    }

    pub fn print_all_done(&self, state: &State) {
        self.print_lines(&all_done_lines(state));
        self.print_progress(state);
    }

    // ---- the screen ------------------------------------------------------

    /// Redraws the whole screen; `rows` is the exercise table, when the
    /// list is shown.
    pub fn draw(&mut self, state: &State, rows: Option<&[Row]>) {
        let size = terminal::size();
        self.drawn_size = size;
        let (cols, rows_on_screen) = size.unwrap_or((80, 24));
        let width = cols.max(20) - 1;
        let top = wrap_all(&top_lines(state), width);
        let body = wrap_all(&body_lines(state, rows, width), width);
        let bottom = wrap_all(&bottom_lines(state, width), width);
        let room = rows_on_screen.saturating_sub(top.len() + bottom.len());
        let body = fit(body, room, state.current);
        let filler = room.saturating_sub(body.len());

        let mut screen = String::from("\x1b[?25l\x1b[H");
        let empty = Vec::new();
        let lines = top
            .iter()
            .chain(body.iter())
            .chain(std::iter::repeat_n(&empty, filler))
            .chain(bottom.iter());
        for (n, l) in lines.enumerate() {
            if n > 0 {
                screen.push('\n');
            }
            for s in l {
                screen.push_str(&paint(self.paint, s));
            }
            screen.push_str("\x1b[K");
        }
        screen.push_str("\x1b[J");
        out!("{screen}");
    }
}

/// The exercise's name and file, then the note and the warning.
fn top_lines(state: &State) -> Vec<Line> {
    let mut top = Vec::new();
    match state.current {
        Some(i) => {
            let e = &checks::catalogue()[i];
            top.push(vec![
                span(Style::Bold, format!("{} — {}", e.label(), e.title)),
                span(Style::Dim, format!("   crates/{}/src/main.rs", e.dir)),
            ]);
        }
        None => top.push(vec![span(Style::Bold, "ipc-lab: every exercise done")]),
    }
    top.push(vec![]);
    if let Some(n) = state.note {
        top.push(vec![note(n)]);
    }
    if let Some(w) = &state.warning {
        top.push(vec![warning(w)]);
    }
    top
}

/// The list, or the verdict (and the hint when asked for).
fn body_lines(state: &State, rows: Option<&[Row]>, width: usize) -> Vec<Line> {
    if let (true, Some(rows)) = (state.show_list, rows) {
        let mut body = list_lines(state, rows, width);
        body.push(vec![]);
        body.push(vec![span(Style::Dim, "(l again, or any key, to go back)")]);
        return body;
    }
    let mut body = verdict_lines(state, verbosity() == Verbosity::Verbose);
    if state.show_hint {
        body.push(vec![]);
        body.extend(hint_lines(state));
    }
    body
}

/// The progress bar, what is going on, and the keys.
fn bottom_lines(state: &State, width: usize) -> Vec<Line> {
    let status = match state.busy {
        Some(b) => vec![span(Style::Yellow, format!("⟳ {}", busy(b)))],
        None => vec![span(Style::Dim, how(&state.how))],
    };
    let hint = if state.show_hint {
        " hide hint · "
    } else {
        " hint · "
    };
    let keys = vec![
        span(Style::Bold, "h"),
        span(Style::Plain, hint),
        span(Style::Bold, "l"),
        span(Style::Plain, " list · "),
        span(Style::Bold, "n"),
        span(Style::Plain, " next · "),
        span(Style::Bold, "r"),
        span(Style::Plain, " re-run · "),
        span(Style::Bold, "q"),
        span(Style::Plain, " quit"),
    ];
    vec![
        vec![],
        progress_spans(state, width.saturating_sub(16)),
        status,
        keys,
    ]
}

/// Cuts `body` to `room` lines, the last saying how many more there are.
fn fit(mut body: Vec<Line>, room: usize, current: Option<usize>) -> Vec<Line> {
    if body.len() <= room {
        return body;
    }
    let hidden = body.len() + 1 - room;
    body.truncate(room.saturating_sub(1));
    let number = current.map_or(String::new(), |i| format!(" {}", checks::catalogue()[i].number));
    body.push(vec![span(
        Style::Dim,
        format!("… {hidden} more lines: `cargo xtask check{number}` prints them all"),
    )]);
    body
}

/// Wraps lines of spans to `width` columns (one column per char), at
/// spaces where it can, keeping each piece's style; continuation rows are
/// indented by two.
fn wrap_all(lines: &[Line], width: usize) -> Vec<Line> {
    let mut out = Vec::new();
    for line in lines {
        let chars: Vec<(Style, char)> = line
            .iter()
            .flat_map(|(st, t)| t.chars().map(|c| (*st, c)))
            .collect();
        let mut start = 0;
        let mut first = true;
        loop {
            let room = if first {
                width
            } else {
                width.saturating_sub(2).max(1)
            };
            let rest = &chars[start..];
            let (take, skip) = if rest.len() <= room {
                (rest.len(), 0)
            } else {
                // The last space that fits, unless it would leave the row
                // nearly empty; then cut the word.
                match rest[..=room].iter().rposition(|&(_, c)| c == ' ') {
                    Some(at) if at > room / 3 => (at, 1),
                    _ => (room, 0),
                }
            };
            let mut row: Line = if first {
                Vec::new()
            } else {
                vec![span(Style::Plain, "  ")]
            };
            for &(st, c) in &rest[..take] {
                match row.last_mut() {
                    Some((last, text)) if *last == st => text.push(c),
                    _ => row.push((st, c.to_string())),
                }
            }
            out.push(row);
            start += take + skip;
            first = false;
            if start >= chars.len() {
                break;
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn long_lines_wrap_and_keep_their_styles() {
        let lines = vec![vec![span(Style::Red, "ab"), span(Style::Plain, "cdefg")], vec![]];
        let out = wrap_all(&lines, 4);
        let text = |out: &[Line]| -> Vec<String> {
            out.iter()
                .map(|l| l.iter().map(|(_, t)| t.as_str()).collect())
                .collect()
        };
        assert_eq!(text(&out), ["abcd", "  ef", "  g", ""]);
        assert_eq!(out[0][0].0, Style::Red);
        assert_eq!(out[0][1].0, Style::Plain);
        let words = vec![vec![span(Style::Plain, "the write end is still open")]];
        assert_eq!(
            text(&wrap_all(&words, 12)),
            ["the write", "  end is", "  still open"]
        );
    }

    #[test]
    fn a_verdict_shows_under_the_exercise_it_is_about_only() {
        let n = checks::catalogue().len();
        let mut state = State::new(vec![false; n], vec![0; n], How::Events);
        state.current = Some(1);
        // Exercise 0's check, while 1 is being built: nothing of 0 under 1.
        state.last = Some((0, LastCheck::CargoFailed("no cargo".into())));
        assert!(verdict_lines(&state, true).is_empty());
        state.last = Some((1, LastCheck::CargoFailed("no cargo".into())));
        let lines = verdict_lines(&state, true);
        let text: String = lines[0].iter().map(|(_, t)| t.as_str()).collect();
        assert_eq!(text, format!("✗ {}: could not build: no cargo", label(1)));
    }

    #[test]
    fn a_body_too_long_for_the_screen_says_how_much_is_cut() {
        let body: Vec<Line> = (0..10).map(|n| vec![span(Style::Plain, n.to_string())]).collect();
        let fitted = fit(body.clone(), 4, None);
        assert_eq!(fitted.len(), 4);
        assert_eq!(
            fitted[3][0].1,
            "… 7 more lines: `cargo xtask check` prints them all"
        );
        assert_eq!(fit(body, 10, None).len(), 10, "what fits is left alone");
    }
}
