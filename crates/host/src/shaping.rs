//! Shaping what leaves an interface to a rate: a token bucket filter
//! (`tbf`) as the root qdisc. The one place the host layer runs `tc`: the
//! rtnetlink crates build only the `ingress` and `fq_codel` qdiscs, not
//! `tbf`, so it is set up by the `tc` program; everything else about links,
//! addresses and routes goes through [`super::netlink`].

use std::process::Command;

use anyhow::{Context, Result};

/// Shapes what `interface` of `namespace` sends to `mbps` megabits per
/// second: a token bucket with 10 ms of traffic (at least a jumbo frame)
/// as burst and 50 ms of queue, replacing the root qdisc.
pub fn shape(namespace: &str, interface: &str, mbps: u32) -> Result<()> {
    let burst_bytes = (u64::from(mbps) * 1_000_000 / 8 / 100).max(9_000);
    let args = [
        "-n",
        namespace,
        "qdisc",
        "replace",
        "dev",
        interface,
        "root",
        "tbf",
        "rate",
        &format!("{mbps}mbit"),
        "burst",
        &burst_bytes.to_string(),
        "latency",
        "50ms",
    ];
    let out = Command::new("tc")
        .args(args)
        .output()
        .with_context(|| format!("running tc {}", args.join(" ")))?;
    anyhow::ensure!(
        out.status.success(),
        "tc {} failed: {}",
        args.join(" "),
        String::from_utf8_lossy(&out.stderr).trim()
    );
    Ok(())
}

/// Removes what [`shape`] set on `interface` of `namespace`: the root
/// qdisc goes back to the kernel's default. An interface that was not
/// shaped is left as it is.
pub fn unshape(namespace: &str, interface: &str) -> Result<()> {
    let args = ["-n", namespace, "qdisc", "del", "dev", interface, "root"];
    let out = Command::new("tc")
        .args(args)
        .output()
        .with_context(|| format!("running tc {}", args.join(" ")))?;
    let stderr = String::from_utf8_lossy(&out.stderr);
    // No root qdisc of its own: nothing to remove.
    let unshaped = stderr.contains("Cannot delete qdisc with handle of zero")
        || stderr.contains("No such file or directory");
    anyhow::ensure!(
        out.status.success() || unshaped,
        "tc {} failed: {}",
        args.join(" "),
        stderr.trim()
    );
    Ok(())
}
