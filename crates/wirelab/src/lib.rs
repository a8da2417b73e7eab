//! The library side of the `wirelab` tool: each subcommand's work, callable from tests.
pub mod sse_cmd;
pub mod tap;
pub mod echo;
pub mod ws_cmd;
pub mod demo;
