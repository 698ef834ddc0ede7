//! One module per exercise, in lecture order; [`ALL`] is the catalogue.

use crate::Exercise;

mod e01_selfpipe;
mod e02_childpipe;
mod e03_closing_ends;
mod e04_child_to_child;
mod e05_pipesizer;
mod e06_fork_process;
mod e07_fork_thread;
mod e08_std_thread;
mod e09_sharing;
mod e10_incr;
mod e11_mpsc;
mod e12_spmc;
mod e13_pipe_rules;
mod e14_parallelism;
mod e15_spawn_cost;
mod e16_pipe_throughput;

/// Every exercise, in lecture order.
pub(crate) static ALL: &[Exercise] = &[
    e01_selfpipe::EXERCISE,
    e02_childpipe::EXERCISE,
    e03_closing_ends::EXERCISE,
    e04_child_to_child::EXERCISE,
    e05_pipesizer::EXERCISE,
    e06_fork_process::EXERCISE,
    e07_fork_thread::EXERCISE,
    e08_std_thread::EXERCISE,
    e09_sharing::EXERCISE,
    e10_incr::EXERCISE,
    e11_mpsc::EXERCISE,
    e12_spmc::EXERCISE,
    e13_pipe_rules::EXERCISE,
    e14_parallelism::EXERCISE,
    e15_spawn_cost::EXERCISE,
    e16_pipe_throughput::EXERCISE,
];
