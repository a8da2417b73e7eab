//! The SSE spec vectors of the conformance suite, `conformance/vectors/sse/parser.json`, for
//! the checks of exercises 4 and 5, loaded as the conformance tests and `wirelab check
//! sse-parser` load them.

pub(crate) use wirelab_conformance::sse_vectors::Vector;

pub(crate) fn load() -> Vec<Vector> {
    wirelab_conformance::sse_vectors::vectors().expect("the vectors file is well formed")
}
