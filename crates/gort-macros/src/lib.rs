//! Procedural macros for gort.
//!
//! `#[gort::main]` turns `fn main()` into a program whose body runs as the main goroutine of a
//! runtime configured from the environment (GOMAXPROCS, GODEBUG), like a Go program's main.
//! `#[derive(Trace)]` makes a type storable on gort's GC heap.
use proc_macro::TokenStream;
use quote::{format_ident, quote, quote_spanned};
use syn::spanned::Spanned;
use syn::{parse_macro_input, Data, DeriveInput, Fields, ItemFn};

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

/// Derives `gort::gc::Trace`: visits every field, except those marked `#[gc(skip)]`.
///
/// ```text
/// #[derive(gort::gc::Trace)]
/// struct Node {
///     next: Option<gort::Gc<Node>>,
///     #[gc(skip)]
///     hits: std::sync::atomic::AtomicU64, // holds no GC handles and has no Trace impl
/// }
/// ```
///
/// A skipped field that does hold handles keeps them rooted: a leak (they and what they reach
/// are never freed), never a dangling pointer. The derive also forbids a `Drop` impl on the
/// type (a dead object's drop could otherwise read objects freed in the same cycle): put
/// resources that need cleanup in their own field types, whose drops run.
#[proc_macro_derive(Trace, attributes(gc))]
pub fn derive_trace(input: TokenStream) -> TokenStream {
    let input = parse_macro_input!(input as DeriveInput);
    match trace_impl(&input) {
        Ok(ts) => ts.into(),
        Err(e) => e.to_compile_error().into(),
    }
}

fn is_skipped(attrs: &[syn::Attribute]) -> syn::Result<bool> {
    let mut skip = false;
    for a in attrs.iter().filter(|a| a.path().is_ident("gc")) {
        a.parse_nested_meta(|m| {
            if m.path.is_ident("skip") {
                skip = true;
                Ok(())
            } else {
                Err(m.error("expected #[gc(skip)]"))
            }
        })?;
    }
    Ok(skip)
}

type FieldsCode = (
    Vec<proc_macro2::TokenStream>,
    Vec<proc_macro2::TokenStream>,
    proc_macro2::TokenStream,
    Vec<proc_macro2::TokenStream>,
);

/// (visit statements with fields bound as `__f{i}`, the same for `trace_mut`, the pattern
/// binding them, drop terms)
fn fields_code(fields: &Fields) -> syn::Result<FieldsCode> {
    let mut visits = Vec::new();
    let mut visits_mut = Vec::new();
    let mut binds = Vec::new();
    let mut drops = Vec::new();
    for (i, f) in fields.iter().enumerate() {
        let ty = &f.ty;
        // Spanned at the field's type, with the visits below: a field whose type is not
        // `Trace` is reported there (once: its uses give the same error at the same place).
        let sp = ty.span();
        let var = format_ident!("__f{}", i, span = sp);
        match &f.ident {
            Some(id) => binds.push(quote!(#id: #var)),
            None => binds.push(quote!(#var)),
        }
        if is_skipped(&f.attrs)? {
            drops.push(quote!(::core::mem::needs_drop::<#ty>()));
        } else {
            visits.push(quote_spanned!(sp=> ::gort::gc::Trace::trace(#var, __v);));
            visits_mut.push(quote_spanned!(sp=> ::gort::gc::Trace::trace_mut(#var, __v);));
            drops.push(quote_spanned!(sp=> <#ty as ::gort::gc::Trace>::NEEDS_DROP));
        }
    }
    let pat = match fields {
        Fields::Named(_) => quote!({ #(#binds,)* }),
        Fields::Unnamed(_) => quote!(( #(#binds,)* )),
        Fields::Unit => quote!(),
    };
    Ok((visits, visits_mut, pat, drops))
}

fn trace_impl(input: &DeriveInput) -> syn::Result<proc_macro2::TokenStream> {
    let name = &input.ident;
    let mut generics = input.generics.clone();
    for p in generics.type_params_mut() {
        p.bounds.push(syn::parse_quote!(::gort::gc::Trace));
    }
    let (impl_g, ty_g, where_c) = generics.split_for_impl();
    let (body, body_mut, drops) = match &input.data {
        Data::Struct(s) => {
            let (visits, visits_mut, pat, drops) = fields_code(&s.fields)?;
            (
                quote! {
                    #[allow(unused_variables)]
                    let #name #pat = self;
                    #(#visits)*
                },
                quote! {
                    #[allow(unused_variables)]
                    let #name #pat = self;
                    #(#visits_mut)*
                },
                drops,
            )
        }
        Data::Enum(e) => {
            let mut arms = Vec::new();
            let mut arms_mut = Vec::new();
            let mut all_drops = Vec::new();
            for v in &e.variants {
                let vn = &v.ident;
                let (visits, visits_mut, pat, drops) = fields_code(&v.fields)?;
                arms.push(quote!(#name::#vn #pat => { #(#visits)* }));
                arms_mut.push(quote!(#name::#vn #pat => { #(#visits_mut)* }));
                all_drops.extend(drops);
            }
            (
                quote! {
                    #[allow(unused_variables)]
                    match self { #(#arms)* }
                },
                quote! {
                    #[allow(unused_variables)]
                    match self { #(#arms_mut)* }
                },
                all_drops,
            )
        }
        Data::Union(u) => {
            return Err(syn::Error::new_spanned(
                u.union_token,
                "#[derive(Trace)] does not support unions",
            ))
        }
    };
    Ok(quote! {
        // SAFETY: generated: visits every field not marked #[gc(skip)], once; the type has no
        // Drop impl (checked below).
        unsafe impl #impl_g ::gort::gc::Trace for #name #ty_g #where_c {
            #[inline]
            fn trace<__V: ::gort::gc::Visitor>(&self, __v: &mut __V) {
                #body
            }
            #[inline]
            fn trace_mut<__V: ::gort::gc::Visitor>(&mut self, __v: &mut __V) {
                #body_mut
            }
            const NEEDS_DROP: bool = false #(|| #drops)*;
        }
        const _: () = {
            trait GortTraceTypesMustNotImplDrop {}
            #[allow(drop_bounds)]
            impl<T: ::core::ops::Drop + ?::core::marker::Sized> GortTraceTypesMustNotImplDrop for T {}
            impl #impl_g GortTraceTypesMustNotImplDrop for #name #ty_g #where_c {}
        };
    })
}
