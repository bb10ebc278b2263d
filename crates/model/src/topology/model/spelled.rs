//! The enums of values Azure spells one way (next-hop types, SKUs,
//! protocols, ...): a file may write them in any case, a refusal lists the
//! spellings there are, and answers print them as Azure does.

/// Declares an enum of values Azure spells one way: parsed from a file
/// without regard to ASCII case (`EnumString`), listed in refusals
/// (`VariantNames`), and printed by `as_str` as Azure spells it
/// (`IntoStaticStr`; `#[strum(serialize = "...")]` where the variant's
/// name is not the spelling).
macro_rules! spelled_enum {
    ($(#[$attr:meta])* pub enum $name:ident { $($variants:tt)* }) => {
        #[derive(
            Debug,
            Clone,
            Copy,
            PartialEq,
            Eq,
            Hash,
            strum::IntoStaticStr,
            strum::EnumString,
            strum::VariantNames,
        )]
        $(#[$attr])*
        #[strum(ascii_case_insensitive)]
        pub enum $name {
            $($variants)*
        }

        impl $name {
            /// The value as Azure spells it.
            pub fn as_str(self) -> &'static str {
                self.into()
            }
        }
    };
}

pub(crate) use spelled_enum;
