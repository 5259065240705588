//! The S3 XML bodies bucketgate reads or writes itself, as pure functions over bytes.
//!
//! Nothing here knows about Pingora or the network: a caller hands in a whole body and gets a
//! whole body (or a parsed value) back. Every function is total: garbage input gives an `Err`
//! or `None`, never a panic. Parsing is quick-xml's event reader; everything written is escaped.

pub mod delete_objects;
pub mod delete_result;
pub mod listing;
pub mod responses;

mod document;
mod text;

#[cfg(test)]
mod fuzz;

pub use delete_objects::{parse_delete, DeleteEntry, DeleteRequest, MAX_DELETE_OBJECTS};
pub use delete_result::{delete_body_xml, rewrite_result};
pub use listing::{rewrite_listing, ListingError, ListingView};
pub use responses::{error_code_and_message, error_xml, list_buckets_xml, location_xml};
