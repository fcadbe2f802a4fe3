//! The attribution engine: identity, touchpoints, journeys and models. Pure; no I/O.

pub mod attribute;
pub mod bootstrap;
pub mod channels;
pub mod glob;
pub mod identity;
pub mod journeys;
pub mod models;
pub mod paths;
pub mod touchpoints;
pub mod training;
