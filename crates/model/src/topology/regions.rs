//! Azure's regions, as `az account list-locations` names them: the
//! programmatic name (`westeurope`) and the display name (`West Europe`).
//! A VNet's `location` must be one of them; either form is accepted, in any
//! case, and both stand for the same region (peering between `westeurope`
//! and `West Europe` is local, not global).
//!
//! Public regions, Azure Government and Azure operated by 21Vianet (China),
//! since peering may be global within each cloud.

/// (programmatic name, display name).
pub const REGIONS: &[(&str, &str)] = &[
    ("australiacentral", "Australia Central"),
    ("australiacentral2", "Australia Central 2"),
    ("australiaeast", "Australia East"),
    ("australiasoutheast", "Australia Southeast"),
    ("austriaeast", "Austria East"),
    ("belgiumcentral", "Belgium Central"),
    ("brazilsouth", "Brazil South"),
    ("brazilsoutheast", "Brazil Southeast"),
    ("canadacentral", "Canada Central"),
    ("canadaeast", "Canada East"),
    ("centralindia", "Central India"),
    ("centralus", "Central US"),
    ("chilecentral", "Chile Central"),
    ("denmarkeast", "Denmark East"),
    ("eastasia", "East Asia"),
    ("eastus", "East US"),
    ("eastus2", "East US 2"),
    ("francecentral", "France Central"),
    ("francesouth", "France South"),
    ("germanynorth", "Germany North"),
    ("germanywestcentral", "Germany West Central"),
    ("indonesiacentral", "Indonesia Central"),
    ("israelcentral", "Israel Central"),
    ("italynorth", "Italy North"),
    ("japaneast", "Japan East"),
    ("japanwest", "Japan West"),
    ("jioindiacentral", "Jio India Central"),
    ("jioindiawest", "Jio India West"),
    ("koreacentral", "Korea Central"),
    ("koreasouth", "Korea South"),
    ("malaysiawest", "Malaysia West"),
    ("mexicocentral", "Mexico Central"),
    ("newzealandnorth", "New Zealand North"),
    ("northcentralus", "North Central US"),
    ("northeurope", "North Europe"),
    ("norwayeast", "Norway East"),
    ("norwaywest", "Norway West"),
    ("polandcentral", "Poland Central"),
    ("qatarcentral", "Qatar Central"),
    ("southafricanorth", "South Africa North"),
    ("southafricawest", "South Africa West"),
    ("southcentralus", "South Central US"),
    ("southeastasia", "Southeast Asia"),
    ("southindia", "South India"),
    ("spaincentral", "Spain Central"),
    ("swedencentral", "Sweden Central"),
    ("swedensouth", "Sweden South"),
    ("switzerlandnorth", "Switzerland North"),
    ("switzerlandwest", "Switzerland West"),
    ("uaecentral", "UAE Central"),
    ("uaenorth", "UAE North"),
    ("uksouth", "UK South"),
    ("ukwest", "UK West"),
    ("westcentralus", "West Central US"),
    ("westeurope", "West Europe"),
    ("westindia", "West India"),
    ("westus", "West US"),
    ("westus2", "West US 2"),
    ("westus3", "West US 3"),
    // Azure Government.
    ("usdodcentral", "US DoD Central"),
    ("usdodeast", "US DoD East"),
    ("usgovarizona", "US Gov Arizona"),
    ("usgovtexas", "US Gov Texas"),
    ("usgovvirginia", "US Gov Virginia"),
    // Azure operated by 21Vianet.
    ("chinaeast", "China East"),
    ("chinaeast2", "China East 2"),
    ("chinaeast3", "China East 3"),
    ("chinanorth", "China North"),
    ("chinanorth2", "China North 2"),
    ("chinanorth3", "China North 3"),
];

/// The programmatic name of a region given either way (`West Europe`,
/// `westeurope`, `WestEurope`), or `None` when Azure has no such region.
pub fn canonical(location: &str) -> Option<&'static str> {
    let folded: String = location
        .chars()
        .filter(|c| !c.is_whitespace())
        .flat_map(char::to_lowercase)
        .collect();
    REGIONS
        .iter()
        .find(|(name, _)| *name == folded)
        .map(|(name, _)| *name)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn both_forms_name_one_region() {
        assert_eq!(canonical("West Europe"), Some("westeurope"));
        assert_eq!(canonical("westeurope"), Some("westeurope"));
        assert_eq!(canonical("WESTEUROPE"), Some("westeurope"));
        assert_eq!(canonical("East US 2"), Some("eastus2"));
        assert_eq!(canonical("westeuroop"), None);
        assert_eq!(canonical(""), None);
    }

    #[test]
    fn every_display_name_folds_to_its_name() {
        for (name, display) in REGIONS {
            assert_eq!(canonical(display), Some(*name), "{display}");
        }
    }
}
