//! `vnetd import terraform DIR`: the azurerm resources a Terraform
//! configuration declares, evaluated without Terraform and without Azure.
//!
//! Every `*.tf` file of the directory is read (in name order) with hcl-rs's
//! parser, which keeps each block's and each expression's place in the
//! file, so every resource and every error names its `file:line`.
//! Evaluated: `variable` blocks (a value from `--var`, else from
//! `terraform.tfvars` and `*.auto.tfvars`, else the default), `locals`,
//! string templates, references between resources (`azurerm_subnet.nva.id`,
//! any attribute, nested blocks as lists: `...ip_configuration[0].name`),
//! `count` and `for_each` (`count.index`, `each.key`, `each.value`),
//! `dynamic` blocks, `for` expressions, conditionals, and the functions of
//! [`functions::NAMES`], by [`eval`], which bounds every value and the
//! import's whole work.
//!
//! What only Azure knows is synthesised: IDs in Azure's format from the
//! placeholder subscription [`SUBSCRIPTION`], the `resource_group_name`
//! and the names; a NIC's `private_ip_address` when its primary
//! configuration is Static. Resources are evaluated in dependency order;
//! a cycle is an error.
//!
//! Not read: `data` sources, `provider`, `terraform`, `output` and
//! `module` blocks (listed as ignored; what a module declares is not
//! imported, and a reference to a module's or a data source's value is an
//! error), `TF_VAR_` variables, `*.tf.json` and `*.tfvars.json` files;
//! override files (`*_override.tf`) are refused. Resource types the writer
//! does not use are evaluated leniently: an attribute that cannot be
//! evaluated (`file(...)` in a VM) is left out, and is an error only if a
//! used resource refers to it. In the resources the writer uses, every expression must evaluate:
//! an unsupported function or reference, a missing variable or a dangling
//! reference is an [`ImportError`] at `file:line`, naming the expression.

pub mod eval;
pub mod functions;

use super::{ImportError, Resource};
use eval::{Budget, Evaluator, Fault, Names, NoNames, Root};
use hcl::edit::expr::{Expression as Expr, ForExpr, FuncCall, Traversal, TraversalOperator};
use hcl::edit::structure::{Block, BlockLabel, Body, Structure};
use hcl::edit::template::ForTemplateExpr;
use hcl::edit::visit::{self, Visit};
use hcl::edit::Span;
use hcl::{Map, Value};
use std::collections::{BTreeMap, HashMap};
use std::ops::Range;
use std::path::Path;

/// The subscription of every synthesised ID.
pub const SUBSCRIPTION: &str = "00000000-0000-0000-0000-000000000000";

/// The largest `.tf` file read.
const MAX_FILE_BYTES: u64 = 4 << 20;

/// The most instances `count` or `for_each` make of one resource.
const MAX_INSTANCES: usize = 10_000;

/// Arguments of a resource that Terraform itself takes, not the provider.
const META_ATTRIBUTES: &[&str] = &["count", "for_each", "depends_on", "provider"];
const META_BLOCKS: &[&str] = &["lifecycle", "provisioner", "connection", "timeouts"];

/// Reads the configuration in `dir`; `vars` are `--var NAME=VALUE`.
pub fn read_dir(dir: &Path, vars: &[(String, String)]) -> Result<Vec<Resource>, ImportError> {
    let mut reader = Reader::default();
    let names = tf_files(dir, ".tf")?;
    if names.is_empty() {
        return Err(ImportError::new(
            dir.display().to_string(),
            "no .tf file in the directory",
        ));
    }
    for name in names {
        reader.read_file(dir, &name)?;
    }
    let mut tfvars = Vec::new();
    // Present in any form: a FIFO or device of that name is refused by
    // name when read, never skipped.
    if dir.join("terraform.tfvars").symlink_metadata().is_ok() {
        tfvars.push("terraform.tfvars".to_string());
    }
    tfvars.extend(tf_files(dir, ".auto.tfvars")?);
    reader.evaluate_variables(dir, &tfvars, vars)?;
    reader.evaluate()?;
    let mut out = reader.out;
    out.extend(reader.ignored);
    Ok(out)
}

/// The names of the directory's files ending in `suffix`, sorted.
/// Directories are skipped, as Terraform skips them; any other file that
/// is not a regular one (a FIFO, a device, a socket, a broken symlink) is
/// refused by name, looked at but never opened.
fn tf_files(dir: &Path, suffix: &str) -> Result<Vec<String>, ImportError> {
    let cannot = |e: std::io::Error| {
        ImportError::new(
            dir.display().to_string(),
            format!("cannot read the directory: {e}"),
        )
    };
    let mut names = Vec::new();
    for entry in std::fs::read_dir(dir).map_err(cannot)? {
        let entry = entry.map_err(cannot)?;
        let Some(name) = entry.file_name().to_str().map(str::to_string) else {
            continue;
        };
        if !name.ends_with(suffix) {
            continue;
        }
        let meta = std::fs::metadata(entry.path())
            .map_err(|e| ImportError::new(name.as_str(), format!("cannot read the file: {e}")))?;
        if meta.is_dir() {
            continue;
        }
        if let Some(what) = crate::topology::special_kind(&meta.file_type()) {
            return Err(ImportError::new(
                name,
                format!("cannot read the file: it is {what}, not a regular file"),
            ));
        }
        if suffix == ".tf" && (name == "override.tf" || name.ends_with("_override.tf")) {
            return Err(ImportError::new(
                name,
                "Terraform override files are not read: merge the override into the \
                 configuration, or import without it",
            ));
        }
        names.push(name);
    }
    names.sort();
    Ok(names)
}

/// One file's text, for lines and the text of expressions.
struct SourceFile {
    name: String,
    text: String,
}

impl SourceFile {
    fn line(&self, span: &Option<Range<usize>>) -> usize {
        let at = span.as_ref().map_or(0, |s| s.start.min(self.text.len()));
        self.text.as_bytes()[..at]
            .iter()
            .filter(|b| **b == b'\n')
            .count()
            + 1
    }

    fn location(&self, span: &Option<Range<usize>>) -> String {
        format!("{}:{}", self.name, self.line(span))
    }

    /// The expression as written, on one line and at most 120 characters.
    fn snippet(&self, span: &Option<Range<usize>>) -> String {
        let Some(text) = span.as_ref().and_then(|s| self.text.get(s.clone())) else {
            return String::from("(expression)");
        };
        let one_line = text.split_whitespace().collect::<Vec<_>>().join(" ");
        if one_line.chars().count() > 120 {
            let cut: String = one_line.chars().take(117).collect();
            format!("{cut}...")
        } else {
            one_line
        }
    }
}

struct Variable {
    name: String,
    file: usize,
    span: Option<Range<usize>>,
    default: Option<Expr>,
    type_text: Option<String>,
}

struct Local {
    name: String,
    file: usize,
    span: Option<Range<usize>>,
    expr: Expr,
}

struct ResourceBlock {
    kind: String,
    label: String,
    file: usize,
    span: Option<Range<usize>>,
    body: Body,
}

/// What the evaluation order is made of.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Item {
    Local(usize),
    Resource(usize),
}

#[derive(Default)]
struct Reader {
    files: Vec<SourceFile>,
    variables: Vec<Variable>,
    locals: Vec<Local>,
    resources: Vec<ResourceBlock>,
    ignored: Vec<Resource>,
    vars: Map<String, Value>,
    local_values: Map<String, Value>,
    /// Locals and lenient resources that could not be evaluated: an error
    /// only for what refers to them.
    failed: HashMap<String, ImportError>,
    /// Evaluated resources: type -> label -> value (an object, or a list
    /// of them with `count`, or a map of them with `for_each`).
    values: BTreeMap<String, Map<String, Value>>,
    out: Vec<Resource>,
    /// The work every evaluation of the import takes from.
    budget: Budget,
}

/// The names an expression of the configuration sees: `var`, `local`,
/// `terraform`, one per resource type, and `extras` (`count`, `each`, a
/// dynamic block's iterator).
struct Scope<'r> {
    reader: &'r Reader,
    extras: &'r [(String, Value)],
}

impl Names for Scope<'_> {
    fn root(&self, name: &str) -> Option<Root<'_>> {
        if let Some((_, value)) = self.extras.iter().rev().find(|(n, _)| n == name) {
            return Some(Root::Value(value));
        }
        match name {
            "var" => Some(Root::Members(&self.reader.vars)),
            "local" => Some(Root::Members(&self.reader.local_values)),
            "terraform" => {
                let mut terraform = Map::new();
                terraform.insert("workspace".to_string(), Value::from("default"));
                Some(Root::Owned(Value::Object(terraform)))
            }
            kind => self.reader.values.get(kind).map(Root::Members),
        }
    }
}

/// An evaluation that stopped, as an error at the expression `span` of
/// `file`, quoting the expression.
fn fault_at(fault: Fault, file: &SourceFile, span: &Option<Range<usize>>) -> ImportError {
    let why = match fault {
        Fault::NoSuchKey(key) => format!(
            "no attribute or key `{}`: vnetd knows what the configuration writes, IDs and the \
             addresses of Static IP configurations, not what only Azure computes",
            super::quoted(&key)
        ),
        other => other.reason().to_string(),
    };
    ImportError::new(
        file.location(span),
        format!("`{}`: {why}", file.snippet(span)),
    )
}

impl Reader {
    fn read_file(&mut self, dir: &Path, name: &str) -> Result<(), ImportError> {
        let path = dir.join(name);
        let text = read_text(&path).map_err(|e| ImportError::new(name, e))?;
        let body = hcl::edit::parser::parse_body(&text).map_err(|e| {
            ImportError::new(
                format!("{name}:{}", e.location().line()),
                format!("HCL syntax: {}", e.message()),
            )
        })?;
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

    fn read_block(&mut self, file: usize, block: &Block) -> Result<(), ImportError> {
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
                    span: block.span(),
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
            _ => {
                // data, provider, terraform, output, module, ...: named in
                // the ignored list.
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

    fn evaluate_variables(
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
                    format!("--var {name}={}", super::quoted(value)),
                    format!("no variable \"{name}\" is declared in the configuration"),
                ));
            }
        }
        for v in &self.variables {
            let file = &self.files[v.file];
            let value = if let Some((_, text)) = given.iter().rev().find(|(n, _)| n == &v.name) {
                typed(text, v.type_text.as_deref(), &self.budget).map_err(|why| {
                    ImportError::new(format!("--var {}={}", v.name, super::quoted(text)), why)
                })?
            } else if let Some(value) = from_files.get(&v.name) {
                value.clone()
            } else if let Some(default) = &v.default {
                constant(default, file, &self.budget)?
            } else {
                return Err(ImportError::new(
                    file.location(&v.span),
                    format!(
                        "variable \"{}\" has no default and no value: give it with --var {}=VALUE",
                        v.name, v.name
                    ),
                ));
            };
            self.vars.insert(v.name.clone(), value);
        }
        Ok(())
    }

    /// Evaluates locals and resources, each once everything it refers to
    /// is evaluated, in file order otherwise.
    fn evaluate(&mut self) -> Result<(), ImportError> {
        let mut items: Vec<(usize, usize, Item)> = Vec::new();
        for (i, l) in self.locals.iter().enumerate() {
            items.push((l.file, span_start(&l.span), Item::Local(i)));
        }
        for (i, r) in self.resources.iter().enumerate() {
            items.push((r.file, span_start(&r.span), Item::Resource(i)));
        }
        items.sort_by_key(|(file, start, _)| (*file, *start));
        let items: Vec<Item> = items.into_iter().map(|(_, _, item)| item).collect();
        let deps: Vec<Vec<usize>> = items
            .iter()
            .map(|item| {
                let refs = match item {
                    Item::Local(i) => references_in_expr(&self.locals[*i].expr),
                    Item::Resource(i) => references_in_body(&self.resources[*i].body),
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
                    }
                    pending[n] = false;
                    progressed = true;
                }
            }
            let Some(first) = pending.iter().position(|p| *p) else {
                return Ok(());
            };
            if !progressed {
                return Err(self.cycle(&items, &deps, &pending, first));
            }
        }
    }

    /// The item a reference `root.attr` names, if it is declared.
    fn item_named(&self, items: &[Item], root: &str, attr: &Option<String>) -> Option<usize> {
        let attr = attr.as_deref()?;
        items.iter().position(|item| match item {
            Item::Local(i) => root == "local" && self.locals[*i].name == attr,
            Item::Resource(i) => {
                let r = &self.resources[*i];
                r.kind == root && r.label == attr
            }
        })
    }

    fn item_text(&self, item: Item) -> String {
        match item {
            Item::Local(i) => format!("local.{}", self.locals[i].name),
            Item::Resource(i) => format!("{}.{}", self.resources[i].kind, self.resources[i].label),
        }
    }

    fn item_location(&self, item: Item) -> String {
        match item {
            Item::Local(i) => self.files[self.locals[i].file].location(&self.locals[i].span),
            Item::Resource(i) => {
                let r = &self.resources[i];
                self.files[r.file].location(&r.span)
            }
        }
    }

    fn cycle(
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
    fn evaluate_local(&mut self, i: usize) -> Result<(), ImportError> {
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
    fn expression(
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

    fn check_reference(
        &self,
        found: &Found,
        file: &SourceFile,
        extras: &[(String, Value)],
    ) -> Result<(), ImportError> {
        let (span, why) = match found {
            Found::Func { name, span } => {
                if functions::NAMES.contains(&name.as_str()) {
                    return Ok(());
                }
                let why = format!(
                    "vnetd does not evaluate the function `{name}` (it evaluates {})",
                    functions::NAMES.join(", ")
                );
                (span, why)
            }
            Found::Ref { root, .. } if extras.iter().any(|(name, _)| name == root) => {
                return Ok(());
            }
            Found::Ref { root, attr, span } => {
                let attr_text = attr.clone().unwrap_or_default();
                let why = match root.as_str() {
                    "var" => match attr {
                        Some(a) if !self.vars.contains_key(a) => {
                            format!("no variable \"{a}\" is declared")
                        }
                        _ => return Ok(()),
                    },
                    "local" => {
                        if let Some(e) = self.failed.get(&format!("local.{attr_text}")) {
                            return Err(e.clone());
                        }
                        if attr.is_some() && !self.locals.iter().any(|l| l.name == attr_text) {
                            format!("no local value `{attr_text}` is declared")
                        } else {
                            return Ok(());
                        }
                    }
                    "data" => "data sources are not read: vnetd imports from the configuration \
                               alone, without Azure"
                        .to_string(),
                    "module" => {
                        "modules are not followed: import the module's own directory".to_string()
                    }
                    "count" | "each" | "self" | "path" | "terraform" => return Ok(()),
                    kind => {
                        let Some(label) = attr else {
                            return Ok(());
                        };
                        if let Some(e) = self.failed.get(&format!("{kind}.{label}")) {
                            return Err(e.clone());
                        }
                        if self
                            .resources
                            .iter()
                            .any(|r| r.kind == kind && &r.label == label)
                        {
                            return Ok(());
                        }
                        format!("no resource \"{kind}\" \"{label}\" is declared")
                    }
                };
                (span, why)
            }
        };
        Err(ImportError::new(
            file.location(span),
            format!("`{}`: {why}", file.snippet(span)),
        ))
    }

    fn evaluate_resource(&mut self, i: usize) -> Result<(), ImportError> {
        let block = &self.resources[i];
        let file = &self.files[block.file];
        let strict = super::write::KINDS.contains(&block.kind.as_str());
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
            evaluated.push((key.clone(), Value::Object(attributes)));
        }
        let value = match instances.first().map(|(k, _)| k) {
            Some(InstanceKey::Single) => evaluated.pop().map_or(Value::Null, |(_, v)| v),
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
            // count = 0 or an empty for_each: no instance; Terraform's value
            // is an empty list (count) or map (for_each).
            None if block.body.get_attribute("count").is_some() => Value::Array(Vec::new()),
            None => Value::Object(Map::new()),
        };
        let kind = block.kind.clone();
        let label = block.label.clone();
        self.values.entry(kind).or_default().insert(label, value);
        Ok(())
    }

    /// The instances `count` or `for_each` make, each with its `count` or
    /// `each` value.
    fn instances(
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
    fn body(
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
                        super::BLOCK_SOURCE.to_string(),
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
    fn dynamic(
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
                super::BLOCK_SOURCE.to_string(),
                Value::from(file.location(&block.span())),
            );
            items.push(Value::Object(item));
        }
        Ok((name, items))
    }
}

/// One instance of a resource block: its key, and the `count` or `each`
/// its expressions see.
type Instance = (InstanceKey, Vec<(String, Value)>);

#[derive(Debug, Clone)]
enum InstanceKey {
    Single,
    Index(u64),
    Key(String),
}

fn push_blocks(out: &mut Map<String, Value>, name: &str, items: Vec<Value>) {
    let entry = out
        .entry(name.to_string())
        .or_insert_with(|| Value::Array(Vec::new()));
    if let Value::Array(list) = entry {
        list.extend(items);
    }
}

/// `for_each`'s instances: a map's entries sorted by key, or a set's
/// strings (each.value = each.key).
fn for_each_entries(value: Value) -> Result<Vec<(String, Value)>, String> {
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

/// What Azure would compute that a reference may use: the `id` of every
/// resource, the IDs of a VNet's inline subnets, a NIC's primary address
/// when it is Static.
fn computed_attributes(kind: &str, label: &str, attributes: &mut Map<String, Value>) {
    let text = |attributes: &Map<String, Value>, key: &str| match attributes.get(key) {
        Some(Value::String(s)) => s.clone(),
        _ => String::new(),
    };
    let name = match text(attributes, "name") {
        n if n.is_empty() => label.to_string(),
        n => n,
    };
    let group = match text(attributes, "resource_group_name") {
        g if g.is_empty() => "unknown-resource-group".to_string(),
        g => g,
    };
    let base = format!("/subscriptions/{SUBSCRIPTION}/resourceGroups/{group}/providers");
    let network = |path: String| format!("{base}/Microsoft.Network/{path}");
    let id = match kind {
        "azurerm_resource_group" => format!("/subscriptions/{SUBSCRIPTION}/resourceGroups/{name}"),
        "azurerm_virtual_network" => network(format!("virtualNetworks/{name}")),
        "azurerm_subnet" => network(format!(
            "virtualNetworks/{}/subnets/{name}",
            text(attributes, "virtual_network_name")
        )),
        "azurerm_virtual_network_peering" => network(format!(
            "virtualNetworks/{}/virtualNetworkPeerings/{name}",
            text(attributes, "virtual_network_name")
        )),
        "azurerm_network_interface" => network(format!("networkInterfaces/{name}")),
        "azurerm_network_security_group" => network(format!("networkSecurityGroups/{name}")),
        "azurerm_network_security_rule" => network(format!(
            "networkSecurityGroups/{}/securityRules/{name}",
            text(attributes, "network_security_group_name")
        )),
        "azurerm_route_table" => network(format!("routeTables/{name}")),
        "azurerm_route" => network(format!(
            "routeTables/{}/routes/{name}",
            text(attributes, "route_table_name")
        )),
        "azurerm_application_security_group" => {
            network(format!("applicationSecurityGroups/{name}"))
        }
        "azurerm_public_ip" => network(format!("publicIPAddresses/{name}")),
        "azurerm_virtual_network_gateway" => network(format!("virtualNetworkGateways/{name}")),
        "azurerm_local_network_gateway" => network(format!("localNetworkGateways/{name}")),
        "azurerm_virtual_network_gateway_connection" => network(format!("connections/{name}")),
        "azurerm_lb" => network(format!("loadBalancers/{name}")),
        "azurerm_lb_backend_address_pool" => {
            format!(
                "{}/backendAddressPools/{name}",
                text(attributes, "loadbalancer_id")
            )
        }
        "azurerm_lb_probe" => format!("{}/probes/{name}", text(attributes, "loadbalancer_id")),
        "azurerm_lb_rule" => {
            format!(
                "{}/loadBalancingRules/{name}",
                text(attributes, "loadbalancer_id")
            )
        }
        // The provider's own IDs of associations.
        "azurerm_subnet_network_security_group_association"
        | "azurerm_subnet_route_table_association" => text(attributes, "subnet_id"),
        "azurerm_network_interface_security_group_association" => format!(
            "{}|{}",
            text(attributes, "network_interface_id"),
            text(attributes, "network_security_group_id")
        ),
        "azurerm_network_interface_application_security_group_association" => format!(
            "{}|{}",
            text(attributes, "network_interface_id"),
            text(attributes, "application_security_group_id")
        ),
        "azurerm_linux_virtual_machine"
        | "azurerm_windows_virtual_machine"
        | "azurerm_virtual_machine" => {
            format!("{base}/Microsoft.Compute/virtualMachines/{name}")
        }
        other => format!("{base}/{other}/{name}"),
    };
    if kind == "azurerm_virtual_network" {
        if let Some(Value::Array(subnets)) = attributes.get_mut("subnet") {
            for subnet in subnets {
                if let Value::Object(s) = subnet {
                    let subnet_name = match s.get("name") {
                        Some(Value::String(n)) => n.clone(),
                        _ => continue,
                    };
                    s.entry("id".to_string())
                        .or_insert_with(|| Value::from(format!("{id}/subnets/{subnet_name}")));
                }
            }
        }
    }
    if kind == "azurerm_network_interface" {
        let configs: Vec<Map<String, Value>> = match attributes.get("ip_configuration") {
            Some(Value::Array(items)) => items
                .iter()
                .filter_map(|v| match v {
                    Value::Object(m) => Some(m.clone()),
                    _ => None,
                })
                .collect(),
            _ => Vec::new(),
        };
        let is_static = |c: &Map<String, Value>| matches!(c.get("private_ip_address_allocation"), Some(Value::String(s)) if s.eq_ignore_ascii_case("static"));
        let primary = configs
            .iter()
            .find(|c| matches!(c.get("primary"), Some(Value::Bool(true))))
            .or(configs.first());
        if let Some(p) = primary.filter(|p| is_static(p)) {
            if let Some(address) = p.get("private_ip_address") {
                attributes
                    .entry("private_ip_address".to_string())
                    .or_insert_with(|| address.clone());
            }
        }
        if !configs.is_empty() && configs.iter().all(is_static) {
            let addresses: Vec<Value> = configs
                .iter()
                .filter_map(|c| c.get("private_ip_address").cloned())
                .collect();
            attributes
                .entry("private_ip_addresses".to_string())
                .or_insert(Value::Array(addresses));
        }
    }
    attributes
        .entry("id".to_string())
        .or_insert(Value::from(id));
}

/// A value that may use functions but nothing else (a variable's default,
/// a `.tfvars` entry).
fn constant(expr: &Expr, file: &SourceFile, budget: &Budget) -> Result<Value, ImportError> {
    for found in references_in_expr(expr) {
        let span = match &found {
            Found::Func { name, span } if !functions::NAMES.contains(&name.as_str()) => span,
            Found::Ref { span, .. } => span,
            Found::Func { .. } => continue,
        };
        return Err(ImportError::new(
            file.location(span),
            format!(
                "`{}`: a variable's value must be a constant",
                file.snippet(span)
            ),
        ));
    }
    let converted: hcl::Expression = expr.clone().into();
    Evaluator::new(&NoNames, budget)
        .evaluate(&converted)
        .map_err(|fault| fault_at(fault, file, &expr.span()))
}

/// A `--var` value in the variable's type: text for `string` (or no
/// type), a number, a bool, or HCL for the collection types.
fn typed(text: &str, type_text: Option<&str>, budget: &Budget) -> Result<Value, String> {
    match type_text.map(str::trim) {
        None | Some("string") | Some("any") => Ok(Value::from(text)),
        Some("number") => {
            let expr: hcl::Expression = text
                .parse()
                .map_err(|_| format!("`{text}` is not a number"))?;
            match expr {
                hcl::Expression::Number(n) => Ok(Value::Number(n)),
                _ => Err(format!("`{text}` is not a number")),
            }
        }
        Some("bool") => match text {
            "true" => Ok(Value::Bool(true)),
            "false" => Ok(Value::Bool(false)),
            _ => Err(format!("`{text}` is not true or false")),
        },
        Some(_) => {
            let expr: hcl::Expression = text
                .parse()
                .map_err(|e| format!("`{text}` is not an HCL value: {e}"))?;
            Evaluator::new(&NoNames, budget)
                .evaluate(&expr)
                .map_err(|f| format!("`{text}` is not a constant: {}", f.reason()))
        }
    }
}

/// A configuration file's text, with the checks topology files get (a
/// regular file, at most [`MAX_FILE_BYTES`], UTF-8).
fn read_text(path: &Path) -> Result<String, String> {
    crate::topology::read_bounded_text(path, MAX_FILE_BYTES, "a file may have")
}

fn label_text(label: &BlockLabel) -> String {
    match label {
        BlockLabel::Ident(i) => i.as_str().to_string(),
        BlockLabel::String(s) => s.as_str().to_string(),
    }
}

fn span_start(span: &Option<Range<usize>>) -> usize {
    span.as_ref().map_or(0, |s| s.start)
}

// ---- what expressions refer to ---------------------------------------------

/// A reference (`root.attr...`) or a function call, and where it is.
#[derive(Debug)]
enum Found {
    Ref {
        root: String,
        attr: Option<String>,
        span: Option<Range<usize>>,
    },
    Func {
        name: String,
        span: Option<Range<usize>>,
    },
}

/// Walks expressions, keeping the names `for` expressions and `dynamic`
/// blocks bind, which are not references.
#[derive(Default)]
struct Walker {
    bound: Vec<String>,
    found: Vec<Found>,
}

impl Visit for Walker {
    fn visit_traversal(&mut self, node: &Traversal) {
        if let Expr::Variable(root) = &node.expr {
            let root = root.as_str().to_string();
            if !self.bound.contains(&root) {
                let attr = match node.operators.first().map(|o| o.value()) {
                    Some(TraversalOperator::GetAttr(a)) => Some(a.as_str().to_string()),
                    _ => None,
                };
                self.found.push(Found::Ref {
                    root,
                    attr,
                    span: node.span(),
                });
            }
        }
        visit::visit_traversal(self, node);
    }

    fn visit_func_call(&mut self, node: &FuncCall) {
        let mut name: Vec<&str> = node.name.namespace.iter().map(|n| n.as_str()).collect();
        name.push(node.name.name.as_str());
        self.found.push(Found::Func {
            name: name.join("::"),
            span: node.span(),
        });
        visit::visit_func_call(self, node);
    }

    fn visit_for_expr(&mut self, node: &ForExpr) {
        self.visit_expr(&node.intro.collection_expr);
        let before = self.bound.len();
        if let Some(k) = &node.intro.key_var {
            self.bound.push(k.as_str().to_string());
        }
        self.bound.push(node.intro.value_var.as_str().to_string());
        if let Some(k) = &node.key_expr {
            self.visit_expr(k);
        }
        self.visit_expr(&node.value_expr);
        if let Some(c) = &node.cond {
            self.visit_expr(&c.expr);
        }
        self.bound.truncate(before);
    }

    fn visit_for_template_expr(&mut self, node: &ForTemplateExpr) {
        self.visit_expr(&node.collection_expr);
        let before = self.bound.len();
        if let Some(k) = &node.key_var {
            self.bound.push(k.as_str().to_string());
        }
        self.bound.push(node.value_var.as_str().to_string());
        self.visit_template(&node.template);
        self.bound.truncate(before);
    }

    fn visit_block(&mut self, node: &Block) {
        if node.ident.as_str() != "dynamic" {
            visit::visit_block(self, node);
            return;
        }
        let iterator = match node.body.get_attribute("iterator").map(|a| &a.value) {
            Some(Expr::Variable(v)) => v.as_str().to_string(),
            _ => node.labels.first().map(label_text).unwrap_or_default(),
        };
        if let Some(for_each) = node.body.get_attribute("for_each") {
            self.visit_expr(&for_each.value);
        }
        self.bound.push(iterator);
        for content in node.body.blocks().filter(|b| b.ident.as_str() == "content") {
            self.visit_body(&content.body);
        }
        self.bound.pop();
    }
}

fn references_in_expr(expr: &Expr) -> Vec<Found> {
    let mut w = Walker::default();
    w.visit_expr(expr);
    w.found
}

fn references_in_body(body: &Body) -> Vec<Found> {
    let mut w = Walker::default();
    w.visit_body(body);
    w.found
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Reads `files` (name, text) as one configuration.
    fn read(files: &[(&str, &str)], vars: &[(&str, &str)]) -> Result<Vec<Resource>, ImportError> {
        let dir = tempfile::tempdir().unwrap();
        for (name, text) in files {
            std::fs::write(dir.path().join(name), text).unwrap();
        }
        let vars: Vec<(String, String)> = vars
            .iter()
            .map(|(n, v)| (n.to_string(), v.to_string()))
            .collect();
        read_dir(dir.path(), &vars)
    }

    fn attribute<'r>(resources: &'r [Resource], kind: &str, key: &str) -> &'r serde_json::Value {
        let r = resources.iter().find(|r| r.kind == kind).unwrap();
        &r.attributes[key]
    }

    const VNET: &str = r#"
resource "azurerm_virtual_network" "hub" {
  name                = var.name
  resource_group_name = "rg"
  address_space       = var.ranges
  location            = "westeurope"
}
"#;

    #[test]
    fn var_values_come_from_the_command_line_then_tfvars_then_defaults() {
        let variables = r#"
variable "name" { default = "from-default" }
variable "ranges" {
  type    = list(string)
  default = ["10.0.0.0/16"]
}
"#;
        let files = [("main.tf", VNET), ("variables.tf", variables)];
        let got = read(&files, &[]).unwrap();
        assert_eq!(
            attribute(&got, "azurerm_virtual_network", "name"),
            "from-default"
        );

        let tfvars = ("terraform.tfvars", "name = \"from-tfvars\"\n");
        let auto = ("b.auto.tfvars", "name = \"from-auto\"\n");
        let got = read(&[files[0], files[1], tfvars, auto], &[]).unwrap();
        assert_eq!(
            attribute(&got, "azurerm_virtual_network", "name"),
            "from-auto"
        );

        let got = read(
            &[files[0], files[1], tfvars],
            &[
                ("name", "from-cli"),
                ("ranges", r#"["10.9.0.0/16", "10.8.0.0/16"]"#),
            ],
        )
        .unwrap();
        assert_eq!(
            attribute(&got, "azurerm_virtual_network", "name"),
            "from-cli"
        );
        assert_eq!(
            attribute(&got, "azurerm_virtual_network", "address_space"),
            &serde_json::json!(["10.9.0.0/16", "10.8.0.0/16"])
        );
        assert_eq!(
            attribute(&got, "azurerm_virtual_network", "id"),
            "/subscriptions/00000000-0000-0000-0000-000000000000/resourceGroups/rg/providers/Microsoft.Network/virtualNetworks/from-cli"
        );
    }

    #[test]
    fn a_dynamic_address_cannot_be_referred_to() {
        let text = r#"
resource "azurerm_network_interface" "vm1" {
  name                = "vm1"
  resource_group_name = "rg"
  ip_configuration {
    name                          = "c"
    subnet_id                     = "/x/virtualNetworks/v/subnets/s"
    private_ip_address_allocation = "Dynamic"
  }
}

resource "azurerm_route_table" "rt" {
  name                = "rt"
  resource_group_name = "rg"
  route {
    name                   = "r"
    address_prefix         = "10.0.0.0/8"
    next_hop_type          = "VirtualAppliance"
    next_hop_in_ip_address = azurerm_network_interface.vm1.private_ip_address
  }
}
"#;
        let err = read(&[("main.tf", text)], &[]).unwrap_err();
        assert_eq!(err.location, "main.tf:19");
        assert!(
            err.message.starts_with(
                "`azurerm_network_interface.vm1.private_ip_address`: no attribute or key `private_ip_address`"
            ),
            "{}",
            err.message
        );
    }

    #[test]
    fn a_broken_local_is_an_error_only_where_it_is_used() {
        let text = r#"
locals {
  key   = file("id.pub")
  range = "10.0.0.0/16"
}

resource "azurerm_linux_virtual_machine" "vm" {
  name       = "vm"
  public_key = local.key
}

resource "azurerm_virtual_network" "hub" {
  name                = "hub"
  resource_group_name = "rg"
  address_space       = [local.range]
}
"#;
        let got = read(&[("main.tf", text)], &[]).unwrap();
        assert!(attribute(&got, "azurerm_linux_virtual_machine", "public_key").is_null());
        let used = text.replace("[local.range]", "[local.key]");
        let err = read(&[("main.tf", &used)], &[]).unwrap_err();
        assert_eq!(err.location, "main.tf:3");
        assert!(
            err.message.starts_with("`file(\"id.pub\")`"),
            "{}",
            err.message
        );
    }

    #[test]
    fn template_for_directives_bind_their_names() {
        let text = r#"
locals {
  tiers = ["web", "app"]
}

resource "azurerm_virtual_network" "hub" {
  name                = "%{ for t in local.tiers }${t}-%{ endfor }hub"
  resource_group_name = "rg"
  address_space       = ["10.0.0.0/16"]
}
"#;
        let got = read(&[("main.tf", text)], &[]).unwrap();
        assert_eq!(
            attribute(&got, "azurerm_virtual_network", "name"),
            "web-app-hub"
        );
    }

    #[test]
    fn every_kind_of_broken_input_is_an_error_not_a_panic() {
        let cases = [
            "resource \"azurerm_virtual_network\" \"a\" { count = -1 }",
            "resource \"azurerm_virtual_network\" \"a\" { count = \"x\" }",
            "resource \"azurerm_virtual_network\" \"a\" { for_each = 3 }",
            "resource \"azurerm_virtual_network\" \"a\" { for_each = [1] }",
            "resource \"azurerm_virtual_network\" \"a\" {\n count = 1\n for_each = {}\n}",
            "resource \"azurerm_virtual_network\" \"a\" { name = module.m.name }",
            "resource \"azurerm_virtual_network\" \"a\" { name = var.nope }",
            "resource \"azurerm_virtual_network\" \"a\" { name = local.nope }",
            "resource \"azurerm_virtual_network\" \"a\" { name = 1 + \"x\" }",
            "resource \"azurerm_virtual_network\" \"a\" { name = cidrhost(\"x\", 1) }",
            "resource \"azurerm_virtual_network\" \"a\" { name = [][0] }",
            "resource \"azurerm_virtual_network\" \"a\" { name = self.name }",
            "resource \"azurerm_virtual_network\" \"a\" { name = azurerm_virtual_network.a.id }",
            "resource \"azurerm_virtual_network\" \"a\" {\n dynamic \"subnet\" {\n for_each = 1\n content {}\n }\n}",
            "resource \"azurerm_virtual_network\" \"a\" {}\nresource \"azurerm_virtual_network\" \"a\" {}",
            "variable \"v\" { default = var.w }",
            "locals {\n a = local.b\n b = local.a\n}",
        ];
        for text in cases {
            assert!(read(&[("main.tf", text)], &[]).is_err(), "{text}");
        }
    }
}
