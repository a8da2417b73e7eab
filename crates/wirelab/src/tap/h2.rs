//! HTTP/2 in clear text (h2c), one direction: each frame's header, and what the frame says.
//!
//! After the client's connection preface (RFC 9113 §3.4), both directions are frames: a 9-byte
//! header (payload length, type, flags, stream) and a payload (§4.1). The tap names each frame
//! and shows what matters in it: SETTINGS by the names of RFC 9113 §6.5.2 and RFC 8441 §3,
//! HEADERS as the fields they carry (decoded with HPACK, RFC 7541: a decoder per direction,
//! since each direction has its own compression table), DATA with its length and END_STREAM,
//! WINDOW_UPDATE with its increment, RST_STREAM and GOAWAY with their error codes (§7).
//! A stream that a client opened with `:protocol = websocket` (RFC 8441) carries WebSocket
//! frames in its DATA: those are shown as after a `101`, frame by frame.
//!
//! The tap reads HTTP/2 only to annotate it; the frames it forwards are untouched, and what
//! it cannot read (a malformed frame) it says and goes on.

use std::collections::HashMap;

use super::frames::Frames;
use super::show::{hex, quote};

/// The rest of the preface after the head the HTTP layer reads (`PRI * HTTP/2.0` and a blank
/// line).
const PREFACE_TAIL: &[u8] = b"SM\r\n\r\n";

/// The frames of one direction of an HTTP/2 connection.
pub(super) struct Http2 {
    /// Bytes of the preface's tail still to pass (the client's side only).
    preface_left: usize,
    /// The frame being collected: its header, then its payload.
    frame: Vec<u8>,
    hpack: loona_hpack::Decoder<'static>,
    /// A header block cut across HEADERS and CONTINUATION frames: its stream, and the block
    /// so far.
    block: Option<(u32, Vec<u8>)>,
    /// The streams that carry a WebSocket, each with its frames in this direction.
    websockets: HashMap<u32, Frames>,
}

impl std::fmt::Debug for Http2 {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Http2")
            .field("websockets", &self.websockets.keys())
            .finish_non_exhaustive()
    }
}

/// What one direction's frames tell the other: a stream became a WebSocket (the client's
/// extended CONNECT), or did not (the server's answer was not `200`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Learned {
    WebSocket(u32),
    Refused(u32),
}

impl Http2 {
    /// The client's direction, after the preface's head: the preface's tail, then frames.
    pub(super) fn client() -> Http2 {
        Http2::new(PREFACE_TAIL.len())
    }

    /// The server's direction: frames from the first byte.
    pub(super) fn server() -> Http2 {
        Http2::new(0)
    }

    fn new(preface_left: usize) -> Http2 {
        Http2 {
            preface_left,
            frame: Vec::new(),
            hpack: loona_hpack::Decoder::new(),
            block: None,
            websockets: HashMap::new(),
        }
    }

    /// What the other direction learned.
    pub(super) fn learn(&mut self, learned: Learned) {
        match learned {
            Learned::WebSocket(stream) => {
                self.websockets.insert(stream, Frames::new());
            }
            Learned::Refused(stream) => {
                self.websockets.remove(&stream);
            }
        }
    }

    // ANCHOR: h2_feed
    /// Takes the next bytes of this direction and describes each frame they complete.
    pub(super) fn feed(&mut self, input: &[u8], lines: &mut Vec<String>) -> Vec<Learned> {
        let mut learned = Vec::new();
        let mut rest = input;
        if self.preface_left > 0 {
            let n = self.preface_left.min(rest.len());
            let expected = &PREFACE_TAIL[PREFACE_TAIL.len() - self.preface_left..][..n];
            if &rest[..n] != expected {
                lines.push(format!("(not the preface's tail: {})", hex(&rest[..n])));
            }
            self.preface_left -= n;
            rest = &rest[n..];
        }
        while !rest.is_empty() {
            // RFC 9113 §4.1: a 9-byte header, whose first 3 bytes are the payload's length.
            let need = frame_len(&self.frame).unwrap_or(9);
            let n = (need - self.frame.len()).min(rest.len());
            self.frame.extend_from_slice(&rest[..n]);
            rest = &rest[n..];
            if frame_len(&self.frame) == Some(self.frame.len()) {
                let frame = std::mem::take(&mut self.frame);
                self.describe(&frame, lines, &mut learned);
            }
        }
        learned
    }
    // ANCHOR_END: h2_feed

    /// One whole frame: its header's line, then its payload's.
    fn describe(&mut self, frame: &[u8], lines: &mut Vec<String>, learned: &mut Vec<Learned>) {
        let (kind, flags) = (frame[3], frame[4]);
        let stream = u32::from_be_bytes([frame[5], frame[6], frame[7], frame[8]]) & 0x7fff_ffff;
        let payload = &frame[9..];
        let len = payload.len();
        let flag = |bit: u8, name: &'static str| (flags & bit != 0).then_some(name);
        match kind {
            0x0 => {
                let names = [flag(0x1, "END_STREAM"), flag(0x8, "PADDED")];
                lines.push(format!(
                    "DATA stream {stream}, {len} bytes{}",
                    listed(&names)
                ));
                let Some(data) = unpadded(payload, flags) else {
                    return lines.push("(malformed: padding longer than the frame)".into());
                };
                match self.websockets.get_mut(&stream) {
                    Some(frames) => frames.feed(data, lines),
                    None if data.is_empty() => {}
                    None => lines.push(format!("  data: {}", quote(data, data.len() as u64))),
                }
            }
            0x1 | 0x9 => {
                let names = [
                    flag(0x1, "END_STREAM"),
                    flag(0x4, "END_HEADERS"),
                    flag(0x8, "PADDED"),
                    flag(0x20, "PRIORITY"),
                ];
                let name = if kind == 0x1 {
                    "HEADERS"
                } else {
                    "CONTINUATION"
                };
                lines.push(format!(
                    "{name} stream {stream}, {len} bytes{}",
                    listed(&names)
                ));
                let fragment = if kind == 0x1 {
                    // §6.2: padding, then 5 bytes of priority, come before the block.
                    let skip = if flags & 0x20 != 0 { 5 } else { 0 };
                    unpadded(payload, flags).and_then(|p| p.get(skip..))
                } else {
                    Some(payload)
                };
                let Some(fragment) = fragment else {
                    return lines.push("(malformed: padding longer than the frame)".into());
                };
                let (_, block) = self.block.get_or_insert_with(|| (stream, Vec::new()));
                block.extend_from_slice(fragment);
                if flags & 0x4 != 0
                    && let Some((stream, block)) = self.block.take()
                {
                    self.fields(stream, &block, lines, learned);
                }
            }
            0x3 => {
                let code = code_at(payload, 0);
                lines.push(format!("RST_STREAM stream {stream}: {}", error_name(code)));
            }
            0x4 if flags & 0x1 != 0 => lines.push("SETTINGS ACK".into()),
            0x4 => {
                lines.push(format!("SETTINGS, {} settings", len / 6));
                for setting in payload.chunks_exact(6) {
                    let id = u16::from_be_bytes([setting[0], setting[1]]);
                    let value = code_at(setting, 2);
                    lines.push(format!("  {} = {value}", setting_name(id)));
                }
            }
            0x6 => {
                let ack = if flags & 0x1 != 0 { " ACK" } else { "" };
                lines.push(format!("PING{ack}: {}", hex(payload)));
            }
            0x7 => {
                let last = code_at(payload, 0) & 0x7fff_ffff;
                let code = code_at(payload, 4);
                lines.push(format!("GOAWAY: last stream {last}, {}", error_name(code)));
                if let Some(debug) = payload.get(8..).filter(|d| !d.is_empty()) {
                    lines.push(format!(
                        "  debug data: {}",
                        quote(debug, debug.len() as u64)
                    ));
                }
            }
            0x8 => {
                let increment = code_at(payload, 0) & 0x7fff_ffff;
                lines.push(format!("WINDOW_UPDATE stream {stream}: +{increment}"));
            }
            0x2 => lines.push(format!("PRIORITY stream {stream}, {len} bytes")),
            0x5 => lines.push(format!("PUSH_PROMISE stream {stream}, {len} bytes")),
            other => lines.push(format!(
                "frame of type {other:#04x}, stream {stream}, {len} bytes"
            )),
        }
    }

    /// A whole header block, decoded: one line per field. A client's `:protocol = websocket`
    /// makes the stream a WebSocket; a server's answer other than `200` unmakes it.
    fn fields(
        &mut self,
        stream: u32,
        block: &[u8],
        lines: &mut Vec<String>,
        learned: &mut Vec<Learned>,
    ) {
        let fields = match self.hpack.decode(block) {
            Ok(fields) => fields,
            Err(e) => return lines.push(format!("  (HPACK: cannot decode the block: {e})")),
        };
        for (name, value) in &fields {
            let (name, value) = (
                String::from_utf8_lossy(name),
                String::from_utf8_lossy(value),
            );
            lines.push(format!("  {name}: {value}"));
            match (name.as_ref(), value.as_ref()) {
                (":protocol", "websocket") => {
                    self.websockets.insert(stream, Frames::new());
                    learned.push(Learned::WebSocket(stream));
                }
                (":status", status) if status != "200" => {
                    self.websockets.remove(&stream);
                    learned.push(Learned::Refused(stream));
                }
                _ => {}
            }
        }
        if learned.contains(&Learned::WebSocket(stream)) {
            lines.push(format!(
                "(an extended CONNECT: stream {stream} carries WebSocket frames once answered 200)"
            ));
        }
    }
}

/// The length of the whole frame whose first bytes are `frame`, once its header is whole.
fn frame_len(frame: &[u8]) -> Option<usize> {
    match frame {
        [a, b, c, _, _, _, _, _, _, ..] => Some(9 + u32::from_be_bytes([0, *a, *b, *c]) as usize),
        _ => None,
    }
}

/// `, NAME, NAME` for the flags that are set.
fn listed(names: &[Option<&str>]) -> String {
    names.iter().flatten().map(|n| format!(", {n}")).collect()
}

/// A DATA or HEADERS payload without its padding (§6.1: a length byte first, that many bytes
/// last), if it is PADDED.
fn unpadded(payload: &[u8], flags: u8) -> Option<&[u8]> {
    if flags & 0x8 == 0 {
        return Some(payload);
    }
    let (&pad, rest) = payload.split_first()?;
    rest.len().checked_sub(pad as usize).map(|end| &rest[..end])
}

/// The big-endian u32 at `at`, or 0 if the payload is too short.
fn code_at(payload: &[u8], at: usize) -> u32 {
    payload
        .get(at..at + 4)
        .map_or(0, |b| u32::from_be_bytes([b[0], b[1], b[2], b[3]]))
}

/// RFC 9113 §6.5.2, and §3 of RFC 8441 and RFC 9218.
fn setting_name(id: u16) -> String {
    let name = match id {
        0x1 => "SETTINGS_HEADER_TABLE_SIZE",
        0x2 => "SETTINGS_ENABLE_PUSH",
        0x3 => "SETTINGS_MAX_CONCURRENT_STREAMS",
        0x4 => "SETTINGS_INITIAL_WINDOW_SIZE",
        0x5 => "SETTINGS_MAX_FRAME_SIZE",
        0x6 => "SETTINGS_MAX_HEADER_LIST_SIZE",
        0x8 => "SETTINGS_ENABLE_CONNECT_PROTOCOL",
        0x9 => "SETTINGS_NO_RFC7540_PRIORITIES",
        other => return format!("setting {other:#06x}"),
    };
    name.to_owned()
}

/// RFC 9113 §7.
fn error_name(code: u32) -> String {
    const NAMES: [&str; 14] = [
        "NO_ERROR",
        "PROTOCOL_ERROR",
        "INTERNAL_ERROR",
        "FLOW_CONTROL_ERROR",
        "SETTINGS_TIMEOUT",
        "STREAM_CLOSED",
        "FRAME_SIZE_ERROR",
        "REFUSED_STREAM",
        "CANCEL",
        "COMPRESSION_ERROR",
        "CONNECT_ERROR",
        "ENHANCE_YOUR_CALM",
        "INADEQUATE_SECURITY",
        "HTTP_1_1_REQUIRED",
    ];
    match NAMES.get(code as usize) {
        Some(name) => format!("{name} ({code:#x})"),
        None => format!("error {code:#x}"),
    }
}

#[cfg(test)]
mod tests {
    use crate::tap::{Annotator, Direction, TapOptions};

    /// An HTTP/2 frame: header (RFC 9113 §4.1), then payload.
    fn frame(kind: u8, flags: u8, stream: u32, payload: &[u8]) -> Vec<u8> {
        let mut out = (payload.len() as u32).to_be_bytes()[1..].to_vec();
        out.extend([kind, flags]);
        out.extend(stream.to_be_bytes());
        out.extend_from_slice(payload);
        out
    }

    /// A client's side of an RFC 8441 exchange, then a server's, as bytes.
    fn exchange() -> (Vec<u8>, Vec<u8>) {
        let mut hpack = loona_hpack::Encoder::new();
        let request: [(&[u8], &[u8]); 6] = [
            (b":method", b"CONNECT"),
            (b":protocol", b"websocket"),
            (b":scheme", b"http"),
            (b":path", b"/chat"),
            (b":authority", b"example.com"),
            (b"sec-websocket-version", b"13"),
        ];
        let block = hpack.encode(request);
        let mut client = b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n".to_vec();
        client.extend(frame(0x4, 0, 0, &[]));
        // The block in two parts: HEADERS, then CONTINUATION with END_HEADERS.
        client.extend(frame(0x1, 0, 1, &block[..4]));
        client.extend(frame(0x9, 0x4, 1, &block[4..]));
        // A masked Text frame "hi" (key 0), in a PADDED DATA frame.
        client.extend(frame(
            0x0,
            0x8,
            1,
            &[2, 0x81, 0x82, 0, 0, 0, 0, b'h', b'i', 0, 0],
        ));
        client.extend(frame(0x3, 0, 1, &8u32.to_be_bytes()));
        let mut server = frame(0x4, 0, 0, &[0, 8, 0, 0, 0, 1]);
        server.extend(frame(0x4, 0x1, 0, &[]));
        let block = loona_hpack::Encoder::new().encode([(&b":status"[..], &b"200"[..])]);
        server.extend(frame(0x1, 0x4, 1, &block));
        server.extend(frame(0x0, 0x1, 1, &[0x81, 0x02, b'h', b'i']));
        server.extend(frame(0x8, 0, 0, &1000u32.to_be_bytes()));
        server.extend(frame(0x6, 0x1, 0, &[1; 8]));
        let mut goaway = 1u32.to_be_bytes().to_vec();
        goaway.extend(0u32.to_be_bytes());
        goaway.extend(b"bye");
        server.extend(frame(0x7, 0, 0, &goaway));
        (client, server)
    }

    fn annotate(client: &[u8], server: &[u8], piece: usize) -> Vec<String> {
        let mut tap = Annotator::new(TapOptions::default());
        let mut lines = Vec::new();
        for bytes in client.chunks(piece) {
            lines.extend(tap.feed(Direction::ToServer, bytes));
        }
        for bytes in server.chunks(piece) {
            lines.extend(tap.feed(Direction::ToClient, bytes));
        }
        lines
    }

    #[test]
    fn an_extended_connect_annotated() {
        let (client, server) = exchange();
        let lines = annotate(&client, &server, client.len() + server.len());
        let expected = [
            "HTTP/2 connection preface: PRI * HTTP/2.0, SM (h2c, prior knowledge)",
            "SETTINGS, 0 settings",
            "HEADERS stream 1, 4 bytes",
            "CONTINUATION stream 1, 73 bytes, END_HEADERS",
            "  :method: CONNECT",
            "  :protocol: websocket",
            "  :scheme: http",
            "  :path: /chat",
            "  :authority: example.com",
            "  sec-websocket-version: 13",
            "(an extended CONNECT: stream 1 carries WebSocket frames once answered 200)",
            "DATA stream 1, 11 bytes, PADDED",
            "frame FIN - - - Text MASK=00000000 len=2 (7-bit length), 8 bytes on the wire",
            "  masked:   6869",
            "  payload:  \"hi\"",
            "RST_STREAM stream 1: CANCEL (0x8)",
            "SETTINGS, 1 settings",
            "  SETTINGS_ENABLE_CONNECT_PROTOCOL = 1",
            "SETTINGS ACK",
            "HEADERS stream 1, 1 bytes, END_HEADERS",
            "  :status: 200",
            "DATA stream 1, 4 bytes, END_STREAM",
            "frame FIN - - - Text len=2 (7-bit length), 4 bytes on the wire",
            "  payload:  \"hi\"",
            "WINDOW_UPDATE stream 0: +1000",
            "PING ACK: 0101010101010101",
            "GOAWAY: last stream 1, NO_ERROR (0x0)",
            "  debug data: \"bye\"",
        ];
        assert_eq!(lines, expected);
        // However the reads cut the bytes.
        for piece in 1..12 {
            assert_eq!(
                annotate(&client, &server, piece),
                expected,
                "pieces of {piece}"
            );
        }
    }

    /// A server's answer other than 200 leaves the stream's DATA plain bytes.
    #[test]
    fn a_refused_connect_has_no_websocket_frames() {
        let (client, _) = exchange();
        let mut server = frame(0x4, 0, 0, &[]);
        let block = loona_hpack::Encoder::new().encode([(&b":status"[..], &b"403"[..])]);
        server.extend(frame(0x1, 0x4, 1, &block));
        server.extend(frame(0x0, 0x1, 1, b"no"));
        let lines = annotate(&client, &server, 64);
        assert_eq!(
            lines[lines.len() - 2..],
            ["DATA stream 1, 2 bytes, END_STREAM", "  data: \"no\""]
        );
    }
}
