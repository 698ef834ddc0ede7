//! The files only the student repository has: its README, `.gitignore`,
//! GitHub Classroom workflow and development container (`.devcontainer/`:
//! Linux, Rust, gcc and mdbook for VS Code and Codespaces), made from the
//! templates in `xtask/student/` and the checks catalogue (so the exercise
//! table and the points cannot drift from the checks).
//!
//! Templates hold `@NAME@` placeholders, each replaced by generated text.
//! The container's Rust is the release the workspace's `rust-version`
//! names, so the Rust the course promises is the one students get.

use anyhow::{Context as _, Result, anyhow, bail};
use checks::Exercise;
use std::path::{Path, PathBuf};

/// (path in the release, contents) of each generated file.
pub fn files(root: &Path) -> Result<Vec<(PathBuf, String)>> {
    let exercises = checks::catalogue();
    let readme = fill(
        &template(root, "README.md")?,
        &[("@EXERCISES@", exercise_table(exercises))],
    )?;
    let workflow = classroom_workflow(&template(root, "classroom.yml")?, exercises)?;
    let versions = [
        ("@RUST_VERSION@", rust_release(root)?),
        ("@MDBOOK_VERSION@", crate::docs::MDBOOK_VERSION.to_string()),
    ];
    let container = |name: &str| fill(&template(root, &format!("devcontainer/{name}"))?, &versions);
    Ok(vec![
        (PathBuf::from("README.md"), readme),
        (PathBuf::from(".gitignore"), template(root, "gitignore")?),
        (PathBuf::from(".github/workflows/classroom.yml"), workflow),
        (
            PathBuf::from(".devcontainer/devcontainer.json"),
            container("devcontainer.json")?,
        ),
        (
            PathBuf::from(".devcontainer/Dockerfile"),
            container("Dockerfile")?,
        ),
    ])
}

/// The Rust release that the workspace's `rust-version` names: "1.85" is
/// rustup's "1.85.0".
fn rust_release(root: &Path) -> Result<String> {
    let path = root.join("Cargo.toml");
    let manifest =
        std::fs::read_to_string(&path).with_context(|| format!("cannot read {}", path.display()))?;
    let version = manifest
        .lines()
        .find_map(|l| l.trim().strip_prefix("rust-version = "))
        .map(|v| v.trim().trim_matches('"'))
        .filter(|v| !v.is_empty() && v.split('.').all(|n| n.parse::<u32>().is_ok()))
        .ok_or_else(|| anyhow!("{} has no rust-version like \"1.85\"", path.display()))?;
    Ok(match version.split('.').count() {
        2 => format!("{version}.0"),
        _ => version.to_string(),
    })
}

fn template(root: &Path, name: &str) -> Result<String> {
    let path = root.join("xtask/student").join(name);
    std::fs::read_to_string(&path).with_context(|| format!("cannot read the template {}", path.display()))
}

/// Replaces each placeholder, which must occur; none may be left over.
fn fill(template: &str, values: &[(&str, String)]) -> Result<String> {
    let mut out = template.to_string();
    for (key, value) in values {
        if !out.contains(key) {
            bail!("a student template lacks its {key} placeholder");
        }
        out = out.replace(key, value);
    }
    Ok(out)
}

/// The README's table: number, exercise (linking its source), the lesson,
/// the lecture file it mirrors, points of its public checks.
fn exercise_table(exercises: &[Exercise]) -> String {
    let cell = |s: &str| s.replace('|', "\\|");
    let mut t =
        String::from("| # | exercise | the lesson | mirrors | points |\n| --- | --- | --- | --- | --- |\n");
    for e in exercises {
        t.push_str(&format!(
            "| {:02} | [`{}`](crates/{}/src/main.rs) | {} | {} | {} |\n",
            e.number,
            e.name,
            e.dir,
            cell(e.lesson),
            cell(e.mirrors),
            e.max_points(false)
        ));
    }
    t.trim_end().to_string()
}

/// The workflow: one graded step per exercise (`cargo xtask check N`,
/// worth its public points), then the reporter that sums them up.
fn classroom_workflow(template: &str, exercises: &[Exercise]) -> Result<String> {
    let id = |e: &Exercise| format!("e{:02}", e.number);
    let mut steps = Vec::new();
    let mut results = Vec::new();
    for e in exercises {
        let name = e.label();
        steps.push(format!(
            "      - name: {name}\n        id: {id}\n        \
             uses: classroom-resources/autograding-command-grader@v1\n        with:\n          \
             test-name: {name}\n          command: cargo xtask check {n}\n          \
             timeout: 5\n          max-score: {points}",
            id = id(e),
            n = e.number,
            points = e.max_points(false),
        ));
        results.push(format!(
            "          {}_RESULTS: \"${{{{steps.{}.outputs.result}}}}\"",
            id(e).to_uppercase(),
            id(e)
        ));
    }
    let runners: Vec<String> = exercises.iter().map(id).collect();
    fill(
        template,
        &[
            ("@STEPS@", steps.join("\n")),
            ("@RESULTS@", results.join("\n")),
            ("@RUNNERS@", runners.join(",")),
        ],
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_workflow_has_a_step_and_a_runner_per_exercise() {
        let files = files(&crate::workspace_root()).unwrap();
        let (_, workflow) = files.iter().find(|(p, _)| p.ends_with("classroom.yml")).unwrap();
        for key in ["@STEPS@", "@RESULTS@", "@RUNNERS@"] {
            assert!(!workflow.contains(key), "{key} is left:\n{workflow}");
        }
        for e in checks::catalogue() {
            let id = format!("e{:02}", e.number);
            assert!(workflow.contains(&format!("        id: {id}\n")), "{workflow}");
            assert!(workflow.contains(&format!("command: cargo xtask check {}\n", e.number)));
            assert!(workflow.contains(&format!(
                "{}_RESULTS: \"${{{{steps.{id}.outputs.result}}}}\"",
                id.to_uppercase()
            )));
        }
        let runners = workflow
            .lines()
            .find_map(|l| l.trim().strip_prefix("runners: "))
            .unwrap();
        assert_eq!(runners.split(',').count(), checks::catalogue().len());
        assert!(!workflow.contains('\t'), "YAML forbids tabs");
    }

    #[test]
    fn the_readme_lists_every_exercise_with_its_public_points() {
        let files = files(&crate::workspace_root()).unwrap();
        let (_, readme) = files.iter().find(|(p, _)| p == Path::new("README.md")).unwrap();
        for e in checks::catalogue() {
            let row = format!(
                "| {:02} | [`{}`](crates/{}/src/main.rs) |",
                e.number, e.name, e.dir
            );
            assert!(readme.contains(&row), "missing {row}");
        }
        assert!(!readme.contains("@EXERCISES@"));
    }

    #[test]
    fn the_container_gets_the_promised_rust_and_an_mdbook_that_builds_on_it() {
        let root = crate::workspace_root();
        let files = files(&root).unwrap();
        let get = |name: &str| &files.iter().find(|(p, _)| p == Path::new(name)).unwrap().1;
        let json = get(".devcontainer/devcontainer.json");
        let dockerfile = get(".devcontainer/Dockerfile");
        let rust = rust_release(&root).unwrap();
        let manifest = std::fs::read_to_string(root.join("Cargo.toml")).unwrap();
        let promised = rust.strip_suffix(".0").unwrap();
        assert!(
            manifest.contains(&format!("rust-version = \"{promised}\"")),
            "{rust}"
        );
        assert!(dockerfile.contains(&format!("ARG RUST_VERSION={rust}\n")));
        let mdbook = crate::docs::MDBOOK_VERSION;
        assert!(dockerfile.contains(&format!("ARG MDBOOK_VERSION={mdbook}\n")));
        // JSON with comments: the comment lines go before parsing.
        let plain: String = json
            .lines()
            .filter(|l| !l.trim_start().starts_with("//"))
            .collect::<Vec<_>>()
            .join("\n");
        let parsed: serde_json::Value = serde_json::from_str(&plain).unwrap();
        assert_eq!(parsed["build"]["args"]["RUST_VERSION"], rust.as_str());
        assert_eq!(parsed["build"]["args"]["MDBOOK_VERSION"], mdbook);
        assert_eq!(parsed["build"]["dockerfile"], "Dockerfile");
        assert_ne!(parsed["remoteUser"], "root", "the checks run as on a laptop");
        let extensions = parsed["customizations"]["vscode"]["extensions"]
            .as_array()
            .unwrap();
        assert!(extensions.iter().any(|e| e == "rust-lang.rust-analyzer"));
        assert!(!json.contains('@') && !dockerfile.contains("@RUST") && !dockerfile.contains("@MDBOOK"));
    }

    #[test]
    fn rust_release_reads_rust_version() {
        let dir = std::env::temp_dir().join(format!("ipc-lab-rust-version-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        for (line, want) in [
            ("rust-version = \"1.85\"", Some("1.85.0")),
            ("rust-version = \"1.88.1\"", Some("1.88.1")),
            ("rust-version = \"stable\"", None),
            ("edition = \"2024\"", None),
        ] {
            std::fs::write(dir.join("Cargo.toml"), format!("[workspace.package]\n{line}\n")).unwrap();
            assert_eq!(rust_release(&dir).ok().as_deref(), want, "{line}");
        }
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn a_missing_placeholder_is_an_error() {
        assert!(fill("no placeholder", &[("@X@", "x".into())]).is_err());
        assert_eq!(fill("a @X@ b", &[("@X@", "x".into())]).unwrap(), "a x b");
    }
}
