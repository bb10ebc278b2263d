//! `vnetd man` and `vnetd completions`, through the real binary: the man
//! page is roff that `man -l` renders, naming every subcommand the binary
//! takes; each shell's completion script completes the subcommands, and
//! bash loads its script.

use std::process::Command;

fn vnetd(args: &[&str]) -> String {
    let out = Command::new(env!("CARGO_BIN_EXE_vnetd"))
        .args(args)
        .output()
        .unwrap();
    assert!(out.status.success(), "{args:?}: {out:?}");
    String::from_utf8(out.stdout).unwrap()
}

/// The subcommands `vnetd --help` lists.
fn subcommands() -> Vec<String> {
    let help = vnetd(&["--help"]);
    help.split("Commands:")
        .nth(1)
        .unwrap()
        .split("Options:")
        .next()
        .unwrap()
        .lines()
        .filter_map(|l| l.split_whitespace().next())
        .filter(|w| *w != "help")
        .map(String::from)
        .collect()
}

#[test]
fn the_man_page_names_every_subcommand_and_man_renders_it() {
    let page = vnetd(&["man"]);
    assert!(page.contains(".TH vnetd 1"), "{page}");
    let commands = subcommands();
    assert!(commands.iter().any(|c| c == "ci"), "{commands:?}");
    // roff writes a hyphen as `\-`.
    for command in &commands {
        let escaped = command.replace('-', "\\-");
        assert!(page.contains(&escaped), "{command}");
    }
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("vnetd.1");
    std::fs::write(&file, &page).unwrap();
    let rendered = Command::new("man")
        .arg("-l")
        .arg(&file)
        .env("MANWIDTH", "80")
        .output()
        .unwrap();
    assert!(rendered.status.success(), "{rendered:?}");
    let text = String::from_utf8_lossy(&rendered.stdout);
    assert!(
        text.contains("NAME") && text.contains("SUBCOMMANDS"),
        "{text}"
    );
}

#[test]
fn every_shells_completion_completes_the_subcommands() {
    for shell in ["bash", "zsh", "fish", "elvish", "powershell"] {
        let script = vnetd(&["completions", shell]);
        assert!(script.contains("vnetd"), "{shell}");
        for command in ["ci", "run", "verify", "trace"] {
            assert!(script.contains(command), "{shell}: {command}");
        }
    }
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("vnetd.bash");
    std::fs::write(&file, vnetd(&["completions", "bash"])).unwrap();
    let loaded = Command::new("bash")
        .arg("-c")
        .arg(format!("source {} && complete -p vnetd", file.display()))
        .output()
        .unwrap();
    assert!(loaded.status.success(), "{loaded:?}");
    assert!(String::from_utf8_lossy(&loaded.stdout).contains("vnetd"));
}
