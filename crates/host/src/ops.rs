//! The host operations a [`HostLab`](super::HostLab) builds and removes
//! namespaces with, behind one trait: [`LinuxHost`] does them; a caller
//! that wants to see what happens when the host refuses one half-way (a
//! refusal otherwise hard to bring about on purpose) wraps it in its own
//! [`HostOps`] that fails the operation it chooses.

use anyhow::Result;

use super::interface::{self, InterfaceConfig};
use super::netlink;
use super::netns;
use super::tun::{TunDevice, TunOptions};

/// What building a lab's namespaces asks of the host.
pub trait HostOps: Send + Sync + std::fmt::Debug {
    /// Creates namespace `name` and runs `inside` on a thread in it; when
    /// `inside` fails the namespace is removed again (see
    /// [`netns::create_with`]).
    fn create_namespace(
        &self,
        name: &str,
        inside: &mut (dyn FnMut() -> Result<TunDevice> + Send),
    ) -> Result<TunDevice>;

    /// Removes namespace `name` (see [`netns::delete`]).
    fn delete_namespace(&self, name: &str) -> Result<()>;

    /// Creates a TUN device in the calling thread's namespace.
    fn create_tun(&self, options: TunOptions) -> Result<TunDevice>;

    /// Names and configures link `index` of the calling thread's
    /// namespace (see [`interface::configure_link_here`]).
    fn configure_link_here(
        &self,
        index: u32,
        interface: &str,
        config: &InterfaceConfig,
    ) -> Result<()>;

    /// Moves link `index` into `namespace`, renamed `new_name`.
    fn move_link_into_namespace(&self, index: u32, namespace: &str, new_name: &str) -> Result<()>;

    /// Configures `interface` of `namespace`.
    fn configure_interface(
        &self,
        namespace: &str,
        interface: &str,
        config: &InterfaceConfig,
    ) -> Result<()>;
}

/// The host's own operations: namespaces, TUN devices and rtnetlink.
#[derive(Debug, Default, Clone, Copy)]
pub struct LinuxHost;

impl HostOps for LinuxHost {
    fn create_namespace(
        &self,
        name: &str,
        inside: &mut (dyn FnMut() -> Result<TunDevice> + Send),
    ) -> Result<TunDevice> {
        netns::create_with(name, inside)
    }

    fn delete_namespace(&self, name: &str) -> Result<()> {
        netns::delete(name)
    }

    fn create_tun(&self, options: TunOptions) -> Result<TunDevice> {
        TunDevice::create(options)
    }

    fn configure_link_here(
        &self,
        index: u32,
        interface: &str,
        config: &InterfaceConfig,
    ) -> Result<()> {
        interface::configure_link_here(index, interface, config)
    }

    fn move_link_into_namespace(&self, index: u32, namespace: &str, new_name: &str) -> Result<()> {
        netlink::move_link_into_namespace(index, namespace, new_name)
    }

    fn configure_interface(
        &self,
        namespace: &str,
        interface: &str,
        config: &InterfaceConfig,
    ) -> Result<()> {
        interface::configure_interface(namespace, interface, config)
    }
}
