//! What the students' and the staff's commands share about the course
//! workspace. Today: the student regions of the exercises and their stubs
//! ([`stub`]), used by `release` to write the student repository, by
//! `reset` to put an exercise back as released, by `docs` to build the
//! students' book, and by the grader to recognise an exercise a student
//! never touched.
//!
//! It depends on nothing, so the students' `xtask` pays nothing for it.

pub mod stub;
