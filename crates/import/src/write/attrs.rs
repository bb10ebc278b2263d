//! Reading attributes leniently: Terraform, state and `az` spell the same
//! values differently, and an unset value in several ways.

use super::*;
use crate::{ImportError, Resource};
use ipnet::IpNet;
use serde_json::Value;
use std::collections::BTreeMap;
use std::str::FromStr;

/// The attributes of a resource, or of one of its nested blocks, read
/// leniently: Terraform and state write numbers and booleans as such, `az`
/// sometimes as strings, and state writes an unset string as `""` and an
/// unset list as `[]`, which all mean "not given" here.
pub(super) struct Attrs<'r> {
    pub(super) r: &'r Resource,
}

/// One nested block's attributes (or the resource's own), read as
/// [`Attrs`] reads them, with the resource that holds them for messages.
pub(super) struct Nested<'r, 'v> {
    pub(super) values: &'v Value,
    pub(super) resource: &'r Resource,
}

impl<'r> Attrs<'r> {
    pub(super) fn nested<'v>(r: &'r Resource, values: &'v Value) -> Nested<'r, 'v> {
        Nested {
            values,
            resource: r,
        }
    }

    pub(super) fn own(&self) -> Nested<'r, 'r> {
        Nested {
            values: &self.r.attributes,
            resource: self.r,
        }
    }

    pub(super) fn str(&self, key: &str) -> Option<String> {
        self.own().str(key)
    }

    pub(super) fn list(&self, key: &str) -> Vec<String> {
        self.own().list(key)
    }

    pub(super) fn bool(&self, key: &str) -> Option<bool> {
        self.own().bool(key)
    }

    pub(super) fn blocks(&self, key: &str) -> Vec<&'r Value> {
        self.own().blocks(key)
    }

    pub(super) fn required_str(&self, key: &str) -> Result<String, ImportError> {
        self.str(key)
            .ok_or_else(|| self.error(format!("{} has no {key}", self.r.kind)))
    }

    /// The first nested block `key`, when there is one.
    pub(super) fn first_block(&self, key: &str) -> Option<Nested<'r, 'r>> {
        let block = self.blocks(key).into_iter().next()?;
        Some(Attrs::nested(self.r, block))
    }

    /// The one nested block `key`; refused, saying how many `blocks`
    /// `what` has, when there is not exactly one: Azure takes one.
    pub(super) fn one_block(
        &self,
        key: &str,
        what: &str,
        blocks: &str,
    ) -> Result<Nested<'r, 'r>, ImportError> {
        match self.blocks(key).as_slice() {
            [block] => Ok(Attrs::nested(self.r, block)),
            others => Err(self.error(format!(
                "{what} has {} {blocks}; Azure takes one",
                others.len()
            ))),
        }
    }

    /// The resource's name: its `name` attribute, else the reader's name.
    pub(super) fn name(&self) -> Result<String, ImportError> {
        match self.str("name") {
            Some(n) => Ok(n),
            None if !self.r.name.is_empty() => Ok(self.r.name.clone()),
            None => Err(self.error(format!("{} has no name", self.r.kind))),
        }
    }

    pub(super) fn error(&self, message: impl Into<String>) -> ImportError {
        ImportError::new(&self.r.source, message)
    }

    /// `text` as an IP address; else refused at the resource, `what`
    /// naming the value (`frontend `fe``).
    pub(super) fn ip_address(
        &self,
        text: &str,
        what: &str,
    ) -> Result<std::net::IpAddr, ImportError> {
        std::net::IpAddr::from_str(text)
            .map_err(|_| self.error(format!("{what}: `{text}` is not an IP address")))
    }

    /// The `private_ip_address` of `block`, an IP configuration of the
    /// resource whose `allocation` attribute says Static or Dynamic: none
    /// when not given; refused at the resource, `what` naming the block,
    /// when it is no address or when a Static block lacks it.
    pub(super) fn private_address(
        &self,
        block: &Nested,
        allocation: &str,
        what: &str,
    ) -> Result<Option<std::net::IpAddr>, ImportError> {
        let address = match block.str("private_ip_address") {
            Some(text) => Some(self.ip_address(&text, what)?),
            None => None,
        };
        let is_static = (block.str(allocation)).is_some_and(|s| s.eq_ignore_ascii_case("static"));
        if is_static && address.is_none() {
            let why = format!("{what} is Static but has no private_ip_address");
            return Err(self.error(why));
        }
        Ok(address)
    }

    pub(super) fn duplicate(&self, what: &str, name: &str, first: &str) -> ImportError {
        self.error(format!(
            "a second {what} named `{name}` (the first is at {first}); vnetd names must be \
             unique, across resource groups too"
        ))
    }

    /// Refuses a second `what` named `name` when `held` has one already
    /// (`source` gives the first's place).
    pub(super) fn unique<T>(
        &self,
        held: &BTreeMap<String, T>,
        what: &str,
        name: &str,
        source: impl Fn(&T) -> &str,
    ) -> Result<(), ImportError> {
        match held.get(name) {
            Some(first) => Err(self.duplicate(what, name, source(first))),
            None => Ok(()),
        }
    }

    /// The resource's name (see [`Attrs::name`]), refusing a second
    /// `what` of that name when `held` has one already (`source` gives the
    /// first's place).
    pub(super) fn new_name<T>(
        &self,
        held: &BTreeMap<String, T>,
        what: &str,
        source: impl Fn(&T) -> &str,
    ) -> Result<String, ImportError> {
        let name = self.name()?;
        self.unique(held, what, &name, source)?;
        Ok(name)
    }

    /// Holds `item` as `name` in `held`, refusing a second `what` of that
    /// name (`source` gives the first's place).
    pub(super) fn insert_unique<T>(
        &self,
        held: &mut BTreeMap<String, T>,
        what: &str,
        name: String,
        item: T,
        source: impl Fn(&T) -> &str,
    ) -> Result<(), ImportError> {
        self.unique(held, what, &name, source)?;
        held.insert(name, item);
        Ok(())
    }

    /// That the ID attribute `key` names what the input does not hold.
    pub(super) fn dangling(&self, key: &str) -> ImportError {
        self.not_in_input(key, &self.str(key).unwrap_or_default())
    }

    /// That `id`, given under `key`, names what the input does not hold.
    pub(super) fn not_in_input(&self, key: &str, id: &str) -> ImportError {
        self.error(format!(
            "{key} `{id}` names a resource that is not in the input"
        ))
    }

    /// The name the ID attribute `key` refers to (by its last segment of
    /// type `kind`), which `held` must hold.
    pub(super) fn referred<T>(
        &self,
        key: &str,
        kind: &str,
        held: &BTreeMap<String, T>,
    ) -> Result<String, ImportError> {
        let name = self.id_name(key, kind)?;
        if !held.contains_key(&name) {
            return Err(self.dangling(key));
        }
        Ok(name)
    }

    /// The object of `held` that the ID attribute `key` refers to (by its
    /// last segment of type `kind`), which the input must hold, with its
    /// name.
    pub(super) fn referred_mut<'m, T>(
        &self,
        key: &str,
        kind: &str,
        held: &'m mut std::collections::BTreeMap<String, T>,
    ) -> Result<(String, &'m mut T), ImportError> {
        let name = self.id_name(key, kind)?;
        match held.get_mut(&name) {
            Some(found) => Ok((name, found)),
            None => Err(self.dangling(key)),
        }
    }

    /// The name an ID attribute refers to, its last segment of type `kind`.
    pub(super) fn id_name(&self, key: &str, kind: &str) -> Result<String, ImportError> {
        let id = self.required_str(key)?;
        self.name_in_id(&id, kind, key)
    }

    /// The names of the last segments of the ID at `key`, of types
    /// `kinds`.
    pub(super) fn id_names<const N: usize>(
        &self,
        key: &str,
        kinds: &[&str; N],
    ) -> Result<[String; N], ImportError> {
        let id = self.required_str(key)?;
        let names = id_names(&id, kinds).ok_or_else(|| {
            let shape: Vec<String> = kinds.iter().map(|k| format!("{k}/NAME")).collect();
            self.error(format!(
                "{key} `{id}` is not such an ID (.../{})",
                shape.join("/")
            ))
        })?;
        names
            .try_into()
            .map_err(|_| self.error(format!("{key} `{id}` is not such an ID")))
    }

    pub(super) fn name_in_id(
        &self,
        id: &str,
        kind: &str,
        key: &str,
    ) -> Result<String, ImportError> {
        match id_names(id, &[kind]) {
            Some(mut names) => Ok(names.remove(0)),
            None => Err(self.error(format!(
                "{key} `{id}` is not the ID of a {kind} resource (.../{kind}/NAME)"
            ))),
        }
    }

    pub(super) fn subnet_id(&self, key: &str) -> Result<(String, String), ImportError> {
        let id = self.required_str(key)?;
        self.subnet_in_id(&id, key)
    }

    pub(super) fn subnet_in_id(
        &self,
        id: &str,
        key: &str,
    ) -> Result<(String, String), ImportError> {
        match id_names(id, &["virtualNetworks", "subnets"]) {
            Some(names) => Ok((names[0].clone(), names[1].clone())),
            None => Err(self.error(format!(
                "{key} `{id}` is not a subnet ID (.../virtualNetworks/VNET/subnets/SUBNET)"
            ))),
        }
    }

    pub(super) fn cidrs(&self, texts: &[String], key: &str) -> Result<Vec<IpNet>, ImportError> {
        let mut nets = Vec::new();
        for t in texts {
            match IpNet::from_str(t) {
                Ok(n) => nets.push(n),
                Err(_) => {
                    return Err(self.error(format!("{key}: `{t}` is not a CIDR prefix")));
                }
            }
        }
        nets.sort();
        Ok(nets)
    }
}

impl<'v> Nested<'_, 'v> {
    /// The nested blocks `key` holds (a list of objects, or one object).
    pub(super) fn blocks(&self, key: &str) -> Vec<&'v Value> {
        match self.values.get(key) {
            Some(Value::Array(items)) => items.iter().filter(|v| v.is_object()).collect(),
            Some(v @ Value::Object(_)) => vec![v],
            _ => Vec::new(),
        }
    }
}

impl Nested<'_, '_> {
    pub(super) fn str(&self, key: &str) -> Option<String> {
        match self.values.get(key)? {
            Value::String(s) if !s.is_empty() => Some(s.clone()),
            Value::Number(n) => Some(n.to_string()),
            Value::Bool(b) => Some(b.to_string()),
            _ => None,
        }
    }

    pub(super) fn list(&self, key: &str) -> Vec<String> {
        match self.values.get(key) {
            Some(Value::Array(items)) => items
                .iter()
                .filter_map(|v| match v {
                    Value::String(s) if !s.is_empty() => Some(s.clone()),
                    Value::Number(n) => Some(n.to_string()),
                    _ => None,
                })
                .collect(),
            _ => Vec::new(),
        }
    }

    /// A map of texts (`tags`): each entry whose value is a text, a
    /// number or a boolean, by name; anything else is no map.
    pub(super) fn map(&self, key: &str) -> std::collections::BTreeMap<String, String> {
        let Some(Value::Object(entries)) = self.values.get(key) else {
            return Default::default();
        };
        entries
            .iter()
            .filter_map(|(name, value)| {
                let text = match value {
                    Value::String(s) => s.clone(),
                    Value::Number(n) => n.to_string(),
                    Value::Bool(b) => b.to_string(),
                    _ => return None,
                };
                Some((name.clone(), text))
            })
            .collect()
    }

    pub(super) fn bool(&self, key: &str) -> Option<bool> {
        match self.values.get(key)? {
            Value::Bool(b) => Some(*b),
            Value::String(s) if s.eq_ignore_ascii_case("true") => Some(true),
            Value::String(s) if s.eq_ignore_ascii_case("false") => Some(false),
            _ => None,
        }
    }

    /// The block's own place when the reader gave it
    /// ([`crate::BLOCK_SOURCE`]), else its resource's.
    pub(super) fn source(&self) -> String {
        match self.values.get(crate::BLOCK_SOURCE) {
            Some(Value::String(s)) if !s.is_empty() => s.clone(),
            _ => self.resource.source.clone(),
        }
    }

    pub(super) fn error(&self, message: impl Into<String>) -> ImportError {
        ImportError::new(self.source(), message)
    }

    pub(super) fn required_str(&self, key: &str) -> Result<String, ImportError> {
        self.str(key).ok_or_else(|| {
            ImportError::new(
                self.source(),
                format!("a block of {} has no {key}", self.resource.kind),
            )
        })
    }
}
