//! The index newtypes of the model (and of the lab plan's ports): each
//! kind of position its own type, so that one cannot be passed for another.

/// Declares an index newtype: a position in one kind of vector, which
/// cannot be passed where another kind's index is expected.
macro_rules! index_type {
    ($(#[$doc:meta])* $name:ident) => {
        $(#[$doc])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Default)]
        pub struct $name(usize);

        impl $name {
            /// The position as a plain number (for messages and arrays
            /// that are not typed by the index).
            #[inline]
            pub const fn index(self) -> usize {
                self.0
            }

            #[inline]
            pub const fn new(index: usize) -> Self {
                $name(index)
            }
        }

        impl From<usize> for $name {
            #[inline]
            fn from(index: usize) -> Self {
                $name(index)
            }
        }

        impl From<$name> for usize {
            #[inline]
            fn from(id: $name) -> usize {
                id.0
            }
        }

        impl std::fmt::Display for $name {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                self.0.fmt(f)
            }
        }
    };
}

pub(crate) use index_type;
