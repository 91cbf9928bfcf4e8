//! Integration tests: the whole proxy (`parapet::app`) driven in-process, or through a
//! real listener where the socket matters, against a scripted mock upstream.

mod support;

mod classifiers;
mod errors;
mod lifecycle;
mod observability;
mod policy;
mod routes;
mod streaming;
