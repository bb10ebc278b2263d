//! Deployments of Virtual Network Manager
//! (`azurerm_network_manager_deployment`): the configurations of one kind
//! committed to one region, written as a network manager's `deployments`.

use super::*;

/// The configurations a deployment may name: their ID's segment and kind.
const CONFIGURATION_SEGMENTS: &[(&str, &str)] = &[
    ("connectivityConfigurations", "Connectivity"),
    ("securityAdminConfigurations", "SecurityAdmin"),
    ("routingConfigurations", "Routing"),
];

impl<'r> Model<'r> {
    pub(super) fn add_network_manager_deployment(
        &mut self,
        a: &Attrs<'r>,
    ) -> Result<(), ImportError> {
        let manager_name = a.id_name("network_manager_id", "networkManagers")?;
        let location = a.required_str("location")?;
        let location =
            vnetd_model::topology::regions::canonical(&location).map_or(location, str::to_string);
        let scope_access = a.required_str("scope_access")?;
        let mut configurations = Vec::new();
        for id in a.list("configuration_ids") {
            let found = CONFIGURATION_SEGMENTS.iter().find_map(|(segment, _)| {
                crate::write::id_names(&id, &["networkManagers", segment])
                    .map(|names| (names, *segment))
            });
            let Some((names, segment)) = found else {
                return Err(a.error(format!(
                    "configuration_ids: `{id}` is not the ID of a connectivity, security \
                     admin or routing configuration (.../networkManagers/NAME/\
                     connectivityConfigurations/NAME)"
                )));
            };
            let [manager, configuration] = [names[0].clone(), names[1].clone()];
            if manager != manager_name {
                return Err(a.error(format!(
                    "configuration_ids: `{id}` is a configuration of network manager \
                     `{manager}`, and the deployment is of `{manager_name}`"
                )));
            }
            let known =
                self.network_managers
                    .managers
                    .get(&manager)
                    .is_some_and(|m| match segment {
                        "connectivityConfigurations" => m.connectivity.contains_key(&configuration),
                        "securityAdminConfigurations" => m.security.contains_key(&configuration),
                        _ => m.routing.contains_key(&configuration),
                    });
            if !known {
                return Err(a.error(format!(
                    "configuration_ids: `{id}` names a resource that is not in the input"
                )));
            }
            configurations.push(configuration);
        }
        let deployment = Deployment {
            source: a.r.source.clone(),
            location,
            scope_access,
            configurations,
        };
        self.manager_mut(a, &manager_name)?
            .deployments
            .push(deployment);
        Ok(())
    }
}
