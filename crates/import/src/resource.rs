//! What every reader gives the writer: one azurerm [`Resource`], and the
//! two attributes a reader may add to a resource's object for the writer
//! ([`BLOCK_SOURCE`], [`KNOWN_AFTER_APPLY`]).

/// The attribute a nested block's object may carry with the block's own
/// place (`main.tf:40`), for the comment before what it becomes (an inline
/// subnet, rule or route); without it, the resource's `source` is used.
/// No HCL or azurerm name starts with `_`, so it cannot clash.
pub const BLOCK_SOURCE: &str = "__source";

/// The attribute a DNAT rule's object may carry, from the Terraform
/// reader: an object naming each of the rule's attributes whose value is
/// known only after apply (taken out of the rule), with the chain of
/// references it comes from. The writer leaves such a rule out, saying
/// why, instead of refusing the configuration.
pub const KNOWN_AFTER_APPLY: &str = "__known_after_apply";

/// One azurerm resource, fully evaluated: what a Terraform plan or state
/// holds for it.
#[derive(Debug, Clone, PartialEq)]
pub struct Resource {
    /// The azurerm resource type, e.g. `azurerm_virtual_network`.
    pub kind: String,
    /// The resource's own `name` attribute when it has one, else its
    /// Terraform label (with the `count`/`for_each` index).
    pub name: String,
    /// The attributes as the azurerm provider names them, with references
    /// replaced by their values (IDs are Azure resource IDs).
    pub attributes: serde_json::Value,
    /// Where it came from: `file:line` of its block, or its resource ID.
    pub source: String,
}
