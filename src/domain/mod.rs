//! Domain types: valid by construction, shared by every seam.

pub mod ad_metric;
pub mod attribution;
pub mod checksum;
pub mod collections;
pub mod conversion;
pub mod event;
pub mod extract;
pub mod ids;
pub mod money;
pub mod platform;
pub mod rng;
pub mod session;
pub mod table;
pub mod texts;
pub mod time;
pub mod touchpoint;
