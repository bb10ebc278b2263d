variable "location" {
  type    = string
  default = "westeurope"
}

variable "spokes" {
  type = map(string)
}
