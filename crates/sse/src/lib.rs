//! Server-Sent Events, following the WHATWG HTML Standard, section "Server-sent events".
