//! The OpenAPI 3.1 document for `/api/v1`, written by hand (`openapi.json`) and served as is.
//! A test compares it with the route table: every API route documented with its scope, and
//! nothing documented that is not routed.

/// The document's text.
pub const DOCUMENT: &str = include_str!("../openapi.json");
