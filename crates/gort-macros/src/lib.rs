//! Procedural macros for gort.
//!
//! `#[gort::main]` turns `fn main()` into a program whose body runs as the main goroutine of a
//! runtime configured from the environment (GOMAXPROCS, GODEBUG), like a Go program's main.
use proc_macro::TokenStream;
use quote::quote;
use syn::{parse_macro_input, ItemFn};

/// Runs the annotated `main` as the main goroutine of a gort runtime.
///
/// ```text
/// #[gort::main]
/// fn main() {
///     let h = gort::go(|| 21 * 2);
///     assert_eq!(h.join().unwrap(), 42);
/// }
/// ```
///
/// A configuration error (bad GOMAXPROCS or GODEBUG) or a deadlock prints Go's message and
/// exits with status 2. The function may return a value (e.g. `Result<(), E>`) as `main` can.
#[proc_macro_attribute]
pub fn main(attr: TokenStream, item: TokenStream) -> TokenStream {
    if !attr.is_empty() {
        return syn::Error::new(
            proc_macro2::Span::call_site(),
            "#[gort::main] takes no arguments; configure with GOMAXPROCS/GODEBUG or gort::Builder",
        )
        .to_compile_error()
        .into();
    }
    let f = parse_macro_input!(item as ItemFn);
    if f.sig.asyncness.is_some() {
        return syn::Error::new_spanned(
            f.sig.asyncness,
            "#[gort::main] functions are not async: goroutines block, they do not await",
        )
        .to_compile_error()
        .into();
    }
    if !f.sig.inputs.is_empty() {
        return syn::Error::new_spanned(&f.sig.inputs, "#[gort::main] functions take no arguments")
            .to_compile_error()
            .into();
    }
    let attrs = &f.attrs;
    let vis = &f.vis;
    let name = &f.sig.ident;
    let ret = &f.sig.output;
    let body = &f.block;
    quote! {
        #(#attrs)*
        #vis fn #name() #ret {
            ::gort::__private::run_main(move || #body)
        }
    }
    .into()
}
