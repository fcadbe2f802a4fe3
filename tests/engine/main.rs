//! Engine tests through the public API: channel grouping with the default rules, and
//! attribution of hand-worked journeys read from PostHog-shaped lines.

#[path = "../support/mod.rs"]
mod support;

mod bootstrap;
mod channels;
mod journeys;
