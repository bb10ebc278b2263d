//! The topology file: its model, its decoding from YAML and its validation.
//!
//! [`parse_str`] is the one entry point: YAML text in, a resolved
//! [`Topology`] out, or every error of the file at once. Warnings (a
//! one-sided peering) come back beside a valid topology.
//!
//! It owns the file format and the resolved model (with the typed indices
//! every layer above uses); it may use only [`crate::net`].

pub mod catalog;
pub mod changes;
pub mod decode;
pub mod diagnostic;
pub mod model;
pub mod regions;
pub mod resolve;
pub mod yaml;

pub use diagnostic::{Diagnostic, Diagnostics, Severity};
pub use model::*;

use std::path::Path;

/// A valid topology and the warnings found while reading it.
#[derive(Debug, Clone)]
pub struct Loaded {
    pub topology: Topology,
    pub warnings: Vec<Diagnostic>,
}

/// The largest topology file vnetd reads. Azure's own limits fit (an
/// imported subscription of 100 NSGs of 1,000 rules each is a file of
/// about 40 MiB, read in under a second); anything larger is refused
/// before it is read whole.
pub const MAX_FILE_BYTES: u64 = 64 << 20;

/// How much a file may say, beyond what Azure allows.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ParseOptions {
    /// Accept a topology that declares nothing (no VNets, NICs, peerings,
    /// route tables, NSGs or ASGs: an empty or comment-only file). Off by
    /// default: applied to a running lab, an empty file removes every NIC,
    /// which is rarely what was meant.
    pub allow_empty: bool,
}

/// Decodes and validates a topology. `source` names the file in messages.
/// On refusal, every error of the file is returned (warnings included,
/// in file order). An empty topology is refused (see [`ParseOptions`]).
pub fn parse_str(source: &str, text: &str) -> Result<Loaded, Vec<Diagnostic>> {
    parse_str_with(source, text, ParseOptions::default())
}

/// [`parse_str`] with options.
pub fn parse_str_with(
    source: &str,
    text: &str,
    options: ParseOptions,
) -> Result<Loaded, Vec<Diagnostic>> {
    parse_str_checked(source, text, options, |_, _| {})
}

/// [`parse_str_with`], and `more` checks of the resolved topology by a
/// layer above (the lab plan refuses names it cannot give), reported with
/// the file's own errors, in line order.
pub fn parse_str_checked(
    source: &str,
    text: &str,
    options: ParseOptions,
    more: impl FnOnce(&Topology, &mut Diagnostics),
) -> Result<Loaded, Vec<Diagnostic>> {
    let mut diags = Diagnostics::new(source);
    let root = match yaml::parse(text) {
        Ok(root) => root,
        Err(e) => {
            diags.error(e.line, "", format!("YAML syntax: {}", e.message));
            return Err(diags.list);
        }
    };
    let raw = decode::Decoder { diags: &mut diags }.topology(&root);
    if !options.allow_empty && raw.is_empty() && !diags.has_errors() {
        diags.error(
            1,
            "",
            "the topology is empty: it declares nothing (pass --allow-empty if an empty lab \
             is meant)",
        );
        return Err(diags.list);
    }
    let mut topology = resolve::resolve(raw, &mut diags);
    more(&topology, &mut diags);
    topology.text = text.into();
    if diags.has_errors() {
        let mut list = diags.list;
        list.sort_by_key(|d| d.line);
        return Err(list);
    }
    Ok(Loaded {
        topology,
        warnings: diags.list,
    })
}

/// Reads a topology file's text: a regular file (a symlink to one is
/// followed) of at most [`MAX_FILE_BYTES`], with the checks of
/// [`read_bounded_text`]. The error is one diagnostic on line 0 naming the
/// file and the reason.
pub fn read_file(path: &Path) -> Result<String, Diagnostic> {
    read_bounded_text(path, MAX_FILE_BYTES, "a topology may have").map_err(|message| Diagnostic {
        file: path.display().to_string(),
        line: 0,
        severity: Severity::Error,
        key: String::new(),
        message,
    })
}

/// What a file that is not a regular file is, in words (`a FIFO`), from
/// its type; `None` for a regular file.
pub fn special_kind(kind: &std::fs::FileType) -> Option<&'static str> {
    use std::os::unix::fs::FileTypeExt;
    if kind.is_dir() {
        Some("a directory")
    } else if kind.is_fifo() {
        Some("a FIFO")
    } else if kind.is_char_device() {
        Some("a character device")
    } else if kind.is_block_device() {
        Some("a block device")
    } else if kind.is_socket() {
        Some("a socket")
    } else {
        None
    }
}

/// Reads the UTF-8 text of a regular file (a symlink to one is followed)
/// of at most `max_bytes`. Devices, FIFOs, sockets and directories are
/// refused without being opened, so `/dev/zero` cannot grow memory and a
/// FIFO cannot hang the reader. The error says why, in words ending with
/// `limit` ("... bytes a topology may have") where the size is the reason.
pub fn read_bounded_text(path: &Path, max_bytes: u64, limit: &str) -> Result<String, String> {
    use std::io::Read;
    use std::os::unix::fs::OpenOptionsExt;
    let refuse = |why: String| format!("cannot read the file: {why}");
    let not_regular = |what: &str| refuse(format!("it is {what}, not a regular file"));
    // Looked at before it is opened: opening a FIFO waits for a writer,
    // and opening a device may do anything.
    let before = std::fs::metadata(path).map_err(|e| refuse(e.to_string()))?;
    if let Some(what) = special_kind(&before.file_type()) {
        return Err(not_regular(what));
    }
    // O_NONBLOCK: should the path become a FIFO after the look, opening it
    // does not wait. Regular files ignore the flag.
    let file = std::fs::OpenOptions::new()
        .read(true)
        .custom_flags(libc::O_NONBLOCK | libc::O_NOCTTY)
        .open(path)
        .map_err(|e| refuse(e.to_string()))?;
    let meta = file.metadata().map_err(|e| refuse(e.to_string()))?;
    if let Some(what) = special_kind(&meta.file_type()) {
        return Err(not_regular(what));
    }
    if meta.len() > max_bytes {
        return Err(refuse(format!(
            "{} bytes is larger than the {max_bytes} bytes {limit}",
            meta.len()
        )));
    }
    // Read at most one byte past the limit: a file that grows while it is
    // read is refused too, never buffered whole.
    let mut bytes = Vec::with_capacity(meta.len() as usize);
    file.take(max_bytes + 1)
        .read_to_end(&mut bytes)
        .map_err(|e| refuse(e.to_string()))?;
    if bytes.len() as u64 > max_bytes {
        return Err(refuse(format!(
            "it grew past the {max_bytes} bytes {limit}"
        )));
    }
    String::from_utf8(bytes).map_err(|e| {
        refuse(format!(
            "not UTF-8 text (invalid byte at offset {})",
            e.utf8_error().valid_up_to()
        ))
    })
}

/// Reads ([`read_file`]) and parses a topology file.
pub fn load_file(path: &Path) -> Result<Loaded, Vec<Diagnostic>> {
    load_file_with(path, ParseOptions::default())
}

/// [`load_file`] with options.
pub fn load_file_with(path: &Path, options: ParseOptions) -> Result<Loaded, Vec<Diagnostic>> {
    load_file_checked(path, options, |_, _| {})
}

/// Reads ([`read_file`]) and parses a topology file with `more` checks, as
/// [`parse_str_checked`] does.
pub fn load_file_checked(
    path: &Path,
    options: ParseOptions,
    more: impl FnOnce(&Topology, &mut Diagnostics),
) -> Result<Loaded, Vec<Diagnostic>> {
    let text = read_file(path).map_err(|d| vec![d])?;
    parse_str_checked(&path.display().to_string(), &text, options, more)
}
