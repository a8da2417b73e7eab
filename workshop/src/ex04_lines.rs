//! Exercise 4: event-stream lines across chunks (HTML §9.2.5), about 20 minutes.
//!
//! An event stream's lines end with CRLF, LF or a lone CR, and the network cuts the stream
//! wherever it likes: a line may span several chunks, and so may a CRLF, its CR at the end of
//! one chunk and its LF at the start of the next. That LF must not end a second, empty line.
//! Write a splitter that is fed chunk by chunk and returns each line once it is complete,
//! without its line end. A line still open when the stream ends is not returned.
//!
//! Add the fields your state needs to [`Lines`]. The check feeds the spec vectors' streams
//! split at every offset, and one byte at a time.
//!
//! Check: `scripts/workshop check 4`.

#[cfg(not(feature = "solutions"))]
pub use start::Lines;

#[cfg(feature = "solutions")]
pub use solution::Lines;

#[cfg(not(feature = "solutions"))]
mod start {
    // The parameters are unused until the body is written.
    #![allow(unused_variables)]

    /// A line splitter at some point of a stream.
    #[derive(Debug, Default)]
    pub struct Lines {
        // The state you need between chunks.
    }

    impl Lines {
        /// A splitter at the start of a stream.
        pub fn new() -> Self {
            Lines::default()
        }

        /// Feeds the next chunk; returns the lines it completed, without their line ends.
        pub fn push(&mut self, chunk: &[u8]) -> Vec<Vec<u8>> {
            panic!("exercise 4 is not written yet: see `scripts/workshop hint 4`")
        }
    }
}

#[cfg(feature = "solutions")]
mod solution {
    use sse::parser::{LineSplitter, Piece};

    /// A line splitter: WireLab's `LineSplitter`, and the line it is collecting.
    #[derive(Debug, Default)]
    pub struct Lines {
        splitter: LineSplitter,
        line: Vec<u8>,
    }

    impl Lines {
        /// A splitter at the start of a stream.
        pub fn new() -> Self {
            Lines::default()
        }

        /// Feeds the next chunk; returns the lines it completed, without their line ends.
        pub fn push(&mut self, mut chunk: &[u8]) -> Vec<Vec<u8>> {
            let mut done = Vec::new();
            while let Some(piece) = self.splitter.next_piece(&mut chunk) {
                match piece {
                    Piece::Ends(end) => {
                        self.line.extend_from_slice(end);
                        done.push(std::mem::take(&mut self.line));
                    }
                    Piece::Continues(rest) => self.line.extend_from_slice(rest),
                }
            }
            done
        }
    }
}
