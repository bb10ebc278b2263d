//! Every kind of resource found by its `name` field ([`super::named`]'s
//! `Named`), listed in one place apart from the lookup itself, so that the
//! kinds' own files can use the lookup without it naming them back.

use super::named::named;
use super::*;

named!(
    PublicIp,
    PublicIpPrefix,
    NatGateway,
    InternetServer,
    Vnet,
    Subnet,
    Nic,
    RouteTable,
    Nsg,
    Asg,
    Site,
    SiteHost,
    SiteRouter,
    Gateway,
    LocalGateway,
    Circuit,
    LoadBalancer,
    Probe,
    AzureFirewall,
    FirewallPolicy,
    IpGroup,
    RouteServer,
    LabHost,
    VirtualWan,
    VirtualHub,
    HubRouteTable,
    HubConnection,
    HubVpnConnection,
    VpnSite,
    PaasResource,
    ServiceEndpointPolicy,
);
