//! The components' behaviour through the library, as the host sees them.

mod behaviour;
mod gradients;
mod learning;
mod padding;
pub mod support;
pub mod toy;
