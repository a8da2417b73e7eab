//! `wirelab`: the command-line tool.

fn main() {}
