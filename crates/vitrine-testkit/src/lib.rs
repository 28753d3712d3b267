//! Conformance suites that every adapter of a port runs, and test fixtures.

pub mod apigw_management;
pub mod attacks;
pub mod blobs;
pub mod catalog;
pub mod counting_table;
pub mod doubles;
pub mod fakes;
pub mod identity;
pub mod lambda_runtime;
pub mod mail;
pub mod mem_table;
pub mod moto;
pub mod openapi;
pub mod process;
pub mod runner;
pub mod scripted;
pub mod smtp;
pub mod table;
pub mod table_reminders;
pub mod table_search;
