//! Pictures of descriptor tables and pipes, drawn as SVG: the book's
//! diagrams (`cargo xtask docs`, from the text descriptions in
//! `docs/diagrams`) and the steps of a trace (`cargo xtask trace`) are
//! drawn by this one code, so they look alike.
//!
//! A description, one statement per line (indentation is for the reader;
//! `#` starts a comment line):
//!
//! ```text
//! diagram 02-childpipe-2-fork      starts a picture: docs/src/img/02-childpipe-2-fork.svg
//! title After fork()               its heading
//! process parent (pid P)           a process and its descriptor table:
//!   0 terminal                       fd 0 refers to the terminal
//!   3 pipe read                      fd 3 is the read end of the pipe named `pipe`
//!   4 pipe write                     fd 4 its write end (an arrow is drawn to it)
//!   5 closed                         fd 5 was closed (shown greyed)
//!   status blocked in read(3)        what the process is doing, under its table
//!   exited                           the process is gone (drawn dashed)
//! pipe pipe holds "Hello, mama!"   what is in the pipe's buffer (optional;
//!                                  `holds nothing` shows it empty)
//! note Two read ends, two ...      a sentence under the picture (repeatable)
//! ```
//!
//! Each end of each pipe shows how many descriptors refer to it: the number
//! that decides end of file (no write end left) and `EPIPE` (no read end).

use std::collections::BTreeMap;
use std::fmt::Write as _;

/// One picture.
#[derive(Debug, Default, Clone, PartialEq)]
pub struct Diagram {
    /// Its name (the SVG's file name in the book).
    pub name: String,
    /// The heading drawn on top.
    pub title: String,
    /// The processes, top to bottom, each with its table.
    pub processes: Vec<Process>,
    /// Pipe name → what it holds (may be empty).
    pub holds: BTreeMap<String, String>,
    /// Sentences under the picture.
    pub notes: Vec<String>,
}

/// One process and its descriptor table.
#[derive(Debug, Default, Clone, PartialEq)]
pub struct Process {
    /// Its heading: "parent (pid P)".
    pub label: String,
    /// Its descriptors, in the order drawn.
    pub fds: Vec<(u32, Target)>,
    /// What it is doing, under its table.
    pub status: Option<String>,
    /// It is gone: drawn dashed and grey.
    pub exited: bool,
    /// It made the call the picture is about: its heading stands out.
    pub active: bool,
    /// Descriptors to point at (the end that keeps a reader waiting): drawn
    /// with a red frame.
    pub marked: Vec<u32>,
    /// Descriptors the picture's call used: drawn on yellow.
    pub touched: Vec<u32>,
    /// How many alike processes this box stands for (0 and 1: one); each
    /// of their descriptors counts on the pipe's ends.
    pub copies: usize,
}

/// What a descriptor refers to.
#[derive(Debug, Clone, PartialEq)]
pub enum Target {
    /// Closed (greyed).
    Closed,
    /// The terminal.
    Terminal,
    /// The read end of the named pipe.
    Read(String),
    /// The write end of the named pipe.
    Write(String),
    /// Anything else, shown as text.
    Other(String),
}

/// Parses a description; errors name the line (1-based).
pub fn parse(text: &str) -> Result<Vec<Diagram>, String> {
    let mut diagrams: Vec<Diagram> = Vec::new();
    for (n, raw) in text.lines().enumerate() {
        let line = raw.trim();
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        let err = |msg: &str| format!("line {}: {msg}", n + 1);
        let (word, rest) = line.split_once(char::is_whitespace).unwrap_or((line, ""));
        let rest = rest.trim();
        if word == "diagram" {
            let ok = !rest.is_empty()
                && rest
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_');
            if !ok {
                return Err(err("`diagram NAME`: a name of letters, digits, - and _"));
            }
            diagrams.push(Diagram {
                name: rest.to_string(),
                ..Diagram::default()
            });
            continue;
        }
        let Some(d) = diagrams.last_mut() else {
            return Err(err("start with `diagram NAME`"));
        };
        match word {
            "title" => d.title = rest.to_string(),
            "note" => d.notes.push(rest.to_string()),
            "process" => d.processes.push(Process {
                label: rest.to_string(),
                ..Process::default()
            }),
            "pipe" => {
                let (name, holds) = rest.split_once(" holds ").unwrap_or((rest, ""));
                if name.trim().is_empty() {
                    return Err(err("`pipe NAME [holds TEXT]`"));
                }
                d.holds.insert(name.trim().to_string(), holds.trim().to_string());
            }
            "status" | "exited" => {
                let Some(p) = d.processes.last_mut() else {
                    return Err(err("`status` and `exited` follow a `process`"));
                };
                if word == "exited" {
                    p.exited = true;
                } else {
                    p.status = Some(rest.to_string());
                }
            }
            fd if fd.parse::<u32>().is_ok() => {
                let Some(p) = d.processes.last_mut() else {
                    return Err(err("a descriptor line follows a `process`"));
                };
                let target = match rest.split_whitespace().collect::<Vec<_>>().as_slice() {
                    [] => return Err(err("`FD TARGET`: say what the descriptor refers to")),
                    ["closed"] => Target::Closed,
                    ["terminal"] => Target::Terminal,
                    [pipe, "read"] => Target::Read(pipe.to_string()),
                    [pipe, "write"] => Target::Write(pipe.to_string()),
                    _ => Target::Other(rest.to_string()),
                };
                p.fds.push((fd.parse().unwrap_or_default(), target));
            }
            other => {
                return Err(err(&format!(
                    "unknown statement `{other}`: diagram, title, process, FD, status, exited, pipe or note"
                )));
            }
        }
    }
    for d in &diagrams {
        if d.processes.is_empty() {
            return Err(format!("diagram {}: no process", d.name));
        }
    }
    Ok(diagrams)
}

impl Diagram {
    /// The pipes, in order of first mention.
    fn pipes(&self) -> Vec<String> {
        let mut names: Vec<String> = Vec::new();
        let mentioned = self
            .processes
            .iter()
            .flat_map(|p| &p.fds)
            .filter_map(|(_, t)| match t {
                Target::Read(n) | Target::Write(n) => Some(n.clone()),
                _ => None,
            });
        for name in mentioned.chain(self.holds.keys().cloned()) {
            if !names.contains(&name) {
                names.push(name);
            }
        }
        names
    }

    /// How many descriptors refer to this end of this pipe.
    fn open_count(&self, pipe: &str, write: bool) -> usize {
        self.processes
            .iter()
            .map(|p| {
                let here = p
                    .fds
                    .iter()
                    .filter(|(_, t)| match t {
                        Target::Write(n) => write && n == pipe,
                        Target::Read(n) => !write && n == pipe,
                        _ => false,
                    })
                    .count();
                here * p.copies.max(1)
            })
            .sum()
    }
}

// ---- drawing ---------------------------------------------------------------

const PAD: f64 = 18.0;
const TITLE_H: f64 = 34.0;
const HEADER_H: f64 = 30.0;
const ROW_H: f64 = 26.0;
const STATUS_H: f64 = 26.0;
const PROC_GAP: f64 = 18.0;
const FD_COL: f64 = 52.0;
/// Between the processes and the kernel: room for the arrows.
const GAP: f64 = 120.0;
const PIPE_W: f64 = 190.0;
const PORT_H: f64 = 32.0;
const FLOW_H: f64 = 56.0;
const PIPE_GAP: f64 = 22.0;
const KERNEL_PAD: f64 = 16.0;
const NOTE_H: f64 = 19.0;

const WRITE: &str = "#d9480f";
const READ: &str = "#1864ab";
const GREY: &str = "#adb5bd";
const INK: &str = "#212529";
const SOFT: &str = "#495057";

/// A generous estimate of a text's width in a sans-serif font, without
/// font metrics (bold and monospace run wider: use [`wide_width`]).
fn text_width(text: &str, size: f64) -> f64 {
    text.chars().count() as f64 * size * 0.55
}

fn wide_width(text: &str, size: f64) -> f64 {
    text.chars().count() as f64 * size * 0.62
}

fn esc(text: &str) -> String {
    text.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

fn target_text(t: &Target, several_pipes: bool) -> String {
    let pipe = |name: &str, end: &str| {
        if several_pipes {
            format!("{name}: {end} end")
        } else {
            format!("pipe, {end} end")
        }
    };
    match t {
        Target::Closed => "closed".to_string(),
        Target::Terminal => "terminal".to_string(),
        Target::Read(n) => pipe(n, "read"),
        Target::Write(n) => pipe(n, "write"),
        Target::Other(s) => s.clone(),
    }
}

fn process_height(p: &Process) -> f64 {
    HEADER_H + ROW_H * p.fds.len() as f64 + if p.status.is_some() { STATUS_H } else { 0.0 }
}

/// Splits `text` into lines of at most `width` pixels at 13 px.
fn wrap(text: &str, width: f64) -> Vec<String> {
    let max = ((width / (13.0 * 0.52)) as usize).max(20);
    let mut lines = Vec::new();
    let mut line = String::new();
    for word in text.split_whitespace() {
        if !line.is_empty() && line.chars().count() + 1 + word.chars().count() > max {
            lines.push(std::mem::take(&mut line));
        }
        if !line.is_empty() {
            line.push(' ');
        }
        line.push_str(word);
    }
    if !line.is_empty() {
        lines.push(line);
    }
    lines
}

/// Draws one diagram as a standalone SVG document.
pub fn render(d: &Diagram) -> String {
    let pipes = d.pipes();
    let several = pipes.len() > 1;

    // Process column.
    let proc_w = d
        .processes
        .iter()
        .flat_map(|p| {
            let header = wide_width(&p.label, 14.0) + 28.0;
            let status = p.status.as_deref().map_or(0.0, |s| text_width(s, 13.0) + 28.0);
            let rows = p
                .fds
                .iter()
                .map(|(_, t)| FD_COL + wide_width(&target_text(t, several), 13.5) + 24.0);
            rows.chain([header, status])
        })
        .fold(210.0, f64::max)
        .ceil();
    let procs_h: f64 = d.processes.iter().map(process_height).sum::<f64>()
        + PROC_GAP * (d.processes.len().saturating_sub(1)) as f64;

    // Kernel column: pipes wide enough for what they hold.
    let pipe_w = pipes
        .iter()
        .map(|n| d.holds.get(n).map_or(0.0, |h| wide_width(h, 12.0) + 56.0))
        .fold(PIPE_W, f64::max)
        .ceil();
    let pipe_h = HEADER_H + PORT_H * 2.0 + FLOW_H;
    let pipes_h = if pipes.is_empty() {
        0.0
    } else {
        pipe_h * pipes.len() as f64 + PIPE_GAP * (pipes.len() - 1) as f64
    };
    let kernel_h = pipes_h + 2.0 * KERNEL_PAD + 14.0;
    let body_h = procs_h.max(kernel_h);
    let body_y = PAD + TITLE_H;
    let kernel_x = PAD + proc_w + GAP;
    let width = if pipes.is_empty() {
        PAD * 2.0 + proc_w
    } else {
        kernel_x + pipe_w + KERNEL_PAD + PAD
    }
    .max((wide_width(&d.title, 17.0) + 2.0 * PAD).ceil());
    let notes: Vec<String> = d.notes.iter().flat_map(|n| wrap(n, width - 2.0 * PAD)).collect();
    let height =
        (body_y + body_h + PAD + if notes.is_empty() { 0.0 } else { 8.0 } + NOTE_H * notes.len() as f64)
            .ceil();

    let mut s = String::new();
    let _ = writeln!(
        s,
        r#"<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" viewBox="0 0 {width} {height}" role="img" aria-labelledby="title">"#
    );
    let _ = writeln!(s, r#"<title id="title">{}</title>"#, esc(&d.title));
    let _ = writeln!(
        s,
        "<!-- Drawn from docs/diagrams by `cargo xtask docs`: edit the description, not this file. -->"
    );
    s.push_str(concat!(
        "<style>\n",
        "text { font-family: system-ui, -apple-system, 'Segoe UI', Roboto, 'Helvetica Neue', Arial, sans-serif; fill: #212529; }\n",
        ".mono { font-family: ui-monospace, 'SF Mono', Menlo, Consolas, 'DejaVu Sans Mono', monospace; }\n",
        "</style>\n"
    ));
    let _ = writeln!(s, "<defs>");
    for (id, colour) in [("w", WRITE), ("r", READ)] {
        let _ = writeln!(
            s,
            r#"<marker id="arrow-{id}" viewBox="0 0 10 10" refX="9" refY="5" markerWidth="7" markerHeight="7" orient="auto-start-reverse"><path d="M0,0 L10,5 L0,10 z" fill="{colour}"/></marker>"#
        );
    }
    let _ = writeln!(s, "</defs>");
    let _ = writeln!(
        s,
        r##"<rect x="0.5" y="0.5" width="{}" height="{}" rx="10" fill="#ffffff" stroke="#dee2e6"/>"##,
        width - 1.0,
        height - 1.0
    );
    let _ = writeln!(
        s,
        r#"<text x="{PAD}" y="{}" font-size="17" font-weight="700">{}</text>"#,
        PAD + 17.0,
        esc(&d.title)
    );

    // Where each pipe's ports are, for the arrows.
    let mut ports: BTreeMap<(String, bool), (f64, f64)> = BTreeMap::new();
    if !pipes.is_empty() {
        let ky = body_y + (body_h - kernel_h) / 2.0;
        let _ = writeln!(
            s,
            r##"<rect x="{}" y="{ky}" width="{}" height="{kernel_h}" rx="12" fill="#f8f9fa" stroke="#ced4da" stroke-dasharray="6 4"/>"##,
            kernel_x - KERNEL_PAD,
            pipe_w + 2.0 * KERNEL_PAD
        );
        let _ = writeln!(
            s,
            r#"<text x="{}" y="{}" font-size="11" font-weight="700" letter-spacing="1.5" style="fill:{SOFT}">KERNEL</text>"#,
            kernel_x - KERNEL_PAD + 10.0,
            ky + 15.0
        );
        let mut y = ky + KERNEL_PAD + 14.0;
        for name in &pipes {
            draw_pipe(&mut s, d, name, (kernel_x, y, pipe_w), &mut ports);
            y += pipe_h + PIPE_GAP;
        }
    }

    // Processes, and an arrow from each pipe descriptor to its end.
    let mut y = body_y + (body_h - procs_h) / 2.0;
    let mut arrows = String::new();
    for p in &d.processes {
        draw_process(&mut s, &mut arrows, p, PAD, y, proc_w, several, &ports);
        y += process_height(p) + PROC_GAP;
    }
    s.push_str(&arrows);

    let mut ny = body_y + body_h + PAD + 6.0;
    for line in &notes {
        let _ = writeln!(
            s,
            r#"<text x="{PAD}" y="{ny}" font-size="13" style="fill:{SOFT}">{}</text>"#,
            esc(line)
        );
        ny += NOTE_H;
    }
    s.push_str("</svg>\n");
    s
}

/// Draws pipe `name` with its top left corner at (x, y), `w` wide; records
/// where its two ends are.
fn draw_pipe(
    s: &mut String,
    d: &Diagram,
    name: &str,
    (x, y, w): (f64, f64, f64),
    ports: &mut BTreeMap<(String, bool), (f64, f64)>,
) {
    let h = HEADER_H + PORT_H * 2.0 + FLOW_H;
    let _ = writeln!(
        s,
        r##"<rect x="{x}" y="{y}" width="{w}" height="{h}" rx="8" fill="#ffffff" stroke="#495057" stroke-width="1.5"/>"##
    );
    let _ = writeln!(s, r##"<path d="M{x},{} h{w}" stroke="#dee2e6"/>"##, y + HEADER_H);
    let _ = writeln!(
        s,
        r#"<text x="{}" y="{}" font-size="14" font-weight="700" text-anchor="middle">{}</text>"#,
        x + w / 2.0,
        y + 20.0,
        esc(name)
    );
    // The read end on top: descriptors are usually numbered read end first
    // (pipe() gives fd 3 to read, fd 4 to write), so the arrows cross less.
    for (write, row_y) in [(false, y + HEADER_H), (true, y + HEADER_H + PORT_H + FLOW_H)] {
        let colour = if write { WRITE } else { READ };
        let cy = row_y + PORT_H / 2.0;
        let label = if write { "write end" } else { "read end" };
        let open = d.open_count(name, write);
        let _ = writeln!(s, r#"<circle cx="{x}" cy="{cy}" r="4.5" fill="{colour}"/>"#);
        let _ = writeln!(
            s,
            r#"<text x="{}" y="{}" font-size="13.5" font-weight="700" style="fill:{colour}">{label}</text>"#,
            x + 14.0,
            cy + 4.5
        );
        // The count of descriptors open on this end: 0 write ends is end of
        // file for readers, 0 read ends is EPIPE for writers.
        let (badge, fill, ink) = if open == 0 {
            ("none open".to_string(), "#fff5f5", "#c92a2a")
        } else {
            (format!("{open} open"), "#f1f3f5", SOFT)
        };
        let bw = text_width(&badge, 11.5) + 14.0;
        let bx = x + w - bw - 10.0;
        let _ = writeln!(
            s,
            r#"<rect x="{bx}" y="{}" width="{bw}" height="19" rx="9.5" fill="{fill}"/>"#,
            cy - 9.5
        );
        let _ = writeln!(
            s,
            r#"<text x="{}" y="{}" font-size="11.5" text-anchor="middle" style="fill:{ink}">{badge}</text>"#,
            bx + bw / 2.0,
            cy + 4.0
        );
        ports.insert((name.to_string(), write), (x, cy));
    }
    // The flow, from the write end up to the read end, with the contents.
    let fy = y + HEADER_H + PORT_H;
    let ax = x + 26.0;
    let _ = writeln!(
        s,
        r##"<path d="M{ax},{} V{}" stroke="#868e96" stroke-width="2"/>"##,
        fy + FLOW_H - 6.0,
        fy + 8.0
    );
    let _ = writeln!(
        s,
        r##"<path d="M{ax},{} l-5,8 h10 z" fill="#868e96"/>"##,
        fy + 4.0
    );
    let holds = d.holds.get(name).map(String::as_str).unwrap_or_default();
    if holds.is_empty() || holds == "nothing" {
        let what = if holds.is_empty() {
            "bytes, in order"
        } else {
            "empty"
        };
        let _ = writeln!(
            s,
            r#"<text x="{}" y="{}" font-size="12.5" font-style="italic" style="fill:{SOFT}">{what}</text>"#,
            ax + 14.0,
            fy + FLOW_H / 2.0 + 4.0
        );
    } else {
        let _ = writeln!(
            s,
            r#"<text x="{}" y="{}" font-size="11" style="fill:{SOFT}">holds</text>"#,
            ax + 14.0,
            fy + FLOW_H / 2.0 - 6.0
        );
        let _ = writeln!(
            s,
            r#"<text class="mono" x="{}" y="{}" font-size="12">{}</text>"#,
            ax + 14.0,
            fy + FLOW_H / 2.0 + 10.0,
            esc(holds)
        );
    }
}

#[allow(clippy::too_many_arguments)]
fn draw_process(
    s: &mut String,
    arrows: &mut String,
    p: &Process,
    x: f64,
    y: f64,
    w: f64,
    several: bool,
    ports: &BTreeMap<(String, bool), (f64, f64)>,
) {
    let h = process_height(p);
    let dash = if p.exited {
        r#" stroke-dasharray="5 4""#
    } else {
        ""
    };
    let stroke = if p.exited { GREY } else { "#495057" };
    let _ = writeln!(
        s,
        r##"<rect x="{x}" y="{y}" width="{w}" height="{h}" rx="8" fill="#ffffff" stroke="{stroke}" stroke-width="1.5"{dash}/>"##
    );
    let header_fill = match (p.exited, p.active) {
        (true, _) => "#f8f9fa",
        (false, true) => "#fff3bf",
        (false, false) => "#e7f5ff",
    };
    let _ = writeln!(
        s,
        r#"<path d="M{x},{} v-{} a8,8 0 0 1 8,-8 h{} a8,8 0 0 1 8,8 v{} z" fill="{header_fill}"/>"#,
        y + HEADER_H,
        HEADER_H - 8.0,
        w - 16.0,
        HEADER_H - 8.0
    );
    let _ = writeln!(
        s,
        r#"<text x="{}" y="{}" font-size="14" font-weight="700" style="fill:{}">{}</text>"#,
        x + 12.0,
        y + 20.0,
        if p.exited { GREY } else { INK },
        esc(&p.label)
    );
    for (k, (fd, target)) in p.fds.iter().enumerate() {
        let ry = y + HEADER_H + ROW_H * k as f64;
        let cy = ry + ROW_H / 2.0;
        let _ = writeln!(
            s,
            r##"<path d="M{x},{ry} h{w} M{},{ry} v{ROW_H}" stroke="#dee2e6"/>"##,
            x + FD_COL
        );
        if p.touched.contains(fd) && !p.marked.contains(fd) {
            let _ = writeln!(
                s,
                r##"<rect x="{}" y="{}" width="{}" height="{}" fill="#fff3bf"/>"##,
                x + 1.0,
                ry + 1.0,
                w - 2.0,
                ROW_H - 2.0
            );
        }
        if p.marked.contains(fd) {
            let _ = writeln!(
                s,
                r##"<rect x="{}" y="{}" width="{}" height="{}" rx="4" fill="#fff5f5" stroke="#e03131" stroke-width="2"/>"##,
                x + 2.0,
                ry + 2.0,
                w - 4.0,
                ROW_H - 4.0
            );
        }
        let gone = p.exited || *target == Target::Closed;
        let (colour, style) = match target {
            _ if gone => (GREY, " font-style=\"italic\""),
            Target::Write(_) => (WRITE, " font-weight=\"600\""),
            Target::Read(_) => (READ, " font-weight=\"600\""),
            _ => (SOFT, ""),
        };
        let _ = writeln!(
            s,
            r#"<text class="mono" x="{}" y="{}" font-size="13" text-anchor="middle" style="fill:{}">fd {fd}</text>"#,
            x + FD_COL / 2.0,
            cy + 4.5,
            if gone { GREY } else { INK }
        );
        let _ = writeln!(
            s,
            r#"<text x="{}" y="{}" font-size="13.5"{style} style="fill:{colour}">{}</text>"#,
            x + FD_COL + 10.0,
            cy + 4.5,
            esc(&target_text(target, several))
        );
        if gone {
            continue;
        }
        let end = match target {
            Target::Write(n) => Some((n, true)),
            Target::Read(n) => Some((n, false)),
            _ => None,
        };
        // (Not a let chain: the workspace promises Rust 1.85.)
        let port = end.and_then(|(pipe, write)| Some((write, *ports.get(&(pipe.clone(), write))?)));
        if let Some((write, (px, py))) = port {
            let (colour, id) = if write { (WRITE, "w") } else { (READ, "r") };
            let sx = x + w;
            let ex = px - 6.0;
            let c1 = sx + GAP * 0.55;
            let c2 = ex - GAP * 0.55;
            let _ = writeln!(arrows, r#"<circle cx="{sx}" cy="{cy}" r="3" fill="{colour}"/>"#);
            let _ = writeln!(
                arrows,
                r#"<path d="M{sx},{cy} C{c1},{cy} {c2},{py} {ex},{py}" fill="none" stroke="{colour}" stroke-width="1.8" marker-end="url(#arrow-{id})"/>"#
            );
        }
    }
    if let Some(status) = &p.status {
        let sy = y + HEADER_H + ROW_H * p.fds.len() as f64;
        let _ = writeln!(s, r##"<path d="M{x},{sy} h{w}" stroke="#dee2e6"/>"##);
        let _ = writeln!(
            s,
            r#"<text x="{}" y="{}" font-size="13" font-style="italic" style="fill:{SOFT}">{}</text>"#,
            x + 12.0,
            sy + STATUS_H / 2.0 + 4.5,
            esc(status)
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const TWO: &str = "# a comment\n\
                       diagram fork\n\
                       title After fork()\n\
                       process parent (pid P)\n\
                       \x20 3 pipe read\n\
                       \x20 4 pipe write\n\
                       process child (pid C)\n\
                       \x20 3 closed\n\
                       \x20 4 pipe write\n\
                       \x20 status writing\n\
                       pipe pipe holds \"Hi\"\n\
                       note One pipe, <three> ends & more.\n";

    #[test]
    fn a_description_parses() {
        let d = &parse(TWO).unwrap()[0];
        assert_eq!(d.name, "fork");
        assert_eq!(d.title, "After fork()");
        assert_eq!(d.processes.len(), 2);
        assert_eq!(d.processes[1].fds[0], (3, Target::Closed));
        assert_eq!(d.processes[1].fds[1], (4, Target::Write("pipe".into())));
        assert_eq!(d.processes[1].status.as_deref(), Some("writing"));
        assert_eq!(d.holds["pipe"], "\"Hi\"");
        assert_eq!(d.open_count("pipe", true), 2);
        assert_eq!(d.open_count("pipe", false), 1);
    }

    #[test]
    fn errors_name_the_line() {
        assert_eq!(
            parse("title x\n").unwrap_err(),
            "line 1: start with `diagram NAME`"
        );
        let err = parse("diagram a\nprocess p\n  3\n").unwrap_err();
        assert!(err.starts_with("line 3: "), "{err}");
        let err = parse("diagram a\nframe x\n").unwrap_err();
        assert!(err.starts_with("line 2: unknown statement `frame`"), "{err}");
        assert!(parse("diagram a\ntitle t\n").unwrap_err().contains("no process"));
    }

    #[test]
    fn the_svg_has_an_arrow_per_open_pipe_descriptor_and_escapes_text() {
        let svg = render(&parse(TWO).unwrap()[0]);
        assert!(svg.starts_with("<svg xmlns=\"http://www.w3.org/2000/svg\""));
        assert!(svg.trim_end().ends_with("</svg>"));
        assert_eq!(svg.matches("marker-end=\"url(#arrow-w)\"").count(), 2);
        assert_eq!(svg.matches("marker-end=\"url(#arrow-r)\"").count(), 1);
        assert!(svg.contains("One pipe, &lt;three&gt; ends &amp; more."));
        assert!(svg.contains("2 open") && svg.contains("1 open"));
    }
}
