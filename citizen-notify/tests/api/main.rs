//! Tests of citizen-notify through its library, on PostgreSQL and on SQLite alike.

#![allow(clippy::unwrap_used)] // test code: a panic is the failure report

mod at_rest;
mod delivery;
mod helpers;
mod intake;
mod payment;
mod portal;
mod reports;
mod retention;
