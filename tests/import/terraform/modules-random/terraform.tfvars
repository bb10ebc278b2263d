spokes = {
  spoke1 = "10.1.0.0/16"
  spoke2 = "10.2.0.0/16"
}
