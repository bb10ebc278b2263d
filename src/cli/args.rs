//! The command line as clap reads it: commands, their arguments and the
//! value enums. Nothing here runs anything.

use super::log::LogFormat;
use crate::graph::GraphFormat;
use crate::topology::ParseOptions;
use clap::{Args, Parser, Subcommand};
use std::net::SocketAddr;
use std::path::PathBuf;

/// Where `vnetd run --ui` serves the live page when no address is given:
/// this machine only.
pub const DEFAULT_UI_ADDRESS: &str = "127.0.0.1:9470";

#[derive(Parser, Debug)]
#[command(
    name = "vnetd",
    version,
    about = "Azure virtual networking on one Linux host: real packets through Azure's routes, peering and NSGs"
)]
pub struct Cli {
    /// How the log's lines are written on stderr: text, or one JSON
    /// object per line (for CI systems). `RUST_LOG` filters them (default
    /// `info`). The log is the daemon's (`vnetd run`); a command's answer
    /// is printed as it is.
    #[arg(long, value_enum, global = true, default_value_t = LogFormat::Text)]
    pub log_format: LogFormat,
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Subcommand, Debug)]
pub enum Command {
    /// Build the lab (a namespace and TUN per NIC) and forward packets until
    /// SIGINT or SIGTERM; then remove everything. Without CONFIG, runs the
    /// built-in hub-and-spoke example (config/hub-spoke.yaml). Needs root.
    Run(RunArgs),
    /// Replace the running lab's topology without a restart; an invalid file
    /// is refused and the running topology stays. Then reports the BGP
    /// sessions and learned prefixes as they come up, until the lab has
    /// converged (60 s at most).
    Apply {
        /// The topology file (YAML).
        config: PathBuf,
        #[command(flatten)]
        empty: AllowEmpty,
        /// Return once the new topology is published, without waiting for
        /// the lab to converge.
        #[arg(long)]
        no_wait: bool,
    },
    /// The running lab's tracked flows: 5-tuple, NIC and direction, the NSG
    /// rule that allowed it, the next hop, packets and bytes each way.
    Flows {
        #[arg(long)]
        nic: Option<String>,
        #[arg(long)]
        json: bool,
    },
    /// The running lab's counters: per NIC packets, bytes and drops by reason.
    Stats {
        #[arg(long)]
        json: bool,
    },
    /// Remove the namespaces a crashed `run` left behind. Needs root.
    Down {
        /// The topology file that was running (default: the built-in example).
        config: Option<PathBuf>,
        /// In a lab spread over several hosts, which one this machine is:
        /// only its share is removed.
        #[arg(long, value_name = "NAME", requires = "config")]
        host: Option<String>,
    },
    /// A virtual network gateway's routes and BGP sessions (like
    /// `az network vnet-gateway list-*`).
    Gateway {
        #[command(subcommand)]
        what: GatewayCommand,
    },
    /// An Azure Route Server's routes (like
    /// `az network routeserver peering list-*`).
    RouteServer {
        #[command(subcommand)]
        what: RouteServerCommand,
    },
    /// An ExpressRoute circuit's routes (like
    /// `az network express-route list-*`).
    Circuit {
        #[command(subcommand)]
        what: CircuitCommand,
    },
    /// An internal load balancer of the running lab: its backends and what
    /// the health probes find.
    Lb {
        #[command(subcommand)]
        what: LbCommand,
    },
    /// Print the network namespace that stands for a NIC (for scripts):
    /// the running lab's, asked over the control socket; from the file
    /// only when no lab runs (stderr says so).
    Netns {
        #[arg(long)]
        nic: String,
        /// The topology file to read when no lab runs (default: the
        /// built-in lab); with a running lab, a note when it names the NIC's
        /// namespace otherwise.
        #[arg(long)]
        config: Option<PathBuf>,
    },
    /// Capture what crosses a NIC's eth0 in the running lab (both
    /// directions, packets the kernel fast path carries included) as pcapng,
    /// to stdout unless -w: `vnetd capture vm1 | wireshark -k -i -`. Ends on
    /// Ctrl-C, when the reader goes away, or at --count or --seconds. Needs
    /// root.
    Capture {
        /// The NIC to capture on, or a gateway instance (`GW-0`, `GW-1`).
        nic: String,
        /// A pcap filter expression, as tcpdump takes it (e.g. `icmp or
        /// tcp port 80`).
        #[arg(long, value_name = "EXPR")]
        filter: Option<String>,
        /// Write the capture to FILE instead of stdout.
        #[arg(short = 'w', long = "write", value_name = "FILE")]
        write: Option<PathBuf>,
        /// Stop after N packets.
        #[arg(short = 'c', long, value_name = "N")]
        count: Option<u64>,
        /// Stop after SECS seconds.
        #[arg(long, value_name = "SECS")]
        seconds: Option<u64>,
    },
    /// Test the topology's expectations on the running lab with real
    /// packets (ping, a TCP connection, UDP datagrams) from inside its
    /// namespaces; exit 0 when all hold, 1 otherwise. Needs root.
    Verify {
        /// The topology file whose expectations to test (default: the
        /// running lab's own); its NICs' namespaces must be the running
        /// lab's.
        config: Option<PathBuf>,
        /// Also write the results as JUnit XML to FILE (one test case per
        /// expectation), for CI.
        #[arg(long, value_name = "FILE")]
        junit: Option<PathBuf>,
        /// Print the results as JSON instead of a table.
        #[arg(long)]
        json: bool,
        /// First wait until the lab has converged (its BGP sessions up, the
        /// routes the BGP model predicts learned, the load balancers'
        /// first probes answered), at most SECS seconds (60 when no value
        /// is given); a lab still starting is waited for too. Exit 1 with
        /// what is missing when it has not converged by then.
        #[arg(long, value_name = "SECS", num_args = 0..=1, default_missing_value = "60")]
        wait: Option<u64>,
    },
    /// A lab's whole test, for CI: build the lab of CONFIG, wait for it
    /// to converge, test every expectation with real packets, write the
    /// reports and the evidence of each failure, and take the lab down
    /// (also on timeout, SIGINT or SIGTERM). Exit 0 when every
    /// expectation holds, 1 when one fails, 2 when the file or the machine
    /// stopped the run. Needs root.
    Ci(CiArgs),
    /// Print the shell completion script for SHELL (bash, zsh, fish,
    /// elvish, powershell): `vnetd completions bash >
    /// /usr/share/bash-completion/completions/vnetd`.
    Completions {
        #[arg(value_enum)]
        shell: clap_complete::Shell,
    },
    /// Print vnetd's man page (roff): `vnetd man | man -l -`; with
    /// `--dir DIR`, write it and a page per subcommand (`vnetd-ci.1`, ...)
    /// into DIR instead.
    Man {
        #[arg(long, value_name = "DIR")]
        dir: Option<PathBuf>,
    },
    /// Wait until the running lab has converged (its BGP sessions up, the
    /// routes the BGP model predicts learned, the load balancers' first
    /// probes answered), printing how far it has come; a lab still
    /// starting is waited for too. Exit 1 with what is missing when it has
    /// not converged in time.
    Wait {
        /// The longest wait, in seconds.
        #[arg(long, value_name = "SECS", default_value_t = 60)]
        timeout: u64,
    },
    /// Validate a topology file and test its expectations on the compiled
    /// tables: exit 0, or 1 with every error and failed expectation listed.
    /// An expectation only a running lab can decide (its answer is another
    /// DNS server's) is reported apart, as live only, and fails nothing
    /// unless --strict.
    Check {
        /// The topology file (YAML).
        config: PathBuf,
        #[command(flatten)]
        empty: AllowEmpty,
        /// Print the expectations' results as JSON.
        #[arg(long)]
        json: bool,
        /// Exit 1 for expectations only a running lab can decide too
        /// (those whose answer is the source's custom DNS servers', an
        /// on-premises host's own server's, or a forwarding rule's
        /// targets'), as for failed ones.
        #[arg(long)]
        strict: bool,
    },
    /// The whole path of a packet from a NIC or on-premises host, hop by
    /// hop: every NSG rule, route, gateway, peering and load balancer it
    /// meets, through appliances, and the verdict.
    Trace {
        /// A NIC, a VM (its primary NIC), the Internet or one of its servers, or an
        /// on-premises host.
        #[arg(long)]
        from: String,
        /// An address, a NIC or host name (its primary address), or a DNS
        /// name, resolved first as the sender's Azure DNS answers it.
        #[arg(long)]
        to: String,
        /// Tcp, Udp or Icmp (default: Tcp with --port, else Icmp).
        #[arg(long)]
        protocol: Option<String>,
        /// The destination port (Tcp and Udp).
        #[arg(long)]
        port: Option<u16>,
        #[command(flatten)]
        source: Source,
    },
    /// Draw the topology: VNets, subnets, NICs, peerings and the user
    /// routes through virtual appliances, as Mermaid or Graphviz DOT.
    Graph {
        /// The topology file (YAML).
        config: PathBuf,
        /// The picture language.
        #[arg(long, default_value = "mermaid")]
        format: GraphFormat,
    },
    /// Effective routes of a NIC's subnet (like `az network nic show-effective-route-table`),
    /// or of any subnet given as VNET/SUBNET (GatewaySubnet included).
    Routes {
        #[arg(long, required_unless_present_any = ["subnet", "hub"], conflicts_with_all = ["subnet", "hub"])]
        nic: Option<String>,
        #[arg(long, value_name = "VNET/SUBNET", conflicts_with = "hub")]
        subnet: Option<String>,
        /// A virtual hub: its route table's effective routes (like `az network vhub
        /// get-effective-routes`).
        #[arg(long)]
        hub: Option<String>,
        /// The hub's route table (default `defaultRouteTable`).
        #[arg(long, requires = "hub")]
        table: Option<String>,
        #[command(flatten)]
        source: Source,
    },
    /// The route a packet from the NIC to DST takes (like `az network watcher show-next-hop`).
    NextHop {
        #[arg(long)]
        nic: String,
        #[arg(long)]
        dst: String,
        #[command(flatten)]
        source: Source,
    },
    /// The NSG verdict on a flow and the deciding rule (like `az network watcher test-ip-flow`).
    FlowVerify {
        #[arg(long)]
        nic: String,
        /// Inbound or Outbound (case-insensitive).
        #[arg(long, value_enum, ignore_case = true)]
        direction: DirectionArg,
        /// TCP or UDP (case-insensitive): IP flow verify tests TCP and UDP
        /// only, as in Azure.
        #[arg(long, value_enum, ignore_case = true)]
        protocol: ProtocolArg,
        /// The NIC's side of the flow, IP:PORT.
        #[arg(long)]
        local: String,
        /// The other side of the flow, IP:PORT.
        #[arg(long)]
        remote: String,
        #[command(flatten)]
        source: Source,
    },
    /// What a NIC's name server answers for NAME, and how Azure DNS
    /// (168.63.129.16) found it: linked Private DNS zones, VM names,
    /// Private Link names. Exit 3 when the NIC asks custom DNS servers,
    /// whose answer vnetd cannot know.
    Resolve {
        /// The NIC that asks, or a VM (its primary NIC).
        #[arg(long)]
        nic: String,
        /// The name asked.
        name: String,
        /// The record type asked: A, AAAA, CNAME, MX, PTR, SRV, TXT, ANY, ...
        #[arg(long = "type", value_name = "TYPE", default_value = "A")]
        record_type: String,
        /// Answer from this topology file; without it, the running lab asks
        /// the NIC's server for real, from the NIC's namespace.
        #[arg(long)]
        config: Option<PathBuf>,
        /// Print vnetd's JSON instead of tables.
        #[arg(long)]
        json: bool,
    },
    /// Effective security rules of a NIC: subnet and NIC NSGs, tags expanded.
    Rules {
        #[arg(long)]
        nic: String,
        #[command(flatten)]
        source: Source,
    },
    /// Write a topology file from an existing description of the network
    /// (printed to stdout; check it with `vnetd check`).
    Import {
        #[command(subcommand)]
        what: ImportCommand,
    },
}

/// What `vnetd ci` is asked.
#[derive(Args, Debug)]
pub struct CiArgs {
    /// The topology file, with its expectations.
    pub config: PathBuf,
    /// Also write the results as JUnit XML to FILE. It is written first
    /// as a run that did not finish, then replaced by the results, or by
    /// why there are none (exit 2, the timeout, a signal; a run killed
    /// with SIGKILL is reported by its guardian).
    #[arg(long, value_name = "FILE")]
    pub junit: Option<PathBuf>,
    /// The folder for the JSON report, the flow logs and each failed
    /// expectation's evidence (a capture, its trace, flows, counters
    /// and BGP sessions).
    #[arg(long, value_name = "DIR", default_value = "vnetd-artifacts")]
    pub artifacts: PathBuf,
    /// The whole run's limit, in seconds: past it the lab is taken
    /// down and the exit code is 2.
    #[arg(long, value_name = "SECS", default_value_t = 600)]
    pub timeout: u64,
    /// How long to wait for convergence before testing anyway.
    #[arg(long, value_name = "SECS", default_value_t = 120)]
    pub converge_timeout: u64,
    /// Keep every flow in userspace (no kernel fast path).
    #[arg(long)]
    pub no_offload: bool,
}

/// What the guardian of a `vnetd ci` run is told at its start; the rest
/// comes on its stdin, from the run. Parsed apart from the commands
/// (`vnetd ci-guardian ...`, see [`super::main`]), so that neither the help,
/// the man page nor the shell completions offer it.
#[derive(clap::Parser, Debug)]
#[command(name = "vnetd ci-guardian")]
pub struct GuardianArgs {
    /// The run's process id.
    #[arg(long)]
    pub parent_pid: u32,
    /// The run's start time, in clock ticks since boot.
    #[arg(long)]
    pub parent_start: u64,
    /// The topology file, as the run names it.
    #[arg(long)]
    pub source: String,
    /// The run's control socket.
    #[arg(long)]
    pub socket: PathBuf,
    /// The run's JUnit report.
    #[arg(long)]
    pub junit: Option<PathBuf>,
}

/// `--allow-empty`: a topology that declares nothing (an empty or
/// comment-only file) is refused unless this says it is meant (applied to
/// a running lab, it removes every NIC).
#[derive(clap::Args, Debug, Clone, Copy)]
pub struct AllowEmpty {
    /// Accept a topology that declares nothing (an empty lab).
    #[arg(long = "allow-empty")]
    pub allow_empty: bool,
}

impl AllowEmpty {
    pub fn options(self) -> ParseOptions {
        ParseOptions {
            allow_empty: self.allow_empty,
        }
    }
}

/// Where a diagnostic command takes its topology from, and how it prints.
#[derive(clap::Args, Debug)]
pub struct Source {
    /// Answer from this topology file instead of the running daemon.
    #[arg(long)]
    pub config: Option<PathBuf>,
    /// Print the JSON that `az` prints instead of a table.
    #[arg(long)]
    pub json: bool,
}

/// `--direction` of `flow-verify`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum, strum::IntoStaticStr)]
pub enum DirectionArg {
    Inbound,
    Outbound,
}

/// `--protocol` of `flow-verify`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum, strum::IntoStaticStr)]
pub enum ProtocolArg {
    Tcp,
    Udp,
}

impl DirectionArg {
    /// As the diagnostic question spells it.
    pub fn as_str(self) -> &'static str {
        self.into()
    }
}

impl ProtocolArg {
    pub fn as_str(self) -> &'static str {
        self.into()
    }
}

/// `vnetd gateway ...`
#[derive(clap::Subcommand, Debug)]
pub enum GatewayCommand {
    /// The VNet ranges the gateway serves and the routes its instances
    /// learned over BGP (like `az network vnet-gateway list-learned-routes`).
    LearnedRoutes {
        #[arg(long)]
        gateway: String,
        #[command(flatten)]
        source: Source,
    },
    /// What the gateway advertises to one BGP peer (like
    /// `az network vnet-gateway list-advertised-routes`).
    AdvertisedRoutes {
        #[arg(long)]
        gateway: String,
        #[arg(long)]
        peer: String,
        #[command(flatten)]
        source: Source,
    },
    /// The gateway's BGP sessions in the running lab, or as a file predicts
    /// them (like `az network vnet-gateway list-bgp-peer-status`).
    BgpPeerStatus {
        #[arg(long)]
        gateway: String,
        #[command(flatten)]
        source: Source,
    },
}

/// `vnetd route-server ...`
#[derive(clap::Subcommand, Debug)]
pub enum RouteServerCommand {
    /// The routes the Route Server's instances learned from its BGP peers
    /// (like `az network routeserver peering list-learned-routes`).
    LearnedRoutes {
        #[arg(long)]
        route_server: String,
        /// Only the routes learned from this peer (Azure asks per peering).
        #[arg(long, value_name = "IP")]
        peer: Option<String>,
        #[command(flatten)]
        source: Source,
    },
    /// What the Route Server's instances advertise to one BGP peer (like
    /// `az network routeserver peering list-advertised-routes`).
    AdvertisedRoutes {
        #[arg(long)]
        route_server: String,
        #[arg(long, value_name = "IP")]
        peer: String,
        #[command(flatten)]
        source: Source,
    },
}

/// `vnetd circuit ...`
#[derive(clap::Subcommand, Debug)]
pub enum CircuitCommand {
    /// The route table of Microsoft's edge on one link of the circuit's
    /// private peering: the VNets of the connected gateways and what the
    /// customer edge announced (like
    /// `az network express-route list-route-tables`).
    Routes {
        #[arg(long)]
        circuit: String,
        /// The link: primary (the default) or secondary.
        #[arg(long)]
        path: Option<String>,
        #[command(flatten)]
        source: Source,
    },
}

/// `vnetd lb ...`
#[derive(clap::Subcommand, Debug)]
pub enum LbCommand {
    /// Each backend of each rule's pool in the running lab: its probe,
    /// Up or Down since when (and why it is down), and the flows the load
    /// balancer placed on it.
    Show {
        /// The load balancer's name.
        #[arg(long = "lb", value_name = "NAME")]
        load_balancer: String,
        #[arg(long)]
        json: bool,
    },
}

/// `vnetd import ...`: one variant per kind of input.
#[derive(clap::Subcommand, Debug)]
pub enum ImportCommand {
    /// The azurerm resources of a Terraform configuration (every *.tf file
    /// of DIR), evaluated without Terraform and without Azure.
    Terraform {
        /// The directory of the configuration.
        dir: PathBuf,
        /// A variable's value (repeatable); wins over terraform.tfvars,
        /// *.auto.tfvars and the default.
        #[arg(long = "var", value_name = "NAME=VALUE", value_parser = name_and_value)]
        vars: Vec<(String, String)>,
    },
    /// A Terraform state (format version 4, as `terraform state pull`
    /// prints it) or `terraform show -json` output.
    Tfstate {
        /// The state or show output (JSON).
        file: PathBuf,
    },
    /// The output of `az network vnet|nic|nsg|route-table|asg list -o json`,
    /// saved as vnets.json, nics.json, nsgs.json, route-tables.json and
    /// asgs.json in DIR (a missing file is an empty list).
    Az {
        /// The directory of the five files.
        dir: PathBuf,
    },
}

/// `NAME=VALUE`, split at the first `=`.
fn name_and_value(text: &str) -> Result<(String, String), String> {
    match text.split_once('=') {
        Some((name, value)) if !name.trim().is_empty() => {
            Ok((name.trim().to_string(), value.to_string()))
        }
        _ => Err(format!("`{text}` is not NAME=VALUE")),
    }
}

/// What `vnetd run` is asked for: the topology and how to run it.
#[derive(Args, Debug)]
pub struct RunArgs {
    /// The topology file (YAML).
    pub config: Option<PathBuf>,
    /// Forwarding threads (default: one per core), 1 to 256.
    #[arg(long, value_parser = clap::value_parser!(u16).range(1..=256))]
    pub workers: Option<u16>,
    /// Serve Prometheus metrics at http://ADDR/metrics (e.g.
    /// 127.0.0.1:9469); off by default.
    #[arg(long, value_name = "ADDR")]
    pub metrics: Option<SocketAddr>,
    /// Serve the live page at http://ADDR/ (default 127.0.0.1:9470):
    /// the lab's picture with each NIC's and link's rates, drops as
    /// they happen, flows, traces and captures; read-only. The
    /// Prometheus metrics are served there too, at /metrics.
    #[arg(long, value_name = "ADDR", num_args = 0..=1,
          default_missing_value = DEFAULT_UI_ADDRESS)]
    pub ui: Option<SocketAddr>,
    /// The token --metrics and --ui ask for, read from FILE (which is
    /// created with a new token, mode 0600, when there is none; a file
    /// every user may read is refused): for a Prometheus
    /// `credentials_file` that outlives the run. Without it, each run
    /// draws a new token and writes it beside the control socket.
    #[arg(long, value_name = "FILE")]
    pub http_token_file: Option<PathBuf>,
    /// A host name --metrics and --ui answer to besides localhost and
    /// IP addresses (the name Prometheus scrapes by); may be repeated.
    /// Requests for any other name are refused (DNS rebinding).
    #[arg(long, value_name = "NAME")]
    pub allow_host: Vec<String>,
    /// Write NSG flow logs (Azure's version 2 format, PT1H.json files at
    /// Azure's blob paths) under this directory.
    #[arg(long, value_name = "DIR")]
    pub flow_log_dir: Option<PathBuf>,
    /// Seconds between flow-log records (Azure: 60), 1 to 3600.
    #[arg(long, value_name = "N", requires = "flow_log_dir",
          value_parser = clap::value_parser!(u64).range(1..=3600))]
    pub flow_log_interval_secs: Option<u64>,
    /// Slots of the flow table, 1024 to 16777216, rounded up to a power
    /// of two; a tracked flow takes two, each slot 200 bytes (default:
    /// 16384 per NIC, at least 65536, at most 1048576).
    #[arg(long, value_name = "N",
          value_parser = clap::value_parser!(u64).range(1024..=16_777_216))]
    pub flow_table_slots: Option<u64>,
    /// Forwarding threads poll their queues instead of sleeping when
    /// idle: lower latency and fewer wake-ups, but each worker keeps a
    /// core busy. For hosts with cores to dedicate to vnetd.
    #[arg(long)]
    pub busy_poll: bool,
    /// Write every UDP datagram on its own instead of joining
    /// consecutive datagrams of a flow into one super-packet (USO); for
    /// measuring what the joining gains.
    #[arg(long)]
    pub no_udp_coalescing: bool,
    /// Keep every packet in userspace: no admitted flow is handed to the
    /// kernel fast path (also when VNETD_NO_OFFLOAD is set to 1).
    #[arg(long)]
    pub no_offload: bool,
    /// Carry every link as fast as the host allows: no VM size, gateway
    /// SKU, region or impairment delays and rates (path MTUs still
    /// hold); for raw benchmarks.
    #[arg(long)]
    pub no_shaping: bool,
    /// Flow directions the kernel fast path holds at most, 1 to 16777216
    /// (default 65536); flows beyond stay in userspace, counted there.
    #[arg(long, value_name = "N",
          value_parser = clap::value_parser!(u32).range(1..=16_777_216))]
    pub offload_max_flows: Option<u32>,
    /// Which of the file's `hosts` this machine is, in a lab spread over
    /// several: only the VNets, NICs and sites placed on it are built
    /// here, and the other hosts are reached over VXLAN.
    #[arg(long, value_name = "NAME")]
    pub host: Option<String>,
    #[command(flatten)]
    pub empty: AllowEmpty,
}
