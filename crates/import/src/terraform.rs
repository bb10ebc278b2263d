//! `vnetd import terraform DIR`: the azurerm resources a Terraform
//! configuration declares, evaluated without Terraform and without Azure.
//!
//! Every `*.tf` file of the directory is read (in name order) with hcl-rs's
//! parser, which keeps each block's and each expression's place in the
//! file, so every resource and every error names its `file:line`; then
//! every `*.tf.json` file, as the native syntax it stands for
//! (`json_syntax`). Evaluated: `variable` blocks (a value from `--var`,
//! else from `terraform.tfvars` and `*.auto.tfvars`, else the default),
//! `locals`, string templates, references between resources
//! (`azurerm_subnet.nva.id`, any attribute, nested blocks as lists:
//! `...ip_configuration[0].name`), `count` and `for_each` (`count.index`,
//! `each.key`, `each.value`), `dynamic` blocks, `for` expressions,
//! conditionals, the functions of [`functions::NAMES`], by [`eval`], which
//! bounds every value and the import's whole work, and local modules
//! (`modules`).
//!
//! What only Azure knows is synthesised: IDs in Azure's format from the
//! placeholder subscription [`SUBSCRIPTION`], the `resource_group_name`
//! and the names; a NIC's `private_ip_address` when its primary
//! configuration is Static; an Azure Firewall's private address, the first
//! usable one of its subnet. What only Terraform or Azure computes beyond
//! that (a `random_*` result, a data source, an output of a registry
//! module, a variable with no value, a function vnetd does not evaluate)
//! is an unknown, as in Terraform's plan ([`unknown`]): a placeholder in a
//! name, a refusal where the topology needs the value. Resources are
//! evaluated in dependency order; a cycle is an error.
//!
//! Not read: `provider` and `terraform` blocks (listed as ignored),
//! `TF_VAR_` variables and `*.tfvars.json` files; override files
//! (`*_override.tf`) are refused. Resource types the writer does not use
//! are evaluated leniently: an attribute that cannot be evaluated is left
//! out. In the resources the writer uses, every expression must evaluate:
//! a type error or a dangling reference is an [`ImportError`] at
//! `file:line`, naming the expression.

mod computed;
mod dnat;
pub mod eval;
pub mod functions;
mod json_syntax;
mod limits;
mod modules;
mod reader;
mod references;
pub mod unknown;

use super::{ImportError, Resource};
use computed::computed_attributes;
pub use computed::SUBSCRIPTION;
use eval::{Budget, Evaluator, Fault, Names, NoNames, Root};
use hcl::edit::expr::Expression as Expr;
use hcl::edit::structure::Body;
use hcl::edit::Span;
use hcl::{Map, Value};
use references::{references_in_body, references_in_expr, Found};
use std::collections::{BTreeMap, HashMap};
use std::ops::Range;
use std::path::Path;

/// The largest `.tf` file read.
const MAX_FILE_BYTES: u64 = 4 << 20;

/// The most instances `count` or `for_each` make of one resource.
const MAX_INSTANCES: usize = 10_000;

/// Arguments of a resource that Terraform itself takes, not the provider.
const META_ATTRIBUTES: &[&str] = &["count", "for_each", "depends_on", "provider"];
const META_BLOCKS: &[&str] = &["lifecycle", "provisioner", "connection", "timeouts"];

/// Reads the configuration in `dir`; `vars` are `--var NAME=VALUE`.
/// Returns the resources, and each placeholder that stands for a value
/// known only after apply (see [`unknown`]).
pub fn read_dir(
    dir: &Path,
    vars: &[(String, String)],
) -> Result<(Vec<Resource>, unknown::Placeholders), ImportError> {
    let mut reader = Reader::load(dir, "", 0)?;
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
    // A DNAT rule's destination that is a public IP's address is known
    // only after apply: it is handed on as that public IP, which the
    // writer knows.
    dnat::settle_rules(&mut out, &reader.public_ip_origins);
    // What vnetd reads only in part settles as what it does not read.
    let whole: Vec<&str> = crate::write::KINDS
        .iter()
        .copied()
        .filter(|k| !crate::write::READ_IN_PART.contains(k))
        .collect();
    let placeholders = unknown::settle(
        &mut out,
        &whole,
        crate::write::READ_KEYS,
        functions::NAMES,
        &mut reader.ignored,
    )?;
    out.extend(reader.ignored);
    Ok((out, placeholders))
}

impl Reader {
    /// Reads the `.tf` and `.tf.json` files of `dir`, named in messages
    /// with `prefix`, `depth` module calls deep.
    fn load(dir: &Path, prefix: &str, depth: usize) -> Result<Reader, ImportError> {
        let mut reader = Reader {
            dir: dir.to_path_buf(),
            prefix: prefix.to_string(),
            depth,
            ..Reader::default()
        };
        let names = tf_files(dir, ".tf")?;
        let json_names = tf_files(dir, ".tf.json")?;
        if names.is_empty() && json_names.is_empty() {
            return Err(ImportError::new(
                format!("{prefix}{}", dir.display()),
                "no .tf or .tf.json file in the directory",
            ));
        }
        for name in names {
            reader.read_file(dir, &name)?;
        }
        for name in json_names {
            reader.read_json_file(dir, &name)?;
        }
        Ok(reader)
    }
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
        if let Some(what) = vnetd_model::topology::special_kind(&meta.file_type()) {
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
    Module(usize),
}

#[derive(Default)]
struct Reader {
    /// The directory read, and how its files are named in messages (the
    /// path of a module's directory from the root one, with a slash).
    dir: std::path::PathBuf,
    prefix: String,
    /// How many module calls deep this configuration is.
    depth: usize,
    files: Vec<SourceFile>,
    /// The values a module call gives its variables.
    inputs: Map<String, Value>,
    /// The `output` blocks of the configuration (what a module returns).
    outputs: Vec<Local>,
    /// Their values, once evaluated.
    output_values: Map<String, Value>,
    /// Evaluated local modules: call name -> its outputs (an object, or a
    /// list or map of them with `count` or `for_each`).
    modules: Map<String, Value>,
    /// No data source is read: every attribute of one is unknown.
    data_sources: Map<String, Value>,
    variables: Vec<Variable>,
    locals: Vec<Local>,
    resources: Vec<ResourceBlock>,
    /// `module` blocks: their label, body and place (kind `module`).
    module_calls: Vec<ResourceBlock>,
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
    /// The prefixes of every subnet evaluated so far, the modules' too,
    /// for the address Azure gives a firewall ([`computed`]).
    subnet_prefixes: computed::SubnetPrefixes,
    /// The address of the module instance this configuration is
    /// (`module.fw.`, `module.spoke["a"].module.vnet.`; empty at the root).
    address: String,
    /// The ID of every public IP evaluated so far (the modules' too), by
    /// the origin its unknown `ip_address` carries ([`dnat`]).
    public_ip_origins: dnat::PublicIpOrigins,
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
            "data" => Some(Root::Members(&self.reader.data_sources)),
            "module" => Some(Root::Members(&self.reader.modules)),
            "path" => {
                let mut path = Map::new();
                let module = format!("./{}", self.reader.prefix.trim_end_matches('/'));
                path.insert("module".to_string(), Value::from(module));
                path.insert("root".to_string(), Value::from("."));
                path.insert("cwd".to_string(), Value::from("."));
                Some(Root::Owned(Value::Object(path)))
            }
            "terraform" => {
                let mut terraform = Map::new();
                terraform.insert("workspace".to_string(), Value::from("default"));
                Some(Root::Owned(Value::Object(terraform)))
            }
            kind => self.reader.values.get(kind).map(Root::Members),
        }
    }

    fn computes(&self, root: &str) -> bool {
        matches!(root, "data" | "module") || self.reader.values.contains_key(root)
    }
}

impl Reader {
    /// A reference of `file` to nothing declared (a variable, a local
    /// value, a module or a resource), or to what could not be evaluated,
    /// as an error; `extras` are the names bound around it (`count`,
    /// `each`, a dynamic block's iterator).
    fn check_reference(
        &self,
        found: &Found,
        file: &SourceFile,
        extras: &[(String, Value)],
    ) -> Result<(), ImportError> {
        let (span, why) = match found {
            // A function vnetd does not evaluate makes an unknown, refused
            // only where the topology needs its value.
            Found::Func { .. } => return Ok(()),
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
                    // Not read: every attribute is unknown.
                    "data" => return Ok(()),
                    "module" => match attr {
                        Some(a) if !self.module_calls.iter().any(|m| &m.label == a) => {
                            format!("no module \"{a}\" is declared")
                        }
                        _ => return Ok(()),
                    },
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
    vnetd_model::topology::read_bounded_text(path, MAX_FILE_BYTES, "a file may have")
}

fn span_start(span: &Option<Range<usize>>) -> usize {
    span.as_ref().map_or(0, |s| s.start)
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
        read_dir(dir.path(), &vars).map(|(resources, _)| resources)
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
    fn a_vm_takes_its_size_and_its_nics_by_reference() {
        let text = r#"
resource "azurerm_virtual_network" "hub" {
  name                = "hub"
  resource_group_name = "rg"
  location            = "westeurope"
  address_space       = ["10.0.0.0/16"]
  subnet {
    name           = "app"
    address_prefix = "10.0.1.0/24"
  }
}

resource "azurerm_network_interface" "web" {
  name                = "web-nic"
  resource_group_name = "rg"
  ip_configuration {
    name                          = "c"
    subnet_id                     = azurerm_virtual_network.hub.subnet[0].id
    private_ip_address_allocation = "Static"
    private_ip_address            = "10.0.1.4"
  }
}

resource "azurerm_linux_virtual_machine" "web" {
  name                  = "web"
  resource_group_name   = "rg"
  size                  = var.size
  network_interface_ids = [azurerm_network_interface.web.id]
  admin_ssh_key {
    public_key = file("~/.ssh/id_rsa.pub")
  }
}

variable "size" {
  default = "Standard_D4s_v5"
}
"#;
        let resources = read(&[("main.tf", text)], &[]).unwrap();
        let yaml = crate::topology_yaml(&resources, "a test").unwrap();
        let t = vnetd_model::topology::parse_str("t", &yaml)
            .unwrap()
            .topology;
        let vm = &t.virtual_machines[vnetd_model::topology::VmIdx::new(0)];
        assert_eq!((vm.name.as_str(), vm.size), ("web", "Standard_D4s_v5"));
        assert_eq!(vm.nics, vec![t.nic_by_name("web-nic").unwrap()]);
    }

    #[test]
    fn a_dynamic_address_is_refused_where_the_topology_needs_it() {
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
        // Unknown until apply, and the route needs it.
        let err = read(&[("main.tf", text)], &[]).unwrap_err();
        assert_eq!(err.location, "main.tf:12");
        assert_eq!(
            err.message,
            "azurerm_route_table `rt`: `route[0].next_hop_in_ip_address` is known only after \
             apply (it comes from azurerm_network_interface.vm1.private_ip_address), and the \
             topology needs its value: write it in the configuration"
        );
    }

    #[test]
    fn a_broken_local_is_an_error_only_where_it_is_used() {
        let text = r#"
locals {
  key   = cidrhost("not-a-prefix", 1)
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
        err.assert_starts_with("`cidrhost(\"not-a-prefix\", 1)`");
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
