//! Procedural macros for gort.
use proc_macro::TokenStream;

/// Placeholder until the runtime lands.
#[proc_macro_attribute]
pub fn main(_attr: TokenStream, item: TokenStream) -> TokenStream {
    item
}
