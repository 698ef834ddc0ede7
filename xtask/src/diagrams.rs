//! The book's pictures of descriptor tables and pipes, kept as small text
//! descriptions so they stay editable and in the repository.
//!
//! `docs/diagrams/*.txt` describe them (the format is in the `diagram`
//! crate, which also draws them); `cargo xtask docs --svg` draws each into
//! `docs/src/img/NAME.svg`, and `--check` says which are out of date.
//!
//! The step-through pages are made the same way from traces of the
//! reference programs: `docs/traces/NAME.log` (recorded with `cargo xtask
//! trace N --save-log docs/traces/NAME.log`) becomes
//! `docs/src/trace/NAME.html`, the page `cargo xtask trace --html` writes.

use anyhow::{Context as _, Result, anyhow, bail};
use diagram::{parse, render};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

/// What [`generate`] did.
#[derive(Debug, Default)]
pub struct Drawn {
    /// Every picture described, as `docs/src/img/NAME.svg` paths.
    pub all: Vec<PathBuf>,
    /// Those whose file was missing or different (written, unless checking).
    pub changed: Vec<PathBuf>,
}

/// Renders every trace under `root/docs/traces` into a page in
/// `root/docs/src/trace`; with `check`, writes nothing and only reports.
pub fn generate_traces(root: &Path, check: bool) -> Result<Drawn> {
    let dir = root.join("docs").join("traces");
    let out = root.join("docs").join("src").join("trace");
    let mut logs: Vec<PathBuf> = match std::fs::read_dir(&dir) {
        Ok(entries) => entries
            .filter_map(|e| e.ok().map(|e| e.path()))
            .filter(|p| p.extension().is_some_and(|x| x == "log"))
            .collect(),
        Err(_) => Vec::new(),
    };
    logs.sort();
    let mut drawn = Drawn::default();
    for log in &logs {
        let text = std::fs::read_to_string(log).with_context(|| format!("cannot read {}", log.display()))?;
        let records = trace::log::parse(&text).map_err(|e| anyhow!("{}: {e}", log.display()))?;
        let t = trace::model::replay(&records);
        let program = records
            .iter()
            .find_map(|r| match r {
                trace::log::Record::Start { argv, .. } => Some(argv.join(" ")),
                _ => None,
            })
            .ok_or_else(|| anyhow!("{}: no start record", log.display()))?;
        let page = trace::page::render(&t, &trace::advice::advise(&t), &program);
        let stem = log.file_stem().unwrap_or_default().to_string_lossy().into_owned();
        let file = out.join(format!("{stem}.html"));
        if std::fs::read_to_string(&file).ok().as_deref() != Some(page.as_str()) {
            if !check {
                std::fs::create_dir_all(&out).with_context(|| format!("cannot create {}", out.display()))?;
                checks::report::write_atomically(&file, page.as_bytes())
                    .with_context(|| format!("cannot write {}", file.display()))?;
            }
            drawn.changed.push(file.clone());
        }
        drawn.all.push(file);
    }
    Ok(drawn)
}

/// Draws every diagram described under `root/docs/diagrams` into
/// `root/docs/src/img`; with `check`, writes nothing and only reports.
pub fn generate(root: &Path, check: bool) -> Result<Drawn> {
    let dir = root.join("docs").join("diagrams");
    let out = root.join("docs").join("src").join("img");
    let mut sources: Vec<PathBuf> = std::fs::read_dir(&dir)
        .with_context(|| format!("cannot read {}", dir.display()))?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|x| x == "txt"))
        .collect();
    sources.sort();
    let mut drawn = Drawn::default();
    let mut names: BTreeMap<String, PathBuf> = BTreeMap::new();
    for source in &sources {
        let text =
            std::fs::read_to_string(source).with_context(|| format!("cannot read {}", source.display()))?;
        let diagrams = parse(&text).map_err(|e| anyhow!("{}: {e}", source.display()))?;
        for d in diagrams {
            if let Some(other) = names.insert(d.name.clone(), source.clone()) {
                bail!(
                    "diagram {} is described twice: in {} and {}",
                    d.name,
                    other.display(),
                    source.display()
                );
            }
            let file = out.join(format!("{}.svg", d.name));
            let svg = render(&d);
            if std::fs::read_to_string(&file).ok().as_deref() != Some(svg.as_str()) {
                if !check {
                    std::fs::create_dir_all(&out)
                        .with_context(|| format!("cannot create {}", out.display()))?;
                    checks::report::write_atomically(&file, svg.as_bytes())
                        .with_context(|| format!("cannot write {}", file.display()))?;
                }
                drawn.changed.push(file.clone());
            }
            drawn.all.push(file);
        }
    }
    Ok(drawn)
}
