//! Password benchmarks (work in progress).
fn main() {}
