//! Negotiating permessage-deflate in the opening handshake (RFC 7692 §5, §7.1), both sides.
//!
//! The client offers the extension in `Sec-WebSocket-Extensions`, with parameters; a client
//! may send several offers, most preferred first. The server accepts at most one of them,
//! answering with the parameters that will hold, or declines them all by not naming the
//! extension. The header's grammar is RFC 6455 §9.1:
//!
//! ```text
//! Sec-WebSocket-Extensions: permessage-deflate; client_max_window_bits, permessage-deflate
//!                           └─ extension ────┘ └─ parameter ────────┘   └─ a second offer ┘
//! ```
//!
//! The four parameters (§7.1) come in pairs, one for each direction. `*_no_context_takeover`
//! says that side resets its compressor after every message (less memory kept between
//! messages, worse compression); `*_max_window_bits` bounds the LZ77 window that side
//! compresses with, 2^8 to 2^15 bytes (less memory for both ends, worse compression).
//!
//! # Window bits 8
//!
//! zlib cannot compress raw deflate with a 256-byte window: `deflateInit2` refuses
//! `windowBits = -8` (since zlib 1.2.9; before, it silently used 9 and wrote streams a 256-byte
//! inflater could not read). zlib-rs does the same, and `flate2` accepts 9 to 15 only. So this
//! crate never agrees to *compress* with 8: a server declines an offer that asks
//! `server_max_window_bits=8` (RFC 7692 §7.1.2.1 lets it decline), and a client fails a
//! response that asks `client_max_window_bits=8`. It *inflates* a peer's 8-bit stream with a
//! 9-bit window, which is always correct: a window only bounds how far back a match may
//! reach. Autobahn|Testsuite uses the same rule (it offers 9 to 15 only).

use super::{DeflateConfig, PerMessageDeflate};
use crate::error::Error;

/// The extension's registered name (RFC 7692 §5).
pub const NAME: &str = "permessage-deflate";

/// One extension of a `Sec-WebSocket-Extensions` list: its name and its parameters, each with
/// its value if it has one (quoted values unquoted).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Extension {
    /// The extension token, such as `permessage-deflate`.
    pub name: String,
    /// `name[=value]` parameters, in order.
    pub params: Vec<(String, Option<String>)>,
}

/// RFC 9110 §5.6.2: `tchar`.
fn is_tchar(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~".contains(&b)
}

// req: ws/9.1/malformed
/// Parses every value of `Sec-WebSocket-Extensions` (RFC 6455 §9.1) into extensions, in order.
/// A value that breaks the grammar is [`Error::BadExtensionHeader`].
pub fn parse_extensions<'a>(
    values: impl IntoIterator<Item = &'a [u8]>,
) -> Result<Vec<Extension>, Error> {
    let mut out = Vec::new();
    for value in values {
        let bad = || Error::BadExtensionHeader(String::from_utf8_lossy(value).into_owned());
        let mut rest = value;
        loop {
            // `1#extension`: empty list elements (", ,") are allowed and skipped (RFC 9110 §5.6.1).
            rest = skip_ows(rest);
            match rest.first() {
                None => break,
                Some(b',') => {
                    rest = &rest[1..];
                    continue;
                }
                Some(_) => {}
            }
            let (name, after) = token(rest).ok_or_else(bad)?;
            let mut extension = Extension {
                name: name.to_owned(),
                params: Vec::new(),
            };
            rest = skip_ows(after);
            while let Some(b';') = rest.first() {
                let (param, after) = token(skip_ows(&rest[1..])).ok_or_else(bad)?;
                rest = skip_ows(after);
                let mut value = None;
                if let Some(b'=') = rest.first() {
                    let (v, after) = param_value(skip_ows(&rest[1..])).ok_or_else(bad)?;
                    value = Some(v);
                    rest = skip_ows(after);
                }
                extension.params.push((param.to_owned(), value));
            }
            match rest.first() {
                None | Some(b',') => out.push(extension),
                Some(_) => return Err(bad()),
            }
        }
    }
    Ok(out)
}

fn skip_ows(s: &[u8]) -> &[u8] {
    let n = s.iter().take_while(|&&b| b == b' ' || b == b'\t').count();
    &s[n..]
}

/// A token at the start of `s`, and what follows it.
fn token(s: &[u8]) -> Option<(&str, &[u8])> {
    let n = s.iter().take_while(|&&b| is_tchar(b)).count();
    let text = std::str::from_utf8(&s[..n]).ok()?;
    (n > 0).then_some((text, &s[n..]))
}

// req: ws/4.3/ext-param
/// `token | quoted-string`; §9.1: a quoted value, once unquoted, must be a token too.
fn param_value(s: &[u8]) -> Option<(String, &[u8])> {
    if s.first() != Some(&b'"') {
        let (t, rest) = token(s)?;
        return Some((t.to_owned(), rest));
    }
    let mut value = Vec::new();
    let mut i = 1;
    loop {
        match *s.get(i)? {
            b'"' => break,
            b'\\' => {
                value.push(*s.get(i + 1)?);
                i += 2;
            }
            b => {
                value.push(b);
                i += 1;
            }
        }
    }
    let text = String::from_utf8(value).ok()?;
    let is_token = !text.is_empty() && text.bytes().all(is_tchar);
    is_token.then_some((text, &s[i + 1..]))
}

/// The parameters of one permessage-deflate offer or response, checked for the rules that
/// hold for both (§7: known names, no repeats, values where required, 8 to 15).
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
struct Params {
    server_no_context_takeover: bool,
    client_no_context_takeover: bool,
    server_max_window_bits: Option<u8>,
    /// `Some(None)`: the parameter with no value (an offer's "I can take a limit").
    client_max_window_bits: Option<Option<u8>>,
}

// req: pmd/7/decline pmd/7/fail-response pmd/7.1.2.1/value pmd/7.1.2.2/value ws/9/params
// ANCHOR: read_params
fn read_params(extension: &Extension) -> Result<Params, &'static str> {
    let mut p = Params::default();
    let mut seen = Vec::with_capacity(extension.params.len());
    for (name, value) in &extension.params {
        // §7: "MUST NOT ... multiple parameters with the same name".
        if seen.contains(&name.as_str()) {
            return Err("a parameter appears twice");
        }
        seen.push(name.as_str());
        let bits = || -> Result<u8, &'static str> {
            // §7.1.2.1: "a decimal integer value without leading zeroes between 8 to 15".
            let v = value.as_deref().ok_or("window bits without a value")?;
            match v.parse::<u8>() {
                Ok(n @ 8..=15) if !v.starts_with('0') => Ok(n),
                _ => Err("window bits not a number from 8 to 15"),
            }
        };
        match name.as_str() {
            "server_no_context_takeover" | "client_no_context_takeover" if value.is_some() => {
                return Err("no_context_takeover with a value");
            }
            "server_no_context_takeover" => p.server_no_context_takeover = true,
            "client_no_context_takeover" => p.client_no_context_takeover = true,
            "server_max_window_bits" => p.server_max_window_bits = Some(bits()?),
            "client_max_window_bits" if value.is_none() => p.client_max_window_bits = Some(None),
            "client_max_window_bits" => p.client_max_window_bits = Some(Some(bits()?)),
            _ => return Err("an unknown parameter"),
        }
    }
    Ok(p)
}
// ANCHOR_END: read_params

/// The server's choice (§5, §7.1): the first permessage-deflate offer in `offers` that it can
/// accept under `config`, as the parameters that will hold, or `None` to decline them all.
/// An offer with a bad parameter is declined (§7: "a server MUST decline"), not refused.
// req: pmd/7/decline
// ANCHOR: select_offer
pub fn select_offer(offers: &[Extension], config: &DeflateConfig) -> Option<PerMessageDeflate> {
    if !config.enabled {
        return None;
    }
    offers
        .iter()
        .filter(|e| e.name.eq_ignore_ascii_case(NAME))
        .find_map(|offer| accept_offer(read_params(offer).ok()?, config))
}

// req: pmd/7.1.2.2/unasked
fn accept_offer(offer: Params, config: &DeflateConfig) -> Option<PerMessageDeflate> {
    // §7.1.2.1: we compress with at most what the client asks and at most our own setting.
    let server_bits = offer
        .server_max_window_bits
        .unwrap_or(15)
        .min(config.server_max_window_bits);
    if server_bits < 9 {
        return None; // zlib cannot compress with 8 (see the module docs): decline this offer.
    }
    // §7.1.2.2: we may limit the client's window only if it said it can take a limit.
    let client_bits = match offer.client_max_window_bits {
        None => 15,
        Some(offered) => offered.unwrap_or(15).min(config.client_max_window_bits),
    };
    Some(PerMessageDeflate {
        // §7.1.1: either side may ask for either reset; what one asked, both keep.
        server_no_context_takeover: offer.server_no_context_takeover
            || config.server_no_context_takeover,
        client_no_context_takeover: offer.client_no_context_takeover
            || config.client_no_context_takeover,
        server_max_window_bits: server_bits,
        client_max_window_bits: client_bits,
    })
}
// ANCHOR_END: select_offer

impl PerMessageDeflate {
    /// The server's `Sec-WebSocket-Extensions` value accepting this (§7.1): every parameter
    /// that differs from the default, so the client knows exactly what holds.
    // req: pmd/5/accept-name pmd/7.1.2.1/value pmd/7.1.2.2/value
    pub fn response_value(&self) -> String {
        let mut value = NAME.to_owned();
        if self.server_no_context_takeover {
            value.push_str("; server_no_context_takeover");
        }
        if self.client_no_context_takeover {
            value.push_str("; client_no_context_takeover");
        }
        if self.server_max_window_bits < 15 {
            value.push_str(&format!(
                "; server_max_window_bits={}",
                self.server_max_window_bits
            ));
        }
        if self.client_max_window_bits < 15 {
            value.push_str(&format!(
                "; client_max_window_bits={}",
                self.client_max_window_bits
            ));
        }
        value
    }
}

/// The client's offer for `config` (§7.1): always `client_max_window_bits`, which tells the
/// server it may limit our window (browsers send it too), and each setting that differs
/// from the default.
// req: pmd/5/offer-name pmd/7.1.2.1/value pmd/7.1.2.2/value
pub fn offer_value(config: &DeflateConfig) -> String {
    let mut value = NAME.to_owned();
    if config.server_no_context_takeover {
        value.push_str("; server_no_context_takeover");
    }
    if config.client_no_context_takeover {
        value.push_str("; client_no_context_takeover");
    }
    if config.server_max_window_bits < 15 {
        value.push_str(&format!(
            "; server_max_window_bits={}",
            config.server_max_window_bits
        ));
    }
    if config.client_max_window_bits < 15 {
        value.push_str(&format!(
            "; client_max_window_bits={}",
            config.client_max_window_bits
        ));
    } else {
        value.push_str("; client_max_window_bits");
    }
    value
}

/// The client's check of the server's answer to [`offer_value`]`(config)`: `None` if the
/// server declined (no extension named), the parameters that hold if it accepted, or an error
/// that fails the connection (§7.1: an answer the client did not ask for, or cannot honour).
// req: pmd/7/fail-response pmd/5/invalid-response pmd/5/client-fails-conflict
// ANCHOR: check_response
pub fn check_response(
    answer: &[Extension],
    config: &DeflateConfig,
) -> Result<Option<PerMessageDeflate>, Error> {
    let fail = |why: &'static str| Err(Error::BadExtensionResponse(why));
    let [extension] = answer else {
        return match answer {
            [] => Ok(None),
            _ => fail("more than one extension in the answer to one offer"),
        };
    };
    if !extension.name.eq_ignore_ascii_case(NAME) {
        return Err(Error::UnofferedExtension);
    }
    let p = match read_params(extension) {
        Ok(p) => p,
        Err(why) => return fail(why),
    };
    // §7.1.1.1: asked for, the server's reset must be in the answer.
    if config.server_no_context_takeover && !p.server_no_context_takeover {
        return fail("server_no_context_takeover was asked for and not granted");
    }
    let server_bits = p.server_max_window_bits.unwrap_or(15);
    // §7.1.2.1: the answer's value is at most the one asked for.
    if server_bits > config.server_max_window_bits {
        return fail("server_max_window_bits above the one offered");
    }
    let client_bits = match p.client_max_window_bits {
        None => config.client_max_window_bits,
        // §7.1.2.2: the answer carries a value when it has the parameter.
        Some(None) => return fail("client_max_window_bits without a value"),
        Some(Some(bits)) if bits > config.client_max_window_bits => {
            return fail("client_max_window_bits above the one offered");
        }
        Some(Some(8)) => return fail("client_max_window_bits=8: zlib cannot compress with 8"),
        Some(Some(bits)) => bits,
    };
    Ok(Some(PerMessageDeflate {
        server_no_context_takeover: p.server_no_context_takeover,
        client_no_context_takeover: p.client_no_context_takeover
            || config.client_no_context_takeover,
        server_max_window_bits: server_bits,
        client_max_window_bits: client_bits,
    }))
}
// ANCHOR_END: check_response

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(s: &str) -> Result<Vec<Extension>, Error> {
        parse_extensions([s.as_bytes()])
    }

    fn on() -> DeflateConfig {
        DeflateConfig {
            enabled: true,
            ..DeflateConfig::default()
        }
    }

    // req: ws/9.1/malformed ws/4.3/ext-param
    #[test]
    fn the_grammar_of_section_9_1() {
        let list = parse(
            "permessage-deflate; client_max_window_bits, foo;bar=\"baz\" ,, permessage-deflate",
        )
        .expect("valid");
        assert_eq!(list.len(), 3);
        assert_eq!(list[0].params, [("client_max_window_bits".into(), None)]);
        assert_eq!(list[1].params, [("bar".into(), Some("baz".into()))]);
        for bad in [
            "permessage-deflate;",
            "permessage-deflate; =1",
            "permessage-deflate x",
            "permessage-deflate; a=\"b c\"",
            "permessage-deflate; a=\"unterminated",
            "; a",
        ] {
            assert!(
                matches!(parse(bad), Err(Error::BadExtensionHeader(_))),
                "{bad:?}"
            );
        }
    }

    // req: pmd/7/decline pmd/7.1.2.1/value
    #[test]
    fn the_server_takes_the_first_offer_it_can_accept() {
        let offers = parse(
            "permessage-deflate; server_max_window_bits=8, \
             permessage-deflate; client_max_window_bits; client_max_window_bits, \
             permessage-deflate; unknown, \
             permessage-deflate; server_max_window_bits=010, \
             permessage-deflate; server_max_window_bits=10; client_max_window_bits",
        )
        .expect("valid");
        let chosen = select_offer(&offers, &on()).expect("the last offer");
        assert_eq!(chosen.server_max_window_bits, 10);
        assert_eq!(chosen.client_max_window_bits, 15);
        assert_eq!(
            chosen.response_value(),
            "permessage-deflate; server_max_window_bits=10"
        );
        assert_eq!(select_offer(&offers, &DeflateConfig::default()), None);
    }

    // req: pmd/7.1.2.2/unasked
    #[test]
    fn the_client_limit_needs_the_clients_consent() {
        let config = DeflateConfig {
            client_max_window_bits: 10,
            ..on()
        };
        let without = select_offer(&parse("permessage-deflate").unwrap(), &config).unwrap();
        assert_eq!(without.client_max_window_bits, 15);
        let with = parse("permessage-deflate; client_max_window_bits").unwrap();
        assert_eq!(
            select_offer(&with, &config).unwrap().client_max_window_bits,
            10
        );
    }

    // req: pmd/7/fail-response pmd/5/invalid-response pmd/5/client-fails-conflict
    // req: pmd/5/offer-name pmd/7.1.2.2/value
    #[test]
    fn the_client_refuses_answers_it_did_not_ask_for() {
        let config = on();
        let check = |s: &str| check_response(&parse(s).unwrap(), &config);
        assert_eq!(check("").unwrap(), None);
        let ok = check("permessage-deflate; server_no_context_takeover; client_max_window_bits=9")
            .unwrap()
            .unwrap();
        assert!(ok.server_no_context_takeover);
        assert_eq!(ok.client_max_window_bits, 9);
        for bad in [
            "permessage-deflate, permessage-deflate",
            "permessage-deflate, x-webkit-deflate-frame",
            "permessage-deflate; client_max_window_bits",
            "permessage-deflate; client_max_window_bits=8",
            "permessage-deflate; server_max_window_bits=16",
            "permessage-deflate; server_no_context_takeover; server_no_context_takeover",
            "permessage-deflate; mystery",
            "x-webkit-deflate-frame",
        ] {
            assert!(check(bad).is_err(), "{bad:?}");
        }
        let asked = DeflateConfig {
            server_no_context_takeover: true,
            server_max_window_bits: 10,
            ..on()
        };
        let answer = parse("permessage-deflate; server_max_window_bits=10").unwrap();
        assert!(
            check_response(&answer, &asked).is_err(),
            "reset not granted"
        );
        assert_eq!(
            offer_value(&asked),
            "permessage-deflate; server_no_context_takeover; server_max_window_bits=10; \
             client_max_window_bits"
        );
    }
}
