//! WebSocket, following RFC 6455.
