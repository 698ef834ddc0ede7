//! The page: one self-contained HTML file (inline SVG, no network) that
//! steps through a trace with previous/next, a slider and the arrow keys.
//!
//! One frame per line of the terminal's timeline ([`crate::timeline::lines`]),
//! captioned with that line word for word and drawn as things were after
//! its last step, so a run of thousands of writes is one frame, as it is one
//! line. Each frame is drawn by the book's own `diagram` code: the tables,
//! the pipes with their open-end counts and contents, an arrow per open
//! end; the process that made the call stands out, and when a read blocks,
//! the write ends that keep it waiting are framed in red. `#N` in the
//! address opens the page at frame N.

use crate::advice::Advice;
use crate::model::{Action, Blocked, Life, Obj, Trace, pipe_name};
use crate::timeline::signal_name;
use diagram::{Diagram, Process, Target};
use std::fmt::Write as _;

fn esc(text: &str) -> String {
    text.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

/// The picture of step `k` (0-based).
pub fn diagram(trace: &Trace, k: usize) -> Diagram {
    let step = &trace.steps[k];
    let s = &step.state;
    let culprits = crate::model::culprits(s);
    // The descriptors the step's call used, in the acting process.
    let touched: Vec<u32> = match &step.action {
        Action::Read { fd, .. } | Action::Write { fd, .. } => vec![*fd as u32],
        Action::Dup { old, new, .. } => vec![*old as u32, *new as u32],
        Action::Pipe {
            read_fd, write_fd, ..
        } => vec![*read_fd as u32, *write_fd as u32],
        Action::Blocks => match s.procs.get(&step.pid).and_then(|p| p.blocked.as_ref()) {
            Some(Blocked::Read { fd, .. } | Blocked::Write { fd, .. }) => vec![*fd as u32],
            _ => Vec::new(),
        },
        _ => Vec::new(),
    };
    // Reaped in an earlier step: gone from the picture.
    let gone_before = |pid: i32| k > 0 && trace.steps[k - 1].state.procs.get(&pid).is_some_and(|p| p.reaped);
    let mut processes = Vec::new();
    let mut pids = Vec::new();
    for (&pid, p) in &s.procs {
        if gone_before(pid) {
            continue;
        }
        let role = p.role();
        let fds = s.tables[p.table]
            .iter()
            .map(|(&fd, e)| {
                let target = match &e.obj {
                    Obj::Pipe { pipe, write: true } => Target::Write(format!("pipe {}", pipe_name(*pipe))),
                    Obj::Pipe { pipe, write: false } => Target::Read(format!("pipe {}", pipe_name(*pipe))),
                    Obj::Other(name) if name.starts_with("/dev/pts") || name.starts_with("/dev/tty") => {
                        Target::Terminal
                    }
                    Obj::Other(name) => Target::Other(name.clone()),
                };
                (fd as u32, target)
            })
            .collect();
        let status = match (p.life, &p.blocked) {
            (Life::Running, Some(Blocked::Read { fd, .. })) => Some(format!("blocked in read({fd})")),
            (Life::Running, Some(Blocked::Write { fd, .. })) => Some(format!("blocked in write({fd})")),
            (Life::Running, Some(Blocked::Wait { .. })) => Some("blocked in waitpid".to_string()),
            (Life::Running, None) => None,
            (Life::Exited(c), _) => Some(format!(
                "exited with status {c}{}",
                if p.reaped { "" } else { ", not yet waited for" }
            )),
            (Life::Killed(sig), _) => Some(format!("killed by {}", signal_name(sig))),
        };
        processes.push(Process {
            label: format!("pid {pid} ({}{role})", p.program),
            fds,
            status,
            exited: p.life != Life::Running,
            active: pid == step.pid,
            marked: culprits
                .iter()
                .filter(|(q, _)| *q == pid)
                .map(|(_, fd)| *fd as u32)
                .collect(),
            touched: if pid == step.pid {
                touched.clone()
            } else {
                Vec::new()
            },
            copies: 1,
        });
        pids.push(pid);
    }
    let processes = group_alike(processes, &pids);
    let holds = (0..s.pipes.len())
        .map(|p| {
            let held = s.pipes[p].held();
            let text = match held {
                0 => "nothing".to_string(),
                1 => "1 byte".to_string(),
                n => format!("{n} bytes"),
            };
            (format!("pipe {}", pipe_name(p)), text)
        })
        .collect();
    Diagram {
        name: format!("step-{}", k + 1),
        title: format!("Step {} of {}", k + 1, trace.steps.len()),
        processes,
        holds,
        notes: Vec::new(),
    }
}

/// Processes that are alike (the same table, the same state, nothing
/// pointed at) drawn once, labelled with all their pids: 11's writers, 12's
/// workers.
fn group_alike(processes: Vec<Process>, pids: &[i32]) -> Vec<Process> {
    let mut out: Vec<(Process, Vec<i32>)> = Vec::new();
    for (p, &pid) in processes.into_iter().zip(pids) {
        let plain = !p.active && p.marked.is_empty();
        let tail = |label: &str| {
            label
                .split_once(' ')
                .map(|(_, rest)| rest.split_once(' ').map_or("", |r| r.1).to_string())
        };
        let found = out.iter_mut().find(|(q, _)| {
            plain
                && !q.active
                && q.marked.is_empty()
                && q.fds == p.fds
                && q.status == p.status
                && q.exited == p.exited
                && tail(&q.label) == tail(&p.label)
        });
        match found {
            Some((_, group)) => group.push(pid),
            None => out.push((p, vec![pid])),
        }
    }
    out.into_iter()
        .map(|(mut p, group)| {
            if group.len() > 1 {
                let rest = p
                    .label
                    .split_once(' ')
                    .and_then(|(_, r)| r.split_once(' '))
                    .map_or("", |r| r.1);
                let list: Vec<String> = group.iter().map(i32::to_string).collect();
                p.label = format!("pids {} {rest}", list.join(", "));
                p.copies = group.len();
            }
            p
        })
        .collect()
}

/// The whole page for `trace` of `program`.
pub fn render(trace: &Trace, advice: &[Advice], program: &str) -> String {
    let lines = crate::timeline::lines(trace);
    let mut steps = String::new();
    let mut list = String::new();
    for (i, line) in lines.iter().enumerate() {
        let num = if line.first == line.last {
            line.first.to_string()
        } else {
            format!("{}–{}", line.first, line.last)
        };
        let mut picture = diagram(trace, line.last - 1);
        picture.title = format!("Step {num} of {}", trace.steps.len());
        let _ = writeln!(
            steps,
            r#"<section class="step" id="s{n}" hidden><p class="caption"><b>{num}.</b> <span class="text">{text}</span></p>{svg}</section>"#,
            n = i + 1,
            text = esc(&line.text),
            svg = diagram::render(&picture),
        );
        let _ = writeln!(
            list,
            r##"<li><a href="#{}">{num}. {}</a></li>"##,
            i + 1,
            esc(&line.text)
        );
    }
    let mut tips = String::new();
    for a in advice {
        let _ = writeln!(tips, "<li>{}</li>", esc(&a.text()));
    }
    let tips = if tips.is_empty() {
        String::new()
    } else {
        format!("<h2>Advice</h2><ul class=\"advice\">{tips}</ul>")
    };
    let n = lines.len();
    format!(
        r##"<!doctype html>
<html lang="en"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>{title}: descriptor tables step by step</title>
<!-- Written by `cargo xtask trace --html`: self-contained, no network. -->
<style>
body {{ font-family: system-ui, -apple-system, 'Segoe UI', Roboto, 'Helvetica Neue', Arial, sans-serif; color: #212529; margin: 0; display: flex; min-height: 100vh; }}
main {{ flex: 1; padding: 16px 24px; min-width: 0; }}
aside {{ width: 360px; border-left: 1px solid #dee2e6; padding: 12px 16px; overflow-y: auto; max-height: 100vh; box-sizing: border-box; font-size: 13px; }}
h1 {{ font-size: 20px; margin: 0 0 10px; }} h2 {{ font-size: 15px; margin: 14px 0 6px; }}
.controls {{ display: flex; align-items: center; gap: 10px; margin-bottom: 10px; }}
.controls button {{ font-size: 14px; padding: 4px 12px; }}
.controls input[type=range] {{ flex: 1; }}
.caption {{ font-size: 15px; background: #fff9db; border: 1px solid #ffe066; border-radius: 6px; padding: 8px 12px; margin: 0 0 10px; }}
.step svg {{ max-width: 100%; height: auto; }}
ol {{ padding-left: 0; list-style: none; margin: 0; }}
ol li a {{ display: block; padding: 3px 6px; border-radius: 4px; color: inherit; text-decoration: none; }}
ol li.now a {{ background: #fff3bf; font-weight: 600; }}
.advice li {{ margin-bottom: 6px; color: #c92a2a; }}
</style></head>
<body>
<main>
<h1>{title}: descriptor tables step by step</h1>
<div class="controls">
<button id="prev" title="previous (←)">◀ previous</button>
<input id="slider" type="range" min="1" max="{n}" value="1" aria-label="frame">
<button id="next" title="next (→)">next ▶</button>
<span id="count">1 / {n}</span>
</div>
{steps}</main>
<aside>
<h2>Timeline</h2>
<ol id="timeline">
{list}</ol>
{tips}
</aside>
<script>
(function () {{
  var steps = document.querySelectorAll('.step');
  var items = document.querySelectorAll('#timeline li');
  var slider = document.getElementById('slider');
  var count = document.getElementById('count');
  var now = 1;
  function show(n) {{
    n = Math.max(1, Math.min(steps.length, n | 0));
    now = n;
    for (var i = 0; i < steps.length; i++) steps[i].hidden = (i + 1 !== n);
    for (var j = 0; j < items.length; j++) items[j].className = (j + 1 === n) ? 'now' : '';
    if (items[n - 1] && items[n - 1].scrollIntoView) items[n - 1].scrollIntoView({{ block: 'nearest' }});
    slider.value = n;
    count.textContent = n + ' / ' + steps.length;
    if (location.hash !== '#' + n) history.replaceState(null, '', '#' + n);
  }}
  document.getElementById('prev').onclick = function () {{ show(now - 1); }};
  document.getElementById('next').onclick = function () {{ show(now + 1); }};
  slider.oninput = function () {{ show(+slider.value); }};
  document.addEventListener('keydown', function (e) {{
    if (e.key === 'ArrowLeft') show(now - 1);
    if (e.key === 'ArrowRight') show(now + 1);
  }});
  window.addEventListener('hashchange', function () {{ show(+location.hash.slice(1) || 1); }});
  show(+location.hash.slice(1) || 1);
}})();
</script>
</body></html>
"##,
        title = esc(program),
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::log::{Call, Fd, Object, Record};

    fn fd(fd: i32, inode: u64, write: bool) -> Fd {
        Fd {
            fd,
            object: Object::Pipe { inode, write },
            cloexec: true,
        }
    }

    /// Pid 10 starts and makes a pipe: fd 3 reads, fd 4 writes.
    fn with_a_pipe() -> Vec<Record> {
        vec![
            Record::Start {
                pid: 10,
                argv: vec!["p".into()],
                fds: vec![],
            },
            Record::Exit {
                pid: 10,
                call: Call::Pipe2,
                args: [0; 4],
                ret: 0,
                fds: vec![fd(3, 7, false), fd(4, 7, true)],
            },
        ]
    }

    /// A parent that keeps its write end and blocks reading.
    fn blocked_reader() -> Trace {
        let mut log = with_a_pipe();
        log.push(Record::Enter {
            pid: 10,
            call: Call::Read,
            args: [3, 0, 10, 0],
        });
        crate::model::replay(&log)
    }

    #[test]
    fn alike_children_are_one_box_and_their_ends_still_count() {
        let mut log = with_a_pipe();
        for child in [11, 12] {
            log.push(Record::Spawn {
                parent: 10,
                child,
                call: Call::Fork,
                flags: 0,
            });
        }
        let trace = crate::model::replay(&log);
        let d = diagram(&trace, trace.steps.len() - 1);
        assert_eq!(d.processes.len(), 2);
        assert_eq!(d.processes[1].label, "pids 11, 12 (p, child of 10)");
        let svg = diagram::render(&d);
        assert_eq!(svg.matches(">3 open<").count(), 2, "3 read ends and 3 write ends");
    }

    #[test]
    fn the_blocking_step_marks_the_culprit_end_and_the_page_has_every_step() {
        let trace = blocked_reader();
        assert_eq!(trace.steps.len(), 3);
        let d = diagram(&trace, 2);
        assert_eq!(d.processes[0].marked, vec![4]);
        assert!(d.processes[0].active);
        let page = render(&trace, &crate::advice::advise(&trace), "p");
        assert_eq!(page.matches("<section class=\"step\"").count(), 3);
        assert!(page.contains("pipe A is empty and its write end is still open in pid 10 fd 4 (itself)"));
        assert!(
            !page.contains("http://")
                || page.matches("http://").count() == page.matches("http://www.w3.org/2000/svg").count()
        );
    }
}
