//! The book's pictures of descriptor tables and pipes, kept as small text
//! descriptions so they stay editable and in the repository.
//!
//! `docs/diagrams/*.txt` describe them (the format is in the `diagram`
//! crate, which also draws them); `cargo xtask docs --svg` draws each into
//! `docs/src/img/NAME.svg`, and `--check` says which are out of date.

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

/// Draws every diagram described under `root/docs/diagrams` into
/// `root/docs/src/img`; with `check`, writes nothing and only reports.
pub fn generate(root: &Path, check: bool) -> crate::Result<Drawn> {
    let dir = root.join("docs").join("diagrams");
    let out = root.join("docs").join("src").join("img");
    let mut sources: Vec<PathBuf> = std::fs::read_dir(&dir)
        .map_err(|e| format!("cannot read {}: {e}", dir.display()))?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|x| x == "txt"))
        .collect();
    sources.sort();
    let mut drawn = Drawn::default();
    let mut names: BTreeMap<String, PathBuf> = BTreeMap::new();
    for source in &sources {
        let text =
            std::fs::read_to_string(source).map_err(|e| format!("cannot read {}: {e}", source.display()))?;
        let diagrams = parse(&text).map_err(|e| format!("{}: {e}", source.display()))?;
        for d in diagrams {
            if let Some(other) = names.insert(d.name.clone(), source.clone()) {
                return Err(format!(
                    "diagram {} is described twice: in {} and {}",
                    d.name,
                    other.display(),
                    source.display()
                ));
            }
            let file = out.join(format!("{}.svg", d.name));
            let svg = render(&d);
            if std::fs::read_to_string(&file).ok().as_deref() != Some(svg.as_str()) {
                if !check {
                    std::fs::create_dir_all(&out)
                        .map_err(|e| format!("cannot create {}: {e}", out.display()))?;
                    checks::report::write_atomically(&file, svg.as_bytes())
                        .map_err(|e| format!("cannot write {}: {e}", file.display()))?;
                }
                drawn.changed.push(file.clone());
            }
            drawn.all.push(file);
        }
    }
    Ok(drawn)
}
