//! Data-driven models and `attrsync attribute`, cross-checked against ChannelAttribution
//! (PyPI, installed into .venv by scripts/test).

#[path = "../support/mod.rs"]
mod support;

mod channelattribution;
mod cli;
