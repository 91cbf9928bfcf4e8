//! Tests for the detect module tree.

mod keywords;
mod normalize;
mod pii;
mod random;
