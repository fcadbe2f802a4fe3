//! Ad sources against fake platforms (real HTTP, each platform's request and response shapes,
//! throttle signals, token expiry, async reports), and ad runs through the pipeline.

#[path = "../support/mod.rs"]
mod support;

mod config;
mod fake;
mod fx;
mod google;
mod linkedin;
mod meta;
mod microsoft;
mod reddit;
mod runs;
mod tiktok;
mod x;
