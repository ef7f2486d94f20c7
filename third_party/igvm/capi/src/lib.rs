//! The `igvm` crate's C API (`igvm_new_from_binary`, `igvm_get_header`, ...) in a static
//! library. The functions are `#[no_mangle] extern "C"` in the crate's `c_api` module;
//! naming the crate here is what links it (and so those symbols) into this archive.

pub use igvm::c_api;
