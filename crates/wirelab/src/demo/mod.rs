//! `wirelab demo`: every example on one server, each with a page that runs Server-Sent Events
//! and WebSocket side by side in the browser, and shows what each costs.
//!
//! Open the index page, pick a pair, and watch the counters: messages each way, bytes on the
//! wire each way (counted by the server on each TCP connection, so they are exact: what the
//! protocol put on the wire, TCP/IP headers aside), connections and reconnections, and round
//! trips where the transport has a way back. Then break things with the buttons every page
//! has:
//!
//! - **Cut** drops this page's connections without a goodbye. `EventSource` reconnects by
//!   itself, sending `Last-Event-ID`, and the stream goes on where it stopped. The WebSocket
//!   closes with code 1006 and stays closed: reconnecting is the page's job (a checkbox turns
//!   on the page's own reconnect loop, with backoff, jitter and resume, which is what an
//!   application has to write).
//! - **Stop 3 s** cuts every connection and closes the server's listening socket for three
//!   seconds (at most [`MAX_PAUSE`]): reconnections are refused until it is back, and
//!   `EventSource` keeps trying.
//! - **Slow** delays every message the server sends (at most [`MAX_SLOW`]): latency grows, and
//!   so do the queues.
//!
//! The pages are plain HTML, CSS and JavaScript, embedded in the binary with `include_str!`:
//! no build step, only the browser's native `EventSource` and `WebSocket`. Every connection
//! serves one request (`Connection: close`), so that each connection's byte counts belong to
//! one request: one event stream, one WebSocket, or one POST. (That costs TCP handshakes, not
//! bytes: the counted bytes are the same as with keep-alive.)
//!
//! The controls have no authentication, by design: a workshop's demo runs on each attendee's
//! own machine, on loopback (the default address). Do not serve it on a network you do not
//! trust.
//!
//! What keeps other sites' pages out is the origin check ([`wirelab_examples::origin`]): a
//! WebSocket upgrade or a POST (a control, a chat message, a ticket) that a page of another
//! origin makes gets 403 (its `Origin` present and not the demo's own, `Origin: null`
//! included; for a POST, `Sec-Fetch-Site: cross-site` too), so a page elsewhere can neither
//! chat as the user nor cut everyone's connections. `wirelab demo --allow-origin ORIGIN` admits another origin. The event streams
//! and `/stats` need no check: they change nothing, and a page of another site cannot read
//! them, since the demo sends no CORS header (`Access-Control-Allow-Origin`) that would let
//! its browser hand the response over.
//!
//! A page opened with `?autotest=1` runs a scripted scenario by itself and logs one
//! `RESULT {json}` line to the console; `conformance/tests/browser.rs` drives headless Chromium
//! with it.
//!
//! Routes:
//!
//! | path | what |
//! |---|---|
//! | `/` | the index |
//! | `/ticker`, `/chat`, `/waiting-room`, `/seats`, `/progress`, `/echo` | the pages |
//! | `/static/demo.css`, `/static/demo.js` | shared style and script |
//! | `/ticker/sse`, `/ticker/ws` | [`wirelab_examples::ticker`] |
//! | `/chat/events`, `/chat/send`, `/chat/ws` | [`wirelab_examples::chat`] |
//! | `/waiting-room/join`, `/waiting-room/events` | [`wirelab_examples::waiting_room`] |
//! | `/seats/ws` | [`wirelab_examples::seats`] |
//! | `/progress/events`, `/text/events` | [`wirelab_examples::progress`] |
//! | `/echo/ws` | a WebSocket echo: text and binary come back as they went |
//! | `/stats?session=S` | the byte counters of a page's connections, as JSON |
//! | `/wire?session=S` | the wire view: a page's connections annotated as the tap does, as an event stream |
//! | `POST /control/cut?session=S`, `/control/pause?ms=N`, `/control/slow?ms=N` | the buttons |

mod sessions;
mod wire;

use std::sync::Arc;
use std::time::Duration;

use http::{HeaderValue, Method, StatusCode, header};
use tokio::net::TcpListener;
use tokio_rustls::TlsAcceptor;
use websocket::Message;
use wirelab_examples::backbone::Backbone;
use wirelab_examples::chat::Chat;
use wirelab_examples::origin::Origins;
use wirelab_examples::progress::Progress;
use wirelab_examples::seats::Seats;
use wirelab_examples::server::{self, Conn, Guards, Request, Response, Server, Ws};
use wirelab_examples::ticker::Ticker;
use wirelab_examples::waiting_room::WaitingRoom;

use sessions::Sessions;
use wire::WireView;

/// The longest pause the "stop" control accepts.
pub const MAX_PAUSE: Duration = Duration::from_secs(30);
/// The longest delay the "slow" control accepts.
pub const MAX_SLOW: Duration = Duration::from_secs(5);

/// The embedded files: path, content type, content.
const FILES: &[(&str, &str, &str)] = &[
    ("/", HTML, include_str!("static/index.html")),
    ("/ticker", HTML, include_str!("static/ticker.html")),
    ("/chat", HTML, include_str!("static/chat.html")),
    (
        "/waiting-room",
        HTML,
        include_str!("static/waiting-room.html"),
    ),
    ("/seats", HTML, include_str!("static/seats.html")),
    ("/progress", HTML, include_str!("static/progress.html")),
    ("/echo", HTML, include_str!("static/echo.html")),
    (
        "/static/demo.css",
        "text/css; charset=utf-8",
        include_str!("static/demo.css"),
    ),
    (
        "/static/demo.js",
        "text/javascript; charset=utf-8",
        include_str!("static/demo.js"),
    ),
];

const HTML: &str = "text/html; charset=utf-8";

/// Every example, the server's controls, and which connections are whose.
struct Demo {
    server: Server,
    sessions: Sessions,
    ticker: Arc<Ticker>,
    chat: Arc<Chat>,
    room: Arc<WaitingRoom>,
    seats: Arc<Seats>,
    progress: Progress,
    origins: Origins,
    wire: Arc<WireView>,
}

// ANCHOR: serve
/// Serves the demo on `listener` until the listener fails. WebSocket upgrades and control
/// POSTs are accepted from the demo's own pages, from programs that send no `Origin`, and
/// from the pages of `origins`.
///
/// # Errors
///
/// When accepting fails for good (see [`server::serve`]).
pub async fn serve(listener: TcpListener, origins: Origins) -> std::io::Result<()> {
    serve_with(
        listener,
        Options {
            origins,
            ..Options::default()
        },
    )
    .await
}
// ANCHOR_END: serve

/// How [`serve_with`] runs the demo; the default is `wirelab demo` without options.
#[derive(Default)]
pub struct Options {
    /// The origins whose pages, besides the demo's own, may open WebSockets and POST.
    pub origins: Origins,
    /// Where the ticker, the chat and the seats live: in this process, or on Redis, where
    /// several instances behind one proxy serve the same feeds and state.
    pub backbone: Backbone,
    /// TLS when given: `https://` and `wss://` on the same port, HTTP/2 or HTTP/1.1 as ALPN
    /// decides. Over HTTP/2 every request of a browser shares one connection, so `/stats`
    /// counts that connection's bytes for each transport on it.
    pub tls: Option<TlsAcceptor>,
    /// What a peer may make the server hold (connections, message size, memory budget,
    /// deadlines).
    pub guards: Guards,
}

// ANCHOR: serve_on
/// Like [`serve`], with `options`.
///
/// # Errors
///
/// When accepting fails for good (see [`server::serve`]).
pub async fn serve_with(listener: TcpListener, options: Options) -> std::io::Result<()> {
    let Options {
        origins,
        backbone,
        tls,
        guards,
    } = options;
    let backbone = &backbone;
    let server = Server::with_guards(guards);
    server.one_request_per_connection(true);
    if let Some(acceptor) = tls {
        server.use_tls(acceptor);
    }
    let wire = Arc::new(WireView::new());
    let observer = wire.clone();
    server.observe_wire(Arc::new(move |id, bytes| observer.observe(id, bytes)));
    let demo = Arc::new(Demo {
        server: server.clone(),
        sessions: Sessions::new(server.clone()),
        ticker: Ticker::start_on(backbone, Duration::from_millis(500)),
        chat: Chat::on(backbone),
        room: WaitingRoom::start(Duration::from_secs(1)),
        seats: Seats::on(backbone),
        progress: Progress::default(),
        origins,
        wire,
    });
    let handler = server::handler(move |request, conn| demo.clone().route(request, conn));
    server::serve(listener, server, handler).await
}
// ANCHOR_END: serve_on

impl Demo {
    // ANCHOR: route_origins
    async fn route(self: Arc<Self>, mut request: Request, conn: Conn) -> Response {
        if let Some((session, transport)) = self.sessions.tag(&request, &conn) {
            self.wire.tagged(conn.id(), &session, &transport);
        }
        // Every request but a GET changes something (the demo's POSTs: a control, a chat
        // message, a ticket), and a form on another site can send a POST with no script and
        // no preflight: refuse other sites' here, once for all.
        if request.method() != Method::GET
            && let Err(why) = self.origins.check(&request)
        {
            let why = format!("cross-site request refused ({why})\n");
            return text(StatusCode::FORBIDDEN, &why);
        }
        // The examples' WebSocket upgrades take the origins they allow from here.
        request.extensions_mut().insert(self.origins.clone());
        // ANCHOR_END: route_origins
        let path = request.uri().path().to_owned();
        let prefix = path.split('/').nth(1).unwrap_or_default();
        match prefix {
            "ticker" if path != "/ticker" => self.ticker.clone().handle(request, conn).await,
            "chat" if path != "/chat" => self.chat.clone().handle(request, conn).await,
            "waiting-room" if path != "/waiting-room" => {
                self.room.clone().handle(request, conn).await
            }
            "seats" if path != "/seats" => self.seats.clone().handle(request, conn).await,
            "progress" | "text" if path != "/progress" => {
                self.progress.clone().handle(request, conn).await
            }
            "echo" if path == "/echo/ws" => echo(request, &conn),
            "stats" => self.stats(&request),
            "wire" if request.method() == Method::GET => {
                let session = server::query_param(request.uri(), "session").unwrap_or_default();
                self.wire.stream(&session, &conn)
            }
            "control" => self.control(&request, &conn),
            _ => file(&request),
        }
    }

    /// `/stats?session=S`: the byte counts of the page's connections, as JSON.
    fn stats(&self, request: &Request) -> Response {
        let session = server::query_param(request.uri(), "session").unwrap_or_default();
        no_store(server::json(StatusCode::OK, &self.sessions.stats(&session)))
    }

    // ANCHOR: control
    /// `POST /control/cut?session=S`, `/control/pause?ms=N`, `/control/slow?ms=N`.
    fn control(&self, request: &Request, conn: &Conn) -> Response {
        if request.method() != Method::POST {
            return text(StatusCode::METHOD_NOT_ALLOWED, "POST only\n");
        }
        let ms = || {
            server::query_param(request.uri(), "ms")
                .and_then(|ms| ms.parse::<u64>().ok())
                .map(Duration::from_millis)
        };
        match request.uri().path() {
            "/control/cut" => {
                let cut = match server::query_param(request.uri(), "session") {
                    Some(session) => self.sessions.cut(&session),
                    None => self.server.cut(),
                };
                text(StatusCode::OK, &format!("cut {cut} connections\n"))
            }
            "/control/pause" => {
                let pause = ms().unwrap_or(Duration::from_secs(3)).min(MAX_PAUSE);
                conn.pause_server(pause);
                text(
                    StatusCode::OK,
                    &format!("stopped for {} ms\n", pause.as_millis()),
                )
            }
            "/control/slow" => {
                let slow = ms().unwrap_or_default().min(MAX_SLOW);
                self.server.set_slow(slow);
                text(
                    StatusCode::OK,
                    &format!("every message delayed {} ms\n", slow.as_millis()),
                )
            }
            _ => server::not_found(),
        }
    }
    // ANCHOR_END: control
}

fn text(status: StatusCode, body: &str) -> Response {
    server::full(status, "text/plain; charset=utf-8", body.to_owned())
}

fn no_store(mut response: Response) -> Response {
    response
        .headers_mut()
        .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    response
}

fn file(request: &Request) -> Response {
    if request.method() != Method::GET {
        return server::not_found();
    }
    match FILES
        .iter()
        .find(|(path, _, _)| *path == request.uri().path())
    {
        Some((_, content_type, body)) => {
            no_store(server::full(StatusCode::OK, content_type, *body))
        }
        None => server::not_found(),
    }
}

/// `/echo/ws`: every text and binary message comes back as it went (a latency probe gets its
/// pong).
///
/// It accepts permessage-deflate, which every browser offers, so that the page shows a
/// compressed WebSocket (`sock.extensions`). The other examples do not: their byte counters
/// compare SSE and WebSocket as they are framed, uncompressed on both sides (the compression
/// chapter measures both compressed), and a demo with many tabs open should not hold some
/// 600 KiB of compressor state per socket.
fn echo(mut request: Request, conn: &Conn) -> Response {
    request
        .extensions_mut()
        .insert(websocket::DeflateConfig::on());
    server::websocket(&mut request, conn, |ws: Ws, conn: Conn| async move {
        let (mut receiver, mut sender) = ws.split();
        while let Ok(Some(message)) = receiver.recv().await {
            let reply = match message {
                Message::Text(text) => Message::Text(server::pong_for(&text).unwrap_or(text)),
                Message::Binary(bytes) => Message::Binary(bytes),
                Message::Close(_) => break,
                Message::Ping(_) | Message::Pong(_) => continue,
            };
            conn.pace().await;
            if server::send(&mut sender, reply).await.is_err() {
                break;
            }
        }
    })
}
