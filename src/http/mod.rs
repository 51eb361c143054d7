//! The HTTP edge shared by every domain: the JSON body extractor, how an `AppError`
//! becomes a response, and the error answers every operation of the OpenAPI document
//! lists. Part of the base: it knows no domain.
pub mod errors;
pub mod export;
pub mod fields;
pub mod json;
pub mod openapi;
pub mod query;
pub mod request_id;
