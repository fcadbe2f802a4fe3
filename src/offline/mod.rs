//! Offline attribution over ChannelAttribution-style path files (`attrsync attribute`).

mod columns;
mod fastpath;
pub mod pathfile;
pub mod report;
