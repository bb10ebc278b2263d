//! `vnetd import terraform` against what it must never do: open a `.tf`
//! that is a FIFO or a device, or spend without bound on what a
//! configuration asks (a string doubled forty times, long lists, a long
//! value in a message).

use super::import_terraform::{case_dir, vnetd};
use std::process::Command;

/// A `.tf` (or `terraform.tfvars`) that is a FIFO or a device is refused,
/// named as what it is, and never opened: opening a FIFO waits for a
/// writer, and opening a device may do anything. inotify sees every open.
#[test]
fn a_tf_that_is_a_fifo_or_a_device_is_named_and_never_opened() {
    use nix::sys::inotify::{AddWatchFlags, InitFlags, Inotify};
    use nix::sys::stat::Mode;
    let dir = tempfile::tempdir().unwrap();
    let fifo = dir.path().join("main.tf");
    nix::unistd::mkfifo(&fifo, Mode::S_IRUSR | Mode::S_IWUSR).unwrap();
    let opens = Inotify::init(InitFlags::IN_NONBLOCK).unwrap();
    opens.add_watch(&fifo, AddWatchFlags::IN_OPEN).unwrap();

    let err = vnetd::import::terraform_topology(dir.path(), &[]).unwrap_err();
    assert_eq!(
        (err.location.as_str(), err.message.as_str()),
        (
            "main.tf",
            "cannot read the file: it is a FIFO, not a regular file"
        )
    );
    let out = vnetd(&["import", "terraform", dir.path().to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(1));
    assert_eq!(
        String::from_utf8_lossy(&out.stderr),
        format!(
            "{}: cannot read the file: it is a FIFO, not a regular file\n",
            fifo.display()
        )
    );
    // No open at all.
    assert_eq!(open_events(&opens), 0);

    // A device, through a symlink, is named too.
    std::fs::remove_file(&fifo).unwrap();
    std::os::unix::fs::symlink("/dev/zero", dir.path().join("zero.tf")).unwrap();
    let err = vnetd::import::terraform_topology(dir.path(), &[]).unwrap_err();
    assert_eq!(
        (err.location.as_str(), err.message.as_str()),
        (
            "zero.tf",
            "cannot read the file: it is a character device, not a regular file"
        )
    );

    // So is a terraform.tfvars that is a FIFO, beside a good configuration.
    std::fs::remove_file(dir.path().join("zero.tf")).unwrap();
    std::fs::copy(
        case_dir("hub-spoke-nva").join("main.tf"),
        dir.path().join("main.tf"),
    )
    .unwrap();
    let tfvars = dir.path().join("terraform.tfvars");
    nix::unistd::mkfifo(&tfvars, Mode::S_IRUSR | Mode::S_IWUSR).unwrap();
    opens.add_watch(&tfvars, AddWatchFlags::IN_OPEN).unwrap();
    let err = vnetd::import::terraform_topology(dir.path(), &[]).unwrap_err();
    assert_eq!(
        (err.location.as_str(), err.message.as_str()),
        (
            "terraform.tfvars",
            "cannot read the file: it is a FIFO, not a regular file"
        )
    );
    assert_eq!(open_events(&opens), 0);
}

/// The opens inotify saw since it was last asked (none waiting: EAGAIN).
fn open_events(inotify: &nix::sys::inotify::Inotify) -> usize {
    use nix::sys::inotify::AddWatchFlags;
    let mut opens = 0;
    loop {
        match inotify.read_events() {
            Ok(events) => {
                opens += events
                    .iter()
                    .filter(|e| e.mask.contains(AddWatchFlags::IN_OPEN))
                    .count()
            }
            Err(nix::Error::EAGAIN) => return opens,
            Err(e) => panic!("reading inotify events: {e}"),
        }
    }
}

/// A configuration of `lines` as `main.tf` in a directory of its own.
fn configuration(lines: &[String]) -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("main.tf"), lines.join("\n") + "\n").unwrap();
    dir
}

/// `locals { s0 = "abcd" ... sN = F(local.sN-1, local.sN-1) }`, each a
/// doubling of the one before, then what `tail` adds.
fn doublings(n: usize, double: &str, tail: &[&str]) -> Vec<String> {
    let mut lines = vec!["locals {".to_string(), "  s0 = \"abcd\"".to_string()];
    for i in 1..=n {
        let previous = format!("local.s{}", i - 1);
        lines.push(format!("  s{i} = {}", double.replace("PREV", &previous)));
    }
    lines.push("}".to_string());
    lines.extend(tail.iter().map(|l| l.to_string()));
    lines
}

const VNET_NAMED_S40: [&str; 6] = [
    "resource \"azurerm_virtual_network\" \"hub\" {",
    "  name                = local.s40",
    "  resource_group_name = \"rg\"",
    "  location            = \"westeurope\"",
    "  address_space       = [\"10.0.0.0/16\"]",
    "}",
];

/// A string doubled forty times (4 TiB) is refused at the doubling that
/// passes 1 MiB, at its line, with a short message, by the library and by
/// the binary, which runs here with 1 GiB of address space: before the
/// bounds, it filled memory.
#[test]
fn a_string_doubled_forty_times_is_refused_where_it_passes_its_bound() {
    for double in [r#"join("", [PREV, PREV])"#, r#"format("%s%s", PREV, PREV)"#] {
        let dir = configuration(&doublings(40, double, &VNET_NAMED_S40));
        let err = vnetd::import::terraform_topology(dir.path(), &[]).unwrap_err();
        // s18 is 1 MiB; s19, on line 21, would be 2 MiB.
        let expression = double.replace("PREV", "local.s18");
        let function = &double[..double.find('(').unwrap()];
        let message = format!(
            "`{expression}`: error calling function `{function}`: the string would be 2097152 \
             bytes, more than the 1048576 bytes (1 MiB) a string may have"
        );
        assert_eq!(
            (err.location.as_str(), err.message.as_str()),
            ("main.tf:21", message.as_str())
        );
        let out = Command::new("sh")
            .args([
                "-c",
                "ulimit -v 1048576; exec \"$0\" import terraform \"$1\"",
                env!("CARGO_BIN_EXE_vnetd"),
                dir.path().to_str().unwrap(),
            ])
            .output()
            .unwrap();
        assert_eq!(out.status.code(), Some(1));
        assert_eq!(
            String::from_utf8_lossy(&out.stderr),
            format!("{}/main.tf:21: {message}\n", dir.path().display())
        );
    }
}

/// A value within the bounds but far too long to print (512 KiB) is
/// quoted by its first 200 bytes and its length.
#[test]
fn a_long_value_in_a_message_is_quoted_shortly() {
    let tail = [
        "resource \"azurerm_virtual_network\" \"hub\" {",
        "  name                = \"hub\"",
        "  resource_group_name = \"rg\"",
        "  location            = \"westeurope\"",
        "  address_space       = [1 + local.s17]",
        "}",
    ];
    let dir = configuration(&doublings(17, r#"join("", [PREV, PREV])"#, &tail));
    let err = vnetd::import::terraform_topology(dir.path(), &[]).unwrap_err();
    assert_eq!(err.location, "main.tf:25");
    assert_eq!(
        err.message,
        format!(
            "`[1 + local.s17]`: binary operator `+` is not applicable to `1` and `\"{}… (524288 \
             bytes)\"`",
            "abcd".repeat(50)
        )
    );
}

/// A list doubled past 100,000 elements, and work past the import's
/// budget (ten thousand copies of a 1 MiB string), are refused at their
/// lines.
#[test]
fn lists_and_the_whole_work_are_bounded_too() {
    let mut lines = vec!["locals {".to_string(), "  l0 = [\"a\"]".to_string()];
    for i in 1..=20 {
        lines.push(format!(
            "  l{i} = concat(local.l{}, local.l{})",
            i - 1,
            i - 1
        ));
    }
    lines.push("}".into());
    lines.extend(
        [
            "resource \"azurerm_virtual_network\" \"hub\" {",
            "  name                = \"hub\"",
            "  resource_group_name = \"rg\"",
            "  location            = \"westeurope\"",
            "  address_space       = local.l20",
            "}",
        ]
        .map(String::from),
    );
    let dir = configuration(&lines);
    let err = vnetd::import::terraform_topology(dir.path(), &[]).unwrap_err();
    // l17 (line 19) would hold 131,072 elements.
    assert_eq!(
        (err.location.as_str(), err.message.as_str()),
        (
            "main.tf:19",
            "`concat(local.l16, local.l16)`: error calling function `concat`: the list or map \
             would have more than the 100000 elements one may have"
        )
    );

    let tail = [
        "resource \"azurerm_virtual_network\" \"hub\" {",
        "  count               = 10000",
        "  name                = \"hub${count.index}\"",
        "  resource_group_name = \"rg\"",
        "  location            = \"westeurope\"",
        "  address_space       = [\"10.0.0.0/16\"]",
        "  tags                = { big = local.s18 }",
        "}",
    ];
    let dir = configuration(&doublings(18, r#"join("", [PREV, PREV])"#, &tail));
    let err = vnetd::import::terraform_topology(dir.path(), &[]).unwrap_err();
    assert_eq!(
        (err.location.as_str(), err.message.as_str()),
        (
            "main.tf:28",
            "`{ big = local.s18 }`: evaluating the configuration took more than the 67108864 \
             steps an import may take (values made or copied, in bytes): a value is built too \
             many times or too large"
        )
    );
}
