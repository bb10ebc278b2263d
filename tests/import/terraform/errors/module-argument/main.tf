module "hub" {
  source        = "./modules/vnet"
  name          = "hub"
  address_space = ["10.0.0.0/16"]
}
