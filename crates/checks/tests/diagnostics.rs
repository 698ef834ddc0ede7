//! rustc's JSON diagnostics, read by the one reader the checker and the
//! grader share: a compile error points into the sources, a linker's does
//! not (the grader retries that one instead of keeping it). The samples in
//! `data/` are rustc's own output (1.95), the linker's shortened.

use checks::build::Diagnostic;

#[test]
fn an_error_in_the_sources_has_a_primary_span_there() {
    let d = Diagnostic::from_rustc_json(include_str!("data/rustc-type-error.json").trim()).unwrap();
    assert!(d.is_error());
    assert_eq!(d.message, "mismatched types");
    assert_eq!(d.primary_files().collect::<Vec<_>>(), ["bad.rs"]);
    assert!(
        d.text().starts_with("error[E0308]: mismatched types"),
        "{}",
        d.text()
    );
}

#[test]
fn a_linker_error_points_at_no_source() {
    let d = Diagnostic::from_rustc_json(include_str!("data/rustc-linker-error.json").trim()).unwrap();
    assert!(d.is_error());
    assert_eq!(d.primary_files().count(), 0);
}

#[test]
fn other_lines_are_not_diagnostics() {
    assert!(
        Diagnostic::from_rustc_json(r#"{"$message_type":"artifact","artifact":"x.d","emit":"dep-info"}"#)
            .is_none()
    );
    assert!(Diagnostic::from_rustc_json("not json").is_none());
}
