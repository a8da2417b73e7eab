//! Graceful shutdown: one trigger that ends every open event stream.
//!
//! A server that stops must let its open responses finish, and an event stream never
//! finishes by itself. [`Shutdown::trigger`] ends every stream whose
//! [`ServerConfig::shutdown`](crate::streaming::ServerConfig::shutdown) came from
//! [`Shutdown::signal`], in both servers: hyper's graceful shutdown, which waits for responses
//! to finish, can then finish, and `http1::serve` returns. Clients reconnect
//! elsewhere or later, and with a replay history they lose nothing.

use tokio::sync::watch;

// ANCHOR: shutdown
/// The trigger of a graceful shutdown: [`Shutdown::trigger`] ends every stream whose
/// [`ServerConfig::shutdown`](crate::streaming::ServerConfig::shutdown) came from
/// [`Shutdown::signal`]. (A hand-written cousin of tokio-util's `CancellationToken`, on a
/// `watch` channel.)
#[derive(Debug)]
pub struct Shutdown {
    sender: watch::Sender<bool>,
}

impl Default for Shutdown {
    fn default() -> Self {
        Shutdown::new()
    }
}

impl Shutdown {
    /// A trigger not yet pulled.
    pub fn new() -> Self {
        Shutdown {
            sender: watch::channel(false).0,
        }
    }

    /// A signal that fires when this trigger is pulled (or dropped).
    pub fn signal(&self) -> ShutdownSignal {
        ShutdownSignal {
            receiver: self.sender.subscribe(),
        }
    }

    /// Ends every stream watching this trigger.
    pub fn trigger(&self) {
        self.sender.send_replace(true);
    }
}

/// The receiving half of a [`Shutdown`].
#[derive(Debug, Clone)]
pub struct ShutdownSignal {
    receiver: watch::Receiver<bool>,
}

impl ShutdownSignal {
    /// Completes when the shutdown is triggered, or its trigger is dropped.
    pub async fn wait(mut self) {
        let _ = self.receiver.wait_for(|triggered| *triggered).await;
    }
}
// ANCHOR_END: shutdown
