//! `record!`, the macro that declares each resource kind of the file: its
//! keys in contract order and the field each one fills (see the module
//! documentation of [`super`]).

/// Declares a [`super::Record`]: the constant listing its keys, and its decoding.
///
/// ```text
/// record!(KEYS: Type { name, key, line } "an item" {
///     field: "key" => decoder,
///     field: "key" => decoder(args),
///     field: "key_a" | "key_b" => decoder,
///     (field_a, field_b): "key" => decoder,
///     _: "key" => decoder,
///     field: "key" => decoder?,
///     field: Type { field: "key" => decoder, .. },
/// });
/// ```
///
/// The braces after the type name the [`super::Head`] parts the type keeps. Each
/// decoder is a `Decoder` method called as `decoder(fields, keys.., args..)`
/// and returning `Option`, `None` when the item must be dropped. Fields are
/// read in the order written, all of them before a `None` drops the item,
/// so one broken key does not hide the errors of the next; a decoder marked
/// `?` drops the item at once. `_` checks a key without keeping it.
/// `field: Type { .. }` fills a struct of the item's from the entries in
/// the braces, read in their place like the others.
macro_rules! record {
    ($keys:ident: $ty:ident { $($head:ident),* } $what:literal { $($entries:tt)* }) => {
        record!(@entry [$keys $ty [$($head)*] $what d f] [] [] [] [] $($entries)*);
    };
    // The end of a group: its fields, gathered after the outer ones, become one.
    (@entry $ctx:tt [$($k:literal)*] [$($pat:tt)*] [$($val:tt)*]
        [[$($outer:tt)*] $target:ident $sub:ident $($inner:tt)*]
        @close, $($rest:tt)*
    ) => {
        record!(@entry $ctx [$($k)*] [$($pat)*] [$($val)*]
            [$($outer)* {$target $sub [$($inner)*]}]
            $($rest)*);
    };
    (@entry $ctx:tt [$($k:literal)*] [$($pat:tt)*] [$($val:tt)*] [$($field:tt)*]
        $target:ident : $sub:ident { $($inner:tt)* }, $($rest:tt)*
    ) => {
        record!(@entry $ctx [$($k)*] [$($pat)*] [$($val)*] [[$($field)*] $target $sub]
            $($inner)* @close, $($rest)*);
    };
    (@entry [$keys:ident $ty:ident $head:tt $what:literal $d:ident $f:ident]
        [$($k:literal)*] [$($pat:tt)*] [$($val:tt)*] [$($field:tt)*]
        $target:tt : $($key:literal)|+ => $dec:ident $(($($arg:expr),*))? ?, $($rest:tt)*
    ) => {
        record!(@entry [$keys $ty $head $what $d $f]
            [$($k)* $($key)+]
            [$($pat)* Some($target),]
            [$($val)* Some($d.$dec($f, $($key,)+ $($($arg),*)?)?),]
            [$($field)* $target]
            $($rest)*);
    };
    (@entry [$keys:ident $ty:ident $head:tt $what:literal $d:ident $f:ident]
        [$($k:literal)*] [$($pat:tt)*] [$($val:tt)*] [$($field:tt)*]
        $target:tt : $($key:literal)|+ => $dec:ident $(($($arg:expr),*))?, $($rest:tt)*
    ) => {
        record!(@entry [$keys $ty $head $what $d $f]
            [$($k)* $($key)+]
            [$($pat)* Some($target),]
            [$($val)* $d.$dec($f, $($key,)+ $($($arg),*)?),]
            [$($field)* $target]
            $($rest)*);
    };
    (@entry [$keys:ident $ty:ident [$($head:ident)*] $what:literal $d:ident $f:ident]
        [$($k:literal)*] [$($pat:tt)*] [$($val:tt)*] [$($field:tt)*]
    ) => {
        const $keys: &[&str] = &["name", $($k),*];

        impl Record for $ty {
            const WHAT: &'static str = $what;
            const KEYS: &'static [&'static str] = $keys;

            fn decode($d: &mut Decoder, $f: &Fields, head: Head) -> Option<Self> {
                let Head { $($head,)* .. } = head;
                let ($($pat)*) = ($($val)*) else {
                    return None;
                };
                Some(record!(@build $ty [$($head,)*] $($field)*))
            }
        }
    };
    // The struct from the names bound above: `_` fills nothing, `(a, b)` two,
    // `{field Type [..]}` a struct of its own.
    (@build $ty:ident [$($done:tt)*]) => {
        $ty { $($done)* }
    };
    (@build $ty:ident [$($done:tt)*] _ $($rest:tt)*) => {
        record!(@build $ty [$($done)*] $($rest)*)
    };
    (@build $ty:ident [$($done:tt)*] ($($f:ident),*) $($rest:tt)*) => {
        record!(@build $ty [$($done)* $($f,)*] $($rest)*)
    };
    (@build $ty:ident [$($done:tt)*] {$target:ident $sub:ident [$($inner:tt)*]} $($rest:tt)*) => {
        record!(@build $ty [$($done)* $target: record!(@build $sub [] $($inner)*),] $($rest)*)
    };
    (@build $ty:ident [$($done:tt)*] $f:ident $($rest:tt)*) => {
        record!(@build $ty [$($done)* $f,] $($rest)*)
    };
}
