//! Reading a configuration: each file's variables, locals and resource
//! blocks, the order that lets every expression see what it refers to,
//! and the expansion of `count` and `for_each` into the instances that
//! become resources.

use super::eval::Evaluator;
use super::references::label_text;
use super::*;
use crate::{ImportError, Resource};
use hcl::edit::expr::Expression as Expr;
use hcl::edit::structure::{Block, Body, Structure};
use hcl::edit::Span;
use hcl::{Map, Value};
use std::path::Path;

impl Reader {
    pub(super) fn read_file(&mut self, dir: &Path, name: &str) -> Result<(), ImportError> {
        let path = dir.join(name);
        let shown = format!("{}{name}", self.prefix);
        let text = read_text(&path).map_err(|e| ImportError::new(&shown, e))?;
        let body = hcl::edit::parser::parse_body(&text).map_err(|e| {
            ImportError::new(
                format!("{shown}:{}", e.location().line()),
                format!("HCL syntax: {}", e.message()),
            )
        })?;
        self.read_body(&format!("{}{name}", self.prefix), text, &body)
    }

    /// Reads the blocks of one file's `body`, the file named `name` in
    /// messages.
    pub(super) fn read_body(
        &mut self,
        name: &str,
        text: String,
        body: &Body,
    ) -> Result<(), ImportError> {
        let file = self.files.len();
        self.files.push(SourceFile {
            name: name.to_string(),
            text,
        });
        for block in body.blocks() {
            self.read_block(file, block)?;
        }
        Ok(())
    }

    pub(super) fn read_block(&mut self, file: usize, block: &Block) -> Result<(), ImportError> {
        let labels: Vec<String> = block.labels.iter().map(label_text).collect();
        let location = self.files[file].location(&block.span());
        let ident = block.ident.as_str();
        match (ident, labels.as_slice()) {
            ("resource", [kind, label]) => {
                if let Some(first) = self
                    .resources
                    .iter()
                    .find(|r| &r.kind == kind && &r.label == label)
                {
                    let first = self.files[first.file].location(&first.span);
                    return Err(ImportError::new(
                        location,
                        format!(
                            "resource \"{kind}\" \"{label}\" is declared twice (first at {first})"
                        ),
                    ));
                }
                self.resources.push(ResourceBlock {
                    kind: kind.clone(),
                    label: label.clone(),
                    file,
                    span: block.span(),
                    body: block.body.clone(),
                });
            }
            ("variable", [name]) => {
                if self.variables.iter().any(|v| &v.name == name) {
                    return Err(ImportError::new(
                        location,
                        format!("variable \"{name}\" is declared twice"),
                    ));
                }
                let type_text = block
                    .body
                    .get_attribute("type")
                    .map(|a| self.files[file].snippet(&a.value.span()));
                self.variables.push(Variable {
                    name: name.clone(),
                    file,
                    default: block.body.get_attribute("default").map(|a| a.value.clone()),
                    type_text,
                });
            }
            ("locals", []) => {
                for attr in block.body.attributes() {
                    let name = attr.key.as_str().to_string();
                    if self.locals.iter().any(|l| l.name == name) {
                        return Err(ImportError::new(
                            self.files[file].location(&attr.span()),
                            format!("local value `{name}` is declared twice"),
                        ));
                    }
                    self.locals.push(Local {
                        name,
                        file,
                        span: attr.span(),
                        expr: attr.value.clone(),
                    });
                }
            }
            ("module", [label]) => {
                if let Some(first) = self.module_calls.iter().find(|m| &m.label == label) {
                    let first = self.files[first.file].location(&first.span);
                    return Err(ImportError::new(
                        location,
                        format!("module \"{label}\" is declared twice (first at {first})"),
                    ));
                }
                self.module_calls.push(ResourceBlock {
                    kind: "module".to_string(),
                    label: label.clone(),
                    file,
                    span: block.span(),
                    body: block.body.clone(),
                });
            }
            ("output", [name]) => {
                if let Some(value) = block.body.get_attribute("value") {
                    self.outputs.push(Local {
                        name: name.clone(),
                        file,
                        span: value.span(),
                        expr: value.value.clone(),
                    });
                }
            }
            _ => {
                // data, provider, terraform, ...: named in the ignored
                // list.
                let (kind, name) = match (ident, labels.as_slice()) {
                    ("data", [kind, name]) => (format!("data.{kind}"), name.clone()),
                    (_, labels) => (ident.to_string(), labels.join(".")),
                };
                self.ignored.push(Resource {
                    kind,
                    name,
                    attributes: serde_json::Value::Null,
                    source: location,
                });
            }
        }
        Ok(())
    }

    pub(super) fn evaluate_variables(
        &mut self,
        dir: &Path,
        tfvars: &[String],
        given: &[(String, String)],
    ) -> Result<(), ImportError> {
        let mut from_files: Map<String, Value> = Map::new();
        for name in tfvars {
            let text = read_text(&dir.join(name)).map_err(|e| ImportError::new(name, e))?;
            let body = hcl::edit::parser::parse_body(&text).map_err(|e| {
                ImportError::new(
                    format!("{name}:{}", e.location().line()),
                    format!("HCL syntax: {}", e.message()),
                )
            })?;
            let file = SourceFile {
                name: name.clone(),
                text: text.clone(),
            };
            for attr in body.attributes() {
                let value = constant(&attr.value, &file, &self.budget)?;
                from_files.insert(attr.key.as_str().to_string(), value);
            }
        }
        for (name, value) in given {
            if !self.variables.iter().any(|v| &v.name == name) {
                return Err(ImportError::new(
                    format!("--var {name}={}", crate::quoted(value)),
                    format!("no variable \"{name}\" is declared in the configuration"),
                ));
            }
        }
        for v in &self.variables {
            let file = &self.files[v.file];
            let value = if let Some(value) = self.inputs.get(&v.name) {
                value.clone()
            } else if let Some((_, text)) = given.iter().rev().find(|(n, _)| n == &v.name) {
                typed(text, v.type_text.as_deref(), &self.budget).map_err(|why| {
                    ImportError::new(format!("--var {}={}", v.name, crate::quoted(text)), why)
                })?
            } else if let Some(value) = from_files.get(&v.name) {
                value.clone()
            } else if let Some(default) = &v.default {
                constant(default, file, &self.budget)?
            } else {
                // As unknown as a value Azure computes: refused only where
                // the topology needs it (a secret or a subscription ID
                // never is).
                super::unknown::unknown(&format!("var.{}", v.name))
            };
            self.vars.insert(v.name.clone(), value);
        }
        Ok(())
    }

    /// Evaluates locals and resources, each once everything it refers to
    /// is evaluated, in file order otherwise.
    pub(super) fn evaluate(&mut self) -> Result<(), ImportError> {
        let mut items: Vec<(usize, usize, Item)> = Vec::new();
        for (i, l) in self.locals.iter().enumerate() {
            items.push((l.file, span_start(&l.span), Item::Local(i)));
        }
        for (i, r) in self.resources.iter().enumerate() {
            items.push((r.file, span_start(&r.span), Item::Resource(i)));
        }
        for (i, m) in self.module_calls.iter().enumerate() {
            items.push((m.file, span_start(&m.span), Item::Module(i)));
        }
        items.sort_by_key(|(file, start, _)| (*file, *start));
        let items: Vec<Item> = items.into_iter().map(|(_, _, item)| item).collect();
        let deps: Vec<Vec<usize>> = items
            .iter()
            .map(|item| {
                let refs = match item {
                    Item::Local(i) => references_in_expr(&self.locals[*i].expr),
                    Item::Resource(i) => references_in_body(&self.resources[*i].body),
                    Item::Module(i) => references_in_body(&self.module_calls[*i].body),
                };
                let mut deps: Vec<usize> = refs
                    .iter()
                    .filter_map(|r| match r {
                        Found::Ref { root, attr, .. } => self.item_named(&items, root, attr),
                        Found::Func { .. } => None,
                    })
                    .collect();
                deps.sort_unstable();
                deps.dedup();
                deps
            })
            .collect();
        let mut pending = vec![true; items.len()];
        loop {
            let mut progressed = false;
            for n in 0..items.len() {
                if pending[n] && deps[n].iter().all(|d| !pending[*d]) {
                    match items[n] {
                        Item::Local(i) => self.evaluate_local(i)?,
                        Item::Resource(i) => self.evaluate_resource(i)?,
                        Item::Module(i) => self.evaluate_module(i)?,
                    }
                    pending[n] = false;
                    progressed = true;
                }
            }
            let Some(first) = pending.iter().position(|p| *p) else {
                return self.evaluate_outputs();
            };
            if !progressed {
                return Err(self.cycle(&items, &deps, &pending, first));
            }
        }
    }

    /// The item a reference `root.attr` names, if it is declared.
    pub(super) fn item_named(
        &self,
        items: &[Item],
        root: &str,
        attr: &Option<String>,
    ) -> Option<usize> {
        let attr = attr.as_deref()?;
        items.iter().position(|item| match item {
            Item::Local(i) => root == "local" && self.locals[*i].name == attr,
            Item::Resource(i) => {
                let r = &self.resources[*i];
                r.kind == root && r.label == attr
            }
            Item::Module(i) => root == "module" && self.module_calls[*i].label == attr,
        })
    }

    pub(super) fn item_text(&self, item: Item) -> String {
        match item {
            Item::Local(i) => format!("local.{}", self.locals[i].name),
            Item::Resource(i) => format!("{}.{}", self.resources[i].kind, self.resources[i].label),
            Item::Module(i) => format!("module.{}", self.module_calls[i].label),
        }
    }

    pub(super) fn item_location(&self, item: Item) -> String {
        match item {
            Item::Local(i) => self.files[self.locals[i].file].location(&self.locals[i].span),
            Item::Resource(i) => {
                let r = &self.resources[i];
                self.files[r.file].location(&r.span)
            }
            Item::Module(i) => {
                let m = &self.module_calls[i];
                self.files[m.file].location(&m.span)
            }
        }
    }

    pub(super) fn cycle(
        &self,
        items: &[Item],
        deps: &[Vec<usize>],
        pending: &[bool],
        first: usize,
    ) -> ImportError {
        let mut path = vec![first];
        let mut at = first;
        while let Some(next) = deps[at].iter().copied().find(|d| pending[*d]) {
            if let Some(start) = path.iter().position(|p| *p == next) {
                path.drain(..start);
                path.push(next);
                break;
            }
            path.push(next);
            at = next;
        }
        let names: Vec<String> = path.iter().map(|n| self.item_text(items[*n])).collect();
        ImportError::new(
            self.item_location(items[path[0]]),
            format!(
                "these refer to each other, so none can be evaluated first: {}",
                names.join(" -> ")
            ),
        )
    }

    /// Evaluates a local value. One that cannot be evaluated is an error
    /// only where it is used; work past the import's budget ends it here.
    pub(super) fn evaluate_local(&mut self, i: usize) -> Result<(), ImportError> {
        let local = &self.locals[i];
        let file = &self.files[local.file];
        match self.expression(&local.expr, file, &[]) {
            Ok(v) => {
                self.local_values.insert(local.name.clone(), v);
            }
            Err(e) if self.budget.exhausted() => return Err(e),
            Err(e) => {
                self.failed.insert(format!("local.{}", local.name), e);
            }
        }
        Ok(())
    }

    /// Checks what an expression refers to and calls, then evaluates it.
    /// `extras` are the names `ctx` binds beyond the usual ones.
    pub(super) fn expression(
        &self,
        expr: &Expr,
        file: &SourceFile,
        extras: &[(String, Value)],
    ) -> Result<Value, ImportError> {
        for found in references_in_expr(expr) {
            self.check_reference(&found, file, extras)?;
        }
        let converted: hcl::Expression = expr.clone().into();
        let names = Scope {
            reader: self,
            extras,
        };
        Evaluator::new(&names, &self.budget)
            .evaluate(&converted)
            .map_err(|fault| fault_at(fault, file, &expr.span()))
    }

    pub(super) fn evaluate_resource(&mut self, i: usize) -> Result<(), ImportError> {
        let block = &self.resources[i];
        let file = &self.files[block.file];
        let kind = block.kind.as_str();
        let strict =
            crate::write::KINDS.contains(&kind) && !crate::write::READ_IN_PART.contains(&kind);
        let source = file.location(&block.span);
        let address = format!("{}.{}", block.kind, block.label);
        let instances = match self.instances(block, file) {
            Ok(instances) => instances,
            Err(e) if strict || self.budget.exhausted() => return Err(e),
            Err(e) => {
                self.failed.insert(address, e);
                self.ignored.push(Resource {
                    kind: block.kind.clone(),
                    name: block.label.clone(),
                    attributes: serde_json::Value::Null,
                    source,
                });
                return Ok(());
            }
        };
        let mut evaluated = Vec::new();
        for (key, extras) in &instances {
            let mut attributes = self.body(&block.body, file, extras, strict, true)?;
            let suffix = match key {
                InstanceKey::Single => String::new(),
                InstanceKey::Index(n) => format!("[{n}]"),
                InstanceKey::Key(k) => format!("[\"{k}\"]"),
            };
            let label = format!("{}{suffix}", block.label);
            computed_attributes(&block.kind, &label, &mut attributes);
            computed::subnet_addresses(&block.kind, &mut attributes, &mut self.subnet_prefixes);
            let name = match attributes.get("name") {
                Some(Value::String(n)) => n.clone(),
                _ => label,
            };
            let json = serde_json::to_value(&attributes).map_err(|e| {
                ImportError::new(&source, format!("cannot represent the attributes: {e}"))
            })?;
            self.out.push(Resource {
                kind: block.kind.clone(),
                name,
                attributes: json,
                source: source.clone(),
            });
            // After the resource is recorded: its address stays unknown
            // there, and references to it carry its origin.
            let origin = format!("{}{address}{suffix}.ip_address", self.address);
            let origins = &mut self.public_ip_origins;
            dnat::public_ip_address(&block.kind, origin, &mut attributes, origins);
            evaluated.push((key.clone(), Value::Object(attributes)));
        }
        let value = instances_value(block, evaluated);
        let kind = block.kind.clone();
        let label = block.label.clone();
        self.values.entry(kind).or_default().insert(label, value);
        Ok(())
    }

    /// The instances `count` or `for_each` make, each with its `count` or
    /// `each` value.
    pub(super) fn instances(
        &self,
        block: &ResourceBlock,
        file: &SourceFile,
    ) -> Result<Vec<Instance>, ImportError> {
        let count = block.body.get_attribute("count");
        let for_each = block.body.get_attribute("for_each");
        match (count, for_each) {
            (Some(c), Some(_)) => Err(ImportError::new(
                file.location(&c.span()),
                "a resource takes count or for_each, not both",
            )),
            (Some(c), None) => {
                let value = self.expression(&c.value, file, &[])?;
                known_before_apply(&value, "count", file, &c.value.span())?;
                let n = match &value {
                    Value::Number(n) => n.as_u64(),
                    Value::String(s) => s.parse().ok(),
                    _ => None,
                };
                let Some(n) = n.filter(|n| *n <= MAX_INSTANCES as u64) else {
                    return Err(ImportError::new(
                        file.location(&c.value.span()),
                        format!(
                            "`{}`: count must be a whole number from 0 to {MAX_INSTANCES}",
                            file.snippet(&c.value.span())
                        ),
                    ));
                };
                Ok((0..n)
                    .map(|i| {
                        let mut count = Map::new();
                        count.insert("index".to_string(), Value::from(i));
                        (
                            InstanceKey::Index(i),
                            vec![("count".to_string(), Value::Object(count))],
                        )
                    })
                    .collect())
            }
            (None, Some(f)) => {
                let value = self.expression(&f.value, file, &[])?;
                let keys = match &value {
                    Value::Object(map) => {
                        Value::Array(map.keys().cloned().map(Value::from).collect())
                    }
                    other => other.clone(),
                };
                known_before_apply(&keys, "for_each", file, &f.value.span())?;
                let entries = for_each_entries(value)
                    .and_then(|entries| {
                        if entries.len() > MAX_INSTANCES {
                            return Err(format!(
                                "for_each makes {} instances, more than the {MAX_INSTANCES} \
                                 a resource may have",
                                entries.len()
                            ));
                        }
                        Ok(entries)
                    })
                    .map_err(|why| {
                        ImportError::new(
                            file.location(&f.value.span()),
                            format!("`{}`: {why}", file.snippet(&f.value.span())),
                        )
                    })?;
                Ok(entries
                    .into_iter()
                    .map(|(key, value)| {
                        let mut each = Map::new();
                        each.insert("key".to_string(), Value::from(key.clone()));
                        each.insert("value".to_string(), value);
                        (
                            InstanceKey::Key(key),
                            vec![("each".to_string(), Value::Object(each))],
                        )
                    })
                    .collect())
            }
            (None, None) => Ok(vec![(InstanceKey::Single, Vec::new())]),
        }
    }

    /// A block's attributes and nested blocks (lists of objects, as
    /// Terraform exposes them). Lenient (`strict` false): what cannot be
    /// evaluated is left out.
    pub(super) fn body(
        &self,
        body: &Body,
        file: &SourceFile,
        extras: &[(String, Value)],
        strict: bool,
        top: bool,
    ) -> Result<Map<String, Value>, ImportError> {
        let mut out = Map::new();
        for structure in body.iter() {
            match structure {
                Structure::Attribute(attr) => {
                    let key = attr.key.as_str();
                    if top && META_ATTRIBUTES.contains(&key) {
                        continue;
                    }
                    match self.expression(&attr.value, file, extras) {
                        Ok(v) => {
                            out.insert(key.to_string(), v);
                        }
                        Err(e) if strict || self.budget.exhausted() => return Err(e),
                        Err(_) => {}
                    }
                }
                Structure::Block(block) => {
                    let ident = block.ident.as_str();
                    if top && META_BLOCKS.contains(&ident) {
                        continue;
                    }
                    if ident == "dynamic" {
                        match self.dynamic(block, file, extras, strict) {
                            Ok((name, items)) => push_blocks(&mut out, &name, items),
                            Err(e) if strict || self.budget.exhausted() => return Err(e),
                            Err(_) => {}
                        }
                        continue;
                    }
                    let mut nested = self.body(&block.body, file, extras, strict, false)?;
                    nested.insert(
                        crate::BLOCK_SOURCE.to_string(),
                        Value::from(file.location(&block.span())),
                    );
                    push_blocks(&mut out, ident, vec![Value::Object(nested)]);
                }
            }
        }
        Ok(out)
    }

    /// A `dynamic "NAME"` block: one NAME block per element of `for_each`,
    /// its `content` evaluated with the iterator (NAME, or `iterator`).
    pub(super) fn dynamic(
        &self,
        block: &Block,
        file: &SourceFile,
        extras: &[(String, Value)],
        strict: bool,
    ) -> Result<(String, Vec<Value>), ImportError> {
        let location = file.location(&block.span());
        let Some(name) = block.labels.first().map(label_text) else {
            return Err(ImportError::new(location, "a dynamic block needs a label"));
        };
        let Some(for_each) = block.body.get_attribute("for_each") else {
            return Err(ImportError::new(location, "a dynamic block needs for_each"));
        };
        let iterator = match block.body.get_attribute("iterator").map(|a| &a.value) {
            Some(Expr::Variable(v)) => v.as_str().to_string(),
            Some(_) => {
                return Err(ImportError::new(location, "iterator must be a plain name"));
            }
            None => name.clone(),
        };
        let Some(content) = block.body.blocks().find(|b| b.ident.as_str() == "content") else {
            return Err(ImportError::new(
                location,
                "a dynamic block needs a content block",
            ));
        };
        let collection = self.expression(&for_each.value, file, extras)?;
        if matches!(collection, Value::String(_)) {
            known_before_apply(
                &collection,
                "a dynamic block's for_each",
                file,
                &for_each.value.span(),
            )?;
        }
        let entries: Vec<(Value, Value)> = match collection {
            Value::Object(map) => {
                let mut entries: Vec<(String, Value)> = map.into_iter().collect();
                entries.sort_by(|a, b| a.0.cmp(&b.0));
                entries
                    .into_iter()
                    .map(|(k, v)| (Value::from(k), v))
                    .collect()
            }
            Value::Array(items) => items
                .into_iter()
                .enumerate()
                .map(|(i, v)| (Value::from(i as u64), v))
                .collect(),
            Value::Null => Vec::new(),
            other => {
                return Err(ImportError::new(
                    file.location(&for_each.value.span()),
                    format!(
                        "`{}`: for_each needs a list, set or map, not {}",
                        file.snippet(&for_each.value.span()),
                        functions::kind(&other)
                    ),
                ))
            }
        };
        let mut items = Vec::new();
        for (key, value) in entries {
            let mut element = Map::new();
            element.insert("key".to_string(), key);
            element.insert("value".to_string(), value);
            let mut inner = extras.to_vec();
            inner.push((iterator.clone(), Value::Object(element)));
            let mut item = self.body(&content.body, file, &inner, strict, false)?;
            item.insert(
                crate::BLOCK_SOURCE.to_string(),
                Value::from(file.location(&block.span())),
            );
            items.push(Value::Object(item));
        }
        Ok((name, items))
    }
}

/// Refuses a `count` or `for_each` that is unknown until apply, as
/// Terraform's plan does: how many instances there are must be known.
fn known_before_apply(
    value: &Value,
    what: &str,
    file: &SourceFile,
    span: &Option<std::ops::Range<usize>>,
) -> Result<(), ImportError> {
    match super::unknown::chain_of(value) {
        None => Ok(()),
        Some(chain) => Err(ImportError::new(
            file.location(span),
            format!(
                "`{}`: {what} is known only after apply (it comes from {chain}); Terraform \
                 too needs it before: give the value in the configuration",
                file.snippet(span)
            ),
        )),
    }
}

/// The value a block's instances make together, as Terraform exposes it:
/// the one instance's, a list of them (`count`) or a map by key
/// (`for_each`); with no instance, an empty list (`count = 0`) or map.
pub(super) fn instances_value(
    block: &ResourceBlock,
    evaluated: Vec<(InstanceKey, Value)>,
) -> Value {
    let counted = block.body.get_attribute("count").is_some();
    match evaluated.first().map(|(k, _)| k) {
        Some(InstanceKey::Single) => evaluated.into_iter().next().map_or(Value::Null, |(_, v)| v),
        Some(InstanceKey::Index(_)) => {
            Value::Array(evaluated.into_iter().map(|(_, v)| v).collect())
        }
        Some(InstanceKey::Key(_)) => Value::Object(
            evaluated
                .into_iter()
                .map(|(k, v)| match k {
                    InstanceKey::Key(k) => (k, v),
                    _ => (String::new(), v),
                })
                .collect(),
        ),
        None if counted => Value::Array(Vec::new()),
        None => Value::Object(Map::new()),
    }
}

/// One instance of a resource block: its key, and the `count` or `each`
/// its expressions see.
pub(super) type Instance = (InstanceKey, Vec<(String, Value)>);

#[derive(Debug, Clone)]
pub(super) enum InstanceKey {
    Single,
    Index(u64),
    Key(String),
}

pub(super) fn push_blocks(out: &mut Map<String, Value>, name: &str, items: Vec<Value>) {
    let entry = out
        .entry(name.to_string())
        .or_insert_with(|| Value::Array(Vec::new()));
    if let Value::Array(list) = entry {
        list.extend(items);
    }
}

/// `for_each`'s instances: a map's entries sorted by key, or a set's
/// strings (each.value = each.key).
pub(super) fn for_each_entries(value: Value) -> Result<Vec<(String, Value)>, String> {
    match value {
        Value::Object(map) => {
            let mut entries: Vec<(String, Value)> = map.into_iter().collect();
            entries.sort_by(|a, b| a.0.cmp(&b.0));
            Ok(entries)
        }
        Value::Array(items) => {
            let mut keys = Vec::new();
            for item in items {
                match item {
                    Value::String(s) => keys.push(s),
                    other => {
                        return Err(format!(
                            "for_each takes a map or a set of strings; this set holds {}",
                            functions::kind(&other)
                        ))
                    }
                }
            }
            keys.sort();
            keys.dedup();
            Ok(keys
                .into_iter()
                .map(|k| (k.clone(), Value::from(k)))
                .collect())
        }
        other => Err(format!(
            "for_each takes a map or a set of strings, not {}",
            functions::kind(&other)
        )),
    }
}
