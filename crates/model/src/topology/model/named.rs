//! Finding a resource by its name. A file's resources refer to each other
//! by name, and so do the commands and their messages (`--gateway hub-gw`,
//! "no gateway named `x` (gateways: ...)"); every kind's vector is
//! searched the same way, with [`ByName`].

use super::TiSlice;

/// A resource that files, commands and messages refer to by its name.
pub trait Named {
    fn name(&self) -> &str;
}

/// Implements [`Named`] for resources whose name is their `name` field.
macro_rules! named {
    ($($kind:ty),* $(,)?) => {
        $(
            impl $crate::topology::Named for $kind {
                fn name(&self) -> &str {
                    &self.name
                }
            }
        )*
    };
}
pub(crate) use named;

/// The lookup by name in a vector of one kind of resource.
pub trait ByName<K> {
    /// The position of the resource named `name` (exactly as written).
    fn by_name(&self, name: &str) -> Option<K>;

    /// Every name, in order: what a refusal lists.
    fn names(&self) -> Vec<&str>;
}

impl<K: From<usize>, T: Named> ByName<K> for TiSlice<K, T> {
    fn by_name(&self, name: &str) -> Option<K> {
        self.position(|item| item.name() == name)
    }

    fn names(&self) -> Vec<&str> {
        self.iter().map(Named::name).collect()
    }
}

impl<T: Named> ByName<usize> for [T] {
    fn by_name(&self, name: &str) -> Option<usize> {
        self.iter().position(|item| item.name() == name)
    }

    fn names(&self) -> Vec<&str> {
        self.iter().map(Named::name).collect()
    }
}
