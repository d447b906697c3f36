//! Tests of central-api through its library, on PostgreSQL and on SQLite alike.

#![allow(clippy::unwrap_used)] // test code: a panic is the failure report

mod admin;
mod answers;
mod at_rest;
mod audit;
mod audited;
mod corrections;
mod decisions;
mod devices;
mod disputes;
mod documents;
mod evidence;
mod fine_updates;
mod fines;
mod four_eyes;
mod helpers;
mod ingest;
mod migrations;
mod mqtt;
mod object_store;
mod openapi;
mod organisations;
mod owners;
mod pages;
mod paper;
mod registry;
mod relay;
mod retention;
mod review;
mod service_role;
mod sign_in;
mod startup;
mod stats;
