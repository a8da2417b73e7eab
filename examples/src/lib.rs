//! Shared pieces of WireLab's examples.
