//! permessage-deflate (RFC 7692): each data message compressed with DEFLATE (RFC 1951), as an
//! extension on the message layer.
//!
//! What it changes, and where:
//!
//! - the **handshake** offers and accepts it with four parameters ([`negotiate`]);
//! - the **frame layer** learns one thing only: once it is negotiated, RSV1 may be set on the
//!   first frame of a Text or Binary message, meaning "this message is compressed" (§6). RSV1
//!   on a continuation or a control frame, or with no extension negotiated, still fails the
//!   connection with 1002 (`Connection::check_header`);
//! - the **message layer** ([`Deflate`], owned by the connection) compresses a whole message
//!   before it is framed, and inflates a compressed one piece by piece as its frames arrive.
//!
//! # The bytes (§7.2)
//!
//! A sender compresses the message and ends it with a sync flush, which closes the last block
//! with an empty stored block `00 00 ff ff`; those four bytes are always the same, so they are
//! removed from the wire, and the receiver appends them back before it inflates the end of the
//! message. With context takeover (the default), both ends keep their LZ77 window from one
//! message to the next, so a message that repeats an earlier one costs a few bytes; with
//! `*_no_context_takeover`, that side starts every message afresh.
//!
//! ```text
//! "Hello" compressed, first message:   f2 48 cd c9 c9 07 00   (RFC 7692 §7.2.3.1)
//! "Hello" again, with context takeover: f2 00 11 00 00         (§7.2.3.2: a back-reference)
//! ```
//!
//! # Memory, and the message limit
//!
//! DEFLATE state is large: a compressor holds window-sized arrays and a hash table and
//! buffers of fixed size (`flate2` gives no way to lower zlib's `memLevel`), an inflater its
//! window and tables. With zlib-rs, a connection that keeps both contexts holds about 610 KiB
//! at window bits 15 and about 370 KiB at 9 to 11
//! (`wirelab-bench deflate-memory --bits 15 --connections 1000`). So the state is created
//! when the first message needs it, and a side without context takeover drops its state after
//! every message: an idle connection that negotiated `server_no_context_takeover` and
//! `client_no_context_takeover` holds none, and pays for a fresh state on every message.
//!
//! Inflating is where a peer can make us spend memory: a few KiB of zeros compressed inflate
//! to gigabytes. [`Deflate::inflate`] writes into the message in bounded steps and stops as
//! soon as the message passes `Limits::max_message_size`: the connection fails with 1009
//! having held at most the limit and one step more. The compressed bytes are bounded by the
//! same limit too (checked on frame headers), as a stream of empty blocks inflates to nothing.

pub mod negotiate;

use flate2::{Compress, Compression, Decompress, FlushCompress, FlushDecompress, Status};

use crate::connection::Role;
use crate::error::Error;

/// What this end accepts or offers. `DeflateConfig::default()` documents each default.
// ANCHOR: deflate_config
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DeflateConfig {
    /// Offer the extension (a client) or accept an offer (a server). Default: `false`.
    ///
    /// Off by default because it is not free: with context takeover each connection keeps
    /// some 370 to 610 KiB of compressor and inflater state (window bits 9 to 15, see the
    /// [module docs](self)), and each message costs CPU to compress.
    /// It is also a risk where a message mixes a secret with text an attacker chooses (the
    /// CRIME/BREACH compression oracle: the compressed size leaks whether a guess matched).
    /// Turn it on for repetitive text (JSON) between trusted parties on slow links.
    pub enabled: bool,
    /// Ask that the server reset its compressor after every message. Default: `false`.
    pub server_no_context_takeover: bool,
    /// Ask that the client reset its compressor after every message. Default: `false`.
    pub client_no_context_takeover: bool,
    /// The largest window the server may compress with, 2^N bytes, N from 9 to 15 (8 is
    /// never agreed to: zlib cannot compress with it). Default: 15.
    pub server_max_window_bits: u8,
    /// The largest window the client may compress with, 9 to 15. A server can impose it only
    /// on a client that offers `client_max_window_bits`. Default: 15.
    pub client_max_window_bits: u8,
    /// zlib's compression level, 0 (store) to 9 (smallest). Default: 6, zlib's own.
    pub level: u8,
}
// ANCHOR_END: deflate_config

impl Default for DeflateConfig {
    fn default() -> Self {
        DeflateConfig {
            enabled: false,
            server_no_context_takeover: false,
            client_no_context_takeover: false,
            server_max_window_bits: 15,
            client_max_window_bits: 15,
            level: 6,
        }
    }
}

impl DeflateConfig {
    /// The defaults, turned on.
    pub fn on() -> Self {
        DeflateConfig {
            enabled: true,
            ..DeflateConfig::default()
        }
    }
}

/// The parameters that hold on a connection once the handshake has agreed on the extension.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PerMessageDeflate {
    /// The server resets its compressor after every message.
    pub server_no_context_takeover: bool,
    /// The client resets its compressor after every message.
    pub client_no_context_takeover: bool,
    /// The server compresses with a window of at most 2^N bytes.
    pub server_max_window_bits: u8,
    /// The client compresses with a window of at most 2^N bytes.
    pub client_max_window_bits: u8,
}

/// The 4 bytes a sync flush ends with, removed by the sender and restored by the receiver
/// (RFC 7692 §7.2.1, §7.2.2).
const TAIL: [u8; 4] = [0x00, 0x00, 0xff, 0xff];

/// How much inflated output one step may add at least; steps double with the message, up to
/// the limit.
const INFLATE_STEP: usize = 16 << 10;

/// The compressor (for what we send) and the inflater (for what we receive) of one connection.
pub struct Deflate {
    /// What the handshake agreed.
    params: PerMessageDeflate,
    /// Our side: window bits and whether we keep the context between messages.
    send_bits: u8,
    send_takeover: bool,
    /// The peer's side.
    receive_bits: u8,
    receive_takeover: bool,
    level: Compression,
    /// `None` until a message needs it, and again after each message without takeover.
    compressor: Option<Box<Compress>>,
    inflater: Option<Box<Decompress>>,
    /// The message being inflated had a block with BFINAL set: what follows it in the same
    /// message is ignored, as zlib leaves it unused.
    stream_ended: bool,
}

impl std::fmt::Debug for Deflate {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Deflate")
            .field("send_bits", &self.send_bits)
            .field("send_takeover", &self.send_takeover)
            .field("receive_bits", &self.receive_bits)
            .field("receive_takeover", &self.receive_takeover)
            .field("compressor", &self.compressor.is_some())
            .field("inflater", &self.inflater.is_some())
            .finish()
    }
}

impl Deflate {
    /// The state of `role`'s end of a connection that agreed on `params`, compressing at
    /// `level` (0 to 9).
    // req: pmd/7.2.1/max-window
    pub fn new(role: Role, params: PerMessageDeflate, level: u8) -> Deflate {
        let server = (
            params.server_max_window_bits,
            !params.server_no_context_takeover,
        );
        let client = (
            params.client_max_window_bits,
            !params.client_no_context_takeover,
        );
        let ((send_bits, send_takeover), (receive_bits, receive_takeover)) = match role {
            Role::Server => (server, client),
            Role::Client => (client, server),
        };
        Deflate {
            params,
            // flate2 takes 9 to 15. Sending: negotiation never agrees to 8. Receiving: a
            // larger window inflates a smaller one's stream.
            send_bits: send_bits.clamp(9, 15),
            send_takeover,
            receive_bits: receive_bits.clamp(9, 15),
            receive_takeover,
            level: Compression::new(u32::from(level.min(9))),
            compressor: None,
            inflater: None,
            stream_ended: false,
        }
    }

    /// Compresses one whole message into `out` (cleared first): DEFLATE with a sync flush,
    /// without the final `00 00 ff ff` (§7.2.1).
    // req: pmd/7.2.1/no-context-takeover pmd/5/agreed
    // ANCHOR: compress
    pub fn compress(&mut self, message: &[u8], out: &mut Vec<u8>) {
        let (bits, level) = (self.send_bits, self.level);
        let compressor = self
            .compressor
            .get_or_insert_with(|| Box::new(Compress::new_with_window_bits(level, false, bits)));
        out.clear();
        out.reserve(message.len() / 2 + 64);
        let mut consumed = 0;
        loop {
            if out.capacity() - out.len() < 64 {
                out.reserve(out.capacity().max(64));
            }
            let before = compressor.total_in();
            // Cannot fail: the stream is valid and `Sync` is a valid flush at any point.
            let _ = compressor.compress_vec(&message[consumed..], out, FlushCompress::Sync);
            consumed += (compressor.total_in() - before) as usize;
            // The flush is complete once all input is in and zlib left output room unused.
            if consumed == message.len() && out.len() < out.capacity() {
                break;
            }
        }
        if out.ends_with(&TAIL) {
            out.truncate(out.len() - TAIL.len());
        }
        if !self.send_takeover {
            self.compressor = None;
        }
    }
    // ANCHOR_END: compress

    /// Inflates one piece of a compressed message's payload onto `out`, failing with
    /// [`Error::MessageTooLarge`] as soon as `out` would pass `max` bytes, and with
    /// [`Error::BadCompressedData`] when the bytes are not DEFLATE. `last` says that the piece
    /// ends the message: its `00 00 ff ff` is appended, and without context takeover the
    /// inflater is dropped.
    // req: pmd/7.2.2/takeover pmd/5/agreed
    // ANCHOR: inflate
    pub fn inflate(
        &mut self,
        piece: &[u8],
        last: bool,
        out: &mut Vec<u8>,
        max: usize,
    ) -> Result<(), Error> {
        let bits = self.receive_bits;
        if !self.stream_ended {
            let inflater = self
                .inflater
                .get_or_insert_with(|| Box::new(Decompress::new_with_window_bits(false, bits)));
            self.stream_ended = inflate_into(inflater, piece, out, max)?;
            if last && !self.stream_ended {
                inflate_into(inflater, &TAIL, out, max)?;
            }
        }
        // §7.2.3.4: a block with BFINAL set ends the DEFLATE stream; the next message starts
        // a new one, so the inflater starts afresh.
        if last && (self.stream_ended || !self.receive_takeover) {
            self.inflater = None;
            self.stream_ended = false;
        }
        Ok(())
    }
    // ANCHOR_END: inflate

    /// The parameters the handshake agreed.
    pub fn params(&self) -> PerMessageDeflate {
        self.params
    }

    /// Whether a compressor or an inflater is allocated (tests of the memory rules).
    pub fn holds_state(&self) -> (bool, bool) {
        (self.compressor.is_some(), self.inflater.is_some())
    }
}

/// Runs `input` through the inflater onto `out`, never letting `out` hold more than `max + 1`
/// bytes. Returns whether the DEFLATE stream ended (a BFINAL block).
// ANCHOR: inflate_into
fn inflate_into(
    inflater: &mut Decompress,
    input: &[u8],
    out: &mut Vec<u8>,
    max: usize,
) -> Result<bool, Error> {
    let mut consumed = 0;
    loop {
        // Room for one step: at least 16 KiB, doubling with the message, but never past one
        // byte over the limit (that byte is how an overflow shows).
        let room = (max + 1).saturating_sub(out.len());
        let step = out.len().max(INFLATE_STEP).min(room);
        if out.capacity() - out.len() < step {
            out.reserve_exact(step);
        }
        let before = inflater.total_in();
        let status = inflater
            .decompress_vec(&input[consumed..], out, FlushDecompress::None)
            .map_err(|_| Error::BadCompressedData)?;
        consumed += (inflater.total_in() - before) as usize;
        if out.len() > max {
            return Err(Error::MessageTooLarge {
                len: out.len() as u64,
                max,
            });
        }
        match status {
            Status::StreamEnd => return Ok(true),
            // All input used and room left over: the inflater has nothing more to give.
            _ if consumed == input.len() && out.len() < out.capacity() => return Ok(false),
            Status::BufError if consumed == input.len() => return Ok(false),
            _ => {}
        }
    }
}
// ANCHOR_END: inflate_into

#[cfg(test)]
mod tests {
    use super::*;

    fn params() -> PerMessageDeflate {
        PerMessageDeflate {
            server_no_context_takeover: false,
            client_no_context_takeover: false,
            server_max_window_bits: 15,
            client_max_window_bits: 15,
        }
    }

    /// The examples of RFC 7692 §7.2.3.1 and §7.2.3.2, byte for byte.
    // req: pmd/7.2.2/takeover pmd/5/agreed
    #[test]
    fn hello_twice_as_in_the_rfc() {
        let mut server = Deflate::new(Role::Server, params(), 6);
        let mut out = Vec::new();
        server.compress(b"Hello", &mut out);
        assert_eq!(out, [0xf2, 0x48, 0xcd, 0xc9, 0xc9, 0x07, 0x00]);
        server.compress(b"Hello", &mut out);
        assert_eq!(out, [0xf2, 0x00, 0x11, 0x00, 0x00]);

        let mut client = Deflate::new(Role::Client, params(), 6);
        let mut text = Vec::new();
        client
            .inflate(
                &[0xf2, 0x48, 0xcd, 0xc9, 0xc9, 0x07, 0x00],
                true,
                &mut text,
                100,
            )
            .expect("valid");
        client
            .inflate(&[0xf2, 0x00, 0x11, 0x00, 0x00], true, &mut text, 100)
            .expect("valid");
        assert_eq!(text, b"HelloHello");
    }

    /// §7.2.3.3: the same message with no compression, a stored block, inflates as well;
    /// §7.2.3.4: so does one whose block has BFINAL set, and the next message starts anew.
    #[test]
    fn stored_and_final_blocks() {
        let mut client = Deflate::new(Role::Client, params(), 6);
        let mut text = Vec::new();
        let stored = [
            0x00, 0x05, 0x00, 0xfa, 0xff, 0x48, 0x65, 0x6c, 0x6c, 0x6f, 0x00,
        ];
        client
            .inflate(&stored, true, &mut text, 100)
            .expect("valid");
        let last = [0xf3, 0x48, 0xcd, 0xc9, 0xc9, 0x07, 0x00, 0x00];
        client.inflate(&last, true, &mut text, 100).expect("valid");
        client.inflate(&last, true, &mut text, 100).expect("again");
        assert_eq!(text, b"HelloHelloHello");
    }

    // req: pmd/7.2.1/no-context-takeover
    #[test]
    fn without_takeover_the_state_goes_after_each_message() {
        let p = PerMessageDeflate {
            server_no_context_takeover: true,
            client_no_context_takeover: true,
            ..params()
        };
        let mut server = Deflate::new(Role::Server, p, 6);
        let mut out = Vec::new();
        server.compress(b"Hello", &mut out);
        server.compress(b"Hello", &mut out);
        assert_eq!(
            out,
            [0xf2, 0x48, 0xcd, 0xc9, 0xc9, 0x07, 0x00],
            "no back-reference"
        );
        let mut text = Vec::new();
        server.inflate(&out, true, &mut text, 100).expect("valid");
        assert_eq!(server.holds_state(), (false, false));
    }

    /// §7.2.1: with `server_max_window_bits=9` agreed, the server reaches back at most 512
    /// bytes. A message repeating one sent 1,600 bytes earlier is therefore written out again,
    /// and a client that keeps only a 512-byte window between messages inflates it; a
    /// compressor with a larger window would refer back to it, which that client cannot
    /// follow.
    // req: pmd/7.2.1/max-window
    #[test]
    fn the_agreed_window_bounds_the_compressor() {
        let p = PerMessageDeflate {
            server_max_window_bits: 9,
            ..params()
        };
        // Bytes that do not compress (a linear congruential sequence), so that only a
        // back-reference to the first message could make its repeat small.
        let noise = |seed: u32, len: usize| {
            let mut x = seed;
            (0..len)
                .map(|_| {
                    x = x.wrapping_mul(1_103_515_245).wrapping_add(12_345);
                    (x >> 16) as u8
                })
                .collect::<Vec<u8>>()
        };
        let first = noise(1, 600);
        let mut server = Deflate::new(Role::Server, p, 6);
        let mut client = Deflate::new(Role::Client, p, 6);
        let mut wire = Vec::new();
        for message in [&first, &noise(2, 1000), &first] {
            server.compress(message, &mut wire);
            let mut back = Vec::new();
            client
                .inflate(&wire, true, &mut back, 1 << 20)
                .expect("inflates with a 512-byte window");
            assert_eq!(&back, message);
        }
        assert!(
            wire.len() > 550,
            "the repeat refers back: {} bytes",
            wire.len()
        );
    }

    /// 16 MiB of zeros compress to 16 KiB; inflating them with a 1 MiB limit stops just past
    /// 1 MiB, having never held the rest.
    #[test]
    fn a_bomb_stops_at_the_limit() {
        let mut sender = Deflate::new(Role::Client, params(), 9);
        let mut bomb = Vec::new();
        sender.compress(&vec![0; 16 << 20], &mut bomb);
        assert!(bomb.len() < 20 << 10, "{}", bomb.len());
        let mut receiver = Deflate::new(Role::Server, params(), 6);
        let mut out = Vec::new();
        let result = receiver.inflate(&bomb, true, &mut out, 1 << 20);
        assert!(
            matches!(result, Err(Error::MessageTooLarge { .. })),
            "{result:?}"
        );
        assert!(out.capacity() <= (1 << 20) + 1, "{}", out.capacity());
    }

    #[test]
    fn garbage_does_not_inflate() {
        let mut receiver = Deflate::new(Role::Server, params(), 6);
        let mut out = Vec::new();
        let result = receiver.inflate(&[0xff; 16], true, &mut out, 100);
        assert!(
            matches!(result, Err(Error::BadCompressedData)),
            "{result:?}"
        );
    }

    /// Every window size compresses what the same size inflates, over many messages.
    // req: pmd/5/agreed
    #[test]
    fn every_window_round_trips() {
        for bits in 9..=15 {
            let p = PerMessageDeflate {
                server_max_window_bits: bits,
                client_max_window_bits: bits,
                ..params()
            };
            let mut server = Deflate::new(Role::Server, p, 6);
            let mut client = Deflate::new(Role::Client, p, 6);
            let mut wire = Vec::new();
            for i in 0..50 {
                let message = format!("{{\"tick\":{i},\"price\":{}}}", 100 + i % 7).repeat(i);
                server.compress(message.as_bytes(), &mut wire);
                let mut back = Vec::new();
                client
                    .inflate(&wire, true, &mut back, 1 << 20)
                    .expect("inflates");
                assert_eq!(back, message.as_bytes(), "bits {bits}, message {i}");
            }
        }
    }
}
