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
/// The runtime is configured from the environment (`GOMAXPROCS`, `GODEBUG`, `GOGC`,
/// `GOMEMLIMIT`, and `GORT_STACK_SIZE` for the goroutine stack size, e.g. `1MiB`), or from
/// arguments, which win over the environment (as `runtime.GOMAXPROCS(n)` in a Go main does):
///
/// ```text
/// #[gort::main(gomaxprocs = 4, stack_size = 1 << 20)]
/// fn main() { /* ... */ }
/// ```
///
/// Both take an integer expression (`usize`); literals are checked at compile time
/// (`gomaxprocs` 1 to 1024, `stack_size` 16 KiB to 1 GiB). An unknown or repeated argument is
/// a compile error at that argument.
///
/// A configuration error (bad GOMAXPROCS, GODEBUG or GORT_STACK_SIZE) or a deadlock prints
/// Go's message and exits with status 2. The function may return a value (e.g.
/// `Result<(), E>`) as `main` can.
#[proc_macro_attribute]
pub fn main(attr: TokenStream, item: TokenStream) -> TokenStream {
    let args = match parse_main_args(attr.into()) {
        Ok(a) => a,
        Err(e) => {
            // Keep the function, so the error is the only one (no "`main` not found").
            let mut out: TokenStream = e.to_compile_error().into();
            out.extend(item);
            return out;
        }
    };
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
    let opt = |e: &Option<syn::Expr>| match e {
        Some(e) => quote_spanned!(e.span()=> ::core::option::Option::Some(#e)),
        None => quote!(::core::option::Option::None),
    };
    let (gomaxprocs, stack_size) = (opt(&args.gomaxprocs), opt(&args.stack_size));
    quote! {
        #(#attrs)*
        #vis fn #name() #ret {
            ::gort::__private::run_main_with(
                ::gort::__private::MainArgs {
                    gomaxprocs: #gomaxprocs,
                    stack_size: #stack_size,
                },
                move || #body,
            )
        }
    }
    .into()
}

/// The arguments of `#[gort::main(...)]`.
#[derive(Default)]
struct MainArgs {
    gomaxprocs: Option<syn::Expr>,
    stack_size: Option<syn::Expr>,
}

const MAIN_ARGS: &str = "expected `gomaxprocs = N` or `stack_size = BYTES`";

fn parse_main_args(attr: proc_macro2::TokenStream) -> syn::Result<MainArgs> {
    use syn::parse::Parser;
    let metas =
        syn::punctuated::Punctuated::<syn::Meta, syn::Token![,]>::parse_terminated.parse2(attr)?;
    let mut args = MainArgs::default();
    for m in metas {
        let nv = match m {
            syn::Meta::NameValue(nv) => nv,
            other => {
                return Err(syn::Error::new_spanned(
                    &other,
                    format!("#[gort::main] arguments take a value: {MAIN_ARGS}"),
                ))
            }
        };
        let name = nv
            .path
            .get_ident()
            .map(|i| i.to_string())
            .unwrap_or_default();
        let slot = match name.as_str() {
            "gomaxprocs" => &mut args.gomaxprocs,
            "stack_size" => &mut args.stack_size,
            _ => {
                let path = &nv.path;
                return Err(syn::Error::new_spanned(
                    path,
                    format!(
                        "unknown #[gort::main] argument `{}`: {MAIN_ARGS}",
                        quote!(#path).to_string().replace(' ', "")
                    ),
                ));
            }
        };
        if slot.is_some() {
            return Err(syn::Error::new_spanned(
                &nv.path,
                format!("#[gort::main] argument `{name}` given twice"),
            ));
        }
        check_main_arg(&name, &nv.value)?;
        *slot = Some(nv.value);
    }
    Ok(args)
}

/// Compile-time checks of literal values (what `Builder::build` would refuse at run time).
fn check_main_arg(name: &str, value: &syn::Expr) -> syn::Result<()> {
    let syn::Expr::Lit(syn::ExprLit { lit, .. }) = value else {
        return Ok(()); // an expression: checked when the program starts
    };
    let (min, max, range) = match name {
        "gomaxprocs" => (1, 1024, "from 1 to 1024"),
        _ => (
            16 << 10,
            1 << 30,
            "from 16384 (16 KiB) to 1073741824 (1 GiB) bytes",
        ),
    };
    match lit {
        syn::Lit::Int(i) => match i.base10_parse::<u64>() {
            Ok(n) if (min..=max).contains(&n) => Ok(()),
            _ => Err(syn::Error::new_spanned(
                lit,
                format!("{name} must be {range}"),
            )),
        },
        _ => Err(syn::Error::new_spanned(
            lit,
            format!(
                "{name} takes an integer expression such as {}",
                if name == "gomaxprocs" {
                    "`4`"
                } else {
                    "`1 << 20` (the suffixes of GORT_STACK_SIZE, such as 1MiB, are for the environment)"
                }
            ),
        )),
    }
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

#[cfg(test)]
mod tests {
    use super::*;

    fn err(attr: &str) -> String {
        match parse_main_args(attr.parse().unwrap()) {
            Ok(_) => panic!("{attr:?} was accepted"),
            Err(e) => e.to_string(),
        }
    }

    #[test]
    fn main_arguments() {
        let a = parse_main_args("".parse().unwrap()).unwrap();
        assert!(a.gomaxprocs.is_none() && a.stack_size.is_none());
        let a = parse_main_args("gomaxprocs = 4, stack_size = 1 << 20,".parse().unwrap()).unwrap();
        assert!(a.gomaxprocs.is_some() && a.stack_size.is_some());
        let a = parse_main_args("stack_size = STACK".parse().unwrap()).unwrap();
        assert!(a.stack_size.is_some());

        assert_eq!(
            err("threads = 4"),
            "unknown #[gort::main] argument `threads`: expected `gomaxprocs = N` or \
             `stack_size = BYTES`"
        );
        assert!(
            err("gomaxprocs = 2, a::b = 1").starts_with("unknown #[gort::main] argument `a::b`")
        );
        assert_eq!(
            err("gomaxprocs = 2, gomaxprocs = 3"),
            "#[gort::main] argument `gomaxprocs` given twice"
        );
        assert!(err("gomaxprocs").starts_with("#[gort::main] arguments take a value"));
        assert!(err("gomaxprocs(4)").starts_with("#[gort::main] arguments take a value"));
        assert_eq!(err("gomaxprocs = 0"), "gomaxprocs must be from 1 to 1024");
        assert_eq!(
            err("gomaxprocs = 5000"),
            "gomaxprocs must be from 1 to 1024"
        );
        assert!(err("stack_size = 4096").starts_with("stack_size must be from 16384"));
        assert!(err("stack_size = \"1MiB\"").contains("the suffixes of GORT_STACK_SIZE"));
        assert!(err("gomaxprocs = 4.5").starts_with("gomaxprocs takes an integer expression"));
        assert!(!err("4").is_empty());
    }
}
