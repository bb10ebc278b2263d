//! Module calls, as Terraform follows them: a local module (`source =
//! "./..."` or `"../..."`) is read from its directory with the call's
//! arguments as its variables, its resources join the import, and its
//! `output` blocks become `module.NAME.OUTPUT`. A module from a registry
//! or a repository is not fetched: it is listed as ignored and its
//! outputs are unknown (see [`super::unknown`]).

use super::reader::{instances_value, InstanceKey};
use super::*;

/// How deep module calls may nest (a module that calls itself would
/// otherwise never end).
const MAX_MODULE_DEPTH: usize = 16;

/// Arguments of a module call that Terraform itself takes.
const MODULE_META: &[&str] = &[
    "source",
    "version",
    "count",
    "for_each",
    "providers",
    "depends_on",
];

impl Reader {
    /// Evaluates module call `i`: each of its instances read and
    /// evaluated from its directory, its outputs recorded.
    pub(super) fn evaluate_module(&mut self, i: usize) -> Result<(), ImportError> {
        let block = &self.module_calls[i];
        let file = &self.files[block.file];
        let location = file.location(&block.span);
        let Some(source_attr) = block.body.get_attribute("source") else {
            return Err(ImportError::new(location, "a module call needs source"));
        };
        let source = match self.expression(&source_attr.value, file, &[])? {
            Value::String(s) => s,
            other => {
                return Err(ImportError::new(
                    file.location(&source_attr.value.span()),
                    format!("source must be a string, not {}", functions::kind(&other)),
                ))
            }
        };
        let label = block.label.clone();
        if !(source.starts_with("./") || source.starts_with("../")) {
            self.ignored.push(Resource {
                kind: "module".to_string(),
                name: format!("{label} ({source}: not a local directory, not fetched)"),
                attributes: serde_json::Value::Null,
                source: location,
            });
            return Ok(());
        }
        if self.depth + 1 > MAX_MODULE_DEPTH {
            return Err(ImportError::new(
                location,
                format!("modules nest more than {MAX_MODULE_DEPTH} calls deep"),
            ));
        }
        let dir = self.dir.join(&source);
        if !dir.is_dir() {
            return Err(ImportError::new(
                location,
                format!("module source `{source}` is not a directory"),
            ));
        }
        let prefix = module_prefix(&self.prefix, &source);
        let instances = self.instances(block, file)?;
        let mut evaluated = Vec::new();
        for (key, extras) in &instances {
            let suffix = match key {
                InstanceKey::Single => String::new(),
                InstanceKey::Index(n) => format!("[{n}]"),
                InstanceKey::Key(k) => format!("[\"{k}\"]"),
            };
            let mut inputs = Map::new();
            for attr in block.body.attributes() {
                let name = attr.key.as_str();
                if MODULE_META.contains(&name) {
                    continue;
                }
                let value = self.expression(&attr.value, file, extras)?;
                inputs.insert(name.to_string(), value);
            }
            let mut child = Reader::load(&dir, &prefix, self.depth + 1)?;
            // The module's work is the import's work.
            child.budget = Budget::new(self.budget.left());
            for name in inputs.keys() {
                if !child.variables.iter().any(|v| &v.name == name) {
                    return Err(ImportError::new(
                        location.clone(),
                        format!("module \"{label}\" ({source}) declares no variable \"{name}\""),
                    ));
                }
            }
            child.inputs = inputs;
            // A firewall of the module may be in a subnet of the caller's.
            child.subnet_prefixes = self.subnet_prefixes.clone();
            child.address = format!("{}module.{label}{suffix}.", self.address);
            let done = child
                .evaluate_variables(&dir, &[], &[])
                .and_then(|()| child.evaluate());
            self.budget.settle_with(&child.budget);
            done?;
            self.out.append(&mut child.out);
            self.subnet_prefixes.append(&mut child.subnet_prefixes);
            self.public_ip_origins.append(&mut child.public_ip_origins);
            self.ignored.append(&mut child.ignored);
            let outputs = Value::Object(child.output_values);
            evaluated.push((key.clone(), outputs));
        }
        let value = instances_value(block, evaluated);
        self.modules.insert(label, value);
        Ok(())
    }

    /// Evaluates the `output` blocks, once everything else is. One that
    /// cannot be evaluated is left out: a reference to it is unknown.
    pub(super) fn evaluate_outputs(&mut self) -> Result<(), ImportError> {
        let mut values = Map::new();
        for output in &self.outputs {
            let file = &self.files[output.file];
            match self.expression(&output.expr, file, &[]) {
                Ok(v) => {
                    values.insert(output.name.clone(), v);
                }
                Err(e) if self.budget.exhausted() => return Err(e),
                Err(_) => {}
            }
        }
        self.output_values = values;
        Ok(())
    }
}

/// How a module's files are named in messages: `prefix` (the calling
/// configuration's) joined with `source`, `.` and `..` resolved as far as
/// the names allow (`hub/` and `../modules/vnet` make `modules/vnet/`).
fn module_prefix(prefix: &str, source: &str) -> String {
    let mut parts: Vec<&str> = prefix.split('/').filter(|p| !p.is_empty()).collect();
    for part in source.split('/') {
        match part {
            "" | "." => {}
            ".." if parts.last().is_some_and(|p| *p != "..") => {
                parts.pop();
            }
            other => parts.push(other),
        }
    }
    if parts.is_empty() {
        String::new()
    } else {
        format!("{}/", parts.join("/"))
    }
}

#[cfg(test)]
mod tests {
    use super::module_prefix;

    #[test]
    fn a_module_is_named_from_the_root_directory() {
        assert_eq!(module_prefix("", "./modules/vnet"), "modules/vnet/");
        assert_eq!(module_prefix("hub/", "../modules/vnet/"), "modules/vnet/");
        assert_eq!(module_prefix("", "../common"), "../common/");
        assert_eq!(module_prefix("a/b/", "../../.."), "../");
        assert_eq!(module_prefix("m/", ".."), "");
    }
}
