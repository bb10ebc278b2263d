variable "prefix" {
  type    = string
  default = "lab"
}

variable "hub_range" {
  type    = string
  default = "10.20.0.0/16"
}

variable "extra_hub_ranges" {
  type    = list(string)
  default = ["10.21.0.0/16"]
}

# The test gives --var spoke_count=3 (see the `vars` file).
variable "spoke_count" {
  type    = number
  default = 2
}

variable "allowed_ports" {
  type = map(number)
  default = {
    https = 443
    ssh   = 22
  }
}

locals {
  rg       = "${var.prefix}-rg"
  location = "westeurope"
  # Tier name -> subnet number within the hub.
  tiers = {
    web = 1
    app = 2
    db  = 3
  }
  # NIC name -> tier; the NVA is added to the VMs with merge.
  vms    = { web1 = "web", app1 = "app" }
  nics   = merge(local.vms, { nva1 = "db" })
  nva_ip = cidrhost(cidrsubnet(var.hub_range, 8, lookup(local.tiers, "db")), 4)
}
