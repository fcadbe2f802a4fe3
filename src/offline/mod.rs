//! Offline attribution over ChannelAttribution-style path files (`attrsync attribute`).

mod columns;
pub mod pathfile;
pub mod report;
mod rows;
pub mod scan;
